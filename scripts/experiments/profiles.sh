#!/usr/bin/env bash
# Every shipped profile measured against each other with `estune
# experiment`: the benchmark behind the README's profile tables. Not a
# test; it prints the verdicts and leaves each experiment's report folder.
#
#   1. library-scale mix,    4 GiB, PostgreSQL 15, 3 rounds
#   2. worker-pool-2025 mix, 4 GiB, PostgreSQL 15, 3 rounds
#   3. library-scale mix,    2 GiB, PostgreSQL 15, 2 rounds
#   4. library-scale mix,    4 GiB, PostgreSQL 18 (local), 2 rounds
#
# Each run is --duration after --warmup (defaults 30s and 10s), a capacity
# run (closed loop, 8 workers) and a rate run (open loop, 50 workers, 70 %
# of round 1's lowest capacity) per profile and round, on 1,000,000 events
# (EVENTS). About 70 minutes on 2 cores. Choose sets with SETS="1 2".
# Extra arguments go to every `estune experiment` (e.g. --append-mode).
set -euo pipefail
cd "$(dirname "$0")/../.."
sets=${SETS:-1 2 3 4}
duration=${DURATION:-30s}
warmup=${WARMUP:-10s}
events=${EVENTS:-1000000}
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
    --events "$events" --duration "$duration" --warmup "$warmup" \
    --cluster "profiles-$name" -o "$out/$name" "$@" 2> "$out/$name.log"
}
for s in $sets; do
  case $s in
    1) run library-scale-4g --mix library-scale --memory 4GiB --repeat 3 "$@" ;;
    2) run worker-pool-4g --mix worker-pool-2025 --memory 4GiB --repeat 3 "$@" ;;
    3) run library-scale-2g --mix library-scale --memory 2GiB --repeat 2 "$@" ;;
    4) run library-scale-pg18 --mix library-scale --memory 4GiB --repeat 2 \
         --backend local --pg-version 18 "$@" ;;
    *) echo "unknown set $s (1 to 4)" >&2; exit 2 ;;
  esac
done
echo "report folders: $out"
