#!/usr/bin/env bash
# Per-stage costs and scaling of one input on several workers (benches/RESULTS.md):
#
#   benches/scaling.sh FILE...
#
# For each FILE, best of ${REPEAT:-3} runs of
#   stage_costs FILE          reading records alone, and the reader's whole job (records,
#                             link/IP/TCP headers, partition by host pair) without decoders
#   rpcsift calls -j 1 / -j 2 / -j N (all cores): one reader, 1, 2 and N decoder workers
# with wall time, MB/s (10^6 bytes/s) and peak RSS. Needs `cargo build --release` and
# `cargo build --release --example stage_costs` first. Run on a quiet machine: a second
# process on the same cores makes wall times meaningless.
set -euo pipefail
bin="${RPCSIFT:-${CARGO_TARGET_DIR:-target}/release/rpcsift}"
stages="${CARGO_TARGET_DIR:-target}/release/examples/stage_costs"
[[ -x "$bin" && -x "$stages" ]] || { echo "build rpcsift and the stage_costs example (release) first" >&2; exit 2; }
cores=$(nproc)
for f in "$@"; do
    bytes=$(stat -c %s "$f")
    echo "== $f ($bytes bytes), load $(cut -d' ' -f1-3 /proc/loadavg)"
    best_read=""; best_route=""
    for ((k = 0; k < ${REPEAT:-3}; k++)); do
        out=$("$stages" "$f" 2)
        r=$(echo "$out" | awk '/^read records/ {print $3}')
        t=$(echo "$out" | awk '/^reader \(route\)/ {print $3}')
        [[ -z "$best_read" ]] || (( $(echo "$r < $best_read" | bc -l) )) && best_read=$r
        [[ -z "$best_route" ]] || (( $(echo "$t < $best_route" | bc -l) )) && best_route=$t
    done
    printf '  read records  %7.3f s  %6.0f MB/s\n' "$best_read" "$(echo "$bytes / $best_read / 1000000" | bc -l)"
    printf '  reader alone  %7.3f s  %6.0f MB/s\n' "$best_route" "$(echo "$bytes / $best_route / 1000000" | bc -l)"
    for j in 1 2 "$cores"; do
        best=""; rss="?"
        for ((k = 0; k < ${REPEAT:-3}; k++)); do
            /usr/bin/time -f '%e %M' -o /tmp/scaling.time "$bin" calls --quiet --format json -j "$j" -o /dev/null "$f"
            read -r s m < /tmp/scaling.time
            if [[ -z "$best" ]] || (( $(echo "$s < $best" | bc -l) )); then best=$s; rss=$((m / 1024)); fi
        done
        printf '  -j %-3s        %7.3f s  %6.0f MB/s  %5s MiB\n' "$j" "$best" "$(echo "$bytes / $best / 1000000" | bc -l)" "$rss"
    done
done
