#!/usr/bin/env bash
# Fuzz smoke test: build every cargo-fuzz target and run each for a bounded time.
# A crash (or a leak/timeout reported by libFuzzer) fails the script.
#
#   fuzz/smoke.sh [SECONDS_PER_TARGET]     (default 30)
#
# Installs cargo-fuzz when missing. cargo-fuzz needs nightly compiler flags; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them. Seeds come from the project's captures; the
# corpora live under fuzz/corpus/ (git-ignored) so repeated runs keep what they found.
set -euo pipefail
shared=""
if [ -n "${RPCSIFT_SHARED:-}" ] && [ -d "$RPCSIFT_SHARED" ]; then
  shared="$(cd "$RPCSIFT_SHARED" && pwd)"
fi
cd "$(dirname "$0")"
secs="${1:-30}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi
targets=$(cargo fuzz list)
echo "== fuzz targets: $(echo $targets)"
cargo fuzz build --release
for t in $targets; do
  mkdir -p "corpus/$t"
done
# Whole captures seed the targets that take a capture file.
for t in capture end_to_end; do
  [ -d "corpus/$t" ] && cp -n ../captures/*.pcap ../captures/*/*.pcap "corpus/$t/" 2>/dev/null || true
done
# The decryption target starts from the labs' encrypted captures.
if [ -d corpus/decrypt ]; then
  cp -n ../captures/impacket/*privacy*.pcap ../captures/ad-lab/out/*.pcap corpus/decrypt/ 2>/dev/null || true
fi
# Sigma rules seed the rule loader: the published rule when the shared data is there.
if [ -d corpus/sigma_rule ] && [ -n "$shared" ]; then
  cp -n "$shared"/reference/sigma/*.yml corpus/sigma_rule/ 2>/dev/null || true
fi
logs="$(mktemp -d)"
failed=()
for t in $targets; do
  echo "== fuzz $t for ${secs}s"
  if ! cargo fuzz run --release "$t" "corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      >"$logs/$t.log" 2>&1; then
    tail -n 40 "$logs/$t.log"
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|Done [0-9]+ runs' "$logs/$t.log" | tail -n 1 || true
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz smoke FAILED: ${failed[*]} (reproducers under fuzz/artifacts/)"
  exit 1
fi
echo "== fuzz smoke ok"
