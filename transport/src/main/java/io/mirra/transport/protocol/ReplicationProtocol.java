package io.mirra.transport.protocol;

import java.nio.ByteOrder;

/**
 * The replication wire protocol, declared once: magic, versions, the frame header, every message type with the
 * stream it travels on and the bounds of its body, flags, feature bits, refusal reasons and limits. The layout of
 * each message body is declared by its flyweight in this package ({@link HelloFlyweight}, {@link WriteFlyweight},
 * ...), each with its own diagram (a type that reuses another's layout says so in that flyweight);
 * {@code docs/wire-protocol.md} describes the whole protocol in prose.
 * <p>
 * <b>Byte order:</b> everything is <b>little-endian</b> ({@link #BYTE_ORDER}), like Aeron and Longhorn's data
 * connection: both ends are x86-64 or arm64 hosts, so no field is ever swapped.
 * <p>
 * <b>Rule (DRBD's {@code DP_*} rule):</b> any change to a layout, a type id, a flag or the meaning of a field bumps
 * {@link #PROTOCOL_VERSION} or adds a feature bit. The frame header and the handshake messages ({@link #HELLO},
 * {@link #AUTH_RESPONSE}, {@link #AUTH_OK}, {@link #REFUSE}) are frozen for all versions: they are always sent with
 * header version {@link #HANDSHAKE_VERSION}, so two nodes of any versions can always tell each other why they
 * cannot talk. Version 1 itself is frozen at the first release; until then (no release has shipped) messages are
 * still added to it.
 * <p>
 * <b>Frame header</b> ({@link #HEADER_LENGTH} = 24 bytes), followed by {@code bodyLength} bytes of body:
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  Magic "MIRA" (bytes 4D 49 52 41)             |  0
 *  +-------------------------------+-------------------------------+
 *  |           Version             |             Type              |  4
 *  +-------------------------------+-------------------------------+
 *  |          Frame Flags          |            Volume             |  8
 *  +-------------------------------+-------------------------------+
 *  |                      Body Length (u32)                        | 12
 *  +---------------------------------------------------------------+
 *  |                   Stream Sequence (u64)                       | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 * </pre>
 * <ul>
 *     <li><b>Version</b>: {@link #HANDSHAKE_VERSION} for handshake messages, the agreed version afterwards.</li>
 *     <li><b>Frame Flags</b>: none is defined in version 1; a frame with any bit set is refused.</li>
 *     <li><b>Volume</b>: the volume number for volume-scoped messages ({@link #WRITE}, {@link #WRITE_ACK},
 *     {@link #FLUSH}, {@link #TRIM}, {@link #WRITE_ZEROES}, {@link #READ_REQUEST}, {@link #READ_REPLY},
 *     {@link #RESYNC_REQUEST}, {@link #RESYNC_DATA}, {@link #RESYNC_END}, {@link #OUT_OF_SYNC},
 *     {@link #SPLIT_BRAIN}, {@link #VERIFY_REQUEST}, {@link #VERIFY_REPLY}, {@link #RESYNC_PROGRESS}), zero
 *     otherwise;
 *     always below
 *     {@link #MAX_VOLUMES}.</li>
 *     <li><b>Body Length</b>: bytes following the header; bounded per type ({@link #minBodyLength(int)},
 *     {@link #maxBodyLength(int, int)}) and never above {@link #MAX_FRAME_BODY_LENGTH}.</li>
 *     <li><b>Stream Sequence</b>: 1 for the first frame a side sends on a stream, then +1 per frame. A gap means a
 *     framing bug or corruption and closes the stream.</li>
 * </ul>
 * <b>Streams:</b> a connection to a peer is two TCP connections, {@link #STREAM_DATA} (writes, flushes, trims,
 * write-zeroes, reads and their replies, state, resync: bulk, and everything that must stay in order with the
 * writes) and {@link #STREAM_CONTROL} (acknowledgements, pings, two-phase commits: small and urgent), so
 * acknowledgements never wait behind bulk data (DRBD's data and meta sockets). Each stream runs its own handshake.
 * <p>
 * <b>Reserved type ids</b> (declared in later slices together with their flyweights; a version-1 decoder treats them
 * as unknown and closes): 5..15 handshake extensions; 18 {@code BARRIER} (data), 19 {@code BARRIER_ACK} (control),
 * 20 {@code RECV_ACK} (control, protocol B), 21 {@code NEG_ACK} (control); 49 {@code UUIDS} (data), 50
 * {@code SIZES} (data); 64 {@code BITMAP_CHUNK} (data), 67 {@code RESYNC_ACK} (control), 68
 * {@code CHECKSUM_REQUEST} (data); 65535 is never
 * used.
 * <p>
 * Threading: constants and pure functions only; safe from any thread.
 */
public final class ReplicationProtocol
{
    private ReplicationProtocol()
    {
    }

    // ---- framing ------------------------------------------------------------------------------------------------

    /** Byte order of every multi-byte field. */
    public static final ByteOrder BYTE_ORDER = ByteOrder.LITTLE_ENDIAN;
    /** "MIRA": the first four bytes of every frame (4D 49 52 41), read as a little-endian int. */
    public static final int MAGIC = 0x4152494D;
    /** The version this build speaks best. */
    public static final int PROTOCOL_VERSION = 1;
    /** The oldest version this build still speaks. */
    public static final int MIN_SUPPORTED_VERSION = 1;
    /** Header version of the frozen handshake messages (HELLO, AUTH_RESPONSE, AUTH_OK, REFUSE). */
    public static final int HANDSHAKE_VERSION = 1;

    /** Offset of the magic in the frame header. */
    public static final int MAGIC_OFFSET = 0;
    /** Offset of the version (u16). */
    public static final int VERSION_OFFSET = 4;
    /** Offset of the message type (u16). */
    public static final int TYPE_OFFSET = 6;
    /** Offset of the frame flags (u16). */
    public static final int FLAGS_OFFSET = 8;
    /** Offset of the volume number (u16). */
    public static final int VOLUME_OFFSET = 10;
    /** Offset of the body length (u32). */
    public static final int BODY_LENGTH_OFFSET = 12;
    /** Offset of the stream sequence (u64). */
    public static final int SEQUENCE_OFFSET = 16;
    /** Length of the frame header. */
    public static final int HEADER_LENGTH = 24;

    /** Frame flags defined in version 1: none. A frame with other bits set is refused. */
    public static final int KNOWN_FRAME_FLAGS = 0;

    // ---- limits -------------------------------------------------------------------------------------------------

    /**
     * Largest data payload of one {@link #WRITE}, {@link #RESYNC_DATA} or {@link #READ_REPLY}, and largest
     * {@link #READ_REQUEST} length (1 MiB); a node may configure its decoder lower.
     */
    public static final int MAX_WRITE_DATA_LENGTH = 1024 * 1024;
    /** Largest body of any frame: a WRITE (or RESYNC_DATA) header plus {@link #MAX_WRITE_DATA_LENGTH}. */
    public static final int MAX_FRAME_BODY_LENGTH = WriteFlyweight.HEADER_LENGTH + MAX_WRITE_DATA_LENGTH;
    /** Longest node or resource name, in UTF-8 bytes. */
    public static final int MAX_NAME_LENGTH = 255;
    /** Longest refusal message, in UTF-8 bytes. */
    public static final int MAX_REFUSE_MESSAGE_LENGTH = 1024;
    /** Most volumes in one resource (volume numbers are 0 .. MAX_VOLUMES - 1). */
    public static final int MAX_VOLUMES = 256;
    /** Length of the handshake nonce. */
    public static final int NONCE_LENGTH = 32;
    /** Length of an HMAC-SHA256 authenticator. */
    public static final int MAC_LENGTH = 32;
    /** Highest node id in a {@link #STATE} (node ids are 0 .. MAX_NODE_ID). */
    public static final int MAX_NODE_ID = 32;
    /** Highest disk state code in a {@link #STATE} (codes are 0 .. MAX_DISK_STATE; their meaning is the engine's). */
    public static final int MAX_DISK_STATE = 7;
    /** Most history generations per volume in a {@link #STATE} ({@link StateFlyweight#MAX_HISTORY}). */
    public static final int MAX_HISTORY = 4;

    // ---- streams ------------------------------------------------------------------------------------------------

    /**
     * Stream kind: bulk data and what is ordered with it (writes, flushes, trims, write-zeroes, reads, state,
     * resync). Also the bit for this stream in a stream mask.
     */
    public static final int STREAM_DATA = 1;
    /**
     * Stream kind: acknowledgements, liveness and two-phase commits. Also the bit for this stream in a stream mask.
     */
    public static final int STREAM_CONTROL = 2;
    /** Stream mask of the handshake messages: they travel on both streams. */
    public static final int STREAM_BOTH = STREAM_DATA | STREAM_CONTROL;

    // ---- handshake roles (bound into the AUTH_RESPONSE MAC) ------------------------------------------------------

    /** The side that dialled the stream. */
    public static final int ROLE_CONNECTOR = 1;
    /** The side that accepted the stream. */
    public static final int ROLE_ACCEPTOR = 2;

    // ---- message types ------------------------------------------------------------------------------------------

    /** Handshake, both streams: identity, version range, features, volume sizes, nonce ({@link HelloFlyweight}). */
    public static final int HELLO = 1;
    /** Handshake, both streams: HMAC proving knowledge of the shared secret ({@link AuthResponseFlyweight}). */
    public static final int AUTH_RESPONSE = 2;
    /** Handshake, both streams: "your AUTH_RESPONSE was verified"; empty body. */
    public static final int AUTH_OK = 3;
    /** Both streams, any time: the sender refuses the connection and closes it ({@link RefuseFlyweight}). */
    public static final int REFUSE = 4;
    /** Data stream: a replicated write, header then data ({@link WriteFlyweight}). */
    public static final int WRITE = 16;
    /**
     * Control stream: acknowledges a {@link #WRITE}, {@link #FLUSH}, {@link #TRIM}, {@link #WRITE_ZEROES} or
     * {@link #RESYNC_DATA} by its sequence ({@link WriteAckFlyweight}).
     */
    public static final int WRITE_ACK = 17;
    /**
     * Data stream: flush the peer's disk once every earlier-arrived write completed; acknowledged by a
     * {@link #WRITE_ACK} with {@link #ACK_FLAG_DURABLE} ({@link RangeOpFlyweight}, offset and length zero).
     */
    public static final int FLUSH = 22;
    /** Data stream: discard a byte range (punch a hole) on the peer's disk ({@link RangeOpFlyweight}). */
    public static final int TRIM = 23;
    /** Data stream: write zeroes to a byte range of the peer's disk ({@link RangeOpFlyweight}). */
    public static final int WRITE_ZEROES = 24;
    /**
     * Data stream: read a byte range of the peer's volume, served after the earlier-arrived writes that overlap it
     * ({@link ReadRequestFlyweight}); answered by a {@link #READ_REPLY}.
     */
    public static final int READ_REQUEST = 25;
    /** Data stream: answer to a {@link #READ_REQUEST}, header then data ({@link ReadReplyFlyweight}). */
    public static final int READ_REPLY = 26;
    /** Control stream: liveness probe ({@link PingFlyweight}). */
    public static final int PING = 32;
    /** Control stream: answer to a {@link #PING}, echoing its body ({@link PingFlyweight}). */
    public static final int PING_ACK = 33;
    /**
     * Data stream (ordered with the writes): the sender's role, node id and, per volume, disk state and data
     * generations; sent when the link comes up and on every change ({@link StateFlyweight}).
     */
    public static final int STATE = 48;
    /** Control stream: first phase of a two-phase commit, sent to every connected peer ({@link TwoPcFlyweight}). */
    public static final int TWOPC_PREPARE = 51;
    /** Control stream: every peer answered YES: carry out the prepared transaction ({@link TwoPcFlyweight}). */
    public static final int TWOPC_COMMIT = 52;
    /** Control stream: not every peer answered YES: abandon the prepared transaction ({@link TwoPcFlyweight}). */
    public static final int TWOPC_ABORT = 53;
    /** Control stream: a peer's YES, or NO and why, to a {@link #TWOPC_PREPARE} ({@link TwoPcReplyFlyweight}). */
    public static final int TWOPC_REPLY = 54;
    /**
     * Data stream: "the sender's copy of this volume is older; send me the blocks that differ". Sent by a resync's
     * target to one UpToDate peer (the Primary if connected), which becomes its SyncSource
     * ({@link ResyncRequestFlyweight}).
     */
    public static final int RESYNC_REQUEST = 65;
    /**
     * Data stream: a block range of a resync, from the SyncSource: exactly the {@link #WRITE} layout, header then
     * data ({@link WriteFlyweight}, write flags zero); acknowledged by a {@link #WRITE_ACK} with its sequence and
     * {@link #ACK_FLAG_DURABLE}.
     */
    public static final int RESYNC_DATA = 66;
    /**
     * Data stream: every block of the resync was sent before this frame; the target adopts the source's generation
     * once everything before it is on its disk ({@link ResyncEndFlyweight}).
     */
    public static final int RESYNC_END = 72;
    /**
     * Data stream: "this range may differ between our copies" ({@link RangeOpFlyweight} layout: sequence, epoch and
     * flags zero). Sent by a resync's target ahead of its {@link #RESYNC_REQUEST} for the blocks its own bitmap holds
     * against the source (after a crash as Primary: the extents of its activity log), so the source resyncs the
     * union of both sides' bits.
     */
    public static final int OUT_OF_SYNC = 73;
    /**
     * Data stream: the sender found the two copies of the volume unrelated (split brain) and tells what the
     * after-split-brain policy needs: its changes since the split, when it became Primary, and whether the operator
     * asked it to discard its data ({@link SplitBrainFlyweight}).
     */
    public static final int SPLIT_BRAIN = 74;
    /**
     * Data stream: "send me a digest of each block of this range" ({@link VerifyRequestFlyweight}), for an online
     * verify; served like a read, after the writes that arrived before it.
     */
    public static final int VERIFY_REQUEST = 69;
    /** Data stream: the digests of a {@link #VERIFY_REQUEST}'s range ({@link VerifyReplyFlyweight}). */
    public static final int VERIFY_REPLY = 70;
    /**
     * Data stream: the SyncSource's progress of a running resync ({@link ResyncProgressFlyweight}), sent when it
     * starts and about once a second, so the target's status shows percent, rate and time left too.
     */
    public static final int RESYNC_PROGRESS = 75;
    /** Longest range of one {@link #VERIFY_REQUEST}: 1 MiB. */
    public static final int MAX_VERIFY_LENGTH = 1024 * 1024;
    /** {@link SplitBrainFlyweight#changedBytes()} when the sender cannot count its changes. */
    public static final long SPLIT_BRAIN_CHANGES_UNKNOWN = -1L;
    /** Split-brain flag: the operator asked the sender to discard its data ({@code connect --discard-my-data}). */
    public static final int SPLIT_BRAIN_FLAG_DISCARD_MY_DATA = 1;
    /** Split-brain flag: the sender is Primary now. */
    public static final int SPLIT_BRAIN_FLAG_PRIMARY = 1 << 1;
    /** Every split-brain flag this version knows. */
    public static final int KNOWN_SPLIT_BRAIN_FLAGS = SPLIT_BRAIN_FLAG_DISCARD_MY_DATA | SPLIT_BRAIN_FLAG_PRIMARY;

    // ---- write flags (WriteFlyweight.flags) ---------------------------------------------------------------------

    /** Write flag: the write must be durable on the peer's disk before it is acknowledged. */
    public static final int WRITE_FLAG_FUA = 1;
    /** Write flag: flush the peer's disk before applying this write (ordering point). */
    public static final int WRITE_FLAG_FLUSH = 1 << 1;
    /**
     * Write flag: the peer sends a {@link #WRITE_ACK} with {@link #ACK_FLAG_RECEIVED} as soon as the write arrived,
     * before it is on disk (protocol B).
     */
    public static final int WRITE_FLAG_ACK_RECEIVED = 1 << 2;
    /** Write flags defined in version 1. */
    public static final int KNOWN_WRITE_FLAGS = WRITE_FLAG_FUA | WRITE_FLAG_FLUSH | WRITE_FLAG_ACK_RECEIVED;

    // ---- range flags (RangeOpFlyweight.flags) -------------------------------------------------------------------

    /** Range flag, {@link #WRITE_ZEROES} only: allocate the range (write zeroes), do not punch a hole. */
    public static final int RANGE_FLAG_NO_HOLE = 1;
    /** Range flag: the operation must be durable on the peer's disk before it is acknowledged. */
    public static final int RANGE_FLAG_FUA = 1 << 1;
    /** Range flags defined in version 1. */
    public static final int KNOWN_RANGE_FLAGS = RANGE_FLAG_NO_HOLE | RANGE_FLAG_FUA;

    // ---- ack flags (WriteAckFlyweight.flags) --------------------------------------------------------------------

    /** Ack flag: the write was received (protocol B). */
    public static final int ACK_FLAG_RECEIVED = 1;
    /** Ack flag: the write is on the peer's disk (protocol C). */
    public static final int ACK_FLAG_DURABLE = 1 << 1;

    // ---- state roles (StateFlyweight.role) ----------------------------------------------------------------------

    /** Role in a {@link #STATE}: the sender is secondary. */
    public static final int STATE_ROLE_SECONDARY = 1;
    /** Role in a {@link #STATE}: the sender is primary. */
    public static final int STATE_ROLE_PRIMARY = 2;
    /**
     * STATE flag: the sender has received the receiver's STATE on this connection (so it has decided what the two
     * copies are to each other).
     */
    public static final int STATE_FLAG_SEEN = 1;
    /**
     * STATE flag: the operator declared every copy identical ({@code new-current-uuid --clear-bitmap} on the sender,
     * for new disks known to hold the same data): a receiver whose copy is Inconsistent takes the sender's generation
     * and is UpToDate without a resync.
     */
    public static final int STATE_FLAG_CLEAR_BITMAP = 1 << 1;
    /**
     * STATE flag: the sender wants to know when the receiver has taken this STATE in (it demoted: its demotion ends
     * when every connected peer knows, so another node can be promoted right after); the receiver answers with a
     * STATE carrying {@link #STATE_FLAG_ACK}.
     */
    public static final int STATE_FLAG_ACK_REQUESTED = 1 << 2;
    /** STATE flag: the answer to a STATE with {@link #STATE_FLAG_ACK_REQUESTED}: the sender has processed it. */
    public static final int STATE_FLAG_ACK = 1 << 3;
    /** STATE flags defined in version 1. */
    public static final int KNOWN_STATE_FLAGS = STATE_FLAG_SEEN | STATE_FLAG_CLEAR_BITMAP | STATE_FLAG_ACK_REQUESTED |
        STATE_FLAG_ACK;

    // ---- resync flags (ResyncRequestFlyweight.flags) ------------------------------------------------------------

    /**
     * Resync flag: the requester cannot tell which blocks differ (e.g. it crashed as Primary, so writes may be on
     * its disk that the peer never saw): send every block, not only those marked out of sync.
     */
    public static final int RESYNC_FLAG_FULL = 1;
    /** Resync flags defined in version 1. */
    public static final int KNOWN_RESYNC_FLAGS = RESYNC_FLAG_FULL;

    // ---- two-phase commits (TwoPcFlyweight.kind, TwoPcReplyFlyweight.verdict) ----------------------------------

    /** Two-phase commit kind: the sender is to become primary. */
    public static final int TWOPC_KIND_PROMOTE = 1;
    /** Two-phase commit verdict: the peer agrees. */
    public static final int TWOPC_YES = 0;
    /** Two-phase commit verdict: the peer refuses; the reply's message says why. */
    public static final int TWOPC_NO = 1;
    /** Two-phase verdict: not now (another promotion is under way); the requester may ask again after a pause. */
    public static final int TWOPC_RETRY = 2;

    // ---- feature bits (negotiated in HELLO: both sides use the AND of both sets) --------------------------------

    /** Feature: LZ4-compressed write and resync payloads. */
    public static final long FEATURE_LZ4 = 1L;
    /** Feature: checksum-based resync (send checksums first, data only where they differ). */
    public static final long FEATURE_CHECKSUM_RESYNC = 1L << 1;
    /** Feature: resync may run on a connection that does not replicate new writes. */
    public static final long FEATURE_RESYNC_WITHOUT_REPLICATION = 1L << 2;
    /** Every feature this build knows. */
    public static final long KNOWN_FEATURES = FEATURE_LZ4 | FEATURE_CHECKSUM_RESYNC |
        FEATURE_RESYNC_WITHOUT_REPLICATION;

    // ---- refusal reasons (RefuseFlyweight.reason) ---------------------------------------------------------------

    /** Refused: the peer names another resource. */
    public static final int REFUSE_WRONG_RESOURCE = 1;
    /** Refused: no protocol version in common. */
    public static final int REFUSE_VERSION_MISMATCH = 2;
    /** Refused: different volume count or volume sizes. */
    public static final int REFUSE_VOLUME_SIZE_MISMATCH = 3;
    /** Refused: the peer's AUTH_RESPONSE did not verify (no or another shared secret). */
    public static final int REFUSE_AUTH_FAILED = 4;
    /** Refused: the peer's node name is not a configured peer of this resource. */
    public static final int REFUSE_UNKNOWN_PEER = 5;
    /** Refused: malformed or unexpected message. */
    public static final int REFUSE_PROTOCOL_ERROR = 6;
    /** Refused: the handshake did not complete before its deadline. */
    public static final int REFUSE_HANDSHAKE_TIMEOUT = 7;

    /**
     * Name of a refusal reason for logs.
     *
     * @param reason code.
     * @return its name, or {@code UNKNOWN(n)}.
     */
    public static String refuseReasonName(final int reason)
    {
        switch (reason)
        {
            case REFUSE_WRONG_RESOURCE: return "WRONG_RESOURCE";
            case REFUSE_VERSION_MISMATCH: return "VERSION_MISMATCH";
            case REFUSE_VOLUME_SIZE_MISMATCH: return "VOLUME_SIZE_MISMATCH";
            case REFUSE_AUTH_FAILED: return "AUTH_FAILED";
            case REFUSE_UNKNOWN_PEER: return "UNKNOWN_PEER";
            case REFUSE_PROTOCOL_ERROR: return "PROTOCOL_ERROR";
            case REFUSE_HANDSHAKE_TIMEOUT: return "HANDSHAKE_TIMEOUT";
            default: return "UNKNOWN(" + reason + ")";
        }
    }

    // ---- type table ---------------------------------------------------------------------------------------------

    /**
     * Is this a type id of this version?
     *
     * @param type from a frame header.
     * @return true for the types declared above, false for reserved and unknown ids.
     */
    public static boolean isKnownType(final int type)
    {
        return streamsOf(type) != 0;
    }

    /**
     * Is this one of the frozen handshake messages, the only ones accepted before a stream's handshake completed?
     *
     * @param type id.
     * @return true for HELLO, AUTH_RESPONSE, AUTH_OK and REFUSE.
     */
    public static boolean isHandshakeType(final int type)
    {
        return type == HELLO || type == AUTH_RESPONSE || type == AUTH_OK || type == REFUSE;
    }

    /**
     * Streams a message type may travel on.
     *
     * @param type id.
     * @return mask of {@link #STREAM_DATA} / {@link #STREAM_CONTROL}, 0 for an unknown type.
     */
    public static int streamsOf(final int type)
    {
        switch (type)
        {
            case HELLO:
            case AUTH_RESPONSE:
            case AUTH_OK:
            case REFUSE:
                return STREAM_BOTH;
            case WRITE:
            case FLUSH:
            case TRIM:
            case WRITE_ZEROES:
            case READ_REQUEST:
            case READ_REPLY:
            case STATE:
            case RESYNC_REQUEST:
            case RESYNC_DATA:
            case RESYNC_END:
            case OUT_OF_SYNC:
            case SPLIT_BRAIN:
            case VERIFY_REQUEST:
            case VERIFY_REPLY:
            case RESYNC_PROGRESS:
                return STREAM_DATA;
            case WRITE_ACK:
            case PING:
            case PING_ACK:
            case TWOPC_PREPARE:
            case TWOPC_COMMIT:
            case TWOPC_ABORT:
            case TWOPC_REPLY:
                return STREAM_CONTROL;
            default:
                return 0;
        }
    }

    /**
     * Shortest valid body of a type.
     *
     * @param type a known type id.
     * @return length in bytes.
     */
    public static int minBodyLength(final int type)
    {
        switch (type)
        {
            case HELLO: return HelloFlyweight.MIN_LENGTH;
            case AUTH_RESPONSE: return AuthResponseFlyweight.LENGTH;
            case REFUSE: return RefuseFlyweight.MIN_LENGTH;
            case WRITE: return WriteFlyweight.HEADER_LENGTH;
            case WRITE_ACK: return WriteAckFlyweight.LENGTH;
            case FLUSH:
            case TRIM:
            case WRITE_ZEROES:
            case OUT_OF_SYNC:
                return RangeOpFlyweight.LENGTH;
            case READ_REQUEST: return ReadRequestFlyweight.LENGTH;
            case READ_REPLY: return ReadReplyFlyweight.HEADER_LENGTH;
            case PING:
            case PING_ACK:
                return PingFlyweight.LENGTH;
            case STATE: return StateFlyweight.MIN_LENGTH;
            case TWOPC_PREPARE:
            case TWOPC_COMMIT:
            case TWOPC_ABORT:
                return TwoPcFlyweight.LENGTH;
            case TWOPC_REPLY: return TwoPcReplyFlyweight.MIN_LENGTH;
            case RESYNC_REQUEST: return ResyncRequestFlyweight.LENGTH;
            case RESYNC_DATA: return WriteFlyweight.HEADER_LENGTH;
            case RESYNC_END: return ResyncEndFlyweight.LENGTH;
            case SPLIT_BRAIN: return SplitBrainFlyweight.LENGTH;
            case VERIFY_REQUEST: return VerifyRequestFlyweight.LENGTH;
            case VERIFY_REPLY: return VerifyReplyFlyweight.HEADER_LENGTH;
            case RESYNC_PROGRESS: return ResyncProgressFlyweight.LENGTH;
            default: return 0;
        }
    }

    /**
     * Longest valid body of a type.
     *
     * @param type               a known type id.
     * @param maxWriteDataLength the largest write (resync data, read reply) payload the receiver accepts (at most
     *                           {@link #MAX_WRITE_DATA_LENGTH}).
     * @return length in bytes.
     */
    public static int maxBodyLength(final int type, final int maxWriteDataLength)
    {
        switch (type)
        {
            case HELLO: return HelloFlyweight.MAX_LENGTH;
            case REFUSE: return RefuseFlyweight.MAX_LENGTH;
            case WRITE:
            case RESYNC_DATA:
                return WriteFlyweight.HEADER_LENGTH + maxWriteDataLength;
            case READ_REPLY: return ReadReplyFlyweight.HEADER_LENGTH + maxWriteDataLength;
            case STATE: return StateFlyweight.MAX_LENGTH;
            case TWOPC_REPLY: return TwoPcReplyFlyweight.MAX_LENGTH;
            case VERIFY_REPLY: return VerifyReplyFlyweight.MAX_LENGTH;
            default: return minBodyLength(type);
        }
    }

    /**
     * Name of a message type for logs.
     *
     * @param type id.
     * @return its name, or {@code UNKNOWN(n)}.
     */
    public static String typeName(final int type)
    {
        switch (type)
        {
            case HELLO: return "HELLO";
            case AUTH_RESPONSE: return "AUTH_RESPONSE";
            case AUTH_OK: return "AUTH_OK";
            case REFUSE: return "REFUSE";
            case WRITE: return "WRITE";
            case WRITE_ACK: return "WRITE_ACK";
            case FLUSH: return "FLUSH";
            case TRIM: return "TRIM";
            case WRITE_ZEROES: return "WRITE_ZEROES";
            case READ_REQUEST: return "READ_REQUEST";
            case READ_REPLY: return "READ_REPLY";
            case PING: return "PING";
            case PING_ACK: return "PING_ACK";
            case STATE: return "STATE";
            case TWOPC_PREPARE: return "TWOPC_PREPARE";
            case TWOPC_COMMIT: return "TWOPC_COMMIT";
            case TWOPC_ABORT: return "TWOPC_ABORT";
            case TWOPC_REPLY: return "TWOPC_REPLY";
            case RESYNC_REQUEST: return "RESYNC_REQUEST";
            case RESYNC_DATA: return "RESYNC_DATA";
            case RESYNC_END: return "RESYNC_END";
            case OUT_OF_SYNC: return "OUT_OF_SYNC";
            case SPLIT_BRAIN: return "SPLIT_BRAIN";
            case VERIFY_REQUEST: return "VERIFY_REQUEST";
            case VERIFY_REPLY: return "VERIFY_REPLY";
            case RESYNC_PROGRESS: return "RESYNC_PROGRESS";
            default: return "UNKNOWN(" + type + ")";
        }
    }

    /**
     * Name of a stream kind for logs.
     *
     * @param streamKind {@link #STREAM_DATA} or {@link #STREAM_CONTROL}.
     * @return "DATA", "CONTROL" or {@code UNKNOWN(n)}.
     */
    public static String streamName(final int streamKind)
    {
        switch (streamKind)
        {
            case STREAM_DATA: return "DATA";
            case STREAM_CONTROL: return "CONTROL";
            default: return "UNKNOWN(" + streamKind + ")";
        }
    }
}
