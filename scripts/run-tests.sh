#!/usr/bin/env bash
# Installs what the tests need (Debian packages, then Maven dependencies on first build) and runs every test, then
# the benchmark smoke test (./mirra bench --quick: every benchmark must run and produce numbers).
# Usage: scripts/run-tests.sh [extra mvn args]    (as root, or with sudo, so apt-get can install packages)
#        RUN_TESTS_BENCH=0 scripts/run-tests.sh ...   skips the benchmark smoke test
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)

# Real NBD clients are part of the suite: a missing one is a test failure, so install them all here.
# (libnbd-bin ships nbdinfo, nbdcopy and nbdfuse on Debian 12.) The benchmark smoke test needs the reference NBD
# servers (nbdkit, nbd-server, qemu-utils), fio, iperf3, openssl (random data), diffutils (cmp) and gcc
# (the loopback round-trip measurement of the replication benchmark) as well.
PACKAGES=(openjdk-17-jdk-headless maven libnbd-bin qemu-utils fio fuse3 e2fsprogs util-linux
          nbdkit nbd-server iperf3 python3 procps iproute2 openssl diffutils coreutils gcc)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" 2>/dev/null | grep -q "^Status: install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-tests: installing ${missing[*]}" >&2
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# FUSE needs its device node and loop devices need the module; both exist on our machines, say so if not.
[ -e /dev/fuse ] || echo "run-tests: warning: /dev/fuse is missing; the ext4-over-nbdfuse test will fail" >&2

cd "$ROOT"
# -B: no colours; -ntp: no download progress; never -q, so Surefire's 'Tests run:' summaries are printed.
# -Pfuzz: each coverage-guided fuzz test also fuzzes for a short while (-Dfuzz.duration, 12 s; docs/fuzzing.md).
mvn -B -ntp verify -Pfuzz "$@"

# Benchmark smoke test: ./mirra bench --quick runs every benchmark (mirra serve beside nbdkit, nbd-server and
# qemu-nbd with the physical limits, replication, resync, JMH) small and short, and fails unless each one ran and
# every expected figure is present and above zero, no benchmark recorded a problem and none of its processes is left.
# It never compares a figure with a threshold. Under 3 minutes on 2 cores; its files go at the end, pass or fail.
if [ "${RUN_TESTS_BENCH:-1}" != 0 ]; then
  SMOKE_DIR=$(mktemp -d /var/tmp/mirra-bench-smoke.XXXXXX)
  trap 'rm -rf -- "$SMOKE_DIR"' EXIT
  echo "run-tests: benchmark smoke test: ./mirra bench --quick --dir $SMOKE_DIR"
  t0=$(date +%s)
  rc=0
  ./mirra bench --quick --dir "$SMOKE_DIR" || rc=$?
  t=$(( $(date +%s) - t0 ))
  if [ "$rc" != 0 ]; then
    echo "run-tests: FAILED: the benchmark smoke test (./mirra bench --quick) exited with $rc after $t s;" \
         "the reason is in the lines above (its 'Checks' section, or the failing benchmark's last log lines)" >&2
    exit 1
  fi
  echo "run-tests: benchmark smoke test passed in $((t / 60)) min $((t % 60)) s"
fi
