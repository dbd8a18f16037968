package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdExport;

/**
 * What the handshake agreed for one connection.
 *
 * @param export            the selected export.
 * @param structuredReplies true if replies use structured chunks.
 * @param allocationContext true if base:allocation was selected for NBD_CMD_BLOCK_STATUS.
 */
record NbdSession(NbdExport export, boolean structuredReplies, boolean allocationContext)
{
}
