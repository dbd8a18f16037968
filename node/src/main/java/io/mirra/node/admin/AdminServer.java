package io.mirra.node.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.mirra.engine.replication.ResourceStatus;
import io.mirra.engine.replication.StateEvent;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The admin endpoint of a running node: HTTP/1.1 on the node's {@code admin} address (loopback), served by the JDK's
 * {@code com.sun.net.httpserver}. It parses requests, calls {@link AdminOps} and formats the answers; the
 * {@code mirra} admin commands ({@link AdminClient}) are its client, and {@code curl} works as well:
 * <pre>
 *   GET  /v1/status[?resource=R][&amp;json=1]       drbdadm status layout, or drbdsetup status --json
 *   POST /v1/primary?resource=R[&amp;force=1]
 *   POST /v1/secondary?resource=R                  (also /v1/up, /v1/down)
 *   POST /v1/connect?resource=R[&amp;peer=P][&amp;discard-my-data=1]
 *   POST /v1/disconnect?resource=R[&amp;peer=P]
 *   POST /v1/invalidate?resource=R[&amp;volume=V]
 *   POST /v1/verify?resource=R[&amp;volume=V]
 *   POST /v1/new-current-uuid?resource=R&amp;clear-bitmap=1
 *   POST /v1/pause-sync?resource=R[&amp;peer=P]            (also /v1/resume-sync)
 *   POST /v1/attach?resource=R[&amp;volume=V]               (also /v1/detach)
 *   POST /v1/adjust[?resource=R]
 *   POST /v1/test-disk-fault?resource=R&amp;volume=V&amp;errno=N  (tests: MIRRA_TEST_FAULTS=1 only)
 *   GET  /v1/events[?json=1]                       a chunked stream, one line per state change
 * </pre>
 * Answers: 200 (operations: empty body); 400 for a missing, unknown, repeated or malformed parameter; 404 for an
 * unknown path; 405 for a wrong method; 409 when the node refuses ({@link AdminException}); 500 for an unexpected
 * failure; 503 when {@code events} has too many subscribers or the endpoint is closing. Every error body is one line
 * of {@code text/plain; charset=utf-8}.
 * <p>
 * Threads: requests run on two daemon threads named {@code mirra-admin-N} (operations may block for their own
 * deadline, so a slow {@code primary} delays at most one other request). Each {@code events} stream holds one daemon
 * thread {@code mirra-admin-events-N} while it lasts, at most {@link #MAX_EVENT_SUBSCRIBERS} at a time. The JDK's
 * own dispatcher thread ({@code HTTP-Dispatcher}) is not a daemon: {@link #close()} the server on shutdown.
 * <p>
 * Events: each subscriber has its own bounded queue, so a slow client never blocks the engine; one that falls more
 * than {@link #EVENTS_BACKLOG_LIMIT} events behind gets a last line {@code error: ...} ({@code {"error":"..."}} in
 * JSON) and its stream ends. While no event comes, an empty line is sent every few seconds: it is how the server
 * notices a client that went away (a write fails) and ends the subscription; clients skip empty lines.
 */
public final class AdminServer implements AutoCloseable
{
    /** The most {@code events} streams served at once; one more gets 503. */
    public static final int MAX_EVENT_SUBSCRIBERS = 16;
    /** The most events that may wait for one subscriber; one more ends its stream. */
    public static final int EVENTS_BACKLOG_LIMIT = 10_000;
    /** Keep-alive period of an idle {@code events} stream. */
    static final long HEARTBEAT_MS_DEFAULT = 5_000;
    /** Request threads: enough that {@code status} is answered while one operation blocks. */
    private static final int REQUEST_THREADS = 2;
    private static final String TEXT = "text/plain; charset=utf-8";
    private static final String JSON = "application/json";
    private static final Logger LOG = Logger.getLogger(AdminServer.class.getName());

    /** The endpoints: path, method and the query parameters each accepts. */
    private enum Endpoint
    {
        STATUS("/v1/status", "GET", "resource", "json"),
        PRIMARY("/v1/primary", "POST", "resource", "force"),
        SECONDARY("/v1/secondary", "POST", "resource"),
        UP("/v1/up", "POST", "resource"),
        DOWN("/v1/down", "POST", "resource"),
        CONNECT("/v1/connect", "POST", "resource", "peer", "discard-my-data"),
        DISCONNECT("/v1/disconnect", "POST", "resource", "peer"),
        INVALIDATE("/v1/invalidate", "POST", "resource", "volume"),
        VERIFY("/v1/verify", "POST", "resource", "volume"),
        NEW_CURRENT_UUID("/v1/new-current-uuid", "POST", "resource", "clear-bitmap"),
        PAUSE_SYNC("/v1/pause-sync", "POST", "resource", "peer"),
        ATTACH("/v1/attach", "POST", "resource", "volume"),
        ADJUST("/v1/adjust", "POST", "resource"),
        TEST_DISK_FAULT("/v1/test-disk-fault", "POST", "resource", "volume", "errno"),
        DETACH("/v1/detach", "POST", "resource", "volume"),
        RESUME_SYNC("/v1/resume-sync", "POST", "resource", "peer"),
        EVENTS("/v1/events", "GET", "json");

        private static final Map<String, Endpoint> BY_PATH = new HashMap<>();

        static
        {
            for (final Endpoint endpoint : values())
            {
                BY_PATH.put(endpoint.path, endpoint);
            }
        }

        private final String path;
        private final String method;
        private final List<String> parameters;

        Endpoint(final String path, final String method, final String... parameters)
        {
            this.path = path;
            this.method = method;
            this.parameters = List.of(parameters);
        }
    }

    /** A request the server cannot take as it is: 400 with the message. */
    private static final class BadRequest extends Exception
    {
        private static final long serialVersionUID = 1L;

        BadRequest(final String message)
        {
            super(message);
        }
    }

    private final AdminOps ops;
    private final HttpServer http;
    private final ExecutorService requestThreads;
    private final ExecutorService eventThreads;
    private final Semaphore subscriberSlots;
    private final int maxSubscribers;
    private final int backlogLimit;
    private final long heartbeatMs;
    private final Set<EventQueue> streams = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Object requestsLock = new Object();
    /** Requests being handled (an events stream counts until it is handed off); guarded by requestsLock. */
    private int inFlight;

    private AdminServer(final AdminOps ops, final HttpServer http, final int maxSubscribers, final int backlogLimit,
        final long heartbeatMs)
    {
        this.ops = ops;
        this.http = http;
        this.maxSubscribers = maxSubscribers;
        this.backlogLimit = backlogLimit;
        this.heartbeatMs = heartbeatMs;
        this.subscriberSlots = new Semaphore(maxSubscribers);
        this.requestThreads = new ThreadPoolExecutor(REQUEST_THREADS, REQUEST_THREADS, 0, TimeUnit.MILLISECONDS,
            new LinkedBlockingQueue<>(), daemonThreads("mirra-admin-"));
        // unbounded in itself; subscriberSlots bounds how many streams (and so threads) exist
        this.eventThreads = Executors.newCachedThreadPool(daemonThreads("mirra-admin-events-"));
    }

    /**
     * Start serving.
     *
     * @param ops  the node's operations.
     * @param host address to listen on (the node's {@code admin} address; a loopback address).
     * @param port port to listen on; 0 picks a free one (see {@link #address()}).
     * @return the running server.
     * @throws IOException if the address cannot be bound (e.g. in use).
     */
    public static AdminServer start(final AdminOps ops, final String host, final int port) throws IOException
    {
        return start(ops, host, port, MAX_EVENT_SUBSCRIBERS, EVENTS_BACKLOG_LIMIT, HEARTBEAT_MS_DEFAULT);
    }

    /**
     * Start serving with other limits (tests).
     *
     * @param ops            the node's operations.
     * @param host           address to listen on.
     * @param port           port; 0 for any free one.
     * @param maxSubscribers the most concurrent {@code events} streams.
     * @param backlogLimit   the most events that may wait for one subscriber.
     * @param heartbeatMs    keep-alive period of an idle {@code events} stream.
     * @return the running server.
     * @throws IOException if the address cannot be bound.
     */
    static AdminServer start(final AdminOps ops, final String host, final int port, final int maxSubscribers,
        final int backlogLimit, final long heartbeatMs) throws IOException
    {
        final HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 0);
        final AdminServer server = new AdminServer(ops, http, maxSubscribers, backlogLimit, heartbeatMs);
        http.createContext("/", server::handle);
        http.setExecutor(server.requestThreads);
        http.start();
        return server;
    }

    /**
     * @return the address the server listens on (with the port chosen when 0 was asked).
     */
    public InetSocketAddress address()
    {
        return http.getAddress();
    }

    /**
     * Stop serving: every {@code events} stream ends with a last line saying the endpoint is closing, requests in
     * progress get up to a second to answer, then every connection is closed. Idempotent.
     */
    @Override
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        for (final EventQueue stream : streams)
        {
            stream.stop();
        }
        eventThreads.shutdown();
        try
        {
            // the streams only need to write one line each; don't let a stuck client hold the shutdown
            eventThreads.awaitTermination(2, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        awaitRequests(TimeUnit.SECONDS.toNanos(1));
        http.stop(0); // closes every connection at once; HttpServer.stop(1) would always wait the full second
        requestThreads.shutdown();
    }

    /** Give requests in progress (e.g. an operation waiting for its peers) a bounded time to answer. */
    private void awaitRequests(final long timeoutNs)
    {
        final long deadlineNs = System.nanoTime() + timeoutNs;
        synchronized (requestsLock)
        {
            while (inFlight > 0)
            {
                final long leftNs = deadlineNs - System.nanoTime();
                if (leftNs <= 0)
                {
                    return;
                }
                try
                {
                    TimeUnit.NANOSECONDS.timedWait(requestsLock, leftNs);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void handle(final HttpExchange exchange)
    {
        synchronized (requestsLock)
        {
            inFlight++;
        }
        boolean handedOff = false;
        try
        {
            final String path = exchange.getRequestURI().getRawPath();
            final Endpoint endpoint = Endpoint.BY_PATH.get(path);
            if (endpoint == null)
            {
                replyQuietly(exchange, 404, "unknown path " + path + " (the admin endpoint serves " +
                    String.join(", ", Endpoint.BY_PATH.keySet().stream().sorted().toList()) + ")");
                return;
            }
            if (!endpoint.method.equals(exchange.getRequestMethod()))
            {
                exchange.getResponseHeaders().set("Allow", endpoint.method);
                replyQuietly(exchange, 405, "method " + exchange.getRequestMethod() + " is not allowed for " + path +
                    " (use " + endpoint.method + ")");
                return;
            }
            final Map<String, String> params = parseQuery(endpoint, exchange.getRequestURI().getRawQuery());
            handedOff = dispatch(exchange, endpoint, params);
        }
        catch (final BadRequest ex)
        {
            replyQuietly(exchange, 400, ex.getMessage());
        }
        catch (final AdminException ex)
        {
            replyQuietly(exchange, 409, ex.getMessage());
        }
        catch (final IOException ex)
        {
            // the client went away while we answered: nothing to tell anyone
            LOG.log(Level.FINE, "admin: request ended early", ex);
        }
        catch (final RuntimeException | LinkageError | AssertionError ex)
        {
            // Answer even for errors a handler should never throw: silence would look like a dead node.
            LOG.log(Level.WARNING, "admin: " + exchange.getRequestMethod() + " " + exchange.getRequestURI() +
                " failed", ex);
            replyQuietly(exchange, 500, "internal error: " + describe(ex));
        }
        finally
        {
            if (!handedOff)
            {
                exchange.close();
            }
            synchronized (requestsLock)
            {
                inFlight--;
                requestsLock.notifyAll();
            }
        }
    }

    /** @return true when the exchange was handed to an events thread, which closes it. */
    private boolean dispatch(final HttpExchange exchange, final Endpoint endpoint, final Map<String, String> params)
        throws BadRequest, AdminException, IOException
    {
        switch (endpoint)
        {
            case STATUS:
            {
                final List<ResourceStatus> status = ops.status(Optional.ofNullable(params.get("resource")));
                if (bool(params, "json"))
                {
                    reply(exchange, 200, JSON, StatusFormat.json(status));
                }
                else
                {
                    reply(exchange, 200, TEXT, StatusFormat.text(status));
                }
                return false;
            }
            case PRIMARY:
                ops.primary(resource(params), bool(params, "force"));
                break;
            case SECONDARY:
                ops.secondary(resource(params));
                break;
            case UP:
                ops.up(resource(params));
                break;
            case DOWN:
                ops.down(resource(params));
                break;
            case CONNECT:
                ops.connect(resource(params), Optional.ofNullable(params.get("peer")), bool(params, "discard-my-data"));
                break;
            case DISCONNECT:
                ops.disconnect(resource(params), Optional.ofNullable(params.get("peer")));
                break;
            case INVALIDATE:
                ops.invalidate(resource(params), volume(params));
                break;
            case VERIFY:
                ops.verify(resource(params), volume(params));
                break;
            case ADJUST:
            {
                final String applied = ops.adjust(Optional.ofNullable(params.get("resource")));
                reply(exchange, 200, TEXT, applied.isEmpty() ? "" : applied + "\n");
                return false;
            }
            case TEST_DISK_FAULT:
                ops.injectDiskFault(resource(params), volume(params).orElse(0), errno(params));
                break;
            case ATTACH:
            case DETACH:
                ops.attachDisk(resource(params), volume(params), endpoint == Endpoint.ATTACH);
                break;
            case PAUSE_SYNC:
            case RESUME_SYNC:
                ops.pauseSync(resource(params), Optional.ofNullable(params.get("peer")), endpoint == Endpoint.PAUSE_SYNC);
                break;
            case NEW_CURRENT_UUID:
                ops.newCurrentUuid(resource(params), bool(params, "clear-bitmap"));
                break;
            case EVENTS:
                return startEvents(exchange, bool(params, "json"));
            default:
                throw new IllegalStateException("unhandled endpoint " + endpoint);
        }
        reply(exchange, 200, TEXT, "");
        return false;
    }

    private boolean startEvents(final HttpExchange exchange, final boolean json) throws IOException
    {
        if (closed.get())
        {
            replyQuietly(exchange, 503, "the admin endpoint is shutting down");
            return false;
        }
        if (!subscriberSlots.tryAcquire())
        {
            replyQuietly(exchange, 503, "too many events subscribers (at most " + maxSubscribers +
                "); end one and retry");
            return false;
        }
        final EventQueue queue = new EventQueue(backlogLimit);
        final AutoCloseable subscription;
        try
        {
            subscription = ops.subscribe(queue::offer);
        }
        catch (final RuntimeException ex)
        {
            subscriberSlots.release();
            throw ex;
        }
        streams.add(queue);
        if (closed.get())
        {
            queue.stop(); // close() may have run before the add: end this stream too
        }
        try
        {
            exchange.getResponseHeaders().set("Content-Type", json ? JSON : TEXT);
            exchange.getResponseHeaders().set("Cache-Control", "no-cache");
            exchange.sendResponseHeaders(200, 0); // 0: chunked, as long as it lasts
            eventThreads.execute(() -> stream(exchange, queue, subscription, json));
            return true;
        }
        catch (final IOException | RejectedExecutionException ex)
        {
            endSubscription(queue, subscription);
            if (ex instanceof IOException)
            {
                throw (IOException)ex;
            }
            return false; // closing: the exchange is closed by handle()
        }
    }

    private void stream(final HttpExchange exchange, final EventQueue queue, final AutoCloseable subscription,
        final boolean json)
    {
        try (OutputStream out = exchange.getResponseBody())
        {
            while (true)
            {
                final EventQueue.Taken taken = queue.take(heartbeatMs);
                switch (taken.item())
                {
                    case EVENT:
                        out.write((eventLine(taken.event(), json) + "\n").getBytes(StandardCharsets.UTF_8));
                        break;
                    case IDLE:
                        out.write('\n');
                        break;
                    case OVERFLOW:
                        out.write(lastLine(json, "this subscriber fell behind by more than " + backlogLimit +
                            " events; the stream ends here (subscribe again for a fresh dump)"));
                        return;
                    case STOPPED:
                    default:
                        out.write(lastLine(json, "the admin endpoint is shutting down"));
                        return;
                }
                out.flush(); // one chunk per event: watchers see each change at once
            }
        }
        catch (final IOException ex)
        {
            // the client went away (or the server closed the connection): the normal end of a stream
            LOG.log(Level.FINE, "admin: events subscriber gone", ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        finally
        {
            endSubscription(queue, subscription);
            exchange.close();
        }
    }

    private void endSubscription(final EventQueue queue, final AutoCloseable subscription)
    {
        queue.stop();
        streams.remove(queue);
        try
        {
            subscription.close();
        }
        catch (final Exception ex)
        {
            LOG.log(Level.WARNING, "admin: closing an events subscription failed", ex);
        }
        finally
        {
            subscriberSlots.release();
        }
    }

    /**
     * @param event the event.
     * @param json  true for a JSON object, false for the events2 text form.
     * @return one line, without the newline.
     */
    static String eventLine(final StateEvent event, final boolean json)
    {
        if (!json)
        {
            return StatusFormat.oneLine(event.toLine());
        }
        final JsonWriter writer = new JsonWriter(false).beginObject()
            .field("action", event.action())
            .field("object", event.object());
        event.fields().forEach(writer::field);
        return writer.endObject().toString();
    }

    private static byte[] lastLine(final boolean json, final String message)
    {
        final String line = json ? new JsonWriter(false).beginObject().field("error", message).endObject().toString() :
            "error: " + message;
        return (line + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, String> parseQuery(final Endpoint endpoint, final String rawQuery) throws BadRequest
    {
        final Map<String, String> params = new HashMap<>();
        if (rawQuery == null || rawQuery.isEmpty())
        {
            return params;
        }
        for (final String pair : rawQuery.split("&"))
        {
            if (pair.isEmpty())
            {
                continue;
            }
            final int eq = pair.indexOf('=');
            final String key;
            final String value;
            try
            {
                key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new BadRequest("malformed query parameter '" + oneLine(pair) + "' (" + ex.getMessage() + ")");
            }
            if (!endpoint.parameters.contains(key))
            {
                throw new BadRequest("unknown parameter '" + oneLine(key) + "' for " + endpoint.path +
                    (endpoint.parameters.isEmpty() ? " (it takes none)" :
                    " (it takes " + String.join(", ", endpoint.parameters) + ")"));
            }
            if (params.put(key, value) != null)
            {
                throw new BadRequest("parameter '" + key + "' given twice");
            }
        }
        for (final String name : List.of("resource", "peer"))
        {
            if ("".equals(params.get(name)))
            {
                throw new BadRequest("parameter '" + name + "' is empty");
            }
        }
        return params;
    }

    private static String resource(final Map<String, String> params) throws BadRequest
    {
        final String resource = params.get("resource");
        if (resource == null)
        {
            throw new BadRequest("missing parameter 'resource'");
        }
        return resource;
    }

    /** The errno parameter of a test fault: 0..4095. */
    private static int errno(final Map<String, String> params) throws BadRequest
    {
        final String value = params.get("errno");
        try
        {
            final int errno = Integer.parseInt(value == null ? "" : value);
            if (errno >= 0 && errno < 4096)
            {
                return errno;
            }
        }
        catch (final NumberFormatException ex)
        {
            // below
        }
        throw new BadRequest("parameter 'errno' must be 0..4095, got '" + value + "'");
    }

    /** The optional volume parameter: a volume number 0..255. */
    private static java.util.OptionalInt volume(final Map<String, String> params) throws BadRequest
    {
        final String value = params.get("volume");
        if (value == null)
        {
            return java.util.OptionalInt.empty();
        }
        try
        {
            final int volume = Integer.parseInt(value);
            if (volume >= 0 && volume < 256)
            {
                return java.util.OptionalInt.of(volume);
            }
        }
        catch (final NumberFormatException ex)
        {
            // below
        }
        throw new BadRequest("parameter 'volume' must be a volume number 0..255, got '" + value + "'");
    }

    /** A flag parameter: absent is false; {@code 1}, {@code true}, {@code yes} or no value at all is true. */
    private static boolean bool(final Map<String, String> params, final String name) throws BadRequest
    {
        final String value = params.get(name);
        if (value == null)
        {
            return false;
        }
        switch (value)
        {
            case "":
            case "1":
            case "true":
            case "yes":
                return true;
            case "0":
            case "false":
            case "no":
                return false;
            default:
                throw new BadRequest("parameter '" + name + "': '" + oneLine(value) + "' is not 1 or 0");
        }
    }

    private static void reply(final HttpExchange exchange, final int code, final String contentType,
        final String body) throws IOException
    {
        final byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(code, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0)
        {
            try (OutputStream out = exchange.getResponseBody())
            {
                out.write(bytes);
            }
        }
    }

    /** An error answer: one line, whatever the message held. */
    private static void replyQuietly(final HttpExchange exchange, final int code, final String message)
    {
        try
        {
            reply(exchange, code, TEXT, oneLine(message) + "\n");
        }
        catch (final IOException ex)
        {
            LOG.log(Level.FINE, "admin: could not send the error answer", ex);
        }
    }

    private static String oneLine(final String text)
    {
        return text == null ? "" : StatusFormat.oneLine(text);
    }

    private static String describe(final Throwable ex)
    {
        return ex.getMessage() != null ? ex.getMessage() : ex.getClass().getSimpleName();
    }

    private static ThreadFactory daemonThreads(final String prefix)
    {
        final AtomicInteger counter = new AtomicInteger();
        return runnable ->
        {
            final Thread thread = new Thread(runnable, prefix + counter.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
