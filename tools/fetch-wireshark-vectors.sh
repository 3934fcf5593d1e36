#!/usr/bin/env bash
# Put Wireshark's public decryption test vectors (SMB3-encrypted captures, the Kerberos
# capture and its keytab) into DEST, for tests/auth_vectors.rs (env RPCSIFT_WIRESHARK_VECTORS).
#
#   tools/fetch-wireshark-vectors.sh DEST
#
# Idempotent: does nothing when DEST already holds every file. Otherwise takes Debian's
# `wireshark` source package (a release tarball of the Wireshark repository) through apt
# (a deb-src line for the running release is added when missing; needs root), caches it
# under ${RPCSIFT_CACHE:-$HOME/.cache/rpcsift}, and extracts only the files listed below.
# The captures are Wireshark's (GPL test data): they are read by the tests, never committed.
set -euo pipefail
dest="${1:?usage: $0 DEST}"
files=(
  test/captures/smb300-aes-128-ccm.pcap.gz
  test/captures/smb311-aes-128-ccm.pcap.gz
  test/captures/smb311-aes-128-gcm.pcap.gz
  test/captures/smb311-aes-256-ccm.pcap.gz
  test/captures/smb311-aes-256-gcm.pcap.gz
  test/captures/krb-816.pcap.gz
  test/keys/krb-816.keytab
  test/suite_decryption.py
)
have_all=1
for f in "${files[@]}"; do
  [ -s "$dest/$(basename "$f")" ] || have_all=0
done
if [ "$have_all" = 1 ]; then
  echo "wireshark vectors: $dest is complete"
  exit 0
fi
cache="${RPCSIFT_CACHE:-$HOME/.cache/rpcsift}/wireshark-src"
mkdir -p "$cache" "$dest"
tarball=$(ls "$cache"/wireshark_*.orig.tar.* 2>/dev/null | head -n 1 || true)
if [ -z "$tarball" ]; then
  if ! apt-cache showsrc wireshark >/dev/null 2>&1 || [ -z "$(apt-cache showsrc wireshark 2>/dev/null)" ]; then
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    list=/etc/apt/sources.list.d/rpcsift-deb-src.sources
    if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" >"$list"
    fi
    apt-get update -qq
  fi
  (cd "$cache" && apt-get source --download-only -qq wireshark)
  tarball=$(ls "$cache"/wireshark_*.orig.tar.* | head -n 1)
fi
members=()
for f in "${files[@]}"; do
  members+=("*/$f")
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xf "$tarball" -C "$tmp" --wildcards "${members[@]}"
for f in "${files[@]}"; do
  cp "$tmp"/*/"$f" "$dest/"
done
echo "wireshark vectors: $(ls "$dest" | wc -l) files in $dest (from $(basename "$tarball"))"
