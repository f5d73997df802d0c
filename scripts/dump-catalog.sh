#!/bin/sh
# Regenerates a built-in parameter catalog (src/catalog/builtin/pgNN.tsv)
# from the PostgreSQL binaries in BINDIR, so the embedded data can be
# reproduced: initdb into a private temporary directory, start the server on
# a Unix socket in that directory only (no TCP), dump pg_settings, stop it
# and remove everything, also when a step fails.
#
# Usage: scripts/dump-catalog.sh BINDIR OUT.tsv
# As root, the server runs as $ESTUNE_OS_USER (default: postgres).
#
# Columns (tab-separated, one parameter a line, sorted by name): name,
# vartype, unit, min_val, max_val, enumvals (comma-separated), context,
# boot_val, category, short_desc.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 BINDIR OUT.tsv" >&2
    exit 2
fi
bindir=$1
out=$2
os_user=${ESTUNE_OS_USER:-postgres}
for tool in initdb postgres pg_ctl psql; do
    if [ ! -x "$bindir/$tool" ]; then
        echo "$0: $bindir/$tool is missing; pass the bin directory of a PostgreSQL installation" >&2
        exit 1
    fi
done

# Trust authentication below is safe only because the socket lives in this
# 0700 directory, reachable by its owner alone.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/estune-dump.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then
    chown "$os_user" "$tmp"
    as_user() { runuser -u "$os_user" -- "$@"; }
else
    as_user() { "$@"; }
fi
cleanup() {
    if [ -f "$tmp/data/postmaster.pid" ]; then
        as_user "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cd "$tmp"
TZ=UTC as_user "$bindir/initdb" -D "$tmp/data" -U postgres --auth-local=trust \
    --auth-host=reject --no-sync -E UTF8 --locale=C >"$tmp/initdb.log" 2>&1 ||
    { cat "$tmp/initdb.log" >&2; exit 1; }
as_user "$bindir/pg_ctl" -D "$tmp/data" -w -l "$tmp/server.log" \
    -o "-c listen_addresses= -k $tmp -p 5432 -c fsync=off" start >/dev/null ||
    { cat "$tmp/server.log" >&2; exit 1; }

as_user "$bindir/psql" -X -q -A -t -F "$(printf '\t')" -h "$tmp" -p 5432 -U postgres -d postgres \
    -v ON_ERROR_STOP=1 >"$tmp/out.tsv" <<'SQL'
SELECT name, vartype, coalesce(unit, ''), coalesce(min_val, ''), coalesce(max_val, ''),
       coalesce(array_to_string(enumvals, ','), ''), context, coalesce(boot_val, ''),
       category, short_desc
FROM pg_settings
ORDER BY name COLLATE "C";
SQL
cp "$tmp/out.tsv" "$out"
echo "wrote $(wc -l <"$out") parameters of $("$bindir/postgres" --version) to $out"
