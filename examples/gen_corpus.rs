//! Streaming generator of large benchmark captures with known DCE-RPC call counts.
//!
//! ```text
//! cargo run --release --example gen_corpus -- --profile mixed|dense --size 2G [--seed N] [--flows N] OUT.pcap
//! ```
//!
//! Writes a classic PCAP (LINKTYPE_ETHERNET, microsecond timestamps) of about `--size` bytes
//! and a sidecar `OUT.pcap.calls.json` with the exact number of DCE-RPC calls written, by
//! transport as rpcsift names it ("tcp", "smb2", "smb3"), and the byte share of each kind of
//! flow. The same summary goes to stderr.
//!
//! Profiles:
//! * `mixed`: mostly non-RPC TCP (HTTP and TLS-like bulk flows of many segments, short
//!   flows), SMB2/3 file transfers (READ/WRITE of a disk file, 64 KiB or 1 MiB payloads) and
//!   about 5% of the bytes DCE-RPC over SMB2 named pipes and plain TCP (svcctl, atsvc,
//!   srvsvc, epmapper).
//! * `dense`: every flow is DCE-RPC over SMB2 pipes or TCP, hundreds of calls per MB.
//!
//! Memory is bounded by the number of concurrent flows (`--flows`, default 2000 mixed and
//! 1000 dense), never by the output size: every flow holds only its plan (a list of small
//! steps) and the messages of the exchange in progress, bulk payload bytes are slices of one
//! pseudo-random block. The flow mix is stationary, so a 200 MB and a 2 GB capture of one
//! profile have the same concurrency and the same mix; only their length differs.
//!
//! TCP is well-formed: three-way handshake with an MSS option, 1460-byte segments, an ACK
//! every second full segment and at the end of a message unless the reply piggybacks it,
//! FIN both ways and a last ACK; IPv4 and TCP checksums are correct. Flows are interleaved
//! packet by packet (a uniformly random active flow sends next). When the size is reached no
//! new flow starts and no exchange starts; exchanges in progress finish (so every call that
//! was started has its response) and every connection closes.
//!
//! Deterministic: the same arguments give the same bytes. Uses only `std`.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[path = "common/mod.rs"]
mod common;
use common::*;

// ---------------------------------------------------------------------------
// randomness and filler

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + (self.next() >> 11) % (hi - lo + 1)
    }
    /// Log-uniform in `lo..=hi` (heavy-ish tail for sizes).
    fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((a + (b - a) * u).exp() as u64).clamp(lo, hi)
    }
    /// True with probability `p` percent.
    fn pct(&mut self, p: u64) -> bool {
        self.range(0, 99) < p
    }
    fn arr<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        for b in a.iter_mut() {
            *b = (self.next() >> 32) as u8;
        }
        a
    }
}

/// Segments a bulk flow (HTTP, TLS, SMB file transfer) sends in a row when its turn comes.
const BULK_BURST: usize = 32;

/// Opaque payload bytes: slices of one pseudo-random block.
const FILL_LEN: usize = 1 << 20;

// ---------------------------------------------------------------------------
// NDR / DCE-RPC (C706 chapter 12, MS-RPCE 2.2.2); little-endian

/// Stub writing on top of the shared little-endian writer.
impl Le {
    /// NDR: u32 aligned to 4 relative to the stub start.
    fn n32(&mut self, v: u32) -> &mut Self {
        self.align(4).u32(v)
    }
    /// Conformant varying NUL-terminated UTF-16 string.
    fn wstr(&mut self, s: &str) -> &mut Self {
        let units: Vec<u16> = s.encode_utf16().chain(std::iter::once(0)).collect();
        let n = units.len() as u32;
        self.n32(n).u32(0).u32(n);
        for u in units {
            self.u16(u);
        }
        self
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Iface {
    Epm,
    Svcctl,
    Atsvc,
    Srvsvc,
}

impl Iface {
    fn syn(self) -> Syn {
        let (uuid, ver) = match self {
            Iface::Epm => ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", (3, 0)),
            Iface::Svcctl => ("367abb81-9844-35f1-ad32-98f038001003", (2, 0)),
            Iface::Atsvc => ("1ff70682-0a51-30e8-076d-740be8cee98b", (1, 0)),
            Iface::Srvsvc => ("4b324fc8-1670-01d3-1278-5a47bf6ee188", (3, 0)),
        };
        Syn { uuid, ver }
    }
    fn pipe(self) -> &'static str {
        match self {
            Iface::Epm => "epmapper",
            Iface::Svcctl => "svcctl",
            Iface::Atsvc => "atsvc",
            Iface::Srvsvc => "srvsvc",
        }
    }
}

// Every PDU is little-endian, one fragment, no auth verifier, on context 0.

fn bind_pdu(call_id: u32, iface: Iface) -> Vec<u8> {
    let body = bind_body(true, 4280, 4280, 0, &[(0, iface.syn(), &[NDR])]);
    pdu(true, PT_BIND, PFC_FIRST | PFC_LAST, call_id, &body, None)
}

fn bind_ack_pdu(call_id: u32, sec_addr: &str) -> Vec<u8> {
    let body = ack_body(
        true,
        4280,
        4280,
        0x0001_2345,
        sec_addr,
        &[(0, 0, Some(NDR))],
    );
    pdu(
        true,
        PT_BIND_ACK,
        PFC_FIRST | PFC_LAST,
        call_id,
        &body,
        None,
    )
}

fn request_pdu(call_id: u32, opnum: u16, stub: &[u8]) -> Vec<u8> {
    request_pdus(true, &Req::new(call_id, opnum, stub)).concat()
}

fn response_pdu(call_id: u32, stub: &[u8]) -> Vec<u8> {
    response_pdus(true, call_id, 0, stub, usize::MAX, None).concat()
}

/// The operations the generator issues.
#[derive(Clone, Copy)]
enum Op {
    EptMap,
    EptLookup,
    OpenScm,
    OpenService,
    QueryStatus,
    EnumServices,
    CloseHandle,
    CreateService,
    StartService,
    JobAdd,
    ShareEnum,
}

const SERVICES: &[&str] = &[
    "Spooler",
    "wuauserv",
    "BITS",
    "WinRM",
    "Dnscache",
    "LanmanServer",
    "EventLog",
    "W32Time",
];

/// (opnum, request stub, response stub) of one call.
fn op_stubs(op: Op, rng: &mut Rng) -> (u16, Vec<u8>, Vec<u8>) {
    let mut q = Le::default();
    let mut r = Le::default();
    let h = rng.handle();
    let opnum = match op {
        Op::EptMap => {
            let t = tower(Iface::Svcctl.syn(), 49667, [10, 10, 1, 5]);
            q.u32(1).bytes(&[0; 16]).u32(2).u32(t.len() as u32);
            q.u32(t.len() as u32)
                .bytes(&t)
                .align(4)
                .bytes(&[0; 20])
                .u32(4);
            r.bytes(&[0; 20]).u32(1).u32(4).u32(0).u32(1).u32(3);
            r.u32(t.len() as u32)
                .u32(t.len() as u32)
                .bytes(&t)
                .align(4)
                .u32(0);
            3
        }
        Op::EptLookup => {
            q.u32(0)
                .u32(1)
                .bytes(&[0; 16])
                .u32(2)
                .bytes(&[0; 16])
                .u16(0)
                .u16(0);
            q.u32(1).bytes(&[0; 20]).u32(500);
            let ents = [
                (Iface::Svcctl, 49667u16),
                (Iface::Atsvc, 49670),
                (Iface::Srvsvc, 49671),
                (Iface::Epm, 135),
            ];
            r.bytes(&h).u32(ents.len() as u32).u32(500).u32(0);
            r.u32(ents.len() as u32);
            for i in 0..ents.len() {
                r.bytes(&[0; 16]).u32(3 + i as u32).u32(0).u32(1).u8(0);
                r.align(4);
            }
            for (iface, port) in ents {
                let t = tower(iface.syn(), port, [10, 10, 1, 5]);
                r.align(4).u32(t.len() as u32).u32(t.len() as u32).bytes(&t);
            }
            r.align(4).u32(0);
            2
        }
        Op::OpenScm => {
            q.u32(0x0002_0000).wstr("\\\\SRV01").n32(0x0002_0004);
            q.wstr("ServicesActive").n32(0x000f_003f);
            r.bytes(&h).u32(0);
            15
        }
        Op::OpenService => {
            let name = SERVICES[rng.range(0, SERVICES.len() as u64 - 1) as usize];
            q.bytes(&h).wstr(name).n32(0x0000_0014);
            r.bytes(&rng.handle()).u32(0);
            16
        }
        Op::QueryStatus => {
            q.bytes(&h);
            r.u32(0x10)
                .u32(4)
                .u32(0x5)
                .u32(0)
                .u32(0)
                .u32(0)
                .u32(0)
                .u32(0);
            6
        }
        Op::EnumServices => {
            // REnumServicesStatusW (MS-SCMR 3.1.4.4): the reply is a byte buffer of
            // ENUM_SERVICE_STATUSW entries (offsets, SERVICE_STATUS) followed by their names.
            let n = rng.range(20, 60) as usize;
            let names: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    let mut v = utf16le(SERVICES[i % SERVICES.len()]);
                    v.extend_from_slice(&utf16le(&format!("{i}\0")));
                    v
                })
                .collect();
            let mut buf = Le::default();
            let mut off = (n * 36) as u32;
            for nm in &names {
                buf.u32(off)
                    .u32(off)
                    .u32(0x10)
                    .u32(4)
                    .u32(0x5)
                    .u32(0)
                    .u32(0)
                    .u32(0)
                    .u32(0);
                off += nm.len() as u32;
            }
            for nm in &names {
                buf.bytes(nm);
            }
            let buf = buf.take();
            q.bytes(&h)
                .u32(0x30)
                .u32(3)
                .u32(buf.len() as u32)
                .u32(0x0002_0000)
                .u32(0);
            r.u32(buf.len() as u32).bytes(&buf).align(4);
            r.u32(0).u32(n as u32).u32(0x0002_0004).u32(0).u32(0);
            14
        }
        Op::CloseHandle => {
            q.bytes(&h);
            r.bytes(&[0; 20]).u32(0);
            0
        }
        Op::CreateService => {
            let name = format!("svc{:08x}", rng.next() as u32);
            q.bytes(&h).wstr(&name).n32(0x0002_0000).wstr(&name);
            q.n32(0x000f_01ff).u32(0x10).u32(3).u32(0);
            q.wstr("C:\\Windows\\System32\\svchost.exe -k netsvcs");
            for _ in 0..7 {
                q.n32(0);
            }
            r.u32(0).bytes(&rng.handle()).u32(0);
            12
        }
        Op::StartService => {
            q.bytes(&h).u32(0).u32(0);
            r.u32(0);
            19
        }
        Op::JobAdd => {
            q.u32(0x0002_0000)
                .wstr("\\\\SRV01")
                .n32(49_020_000)
                .u32(0)
                .u8(0)
                .u8(0);
            q.n32(0x0002_0004).wstr("cmd.exe /c C:\\ops\\nightly.bat");
            r.u32(rng.range(1, 99) as u32).u32(0);
            0
        }
        Op::ShareEnum => {
            q.u32(0x0002_0000)
                .wstr("\\\\SRV01")
                .n32(1)
                .u32(1)
                .u32(0x0002_0004);
            q.u32(0).u32(0).u32(0xffff_ffff).u32(0x0002_0008).u32(0);
            let shares: &[(&str, u32, &str)] = &[
                ("ADMIN$", 0x8000_0000, "Remote Admin"),
                ("C$", 0x8000_0000, "Default share"),
                ("IPC$", 0x8000_0003, "Remote IPC"),
                ("data", 0, "Department data"),
                ("NETLOGON", 0, "Logon server share"),
            ];
            let n = shares.len() as u32;
            r.u32(1)
                .u32(1)
                .u32(0x0002_0000)
                .u32(n)
                .u32(0x0002_0004)
                .u32(n);
            let mut p = 0x0002_0008u32;
            for (_, typ, _) in shares {
                r.u32(p).u32(*typ).u32(p + 4);
                p += 8;
            }
            for (name, _, remark) in shares {
                r.wstr(name).wstr(remark);
            }
            r.n32(n).u32(0x0002_0100).u32(0).u32(0);
            15
        }
    };
    (opnum, q.take(), r.take())
}

// ---------------------------------------------------------------------------
// NTLMSSP logon (the shared builders, with this generator's values)

/// CHALLENGE_MESSAGE: target info CORP / SRV01 / corp.local.
fn challenge(rng: &mut Rng) -> Vec<u8> {
    let (d, s, f) = (utf16le("CORP"), utf16le("SRV01"), utf16le("corp.local"));
    let info = av_pairs(&[(2, &d), (1, &s), (4, &f), (0, &[])]);
    ntlm_challenge(rng, &info)
}

/// AUTHENTICATE_MESSAGE for `CORP\user` from `ws`, no AV pairs in the NTLMv2 response.
fn authenticate(rng: &mut Rng, user: &str, ws: &str) -> Vec<u8> {
    let nt = ntlmv2_response(rng, (BASE_SECS + FILETIME_UNIX_OFFSET) * 10_000_000, &[]);
    let key = rng.bytes(16);
    let mic = rng.arr::<16>();
    ntlm_authenticate("CORP", user, ws, &nt, &key, &mic)
}

// ---------------------------------------------------------------------------
// flows

/// A message on one direction of a connection: `head` then `fill` opaque bytes.
struct Msg {
    dir: usize,
    head: Vec<u8>,
    fill: usize,
    fill_at: usize,
    /// Set on the response that completes a DCE-RPC call: its transport.
    call: Option<&'static str>,
}

impl Msg {
    fn new(dir: usize, head: Vec<u8>) -> Msg {
        Msg {
            dir,
            head,
            fill: 0,
            fill_at: 0,
            call: None,
        }
    }
    fn len(&self) -> usize {
        self.head.len() + self.fill
    }
}

/// One step of a flow's plan; each builds one exchange (its messages are sent as a unit).
#[derive(Clone, Copy)]
enum Step {
    HttpExchange { resp: u32 },
    TlsHello,
    TlsRecord { dir: u8, len: u32 },
    SmbNegotiate,
    SmbSetup1,
    SmbSetup2,
    SmbTree { ipc: bool },
    SmbCreate { pipe: Option<Iface> },
    SmbRead { len: u32 },
    SmbWrite { len: u32 },
    SmbClose,
    SmbBindWrite { iface: Iface },
    SmbBindRead,
    TcpBind { iface: Iface },
    Call { op: Op },
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Http,
    Tls,
    Short,
    SmbFile,
    RpcSmb,
    RpcTcp,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Tls => "tls",
            Kind::Short => "short",
            Kind::SmbFile => "smb_file",
            Kind::RpcSmb => "dcerpc_smb",
            Kind::RpcTcp => "dcerpc_tcp",
        }
    }
    fn is_rpc(self) -> bool {
        matches!(self, Kind::RpcSmb | Kind::RpcTcp)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Syn,
    SynAck,
    HsAck,
    Data,
    FinS,
    LastAck,
    Done,
}

/// Per-connection protocol state used while building messages.
struct Ctx {
    call_id: u32,
    msg_id: u64,
    session: u64,
    tree: u32,
    fid: [u8; 16],
    dialect: u16,
    ip_id: [u16; 2],
}

struct Flow {
    kind: Kind,
    /// Estimated bytes still to write (byte-share bookkeeping).
    est_left: u64,
    h: [Host; 2],
    isn: [u32; 2],
    sent: [u32; 2],
    phase: Phase,
    plan: VecDeque<Step>,
    unit: VecDeque<Msg>,
    off: usize,
    segs: usize,
    ack_owed: Option<usize>,
    stopping: bool,
    ctx: Ctx,
    rng: Rng,
}

/// One packet to write.
struct Pkt {
    dir: usize,
    flags: u8,
    seq: u32,
    ack: u32,
    syn_opts: bool,
    call: Option<&'static str>,
}

impl Flow {
    fn transport(&self) -> &'static str {
        match self.kind {
            Kind::RpcTcp => "tcp",
            _ if self.ctx.dialect >= 0x0300 => "smb3",
            _ => "smb2",
        }
    }

    /// Remaining bytes of the exchange in progress (what finishing it will still write).
    fn unit_remaining(&self) -> usize {
        let queued: usize = self.unit.iter().map(Msg::len).sum();
        queued.saturating_sub(self.off)
    }

    /// Load the next exchange; false at the end of the plan or when stopping.
    fn refill(&mut self) -> bool {
        if self.stopping {
            return false;
        }
        let Some(step) = self.plan.pop_front() else {
            return false;
        };
        self.build(step);
        true
    }

    /// The next packet of this flow into `payload` with its sequence and acknowledgement
    /// numbers; `None` when the flow is finished.
    fn next(&mut self, fill: &[u8], payload: &mut Vec<u8>) -> Option<Pkt> {
        let before = self.sent;
        let mut p = self.next_shape(fill, payload)?;
        let d = p.dir;
        let seq_of = |dir: usize| self.isn[dir].wrapping_add(1).wrapping_add(before[dir]);
        p.seq = if p.flags & TH_SYN != 0 {
            self.isn[d]
        } else {
            seq_of(d)
        };
        p.ack = if p.flags & TH_ACK != 0 {
            seq_of(1 - d)
        } else {
            0
        };
        if p.flags & TH_FIN != 0 {
            self.sent[d] = self.sent[d].wrapping_add(1);
        }
        Some(p)
    }

    /// Direction, flags and payload of the next packet (advances `sent` for data).
    fn next_shape(&mut self, fill: &[u8], payload: &mut Vec<u8>) -> Option<Pkt> {
        payload.clear();
        let pkt = |dir, flags| Pkt {
            dir,
            flags,
            seq: 0,
            ack: 0,
            syn_opts: false,
            call: None,
        };
        match self.phase {
            Phase::Syn => {
                self.phase = Phase::SynAck;
                return Some(Pkt {
                    syn_opts: true,
                    ..pkt(C, TH_SYN)
                });
            }
            Phase::SynAck => {
                self.phase = Phase::HsAck;
                return Some(Pkt {
                    syn_opts: true,
                    ..pkt(S, TH_SYN | TH_ACK)
                });
            }
            Phase::HsAck => {
                self.phase = Phase::Data;
                return Some(pkt(C, TH_ACK));
            }
            Phase::FinS => {
                self.phase = Phase::LastAck;
                return Some(pkt(S, TH_FIN | TH_ACK));
            }
            Phase::LastAck => {
                self.phase = Phase::Done;
                return Some(pkt(C, TH_ACK));
            }
            Phase::Done => return None,
            Phase::Data => {}
        }
        if let Some(d) = self.ack_owed.take() {
            return Some(pkt(d, TH_ACK));
        }
        if self.unit.is_empty() && !self.refill() {
            self.phase = Phase::FinS;
            return Some(pkt(C, TH_FIN | TH_ACK));
        }
        let m = self.unit.front()?;
        let d = m.dir;
        let total = m.len();
        let n = MSS.min(total - self.off);
        let (start, end) = (self.off, self.off + n);
        let hl = m.head.len();
        if start < hl {
            payload.extend_from_slice(&m.head[start..end.min(hl)]);
        }
        if end > hl {
            let (a, b) = (start.max(hl) - hl, end - hl);
            let base = m.fill_at;
            payload.extend_from_slice(&fill[base + a..base + b]);
        }
        self.off = end;
        self.segs += 1;
        let mut flags = TH_ACK;
        let mut call = None;
        if end == total {
            flags |= TH_PSH;
            let m = self.unit.pop_front()?;
            call = m.call;
            self.off = 0;
            // The receiver acknowledges unless its own next message does it.
            if self.unit.is_empty() {
                let _ = self.refill();
            }
            if self.unit.front().is_some_and(|n| n.dir == d) {
                self.ack_owed = Some(1 - d);
            }
            self.segs = 0;
        } else if self.segs >= 2 {
            self.ack_owed = Some(1 - d);
            self.segs = 0;
        }
        self.sent[d] = self.sent[d].wrapping_add(n as u32);
        Some(Pkt {
            call,
            ..pkt(d, flags)
        })
    }

    /// A fill range of `n` bytes inside the filler block.
    fn fill_at(&mut self, n: usize) -> usize {
        self.rng.range(0, (FILL_LEN - n.min(FILL_LEN)) as u64) as usize
    }

    fn msg_fill(&mut self, dir: usize, head: Vec<u8>, fill: usize) -> Msg {
        let fill = fill.min(FILL_LEN);
        let fill_at = self.fill_at(fill);
        Msg {
            dir,
            head,
            fill,
            fill_at,
            call: None,
        }
    }

    /// 64-byte SMB2 header + body, wrapped in the 4-byte direct-TCP header sized for
    /// `extra` more bytes that follow as filler.
    fn smb2(
        &mut self,
        cmd: u16,
        resp: bool,
        status: u32,
        mid: u64,
        body: &[u8],
        extra: usize,
    ) -> Vec<u8> {
        let mut h = Le::default();
        h.bytes(&nbss_header(64 + body.len() + extra));
        Smb2Header {
            cmd,
            status,
            flags: if resp { SMB2_FLAGS_SERVER_TO_REDIR } else { 0 },
            mid,
            tree: self.ctx.tree,
            session: if cmd == SMB2_NEGOTIATE {
                0
            } else {
                self.ctx.session
            },
            signature: [0; 16],
        }
        .write(&mut h);
        h.bytes(body).take()
    }

    fn next_mid(&mut self) -> u64 {
        let m = self.ctx.msg_id;
        self.ctx.msg_id += 1;
        m
    }

    fn pair(&mut self, q: Msg, r: Msg) {
        self.unit.push_back(q);
        self.unit.push_back(r);
    }

    /// Build the messages of one step into `self.unit`.
    fn build(&mut self, step: Step) {
        match step {
            Step::HttpExchange { resp } => {
                let n = self.rng.range(1, 99_999);
                let q = format!(
                    "GET /static/{n}/bundle.js HTTP/1.1\r\nHost: intranet{}.corp.local\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n",
                    n % 40
                );
                let r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {resp}\r\nCache-Control: max-age=3600\r\n\r\n"
                );
                let q = Msg::new(C, q.into_bytes());
                let r = self.msg_fill(S, r.into_bytes(), resp as usize);
                self.pair(q, r);
            }
            Step::TlsHello => {
                let q = self.msg_fill(C, vec![0x16, 3, 1, 0x02, 0x00], 512);
                let r = self.msg_fill(S, vec![0x16, 3, 3, 0x0f, 0xa0], 4000);
                self.pair(q, r);
            }
            Step::TlsRecord { dir, len } => {
                let l = len as u16;
                let m = self.msg_fill(
                    dir as usize,
                    vec![0x17, 3, 3, (l >> 8) as u8, l as u8],
                    len as usize,
                );
                self.unit.push_back(m);
            }
            Step::SmbNegotiate => {
                let mid = self.next_mid();
                let guid = self.rng.bytes(16);
                let q = self.smb2(
                    SMB2_NEGOTIATE,
                    false,
                    0,
                    mid,
                    &negotiate_req(&guid, None),
                    0,
                );
                let guid = self.rng.bytes(16);
                let b = negotiate_resp(self.ctx.dialect, &guid, &spnego(&[], true), None);
                let r = self.smb2(SMB2_NEGOTIATE, true, 0, mid, &b, 0);
                self.pair(Msg::new(C, q), Msg::new(S, r));
            }
            Step::SmbSetup1 | Step::SmbSetup2 => {
                let first = matches!(step, Step::SmbSetup1);
                let mid = self.next_mid();
                let token = if first {
                    spnego(&ntlm_negotiate(), true)
                } else {
                    let users = ["svc_backup", "alice", "bob", "svc_monitor", "helpdesk"];
                    let u = users[self.rng.range(0, users.len() as u64 - 1) as usize];
                    let ws = format!("WS{:03}", self.h[C].ip[3]);
                    spnego(&authenticate(&mut self.rng, u, &ws), false)
                };
                let session = self.ctx.session;
                if first {
                    self.ctx.session = 0;
                }
                let b = session_setup_req(&token);
                let q = self.smb2(SMB2_SESSION_SETUP, false, 0, mid, &b, 0);
                self.ctx.session = session;
                let (status, blob) = if first {
                    (
                        STATUS_MORE_PROCESSING_REQUIRED,
                        spnego(&challenge(&mut self.rng), false),
                    )
                } else {
                    (0, SPNEGO_ACCEPT_COMPLETED.to_vec())
                };
                let b = session_setup_resp(0, &blob);
                let r = self.smb2(SMB2_SESSION_SETUP, true, status, mid, &b, 0);
                self.pair(Msg::new(C, q), Msg::new(S, r));
            }
            Step::SmbTree { ipc } => {
                let mid = self.next_mid();
                let srv = self.h[S].ip;
                let path = format!(
                    "\\\\10.{}.{}.{}\\{}",
                    srv[1],
                    srv[2],
                    srv[3],
                    if ipc { "IPC$" } else { "data" }
                );
                let q = self.smb2(
                    SMB2_TREE_CONNECT,
                    false,
                    0,
                    mid,
                    &tree_connect_req(&path),
                    0,
                );
                self.ctx.tree = self.rng.range(1, 0xffff) as u32;
                let b = tree_connect_resp(if ipc { 2 } else { 1 });
                let r = self.smb2(SMB2_TREE_CONNECT, true, 0, mid, &b, 0);
                self.pair(Msg::new(C, q), Msg::new(S, r));
            }
            Step::SmbCreate { pipe } => {
                let mid = self.next_mid();
                let name = match pipe {
                    Some(i) => i.pipe().to_string(),
                    None => format!(
                        "projects\\2024\\report-{:05}.{}",
                        self.rng.range(0, 99_999),
                        ["docx", "xlsx", "pdf", "zip", "vhdx"][self.rng.range(0, 4) as usize]
                    ),
                };
                let q = self.smb2(SMB2_CREATE, false, 0, mid, &create_req(&name), 0);
                self.ctx.fid = self.rng.arr::<16>();
                let size = if pipe.is_some() { 4096 } else { 64 << 20 };
                let attrs = if pipe.is_some() { 0x80 } else { 0x20 };
                let b = create_resp(&self.ctx.fid, size, size, attrs);
                let r = self.smb2(SMB2_CREATE, true, 0, mid, &b, 0);
                self.pair(Msg::new(C, q), Msg::new(S, r));
            }
            Step::SmbClose => {
                let mid = self.next_mid();
                let fid = self.ctx.fid;
                let q = self.smb2(SMB2_CLOSE, false, 0, mid, &close_req(&fid), 0);
                let r = self.smb2(SMB2_CLOSE, true, 0, mid, &close_resp(), 0);
                self.pair(Msg::new(C, q), Msg::new(S, r));
            }
            Step::SmbRead { len } => {
                let q = self.read_req(len);
                let mid = self.ctx.msg_id - 1;
                let b = read_resp(len, &[]);
                let head = self.smb2(SMB2_READ, true, 0, mid, &b, len as usize);
                let r = self.msg_fill(S, head, len as usize);
                self.pair(q, r);
            }
            Step::SmbWrite { len } => {
                let mid = self.next_mid();
                let b = write_req(&self.ctx.fid, len, &[]);
                let head = self.smb2(SMB2_WRITE, false, 0, mid, &b, len as usize);
                let q = self.msg_fill(C, head, len as usize);
                let r = self.write_resp(mid, len);
                self.pair(q, r);
            }
            Step::SmbBindWrite { iface } => {
                self.ctx.call_id = 1;
                let data = bind_pdu(1, iface);
                let mid = self.next_mid();
                let b = write_req(&self.ctx.fid, data.len() as u32, &data);
                let q = self.smb2(SMB2_WRITE, false, 0, mid, &b, 0);
                let r = self.write_resp(mid, data.len() as u32);
                self.pair(Msg::new(C, q), r);
            }
            Step::SmbBindRead => {
                let q = self.read_req(4280);
                let mid = self.ctx.msg_id - 1;
                let ack = bind_ack_pdu(1, "\\PIPE\\srv");
                let b = read_resp(ack.len() as u32, &ack);
                let r = self.smb2(SMB2_READ, true, 0, mid, &b, 0);
                self.pair(q, Msg::new(S, r));
            }
            Step::TcpBind { iface } => {
                self.ctx.call_id = 1;
                let port = self.h[S].port.to_string();
                self.pair(
                    Msg::new(C, bind_pdu(1, iface)),
                    Msg::new(S, bind_ack_pdu(1, &port)),
                );
            }
            Step::Call { op } => {
                self.ctx.call_id += 1;
                let id = self.ctx.call_id;
                let (opnum, qs, rs) = op_stubs(op, &mut self.rng);
                let (q, r) = (request_pdu(id, opnum, &qs), response_pdu(id, &rs));
                let transport = self.transport();
                let (q, mut r) = if self.kind == Kind::RpcTcp {
                    (Msg::new(C, q), Msg::new(S, r))
                } else {
                    let mid = self.next_mid();
                    let fid = self.ctx.fid;
                    let sq = self.smb2(SMB2_IOCTL, false, 0, mid, &ioctl_req(&fid, &q), 0);
                    let sr = self.smb2(SMB2_IOCTL, true, 0, mid, &ioctl_resp(&fid, &r), 0);
                    (Msg::new(C, sq), Msg::new(S, sr))
                };
                r.call = Some(transport);
                self.pair(q, r);
            }
        }
    }

    fn read_req(&mut self, len: u32) -> Msg {
        let mid = self.next_mid();
        let b = read_req(&self.ctx.fid, len);
        Msg::new(C, self.smb2(SMB2_READ, false, 0, mid, &b, 0))
    }

    fn write_resp(&mut self, mid: u64, n: u32) -> Msg {
        Msg::new(S, self.smb2(SMB2_WRITE, true, 0, mid, &write_resp(n), 0))
    }
}

// ---------------------------------------------------------------------------
// plans

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Profile {
    Mixed,
    Dense,
}

/// Byte shares the mixed profile aims at, by flow kind (sum 100).
const MIXED_SHARES: &[(Kind, u64)] = &[
    (Kind::Http, 30),
    (Kind::Tls, 40),
    (Kind::Short, 5),
    (Kind::SmbFile, 20),
    (Kind::RpcSmb, 3),
    (Kind::RpcTcp, 2),
];
const DENSE_SHARES: &[(Kind, u64)] = &[(Kind::RpcSmb, 60), (Kind::RpcTcp, 40)];

/// Rough bytes a plan writes (for the byte-share bookkeeping only).
fn estimate(plan: &VecDeque<Step>) -> u64 {
    400 + plan
        .iter()
        .map(|s| match *s {
            Step::HttpExchange { resp } => u64::from(resp) + 500,
            Step::TlsHello => 4800,
            Step::TlsRecord { len, .. } => u64::from(len) + 60,
            Step::SmbRead { len } | Step::SmbWrite { len } => u64::from(len) + 400,
            Step::Call { .. } => 650,
            _ => 500,
        })
        .sum::<u64>()
}

fn svcctl_calls(rng: &mut Rng, n: u64, plan: &mut VecDeque<Step>) {
    plan.push_back(Step::Call { op: Op::OpenScm });
    let mut i = 1;
    while i + 1 < n {
        if rng.pct(10) && i + 4 < n {
            for op in [Op::CreateService, Op::StartService, Op::CloseHandle] {
                plan.push_back(Step::Call { op });
            }
            i += 3;
        } else if rng.pct(60) {
            plan.push_back(Step::Call {
                op: Op::EnumServices,
            });
            i += 1;
        } else {
            for op in [Op::OpenService, Op::QueryStatus, Op::CloseHandle] {
                plan.push_back(Step::Call { op });
            }
            i += 3;
        }
    }
    plan.push_back(Step::Call {
        op: Op::CloseHandle,
    });
}

fn iface_calls(rng: &mut Rng, iface: Iface, n: u64, plan: &mut VecDeque<Step>) {
    match iface {
        Iface::Svcctl => svcctl_calls(rng, n, plan),
        Iface::Atsvc => (0..n).for_each(|_| plan.push_back(Step::Call { op: Op::JobAdd })),
        Iface::Srvsvc => (0..n).for_each(|_| plan.push_back(Step::Call { op: Op::ShareEnum })),
        Iface::Epm => (0..n).for_each(|_| {
            let op = if rng.pct(70) {
                Op::EptMap
            } else {
                Op::EptLookup
            };
            plan.push_back(Step::Call { op })
        }),
    }
}

/// Plan of a new flow of `kind`: its steps and its server port.
fn make_plan(kind: Kind, profile: Profile, rng: &mut Rng) -> (VecDeque<Step>, u16, u16) {
    let mut p = VecDeque::new();
    let dense = profile == Profile::Dense;
    let mut dialect = 0;
    let port = match kind {
        Kind::Http => {
            for _ in 0..rng.range(1, 6) {
                p.push_back(Step::HttpExchange {
                    resp: rng.log_range(2_000, 1 << 20) as u32,
                });
            }
            80
        }
        Kind::Tls => {
            p.push_back(Step::TlsHello);
            let total = rng.log_range(20_000, 6 << 20);
            let mut left = total;
            let mut i = 0u64;
            while left > 0 {
                if i.is_multiple_of(12) {
                    p.push_back(Step::TlsRecord {
                        dir: C as u8,
                        len: rng.range(100, 900) as u32,
                    });
                }
                let len = left.min(16_384);
                p.push_back(Step::TlsRecord {
                    dir: S as u8,
                    len: len as u32,
                });
                left -= len;
                i += 1;
            }
            443
        }
        Kind::Short => {
            if rng.pct(50) {
                p.push_back(Step::HttpExchange {
                    resp: rng.range(200, 4_000) as u32,
                });
                80
            } else {
                p.push_back(Step::TlsHello);
                p.push_back(Step::TlsRecord {
                    dir: C as u8,
                    len: rng.range(100, 600) as u32,
                });
                p.push_back(Step::TlsRecord {
                    dir: S as u8,
                    len: rng.range(100, 2_000) as u32,
                });
                443
            }
        }
        Kind::SmbFile => {
            dialect = if rng.pct(60) { 0x0311 } else { 0x0210 };
            let chunk = if dialect >= 0x0300 { 1 << 20 } else { 65_536 };
            p.extend([Step::SmbNegotiate, Step::SmbSetup1, Step::SmbSetup2]);
            p.push_back(Step::SmbTree { ipc: false });
            for _ in 0..rng.range(1, 3) {
                p.push_back(Step::SmbCreate { pipe: None });
                let bytes = rng.log_range(100_000, 6 << 20);
                let write = rng.pct(30);
                let mut left = bytes;
                while left > 0 {
                    let len = left.min(chunk) as u32;
                    p.push_back(if write {
                        Step::SmbWrite { len }
                    } else {
                        Step::SmbRead { len }
                    });
                    left -= u64::from(len);
                }
                p.push_back(Step::SmbClose);
            }
            445
        }
        Kind::RpcSmb => {
            dialect = if rng.pct(50) { 0x0311 } else { 0x0210 };
            p.extend([Step::SmbNegotiate, Step::SmbSetup1, Step::SmbSetup2]);
            p.push_back(Step::SmbTree { ipc: true });
            let pipes = if dense {
                rng.range(1, 3)
            } else {
                rng.range(1, 2)
            };
            for _ in 0..pipes {
                let iface = [Iface::Svcctl, Iface::Svcctl, Iface::Srvsvc, Iface::Atsvc]
                    [rng.range(0, 3) as usize];
                p.push_back(Step::SmbCreate { pipe: Some(iface) });
                p.push_back(Step::SmbBindWrite { iface });
                p.push_back(Step::SmbBindRead);
                let n = if dense {
                    rng.range(20, 200)
                } else {
                    rng.range(3, 30)
                };
                iface_calls(rng, iface, n, &mut p);
                p.push_back(Step::SmbClose);
            }
            445
        }
        Kind::RpcTcp => {
            let (iface, port) = match rng.range(0, 3) {
                0 => (Iface::Epm, 135),
                1 | 2 => (Iface::Svcctl, 49667),
                _ => (Iface::Atsvc, 49670),
            };
            p.push_back(Step::TcpBind { iface });
            let n = if dense {
                rng.range(20, 300)
            } else {
                rng.range(2, 20)
            };
            iface_calls(rng, iface, n, &mut p);
            port
        }
    };
    (p, port, dialect)
}

// ---------------------------------------------------------------------------
// writer

struct Out {
    w: BufWriter<File>,
    bytes: u64,
    packets: u64,
    frame: Vec<u8>,
}

impl Out {
    fn packet(
        &mut self,
        f: &mut Flow,
        p: &Pkt,
        payload: &[u8],
        t_us: u64,
    ) -> std::io::Result<usize> {
        let id = f.ctx.ip_id[p.dir];
        f.ctx.ip_id[p.dir] = id.wrapping_add(1);
        self.frame.clear();
        Segment {
            src: f.h[p.dir],
            dst: f.h[1 - p.dir],
            ip_id: id,
            seq: p.seq,
            ack: p.ack,
            flags: p.flags,
            window: 64_240,
            opts: if p.syn_opts { &[2, 4, 0x05, 0xb4] } else { &[] },
            payload,
        }
        .write_frame(&mut self.frame);
        let n = self.frame.len();
        let rec = pcap_record(BASE_SECS * 1_000_000 + t_us, n);
        self.w.write_all(&rec)?;
        self.w.write_all(&self.frame)?;
        self.bytes += 16 + n as u64;
        self.packets += 1;
        Ok(16 + n)
    }
}

// ---------------------------------------------------------------------------
// main loop

/// What to generate.
pub(crate) struct Config {
    pub(crate) profile: Profile,
    /// Target size in bytes (the file ends a little past it: exchanges in progress finish).
    pub(crate) size: u64,
    pub(crate) seed: u64,
    /// Concurrent flows.
    pub(crate) flows: usize,
    pub(crate) out: PathBuf,
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let v: f64 = num.parse().ok()?;
    Some((v * mult as f64) as u64)
}

fn usage() -> ! {
    eprintln!(
        "usage: gen_corpus --profile mixed|dense --size SIZE[K|M|G] [--seed N] [--flows N] OUT.pcap"
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let mut profile = None;
    let mut size = None;
    let mut seed = 1u64;
    let mut flows = None;
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--profile" => {
                profile = match it.next().as_deref() {
                    Some("mixed") => Some(Profile::Mixed),
                    Some("dense") => Some(Profile::Dense),
                    _ => usage(),
                }
            }
            "--size" => size = it.next().as_deref().and_then(parse_size),
            "--seed" => {
                seed = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--flows" => flows = it.next().and_then(|s| s.parse().ok()),
            s if !s.starts_with('-') && out.is_none() => out = Some(PathBuf::from(s)),
            _ => usage(),
        }
    }
    let (Some(profile), Some(size), Some(out)) = (profile, size, out) else {
        usage()
    };
    let flows = flows.unwrap_or(if profile == Profile::Mixed {
        2000
    } else {
        1000
    });
    Config {
        profile,
        size,
        seed,
        flows: flows.max(1),
        out,
    }
}

struct Gen {
    profile: Profile,
    rng: Rng,
    started: u64,
    /// Bytes written, by kind.
    written: BTreeMap<Kind, u64>,
    /// Estimated bytes active flows have still to write, by kind.
    inflight: BTreeMap<Kind, u64>,
}

impl Gen {
    fn shares(&self) -> &'static [(Kind, u64)] {
        match self.profile {
            Profile::Mixed => MIXED_SHARES,
            Profile::Dense => DENSE_SHARES,
        }
    }

    fn have(&self, k: Kind) -> u64 {
        self.written.get(&k).copied().unwrap_or(0) + self.inflight.get(&k).copied().unwrap_or(0)
    }

    /// A new flow of the kind furthest below its byte share (written + still in flight).
    fn new_flow(&mut self) -> Flow {
        let total: u64 = self.written.values().sum::<u64>() + self.inflight.values().sum::<u64>();
        let kind = self
            .shares()
            .iter()
            .max_by_key(|(k, share)| {
                let want = total * share / 100;
                (want as i128 - self.have(*k) as i128, std::cmp::Reverse(*k))
            })
            .map(|(k, _)| *k)
            .unwrap_or(Kind::RpcTcp);
        let mut frng = Rng::new(self.rng.next());
        let (plan, port, dialect) = make_plan(kind, self.profile, &mut frng);
        let est = estimate(&plan);
        *self.inflight.entry(kind).or_default() += est;
        let n = self.started;
        self.started += 1;
        // Clients 10.20.0.0/20, ports 49152.. per client; servers by kind.
        let host = n % 4096;
        let cport = 49_152 + ((n / 4096) % 16_384) as u16;
        let cli = [10, 20, (host >> 8) as u8, host as u8];
        let srv = match kind {
            Kind::Http => [10, 30, 0, frng.range(1, 40) as u8],
            Kind::Tls | Kind::Short => [
                93,
                frng.range(1, 250) as u8,
                frng.range(1, 250) as u8,
                frng.range(1, 250) as u8,
            ],
            Kind::SmbFile => [10, 10, 0, frng.range(1, 20) as u8],
            Kind::RpcSmb | Kind::RpcTcp => [10, 10, 1, frng.range(1, 50) as u8],
        };
        let isn = [frng.next() as u32, frng.next() as u32];
        let ip_id = [frng.next() as u16, frng.next() as u16];
        Flow {
            kind,
            est_left: est,
            h: [
                Host {
                    ip: cli,
                    port: cport,
                },
                Host { ip: srv, port },
            ],
            isn,
            sent: [0, 0],
            phase: Phase::Syn,
            plan,
            unit: VecDeque::new(),
            off: 0,
            segs: 0,
            ack_owed: None,
            stopping: false,
            ctx: Ctx {
                call_id: 0,
                msg_id: 0,
                session: frng.next() | 1,
                tree: 0,
                fid: [0; 16],
                dialect,
                ip_id,
            },
            rng: frng,
        }
    }
}

/// What a run wrote.
pub(crate) struct Summary {
    pub(crate) bytes: u64,
    pub(crate) packets: u64,
    pub(crate) flows: u64,
    pub(crate) duration_us: u64,
    /// DCE-RPC calls (request and response written) by rpcsift's transport name.
    pub(crate) calls: BTreeMap<&'static str, u64>,
    pub(crate) kind_bytes: BTreeMap<&'static str, u64>,
    pub(crate) rpc_bytes: u64,
}

impl Summary {
    pub(crate) fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    fn json(&self, cfg: &Config) -> String {
        let total_calls = self.total_calls();
        let profile = match cfg.profile {
            Profile::Mixed => "mixed",
            Profile::Dense => "dense",
        };
        let by_t: Vec<String> = self
            .calls
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        let by_k: Vec<String> = self
            .kind_bytes
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!(
            "{{\n  \"profile\": \"{profile}\",\n  \"seed\": {},\n  \"concurrent_flows\": {},\n  \"bytes\": {},\n  \"packets\": {},\n  \"flows\": {},\n  \"duration_s\": {:.3},\n  \"calls\": {total_calls},\n  \"calls_by_transport\": {{{}}},\n  \"bytes_by_kind\": {{{}}},\n  \"dcerpc_byte_share\": {:.4},\n  \"calls_per_mb\": {:.1}\n}}\n",
            cfg.seed,
            cfg.flows,
            self.bytes,
            self.packets,
            self.flows,
            self.duration_us as f64 / 1e6,
            by_t.join(", "),
            by_k.join(", "),
            self.rpc_bytes as f64 / self.bytes as f64,
            total_calls as f64 / (self.bytes as f64 / 1e6),
        )
    }
}

/// Write the capture `cfg.out` describes.
pub(crate) fn generate(cfg: &Config) -> std::io::Result<Summary> {
    let file = File::create(&cfg.out)?;
    let mut out = Out {
        w: BufWriter::with_capacity(1 << 20, file),
        bytes: 24,
        packets: 0,
        frame: Vec::with_capacity(2048),
    };
    out.w.write_all(&pcap_header(262_144))?;

    let mut g = Gen {
        rng: Rng::new(cfg.seed ^ 0x5eed_c0de),
        started: 0,
        written: BTreeMap::new(),
        inflight: BTreeMap::new(),
        profile: cfg.profile,
    };
    let fill = Rng::new(cfg.seed.wrapping_add(7)).bytes(FILL_LEN);

    let mut active: Vec<Flow> = (0..cfg.flows.max(1)).map(|_| g.new_flow()).collect();
    let mut payload = Vec::with_capacity(MSS);
    let mut calls: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut stopping = false;
    let mut t_us: u64 = 100_000;
    let mut finished = 0u64;
    let mut next_check = 0u64;
    while !active.is_empty() {
        if !stopping && out.bytes >= next_check {
            next_check = out.bytes + (256 << 10);
            let pending: u64 = active.iter().map(|f| f.unit_remaining() as u64 + 300).sum();
            if out.bytes + pending >= cfg.size {
                stopping = true;
                for f in active.iter_mut() {
                    f.stopping = true;
                }
            }
        }
        let i = g.rng.range(0, active.len() as u64 - 1) as usize;
        let f = &mut active[i];
        // Bulk flows send a window's worth of segments when their turn comes.
        let burst = if matches!(f.kind, Kind::Http | Kind::Tls | Kind::SmbFile) {
            BULK_BURST
        } else {
            1
        };
        for _ in 0..burst {
            match f.next(&fill, &mut payload) {
                Some(p) => {
                    let n = out.packet(f, &p, &payload, t_us)? as u64;
                    *g.written.entry(f.kind).or_default() += n;
                    let d = n.min(f.est_left);
                    f.est_left -= d;
                    if let Some(v) = g.inflight.get_mut(&f.kind) {
                        *v = v.saturating_sub(d);
                    }
                    if let Some(t) = p.call {
                        *calls.entry(t).or_default() += 1;
                    }
                    // About 1 Gbit/s on the wire plus a little jitter.
                    t_us += 1 + (n * 8) / 1000 + (g.rng.next() >> 62);
                }
                None => {
                    finished += 1;
                    if let Some(v) = g.inflight.get_mut(&f.kind) {
                        *v = v.saturating_sub(f.est_left);
                    }
                    if stopping {
                        active.swap_remove(i);
                    } else {
                        active[i] = g.new_flow();
                    }
                    break;
                }
            }
        }
    }
    let kind_bytes = g.written;
    out.w.flush()?;
    Ok(Summary {
        bytes: out.bytes,
        packets: out.packets,
        flows: finished,
        duration_us: t_us - 100_000,
        calls,
        rpc_bytes: kind_bytes
            .iter()
            .filter(|(k, _)| k.is_rpc())
            .map(|(_, v)| v)
            .sum(),
        kind_bytes: kind_bytes.into_iter().map(|(k, v)| (k.name(), v)).collect(),
    })
}

fn main() -> std::io::Result<()> {
    let cfg = parse_args();
    let sum = generate(&cfg)?;
    let json = sum.json(&cfg);
    let mut side = cfg.out.clone().into_os_string();
    side.push(".calls.json");
    std::fs::write(&side, &json)?;
    eprint!("{json}");
    Ok(())
}
