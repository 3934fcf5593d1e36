#!/usr/bin/env bash
# rpcsift vs tshark on the same capture(s), side by side, file warmed in the page cache.
#
#   benches/compare.sh [--no-tshark] [--tshark-slice BYTES] FILE...
#
# For each FILE prints wall time, MB/s (10^6 bytes per second) and peak RSS of
#   rpcsift calls --format json -j 1   -o /dev/null FILE     (one thread)
#   rpcsift calls --format json -j N   -o /dev/null FILE     (N = all cores)
#   tshark -r FILE -Y dcerpc.pkt_type==0 -T fields -e dcerpc.opnum > /dev/null
# and the one-thread ratio rpcsift/tshark. tshark runs with its defaults (TCP
# desegmentation on). With --tshark-slice BYTES tshark reads only the first BYTES of the
# file (whole packets, cut with editcap/head) and its rate is measured on that slice; the
# ratio then compares rates, and the output says so.
#
# REPEAT=N (default 1) runs every command N times and keeps the shortest time (for a
# machine with other load). Load average is printed with each file.
#
# rpcsift is ${RPCSIFT:-${CARGO_TARGET_DIR:-target}/release/rpcsift} (build it with
# `cargo build --release` first). Peak RSS comes from /usr/bin/time -v when present, else
# from rpcsift's own summary line "peak memory (RSS, MiB)".
set -euo pipefail

tshark_on=1
slice=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-tshark) tshark_on=0; shift ;;
        --tshark-slice) slice="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
[[ $# -gt 0 ]] || { echo "usage: $0 [--no-tshark] [--tshark-slice BYTES] FILE..." >&2; exit 2; }

bin="${RPCSIFT:-${CARGO_TARGET_DIR:-target}/release/rpcsift}"
[[ -x "$bin" ]] || { echo "no rpcsift binary at $bin (cargo build --release)" >&2; exit 2; }
cores=$(nproc)
have_time=0
[[ -x /usr/bin/time ]] && have_time=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run LABEL BYTES CMD... : best (shortest) of $REPEAT runs; prints "label  seconds  MB/s
# RSS" and sets $secs.
run() {
    local label="$1" bytes="$2"
    shift 2
    local t0 t1 s rss="?" best=""
    for ((k = 0; k < ${REPEAT:-1}; k++)); do
        t0=$(date +%s.%N)
        if [[ $have_time == 1 ]]; then
            /usr/bin/time -v -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
        else
            "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
        fi
        t1=$(date +%s.%N)
        s=$(echo "$t1 - $t0" | bc -l)
        if [[ -z "$best" ]] || (( $(echo "$s < $best" | bc -l) )); then best=$s; fi
    done
    secs=$best
    if [[ $have_time == 1 ]]; then
        rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$tmp/time")
    else
        rss=$(awk '/peak memory \(RSS, MiB\)/ {print $1 " MiB"}' "$tmp/err")
    fi
    printf '  %-28s %8.2f s %10.1f MB/s   peak RSS %s\n' "$label" "$secs" \
        "$(echo "$bytes / $secs / 1000000" | bc -l)" "$rss"
}

for f in "$@"; do
    size=$(stat -c %s "$f")
    # Warm the page cache (twice: the second read shows it fits).
    cat "$f" >/dev/null
    cat "$f" >/dev/null
    echo "== $f ($(echo "$size / 1000000" | bc) MB, $cores cores, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), best of ${REPEAT:-1})"
    run "rpcsift -j 1" "$size" "$bin" calls --format json -j 1 -o /dev/null "$f"
    r1=$secs
    run "rpcsift -j $cores" "$size" "$bin" calls --format json -j "$cores" -o /dev/null "$f"
    rn=$secs
    printf '  scaling -j %s / -j 1: %.2fx (target >= %.1fx)\n' "$cores" \
        "$(echo "$r1 / $rn" | bc -l)" "$(echo "0.9 * $cores" | bc -l)"
    if [[ $tshark_on == 1 ]]; then
        tf="$f"
        tbytes=$size
        if [[ "$slice" != 0 && "$slice" -lt "$size" ]]; then
            # Whole packets up to about $slice bytes: count packets in the head, then cut.
            tf="$tmp/slice.pcap"
            head -c "$slice" "$f" >"$tmp/head.pcap"
            # capinfos exits 1 on the cut last record; the count before it is what we want.
            n=$( (capinfos -c -M "$tmp/head.pcap" 2>/dev/null || true) | awk '/Number of packets/ {print $NF}')
            editcap -r "$f" "$tf" "1-$n" 2>/dev/null
            rm -f "$tmp/head.pcap"
            tbytes=$(stat -c %s "$tf")
            cat "$tf" >/dev/null
            echo "  (tshark on the first $(echo "$tbytes / 1000000" | bc) MB: $n packets)"
        fi
        run "tshark (1 thread)" "$tbytes" tshark -r "$tf" -Y 'dcerpc.pkt_type==0' -T fields -e dcerpc.opnum
        ts=$secs
        printf '  ratio rpcsift -j 1 / tshark (MB/s): %.1fx (target >= 50x)\n' \
            "$(echo "($size / $r1) / ($tbytes / $ts)" | bc -l)"
    fi
done
