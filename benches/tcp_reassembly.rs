//! Flow table and TCP reassembly (`flow::FlowTable`) fed with decoded segments: every
//! connection reassembled in full (`keep_all`), or dropped after its first payload
//! (`ignore_after_first`, the cost of the cheap "not interesting" decision). Frames are
//! indexed beforehand; decoding to TCP is included (see `pcap` for its own cost).

mod common;

use common::{Profile, corpus, frame, frames};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpcsift::capture::PacketDecoder;
use rpcsift::flow::table::{ConnMeta, FlowApp};
use rpcsift::flow::{FlowEvent, FlowLimits, FlowTable};
use rpcsift::stats::Counters;
use std::hint::black_box;

struct Count {
    keep: bool,
    bytes: usize,
}

impl FlowApp for Count {
    fn event(&mut self, _meta: &ConnMeta, ev: FlowEvent<'_>) -> bool {
        if let FlowEvent::Data { data, .. } = ev {
            self.bytes += data.len();
            return self.keep;
        }
        true
    }
}

fn run(
    data: &[u8],
    index: &[(rpcsift::capture::Timestamp, std::ops::Range<usize>)],
    keep: bool,
) -> usize {
    let mut table = FlowTable::new(
        FlowLimits::default(),
        |p| matches!(p, 135 | 445),
        |_m: &ConnMeta| Count { keep, bytes: 0 },
    );
    let mut dec = PacketDecoder::new(false);
    let (mut c1, mut c2) = (Counters::default(), Counters::default());
    for (i, f) in index.iter().enumerate() {
        dec.decode(&frame(data, i, f), &mut c1, &mut |s| {
            table.process(s, &mut c2)
        });
    }
    table.finish_all(&mut c2);
    black_box((&c1, &c2));
    table.len()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.sample_size(10);
    for (name, profile, size) in [
        ("mixed", Profile::Mixed, 256u64 << 20),
        ("dense", Profile::Dense, 64 << 20),
    ] {
        let data = corpus(profile, size);
        let index = frames(&data);
        g.throughput(Throughput::Bytes(data.len() as u64));
        for keep in [true, false] {
            let label = if keep {
                "keep_all"
            } else {
                "ignore_after_first"
            };
            g.bench_function(format!("{label}/{name}"), |b| {
                b.iter(|| black_box(run(&data, &index, keep)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
