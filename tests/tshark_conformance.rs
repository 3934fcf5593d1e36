//! Every DCE-RPC request tshark decodes in the shared captures appears in our accurate
//! output on the same connection (client and server address and port, the client being the
//! side that sent the request), with the same interface UUID and opnum, counted as a
//! multiset; and we report no request that tshark does not. Differences that are tshark's
//! and not ours are listed in [`EXCEPTIONS`], each with its reason, and asserted exactly.
//!
//! Runs under `RPCSIFT_SHARED` on every capture of `conformance/zeek-traces/` and
//! `captures/real/` that has a `*.tshark.tsv` beside it.

mod common;

use rpcsift::capture::{self, PacketDecoder};
use rpcsift::engine::Options;
use rpcsift::stats::Counters;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// (client, client port, server, server port, uuid or "?", opnum)
type Key = (IpAddr, u16, IpAddr, u16, String, u16);

/// Requests tshark reports that we rightly do not (`extra_in_tshark`), and the reverse
/// (`extra_in_ours`), per capture, as (uuid, opnum, count).
struct Exception {
    capture: &'static str,
    why: &'static str,
    extra_in_tshark: &'static [(&'static str, u16, usize)],
    extra_in_ours: &'static [(&'static str, u16, usize)],
}

const EXCEPTIONS: &[Exception] = &[Exception {
    capture: "smb_smb2.pcap",
    why: "the IOCTL response (frame 23) echoes the request's input buffer beside its output \
          (MS-SMB2 2.2.32 lets a server return InputCount > 0); tshark dissects the echoed \
          request PDU as a second NetShareGetInfo call, sent by the server. The pipe's \
          reply is the output buffer, and that is what we read",
    extra_in_tshark: &[("4b324fc8-1670-01d3-1278-5a47bf6ee188", 16, 1)],
    extra_in_ours: &[],
}];

const DIRS: &[&str] = &["conformance/zeek-traces", "captures/real"];

/// The capture a `*.tshark.tsv` describes.
fn capture_for(tsv: &Path) -> PathBuf {
    let name = tsv.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let stem = name.trim_end_matches(".tshark.tsv");
    let dir = tsv.parent().unwrap_or(Path::new("."));
    for ext in ["pcap", "pcapng", "cap", "pcap.gz", "pcapng.gz"] {
        let p = dir.join(format!("{stem}.{ext}"));
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "no capture beside {} (RPCSIFT_SHARED is set)",
        tsv.display()
    );
}

/// Frame number → (src, sport, dst, dport) of the TCP segment it carried.
fn frame_endpoints(path: &Path) -> HashMap<u64, (IpAddr, u16, IpAddr, u16)> {
    let input = capture::open_capture(path).expect("open capture");
    let mut dec = PacketDecoder::new(false);
    let mut c = Counters::default();
    let mut c2 = Counters::default();
    let mut notices = Vec::new();
    let mut map = HashMap::new();
    let _ = capture::read_frames("t", input, &mut c, &mut notices, |f| {
        let mut last = None;
        dec.decode(f, &mut c2, &mut |s| {
            last = Some((s.src, s.sport, s.dst, s.dport));
        });
        if let Some(e) = last {
            map.insert(f.index, e);
        }
    });
    map
}

/// tshark's requests as a multiset.
fn tshark_requests(tsv: &Path, capture: &Path) -> BTreeMap<Key, usize> {
    let table = common::Tsv::read(tsv);
    let frames = frame_endpoints(capture);
    let mut out = BTreeMap::new();
    for [frame, uuid, opnum] in table.columns(["frame", "uuid", "opnum"]) {
        let frame: u64 = frame.parse().expect("frame number");
        let opnum: u16 = opnum.parse().expect("opnum");
        let (src, sport, dst, dport) = *frames
            .get(&frame)
            .unwrap_or_else(|| panic!("{}: frame {frame} has no TCP segment", tsv.display()));
        // No bind seen: tshark leaves the UUID empty (and names the interface "?").
        let uuid = match uuid {
            "" => "?".to_string(),
            u => u.to_lowercase(),
        };
        let key = (src, sport, dst, dport, uuid, opnum);
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

fn our_requests(capture: &Path) -> BTreeMap<Key, usize> {
    let run = common::run(&[capture.to_path_buf()], &Options::default());
    let mut out = BTreeMap::new();
    for r in &run.records {
        let e = r
            .extra
            .as_ref()
            .expect("accurate records have extra fields");
        let uuid = e.uuid.as_deref().unwrap_or("?").to_string();
        let key = (r.orig_h, r.orig_p, r.resp_h, r.resp_p, uuid, e.opnum);
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

/// What `a` has more of than `b`, by (uuid, opnum) and by full key.
fn minus(a: &BTreeMap<Key, usize>, b: &BTreeMap<Key, usize>) -> Vec<(Key, usize)> {
    a.iter()
        .filter_map(|(k, &n)| {
            let m = b.get(k).copied().unwrap_or(0);
            (n > m).then(|| (k.clone(), n - m))
        })
        .collect()
}

/// (uuid, opnum) → count, for comparing with an exception list.
fn by_op(d: &[(Key, usize)]) -> BTreeMap<(String, u16), usize> {
    let mut m = BTreeMap::new();
    for (k, n) in d {
        *m.entry((k.4.clone(), k.5)).or_insert(0) += n;
    }
    m
}

fn expected(list: &[(&str, u16, usize)]) -> BTreeMap<(String, u16), usize> {
    list.iter()
        .map(|&(u, o, n)| ((u.to_string(), o), n))
        .collect()
}

#[test]
fn tshark_requests_found_and_no_others() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut tsvs = Vec::new();
    for d in DIRS {
        let dir = shared.join(d);
        assert!(
            dir.is_dir(),
            "missing {} (RPCSIFT_SHARED is set)",
            dir.display()
        );
        for e in std::fs::read_dir(&dir).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.to_string_lossy().ends_with(".tshark.tsv") {
                tsvs.push(p);
            }
        }
    }
    tsvs.sort();
    assert!(
        tsvs.len() >= 30,
        "expected the shared tsv files, found {}",
        tsvs.len()
    );
    let mut failures = Vec::new();
    let mut used = Vec::new();
    let (mut found_all, mut total_all) = (0usize, 0usize);
    for tsv in &tsvs {
        let cap = capture_for(tsv);
        let name = cap.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let theirs = tshark_requests(tsv, &cap);
        let ours = our_requests(&cap);
        let missing = minus(&theirs, &ours);
        let extra = minus(&ours, &theirs);
        let total: usize = theirs.values().sum();
        let missed: usize = missing.iter().map(|(_, n)| n).sum();
        let extra_n: usize = extra.iter().map(|(_, n)| n).sum();
        found_all += total - missed;
        total_all += total;
        eprintln!(
            "{name}: tshark requests found {}/{total}, ours not in tshark {extra_n}",
            total - missed
        );
        let exc = EXCEPTIONS.iter().find(|e| e.capture == name);
        let (want_missing, want_extra) = match exc {
            Some(e) => {
                used.push(e.capture);
                eprintln!("  exception: {}", e.why);
                (expected(e.extra_in_tshark), expected(e.extra_in_ours))
            }
            None => (BTreeMap::new(), BTreeMap::new()),
        };
        if by_op(&missing) != want_missing {
            failures.push(format!("{name}: tshark requests we miss: {missing:?}"));
        }
        if by_op(&extra) != want_extra {
            failures.push(format!("{name}: our requests tshark has not: {extra:?}"));
        }
    }
    eprintln!("all captures: tshark requests found {found_all}/{total_all}");
    for e in EXCEPTIONS {
        assert!(used.contains(&e.capture), "unused exception {}", e.capture);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
