//! Hostile captures (issue 8): each case is generated here, byte by byte, and must not
//! panic, must keep memory bounded, must still report the calls before the damage, and
//! must count the damage.

use rpcsift::engine::{FileOutput, Options, analyze_reader};
use std::io::Cursor;
use std::process::Command;

// ---------------------------------------------------------------------------------------
// A minimal capture writer: classic PCAP, LINKTYPE_RAW (IPv4), microsecond timestamps.

struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Self {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
        Pcap(b)
    }

    fn record(&mut self, t_us: u64, pkt: &[u8]) {
        self.0
            .extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        self.0
            .extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        self.0.extend_from_slice(pkt);
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        t_us: u64,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let total = 40 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        p.extend_from_slice(&src.0);
        p.extend_from_slice(&dst.0);
        let mut sum: u32 = p
            .chunks(2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]) as u32)
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let ck = !(sum as u16);
        p[10..12].copy_from_slice(&ck.to_be_bytes());
        p.extend_from_slice(&src.1.to_be_bytes());
        p.extend_from_slice(&dst.1.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ack.to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        self.record(t_us, &p);
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;
const CLIENT: [u8; 4] = [10, 1, 1, 1];
const SERVER: [u8; 4] = [10, 1, 1, 2];

/// One TCP connection with its sequence numbers, writing into a capture.
struct Tcp {
    cport: u16,
    sport: u16,
    seq: [u32; 2],
    t: u64,
}

impl Tcp {
    fn open(pcap: &mut Pcap, cport: u16, sport: u16, t: u64) -> Tcp {
        let mut c = Tcp {
            cport,
            sport,
            seq: [1000, 5000],
            t,
        };
        c.raw(pcap, 0, c.seq[0] - 1, 0, SYN, b"");
        c.raw(pcap, 1, c.seq[1] - 1, c.seq[0], SYN | ACK, b"");
        c.raw(pcap, 0, c.seq[0], c.seq[1], ACK, b"");
        c
    }

    fn ends(&self, dir: usize) -> (([u8; 4], u16), ([u8; 4], u16)) {
        let c = (CLIENT, self.cport);
        let s = (SERVER, self.sport);
        if dir == 0 { (c, s) } else { (s, c) }
    }

    fn raw(&mut self, pcap: &mut Pcap, dir: usize, seq: u32, ack: u32, flags: u8, data: &[u8]) {
        self.t += 100;
        let (a, b) = self.ends(dir);
        pcap.tcp(self.t, a, b, seq, ack, flags, data);
    }

    /// In-order data from `dir` (0 client, 1 server), cut into segments of at most 1400.
    fn send(&mut self, pcap: &mut Pcap, dir: usize, data: &[u8]) {
        for chunk in data.chunks(1400) {
            let (seq, ack) = (self.seq[dir], self.seq[1 - dir]);
            self.raw(pcap, dir, seq, ack, PSH_ACK, chunk);
            self.seq[dir] = self.seq[dir].wrapping_add(chunk.len() as u32);
        }
    }

    fn close(&mut self, pcap: &mut Pcap) {
        for dir in 0..2 {
            let (seq, ack) = (self.seq[dir], self.seq[1 - dir]);
            self.raw(pcap, dir, seq, ack, FIN_ACK, b"");
            self.seq[dir] = self.seq[dir].wrapping_add(1);
        }
    }
}

// ---------------------------------------------------------------------------------------
// DCE-RPC PDUs (little endian, NDR).

const SVCCTL: [u8; 16] = [
    0x81, 0xbb, 0x7a, 0x36, 0x44, 0x98, 0xf1, 0x35, 0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03,
];
const NDR: [u8; 16] = [
    0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
];

fn pdu(ptype: u8, flags: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![5, 0, ptype, flags, 0x10, 0, 0, 0];
    v.extend_from_slice(&((16 + body.len()) as u16).to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&call_id.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn bind() -> Vec<u8> {
    let mut b = vec![0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0];
    b.extend_from_slice(&[0, 0, 1, 0]);
    b.extend_from_slice(&SVCCTL);
    b.extend_from_slice(&[2, 0, 0, 0]);
    b.extend_from_slice(&NDR);
    b.extend_from_slice(&[2, 0, 0, 0]);
    pdu(11, 3, 1, &b)
}

fn bind_ack() -> Vec<u8> {
    let mut b = vec![0xb8, 0x10, 0xb8, 0x10, 0x12, 0x34, 0, 0];
    let addr = b"\\PIPE\\ntsvcs\0";
    b.extend_from_slice(&(addr.len() as u16).to_le_bytes());
    b.extend_from_slice(addr);
    while !(16 + b.len()).is_multiple_of(4) {
        b.push(0);
    }
    b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&NDR);
    b.extend_from_slice(&[2, 0, 0, 0]);
    pdu(12, 3, 1, &b)
}

fn request(flags: u8, call_id: u32, opnum: u16, stub: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(stub.len() as u32).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&opnum.to_le_bytes());
    b.extend_from_slice(stub);
    pdu(0, flags, call_id, &b)
}

fn response(call_id: u32, stub: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(stub.len() as u32).to_le_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(stub);
    pdu(2, 3, call_id, &b)
}

/// Bind and one answered OpenSCManagerW (opnum 15): the call that must survive.
fn good_start(pcap: &mut Pcap, cport: u16) -> Tcp {
    let mut c = Tcp::open(pcap, cport, 49670, 1_000_000 * cport as u64);
    c.send(pcap, 0, &bind());
    c.send(pcap, 1, &bind_ack());
    c.send(pcap, 0, &request(3, 2, 15, &[0u8; 24]));
    c.send(pcap, 1, &response(2, &[0u8; 24]));
    c
}

fn analyze(bytes: &[u8]) -> FileOutput {
    analyze_reader("adversarial", Cursor::new(bytes), 0, &Options::default())
}

fn operations(out: &FileOutput) -> Vec<String> {
    out.records
        .iter()
        .map(|r| r.operation.as_deref().unwrap_or_default().to_string())
        .collect()
}

/// Run the CLI on a capture written to a temporary file; returns (summary, peak RSS MiB).
fn cli_peak_rss(name: &str, bytes: &[u8], args: &[&str]) -> (String, u64) {
    let dir = std::env::temp_dir().join(format!("rpcsift-adv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.pcap"));
    std::fs::write(&path, bytes).expect("write capture");
    let out = Command::new(env!("CARGO_BIN_EXE_rpcsift"))
        .arg("calls")
        .args(args)
        .args(["--format", "json", "-o", "/dev/null"])
        .arg(&path)
        .output()
        .expect("run rpcsift");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let rss = stderr
        .lines()
        .find(|l| l.ends_with("peak memory (RSS, MiB)"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory line in {stderr}"));
    (stderr, rss)
}

fn summary_count(summary: &str, label: &str) -> u64 {
    summary
        .lines()
        .find(|l| l.trim_start().split_once("  ").map(|(_, rest)| rest) == Some(label))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------

#[test]
fn many_tiny_flows_stay_within_the_flow_cap() {
    // 300,000 one-packet connections (a SYN scan) plus one real call at the end.
    let mut p = Pcap::new();
    for i in 0..300_000u32 {
        let src = [10, 2, (i >> 8) as u8, i as u8];
        p.tcp(
            i as u64,
            (src, 1024 + (i % 60000) as u16),
            (SERVER, 445),
            i,
            0,
            SYN,
            b"",
        );
    }
    let mut c = good_start(&mut p, 40000);
    c.close(&mut p);
    let (small, rss_small) = cli_peak_rss("flows", &p.0, &["--max-flows", "10000"]);
    assert_eq!(summary_count(&small, "TCP connections"), 300_001);
    assert_eq!(summary_count(&small, "DCE-RPC calls"), 1, "{small}");
    assert!(summary_count(&small, "flow table limit hits (oldest flow evicted)") >= 290_000);
    // The capture itself is ~21 MB; with at most 10,000 flows alive the process stays small.
    assert!(
        rss_small < 200,
        "peak RSS {rss_small} MiB with --max-flows 10000"
    );
    // The memory cap derives the flow cap: 300,000 flows do not fit in 32 MiB.
    let (capped, rss_capped) = cli_peak_rss("flows-capped", &p.0, &["--max-memory", "32M"]);
    assert!(summary_count(&capped, "flow table limit hits (oldest flow evicted)") > 250_000);
    assert!(capped.contains("warning: "), "{capped}");
    assert_eq!(summary_count(&capped, "DCE-RPC calls"), 1, "{capped}");
    assert!(
        rss_capped < 100,
        "peak RSS {rss_capped} MiB with --max-memory 32M"
    );
}

#[test]
fn a_flood_of_unfinished_fragments_is_bounded_and_counted() {
    let mut p = Pcap::new();
    let mut c = good_start(&mut p, 40001);
    // 20,000 calls that send a first fragment and never a last one, 1 KiB each.
    for i in 0..20_000u32 {
        c.send(&mut p, 0, &request(1, 100 + i, 12, &[0x41; 1024]));
    }
    c.close(&mut p);
    let out = analyze(&p.0);
    assert_eq!(operations(&out)[0], "OpenSCManagerW");
    assert!(out.counters.dcerpc_frag_limit > 0, "{:?}", out.counters);
    // Unfinished calls are reported as partial, not dropped silently; the limit bounds how
    // many are kept at once (64 per direction), so at most that many reach the output.
    assert!(out.records.len() <= 1 + 64, "{}", out.records.len());
    assert!(out.counters.dcerpc_frag_limit >= 20_000 - 64);
    let (summary, rss) = cli_peak_rss("frags", &p.0, &[]);
    assert!(summary.contains("DCE-RPC fragment reassembly limit hits"));
    assert!(rss < 200, "peak RSS {rss} MiB");
}

#[test]
fn a_declared_frag_len_that_never_arrives() {
    let mut p = Pcap::new();
    let mut c = good_start(&mut p, 40002);
    let mut huge = request(3, 3, 12, &[0x42; 80]);
    huge[8..10].copy_from_slice(&65535u16.to_le_bytes());
    c.send(&mut p, 0, &huge);
    c.close(&mut p);
    let out = analyze(&p.0);
    assert_eq!(operations(&out), ["OpenSCManagerW"]);
    // The half PDU is still buffered when the stream ends: counted, not dropped silently.
    assert_eq!(out.counters.dcerpc_truncated_pdus, 1, "{:?}", out.counters);
}

#[test]
fn overlapping_segments_with_different_content_first_wins() {
    let mut p = Pcap::new();
    let mut c = good_start(&mut p, 40003);
    let req = request(3, 3, 12, &[0x43; 64]); // CreateServiceW
    let seq = c.seq[0];
    let ack = c.seq[1];
    // The first copy is what the server saw; a later copy with a different opnum overlaps it.
    c.raw(&mut p, 0, seq, ack, PSH_ACK, &req);
    let mut evil = req.clone();
    evil[22] = 19; // opnum 19 (StartServiceW)
    c.raw(&mut p, 0, seq, ack, PSH_ACK, &evil);
    c.seq[0] = seq.wrapping_add(req.len() as u32);
    c.send(&mut p, 1, &response(3, &[0; 24]));
    c.close(&mut p);
    let out = analyze(&p.0);
    assert_eq!(operations(&out), ["OpenSCManagerW", "CreateServiceW"]);
    assert_eq!(out.counters.tcp_overlaps_conflicting, 1);
}

#[test]
fn random_bytes_after_a_valid_header() {
    let mut p = Pcap::new();
    let mut c = good_start(&mut p, 40004);
    let mut junk = request(3, 3, 12, &[0; 200]);
    // Keep the 16-byte header, make the rest noise (a fixed xorshift, so reproducible).
    let mut x: u32 = 0x1234_5678;
    for b in junk[16..].iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    c.send(&mut p, 0, &junk);
    c.send(&mut p, 0, &request(3, 4, 19, &[0; 24]));
    c.send(&mut p, 1, &response(4, &[0; 4]));
    c.close(&mut p);
    let out = analyze(&p.0);
    let ops = operations(&out);
    assert_eq!(ops[0], "OpenSCManagerW");
    // The call after the noise is found again.
    assert!(ops.contains(&"StartServiceW".to_string()), "{ops:?}");
}

#[test]
fn a_file_truncated_mid_record() {
    let mut p = Pcap::new();
    let mut c = good_start(&mut p, 40005);
    c.send(&mut p, 0, &request(3, 3, 12, &[0; 64]));
    let whole = p.0.len();
    let cut = &p.0[..whole - 30];
    let out = analyze(cut);
    // Everything before the cut is decoded; the cut is reported, not an error.
    assert_eq!(operations(&out)[0], "OpenSCManagerW");
    assert_eq!(out.counters.truncated_records, 1);
    assert_eq!(out.counters.files_failed, 0);
}

#[test]
fn a_pcapng_block_length_that_lies() {
    // Section header, interface description, one enhanced packet block whose trailing
    // length disagrees with its leading one, then a second, valid one.
    fn block(kind: u32, body: &[u8], trailer_len: Option<u32>) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&trailer_len.unwrap_or(len).to_le_bytes());
        b
    }
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    let mut idb = 101u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&65535u32.to_le_bytes());
    let mut f = block(0x0a0d_0d0a, &shb, None);
    f.extend(block(1, &idb, None));
    let mut cap = Pcap::new();
    good_start(&mut cap, 40006);
    // Re-wrap each classic record as an EPB.
    let mut rest = &cap.0[24..];
    let mut epbs = Vec::new();
    while rest.len() >= 16 {
        let len = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        let pkt = &rest[16..16 + len];
        let mut body = 0u32.to_le_bytes().to_vec();
        body.extend_from_slice(&[0; 8]);
        body.extend_from_slice(&(len as u32).to_le_bytes());
        body.extend_from_slice(&(len as u32).to_le_bytes());
        body.extend_from_slice(pkt);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        epbs.push(body);
        rest = &rest[16 + len..];
    }
    let n = epbs.len();
    for (i, body) in epbs.iter().enumerate() {
        f.extend(block(6, body, None));
        if i + 1 == n {
            // A lying block at the end: its length claims far more than the file holds.
            let mut liar = block(6, body, None);
            liar[4..8].copy_from_slice(&0x00ff_fff0u32.to_le_bytes());
            f.extend(liar);
        }
    }
    let out = analyze(&f);
    assert_eq!(operations(&out), ["OpenSCManagerW"]);
    let damage = out.counters.truncated_records
        + out.counters.malformed_records
        + out.counters.garbage_after_prefix;
    assert!(damage >= 1, "{:?}", out.counters);
}

/// SMB over TCP 445: NetBIOS length + message.
fn nbss(msg: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0];
    v[1..4].copy_from_slice(&(msg.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(msg);
    v
}

fn smb2_header(cmd: u16, next: u32, msg_id: u64, response: bool) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B', 64, 0, 0, 0, 0, 0, 0, 0];
    h.extend_from_slice(&cmd.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&(if response { 1u32 } else { 0 }).to_le_bytes());
    h.extend_from_slice(&next.to_le_bytes());
    h.extend_from_slice(&msg_id.to_le_bytes());
    h.extend_from_slice(&[0; 4]); // process id
    h.extend_from_slice(&1u32.to_le_bytes()); // tree id
    h.extend_from_slice(&7u64.to_le_bytes()); // session id
    h.extend_from_slice(&[0; 16]);
    h
}

#[test]
fn smb_compound_and_andx_loops_terminate() {
    let mut p = Pcap::new();
    let mut c = Tcp::open(&mut p, 40007, 445, 9_000_000);
    // SMB2 ECHO whose NextCommand points back into its own header, over and over.
    let mut looped = Vec::new();
    for i in 0..50u64 {
        let mut m = smb2_header(0x0d, 8, i, false);
        m.extend_from_slice(&[4, 0, 0, 0]);
        looped.extend(m);
    }
    c.send(&mut p, 0, &nbss(&looped));
    // SMB1 WRITE_ANDX whose AndX offset points at its own parameter words.
    let mut smb1 = vec![0xff, b'S', b'M', b'B', 0x2f, 0, 0, 0, 0, 0x18, 0x07, 0xc8];
    smb1.extend_from_slice(&[0; 12]);
    smb1.extend_from_slice(&[1, 0, 0, 0, 0, 0, 1, 0]); // tid, pid, uid, mid
    smb1.push(14); // word count
    let mut words = vec![0x2f, 0];
    words.extend_from_slice(&32u16.to_le_bytes()); // AndX offset: back to the words
    words.extend_from_slice(&[0; 24]);
    smb1.extend_from_slice(&words);
    smb1.extend_from_slice(&[0, 0]);
    c.send(&mut p, 0, &nbss(&smb1));
    c.close(&mut p);
    let out = analyze(&p.0);
    assert!(out.records.is_empty());
    let s = &out.counters.smb;
    let damage = s.compound_chain_limit + s.andx_chain_limit;
    assert!(
        damage >= 1
            || out
                .counters
                .smb
                .lines()
                .iter()
                .any(|(l, v)| l.contains("malformed") && *v > 0),
        "{:?}",
        out.counters.smb
    );
}

#[test]
fn an_ndr_array_over_the_limit_is_counted() {
    // StartServiceW (opnum 19) with 5000 arguments: more than the decoder follows (4096).
    let n = 5000u32;
    let mut stub = vec![0u8; 20]; // service handle
    stub.extend_from_slice(&n.to_le_bytes()); // argc
    stub.extend_from_slice(&0x0002_0000u32.to_le_bytes()); // argv: unique pointer
    stub.extend_from_slice(&n.to_le_bytes()); // conformant array size
    for i in 0..n {
        stub.extend_from_slice(&(0x0002_0004 + 4 * i).to_le_bytes());
    }
    for _ in 0..n {
        // Conformant varying wide string "a": max 2, offset 0, actual 2, "a\0", padded.
        for v in [2u32, 0, 2] {
            stub.extend_from_slice(&v.to_le_bytes());
        }
        stub.extend_from_slice(&[b'a', 0, 0, 0]);
    }
    let mut p = Pcap::new();
    let mut c = good_start(&mut p, 40010);
    let chunks: Vec<&[u8]> = stub.chunks(4000).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut flags = 0;
        if i == 0 {
            flags |= 1;
        }
        if i + 1 == chunks.len() {
            flags |= 2;
        }
        let mut pdu = request(flags, 3, 19, chunk);
        // Every fragment's alloc_hint is the whole stub's length.
        pdu[16..20].copy_from_slice(&(stub.len() as u32).to_le_bytes());
        c.send(&mut p, 0, &pdu);
    }
    c.send(&mut p, 1, &response(3, &[0; 4]));
    c.close(&mut p);
    let out = analyze(&p.0);
    assert_eq!(operations(&out), ["OpenSCManagerW", "StartServiceW"]);
    let start = &out.records[1];
    assert_eq!(start.extra.as_ref().map(|x| x.args_status), Some("limit"));
    assert_eq!(out.counters.args_limit, 1);
    assert_eq!(out.counters.args_malformed, 0);
}

/// Parser buffers count against the memory budget: 400 connections each leave a DCE-RPC
/// PDU half sent (its framer holds 1,400 bytes of a 4,000-byte PDU); with a 100 KB budget
/// for parser buffers the least recently active connections are closed early, counted,
/// and the call made on a connection of its own still decodes.
#[test]
fn parser_buffers_count_against_the_memory_budget() {
    let mut p = Pcap::new();
    let mut half = pdu(11, 3, 1, &[0u8; 4000 - 16]);
    half.truncate(1400);
    for i in 0..400u16 {
        let mut c = Tcp::open(&mut p, 20000 + i, 49670, u64::from(i) * 10_000);
        c.send(&mut p, 0, &half);
    }
    let mut c = good_start(&mut p, 40000);
    c.close(&mut p);
    let run = |max_parser_bytes| {
        let opts = Options {
            max_parser_bytes,
            ..Options::default()
        };
        analyze_reader("parser-budget", Cursor::new(&p.0), 0, &opts)
    };
    let tight = run(100_000);
    assert!(
        tight.counters.parser_memory_limit >= 300,
        "{}",
        tight.counters.parser_memory_limit
    );
    assert_eq!(operations(&tight), vec!["OpenSCManagerW"]);
    let roomy = run(1 << 30);
    assert_eq!(roomy.counters.parser_memory_limit, 0);
    assert_eq!(roomy.counters.dcerpc_truncated_pdus, 400);
}
