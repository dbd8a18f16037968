/**
 * The admin endpoint of a running node and the commands that use it ({@code mirra status}, {@code primary},
 * {@code secondary}, {@code up}, {@code down}, {@code connect}, {@code disconnect}, {@code events}; SPEC §3).
 * <p>
 * {@link io.mirra.node.admin.AdminServer} serves HTTP/1.1 on the node's {@code admin} address and calls the
 * node's {@link io.mirra.node.admin.AdminOps}; {@link io.mirra.node.admin.AdminClient} is the command-line side;
 * {@link io.mirra.node.admin.StatusFormat} renders status in the layouts of {@code drbdadm status} and
 * {@code drbdsetup status --json}. docs/admin.md describes the endpoint, the commands and the states for operators.
 */
package io.mirra.node.admin;
