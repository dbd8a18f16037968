#!/usr/bin/env bash
# nbd-compare.sh: end-to-end benchmark of `mirra serve` against the reference NBD servers
# (nbdkit file plugin, nbd-server, qemu-nbd), all measured in ONE run through real clients
# (fio's nbd engine and nbdcopy), interleaved rep by rep, next to the physical limits of the
# same machine (the backing disk through fio libaio O_DIRECT, loopback TCP through iperf3).
# See README.md beside this script for how to read the report.
set -Eeuo pipefail

ME=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)
ALL_SERVERS=(mirra nbdkit nbd-server qemu-nbd)
ALL_LIST=mirra,nbdkit,nbd-server,qemu-nbd
ARGS="$*"

usage() {
  cat <<EOF
usage: $ME [--quick] [--reps N] [--size SIZE] [--dir DIR] [--servers LIST]
          [--runtime T] [--ramp T] [--tcp-seconds N]

Measures the NBD servers in LIST side by side on the same fresh backing file, interleaved rep by
rep, through fio's nbd engine and nbdcopy, plus the physical limits of this machine, and writes
DIR/results.md (also printed to stdout) and DIR/results.json.

  --quick          smoke run: fio jobs 5 s + 1 s ramp (instead of 15 s + 2 s), the
                   physical-limit jobs 2 s + 1 s; --reps defaults to 1 and --size to 256M
  --reps N         repetitions per server, interleaved (default 3)
  --size SIZE      backing file size = region the jobs run on (default 2G; K/M/G suffixes)
  --dir DIR        results directory (default /var/tmp/nbd-compare.YYYYmmdd-HHMMSS); the
                   backing files live there too (about 3 x SIZE free space needed while running)
  --servers LIST   comma-separated subset of: $ALL_LIST
                   (default: all four; the order given is the order within rep 1)
  --runtime T      length of every fio job after the ramp, the physical-limit jobs included (whole
                   seconds, or milliseconds as 500ms; default 15, with --quick 5 and 2 for the disk)
  --ramp T         fio ramp before the measured window (the same units; default 2, with --quick 1)
  --tcp-seconds N  length of the iperf3 loopback measurement (default 5, 2 with --quick)

Jobs per server: nbdcopy-in (random file -> server), randwrite-4k-qd1, randwrite-4k-qd32,
randread-4k-qd32, write-1m-qd8, read-1m-qd8, randrw70-4k-qd16 (rwmixread=70), nbdcopy-out
(server -> null:).

Environment: MIRRA=PATH (mirra launcher, default $REPO/mirra; it builds the project on the
preflight start if sources changed, and later starts run with MIRRA_NO_BUILD=1 so every rep measures
that same build); NBD_COMPARE_RUNTIME and NBD_COMPARE_RAMP (seconds, override the job length of
every pass, as --runtime and --ramp); NBD_COMPARE_START_TIMEOUT (seconds a server may take to listen, default 60);
NBD_COMPARE_BUILD_TIMEOUT (the same for mirra's preflight start, which may build; default 900).

Required Debian packages: fio, libnbd-bin (nbdcopy, nbdinfo), python3, iproute2 (ss), procps (ps),
and per server: nbdkit, nbd-server, qemu-utils (qemu-nbd). Optional: iperf3 (loopback TCP row;
skipped with a note when missing).
EOF
}

die() { echo "$ME: error: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
trap 'echo "$ME: error: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

# ------------------------------------------------------------------------------------------------
# Processes: every process started in the background is recorded in OWNED and stopped, together
# with everything it spawned, on exit, error or interrupt.
OWNED=() SCRATCH=""
on_exit() {
  local rc=$? p
  trap - EXIT INT TERM ERR
  set +e
  for p in "${OWNED[@]}"; do stop_tree "$p"; done
  [ -z "$SCRATCH" ] || rm -rf -- "$SCRATCH"
  exit "$rc"
}
trap on_exit EXIT
trap 'log "interrupted: stopping everything started by this run"; exit 130' INT
trap 'log "terminated: stopping everything started by this run"; exit 143' TERM

forget_pid() { local keep=() p; for p in "${OWNED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; OWNED=("${keep[@]}"); }

# running PID: the process exists and is not a zombie
running() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; st=${st##*) }; [ "${st%% *}" != Z ]; }

# subtree PID...: the given pids and all their live descendants, one per line
subtree() {
  ps -e -o pid=,ppid= | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) mine[r[i]] = 1 }
    { parent[$1] = $2 }
    END {
      do { grew = 0; for (p in parent) if (!(p in mine) && (parent[p] in mine)) { mine[p] = 1; grew = 1 } } while (grew)
      for (p in mine) if (p in parent) print p
    }'
}

# stop_tree PID: SIGTERM the process and its descendants, SIGKILL what is left after 5 s
stop_tree() {
  local pids p end left
  pids=$(subtree "$1" | tr '\n' ' ')
  if [ -n "${pids// /}" ]; then
    kill -TERM $pids 2>/dev/null || true
    end=$(( $(date +%s) + 5 ))
    while :; do
      left=""; for p in $pids; do running "$p" && left+="$p "; done
      [ -z "$left" ] && break
      if [ "$(date +%s)" -ge "$end" ]; then log "killing leftover processes: $left"; kill -KILL $left 2>/dev/null || true; break; fi
      sleep 0.05
    done
  fi
  wait "$1" 2>/dev/null || true   # reap it if it is our child
}

# cpu_ticks PID: utime+stime of the process (all threads) and its live descendants, plus
# cutime+cstime (descendants that already exited and were reaped, e.g. nbd-server's per-connection
# forks), in clock ticks
cpu_ticks() {
  local p st f sum=0
  for p in $(subtree "$1"); do
    st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    read -r -a f <<<"${st##*) }"          # f[0] = field 3 (state), so field N is f[N-3]
    sum=$(( sum + f[11] + f[12] + f[13] + f[14] ))
  done
  echo "$sum"
}

now_ns() { date +%s%N; }
first_line() { sed -n 1p; }   # unlike head -1, reads all input: no SIGPIPE for the writer

# free_port: a free TCP port on 127.0.0.1, never the same twice in a run (free-port.py says why and how)
free_port() { python3 "$HERE/free-port.py" "$DIR/.ports"; }

# wait_listen PORT PID TIMEOUT: poll until something listens on 127.0.0.1:PORT, with a deadline
wait_listen() {
  local port=$1 pid=$2 deadline
  deadline=$(( $(date +%s) + $3 ))
  until ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; do
    running "$pid" || return 2
    [ "$(date +%s)" -lt "$deadline" ] || return 3
    sleep 0.05
  done
}

# one_of WORD LIST...: WORD is exactly one of LIST
one_of() { local w=$1 x; shift; for x; do [ "$x" = "$w" ] && return 0; done; return 1; }

# ------------------------------------------------------------------------------------------------
# Options
QUICK=0 REPS="" SIZE_ARG="" DIR="" SERVERS_ARG=$ALL_LIST RUNTIME_ARG="" RAMP_ARG="" TCP_ARG=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift ;;
    --reps|--size|--dir|--servers|--runtime|--ramp|--tcp-seconds)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in --reps) REPS=$2 ;; --size) SIZE_ARG=$2 ;; --dir) DIR=$2 ;; --servers) SERVERS_ARG=$2 ;;
                 --runtime) RUNTIME_ARG=$2 ;; --ramp) RAMP_ARG=$2 ;; --tcp-seconds) TCP_ARG=$2 ;; esac
      shift 2 ;;
    --runtime=*) RUNTIME_ARG=${1#*=}; shift ;;
    --ramp=*) RAMP_ARG=${1#*=}; shift ;;
    --tcp-seconds=*) TCP_ARG=${1#*=}; shift ;;
    --reps=*) REPS=${1#*=}; shift ;;
    --size=*) SIZE_ARG=${1#*=}; shift ;;
    --dir=*) DIR=${1#*=}; shift ;;
    --servers=*) SERVERS_ARG=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
# The physical-limit pass runs once per run, with shorter jobs in --quick mode to stay within the
# smoke-run budget (it is a reference line, not a comparison).
if [ "$QUICK" = 1 ]; then RUNTIME=5 RAMP=1 PHYS_RUNTIME=2 PHYS_RAMP=1 TCP_SECONDS=2 REPS=${REPS:-1} SIZE_ARG=${SIZE_ARG:-256M}
else RUNTIME=15 RAMP=2 PHYS_RUNTIME=15 PHYS_RAMP=2 TCP_SECONDS=5 REPS=${REPS:-3} SIZE_ARG=${SIZE_ARG:-2G}; fi
RUNTIME_ARG=${RUNTIME_ARG:-${NBD_COMPARE_RUNTIME:-}} RAMP_ARG=${RAMP_ARG:-${NBD_COMPARE_RAMP:-}}
[ -z "$RUNTIME_ARG" ] || RUNTIME=$RUNTIME_ARG PHYS_RUNTIME=$RUNTIME_ARG
[ -z "$RAMP_ARG" ] || RAMP=$RAMP_ARG PHYS_RAMP=$RAMP_ARG
TCP_SECONDS=${TCP_ARG:-$TCP_SECONDS}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer, got '$REPS'"
[[ $RUNTIME =~ ^[0-9]+(ms)?$ && $RAMP =~ ^[0-9]+(ms)?$ ]] || die "runtime/ramp must be whole seconds (15) or milliseconds (500ms)"
[[ $TCP_SECONDS =~ ^[1-9][0-9]*$ ]] || die "--tcp-seconds needs a positive integer"
# dur_s T: a duration of whole seconds (15) or milliseconds (500ms), in seconds
dur_s() { case $1 in *ms) awk -v m="${1%ms}" 'BEGIN { printf "%g\n", m / 1000 }' ;; *) echo "$1" ;; esac; }
[ "$(dur_s "$RUNTIME")" != 0 ] || die "the runtime must be positive"
[[ ${SIZE_ARG^^} =~ ^[0-9]+[KMGT]?$ ]] || die "bad --size '$SIZE_ARG' (use e.g. 256M, 2G)"
SIZE=$(numfmt --from=iec "${SIZE_ARG^^}")
[ "$SIZE" -ge $((16 << 20)) ] && [ $((SIZE % 4096)) -eq 0 ] || die "--size must be a multiple of 4K and at least 16M"

SERVERS=()
IFS=, read -r -a req <<<"$SERVERS_ARG"
for s in "${req[@]}"; do
  one_of "$s" "${ALL_SERVERS[@]}" || die "unknown server '$s' in --servers (choose from $ALL_LIST)"
  ! one_of "$s" "${SERVERS[@]}" || die "server '$s' listed twice in --servers"
  SERVERS+=("$s")
done
[ ${#SERVERS[@]} -gt 0 ] || die "--servers is empty"

# ------------------------------------------------------------------------------------------------
# Tools
declare -A PKG=([fio]=fio [nbdcopy]=libnbd-bin [nbdinfo]=libnbd-bin [python3]=python3 [ss]=iproute2
                [ps]=procps [numfmt]=coreutils [nbdkit]=nbdkit [nbd-server]=nbd-server [qemu-nbd]=qemu-utils)
missing=()
for t in fio nbdcopy nbdinfo python3 ss ps numfmt; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
for s in "${SERVERS[@]}"; do
  [ "$s" = mirra ] && continue
  command -v "$s" >/dev/null 2>&1 || missing+=("$s")
done
if [ ${#missing[@]} -gt 0 ]; then
  pk=$(for t in "${missing[@]}"; do echo "${PKG[$t]:-$t}"; done | sort -u | tr '\n' ' ')
  die "missing tool(s): ${missing[*]}; install with: apt-get install ${pk% }"
fi
fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine (Debian's fio package has it: apt-get install fio)"
MIRRA=${MIRRA:-$REPO/mirra}
if one_of mirra "${SERVERS[@]}"; then
  [ -x "$MIRRA" ] || die "mirra launcher '$MIRRA' not found or not executable (build it first, set MIRRA=PATH, or leave mirra out: --servers nbdkit,nbd-server,qemu-nbd)"
fi
START_TIMEOUT=${NBD_COMPARE_START_TIMEOUT:-60} BUILD_TIMEOUT=${NBD_COMPARE_BUILD_TIMEOUT:-900}
[[ $START_TIMEOUT =~ ^[1-9][0-9]*$ && $BUILD_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "timeouts must be whole seconds"
HAVE_IPERF=0; command -v iperf3 >/dev/null 2>&1 && HAVE_IPERF=1

# ------------------------------------------------------------------------------------------------
# Directories: results in DIR (results.md, results.json, raw/, logs/); data files in DIR/data,
# removed on exit
DIR=${DIR:-/var/tmp/nbd-compare.$(date +%Y%m%d-%H%M%S)}
mkdir -p -- "$DIR"; DIR=$(cd -- "$DIR" && pwd)
for d in raw logs data; do
  [ ! -e "$DIR/$d" ] || [ -e "$DIR/.nbd-compare" ] || die "$DIR/$d exists but $DIR was not made by $ME; choose another --dir"
done
touch "$DIR/.nbd-compare"
rm -rf -- "$DIR/raw" "$DIR/logs" "$DIR/data" "$DIR/results.md" "$DIR/results.json"
mkdir -p "$DIR/raw" "$DIR/logs" "$DIR/data"
SCRATCH=$DIR/data
avail=$(df --output=avail -B1 "$DIR" | tail -1)
[ "$avail" -gt $((3 * SIZE + (256 << 20))) ] || die "not enough free space in $DIR: need about 3 x $SIZE_ARG"
SRC=$SCRATCH/source.rand DISK=$SCRATCH/disk.img RUNS=$DIR/raw/runs.tsv
printf 'rep\ttarget\tjob\tkind\tfile\tcpu_ticks\twall_ns\tbytes\n' >"$RUNS"

# ------------------------------------------------------------------------------------------------
# Servers
# start_server NAME FILE TAG: starts NAME on FILE and waits until it serves. Sets SRV_PID (the
# process to account CPU to and to stop), SRV_URI and SRV_CMD.
start_server() {
  local name=$1 file=$2 tag=$3 port export="" logf="$DIR/logs/$1-$3.log" pidfile conf rc=0 argv=() n
  local timeout=$START_TIMEOUT
  # the first mirra start may build the project (the launcher runs Maven when sources changed)
  [ "$tag" != preflight ] || [ "$name" != mirra ] || timeout=$BUILD_TIMEOUT
  port=$(free_port)
  case $name in
    mirra) argv=("$MIRRA" serve --disk "$file" --listen "127.0.0.1:$port") ;;
    nbdkit) argv=(nbdkit -f -p "$port" -i 127.0.0.1 file "$file") ;;
    qemu-nbd) argv=(qemu-nbd -f raw -t -b 127.0.0.1 -p "$port" --cache=writeback --aio=io_uring
                    --discard=unmap --shared=8 "$file") ;;
    nbd-server)
      export=bench conf="$SCRATCH/nbd-server.conf" pidfile="$SCRATCH/nbd-server.pid"
      printf '[generic]\n    listenaddr = 127.0.0.1\n    port = %s\n[%s]\n    exportname = %s\n    flush = true\n    fua = true\n    trim = true\n' \
        "$port" "$export" "$file" >"$conf"
      cp "$conf" "$DIR/raw/nbd-server.conf"
      rm -f "$pidfile"
      argv=(nbd-server -C "$conf" -p "$pidfile") ;;
  esac
  SRV_CMD=${argv[*]} SRV_URI="nbd://127.0.0.1:$port/$export"
  "${argv[@]}" >"$logf" 2>&1 </dev/null &
  SRV_PID=$!; OWNED+=("$SRV_PID")
  if [ "$name" = nbd-server ]; then
    # nbd-server forks into the background: the launcher exits 0 and the daemon writes the pidfile
    wait "$SRV_PID" || rc=$?
    forget_pid "$SRV_PID"
    [ "$rc" -eq 0 ] || { cat "$logf" >&2; die "nbd-server failed to start (exit $rc): $SRV_CMD"; }
    for n in $(seq 200); do [ -s "$pidfile" ] && break; sleep 0.05; done
    [ -s "$pidfile" ] || { cat "$logf" >&2; die "nbd-server wrote no pidfile within 10 s: $SRV_CMD"; }
    SRV_PID=$(tr -dc 0-9 <"$pidfile"); OWNED+=("$SRV_PID")
  fi
  wait_listen "$port" "$SRV_PID" "$timeout" || {
    rc=$?; cat "$logf" >&2
    [ "$rc" -eq 2 ] && die "$name exited before listening on port $port: $SRV_CMD"
    die "$name did not listen on port $port within $timeout s: $SRV_CMD"
  }
  SRV_SIZE=$(timeout 30 nbdinfo --size "$SRV_URI" 2>>"$logf") || { cat "$logf" >&2; die "$name listens but the NBD handshake on $SRV_URI failed"; }
  [ "$SRV_SIZE" -ge "$SIZE" ] || die "$name exports $SRV_SIZE bytes, less than --size $SIZE"
}

stop_server() { stop_tree "$SRV_PID"; forget_pid "$SRV_PID"; }

# ------------------------------------------------------------------------------------------------
# Jobs. JOBS: name rw bs iodepth [extra fio options]
JOBS=("randwrite-4k-qd1 randwrite 4k 1"
      "randwrite-4k-qd32 randwrite 4k 32"
      "randread-4k-qd32 randread 4k 32"
      "write-1m-qd8 write 1M 8"
      "read-1m-qd8 read 1M 8"
      "randrw70-4k-qd16 randrw 4k 16 --rwmixread=70")
FIO_WORK=$SCRATCH/fio; mkdir -p "$FIO_WORK"

# record REP TARGET JOB KIND FILE CPU_TICKS WALL_NS BYTES
record() { local IFS=$'\t'; echo "$*" >>"$RUNS"; }

# fio_job REP TARGET CPU_PID NAME RW BS QD [extra]; FIO_TARGET holds the engine/target options.
# Server CPU is sampled when the ramp ends (fio runs --exec_prerun right before its first I/O)
# and when fio exits, so the window matches the bytes fio reports (which exclude the ramp).
fio_job() {
  local rep=$1 target=$2 cpu_pid=$3 name=$4 rw=$5 bs=$6 qd=$7 out c0=-1 c1=-1 t0 t1 fpid rc=0
  local runtime=$RUNTIME ramp=$RAMP ramp_s
  shift 7
  [ "$rep" != 0 ] || runtime=$PHYS_RUNTIME ramp=$PHYS_RAMP
  ramp_s=$(dur_s "$ramp")
  out="$DIR/raw/rep$rep-$target-$name.fio.json"; [ "$rep" = 0 ] && out="$DIR/raw/phys-$target-$name.fio.json"
  rm -f "$FIO_WORK/started"
  (cd "$FIO_WORK" && exec fio --name="$name" "${FIO_TARGET[@]}" --rw="$rw" --bs="$bs" --iodepth="$qd" \
      --size="$SIZE" --time_based --runtime="$runtime" --ramp_time="$ramp" --norandommap --randrepeat=0 \
      --unified_rw_reporting=mixed --lat_percentiles=1 --percentile_list=50:99:99.9 \
      --output-format=json --output="$out" --exec_prerun="touch $FIO_WORK/started" "$@") \
    >"$DIR/logs/fio-$target-$name.log" 2>&1 &
  fpid=$!; OWNED+=("$fpid")
  t0=$(now_ns)
  while [ ! -e "$FIO_WORK/started" ] && running "$fpid"; do sleep 0.02; done
  if [ -e "$FIO_WORK/started" ]; then
    sleep "$ramp_s"
    [ "$cpu_pid" = - ] || c0=$(cpu_ticks "$cpu_pid")
  fi
  wait "$fpid" || rc=$?
  forget_pid "$fpid"
  t1=$(now_ns)
  [ "$cpu_pid" = - ] || c1=$(cpu_ticks "$cpu_pid")
  if [ "$rc" -ne 0 ] || [ "$c0" = -1 -a "$cpu_pid" != - ]; then
    cat "$DIR/logs/fio-$target-$name.log" >&2
    die "fio job $name against $target failed (exit $rc)"
  fi
  [ "$cpu_pid" = - ] && c0=0 c1=0
  record "$rep" "$target" "$name" fio "${out#"$DIR/"}" $((c1 - c0)) $((t1 - t0)) ""
}

# copy_job REP TARGET CPU_PID NAME SRC DST BYTES: one nbdcopy, wall-clock timed
copy_job() {
  local rep=$1 target=$2 cpu_pid=$3 name=$4 src=$5 dst=$6 bytes=$7 c0=0 c1=0 t0 t1 cpid rc=0
  sync
  [ "$cpu_pid" = - ] || c0=$(cpu_ticks "$cpu_pid")
  t0=$(now_ns)
  nbdcopy "$src" "$dst" >"$DIR/logs/nbdcopy-$target-$name.log" 2>&1 &
  cpid=$!; OWNED+=("$cpid")
  wait "$cpid" || rc=$?
  t1=$(now_ns); forget_pid "$cpid"
  [ "$cpu_pid" = - ] || c1=$(cpu_ticks "$cpu_pid")
  [ "$rc" -eq 0 ] || { cat "$DIR/logs/nbdcopy-$target-$name.log" >&2; die "nbdcopy $src -> $dst ($target) failed (exit $rc)"; }
  record "$rep" "$target" "$name" copy "" $((c1 - c0)) $((t1 - t0)) "$bytes"
}

# suite REP TARGET CPU_PID: the whole job list against one target (FIO_TARGET, COPY_DST set)
suite() {
  local rep=$1 target=$2 cpu_pid=$3 j
  log "rep $rep: $target: nbdcopy-in"
  copy_job "$rep" "$target" "$cpu_pid" nbdcopy-in "$SRC" "$COPY_DST" "$SIZE"
  for j in "${JOBS[@]}"; do
    log "rep $rep: $target: ${j%% *}"
    # shellcheck disable=SC2086
    fio_job "$rep" "$target" "$cpu_pid" $j
  done
  log "rep $rep: $target: nbdcopy-out"
  copy_job "$rep" "$target" "$cpu_pid" nbdcopy-out "$COPY_DST" null: "$SIZE"
}

# fresh_disk: the backing file every server starts from: a fully written copy of the random source
fresh_disk() { rm -f "$DISK"; cp --sparse=never "$SRC" "$DISK"; sync; }

# ------------------------------------------------------------------------------------------------
T_START=$(date +%s)
log "results in $DIR; servers: ${SERVERS[*]}; $REPS rep(s); size $SIZE_ARG; fio $(dur_s "$RUNTIME") s + $(dur_s "$RAMP") s ramp"

# 1. Preflight: every server must start and answer before minutes are spent measuring
truncate -s "$SIZE" "$DISK"
for s in "${SERVERS[@]}"; do
  start_server "$s" "$DISK" preflight
  echo "$SRV_CMD" >"$DIR/raw/cmd-$s.txt"
  stop_server
  log "preflight: $s serves $SRV_SIZE bytes"
done
# mirra's launcher rebuilds when sources changed; other engineers edit the tree while this runs, so
# the preflight build is the one measured in every rep
export MIRRA_NO_BUILD=1

# 2. Incompressible source data (AES-CTR keystream is much faster than /dev/urandom)
log "creating the $SIZE_ARG random source file"
if command -v openssl >/dev/null 2>&1; then
  { openssl enc -aes-256-ctr -nosalt -pbkdf2 -pass "pass:$RANDOM$RANDOM" </dev/zero 2>/dev/null || true; } | head -c "$SIZE" >"$SRC"
else
  head -c "$SIZE" /dev/urandom >"$SRC"
fi
[ "$(stat -c %s "$SRC")" -eq "$SIZE" ] || die "could not write the random source file $SRC"

# 3. Physical limits, same run: the disk (nbdcopy file -> file and file -> null:, fio libaio
#    O_DIRECT on a file) and loopback TCP
log "physical: disk"
rm -f "$DISK"
FIO_TARGET=(--ioengine=libaio --direct=1 --filename="$DISK") COPY_DST=$DISK
suite 0 disk -
rm -f "$DISK"
if [ "$HAVE_IPERF" = 1 ]; then
  log "physical: loopback TCP (iperf3, 1 stream, 1 MiB writes)"
  port=$(free_port)
  iperf3 -s -B 127.0.0.1 -p "$port" >"$DIR/logs/iperf3-server.log" 2>&1 </dev/null &
  ipid=$!; OWNED+=("$ipid")
  wait_listen "$port" "$ipid" "$START_TIMEOUT" || die "iperf3 server did not start"
  iperf3 -c 127.0.0.1 -p "$port" -t "$TCP_SECONDS" -l 1M -J >"$DIR/raw/phys-iperf3.json" 2>"$DIR/logs/iperf3-client.log" &
  cpid=$!; OWNED+=("$cpid"); wait "$cpid" || die "iperf3 client failed (see $DIR/logs/iperf3-client.log)"
  forget_pid "$cpid"; stop_tree "$ipid"; forget_pid "$ipid"
else
  log "physical: iperf3 not installed: loopback TCP row skipped (apt-get install iperf3)"
fi

# 4. The servers, interleaved: rep r starts with server number r (rotation), so no server is
#    always first or last after the disk-heavy steps
n=${#SERVERS[@]}
for rep in $(seq "$REPS"); do
  for k in $(seq 0 $((n - 1))); do
    s=${SERVERS[$(( (k + rep - 1) % n ))]}
    log "rep $rep/$REPS: $s: fresh backing file"
    fresh_disk
    start_server "$s" "$DISK" "rep$rep"
    echo "$SRV_CMD" >"$DIR/raw/cmd-$s.txt"
    FIO_TARGET=(--ioengine=nbd --uri="$SRV_URI") COPY_DST=$SRV_URI
    suite "$rep" "$s" "$SRV_PID"
    stop_server
  done
done
rm -f "$DISK"

# 5. Report
ELAPSED=$(( $(date +%s) - T_START ))
{
  printf 'servers\t%s\n' "${SERVERS[*]}"
  printf 'reps\t%s\nruntime_s\t%s\nramp_s\t%s\nphys_runtime_s\t%s\nphys_ramp_s\t%s\n' \
    "$REPS" "$(dur_s "$RUNTIME")" "$(dur_s "$RAMP")" "$(dur_s "$PHYS_RUNTIME")" "$(dur_s "$PHYS_RAMP")"
  printf 'size_bytes\t%s\nelapsed_s\t%s\nclk_tck\t%s\n' "$SIZE" "$ELAPSED" "$(getconf CLK_TCK)"
  printf 'quick\t%s\niperf3\t%s\ndir\t%s\n' "$QUICK" "$HAVE_IPERF" "$DIR"
  printf 'command\t%s\n' "benchmarks/bench/$ME${ARGS:+ $ARGS}"
  # the build measured: that of the launcher's directory (a checkout, or a copy with a .git-describe file)
  lroot=$REPO; ! one_of mirra "${SERVERS[@]}" || lroot=$(cd -- "$(dirname -- "$(readlink -f "$MIRRA")")" && pwd)
  printf 'repo_git\t%s\n' "$(git -C "$lroot" describe --always --dirty 2>/dev/null || cat "$lroot/.git-describe" 2>/dev/null || echo unknown)"
  printf 'fs\t%s\n' "$(findmnt -no SOURCE,FSTYPE,OPTIONS -T "$DIR" 2>/dev/null | tr -s ' ' || echo unknown)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'tool\tfio\t%s\n' "$(fio --version)"
  printf 'tool\tnbdcopy\t%s\n' "$(nbdcopy --version | first_line)"
  for s in "${SERVERS[@]}"; do
    case $s in
      nbdkit) printf 'tool\tnbdkit\t%s\n' "$(nbdkit --version | first_line)" ;;
      nbd-server) printf 'tool\tnbd-server\t%s\n' "$(nbd-server -V 2>&1 | sed -n 's/^This is //p' | first_line)" ;;
      qemu-nbd) printf 'tool\tqemu-nbd\t%s\n' "$(qemu-nbd --version | first_line)" ;;
    esac
    printf 'cmd\t%s\t%s\n' "$s" "$(cat "$DIR/raw/cmd-$s.txt")"
  done
  [ "$HAVE_IPERF" = 0 ] || printf 'tool\tiperf3\t%s\n' "$(iperf3 --version | first_line)"
} >"$DIR/raw/meta.tsv"
python3 "$HERE/report.py" "$DIR"
cat "$DIR/results.md"
log "done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s: $DIR/results.md $DIR/results.json"
