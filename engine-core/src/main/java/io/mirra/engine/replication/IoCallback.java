package io.mirra.engine.replication;

/**
 * Completion of a volume request. One instance serves every request of a caller; the per-request state travels in
 * {@code context}, so a request costs no callback object.
 *
 * @param <T> the caller's request type.
 */
@FunctionalInterface
public interface IoCallback<T>
{
    /**
     * Called exactly once per request, on an engine thread (a disk thread or a transport event loop); must not
     * block.
     *
     * @param context the context given with the request.
     * @param errno   0, or a POSIX errno ({@link io.mirra.engine.storage.StorageException} constants).
     * @param message why it failed, or null.
     */
    void onComplete(T context, int errno, String message);
}
