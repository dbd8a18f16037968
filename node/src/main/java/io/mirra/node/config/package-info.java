/**
 * Resource configuration: the YAML resource files of a config directory (SPEC §4, docs/configuration.md), parsed
 * and strictly validated by {@link io.mirra.node.config.ConfigLoader} into immutable records
 * ({@link io.mirra.node.config.ResourceConfig} and its parts). Every type here is immutable and thread-safe;
 * {@link io.mirra.node.config.ConfigLoader} keeps no state between calls.
 */
package io.mirra.node.config;
