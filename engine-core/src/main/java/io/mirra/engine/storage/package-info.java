/**
 * The storage behind every volume: the {@link io.mirra.engine.storage.BlockStore} interface, its file and block
 * device implementation {@link io.mirra.engine.storage.FileBlockStore}, the narrow native binding
 * {@link io.mirra.engine.storage.LibC}, and {@link io.mirra.engine.storage.DiskIoWorkers}, the only threads that
 * run blocking disk I/O.
 */
package io.mirra.engine.storage;
