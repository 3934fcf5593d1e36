//! End to end (`engine::analyze_reader`, accurate mode, records kept in memory) on
//! generated captures of both profiles: mixed enterprise-like traffic (about 5% DCE-RPC)
//! and DCE-RPC-dense traffic.

mod common;

use common::{Profile, corpus};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpcsift::engine::{Options, analyze_reader};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10);
    for (name, profile, size) in [
        ("mixed", Profile::Mixed, 256u64 << 20),
        ("dense", Profile::Dense, 64 << 20),
    ] {
        let data = corpus(profile, size);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    analyze_reader("bench", &data[..], 0, &Options::default())
                        .records
                        .len(),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
