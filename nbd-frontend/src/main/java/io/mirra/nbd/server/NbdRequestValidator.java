package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdRequest;

import static io.mirra.nbd.protocol.NbdProtocol.*;

/**
 * Checks a request before it reaches the backend: known command, flags allowed for the command and negotiated
 * session, range inside the export, write access. Every refusal is an NBD error code plus a message; the connection
 * stays usable.
 */
final class NbdRequestValidator
{
    private NbdRequestValidator()
    {
    }

    /**
     * @param request the decoded request; on refusal {@link NbdRequest#fail(int, String)} is called on it.
     * @param session what the handshake agreed.
     * @return true if the request may be submitted.
     */
    static boolean validate(final NbdRequest request, final NbdSession session)
    {
        if (request.errno() != 0)
        {
            return false; // already refused by the decoder (oversized write)
        }
        final NbdBackend backend = session.backend();
        final int type = request.type();
        final int flags = request.flags();
        if ((flags & ~CMD_FLAGS_KNOWN) != 0)
        {
            return refuse(request, EINVAL, "unknown command flags 0x" + Integer.toHexString(flags & ~CMD_FLAGS_KNOWN));
        }
        final int allowed;
        switch (type)
        {
            case CMD_READ:
                allowed = CMD_FLAG_FUA | (session.structuredReplies() ? CMD_FLAG_DF : 0);
                break;
            case CMD_WRITE:
            case CMD_TRIM:
            case CMD_FLUSH:
                allowed = CMD_FLAG_FUA;
                break;
            case CMD_WRITE_ZEROES:
                allowed = CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO;
                break;
            case CMD_BLOCK_STATUS:
                allowed = CMD_FLAG_FUA | CMD_FLAG_REQ_ONE;
                break;
            default:
                return refuse(request, EINVAL, commandName(type) + " is not supported");
        }
        if ((flags & ~allowed) != 0)
        {
            return refuse(request, EINVAL, "flags 0x" + Integer.toHexString(flags & ~allowed) + " not valid for " +
                commandName(type));
        }
        if (type == CMD_FLUSH)
        {
            return request.offsetBytes() == 0 && request.lengthBytes() == 0 ||
                refuse(request, EINVAL, "NBD_CMD_FLUSH with non-zero offset or length");
        }
        final boolean writes = type == CMD_WRITE || type == CMD_TRIM || type == CMD_WRITE_ZEROES;
        if (writes && backend.isReadOnly())
        {
            return refuse(request, EPERM, "export is read-only");
        }
        if (type == CMD_BLOCK_STATUS && !session.allocationContext())
        {
            return refuse(request, EINVAL, "NBD_CMD_BLOCK_STATUS without a negotiated base:allocation context");
        }
        if (request.lengthBytes() == 0)
        {
            return refuse(request, EINVAL, commandName(type) + " of length 0");
        }
        if (type == CMD_READ && request.lengthBytes() > MAX_PAYLOAD_LENGTH)
        {
            return refuse(request, EOVERFLOW, "read of " + request.lengthBytes() + " bytes exceeds the maximum payload");
        }
        final long size = backend.sizeBytes();
        final long offset = request.offsetBytes();
        if (offset < 0 || offset > size || request.lengthBytes() > size - offset)
        {
            // The spec asks ENOSPC for writes and write-zeroes beyond the end, EINVAL for reads, trims, status.
            final boolean enospc = type == CMD_WRITE || type == CMD_WRITE_ZEROES;
            return refuse(request, enospc ? ENOSPC : EINVAL, "range offset " + Long.toUnsignedString(offset) +
                " length " + request.lengthBytes() + " is beyond the end of the export (" + size + " bytes)");
        }
        return true;
    }

    private static boolean refuse(final NbdRequest request, final int errno, final String message)
    {
        request.fail(errno, message);
        return false;
    }
}
