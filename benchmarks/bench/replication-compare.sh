#!/usr/bin/env bash
# replication-compare.sh: what replication costs. Measures `mirra node` in one run, configurations interleaved
# rep by rep: a resource with one node (the baseline), two and three nodes with disks under protocol C, and the
# same under protocol A, all nodes on this machine (replication over loopback), the client on the Primary's NBD
# export; and three nodes whose Primary is diskless (it reads and writes the copies of the other two over
# loopback). Same client jobs as /work/shared/bench/nbdbench.sh (fio's nbd engine, nbdcopy). Reports throughput,
# latency, CPU seconds per GiB summed over all node processes, and checks the two replication targets against a
# loopback round trip measured in the same run. See README.md beside this script.
set -Eeuo pipefail

ME=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)
ALL_CONFIGS=(single c2 c3 a2 a3 d3)
ALL_LIST=single,c2,c3,a2,a3,d3
ARGS="$*"
RES=bench

usage() {
  cat <<EOF
usage: $ME [--quick] [--reps N] [--size SIZE] [--dir DIR] [--configs LIST]
          [--runtime T] [--ramp T] [--no-prefill] [--rtt-samples N]

Starts the mirra nodes of each configuration in LIST, makes the first node (alpha) Primary, runs the job
list against its NBD export, stops the nodes, and repeats for every configuration and rep (interleaved,
order rotated each rep). Writes DIR/results.md (also printed) and DIR/results.json.

  --quick         smoke run: fio jobs 4 s after a 1 s ramp; --reps defaults to 1, --size to 256M
                  (about 3.5 min for the six configurations)
  --reps N        repetitions per configuration (default 3)
  --size SIZE     volume size = region of every job (default 1G; K/M/G suffixes)
  --dir DIR       scratch and results directory (default /var/tmp/mirra-repl-bench); the disks live in
                  DIR/data (about 9 x SIZE with all configurations) and are deleted at the end
  --configs LIST  comma-separated subset of $ALL_LIST (default: all), in rep-1 order:
                    single  one node (no peers, no protocol): the baseline every ratio refers to
                    c2, c3  two / three nodes with disks, protocol C (sync)
                    a2, a3  two / three nodes with disks, protocol A (async)
                    d3      three nodes, protocol C, alpha (the Primary) diskless: every read and write
                            goes to bravo and charlie, which have disks
  --runtime T     length of every fio job, after the ramp (whole seconds, or milliseconds as 500ms;
                  default 10, 4 with --quick)
  --ramp T        fio ramp before the measured window (the same units; default 2, 1 with --quick)
  --no-prefill    do not write every byte of each disk set before the reps (the first rep's nbdcopy-in
                  then writes them); for smoke runs only: later jobs may hit sparse regions
  --rtt-samples N round trips per loopback measurement (default 20000)

Jobs: nbdcopy-in (random file -> export), randwrite-4k-qd1, randwrite-4k-qd32, randread-4k-qd32,
write-1m-qd8, read-1m-qd8 (the jobs of nbdbench.sh, without the 70/30 mix and nbdcopy-out ones).
Full run (defaults: 3 reps, 1 GiB, 10 s jobs after a 2 s ramp): about 22 min on 2 cores.

Environment: MIRRA=PATH (launcher, default $REPO/mirra; its first call builds when sources changed, then
the run uses a private copy of that build in DIR/build, so every rep measures the same build even while
others rebuild the tree; the "git describe" of the report is that of the launcher's directory, or the
content of a .git-describe file there); REPL_RUNTIME, REPL_RAMP (as --runtime, --ramp);
REPL_READY_TIMEOUT (seconds for nodes to come up connected and in sync, default 180);
REPL_STOP_TIMEOUT (seconds a node may take to exit after SIGTERM, default 30);
REPL_PROFILE=JOB[,JOB...] records a CPU profile of every node during those jobs (profile.sh beside this
script: JFR, or async-profiler with BENCH_ASYNC_PROFILER=PATH/libasyncProfiler.so), in DIR/raw/profile;
the profiled run's figures include the profiler, do not compare them with unprofiled runs.
Needs: fio (with the nbd engine), libnbd-bin (nbdcopy, nbdinfo), python3, procps; optional: a C
compiler (cc) for the loopback round-trip floor (else Python's figure is used). Run it under
\`nice -n 19\` on a shared machine.
EOF
}

die() { echo "$ME: error: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
trap 'echo "$ME: error: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

# ------------------------------------------------------------------------------------------------------------
# Processes we start are recorded in OWNED and stopped on exit (nodes first with SIGTERM, then SIGKILL).
OWNED=() DATA="" OK=0
on_exit() {
  local rc=$? p
  trap - EXIT INT TERM ERR
  set +e
  for p in "${OWNED[@]}"; do running "$p" && kill -TERM "$p" 2>/dev/null; done
  for p in "${OWNED[@]}"; do
    for _ in $(seq 100); do running "$p" || break; sleep 0.1; done
    running "$p" && { log "pid $p did not exit after SIGTERM: killing it"; kill -KILL "$p" 2>/dev/null; }
    wait "$p" 2>/dev/null
  done
  if [ -n "$DATA" ] && [ -d "$DATA" ]; then
    # the disks and the random source go; the small state directories stay for a post-mortem
    find "$DATA" -name '*.img' -delete 2>/dev/null; rm -f "$DATA/source.rand"
    [ "$OK" = 1 ] || log "state directories kept in $DATA, node logs in ${DIR:-?}/logs"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'log "interrupted: stopping everything started by this run"; exit 130' INT
trap 'log "terminated: stopping everything started by this run"; exit 143' TERM

forget_pid() { local keep=() p; for p in "${OWNED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; OWNED=("${keep[@]}"); }
running() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; st=${st##*) }; [ "${st%% *}" != Z ]; }
# ticks PID: utime+stime+cutime+cstime of the process (all its threads) in clock ticks
ticks() { local st f; st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }; read -r -a f <<<"${st##*) }"
          echo $(( f[11] + f[12] + f[13] + f[14] )); }
now_ns() { date +%s%N; }
# free_port: a free TCP port on 127.0.0.1, never the same twice in a run (free-port.py says why and how)
free_port() { python3 "$HERE/free-port.py" "$DIR/.ports"; }
one_of() { local w=$1 x; shift; for x; do [ "$x" = "$w" ] && return 0; done; return 1; }
problem() { log "PROBLEM: $*"; printf '%s\n' "$*" >>"$DIR/raw/problems.txt"; }
# warning: a WARNING line in a node log (a problem the node recovered from; listed in the report, not a problem)
warning() { log "warning: $*"; printf '%s\n' "$*" >>"$DIR/raw/warnings.txt"; }
py() { python3 "$HERE/replication-report.py" "$@"; }

# ------------------------------------------------------------------------------------------------------------
# Options
QUICK=0 REPS="" SIZE_ARG="" DIR="" CONFIGS_ARG=$ALL_LIST RUNTIME_ARG="" RAMP_ARG="" PREFILL=1 RTT_SAMPLES=20000
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift ;;
    --no-prefill) PREFILL=0; shift ;;
    --reps|--size|--dir|--configs|--runtime|--ramp|--rtt-samples)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in --reps) REPS=$2 ;; --size) SIZE_ARG=$2 ;; --dir) DIR=$2 ;; --configs) CONFIGS_ARG=$2 ;;
                 --runtime) RUNTIME_ARG=$2 ;; --ramp) RAMP_ARG=$2 ;; --rtt-samples) RTT_SAMPLES=$2 ;; esac
      shift 2 ;;
    --reps=*) REPS=${1#*=}; shift ;;
    --size=*) SIZE_ARG=${1#*=}; shift ;;
    --dir=*) DIR=${1#*=}; shift ;;
    --configs=*) CONFIGS_ARG=${1#*=}; shift ;;
    --runtime=*) RUNTIME_ARG=${1#*=}; shift ;;
    --ramp=*) RAMP_ARG=${1#*=}; shift ;;
    --rtt-samples=*) RTT_SAMPLES=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
if [ "$QUICK" = 1 ]; then RUNTIME=4 RAMP=1 REPS=${REPS:-1} SIZE_ARG=${SIZE_ARG:-256M}
else RUNTIME=10 RAMP=2 REPS=${REPS:-3} SIZE_ARG=${SIZE_ARG:-1G}; fi
RUNTIME=${RUNTIME_ARG:-${REPL_RUNTIME:-$RUNTIME}} RAMP=${RAMP_ARG:-${REPL_RAMP:-$RAMP}}
READY_TIMEOUT=${REPL_READY_TIMEOUT:-180} STOP_TIMEOUT=${REPL_STOP_TIMEOUT:-30}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer, got '$REPS'"
[[ $RUNTIME =~ ^[0-9]+(ms)?$ && $RAMP =~ ^[0-9]+(ms)?$ ]] || die "runtime/ramp must be whole seconds (10) or milliseconds (500ms)"
# dur_s T: a duration of whole seconds (10) or milliseconds (500ms), in seconds
dur_s() { case $1 in *ms) awk -v m="${1%ms}" 'BEGIN { printf "%g\n", m / 1000 }' ;; *) echo "$1" ;; esac; }
RUNTIME_S=$(dur_s "$RUNTIME") RAMP_S=$(dur_s "$RAMP")
[ "$RUNTIME_S" != 0 ] || die "the runtime must be positive"
[[ $RTT_SAMPLES =~ ^[1-9][0-9]*$ ]] && [ "$RTT_SAMPLES" -ge 100 ] || die "--rtt-samples needs an integer >= 100"
PROFILE_JOBS=",${REPL_PROFILE:-},"
[[ $READY_TIMEOUT =~ ^[1-9][0-9]*$ && $STOP_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "timeouts must be whole seconds"
[[ ${SIZE_ARG^^} =~ ^[0-9]+[KMGT]?$ ]] || die "bad --size '$SIZE_ARG' (use e.g. 256M, 1G)"
SIZE=$(numfmt --from=iec "${SIZE_ARG^^}")
[ "$SIZE" -ge $((16 << 20)) ] && [ $((SIZE % 4096)) -eq 0 ] || die "--size must be a multiple of 4K and at least 16M"
CONFIGS=()
IFS=, read -r -a req <<<"$CONFIGS_ARG"
for c in "${req[@]}"; do
  one_of "$c" "${ALL_CONFIGS[@]}" || die "unknown configuration '$c' in --configs (choose from $ALL_LIST)"
  ! one_of "$c" "${CONFIGS[@]}" || die "configuration '$c' listed twice in --configs"
  CONFIGS+=("$c")
done
[ ${#CONFIGS[@]} -gt 0 ] || die "--configs is empty"

missing=()
for t in fio nbdcopy nbdinfo python3 numfmt ps; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] || die "missing tool(s): ${missing[*]} (Debian: fio libnbd-bin python3 coreutils procps)"
fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine (Debian's fio package has it)"
MIRRA_SET=${MIRRA:-} BUILD_ID=""
MIRRA=${MIRRA:-$REPO/mirra}
[ -x "$MIRRA" ] || die "mirra launcher '$MIRRA' not found or not executable"
CC=""; for c in cc gcc clang; do command -v "$c" >/dev/null 2>&1 && { CC=$c; break; }; done

# ------------------------------------------------------------------------------------------------------------
# Directories: DIR/conf (one config dir per configuration), DIR/data (disks and state dirs, per node count),
# DIR/raw, DIR/logs, DIR/results.*
DIR=${DIR:-/var/tmp/mirra-repl-bench}
mkdir -p -- "$DIR"; DIR=$(cd -- "$DIR" && pwd)
for d in raw logs data conf; do
  [ ! -e "$DIR/$d" ] || [ -e "$DIR/.replication-compare" ] || die "$DIR/$d exists but $DIR was not made by $ME; choose another --dir"
done
touch "$DIR/.replication-compare"
rm -rf -- "$DIR/raw" "$DIR/logs" "$DIR/data" "$DIR/conf" "$DIR/results.md" "$DIR/results.json"
mkdir -p "$DIR/raw" "$DIR/logs" "$DIR/data" "$DIR/conf" "$DIR/data/fio"
DATA=$DIR/data
nnodes() { case $1 in single) echo 1 ;; *) echo "${1:1}" ;; esac; }
# the disk set of a configuration: n1, n2 (c2, a2), n3 (c3, a3), d3 (its own: alpha has no disk there)
set_of() { case $1 in single) echo n1 ;; d3) echo d3 ;; *) echo "n${1:1}" ;; esac; }
set_disks() { case $1 in d3) echo 2 ;; *) echo "${1:1}" ;; esac; }
SETS=(); for c in "${CONFIGS[@]}"; do n=$(set_of "$c"); one_of "$n" "${SETS[@]}" || SETS+=("$n"); done
disk_need=$SIZE; for n in "${SETS[@]}"; do disk_need=$(( disk_need + $(set_disks "$n") * SIZE )); done
avail=$(df --output=avail -B1 "$DIR" | tail -1)
[ "$avail" -gt $(( disk_need + (512 << 20) )) ] || die "not enough free space in $DIR: need about $(numfmt --to=iec $disk_need)"
RUNS=$DIR/raw/runs.tsv STARTS=$DIR/raw/starts.jsonl SRC=$DATA/source.rand FIO_WORK=$DATA/fio
printf 'rep\tconfig\tjob\tkind\tfile\twall_ns\tbytes\tnode_ticks\tdrain_ms\tmachine_busy_ticks\tmachine_steal_ticks\tloadavg\n' >"$RUNS"
: >"$STARTS"

# ------------------------------------------------------------------------------------------------------------
# snapshot_build: copy the launcher's build (node/target/classes and every jar of node/target/classpath.txt) to
# DIR/build and point MIRRA at a launcher for that copy; retried until the copy equals its source (a build may be
# writing while we copy)
snapshot_build() {
  local root; root=$(cd -- "$(dirname -- "$(readlink -f "$MIRRA")")" && pwd)
  local b=$DIR/build cpf=$root/node/target/classpath.txt flags=$root/node/target/classes/mirra-jvm.flags
  local try i j cp same=0 jars cpline
  [ -f "$cpf" ] && [ -f "$flags" ] || die "no build to run: $cpf or $flags missing"
  for try in 1 2 3 4 5; do
    rm -rf "$b"; mkdir -p "$b/lib"
    cpline=$(cat "$cpf"); IFS=: read -r -a jars <<<"$cpline"
    cp -r "$root/node/target/classes" "$b/classes"
    cp="$b/classes" i=0
    for j in "${jars[@]}"; do i=$((i + 1)); cp -- "$j" "$b/lib/$i-${j##*/}"; cp+=":$b/lib/$i-${j##*/}"; done
    same=1
    diff -r -q "$root/node/target/classes" "$b/classes" >/dev/null 2>&1 || same=0
    [ "$(cat "$cpf")" = "$cpline" ] || same=0
    i=0; for j in "${jars[@]}"; do i=$((i + 1)); cmp -s "$j" "$b/lib/$i-${j##*/}" || same=0; done
    [ "$same" = 1 ] && break
    log "build snapshot: the build changed while it was copied; again in 10 s"; sleep 10
  done
  [ "$same" = 1 ] || die "could not take a consistent copy of the build (it kept changing)"
  {
    echo '#!/usr/bin/env bash'
    echo "# a private copy of the mirra build, taken by $ME at $(date '+%F %T') from $root ($REPO_GIT)"
    echo "exec \"\${JAVA_HOME:+\$JAVA_HOME/bin/}java\" $(cat "$flags") \${MIRRA_JAVA_OPTS:-} -cp \"$cp\" io.mirra.node.MirraMain \"\$@\""
  } >"$b/mirra"
  chmod +x "$b/mirra"
  MIRRA=$b/mirra
  BUILD_ID=$(cd "$b" && find classes lib -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-12)
}

# ------------------------------------------------------------------------------------------------------------
# Configurations
NODE_NAMES=(alpha bravo charlie)
# write_config CONFIG: DIR/conf/CONFIG/bench.yaml with fresh free ports; sets CONF, NODES, NBD_URI, ADMIN_URLS,
# ADMIN_BASE (alpha's admin endpoint)
write_config() {
  local c=$1 n i name set port_r port_n port_a f p
  n=$(nnodes "$c"); set=$DATA/$(set_of "$c"); CONF=$DIR/conf/$c; mkdir -p "$CONF"; f=$CONF/$RES.yaml
  NODES=("${NODE_NAMES[@]:0:$n}") ADMIN_URLS=()
  {
    echo "# $c: written by $ME"
    echo "resource: $RES"
    echo "volumes:"
    echo "  0:"
    echo "    size: $SIZE"
    echo "nodes:"
    for i in $(seq 0 $((n - 1))); do
      name=${NODES[$i]} port_r=$(free_port) port_n=$(free_port) port_a=$(free_port)
      [ "$i" -gt 0 ] || NBD_URI="nbd://127.0.0.1:$port_n/$RES" ADMIN_BASE="http://127.0.0.1:$port_a"
      ADMIN_URLS+=("http://127.0.0.1:$port_a/v1/status?resource=$RES&json=1")
      echo "  $name:"
      echo "    node-id: $i"
      echo "    address: 127.0.0.1:$port_r"
      echo "    nbd: 127.0.0.1:$port_n"
      echo "    admin: 127.0.0.1:$port_a"
      echo "    state-dir: $set/$name/state"
      echo "    volumes:"
      echo "      0:"
      if [ "$c" = d3 ] && [ "$i" = 0 ]; then echo "        disk: diskless"; else echo "        disk: $set/$name/disk.img"; fi
    done
    if [ "$n" -gt 1 ]; then
      echo "connection:"
      p=${c:0:1}; [ "$p" != d ] || p=c; echo "  protocol: ${p^^}"
      echo "  secret: mirra-bench-secret"
    fi
  } >"$f"
  cp "$f" "$DIR/raw/config-$c.yaml"
}

# alpha_admin COMMAND: POST /v1/COMMAND?resource=bench to alpha's admin endpoint: what `mirra --config CONF
# --name alpha COMMAND bench` sends, without starting a JVM for the CLI (a second or more of CPU on 2 cores)
alpha_admin() { py post "$ADMIN_BASE/v1/$1?resource=$RES"; }

# start_nodes CONFIG TAG: start every node of CONFIG, wait until all are up, connected and in sync, make
# alpha Primary. Sets NODE_PIDS, NBD_URI, CONF.
START_REC=""
start_nodes() {
  local c=$1 tag=$2 name pid ready rc=0 role i t0 pids
  write_config "$c"
  NODE_PIDS=()
  t0=$(now_ns)
  for name in "${NODES[@]}"; do
    "$MIRRA" node --config "$CONF" --name "$name" >"$DIR/logs/$c-$tag-$name.log" 2>&1 </dev/null &
    pid=$!; OWNED+=("$pid"); NODE_PIDS+=("$pid")
  done
  pids=$(IFS=,; echo "${NODE_PIDS[*]}")
  ready=$(py wait-ready "$READY_TIMEOUT" "$pids" "${ADMIN_URLS[@]}") || rc=$?
  if [ "$rc" -ne 0 ]; then
    for name in "${NODES[@]}"; do echo "--- $DIR/logs/$c-$tag-$name.log (last 30 lines)" >&2; tail -30 "$DIR/logs/$c-$tag-$name.log" >&2; done
    echo "status poll: $ready" >&2
    for i in "${!NODE_PIDS[@]}"; do running "${NODE_PIDS[$i]}" || { wait "${NODE_PIDS[$i]}"; echo "${NODES[$i]} exited with code $?" >&2; } || true; done
    problem "$c $tag: nodes did not become ready (exit $rc of the poll: 1 = timeout ${READY_TIMEOUT}s, 2 = a node died): $ready"
    die "$c $tag: nodes did not come up connected and in sync; logs in $DIR/logs/$c-$tag-*.log"
  fi
  START_REC="\"ready\":$ready,\"start_to_ready_s\":$(( ($(now_ns) - t0) / 1000000 ))e-3"
  if ! out=$(alpha_admin primary 2>&1); then
    problem "$c $tag: 'mirra primary $RES' on alpha failed: $out"
    die "$c $tag: cannot make alpha Primary: $out"
  fi
  role=$(py role "${ADMIN_URLS[0]}")
  [ "$role" = Primary ] || die "$c $tag: alpha is $role after 'mirra primary', not Primary"
  NBD_SIZE=$(timeout 30 nbdinfo --size "$NBD_URI" 2>&1) || die "$c $tag: NBD handshake on $NBD_URI failed: $NBD_SIZE"
  [ "$NBD_SIZE" -ge "$SIZE" ] || die "$c $tag: export $NBD_URI has $NBD_SIZE bytes, less than $SIZE"
}

# stop_nodes CONFIG TAG PHASE: alpha back to Secondary, SIGTERM every node, wait for each by pid
LOG_BAD='^[0-9-]{10} [0-9:.]+ SEVERE |^Exception in thread|OutOfMemoryError|StackOverflowError|^# A fatal error'
LOG_WARN='^[0-9-]{10} [0-9:.]+ WARNING '
stop_nodes() {
  local c=$1 tag=$2 phase=$3 out i pid rc t0 codes=() left f n
  if ! out=$(alpha_admin secondary 2>&1); then problem "$c $tag: 'mirra secondary $RES' on alpha failed: $out"; fi
  t0=$(now_ns)
  for pid in "${NODE_PIDS[@]}"; do running "$pid" || problem "$c $tag: node pid $pid had already exited before the stop"; done
  kill -TERM "${NODE_PIDS[@]}" 2>/dev/null || true
  for _ in $(seq $((STOP_TIMEOUT * 10))); do
    left=""; for pid in "${NODE_PIDS[@]}"; do running "$pid" && left+="$pid "; done
    [ -z "$left" ] && break; sleep 0.1
  done
  for i in "${!NODE_PIDS[@]}"; do
    pid=${NODE_PIDS[$i]}
    if running "$pid"; then
      problem "$c $tag: ${NODES[$i]} (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; thread dump in its log, then SIGKILL"
      kill -QUIT "$pid" 2>/dev/null || true; sleep 1; kill -KILL "$pid" 2>/dev/null || true
    fi
    rc=0; wait "$pid" || rc=$?; forget_pid "$pid"; codes+=("$rc")
    case $rc in 0|143) ;; *) problem "$c $tag: ${NODES[$i]} exited with code $rc (log: logs/$c-$tag-${NODES[$i]}.log)" ;; esac
  done
  for i in "${!NODES[@]}"; do   # SEVERE log lines, uncaught exceptions, JVM errors; WARNING lines apart
    f="$DIR/logs/$c-$tag-${NODES[$i]}.log"
    n=$(grep -cE "$LOG_BAD" "$f" || true)
    [ "$n" = 0 ] || problem "$c $tag: ${NODES[$i]}'s log has $n SEVERE/uncaught-error line(s), first: $(grep -E -m1 "$LOG_BAD" "$f" | cut -c1-300)"
    n=$(grep -cE "$LOG_WARN" "$f" || true)
    [ "$n" = 0 ] || warning "$c $tag: ${NODES[$i]}'s log has $n WARNING line(s), first: $(grep -E -m1 "$LOG_WARN" "$f" | cut -c1-300)"
  done
  printf '{"config":"%s","tag":"%s","phase":"%s",%s,"stop_s":%s,"exit_codes":[%s]}\n' "$c" "$tag" "$phase" \
    "$START_REC" "$(( ($(now_ns) - t0) / 1000000 ))e-3" "$(IFS=,; echo "${codes[*]}")" >>"$STARTS"
}

# ------------------------------------------------------------------------------------------------------------
# Jobs
JOBS=("randwrite-4k-qd1 randwrite 4k 1"
      "randwrite-4k-qd32 randwrite 4k 32"
      "randread-4k-qd32 randread 4k 32"
      "write-1m-qd8 write 1M 8"
      "read-1m-qd8 read 1M 8")

node_ticks() { local p out=""; for p in "${NODE_PIDS[@]}"; do out+="${out:+,}$(ticks "$p")"; done; echo "$out"; }
# machine: "BUSY STEAL" ticks of all CPUs from /proc/stat (busy = user+nice+system+irq+softirq+steal)
machine() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $9; exit }' /proc/stat; }
mdiff() { local a=($1) b=($2); echo "$(( b[0] - a[0] ))"$'\t'"$(( b[1] - a[1] ))"; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
tick_diff() { python3 -c 'import sys; a, b = (list(map(int, x.split(","))) for x in sys.argv[1:]); print(",".join(str(y - x) for x, y in zip(a, b)))' "$1" "$2"; }
# profile start|stop TAG: CPU profile of every node process (profile.sh), files DIR/raw/profile/TAG-NODE.*
profile() {
  local args=() i
  for i in "${!NODES[@]}"; do args+=("${NODES[$i]}=${NODE_PIDS[$i]}"); done
  mkdir -p "$DIR/raw/profile"
  "$HERE/profile.sh" "$1" "$DIR/raw/profile/rep$2" "${args[@]}" >>"$DIR/logs/profile.log" 2>&1 ||
    problem "$CUR: profile.sh $1 failed (see logs/profile.log)"
}
nodes_alive() { local i; for i in "${!NODE_PIDS[@]}"; do running "${NODE_PIDS[$i]}" || { echo "${NODES[$i]}"; return 1; }; done; }

# drain: with peers, wait until alpha has no replicated write unacknowledged (protocol A queues), so the CPU
# window covers the work of every write the client saw completed; prints milliseconds waited
drain() {
  local ms
  if [ "${#NODES[@]}" -eq 1 ]; then echo 0; return; fi
  ms=$(py drain 60 "${ADMIN_URLS[0]}") || problem "$CUR: replication queue did not drain within 60 s after $1 ($ms ms)"
  echo "${ms:-0}"
}

check_nodes() {  # JOB: every node process must still run
  local dead
  dead=$(nodes_alive) || {
    problem "$CUR: node $dead died during $1"
    for n in "${NODES[@]}"; do echo "--- $CUR_LOG-$n.log (last 40 lines)" >&2; tail -40 "$CUR_LOG-$n.log" >&2; done
    die "$CUR: node $dead died during $1; logs: $CUR_LOG-*.log"
  }
}

fio_job() {  # REP CONFIG NAME RW BS QD [extra]
  local rep=$1 c=$2 name=$3 rw=$4 bs=$5 qd=$6 out c0="" c1 t0 t1 fpid rc=0 dms m0 m1
  shift 6
  out="$DIR/raw/rep$rep-$c-$name.fio.json"
  rm -f "$FIO_WORK/started"
  (cd "$FIO_WORK" && exec fio --name="$name" --ioengine=nbd --uri="$NBD_URI" --rw="$rw" --bs="$bs" --iodepth="$qd" \
      --size="$SIZE" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --norandommap --randrepeat=0 \
      --unified_rw_reporting=mixed --clat_percentiles=1 --lat_percentiles=1 --percentile_list=50:99:99.9 \
      --output-format=json --output="$out" --exec_prerun="touch $FIO_WORK/started" "$@") \
    >"$DIR/logs/fio-rep$rep-$c-$name.log" 2>&1 &
  fpid=$!; OWNED+=("$fpid")
  t0=$(now_ns)
  while [ ! -e "$FIO_WORK/started" ] && running "$fpid"; do sleep 0.02; done
  if [ -e "$FIO_WORK/started" ]; then sleep "$RAMP_S"; c0=$(node_ticks); m0=$(machine); fi
  [[ $PROFILE_JOBS != *",$name,"* ]] || profile start "$rep-$c-$name"
  wait "$fpid" || rc=$?
  forget_pid "$fpid"; t1=$(now_ns)
  [[ $PROFILE_JOBS != *",$name,"* ]] || profile stop "$rep-$c-$name"
  check_nodes "$name"
  dms=$(drain "$name"); c1=$(node_ticks); m1=$(machine)
  if [ "$rc" -ne 0 ] || [ -z "$c0" ]; then
    cat "$DIR/logs/fio-rep$rep-$c-$name.log" >&2
    problem "$CUR: fio $name failed (exit $rc): $(tail -3 "$DIR/logs/fio-rep$rep-$c-$name.log" | tr '\n' ' ')"
    die "fio job $name against $c failed (exit $rc)"
  fi
  printf '%s\t%s\t%s\tfio\t%s\t%s\t\t%s\t%s\t%s\t%s\n' "$rep" "$c" "$name" "${out#"$DIR/"}" $((t1 - t0)) \
    "$(tick_diff "$c0" "$c1")" "$dms" "$(mdiff "$m0" "$m1")" "$(loadavg)" >>"$RUNS"
}

copy_job() {  # REP CONFIG: nbdcopy of the random source into the export
  local rep=$1 c=$2 c0 c1 t0 t1 cpid rc=0 dms m0 m1
  sync
  c0=$(node_ticks); m0=$(machine); t0=$(now_ns)
  nbdcopy "$SRC" "$NBD_URI" >"$DIR/logs/nbdcopy-rep$rep-$c.log" 2>&1 &
  cpid=$!; OWNED+=("$cpid")
  wait "$cpid" || rc=$?
  t1=$(now_ns); forget_pid "$cpid"
  check_nodes nbdcopy-in
  dms=$(drain nbdcopy-in); c1=$(node_ticks); m1=$(machine)
  if [ "$rc" -ne 0 ]; then
    cat "$DIR/logs/nbdcopy-rep$rep-$c.log" >&2
    problem "$CUR: nbdcopy-in failed (exit $rc): $(tail -3 "$DIR/logs/nbdcopy-rep$rep-$c.log" | tr '\n' ' ')"
    die "nbdcopy into $c failed (exit $rc)"
  fi
  [ "$rep" = prefill ] || printf '%s\t%s\tnbdcopy-in\tcopy\t\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$c" $((t1 - t0)) "$SIZE" \
    "$(tick_diff "$c0" "$c1")" "$dms" "$(mdiff "$m0" "$m1")" "$(loadavg)" >>"$RUNS"
  LAST_COPY_MIB_S=$(( SIZE * 1000 / ((t1 - t0) / 1000000 + 1) / 1048576 ))
}

# ------------------------------------------------------------------------------------------------------------
T_START=$(date +%s) LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "results in $DIR; configurations: ${CONFIGS[*]}; $REPS rep(s); volume $SIZE_ARG; fio $RUNTIME_S s + $RAMP_S s ramp"

# 1. Build once (the launcher builds when sources changed), then run a private copy of that build: others
#    rebuild node/target/classes and `mvn install` the module jars in ~/.m2 while this runs, and a JVM that
#    loads a class from a replaced file fails (NoClassDefFoundError) in the middle of a rep
for try in 1 2 3; do   # sources edited by others may not compile for a moment: try again before giving up
  out=$("$MIRRA" version 2>&1) && break
  echo "$out" >&2; [ "$try" = 3 ] && die "'$MIRRA version' failed 3 times (build broken? see $REPO/node/target-build.log)"
  log "'$MIRRA version' failed (build broken?); again in 30 s"; sleep 30
done
export MIRRA_NO_BUILD=1
LROOT=$(cd -- "$(dirname -- "$(readlink -f "$MIRRA")")" && pwd)
REPO_GIT=$(git -C "$LROOT" describe --always --dirty 2>/dev/null || cat "$LROOT/.git-describe" 2>/dev/null || echo unknown)
# a launcher of a mirra checkout (node/target/classpath.txt beside it) runs from a private copy of its build;
# any other MIRRA (e.g. an earlier run's DIR/build/mirra) runs as it is
[ ! -f "$LROOT/node/target/classpath.txt" ] || snapshot_build
# every configuration through check-config: one JVM each, all at once
cpids=()
for c in "${CONFIGS[@]}"; do
  write_config "$c"
  "$MIRRA" check-config --config "$CONF" --name alpha >"$DIR/logs/check-config-$c.log" 2>&1 &
  cpids+=("$!"); OWNED+=("$!")
done
for i in "${!CONFIGS[@]}"; do
  rc=0; wait "${cpids[$i]}" || rc=$?; forget_pid "${cpids[$i]}"
  [ "$rc" = 0 ] || { cat "$DIR/logs/check-config-${CONFIGS[$i]}.log" >&2; die "check-config failed for ${CONFIGS[$i]} (see above)"; }
done
log "build ok: $REPO_GIT${BUILD_ID:+, snapshot $BUILD_ID in $DIR/build}; configurations valid"

# 2. Loopback round trip, and the random source
log "loopback round trip (4 KiB request, 16 B reply)"
py rtt "$DIR/raw/rtt.json" "$RTT_SAMPLES" $CC >/dev/null
log "creating the $SIZE_ARG random source"
{ openssl enc -aes-256-ctr -nosalt -pbkdf2 -pass "pass:$RANDOM$RANDOM" </dev/zero 2>/dev/null || true; } | head -c "$SIZE" >"$SRC"
[ "$(stat -c %s "$SRC")" -eq "$SIZE" ] || die "could not write the random source file $SRC"

# 3. The disk sets: the nodes create their disk files (a new disk is UpToDate everywhere), then one nbdcopy
#    through the Primary writes every byte of every replica, so no disk is sparse in the measured reps
#    (--no-prefill: the disks are created by the first start of each set, and written by its first nbdcopy-in)
for n in "${SETS[@]}"; do
  [ "$PREFILL" = 1 ] || break
  case $n in n1) c=single ;; d3) c=d3 ;; *) c=c${n:1} ;; esac
  CUR="prefill $n" CUR_LOG="$DIR/logs/$c-prefill"
  log "prefill: disk set $n ($c): start, nbdcopy $SIZE_ARG, stop"
  start_nodes "$c" prefill
  copy_job prefill "$c"
  stop_nodes "$c" prefill prefill
  sync
  log "prefill: disk set $n written at ~$LAST_COPY_MIB_S MiB/s"
done

# 4. Reps: every configuration in turn, rep r starting with configuration r (rotation)
nc=${#CONFIGS[@]}
for rep in $(seq "$REPS"); do
  for k in $(seq 0 $((nc - 1))); do
    c=${CONFIGS[$(( (k + rep - 1) % nc ))]}
    CUR="$c rep$rep" CUR_LOG="$DIR/logs/$c-rep$rep"
    log "rep $rep/$REPS: $c: starting $(nnodes "$c") node(s)"
    start_nodes "$c" "rep$rep"
    log "rep $rep/$REPS: $c: nbdcopy-in"
    copy_job "$rep" "$c"
    for j in "${JOBS[@]}"; do
      log "rep $rep/$REPS: $c: ${j%% *}"
      # shellcheck disable=SC2086
      fio_job "$rep" "$c" $j
    done
    stop_nodes "$c" "rep$rep" measure
  done
done
py rtt "$DIR/raw/rtt-end.json" "$RTT_SAMPLES" $CC >/dev/null

# 5. Report
ELAPSED=$(( $(date +%s) - T_START ))
first_line() { sed -n 1p; }
{
  printf 'configs\t%s\n' "${CONFIGS[*]}"
  printf 'reps\t%s\nruntime_s\t%s\nramp_s\t%s\nsize_bytes\t%s\nelapsed_s\t%s\nclk_tck\t%s\nquick\t%s\ndir\t%s\n' \
    "$REPS" "$RUNTIME_S" "$RAMP_S" "$SIZE" "$ELAPSED" "$(getconf CLK_TCK)" "$QUICK" "$DIR"
  printf 'prefill\t%s\nrtt_samples\t%s\nprofile\t%s\n' "$PREFILL" "$RTT_SAMPLES" "${REPL_PROFILE:-}"
  printf 'command\t%s\n' "benchmarks/bench/$ME${ARGS:+ $ARGS}"
  printf 'repo_git\t%s\n' "$REPO_GIT${BUILD_ID:+ (build snapshot $BUILD_ID)}${MIRRA_SET:+ (MIRRA=$MIRRA_SET)}"
  printf 'fs\t%s\n' "$(findmnt -no SOURCE,FSTYPE -T "$DIR" 2>/dev/null | tr -s ' ' || echo unknown)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'loadavg\t%s\t%s\n' "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'tool\tjava\t%s\n' "$("${JAVA_HOME:+$JAVA_HOME/bin/}java" -version 2>&1 | first_line)"
  printf 'tool\tfio\t%s\n' "$(fio --version)"
  printf 'tool\tnbdcopy\t%s\n' "$(nbdcopy --version | first_line)"
} >"$DIR/raw/meta.tsv"
py report "$DIR"
OK=1
cat "$DIR/results.md"
log "done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s: $DIR/results.md $DIR/results.json"
