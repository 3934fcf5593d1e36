//! DCE-RPC layer on the plain-TCP DCE-RPC connections of a dense capture: PDU parsing alone
//! (`parse_pdu` over every PDU), and framing + association state + call matching
//! (`Framer` → `parse_pdu` → `Association::on_pdu` → `finish`), per connection.

mod common;

use common::{Profile, Stream, corpus, streams};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpcsift::capture::Timestamp;
use rpcsift::dcerpc::{Association, Framer, Limits, Recovery, parse_pdu};
use rpcsift::stats::Counters;
use std::hint::black_box;

/// Calls matched over all streams.
fn track(streams: &[Stream]) -> usize {
    let mut counters = Counters::default();
    let mut calls = 0;
    let ts = Timestamp::new(1_704_067_200, 0);
    for s in streams {
        let mut framers = [Framer::new(Recovery::Scan), Framer::new(Recovery::Scan)];
        let mut framing = Counters::default();
        let mut assoc = Association::new(Limits::default());
        for (dir, data) in &s.chunks {
            let d = (*dir).min(1);
            framers[d].feed(data, &mut framing, &mut |raw| {
                if let Ok(p) = parse_pdu(raw) {
                    assoc.on_pdu(d, ts, &p, &mut counters);
                }
            });
        }
        calls += assoc.finish(&mut counters).len();
    }
    calls
}

fn bench(c: &mut Criterion) {
    let ss = streams(&corpus(Profile::Dense, 64 << 20), &[135, 49667, 49670]);
    let bytes: usize = ss.iter().map(Stream::bytes).sum();
    // Every PDU, split out once.
    let mut pdus: Vec<Vec<u8>> = Vec::new();
    for s in &ss {
        let mut framers = [Framer::new(Recovery::Scan), Framer::new(Recovery::Scan)];
        let mut counters = Counters::default();
        for (dir, data) in &s.chunks {
            framers[(*dir).min(1)].feed(data, &mut counters, &mut |raw| pdus.push(raw.to_vec()));
        }
    }
    let mut g = c.benchmark_group("dcerpc");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_pdu/dense_tcp", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for p in &pdus {
                ok += usize::from(parse_pdu(p).is_ok());
            }
            black_box(ok)
        })
    });
    g.bench_function("frame_and_track_calls/dense_tcp", |b| {
        b.iter(|| black_box(track(&ss)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
