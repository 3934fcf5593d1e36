//! The attack lab's ground truth (`captures/impacket/<name>.truth.tsv`) checked
//! against tshark's dissection of each capture: every truth row must be a
//! DCE-RPC request that tshark decodes (last fragment of a request PDU), with the
//! same interface UUID (from the bind on that connection and context), opnum,
//! transport (SMB1, SMB2 or plain TCP) and pipe or server port, in the same order,
//! and tshark must see no other request.
//!
//! tshark is installed by `.ci/run`. Without it the test fails when
//! `RPCSIFT_SHARED` is set (CI) and is skipped with a message otherwise. With
//! `RPCSIFT_SHARED` set, the Zeek names and execution flags in the truth files are
//! also checked against the shared reference tables.

mod common;
use common::lab::{Request, lab_captures, lab_truth, zeek_names};
use common::*;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The lab's DCE-RPC server ports besides 135: decoded as DCE-RPC explicitly so
/// the check does not hang on tshark's heuristics.
const RPC_PORTS: [u16; 3] = [49670, 49671, 49672];

/// tshark's fields for the frames matching `filter` (see [`tshark::fields`]).
fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<Vec<String>>> {
    tshark::fields(pcap, &[], &RPC_PORTS, filter, fields)
}

fn transport_of(protocols: &str) -> &'static str {
    let layers: Vec<&str> = protocols.split(':').collect();
    if layers.contains(&"smb2") {
        "smb2"
    } else if layers.contains(&"smb") {
        "smb1"
    } else {
        "tcp"
    }
}

fn parse_flags(s: &str) -> u8 {
    let hex = s.trim_start_matches("0x");
    u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("flags {s:?}"))
}

/// The requests tshark decodes in `pcap`, in capture order, one per call (the
/// PDU carrying the last fragment).
fn tshark_requests(pcap: &Path) -> Vec<Request> {
    // (tcp stream, context id) -> interface UUID, from every bind / alter_context.
    let mut ifaces: HashMap<(String, String), String> = HashMap::new();
    for frame in tshark_fields(
        pcap,
        "dcerpc.pkt_type == 11 || dcerpc.pkt_type == 14",
        &["tcp.stream", "dcerpc.cn_ctx_id", "dcerpc.cn_bind_to_uuid"],
    ) {
        let stream = &frame[0][0];
        assert_eq!(frame[1].len(), frame[2].len(), "bind context items");
        for (ctx, uuid) in frame[1].iter().zip(&frame[2]) {
            let prev = ifaces.insert((stream.clone(), ctx.clone()), uuid.to_lowercase());
            assert!(
                prev.is_none_or(|p| p == uuid.to_lowercase()),
                "{}: context {ctx} rebound on stream {stream}",
                pcap.display()
            );
        }
    }
    // tcp stream -> bind_ack secondary address (\PIPE\name on SMB).
    let mut sec_addr: HashMap<String, String> = HashMap::new();
    for frame in tshark_fields(
        pcap,
        "dcerpc.pkt_type == 12",
        &["tcp.stream", "dcerpc.cn_sec_addr"],
    ) {
        if let Some(addr) = frame[1].first() {
            sec_addr.insert(frame[0][0].clone(), addr.clone());
        }
    }
    let mut out = Vec::new();
    for frame in tshark_fields(
        pcap,
        "dcerpc.pkt_type == 0",
        &[
            "tcp.stream",
            "tcp.dstport",
            "frame.protocols",
            "dcerpc.pkt_type",
            "dcerpc.cn_ctx_id",
            "dcerpc.opnum",
            "dcerpc.cn_flags",
        ],
    ) {
        let stream = &frame[0][0];
        let transport = transport_of(&frame[2][0]);
        let types = &frame[3];
        assert!(
            types.iter().all(|t| t == "0"),
            "{}: request frame mixes PDU types {types:?}",
            pcap.display()
        );
        assert!(
            frame[4].len() == types.len()
                && frame[5].len() == types.len()
                && frame[6].len() == types.len(),
            "{}: unaligned request fields {frame:?}",
            pcap.display()
        );
        for i in 0..types.len() {
            if parse_flags(&frame[6][i]) & 0x02 == 0 {
                continue; // not the last fragment: the call completes later
            }
            let ctx = &frame[4][i];
            let uuid = ifaces
                .get(&(stream.clone(), ctx.clone()))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: request on stream {stream} context {ctx} without a bind",
                        pcap.display()
                    )
                })
                .clone();
            let pipe_or_port = if transport == "tcp" {
                frame[1][0].clone()
            } else {
                let addr = sec_addr.get(stream).cloned().unwrap_or_default();
                let lower = addr.to_lowercase();
                lower
                    .strip_prefix("\\pipe\\")
                    .map(str::to_string)
                    .unwrap_or(lower)
            };
            out.push(Request {
                transport: transport.to_string(),
                pipe_or_port,
                uuid,
                opnum: frame[5][i].clone(),
            });
        }
    }
    out
}

#[test]
fn truth_matches_tshark() {
    if !tshark::present("the lab truth cross-check") {
        return;
    }
    let mut total = 0;
    for name in lab_captures() {
        let pcap = project(&format!("captures/impacket/{name}.pcap"));
        let want: Vec<Request> = lab_truth(&name).into_iter().map(|t| t.request).collect();
        assert!(!want.is_empty(), "{name}: empty truth");
        let got = tshark_requests(&pcap);
        assert_eq!(
            got, want,
            "{name}: tshark's requests differ from the truth file"
        );
        total += want.len();
    }
    assert_eq!(total, 108, "requests over all lab captures");
}

/// Zeek names and execution flags in the truth files agree with the shared
/// reference tables (checked only when `RPCSIFT_SHARED` is set).
#[test]
fn truth_names_match_reference_tables() {
    let Some(shared) = shared() else { return };
    let (endpoints, operations) = zeek_names(&shared);
    let mut improved: BTreeSet<(String, String)> = BTreeSet::new();
    let execution = Tsv::read(&need(&shared, "reference/indicators-execution.tsv"));
    for [set, uuid, opnums] in execution.columns(["set", "uuid", "opnums"]) {
        if set == "improved" {
            for op in opnums.split(',') {
                improved.insert((uuid.to_lowercase(), op.to_string()));
            }
        }
    }
    assert!(!improved.is_empty(), "improved set rows");
    for name in lab_captures() {
        for row in lab_truth(&name) {
            assert_eq!(
                endpoints.get(&row.request.uuid),
                Some(&row.endpoint),
                "{name}: endpoint of {}",
                row.request.uuid
            );
            assert_eq!(
                operations.get(&(row.request.uuid.clone(), row.request.opnum.clone())),
                Some(&row.operation),
                "{name}: operation {} {}",
                row.request.uuid,
                row.request.opnum
            );
            let exec = if improved.contains(&(row.request.uuid.clone(), row.request.opnum.clone()))
            {
                "yes"
            } else {
                "no"
            };
            assert_eq!(
                row.execution, exec,
                "{name}: {} execution flag",
                row.operation
            );
        }
    }
}
