//! SMB2 layer: `smb::SmbConn` fed with the reassembled streams of the SMB connections of a
//! DCE-RPC-dense capture (logon, tree connect, pipe CREATE/WRITE/READ/IOCTL/CLOSE), chunk
//! by chunk as the flow table delivered them; and of the mixed profile's SMB connections
//! (mostly file READ/WRITE of large payloads, which the layer must skip cheaply).

mod common;

use common::{Profile, Stream, corpus, streams};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpcsift::smb::{PipeEvent, SmbConn, SmbCounters};
use std::hint::black_box;

fn feed_all(streams: &[Stream]) -> usize {
    let mut pipe_bytes = 0usize;
    let mut counters = SmbCounters::default();
    for s in streams {
        let mut conn = SmbConn::new();
        for (dir, data) in &s.chunks {
            conn.feed(*dir, data, &mut counters, &mut |ev| {
                if let PipeEvent::Data { data, .. } = ev {
                    pipe_bytes += data.len();
                }
            });
        }
    }
    black_box(&counters);
    pipe_bytes
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("smb2");
    g.sample_size(10);
    for (name, profile, size) in [
        ("dense_pipes", Profile::Dense, 64u64 << 20),
        ("mixed", Profile::Mixed, 256 << 20),
    ] {
        let ss = streams(&corpus(profile, size), &[445]);
        let bytes: usize = ss.iter().map(Stream::bytes).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(format!("conn_feed/{name}"), |b| {
            b.iter(|| black_box(feed_all(&ss)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
