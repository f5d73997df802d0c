#!/usr/bin/env bash
# Installs what the orchestrator (Patroni) tests need on Debian 12, skipping
# whatever is already there. Run as root.
#
# - etcd (Debian's etcd-server and etcd-client: /usr/bin/etcd, etcdctl). The
#   package's own etcd service is stopped and disabled: tests run their own
#   etcd on their own ports.
# - docker-compose (Debian, 1.29) when none is on PATH.
# - Patroni (pip) in its own virtualenv, $ESTUNE_PATRONI_DIR (default
#   /opt/estune/patroni), version $ESTUNE_PATRONI_VERSION (default below),
#   with etcd v3 support and psycopg 3 (binary wheel: no libpq headers, no
#   compiler). pip takes its index from the host's configuration. The venv is
#   readable by every user: tests run patroni as `postgres`, since PostgreSQL
#   refuses to run as root.
set -euo pipefail
umask 022

if [ "$(id -u)" != 0 ]; then
  echo "install-ha.sh installs packages and writes to /opt; run it as root" >&2
  exit 1
fi
patroni_version=${ESTUNE_PATRONI_VERSION:-4.1.5}
patroni_dir=${ESTUNE_PATRONI_DIR:-/opt/estune/patroni}
# Debian's interpreter, not one from a version manager under /root: the venv
# links to its python, which the postgres user must be able to run.
python=/usr/bin/python3

# Debian packages ---------------------------------------------------------
pkgs=()
[ -x /usr/bin/etcd ] || pkgs+=(etcd-server)
command -v etcdctl >/dev/null || pkgs+=(etcd-client)
command -v docker-compose >/dev/null || pkgs+=(docker-compose)
[ -x "$python" ] || pkgs+=(python3)
"$python" -c 'import ensurepip, venv' 2>/dev/null || pkgs+=(python3-venv)
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' services from starting during the install (the
  # standard policy-rc.d switch; only when no policy is in place already).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  if [ -n "$(trap -p EXIT)" ]; then rm -f "$policy"; trap - EXIT; fi
fi

# Debian's etcd service listens on 2379; stop and disable it, with or
# without systemd.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  if systemctl is-active --quiet etcd 2>/dev/null; then systemctl stop etcd; fi
  if systemctl is-enabled --quiet etcd 2>/dev/null; then systemctl disable --quiet etcd; fi
elif [ -x /etc/init.d/etcd ]; then
  if /etc/init.d/etcd status >/dev/null 2>&1; then /etc/init.d/etcd stop >/dev/null || true; fi
  if ls /etc/rc[2-5].d/S*etcd >/dev/null 2>&1; then update-rc.d etcd disable >/dev/null 2>&1 || true; fi
fi

# Patroni -------------------------------------------------------------------
installed=$("$patroni_dir/bin/patroni" --version 2>/dev/null | awk '{print $2}' || true)
if [ "$installed" = "$patroni_version" ]; then
  echo "Patroni $patroni_version already in $patroni_dir"
else
  echo "installing Patroni $patroni_version in $patroni_dir"
  # A venv is not relocatable: build it in place (an interrupted install
  # fails the version check above, so the next run starts over).
  rm -rf "$patroni_dir"
  mkdir -p "$(dirname "$patroni_dir")"
  "$python" -m venv "$patroni_dir"
  "$patroni_dir/bin/pip" install --quiet --prefer-binary --use-pep517 \
    "patroni[etcd3,psycopg3]==$patroni_version"
  installed=$("$patroni_dir/bin/patroni" --version | awk '{print $2}')
  [ "$installed" = "$patroni_version" ] \
    || { echo "installed Patroni reports $installed, wanted $patroni_version" >&2; exit 1; }
fi
chmod -R a+rX "$patroni_dir"
if id postgres >/dev/null 2>&1; then
  runuser -u postgres -- "$patroni_dir/bin/patroni" --version >/dev/null \
    || { echo "the postgres user cannot run $patroni_dir/bin/patroni" >&2; exit 1; }
fi

echo "etcd: $(etcd --version | awk '/^etcd Version/ {print $3}')"
echo "etcdctl: $(ETCDCTL_API=3 etcdctl version | awk '/^etcdctl version/ {print $3}')"
echo "patroni: $installed ($patroni_dir)"
echo "docker-compose: $(docker-compose version --short 2>/dev/null)"
