package io.mirra.transport.netty;

import io.mirra.transport.protocol.AuthResponseFlyweight;
import io.mirra.transport.protocol.HelloFlyweight;
import io.mirra.transport.protocol.PingFlyweight;
import io.mirra.transport.protocol.RangeOpFlyweight;
import io.mirra.transport.protocol.ReadReplyFlyweight;
import io.mirra.transport.protocol.ReadRequestFlyweight;
import io.mirra.transport.protocol.RefuseFlyweight;
import io.mirra.transport.protocol.ResyncEndFlyweight;
import io.mirra.transport.protocol.ResyncRequestFlyweight;
import io.mirra.transport.protocol.ResyncProgressFlyweight;
import io.mirra.transport.protocol.SplitBrainFlyweight;
import io.mirra.transport.protocol.VerifyReplyFlyweight;
import io.mirra.transport.protocol.VerifyRequestFlyweight;
import io.mirra.transport.protocol.StateFlyweight;
import io.mirra.transport.protocol.TwoPcFlyweight;
import io.mirra.transport.protocol.TwoPcReplyFlyweight;
import io.mirra.transport.protocol.WriteAckFlyweight;
import io.mirra.transport.protocol.WriteFlyweight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;

import static io.mirra.transport.protocol.ReplicationProtocol.*;

/**
 * Builds outbound {@link Frame}s of each message type, encoding the bodies with the protocol's flyweights into
 * buffers from the given allocator. A write's (resync data's, read reply's) data is not copied: the body is a
 * composite of the write (read reply) header and the caller's data buffer.
 * <p>
 * Ownership: each method returns a frame the caller owns (normally it writes it to a channel, which then owns it);
 * {@link #write}, {@link #resyncData} and {@link #readReply} take ownership of their {@code data} argument.
 * Threading: holds reusable flyweights, so one instance per thread (normally one per channel, used on its event
 * loop); not thread-safe.
 */
public final class OutboundFrames
{
    private final ByteBufView view = new ByteBufView();
    private final HelloFlyweight hello = new HelloFlyweight();
    private final AuthResponseFlyweight authResponse = new AuthResponseFlyweight();
    private final RefuseFlyweight refuse = new RefuseFlyweight();
    private final WriteFlyweight write = new WriteFlyweight();
    private final WriteAckFlyweight writeAck = new WriteAckFlyweight();
    private final PingFlyweight ping = new PingFlyweight();
    private final RangeOpFlyweight rangeOp = new RangeOpFlyweight();
    private final ReadRequestFlyweight readRequest = new ReadRequestFlyweight();
    private final ReadReplyFlyweight readReply = new ReadReplyFlyweight();
    private final StateFlyweight state = new StateFlyweight();
    private final TwoPcFlyweight twoPc = new TwoPcFlyweight();
    private final TwoPcReplyFlyweight twoPcReply = new TwoPcReplyFlyweight();
    private final ResyncRequestFlyweight resyncRequest = new ResyncRequestFlyweight();
    private final ResyncEndFlyweight resyncEnd = new ResyncEndFlyweight();
    private final SplitBrainFlyweight splitBrain = new SplitBrainFlyweight();
    private final ResyncProgressFlyweight resyncProgress = new ResyncProgressFlyweight();
    private final VerifyRequestFlyweight verifyRequest = new VerifyRequestFlyweight();
    private final VerifyReplyFlyweight verifyReply = new VerifyReplyFlyweight();

    /**
     * A HELLO.
     *
     * @param alloc        for the body.
     * @param minVersion   lowest version spoken.
     * @param maxVersion   highest version spoken.
     * @param streamKind   {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_DATA} or
     *                     {@link io.mirra.transport.protocol.ReplicationProtocol#STREAM_CONTROL}.
     * @param features     feature bits offered.
     * @param nonce        32 fresh random bytes.
     * @param volumeSizes  size of each volume in bytes.
     * @param nodeName     the sender's node name.
     * @param resourceName the resource.
     * @return the frame.
     */
    public Frame hello(
        final ByteBufAllocator alloc,
        final int minVersion,
        final int maxVersion,
        final int streamKind,
        final long features,
        final byte[] nonce,
        final long[] volumeSizes,
        final String nodeName,
        final String resourceName)
    {
        final int length = HelloFlyweight.encodedLength(volumeSizes.length, nodeName, resourceName);
        final ByteBuf body = alloc.buffer(length, length);
        try
        {
            hello.wrap(view.wrapForWrite(body, 0, length), 0)
                .minVersion(minVersion)
                .maxVersion(maxVersion)
                .streamKind(streamKind)
                .features(features)
                .putNonce(nonce)
                .volumeSizes(volumeSizes)
                .names(nodeName, resourceName);
            return finish(HELLO, 0, body, length);
        }
        catch (final RuntimeException ex)
        {
            body.release();
            throw ex;
        }
    }

    /**
     * An AUTH_RESPONSE.
     *
     * @param alloc for the body.
     * @param mac   the 32-byte HMAC.
     * @return the frame.
     */
    public Frame authResponse(final ByteBufAllocator alloc, final byte[] mac)
    {
        final ByteBuf body = alloc.buffer(AuthResponseFlyweight.LENGTH, AuthResponseFlyweight.LENGTH);
        authResponse.wrap(view.wrapForWrite(body, 0, AuthResponseFlyweight.LENGTH), 0).putMac(mac);
        return finish(AUTH_RESPONSE, 0, body, AuthResponseFlyweight.LENGTH);
    }

    /** @return an AUTH_OK (empty body). */
    public Frame authOk()
    {
        return new Frame(AUTH_OK, 0, Unpooled.EMPTY_BUFFER);
    }

    /**
     * A REFUSE.
     *
     * @param alloc   for the body.
     * @param reason  a {@code REFUSE_*} code.
     * @param message why, truncated to the protocol's maximum.
     * @return the frame.
     */
    public Frame refuse(final ByteBufAllocator alloc, final int reason, final String message)
    {
        final int length = RefuseFlyweight.encodedLength(message);
        final ByteBuf body = alloc.buffer(length, length);
        refuse.wrap(view.wrapForWrite(body, 0, length), 0).reason(reason).message(message);
        return finish(REFUSE, 0, body, length);
    }

    /**
     * A WRITE whose body is its header followed by {@code data}, not copied.
     *
     * @param alloc         for the write header.
     * @param volume        volume number.
     * @param writeSequence the write's sequence.
     * @param byteOffset    where it goes in the volume.
     * @param epoch         its barrier epoch.
     * @param writeFlags    {@code WRITE_FLAG_*} bits.
     * @param data          the data; ownership transfers to the frame.
     * @return the frame.
     */
    public Frame write(
        final ByteBufAllocator alloc,
        final int volume,
        final long writeSequence,
        final long byteOffset,
        final long epoch,
        final int writeFlags,
        final ByteBuf data)
    {
        return writeLayout(alloc, WRITE, volume, writeSequence, byteOffset, epoch, writeFlags, data);
    }

    /**
     * A WRITE_ACK.
     *
     * @param alloc         for the body.
     * @param volume        volume of the acknowledged write.
     * @param writeSequence of the acknowledged write.
     * @param status        0 or an errno.
     * @param ackFlags      {@code ACK_FLAG_*} bits.
     * @return the frame.
     */
    public Frame writeAck(
        final ByteBufAllocator alloc, final int volume, final long writeSequence, final int status, final int ackFlags)
    {
        final ByteBuf body = alloc.buffer(WriteAckFlyweight.LENGTH, WriteAckFlyweight.LENGTH);
        writeAck.wrap(view.wrapForWrite(body, 0, WriteAckFlyweight.LENGTH), 0)
            .writeSequence(writeSequence)
            .status(status)
            .flags(ackFlags);
        return finish(WRITE_ACK, volume, body, WriteAckFlyweight.LENGTH);
    }

    /**
     * A PING or PING_ACK.
     *
     * @param alloc      for the body.
     * @param type       {@link io.mirra.transport.protocol.ReplicationProtocol#PING} or
     *                   {@link io.mirra.transport.protocol.ReplicationProtocol#PING_ACK}.
     * @param pingId     the ping's id.
     * @param sendTimeNs the pinging side's timestamp.
     * @return the frame.
     */
    public Frame ping(final ByteBufAllocator alloc, final int type, final long pingId, final long sendTimeNs)
    {
        if (type != PING && type != PING_ACK)
        {
            throw new IllegalArgumentException("not a ping type: " + typeName(type));
        }
        final ByteBuf body = alloc.buffer(PingFlyweight.LENGTH, PingFlyweight.LENGTH);
        ping.wrap(view.wrapForWrite(body, 0, PingFlyweight.LENGTH), 0).pingId(pingId).sendTimeNs(sendTimeNs);
        return finish(type, 0, body, PingFlyweight.LENGTH);
    }

    /**
     * A FLUSH, TRIM or WRITE_ZEROES.
     *
     * @param alloc      for the body.
     * @param type       {@link io.mirra.transport.protocol.ReplicationProtocol#FLUSH},
     *                   {@link io.mirra.transport.protocol.ReplicationProtocol#TRIM} or
     *                   {@link io.mirra.transport.protocol.ReplicationProtocol#WRITE_ZEROES}.
     * @param volume     volume number.
     * @param opSequence the operation's sequence (the write sequence space), echoed by its WRITE_ACK.
     * @param byteOffset start of the range in the volume (0 for a FLUSH).
     * @param length     length of the range in bytes (0 for a FLUSH).
     * @param epoch      its barrier epoch.
     * @param flags      {@code RANGE_FLAG_*} bits.
     * @return the frame.
     * @throws IllegalArgumentException when the type is not one of the three.
     */
    public Frame rangeOp(
        final ByteBufAllocator alloc,
        final int type,
        final int volume,
        final long opSequence,
        final long byteOffset,
        final long length,
        final long epoch,
        final int flags)
    {
        if (type != FLUSH && type != TRIM && type != WRITE_ZEROES)
        {
            throw new IllegalArgumentException("not a range op type: " + typeName(type));
        }
        final ByteBuf body = alloc.buffer(RangeOpFlyweight.LENGTH, RangeOpFlyweight.LENGTH);
        rangeOp.wrap(view.wrapForWrite(body, 0, RangeOpFlyweight.LENGTH), 0)
            .opSequence(opSequence)
            .byteOffset(byteOffset)
            .length(length)
            .epoch(epoch)
            .flags(flags);
        return finish(type, volume, body, RangeOpFlyweight.LENGTH);
    }

    /**
     * A READ_REQUEST.
     *
     * @param alloc      for the body.
     * @param volume     volume number.
     * @param requestId  chosen by the requester, echoed by the READ_REPLY.
     * @param byteOffset start of the range in the volume.
     * @param length     bytes to read, 1 .. {@code MAX_WRITE_DATA_LENGTH}.
     * @return the frame.
     */
    public Frame readRequest(
        final ByteBufAllocator alloc, final int volume, final long requestId, final long byteOffset, final int length)
    {
        final ByteBuf body = alloc.buffer(ReadRequestFlyweight.LENGTH, ReadRequestFlyweight.LENGTH);
        readRequest.wrap(view.wrapForWrite(body, 0, ReadRequestFlyweight.LENGTH), 0)
            .requestId(requestId)
            .byteOffset(byteOffset)
            .length(length);
        return finish(READ_REQUEST, volume, body, ReadRequestFlyweight.LENGTH);
    }

    /**
     * A READ_REPLY whose body is its header followed by {@code data}, not copied.
     *
     * @param alloc     for the read reply header.
     * @param volume    volume of the answered request.
     * @param requestId of the answered request.
     * @param status    0 or an errno.
     * @param data      the data read, null (or empty) when the status is not 0; ownership transfers to the frame.
     * @return the frame.
     * @throws IllegalArgumentException (after releasing {@code data}) when an error status comes with data.
     */
    public Frame readReply(
        final ByteBufAllocator alloc, final int volume, final long requestId, final int status, final ByteBuf data)
    {
        final int dataLength = data == null ? 0 : data.readableBytes();
        if (status != 0 && dataLength != 0)
        {
            data.release();
            throw new IllegalArgumentException("a READ_REPLY with status " + status + " carries no data: " +
                dataLength + " bytes");
        }
        final ByteBuf header = alloc.directBuffer(ReadReplyFlyweight.HEADER_LENGTH, ReadReplyFlyweight.HEADER_LENGTH);
        readReply.wrap(view.wrapForWrite(header, 0, ReadReplyFlyweight.HEADER_LENGTH), 0)
            .requestId(requestId)
            .status(status)
            .dataLength(dataLength);
        if (data == null)
        {
            return finish(READ_REPLY, volume, header, ReadReplyFlyweight.HEADER_LENGTH);
        }
        view.commit();
        header.writerIndex(ReadReplyFlyweight.HEADER_LENGTH);
        final CompositeByteBuf body = alloc.compositeDirectBuffer(2);
        body.addComponent(true, header).addComponent(true, data);
        return new Frame(READ_REPLY, volume, body);
    }

    /**
     * A STATE (volume 0 in the frame header).
     *
     * @param alloc       for the body.
     * @param role        {@link io.mirra.transport.protocol.ReplicationProtocol#STATE_ROLE_SECONDARY} or
     *                    {@link io.mirra.transport.protocol.ReplicationProtocol#STATE_ROLE_PRIMARY}.
     * @param nodeId      the sender's node id, 0..{@link io.mirra.transport.protocol.ReplicationProtocol#MAX_NODE_ID}.
     * @param volumeCount number of volumes, 1..{@link io.mirra.transport.protocol.ReplicationProtocol#MAX_VOLUMES}.
     * @param diskStates  disk state code of each volume (the first {@code volumeCount} are used).
     * @param currentGens current data generation of each volume (the first {@code volumeCount} are used).
     * @param histories   history generations of each volume, 0..{@link StateFlyweight#MAX_HISTORY} each (null for
     *                    none; the first {@code volumeCount} are used).
     * @return the frame.
     * @throws IllegalArgumentException when the volume count is out of range, an array is shorter than it, or a
     *                                  history is too long.
     */
    public Frame state(
        final ByteBufAllocator alloc,
        final int role,
        final int nodeId,
        final int volumeCount,
        final byte[] diskStates,
        final long[] currentGens,
        final long[][] histories)
    {
        return state(alloc, role, 0, nodeId, volumeCount, diskStates, currentGens, histories);
    }

    /**
     * A STATE with flags.
     *
     * @param alloc       for the body.
     * @param role        {@code STATE_ROLE_*}.
     * @param flags       {@code STATE_FLAG_*} bits.
     * @param nodeId      the sender's node id.
     * @param volumeCount number of volumes.
     * @param diskStates  per volume a disk state code.
     * @param currentGens per volume the current generation.
     * @param histories   per volume up to {@code MAX_HISTORY} earlier generations (null: none).
     * @return the frame.
     */
    public Frame state(
        final ByteBufAllocator alloc,
        final int role,
        final int flags,
        final int nodeId,
        final int volumeCount,
        final byte[] diskStates,
        final long[] currentGens,
        final long[][] histories)
    {
        if (volumeCount < 1 || volumeCount > MAX_VOLUMES)
        {
            throw new IllegalArgumentException("volume count " + volumeCount + ", expected 1.." + MAX_VOLUMES);
        }
        if (diskStates.length < volumeCount || currentGens.length < volumeCount || histories.length < volumeCount)
        {
            throw new IllegalArgumentException("fewer disk states (" + diskStates.length + "), generations (" +
                currentGens.length + ") or histories (" + histories.length + ") than volumes (" + volumeCount + ")");
        }
        for (int volume = 0; volume < volumeCount; volume++)
        {
            if (histories[volume] != null && histories[volume].length > StateFlyweight.MAX_HISTORY)
            {
                throw new IllegalArgumentException("volume " + volume + " history of " + histories[volume].length +
                    " generations, maximum " + StateFlyweight.MAX_HISTORY);
            }
        }
        final int length = StateFlyweight.encodedLength(volumeCount);
        final ByteBuf body = alloc.buffer(length, length);
        state.wrap(view.wrapForWrite(body, 0, length), 0)
            .role(role)
            .flags(flags)
            .volumeCount(volumeCount)
            .nodeId(nodeId);
        for (int volume = 0; volume < volumeCount; volume++)
        {
            final long[] history = histories[volume];
            final int historyCount = history == null ? 0 : history.length;
            state.diskState(volume, diskStates[volume] & 0xFF)
                .historyCount(volume, historyCount)
                .currentGen(volume, currentGens[volume]);
            for (int slot = 0; slot < StateFlyweight.MAX_HISTORY; slot++)
            {
                state.history(volume, slot, slot < historyCount ? history[slot] : 0);
            }
        }
        return finish(STATE, 0, body, length);
    }

    /**
     * A TWOPC_PREPARE, TWOPC_COMMIT or TWOPC_ABORT.
     *
     * @param alloc for the body.
     * @param type  {@link io.mirra.transport.protocol.ReplicationProtocol#TWOPC_PREPARE},
     *              {@link io.mirra.transport.protocol.ReplicationProtocol#TWOPC_COMMIT} or
     *              {@link io.mirra.transport.protocol.ReplicationProtocol#TWOPC_ABORT}.
     * @param txId  the transaction id.
     * @param kind  a {@code TWOPC_KIND_*} code.
     * @return the frame.
     * @throws IllegalArgumentException when the type is not one of the three.
     */
    public Frame twoPc(final ByteBufAllocator alloc, final int type, final long txId, final int kind)
    {
        if (type != TWOPC_PREPARE && type != TWOPC_COMMIT && type != TWOPC_ABORT)
        {
            throw new IllegalArgumentException("not a two-phase commit type: " + typeName(type));
        }
        final ByteBuf body = alloc.buffer(TwoPcFlyweight.LENGTH, TwoPcFlyweight.LENGTH);
        twoPc.wrap(view.wrapForWrite(body, 0, TwoPcFlyweight.LENGTH), 0).txId(txId).kind(kind);
        return finish(type, 0, body, TwoPcFlyweight.LENGTH);
    }

    /**
     * A TWOPC_REPLY.
     *
     * @param alloc   for the body.
     * @param txId    of the answered PREPARE.
     * @param verdict {@link io.mirra.transport.protocol.ReplicationProtocol#TWOPC_YES} or
     *                {@link io.mirra.transport.protocol.ReplicationProtocol#TWOPC_NO}.
     * @param message why (null or empty for none), truncated to the protocol's maximum between two characters.
     * @return the frame.
     */
    public Frame twoPcReply(final ByteBufAllocator alloc, final long txId, final int verdict, final String message)
    {
        final int length = TwoPcReplyFlyweight.encodedLength(message);
        final ByteBuf body = alloc.buffer(length, length);
        twoPcReply.wrap(view.wrapForWrite(body, 0, length), 0).txId(txId).verdict(verdict).message(message);
        return finish(TWOPC_REPLY, 0, body, length);
    }

    /**
     * A RESYNC_REQUEST: the sender's copy of the volume is older; the peer is to send the blocks that differ.
     *
     * @param alloc     for the body.
     * @param volume    volume number.
     * @param targetGen the sender's (the resync target's) current data generation of the volume.
     * @param flags     {@code RESYNC_FLAG_*} bits
     *                  ({@link io.mirra.transport.protocol.ReplicationProtocol#RESYNC_FLAG_FULL}: every block).
     * @return the frame.
     */
    public Frame resyncRequest(final ByteBufAllocator alloc, final int volume, final long targetGen, final int flags)
    {
        final ByteBuf body = alloc.buffer(ResyncRequestFlyweight.LENGTH, ResyncRequestFlyweight.LENGTH);
        resyncRequest.wrap(view.wrapForWrite(body, 0, ResyncRequestFlyweight.LENGTH), 0)
            .targetGen(targetGen)
            .flags(flags);
        return finish(RESYNC_REQUEST, volume, body, ResyncRequestFlyweight.LENGTH);
    }

    /**
     * A RESYNC_DATA (the WRITE layout, write flags zero) whose body is its header followed by {@code data}, not
     * copied. The peer acknowledges it with a WRITE_ACK carrying {@code sequence}.
     *
     * @param alloc      for the header.
     * @param volume     volume number.
     * @param sequence   its sequence, in the write sequence space of the connection.
     * @param byteOffset where the block range goes in the volume.
     * @param epoch      its barrier epoch (the peer orders it like a write of that epoch).
     * @param data       the block range's data; ownership transfers to the frame.
     * @return the frame.
     */
    public Frame resyncData(
        final ByteBufAllocator alloc,
        final int volume,
        final long sequence,
        final long byteOffset,
        final long epoch,
        final ByteBuf data)
    {
        return writeLayout(alloc, RESYNC_DATA, volume, sequence, byteOffset, epoch, 0, data);
    }

    /**
     * An OUT_OF_SYNC: the range may differ between the two copies (sent by a resync's target before its request).
     *
     * @param alloc      for the body.
     * @param volume     volume number.
     * @param byteOffset start of the range.
     * @param length     bytes, at least 1.
     * @return the frame.
     */
    public Frame outOfSync(final ByteBufAllocator alloc, final int volume, final long byteOffset, final long length)
    {
        final ByteBuf body = alloc.buffer(RangeOpFlyweight.LENGTH, RangeOpFlyweight.LENGTH);
        rangeOp.wrap(view.wrapForWrite(body, 0, RangeOpFlyweight.LENGTH), 0)
            .opSequence(0)
            .byteOffset(byteOffset)
            .length(length)
            .epoch(0)
            .flags(0);
        return finish(OUT_OF_SYNC, volume, body, RangeOpFlyweight.LENGTH);
    }

    /**
     * A VERIFY_REQUEST: digests of each block of a range, please.
     *
     * @param alloc      for the body.
     * @param volume     volume number.
     * @param requestId  echoed by the reply.
     * @param byteOffset start of the range.
     * @param length     1..MAX_VERIFY_LENGTH bytes.
     * @param blockSize  bytes per digest.
     * @return the frame.
     */
    public Frame verifyRequest(final ByteBufAllocator alloc, final int volume, final long requestId,
        final long byteOffset, final int length, final int blockSize)
    {
        final ByteBuf body = alloc.buffer(VerifyRequestFlyweight.LENGTH, VerifyRequestFlyweight.LENGTH);
        verifyRequest.wrap(view.wrapForWrite(body, 0, VerifyRequestFlyweight.LENGTH), 0)
            .requestId(requestId)
            .byteOffset(byteOffset)
            .length(length)
            .blockSize(blockSize);
        return finish(VERIFY_REQUEST, volume, body, VerifyRequestFlyweight.LENGTH);
    }

    /**
     * A VERIFY_REPLY.
     *
     * @param alloc     for the body.
     * @param volume    volume number.
     * @param requestId the request's id.
     * @param status    0, or the errno of the local disk (then no digests).
     * @param digests   the digests.
     * @param count     how many (0 when status is not 0).
     * @return the frame.
     */
    public Frame verifyReply(final ByteBufAllocator alloc, final int volume, final long requestId, final int status,
        final long[] digests, final int count)
    {
        final int length = VerifyReplyFlyweight.HEADER_LENGTH + 8 * count;
        final ByteBuf body = alloc.buffer(length, length);
        verifyReply.wrap(view.wrapForWrite(body, 0, length), 0).set(requestId, status, digests, count);
        return finish(VERIFY_REPLY, volume, body, length);
    }

    /**
     * A RESYNC_PROGRESS: the source's view of a running resync.
     *
     * @param alloc     for the body.
     * @param volume    volume number.
     * @param outOfSync bytes still to send.
     * @param sent      bytes sent so far.
     * @return the frame.
     */
    public Frame resyncProgress(final ByteBufAllocator alloc, final int volume, final long outOfSync, final long sent)
    {
        final ByteBuf body = alloc.buffer(ResyncProgressFlyweight.LENGTH, ResyncProgressFlyweight.LENGTH);
        resyncProgress.wrap(view.wrapForWrite(body, 0, ResyncProgressFlyweight.LENGTH), 0).set(outOfSync, sent);
        return finish(RESYNC_PROGRESS, volume, body, ResyncProgressFlyweight.LENGTH);
    }

    /**
     * A SPLIT_BRAIN: the sender's facts about its side of a split brain on the volume.
     *
     * @param alloc        for the body.
     * @param volume       volume number.
     * @param changedBytes bytes changed since the split, or {@code SPLIT_BRAIN_CHANGES_UNKNOWN}.
     * @param primarySince when the sender last became Primary, ms since the epoch (0: never).
     * @param flags        {@code SPLIT_BRAIN_FLAG_*} bits.
     * @return the frame.
     */
    public Frame splitBrain(final ByteBufAllocator alloc, final int volume, final long changedBytes,
        final long primarySince, final int flags)
    {
        final ByteBuf body = alloc.buffer(SplitBrainFlyweight.LENGTH, SplitBrainFlyweight.LENGTH);
        splitBrain.wrap(view.wrapForWrite(body, 0, SplitBrainFlyweight.LENGTH), 0)
            .changedBytes(changedBytes)
            .primarySince(primarySince)
            .flags(flags);
        return finish(SPLIT_BRAIN, volume, body, SplitBrainFlyweight.LENGTH);
    }

    /**
     * A RESYNC_END: every block of the resync was sent before it.
     *
     * @param alloc     for the body.
     * @param volume    volume number.
     * @param sourceGen the generation the target adopts once everything before this frame is on its disk.
     * @param sentBytes bytes of data sent in this resync, for the log.
     * @return the frame.
     */
    public Frame resyncEnd(final ByteBufAllocator alloc, final int volume, final long sourceGen, final long sentBytes)
    {
        final ByteBuf body = alloc.buffer(ResyncEndFlyweight.LENGTH, ResyncEndFlyweight.LENGTH);
        resyncEnd.wrap(view.wrapForWrite(body, 0, ResyncEndFlyweight.LENGTH), 0)
            .sourceGen(sourceGen)
            .sentBytes(sentBytes);
        return finish(RESYNC_END, volume, body, ResyncEndFlyweight.LENGTH);
    }

    private Frame writeLayout(
        final ByteBufAllocator alloc,
        final int type,
        final int volume,
        final long writeSequence,
        final long byteOffset,
        final long epoch,
        final int writeFlags,
        final ByteBuf data)
    {
        final ByteBuf header = alloc.directBuffer(WriteFlyweight.HEADER_LENGTH, WriteFlyweight.HEADER_LENGTH);
        write.wrap(view.wrapForWrite(header, 0, WriteFlyweight.HEADER_LENGTH), 0)
            .writeSequence(writeSequence)
            .byteOffset(byteOffset)
            .epoch(epoch)
            .dataLength(data.readableBytes())
            .flags(writeFlags);
        view.commit();
        header.writerIndex(WriteFlyweight.HEADER_LENGTH);
        final CompositeByteBuf body = alloc.compositeDirectBuffer(2);
        body.addComponent(true, header).addComponent(true, data);
        return new Frame(type, volume, body);
    }

    private Frame finish(final int type, final int volume, final ByteBuf body, final int length)
    {
        view.commit();
        body.writerIndex(length);
        return new Frame(type, volume, body);
    }
}
