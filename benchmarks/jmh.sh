#!/usr/bin/env bash
# jmh.sh: run mirra's JMH microbenchmarks (benchmarks/src/main/java) with the project's JVM flags.
#
#   benchmarks/jmh.sh [--quick | --smoke] [--out DIR] [--no-build] [JMH options] [benchmark regexps]
#
#   --quick      smoke run of every benchmark: -f 1 -wi 1 -w 500ms -i 2 -r 500ms, all of them in about 90 s. Too
#                short for JIT-sensitive numbers (the NBD decoder needs a few seconds of warmup): use it to see that
#                everything runs and for rough magnitudes.
#   --smoke      a representative subset, one case per benchmark class (the NBD decoder's 4 KiB write, the dirty
#                bitmap's markByteRange and the run-length encoder at 64 GiB / 4 KiB and 1 % dirty, lz4 on a 4 KiB
#                file-system-like block, the adaptive allocator at 4 KiB), -f 1 -wi 1 -w 1s -i 2 -r 500ms: about
#                20 s. For the benchmark smoke test (./mirra bench --quick): proves that they run, nothing finer.
#   (default)    full run: -f 2 -wi 3 -w 2s -i 5 -r 2s (about 20 minutes for all of them on 2 cores).
#   --out DIR    where the JSON results go (default benchmarks/target/jmh-results); the file is named after the
#                date, the JDK and the mode. Giving -rf/-rff yourself overrides this.
#   --no-build   use the jar as it is (also MIRRA_NO_BUILD=1).
#   Any JMH option given explicitly (-f, -wi, -w, -i, -r, ...) wins over the defaults above; e.g.
#   benchmarks/jmh.sh --quick DirtyBitmap -p dirtyPercent=1      benchmarks/jmh.sh -h  (JMH's own help)
#
# The JVM flags are the root pom's jvm.flags property, as the build wrote them to node/target/classes/mirra-jvm.flags
# (the ./mirra launcher reads the same file). They depend on the JDK that built them (the jdk23plus profile adds
# --sun-misc-unsafe-memory-access=allow, which JDK 17 rejects), so the project is rebuilt when the JDK changes, as
# well as when the jar is missing or older than a source (the JDK of a jar built by someone else, e.g. a plain
# `mvn verify`, is read from its manifest's Build-Jdk-Spec). JMH passes the flags on to its forked JVMs (and with
# -jvmArgs given, this script prepends them with -jvmArgsPrepend).
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
JAR="$ROOT/benchmarks/target/benchmarks.jar"
FLAGS_FILE="$ROOT/node/target/classes/mirra-jvm.flags"
JDK_STAMP="$ROOT/benchmarks/target/jmh-build-jdk.txt"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

usage() { sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

quick=0
build=1
[ "${MIRRA_NO_BUILD:-}" = 1 ] && build=0
out_dir="$ROOT/benchmarks/target/jmh-results"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --smoke) quick=2 ;;
    --no-build) build=0 ;;
    --out) [ $# -ge 2 ] || { echo "jmh.sh: --out needs a directory" >&2; exit 2; }; out_dir="$2"; shift ;;
    --out=*) out_dir="${1#--out=}" ;;
    --help) usage; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

jdk_version() {
  "$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p'
}
JDK=$(jdk_version)
[ -n "$JDK" ] || { echo "jmh.sh: cannot run $JAVA" >&2; exit 1; }

# a jar built without this script (mvn verify, mvn package) has no stamp: its manifest names the JDK that built it
if [ ! -f "$JDK_STAMP" ] && [ -f "$JAR" ] && command -v python3 >/dev/null 2>&1; then
  built=$(python3 -c 'import sys, zipfile
for line in zipfile.ZipFile(sys.argv[1]).read("META-INF/MANIFEST.MF").decode().splitlines():
    if line.startswith("Build-Jdk-Spec:"): print(line.split(":", 1)[1].strip())' "$JAR" 2>/dev/null || true)
  [ -z "$built" ] || echo "$built" >"$JDK_STAMP"
fi

stale() {
  [ -f "$JAR" ] && [ -f "$FLAGS_FILE" ] && [ -f "$JDK_STAMP" ] || return 0
  [ "$(cat "$JDK_STAMP")" = "$JDK" ] || return 0
  # Sources of the modules the jar is built from (benchmarks -am), and the root pom.
  [ -n "$(find "$ROOT/pom.xml" "$ROOT/engine-core" "$ROOT/bitmap" "$ROOT/nbd-frontend" "$ROOT/node" \
      "$ROOT/benchmarks/pom.xml" "$ROOT/benchmarks/src" -path '*/target' -prune -o \
      \( -path '*/src/main/*' -o -name pom.xml \) -type f -newer "$JAR" -print -quit 2>/dev/null)" ]
}

if [ "$build" = 1 ] && stale; then
  command -v mvn >/dev/null || { echo "jmh.sh: Maven (mvn) is needed to build the benchmarks" >&2; exit 1; }
  echo "jmh.sh: building the benchmarks with JDK $JDK (first run, sources changed, or another JDK)..." >&2
  log=$(mktemp "${TMPDIR:-/tmp}/jmh-build.XXXXXX.log")
  if ! (cd "$ROOT" && mvn -B -q -ntp -DskipTests -pl benchmarks -am package) >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "jmh.sh: build failed; full log: $log" >&2
    exit 1
  fi
  rm -f "$log"
  echo "$JDK" >"$JDK_STAMP"
fi
[ -f "$JAR" ] || { echo "jmh.sh: $JAR is missing; run without --no-build" >&2; exit 1; }
[ -f "$FLAGS_FILE" ] || { echo "jmh.sh: $FLAGS_FILE is missing; run without --no-build" >&2; exit 1; }
if [ -f "$JDK_STAMP" ] && [ "$(cat "$JDK_STAMP")" != "$JDK" ]; then
  echo "jmh.sh: warning: built with JDK $(cat "$JDK_STAMP") but running JDK $JDK; the JVM flags may not fit" >&2
fi
read -r -a FLAGS <<<"$(tr '\n' ' ' <"$FLAGS_FILE")"

has_arg() {
  local a
  for a in "${args[@]+"${args[@]}"}"; do [ "$a" = "$1" ] && return 0; done
  return 1
}
listing=0
for a in -l -lp -lrf -lprof -h; do has_arg "$a" && listing=1; done

opts=()
if [ "$listing" = 0 ]; then
  if [ "$quick" = 1 ]; then
    defaults=(-f 1 -wi 1 -w 500ms -i 2 -r 500ms)
    mode=quick
  elif [ "$quick" = 2 ]; then
    defaults=(-f 1 -wi 1 -w 1s -i 2 -r 500ms)
    mode=smoke
  else
    defaults=(-f 2 -wi 3 -w 2s -i 5 -r 2s)
    mode=full
  fi
  for ((k = 0; k < ${#defaults[@]}; k += 2)); do
    has_arg "${defaults[k]}" || opts+=("${defaults[k]}" "${defaults[k + 1]}")
  done
  if ! has_arg -rf && ! has_arg -rff; then
    mkdir -p "$out_dir"
    result="$(cd "$out_dir" && pwd)/jmh-$(date +%Y%m%d-%H%M%S)-jdk$JDK-$mode.json"
    opts+=(-rf json -rff "$result")
  fi
  if has_arg -jvmArgs; then
    opts+=(-jvmArgsPrepend "${FLAGS[*]}")
  fi
  if [ "$quick" = 2 ]; then
    # the subset, unless benchmarks were named; -p applies to every benchmark with that parameter
    named=0 skip=0
    for a in "${args[@]+"${args[@]}"}"; do
      if [ "$skip" = 1 ]; then skip=0; continue; fi
      case $a in -l|-lp|-lrf|-lprof|-h) ;; -*) skip=1 ;; *) named=1 ;; esac   # JMH's other options take a value
    done
    if [ "$named" = 0 ]; then
      opts+=(-p geometry=64GiB/4KiB -p dirtyPercent=1 -p data=mixed -p blockSize=4096 -p allocator=adaptive -p size=4096
             'NbdRequestDecoderBenchmark\.write4KiBOneRead$' 'DirtyBitmapBenchmark\.markByteRange$'
             'BitmapRunCodecBenchmark\.encode$' 'Lz4BlockBenchmark\.compress$' 'ByteBufAllocatorBenchmark\.allocateAndRelease$')
    fi
  fi
fi

status=0
"$JAVA" "${FLAGS[@]}" -jar "$JAR" "${opts[@]+"${opts[@]}"}" "${args[@]+"${args[@]}"}" || status=$?
if [ -n "${result:-}" ] && [ -s "$result" ]; then
  echo "jmh.sh: JSON results in $result" >&2
fi
exit "$status"
