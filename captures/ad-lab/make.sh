#!/usr/bin/env bash
# AD lab: regenerate the Samba AD DC captures, their ground truth and keys.
#
#   captures/ad-lab/make.sh [OUTDIR] [SCENARIO...]     (default: captures/ad-lab/out)
#
# Run as root. Installs what is missing (Debian's Samba 4.17 AD DC packages,
# krb5-user, tcpdump, tshark; Impacket 0.13.1 and its pinned dependencies from
# PyPI into a virtual environment), then runs the whole lab (lab.py) in its own
# network, mount and UTS namespaces: its own loopback, nothing reaches or clashes
# with the machine's ports, the system's /etc/samba is never touched. lab.py stops
# every process it started, by pid, before the namespace goes away.
set -euo pipefail

LAB="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$LAB/../.." && pwd)"
OUT="${1:-$LAB/out}"
shift || true
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
VENV="${LAB_VENV:-$LAB/.venv}"

if [ "$(id -u)" != 0 ]; then
  echo "make.sh: run as root (namespaces, mounts, tcpdump)" >&2
  exit 1
fi

PACKAGES=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind
          smbclient python3-samba ldb-tools krb5-user tcpdump tshark python3-venv iproute2)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # The packages must not start the system's Samba services: a policy-rc.d
  # that says "no" (101) while they install, the previous one put back after.
  POLICY=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$POLICY" ]; then saved="$(mktemp)"; cp -p "$POLICY" "$saved"; fi
  restore_policy() {
    if [ -n "$saved" ]; then mv "$saved" "$POLICY"; else rm -f "$POLICY"; fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\nexit 101\n' > "$POLICY"
  chmod 0755 "$POLICY"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  restore_policy
  trap - EXIT
fi
samba --version | grep -q '^Version 4\.17\.' || { echo "make.sh: needs Samba 4.17, found $(samba --version)" >&2; exit 1; }

if ! "$VENV/bin/python" -c "import impacket, sys; from importlib.metadata import version; sys.exit(version('impacket') != '0.13.1')" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$LAB/requirements.txt"
fi

# lab.py runs as the namespace's first process's child; everything it starts
# stays inside the namespace.
unshare --net --mount --uts --fork -- "$VENV/bin/python" "$LAB/lab.py" "$OUT" "$@"
echo "make.sh: captures, truth and keys written to $OUT"
