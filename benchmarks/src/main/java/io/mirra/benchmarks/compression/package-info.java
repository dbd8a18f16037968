/**
 * Benchmarks for candidate techniques that have no production class in mirra yet. When a production class appears,
 * its benchmark moves to that class's package.
 */
package io.mirra.benchmarks.compression;
