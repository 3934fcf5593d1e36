//! Per-stage costs of a run, for the scaling model in benches/RESULTS.md:
//!
//! ```text
//! cargo run --release --example stage_costs -- FILE [WORKERS]
//! ```
//!
//! Prints the time and rate of (1) reading the capture's records only, (2) the reader's
//! whole job without decoders (records, link/IP/TCP headers, defragmentation, partition by
//! host pair), and how the TCP segments would be shared out between WORKERS (default 2)
//! decoders; the decoders' own cost is `rpcsift calls -j 1` minus (2).

use rpcsift::capture::{self, PacketDecoder};
use rpcsift::engine::partition_of;
use rpcsift::stats::Counters;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: stage_costs FILE [WORKERS]");
        std::process::exit(2);
    };
    let workers: u32 = args.next().and_then(|w| w.parse().ok()).unwrap_or(2).max(1);
    let path = std::path::PathBuf::from(path);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64;
    let rate = |secs: f64| bytes / secs / 1e6;

    let mut c = Counters::default();
    let mut n = Vec::new();
    let t = Instant::now();
    let mut frames = 0u64;
    let input = capture::open_capture(&path).expect("open");
    capture::read_frames("x", input, &mut c, &mut n, |_| frames += 1).expect("read");
    let read = t.elapsed().as_secs_f64();
    println!(
        "read records:      {read:.3} s  {:.0} MB/s  ({frames} frames)",
        rate(read)
    );

    let mut c = Counters::default();
    let mut n = Vec::new();
    let mut dc = Counters::default();
    let mut decoder = PacketDecoder::new(false);
    let mut share = vec![0u64; workers as usize];
    let t = Instant::now();
    let input = capture::open_capture(&path).expect("open");
    capture::read_frames("x", input, &mut c, &mut n, |f| {
        decoder.decode(f, &mut dc, &mut |seg| {
            share[partition_of(seg.src, seg.dst, workers) as usize] += 1;
        })
    })
    .expect("read");
    let route = t.elapsed().as_secs_f64();
    println!("reader (route):    {route:.3} s  {:.0} MB/s", rate(route));
    let total: u64 = share.iter().sum();
    let parts: Vec<String> = share
        .iter()
        .map(|s| format!("{:.1}%", *s as f64 * 100.0 / total.max(1) as f64))
        .collect();
    println!("segments per worker ({workers}): {}", parts.join(" "));
}
