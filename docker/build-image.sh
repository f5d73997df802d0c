#!/usr/bin/env bash
# Builds a PostgreSQL 15 image with no registry: debootstrap a minimal
# Debian bookworm, install postgresql-15 from the host's Debian mirror, trim
# it, and `docker import` the root filesystem. See docker/README.md.
#
#   bash docker/build-image.sh [--force] [--no-jit] [TAG]
#   bash docker/build-image.sh --print-mirrors
#
# TAG defaults to estune/postgres:15. Runs unattended (CI). Skips everything
# when TAG already exists, unless --force. --no-jit leaves out LLVM (JIT
# compilation; about 130 MB). Downloads are cached under $ESTUNE_CACHE_DIR
# (default /var/cache/estune) so a rebuild does not fetch them again.
# The mirrors are $ESTUNE_DEBIAN_MIRROR and $ESTUNE_DEBIAN_SECURITY, else the
# host's apt sources that serve bookworm and bookworm-security (read from
# $ESTUNE_APT_ETC, default /etc/apt); --print-mirrors prints the two and
# exits.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

# Prints the first http(s) URI of an enabled `deb` source in the host's apt
# configuration that serves SUITE, or nothing. Reads, in apt's order,
# sources.list and sources.list.d/*.list (one-line `deb [opts] URI suite
# comps…`) and sources.list.d/*.sources (deb822 stanzas: Types, URIs,
# Suites, Enabled) under $ESTUNE_APT_ETC (default /etc/apt); files with
# other names are ignored, as apt does.
apt_uri_for_suite() {
  local want=$1 etc=${ESTUNE_APT_ETC:-/etc/apt} f uri
  for f in "$etc/sources.list" "$etc"/sources.list.d/*; do
    [ -f "$f" ] || continue
    case $f in
      *.sources)
        uri=$(awk -v want="$want" '
          function flush(  n, i, s, u, serves) {
            if (!found && tolower(enabled) !~ /^(no|false|off|0)$/ && (" " types " ") ~ / deb /) {
              n = split(suites, s, " ")
              for (i = 1; i <= n; i++) if (s[i] == want) serves = 1
              n = split(uris, u, " ")
              for (i = 1; serves && i <= n; i++)
                if (u[i] ~ /^https?:\/\//) { print u[i]; found = 1; break }
            }
            types = uris = suites = enabled = key = ""
          }
          /^[ \t]*#/ { next }
          /^[ \t]*$/ { flush(); next }
          /^[ \t]/ {  # continuation of a multi-line field
            v = $0; gsub(/^[ \t]+|[ \t]+$/, "", v)
            if (key == "types") types = types " " v
            else if (key == "uris") uris = uris " " v
            else if (key == "suites") suites = suites " " v
            next
          }
          {
            i = index($0, ":"); if (i == 0) next
            key = tolower(substr($0, 1, i - 1)); v = substr($0, i + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", v)
            if (key == "types") types = v
            else if (key == "uris") uris = v
            else if (key == "suites") suites = v
            else if (key == "enabled") enabled = v
          }
          END { flush() }' "$f") ;;
      */sources.list|*.list)
        uri=$(awk -v want="$want" '
          { sub(/#.*/, ""); gsub(/\[[^]]*\]/, " ") }
          $1 == "deb" && $3 == want && $2 ~ /^https?:\/\// { print $2; exit }' "$f") ;;
      *) continue ;;
    esac
    if [ -n "$uri" ]; then printf '%s\n' "${uri%/}"; return 0; fi
  done
}

force=0
jit=1
print_mirrors=0
tag=estune/postgres:15
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --no-jit) jit=0 ;;
    --print-mirrors) print_mirrors=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) tag=$1 ;;
  esac
  shift
done

suite=bookworm
# Sets $mirror and $security, or fails saying what to set.
resolve_mirrors() {
  local missing=()
  mirror=${ESTUNE_DEBIAN_MIRROR:-$(apt_uri_for_suite "$suite")}
  security=${ESTUNE_DEBIAN_SECURITY:-$(apt_uri_for_suite "$suite-security")}
  [ -n "$mirror" ] || missing+=("$suite (ESTUNE_DEBIAN_MIRROR)")
  [ -n "$security" ] || missing+=("$suite-security (ESTUNE_DEBIAN_SECURITY)")
  if [ ${#missing[@]} -gt 0 ]; then
    {
      echo "no http(s) Debian mirror in the host's apt sources" \
        "(${ESTUNE_APT_ETC:-/etc/apt}/sources.list, sources.list.d/*.list and *.sources) for:"
      printf '  %s\n' "${missing[@]}"
      echo "set ESTUNE_DEBIAN_MIRROR and ESTUNE_DEBIAN_SECURITY to the mirrors' URLs"
    } >&2
    exit 1
  fi
}
if [ "$print_mirrors" = 1 ]; then
  resolve_mirrors
  printf 'ESTUNE_DEBIAN_MIRROR=%s\nESTUNE_DEBIAN_SECURITY=%s\n' "$mirror" "$security"
  exit 0
fi
cache=${ESTUNE_CACHE_DIR:-/var/cache/estune}
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }
say() { printf '== %s (%s)\n' "$*" "$(elapsed)"; }

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "image $tag already exists; nothing to do (--force rebuilds it)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "debootstrap and chroot need root; run this as root" >&2
  exit 1
fi
# Fail before the slow part if the engine cannot take the image.
docker version --format '{{.Server.Version}}' >/dev/null
resolve_mirrors

export DEBIAN_FRONTEND=noninteractive
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

arch=$(dpkg --print-architecture)
mkdir -p "$cache/debs"
# /var/tmp rather than /tmp: the root filesystem is a few hundred MB and
# /tmp may be a small tmpfs.
work=$(mktemp -d /var/tmp/estune-image.XXXXXX)
root=$work/root
cleanup() {
  # Never leave a mount behind: rm -rf would then reach into the host.
  for m in "$root/proc" "$root/dev/pts"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tarball=$cache/debootstrap-$suite-minbase-$arch.tgz
if [ ! -s "$tarball" ]; then
  say "downloading the $suite minbase packages (cached in $tarball)"
  debootstrap --variant=minbase --arch="$arch" --make-tarball="$tarball.part" \
    "$suite" "$work/download" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  mv "$tarball.part" "$tarball"
fi

say "debootstrap $suite (minbase) from $tarball"
debootstrap --variant=minbase --arch="$arch" --unpack-tarball="$tarball" \
  "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"

# Package tools are chatty (and complain about /dev/pts, harmlessly); their
# output is shown only when they fail.
logged() {
  "$@" >>"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; return 1; }
}

in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

say "installing postgresql-15"
cp -a "$cache/debs/." "$root/var/cache/apt/archives/" 2>/dev/null || true
logged in_root apt-get update -qq
logged in_root apt-get install -y -qq --no-install-recommends postgresql-common
# estune runs initdb itself; the package must not create a `main` cluster.
sed -i 's/^#\?\s*create_main_cluster.*/create_main_cluster = false/' \
  "$root/etc/postgresql-common/createcluster.conf"
logged in_root apt-get install -y -qq --no-install-recommends postgresql-15 tzdata
# Keep only packages still in the archive, so the cache does not grow
# with every point release.
logged in_root apt-get autoclean -qq
find "$cache/debs" -name '*.deb' -delete
cp -a "$root/var/cache/apt/archives/"*.deb "$cache/debs/"

bindir=/usr/lib/postgresql/15/bin
version=$(in_root "$bindir/postgres" --version | awk '{print $3}')
test -e "$root/usr/lib/postgresql/15/lib/pg_stat_statements.so" \
  || { echo "pg_stat_statements.so is missing from the image" >&2; exit 1; }
uid=$(in_root id -u postgres)
gid=$(in_root id -g postgres)

say "trimming"
umount "$root/proc"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/* "$root"/usr/share/man "$root"/usr/share/info "$root"/usr/share/lintian \
  "$root"/usr/share/linda "$root/usr/sbin/policy-rc.d" "$root"/tmp/* "$root"/root/.cache
# Documentation, but not the copyright notices.
find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
# Message translations: the server logs in English (lc_messages = C).
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
# Character maps are for generating locales; C.UTF-8 ships ready-made.
rm -rf "$root"/usr/share/i18n/charmaps/* "$root"/usr/share/i18n/locales/*
if [ "$jit" = 0 ]; then
  # Without llvmjit.so the server runs every query interpreted, whatever
  # `jit` says; dpkg still lists the packages, so apt stays consistent.
  rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode
  find "$root/usr/lib" -maxdepth 3 \( -name 'libLLVM-*.so*' -o -name 'libz3.so*' \) -delete
fi
# Docker provides these at run time.
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"
# The unix socket directory; /run is part of the image, not a tmpfs.
install -d -m 2775 -o "$uid" -g "$gid" "$root/var/run/postgresql"

say "importing as $tag"
old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'USER postgres' \
  --change "ENV PATH=$bindir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PGDATA=/var/lib/postgresql/estune/data' \
  --change 'WORKDIR /var/lib/postgresql' \
  --change 'EXPOSE 5432/tcp' \
  --change 'LABEL estune.image=1' \
  --change "LABEL estune.postgres.version=$version" \
  --change "LABEL estune.postgres.uid=$uid estune.postgres.gid=$gid estune.jit=$jit" \
  --change 'CMD ["postgres", "--version"]' \
  - "$tag" >/dev/null
new=$(docker image inspect --format '{{.Id}}' "$tag")
# --force replaced the tag; drop the old image unless a container uses it.
if [ -n "$old" ] && [ "$old" != "$new" ]; then docker image rm "$old" >/dev/null 2>&1 || true; fi

size=$(docker image inspect --format '{{.Size}}' "$tag")
say "built $tag: PostgreSQL $version, postgres uid $uid gid $gid, $(( size / 1024 / 1024 )) MB"
