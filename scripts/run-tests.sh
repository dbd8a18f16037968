#!/usr/bin/env bash
# Installs what the tests need (Debian packages, then Maven dependencies on first build) and runs every test.
# Usage: scripts/run-tests.sh [extra mvn args]    (as root, or with sudo, so apt-get can install packages)
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)

# Real NBD clients are part of the suite: a missing one is a test failure, so install them all here.
# (libnbd-bin ships nbdinfo, nbdcopy and nbdfuse on Debian 12.)
PACKAGES=(openjdk-17-jdk-headless maven libnbd-bin qemu-utils fio fuse3 e2fsprogs util-linux
          nbdkit nbd-server iperf3 python3 procps iproute2)
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
exec mvn -B -ntp verify -Pfuzz "$@"
