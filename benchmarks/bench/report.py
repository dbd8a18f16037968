#!/usr/bin/env python3
"""Statistics and report for nbd-compare.sh.

usage: report.py DIR

Reads DIR/raw/meta.tsv, DIR/raw/runs.tsv (one row per measured job: rep, target, job, kind, fio
JSON file, server CPU ticks, wall time, bytes) and the fio JSON files it names; writes
DIR/results.md and DIR/results.json. Rep 0 is the physical-limit pass (target "disk").
"""
import csv
import json
import math
import os
import statistics
import sys
import time

REFS = ("nbdkit", "nbd-server", "qemu-nbd")
SUBJECT = "mirra"
JOB_ORDER = ("nbdcopy-in", "randwrite-4k-qd1", "randwrite-4k-qd32", "randread-4k-qd32",
             "write-1m-qd8", "read-1m-qd8", "randrw70-4k-qd16", "nbdcopy-out")
GIB = 2 ** 30
MIB = 2 ** 20


def unit(job):
    """Headline metric of a job: IOPS for the 4k jobs, MiB/s for the rest."""
    return "iops" if "-4k-" in job else "mib_s"


UNIT_LABEL = {"iops": "IOPS", "mib_s": "MiB/s"}


def load_fio(path):
    text = open(path).read()
    job = json.loads(text[text.index("{"):])["jobs"][0]
    if job.get("error"):
        sys.exit(f"{path}: fio reported error {job['error']}")
    return job["mixed"]


def measure(d, row, clk):
    """One runs.tsv row -> dict of metrics."""
    ticks, wall = int(row["cpu_ticks"]), int(row["wall_ns"]) / 1e9
    if row["kind"] == "fio":
        m = load_fio(os.path.join(d, row["file"]))
        moved = m["io_bytes"]
        out = dict(iops=m["iops"], mib_s=m["bw_bytes"] / MIB,
                   lat_mean_us=m["lat_ns"]["mean"] / 1e3,
                   lat_p99_us=m["lat_ns"]["percentile"]["99.000000"] / 1e3,
                   lat_p999_us=m["lat_ns"]["percentile"]["99.900000"] / 1e3)
    else:
        moved = int(row["bytes"])
        out = dict(mib_s=moved / MIB / wall, wall_s=wall)
    out["gib_moved"] = moved / GIB
    if row["target"] != "disk":
        out["cpu_s"] = ticks / clk
        out["cpu_s_per_gib"] = out["cpu_s"] / (moved / GIB) if moved else None
    return out


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    med = statistics.median(values)
    return dict(median=med, min=min(values), max=max(values),
                spread_pct=(max(values) - min(values)) / med * 100 if med else None,
                values=values)


def human(n):
    return f"{n / GIB:g} GiB" if n >= GIB else f"{n / MIB:g} MiB"


def rounded(x):
    """Round floats to 4 significant digits for the JSON file."""
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


def ratio(a, b):
    return a / b if a is not None and b else None


def fr(r):
    return "–" if r is None else f"{r:.2f}×"


def num(x):
    """runtime_s and ramp_s: whole seconds, or fractions for runs given in milliseconds"""
    v = float(x)
    return int(v) if v == int(v) else v


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def main():
    d = sys.argv[1]
    meta, tools, cmds = {}, {}, {}
    for line in open(os.path.join(d, "raw", "meta.tsv")):
        f = line.rstrip("\n").split("\t")
        if f[0] == "tool":
            tools[f[1]] = f[2]
        elif f[0] == "cmd":
            cmds[f[1]] = f[2]
        else:
            meta[f[0]] = f[1]
    servers = meta["servers"].split()
    reps, clk = int(meta["reps"]), int(meta["clk_tck"])
    refs = [s for s in servers if s in REFS]
    subject = SUBJECT if SUBJECT in servers else None

    runs = {}   # (target, job) -> list of metric dicts (one per rep)
    with open(os.path.join(d, "raw", "runs.tsv")) as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            runs.setdefault((row["target"], row["job"]), []).append(measure(d, row, clk))
    jobs = [j for j in JOB_ORDER if any((s, j) in runs for s in servers)]

    def stat(target, job, key):
        return summary([r.get(key) for r in runs.get((target, job), [])])

    def med(target, job, key):
        s = stat(target, job, key)
        return s["median"] if s else None

    # best reference per job and metric: highest throughput, lowest latency, lowest CPU per GiB
    best = {}
    for j in jobs:
        b = {}
        if refs:
            b["throughput"] = max(refs, key=lambda s: med(s, j, unit(j)) or 0)
            if med(refs[0], j, "lat_mean_us") is not None:
                b["lat_mean"] = min(refs, key=lambda s: med(s, j, "lat_mean_us") or math.inf)
                b["lat_p99"] = min(refs, key=lambda s: med(s, j, "lat_p99_us") or math.inf)
            b["cpu"] = min(refs, key=lambda s: med(s, j, "cpu_s_per_gib") or math.inf)
        best[j] = b

    def vs_best(target, j, key, which):
        ref = best[j].get(which)
        return ratio(med(target, j, key), med(ref, j, key)) if ref else None

    disk = {j: runs[("disk", j)][0] for j in jobs if ("disk", j) in runs}
    iperf = None
    if meta.get("iperf3") == "1":
        ij = json.load(open(os.path.join(d, "raw", "phys-iperf3.json")))
        iperf = dict(mib_s=ij["end"]["sum_received"]["bits_per_second"] / 8 / MIB,
                     seconds=ij["end"]["sum_received"]["seconds"], streams=1, write_size="1M")

    # ---------------- Markdown ----------------
    size = int(meta["size_bytes"])
    el = int(meta["elapsed_s"])
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    host = f"{os.cpu_count()} CPUs, {mem:.1f} GiB RAM, {meta['kernel']}"
    L = [f"# NBD server comparison{' (quick smoke run)' if meta['quick'] == '1' else ''} — {date}", "",
         f"`{meta['command']}` — repo at {meta['repo_git']}; {host}; backing file on {meta['fs']}.",
         f"{reps} rep(s), servers interleaved rep by rep (order rotated each rep); "
         f"fio jobs {meta['runtime_s']} s after a {meta['ramp_s']} s ramp on a {human(size)} region; "
         f"total wall time {el // 60} min {el % 60} s.",
         "Tools: " + "; ".join(f"{v}" for v in tools.values()) + ".", ""]
    cols = servers
    head = "| job | unit | " + " | ".join(cols)
    sep = "|---|---|" + "--:|" * len(cols)

    L += ["## Throughput", "",
          "Median over reps (ratio to the best reference on that job" +
          (", min–max spread over reps as % of the median" if reps > 1 else "") + ").", ""]
    extra = " | best ref" + (" | **mirra ÷ best**" if subject and refs else "")
    L += [head + extra + " |", sep + "---|" + ("--:|" if subject and refs else "")]
    for j in jobs:
        u = unit(j)
        cells = []
        for s in cols:
            st = stat(s, j, u)
            if not st:
                cells.append("–")
                continue
            inner = [fr(vs_best(s, j, u, "throughput"))] if refs else []
            if reps > 1:
                inner.append(f"{st['spread_pct']:.0f}%")
            cells.append(fmt(st["median"]) + (f" ({', '.join(inner)})" if inner else ""))
        row = f"| {j} | {UNIT_LABEL[u]} | " + " | ".join(cells) + f" | {best[j].get('throughput', '–')}"
        if subject and refs:
            row += f" | **{fr(vs_best(subject, j, u, 'throughput'))}**"
        L.append(row + " |")
    if subject and refs:
        g = geomean([vs_best(subject, j, unit(j), "throughput") for j in jobs])
        L += ["", f"Geometric mean of mirra ÷ best reference over the {len(jobs)} jobs: **{fr(g)}**."]

    fio_jobs = [j for j in jobs if med(cols[0], j, "lat_mean_us") is not None or
                any(med(s, j, "lat_mean_us") is not None for s in cols)]
    L += ["", "## Latency (fio jobs)", "",
          "Median over reps of the mean / p99 completion latency in µs (submit to completion, as fio "
          "measures it through the nbd engine).", ""]
    extra = " | lowest ref mean | mirra ÷ lowest (mean / p99)" if subject and refs else ""
    L += ["| job | " + " | ".join(cols) + extra + " |", "|---|" + "--:|" * len(cols) + ("---|--:|" if extra else "")]
    for j in fio_jobs:
        row = f"| {j} | " + " | ".join(f"{fmt(med(s, j, 'lat_mean_us'))} / {fmt(med(s, j, 'lat_p99_us'))}" for s in cols)
        if extra:
            row += (f" | {best[j].get('lat_mean', '–')} | {fr(vs_best(subject, j, 'lat_mean_us', 'lat_mean'))}"
                    f" / {fr(vs_best(subject, j, 'lat_p99_us', 'lat_p99'))}")
        L.append(row + " |")

    L += ["", "## Server CPU per GiB moved", "",
          "CPU seconds (user + system, all threads and child processes, from /proc/PID/stat) spent by "
          "the server during the measured window, divided by the GiB the client moved; median over reps "
          "(ratio to the cheapest reference on that job).", ""]
    extra = " | cheapest ref" + (" | mirra ÷ cheapest" if subject and refs else "")
    L += ["| job | " + " | ".join(cols) + extra + " |", "|---|" + "--:|" * len(cols) + "---|" + ("--:|" if subject and refs else "")]
    for j in jobs:
        row = f"| {j} | " + " | ".join(
            fmt(med(s, j, "cpu_s_per_gib")) + (f" ({fr(vs_best(s, j, 'cpu_s_per_gib', 'cpu'))})" if refs else "")
            for s in cols) + f" | {best[j].get('cpu', '–')}"
        if subject and refs:
            row += f" | {fr(vs_best(subject, j, 'cpu_s_per_gib', 'cpu'))}"
        L.append(row + " |")

    L += ["", "## Physical limits (same run, measured once)", "",
          f"The backing disk without NBD: fio libaio with O_DIRECT on a file of the same size on the same "
          "filesystem; the nbdcopy rows copy the random file to that file and that file to `null:` "
          "(page cache, no NBD). A ratio above 1× means the server beat the raw device (page cache). "
          f"fio jobs here: {meta['phys_runtime_s']} s after a {meta['phys_ramp_s']} s ramp.", ""]
    extra = " | mirra ÷ disk" if subject else ""
    L += ["| job | unit | disk | disk lat mean / p99 µs | best ref | best ref ÷ disk" + extra + " |",
          "|---|---|--:|--:|---|--:|" + ("--:|" if extra else "")]
    for j in jobs:
        u, dk = unit(j), disk.get(j)
        dv = dk.get(u) if dk else None
        lat = f"{fmt(dk['lat_mean_us'])} / {fmt(dk['lat_p99_us'])}" if dk and "lat_mean_us" in dk else "–"
        b = best[j].get("throughput")
        row = (f"| {j} | {UNIT_LABEL[u]} | {fmt(dv)} | {lat} | {b + ' ' + fmt(med(b, j, u)) if b else '–'} | "
               f"{fr(ratio(med(b, j, u), dv)) if b else '–'}")
        if extra:
            row += f" | {fr(ratio(med(subject, j, u), dv))}"
        L.append(row + " |")
    L.append("")
    if iperf:
        big = [j for j in jobs if unit(j) == "mib_s" and j.endswith("qd8")]
        top = max((med(s, j, "mib_s") or 0, s, j) for s in cols for j in big) if big else None
        L.append(f"Loopback TCP (iperf3, 1 stream, 1 MiB writes, {iperf['seconds']:.0f} s): "
                 f"**{fmt(iperf['mib_s'])} MiB/s**" +
                 (f"; the fastest 1 MiB NBD job ({top[1]} {top[2]}, {fmt(top[0])} MiB/s) reaches "
                  f"{top[0] / iperf['mib_s'] * 100:.0f}% of it." if top and top[0] else "."))
    else:
        L.append("Loopback TCP: skipped, iperf3 is not installed (`apt-get install iperf3`).")

    L += ["", "## Command lines", ""] + [f"- {s}: `{cmds[s]}`" for s in cols if s in cmds]
    conf = os.path.join(d, "raw", "nbd-server.conf")
    if "nbd-server" in cols and os.path.exists(conf):
        L += ["", "nbd-server config:", "", "```", open(conf).read().strip(), "```"]
    L += ["", "fio: `--ioengine=nbd --uri=nbd://127.0.0.1:PORT/[EXPORT] --size=REGION --time_based "
          f"--runtime={meta['runtime_s']} --ramp_time={meta['ramp_s']} --norandommap --randrepeat=0 "
          "--unified_rw_reporting=mixed` plus the job's --rw/--bs/--iodepth; nbdcopy with its defaults. "
          f"Raw data: {d}/raw/."]
    md = "\n".join(L) + "\n"
    open(os.path.join(d, "results.md"), "w").write(md)

    # ---------------- JSON ----------------
    keys = ("iops", "mib_s", "lat_mean_us", "lat_p99_us", "lat_p999_us", "cpu_s", "cpu_s_per_gib",
            "gib_moved", "wall_s")
    results = {}
    for j in jobs:
        per = {}
        for s in cols:
            if (s, j) in runs:
                per[s] = {k: stat(s, j, k) for k in keys if stat(s, j, k)}
        entry = dict(unit=unit(j), servers=per, best_reference=best[j])
        if subject and refs:
            entry["mirra_vs_best"] = dict(
                throughput=vs_best(subject, j, unit(j), "throughput"),
                lat_mean=vs_best(subject, j, "lat_mean_us", "lat_mean"),
                lat_p99=vs_best(subject, j, "lat_p99_us", "lat_p99"),
                cpu_per_gib=vs_best(subject, j, "cpu_s_per_gib", "cpu"))
        results[j] = entry
    out = dict(
        meta=dict(date=date, host=host, command=meta["command"], repo_git=meta["repo_git"],
                  filesystem=meta["fs"], servers=servers, reps=reps, quick=meta["quick"] == "1",
                  runtime_s=num(meta["runtime_s"]), ramp_s=num(meta["ramp_s"]),
                  physical_runtime_s=num(meta["phys_runtime_s"]), physical_ramp_s=num(meta["phys_ramp_s"]),
                  size_bytes=size,
                  elapsed_s=el, tools=tools),
        commands=cmds,
        results=results,
        geomean_mirra_vs_best_throughput=(geomean([vs_best(subject, j, unit(j), "throughput") for j in jobs])
                                          if subject and refs else None),
        physical=dict(disk={j: v for j, v in disk.items()},
                      loopback_tcp=iperf if iperf else dict(skipped="iperf3 not installed")))
    with open(os.path.join(d, "results.json"), "w") as fh:
        json.dump(rounded(out), fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
