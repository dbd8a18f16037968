#!/usr/bin/env python3
"""Print a free TCP port on 127.0.0.1 for a server of a benchmark run, never the same twice in a run.

Usage: free-port.py TAKEN_FILE   (the run's list of ports handed out; the port is appended to it)

The port is taken below the kernel's ephemeral range: a port from bind(0) is in that range, and between this
check and the server's own bind the kernel may hand it out as the source port of a connection (seen: a node's
NBD port taken by a peer connection of the node started just before it, "address already in use").
"""
import random, socket, sys
taken_file = sys.argv[1]
try:
    taken = set(open(taken_file).read().split())
except OSError:
    taken = set()
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
first = 10000 if lo > 11000 else 1024
if lo - first < 1000:
    sys.exit(f"free_port: the ephemeral port range starts at {lo}: no room for fixed ports below it")
for _ in range(2000):
    p = random.randrange(first, lo)
    if str(p) in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    with open(taken_file, "a") as f:
        f.write(f"{p}\n")
    print(p)
    break
else:
    sys.exit("free_port: no free port found")
