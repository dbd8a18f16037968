package io.mirra.test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP forwarder standing for the network between two nodes in tests: it accepts on a loopback port and relays each
 * connection to a target, and can {@link #cut()} the link (every relayed connection is closed and new ones are
 * closed at once), {@link #heal()} it, and {@link #delayMillis(long) delay} every chunk it relays (a slow WAN).
 * <p>
 * Two threads per relayed connection plus one acceptor: meant for a handful of links, not hundreds.
 */
public final class LinkProxy implements AutoCloseable
{
    private static final AtomicInteger IDS = new AtomicInteger();

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final List<Socket> sockets = new ArrayList<>();
    private final Thread acceptor;
    private volatile boolean cut;
    private volatile boolean blackhole;
    private volatile long delayMillis;
    private volatile boolean closed;
    private final AtomicInteger accepted = new AtomicInteger();

    /**
     * Start relaying.
     *
     * @param host   loopback address to listen on.
     * @param target where connections are relayed to.
     * @throws IOException when the port cannot be bound.
     */
    public LinkProxy(final String host, final InetSocketAddress target) throws IOException
    {
        this.target = target;
        this.server = new ServerSocket(0, 64, InetAddress.getByName(host));
        this.acceptor = new Thread(this::acceptLoop, "link-proxy-" + IDS.incrementAndGet() + "-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** @return the address peers should dial instead of the target. */
    public InetSocketAddress address()
    {
        return (InetSocketAddress)server.getLocalSocketAddress();
    }

    /** @return connections accepted so far. */
    public int acceptedConnections()
    {
        return accepted.get();
    }

    /** Close every relayed connection and refuse new ones until {@link #heal()}. */
    public void cut()
    {
        cut = true;
        closeAll();
    }

    /** Relay again. */
    public void heal()
    {
        cut = false;
        blackhole = false;
    }

    /**
     * Keep the connections open but drop every byte from now on, both directions (a link that hangs), until
     * {@link #heal()}.
     */
    public void blackhole()
    {
        blackhole = true;
    }

    /**
     * @param millis added before each relayed chunk, both directions; 0 for none.
     */
    public void delayMillis(final long millis)
    {
        delayMillis = millis;
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            final Socket in;
            try
            {
                in = server.accept();
            }
            catch (final IOException ex)
            {
                return;
            }
            accepted.incrementAndGet();
            if (cut)
            {
                quietClose(in);
                continue;
            }
            final Socket out = new Socket();
            try
            {
                out.connect(target, 5000);
                in.setTcpNoDelay(true);
                out.setTcpNoDelay(true);
            }
            catch (final IOException ex)
            {
                quietClose(in);
                quietClose(out);
                continue;
            }
            synchronized (sockets)
            {
                sockets.add(in);
                sockets.add(out);
            }
            pump(in, out);
            pump(out, in);
        }
    }

    private void pump(final Socket from, final Socket to)
    {
        final Thread t = new Thread(() ->
        {
            final byte[] buf = new byte[256 * 1024];
            try (InputStream is = from.getInputStream(); OutputStream os = to.getOutputStream())
            {
                int n;
                while ((n = is.read(buf)) > 0)
                {
                    final long delay = delayMillis;
                    if (delay > 0)
                    {
                        Thread.sleep(delay);
                    }
                    if (cut)
                    {
                        break;
                    }
                    if (!blackhole)
                    {
                        os.write(buf, 0, n);
                    }
                }
            }
            catch (final IOException | InterruptedException ex)
            {
                // the link was cut or a side closed
            }
            finally
            {
                quietClose(from);
                quietClose(to);
            }
        }, "link-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private void closeAll()
    {
        final List<Socket> all;
        synchronized (sockets)
        {
            all = new ArrayList<>(sockets);
            sockets.clear();
        }
        all.forEach(LinkProxy::quietClose);
    }

    private static void quietClose(final Socket s)
    {
        try
        {
            s.close();
        }
        catch (final IOException ex)
        {
            // closing anyway
        }
    }

    @Override
    public void close()
    {
        closed = true;
        try
        {
            server.close();
        }
        catch (final IOException ex)
        {
            // closing anyway
        }
        closeAll();
    }
}
