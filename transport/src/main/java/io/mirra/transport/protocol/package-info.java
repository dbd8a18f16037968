/**
 * The replication wire protocol: {@link io.mirra.transport.protocol.ReplicationProtocol} declares framing, message
 * types, streams, flags, features and refusal reasons; one flyweight per message body views it in an Agrona buffer.
 */
package io.mirra.transport.protocol;
