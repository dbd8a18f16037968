package io.mirra.node.admin;

import io.mirra.node.Args;
import io.mirra.node.UsageException;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;

/**
 * The command-line side of the admin endpoint: {@code mirra status}, {@code primary}, {@code secondary},
 * {@code up}, {@code down}, {@code connect}, {@code disconnect} and {@code events} against a running node's
 * {@link AdminServer}. The CLI finds the node's admin address (from {@code --config DIR --name NODE} or
 * {@code --admin HOST:PORT}) and calls {@link #run(String, List, String, InetSocketAddress, PrintStream, PrintStream)}
 * with the command and the arguments after it.
 * <p>
 * Exit codes: {@link #EXIT_OK}; {@link #EXIT_REFUSED} when the node refused ({@code mirra COMMAND: <why>} on
 * stderr); {@link #EXIT_USAGE} for a usage mistake (one line {@code mirra COMMAND: ...}); {@link #EXIT_UNREACHABLE}
 * when the node cannot be reached; {@link #EXIT_INTERRUPTED} when {@code events} was interrupted.
 */
public final class AdminClient
{
    /** Success. */
    public static final int EXIT_OK = 0;
    /** The node refused the command, or failed it; the reason is printed. */
    public static final int EXIT_REFUSED = 1;
    /** A usage mistake: unknown option, missing or extra argument. */
    public static final int EXIT_USAGE = 2;
    /** The node's admin endpoint could not be reached (not running, wrong address). */
    public static final int EXIT_UNREACHABLE = 3;
    /** The calling thread was interrupted (e.g. Ctrl-C during {@code events}). */
    public static final int EXIT_INTERRUPTED = 130;

    /** How the admin commands are given the node; shown in each usage line. */
    private static final String TARGET = "[--config DIR --name NODE | --admin HOST:PORT]";
    private static final String TARGET_HELP = String.join("\n",
        "",
        "The command goes to the admin endpoint of a running node: the 'admin' address of NODE in the resource",
        "files of DIR, or HOST:PORT.");

    /** Usage of {@code mirra status}. */
    public static final String STATUS_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " status [RES] [--json]",
        "",
        "Show the state of RES (default: every resource of the node) in the layout of 'drbdadm status': the",
        "node's role, the disk state of each volume, the connection to each peer, its role and disk states, and",
        "the replication state, resync progress (done:PERCENT) and out-of-sync amount (KiB) when not in sync.",
        "",
        "  --json   print JSON with the field names of 'drbdsetup status --json' (sizes in KiB)",
        TARGET_HELP);

    /** Usage of {@code mirra primary}. */
    public static final String PRIMARY_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " primary RES [--force]",
        "",
        "Make this node Primary for RES: its NBD exports accept writes. Refused while another node is Primary,",
        "without quorum, or without UpToDate data reachable.",
        "",
        "  --force  take this node's data as the newest even if it is Inconsistent or Outdated (the source of the",
        "           initial full sync of a new resource). Peers overwrite their copies from this node.",
        TARGET_HELP);

    /** Usage of {@code mirra secondary}. */
    public static final String SECONDARY_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " secondary RES",
        "",
        "Make this node Secondary for RES: its exports refuse writes. Refused while NBD clients write through it.",
        TARGET_HELP);

    /** Usage of {@code mirra up}. */
    public static final String UP_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " up RES",
        "",
        "Bring RES up on this node: open its disks, serve its NBD exports, connect to its peers.",
        "Up on a resource that is up does nothing.",
        TARGET_HELP);

    /** Usage of {@code mirra down}. */
    public static final String DOWN_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " down RES",
        "",
        "Take RES down on this node: disconnect from its peers, stop its exports, close its disks.",
        "Refused while this node is Primary (run 'mirra secondary RES' first).",
        TARGET_HELP);

    /** Usage of {@code mirra connect}. */
    public static final String CONNECT_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " connect RES [PEER] [--discard-my-data]",
        "",
        "Start connecting to PEER (default: every peer of RES) after a disconnect or a StandAlone state.",
        "",
        "  --discard-my-data  resolve a split brain with PEER by dropping this node's changes since the split:",
        "                     its copy becomes a copy of PEER's (only the blocks either side changed are copied).",
        "                     Refused while this node is Primary.",
        TARGET_HELP);

    /** Usage of {@code mirra disconnect}. */
    public static final String DISCONNECT_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " disconnect RES [PEER]",
        "",
        "Disconnect from PEER (default: every peer of RES) and stay disconnected (StandAlone) until",
        "'mirra connect'. Writes on a Primary go on; the blocks they change are marked out of sync for the peer.",
        TARGET_HELP);

    /** Usage of {@code mirra verify}. */
    public static final String VERIFY_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " verify RES [VOL]",
        "",
        "Start an online verify of volume VOL of RES (default: every volume) against every connected peer with a",
        "copy: a digest of every",
        "4 KiB block is compared, no data is copied. Runs in the background while applications keep working; blocks",
        "that differ show as out-of-sync in 'mirra status', the result goes to the node's log. Run it on the",
        "Primary; there, 'disconnect' and 'connect' afterwards resync the blocks found.",
        TARGET_HELP);

    /** Usage of {@code mirra adjust}. */
    public static final String ADJUST_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " adjust [RES]",
        "",
        "Read the configuration again and apply what changed to RES (default: every resource of the node) while it",
        "runs: bitmap-block-size (the bits are converted, none dropped). Other changes to a running resource are",
        "refused, naming what needs 'down' and 'up'; a resource that is down takes them at its next 'up'.",
        TARGET_HELP);

    /** Usage of {@code mirra attach}. */
    public static final String ATTACH_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " attach RES [VOL]",
        "",
        "Attach again the local disk of volume VOL of RES (default: every detached volume), after a disk failure was",
        "repaired or a 'detach': the copy is Inconsistent and takes a full resync from an UpToDate peer. Refused on",
        "the Primary (make it Secondary first).",
        TARGET_HELP);

    /** Usage of {@code mirra detach}. */
    public static final String DETACH_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " detach RES [VOL]",
        "",
        "Stop using the local disk of volume VOL of RES (default: every volume): the node serves the volume through",
        "its peers, as a diskless node (disk:Diskless). A disk that fails with an I/O error is detached this way by",
        "itself.",
        TARGET_HELP);

    /** Usage of {@code mirra pause-sync}. */
    public static final String PAUSE_SYNC_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " pause-sync RES [PEER]",
        "",
        "Pause the resync from this node (the SyncSource) to PEER (default: every peer): ranges in flight finish,",
        "no new one starts, writes go on marking blocks out of sync. Until 'mirra resume-sync'; a resync that starts",
        "meanwhile starts paused (replication:PausedSyncS).",
        TARGET_HELP);

    /** Usage of {@code mirra resume-sync}. */
    public static final String RESUME_SYNC_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " resume-sync RES [PEER]",
        "",
        "Resume resyncs paused by 'mirra pause-sync'.",
        TARGET_HELP);

    /** Usage of {@code mirra new-current-uuid}. */
    public static final String NEW_CURRENT_UUID_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " new-current-uuid RES --clear-bitmap",
        "",
        "Declare every copy of RES identical without an initial sync, for new disks known to hold the same data",
        "(all zeros, or cloned from one image): the copies get one new generation and are UpToDate. Every peer must",
        "be connected, no node Primary, and every copy Inconsistent (new). If the disks differ, they stay different",
        "without anyone noticing until a 'verify': use it only when you know.",
        TARGET_HELP);

    /** Usage of {@code mirra invalidate}. */
    public static final String INVALIDATE_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " invalidate RES [VOL]",
        "",
        "Declare this node's copy of volume VOL of RES (default: every volume) unknown (Inconsistent) and take a full resync from an UpToDate peer",
        "(the Primary if one is connected). For a copy known or suspected to be damaged. Refused on the Primary,",
        "on a diskless node, and when no connected peer has an UpToDate copy.",
        TARGET_HELP);

    /** Usage of {@code mirra events}. */
    public static final String EVENTS_USAGE = String.join("\n",
        "usage: mirra " + TARGET + " events [--json]",
        "",
        "Print state changes as they happen, one line each, like 'drbdsetup events2': first an 'exists' line per",
        "resource, device, connection and peer device, then 'exists -' at the end of that dump, then a",
        "'create', 'change' or 'destroy' line per change. Runs until interrupted (Ctrl-C) or the node stops.",
        "",
        "  --json   one JSON object per line: {\"action\":...,\"object\":...,FIELD:VALUE...}",
        TARGET_HELP);

    /** Usage per command, in the order of the top-level help. */
    public static final Map<String, String> USAGES;

    /** One line per command for the top-level {@code mirra --help} (indented by two spaces, aligned). */
    public static final String COMMANDS_SUMMARY = String.join("\n",
        "  status [RES] [--json]     roles, disk, connection and replication states (like drbdadm status)",
        "  primary RES [--force]     make the node Primary for RES",
        "  secondary RES             make the node Secondary for RES",
        "  up RES                    bring RES up on the node",
        "  down RES                  take RES down on the node",
        "  connect RES [PEER] [--discard-my-data]  connect to PEER (default: all peers)",
        "  disconnect RES [PEER]     disconnect from PEER (default: all peers) and stay StandAlone",
        "  verify RES [VOL]          compare every block with the peers' copies (online verify)",
        "  invalidate RES [VOL]      discard this node's copy and resync it fully from a peer",
        "  new-current-uuid RES --clear-bitmap  declare new identical disks in sync (no initial sync)",
        "  adjust [RES]              apply a changed configuration (bitmap-block-size) to the running node",
        "  attach RES [VOL]          attach the local disk again (a full resync follows)",
        "  detach RES [VOL]          stop using the local disk; I/O goes to the peers",
        "  pause-sync RES [PEER]     pause the resync from this node to PEER (default: all peers)",
        "  resume-sync RES [PEER]    resume it",
        "  events [--json]           stream state changes, one line each (like drbdsetup events2)");

    static
    {
        final Map<String, String> usages = new LinkedHashMap<>();
        usages.put("status", STATUS_USAGE);
        usages.put("primary", PRIMARY_USAGE);
        usages.put("secondary", SECONDARY_USAGE);
        usages.put("up", UP_USAGE);
        usages.put("down", DOWN_USAGE);
        usages.put("connect", CONNECT_USAGE);
        usages.put("disconnect", DISCONNECT_USAGE);
        usages.put("verify", VERIFY_USAGE);
        usages.put("invalidate", INVALIDATE_USAGE);
        usages.put("new-current-uuid", NEW_CURRENT_UUID_USAGE);
        usages.put("adjust", ADJUST_USAGE);
        usages.put("attach", ATTACH_USAGE);
        usages.put("detach", DETACH_USAGE);
        usages.put("pause-sync", PAUSE_SYNC_USAGE);
        usages.put("resume-sync", RESUME_SYNC_USAGE);
        usages.put("events", EVENTS_USAGE);
        USAGES = Collections.unmodifiableMap(usages);
    }

    /** Connecting to a loopback endpoint is immediate when the node runs; waiting longer helps nobody. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** The longest wait for a non-streaming answer; operations end by their own deadlines well before. */
    static final Duration REQUEST_TIMEOUT = Duration.ofMinutes(2);

    /** A parsed command: what to send. */
    private record Call(String method, String path, Map<String, String> query, boolean stream)
    {
    }

    /** The request got no answer: exit 3 when the endpoint cannot be reached, 1 when it did not answer in time. */
    private static final class TransportFailure extends Exception
    {
        private static final long serialVersionUID = 1L;
        private final int exitCode;

        TransportFailure(final String message, final int exitCode)
        {
            super(message);
            this.exitCode = exitCode;
        }
    }

    private AdminClient()
    {
    }

    /**
     * @param command one of {@link #USAGES}' keys.
     * @return true if {@link #run} handles it.
     */
    public static boolean handles(final String command)
    {
        return USAGES.containsKey(command);
    }

    /**
     * Run an admin command against a node's admin endpoint.
     *
     * @param command the command ({@code status}, {@code primary}, ...).
     * @param args    the arguments after the command.
     * @param admin   the node's admin address.
     * @param out     standard output (status, events).
     * @param err     standard error (one line per problem).
     * @return the exit code.
     */
    public static int run(final String command, final List<String> args, final InetSocketAddress admin,
        final PrintStream out, final PrintStream err)
    {
        return run(command, args, null, admin, out, err);
    }

    /**
     * Run an admin command against a node's admin endpoint, naming the node in messages.
     *
     * @param command  the command ({@code status}, {@code primary}, ...).
     * @param args     the arguments after the command.
     * @param nodeName the node's name for messages ("the admin endpoint of NODE at ..."), or null when the address
     *                 was given directly.
     * @param admin    the node's admin address.
     * @param out      standard output (status, events).
     * @param err      standard error (one line per problem).
     * @return the exit code: {@link #EXIT_OK}, {@link #EXIT_REFUSED}, {@link #EXIT_USAGE},
     *         {@link #EXIT_UNREACHABLE} or {@link #EXIT_INTERRUPTED}.
     */
    public static int run(final String command, final List<String> args, final String nodeName,
        final InetSocketAddress admin, final PrintStream out, final PrintStream err)
    {
        final String usage = USAGES.get(command);
        if (usage == null)
        {
            err.println("mirra: unknown command '" + command + "' (see mirra --help)");
            return EXIT_USAGE;
        }
        final String prefix = "mirra " + command;
        final Call call;
        try
        {
            final Args parsed = Args.parse(prefix, args.toArray(new String[0]), Set.of(),
                Set.of("help", "json", "force", "discard-my-data", "clear-bitmap"));
            if (parsed.flag("help"))
            {
                out.println(usage);
                return EXIT_OK;
            }
            call = parse(command, parsed);
        }
        catch (final UsageException ex)
        {
            err.println(ex.getMessage());
            return EXIT_USAGE;
        }

        final String where = "the admin endpoint " + (nodeName == null ? "" : "of " + nodeName + " ") + "at " +
            hostPort(admin);
        final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(CONNECT_TIMEOUT)
            .build();
        try
        {
            return call.stream() ? stream(client, call, admin, where, prefix, out, err) :
                request(client, call, admin, where, prefix, out, err);
        }
        catch (final TransportFailure ex)
        {
            err.println(ex.getMessage());
            return ex.exitCode;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return EXIT_INTERRUPTED;
        }
    }

    /** Check the arguments of a command and turn them into a request. */
    private static Call parse(final String command, final Args parsed) throws UsageException
    {
        final String prefix = "mirra " + command;
        final List<String> positional = parsed.positional();
        final Map<String, String> query = new LinkedHashMap<>();
        final boolean takesJson = command.equals("status") || command.equals("events");
        if (parsed.flag("json") && !takesJson)
        {
            throw new UsageException(prefix + ": unknown option --json (see " + prefix + " --help)");
        }
        if (parsed.flag("force") && !command.equals("primary"))
        {
            throw new UsageException(prefix + ": unknown option --force (see " + prefix + " --help)");
        }
        if (parsed.flag("discard-my-data") && !command.equals("connect"))
        {
            throw new UsageException(prefix + ": unknown option --discard-my-data (see " + prefix + " --help)");
        }
        if (parsed.flag("clear-bitmap") && !command.equals("new-current-uuid"))
        {
            throw new UsageException(prefix + ": unknown option --clear-bitmap (see " + prefix + " --help)");
        }
        final int maxPositional;
        switch (command)
        {
            case "status":
                maxPositional = 1;
                break;
            case "events":
                maxPositional = 0;
                break;
            case "connect":
            case "disconnect":
            case "verify":
            case "invalidate":
            case "attach":
            case "detach":
            case "pause-sync":
            case "resume-sync":
                maxPositional = 2;
                break;
            default:
                maxPositional = 1;
        }
        final boolean needsResource = !takesJson && !command.equals("adjust");
        if (needsResource && positional.isEmpty())
        {
            throw new UsageException(prefix + ": RES is required (see " + prefix + " --help)");
        }
        if (positional.size() > maxPositional)
        {
            throw new UsageException(prefix + ": unexpected argument '" + positional.get(maxPositional) + "'");
        }
        for (final String arg : positional)
        {
            if (arg.startsWith("-"))
            {
                throw new UsageException(prefix + ": unknown option " + arg + " (see " + prefix + " --help)");
            }
            if (arg.isEmpty())
            {
                throw new UsageException(prefix + ": an empty resource or node name");
            }
        }
        if (!positional.isEmpty())
        {
            query.put("resource", positional.get(0));
        }
        if (positional.size() > 1)
        {
            final boolean byVolume = command.equals("verify") || command.equals("invalidate") ||
                command.equals("attach") || command.equals("detach");
            if (byVolume && !positional.get(1).matches("[0-9]{1,3}"))
            {
                throw new UsageException(prefix + ": VOL must be a volume number, got '" + positional.get(1) + "'");
            }
            query.put(byVolume ? "volume" : "peer", positional.get(1));
        }
        if (parsed.flag("json"))
        {
            query.put("json", "1");
        }
        if (parsed.flag("force"))
        {
            query.put("force", "1");
        }
        if (parsed.flag("discard-my-data"))
        {
            query.put("discard-my-data", "1");
        }
        if (parsed.flag("clear-bitmap"))
        {
            query.put("clear-bitmap", "1");
        }
        // status and events only read: GET; the others change the node: POST
        return new Call(takesJson ? "GET" : "POST", "/v1/" + command, query, command.equals("events"));
    }

    private static int request(final HttpClient client, final Call call, final InetSocketAddress admin,
        final String where, final String prefix, final PrintStream out, final PrintStream err)
        throws TransportFailure, InterruptedException
    {
        final HttpRequest request = HttpRequest.newBuilder(uri(admin, call))
            .timeout(REQUEST_TIMEOUT)
            .method(call.method(), HttpRequest.BodyPublishers.noBody())
            .build();
        final HttpResponse<String> response;
        try
        {
            response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        }
        catch (final HttpConnectTimeoutException ex)
        {
            throw unreachable(where, "connection timed out");
        }
        catch (final HttpTimeoutException ex)
        {
            throw new TransportFailure(prefix + ": no answer from " + where + " within " +
                REQUEST_TIMEOUT.toSeconds() + " s (the operation may still complete; see mirra status)",
                EXIT_REFUSED);
        }
        catch (final IOException ex)
        {
            throw unreachable(where, reason(ex));
        }
        if (response.statusCode() == 200)
        {
            out.print(response.body());
            out.flush();
            return EXIT_OK;
        }
        err.println(prefix + ": " + message(response.statusCode(), response.body()));
        return response.statusCode() == 400 ? EXIT_USAGE : EXIT_REFUSED;
    }

    private static int stream(final HttpClient client, final Call call, final InetSocketAddress admin,
        final String where, final String prefix, final PrintStream out, final PrintStream err)
        throws TransportFailure, InterruptedException
    {
        final HttpRequest request = HttpRequest.newBuilder(uri(admin, call)).GET().build();
        final LinePrinter printer = new LinePrinter(out);
        // lines are printed as they arrive, on the HttpClient's thread; this thread only waits, so that an
        // interrupt (Ctrl-C) ends the stream: a blocking read of the JDK 17 HttpClient's body ignores interrupts
        final HttpResponse.BodyHandler<String> handler = info -> info.statusCode() == 200 ?
            HttpResponse.BodySubscribers.fromLineSubscriber(printer, LinePrinter::lastMessage, StandardCharsets.UTF_8,
            null) : HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8);
        final CompletableFuture<HttpResponse<String>> future = client.sendAsync(request, handler);
        final HttpResponse<String> response;
        try
        {
            response = future.get();
        }
        catch (final InterruptedException ex)
        {
            printer.cancel();
            future.cancel(true); // aborts the exchange: the connection closes and the node ends the subscription
            throw ex;
        }
        catch (final ExecutionException ex)
        {
            final Throwable cause = ex.getCause() == null ? ex : ex.getCause();
            if (printer.started())
            {
                throw new TransportFailure("mirra: lost the connection to " + where + " (" + reason(cause) + ")",
                    EXIT_UNREACHABLE);
            }
            throw cause instanceof HttpConnectTimeoutException ? unreachable(where, "connection timed out") :
                unreachable(where, reason(cause));
        }
        if (response.statusCode() != 200)
        {
            err.println(prefix + ": " + message(response.statusCode(), response.body()));
            return response.statusCode() == 400 ? EXIT_USAGE : EXIT_REFUSED;
        }
        if (response.body() != null)
        {
            err.println(prefix + ": " + response.body());
            return EXIT_REFUSED;
        }
        return EXIT_OK;
    }

    /** Prints the lines of an events stream; remembers the server's last line if it sends one. */
    private static final class LinePrinter implements Flow.Subscriber<String>
    {
        private final PrintStream out;
        private volatile Flow.Subscription subscription;
        private volatile String lastMessage;

        LinePrinter(final PrintStream out)
        {
            this.out = out;
        }

        @Override
        public void onSubscribe(final Flow.Subscription subscription)
        {
            this.subscription = subscription;
            subscription.request(Long.MAX_VALUE); // printing keeps up: no need to pace the stream
        }

        @Override
        public void onNext(final String line)
        {
            if (line.isEmpty() || lastMessage != null)
            {
                return; // the server's keep-alive, or anything after its last line
            }
            final String last = lastLineMessage(line);
            if (last != null)
            {
                lastMessage = last;
                return;
            }
            out.println(line);
            out.flush(); // a pipe reader sees each change at once
        }

        @Override
        public void onError(final Throwable throwable)
        {
            // the response future fails with it
        }

        @Override
        public void onComplete()
        {
            // the response future completes
        }

        boolean started()
        {
            return subscription != null;
        }

        String lastMessage()
        {
            return lastMessage;
        }

        void cancel()
        {
            final Flow.Subscription s = subscription;
            if (s != null)
            {
                s.cancel();
            }
        }
    }

    /**
     * @param line a line of the events stream.
     * @return the message of the server's last line ({@code error: ...} or {@code {"error":"..."}}), else null.
     */
    static String lastLineMessage(final String line)
    {
        if (line.startsWith("error: "))
        {
            return line.substring("error: ".length());
        }
        final String jsonPrefix = "{\"error\":\"";
        if (line.startsWith(jsonPrefix) && line.endsWith("\"}"))
        {
            return unescape(line.substring(jsonPrefix.length(), line.length() - 2));
        }
        return null;
    }

    /** Undo {@link JsonWriter#quote} for the server's own messages. */
    private static String unescape(final String text)
    {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            if (c != '\\' || i + 1 >= text.length())
            {
                sb.append(c);
                continue;
            }
            final char e = text.charAt(++i);
            switch (e)
            {
                case 'n':
                    sb.append('\n');
                    break;
                case 'r':
                    sb.append('\r');
                    break;
                case 't':
                    sb.append('\t');
                    break;
                case 'b':
                    sb.append('\b');
                    break;
                case 'f':
                    sb.append('\f');
                    break;
                case 'u':
                    if (i + 4 < text.length())
                    {
                        sb.append((char)Integer.parseInt(text.substring(i + 1, i + 5), 16));
                        i += 4;
                    }
                    break;
                default:
                    sb.append(e);
            }
        }
        return sb.toString();
    }

    private static String message(final int status, final String body)
    {
        final String text = body == null ? "" : body.strip();
        if (text.isEmpty())
        {
            return "the admin endpoint answered HTTP " + status;
        }
        final int newline = text.indexOf('\n');
        return newline < 0 ? text : text.substring(0, newline).strip();
    }

    private static TransportFailure unreachable(final String where, final String reason)
    {
        return new TransportFailure("mirra: cannot reach " + where + " (" + reason + "); is the node running?",
            EXIT_UNREACHABLE);
    }

    /**
     * A short lower-case reason: the first message in the chain of causes. The JDK 17 HttpClient reports a refused
     * connection as a ConnectException without a message.
     */
    private static String reason(final Throwable ex)
    {
        boolean connect = false;
        for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause())
        {
            connect |= t instanceof ConnectException;
            final String text = t.getMessage();
            if (text != null && !text.isBlank() && !(t instanceof ExecutionException))
            {
                // Lower-case a leading word ("Connection refused"), not an acronym ("HTTP/1.1 ...").
                final boolean acronym = text.length() > 1 && Character.isUpperCase(text.charAt(1));
                return acronym ? text : text.substring(0, 1).toLowerCase(Locale.ROOT) + text.substring(1);
            }
        }
        return connect ? "connection refused" : ex.getClass().getSimpleName();
    }

    private static URI uri(final InetSocketAddress admin, final Call call)
    {
        final StringBuilder query = new StringBuilder();
        call.query().forEach((k, v) -> query.append(query.length() == 0 ? "?" : "&").append(k).append('=')
            .append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
        return URI.create("http://" + hostPort(admin) + call.path() + query);
    }

    private static String hostPort(final InetSocketAddress admin)
    {
        final String host = admin.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + admin.getPort();
    }
}
