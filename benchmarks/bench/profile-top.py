#!/usr/bin/env python3
"""Top frames of CPU profiles written by profile.sh, as Markdown.

usage: profile-top.py [--top N] FILE...

FILE: a JFR recording (.jfr; read with the JDK's `jfr print --json`) or async-profiler collapsed stacks
(.collapsed: "frame;frame;...;frame COUNT" per line, root first). For each file: the number of CPU samples,
the threads they were taken in, the top frames by self samples (the frame that was running) and by total samples
(the frame anywhere on the stack), the top mirra frames (io.mirra.*) by total samples. For JFR, CPU samples are
jdk.ExecutionSample (threads running Java code); jdk.NativeMethodSample (threads inside native code, e.g. blocked
in epoll_wait or a read, which is mostly waiting, not CPU) is counted separately.
"""
import collections
import json
import os
import re
import subprocess
import sys


def norm_thread(name):
    return re.sub(r"\d+$", "N", name or "?")


def frame_name(f):
    m = f.get("method") or {}
    t = (m.get("type") or {}).get("name") or "?"
    return f"{t.replace('/', '.')}.{m.get('name', '?')}"


def read_jfr(path):
    jfr = os.path.join(os.environ["JAVA_HOME"], "bin", "jfr") if os.environ.get("JAVA_HOME") else "jfr"
    out = subprocess.run([jfr, "print", "--json", "--events", "jdk.ExecutionSample,jdk.NativeMethodSample", path],
                         capture_output=True, text=True, check=True).stdout
    events = json.loads(out)["recording"]["events"]
    cpu, native = [], []
    for e in events:
        v = e["values"]
        frames = [frame_name(f) for f in ((v.get("stackTrace") or {}).get("frames") or [])]  # leaf first
        th = v.get("sampledThread") or {}
        rec = (norm_thread(th.get("javaName") or th.get("osName")), frames)
        (cpu if e["type"] == "jdk.ExecutionSample" else native).append(rec)
    return cpu, native


def read_collapsed(path):
    cpu = []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        raw = stack.split(";")
        kernel = raw[-1].endswith("_[k]")  # async-profiler marks kernel frames
        frames = [re.sub(r"_\[[a-z0-9]+\]$", "", f).replace("/", ".") for f in raw]
        thread = "?"
        if frames and frames[0].startswith("["):  # the 'threads' option: "[name tid=N]" at the root
            thread = norm_thread(re.sub(r" tid=\d+\]$", "", frames.pop(0))[1:].rstrip("]"))
        frames.reverse()  # leaf first, as in JFR
        cpu += [(thread + (" [kernel]" if kernel else ""), frames)] * int(count)
    return cpu, []


def top(counter, total, n):
    return [(c * 100 / total, name) for name, c in counter.most_common(n)]


def summarize(path, n):
    cpu, native = read_jfr(path) if path.endswith(".jfr") else read_collapsed(path)
    name = os.path.basename(path)
    L = [f"#### {name}", ""]
    total = len(cpu)
    if not total:
        L.append("No CPU samples (the threads ran no Java code while sampled, or the recording is empty).")
        if native:
            L.append(f"{len(native)} native-method samples.")
        return "\n".join(L)
    self_c, total_c, mirra_c, threads, kern = (collections.Counter() for _ in range(5))
    for th, frames in cpu:
        if th.endswith(" [kernel]"):
            th = th[:-9]
            kern[th] += 1
            kern[""] += 1
        threads[th] += 1
        if frames:
            self_c[frames[0]] += 1
        seen = set(frames)
        for f in seen:
            total_c[f] += 1
            if f.startswith("io.mirra."):
                mirra_c[f] += 1
    kind = "jdk.ExecutionSample (Java code running)" if path.endswith(".jfr") else "CPU samples (perf_events)"
    L.append(f"{total:,} {kind}" + (f"; {len(native):,} jdk.NativeMethodSample (threads inside native code: "
                                     "waiting or system calls, not counted as CPU)" if native else "") + ".")
    if any(t != "?" for t in threads):
        L.append("Threads (% of the samples" + (", of which in the kernel" if kern else "") + "): " + ", ".join(
            f"{t} {c * 100 / total:.0f}%" + (f" ({kern[t] * 100 / total:.0f}%)" if kern else "")
            for t, c in threads.most_common(6)) + ".")
    if kern:
        L.append(f"Samples in the kernel (system calls, scheduler, TCP, page cache): {kern[''] * 100 / total:.0f}%.")
    L += ["", "| self % | frame (running) | | total % | frame (on the stack) |", "|--:|---|---|--:|---|"]
    a, b = top(self_c, total, n), top(total_c, total, n)
    for i in range(max(len(a), len(b))):
        l = f"| {a[i][0]:.1f} | `{a[i][1]}` |" if i < len(a) else "| | |"
        r = f" | {b[i][0]:.1f} | `{b[i][1]}` |" if i < len(b) else " | | |"
        L.append(l + r)
    if mirra_c:
        L += ["", "mirra frames by total %: " + ", ".join(f"`{f.replace('io.mirra.', '')}` {p:.1f}"
                                                      for p, f in top(mirra_c, total, n)) + "."]
    if native:
        nat = collections.Counter(fr[0] for _, fr in native if fr)
        L += ["", "Native-method samples, top frames: " + ", ".join(f"`{f}` {c * 100 / len(native):.0f}%"
                                                               for f, c in nat.most_common(5)) + "."]
    return "\n".join(L)


def main():
    a = sys.argv[1:]
    n = 15
    if len(a) >= 2 and a[0] == "--top":
        n = int(a[1])
        a = a[2:]
    if not a:
        sys.exit(__doc__)
    rc = 0
    for path in a:
        try:
            print(summarize(path, n))
            print()
        except (OSError, subprocess.CalledProcessError, ValueError, KeyError) as ex:
            print(f"profile-top.py: {path}: {ex}", file=sys.stderr)
            rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
