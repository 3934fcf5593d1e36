//! Inputs shared by the benchmarks: captures made by the corpus generator
//! (`examples/gen_corpus.rs`, deterministic for a seed), their frames, decoded segments and
//! the reassembled byte streams of their DCE-RPC and SMB connections.
#![allow(dead_code)]

#[allow(dead_code)]
#[path = "../../examples/gen_corpus.rs"]
mod gen_corpus;

use rpcsift::capture::{Frame, Timestamp};
use rpcsift::flow::table::ConnMeta;
use rpcsift::flow::{FlowEvent, FlowLimits};
use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

pub(crate) use gen_corpus::Profile;

/// A generated capture of about `size` bytes, in memory (seed 1, the profile's default
/// number of concurrent flows).
pub(crate) fn corpus(profile: Profile, size: u64) -> Vec<u8> {
    let name = match profile {
        Profile::Mixed => "mixed",
        Profile::Dense => "dense",
    };
    let out = std::env::temp_dir().join(format!(
        "rpcsift-bench-{name}-{size}-{}.pcap",
        std::process::id()
    ));
    let cfg = gen_corpus::Config {
        profile,
        size,
        seed: 1,
        flows: if profile == Profile::Mixed {
            2000
        } else {
            1000
        },
        out: out.clone(),
    };
    gen_corpus::generate(&cfg).expect("generate corpus");
    let data = std::fs::read(&out).expect("read corpus");
    let _ = std::fs::remove_file(&out);
    data
}

/// Timestamp and byte range of every record of a classic little-endian PCAP.
pub fn frames(pcap: &[u8]) -> Vec<(Timestamp, Range<usize>)> {
    let mut out = Vec::new();
    let mut off = 24;
    let u32_at = |i: usize| u32::from_le_bytes([pcap[i], pcap[i + 1], pcap[i + 2], pcap[i + 3]]);
    while off + 16 <= pcap.len() {
        let (sec, usec, incl) = (u32_at(off), u32_at(off + 4), u32_at(off + 8) as usize);
        out.push((
            Timestamp::new(i64::from(sec), usec * 1000),
            off + 16..off + 16 + incl,
        ));
        off += 16 + incl;
    }
    out
}

/// Borrow frame `i` of `pcap`.
pub fn frame<'a>(pcap: &'a [u8], i: usize, f: &(Timestamp, Range<usize>)) -> Frame<'a> {
    let data = &pcap[f.1.clone()];
    Frame {
        ts: f.0,
        linktype: 1,
        data,
        orig_len: data.len() as u32,
        offset: f.1.start as u64 - 16,
        index: i as u64 + 1,
        chunk: None,
    }
}

/// One reassembled TCP connection: server port and its data chunks in arrival order.
pub struct Stream {
    pub server_port: u16,
    pub chunks: Vec<(usize, Vec<u8>)>,
}

impl Stream {
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.1.len()).sum()
    }
}

struct Recorder {
    port: u16,
    chunks: Vec<(usize, Vec<u8>)>,
    done: Rc<RefCell<Vec<Stream>>>,
}

impl rpcsift::flow::table::FlowApp for Recorder {
    fn event(&mut self, _meta: &ConnMeta, ev: FlowEvent<'_>) -> bool {
        match ev {
            FlowEvent::Data { dir, data, .. } => self.chunks.push((dir, data.to_vec())),
            FlowEvent::Gap { .. } => {}
            FlowEvent::Close { .. } => self.done.borrow_mut().push(Stream {
                server_port: self.port,
                chunks: std::mem::take(&mut self.chunks),
            }),
        }
        true
    }
}

/// Every connection of `pcap` whose server port is in `ports`, reassembled (through the
/// engine's packet-stream seam).
pub fn streams(pcap: &[u8], ports: &[u16]) -> Vec<Stream> {
    let done = Rc::new(RefCell::new(Vec::new()));
    let d2 = done.clone();
    let mut source = rpcsift::engine::source::CaptureReader {
        label: "bench".into(),
        input: Some(pcap),
    };
    rpcsift::engine::source::reassemble(
        &mut source,
        FlowLimits::default(),
        |p| matches!(p, 135 | 445),
        move |m: &ConnMeta| Recorder {
            port: m.resp.1,
            chunks: Vec::new(),
            done: d2.clone(),
        },
    );
    let all = Rc::try_unwrap(done)
        .map(RefCell::into_inner)
        .unwrap_or_default();
    all.into_iter()
        .filter(|s| ports.contains(&s.server_port))
        .collect()
}
