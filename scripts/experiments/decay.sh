#!/usr/bin/env bash
# No decay: a long fixed-rate run per profile (stock against eventstore by
# default), one after the other on the same pair, checked against the
# built-in `no-decay` criteria (the p99 of each minute must not grow by
# more than 1 ms a minute). The report's p99-per-second plot shows both.
# Not a test. Knobs: RATE (200 ops/s, a rate both sustain here), DURATION
# (10min), PROFILES (stock,eventstore), EVENTS (1000000), OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${RATE:-200}
duration=${DURATION:-10min}
profiles=${PROFILES:-stock,eventstore}
events=${EVENTS:-1000000}
out=${OUT:-$PWD/reports/decay-$(date -u +%Y-%m-%dT%H%M%SZ)}

bash scripts/install-deps.sh >/dev/null
if docker info >/dev/null 2>&1; then bash docker/build-image.sh >/dev/null; fi
cargo build --release --quiet
export ESTUNE_STATE_DIR=${ESTUNE_STATE_DIR:-/tmp/estune-decay}
mkdir -p "$ESTUNE_STATE_DIR" && chmod 755 "$ESTUNE_STATE_DIR"
./target/release/estune experiment --profiles "$profiles" --runs rate --rate "$rate" \
  --duration "$duration" --warmup 30s --repeat 1 --events "$events" \
  --criteria no-decay --cluster decay -o "$out" "$@"
# The experiment checks the sides against the baseline; here every run is
# checked on its own, the baseline's too.
for f in "$out"/*-rate.json; do
  ./target/release/estune check --criteria no-decay "$f" || true
done
