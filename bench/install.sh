#!/bin/sh
# Installs what `npm run bench` compares procmesh against, when missing (Debian/Ubuntu, as root):
# serf, glances (+ python3-bottle for its REST API), procps (ps, top), curl, iproute2 and
# util-linux (simulated hosts). ps-list comes with `npm ci`. A package the distribution does not
# have is reported, not faked: the bench then marks that tool's rows as not measured.
set -u
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have serf || need="$need serf"
have glances || need="$need glances"
/usr/bin/python3 -c 'import bottle' >/dev/null 2>&1 || need="$need python3-bottle"
have ps || need="$need procps"
have top || need="$need procps"
have curl || need="$need curl"
have ip || need="$need iproute2"
have nsenter || need="$need util-linux"
have perl || need="$need perl"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "bench/install.sh: missing:$need (install them, or run as root on Debian/Ubuntu)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
for pkg in $(echo "$need" | tr ' ' '\n' | sort -u); do
  if apt-cache show "$pkg" >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 || echo "bench/install.sh: installing $pkg failed" >&2
  else
    echo "bench/install.sh: package $pkg is not available from apt here" >&2
  fi
done
exit 0
