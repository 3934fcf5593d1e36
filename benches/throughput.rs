//! End-to-end throughput of `calls` on a DCE-RPC-dense capture built from the project's
//! own captures (concatenated many times with distinct flows and times).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpcsift::engine::{Options, analyze_reader};
use std::hint::black_box;
use std::path::Path;

/// Classic-PCAP records of one file (header skipped).
fn records(path: &Path) -> Vec<(u32, u32, Vec<u8>)> {
    let d = std::fs::read(path).expect("read capture");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let f = |i: usize| {
            u32::from_le_bytes([d[off + i], d[off + i + 1], d[off + i + 2], d[off + i + 3]])
        };
        let (sec, usec, incl) = (f(0), f(4), f(8) as usize);
        out.push((sec, usec, d[off + 16..off + 16 + incl].to_vec()));
        off += 16 + incl;
    }
    out
}

/// Many copies of every project capture, each copy on its own client address.
fn dense_capture(copies: u32) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("captures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    let all: Vec<_> = files.iter().map(|p| records(p)).collect();
    let mut out = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    for k in 0..copies {
        for recs in &all {
            for (sec, usec, pkt) in recs {
                let mut p = pkt.clone();
                // Ethernet + IPv4: shift both addresses' low bytes so each copy is a new flow.
                if p.len() > 34 && p[12..14] == [8, 0] {
                    for base in [26, 30] {
                        p[base + 2] = p[base + 2].wrapping_add((k >> 8) as u8);
                        p[base + 3] = p[base + 3].wrapping_add(k as u8);
                    }
                }
                out.extend_from_slice(&(sec + k * 10).to_le_bytes());
                out.extend_from_slice(&usec.to_le_bytes());
                out.extend_from_slice(&(p.len() as u32).to_le_bytes());
                out.extend_from_slice(&(p.len() as u32).to_le_bytes());
                out.extend_from_slice(&p);
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = dense_capture(200);
    let mut g = c.benchmark_group("calls");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("dense_accurate", |b| {
        b.iter(|| {
            black_box(
                analyze_reader("bench", &data[..], 0, &Options::default())
                    .records
                    .len(),
            )
        })
    });
    let z = Options {
        zeek_compat: true,
        zeek_ignore: true,
        ..Default::default()
    };
    g.bench_function("dense_zeek_compat", |b| {
        b.iter(|| black_box(analyze_reader("bench", &data[..], 0, &z).records.len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
