//! The benchmark corpus generator (`examples/gen_corpus.rs`) states how many DCE-RPC calls
//! it wrote, by transport; rpcsift must decode exactly those on a small generated file of
//! each profile. Also: the generator is deterministic for a seed and hits its size.

#[allow(dead_code)]
#[path = "../examples/gen_corpus.rs"]
mod gen_corpus;

use gen_corpus::{Config, Profile, generate};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rpcsift-gen-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d.join(name)
}

/// Transport of every record rpcsift writes for `pcap` (JSON lines), counted.
fn decoded(pcap: &PathBuf) -> (BTreeMap<String, u64>, usize) {
    let out = pcap.with_extension("json");
    let st = Command::new(env!("CARGO_BIN_EXE_rpcsift"))
        .args(["calls", "--format", "json", "-q", "-o"])
        .arg(&out)
        .arg(pcap)
        .status()
        .expect("run rpcsift");
    assert!(st.success(), "rpcsift failed on {}", pcap.display());
    let text = std::fs::read_to_string(&out).expect("read output");
    let mut by = BTreeMap::new();
    let mut answered = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let t = v["transport"].as_str().expect("transport").to_string();
        *by.entry(t).or_default() += 1;
        if v["ts_response"].is_number() && v["partial"] == false {
            answered += 1;
        }
    }
    (by, answered)
}

fn check(profile: Profile, name: &str, flows: usize) -> gen_corpus::Summary {
    let out = scratch(name);
    let cfg = Config {
        profile,
        size: 5 << 20,
        seed: 11,
        flows,
        out: out.clone(),
    };
    let s = generate(&cfg).expect("generate");
    let len = std::fs::metadata(&out).expect("pcap written").len();
    assert_eq!(len, s.bytes);
    assert!(
        (5 << 20..6 << 20).contains(&len),
        "{name}: {len} bytes for a 5 MiB target"
    );
    let (by, answered) = decoded(&out);
    let want: BTreeMap<String, u64> = s.calls.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(by, want, "{name}: calls by transport");
    assert_eq!(
        answered as u64,
        s.total_calls(),
        "{name}: every call answered"
    );
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(out.with_extension("json"));
    s
}

#[test]
fn mixed_profile_call_counts_match_rpcsift() {
    let s = check(Profile::Mixed, "mixed.pcap", 50);
    assert!(s.calls.get("tcp").copied().unwrap_or(0) > 0);
    assert!(s.calls.keys().any(|t| t.starts_with("smb")));
    assert!(s.kind_bytes.get("smb_file").copied().unwrap_or(0) > 0);
}

#[test]
fn mixed_profile_is_about_five_percent_dcerpc() {
    // Past the ramp-up (a 5 MB file is mostly flow starts), DCE-RPC flows carry about 5%
    // of the bytes and file transfers and web traffic the rest.
    let out = scratch("mixed-share.pcap");
    let cfg = Config {
        profile: Profile::Mixed,
        size: 64 << 20,
        seed: 11,
        flows: 200,
        out: out.clone(),
    };
    let s = generate(&cfg).expect("generate");
    let _ = std::fs::remove_file(&out);
    let share = s.rpc_bytes as f64 / s.bytes as f64;
    assert!((0.03..0.07).contains(&share), "DCE-RPC byte share {share}");
    for k in [
        "http",
        "tls",
        "short",
        "smb_file",
        "dcerpc_smb",
        "dcerpc_tcp",
    ] {
        assert!(
            s.kind_bytes.get(k).copied().unwrap_or(0) > 0,
            "no {k} flows"
        );
    }
}

#[test]
fn dense_profile_call_counts_match_rpcsift() {
    let s = check(Profile::Dense, "dense.pcap", 300);
    assert_eq!(s.rpc_bytes, s.bytes - 24, "every flow is DCE-RPC");
    let per_mb = s.total_calls() as f64 / (s.bytes as f64 / 1e6);
    assert!(per_mb >= 200.0, "{per_mb} calls per MB");
    for t in ["tcp", "smb2", "smb3"] {
        assert!(s.calls.get(t).copied().unwrap_or(0) > 0, "no {t} calls");
    }
}

#[test]
fn same_seed_same_bytes() {
    let run = |seed: u64, name: &str| {
        let out = scratch(name);
        let cfg = Config {
            profile: Profile::Mixed,
            size: 1 << 20,
            seed,
            flows: 50,
            out: out.clone(),
        };
        generate(&cfg).expect("generate");
        let b = std::fs::read(&out).expect("read");
        let _ = std::fs::remove_file(&out);
        b
    };
    let a = run(5, "a.pcap");
    assert_eq!(a, run(5, "b.pcap"));
    assert_ne!(a, run(6, "c.pcap"));
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The corpus is pinned byte for byte: the benchmark figures (benches/RESULTS.md) were
/// measured on it, so a change to the generator or to the wire builders it shares with
/// `make_captures` (`examples/common/`) that changes its bytes must be deliberate. The
/// digests were taken from the generator before the builders were shared.
#[test]
fn output_is_pinned() {
    for (profile, name, len, digest) in [
        (
            Profile::Mixed,
            "pin-mixed.pcap",
            1_332_051,
            0x003e_2c91_9739_bad0,
        ),
        (
            Profile::Dense,
            "pin-dense.pcap",
            1_088_156,
            0x3193_9b6d_b4c4_6203,
        ),
    ] {
        let out = scratch(name);
        let cfg = Config {
            profile,
            size: 1 << 20,
            seed: 5,
            flows: 50,
            out: out.clone(),
        };
        generate(&cfg).expect("generate");
        let b = std::fs::read(&out).expect("read");
        let _ = std::fs::remove_file(&out);
        assert_eq!((b.len(), fnv1a(&b)), (len, digest), "{name}");
    }
}
