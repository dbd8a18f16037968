package io.mirra.node.config;

/**
 * One volume of a resource.
 *
 * @param number    volume number, 0..n-1 within its resource.
 * @param sizeBytes size in bytes, positive and a multiple of {@link ConfigLoader#SIZE_ALIGNMENT}.
 */
public record VolumeConfig(int number, long sizeBytes)
{
}
