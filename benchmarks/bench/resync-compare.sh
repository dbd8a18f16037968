#!/usr/bin/env bash
# resync-compare.sh: how fast `mirra node` brings a peer back in sync. Measures in one run, cases interleaved rep
# by rep, two nodes on this machine (replication over loopback): a bitmap resync of 1 % of the volume after a
# disconnect, a full sync of the whole volume into a disk without metadata, both again under concurrent
# application writes, and nbdcopy between two nbdkit servers as the reference for copying the volume. Reports
# resync time, throughput, CPU seconds per GiB resynced, application IOPS during the resync, and checks the two
# resync targets. See README.md beside this script.
set -Eeuo pipefail

ME=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)
ALL_CASES=(bitmap full bitmap-app full-app nbdcopy)
ALL_LIST=bitmap,full,bitmap-app,full-app,nbdcopy
ARGS="$*"
RES=bench
RATE_MAX=10G    # resync-rate-max: far above what loopback carries, so the resync is not throttled
SEED=4242       # fio's seed for the 1 % dirty set: the same blocks every rep

usage() {
  cat <<EOF
usage: $ME [--quick] [--reps N] [--size SIZE] [--dir DIR] [--cases LIST] [--no-prefill]

Two mirra nodes, alpha (Primary) and bravo, both with disks, protocol C, on this machine. Per case and rep the
nodes are started, brought in sync, bravo is put out of sync, and the resync is timed from the connect request
to alpha until alpha's status shows bravo Established, UpToDate and 0 KiB out of sync (polled every 50 ms).
Writes DIR/results.md (also printed) and DIR/results.json.

  --quick         smoke run: --reps defaults to 1, --size to 256M (about 1.5 min)
  --reps N        repetitions per case (default 3), cases interleaved, order rotated each rep
  --size SIZE     volume size (default 2G; K/M/G suffixes)
  --dir DIR       scratch and results directory (default /var/tmp/mirra-resync-bench); the disks and data
                  files live in DIR/data (4 x SIZE) and are deleted at the end
  --cases LIST    comma-separated subset of $ALL_LIST (default: all), in rep-1 order:
                    bitmap      disconnect bravo, write 1 % of the volume (distinct 4 KiB blocks, seeded
                                random offsets) to alpha, connect: a bitmap resync
                    full        stop bravo, delete its metadata of the volume (its data file stays), start
                                it: the disk is Inconsistent, connect: a full sync of the whole volume
                    bitmap-app, full-app
                                the same while fio writes 4 KiB blocks at random, QD4, to alpha's export
                    nbdcopy     the reference: nbdcopy --flush of the whole volume from one nbdkit server
                                (file plugin) to another over loopback
  --no-prefill    leave the new disks as the nodes create them (sparse, zeros) instead of writing random
                  data through alpha first; for smoke runs only

Targets (checked in the report): full-sync throughput >= 0.8 x nbdcopy's; 1 % resync time <= 0.03 x the
full-sync time. Full run (defaults: 3 reps, 2 GiB): about 5 min on 2 cores.

Environment: MIRRA=PATH (launcher, default $REPO/mirra; its first call builds when sources changed, then
the run uses a private copy of that build in DIR/build; the "git describe" of the report is that of the
launcher's directory, or the content of a .git-describe file there); RESYNC_BASE_RUNTIME (seconds of the
app-write baseline before each -app case, default 5, 3 with --quick); RESYNC_READY_TIMEOUT (seconds for
nodes to come up connected and in sync, default 180); RESYNC_SYNC_TIMEOUT (seconds a timed resync may take,
default 900); RESYNC_STOP_TIMEOUT (seconds a node may take to exit after SIGTERM, default 30);
RESYNC_PROFILE=CASE[,CASE...] records a CPU profile of both nodes during the timed resync of those cases
(profile.sh beside this script: JFR, or async-profiler with BENCH_ASYNC_PROFILER=PATH), in DIR/raw/profile;
the profiled times include the profiler, do not compare them with unprofiled runs.
Needs: fio (with the nbd engine), nbdkit, libnbd-bin (nbdcopy, nbdinfo), python3, openssl, diffutils,
procps. Run it under \`nice -n 19\` on a shared machine.
EOF
}

die() { echo "$ME: error: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
trap 'echo "$ME: error: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

# ------------------------------------------------------------------------------------------------------------
# Processes we start are recorded in OWNED and stopped on exit (SIGTERM, then SIGKILL), nothing else.
OWNED=() DATA="" OK=0 TAG_LOGS=() CUR=start
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
    # the disks and data files go; the small state directories stay for a post-mortem
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
py() { python3 "$HERE/resync-report.py" "$@"; }

# ------------------------------------------------------------------------------------------------------------
# Options
QUICK=0 REPS="" SIZE_ARG="" DIR="" CASES_ARG=$ALL_LIST PREFILL=1
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift ;;
    --no-prefill) PREFILL=0; shift ;;
    --reps|--size|--dir|--cases)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in --reps) REPS=$2 ;; --size) SIZE_ARG=$2 ;; --dir) DIR=$2 ;; --cases) CASES_ARG=$2 ;; esac
      shift 2 ;;
    --reps=*) REPS=${1#*=}; shift ;;
    --size=*) SIZE_ARG=${1#*=}; shift ;;
    --dir=*) DIR=${1#*=}; shift ;;
    --cases=*) CASES_ARG=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
if [ "$QUICK" = 1 ]; then REPS=${REPS:-1} SIZE_ARG=${SIZE_ARG:-256M} BASE_RUNTIME=3
else REPS=${REPS:-3} SIZE_ARG=${SIZE_ARG:-2G} BASE_RUNTIME=5; fi
BASE_RUNTIME=${RESYNC_BASE_RUNTIME:-$BASE_RUNTIME}
PROFILE_CASES=",${RESYNC_PROFILE:-},"
READY_TIMEOUT=${RESYNC_READY_TIMEOUT:-180} SYNC_TIMEOUT=${RESYNC_SYNC_TIMEOUT:-900}
STOP_TIMEOUT=${RESYNC_STOP_TIMEOUT:-30}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer, got '$REPS'"
[[ $BASE_RUNTIME =~ ^[1-9][0-9]*$ ]] || die "RESYNC_BASE_RUNTIME must be whole seconds"
[[ $READY_TIMEOUT =~ ^[1-9][0-9]*$ && $SYNC_TIMEOUT =~ ^[1-9][0-9]*$ && $STOP_TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
  die "timeouts must be whole seconds"
[[ ${SIZE_ARG^^} =~ ^[0-9]+[KMGT]?$ ]] || die "bad --size '$SIZE_ARG' (use e.g. 256M, 2G)"
SIZE=$(numfmt --from=iec "${SIZE_ARG^^}")
[ "$SIZE" -ge $((64 << 20)) ] && [ $((SIZE % 4096)) -eq 0 ] || die "--size must be a multiple of 4K and at least 64M"
DIRTY=$(( SIZE / 100 / 4096 * 4096 ))   # 1 % of the volume, in whole 4 KiB blocks
CASES=()
IFS=, read -r -a req <<<"$CASES_ARG"
for c in "${req[@]}"; do
  one_of "$c" "${ALL_CASES[@]}" || die "unknown case '$c' in --cases (choose from $ALL_LIST)"
  ! one_of "$c" "${CASES[@]}" || die "case '$c' listed twice in --cases"
  CASES+=("$c")
done
[ ${#CASES[@]} -gt 0 ] || die "--cases is empty"

declare -A PKG=([fio]=fio [nbdkit]=nbdkit [nbdcopy]=libnbd-bin [nbdinfo]=libnbd-bin [python3]=python3
                [numfmt]=coreutils [ps]=procps [openssl]=openssl [cmp]=diffutils)
missing=()
for t in fio nbdkit nbdcopy nbdinfo python3 numfmt ps openssl cmp; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  pk=$(for t in "${missing[@]}"; do echo "${PKG[$t]}"; done | sort -u | tr '\n' ' ')
  die "missing tool(s): ${missing[*]}; install with: apt-get install ${pk% }"
fi
fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine (Debian's fio package has it: apt-get install fio)"
nbdkit file --dump-plugin >/dev/null 2>&1 || die "nbdkit has no file plugin (Debian: apt-get install nbdkit)"
MIRRA_SET=${MIRRA:-} BUILD_ID=""
MIRRA=${MIRRA:-$REPO/mirra}
[ -x "$MIRRA" ] || die "mirra launcher '$MIRRA' not found or not executable"

# ------------------------------------------------------------------------------------------------------------
# Directories: DIR/conf (the resource file), DIR/data (disks, state dirs, data files), DIR/raw, DIR/logs,
# DIR/build, DIR/results.*
DIR=${DIR:-/var/tmp/mirra-resync-bench}
mkdir -p -- "$DIR"; DIR=$(cd -- "$DIR" && pwd)
for d in raw logs data conf build; do
  [ ! -e "$DIR/$d" ] || [ -e "$DIR/.resync-compare" ] || die "$DIR/$d exists but $DIR was not made by $ME; choose another --dir"
done
touch "$DIR/.resync-compare"
rm -rf -- "$DIR/raw" "$DIR/logs" "$DIR/data" "$DIR/conf" "$DIR/results.md" "$DIR/results.json"
mkdir -p "$DIR/raw" "$DIR/logs" "$DIR/data" "$DIR/conf" "$DIR/data/fio"
DATA=$DIR/data
avail=$(df --output=avail -B1 "$DIR" | tail -1)
[ "$avail" -gt $(( 4 * SIZE + (512 << 20) )) ] || die "not enough free space in $DIR: need about $(numfmt --to=iec $((4 * SIZE)))"
RUNS=$DIR/raw/runs.jsonl SRC=$DATA/source.rand REF_DST=$DATA/ref-dst.img FIO_WORK=$DATA/fio CONF=$DIR/conf
: >"$RUNS"

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
# The resource: alpha (node-id 0) and bravo (1), both with disks
NODES=(alpha bravo)
declare -A PID_OF=() ADMIN_URL=() ADMIN_BASE=()
# write_config: DIR/conf/bench.yaml with fresh free ports; sets NBD_URI, ADMIN_URL, ADMIN_BASE
write_config() {
  local f=$CONF/$RES.yaml i name port_r port_n port_a
  {
    echo "# written by $ME"
    echo "resource: $RES"
    echo "volumes:"
    echo "  0:"
    echo "    size: $SIZE"
    echo "nodes:"
    for i in 0 1; do
      name=${NODES[$i]} port_r=$(free_port) port_n=$(free_port) port_a=$(free_port)
      [ "$i" -gt 0 ] || NBD_URI="nbd://127.0.0.1:$port_n/$RES"
      ADMIN_BASE[$name]="http://127.0.0.1:$port_a"
      ADMIN_URL[$name]="http://127.0.0.1:$port_a/v1/status?resource=$RES&json=1"
      echo "  $name:"
      echo "    node-id: $i"
      echo "    address: 127.0.0.1:$port_r"
      echo "    nbd: 127.0.0.1:$port_n"
      echo "    admin: 127.0.0.1:$port_a"
      echo "    state-dir: $DATA/$name/state"
      echo "    volumes:"
      echo "      0:"
      echo "        disk: $DATA/$name/disk.img"
    done
    echo "options:"
    echo "  resync-rate-max: $RATE_MAX"
    echo "connection:"
    echo "  protocol: C"
    echo "  secret: mirra-bench-secret"
  } >"$f"
}
# a node's metadata of volume 0 in its state dir: RES-0.meta (disk state, generations: VolumeMeta), and, where the
# build has them, RES-0.bitmap (persisted out-of-sync bitmaps) and RES-0.al (activity log)
META_FILE() { echo "$DATA/$1/state/$RES-0.meta"; }

# admin NODE COMMAND [PEER]: POST /v1/COMMAND?resource=bench[&peer=PEER] to the node's admin endpoint: what
# `mirra --config CONF --name NODE COMMAND bench [PEER]` sends, without a JVM start for the CLI each time
admin() { py post "${ADMIN_BASE[$1]}/v1/$2?resource=$RES${3:+&peer=$3}"; }

tail_logs() { local f; for f in "${TAG_LOGS[@]}"; do echo "--- $f (last 30 lines)" >&2; tail -30 "$f" >&2; done; }
fail() {  # MESSAGE: record it, show the node logs of the current case, stop the run
  problem "$CUR: $1"; tail_logs; die "$CUR: $1 (logs in $DIR/logs)"
}

# start_node NAME LOGTAG: launch one node, record its pid
start_node() {
  local name=$1 f="$DIR/logs/$2-$1.log"
  "$MIRRA" node --config "$CONF" --name "$name" >"$f" 2>&1 </dev/null &
  PID_OF[$name]=$!; OWNED+=("$!"); TAG_LOGS+=("$f")
  [ "$name" != alpha ] || ALPHA_LOG=$f
}

# start_pair TAG: fresh ports, both nodes started and waited for until connected and in sync, alpha Primary
start_pair() {
  local tag=$1 ready rc=0 out role
  TAG_LOGS=()
  write_config
  cp "$CONF/$RES.yaml" "$DIR/raw/config-$tag.yaml"
  start_node alpha "$tag"; start_node bravo "$tag"
  ready=$(py wait-ready "$READY_TIMEOUT" "${PID_OF[alpha]},${PID_OF[bravo]}" "${ADMIN_URL[alpha]}" "${ADMIN_URL[bravo]}") || rc=$?
  [ "$rc" = 0 ] || fail "nodes did not come up connected and in sync (poll exit $rc: 1 = timeout ${READY_TIMEOUT}s, 2 = a node died): $ready"
  out=$(admin alpha primary 2>&1) || fail "cannot make alpha Primary: $out"
  role=$(py role "${ADMIN_URL[alpha]}")
  [ "$role" = Primary ] || fail "alpha is $role after 'mirra primary', not Primary"
  NBD_SIZE=$(timeout 30 nbdinfo --size "$NBD_URI" 2>&1) || fail "NBD handshake on $NBD_URI failed: $NBD_SIZE"
  [ "$NBD_SIZE" -ge "$SIZE" ] || fail "export $NBD_URI has $NBD_SIZE bytes, less than $SIZE"
}

# stop_node NAME: SIGTERM, wait by pid (thread dump and SIGKILL after STOP_TIMEOUT), check the exit code
stop_node() {
  local name=$1 pid=${PID_OF[$1]} rc=0
  running "$pid" || problem "$CUR: $name (pid $pid) had already exited before the stop"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((STOP_TIMEOUT * 10))); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then
    problem "$CUR: $name (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; thread dump in its log, then SIGKILL"
    kill -QUIT "$pid" 2>/dev/null || true; sleep 1; kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" || rc=$?; forget_pid "$pid"
  case $rc in 0|143) ;; *) problem "$CUR: $name exited with code $rc" ;; esac
}

# stop_pair: alpha back to Secondary, both nodes stopped, their logs checked
LOG_BAD='^[0-9-]{10} [0-9:.]+ (SEVERE|ERROR) |^Exception in thread|OutOfMemoryError|StackOverflowError|^# A fatal error'
LOG_WARN='^[0-9-]{10} [0-9:.]+ WARNING '
# ... except the link going down when this script disconnects bravo or stops a node (an unexpected drop during a
# resync shows as a second "resync ... starts" line, which is checked)
LOG_EXPECTED='WARNING io[.]mirra[.]transport[.]netty[.]NettyPeerLink: [a-z]+: link to peer [a-z]+ for resource [a-z0-9-]+ is DOWN: (disconnected by the operator|DATA stream closed|CONTROL stream closed)$'
stop_pair() {
  local out f n
  out=$(admin alpha secondary 2>&1) || problem "$CUR: 'mirra secondary $RES' on alpha failed: $out"
  stop_node bravo; stop_node alpha
  for f in "${TAG_LOGS[@]}"; do   # SEVERE log lines, uncaught exceptions, JVM errors; unexpected WARNING lines apart
    n=$(grep -cE "$LOG_BAD" "$f" || true)
    [ "$n" = 0 ] || problem "$CUR: ${f##*/} has $n SEVERE/uncaught-error line(s), first: $(grep -E -m1 "$LOG_BAD" "$f" | cut -c1-300)"
    n=$(grep -E "$LOG_WARN" "$f" | grep -cvE "$LOG_EXPECTED" || true)
    [ "$n" = 0 ] || warning "$CUR: ${f##*/} has $n WARNING line(s), first: $(grep -E "$LOG_WARN" "$f" | grep -vE -m1 "$LOG_EXPECTED" | cut -c1-300)"
  done
}

check_nodes() {  # WHAT: both node processes must still run
  local n
  for n in "${NODES[@]}"; do running "${PID_OF[$n]}" || fail "$n died during $1"; done
}

# fio_start OUT LOG ARGS...: fio against alpha's export, in the background; sets FIO_PID once fio does I/O
fio_start() {
  local out=$1 logf=$2; shift 2
  rm -f "$FIO_WORK/started"
  (cd "$FIO_WORK" && exec fio --ioengine=nbd --uri="$NBD_URI" --size="$SIZE" --output-format=json --output="$out" \
      --exec_prerun="touch $FIO_WORK/started" "$@") >"$logf" 2>&1 &
  FIO_PID=$!; OWNED+=("$FIO_PID")
  while [ ! -e "$FIO_WORK/started" ] && running "$FIO_PID"; do sleep 0.02; done
}
fio_wait() {  # OUT LOG [interrupted]: wait for FIO_PID, fail the case when fio failed (fio exits 128 after SIGINT)
  local rc=0
  wait "$FIO_PID" || rc=$?; forget_pid "$FIO_PID"
  { [ "$rc" = 0 ] || { [ "${3:-}" = interrupted ] && [ "$rc" = 128 ]; }; } && [ -s "$1" ] || { cat "$2" >&2; fail "fio failed (exit $rc): $(tail -3 "$2" | tr '\n' ' ')"; }
}
# APP_FIO: the application writes, 4 KiB at random, QD4, until stopped (or for the given seconds)
APP_FIO=(--name=app --rw=randwrite --bs=4k --iodepth=4 --norandommap --randrepeat=0 --time_based
         --lat_percentiles=1 --percentile_list=50:99)

# ------------------------------------------------------------------------------------------------------------
# One case of one rep
disconnect_bravo() {
  local out w
  out=$(admin alpha disconnect bravo 2>&1) || fail "'mirra disconnect $RES bravo' on alpha failed: $out"
  w=$(py wait-standalone 30 "${ADMIN_URL[alpha]}" bravo 2>&1) || fail "bravo does not turn StandAlone on alpha: $w"
}

# dirty_write NAME SEED: bravo disconnected, 1 % of the volume as distinct 4 KiB blocks at random offsets (fio's
# random map on, seeded: the same blocks for the same seed) written to alpha
dirty_write() {
  fio_start "$DIR/raw/$1-dirty.fio.json" "$DIR/logs/fio-$1-dirty.log" --name=dirty --rw=randwrite --bs=4k \
    --iodepth=8 --io_size="$DIRTY" --randrepeat=1 --randseed="$2"
  fio_wait "$DIR/raw/$1-dirty.fio.json" "$DIR/logs/fio-$1-dirty.log"
  check_nodes "the dirty writes"
}

# timed_resync NAME: POST connect to alpha and poll until bravo is in sync (raw/NAME-sync.json), then alpha's log
# lines of that resync (raw/NAME-log.json); with APP_ON=1 fio writes to alpha meanwhile (raw/NAME-app.fio.json)
timed_resync() {
  local name=$1 res rc=0 skip rpid start=- prof=0
  [[ $PROFILE_CASES != *",${CUR%% *},"* ]] || prof=1
  [ "$prof" = 0 ] || profile start "$name"
  sync
  skip=$(wc -l <"$ALPHA_LOG")
  rm -f "$FIO_WORK/started"
  [ "$APP_ON" = 0 ] || start=$FIO_WORK/started
  # the poller POSTs the connect at once, or (application writes) as soon as fio is about to write: writes
  # issued while bravo is still away add to its out-of-sync set, so that gap is kept to milliseconds
  py resync "$SYNC_TIMEOUT" "${PID_OF[alpha]},${PID_OF[bravo]}" "${ADMIN_URL[alpha]}" \
    "${ADMIN_BASE[alpha]}/v1/connect?resource=$RES&peer=bravo" bravo "$start" >"$DIR/raw/$name-sync.json" &
  rpid=$!; OWNED+=("$rpid")
  if [ "$APP_ON" = 1 ]; then
    fio_start "$DIR/raw/$name-app.fio.json" "$DIR/logs/fio-$name-app.log" "${APP_FIO[@]}" --runtime=3600
    running "$FIO_PID" || fio_wait "$DIR/raw/$name-app.fio.json" "$DIR/logs/fio-$name-app.log"
  fi
  wait "$rpid" || rc=$?; forget_pid "$rpid"
  [ "$prof" = 0 ] || profile stop "$name"
  res=$(cat "$DIR/raw/$name-sync.json")
  if [ "$APP_ON" = 1 ]; then
    kill -INT "$FIO_PID" 2>/dev/null || true
    fio_wait "$DIR/raw/$name-app.fio.json" "$DIR/logs/fio-$name-app.log" interrupted
  fi
  [ "$rc" = 0 ] || fail "the resync did not complete (exit $rc: 1 = timeout ${SYNC_TIMEOUT}s, 2 = a node died, 3 = fio did not start): $res"
  for _ in $(seq 40); do  # the log line comes with the state change; give the appender a moment
    py resync-log "$ALPHA_LOG" "$skip" bravo >"$DIR/raw/$name-log.json" && break; sleep 0.05
  done
  grep -q '"dones": [1-9]' "$DIR/raw/$name-log.json" || problem "$CUR: no 'resync to bravo done' line in alpha's log after the connect"
  grep -q '"starts": 1,' "$DIR/raw/$name-log.json" || problem "$CUR: not exactly one resync start in alpha's log: $(cut -c1-300 "$DIR/raw/$name-log.json")"
  check_nodes "the resync"
}

# profile start|stop NAME: CPU profile of both nodes (profile.sh), files DIR/raw/profile/NAME-NODE.*
profile() {
  mkdir -p "$DIR/raw/profile"
  "$HERE/profile.sh" "$1" "$DIR/raw/profile/$2" alpha="${PID_OF[alpha]}" bravo="${PID_OF[bravo]}" \
    >>"$DIR/logs/profile.log" 2>&1 || problem "$CUR: profile.sh $1 failed (see logs/profile.log)"
}

# record_case REP CASE NAME EQ [bravo-start-ns]: one line of runs.jsonl from the files of timed_resync
record_case() {
  local rep=$1 c=$2 n=$3 f dirty="" app="" base=""
  f=raw/$n-dirty.fio.json; [ ! -e "$DIR/$f" ] || dirty=$f
  f=raw/$n-app.fio.json; [ ! -e "$DIR/$f" ] || app=$f
  f=raw/rep$rep-$c-base.fio.json; [ ! -e "$DIR/$f" ] || base=$f
  py record "$RUNS" rep="$rep" case="$c" sync=@"$DIR/raw/$n-sync.json" log=@"$DIR/raw/$n-log.json" \
    dirty_fio="$dirty" app_fio="$app" base_fio="$base" bravo_start_ns="${5:-null}" disks_equal="$4"
  check_sent "$rep" "$c" "$n"
}

run_case() {
  local rep=$1 c=$2 tag="rep$1-$2" bstart="" eq=1 w
  CUR="$c rep$rep" APP_ON=0
  log "rep $rep/$REPS: $c: starting the nodes"
  start_pair "$tag"
  if [[ $c == *-app ]]; then
    log "rep $rep/$REPS: $c: ${BASE_RUNTIME} s of application writes with both nodes in sync"
    fio_start "$DIR/raw/$tag-base.fio.json" "$DIR/logs/fio-$tag-base.log" "${APP_FIO[@]}" --runtime="$BASE_RUNTIME"
    fio_wait "$DIR/raw/$tag-base.fio.json" "$DIR/logs/fio-$tag-base.log"
    check_nodes "the baseline writes"
  fi
  disconnect_bravo
  case $c in
    bitmap*)
      log "rep $rep/$REPS: $c: bravo disconnected; writing $(numfmt --to=iec "$DIRTY") in 4 KiB blocks to alpha"
      dirty_write "$tag" "$SEED" ;;
    full*)
      log "rep $rep/$REPS: $c: bravo disconnected; stopping it, deleting its metadata, starting it again"
      stop_node bravo
      [ -f "$(META_FILE bravo)" ] || fail "bravo's metadata file $(META_FILE bravo) does not exist"
      rm -f -- "$DATA/bravo/state/$RES-0".*   # all of volume 0's metadata; the data file stays
      bstart=$(now_ns)
      start_node bravo "$tag-restart"
      w=$(py wait-admin "$READY_TIMEOUT" "${PID_OF[bravo]}" "${ADMIN_URL[bravo]}") || fail "bravo did not come back: $w"
      [[ $w == *'"disks": ["Inconsistent"]'* ]] || problem "$CUR: bravo without metadata is not Inconsistent: $w" ;;
  esac
  [[ $c != *-app ]] || APP_ON=1
  log "rep $rep/$REPS: $c: connect; timing the resync"
  timed_resync "$tag"
  APP_ON=0
  if [ "$c" = bitmap ]; then
    # the same again in the same node processes (JIT-compiled by now), another 1 % set: bitmap-warm
    log "rep $rep/$REPS: bitmap-warm: the same nodes, another 1 % set"
    CUR="bitmap-warm rep$rep"
    disconnect_bravo
    dirty_write "rep$rep-bitmap-warm" $((SEED + rep))
    timed_resync "rep$rep-bitmap-warm"
  fi
  stop_pair
  cmp -s "$DATA/alpha/disk.img" "$DATA/bravo/disk.img" || { eq=0; problem "$CUR: alpha's and bravo's disks differ after the resync: $(cmp "$DATA/alpha/disk.img" "$DATA/bravo/disk.img" 2>&1 | head -1)"; }
  record_case "$rep" "$c" "$tag" "$eq" "$bstart"
  [ "$c" != bitmap ] || record_case "$rep" bitmap-warm "rep$rep-bitmap-warm" "$eq"
}

# check_sent REP CASE NAME: the resync of the cases without application writes must send what was out of sync
check_sent() {
  local sent expect
  sent=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("sent_bytes", -1))' "$DIR/raw/$3-log.json")
  case $2 in *-app) expect="" ;; bitmap*) expect=$DIRTY ;; *) expect=$SIZE ;; esac
  if [ -n "$expect" ] && { [ "$sent" -lt "$expect" ] || [ "$sent" -gt $(( expect + expect / 20 )) ]; }; then
    problem "$2 rep$1: the resync sent $sent bytes; $expect were out of sync"
  fi
  log "rep $1/$REPS: $2: resync sent $(numfmt --to=iec-i --suffix=B "$sent") ($sent bytes${expect:+; $expect out of sync})"
}

# ref_copy REP: nbdcopy from one nbdkit file server to another, both on loopback
start_nbdkit() {  # FILE LOGTAG: sets KIT_PID, KIT_URI
  local port=$(free_port) n
  nbdkit -f -p "$port" -i 127.0.0.1 file "$1" >"$DIR/logs/nbdkit-$2.log" 2>&1 </dev/null &
  KIT_PID=$!; OWNED+=("$KIT_PID"); KIT_URI="nbd://127.0.0.1:$port"
  for n in $(seq 300); do
    running "$KIT_PID" || { cat "$DIR/logs/nbdkit-$2.log" >&2; die "nbdkit exited at start: nbdkit -f -p $port -i 127.0.0.1 file $1"; }
    timeout 10 nbdinfo --size "$KIT_URI" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "nbdkit did not answer on $KIT_URI within 30 s"
}
stop_pid() { local rc=0; kill -TERM "$1" 2>/dev/null || true; wait "$1" || rc=$?; forget_pid "$1"; [ "$rc" = 0 ] || [ "$rc" = 143 ]; }
ref_copy() {
  local rep=$1 tag="rep$1-nbdcopy" src_pid dst_pid src_uri cpid rc=0
  CUR="nbdcopy rep$rep"
  log "rep $rep/$REPS: nbdcopy: nbdkit -> nbdkit, $SIZE_ARG"
  start_nbdkit "$SRC" "$tag-src"; src_pid=$KIT_PID src_uri=$KIT_URI
  start_nbdkit "$REF_DST" "$tag-dst"; dst_pid=$KIT_PID
  sync
  # timed by the helper, which also reads the CPU of nbdcopy (its rusage) and of the two servers; nbdcopy dies
  # with the helper
  # --flush: a resync ends with the target flushing its disk (RESYNC_END), so the copy ends with its flush too
  py run "$DIR/raw/$tag.json" "$src_pid,$dst_pid" nbdcopy --flush "$src_uri" "$KIT_URI" >"$DIR/logs/$tag.log" 2>&1 &
  cpid=$!; OWNED+=("$cpid")
  wait "$cpid" || rc=$?
  forget_pid "$cpid"
  [ "$rc" = 0 ] || { cat "$DIR/logs/$tag.log" >&2; die "nbdcopy $src_uri -> $KIT_URI failed (exit $rc)"; }
  stop_pid "$src_pid" || problem "$CUR: nbdkit (source) exited with an error"
  stop_pid "$dst_pid" || problem "$CUR: nbdkit (destination) exited with an error"
  cmp -s "$SRC" "$REF_DST" || problem "$CUR: the nbdcopy destination differs from the source"
  py record "$RUNS" rep="$rep" case=nbdcopy copy=@"$DIR/raw/$tag.json" bytes="$SIZE"
  log "rep $rep/$REPS: nbdcopy: $(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(round(int(sys.argv[2]) / 2**20 / (d["wall_ns"] / 1e9)))' "$DIR/raw/$tag.json" "$SIZE") MiB/s"
}

# ------------------------------------------------------------------------------------------------------------
T_START=$(date +%s) LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "results in $DIR; cases: ${CASES[*]}; $REPS rep(s); volume $SIZE_ARG, 1 % = $DIRTY bytes"

# 1. Build once (the launcher builds when sources changed), then run a private copy of that build, so that
#    others rebuilding the tree cannot replace class files under running nodes
for try in 1 2 3; do   # sources edited by others may not compile for a moment: try again before giving up
  out=$("$MIRRA" version 2>&1) && break
  echo "$out" >&2; [ "$try" = 3 ] && die "'$MIRRA version' failed 3 times (build broken? see $REPO/node/target-build.log)"
  log "'$MIRRA version' failed (build broken?); again in 60 s"; sleep 60
done
export MIRRA_NO_BUILD=1
LROOT=$(cd -- "$(dirname -- "$(readlink -f "$MIRRA")")" && pwd)
REPO_GIT=$(git -C "$LROOT" describe --always --dirty 2>/dev/null || cat "$LROOT/.git-describe" 2>/dev/null || echo unknown)
[ ! -f "$LROOT/node/target/classpath.txt" ] || snapshot_build
write_config
out=$("$MIRRA" check-config --config "$CONF" --name alpha 2>&1) || { echo "$out" >&2; die "check-config failed (see above)"; }
log "build ok: $REPO_GIT${BUILD_ID:+, snapshot $BUILD_ID in $DIR/build}; configuration valid"

# 2. Data: a random source (AES-CTR keystream); the nodes create their disks (new disks are UpToDate on both,
#    same generation), then one nbdcopy through alpha writes every byte of both, so no disk is sparse; the
#    nbdcopy reference gets a fully written destination file
log "creating the $SIZE_ARG random source"
{ openssl enc -aes-256-ctr -nosalt -pbkdf2 -pass "pass:$RANDOM$RANDOM" </dev/zero 2>/dev/null || true; } | head -c "$SIZE" >"$SRC"
[ "$(stat -c %s "$SRC")" -eq "$SIZE" ] || die "could not write the random source file $SRC"
if one_of nbdcopy "${CASES[@]}"; then cp --sparse=never "$SRC" "$REF_DST"; fi
if [ "$PREFILL" = 1 ] && { [ "${#CASES[@]}" -gt 1 ] || [ "${CASES[0]}" != nbdcopy ]; }; then
  CUR=prefill
  log "prefill: start both nodes, nbdcopy $SIZE_ARG through alpha, stop"
  start_pair prefill
  t0=$(now_ns)
  nbdcopy "$SRC" "$NBD_URI" >"$DIR/logs/prefill-nbdcopy.log" 2>&1 &
  cpid=$!; OWNED+=("$cpid"); rc=0; wait "$cpid" || rc=$?; forget_pid "$cpid"
  [ "$rc" = 0 ] || { cat "$DIR/logs/prefill-nbdcopy.log" >&2; fail "prefill nbdcopy failed (exit $rc)"; }
  log "prefill: $(( SIZE * 1000 / (($(now_ns) - t0) / 1000000 + 1) / 1048576 )) MiB/s replicated"
  stop_pair
  cmp -s "$DATA/alpha/disk.img" "$DATA/bravo/disk.img" || fail "the two disks differ after the prefill"
  sync
fi

# 3. Reps: every case in turn, rep r starting with case r (rotation)
nc=${#CASES[@]}
for rep in $(seq "$REPS"); do
  for k in $(seq 0 $((nc - 1))); do
    c=${CASES[$(( (k + rep - 1) % nc ))]}
    if [ "$c" = nbdcopy ]; then ref_copy "$rep"; else run_case "$rep" "$c"; fi
  done
done

# 4. Report
ELAPSED=$(( $(date +%s) - T_START ))
first_line() { sed -n 1p; }
{
  printf 'cases\t%s\n' "${CASES[*]}"
  printf 'reps\t%s\nsize_bytes\t%s\ndirty_bytes\t%s\nseed\t%s\nrate_max\t%s\nbase_runtime_s\t%s\n' \
    "$REPS" "$SIZE" "$DIRTY" "$SEED" "$RATE_MAX" "$BASE_RUNTIME"
  printf 'elapsed_s\t%s\nclk_tck\t%s\nquick\t%s\ndir\t%s\n' "$ELAPSED" "$(getconf CLK_TCK)" "$QUICK" "$DIR"
  printf 'profile\t%s\nprefill\t%s\n' "${RESYNC_PROFILE:-}" "$PREFILL"
  printf 'command\t%s\n' "benchmarks/bench/$ME${ARGS:+ $ARGS}"
  printf 'repo_git\t%s\n' "$REPO_GIT${BUILD_ID:+ (build snapshot $BUILD_ID)}${MIRRA_SET:+ (MIRRA=$MIRRA_SET)}"
  printf 'fs\t%s\n' "$(findmnt -no SOURCE,FSTYPE -T "$DIR" 2>/dev/null | tr -s ' ' || echo unknown)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'loadavg\t%s\t%s\n' "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'tool\tjava\t%s\n' "$("${JAVA_HOME:+$JAVA_HOME/bin/}java" -version 2>&1 | first_line)"
  printf 'tool\tfio\t%s\n' "$(fio --version)"
  printf 'tool\tnbdkit\t%s\n' "$(nbdkit --version | first_line)"
  printf 'tool\tnbdcopy\t%s\n' "$(nbdcopy --version | first_line)"
} >"$DIR/raw/meta.tsv"
py report "$DIR"
OK=1
cat "$DIR/results.md"
log "done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s: $DIR/results.md $DIR/results.json"
