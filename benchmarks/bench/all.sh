#!/usr/bin/env bash
# all.sh (`./mirra bench`): every benchmark of mirra in one run, and one report. Runs, one after the other, the NBD
# comparison with the physical limits of the machine (nbd-compare.sh), what replication costs (replication-compare.sh),
# resync (resync-compare.sh) and the JMH microbenchmarks (../jmh.sh), each into its own directory, then assembles
# their results into DIR/results.md (printed) and DIR/results.json, and checks that every expected figure is there
# and above zero. See README.md beside this script.
set -Eeuo pipefail

ME=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)
ALL_SUITES=(nbd replication resync jmh)
ALL_LIST=nbd,replication,resync,jmh
COMMAND=${MIRRA_BENCH_COMMAND:-benchmarks/bench/$ME${*:+ $*}}
unset MIRRA_BENCH_COMMAND

usage() {
  cat <<EOF
usage: mirra bench [--quick] [--dir DIR] [--only LIST] [--profile]
       (or benchmarks/bench/$ME with the same options)

Runs every benchmark in one run and writes DIR/results.md (also printed) and DIR/results.json:

  nbd          mirra serve beside nbdkit, nbd-server and qemu-nbd: fio jobs and nbdcopy in/out, with
               the physical limits of this machine (fio on the raw backing file, nbdcopy file to file,
               loopback TCP with iperf3)                                      (nbd-compare.sh)
  replication  mirra node on 1, 2 and 3 nodes, protocols C and A, and a diskless Primary reading and
               writing the copies of two peers; loopback round trip           (replication-compare.sh)
  resync       bitmap resync of 1 % and full sync, with and without application writes, against
               nbdcopy between two nbdkit servers                             (resync-compare.sh)
  jmh          the JMH microbenchmarks                                        (benchmarks/jmh.sh)

  --quick      smoke run, under 3 minutes on 2 cores: 64 MiB volumes, 0.5 s fio jobs without ramp,
               1 rep, no prefill of the disks, replication configurations single, c3, a2 and d3
               only, mirra's JVMs with MIRRA_JAVA_OPTS=-XX:TieredStopAtLevel=1 (C1 only: less CPU
               for JVMs that live seconds), a JMH subset (jmh.sh --smoke). It proves that every
               benchmark runs and produces numbers; the figures mean little.
               Without --quick: each script's full defaults (3 reps, 2 GiB / 1 GiB volumes, 10-15 s
               jobs, every JMH benchmark with 2 forks): about 75 minutes.
  --dir DIR    results directory (default /var/tmp/mirra-bench.YYYYmmdd-HHMMSS); each suite writes
               DIR/SUITE/results.{md,json}; the build measured is copied to DIR/build. Needs about
               10 GiB free for a full run (data files are deleted as each suite ends).
  --only LIST  comma-separated subset of $ALL_LIST, run in that order (default: all).
  --profile    afterwards, CPU profiles of the nodes in separate runs (not part of the figures): three
               nodes, protocol C, during the 4k random write jobs, and both nodes during a full resync,
               recorded with JFR, and also with async-profiler when BENCH_ASYNC_PROFILER names its
               libasyncProfiler.so (see profile.sh); summarized by profile-top.py into
               DIR/profile/summary.md and the report. About 4 minutes per profiler.

Exit status: 0 when every suite ran, every expected figure is present and above zero, no suite
recorded a problem and no process of the run is left; 1 otherwise, with the reason.

Environment: MIRRA=PATH (launcher to measure, default $REPO/mirra, built first if sources changed; the run
uses a private copy of that build, DIR/build, for every suite). The scripts' own variables pass through.
Needs the Debian packages fio, libnbd-bin, nbdkit, nbd-server, qemu-utils, iperf3, python3, openssl,
diffutils, iproute2, procps, coreutils, gcc, a JDK (openjdk-17-jdk-headless) and maven. Run it under nice on a
shared machine; only one benchmark at a time.
EOF
}

die() { echo "$ME: error: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# ------------------------------------------------------------------------------------------------------------
# The suite running now is a child in the background, so that SIGTERM/SIGINT reach it (it stops everything it
# started on SIGTERM) and this script waits for its cleanup before it exits.
CHILD=""
# subtree PID: the process and all its live descendants, one per line
subtree() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      mine[root] = 1
      do { grew = 0; for (p in parent) if (!(p in mine) && (parent[p] in mine)) { mine[p] = 1; grew = 1 } } while (grew)
      for (p in mine) if (p in parent) print p
    }'
}
on_signal() {
  local tree p
  trap - INT TERM
  log "$1: stopping the running suite"
  if [ -n "$CHILD" ]; then
    tree=$(subtree "$CHILD" | tr '\n' ' ')
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true   # the benchmark scripts stop what they started on SIGTERM
    # what is left (e.g. JMH's JVMs under jmh.sh, which has no trap of its own)
    for p in $tree; do kill -TERM "$p" 2>/dev/null || true; done
  fi
  exit "$2"
}
trap 'on_signal interrupted 130' INT
trap 'on_signal terminated 143' TERM

# ------------------------------------------------------------------------------------------------------------
QUICK=0 DIR="" ONLY=$ALL_LIST PROFILE=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift ;;
    --profile) PROFILE=1; shift ;;
    --dir|--only) [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in --dir) DIR=$2 ;; --only) ONLY=$2 ;; esac; shift 2 ;;
    --dir=*) DIR=${1#*=}; shift ;;
    --only=*) ONLY=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
SUITES=()
IFS=, read -r -a req <<<"$ONLY"
for s in "${req[@]}"; do
  case " ${ALL_SUITES[*]} " in *" $s "*) ;; *) die "unknown suite '$s' in --only (choose from $ALL_LIST)" ;; esac
  case " ${SUITES[*]-} " in *" $s "*) die "suite '$s' listed twice in --only" ;; esac
  SUITES+=("$s")
done
[ ${#SUITES[@]} -gt 0 ] || die "--only is empty"
has() { case " ${SUITES[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

# Tools: a missing one stops the run here, before anything is measured, naming the Debian package
declare -A PKG=([fio]=fio [nbdcopy]=libnbd-bin [nbdinfo]=libnbd-bin [nbdkit]=nbdkit [nbd-server]=nbd-server
                [qemu-nbd]=qemu-utils [iperf3]=iperf3 [python3]=python3 [openssl]=openssl [cmp]=diffutils
                [ss]=iproute2 [ps]=procps [numfmt]=coreutils [findmnt]=util-linux [java]=openjdk-17-jdk-headless
                [jcmd]=openjdk-17-jdk-headless [jfr]=openjdk-17-jdk-headless [mvn]=maven [awk]=gawk [cc]=gcc)
need=(python3 ps numfmt findmnt java awk)
has nbd && need+=(fio nbdcopy nbdinfo nbdkit nbd-server qemu-nbd iperf3 openssl ss)
# cc: the loopback round trip of the replication target is measured in C (replication-compare.sh alone falls back to
# Python's slower figure; here a missing compiler is an error, not a quietly different bound)
has replication && need+=(fio nbdcopy nbdinfo openssl cc)
has resync && need+=(fio nbdcopy nbdinfo nbdkit openssl cmp)
[ "$PROFILE" = 0 ] || need+=(jcmd jfr fio nbdcopy nbdinfo nbdkit openssl cmp)
missing=()
for t in "${need[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  pk=$(for t in "${missing[@]}"; do echo "${PKG[$t]:-$t}"; done | sort -u | tr '\n' ' ')
  die "missing tool(s): $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')- install with: apt-get install ${pk% }"
fi

DIR=${DIR:-/var/tmp/mirra-bench.$(date +%Y%m%d-%H%M%S)}
mkdir -p -- "$DIR"; DIR=$(cd -- "$DIR" && pwd)
for d in nbd replication resync jmh profile build logs; do
  [ ! -e "$DIR/$d" ] || [ -e "$DIR/.mirra-bench" ] || die "$DIR/$d exists but $DIR was not made by $ME; choose another --dir"
done
touch "$DIR/.mirra-bench"
rm -rf -- "$DIR/logs" "$DIR/profile" "$DIR/results.md" "$DIR/results.json" "$DIR/suites.tsv"
for s in "${SUITES[@]}"; do rm -rf -- "${DIR:?}/$s"; done
mkdir -p "$DIR/logs"
T_START=$(date +%s)
START_ISO=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "results in $DIR; suites: ${SUITES[*]}$([ "$QUICK" = 1 ] && echo ' (quick smoke run)')"

# ------------------------------------------------------------------------------------------------------------
# The build: the launcher builds when sources changed; then a private copy of that build (node/target/classes and
# the jars of node/target/classpath.txt) in DIR/build is what every suite runs, so that others rebuilding the tree
# meanwhile change nothing under running nodes, and every suite measures the same build.
MIRRA=${MIRRA:-$REPO/mirra}
[ -x "$MIRRA" ] || die "mirra launcher '$MIRRA' not found or not executable"
LROOT=$(cd -- "$(dirname -- "$(readlink -f "$MIRRA")")" && pwd)
GIT_DESCRIBE=$(git -C "$LROOT" describe --always --dirty 2>/dev/null || cat "$LROOT/.git-describe" 2>/dev/null || echo unknown)
if has nbd || has replication || has resync || [ "$PROFILE" = 1 ]; then
  for try in 1 2 3; do  # sources being edited by others may not compile for a moment
    out=$("$MIRRA" version 2>&1) && break
    echo "$out" >&2; [ "$try" = 3 ] && die "'$MIRRA version' failed 3 times (build broken? see $LROOT/node/target-build.log)"
    log "'$MIRRA version' failed (build broken?); again in 30 s"; sleep 30
  done
  VERSION=$out
  if [ -f "$LROOT/node/target/classpath.txt" ]; then
    b=$DIR/build cpf=$LROOT/node/target/classpath.txt flags=$LROOT/node/target/classes/mirra-jvm.flags same=0
    for try in 1 2 3 4 5; do
      rm -rf "$b"; mkdir -p "$b/lib"
      cpline=$(cat "$cpf"); IFS=: read -r -a jars <<<"$cpline"
      cp -r "$LROOT/node/target/classes" "$b/classes"
      cp="$b/classes" i=0
      for j in "${jars[@]}"; do i=$((i + 1)); cp -- "$j" "$b/lib/$i-${j##*/}"; cp+=":$b/lib/$i-${j##*/}"; done
      same=1
      diff -r -q "$LROOT/node/target/classes" "$b/classes" >/dev/null 2>&1 || same=0
      [ "$(cat "$cpf")" = "$cpline" ] || same=0
      i=0; for j in "${jars[@]}"; do i=$((i + 1)); cmp -s "$j" "$b/lib/$i-${j##*/}" || same=0; done
      [ "$same" = 1 ] && break
      log "build snapshot: the build changed while it was copied; again in 10 s"; sleep 10
    done
    [ "$same" = 1 ] || die "could not take a consistent copy of the build (it kept changing)"
    {
      echo '#!/usr/bin/env bash'
      echo "# a private copy of the mirra build, taken by $ME at $(date '+%F %T') from $LROOT ($GIT_DESCRIBE)"
      echo "exec \"\${JAVA_HOME:+\$JAVA_HOME/bin/}java\" $(cat "$flags") \${MIRRA_JAVA_OPTS:-} -cp \"$cp\" io.mirra.node.MirraMain \"\$@\""
    } >"$b/mirra"
    chmod +x "$b/mirra"
    echo "$GIT_DESCRIBE" >"$b/.git-describe"   # the scripts name the build measured from this file
    MIRRA=$b/mirra
    BUILD_ID=$(cd "$b" && find classes lib -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-12)
    log "build: $VERSION, $GIT_DESCRIBE, snapshot $BUILD_ID in $b"
  fi
fi
export MIRRA MIRRA_NO_BUILD=1
# quick: the mirra JVMs (about 30 short-lived ones) compile with C1 only: half the CPU of a smoke run went to C2
# compiling code that runs for a second; MIRRA_JAVA_OPTS set in the environment (even empty) is kept as it is
if [ "$QUICK" = 1 ] && [ -z "${MIRRA_JAVA_OPTS+set}" ]; then export MIRRA_JAVA_OPTS=-XX:TieredStopAtLevel=1; fi

# ------------------------------------------------------------------------------------------------------------
# run_suite NAME CMD...: run one suite in the background (see CHILD), its report on DIR/logs/NAME.out, its progress
# lines on the terminal (and DIR/logs/NAME.err); one line NAME RC SECONDS LOADAVG-BEFORE LOADAVG-AFTER in
# DIR/suites.tsv (the 1-minute load average: on a shared machine, how busy the others kept it)
FAILED=()
run_suite() {
  local name=$1 t0 rc=0 el la0; shift
  la0=$(cut -d' ' -f1 /proc/loadavg)
  log "$name: $*"
  printf '%s\n' "$*" >"$DIR/logs/$name.cmd"
  t0=$(date +%s)
  "$@" >"$DIR/logs/$name.out" 2> >(tee "$DIR/logs/$name.err" | sed -u "s/^/  $name| /" >&2) &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  el=$(( $(date +%s) - t0 ))
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$el" "$la0" "$(cut -d' ' -f1 /proc/loadavg)" >>"$DIR/suites.tsv"
  if [ "$rc" != 0 ]; then
    FAILED+=("$name")
    log "$name: FAILED (exit $rc) after $el s; last lines of its output:"
    tail -n 25 "$DIR/logs/$name.err" >&2 || true
  else
    log "$name: done in $((el / 60)) min $((el % 60)) s"
  fi
}

: >"$DIR/suites.tsv"
for s in "${SUITES[@]}"; do
  case $s in
    nbd)
      if [ "$QUICK" = 1 ]; then q=(--quick --size 64M --runtime 500ms --ramp 0 --tcp-seconds 1); else q=(); fi
      run_suite nbd "$HERE/nbd-compare.sh" --dir "$DIR/nbd" "${q[@]+"${q[@]}"}" ;;
    replication)
      # quick: single and c3 (the targets), a2 (protocol A), d3 (the diskless Primary)
      if [ "$QUICK" = 1 ]; then q=(--quick --size 64M --runtime 500ms --ramp 0 --no-prefill --rtt-samples 2000
                                   --configs single,c3,a2,d3); else q=(); fi
      run_suite replication "$HERE/replication-compare.sh" --dir "$DIR/replication" "${q[@]+"${q[@]}"}" ;;
    resync)
      if [ "$QUICK" = 1 ]; then
        run_suite resync env RESYNC_BASE_RUNTIME="${RESYNC_BASE_RUNTIME:-1}" "$HERE/resync-compare.sh" --dir "$DIR/resync" \
          --quick --size 64M --no-prefill
      else
        run_suite resync "$HERE/resync-compare.sh" --dir "$DIR/resync"
      fi ;;
    jmh)
      mkdir -p "$DIR/jmh"
      if [ "$QUICK" = 1 ]; then q=(--smoke); else q=(); fi
      # jmh.sh builds the benchmark jar itself when needed (MIRRA_NO_BUILD is for the launcher only)
      run_suite jmh env -u MIRRA_NO_BUILD "$REPO/benchmarks/jmh.sh" "${q[@]+"${q[@]}"}" --out "$DIR/jmh/raw"
      if [ ! -e "$DIR/jmh/raw" ] || ! python3 "$HERE/all-report.py" jmh "$DIR/jmh" "$(tail -n 1 "$DIR/logs/jmh.cmd")" >>"$DIR/logs/jmh.err" 2>&1; then
        case " ${FAILED[*]-} " in *" jmh "*) ;; *) FAILED+=(jmh); log "jmh: no usable JMH results (see $DIR/logs/jmh.err)" ;; esac
      fi ;;
  esac
done

# ------------------------------------------------------------------------------------------------------------
# Profiles (--profile): separate runs, so that no figure above includes a profiler
if [ "$PROFILE" = 1 ]; then
  mkdir -p "$DIR/profile"
  profilers=(jfr); [ -z "${BENCH_ASYNC_PROFILER:-}" ] || profilers+=(async)
  for p in "${profilers[@]}"; do
    if [ "$p" = jfr ]; then penv=(env -u BENCH_ASYNC_PROFILER); else penv=(env BENCH_ASYNC_PROFILER="$BENCH_ASYNC_PROFILER"); fi
    run_suite "profile-$p-replication" "${penv[@]}" REPL_PROFILE=randwrite-4k-qd1,randwrite-4k-qd32 \
      "$HERE/replication-compare.sh" --dir "$DIR/profile/$p-replication" --configs c3 --reps 1
    run_suite "profile-$p-resync" "${penv[@]}" RESYNC_PROFILE=full "$HERE/resync-compare.sh" \
      --dir "$DIR/profile/$p-resync" --cases full --reps 1
  done
  {
    echo "# CPU profiles of mirra nodes"
    echo
    echo "Separate runs after the measured ones (their own figures include the profiler): three nodes, protocol C"
    echo "(replication-compare.sh --configs c3 --reps 1, REPL_PROFILE=randwrite-4k-qd1,randwrite-4k-qd32), and a full"
    echo "sync of two nodes (resync-compare.sh --cases full --reps 1, RESYNC_PROFILE=full); profiles started and stopped"
    echo "by benchmarks/bench/profile.sh: JFR (\`jcmd PID JFR.start name=mirra-bench settings=profile\`, Java frames"
    echo "only)$([ -n "${BENCH_ASYNC_PROFILER:-}" ] && echo ", and async-profiler (\`jcmd PID JVMTI.agent_load $BENCH_ASYNC_PROFILER \"start,event=cpu,interval=${BENCH_PROFILE_INTERVAL:-1ms},threads\"\`: CPU samples from perf_events, kernel frames included)")."
    for p in "${profilers[@]}"; do
      for f in "$DIR/profile/$p-replication/raw/profile/"*-randwrite-4k-qd1-alpha.* \
               "$DIR/profile/$p-replication/raw/profile/"*-randwrite-4k-qd1-bravo.* \
               "$DIR/profile/$p-replication/raw/profile/"*-randwrite-4k-qd32-alpha.* \
               "$DIR/profile/$p-resync/raw/profile/"*-full-alpha.* "$DIR/profile/$p-resync/raw/profile/"*-full-bravo.*; do
        case $f in *.jfr|*.collapsed) ;; *) continue ;; esac
        [ -e "$f" ] || continue
        echo
        python3 "$HERE/profile-top.py" --top 15 "$f" || echo "(could not summarize $f)"
      done
    done
  } >"$DIR/profile/summary.md" 2>>"$DIR/logs/profile-summary.err" || true
fi

# ------------------------------------------------------------------------------------------------------------
# Report and checks
ELAPSED=$(( $(date +%s) - T_START ))
python3 - "$DIR/meta.json" "$COMMAND" "$START_ISO" "$ELAPSED" "$QUICK" "$PROFILE" "${SUITES[*]}" "$GIT_DESCRIBE" \
  "${BUILD_ID:-}" "${VERSION:-}" "$DIR" "${MIRRA_JAVA_OPTS:-}" <<'EOF'
import json, sys
a = sys.argv[1:]
json.dump(dict(command=a[1], start=a[2], elapsed_s=int(a[3]), quick=a[4] == "1", profile=a[5] == "1", suites=a[6].split(),
               git_describe=a[7], build_id=a[8] or None, mirra_version=a[9] or None, dir=a[10],
               mirra_java_opts=a[11] or None), open(a[0], "w"), indent=1)
EOF
rc=0
python3 "$HERE/all-report.py" report "$DIR" || rc=$?
[ ! -s "$DIR/results.md" ] || cat "$DIR/results.md"
# nothing started by this run may be left: every suite stops its processes on exit
# leftovers: every process started since this run began, other than this script and its own helpers, that names DIR/
# on its command line, runs in DIR or holds a file of DIR open (e.g. an iperf3 server, whose arguments name no file
# but whose output goes to DIR)
leftovers() {
  python3 - "$DIR" "$T_START" <<'EOF'
import os, sys
d, t_start = sys.argv[1].rstrip("/") + "/", int(sys.argv[2])
btime = next(int(l.split()[1]) for l in open("/proc/stat") if l.startswith("btime "))
tck = os.sysconf("SC_CLK_TCK")
mine, p = set(), os.getpid()
while p > 1:   # this helper and its ancestors (this script, the subshell around this call)
    mine.add(p)
    try:
        p = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        break
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) in mine:
        continue
    try:
        if btime + int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19]) / tck < t_start - 1:
            continue   # older than this run
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
        paths = [os.readlink(f"/proc/{pid}/cwd") + "/"]
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                paths.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    except (OSError, ValueError, IndexError):   # gone meanwhile, or not ours to read
        continue
    if d in cmd or any(x.startswith(d) for x in paths):
        print(pid, cmd[:300] or "?")
EOF
}
for _ in $(seq 50); do   # (the log filters of the last suite may take a moment to see their end of file)
  left=$(leftovers)
  [ -n "$left" ] || break; sleep 0.1
done
if [ -n "$left" ]; then
  echo "$ME: error: processes of this run are still running:" >&2; echo "$left" >&2; rc=1
fi
[ ${#FAILED[@]} -eq 0 ] || { echo "$ME: error: suite(s) failed: ${FAILED[*]} (logs: $DIR/logs/)" >&2; rc=1; }
[ "$rc" = 0 ] || [ ! -s "$DIR/results.json" ] || echo "$ME: error: see the 'Checks' section of $DIR/results.md" >&2
log "done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s: $DIR/results.md $DIR/results.json$([ "$rc" = 0 ] && echo '; all checks passed')"
exit "$rc"
