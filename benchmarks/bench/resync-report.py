#!/usr/bin/env python3
"""Helpers and report for resync-compare.sh.

usage: resync-report.py wait-ready TIMEOUT PIDS URL...        poll the nodes' admin status until ready
       resync-report.py role URL                              print the role of the node behind URL
       resync-report.py post URL                              POST to an admin URL (e.g. /v1/primary?resource=R)
       resync-report.py wait-standalone TIMEOUT URL PEER      wait until the node shows PEER StandAlone
       resync-report.py wait-admin TIMEOUT PID URL            wait until a node's admin endpoint answers
       resync-report.py resync TIMEOUT PIDS URL CONNECT PEER [START_FILE]   time one resync (see below)
       resync-report.py resync-log LOG SKIP PEER              the resync lines of a node log after line SKIP
       resync-report.py run OUT.json PIDS CMD [ARG...]        run CMD, write its exit code, wall time and CPU
       resync-report.py record RUNS KEY=VALUE...              append one measurement to RUNS (JSON lines)
       resync-report.py report DIR                            DIR/results.md and DIR/results.json

URL is a node's admin status URL (http://HOST:PORT/v1/status?resource=R&json=1), PIDS a comma-separated
list of node pids that must stay alive while polling.

resync: waits for START_FILE to exist when given (so that the connect follows the start of a concurrent job
within milliseconds), reads the CPU ticks of PIDS and of the machine, POSTs to CONNECT (the node's /v1/connect?resource=R&peer=P
URL; '-' for none: the resync is already on its way), then polls URL every 50 ms until PEER is Connected and every
volume of it Established, UpToDate and 0 KiB out of sync, reads the ticks again and prints one JSON object. Exit 0
when in sync, 1 on timeout, 2 when a node process died, 3 when START_FILE did not appear within 60 s.

run: CMD gets SIGTERM when this helper dies (PR_SET_PDEATHSIG), so stopping the helper stops CMD. Also reads the
CPU ticks of PIDS ('-' for none: comma-separated) and of the machine just before and after CMD.

record: VALUE is taken as JSON when it parses as such, as a string otherwise; @FILE is the JSON object in FILE.
"""
import json
import os
import re
import statistics
import sys
import time
import urllib.error
import urllib.request

GIB = 2 ** 30
MIB = 2 ** 20
POLL_S = 0.05
CASE_ORDER = ("bitmap", "bitmap-warm", "full", "bitmap-app", "full-app", "nbdcopy")
DESCRIBE = {
    "bitmap": "bitmap resync, 1 % out of sync",
    "bitmap-warm": "the same again, 2nd resync in the same node processes",
    "full": "full sync, 100 % out of sync",
    "bitmap-app": "bitmap resync, 1 %, with application writes",
    "full-app": "full sync, 100 %, with application writes",
    "nbdcopy": "nbdcopy reference: nbdkit → nbdkit over loopback, --flush",
}


# ---------------------------------------------------------------------------------------------------------------
# /proc

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            st = fh.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2:].split()[0] != "Z"


def ticks(pid):
    """utime + stime + cutime + cstime of the process (every thread), in clock ticks; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            st = fh.read()
    except OSError:
        return 0
    f = st[st.rindex(")") + 2:].split()
    return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])


def machine():
    """(busy, steal) ticks of all CPUs: busy = user + nice + system + irq + softirq + steal."""
    with open("/proc/stat") as fh:
        f = fh.readline().split()
    return int(f[1]) + int(f[2]) + int(f[3]) + int(f[6]) + int(f[7]) + int(f[8]), int(f[8])


def loadavg():
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


# ---------------------------------------------------------------------------------------------------------------
# Admin endpoint

def get_status(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def post(url, timeout=10.0):
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as ex:
        raise RuntimeError(f"POST {url}: HTTP {ex.code}: {ex.read().decode(errors='replace').strip()}") from None


def not_ready(res):
    """Why one node's status of the resource is not ready (list of strings; empty = ready)."""
    why = []
    for dev in res["devices"]:
        if not dev["client"] and dev["disk-state"] != "UpToDate":
            why.append(f"disk {dev['volume']} {dev['disk-state']}")
    for conn in res["connections"]:
        why += conn_not_in_sync(conn)
    return why


def conn_not_in_sync(conn):
    if conn["connection-state"] != "Connected":
        return [f"{conn['name']} {conn['connection-state']}" +
                (f" ({conn['mirra-reason']})" if conn.get("mirra-reason") else "")]
    why = []
    for pd in conn["peer_devices"]:
        if (pd["replication-state"] != "Established" or pd["out-of-sync"] != 0 or
                (not pd["peer-client"] and pd["peer-disk-state"] != "UpToDate")):
            why.append(f"{conn['name']} vol {pd['volume']} {pd['replication-state']} "
                       f"peer-disk {pd['peer-disk-state']} out-of-sync {pd['out-of-sync']} KiB")
    return why


def peer_conn(res, peer):
    for conn in res["connections"]:
        if conn["name"] == peer:
            return conn
    raise SystemExit(f"no connection to {peer} in the status of {res['name']}")


def wait_ready(timeout, pids, urls):
    t0 = time.monotonic()
    last_why = {}
    while True:
        for pid in pids:
            if not alive(pid):
                print(json.dumps(dict(ready=False, died=pid, waited_s=round(time.monotonic() - t0, 2),
                                      last=last_why)))
                return 2
        all_ok = True
        for url in urls:
            try:
                res = get_status(url)[0]
            except (OSError, urllib.error.URLError, ValueError) as ex:
                last_why[url] = [f"admin endpoint: {ex}"]
                all_ok = False
                continue
            why = not_ready(res)
            last_why[url] = why
            if why:
                all_ok = False
        if all_ok:
            print(json.dumps(dict(ready=True, waited_s=round(time.monotonic() - t0, 2))))
            return 0
        if time.monotonic() - t0 > timeout:
            print(json.dumps(dict(ready=False, timeout_s=timeout, last=last_why)))
            return 1
        time.sleep(0.1)


def wait_standalone(timeout, url, peer):
    t0 = time.monotonic()
    while True:
        conn = peer_conn(get_status(url)[0], peer)
        if conn["connection-state"] == "StandAlone":
            print(round((time.monotonic() - t0) * 1000))
            return 0
        if time.monotonic() - t0 > timeout:
            print(f"{peer} still {conn['connection-state']} after {timeout} s", file=sys.stderr)
            return 1
        time.sleep(0.02)


def wait_admin(timeout, pid, url):
    """Wait until a freshly started node answers; print its disk states and connection states."""
    t0 = time.monotonic()
    last = ""
    while True:
        if not alive(pid):
            print(json.dumps(dict(up=False, died=pid, last=last)))
            return 2
        try:
            res = get_status(url, timeout=1.0)[0]
            print(json.dumps(dict(up=True, waited_s=round(time.monotonic() - t0, 3),
                                  disks=[d["disk-state"] for d in res["devices"]],
                                  connections={c["name"]: c["connection-state"] for c in res["connections"]})))
            return 0
        except (OSError, urllib.error.URLError, ValueError) as ex:
            last = str(ex)
        if time.monotonic() - t0 > timeout:
            print(json.dumps(dict(up=False, timeout_s=timeout, last=last)))
            return 1
        time.sleep(0.05)


def resync(timeout, pids, url, connect_url, peer, start_file=None):
    if start_file:
        t = time.monotonic()
        while not os.path.exists(start_file):
            if time.monotonic() - t > 60:
                print(json.dumps(dict(in_sync=False, error=f"{start_file} did not appear within 60 s")))
                return 3
            time.sleep(0.002)
    before = get_status(url)[0]
    conn = peer_conn(before, peer)
    out = dict(before=dict(connection=conn["connection-state"],
                           out_of_sync_kib=sum(pd["out-of-sync"] for pd in conn["peer_devices"]),
                           peer_disk=[pd["peer-disk-state"] for pd in conn["peer_devices"]]))
    c0 = [ticks(p) for p in pids]
    m0 = machine()
    t0 = time.monotonic()
    out["t0_ns"] = time.time_ns()
    if connect_url != "-":
        post(connect_url)
    out["connect_ms"] = round((time.monotonic() - t0) * 1000, 1)
    first, max_oos, polls, errors, last = {}, 0, 0, 0, []
    rc = None
    while rc is None:
        dead = [p for p in pids if not alive(p)]
        if dead:
            out["died"] = dead
            rc = 2
            break
        try:
            res = get_status(url)[0]
        except (OSError, urllib.error.URLError, ValueError) as ex:
            errors += 1
            last = [f"admin endpoint: {ex}"]
            res = None
        now = time.monotonic() - t0
        if res is not None:
            polls += 1
            conn = peer_conn(res, peer)
            seen = [f"connection {conn['connection-state']}"]
            for pd in conn["peer_devices"]:
                seen += [f"replication {pd['replication-state']}", f"peer-disk {pd['peer-disk-state']}"]
                max_oos = max(max_oos, pd["out-of-sync"])
                if pd.get("mirra-resync-rate") is not None:
                    out["last_rate_kib_s"] = pd["mirra-resync-rate"]
            for s in seen:
                first.setdefault(s, round(now, 3))
            last = conn_not_in_sync(conn) + [f"disk {d['disk-state']}" for d in res["devices"]
                                             if not d["client"] and d["disk-state"] != "UpToDate"]
            if not last:
                rc = 0
                break
        if now > timeout:
            rc = 1
            break
        # a fixed 50 ms cadence from the connect
        time.sleep(max(0.0, t0 + (int(now / POLL_S) + 1) * POLL_S - time.monotonic()))
    t1 = time.monotonic()
    out["done_ns"] = time.time_ns()
    c1 = [ticks(p) for p in pids]
    m1 = machine()
    out.update(in_sync=rc == 0, seconds=round(t1 - t0, 4), polls=polls, poll_errors=errors, first_seen=first,
               max_out_of_sync_kib=max_oos, node_ticks=[b - a for a, b in zip(c0, c1)],
               machine_busy_ticks=m1[0] - m0[0], machine_steal_ticks=m1[1] - m0[1], loadavg=loadavg())
    if rc != 0:
        out["last"] = last
    print(json.dumps(out))
    return rc


# ---------------------------------------------------------------------------------------------------------------
# Node log: "2026-11-25 15:27:20.523 INFO io.mirra...ReplicatedResource: bench/0: resync to bravo starts: 2684354
# bytes out of sync (bitmap)" and "... resync to bravo done: 2684354 bytes sent" (numbers may carry the grouping
# separators of the node's locale)

LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")


def log_time(line):
    m = LOG_TS.match(line)
    if not m:
        return None
    t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S"))
    return t + int(m.group(1)[20:]) / 1000


def number(text):
    return int(re.sub(r"[^0-9]", "", text))


def resync_log(path, skip, peer):
    starts = re.compile(rf": resync to {re.escape(peer)} starts: (.+?) bytes out of sync \((\w+)\)")
    done = re.compile(rf": resync to {re.escape(peer)} done: (.+?) bytes sent")
    out = dict(starts=0, dones=0)
    with open(path, errors="replace") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            m = starts.search(line)
            if m:
                out["starts"] += 1
                out.update(mode=m.group(2), start_out_of_sync_bytes=number(m.group(1)), start_time=log_time(line),
                           start_line=line.strip()[:300])
            m = done.search(line)
            if m:
                out["dones"] += 1
                out.update(sent_bytes=number(m.group(1)), done_time=log_time(line), done_line=line.strip()[:300])
    if out.get("start_time") is not None and out.get("done_time") is not None:
        out["engine_s"] = round(out["done_time"] - out["start_time"], 3)
    print(json.dumps(out))
    return 0 if out["dones"] else 1


def run(out, pids, argv):
    import ctypes
    import signal
    import subprocess
    libc = ctypes.CDLL(None, use_errno=True)

    def die_with_parent():
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    c0, m0 = [ticks(p) for p in pids], machine()
    t0 = time.monotonic_ns()
    p = subprocess.Popen(argv, preexec_fn=die_with_parent)
    _, status, ru = os.wait4(p.pid, 0)
    t1 = time.monotonic_ns()
    c1, m1 = [ticks(p) for p in pids], machine()
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    with open(out, "w") as fh:
        json.dump(dict(argv=argv, rc=rc, wall_ns=t1 - t0, cpu_s=round(ru.ru_utime + ru.ru_stime, 3),
                       utime_s=round(ru.ru_utime, 3), stime_s=round(ru.ru_stime, 3),
                       ticks=[b - a for a, b in zip(c0, c1)], machine_busy_ticks=m1[0] - m0[0],
                       machine_steal_ticks=m1[1] - m0[1], loadavg=loadavg()), fh)
    return rc


def record(path, items):
    rec = {}
    for item in items:
        key, _, value = item.partition("=")
        if value.startswith("@"):
            text = open(value[1:]).read().strip()
            rec[key] = json.loads(text) if text else None
            continue
        try:
            rec[key] = json.loads(value)
        except ValueError:
            rec[key] = value
    with open(path, "a") as fh:
        fh.write(json.dumps(rec) + "\n")


# ---------------------------------------------------------------------------------------------------------------
# Report

def load_fio(d, rel):
    if not rel:
        return None
    text = open(os.path.join(d, rel)).read()
    job = json.loads(text[text.index("{"):])["jobs"][0]
    if job.get("error"):
        sys.exit(f"{rel}: fio reported error {job['error']}")
    return job


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


def rounded(x):
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def measure(d, r, clk, size):
    """The figures of one measurement (one case, one rep)."""
    if r["case"] == "nbdcopy":
        cp = r["copy"]
        wall = cp["wall_ns"] / 1e9
        gib = r["bytes"] / GIB
        servers, client = sum(cp["ticks"]) / clk, cp["cpu_s"]
        out = dict(seconds=wall, bytes=r["bytes"], mib_s=r["bytes"] / MIB / wall, volume_mib_s=r["bytes"] / MIB / wall,
                   cpu_s_per_gib=(servers + client) / gib, server_cpu_s_per_gib=servers / gib,
                   client_cpu_s_per_gib=client / gib, node_cores=servers / wall, client_cores=client / wall)
        busy = cp["machine_busy_ticks"] / clk / wall
        out.update(machine_cores=busy, other_cores=max(0.0, busy - out["node_cores"] - client / wall),
                   steal_cores=cp["machine_steal_ticks"] / clk / wall, loadavg=cp["loadavg"])
        return out
    s, lg = r["sync"], r.get("log") or {}
    sent = lg.get("sent_bytes")
    secs = s["seconds"]
    cpu_each = [t / clk for t in s["node_ticks"]]
    cpu = sum(cpu_each)
    out = dict(seconds=secs, bytes=sent, mib_s=sent / MIB / secs if sent else None,
               volume_mib_s=size / MIB / secs, engine_s=lg.get("engine_s"),
               engine_mib_s=sent / MIB / lg["engine_s"] if sent and lg.get("engine_s") else None,
               out_of_sync_before_kib=s["before"]["out_of_sync_kib"], polls=s["polls"],
               connect_ms=s.get("connect_ms"), first_resync_state_s=first_resync(s),
               cpu_s=cpu, cpu_s_per_gib=cpu / (sent / GIB) if sent else None,
               node_cores=cpu / secs, mode=lg.get("mode"), resync_starts=lg.get("starts"))
    for name, c in zip(("alpha", "bravo"), cpu_each):
        out[f"cpu_s_per_gib_{name}"] = c / (sent / GIB) if sent else None
    if lg.get("done_time") is not None:
        out["after_done_s"] = s["done_ns"] / 1e9 - lg["done_time"]
    if r.get("bravo_start_ns"):
        out["from_start_s"] = (s["done_ns"] - r["bravo_start_ns"]) / 1e9
    dirty = load_fio(d, r.get("dirty_fio"))
    if dirty:
        out["dirty_bytes"] = dirty["write"]["io_bytes"]
    expected = out.get("dirty_bytes") if r["case"].startswith("bitmap") else size
    if sent and expected:
        out["sent_per_dirty"] = sent / expected
    app, base = load_fio(d, r.get("app_fio")), load_fio(d, r.get("base_fio"))
    client = 0.0
    if app:
        w = app["write"]
        out.update(app_iops=w["iops"], app_lat_mean_us=w["lat_ns"]["mean"] / 1e3,
                   app_runtime_s=app["job_runtime"] / 1e3, app_bytes=w["io_bytes"])
        client = (app["usr_cpu"] + app["sys_cpu"]) / 100
        out["client_cores"] = client
    if base:
        out.update(base_iops=base["write"]["iops"], base_lat_mean_us=base["write"]["lat_ns"]["mean"] / 1e3)
        if app:
            out["app_iops_ratio"] = out["app_iops"] / out["base_iops"]
    busy = s["machine_busy_ticks"] / clk / secs
    out.update(machine_cores=busy, other_cores=max(0.0, busy - out["node_cores"] - client),
               steal_cores=s["machine_steal_ticks"] / clk / secs, loadavg=s["loadavg"])
    out["disks_equal"] = r.get("disks_equal")
    return out


def first_resync(s):
    times = [v for k, v in s["first_seen"].items() if k in ("replication SyncSource", "replication PausedSyncS")]
    return min(times) if times else None


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
    asked = meta["cases"].split()
    reps, clk, size = int(meta["reps"]), int(meta["clk_tck"]), int(meta["size_bytes"])
    dirty_target = int(meta["dirty_bytes"])
    raw = [json.loads(l) for l in open(os.path.join(d, "raw", "runs.jsonl"))]
    runs = {}
    for r in raw:
        runs.setdefault(r["case"], []).append(dict(rep=r["rep"], **measure(d, r, clk, size)))
    cases = [c for c in CASE_ORDER if c in runs]
    problems = [l.rstrip("\n") for l in open(os.path.join(d, "raw", "problems.txt"))] \
        if os.path.exists(os.path.join(d, "raw", "problems.txt")) else []
    warnings = [l.rstrip("\n") for l in open(os.path.join(d, "raw", "warnings.txt"))] \
        if os.path.exists(os.path.join(d, "raw", "warnings.txt")) else []

    def stat(c, k):
        return summary([m.get(k) for m in runs.get(c, [])])

    def med(c, k):
        s = stat(c, k)
        return s["median"] if s else None

    def cell(c, k, digits=None):
        s = stat(c, k)
        if not s:
            return "–"
        m = f"{s['median']:.{digits}f}" if digits is not None else fmt(s["median"])
        if reps > 1 and len(s["values"]) > 1:
            lo = f"{s['min']:.{digits}f}" if digits is not None else fmt(s["min"])
            hi = f"{s['max']:.{digits}f}" if digits is not None else fmt(s["max"])
            return f"{m} ({lo}–{hi})"
        return m

    def per_rep_ratio(a, ka, b, kb):
        """a/b within each rep (same rep, close in time), over the reps both ran."""
        va = {m["rep"]: m.get(ka) for m in runs.get(a, [])}
        vb = {m["rep"]: m.get(kb) for m in runs.get(b, [])}
        return [va[r] / vb[r] for r in sorted(va) if r in vb and va[r] is not None and vb[r]]

    el = int(meta["elapsed_s"])
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    host = f"{os.cpu_count()} CPUs, {mem:.1f} GiB RAM, {meta['kernel']}"
    sz = f"{size / GIB:g} GiB" if size >= GIB else f"{size / MIB:g} MiB"
    spread = " (min–max over reps)" if reps > 1 else ""
    L = [f"# mirra resync comparison{' (quick smoke run)' if meta['quick'] == '1' else ''} — {date}", "",
         f"`{meta['command']}` — repo at {meta['repo_git']}; {host}; disks on {meta['fs']}.",
         f"{reps} rep(s), cases interleaved rep by rep (order rotated each rep); volume {sz}; the 1 % case dirties "
         f"{dirty_target // 4096:,} distinct 4 KiB blocks ({dirty_target / MIB:.2f} MiB) at seeded random offsets; "
         f"total wall time {el // 60} min {el % 60} s.",
         "Two nodes (alpha Primary, bravo) on this machine, protocol C, resync-rate-max "
         f"{meta['rate_max']} (no throttling), replication over 127.0.0.1.",
         "Tools: " + "; ".join(tools.values()) + ".", ""]

    L += ["## Resync time and throughput", "",
          f"Median{spread}. *time*: from the connect request to alpha (`POST /v1/connect`, what `mirra connect` "
          "sends) until alpha's status shows bravo Connected, Established, UpToDate, 0 KiB out of sync (polled "
          "every 50 ms); *sent*: alpha's log line `resync to bravo done: N bytes sent`; *MiB/s* = sent ÷ time; "
          "*CPU*: user + system seconds of both node processes in that window per GiB sent (with application "
          "writes it includes their cost too).", ""]
    L += ["| case | time (s) | sent (MiB) | MiB/s | CPU s/GiB | app write IOPS during (before) |",
          "|---|--:|--:|--:|--:|--:|"]
    for c in cases:
        if c == "nbdcopy":
            L.append(f"| **nbdcopy**: {DESCRIBE[c]} | {cell(c, 'seconds', 3)} | {size / MIB:,.0f} | "
                     f"{cell(c, 'mib_s')} | {cell(c, 'cpu_s_per_gib')} (nbdkit ×2 {fmt(med(c, 'server_cpu_s_per_gib'))}"
                     f" + nbdcopy {fmt(med(c, 'client_cpu_s_per_gib'))}) | – |")
            continue
        sent = stat(c, "bytes")
        app = "–"
        if stat(c, "app_iops"):
            app = f"{cell(c, 'app_iops')} ({fmt(med(c, 'base_iops'))}, {med(c, 'app_iops_ratio'):.2f}×)" \
                if stat(c, "base_iops") else cell(c, "app_iops")
        L.append(f"| **{c}**: {DESCRIBE[c]} | {cell(c, 'seconds', 3)} | "
                 f"{fmt(sent['median'] / MIB) if sent else '–'} | {cell(c, 'mib_s')} | {cell(c, 'cpu_s_per_gib')} | "
                 f"{app} |")

    # -------- targets
    L += ["", "## Targets", ""]
    targets = {}
    if "full" in runs and "nbdcopy" in runs:
        a, b = med("full", "volume_mib_s"), med("nbdcopy", "mib_s")
        ratio = a / b
        reps_r = per_rep_ratio("full", "volume_mib_s", "nbdcopy", "mib_s")
        ok = ratio >= 0.8
        e = med("full", "engine_mib_s")
        st = med("full", "from_start_s")
        targets["full_sync_vs_nbdcopy"] = dict(full_mib_s=a, nbdcopy_mib_s=b, ratio=ratio, bound=0.8, met=ok,
                                               per_rep=reps_r, engine_ratio=e / b if e else None,
                                               from_start_ratio=size / MIB / st / b if st else None)
        L.append(f"1. **Full-sync throughput ≥ 0.8 × nbdcopy**: full sync {fmt(a)} MiB/s (volume ÷ time) vs "
                 f"nbdcopy {fmt(b)} MiB/s = **{ratio:.2f}×** → **{'MET' if ok else 'NOT MET'}**" +
                 (f" (per rep: {', '.join(f'{x:.2f}' for x in reps_r)})" if len(reps_r) > 1 else "") +
                 (f". From alpha's log (resync start to done, without the connection setup): {e / b:.2f}×" if e
                  else "") +
                 (f"; timed from bravo's start instead (JVM start, disk open, handshake included): "
                  f"{size / MIB / st / b:.2f}×" if st else "") + ".")
    else:
        L.append("1. Full-sync throughput vs nbdcopy: not evaluated (needs the cases full and nbdcopy).")
    if "bitmap" in runs and "full" in runs:
        a, b = med("bitmap", "seconds"), med("full", "seconds")
        ratio = a / b
        reps_r = per_rep_ratio("bitmap", "seconds", "full", "seconds")
        ok = ratio <= 0.03
        st = med("full", "from_start_s")
        targets["bitmap_vs_full_time"] = dict(bitmap_s=a, full_s=b, ratio=ratio, bound=0.03, met=ok,
                                              per_rep=reps_r, full_from_start_s=st,
                                              ratio_full_from_start=a / st if st else None)
        L.append(f"2. **1 %-resync time ≤ 0.03 × full-sync time**: {a:.3f} s ÷ {b:.3f} s = **{ratio:.4f}** → "
                 f"**{'MET' if ok else 'NOT MET'}**" +
                 (f" (per rep: {', '.join(f'{x:.4f}' for x in reps_r)})" if len(reps_r) > 1 else "") +
                 (f"; with the full sync timed from bravo's start ({st:.3f} s): {a / st:.4f}" if st else "") +
                 (f"; with the second resync in the same processes (bitmap-warm, {med('bitmap-warm', 'seconds'):.3f} s): "
                  f"{med('bitmap-warm', 'seconds') / b:.4f}" if "bitmap-warm" in runs else "") + ".")
        if "bitmap-warm" in runs:
            targets["bitmap_vs_full_time"]["bitmap_warm_s"] = med("bitmap-warm", "seconds")
            targets["bitmap_vs_full_time"]["ratio_bitmap_warm"] = med("bitmap-warm", "seconds") / b
        if "bitmap-app" in runs and "full-app" in runs:
            a2, b2 = med("bitmap-app", "seconds"), med("full-app", "seconds")
            targets["bitmap_vs_full_time_with_app_writes"] = dict(bitmap_s=a2, full_s=b2, ratio=a2 / b2)
            L.append(f"   With application writes (for information): {a2:.3f} s ÷ {b2:.3f} s = {a2 / b2:.4f}.")
    else:
        L.append("2. 1 % vs full-sync time: not evaluated (needs the cases bitmap and full).")

    # -------- details
    mirra = [c for c in cases if c != "nbdcopy" and c in runs]
    if mirra:
        L += ["", "## Details", "",
              f"Median{spread}. *out of sync before*: alpha's out-of-sync figure for bravo just before the connect; "
              "*sent ÷ expected*: bytes the resync sent ÷ the bytes written while bravo was away (bitmap cases) or "
              "the volume size (full cases), 1.00 = exactly what was out of sync; *first SyncSource*: when the poll "
              "first saw the resync running (after the connect; a resync shorter than a poll interval may never be "
              "seen); *log time*: alpha's own log, `resync ... starts` to `... done`; *after done*: from that `done` line until "
              "the poll saw bravo UpToDate (bravo applies the last data, flushes its disk, stores its metadata and "
              "tells alpha; plus up to one poll interval); *from bravo's start*: full "
              "cases only, from launching bravo's process (its metadata deleted) to in sync.", ""]
        L += ["| case | mode | out of sync before (MiB) | sent ÷ expected | first SyncSource (s) | log time (s) | "
              "log MiB/s | after done (s) | from bravo's start (s) | disks equal after |",
              "|---|---|--:|--:|--:|--:|--:|--:|--:|---|"]
        for c in mirra:
            modes = sorted({m.get("mode") or "?" for m in runs[c]})
            oos = stat(c, "out_of_sync_before_kib")
            eq = [m.get("disks_equal") for m in runs[c]]
            L.append(f"| {c} | {', '.join(modes)} | {fmt(oos['median'] / 1024) if oos else '–'} | "
                     f"{cell(c, 'sent_per_dirty', 4)} | {cell(c, 'first_resync_state_s', 3)} | "
                     f"{cell(c, 'engine_s', 3)} | {cell(c, 'engine_mib_s')} | {cell(c, 'after_done_s', 3)} | "
                     f"{cell(c, 'from_start_s', 3)} | "
                     f"{'yes' if all(x == 1 for x in eq) else f'NO in {eq.count(0)} of {len(eq)}'} |")
        L += ["", "CPU per GiB sent, per node (alpha = SyncSource + Primary, bravo = SyncTarget), and where the "
                  f"machine's {os.cpu_count()} cores went during the resync (CPU seconds per wall second: the nodes, "
                  "fio when application writes ran, everything else on the machine):", ""]
        L += ["| case | alpha s/GiB | bravo s/GiB | nodes (cores) | fio (cores) | others (cores) | steal |",
              "|---|--:|--:|--:|--:|--:|--:|"]
        for c in mirra:
            L.append(f"| {c} | {fmt(med(c, 'cpu_s_per_gib_alpha'))} | {fmt(med(c, 'cpu_s_per_gib_bravo'))} | "
                     f"{fmt(med(c, 'node_cores'))} | {fmt(med(c, 'client_cores'))} | {fmt(med(c, 'other_cores'))} | "
                     f"{fmt(med(c, 'steal_cores'))} |")
        if "nbdcopy" in runs:
            c = "nbdcopy"
            L.append(f"| nbdcopy (nbdkit ×2, nbdcopy) | {fmt(med(c, 'server_cpu_s_per_gib'))} | "
                     f"{fmt(med(c, 'client_cpu_s_per_gib'))} | {fmt(med(c, 'node_cores'))} | "
                     f"{fmt(med(c, 'client_cores'))} | {fmt(med(c, 'other_cores'))} | {fmt(med(c, 'steal_cores'))} |")
        appc = [c for c in mirra if stat(c, "app_iops")]
        if appc:
            L += ["", "Application writes (fio randwrite 4 KiB, QD4, alpha's export): during the resync (fio started "
                      "just before the connect, stopped when the poll saw bravo in sync) and for "
                      f"{meta['base_runtime_s']} s before bravo was disconnected, with both nodes connected and in "
                      "sync. During a resync mirra does not replicate writes to the SyncTarget, it marks them out of "
                      "sync for the resync to send (docs/replication.md: \"resync without replication\"), so "
                      "the resync sends more than was out of sync at the connect (*sent ÷ expected* above), and "
                      "the writes compete with the resync for the CPU.", ""]
            L += ["| case | IOPS during | IOPS before | during ÷ before | mean latency during / before (µs) |",
                  "|---|--:|--:|--:|--:|"]
            for c in appc:
                L.append(f"| {c} | {cell(c, 'app_iops')} | {cell(c, 'base_iops')} | {cell(c, 'app_iops_ratio', 2)} | "
                         f"{fmt(med(c, 'app_lat_mean_us'))} / {fmt(med(c, 'base_lat_mean_us'))} |")
    allm = [m for v in runs.values() for m in v]
    oth = [m["other_cores"] for m in allm if "other_cores" in m]
    if oth:
        stl = [m["steal_cores"] for m in allm]
        la = [m["loadavg"] for m in allm]
        L += ["", f"Interference from the rest of the machine during the timed windows: other processes used "
                  f"{fmt(statistics.median(oth))} cores (median; max {fmt(max(oth))}), steal "
                  f"{fmt(statistics.median(stl))} cores (max {fmt(max(stl))}); 1-minute load average "
                  f"{fmt(min(la))}–{fmt(max(la))} (at the start of the run {meta.get('loadavg_start', '?')}, at the "
                  f"end {meta.get('loadavg_end', '?')})."]

    L += ["", "Problems recorded during the run: " + ("none." if not problems else "")]
    L += [f"- {p}" for p in problems]
    if warnings:
        L += ["", "WARNING lines in the node logs (the nodes carried on; not counted as problems):"]
        L += [f"- {w}" for w in warnings]
    L += ["", "## How it was run", "",
          "Resource `bench`, one volume of the whole size, nodes alpha (node-id 0) and bravo (1) with disks, "
          f"protocol C, `resync-rate-max: {meta['rate_max']}`. The disks are created by the nodes once per run (a "
          "new disk is UpToDate on both, no initial sync) and filled through alpha with one nbdcopy of random data, "
          "so neither is sparse; they are kept between cases. Every mirra case starts both nodes afresh "
          "(`mirra node`), waits until they are connected and in sync, makes alpha Primary (`POST /v1/primary?resource=bench` to its admin endpoint, "
          "what `mirra primary bench` sends; every admin command of the run is sent that way, without the CLI's JVM), "
          "then:",
          "",
          "- **bitmap**: `mirra disconnect bench bravo` on alpha (`POST /v1/disconnect`); fio writes the dirty set to alpha's export "
          "(`--rw=randwrite --bs=4k --iodepth=8 --io_size=1% of the volume --randseed=" + meta["seed"] +
          "`, random map on: distinct blocks, the same ones every rep);",
          "- **full**: `mirra disconnect bench bravo` on alpha (`POST /v1/disconnect`); bravo stopped (SIGTERM); its metadata of "
          "the volume deleted (`STATE-DIR/bench-0.meta`, and `bench-0.bitmap`, `bench-0.al` where the build writes "
          "them; the data file stays: a disk without metadata is Inconsistent); bravo started again and waited for until its admin endpoint answers;",
          "- then `sync`, and the timed connect: `POST /v1/connect?resource=bench&peer=bravo` to alpha's admin "
          "endpoint (what `mirra connect bench bravo` sends; the CLI's own JVM start is left out of the time);",
          "- ***-app** cases: first " + meta["base_runtime_s"] + " s of fio randwrite 4k QD4 with both nodes in sync "
          "(*before*), then the same fio started just before the connect (once it issues I/O) and stopped (SIGINT) "
          "when the poll saw bravo in sync (*during*);",
          "- **bitmap-warm** (with every bitmap case): after the timed bitmap resync, in the same node processes, "
          "disconnect, another 1 % set (seed + rep), connect, timed the same way: the first resync after a node "
          "start runs partly in the JVM's interpreter, a node that has been up for a while does not;",
          "- after the nodes stop: `cmp` of the two disk files (they must be equal).",
          "",
          "**nbdcopy**: two `nbdkit -f -p PORT -i 127.0.0.1 file FILE` servers, the random source file and a fully "
          "written destination file of the same size, `nbdcopy --flush nbd://127.0.0.1:P1 nbd://127.0.0.1:P2` "
          "with nbdcopy's other defaults (multi-conn when offered), wall-clock timed; CPU of the two nbdkit "
          "processes and nbdcopy's (its rusage). All files start in the page cache (this is resync speed over "
          "loopback, not disk speed), for mirra and the reference alike; both end with a flush of the "
          "destination (a resync target flushes its disk when it receives RESYNC_END, nbdcopy flushes at the end "
          "with --flush), which writes back what the copy left dirty in the page cache.",
          "",
          f"Raw data: {d}/raw/ (runs.jsonl: one record per case and rep; every fio JSON), node logs: {d}/logs/."]
    if meta.get("prefill", "1") != "1":
        L += ["", "**No prefill** (`--no-prefill`): the disks were left as the nodes created them (sparse, zeros)."]
    if meta.get("profile"):
        L += ["", f"**Profiled** (RESYNC_PROFILE={meta['profile']}): both nodes ran a profiler during the timed resync "
                  f"of those cases, so their times include it; profiles in {d}/raw/profile/."]
    open(os.path.join(d, "results.md"), "w").write("\n".join(L) + "\n")

    keys = sorted({k for v in runs.values() for m in v for k, x in m.items()
                   if isinstance(x, (int, float)) and not isinstance(x, bool) and k != "rep"})
    results = {c: dict(description=DESCRIBE[c], **{k: stat(c, k) for k in keys if stat(c, k)}) for c in cases
               if c in runs}
    out = dict(meta=dict(date=date, host=host, command=meta["command"], repo_git=meta["repo_git"],
                         filesystem=meta["fs"], cases=asked, reported=cases, reps=reps, quick=meta["quick"] == "1", size_bytes=size,
                         dirty_bytes=dirty_target, seed=int(meta["seed"]), resync_rate_max=meta["rate_max"],
                         base_runtime_s=int(meta["base_runtime_s"]), elapsed_s=el, tools=tools,
                         profile=meta.get("profile") or None, prefill=meta.get("prefill", "1") == "1",
                         loadavg_start=meta.get("loadavg_start"), loadavg_end=meta.get("loadavg_end")),
               results=results, targets=targets, runs=raw, problems=problems, warnings=warnings)
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
    elif cmd == "post":
        try:
            post(a[0])
        except (RuntimeError, OSError, urllib.error.URLError) as ex:
            sys.exit(str(ex))
    elif cmd == "wait-standalone":
        sys.exit(wait_standalone(float(a[0]), a[1], a[2]))
    elif cmd == "wait-admin":
        sys.exit(wait_admin(float(a[0]), int(a[1]), a[2]))
    elif cmd == "resync":
        sys.exit(resync(float(a[0]), [int(p) for p in a[1].split(",")], a[2], a[3], a[4],
                        a[5] if len(a) > 5 and a[5] != "-" else None))
    elif cmd == "resync-log":
        sys.exit(resync_log(a[0], int(a[1]), a[2]))
    elif cmd == "run":
        sys.exit(run(a[0], [] if a[1] == "-" else [int(p) for p in a[1].split(",")], a[2:]))
    elif cmd == "record":
        record(a[0], a[1:])
    elif cmd == "report":
        report(a[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
