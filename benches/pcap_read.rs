//! PCAP layer: reading records (`capture::read_frames` over an in-memory file) and decoding
//! frames down to TCP segments (`PacketDecoder`), on the mixed profile.

mod common;

use common::{Profile, corpus, frame, frames};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpcsift::capture::{PacketDecoder, read_frames};
use rpcsift::stats::Counters;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let data = corpus(Profile::Mixed, 256 << 20);
    let index = frames(&data);
    let mut g = c.benchmark_group("pcap");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("read_frames/mixed", |b| {
        b.iter(|| {
            let mut counters = Counters::default();
            let mut notices = Vec::new();
            let mut n = 0usize;
            read_frames("bench", &data[..], &mut counters, &mut notices, |f| {
                n += f.data.len()
            })
            .expect("readable");
            black_box(n)
        })
    });
    g.bench_function("decode_to_tcp/mixed", |b| {
        b.iter(|| {
            let mut dec = PacketDecoder::new(false);
            let mut counters = Counters::default();
            let mut n = 0usize;
            for (i, f) in index.iter().enumerate() {
                dec.decode(&frame(&data, i, f), &mut counters, &mut |s| {
                    n += s.payload.len()
                });
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
