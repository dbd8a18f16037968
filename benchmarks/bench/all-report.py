#!/usr/bin/env python3
"""The combined report of all.sh (`./mirra bench`).

usage: all-report.py jmh DIR COMMAND   JMH's JSON in DIR/raw/ -> DIR/results.json and DIR/results.md (median and
                                       min-max over every measured iteration of every fork)
       all-report.py report DIR        DIR/meta.json, DIR/suites.tsv and each suite's DIR/SUITE/results.json ->
                                       DIR/results.md and DIR/results.json; exit 1 when a check fails

Nothing is measured here: the figures, medians and ratios are those the suites computed within their own run.
The checks: every suite that was asked for ran (exit 0) and wrote its results; every expected figure (throughput,
latency, CPU per GiB of every job of every server/configuration/case, the physical limits, the targets' ratios,
every JMH score) is present and above zero; no suite recorded a problem. No check looks at how fast anything was.
"""
import glob
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

GIB = 2 ** 30
MIB = 2 ** 20
NBD_JOBS = ("nbdcopy-in", "randwrite-4k-qd1", "randwrite-4k-qd32", "randread-4k-qd32", "write-1m-qd8", "read-1m-qd8",
            "randrw70-4k-qd16", "nbdcopy-out")
NBD_REFS = ("nbdkit", "nbd-server", "qemu-nbd")
REPL_JOBS = ("nbdcopy-in", "randwrite-4k-qd1", "randwrite-4k-qd32", "randread-4k-qd32", "write-1m-qd8", "read-1m-qd8")
SUITE_TITLE = {"nbd": "NBD servers and physical limits (nbd-compare.sh)",
               "replication": "Replication (replication-compare.sh)",
               "resync": "Resync (resync-compare.sh)",
               "jmh": "JMH microbenchmarks (benchmarks/jmh.sh)"}
# what all.sh asks each suite to run: a suite that reports fewer servers, configurations or cases than these did not
# run all of its benchmarks, even if every figure it reports is there (key in the suite's meta -> quick, full)
EXPECTED = {"nbd": ("servers", ("mirra",) + NBD_REFS, ("mirra",) + NBD_REFS),
            "replication": ("configs", ("single", "c3", "a2", "d3"), ("single", "c2", "c3", "a2", "a3", "d3")),
            "resync": ("cases", ("bitmap", "full", "bitmap-app", "full-app", "nbdcopy"),
                       ("bitmap", "full", "bitmap-app", "full-app", "nbdcopy"))}
# the JMH subset of jmh.sh --smoke: (benchmark method suffix, params) that a quick run must have produced
JMH_SMOKE = ("NbdRequestDecoderBenchmark.write4KiBOneRead", "DirtyBitmapBenchmark.markByteRange",
             "BitmapRunCodecBenchmark.encode", "Lz4BlockBenchmark.compress", "ByteBufAllocatorBenchmark.allocateAndRelease")


def unit(job):
    return "iops" if "-4k-" in job else "mib_s"


UNIT_LABEL = {"iops": "IOPS", "mib_s": "MiB/s"}


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    med = statistics.median(values)
    return dict(median=med, min=min(values), max=max(values),
                spread_pct=(max(values) - min(values)) / med * 100 if med else None, values=values)


def rounded(x):
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def fmt(x):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def fr(r):
    return "–" if r is None else f"{r:.2f}×"


def cell(st, ratio=None):
    """median (ratio) ±half the min–max range over the reps, as % of the median (no ± with one value)"""
    if not st:
        return "–"
    s = fmt(st["median"])
    if ratio is not None:
        s += f" ({fr(ratio)})"
    if len(st.get("values", [])) > 1 and st.get("spread_pct") is not None:
        s += f" ±{st['spread_pct'] / 2:.0f}%"
    return s


def median_of(st):
    return st.get("median") if isinstance(st, dict) else None


def demote(md):
    """A suite's report inside the combined one: every heading one level down."""
    out = []
    fence = False
    for line in md.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"^#{1,5} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------
# JMH

def jmh(d, command):
    files = sorted(glob.glob(os.path.join(d, "raw", "*.json")))
    if not files:
        sys.exit(f"no JMH result file in {d}/raw")
    data = json.load(open(files[-1]))
    if not data:
        sys.exit(f"{files[-1]}: no benchmark results")
    results = []
    for b in data:
        pm = b["primaryMetric"]
        raw = [v for fork in pm.get("rawData", []) for v in fork]
        name = ".".join(b["benchmark"].split(".")[-2:])
        results.append(dict(benchmark=b["benchmark"], name=name, params=b.get("params") or {}, mode=b["mode"],
                            unit=pm["scoreUnit"], score=summary(raw), jmh_score=pm["score"],
                            jmh_error_99_9=pm.get("scoreError") if not isinstance(pm.get("scoreError"), str) else None,
                            forks=b["forks"], warmup=f"{b['warmupIterations']} × {b['warmupTime']}",
                            measurement=f"{b['measurementIterations']} × {b['measurementTime']}"))
    b0 = data[0]
    meta = dict(command=command, file=files[-1], jmh_version=b0["jmhVersion"], jdk=b0["jdkVersion"],
                vm=f"{b0['vmName']} {b0['vmVersion']}", jvm_args=b0.get("jvmArgs"), forks=b0["forks"],
                warmup=f"{b0['warmupIterations']} × {b0['warmupTime']}",
                measurement=f"{b0['measurementIterations']} × {b0['measurementTime']}",
                date=time.strftime("%Y-%m-%d %H:%M %Z"))
    L = [f"# JMH microbenchmarks — {meta['date']}", "",
         f"`{command}`; JMH {meta['jmh_version']}, JDK {meta['jdk']} ({meta['vm']}); {meta['forks']} fork(s), warmup "
         f"{meta['warmup']}, measurement {meta['measurement']}. Median over every measured iteration of every fork "
         "(min–max in brackets); JMH's own score (mean) and 99.9 % error beside it.", "",
         "| benchmark | params | median | min–max | unit | JMH score ± error |", "|---|---|--:|---|---|--:|"]
    for r in results:
        st = r["score"]
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "–"
        err = f" ± {fmt(r['jmh_error_99_9'])}" if r["jmh_error_99_9"] is not None and not math.isnan(r["jmh_error_99_9"]) else ""
        L.append(f"| {r['name']} | {params} | {fmt(st['median']) if st else '–'} | "
                 f"{fmt(st['min']) + '–' + fmt(st['max']) if st else '–'} | {r['unit']} | {fmt(r['jmh_score'])}{err} |")
    L += ["", f"Raw data: {files[-1]}."]
    open(os.path.join(d, "results.md"), "w").write("\n".join(L) + "\n")
    with open(os.path.join(d, "results.json"), "w") as fh:
        json.dump(rounded(dict(meta=meta, results=results)), fh, indent=1)
        fh.write("\n")


# ---------------------------------------------------------------------------------------------------------------
# The combined report

def machine(d):
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    try:
        fs = subprocess.run(["findmnt", "-no", "SOURCE,FSTYPE", "-T", d], capture_output=True, text=True).stdout.split()
    except OSError:
        fs = []
    try:
        java = subprocess.run([os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME")
                               else "java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    except (OSError, IndexError):
        java = "?"
    return dict(cpu_model=cpu, cpus=os.cpu_count(), memory_gib=round(mem, 1), kernel=f"{platform.system()} {platform.release()}",
                filesystem=" ".join(fs) or "?", java=java, hostname=platform.node())


class Checks:
    def __init__(self):
        self.checked, self.failures, self.warnings = 0, [], []

    def positive(self, where, value):
        self.checked += 1
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                or not value > 0:
            self.failures.append(f"{where}: {'missing' if value is None else value!r} (expected a number > 0)")

    def fail(self, text):
        self.failures.append(text)


def nbd_section(r, chk, L, targets):
    meta = r["meta"]
    servers = meta["servers"]
    refs = [s for s in servers if s in NBD_REFS]
    res = r["results"]
    for j in NBD_JOBS:
        e = res.get(j)
        if not e:
            chk.fail(f"nbd: job {j} has no results")
            continue
        for s in servers:
            st = e["servers"].get(s, {})
            chk.positive(f"nbd {s} {j} {unit(j)}", median_of(st.get(unit(j))))
            if not j.startswith("nbdcopy"):
                chk.positive(f"nbd {s} {j} latency mean", median_of(st.get("lat_mean_us")))
                chk.positive(f"nbd {s} {j} CPU s/GiB", median_of(st.get("cpu_s_per_gib")))
        if "mirra" in servers and refs:
            chk.positive(f"nbd mirra ÷ best {j}", (e.get("mirra_vs_best") or {}).get("throughput"))
        chk.positive(f"physical disk {j} {unit(j)}", (r["physical"]["disk"].get(j) or {}).get(unit(j)))
    tcp = r["physical"].get("loopback_tcp") or {}
    chk.positive("physical loopback TCP MiB/s", tcp.get("mib_s"))

    L += [f"### {SUITE_TITLE['nbd']}", "",
          f"{meta['reps']} rep(s), {meta['size_bytes'] / MIB:,.0f} MiB region, fio jobs {meta['runtime_s']} s after "
          f"{meta['ramp_s']} s ramp. Throughput, median (ratio to the best reference on that row) ± spread; 4k jobs "
          "in IOPS, others MiB/s.", ""]
    cols = servers
    extra = "mirra" in servers and refs
    L += ["| job | unit | " + " | ".join(cols) + (" | best ref | **mirra ÷ best** | mirra CPU s/GiB (÷ cheapest) |" if extra else " |"),
          "|---|---|" + "--:|" * len(cols) + ("---|--:|--:|" if extra else "")]
    below = []
    for j in NBD_JOBS:
        e = res.get(j)
        if not e:
            continue
        best = e.get("best_reference", {})
        bt = best.get("throughput")
        bv = median_of(e["servers"].get(bt, {}).get(unit(j))) if bt else None
        cells = []
        for s in cols:
            st = e["servers"].get(s, {}).get(unit(j))
            v = median_of(st)
            cells.append(cell(st, v / bv if v is not None and bv else None))
        row = f"| {j} | {UNIT_LABEL[unit(j)]} | " + " | ".join(cells)
        if extra:
            mv = e.get("mirra_vs_best") or {}
            cpu = median_of(e["servers"].get("mirra", {}).get("cpu_s_per_gib"))
            row += f" | {bt} | **{fr(mv.get('throughput'))}** | {fmt(cpu)} ({fr(mv.get('cpu_per_gib'))})"
            if mv.get("throughput") is not None and mv["throughput"] < 1:
                below.append(f"{j} {mv['throughput']:.2f}×")
        L.append(row + " |")
    if extra:
        g = r.get("geomean_mirra_vs_best_throughput")
        n_ok = sum(1 for j in NBD_JOBS if (res.get(j, {}).get("mirra_vs_best") or {}).get("throughput", 0) >= 1)
        L += ["", f"Geometric mean of mirra ÷ best reference: **{fr(g)}**; mirra at or above the best reference on "
                  f"{n_ok} of {len(NBD_JOBS)} rows."]
        targets.append(dict(suite="nbd", target="mirra serve ≥ the best reference server on every job (throughput)",
                            measured=f"{n_ok} of {len(NBD_JOBS)} rows; geometric mean {fr(g)}" +
                                     (f"; below: {', '.join(below)}" if below else ""),
                            met=not below))
        q = res.get("randwrite-4k-qd1", {})
        lm = q.get("servers", {}).get("mirra", {})
        lb = q.get("best_reference", {}).get("lat_mean")
        if lm and lb:
            ref = q["servers"][lb]
            L.append(f"4k QD1 random write latency, mean / p99 (µs): mirra {fmt(median_of(lm.get('lat_mean_us')))} / "
                     f"{fmt(median_of(lm.get('lat_p99_us')))}, {lb} {fmt(median_of(ref.get('lat_mean_us')))} / "
                     f"{fmt(median_of(ref.get('lat_p99_us')))}.")
    # physical limits
    L += ["", "#### Physical limits (same run)", "",
          "The disk without NBD: fio libaio O_DIRECT on a file of the same filesystem (fio jobs "
          f"{meta['physical_runtime_s']} s), nbdcopy file → file and file → null:. One measurement each.", "",
          "| job | unit | disk | best NBD server | best ÷ disk" + (" | mirra ÷ disk |" if "mirra" in servers else " |"),
          "|---|---|--:|---|--:|" + ("--:|" if "mirra" in servers else "")]
    for j in NBD_JOBS:
        dk = (r["physical"]["disk"].get(j) or {}).get(unit(j))
        e = res.get(j, {})
        vals = {s: median_of(e.get("servers", {}).get(s, {}).get(unit(j))) for s in servers}
        vals = {k: v for k, v in vals.items() if v is not None}
        bs = max(vals, key=vals.get) if vals else None
        row = (f"| {j} | {UNIT_LABEL[unit(j)]} | {fmt(dk)} | {bs + ' ' + fmt(vals[bs]) if bs else '–'} | "
               f"{fr(vals[bs] / dk) if bs and dk else '–'}")
        if "mirra" in servers:
            row += f" | {fr(vals['mirra'] / dk) if vals.get('mirra') and dk else '–'}"
        L.append(row + " |")
    L += ["", f"Loopback TCP (iperf3, 1 stream, 1 MiB writes): **{fmt(tcp.get('mib_s'))} MiB/s**." if tcp.get("mib_s")
          else "Loopback TCP: not measured."]


def repl_section(r, chk, L, targets):
    meta = r["meta"]
    configs = meta["configs"]
    res = r["results"]
    base = "single" if "single" in configs else None
    for j in REPL_JOBS:
        e = res.get(j)
        if not e:
            chk.fail(f"replication: job {j} has no results")
            continue
        for c in configs:
            st = e["configs"].get(c, {})
            chk.positive(f"replication {c} {j} {unit(j)}", median_of(st.get(unit(j))))
            if j != "nbdcopy-in":
                chk.positive(f"replication {c} {j} clat mean", median_of(st.get("clat_mean_us")))
                chk.positive(f"replication {c} {j} CPU s/GiB", median_of(st.get("cpu_s_per_gib")))
    rtt = r.get("loopback_rtt") or {}
    chk.positive("replication loopback round trip", rtt.get("used_us"))
    t = r.get("targets") or {}
    if base and "c3" in configs:
        for k in ("seq_write_c3_half_of_single", "qd1_write_latency_c3"):
            if k not in t:
                chk.fail(f"replication: target {k} not evaluated")
        chk.positive("replication target 1 ratio", t.get("seq_write_c3_half_of_single", {}).get("ratio"))
        chk.positive("replication target 2 bound", t.get("qd1_write_latency_c3", {}).get("bound_us"))
    if "d3" in configs and not r.get("diskless_primary"):
        chk.fail("replication: no diskless-Primary (d3) figures")
    for p in r.get("problems") or []:
        chk.fail(f"replication problem: {p}")
    chk.warnings += [f"replication: {w}" for w in r.get("warnings") or []]

    L += [f"### {SUITE_TITLE['replication']}", "",
          f"{meta['reps']} rep(s), {meta['size_bytes'] / MIB:,.0f} MiB volume, fio jobs {meta['runtime_s']} s after "
          f"{meta['ramp_s']} s ramp, all nodes on this machine. Median (ratio to single node) ± spread; configurations: "
          "single = 1 node, cN/aN = N nodes with disks under protocol C/A, d3 = 3 nodes, protocol C, alpha (the "
          "Primary) diskless.", ""]
    L += ["| job | unit | " + " | ".join(configs) + " |", "|---|---|" + "--:|" * len(configs)]
    for j in REPL_JOBS:
        e = res.get(j)
        if not e:
            continue
        cells = []
        for c in configs:
            st = e["configs"].get(c, {})
            cells.append(cell(st.get(unit(j)), None if c == base else (st.get("ratio_to_single") or {}).get("throughput")))
        L.append(f"| {j} | {UNIT_LABEL[unit(j)]} | " + " | ".join(cells) + " |")
    q = res.get("randwrite-4k-qd1", {}).get("configs", {})
    L += ["", "4k QD1 write completion latency, mean / p99 µs: " + "; ".join(
        f"{c} {fmt(median_of(q.get(c, {}).get('clat_mean_us')))} / {fmt(median_of(q.get(c, {}).get('clat_p99_us')))}"
        for c in configs) + "."]
    L += ["", "CPU seconds per GiB, all node processes (ratio to single node): " + "; ".join(
        f"{j} " + ", ".join(f"{c} {fmt(median_of(res[j]['configs'].get(c, {}).get('cpu_s_per_gib')))}"
                            for c in configs) for j in ("randwrite-4k-qd1", "write-1m-qd8", "read-1m-qd8") if j in res) + "."]
    if "seq_write_c3_half_of_single" in t:
        a = t["seq_write_c3_half_of_single"]
        targets.append(dict(suite="replication", target="c3 sequential write (write-1m-qd8) ≥ ½ × single node",
                            measured=f"{fmt(a['c3_mib_s'])} / {fmt(a['single_mib_s'])} MiB/s = {a['ratio']:.2f}×",
                            met=bool(a["holds"])))
    if "qd1_write_latency_c3" in t:
        a = t["qd1_write_latency_c3"]
        targets.append(dict(suite="replication",
                            target="c3 4k QD1 write latency ≤ single + 2 loopback round trips + 50 µs (mean clat)",
                            measured=f"{fmt(a['c3_mean_us'])} µs vs bound {fmt(a['single_mean_us'])} + 2 × "
                                     f"{fmt(a['loopback_rtt_us'])} + 50 = {fmt(a['bound_us'])} µs (p50: "
                                     f"{fmt(a['c3_p50_us'])} vs {fmt(a['bound_p50_us'])})",
                            met=bool(a["holds"])))
    dl = r.get("diskless_primary")
    if dl:
        L += ["", "Diskless Primary (d3) reading and writing the copies of two peers: " + "; ".join(
            f"{j} {fmt(v['d3'])} {UNIT_LABEL[v['unit']]} ({fr(v['ratio_to_single'])} of single"
            + (f", {fr(v['ratio_to_c3'])} of c3" if v.get("ratio_to_c3") else "") + ")" for j, v in dl.items()) + "."]
    c = rtt.get("start", {}).get("c") or {}
    if c:
        L += ["", "Loopback round trip (4 KiB request, 16 B reply, C ping-pong, median µs, start of the run): " +
              ", ".join(f"{k} {fmt(v['p50_us'])}" for k, v in c.items()) +
              f"; the replication target uses {fmt(rtt.get('used_us'))} µs."]


def resync_section(r, chk, L, targets):
    meta = r["meta"]
    res = r["results"]
    for c in meta["reported"]:
        st = res.get(c) or {}
        chk.positive(f"resync {c} seconds", median_of(st.get("seconds")))
        chk.positive(f"resync {c} MiB/s", median_of(st.get("mib_s")))
        if c.startswith("full") or c == "nbdcopy":
            chk.positive(f"resync {c} CPU s/GiB", median_of(st.get("cpu_s_per_gib")))
    if "bitmap" in meta["cases"] and "bitmap-warm" not in meta["reported"]:
        chk.fail("resync: no bitmap-warm figures")
    t = r.get("targets") or {}
    if "full" in meta["cases"] and "nbdcopy" in meta["cases"]:
        chk.positive("resync target 1 ratio", t.get("full_sync_vs_nbdcopy", {}).get("ratio"))
    if "full" in meta["cases"] and "bitmap" in meta["cases"]:
        chk.positive("resync target 2 ratio", t.get("bitmap_vs_full_time", {}).get("ratio"))
    for p in r.get("problems") or []:
        chk.fail(f"resync problem: {p}")
    chk.warnings += [f"resync: {w}" for w in r.get("warnings") or []]

    L += [f"### {SUITE_TITLE['resync']}", "",
          f"{meta['reps']} rep(s), {meta['size_bytes'] / MIB:,.0f} MiB volume, two nodes (alpha Primary, bravo), "
          "protocol C. Median ± spread.", "",
          "| case | time (s) | sent (MiB) | MiB/s | CPU s/GiB |", "|---|--:|--:|--:|--:|"]
    for c in meta["reported"]:
        st = res.get(c) or {}
        sent = median_of(st.get("bytes"))
        L.append(f"| {c} | {cell(st.get('seconds'))} | {fmt(sent / MIB) if sent else fmt(meta['size_bytes'] / MIB)} | "
                 f"{cell(st.get('mib_s'))} | {cell(st.get('cpu_s_per_gib'))} |")
    if "full_sync_vs_nbdcopy" in t:
        a = t["full_sync_vs_nbdcopy"]
        targets.append(dict(suite="resync", target="full-sync throughput ≥ 0.8 × nbdcopy between two nbdkit servers",
                            measured=f"{fmt(a['full_mib_s'])} / {fmt(a['nbdcopy_mib_s'])} MiB/s = {a['ratio']:.2f}×",
                            met=bool(a["met"])))
    if "bitmap_vs_full_time" in t:
        a = t["bitmap_vs_full_time"]
        targets.append(dict(suite="resync", target="1 % resync time ≤ 0.03 × 100 % (full) resync time",
                            measured=f"{a['bitmap_s']:.3f} / {a['full_s']:.3f} s = {a['ratio']:.4f}" +
                                     (f" (bitmap-warm: {a['ratio_bitmap_warm']:.4f})" if a.get("ratio_bitmap_warm") else ""),
                            met=bool(a["met"])))


def jmh_section(r, chk, L, quick):
    res = r["results"]
    if not res:
        chk.fail("jmh: no benchmark results")
    for b in res:
        chk.positive(f"jmh {b['name']} {b['params']}", median_of(b.get("score")))
    if quick:
        names = {b["benchmark"] for b in res}
        for want in JMH_SMOKE:
            if not any(n.endswith(want) for n in names):
                chk.fail(f"jmh: {want} did not run")
    L += [f"### {SUITE_TITLE['jmh']}", "",
          f"{r['meta']['forks']} fork(s), warmup {r['meta']['warmup']}, measurement {r['meta']['measurement']}; "
          "median [min–max] over every measured iteration.", "",
          "| benchmark | params | median [min–max] | unit |", "|---|---|--:|---|"]
    for b in res:
        st = b.get("score")
        params = ", ".join(f"{k}={v}" for k, v in b["params"].items()) or "–"
        L.append(f"| {b['name']} | {params} | {fmt(st['median'])} [{fmt(st['min'])}–{fmt(st['max'])}] | {b['unit']} |"
                 if st else f"| {b['name']} | {params} | – | {b['unit']} |")


def report(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    runs = {}
    if os.path.exists(os.path.join(d, "suites.tsv")):
        for line in open(os.path.join(d, "suites.tsv")):
            f = line.rstrip("\n").split("\t")
            name, rc, el = f[:3]
            cmdf = os.path.join(d, "logs", f"{name}.cmd")
            runs[name] = dict(rc=int(rc), elapsed_s=int(el),
                              command=open(cmdf).read().strip() if os.path.exists(cmdf) else None,
                              loadavg_start=float(f[3]) if len(f) > 4 else None,
                              loadavg_end=float(f[4]) if len(f) > 4 else None)
    mach = machine(d)
    chk = Checks()
    suites = {}
    for s in meta["suites"]:
        f = os.path.join(d, s, "results.json")
        if s not in runs:
            chk.fail(f"{s}: did not run")
        elif runs[s]["rc"] != 0:
            chk.fail(f"{s}: exited with code {runs[s]['rc']} (log: {d}/logs/{s}.err)")
        if os.path.exists(f):
            suites[s] = json.load(open(f))
        else:
            chk.fail(f"{s}: no results ({f} missing)")
    for p in runs:
        if p.startswith("profile-") and runs[p]["rc"] != 0:
            chk.fail(f"{p}: exited with code {runs[p]['rc']} (log: {d}/logs/{p}.err)")
    for f in sorted(glob.glob(os.path.join(d, "profile", "*", "results.json"))):
        pr = json.load(open(f))
        name = os.path.basename(os.path.dirname(f))
        for p in pr.get("problems") or []:
            chk.fail(f"profile run {name} problem: {p}")
        chk.warnings += [f"profile run {name}: {w}" for w in pr.get("warnings") or []]

    quick = meta["quick"]
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    el = meta["elapsed_s"]
    L = [f"# mirra benchmarks{' (quick smoke run)' if quick else ''} — {date}", "",
         f"- **Command:** `{meta['command']}`",
         f"- **mirra:** {meta['git_describe']}" + (f" ({meta['mirra_version']})" if meta.get("mirra_version") else "") +
         (f", build snapshot {meta['build_id']}" if meta.get("build_id") else ""),
         (f"- **mirra JVM options added:** `MIRRA_JAVA_OPTS={meta['mirra_java_opts']}`\n" if meta.get("mirra_java_opts") else "") +
         f"- **Machine:** {mach['cpus']} × {mach['cpu_model']}, {mach['memory_gib']} GiB RAM, {mach['kernel']}; "
         f"files on {mach['filesystem']}; {mach['java']}",
         f"- **Started:** {meta['start']}; total wall time {el // 60} min {el % 60} s: " +
         ", ".join(f"{k} {v['elapsed_s'] // 60} min {v['elapsed_s'] % 60} s" for k, v in runs.items()),
         *([f"- **Machine load** (1-minute load average at the start and end of each suite, {mach['cpus']} CPUs; "
            "anything above about 1 is other people's work competing with the benchmark): " +
            ", ".join(f"{k} {v['loadavg_start']:g} → {v['loadavg_end']:g}" for k, v in runs.items()
                      if v.get("loadavg_start") is not None)]
           if any(v.get("loadavg_start") is not None for v in runs.values()) else []),
         f"- **Results:** {d}/results.md and results.json; per suite {d}/SUITE/ (raw data, logs)", "",
         "Every figure is a median over the reps of its suite with its spread (± half the min–max range as % of the "
         "median; no ± with one rep); every ratio compares two figures of this same run. "
         + ("Quick run: tiny volumes, sub-second jobs, one rep: it proves that every benchmark runs and produces "
            "numbers; the figures themselves mean little." if quick else ""), "",
         "## Summary", ""]
    targets = []
    sections = dict(nbd=nbd_section, replication=repl_section, resync=resync_section)
    for s in meta["suites"]:
        if s not in suites:
            L += [f"### {SUITE_TITLE[s]}", "", "**No results** (see the checks below).", ""]
            continue
        if s in EXPECTED:
            key, want_quick, want_full = EXPECTED[s]
            have = suites[s].get("meta", {}).get(key) or []
            have = have.split() if isinstance(have, str) else have
            lost = [x for x in (want_quick if quick else want_full) if x not in have]
            if lost:
                chk.fail(f"{s}: {key} {', '.join(lost)} did not run (ran: {', '.join(have) or 'none'})")
        try:
            if s == "jmh":
                jmh_section(suites[s], chk, L, quick)
            else:
                sections[s](suites[s], chk, L, targets)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as ex:
            chk.fail(f"{s}: results.json not as expected ({type(ex).__name__}: {ex})")
        L.append("")
    if targets:
        L += ["## Targets", "", "| suite | target | measured | verdict |", "|---|---|---|---|"]
        for t in targets:
            L.append(f"| {t['suite']} | {t['target']} | {t['measured']} | **{'MET' if t['met'] else 'NOT MET'}** |")
        L.append("")
    prof = os.path.join(d, "profile", "summary.md")
    if meta.get("profile") and os.path.exists(prof):
        L += ["## Profiles", "", demote(open(prof).read()), ""]
    L += ["## Checks", ""]
    if chk.failures:
        L += [f"**FAILED**: {len(chk.failures)} problem(s) ({chk.checked} figures checked):", ""]
        L += [f"- {f}" for f in chk.failures]
    else:
        L.append(f"Passed: every suite ran; all {chk.checked} expected figures are present and above zero; no suite "
                 "recorded a problem.")
    if chk.warnings:
        L += ["", "WARNING lines in node logs (the nodes carried on; listed, not failures):", ""]
        L += [f"- {w}" for w in chk.warnings]
    L += ["", "## Suite reports", ""]
    for s in meta["suites"]:
        f = os.path.join(d, s, "results.md")
        if os.path.exists(f):
            L += [demote(demote(open(f).read())), ""]
    open(os.path.join(d, "results.md"), "w").write("\n".join(L) + "\n")
    out = dict(meta=dict(meta, date=date, machine=mach), runs=runs, targets=targets,
               checks=dict(ok=not chk.failures, checked=chk.checked, failures=chk.failures, warnings=chk.warnings),
               suites=suites)
    with open(os.path.join(d, "results.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    if chk.failures:
        print(f"all-report: {len(chk.failures)} check(s) failed:", file=sys.stderr)
        for f in chk.failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    return 0


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "jmh":
        jmh(a[1], a[2] if len(a) > 2 else "benchmarks/jmh.sh")
    elif len(a) == 2 and a[0] == "report":
        sys.exit(report(a[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
