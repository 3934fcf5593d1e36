#!/usr/bin/env bash
# Attack lab: regenerate the Impacket captures and their ground truth.
#
#   captures/lab/make.sh [OUTDIR]        (default: captures/impacket)
#
# Installs what it needs (Impacket from PyPI into a virtual environment; tcpdump
# and tshark from Debian when missing), starts the lab servers on 127.0.0.1
# (SMB 445, endpoint mapper 135, DCE-RPC 49670-49672), runs every scenario under
# its own tcpdump capture, and stops every process it started, by pid. Run as
# root (binding 445/135 and capturing on lo need it).
set -euo pipefail

IMPACKET_VERSION=0.13.1
LAB="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$LAB/../.." && pwd)"
OUT="${1:-$ROOT/captures/impacket}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
VENV="${LAB_VENV:-$LAB/.venv}"

need_apt=()
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
command -v tshark >/dev/null || need_apt+=(tshark)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_apt[@]}"
fi

if ! "$VENV/bin/python" -c "import impacket, sys; from importlib.metadata import version; sys.exit(version('impacket') != '$IMPACKET_VERSION')" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "impacket==$IMPACKET_VERSION"
fi

for port in 445 135 49670 49671 49672; do
  if command -v ss >/dev/null && ss -Hltn "sport = :$port" | grep -q .; then
    echo "make.sh: port $port is already in use on this machine; stop that listener first" >&2
    exit 1
  fi
done

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cd "$LAB"
"$VENV/bin/python" servers.py "$WORK/ready" 2>"$WORK/servers.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [ -f "$WORK/ready" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/servers.log" >&2; exit 1; }
  sleep 0.1
done
[ -f "$WORK/ready" ] || { echo "make.sh: servers did not start" >&2; cat "$WORK/servers.log" >&2; exit 1; }

"$VENV/bin/python" scenarios.py "$WORK/out"
for f in "$WORK"/out/*.pcap "$WORK"/out/*.truth.tsv; do
  install -m 0644 "$f" "$OUT/"
done
echo "make.sh: captures and truth written to $OUT"
