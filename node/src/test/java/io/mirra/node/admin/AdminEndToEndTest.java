package io.mirra.node.admin;

import io.mirra.test.Json;
import io.mirra.engine.replication.StateEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.mirra.test.Json.array;
import static io.mirra.test.Json.object;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The admin server and client together on 127.0.0.1, against a fake node. */
@Timeout(30)
class AdminEndToEndTest
{
    /** Short keep-alive, so that a subscriber that went away is noticed quickly. */
    private static final long HEARTBEAT_MS = 20;
    private static final long WAIT_S = 10;

    private FakeAdminOps ops;
    private AdminServer server;
    private final List<AdminServer> extraServers = new ArrayList<>();

    /** What one client run printed. */
    private record Result(int code, String out, String err)
    {
    }

    @BeforeEach
    void start() throws Exception
    {
        ops = new FakeAdminOps(List.of(StatusFixtures.threeNodes(), StatusFixtures.twoVolumes()));
        server = AdminServer.start(ops, "127.0.0.1", 0, 2, 100, HEARTBEAT_MS);
    }

    @AfterEach
    void stop()
    {
        server.close();
        extraServers.forEach(AdminServer::close);
    }

    private Result run(final String command, final String... args)
    {
        return runAgainst(server.address(), command, args);
    }

    private static Result runAgainst(final InetSocketAddress admin, final String command, final String... args)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = AdminClient.run(command, List.of(args), "alpha", admin,
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldPrintTheStatusOfEveryResourceAndOfOne()
    {
        final Result all = run("status");
        assertEquals(new Result(0, StatusFormat.text(List.of(StatusFixtures.twoVolumes(),
            StatusFixtures.threeNodes())), ""), all);
        assertTrue(all.out().startsWith("db role:Secondary\n  volume:0 disk:UpToDate\n"), all.out());

        assertEquals(new Result(0, StatusFormat.text(List.of(StatusFixtures.threeNodes())), ""),
            run("status", "demo"));
    }

    @Test
    void shouldPrintJsonStatus()
    {
        final Result result = run("status", "demo", "--json");
        assertEquals(0, result.code(), result.err());
        final List<Object> root = array(Json.parseStrict(result.out()));
        assertEquals(1, root.size());
        assertEquals("demo", object(root.get(0)).get("name"));
        assertEquals("AUTH_FAILED: the peer does not know the shared secret",
            object(array(object(root.get(0)).get("connections")).get(0)).get("mirra-reason"));
    }

    @Test
    void shouldExitOneWithTheNodesMessageForAnUnknownResource()
    {
        assertEquals(new Result(1, "", "mirra status: unknown resource 'nope'\n"), run("status", "nope"));
        assertEquals(new Result(1, "", "mirra primary: unknown resource 'nope'\n"), run("primary", "nope"));
        assertEquals(new Result(1, "", "mirra connect: unknown resource 'nope'\n"), run("connect", "nope", "bravo"));
        assertEquals(List.of(), ops.calls);
    }

    @Test
    void shouldRunEveryOperation()
    {
        final Map<List<String>, String> commands = new LinkedHashMap<>();
        commands.put(List.of("primary", "demo"), "primary demo");
        commands.put(List.of("primary", "demo", "--force"), "primary demo --force");
        commands.put(List.of("secondary", "demo"), "secondary demo");
        commands.put(List.of("up", "db"), "up db");
        commands.put(List.of("down", "db"), "down db");
        commands.put(List.of("connect", "demo"), "connect demo");
        commands.put(List.of("connect", "demo", "bravo"), "connect demo bravo");
        commands.put(List.of("connect", "demo", "bravo", "--discard-my-data"), "connect demo bravo --discard-my-data");
        commands.put(List.of("disconnect", "demo"), "disconnect demo");
        commands.put(List.of("disconnect", "demo", "charlie"), "disconnect demo charlie");
        commands.put(List.of("invalidate", "demo"), "invalidate demo");
        commands.put(List.of("verify", "demo"), "verify demo");
        commands.put(List.of("verify", "demo", "0"), "verify demo 0");
        commands.put(List.of("invalidate", "demo", "0"), "invalidate demo 0");
        commands.put(List.of("new-current-uuid", "demo", "--clear-bitmap"), "new-current-uuid demo --clear-bitmap");
        commands.put(List.of("pause-sync", "demo", "bravo"), "pause-sync demo bravo");
        commands.put(List.of("detach", "demo", "0"), "detach demo 0");
        commands.put(List.of("attach", "demo"), "attach demo");
        commands.put(List.of("resume-sync", "demo"), "resume-sync demo");
        for (final Map.Entry<List<String>, String> entry : commands.entrySet())
        {
            final List<String> argv = entry.getKey();
            assertEquals(new Result(0, "", ""), run(argv.get(0), argv.subList(1, argv.size()).toArray(new String[0])),
                argv.toString());
        }
        assertEquals(List.copyOf(commands.values()), ops.calls);
    }

    @Test
    void shouldPassNamesThatNeedEncoding()
    {
        ops.resources.put("a b&c=d%e/é", StatusFixtures.threeNodes());
        assertEquals(new Result(0, "", ""), run("connect", "a b&c=d%e/é", "peer+1"));
        assertEquals(List.of("connect a b&c=d%e/é peer+1"), ops.calls);
    }

    @Test
    void shouldExitOneWithTheRefusal()
    {
        ops.refusals.put("primary", "bravo is Primary; make it Secondary first (or allow two primaries)");
        ops.refusals.put("down", "this node is Primary for db\nrun mirra secondary db first");
        assertEquals(new Result(1, "", "mirra primary: bravo is Primary; make it Secondary first (or allow two " +
            "primaries)\n"), run("primary", "demo"));
        assertEquals(new Result(1, "", "mirra down: this node is Primary for db run mirra secondary db first\n"),
            run("down", "db"));
    }

    @Test
    void shouldExitTwoOnUsageMistakesWithoutCallingTheNode()
    {
        assertEquals(new Result(2, "", "mirra primary: RES is required (see mirra primary --help)\n"),
            run("primary"));
        assertEquals(new Result(2, "", "mirra status: unknown option --bogus (see mirra status --help)\n"),
            run("status", "--bogus"));
        assertEquals(new Result(2, "", "mirra status: unknown option -j (see mirra status --help)\n"),
            run("status", "-j"));
        assertEquals(new Result(2, "", "mirra up: unexpected argument 'extra'\n"), run("up", "demo", "extra"));
        assertEquals(new Result(2, "", "mirra connect: unexpected argument 'x'\n"),
            run("connect", "demo", "bravo", "x"));
        assertEquals(new Result(2, "", "mirra secondary: unknown option --force (see mirra secondary --help)\n"),
            run("secondary", "demo", "--force"));
        assertEquals(new Result(2, "", "mirra disconnect: unknown option --discard-my-data (see mirra disconnect " +
            "--help)\n"), run("disconnect", "demo", "--discard-my-data"));
        assertEquals(new Result(2, "", "mirra verify: VOL must be a volume number, got 'bravo'\n"),
            run("verify", "demo", "bravo"));
        assertEquals(new Result(2, "", "mirra primary: unknown option --json (see mirra primary --help)\n"),
            run("primary", "demo", "--json"));
        assertEquals(new Result(2, "", "mirra primary: option --force given twice\n"),
            run("primary", "demo", "--force", "--force"));
        assertEquals(new Result(2, "", "mirra events: unexpected argument 'demo'\n"), run("events", "demo"));
        assertEquals(new Result(2, "", "mirra: unknown command 'promote' (see mirra --help)\n"), run("promote"));
        assertEquals(List.of(), ops.calls);
    }

    @Test
    void shouldPrintTheUsageOfEveryCommand()
    {
        for (final Map.Entry<String, String> entry : AdminClient.USAGES.entrySet())
        {
            assertEquals(new Result(0, entry.getValue() + "\n", ""), run(entry.getKey(), "--help"));
            assertTrue(entry.getValue().startsWith("usage: mirra "), entry.getValue());
            assertTrue(AdminClient.COMMANDS_SUMMARY.contains("  " + entry.getKey() + " "), entry.getKey());
            assertTrue(AdminClient.handles(entry.getKey()));
        }
        assertEquals(new Result(0, AdminClient.PRIMARY_USAGE + "\n", ""), run("primary", "--help"),
            "--help needs no RES");
    }

    @Test
    void shouldExitThreeWhenTheNodeIsNotRunning() throws Exception
    {
        final AdminServer gone = AdminServer.start(ops, "127.0.0.1", 0);
        final InetSocketAddress address = gone.address();
        gone.close();
        assertEquals(new Result(3, "", "mirra: cannot reach the admin endpoint of alpha at 127.0.0.1:" +
            address.getPort() + " (connection refused); is the node running?\n"),
            runAgainst(address, "status"));
        assertEquals(3, runAgainst(address, "primary", "demo").code());
        assertEquals(3, runAgainst(address, "events").code());

        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(3, AdminClient.run("up", List.of("demo"), address, System.out,
            new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertEquals("mirra: cannot reach the admin endpoint at 127.0.0.1:" + address.getPort() +
            " (connection refused); is the node running?\n", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldAnswerHttpErrorsWithOneLine() throws Exception
    {
        final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        assertHttp(http, "GET", "/v1/nothing", 404, "unknown path /v1/nothing (the admin endpoint serves " +
            "/v1/adjust, /v1/attach, /v1/connect, /v1/detach, /v1/disconnect, /v1/down, /v1/events, /v1/invalidate, " +
            "/v1/new-current-uuid, /v1/pause-sync, /v1/primary, /v1/resume-sync, /v1/secondary, /v1/status, " +
            "/v1/test-disk-fault, /v1/up, /v1/verify)\n");
        assertHttp(http, "GET", "/v1/status/", 404, null);
        final HttpResponse<String> notAllowed = assertHttp(http, "GET", "/v1/primary?resource=demo", 405,
            "method GET is not allowed for /v1/primary (use POST)\n");
        assertEquals("POST", notAllowed.headers().firstValue("Allow").orElse(null));
        assertHttp(http, "POST", "/v1/status", 405, "method POST is not allowed for /v1/status (use GET)\n");
        assertHttp(http, "POST", "/v1/primary", 400, "missing parameter 'resource'\n");
        assertHttp(http, "POST", "/v1/primary?resource=", 400, "parameter 'resource' is empty\n");
        assertHttp(http, "POST", "/v1/primary?resource=demo&peer=bravo", 400,
            "unknown parameter 'peer' for /v1/primary (it takes resource, force)\n");
        assertHttp(http, "POST", "/v1/up?resource=demo&resource=db", 400, "parameter 'resource' given twice\n");
        assertHttp(http, "POST", "/v1/primary?resource=demo&force=maybe", 400,
            "parameter 'force': 'maybe' is not 1 or 0\n");
        assertHttp(http, "GET", "/v1/status?resource=nope", 409, "unknown resource 'nope'\n");
        assertEquals(List.of(), ops.calls);

        final HttpResponse<String> ok = assertHttp(http, "POST", "/v1/primary?resource=demo&force=1", 200, "");
        assertEquals("text/plain; charset=utf-8", ok.headers().firstValue("Content-Type").orElse(null));
        assertEquals(List.of("primary demo --force"), ops.calls);
        assertEquals("application/json",
            assertHttp(http, "GET", "/v1/status?json", 200, null).headers().firstValue("Content-Type").orElse(null));
        assertEquals(StatusFormat.text(List.of(StatusFixtures.threeNodes())),
            assertHttp(http, "GET", "/v1/status?resource=demo&json=0", 200, null).body());
    }

    private HttpResponse<String> assertHttp(final HttpClient http, final String method, final String pathAndQuery,
        final int code, final String body) throws Exception
    {
        final HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" +
            server.address().getPort() + pathAndQuery)).method(method, HttpRequest.BodyPublishers.noBody()).build();
        final HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        assertEquals(code, response.statusCode(), method + " " + pathAndQuery + ": " + response.body());
        if (body != null)
        {
            assertEquals(body, response.body(), method + " " + pathAndQuery);
        }
        return response;
    }

    @Test
    void shouldAnswerStatusWhileAnOperationBlocks() throws Exception
    {
        ops.primaryGate = new CountDownLatch(1);
        final CompletableFuture<Result> primary = CompletableFuture.supplyAsync(() -> run("primary", "demo"));
        assertEquals("primary", ops.entered.poll(WAIT_S, TimeUnit.SECONDS));
        assertEquals(0, run("status", "db").code(), "the second request thread answers");
        ops.primaryGate.countDown();
        assertEquals(new Result(0, "", ""), primary.get(WAIT_S, TimeUnit.SECONDS));
    }

    /** Collects what the client prints, line by line, as it prints it. */
    private static final class Lines extends OutputStream
    {
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final ByteArrayOutputStream current = new ByteArrayOutputStream();

        @Override
        public synchronized void write(final int b)
        {
            if (b == '\n')
            {
                lines.add(current.toString(StandardCharsets.UTF_8));
                current.reset();
            }
            else
            {
                current.write(b);
            }
        }

        String next() throws InterruptedException
        {
            final String line = lines.poll(WAIT_S, TimeUnit.SECONDS);
            assertNotNull(line, "no line within " + WAIT_S + " s");
            return line;
        }
    }

    /** A client running {@code mirra events} on its own thread. */
    private static final class EventsClient
    {
        final Lines out = new Lines();
        final Lines err = new Lines();
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        final Thread thread;

        EventsClient(final InetSocketAddress admin, final String... args)
        {
            thread = new Thread(() -> exit.complete(AdminClient.run("events", List.of(args), "alpha", admin,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8))), "test-events-client");
            thread.start();
        }

        int exitCode() throws Exception
        {
            return exit.get(WAIT_S, TimeUnit.SECONDS);
        }
    }

    private static StateEvent event(final String action, final String object, final String... kv)
    {
        final Map<String, String> fields = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2)
        {
            fields.put(kv[i], kv[i + 1]);
        }
        return new StateEvent(action, object, fields);
    }

    @Test
    void shouldStreamEventsInOrderAndUnsubscribeWhenTheClientStops() throws Exception
    {
        ops.dump.add(event("exists", "resource", "name", "demo", "role", "Primary"));
        ops.dump.add(event("exists", "-"));
        final EventsClient client = new EventsClient(server.address());
        assertTrue(ops.subscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS));
        ops.emit(event("change", "connection", "name", "demo", "peer-node-id", "1", "conn-name", "bravo",
            "connection", "Connected"));
        ops.emit(event("change", "peer-device", "name", "demo", "peer-node-id", "1", "conn-name", "bravo",
            "volume", "0", "replication", "SyncSource"));

        assertEquals("exists resource name:demo role:Primary", client.out.next());
        assertEquals("exists -", client.out.next());
        assertEquals("change connection name:demo peer-node-id:1 conn-name:bravo connection:Connected",
            client.out.next());
        assertEquals("change peer-device name:demo peer-node-id:1 conn-name:bravo volume:0 replication:SyncSource",
            client.out.next());

        client.thread.interrupt();
        assertEquals(AdminClient.EXIT_INTERRUPTED, client.exitCode());
        assertTrue(ops.unsubscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS), "the server ends the subscription");
        assertEquals(List.of(), ops.listeners);
        assertTrue(client.out.lines.isEmpty(), "keep-alive lines are not printed: " + client.out.lines);
        assertTrue(client.err.lines.isEmpty(), client.err.lines.toString());
    }

    @Test
    void shouldStreamEventsAsJsonLines() throws Exception
    {
        final EventsClient client = new EventsClient(server.address(), "--json");
        assertTrue(ops.subscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS));
        ops.emit(event("change", "device", "name", "de\"mo", "volume", "0", "disk", "UpToDate"));
        ops.emit(event("destroy", "connection", "name", "demo", "conn-name", "charlie"));

        final String first = client.out.next();
        assertEquals("{\"action\":\"change\",\"object\":\"device\",\"name\":\"de\\\"mo\",\"volume\":\"0\"," +
            "\"disk\":\"UpToDate\"}", first);
        assertEquals(Map.of("action", "change", "object", "device", "name", "de\"mo", "volume", "0",
            "disk", "UpToDate"), Json.parseStrict(first));
        assertEquals(Map.of("action", "destroy", "object", "connection", "name", "demo", "conn-name", "charlie"),
            Json.parseStrict(client.out.next()));
        client.thread.interrupt();
        assertEquals(AdminClient.EXIT_INTERRUPTED, client.exitCode());
        assertTrue(ops.unsubscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS));
    }

    @Test
    void shouldEndTheStreamOfASubscriberThatFallsBehind() throws Exception
    {
        // 101 events before the stream starts: one more than this server lets wait
        for (int i = 0; i <= 100; i++)
        {
            ops.dump.add(event("exists", "resource", "name", "r" + i));
        }
        final EventsClient client = new EventsClient(server.address());
        assertEquals(1, client.exitCode());
        assertEquals("mirra events: this subscriber fell behind by more than 100 events; the stream ends here " +
            "(subscribe again for a fresh dump)", client.err.next());
        assertTrue(client.out.lines.isEmpty(), client.out.lines.toString());
        assertTrue(ops.unsubscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS));
    }

    @Test
    void shouldRefuseMoreSubscribersThanTheLimitAndFreeTheSlotOfOneThatLeft() throws Exception
    {
        final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        final HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" +
            server.address().getPort() + "/v1/events")).build();
        final HttpResponse<InputStream> first = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        final HttpResponse<InputStream> second = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, first.statusCode());
        assertEquals(200, second.statusCode());

        final EventsClient third = new EventsClient(server.address());
        assertEquals(1, third.exitCode());
        assertEquals("mirra events: too many events subscribers (at most 2); end one and retry", third.err.next());

        first.body().close();
        assertTrue(ops.unsubscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS), "the server notices the client left");
        final HttpResponse<InputStream> again = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, again.statusCode());
        again.body().close();
        second.body().close();
    }

    @Test
    void shouldEndEventStreamsWhenTheServerCloses() throws Exception
    {
        final EventsClient client = new EventsClient(server.address());
        assertTrue(ops.subscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS));
        ops.emit(event("change", "resource", "name", "demo", "role", "Secondary"));
        assertEquals("change resource name:demo role:Secondary", client.out.next());
        server.close();
        assertEquals(1, client.exitCode());
        assertEquals("mirra events: the admin endpoint is shutting down", client.err.next());
        assertTrue(ops.unsubscribed.tryAcquire(WAIT_S, TimeUnit.SECONDS));
    }

    @Test
    void shouldServeWithTheDefaultLimits() throws Exception
    {
        final AdminServer defaults = AdminServer.start(ops, "127.0.0.1", 0);
        extraServers.add(defaults);
        assertEquals("127.0.0.1", defaults.address().getHostString());
        assertTrue(defaults.address().getPort() > 0);
        assertEquals(0, runAgainst(defaults.address(), "status").code());
        defaults.close();
        defaults.close(); // idempotent
    }
}
