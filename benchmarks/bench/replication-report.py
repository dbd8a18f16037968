#!/usr/bin/env python3
"""Helpers and report for replication-compare.sh.

usage: replication-report.py wait-ready TIMEOUT PIDS URL...   poll the nodes' admin status until ready
       replication-report.py role URL                         print the role of the node behind URL
       replication-report.py post URL                         POST to an admin URL (e.g. /v1/primary?resource=R)
       replication-report.py drain TIMEOUT URL                wait until no replicated write is unacked
       replication-report.py rtt OUT.json SAMPLES [CC]        loopback TCP round trip (ping-pong)
       replication-report.py report DIR                       DIR/results.md and DIR/results.json

URL is a node's admin status URL (http://HOST:PORT/v1/status?resource=R&json=1), PIDS a comma-separated
list of node pids that must stay alive while polling. wait-ready prints one JSON line describing what it saw
(the first status of every node, whether a resync ran, how long it took) and exits 0 when every node with a
disk is UpToDate, every connection is Connected and every peer volume Established, UpToDate and 0 KiB out
of sync, as seen from every node; exit 1 on timeout, 2 when a node process died.
"""
import csv
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

GIB = 2 ** 30
MIB = 2 ** 20
JOB_ORDER = ("nbdcopy-in", "randwrite-4k-qd1", "randwrite-4k-qd32", "randread-4k-qd32", "write-1m-qd8",
             "read-1m-qd8")
CONFIG_ORDER = ("single", "c2", "c3", "a2", "a3", "d3")
DESCRIBE = {"single": "1 node", "c2": "2 nodes, protocol C", "c3": "3 nodes, protocol C",
            "a2": "2 nodes, protocol A", "a3": "3 nodes, protocol A",
            "d3": "3 nodes, protocol C, alpha (Primary) diskless: it reads and writes the copies of bravo and charlie"}


# ---------------------------------------------------------------------------------------------------------------
# Admin endpoint polling

def get_status(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def post(url, timeout=30.0):
    """POST with an empty body, as the mirra CLI's admin commands do; exit 1 with the node's message on an error."""
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as ex:
        sys.exit(f"POST {url}: HTTP {ex.code}: {ex.read().decode(errors='replace').strip()}")
    except (OSError, urllib.error.URLError) as ex:
        sys.exit(f"POST {url}: {ex}")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            st = fh.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2:].split()[0] != "Z"


def not_ready(res):
    """Why one node's status of the resource is not ready (list of strings; empty = ready)."""
    why = []
    for dev in res["devices"]:
        if not dev["client"] and dev["disk-state"] != "UpToDate":
            why.append(f"disk {dev['volume']} {dev['disk-state']}")
    for conn in res["connections"]:
        if conn["connection-state"] != "Connected":
            why.append(f"{conn['name']} {conn['connection-state']}" +
                       (f" ({conn['mirra-reason']})" if conn.get("mirra-reason") else ""))
            continue
        for pd in conn["peer_devices"]:
            if (pd["replication-state"] != "Established" or pd["out-of-sync"] != 0 or
                    (not pd["peer-client"] and pd["peer-disk-state"] != "UpToDate")):
                why.append(f"{conn['name']} vol {pd['volume']} {pd['replication-state']} "
                           f"peer-disk {pd['peer-disk-state']} out-of-sync {pd['out-of-sync']} KiB")
    return why


def wait_ready(timeout, pids, urls):
    t0 = time.monotonic()
    first, last_why, resync, max_oos = {}, {}, False, 0
    while True:
        for pid in pids:
            if not alive(pid):
                print(json.dumps(dict(ready=False, died=pid, waited_s=round(time.monotonic() - t0, 2),
                                      last=last_why)))
                return 2
        all_ok = True
        for url in urls:
            try:
                st = get_status(url)
            except (OSError, urllib.error.URLError, ValueError) as ex:
                last_why[url] = [f"admin endpoint: {ex}"]
                all_ok = False
                continue
            res = st[0]
            first.setdefault(url, res)
            for conn in res["connections"]:
                for pd in conn["peer_devices"]:
                    if pd["replication-state"] in ("SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT"):
                        resync = True
                    max_oos = max(max_oos, pd["out-of-sync"])
            why = not_ready(res)
            last_why[url] = why
            if why:
                all_ok = False
        if all_ok:
            print(json.dumps(dict(ready=True, waited_s=round(time.monotonic() - t0, 2), resync_seen=resync,
                                  max_out_of_sync_kib=max_oos,
                                  first={u: [res["role"]] + not_ready(res) for u, res in first.items()})))
            return 0
        if time.monotonic() - t0 > timeout:
            print(json.dumps(dict(ready=False, timeout_s=timeout, resync_seen=resync, max_out_of_sync_kib=max_oos,
                                  last=last_why)))
            return 1
        time.sleep(0.2)


def drain(timeout, url):
    """Wait until the node has no replicated write in flight to any peer (protocol A's queue is empty)."""
    t0 = time.monotonic()
    while True:
        res = get_status(url)[0]
        busy = sum(pd["unacked"] + pd["pending"] for c in res["connections"] for pd in c["peer_devices"])
        busy += sum(d["upper-pending"] + d["lower-pending"] for d in res["devices"])
        if busy == 0:
            print(round((time.monotonic() - t0) * 1000))
            return 0
        if time.monotonic() - t0 > timeout:
            print(f"still {busy} requests in flight after {timeout} s", file=sys.stderr)
            print(round((time.monotonic() - t0) * 1000))
            return 1
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------------------------
# Loopback round trip: a request of REQ bytes, a reply of 16 bytes, one at a time, between two processes over
# 127.0.0.1 with TCP_NODELAY; median of many single round trips. The C version (compiled when a C compiler is
# there) is the floor; the Python one includes interpreter overhead on both sides (an upper bound).

C_SRC = r"""
#define _GNU_SOURCE
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static void full(int fd, char *b, int n, int rd) {
  while (n > 0) { int k = rd ? recv(fd, b, n, 0) : send(fd, b, n, 0); if (k <= 0) exit(1); b += k; n -= k; }
}
static int cmp(const void *a, const void *b) { long x = *(long *)a, y = *(long *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  /* PIN: -1 no pinning; else the client runs on CPU 0 and the server on CPU PIN */
  int req = atoi(argv[1]), n = atoi(argv[2]), pin = argc > 3 ? atoi(argv[3]) : -1, one = 1;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  cpu_set_t cs;
  struct sockaddr_in a; socklen_t al = sizeof a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (void *)&a, sizeof a) || listen(s, 1) || getsockname(s, (void *)&a, &al)) return 1;
  static char buf[1 << 20]; long *t = malloc(sizeof(long) * n);
  if (pin >= 0) { CPU_ZERO(&cs); CPU_SET(0, &cs); sched_setaffinity(0, sizeof cs, &cs); }
  if (fork() == 0) {
    if (pin >= 0) { CPU_ZERO(&cs); CPU_SET(pin, &cs); sched_setaffinity(0, sizeof cs, &cs); }
    int c = accept(s, 0, 0); setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int i = 0; i < n + 100; i++) { full(c, buf, req, 1); full(c, buf, 16, 0); }
    return 0;
  }
  int c = socket(AF_INET, SOCK_STREAM, 0); setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c, (void *)&a, sizeof a)) return 1;
  for (int i = 0; i < n + 100; i++) {
    struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
    full(c, buf, req, 0); full(c, buf, 16, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (i >= 100) t[i - 100] = (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec;
  }
  wait(0); qsort(t, n, sizeof(long), cmp);
  printf("%.2f %.2f %.2f\n", t[n / 2] / 1e3, t[n / 10] / 1e3, t[n * 99 / 100] / 1e3);
  return 0;
}
"""


def rtt_python(req, n, pin=None):
    """Median, p10, p99 in µs; pin: None, or the CPU of the server process (the client runs on CPU 0)."""
    old = os.sched_getaffinity(0)
    if pin is not None:
        os.sched_setaffinity(0, {0})
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    total = n + 100
    pid = os.fork()
    if pid == 0:
        if pin is not None:
            os.sched_setaffinity(0, {pin})
        c, _ = srv.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        reply = b"r" * 16
        for _ in range(total):
            got = 0
            while got < req:
                k = c.recv_into(view[got:req])
                if not k:
                    os._exit(1)
                got += k
            c.sendall(reply)
        os._exit(0)
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg, out, clock = b"q" * req, [], time.perf_counter_ns
    buf = bytearray(16)
    for i in range(total):
        t0 = clock()
        c.sendall(msg)
        got = 0
        while got < 16:
            got += c.recv_into(memoryview(buf)[got:])
        if i >= 100:
            out.append(clock() - t0)
    os.waitpid(pid, 0)
    c.close()
    srv.close()
    os.sched_setaffinity(0, old)
    out.sort()
    return out[n // 2] / 1e3, out[n // 10] / 1e3, out[n * 99 // 100] / 1e3


def rtt(out_path, n=20000, cc=None):
    """Round trips between two processes pinned to different CPUs ("cross": a peer is another machine, with its own
    CPU, so each hop wakes another CPU) and to the same CPU ("same"), and unpinned ("free", which lands on either,
    as the scheduler decides). C when a compiler is there, else Python (which adds interpreter time)."""
    res = dict(request_bytes=4096, reply_bytes=16)
    cross = 1 if len(os.sched_getaffinity(0)) > 1 and 1 in os.sched_getaffinity(0) else None
    pins = dict(same=0, free=None) if cross is None else dict(cross=1, same=0, free=None)
    res["python"] = {k: dict(zip(("p50_us", "p10_us", "p99_us"), rtt_python(4096, n, pin))) for k, pin in pins.items()}
    if cc:
        work = os.path.dirname(os.path.abspath(out_path))
        src, exe = os.path.join(work, "rtt.c"), os.path.join(work, "rtt")
        open(src, "w").write(C_SRC)
        r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True, text=True)
        if r.returncode == 0:
            res["c"] = {}
            for k, pin in pins.items():
                args = [exe, "4096", str(n)] + ([] if pin is None else [str(pin)])
                out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
                res["c"][k] = dict(zip(("p50_us", "p10_us", "p99_us"), (float(x) for x in out)))
        else:
            res["c_error"] = r.stderr.strip()[:500]
    res["samples"] = n
    json.dump(res, open(out_path, "w"), indent=1)
    print(json.dumps(res))


# ---------------------------------------------------------------------------------------------------------------
# Report

def unit(job):
    return "iops" if "-4k-" in job else "mib_s"


UNIT_LABEL = {"iops": "IOPS", "mib_s": "MiB/s"}


def load_fio(path):
    text = open(path).read()
    job = json.loads(text[text.index("{"):])["jobs"][0]
    if job.get("error"):
        sys.exit(f"{path}: fio reported error {job['error']}")
    return job


def measure(d, row, clk, nodes):
    wall = int(row["wall_ns"]) / 1e9
    per_node = [int(x) for x in row["node_ticks"].split(",")]
    if row["kind"] == "fio":
        job = load_fio(os.path.join(d, row["file"]))
        m = job["mixed"]
        moved = m["io_bytes"]
        clat, lat = m["clat_ns"], m["lat_ns"]
        out = dict(iops=m["iops"], mib_s=m["bw_bytes"] / MIB,
                   clat_mean_us=clat["mean"] / 1e3, clat_p50_us=clat["percentile"]["50.000000"] / 1e3,
                   clat_p99_us=clat["percentile"]["99.000000"] / 1e3,
                   clat_p999_us=clat["percentile"]["99.900000"] / 1e3,
                   lat_mean_us=lat["mean"] / 1e3, lat_p99_us=lat["percentile"]["99.000000"] / 1e3,
                   client_cores=(job["usr_cpu"] + job["sys_cpu"]) / 100)
        window = job["job_runtime"] / 1e3 + int(row["drain_ms"]) / 1e3
    else:
        moved = int(row["bytes"])
        out = dict(mib_s=moved / MIB / wall, wall_s=wall)
        window = wall + int(row["drain_ms"]) / 1e3
    gib = moved / GIB
    cpu = sum(per_node) / clk
    out.update(gib_moved=gib, cpu_s=cpu, cpu_s_per_gib=cpu / gib if gib else None,
               node_cores=cpu / window if window > 0 else None, drain_ms=int(row["drain_ms"]))
    if row.get("machine_busy_ticks"):
        # everything else the machine ran in the window: other users' processes (and nbdcopy, whose CPU is not
        # measured separately); steal = time the hypervisor gave our vCPUs to someone else
        busy = int(row["machine_busy_ticks"]) / clk / window
        out["machine_cores"] = busy
        out["other_cores"] = max(0.0, busy - out["node_cores"] - out.get("client_cores", 0))
        out["steal_cores"] = int(row["machine_steal_ticks"]) / clk / window
        out["loadavg"] = float(row["loadavg"])
    for name, ticks in zip(nodes, per_node):
        out[f"cpu_s_per_gib_{name}"] = ticks / clk / gib if gib else None
    return out


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    med = statistics.median(values)
    return dict(median=med, min=min(values), max=max(values),
                spread_pct=(max(values) - min(values)) / med * 100 if med else None, values=values)


def fmt(x):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def fr(r):
    return "–" if r is None else f"{r:.2f}×"


def rounded(x):
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def report(d):
    meta, tools = {}, {}
    for line in open(os.path.join(d, "raw", "meta.tsv")):
        f = line.rstrip("\n").split("\t")
        if f[0] == "tool":
            tools[f[1]] = f[2]
        elif f[0] == "loadavg":
            meta["loadavg_start"], meta["loadavg_end"] = f[1], f[2]
        else:
            meta[f[0]] = f[1]
    configs = meta["configs"].split()
    reps, clk = int(meta["reps"]), int(meta["clk_tck"])
    nodes_of = {c: (["alpha"] if c == "single" else ["alpha", "bravo", "charlie"][:int(c[1])]) for c in configs}

    def num(x):
        """runtime_s and ramp_s: whole seconds, or fractions for runs given in milliseconds"""
        v = float(x)
        return int(v) if v == int(v) else v
    runs = {}
    with open(os.path.join(d, "raw", "runs.tsv")) as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            runs.setdefault((row["config"], row["job"]), []).append(measure(d, row, clk, nodes_of[row["config"]]))
    jobs = [j for j in JOB_ORDER if any((c, j) in runs for c in configs)]
    starts = [json.loads(l) for l in open(os.path.join(d, "raw", "starts.jsonl"))]
    problems = [l.rstrip("\n") for l in open(os.path.join(d, "raw", "problems.txt"))] \
        if os.path.exists(os.path.join(d, "raw", "problems.txt")) else []
    warnings = [l.rstrip("\n") for l in open(os.path.join(d, "raw", "warnings.txt"))] \
        if os.path.exists(os.path.join(d, "raw", "warnings.txt")) else []
    loop = json.load(open(os.path.join(d, "raw", "rtt.json")))
    loop_end = json.load(open(os.path.join(d, "raw", "rtt-end.json"))) \
        if os.path.exists(os.path.join(d, "raw", "rtt-end.json")) else None

    def stat(c, j, k):
        return summary([r.get(k) for r in runs.get((c, j), [])])

    def med(c, j, k):
        s = stat(c, j, k)
        return s["median"] if s else None

    base = "single" if "single" in configs else None

    def vs(c, j, k):
        if not base:
            return None
        a, b = med(c, j, k), med(base, j, k)
        return a / b if a is not None and b else None

    # the loopback round trip used for target 2: processes on different CPUs (a peer is another machine), the C
    # ping-pong when it ran, else Python; the mean of the medians measured at the start and at the end of the run
    which = "c" if "c" in loop else "python"
    kind = "cross" if "cross" in loop[which] else "same"
    rtts = [loop[which][kind]["p50_us"]] + ([loop_end[which][kind]["p50_us"]] if loop_end and which in loop_end else [])
    rtt_us = statistics.mean(rtts)

    el = int(meta["elapsed_s"])
    size = int(meta["size_bytes"])
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    host = f"{os.cpu_count()} CPUs, {mem:.1f} GiB RAM, {meta['kernel']}"
    sz = f"{size / GIB:g} GiB" if size >= GIB else f"{size / MIB:g} MiB"
    L = [f"# mirra replication comparison{' (quick smoke run)' if meta['quick'] == '1' else ''} — {date}", "",
         f"`{meta['command']}` — repo at {meta['repo_git']}; {host}; disks on {meta['fs']}.",
         f"{reps} rep(s), configurations interleaved rep by rep (order rotated each rep); fio jobs "
         f"{meta['runtime_s']} s after a {meta['ramp_s']} s ramp on the whole {sz} volume; total wall time "
         f"{el // 60} min {el % 60} s.",
         "Configurations: " + "; ".join(f"**{c}** = {DESCRIBE[c]}" for c in configs) +
         ". All nodes on this machine, replication over 127.0.0.1; the client talks to alpha (Primary).",
         "Tools: " + "; ".join(tools.values()) + ".", ""]

    # -------- throughput
    L += ["## Throughput", "",
          "Median over reps (ratio to single node" + (", min–max spread over reps" if reps > 1 else "") + ").",
          ""]
    L += ["| job | unit | " + " | ".join(configs) + " |", "|---|---|" + "--:|" * len(configs)]
    for j in jobs:
        u = unit(j)
        cells = []
        for c in configs:
            s = stat(c, j, u)
            if not s:
                cells.append("–")
                continue
            inner = [] if c == base or not base else [fr(vs(c, j, u))]
            if reps > 1:
                inner.append(f"±{s['spread_pct'] / 2:.0f}%")
            cells.append(fmt(s["median"]) + (f" ({', '.join(inner)})" if inner else ""))
        L.append(f"| {j} | {UNIT_LABEL[u]} | " + " | ".join(cells) + " |")

    # -------- latency
    L += ["", "## Latency", "",
          "Completion latency (fio `clat`: submission to completion, through the nbd engine) in µs, median over "
          "reps of each rep's figure; ratio of the mean to single node.", ""]
    L += ["| job | figure | " + " | ".join(configs) + " |", "|---|---|" + "--:|" * len(configs)]
    fio_jobs = [j for j in jobs if j != "nbdcopy-in"]
    for j in fio_jobs:
        L.append(f"| {j} | mean | " + " | ".join(
            fmt(med(c, j, "clat_mean_us")) + ("" if c == base or not base else f" ({fr(vs(c, j, 'clat_mean_us'))})")
            for c in configs) + " |")
        for k, lab in (("clat_p50_us", "p50"), ("clat_p99_us", "p99")):
            if j == "randwrite-4k-qd1" or k == "clat_p99_us":
                L.append(f"| | {lab} | " + " | ".join(fmt(med(c, j, k)) for c in configs) + " |")

    # -------- CPU
    L += ["", "## CPU per GiB moved, all node processes", "",
          "User + system CPU seconds of every node process (all threads; /proc/PID/stat), from the end of the "
          "ramp to the end of the job (and, with protocol A, until the replication queue drained), divided by the "
          "GiB the client wrote or read in that window; median over reps (ratio to single node).", ""]
    L += ["| job | " + " | ".join(configs) + " |", "|---|" + "--:|" * len(configs)]
    for j in jobs:
        L.append(f"| {j} | " + " | ".join(
            fmt(med(c, j, "cpu_s_per_gib")) + ("" if c == base or not base else f" ({fr(vs(c, j, 'cpu_s_per_gib'))})")
            for c in configs) + " |")
    L += ["", "Per node (alpha = Primary, then the Secondaries), CPU s/GiB; then where the machine's " +
          str(os.cpu_count()) + " cores went during the job (CPU seconds per wall second): the node processes, fio "
          "(the client), and everything else running on the machine (other users' processes; nbdcopy's own CPU "
          "for nbdcopy-in), medians over reps:", ""]
    L += ["| job | " + " | ".join(configs) + " |", "|---|" + "--:|" * len(configs)]
    for j in jobs:
        cells = []
        for c in configs:
            parts = " + ".join(fmt(med(c, j, f"cpu_s_per_gib_{n}")) for n in nodes_of[c])
            busy, cl, oth = med(c, j, "node_cores"), med(c, j, "client_cores"), med(c, j, "other_cores")
            cells.append(f"{parts}; nodes {fmt(busy)}" + (f" + fio {fmt(cl)}" if cl is not None else "") +
                         (f" + others {fmt(oth)}" if oth is not None else ""))
        L.append(f"| {j} | " + " | ".join(cells) + " |")

    # -------- targets
    allrows = [r for v in runs.values() for r in v]
    oth = [r["other_cores"] for r in allrows if "other_cores" in r]
    stl = [r["steal_cores"] for r in allrows if "steal_cores" in r]
    la = [r["loadavg"] for r in allrows if "loadavg" in r]
    if oth:
        L += ["", f"Interference from the rest of the machine over all measured jobs: other processes used "
                  f"{fmt(statistics.median(oth))} cores (median; max {fmt(max(oth))}), steal "
                  f"{fmt(statistics.median(stl))} cores (max {fmt(max(stl))}); 1-minute load average "
                  f"{fmt(min(la))}–{fmt(max(la))} (at the start of the run {meta.get('loadavg_start', '?')}, "
                  f"at the end {meta.get('loadavg_end', '?')})."]
    L += ["", "## Targets", ""]
    targets = {}
    if base and "c3" in configs:
        s1, s3 = med(base, "write-1m-qd8", "mib_s"), med("c3", "write-1m-qd8", "mib_s")
        ok = s3 >= 0.5 * s1
        targets["seq_write_c3_half_of_single"] = dict(single_mib_s=s1, c3_mib_s=s3, ratio=s3 / s1, bound=0.5, holds=ok)
        L.append(f"1. **Three nodes, protocol C, sequential write ≥ ½ of single node** (write-1m-qd8): c3 "
                 f"{fmt(s3)} MiB/s vs single {fmt(s1)} MiB/s = {s3 / s1:.2f}× → **{'MET' if ok else 'NOT MET'}**" +
                 (f" (nbdcopy-in, for reference: {fr(vs('c3', 'nbdcopy-in', 'mib_s'))})"
                  if med("c3", "nbdcopy-in", "mib_s") else "") + ".")
        l1, l3 = med(base, "randwrite-4k-qd1", "clat_mean_us"), med("c3", "randwrite-4k-qd1", "clat_mean_us")
        p1, p3 = med(base, "randwrite-4k-qd1", "clat_p50_us"), med("c3", "randwrite-4k-qd1", "clat_p50_us")
        bound = l1 + 2 * rtt_us + 50
        ok2 = l3 <= bound
        targets["qd1_write_latency_c3"] = dict(single_mean_us=l1, c3_mean_us=l3, loopback_rtt_us=rtt_us,
                                               rtt_tool=which, bound_us=bound, holds=ok2, single_p50_us=p1,
                                               c3_p50_us=p3, bound_p50_us=p1 + 2 * rtt_us + 50,
                                               holds_p50=p3 <= p1 + 2 * rtt_us + 50)
        L.append(f"2. **Three nodes, protocol C, 4k QD1 write latency ≤ single + 2 loopback round trips + 50 µs** "
                 f"(randwrite-4k-qd1, mean clat): bound {fmt(l1)} + 2 × {fmt(rtt_us)} + 50 = **{fmt(bound)} µs**; "
                 f"c3 {fmt(l3)} µs → **{'MET' if ok2 else 'NOT MET'}** "
                 f"(c3 − single = {fmt(l3 - l1)} µs, {(l3 - l1) / rtt_us:.1f} round trips). "
                 f"On the p50: single {fmt(p1)}, c3 {fmt(p3)}, bound {fmt(p1 + 2 * rtt_us + 50)} → "
                 f"{'met' if p3 <= p1 + 2 * rtt_us + 50 else 'not met'}.")
    else:
        L.append("Not evaluated: the targets need the configurations single and c3.")
    diskless = {}
    if "d3" in configs:
        # a diskless Primary: every read is a READ_REQUEST to bravo or charlie and the data comes back over loopback;
        # compared with reads from a local disk (single node; c3 has the same three nodes, alpha with a disk)
        L += ["", "## Diskless Primary (d3)", "",
              "alpha has no disk: reads go to an UpToDate peer (bravo or charlie) and come back over loopback, "
              "writes go to both peers (protocol C). Median over reps; ratios to single node (local disk) and to "
              "c3 (the same three nodes with a disk on alpha, whose reads are local).", ""]
        L += ["| job | unit | d3 | d3 ÷ single | d3 ÷ c3 | clat mean / p99 µs (d3) | CPU s/GiB (d3; alpha + bravo + charlie) |",
              "|---|---|--:|--:|--:|--:|--:|"]
        for j in jobs:
            u = unit(j)
            v = med("d3", j, u)
            if v is None:
                continue
            r1 = vs("d3", j, u)
            c3v = med("c3", j, u) if "c3" in configs else None
            r3 = v / c3v if c3v else None
            diskless[j] = dict(unit=u, d3=v, ratio_to_single=r1, ratio_to_c3=r3)
            lat = (f"{fmt(med('d3', j, 'clat_mean_us'))} / {fmt(med('d3', j, 'clat_p99_us'))}"
                   if med("d3", j, "clat_mean_us") is not None else "–")
            parts = " + ".join(fmt(med("d3", j, f"cpu_s_per_gib_{n}")) for n in nodes_of["d3"])
            L.append(f"| {j} | {UNIT_LABEL[u]} | {fmt(v)} | {fr(r1)} | {fr(r3)} | {lat} | "
                     f"{fmt(med('d3', j, 'cpu_s_per_gib'))} ({parts}) |")
    def rtt_cells(m):
        return ", ".join(f"{k} {fmt(v['p50_us'])}" for k, v in m.items())
    L += ["", "Loopback round trip, 4 KiB request and 16 B reply, one at a time, TCP_NODELAY, between two processes, "
              f"median of {loop['samples']} round trips in µs — at the start: " +
          (f"C {rtt_cells(loop['c'])}; " if "c" in loop else f"C not measured ({loop.get('c_error', 'no C compiler')}); ") +
          f"Python {rtt_cells(loop['python'])}" +
          ("; at the end: " + (f"C {rtt_cells(loop_end['c'])}; " if "c" in loop_end else "") +
           f"Python {rtt_cells(loop_end['python'])}" if loop_end else "") +
          ". *cross*: the two processes pinned to different CPUs, *same*: both on one CPU, *free*: unpinned (it "
          "lands on either). A peer is another machine with its own CPU, so target 2 uses " +
          f"{'C' if which == 'c' else 'Python'} *{kind}*: {fmt(rtt_us)} µs (mean of start and end). On this VM, "
          "waking a process on the other vCPU is what makes *cross* slower than *same*."]
    targets.get("qd1_write_latency_c3", {})["rtt_kind"] = kind

    # -------- starts, problems
    L += ["", "## Node starts", "",
          "Per start: time from launching the node processes until every node reported itself ready (disks UpToDate, "
          "peers Connected and Established, 0 KiB out of sync), and whether a resync ran first.", ""]
    L += ["| config | starts | ready after (s, median / max) | resyncs seen | stop (s, max) | exit codes |",
          "|---|--:|--:|--:|--:|---|"]
    for c in configs:
        ss = [s for s in starts if s["config"] == c and s["phase"] != "prefill"]
        if not ss:
            continue
        w = [s["ready"]["waited_s"] for s in ss if s.get("ready")]
        codes = sorted({str(x) for s in ss for x in s.get("exit_codes", [])})
        L.append(f"| {c} | {len(ss)} | {fmt(statistics.median(w)) if w else '–'} / {fmt(max(w)) if w else '–'} | "
                 f"{sum(1 for s in ss if s.get('ready', {}).get('resync_seen'))} | "
                 f"{fmt(max((s.get('stop_s') or 0) for s in ss))} | {', '.join(codes) or '–'} |")
    L += ["", "Problems recorded during the run: " + ("none." if not problems else "")]
    L += [f"- {p}" for p in problems]
    if warnings:
        L += ["", "WARNING lines in the node logs (the nodes carried on; not counted as problems):"]
        L += [f"- {w}" for w in warnings]
    L += ["", "## How it was run", "",
          "Each configuration is a resource `bench` with one volume of the whole size, in its own config "
          "directory (DIR/conf/CONFIG/bench.yaml); c2/a2 share the disks and state directories of the 2-node set, "
          "c3/a3 those of the 3-node set, d3 has its own (bravo's and charlie's disks; alpha is diskless). Each set is created once per run (the nodes create the disk files, "
          "then one nbdcopy through the Primary writes every byte, so no disk is sparse afterwards) and kept "
          "between reps. Per configuration and rep: the node processes are started (`mirra node`), polled through "
          "their admin endpoints (`GET /v1/status?json=1`) until ready, alpha is made Primary "
          "(`POST /v1/primary?resource=bench` to its admin endpoint: what `mirra primary bench` sends), the jobs "
          "run against `nbd://127.0.0.1:PORT/bench` on alpha, then `POST /v1/secondary` and SIGTERM to every node, "
          "waited for by pid." + ("" if meta.get("prefill", "1") == "1" else
                                   " **No prefill** (`--no-prefill`): the disks were written by the first "
                                   "nbdcopy-in of each set.") +
          (f" **Profiled** (REPL_PROFILE={meta['profile']}): the nodes ran a profiler during those jobs, "
           f"profiles in {d}/raw/profile/." if meta.get("profile") else ""),
          "",
          f"fio: `--ioengine=nbd --uri=nbd://127.0.0.1:PORT/bench --size=VOLUME --time_based "
          f"--runtime={meta['runtime_s']} --ramp_time={meta['ramp_s']} --norandommap --randrepeat=0 "
          "--unified_rw_reporting=mixed` plus the job's --rw/--bs/--iodepth; nbdcopy-in copies a random "
          f"(AES-CTR) file of the volume size into the export with nbdcopy's defaults. Raw data: {d}/raw/, "
          f"node logs: {d}/logs/."]
    open(os.path.join(d, "results.md"), "w").write("\n".join(L) + "\n")

    keys = ("iops", "mib_s", "clat_mean_us", "clat_p50_us", "clat_p99_us", "clat_p999_us", "lat_mean_us",
            "lat_p99_us", "cpu_s", "cpu_s_per_gib", "node_cores", "client_cores", "machine_cores", "other_cores",
            "steal_cores", "loadavg", "gib_moved", "wall_s", "drain_ms")
    results = {}
    for j in jobs:
        per = {}
        for c in configs:
            if (c, j) in runs:
                ks = list(keys) + [f"cpu_s_per_gib_{n}" for n in nodes_of[c]]
                per[c] = {k: stat(c, j, k) for k in ks if stat(c, j, k)}
                if base and c != base:
                    per[c]["ratio_to_single"] = dict(throughput=vs(c, j, unit(j)),
                                                     clat_mean=vs(c, j, "clat_mean_us"),
                                                     cpu_s_per_gib=vs(c, j, "cpu_s_per_gib"))
        results[j] = dict(unit=unit(j), configs=per)
    out = dict(meta=dict(date=date, host=host, command=meta["command"], repo_git=meta["repo_git"],
                         filesystem=meta["fs"], configs=configs, reps=reps, quick=meta["quick"] == "1",
                         runtime_s=num(meta["runtime_s"]), ramp_s=num(meta["ramp_s"]), size_bytes=size,
                         prefill=meta.get("prefill", "1") == "1", rtt_samples=int(meta.get("rtt_samples", 20000)),
                         profile=meta.get("profile") or None,
                         elapsed_s=el, tools=tools, loadavg_start=meta.get("loadavg_start"),
                         loadavg_end=meta.get("loadavg_end")),
               results=results, targets=targets, diskless_primary=diskless or None,
               loopback_rtt=dict(start=loop, end=loop_end, used_us=rtt_us),
               starts=starts, problems=problems, warnings=warnings)
    with open(os.path.join(d, "results.json"), "w") as fh:
        json.dump(rounded(out), fh, indent=1)
        fh.write("\n")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd = a.pop(0)
    if cmd == "wait-ready":
        sys.exit(wait_ready(float(a[0]), [int(p) for p in a[1].split(",")], a[2:]))
    elif cmd == "role":
        print(get_status(a[0])[0]["role"])
    elif cmd == "drain":
        sys.exit(drain(float(a[0]), a[1]))
    elif cmd == "post":
        post(a[0])
    elif cmd == "rtt":
        rtt(a[0], int(a[1]), a[2] if len(a) > 2 else None)
    elif cmd == "report":
        report(a[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
