#!/usr/bin/env bash
# profile.sh: a CPU profile of running mirra JVMs (mirra node / mirra serve), one file per JVM, for the benchmark
# scripts (REPL_PROFILE in replication-compare.sh, RESYNC_PROFILE in resync-compare.sh) and for manual use.
#
#   profile.sh start PREFIX NAME=PID...   start a recording in every JVM
#   profile.sh stop  PREFIX NAME=PID...   stop it and write PREFIX-NAME.jfr (or PREFIX-NAME.collapsed)
#
# Profiler: JFR by default (`jcmd PID JFR.start name=mirra-bench settings=profile`, then
# `jcmd PID JFR.stop name=mirra-bench filename=PREFIX-NAME.jfr`): Java frames only, one sample per 10 ms of a
# thread running Java code (threads blocked in system calls are not in jdk.ExecutionSample). With
# BENCH_ASYNC_PROFILER=PATH/libasyncProfiler.so, async-profiler instead (loaded with `jcmd PID JVMTI.agent_load`;
# CPU samples from perf_events every BENCH_PROFILE_INTERVAL, default 1ms, kernel frames included, per thread),
# written as collapsed stacks; its messages go to the JVM's own output (the node's log). async-profiler's jar on Maven Central carries the library:
#   mvn dependency:get -Dartifact=tools.profiler:async-profiler:3.0
#   unzip -o -j ~/.m2/repository/tools/profiler/async-profiler/3.0/async-profiler-3.0.jar \
#     linux-x64/libasyncProfiler.so -d /var/tmp/async-profiler
# Summaries: profile-top.py FILE... (top frames by samples).
#
# The jcmd calls for all JVMs run in parallel; each one is a short JVM of its own (about 0.5 CPU s), so a
# profiled measurement is not comparable with an unprofiled one.
set -Eeuo pipefail
ME=${0##*/}
usage() { sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
[ $# -ge 3 ] || { usage >&2; exit 2; }
action=$1 prefix=$2; shift 2
case $action in start|stop) ;; *) usage >&2; exit 2 ;; esac
JCMD="${JAVA_HOME:+$JAVA_HOME/bin/}jcmd"
command -v "$JCMD" >/dev/null 2>&1 || { echo "$ME: jcmd not found (a JDK is needed, not only a JRE)" >&2; exit 1; }
LIB=${BENCH_ASYNC_PROFILER:-}
if [ -n "$LIB" ]; then
  [ -f "$LIB" ] || { echo "$ME: BENCH_ASYNC_PROFILER=$LIB does not exist" >&2; exit 1; }
  LIB=$(readlink -f "$LIB")
fi
INTERVAL=${BENCH_PROFILE_INTERVAL:-1ms}

one() {  # NAME PID
  local name=$1 pid=$2 out
  if [ -z "$LIB" ]; then
    out=$prefix-$name.jfr
    if [ "$action" = start ]; then
      "$JCMD" "$pid" JFR.start name=mirra-bench settings=profile
    else
      "$JCMD" "$pid" JFR.stop name=mirra-bench filename="$out"
    fi
  else
    out=$prefix-$name.collapsed
    if [ "$action" = start ]; then
      # (the option in double quotes inside the argument: jcmd would take the '=' for one of its own options)
      "$JCMD" "$pid" JVMTI.agent_load "$LIB" "\"start,event=cpu,interval=$INTERVAL,threads\""
    else
      "$JCMD" "$pid" JVMTI.agent_load "$LIB" "\"stop,collapsed,file=$out\""
    fi
  fi
}

pids=() rc=0
for arg in "$@"; do
  name=${arg%%=*} pid=${arg#*=}
  [[ $name =~ ^[A-Za-z0-9_-]+$ && $pid =~ ^[0-9]+$ ]] || { echo "$ME: expected NAME=PID, got '$arg'" >&2; exit 2; }
  one "$name" "$pid" >"$prefix-$name.$action.log" 2>&1 &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for arg in "$@"; do
  name=${arg%%=*}
  # jcmd reports a failed diagnostic command on stdout with exit code 0 in some versions: look at the text too
  if grep -qiE 'exception|error|could not|failed|return code: [1-9]' "$prefix-$name.$action.log"; then rc=1; fi
  cat "$prefix-$name.$action.log"; rm -f "$prefix-$name.$action.log"
done
[ "$action" = start ] || for arg in "$@"; do
  name=${arg%%=*}
  f=$prefix-$name.jfr; [ -z "$LIB" ] || f=$prefix-$name.collapsed
  [ -s "$f" ] || { echo "$ME: no profile written to $f" >&2; rc=1; }
done
exit "$rc"
