package io.mirra.nbd.server;

import io.mirra.nbd.spi.NbdBackend;
import io.mirra.nbd.spi.NbdExport;

/**
 * What the handshake agreed for one connection.
 *
 * @param export            the selected export.
 * @param backend           the backend serving this connection: what {@link NbdBackend#open(String)} returned for
 *                          the export's backend; closed when the connection ends.
 * @param structuredReplies true if replies use structured chunks.
 * @param allocationContext true if base:allocation was selected for NBD_CMD_BLOCK_STATUS.
 */
record NbdSession(NbdExport export, NbdBackend backend, boolean structuredReplies, boolean allocationContext)
{
}
