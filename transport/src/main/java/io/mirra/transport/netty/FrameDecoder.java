package io.mirra.transport.netty;

import io.mirra.transport.netty.FrameDecodingException.Reason;
import io.mirra.transport.protocol.FrameHeaderFlyweight;
import io.mirra.transport.protocol.RangeOpFlyweight;
import io.mirra.transport.protocol.ReadReplyFlyweight;
import io.mirra.transport.protocol.ReadRequestFlyweight;
import io.mirra.transport.protocol.ResyncRequestFlyweight;
import io.mirra.transport.protocol.ResyncProgressFlyweight;
import io.mirra.transport.protocol.SplitBrainFlyweight;
import io.mirra.transport.protocol.VerifyReplyFlyweight;
import io.mirra.transport.protocol.VerifyRequestFlyweight;
import io.mirra.transport.protocol.StateFlyweight;
import io.mirra.transport.protocol.TwoPcFlyweight;
import io.mirra.transport.protocol.TwoPcReplyFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.System.Logger.Level;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * Splits a stream into {@link Frame}s, validating every header field before trusting it, without copying bodies.
 * <p>
 * <b>Zero copy:</b> Netty's {@code ByteToMessageDecoder} copies its cumulation whenever a retained slice of it is
 * still in use, which is the normal case here (write data waits for the disk), so this decoder instead keeps each
 * body as a retained slice of the buffer the socket filled, or a composite of such slices when it arrived in
 * several reads. Only a body that arrives in pathologically many tiny pieces is copied, into a buffer that grows
 * with what was received. The 24-byte header is copied into a field of the decoder.
 * <p>
 * <b>Bad input</b> is never thrown and never allocates what it announces: a wrong magic, an unsupported version,
 * undefined flags, an unknown type, a type not allowed on this stream or in this phase, a body length above the
 * type's bound (checked on the header alone, before any of the body is awaited), a length inconsistent with the type
 * or with the lengths inside the body, undefined flags or a field out of its range in a body (a reserved field not
 * zero, an unknown code, an offset or length out of bounds), or a sequence gap each produces a
 * {@link FrameDecodingException} with its {@link Reason}, a log line naming the remote address, a user event
 * carrying the exception, and a closed channel; everything received afterwards is dropped. Body fields are checked
 * once the body is complete, in place (nothing is copied or allocated for it).
 * <p>
 * <b>Phases:</b> until {@link #handshakeCompleted(int, int)} only the handshake messages are accepted, with the
 * handshake version; afterwards only the messages of the stream, with the agreed version (and REFUSE).
 * <p>
 * Threading: not sharable; one instance per channel, used only on its event loop.
 */
public final class FrameDecoder extends ChannelInboundHandlerAdapter
{
    /** Body pieces kept as a zero-copy composite before switching to copying. */
    public static final int MAX_BODY_COMPONENTS = 64;

    private static final System.Logger LOG = System.getLogger(FrameDecoder.class.getName());

    private enum State
    {
        HEADER, BODY, BROKEN
    }

    private final int maxWriteDataLength;
    private final byte[] headerBytes = new byte[HEADER_LENGTH];
    private final FrameHeaderFlyweight header = new FrameHeaderFlyweight().wrap(new UnsafeBuffer(headerBytes), 0);
    private State state = State.HEADER;
    private int headerFill;
    private int streamKind;
    private int version = HANDSHAKE_VERSION;
    private long expectedSequence = 1;
    private int remaining;
    private ByteBuf body;
    private FrameDecodingException failure;

    /** A decoder accepting write, resync and read reply data of up to 1 MiB ({@code MAX_WRITE_DATA_LENGTH}). */
    public FrameDecoder()
    {
        this(MAX_WRITE_DATA_LENGTH);
    }

    /**
     * @param maxWriteDataLength the largest write (and resync, read reply) data accepted, 0..{@link
     *                           io.mirra.transport.protocol.ReplicationProtocol#MAX_WRITE_DATA_LENGTH}.
     */
    public FrameDecoder(final int maxWriteDataLength)
    {
        if (maxWriteDataLength < 0 || maxWriteDataLength > MAX_WRITE_DATA_LENGTH)
        {
            throw new IllegalArgumentException("maxWriteDataLength out of 0.." + MAX_WRITE_DATA_LENGTH + ": " +
                maxWriteDataLength);
        }
        this.maxWriteDataLength = maxWriteDataLength;
    }

    /**
     * Leave the handshake phase: from now on accept the messages of this stream, with this version.
     *
     * @param agreedVersion the version both sides agreed on.
     * @param streamKind    {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_DATA} or
     *                      {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_CONTROL}.
     */
    public void handshakeCompleted(final int agreedVersion, final int streamKind)
    {
        if (streamKind != STREAM_DATA && streamKind != STREAM_CONTROL)
        {
            throw new IllegalArgumentException("stream kind " + streamKind);
        }
        this.version = agreedVersion;
        this.streamKind = streamKind;
    }

    /** @return why the stream was closed, or null while it decodes. */
    public FrameDecodingException failure()
    {
        return failure;
    }

    /** {@inheritDoc} */
    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        if (!(msg instanceof ByteBuf))
        {
            ctx.fireChannelRead(msg);
            return;
        }
        final ByteBuf in = (ByteBuf)msg;
        try
        {
            while (in.isReadable() && state != State.BROKEN)
            {
                if (state == State.HEADER)
                {
                    decodeHeader(ctx, in);
                }
                else
                {
                    decodeBody(ctx, in);
                }
            }
        }
        finally
        {
            in.release();
        }
    }

    private void decodeHeader(final ChannelHandlerContext ctx, final ByteBuf in)
    {
        final int take = Math.min(in.readableBytes(), HEADER_LENGTH - headerFill);
        in.readBytes(headerBytes, headerFill, take);
        headerFill += take;
        if (headerFill < HEADER_LENGTH)
        {
            return;
        }
        headerFill = 0;
        if (!validateHeader(ctx))
        {
            return;
        }
        expectedSequence++;
        remaining = (int)header.bodyLength();
        if (remaining == 0)
        {
            emit(ctx, Unpooled.EMPTY_BUFFER);
        }
        else
        {
            state = State.BODY;
        }
    }

    private boolean validateHeader(final ChannelHandlerContext ctx)
    {
        if (header.magic() != MAGIC)
        {
            return fail(ctx, Reason.BAD_MAGIC, "magic 0x" + Integer.toHexString(header.magic()) + ", expected 0x" +
                Integer.toHexString(MAGIC) + " (\"MIRA\")");
        }
        final int type = header.type();
        final boolean handshakeFrame = type == REFUSE || streamKind == 0;
        final int expectedVersion = handshakeFrame ? HANDSHAKE_VERSION : version;
        if (header.version() != expectedVersion)
        {
            return fail(ctx, Reason.UNSUPPORTED_VERSION, "version " + header.version() + " in a " +
                typeName(type) + " frame, expected " + expectedVersion);
        }
        if ((header.flags() & ~KNOWN_FRAME_FLAGS) != 0)
        {
            return fail(ctx, Reason.BAD_FLAGS, "frame flags 0x" + Integer.toHexString(header.flags()));
        }
        if (!isKnownType(type))
        {
            return fail(ctx, Reason.UNKNOWN_TYPE, "type " + type);
        }
        if (streamKind == 0 ? !isHandshakeType(type) : type != REFUSE && (isHandshakeType(type) ||
            (streamsOf(type) & streamKind) == 0))
        {
            return fail(ctx, Reason.UNEXPECTED_TYPE, typeName(type) + (streamKind == 0 ? " before the handshake" :
                " on the " + streamName(streamKind) + " stream after the handshake"));
        }
        if (header.volume() >= MAX_VOLUMES)
        {
            return fail(ctx, Reason.BAD_VOLUME, "volume " + header.volume() + ", maximum " + (MAX_VOLUMES - 1));
        }
        final long bodyLength = header.bodyLength();
        final int min = minBodyLength(type);
        final int max = maxBodyLength(type, maxWriteDataLength);
        if (bodyLength > max && min != max)
        {
            return fail(ctx, Reason.FRAME_TOO_LONG, typeName(type) + " body of " + bodyLength +
                " bytes, maximum " + max);
        }
        if (bodyLength < min || bodyLength > max)
        {
            return fail(ctx, Reason.BAD_LENGTH, typeName(type) + " body of " + bodyLength + " bytes, expected " +
                (min == max ? String.valueOf(min) : min + ".." + max));
        }
        if (header.sequence() != expectedSequence)
        {
            return fail(ctx, Reason.SEQUENCE_GAP, "sequence " + Long.toUnsignedString(header.sequence()) +
                ", expected " + expectedSequence);
        }
        return true;
    }

    private void decodeBody(final ChannelHandlerContext ctx, final ByteBuf in)
    {
        final int take = Math.min(in.readableBytes(), remaining);
        remaining -= take;
        if (body == null && remaining == 0)
        {
            body = in.readRetainedSlice(take); // the common case: the whole body in one read, no copy
        }
        else if (body == null)
        {
            final CompositeByteBuf composite = ctx.alloc().compositeDirectBuffer(MAX_BODY_COMPONENTS);
            composite.addComponent(true, in.readRetainedSlice(take));
            body = composite;
        }
        else if (body instanceof CompositeByteBuf &&
            ((CompositeByteBuf)body).numComponents() < MAX_BODY_COMPONENTS - 1)
        {
            ((CompositeByteBuf)body).addComponent(true, in.readRetainedSlice(take));
        }
        else
        {
            if (body instanceof CompositeByteBuf)
            {
                // Too many tiny pieces: copy into a buffer sized by what arrived (grows as more arrives).
                final int total = body.readableBytes() + take + remaining;
                final ByteBuf copy = ctx.alloc().directBuffer(Math.min(total, body.readableBytes() * 2), total);
                copy.writeBytes(body);
                body.release();
                body = copy;
            }
            body.writeBytes(in, take);
        }
        if (remaining == 0)
        {
            final ByteBuf complete = body;
            body = null;
            if (validateBody(ctx, complete))
            {
                emit(ctx, complete);
            }
            else
            {
                complete.release();
            }
        }
    }

    private boolean validateBody(final ChannelHandlerContext ctx, final ByteBuf complete)
    {
        final int type = header.type();
        final int at = complete.readerIndex();
        switch (type)
        {
            case WRITE:
            case RESYNC_DATA:
                return validateWrite(ctx, type, complete, at);
            case FLUSH:
            case TRIM:
            case WRITE_ZEROES:
            case OUT_OF_SYNC:
                return validateRangeOp(ctx, type, complete, at);
            case READ_REQUEST: return validateReadRequest(ctx, complete, at);
            case READ_REPLY: return validateReadReply(ctx, complete, at);
            case STATE: return validateState(ctx, complete, at);
            case TWOPC_PREPARE:
            case TWOPC_COMMIT:
            case TWOPC_ABORT:
                return validateTwoPc(ctx, type, complete, at);
            case TWOPC_REPLY: return validateTwoPcReply(ctx, complete, at);
            case RESYNC_REQUEST: return validateResyncRequest(ctx, complete, at);
            case SPLIT_BRAIN: return validateSplitBrain(ctx, complete, at);
            case VERIFY_REQUEST: return validateVerifyRequest(ctx, complete, at);
            case VERIFY_REPLY: return validateVerifyReply(ctx, complete, at);
            case RESYNC_PROGRESS:
                if (complete.getLongLE(at + ResyncProgressFlyweight.OUT_OF_SYNC_OFFSET) < 0 ||
                    complete.getLongLE(at + ResyncProgressFlyweight.SENT_OFFSET) < 0)
                {
                    return fail(ctx, Reason.BAD_FIELD, "RESYNC_PROGRESS with a byte count above 2^63 - 1");
                }
                return true;
            default: return true;
        }
    }

    private boolean validateWrite(final ChannelHandlerContext ctx, final int type, final ByteBuf complete, final int at)
    {
        final long dataLength = complete.getUnsignedIntLE(at + WriteFlyweight.DATA_LENGTH_OFFSET);
        if (dataLength != complete.readableBytes() - WriteFlyweight.HEADER_LENGTH)
        {
            return fail(ctx, Reason.BAD_LENGTH, typeName(type) + " data length " + dataLength + " in a body of " +
                complete.readableBytes() + " bytes");
        }
        final int writeFlags = complete.getUnsignedShortLE(at + WriteFlyweight.FLAGS_OFFSET);
        if (type == RESYNC_DATA)
        {
            return validateResyncData(ctx, complete, at, writeFlags, dataLength);
        }
        if ((writeFlags & ~KNOWN_WRITE_FLAGS) != 0)
        {
            return fail(ctx, Reason.BAD_FLAGS, "write flags 0x" + Integer.toHexString(writeFlags));
        }
        return true;
    }

    private boolean validateResyncData(
        final ChannelHandlerContext ctx, final ByteBuf complete, final int at, final int writeFlags,
        final long dataLength)
    {
        if (writeFlags != 0)
        {
            return fail(ctx, Reason.BAD_FLAGS, "RESYNC_DATA write flags 0x" + Integer.toHexString(writeFlags) +
                ", expected none");
        }
        if (complete.getShortLE(at + WriteFlyweight.RESERVED1_OFFSET) != 0 ||
            complete.getIntLE(at + WriteFlyweight.RESERVED2_OFFSET) != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, "RESYNC_DATA reserved field not 0");
        }
        return validateRange(ctx, RESYNC_DATA, complete.getLongLE(at + WriteFlyweight.BYTE_OFFSET_OFFSET),
            dataLength);
    }

    private boolean validateResyncRequest(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final long resyncFlags = complete.getUnsignedIntLE(at + ResyncRequestFlyweight.FLAGS_OFFSET);
        if ((resyncFlags & ~(long)KNOWN_RESYNC_FLAGS) != 0)
        {
            return fail(ctx, Reason.BAD_FLAGS, "RESYNC_REQUEST resync flags 0x" + Long.toHexString(resyncFlags));
        }
        final long reserved = complete.getUnsignedIntLE(at + ResyncRequestFlyweight.RESERVED_OFFSET);
        if (reserved != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, "RESYNC_REQUEST reserved field 0x" + Long.toHexString(reserved) +
                ", expected 0");
        }
        return true;
    }

    private boolean validateRangeOp(
        final ChannelHandlerContext ctx, final int type, final ByteBuf complete, final int at)
    {
        final int reserved = complete.getUnsignedShortLE(at + RangeOpFlyweight.RESERVED_OFFSET);
        if (reserved != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, typeName(type) + " reserved field 0x" + Integer.toHexString(reserved) +
                ", expected 0");
        }
        final int rangeFlags = complete.getUnsignedShortLE(at + RangeOpFlyweight.FLAGS_OFFSET);
        if ((rangeFlags & ~KNOWN_RANGE_FLAGS) != 0)
        {
            return fail(ctx, Reason.BAD_FLAGS, typeName(type) + " range flags 0x" + Integer.toHexString(rangeFlags));
        }
        if (type == OUT_OF_SYNC && (rangeFlags != 0 ||
            complete.getLongLE(at + RangeOpFlyweight.OP_SEQUENCE_OFFSET) != 0 ||
            complete.getIntLE(at + RangeOpFlyweight.EPOCH_OFFSET) != 0))
        {
            return fail(ctx, Reason.BAD_FIELD, "OUT_OF_SYNC with a sequence, epoch or flags, expected none");
        }
        final long byteOffset = complete.getLongLE(at + RangeOpFlyweight.BYTE_OFFSET_OFFSET);
        final long length = complete.getLongLE(at + RangeOpFlyweight.LENGTH_OFFSET);
        if (type == FLUSH)
        {
            if (byteOffset != 0 || length != 0)
            {
                return fail(ctx, Reason.BAD_FIELD, "FLUSH byte offset " + Long.toUnsignedString(byteOffset) +
                    " and length " + Long.toUnsignedString(length) + ", expected 0 and 0");
            }
            return true;
        }
        if (length <= 0)
        {
            return fail(ctx, Reason.BAD_FIELD, typeName(type) + " length " + Long.toUnsignedString(length) +
                ", expected 1.." + Long.MAX_VALUE);
        }
        return validateRange(ctx, type, byteOffset, length);
    }

    private boolean validateVerifyRequest(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final long length = complete.getUnsignedIntLE(at + VerifyRequestFlyweight.LENGTH_OFFSET);
        if (length < 1 || length > MAX_VERIFY_LENGTH)
        {
            return fail(ctx, Reason.BAD_FIELD, "VERIFY_REQUEST length " + length + ", expected 1.." +
                MAX_VERIFY_LENGTH);
        }
        final long blockSize = complete.getUnsignedIntLE(at + VerifyRequestFlyweight.BLOCK_SIZE_OFFSET);
        if (blockSize < 4096 || blockSize > MAX_VERIFY_LENGTH || Long.bitCount(blockSize) != 1)
        {
            return fail(ctx, Reason.BAD_FIELD, "VERIFY_REQUEST block size " + blockSize +
                ", expected a power of two from 4096 to " + MAX_VERIFY_LENGTH);
        }
        return validateRange(ctx, VERIFY_REQUEST,
            complete.getLongLE(at + VerifyRequestFlyweight.BYTE_OFFSET_OFFSET), length);
    }

    private boolean validateVerifyReply(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final long status = complete.getUnsignedIntLE(at + VerifyReplyFlyweight.STATUS_OFFSET);
        final long count = complete.getUnsignedIntLE(at + VerifyReplyFlyweight.COUNT_OFFSET);
        if (count > VerifyReplyFlyweight.MAX_DIGESTS ||
            count * 8 != complete.readableBytes() - VerifyReplyFlyweight.HEADER_LENGTH)
        {
            return fail(ctx, Reason.BAD_LENGTH, "VERIFY_REPLY digest count " + count + " in a body of " +
                complete.readableBytes() + " bytes");
        }
        if (status != 0 && count != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, "VERIFY_REPLY with status " + status + " and " + count + " digests");
        }
        if (status > Integer.MAX_VALUE)
        {
            return fail(ctx, Reason.BAD_FIELD, "VERIFY_REPLY status " + status);
        }
        return true;
    }

    private boolean validateSplitBrain(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final int flags = complete.getIntLE(at + SplitBrainFlyweight.FLAGS_OFFSET);
        if ((flags & ~KNOWN_SPLIT_BRAIN_FLAGS) != 0)
        {
            return fail(ctx, Reason.BAD_FLAGS, "SPLIT_BRAIN flags 0x" + Integer.toHexString(flags));
        }
        final int reserved = complete.getIntLE(at + SplitBrainFlyweight.RESERVED_OFFSET);
        if (reserved != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, "SPLIT_BRAIN reserved field 0x" + Integer.toHexString(reserved) +
                ", expected 0");
        }
        final long changed = complete.getLongLE(at + SplitBrainFlyweight.CHANGED_BYTES_OFFSET);
        if (changed < 0 && changed != SPLIT_BRAIN_CHANGES_UNKNOWN)
        {
            return fail(ctx, Reason.BAD_FIELD, "SPLIT_BRAIN changed bytes " + Long.toUnsignedString(changed));
        }
        return true;
    }

    private boolean validateReadRequest(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final long reserved = complete.getUnsignedIntLE(at + ReadRequestFlyweight.RESERVED_OFFSET);
        if (reserved != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, "READ_REQUEST reserved field 0x" + Long.toHexString(reserved) +
                ", expected 0");
        }
        final long length = complete.getUnsignedIntLE(at + ReadRequestFlyweight.LENGTH_OFFSET);
        if (length < 1 || length > MAX_WRITE_DATA_LENGTH)
        {
            return fail(ctx, Reason.BAD_FIELD, "READ_REQUEST length " + length + ", expected 1.." +
                MAX_WRITE_DATA_LENGTH);
        }
        return validateRange(ctx, READ_REQUEST, complete.getLongLE(at + ReadRequestFlyweight.BYTE_OFFSET_OFFSET),
            length);
    }

    private boolean validateRange(
        final ChannelHandlerContext ctx, final int type, final long byteOffset, final long length)
    {
        if (byteOffset < 0)
        {
            return fail(ctx, Reason.BAD_FIELD, typeName(type) + " byte offset " + Long.toUnsignedString(byteOffset) +
                ", maximum " + Long.MAX_VALUE);
        }
        if (byteOffset > Long.MAX_VALUE - length)
        {
            return fail(ctx, Reason.BAD_FIELD, typeName(type) + " range of " + length + " bytes at byte offset " +
                byteOffset + " overflows a signed 64-bit offset");
        }
        return true;
    }

    private boolean validateReadReply(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final long dataLength = complete.getUnsignedIntLE(at + ReadReplyFlyweight.DATA_LENGTH_OFFSET);
        if (dataLength != complete.readableBytes() - ReadReplyFlyweight.HEADER_LENGTH)
        {
            return fail(ctx, Reason.BAD_LENGTH, "READ_REPLY data length " + dataLength + " in a body of " +
                complete.readableBytes() + " bytes");
        }
        final long status = complete.getUnsignedIntLE(at + ReadReplyFlyweight.STATUS_OFFSET);
        if (status != 0 && dataLength != 0)
        {
            return fail(ctx, Reason.BAD_LENGTH, "READ_REPLY with status " + status + " carries " + dataLength +
                " bytes of data, expected none");
        }
        return true;
    }

    private boolean validateState(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final int role = complete.getUnsignedByte(at + StateFlyweight.ROLE_OFFSET);
        if (role != STATE_ROLE_SECONDARY && role != STATE_ROLE_PRIMARY)
        {
            return fail(ctx, Reason.BAD_FIELD, "STATE role " + role + ", expected " + STATE_ROLE_SECONDARY +
                " (SECONDARY) or " + STATE_ROLE_PRIMARY + " (PRIMARY)");
        }
        final int stateFlags = complete.getUnsignedByte(at + StateFlyweight.FLAGS_OFFSET);
        if ((stateFlags & ~KNOWN_STATE_FLAGS) != 0)
        {
            return fail(ctx, Reason.BAD_FLAGS, "STATE flags 0x" + Integer.toHexString(stateFlags));
        }
        final int volumeCount = complete.getUnsignedShortLE(at + StateFlyweight.VOLUME_COUNT_OFFSET);
        if (volumeCount < 1 || volumeCount > MAX_VOLUMES)
        {
            return fail(ctx, Reason.BAD_FIELD, "STATE volume count " + volumeCount + ", expected 1.." + MAX_VOLUMES);
        }
        if (complete.readableBytes() != StateFlyweight.encodedLength(volumeCount))
        {
            return fail(ctx, Reason.BAD_LENGTH, "STATE of " + volumeCount + " volumes in a body of " +
                complete.readableBytes() + " bytes, expected " + StateFlyweight.encodedLength(volumeCount));
        }
        final long nodeId = complete.getUnsignedIntLE(at + StateFlyweight.NODE_ID_OFFSET);
        if (nodeId > MAX_NODE_ID)
        {
            return fail(ctx, Reason.BAD_FIELD, "STATE node id " + nodeId + ", expected 0.." + MAX_NODE_ID);
        }
        for (int volume = 0; volume < volumeCount; volume++)
        {
            if (!validateStateEntry(ctx, complete, at + StateFlyweight.entryOffset(volume), volume))
            {
                return false;
            }
        }
        return true;
    }

    private boolean validateStateEntry(
        final ChannelHandlerContext ctx, final ByteBuf complete, final int entry, final int volume)
    {
        final int diskState = complete.getUnsignedByte(entry + StateFlyweight.DISK_STATE_OFFSET);
        if (diskState > MAX_DISK_STATE)
        {
            return fail(ctx, Reason.BAD_FIELD, "STATE volume " + volume + " disk state " + diskState +
                ", expected 0.." + MAX_DISK_STATE);
        }
        final int historyCount = complete.getUnsignedByte(entry + StateFlyweight.HISTORY_COUNT_OFFSET);
        if (historyCount > StateFlyweight.MAX_HISTORY)
        {
            return fail(ctx, Reason.BAD_FIELD, "STATE volume " + volume + " history count " + historyCount +
                ", expected 0.." + StateFlyweight.MAX_HISTORY);
        }
        if (complete.getShortLE(entry + StateFlyweight.RESERVED1_OFFSET) != 0 ||
            complete.getIntLE(entry + StateFlyweight.RESERVED2_OFFSET) != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, "STATE volume " + volume + " reserved field not 0");
        }
        for (int slot = historyCount; slot < StateFlyweight.MAX_HISTORY; slot++)
        {
            if (complete.getLongLE(entry + StateFlyweight.HISTORY_OFFSET + slot * Long.BYTES) != 0)
            {
                return fail(ctx, Reason.BAD_FIELD, "STATE volume " + volume + " history slot " + slot +
                    " not 0 although the history count is " + historyCount);
            }
        }
        return true;
    }

    private boolean validateTwoPc(final ChannelHandlerContext ctx, final int type, final ByteBuf complete, final int at)
    {
        final long kind = complete.getUnsignedIntLE(at + TwoPcFlyweight.KIND_OFFSET);
        if (kind != TWOPC_KIND_PROMOTE)
        {
            return fail(ctx, Reason.BAD_FIELD, typeName(type) + " kind " + kind + " unknown, expected " +
                TWOPC_KIND_PROMOTE + " (PROMOTE)");
        }
        final long reserved = complete.getUnsignedIntLE(at + TwoPcFlyweight.RESERVED_OFFSET);
        if (reserved != 0)
        {
            return fail(ctx, Reason.BAD_FIELD, typeName(type) + " reserved field 0x" + Long.toHexString(reserved) +
                ", expected 0");
        }
        return true;
    }

    private boolean validateTwoPcReply(final ChannelHandlerContext ctx, final ByteBuf complete, final int at)
    {
        final long messageLength = complete.getUnsignedIntLE(at + TwoPcReplyFlyweight.MESSAGE_LENGTH_OFFSET);
        if (messageLength != complete.readableBytes() - TwoPcReplyFlyweight.MESSAGE_OFFSET)
        {
            return fail(ctx, Reason.BAD_LENGTH, "TWOPC_REPLY message length " + messageLength + " in a body of " +
                complete.readableBytes() + " bytes");
        }
        final long verdict = complete.getUnsignedIntLE(at + TwoPcReplyFlyweight.VERDICT_OFFSET);
        if (verdict != TWOPC_YES && verdict != TWOPC_NO && verdict != TWOPC_RETRY)
        {
            return fail(ctx, Reason.BAD_FIELD, "TWOPC_REPLY verdict " + verdict + ", expected " + TWOPC_YES +
                " (YES), " + TWOPC_NO + " (NO) or " + TWOPC_RETRY + " (RETRY)");
        }
        return true;
    }

    private void emit(final ChannelHandlerContext ctx, final ByteBuf complete)
    {
        state = State.HEADER;
        ctx.fireChannelRead(new Frame(header.version(), header.type(), header.flags(), header.volume(),
            header.sequence(), complete));
    }

    private boolean fail(final ChannelHandlerContext ctx, final Reason reason, final String detail)
    {
        state = State.BROKEN;
        releaseBody();
        failure = new FrameDecodingException(reason, detail);
        LOG.log(Level.WARNING, "{0}: bad frame, closing: {1}", ctx.channel().remoteAddress(), failure.getMessage());
        ctx.fireUserEventTriggered(failure);
        ctx.close();
        return false;
    }

    private void releaseBody()
    {
        if (body != null)
        {
            body.release();
            body = null;
        }
    }

    /** {@inheritDoc} */
    @Override
    public void handlerRemoved(final ChannelHandlerContext ctx)
    {
        releaseBody();
        state = State.BROKEN;
    }

    /** {@inheritDoc} */
    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        releaseBody();
        state = State.BROKEN;
        super.channelInactive(ctx);
    }
}
