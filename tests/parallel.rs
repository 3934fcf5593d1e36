//! Parallelism inside one capture (shards) and rotated captures (`--merge`): the output
//! must not depend on how the work was shared out.

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

/// Records (every format) and counters of one capture, decoded with `shards` passes.
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
