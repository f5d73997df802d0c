#!/usr/bin/env bash
# Every shipped profile measured against each other with `estune
# experiment`: the benchmark behind the README's profile tables. Not a
# test; it prints the verdicts and leaves each experiment's report folder.
#
#   1. library-scale mix,    4 GiB, PostgreSQL 15, 3 rounds
#   2. worker-pool-2025 mix, 4 GiB, PostgreSQL 15, 3 rounds
#   3. library-scale mix,    2 GiB, PostgreSQL 15, 2 rounds
#   4. library-scale mix,    4 GiB, PostgreSQL 18 (local), 2 rounds
#   5. set 1 with the newer-than-read guard (--append-mode), 2 rounds:
#      compare its runs with set 1's profile by profile (not in the default;
#      give RATE=<set 1's rate> so that the open-loop runs compare too)
#
# Each run is --duration after --warmup (DURATION, WARMUP: 30s and 10s), a
# capacity run (closed loop, 8 workers) and a rate run (open loop, 50
# workers, at RATE: auto, 70 % of round 1's lowest capacity) per profile and
# round, on 1,000,000 events (EVENTS). Sets 1 and 2 take about 24 minutes
# each on 2 cores, 3 to 5 about 16. Choose sets with SETS="1 2". Extra
# arguments go to every `estune experiment`. Then, for the README's tables:
#   scripts/experiments/profile-table.py "$OUT/library-scale-4g"
set -euo pipefail
cd "$(dirname "$0")/../.."
sets=${SETS:-1 2 3 4}
duration=${DURATION:-30s}
warmup=${WARMUP:-10s}
events=${EVENTS:-1000000}
rate=${RATE:-auto}
out=${OUT:-$PWD/reports/profiles-$(date -u +%Y-%m-%dT%H%M%SZ)}
profiles=stock,pgtune-oltp,des-benchmark,eventstore

bash scripts/install-deps.sh >/dev/null
if docker info >/dev/null 2>&1; then bash docker/build-image.sh >/dev/null; fi
cargo build --release --quiet
export ESTUNE_STATE_DIR=${ESTUNE_STATE_DIR:-/tmp/estune-profiles}
mkdir -p "$ESTUNE_STATE_DIR" && chmod 755 "$ESTUNE_STATE_DIR"
mkdir -p "$out"

run() { # name, then experiment options
  local name=$1; shift
  echo "== $name"
  ./target/release/estune experiment --profiles "$profiles" --allow-overcommit \
    --events "$events" --duration "$duration" --warmup "$warmup" --rate "$rate" \
    --cluster "profiles-$name" -o "$out/$name" "$@" 2> "$out/$name.log"
}
for s in $sets; do
  case $s in
    1) run library-scale-4g --mix library-scale --memory 4GiB --repeat 3 "$@" ;;
    2) run worker-pool-4g --mix worker-pool-2025 --memory 4GiB --repeat 3 "$@" ;;
    3) run library-scale-2g --mix library-scale --memory 2GiB --repeat 2 "$@" ;;
    4) run library-scale-pg18 --mix library-scale --memory 4GiB --repeat 2 \
         --backend local --pg-version 18 "$@" ;;
    5) run library-scale-4g-newer-than-read --mix library-scale --memory 4GiB --repeat 2 \
         --append-mode newer-than-read "$@" ;;
    *) echo "unknown set $s (1 to 5)" >&2; exit 2 ;;
  esac
done
echo "report folders: $out"
