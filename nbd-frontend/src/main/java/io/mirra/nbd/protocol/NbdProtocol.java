package io.mirra.nbd.protocol;

/**
 * The NBD wire protocol, declared once: every magic, flag, option, reply, command and error code that mirra
 * speaks, with the sizes of the fixed headers. Everything on the wire is big-endian (network byte order).
 * <p>
 * Source of truth: the protocol document of the NetworkBlockDevice project, {@code doc/proto.md}. mirra speaks
 * only the fixed-newstyle handshake; the oldstyle handshake, extended headers and TLS are not offered.
 */
public final class NbdProtocol
{
    private NbdProtocol()
    {
    }

    // ---- handshake ------------------------------------------------------------------------------------------

    /** "NBDMAGIC": first 8 bytes the server sends. */
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    /** "IHAVEOPT": newstyle magic, sent by the server after NBDMAGIC and by the client before each option. */
    public static final long IHAVEOPT = 0x49484156454F5054L;
    /** Magic that starts every option reply. */
    public static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;

    /** Handshake flag (server): fixed newstyle supported. */
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    /** Handshake flag (server): the 124 zero bytes after NBD_OPT_EXPORT_NAME may be omitted. */
    public static final int FLAG_NO_ZEROES = 1 << 1;
    /** Client flag: client speaks fixed newstyle. */
    public static final int FLAG_C_FIXED_NEWSTYLE = 1;
    /** Client flag: client does not want the 124 zero bytes. */
    public static final int FLAG_C_NO_ZEROES = 1 << 1;

    /** Size of an option request header: IHAVEOPT (8), option (4), data length (4). */
    public static final int OPTION_HEADER_LENGTH = 16;
    /** Size of an option reply header: magic (8), option (4), reply type (4), data length (4). */
    public static final int OPTION_REPLY_HEADER_LENGTH = 20;
    /** Longest string the protocol allows (export names, queries, messages). */
    public static final int MAX_STRING_LENGTH = 4096;

    /** Option: select an export, old way (no error possible: unknown export means disconnect). */
    public static final int OPT_EXPORT_NAME = 1;
    /** Option: end the session. */
    public static final int OPT_ABORT = 2;
    /** Option: list exports. */
    public static final int OPT_LIST = 3;
    /** Option: upgrade to TLS (not offered by mirra: answered with ERR_UNSUP). */
    public static final int OPT_STARTTLS = 5;
    /** Option: describe an export without selecting it. */
    public static final int OPT_INFO = 6;
    /** Option: describe and select an export, then enter transmission. */
    public static final int OPT_GO = 7;
    /** Option: use structured replies. */
    public static final int OPT_STRUCTURED_REPLY = 8;
    /** Option: list metadata contexts. */
    public static final int OPT_LIST_META_CONTEXT = 9;
    /** Option: select metadata contexts for NBD_CMD_BLOCK_STATUS. */
    public static final int OPT_SET_META_CONTEXT = 10;
    /** Option: 64-bit extended headers (not offered by mirra). */
    public static final int OPT_EXTENDED_HEADERS = 11;

    /** Option reply: success, end of reply. */
    public static final int REP_ACK = 1;
    /** Option reply: one export of NBD_OPT_LIST. */
    public static final int REP_SERVER = 2;
    /** Option reply: one NBD_INFO_* item. */
    public static final int REP_INFO = 3;
    /** Option reply: one selected or listed metadata context. */
    public static final int REP_META_CONTEXT = 4;
    /** Bit set on every error reply type. */
    public static final int REP_FLAG_ERROR = 1 << 31;
    /** Option error: option not supported. */
    public static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;
    /** Option error: forbidden by server policy. */
    public static final int REP_ERR_POLICY = REP_FLAG_ERROR | 2;
    /** Option error: syntactically or semantically invalid. */
    public static final int REP_ERR_INVALID = REP_FLAG_ERROR | 3;
    /** Option error: not supported on this platform. */
    public static final int REP_ERR_PLATFORM = REP_FLAG_ERROR | 4;
    /** Option error: TLS required first. */
    public static final int REP_ERR_TLS_REQD = REP_FLAG_ERROR | 5;
    /** Option error: unknown export. */
    public static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR | 6;
    /** Option error: server shutting down. */
    public static final int REP_ERR_SHUTDOWN = REP_FLAG_ERROR | 7;
    /** Option error: client must request block sizes. */
    public static final int REP_ERR_BLOCK_SIZE_REQD = REP_FLAG_ERROR | 8;
    /** Option error: request or reply too large. */
    public static final int REP_ERR_TOO_BIG = REP_FLAG_ERROR | 9;

    /** Info item: export size and transmission flags. */
    public static final int INFO_EXPORT = 0;
    /** Info item: canonical export name. */
    public static final int INFO_NAME = 1;
    /** Info item: human-readable description. */
    public static final int INFO_DESCRIPTION = 2;
    /** Info item: minimum, preferred and maximum block sizes. */
    public static final int INFO_BLOCK_SIZE = 3;

    // ---- transmission flags (per export, 16 bits) -------------------------------------------------------------

    /** Transmission flag: the flags field is valid (always set). */
    public static final int TF_HAS_FLAGS = 1;
    /** Transmission flag: export is read-only. */
    public static final int TF_READ_ONLY = 1 << 1;
    /** Transmission flag: NBD_CMD_FLUSH supported. */
    public static final int TF_SEND_FLUSH = 1 << 2;
    /** Transmission flag: NBD_CMD_FLAG_FUA supported. */
    public static final int TF_SEND_FUA = 1 << 3;
    /** Transmission flag: rotational media. */
    public static final int TF_ROTATIONAL = 1 << 4;
    /** Transmission flag: NBD_CMD_TRIM supported. */
    public static final int TF_SEND_TRIM = 1 << 5;
    /** Transmission flag: NBD_CMD_WRITE_ZEROES supported. */
    public static final int TF_SEND_WRITE_ZEROES = 1 << 6;
    /** Transmission flag: NBD_CMD_FLAG_DF supported. */
    public static final int TF_SEND_DF = 1 << 7;
    /** Transmission flag: a flush on any connection covers writes completed on every connection. */
    public static final int TF_CAN_MULTI_CONN = 1 << 8;
    /** Transmission flag: NBD_CMD_FLAG_FAST_ZERO supported. */
    public static final int TF_SEND_FAST_ZERO = 1 << 11;

    // ---- requests and replies ---------------------------------------------------------------------------------

    /** Magic of every request. */
    public static final int REQUEST_MAGIC = 0x25609513;
    /** Magic of a simple reply. */
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    /** Magic of a structured reply chunk. */
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    /** Request header: magic (4), flags (2), type (2), cookie (8), offset (8), length (4). */
    public static final int REQUEST_HEADER_LENGTH = 28;
    /** Simple reply header: magic (4), error (4), cookie (8). */
    public static final int SIMPLE_REPLY_HEADER_LENGTH = 16;
    /** Structured reply chunk header: magic (4), flags (2), type (2), cookie (8), length (4). */
    public static final int STRUCTURED_REPLY_HEADER_LENGTH = 20;

    /** Command: read. */
    public static final int CMD_READ = 0;
    /** Command: write (carries a payload). */
    public static final int CMD_WRITE = 1;
    /** Command: disconnect after in-flight requests (no reply). */
    public static final int CMD_DISC = 2;
    /** Command: flush. */
    public static final int CMD_FLUSH = 3;
    /** Command: trim (discard). */
    public static final int CMD_TRIM = 4;
    /** Command: cache (not offered). */
    public static final int CMD_CACHE = 5;
    /** Command: write zeroes. */
    public static final int CMD_WRITE_ZEROES = 6;
    /** Command: block status. */
    public static final int CMD_BLOCK_STATUS = 7;

    /** Command flag: force unit access. */
    public static final int CMD_FLAG_FUA = 1;
    /** Command flag (WRITE_ZEROES): do not punch a hole. */
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    /** Command flag (READ): do not fragment the reply. */
    public static final int CMD_FLAG_DF = 1 << 2;
    /** Command flag (BLOCK_STATUS): one extent only. */
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    /** Command flag (WRITE_ZEROES): fail with ENOTSUP rather than zero slowly. */
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;
    /** Every command flag mirra understands. */
    public static final int CMD_FLAGS_KNOWN =
        CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_DF | CMD_FLAG_REQ_ONE | CMD_FLAG_FAST_ZERO;

    /** Structured reply flag: last chunk of this reply. */
    public static final int REPLY_FLAG_DONE = 1;
    /** Chunk type: no payload (success of a non-read command). */
    public static final int REPLY_TYPE_NONE = 0;
    /** Chunk type: data at an offset. */
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    /** Chunk type: a hole at an offset. */
    public static final int REPLY_TYPE_OFFSET_HOLE = 2;
    /** Chunk type: block status descriptors. */
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    /** Chunk type: error with message. */
    public static final int REPLY_TYPE_ERROR = (1 << 15) | 1;

    /** Name of the one metadata context mirra offers. */
    public static final String CONTEXT_BASE_ALLOCATION = "base:allocation";
    /** Id mirra gives to base:allocation. */
    public static final int CONTEXT_ID_BASE_ALLOCATION = 1;
    /** base:allocation flag: unallocated. */
    public static final int STATE_HOLE = 1;
    /** base:allocation flag: reads as zeros. */
    public static final int STATE_ZERO = 1 << 1;

    // ---- errors --------------------------------------------------------------------------------------------

    /** Operation not permitted (write to a read-only export). */
    public static final int EPERM = 1;
    /** Input/output error. */
    public static final int EIO = 5;
    /** Out of memory. */
    public static final int ENOMEM = 12;
    /** Invalid argument. */
    public static final int EINVAL = 22;
    /** No space left (write past the end). */
    public static final int ENOSPC = 28;
    /** Value too large (request over the maximum payload). */
    public static final int EOVERFLOW = 75;
    /** Operation not supported (FAST_ZERO that would be slow). */
    public static final int ENOTSUP = 95;
    /** Server shutting down. */
    public static final int ESHUTDOWN = 108;

    // ---- size constraints ------------------------------------------------------------------------------------

    /** Largest read or write payload mirra accepts: 32 MiB, the protocol's interoperable maximum. */
    public static final int MAX_PAYLOAD_LENGTH = 32 * 1024 * 1024;

    /**
     * Encode a message for an option error reply or a structured error chunk: UTF-8, cut to
     * {@link #MAX_STRING_LENGTH} bytes at a character boundary (the protocol forbids longer strings, and a cut
     * inside a character would not be valid UTF-8).
     *
     * @param message the message; null is sent as empty.
     * @return its UTF-8 bytes, at most {@link #MAX_STRING_LENGTH}.
     */
    public static byte[] messageBytes(final String message)
    {
        if (message == null)
        {
            return new byte[0];
        }
        final byte[] bytes = message.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (bytes.length <= MAX_STRING_LENGTH)
        {
            return bytes;
        }
        int end = MAX_STRING_LENGTH;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80)
        {
            end--; // bytes[end] continues a character that started before it: cut before that character
        }
        return java.util.Arrays.copyOf(bytes, end);
    }

    /**
     * @param type a command type.
     * @return its protocol name, for log lines.
     */
    public static String commandName(final int type)
    {
        switch (type)
        {
            case CMD_READ: return "NBD_CMD_READ";
            case CMD_WRITE: return "NBD_CMD_WRITE";
            case CMD_DISC: return "NBD_CMD_DISC";
            case CMD_FLUSH: return "NBD_CMD_FLUSH";
            case CMD_TRIM: return "NBD_CMD_TRIM";
            case CMD_CACHE: return "NBD_CMD_CACHE";
            case CMD_WRITE_ZEROES: return "NBD_CMD_WRITE_ZEROES";
            case CMD_BLOCK_STATUS: return "NBD_CMD_BLOCK_STATUS";
            default: return "NBD_CMD_UNKNOWN(" + type + ")";
        }
    }

    /**
     * @param option an option number.
     * @return its protocol name, for log lines.
     */
    public static String optionName(final int option)
    {
        switch (option)
        {
            case OPT_EXPORT_NAME: return "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT: return "NBD_OPT_ABORT";
            case OPT_LIST: return "NBD_OPT_LIST";
            case OPT_STARTTLS: return "NBD_OPT_STARTTLS";
            case OPT_INFO: return "NBD_OPT_INFO";
            case OPT_GO: return "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY: return "NBD_OPT_STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT: return "NBD_OPT_LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT: return "NBD_OPT_SET_META_CONTEXT";
            case OPT_EXTENDED_HEADERS: return "NBD_OPT_EXTENDED_HEADERS";
            default: return "NBD_OPT_UNKNOWN(" + option + ")";
        }
    }
}
