//! Smoke test on the real captures in `$RPCSIFT_SHARED` (the project's shared/ folder):
//! every file must read to its end and decode to TCP, through the public capture API
//! (`rpcsift::capture`). Skipped with a message when the variable is unset; when it is
//! set, a missing file is a failure, since the check was asked for and could not be done.

mod common;

use rpcsift::capture::{PacketDecoder, collect_capture_paths, open_capture, read_frames};
use rpcsift::stats::{Counters, Notice};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Packet counts of the Zeek traces as capinfos/tshark 4.0 report them.
const ZEEK_TRACE_PACKETS: &[(&str, u64)] = &[
    ("dce-rpc_20-fids-no-close.pcap", 420),
    ("dce-rpc_20-fids.pcap", 500),
    ("dce-rpc_bind-ack-no-inband-null.pcap", 15),
    ("dce-rpc_dce_rpc_ntlm.pcapng", 6),
    ("dce-rpc_kerberos135_auth.pcapng", 17),
    ("dce-rpc_ntlm-empty-av-sequence.pcap", 5),
    ("dce-rpc_ntlm-unterminated-av-sequence.pcap", 5),
    ("krb_kerberos_tso.pcapng", 314),
    ("krb_smb2_krb.pcap", 100),
    ("modbus_modbus-and-non-modbus-p502.pcap", 86),
    ("smb_SMBGhost.pcap", 9),
    ("smb_fragment-state-exhaustion.pcap", 7),
    ("smb_raw_ntlm_in_smb.pcap", 178),
    ("smb_smb1-OSS-fuzz-54883.pcap", 53),
    ("smb_smb2-multiple-pdus.pcap", 2),
    ("smb_smb2-zero-byte-error-ioctl.pcapng", 180),
    ("smb_smb2.pcap", 1178),
    ("smb_smb3.pcap", 54),
    ("smb_smb311.pcap", 34),
    ("smb_smb_many_open_files_500.pcap.gz", 500),
    ("smb_smb_v2_only_non_zero_reserved1.pcap", 220),
];

/// file name → packets, from MANIFEST.tsv's `file` and `packets` columns.
fn manifest(dir: &Path) -> BTreeMap<String, u64> {
    let table = common::Tsv::read(&dir.join("MANIFEST.tsv"));
    table
        .columns(["file", "packets"])
        .into_iter()
        .map(|[file, packets]| {
            let packets = packets.parse().unwrap_or_else(|e| {
                panic!(
                    "{}: bad packets {packets:?} for {file}: {e}",
                    table.path.display()
                )
            });
            (file.to_string(), packets)
        })
        .collect()
}

struct Outcome {
    counters: Counters,
    frames: u64,
    notices: Vec<Notice>,
}

fn read_and_decode(path: &Path) -> Outcome {
    let label = path.display().to_string();
    let input = open_capture(path).unwrap_or_else(|e| panic!("{label}: {e}"));
    let mut counters = Counters::default();
    let mut decode_counters = Counters::default();
    let mut notices = Vec::new();
    let mut decoder = PacketDecoder::new(false);
    let mut frames = 0u64;
    let mut last_offset = 0u64;
    read_frames(&label, input, &mut counters, &mut notices, |f| {
        frames += 1;
        assert_eq!(f.index, frames, "{label}: frame numbering");
        assert!(f.offset > last_offset, "{label}: offsets must grow");
        last_offset = f.offset;
        decoder.decode(f, &mut decode_counters, &mut |s| {
            assert!(s.payload.len() as u64 <= u64::from(s.wire_payload_len));
        });
    })
    .unwrap_or_else(|e| panic!("{label}: {e}"));
    decoder.finish(&mut decode_counters);
    counters.merge(&decode_counters);
    Outcome {
        counters,
        frames,
        notices,
    }
}

#[test]
fn real_captures_read_and_decode() {
    let Some(shared) = common::shared() else {
        return;
    };
    let real = shared.join("captures/real");
    let zeek = shared.join("conformance/zeek-traces");
    let expected = manifest(&real);
    assert!(!expected.is_empty(), "{}: empty manifest", real.display());

    let mut files: Vec<(PathBuf, Option<u64>)> = Vec::new();
    for (name, packets) in &expected {
        files.push((real.join(name), Some(*packets)));
    }
    for (name, packets) in ZEEK_TRACE_PACKETS {
        files.push((zeek.join(name), Some(*packets)));
    }
    // Anything else the folders hold is read too, without a known count.
    let found = collect_capture_paths(&[real.clone(), zeek.clone()])
        .unwrap_or_else(|e| panic!("RPCSIFT_SHARED is set but: {e}"));
    for p in found {
        if !files.iter().any(|(f, _)| *f == p) {
            files.push((p, None));
        }
    }
    for (path, _) in &files {
        assert!(
            path.is_file(),
            "RPCSIFT_SHARED is set but {} is missing",
            path.display()
        );
    }
    assert!(
        files
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "gz")),
        "no gzip-compressed capture was read"
    );

    for (path, want) in &files {
        let name = path.display();
        let o = read_and_decode(path);
        let c = &o.counters;
        eprintln!(
            "{name}: packets {} tcp {} non_ip {} non_tcp {} malformed l2/ip/tcp {}/{}/{} frags {}/{} unknown lt {:?} notices {}",
            c.packets,
            c.tcp_segments,
            c.non_ip,
            c.non_tcp,
            c.malformed_l2,
            c.malformed_ip,
            c.malformed_tcp,
            c.ip_fragments,
            c.ip_reassembled,
            c.unknown_linktypes,
            o.notices.len()
        );
        if let Some(want) = want {
            assert_eq!(c.packets, *want, "{name}: packet count");
        }
        assert_eq!(o.frames, c.packets, "{name}");
        assert!(c.tcp_segments > 0, "{name}: no TCP segment decoded");
        assert_eq!(c.truncated_records, 0, "{name}: {:?}", o.notices);
        assert_eq!(c.garbage_after_prefix, 0, "{name}: {:?}", o.notices);
        assert_eq!(c.malformed_records, 0, "{name}: {:?}", o.notices);
        assert!(
            c.unknown_linktypes.is_empty(),
            "{name}: {:?}",
            c.unknown_linktypes
        );
    }
}
