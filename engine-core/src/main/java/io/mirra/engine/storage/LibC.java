package io.mirra.engine.storage;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.types.off_t;
import jnr.ffi.types.ssize_t;

/**
 * The one narrow binding to the C library, through jnr-ffi. Nothing else in mirra touches jnr-ffi.
 * <p>
 * It covers only what {@link java.nio.channels.FileChannel} cannot do: {@code fallocate} (punch hole, zero range),
 * {@code lseek} with {@code SEEK_DATA}/{@code SEEK_HOLE}, and the block-device ioctls (size, logical block size,
 * discard, zero-out). Reads, writes and flushes stay on {@code FileChannel}.
 * <p>
 * The library is loaded lazily, on the first call to {@link #isAvailable()}. When it cannot be loaded (no native
 * support for this platform, or {@code -Dmirra.storage.native=false}) the reason is logged once and
 * {@link #isAvailable()} returns false; callers must then not call the other methods, and work with
 * {@code FileChannel} alone.
 * <p>
 * The calls follow C conventions: a negative result means failure, and {@link #errno()} (read on the same thread,
 * right after the call) says why. No method throws or allocates per call, except {@link #open(String, int)} and
 * {@link #strerror(int)}, which are for the control path.
 * <p>
 * Threading: every method is thread-safe and may block in the kernel, so call them only from disk I/O threads or the
 * control path, never from a Netty event loop.
 * <p>
 * The constants are the Linux values for x86_64 and aarch64 (checked with jnr-ffi 2.3.4 on this project's machines;
 * see DEPENDENCIES.md section 3).
 */
public final class LibC
{
    /** System property that turns the native binding off ({@code false}), leaving FileChannel only. */
    public static final String NATIVE_PROP_NAME = "mirra.storage.native";
    /** Default of {@link #NATIVE_PROP_NAME}: use the native binding when it loads. */
    public static final boolean NATIVE_DEFAULT = true;

    /** {@code open} flag: read only. */
    public static final int O_RDONLY = 0;
    /** {@code open} flag: read and write. */
    public static final int O_RDWR = 2;
    /** {@code open} flag: on a block device without O_CREAT, claim the device exclusively (EBUSY if mounted). */
    public static final int O_EXCL = 0200;
    /** {@code open} flag: close on exec, so that child processes never inherit the descriptor. */
    public static final int O_CLOEXEC = 02000000;

    /** {@code fallocate} mode: do not change the file size. */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    /** {@code fallocate} mode: deallocate the range (needs KEEP_SIZE); it then reads as zeros. */
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    /** {@code fallocate} mode: make the range read as zeros, keeping it allocated. */
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    /** {@code lseek} whence: the next offset at or after the given one that holds data. */
    public static final int SEEK_DATA = 3;
    /** {@code lseek} whence: the next offset at or after the given one that is in a hole (EOF counts as a hole). */
    public static final int SEEK_HOLE = 4;

    /** ioctl: size of a block device in bytes ({@code u64} out). */
    public static final long BLKGETSIZE64 = 0x80081272L;
    /** ioctl: logical block (sector) size of a block device ({@code int} out). */
    public static final long BLKSSZGET = 0x1268L;
    /** ioctl: discard a range, {@code u64[2] = {offset, length}} in, both aligned to the logical block size. */
    public static final long BLKDISCARD = 0x1277L;
    /** ioctl: zero a range, {@code u64[2] = {offset, length}} in, both aligned to the logical block size. */
    public static final long BLKZEROOUT = 0x127FL;

    /** errno: interrupted system call. */
    public static final int EINTR = 4;
    /** errno: no such device or address (SEEK_DATA/SEEK_HOLE at or past the end of the file). */
    public static final int ENXIO = 6;
    /** errno: bad file descriptor. */
    public static final int EBADF = 9;
    /** errno: device or resource busy (exclusive open of a mounted or claimed device). */
    public static final int EBUSY = 16;
    /** errno: inappropriate ioctl for device. */
    public static final int ENOTTY = 25;
    /** errno: no space left on device. */
    public static final int ENOSPC = 28;
    /** errno: read-only file system. */
    public static final int EROFS = 30;
    /** errno: operation not supported (the file system or device lacks this fallocate mode or ioctl). */
    public static final int EOPNOTSUPP = 95;
    /** errno: disk quota exceeded. */
    public static final int EDQUOT = 122;

    /**
     * The jnr-ffi view of libc. Public only because jnr-ffi generates its implementation in another class loader;
     * use the static methods of {@link LibC} instead.
     */
    public interface Native
    {
        /**
         * {@code int open(const char *path, int flags, ...)}.
         *
         * @param path  the path.
         * @param flags the O_* flags.
         * @param mode  the permission bits for O_CREAT (unused here).
         * @return the descriptor, or -1.
         */
        @Variadic(fixedCount = 2)
        int open(@In String path, int flags, int mode);

        /**
         * {@code int close(int fd)}.
         *
         * @param fd the descriptor.
         * @return 0 or -1.
         */
        int close(int fd);

        /**
         * {@code int fallocate(int fd, int mode, off_t offset, off_t len)}.
         *
         * @param fd         the descriptor.
         * @param mode       FALLOC_FL_* flags.
         * @param byteOffset start of the range.
         * @param length     length of the range.
         * @return 0 or -1.
         */
        int fallocate(int fd, int mode, @off_t long byteOffset, @off_t long length);

        /**
         * {@code off_t lseek(int fd, off_t offset, int whence)}.
         *
         * @param fd         the descriptor.
         * @param byteOffset the offset.
         * @param whence     SEEK_*.
         * @return the resulting offset, or -1.
         */
        @off_t
        long lseek(int fd, @off_t long byteOffset, int whence);

        /**
         * {@code int ioctl(int fd, unsigned long request, void *arg)}.
         *
         * @param fd      the descriptor.
         * @param request the request code.
         * @param arg     the argument buffer.
         * @return 0 (or a request-specific value) or -1.
         */
        @Variadic(fixedCount = 2)
        int ioctl(int fd, long request, Pointer arg);

        /**
         * {@code ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)}.
         *
         * @param fd         the descriptor.
         * @param iov        the iovec array (pairs of address and length, 8 bytes each).
         * @param iovcnt     number of iovecs.
         * @param byteOffset where the data goes.
         * @return bytes written, or -1.
         */
        @ssize_t
        long pwritev(int fd, Pointer iov, int iovcnt, @off_t long byteOffset);

        /**
         * {@code char *strerror(int errnum)}.
         *
         * @param errnum the errno.
         * @return the description.
         */
        String strerror(int errnum);
    }

    private static final System.Logger LOGGER = System.getLogger(LibC.class.getName());

    private LibC()
    {
    }

    /**
     * Lazy holder: the class initialiser runs (and loads libc) only on first use, exactly once.
     */
    private static final class Loaded
    {
        static final Native NATIVE;
        static final Runtime RUNTIME;
        static final String FAILURE;

        // A 16-byte native argument per thread for the ioctls, so that no call allocates after the first one.
        static final ThreadLocal<Pointer> IOCTL_ARG;

        static
        {
            Native nativeLib = null;
            Runtime runtime = null;
            String failure = null;
            final String property = System.getProperty(NATIVE_PROP_NAME, Boolean.toString(NATIVE_DEFAULT));
            if (!Boolean.parseBoolean(property))
            {
                failure = "disabled by -D" + NATIVE_PROP_NAME + "=" + property;
            }
            else
            {
                try
                {
                    nativeLib = LibraryLoader.create(Native.class).load("c");
                    runtime = Runtime.getRuntime(nativeLib);
                    nativeLib.strerror(EBADF); // resolve a symbol now, so that a broken binding fails here
                }
                catch (final LinkageError | RuntimeException ex) // UnsatisfiedLinkError, or jnr's own failures
                {
                    nativeLib = null;
                    runtime = null;
                    failure = ex.toString();
                }
            }

            NATIVE = nativeLib;
            RUNTIME = runtime;
            FAILURE = failure;
            final Runtime threadRuntime = runtime;
            IOCTL_ARG = null == runtime ?
                null : ThreadLocal.withInitial(() -> Memory.allocateDirect(threadRuntime, 16));

            if (null != failure)
            {
                LOGGER.log(
                    System.Logger.Level.WARNING,
                    "native I/O unavailable (" + failure + "): stores use FileChannel only; trim is disabled, " +
                    "extents report all data, and zeroing writes zeros");
            }
        }
    }

    /**
     * Load libc on the first call.
     *
     * @return true when the native calls can be used; false when they must not be called.
     */
    public static boolean isAvailable()
    {
        return null != Loaded.NATIVE;
    }

    /**
     * @return why the binding is unavailable, or null when it is available.
     */
    public static String unavailableReason()
    {
        return Loaded.FAILURE;
    }

    /**
     * @return the errno of the last failed call on this thread.
     */
    public static int errno()
    {
        return Loaded.RUNTIME.getLastError();
    }

    /**
     * @param errno an errno value.
     * @return its description, e.g. "Operation not supported".
     */
    public static String strerror(final int errno)
    {
        return Loaded.NATIVE.strerror(errno);
    }

    /**
     * Open a file or device.
     *
     * @param path  the path.
     * @param flags O_* flags; O_CREAT is not supported (no mode is given).
     * @return the descriptor, or -1 with {@link #errno()} set.
     */
    public static int open(final String path, final int flags)
    {
        return Loaded.NATIVE.open(path, flags, 0);
    }

    /**
     * @param fd a descriptor from {@link #open(String, int)}.
     * @return 0, or -1 with {@link #errno()} set.
     */
    public static int close(final int fd)
    {
        return Loaded.NATIVE.close(fd);
    }

    /**
     * @param fd         the descriptor, opened for writing.
     * @param mode       FALLOC_FL_* flags.
     * @param byteOffset start of the range.
     * @param length     length of the range.
     * @return 0, or -1 with {@link #errno()} set.
     */
    public static int fallocate(final int fd, final int mode, final long byteOffset, final long length)
    {
        return Loaded.NATIVE.fallocate(fd, mode, byteOffset, length);
    }

    /**
     * Gathering positional write: one system call for many buffers.
     *
     * @param fd         the descriptor, open for writing.
     * @param iovAddress address of {@code count} native {@code struct iovec}s (address, length; 16 bytes each).
     * @param count      number of iovecs, at most 1024 (IOV_MAX).
     * @param byteOffset where the data goes.
     * @return bytes written, or -1 with {@link #errno()} set.
     */
    public static long pwritev(final int fd, final long iovAddress, final int count, final long byteOffset)
    {
        return Loaded.NATIVE.pwritev(fd, Pointer.wrap(Loaded.RUNTIME, iovAddress), count, byteOffset);
    }

    /**
     * @param fd         the descriptor.
     * @param byteOffset the offset.
     * @param whence     {@link #SEEK_DATA} or {@link #SEEK_HOLE}.
     * @return the offset found, or -1 with {@link #errno()} set ({@link #ENXIO} when there is no more data).
     */
    public static long lseek(final int fd, final long byteOffset, final int whence)
    {
        return Loaded.NATIVE.lseek(fd, byteOffset, whence);
    }

    /**
     * An ioctl that takes {@code u64[2] = {offset, length}}, such as {@link #BLKDISCARD} and {@link #BLKZEROOUT}.
     *
     * @param fd         the descriptor of a block device, opened for writing.
     * @param request    the request code.
     * @param byteOffset first argument.
     * @param length     second argument.
     * @return 0, or -1 with {@link #errno()} set.
     */
    public static int ioctlRange(final int fd, final long request, final long byteOffset, final long length)
    {
        final Pointer arg = Loaded.IOCTL_ARG.get();
        arg.putLong(0, byteOffset);
        arg.putLong(8, length);
        return Loaded.NATIVE.ioctl(fd, request, arg);
    }

    /**
     * An ioctl that writes a {@code u64}, such as {@link #BLKGETSIZE64}.
     *
     * @param fd      the descriptor.
     * @param request the request code.
     * @return the value written by the kernel, or -1 with {@link #errno()} set (values above
     * {@link Long#MAX_VALUE} cannot occur for sizes).
     */
    public static long ioctlReadLong(final int fd, final long request)
    {
        final Pointer arg = Loaded.IOCTL_ARG.get();
        arg.putLong(0, 0);
        return Loaded.NATIVE.ioctl(fd, request, arg) < 0 ? -1 : arg.getLong(0);
    }

    /**
     * An ioctl that writes an {@code int}, such as {@link #BLKSSZGET}.
     *
     * @param fd      the descriptor.
     * @param request the request code.
     * @return the value written by the kernel, or -1 with {@link #errno()} set.
     */
    public static int ioctlReadInt(final int fd, final long request)
    {
        final Pointer arg = Loaded.IOCTL_ARG.get();
        arg.putLong(0, 0);
        return Loaded.NATIVE.ioctl(fd, request, arg) < 0 ? -1 : arg.getInt(0);
    }
}
