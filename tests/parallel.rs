//! Parallelism inside one capture (one reader, several decoder workers), rotated captures
//! (`--merge`) and the packet-stream seam (packets from memory, split by partition as a
//! distributed engine would): the output must not depend on how the work was shared out.

mod common;
use common::*;
use rpcsift::engine::Options;
use rpcsift::output::Format;
use std::path::{Path, PathBuf};

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            [".pcap", ".pcapng", ".cap", ".pcap.gz"]
                .iter()
                .any(|e| n.ends_with(e))
        })
        .collect();
    v.sort();
    v
}

/// Records (every format) and counters of one capture, decoded by `shards` workers.
fn decode(path: &Path, base: &Options, shards: usize) -> (String, String, String) {
    let opts = Options {
        workers: shards,
        ..base.clone()
    };
    let run = run(&[path.to_path_buf()], &opts);
    let counters = format!("{:?}", run.counters);
    (
        render(&run, Format::Json),
        render(&run, Format::Zeek),
        counters,
    )
}

fn assert_shard_independent(paths: &[PathBuf]) {
    assert!(!paths.is_empty());
    let mut compared = 0;
    for p in paths {
        for base in [Options::default(), zeek_compat()] {
            let one = decode(p, &base, 1);
            for shards in [2, 3, 7] {
                let many = decode(p, &base, shards);
                assert_eq!(
                    one,
                    many,
                    "{} with {shards} shards (zeek_compat {})",
                    p.display(),
                    base.zeek_compat
                );
                compared += 1;
            }
        }
    }
    eprintln!("{compared} sharded runs equal to the single pass");
}

#[test]
fn own_captures_decode_the_same_in_any_number_of_shards() {
    let mut paths = captures_in(&project("captures"));
    paths.extend(captures_in(&project("captures/impacket")));
    assert!(paths.len() >= 29, "{}", paths.len());
    assert_shard_independent(&paths);
}

#[test]
fn shared_captures_decode_the_same_in_any_number_of_shards() {
    let Some(base) = shared() else { return };
    let mut paths = captures_in(&base.join("captures/real"));
    paths.extend(captures_in(&base.join("conformance/zeek-traces")));
    paths.extend(captures_in(&base.join("conformance/zeek")));
    assert!(paths.len() >= 36, "{}", paths.len());
    assert_shard_independent(&paths);
}

/// Split a classic little-endian PCAP after `keep` records into two files.
fn split_pcap(src: &Path, keep: usize, dir: &Path) -> (PathBuf, PathBuf) {
    let b = std::fs::read(src).expect("read");
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "classic LE pcap expected"
    );
    let mut off = 24;
    let mut n = 0;
    while n < keep {
        let len = u32::from_le_bytes([b[off + 8], b[off + 9], b[off + 10], b[off + 11]]);
        off += 16 + len as usize;
        n += 1;
    }
    let (a, z) = (dir.join("rot.pcap0"), dir.join("rot.pcap1"));
    std::fs::write(&a, &b[..off]).expect("write");
    let mut second = b[..24].to_vec();
    second.extend_from_slice(&b[off..]);
    std::fs::write(&z, second).expect("write");
    (a, z)
}

fn records_without_file_identity(out: &rpcsift::engine::RunOutput) -> Vec<String> {
    render(out, Format::Json)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("record json");
            if let Some(o) = v.as_object_mut() {
                o.remove("uid");
                o.remove("capture");
            }
            v.to_string()
        })
        .collect()
}

#[test]
fn merge_decodes_a_call_split_between_rotated_files() {
    // multifrag.pcap carries CreateServiceW in three fragments; cut the file between them.
    let src = project("captures/multifrag.pcap");
    let dir = std::env::temp_dir().join(format!("rpcsift-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let whole = run(std::slice::from_ref(&src), &Options::default());
    let ops: Vec<_> = whole
        .records
        .iter()
        .map(|r| r.operation.as_deref().unwrap_or_default().to_string())
        .collect();
    assert!(ops.contains(&"CreateServiceW".to_string()), "{ops:?}");
    let create = whole
        .records
        .iter()
        .find(|r| r.operation.as_deref() == Some("CreateServiceW"))
        .expect("create");
    assert_eq!(create.extra.as_ref().map(|x| x.request_fragments), Some(3));
    // Records 0..=20 hold the first fragments; the last one is in record 21.
    let (a, z) = split_pcap(&src, 21, &dir);
    let merged = run(
        &[a.clone(), z.clone()],
        &Options {
            merge: true,
            ..Options::default()
        },
    );
    assert_eq!(
        records_without_file_identity(&merged),
        records_without_file_identity(&whole)
    );
    assert_eq!(merged.counters.files, 2);
    assert_eq!(merged.counters.packets, whole.counters.packets);
    // Without --merge each half is a capture of its own: the split call is not whole.
    let apart = run(&[a, z], &Options::default());
    let whole_create = apart.records.iter().any(|r| {
        r.operation.as_deref() == Some("CreateServiceW")
            && r.extra
                .as_ref()
                .is_some_and(|x| x.request_fragments == 3 && x.status == "ok")
    });
    assert!(
        !whole_create,
        "the split call must not be whole without --merge"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Output written through spilled runs (a few records in memory at a time) equals the
/// in-memory output, in every format, for any number of shards.
#[test]
fn spilled_runs_merge_to_the_same_output() {
    use rpcsift::output::Writer;
    use rpcsift::output::spill::{SpillConfig, merge};
    let dir = std::env::temp_dir().join(format!("rpcsift-spill-test-{}", std::process::id()));
    let mut paths = captures_in(&project("captures"));
    paths.extend(captures_in(&project("captures/impacket")));
    let mut spilled_runs = 0;
    for p in &paths {
        for (base, format) in [
            (Options::default(), Format::Json),
            (Options::default(), Format::Zeek),
            (zeek_compat(), Format::Zeek),
        ] {
            let want = render(&run(std::slice::from_ref(p), &base), format);
            for shards in [1, 3] {
                let opts = Options {
                    workers: shards,
                    spill: Some(SpillConfig {
                        format,
                        dir: dir.clone(),
                        max_records: 2,
                    }),
                    ..base.clone()
                };
                let mut out = run(std::slice::from_ref(p), &opts);
                let runs = std::mem::take(&mut out.runs);
                spilled_runs += runs.iter().filter(|r| r.path().is_some()).count();
                let mut w = Writer::new(Vec::new(), format, "2000-01-01-00-00-00".into());
                let n = merge(runs, &out.records, &mut w).expect("merge");
                let got = String::from_utf8(w.finish().expect("finish")).expect("utf8");
                assert_eq!(got, want, "{} shards {shards}", p.display());
                assert_eq!(
                    n as usize,
                    want.lines().filter(|l| !l.starts_with('#')).count()
                );
            }
        }
    }
    assert!(
        spilled_runs > 100,
        "{spilled_runs} runs: the test must really spill"
    );
    // Every run file was removed after its merge.
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0);
    let _ = std::fs::remove_dir(&dir);
}

/// A record filter keeps exactly the records it accepts, in the same order, counts the
/// others, and does not depend on the shard count.
#[test]
fn record_filter_keeps_accepted_records_and_counts_the_rest() {
    use rpcsift::engine::RecordFilter;
    use std::sync::Arc;
    let path = project("captures/impacket/psexec_smb2.pcap");
    let all = run(std::slice::from_ref(&path), &Options::default());
    let wanted: Vec<String> = all
        .records
        .iter()
        .filter(|r| r.operation.as_deref() == Some("CreateServiceW"))
        .map(|r| format!("{r:?}"))
        .collect();
    assert_eq!(wanted.len(), 1, "psexec makes one CreateServiceW");
    for shards in [1, 3] {
        let opts = Options {
            workers: shards,
            keep: Some(RecordFilter(Arc::new(|r| {
                r.operation.as_deref() == Some("CreateServiceW")
            }))),
            ..Options::default()
        };
        let kept = run(std::slice::from_ref(&path), &opts);
        let got: Vec<String> = kept.records.iter().map(|r| format!("{r:?}")).collect();
        assert_eq!(got, wanted, "shards {shards}");
        assert_eq!(
            kept.counters.records_filtered,
            all.records.len() as u64 - 1,
            "shards {shards}"
        );
    }
}

/// Every frame of a capture, as a memory source would hold it.
fn packets_of(path: &Path) -> Vec<rpcsift::engine::Packet> {
    let mut c = rpcsift::stats::Counters::default();
    let mut n = Vec::new();
    let mut out = Vec::new();
    let input = rpcsift::capture::open_capture(path).expect("open capture");
    rpcsift::capture::read_frames("mem", input, &mut c, &mut n, |f| {
        out.push(rpcsift::engine::Packet {
            ordinal: f.index,
            ts: f.ts,
            linktype: f.linktype,
            data: f.data.to_vec(),
        })
    })
    .expect("read capture");
    out
}

fn records_json(records: Vec<rpcsift::output::Record>) -> String {
    let mut run = rpcsift::engine::RunOutput {
        records,
        ..Default::default()
    };
    rpcsift::engine::sort_records(&mut run.records);
    render(&run, Format::Json)
}

/// The packet-stream seam: the same packets from memory decode to the same records as the
/// file, on any number of workers; and split by partition (each partition decoded alone,
/// as a distributed engine's tasks would after a shuffle by `frame_partition`), the union
/// of the partitions' records is the same again, uids included.
#[test]
fn packets_from_memory_and_by_partition_decode_the_same() {
    use rpcsift::engine::{MemoryPackets, analyze_path, analyze_source, frame_partition};
    let mut paths = captures_in(&project("captures"));
    paths.extend(captures_in(&project("captures/impacket")));
    for p in &paths {
        for base in [Options::default(), zeek_compat()] {
            let label = p.display().to_string();
            let want = records_json(analyze_path(p, 0, &base).records);
            let packets = packets_of(p);
            for workers in [1, 3] {
                let mut src = MemoryPackets {
                    packets: packets.clone(),
                };
                let got = analyze_source(&mut src, &label, 0, &base, workers);
                assert_eq!(records_json(got.records), want, "{label} workers {workers}");
            }
            let parts = 3;
            let mut records = Vec::new();
            for k in 0..parts {
                let mine: Vec<_> = packets
                    .iter()
                    .filter(|x| frame_partition(x.linktype, &x.data, parts) == Some(k))
                    .cloned()
                    .collect();
                let mut src = MemoryPackets { packets: mine };
                records.extend(analyze_source(&mut src, &label, 0, &base, 1).records);
            }
            assert_eq!(records_json(records), want, "{label} by partition");
        }
    }
}

/// Calls leave as they finish: a call becomes a record as soon as it is answered (and no
/// earlier request of its association still waits), not when its connection closes. Fed
/// packet by packet through the packet-stream seam, psexec_tcp's seven svcctl calls on
/// port 49670 have all been handed to the record sink before that connection's FIN.
#[test]
fn calls_leave_before_their_connection_closes() {
    use rpcsift::engine::{PacketSource, RecordFilter, analyze_source};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Replays packets and notes how many records were made before each packet.
    struct Spy {
        packets: Vec<rpcsift::engine::Packet>,
        seen: Arc<AtomicUsize>,
        before: Vec<usize>,
    }
    impl PacketSource for Spy {
        fn frames(
            &mut self,
            counters: &mut rpcsift::stats::Counters,
            notices: &mut Vec<rpcsift::stats::Notice>,
            sink: &mut dyn FnMut(&rpcsift::capture::Frame<'_>),
        ) {
            for p in std::mem::take(&mut self.packets) {
                self.before.push(self.seen.load(Ordering::SeqCst));
                let mut one = rpcsift::engine::MemoryPackets { packets: vec![p] };
                one.frames(counters, notices, sink);
            }
        }
    }
    let path = project("captures/impacket/psexec_tcp.pcap");
    let seen = Arc::new(AtomicUsize::new(0));
    let spy_count = Arc::clone(&seen);
    let opts = Options {
        keep: Some(RecordFilter(Arc::new(move |_| {
            spy_count.fetch_add(1, Ordering::SeqCst);
            true
        }))),
        ..Options::default()
    };
    let mut spy = Spy {
        packets: packets_of(&path),
        seen: Arc::clone(&seen),
        before: Vec::new(),
    };
    let out = analyze_source(&mut spy, "spy", 0, &opts, 1);
    assert_eq!(out.records.len(), 8);
    // Frame 34 is the client's FIN on the 49670 connection: by then the ept_map call (its
    // own connection, closed earlier) and all seven svcctl calls are records.
    assert_eq!(
        spy.before[33], 8,
        "records made before the FIN: {:?}",
        spy.before
    );
}
