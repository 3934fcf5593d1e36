//! Deterministic generator of the synthetic DCE-RPC captures in `captures/`
//! and of their ground truth (`NAME.expected.tsv`).
//!
//! ```text
//! cargo run --example make_captures -- OUTDIR
//! ```
//!
//! This program is an independent oracle: it uses only `std`, never the
//! `rpcsift` library, no randomness (a fixed-seed xorshift fills opaque
//! bytes) and fixed timestamps, so its output is byte-for-byte reproducible.
//! `tests/captures_fresh.rs` checks that the committed files still match.
//!
//! Wire formats follow DCE 1.1 (C706) chapter 12 and MS-RPCE 2.2.2:
//! connection-oriented PDUs over plain TCP or inside SMB2/SMB3 named pipes
//! (MS-SMB2 2.2, direct TCP on 445), in classic PCAP files
//! (LINKTYPE_ETHERNET, microsecond timestamps, little-endian header).
//! Over SMB a PDU is complete when the SMB message carrying its last byte is.
//!
//! Ground-truth rules (also documented in captures/README.md):
//! * a PDU is *complete* at the first captured packet after which every one
//!   of its bytes has been seen in the capture (union of captured TCP
//!   payload ranges); a call's request time is the completion time of its
//!   last-completing request fragment, its response time likewise;
//! * a call whose request has a byte never captured is not reported;
//! * rows are sorted by request time, then connection (client ip, client
//!   port, server ip, server port, numerically), then stream order.

use std::fs;
use std::path::Path;

#[path = "common/mod.rs"]
mod common;
use common::*;

#[path = "attack_scenarios/mod.rs"]
mod attack;

// ---------------------------------------------------------------------------
// constants

/// Default gap between two consecutive packets (µs).
const STEP: u64 = 80;
/// Stub bytes per fragment when a max fragment size of 1432 is negotiated
/// (1432 - 24-byte request/response header, rounded down to a multiple of 8).
const FRAG_STUB: usize = 1408;

const RPC_C_AUTHN_WINNT: u8 = 10;
const RPC_C_AUTHN_LEVEL_PKT_PRIVACY: u8 = 6;

const STATUS_ACCESS_DENIED: u32 = 0x0000_0005;
const NCA_S_OP_RNG_ERROR: u32 = 0x1c01_0002;

// ---------------------------------------------------------------------------
// interfaces and their Zeek names (scripts/base/protocols/dce-rpc/consts.zeek)

struct Iface {
    uuid: &'static str,
    /// Zeek endpoint name; `None` = not in Zeek's table.
    name: Option<&'static str>,
    ver: (u16, u16),
    ops: &'static [(u16, &'static str)],
}

static EPM: Iface = Iface {
    uuid: "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
    name: Some("epmapper"),
    ver: (3, 0),
    ops: &[(2, "ept_lookup"), (3, "ept_map")],
};
static SVCCTL: Iface = Iface {
    uuid: "367abb81-9844-35f1-ad32-98f038001003",
    name: Some("svcctl"),
    ver: (2, 0),
    ops: &[
        (0, "CloseServiceHandle"),
        (12, "CreateServiceW"),
        (15, "OpenSCManagerW"),
        (16, "OpenServiceW"),
        (19, "StartServiceW"),
    ],
};
static ATSVC: Iface = Iface {
    uuid: "1ff70682-0a51-30e8-076d-740be8cee98b",
    name: Some("atsvc"),
    ver: (1, 0),
    ops: &[(0, "NetrJobAdd")],
};
static TSCH: Iface = Iface {
    uuid: "86d35949-83c9-4044-b424-db363231fd0c",
    name: Some("ITaskSchedulerService"),
    ver: (1, 0),
    ops: &[
        (1, "SchRpcRegisterTask"),
        (2, "SchRpcRetrieveTask"),
        (12, "SchRpcRun"),
        (13, "SchRpcDelete"),
        (16, "SchRpcGetLastRunInfo"),
        (19, "SchRpcEnableTask"),
    ],
};
static SRVSVC: Iface = Iface {
    uuid: "4b324fc8-1670-01d3-1278-5a47bf6ee188",
    name: Some("srvsvc"),
    ver: (3, 0),
    ops: &[(15, "NetrShareEnum")],
};
/// DCOM interfaces are version 0.0.
static WBEM: Iface = Iface {
    uuid: "9556dc99-828c-11cf-a37e-00aa003240c7",
    name: Some("IWbemServices"),
    ver: (0, 0),
    ops: &[(6, "GetObject"), (24, "ExecMethod")],
};
static REM_UNKNOWN2: Iface = Iface {
    uuid: "00000143-0000-0000-c000-000000000046",
    name: Some("IRemUnknown2"),
    ver: (0, 0),
    ops: &[(5, "RemRelease")],
};
static UNKNOWN: Iface = Iface {
    uuid: "01234567-89ab-cdef-0123-456789abcdef",
    name: None,
    ver: (1, 0),
    ops: &[],
};

impl Iface {
    fn syn(&self) -> Syn {
        Syn {
            uuid: self.uuid,
            ver: self.ver,
        }
    }
}

/// (uuid, endpoint, operation) as the ground truth reports them.
fn names(iface: Option<&Iface>, opnum: u16) -> (String, String, String) {
    match iface {
        None => ("-".into(), "-".into(), "-".into()),
        Some(i) => {
            let ep = match i.name {
                Some(n) => n.to_string(),
                None => format!("unknown-{}", i.uuid),
            };
            let op = match i.ops.iter().find(|(n, _)| *n == opnum) {
                Some((_, s)) => s.to_string(),
                None => format!("unknown-{}", opnum),
            };
            (i.uuid.to_string(), ep, op)
        }
    }
}

// ---------------------------------------------------------------------------
// opaque values

impl Rng {
    fn uuid_string(&mut self) -> String {
        let b = self.bytes(16);
        let h: Vec<String> = b.iter().map(|x| format!("{:02x}", x)).collect();
        format!(
            "{}-{}-{}-{}-{}",
            h[0..4].concat(),
            h[4..6].concat(),
            h[6..8].concat(),
            h[8..10].concat(),
            h[10..16].concat()
        )
    }
    /// Base64-looking text (as in `powershell -enc ...`).
    fn b64ish(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s: String = (0..n - 2)
            .map(|_| A[(self.next() >> 58) as usize] as char)
            .collect();
        s.push_str("A=");
        s
    }
}

// ---------------------------------------------------------------------------
// the simulated world: connections, streams, calls, the pcap being written

#[derive(Clone, Copy, PartialEq)]
enum Tag {
    Other,
    Req(usize),
    Resp(usize),
    Fault(usize),
}

struct Pdu {
    start: usize,
    end: usize,
    tag: Tag,
    done: Option<u64>,
}

struct Stream {
    isn: u32,
    data: Vec<u8>,
    snd_nxt: usize,
    delivered: Vec<(usize, usize)>,
    captured: Vec<(usize, usize)>,
    fin: bool,
    pdus: Vec<Pdu>,
}

impl Stream {
    fn new(isn: u32) -> Stream {
        Stream {
            isn,
            data: Vec::new(),
            snd_nxt: 0,
            delivered: Vec::new(),
            captured: Vec::new(),
            fin: false,
            pdus: Vec::new(),
        }
    }
    fn seq_at(&self, off: usize) -> u32 {
        self.isn.wrapping_add(1).wrapping_add(off as u32)
    }
}

/// Does the union of `ranges` cover [s, e)?
fn covered(ranges: &[(usize, usize)], s: usize, e: usize) -> bool {
    reach(ranges, s) >= e
}

/// End of the contiguous run of `ranges` starting at `from`.
fn reach(ranges: &[(usize, usize)], from: usize) -> usize {
    let mut pos = from;
    loop {
        match ranges
            .iter()
            .filter(|r| r.0 <= pos && r.1 > pos)
            .map(|r| r.1)
            .max()
        {
            Some(e) => pos = e,
            None => return pos,
        }
    }
}

struct Conn {
    h: [Host; 2],
    st: [Stream; 2],
    le: bool,
    ctx: Vec<(u16, &'static Iface)>,
    named_pipe: Option<String>,
    /// Set when this connection carries DCE-RPC in SMB2 named pipes.
    smb: Option<Smb>,
}

/// SMB2 state of a connection: DCE-RPC PDUs wait in `outbox` until an SMB
/// message (WRITE, READ response, IOCTL) carries them.
struct Smb {
    msg_id: u64,
    session: u64,
    tree: u32,
    /// Set the SIGNED flag (with an opaque signature) on every message.
    signed: bool,
    outbox: [Vec<(Vec<u8>, Tag)>; 2],
}

struct Call {
    conn: usize,
    call_id: u32,
    ctx: u16,
    opnum: u16,
    uuid: String,
    endpoint: String,
    operation: String,
    named_pipe: String,
    auth_level: String,
    /// Stub bytes per fragment, for the response too.
    frag: usize,
}

struct World {
    pcap: Vec<u8>,
    t: u64,
    conns: Vec<Conn>,
    calls: Vec<Call>,
    ip_ids: Vec<([u8; 4], u16)>,
    rng: Rng,
}

impl World {
    /// Scenario `n` starts at 2024-01-01 00:00:00 + n * 10 minutes + 0.1 s.
    fn new(n: u64) -> World {
        World {
            pcap: pcap_header(65535).to_vec(),
            t: (BASE_SECS + n * 600) * 1_000_000 + 100_000,
            conns: Vec::new(),
            calls: Vec::new(),
            ip_ids: Vec::new(),
            rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (n.wrapping_mul(0x1000_0001))),
        }
    }

    fn wait(&mut self, us: u64) {
        self.t += us;
    }

    fn conn(
        &mut self,
        cli: ([u8; 4], u16),
        srv: ([u8; 4], u16),
        isn_c: u32,
        isn_s: u32,
        le: bool,
    ) -> usize {
        self.conns.push(Conn {
            h: [
                Host {
                    ip: cli.0,
                    port: cli.1,
                },
                Host {
                    ip: srv.0,
                    port: srv.1,
                },
            ],
            st: [Stream::new(isn_c), Stream::new(isn_s)],
            le,
            ctx: Vec::new(),
            named_pipe: None,
            smb: None,
        });
        self.conns.len() - 1
    }

    fn next_ip_id(&mut self, ip: [u8; 4]) -> u16 {
        if let Some(e) = self.ip_ids.iter_mut().find(|e| e.0 == ip) {
            e.1 = e.1.wrapping_add(1);
            return e.1;
        }
        let first = u16::from_be_bytes([ip[2], ip[3]])
            .wrapping_mul(97)
            .wrapping_add(0x1234);
        self.ip_ids.push((ip, first));
        first
    }

    #[allow(clippy::too_many_arguments)]
    fn raw(
        &mut self,
        c: usize,
        dir: usize,
        seq: u32,
        ack: u32,
        flags: u8,
        opts: &[u8],
        payload: &[u8],
        captured: bool,
    ) {
        let src = self.conns[c].h[dir];
        let dst = self.conns[c].h[1 - dir];
        let id = self.next_ip_id(src.ip);
        let mut frame = Vec::new();
        Segment {
            src,
            dst,
            ip_id: id,
            seq,
            ack,
            flags,
            window: if flags & TH_SYN != 0 { 64240 } else { 1026 },
            opts,
            payload,
        }
        .write_frame(&mut frame);
        if captured {
            self.pcap
                .extend_from_slice(&pcap_record(self.t, frame.len()));
            self.pcap.extend_from_slice(&frame);
        }
        self.t += STEP;
    }

    /// ACK number a packet from `dir` carries: what it has received in order.
    fn ack_for(&self, c: usize, dir: usize) -> u32 {
        let o = &self.conns[c].st[1 - dir];
        o.seq_at(reach(&o.delivered, 0)).wrapping_add(o.fin as u32)
    }

    /// Put the stream bytes [start, end) of direction `dir` on the wire.
    /// `captured == false` models a capture drop: the peer gets the bytes
    /// (and ACKs them) but the pcap never sees them.
    fn emit(&mut self, c: usize, dir: usize, start: usize, end: usize, flags: u8, captured: bool) {
        let seq = self.conns[c].st[dir].seq_at(start);
        let ack = self.ack_for(c, dir);
        let payload = self.conns[c].st[dir].data[start..end].to_vec();
        let now = self.t;
        self.raw(c, dir, seq, ack, flags, &[], &payload, captured);
        let st = &mut self.conns[c].st[dir];
        st.delivered.push((start, end));
        st.snd_nxt = st.snd_nxt.max(end);
        if captured {
            st.captured.push((start, end));
            let Stream { captured, pdus, .. } = st;
            for p in pdus.iter_mut() {
                if p.done.is_none() && covered(captured, p.start, p.end) {
                    p.done = Some(now);
                }
            }
        }
    }

    /// Send everything queued and unsent, in MSS-sized segments.
    fn send(&mut self, c: usize, dir: usize) {
        loop {
            let st = &self.conns[c].st[dir];
            let (start, total) = (st.snd_nxt, st.data.len());
            if start >= total {
                break;
            }
            let end = (start + MSS).min(total);
            let flags = if end == total {
                TH_PSH | TH_ACK
            } else {
                TH_ACK
            };
            self.emit(c, dir, start, end, flags, true);
        }
    }

    /// Send the next `n` queued bytes as one segment.
    fn send_n(&mut self, c: usize, dir: usize, n: usize) {
        let st = &self.conns[c].st[dir];
        let start = st.snd_nxt;
        let end = start + n;
        assert!(end <= st.data.len());
        let flags = if end == st.data.len() {
            TH_PSH | TH_ACK
        } else {
            TH_ACK
        };
        self.emit(c, dir, start, end, flags, true);
    }

    fn handshake(&mut self, c: usize) {
        let opts = [2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2]; // MSS 1460, WS 8, SACK ok
        let isn_c = self.conns[c].st[C].isn;
        let isn_s = self.conns[c].st[S].isn;
        self.raw(c, C, isn_c, 0, TH_SYN, &opts, &[], true);
        self.wait(212);
        let ack = self.ack_for(c, S);
        self.raw(c, S, isn_s, ack, TH_SYN | TH_ACK, &opts, &[], true);
        self.wait(35);
        let ack = self.ack_for(c, C);
        self.raw(c, C, isn_c.wrapping_add(1), ack, TH_ACK, &[], &[], true);
    }

    fn next_seq(&self, c: usize, dir: usize) -> u32 {
        let st = &self.conns[c].st[dir];
        st.seq_at(st.snd_nxt).wrapping_add(st.fin as u32)
    }

    /// A segment with no payload and `flags`, at the next sequence number.
    fn control(&mut self, c: usize, dir: usize, flags: u8) {
        let seq = self.next_seq(c, dir);
        let ack = self.ack_for(c, dir);
        self.raw(c, dir, seq, ack, flags, &[], &[], true);
    }

    fn ack(&mut self, c: usize, dir: usize) {
        self.control(c, dir, TH_ACK);
    }

    fn fin(&mut self, c: usize, dir: usize) {
        self.control(c, dir, TH_FIN | TH_ACK);
        self.conns[c].st[dir].fin = true;
    }

    /// FIN from the client, FIN from the server, last ACK from the client.
    fn close(&mut self, c: usize) {
        self.fin(c, C);
        self.wait(190);
        self.fin(c, S);
        self.wait(45);
        self.ack(c, C);
    }

    fn rst(&mut self, c: usize, dir: usize) {
        self.control(c, dir, TH_RST | TH_ACK);
    }

    /// Queue a DCE-RPC PDU: on the wire, or (SMB connection) in the outbox.
    fn queue(&mut self, c: usize, dir: usize, bytes: Vec<u8>, tag: Tag) {
        if let Some(smb) = &mut self.conns[c].smb {
            smb.outbox[dir].push((bytes, tag));
            return;
        }
        self.queue_wire(c, dir, bytes, &[tag]);
    }

    /// Queue bytes on the wire; every tag in `tags` is complete when all of
    /// them are.
    fn queue_wire(&mut self, c: usize, dir: usize, bytes: Vec<u8>, tags: &[Tag]) {
        let st = &mut self.conns[c].st[dir];
        let start = st.data.len();
        st.data.extend_from_slice(&bytes);
        let tags = if tags.is_empty() {
            &[Tag::Other][..]
        } else {
            tags
        };
        for &tag in tags {
            st.pdus.push(Pdu {
                start,
                end: st.data.len(),
                tag,
                done: None,
            });
        }
    }

    // --- DCE-RPC level -----------------------------------------------------

    /// bind (ptype 11) or alter_context (ptype 14), queued client->server.
    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        c: usize,
        ptype: u8,
        call_id: u32,
        max_frag: u16,
        assoc: u32,
        ctxs: &[(u16, &Iface, &[Syn])],
        auth: Option<&Auth>,
    ) {
        let le = self.conns[c].le;
        let ctxs: Vec<(u16, Syn, &[Syn])> =
            ctxs.iter().map(|(id, i, ts)| (*id, i.syn(), *ts)).collect();
        let body = bind_body(le, max_frag, max_frag, assoc, &ctxs);
        let p = pdu(le, ptype, PFC_FIRST | PFC_LAST, call_id, &body, auth);
        self.queue(c, C, p, Tag::Other);
    }

    /// bind_ack (12) or alter_context_resp (15), queued server->client.
    /// `results`: (p_cont_id, interface, result, reason); accepted contexts
    /// become usable, a bind_ack's sec_addr becomes the named_pipe.
    #[allow(clippy::too_many_arguments)]
    fn bind_ack(
        &mut self,
        c: usize,
        ptype: u8,
        call_id: u32,
        max_frag: u16,
        assoc: u32,
        sec_addr: &str,
        results: &[(u16, &'static Iface, u16, u16)],
        auth: Option<&Auth>,
    ) {
        let le = self.conns[c].le;
        let res: Vec<(u16, u16, Option<Syn>)> = results
            .iter()
            .map(|(_, _, r, why)| (*r, *why, if *r == 0 { Some(NDR) } else { None }))
            .collect();
        let body = ack_body(le, max_frag, max_frag, assoc, sec_addr, &res);
        let p = pdu(le, ptype, PFC_FIRST | PFC_LAST, call_id, &body, auth);
        self.queue(c, S, p, Tag::Other);
        let conn = &mut self.conns[c];
        for (id, iface, r, _) in results {
            if *r == 0 {
                conn.ctx.retain(|(i, _)| i != id);
                conn.ctx.push((*id, *iface));
            }
        }
        if ptype == PT_BIND_ACK {
            conn.named_pipe = Some(sec_addr.to_string());
        }
    }

    /// Queue a request on connection `c`; returns the call's index.
    fn request(&mut self, c: usize, r: Req) -> usize {
        let le = self.conns[c].le;
        let iface = self.conns[c]
            .ctx
            .iter()
            .find(|(i, _)| *i == r.ctx)
            .map(|(_, f)| *f);
        let (uuid, endpoint, operation) = names(iface, r.opnum);
        let idx = self.calls.len();
        self.calls.push(Call {
            conn: c,
            call_id: r.call_id,
            ctx: r.ctx,
            opnum: r.opnum,
            uuid,
            endpoint,
            operation,
            named_pipe: self.conns[c]
                .named_pipe
                .clone()
                .unwrap_or_else(|| "-".into()),
            auth_level: r
                .auth
                .map(|a| a.level.to_string())
                .unwrap_or_else(|| "-".into()),
            frag: r.frag,
        });
        for p in request_pdus(le, &r) {
            self.queue(c, C, p, Tag::Req(idx));
        }
        idx
    }

    /// Queue the response to call `k`, fragmented as its request.
    fn response(&mut self, k: usize, stub: &[u8], auth: Option<&Auth>) {
        let call = &self.calls[k];
        let (c, call_id, ctx, frag) = (call.conn, call.call_id, call.ctx, call.frag);
        for p in response_pdus(self.conns[c].le, call_id, ctx, stub, frag, auth) {
            self.queue(c, S, p, Tag::Resp(k));
        }
    }

    /// A whole call over TCP, with no auth verifier: the request sent, `wait` µs, the
    /// response sent. Returns the call's index.
    fn call(&mut self, c: usize, r: Req, wait: u64, resp: &[u8]) -> usize {
        assert!(r.auth.is_none(), "a sealed response needs its own verifier");
        let k = self.request(c, r);
        self.send(c, C);
        self.wait(wait);
        self.response(k, resp, None);
        self.send(c, S);
        k
    }

    /// A call sealed with NTLM packet privacy (auth context 1) on connection `c`, as `r`
    /// says but for its stub and verifier: `sizes` bytes of ciphertext as the request and
    /// response stubs, each with an NTLMSSP signature of sequence number `seq`; the request
    /// sent, `wait` µs, the response sent.
    fn sealed_call(&mut self, c: usize, r: Req, sizes: [usize; 2], seq: u32, wait: u64) {
        let stub = self.rng.bytes(sizes[0]);
        let auth = privacy(ntlm_signature(&mut self.rng, seq));
        let k = self.request(c, Req { stub: &stub, ..r }.auth(&auth));
        self.send(c, C);
        self.wait(wait);
        let stub = self.rng.bytes(sizes[1]);
        let auth = privacy(ntlm_signature(&mut self.rng, seq));
        self.response(k, &stub, Some(&auth));
        self.send(c, S);
    }

    /// bind of `iface` alone as context 0 with NDR (call_id 1, no auth), queued.
    fn bind_ctx0(&mut self, c: usize, iface: &'static Iface, max_frag: u16) {
        self.bind(c, PT_BIND, 1, max_frag, 0, &[(0, iface, &[NDR])], None);
    }

    /// bind_ack accepting [`World::bind_ctx0`]'s context, queued.
    fn accept_ctx0(
        &mut self,
        c: usize,
        iface: &'static Iface,
        max_frag: u16,
        assoc: u32,
        sec_addr: &str,
    ) {
        let results = [(0, iface, 0, 0)];
        self.bind_ack(c, PT_BIND_ACK, 1, max_frag, assoc, sec_addr, &results, None);
    }

    /// [`World::bind_ctx0`] sent over TCP, `wait` µs, then its bind_ack sent.
    fn bind_tcp(
        &mut self,
        c: usize,
        iface: &'static Iface,
        max_frag: u16,
        wait: u64,
        assoc: u32,
        sec_addr: &str,
    ) {
        self.bind_ctx0(c, iface, max_frag);
        self.send(c, C);
        self.wait(wait);
        self.accept_ctx0(c, iface, max_frag, assoc, sec_addr);
        self.send(c, S);
    }

    fn fault(&mut self, k: usize, status: u32, extra_flags: u8) {
        let (c, call_id, ctx) = (self.calls[k].conn, self.calls[k].call_id, self.calls[k].ctx);
        let le = self.conns[c].le;
        let mut b = Buf::new(le);
        b.u32(32); // alloc_hint
        b.u16(ctx);
        b.u8(0); // cancel_count
        b.u8(0); // reserved
        b.u32(status);
        b.u32(0); // reserved
        let p = pdu(
            le,
            PT_FAULT,
            PFC_FIRST | PFC_LAST | extra_flags,
            call_id,
            &b.b,
            None,
        );
        self.queue(c, S, p, Tag::Fault(k));
    }

    /// A response to a call whose request is not in the capture.
    fn orphan_response(&mut self, c: usize, call_id: u32, ctx: u16, stub: &[u8]) {
        for p in response_pdus(self.conns[c].le, call_id, ctx, stub, usize::MAX, None) {
            self.queue(c, S, p, Tag::Other);
        }
    }

    fn auth3(&mut self, c: usize, call_id: u32, auth: &Auth) {
        let le = self.conns[c].le;
        let p = pdu(
            le,
            PT_AUTH3,
            PFC_FIRST | PFC_LAST,
            call_id,
            &[0, 0, 0, 0],
            Some(auth),
        );
        self.queue(c, C, p, Tag::Other);
    }

    /// Compute the ground truth and return (pcap bytes, expected TSV).
    fn finish(self) -> (Vec<u8>, String) {
        let n = self.calls.len();
        let mut req_t: Vec<Option<u64>> = vec![None; n];
        let mut req_lost = vec![false; n];
        let mut resp_t: Vec<Option<u64>> = vec![None; n];
        let mut resp_lost = vec![false; n];
        let mut faulted = vec![false; n];
        for conn in &self.conns {
            for st in &conn.st {
                for p in &st.pdus {
                    let (k, is_req) = match p.tag {
                        Tag::Other => continue,
                        Tag::Req(k) => (k, true),
                        Tag::Resp(k) => (k, false),
                        Tag::Fault(k) => {
                            faulted[k] = true;
                            (k, false)
                        }
                    };
                    let (t, lost) = if is_req {
                        (&mut req_t, &mut req_lost)
                    } else {
                        (&mut resp_t, &mut resp_lost)
                    };
                    match p.done {
                        Some(d) => t[k] = Some(t[k].map_or(d, |x| x.max(d))),
                        None => lost[k] = true,
                    }
                }
            }
        }
        let ip_str = |ip: [u8; 4]| format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
        let ts_str = |us: u64| format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
        let mut rows: Vec<(RowKey, String)> = Vec::new();
        for (k, call) in self.calls.iter().enumerate() {
            let t = match (req_t[k], req_lost[k]) {
                (Some(t), false) => t,
                _ => continue, // request never fully captured: not reported
            };
            let (status, rtt) = match (resp_t[k], resp_lost[k]) {
                (Some(r), false) => {
                    assert!(r > t, "response before request");
                    (if faulted[k] { "fault" } else { "ok" }, ts_str(r - t))
                }
                _ => ("no_response", "-".to_string()),
            };
            let conn = &self.conns[call.conn];
            let (cl, sv) = (conn.h[C], conn.h[S]);
            let key = (
                t,
                u32::from_be_bytes(cl.ip),
                cl.port,
                u32::from_be_bytes(sv.ip),
                sv.port,
                k,
            );
            let line = [
                ts_str(t),
                ip_str(cl.ip),
                cl.port.to_string(),
                ip_str(sv.ip),
                sv.port.to_string(),
                call.call_id.to_string(),
                call.uuid.clone(),
                call.opnum.to_string(),
                call.endpoint.clone(),
                call.operation.clone(),
                status.to_string(),
                rtt,
                call.named_pipe.clone(),
                call.auth_level.clone(),
            ]
            .join("\t");
            rows.push((key, line));
        }
        rows.sort_by_key(|r| r.0);
        let mut tsv = String::from(
            "ts\torig_h\torig_p\tresp_h\tresp_p\tcall_id\tuuid\topnum\tendpoint\toperation\tstatus\trtt\tnamed_pipe\tauth_level\n",
        );
        for (_, l) in rows {
            tsv.push_str(&l);
            tsv.push('\n');
        }
        (self.pcap, tsv)
    }
}

/// Sort key of a ground-truth row: request time, client ip, client port,
/// server ip, server port, call creation order (= stream order).
type RowKey = (u64, u32, u16, u32, u16, usize);

// ---------------------------------------------------------------------------
// stubs (NDR, in the connection's byte order)

fn st_open_scm(le: bool, machine: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(0x0002_0000); // lpMachineName (unique)
    w.wstr(machine);
    w.u32(0x0002_0004); // lpDatabaseName (unique)
    w.wstr("ServicesActive");
    w.u32(0x000f_003f); // SC_MANAGER_ALL_ACCESS
    w.b
}

fn st_handle_status(le: bool, h: &[u8; 20], status: u32) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.bytes(h);
    w.u32(status);
    w.b
}

fn st_handle(h: &[u8; 20]) -> Vec<u8> {
    h.to_vec()
}

fn st_status(le: bool, status: u32) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(status);
    w.b
}

/// RCreateServiceW (MS-SCMR 3.1.4.12).
fn st_create_service(le: bool, h: &[u8; 20], name: &str, display: &str, path: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.bytes(h); // hSCManager
    w.wstr(name); // lpServiceName ([in, string] ref)
    w.u32(0x0002_0000); // lpDisplayName (unique)
    w.wstr(display);
    w.u32(0x000f_01ff); // dwDesiredAccess SERVICE_ALL_ACCESS
    w.u32(0x0000_0010); // dwServiceType SERVICE_WIN32_OWN_PROCESS
    w.u32(0x0000_0003); // dwStartType SERVICE_DEMAND_START
    w.u32(0x0000_0000); // dwErrorControl SERVICE_ERROR_IGNORE
    w.wstr(path); // lpBinaryPathName ([in, string] ref)
    w.u32(0); // lpLoadOrderGroup
    w.u32(0); // lpdwTagId
    w.u32(0); // lpDependencies
    w.u32(0); // dwDependSize
    w.u32(0); // lpServiceStartName
    w.u32(0); // lpPassword
    w.u32(0); // dwPwSize
    w.b
}

fn st_create_service_resp(le: bool, h: &[u8; 20]) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(0); // lpdwTagId (null)
    w.bytes(h); // lpServiceHandle
    w.u32(0); // ERROR_SUCCESS
    w.b
}

/// RStartServiceW: hService, argc 0, argv null.
fn st_start_service(le: bool, h: &[u8; 20]) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.bytes(h);
    w.u32(0);
    w.u32(0);
    w.b
}

fn st_close_resp(le: bool) -> Vec<u8> {
    st_handle_status(le, &[0u8; 20], 0)
}

fn put_tower(w: &mut Buf, t: &[u8]) {
    w.u32(t.len() as u32); // conformance (max_count)
    w.u32(t.len() as u32); // tower_length
    w.bytes(t);
}

/// ept_map request (C706 appendix O): object, map_tower, entry_handle, max_towers.
fn st_ept_map(le: bool, t: &[u8]) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(1); // object: referent
    w.uuid("00000000-0000-0000-0000-000000000000");
    w.u32(2); // map_tower: referent
    put_tower(&mut w, t);
    w.align(4);
    w.bytes(&[0u8; 20]); // entry_handle
    w.u32(4); // max_towers
    w.b
}

fn st_ept_map_resp(le: bool, t: &[u8]) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.bytes(&[0u8; 20]); // entry_handle
    w.u32(1); // num_towers
    w.u32(4); // towers: max_count
    w.u32(0); // offset
    w.u32(1); // actual_count
    w.u32(3); // referent
    put_tower(&mut w, t);
    w.u32(0); // status
    w.b
}

fn st_ept_lookup(le: bool) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(0); // inquiry_type RPC_C_EP_ALL_ELTS
    w.u32(1); // object: referent
    w.uuid("00000000-0000-0000-0000-000000000000");
    w.u32(2); // Ifid: referent
    w.uuid("00000000-0000-0000-0000-000000000000");
    w.u16(0);
    w.u16(0);
    w.u32(1); // vers_option RPC_C_VERS_ALL
    w.bytes(&[0u8; 20]); // entry_handle
    w.u32(500); // max_ents
    w.b
}

/// Endpoint-map entries (uuid, version, port, annotation).
const EPT_ENTRIES: &[(&str, (u16, u16), u16, &str)] = &[
    ("367abb81-9844-35f1-ad32-98f038001003", (2, 0), 49667, ""),
    ("1ff70682-0a51-30e8-076d-740be8cee98b", (1, 0), 49670, ""),
    ("86d35949-83c9-4044-b424-db363231fd0c", (1, 0), 49671, ""),
    ("12345778-1234-abcd-ef00-0123456789ac", (1, 0), 49664, ""),
    ("12345778-1234-abcd-ef00-0123456789ab", (0, 0), 49664, ""),
    (
        "b25a52bf-e5dd-4f4a-aea6-8ca7272a0e86",
        (2, 0),
        49664,
        "KeyIso",
    ),
    ("76f03f96-cdfd-44fc-a22c-64950a001209", (1, 0), 49668, ""),
    ("0b6edbfa-4a24-4fc6-8a23-942b1eca65d1", (1, 0), 49668, ""),
    ("ae33069b-a2a8-46ee-a235-ddfd339be281", (1, 0), 49668, ""),
    (
        "f6beaff7-1e19-4fbb-9f8f-b89e2018337c",
        (1, 0),
        49665,
        "Event log TCPIP",
    ),
    (
        "3473dd4d-2e88-4006-9cba-22570909dd10",
        (5, 256),
        49666,
        "WinHttp Auto-Proxy Service",
    ),
    (
        "30adc50c-5cbc-46ce-9a0e-91914789e23c",
        (1, 0),
        49665,
        "NRP server endpoint",
    ),
    ("d95afe70-a6d5-4259-822e-2c84da1ddb0d", (1, 0), 49665, ""),
    (
        "12345678-1234-abcd-ef00-01234567cffb",
        (1, 0),
        49664,
        "Netlogon",
    ),
    (
        "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
        (4, 0),
        49664,
        "MS NT Directory DRS Interface",
    ),
    (
        "50abc2a4-574d-40b3-9d66-ee4fd5fba076",
        (5, 0),
        49669,
        "DNS Server",
    ),
];

/// ept_lookup response with the first `n` entries of EPT_ENTRIES.
fn st_ept_lookup_resp(le: bool, n: usize, ip: [u8; 4], more: bool) -> Vec<u8> {
    let ents = &EPT_ENTRIES[..n];
    let mut w = Buf::new(le);
    let mut h = [0u8; 20];
    if more {
        h[4] = 0x5e;
        h[8] = 0x01;
        h[19] = 0x07;
    }
    w.bytes(&h); // entry_handle
    w.u32(ents.len() as u32); // num_ents
    w.u32(500); // entries: max_count
    w.u32(0); // offset
    w.u32(ents.len() as u32); // actual_count
    for (i, (_, _, _, annot)) in ents.iter().enumerate() {
        w.uuid("00000000-0000-0000-0000-000000000000"); // object
        w.u32(3 + i as u32); // tower referent
        w.u32(0); // annotation: offset
        w.u32(annot.len() as u32 + 1); // actual_count
        w.bytes(annot.as_bytes());
        w.u8(0);
    }
    for (uuid, ver, port, _) in ents.iter() {
        w.align(4);
        put_tower(&mut w, &tower(Syn { uuid, ver: *ver }, *port, ip));
    }
    w.u32(if more { 0 } else { 0x16c9_a0d6 }); // status (EPT_S_NOT_REGISTERED at the end)
    w.b
}

/// NetrJobAdd (MS-TSCH 3.2.5.2.1).
fn st_netr_job_add(le: bool, server: &str, command: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(0x0002_0000); // Servername (unique)
    w.wstr(server);
    w.u32(49_020_000); // AT_INFO.JobTime: 13:37 in ms after midnight
    w.u32(0); // DaysOfMonth
    w.u8(0); // DaysOfWeek
    w.u8(0); // Flags
    w.u32(0x0002_0004); // Command (unique)
    w.wstr(command);
    w.b
}

fn st_netr_job_add_resp(le: bool, job_id: u32) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(job_id);
    w.u32(0);
    w.b
}

/// SchRpcRegisterTask (MS-TSCH 3.2.5.4.2).
fn st_sch_register(le: bool, path: &str, xml: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(0x0002_0000); // path (unique)
    w.wstr(path);
    w.wstr(xml); // xml ([in, string] ref)
    w.u32(6); // flags TASK_CREATE_OR_UPDATE
    w.u32(0); // sddl (null)
    w.u32(3); // logonType TASK_LOGON_INTERACTIVE_TOKEN
    w.u32(0); // cCreds
    w.u32(0); // pCreds (null)
    w.b
}

fn st_sch_register_resp(le: bool, path: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(0x0002_0000); // pActualPath
    w.wstr(path);
    w.u32(0); // pErrorInfo (null)
    w.u32(0); // S_OK
    w.b
}

/// SchRpcRun (MS-TSCH 3.2.5.4.13).
fn st_sch_run(le: bool, path: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.wstr(path);
    w.u32(0); // cArgs
    w.u32(0); // pArgs (null)
    w.u32(0); // flags
    w.u32(0); // sessionId
    w.u32(0); // user (null)
    w.b
}

fn st_sch_run_resp(le: bool, guid: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.uuid(guid);
    w.u32(0);
    w.b
}

/// SchRpcEnableTask (MS-TSCH 3.2.5.4.19).
fn st_sch_enable(le: bool, path: &str, enabled: bool) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.wstr(path);
    w.u32(enabled as u32);
    w.b
}

/// SchRpcRetrieveTask (MS-TSCH 3.2.5.4.3): path, languages, *pulNumLanguages.
fn st_sch_retrieve(le: bool, path: &str, languages: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.wstr(path);
    w.wstr(languages);
    w.u32(1);
    w.b
}

fn st_sch_retrieve_resp(le: bool, xml: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.u32(0x0002_0000); // pXml
    w.wstr(xml);
    w.u32(0); // S_OK
    w.b
}

/// SchRpcGetLastRunInfo (MS-TSCH 3.2.5.4.16) or SchRpcDelete (3.2.5.4.14, with `flags`).
fn st_sch_path(le: bool, path: &str, flags: Option<u32>) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.wstr(path);
    if let Some(f) = flags {
        w.u32(f);
    }
    w.b
}

/// SchRpcGetLastRunInfo response: SYSTEMTIME, last return code, HRESULT.
fn st_sch_last_run_resp(le: bool, time: [u16; 8], code: u32) -> Vec<u8> {
    let mut w = Buf::new(le);
    for v in time {
        w.u16(v);
    }
    w.u32(code);
    w.u32(0);
    w.b
}

/// ROpenServiceW (MS-SCMR 3.1.4.16).
fn st_open_service(le: bool, scm: &[u8; 20], name: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    w.bytes(scm);
    w.wstr(name);
    w.u32(0x000f_01ff); // SERVICE_ALL_ACCESS
    w.b
}

// ---------------------------------------------------------------------------
// DCOM (MS-DCOM 2.2) and WMI (MS-WMI 3.1.4.3, MS-WMIO 2.2)

/// IID_IWbemClassObject: the interface of every object a WMI call passes.
const IID_WBEM_CLASS_OBJECT: &str = "dc12a681-737f-11cf-884d-00aa004b2e24";
/// CLSID_WbemClassObject: the custom marshaler of WMI objects (OBJREF_CUSTOM).
const CLSID_WBEM_CLASS_OBJECT: &str = "4590f812-1d3a-11d0-891f-00aa004b2e24";
const CIM_STRING: u32 = 8;
const CIM_OBJECT: u32 = 13;
const CIM_UINT32: u32 = 19;

/// ORPCTHIS: COMVERSION 5.7, no flags, causality id `cid`, no extensions.
fn orpcthis(w: &mut Buf, cid: &str) {
    w.u16(5);
    w.u16(7);
    w.u32(0); // flags ORPCF_NULL
    w.u32(0); // reserved1
    w.uuid(cid);
    w.u32(0); // extensions (null)
}

/// ORPCTHAT: no flags, no extensions.
fn orpcthat(w: &mut Buf) {
    w.u32(0);
    w.u32(0);
}

/// A BSTR parameter: [unique] FLAGGED_WORD_BLOB* (MaximumCount, cBytes, clSize, UTF-16).
fn put_bstr(w: &mut Buf, referent: u32, s: &str) {
    let units: Vec<u16> = s.encode_utf16().collect();
    let n = units.len() as u32;
    w.u32(referent);
    w.u32(n);
    w.u32(2 * n);
    w.u32(n);
    for u in units {
        w.u16(u);
    }
}

/// A non-null interface pointer: [unique] MInterfacePointer* (MaximumCount, ulCntData,
/// the OBJREF).
fn put_iface_ptr(w: &mut Buf, referent: u32, objref: &[u8]) {
    w.u32(referent);
    w.u32(objref.len() as u32);
    w.u32(objref.len() as u32);
    w.bytes(objref);
}

/// OBJREF_CUSTOM (MS-DCOM 2.2.18.6, little-endian) of an IWbemClassObject whose
/// pObjectData is `data`.
fn objref_wbem(data: &[u8]) -> Vec<u8> {
    objref_custom(IID_WBEM_CLASS_OBJECT, CLSID_WBEM_CLASS_OBJECT, data)
}

/// OBJREF_CUSTOM (MS-DCOM 2.2.18.6, little-endian) of interface `iid`, unmarshaled by
/// class `clsid` from `data`.
fn objref_custom(iid: &str, clsid: &str, data: &[u8]) -> Vec<u8> {
    let mut v = Le::default();
    v.u32(0x574f_454d).u32(4); // "MEOW", OBJREF_CUSTOM
    v.bytes(&uuid_le(&parse_uuid(iid)));
    v.bytes(&uuid_le(&parse_uuid(clsid)));
    v.u32(0).u32(data.len() as u32); // cbExtension, size
    v.bytes(data).take()
}

/// A property value of a WMI instance.
enum Val<'a> {
    Null,
    Str(&'a str),
    U32(u32),
}

/// EncodedString (MS-WMIO 2.2.78), 8-bit form.
fn wmio_str(s: &str) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// MS-WMIO EncodingUnit of an instance of the class `class` with the properties
/// (name, CIM type, value), each 4 bytes in the value table: the class part (header,
/// empty derivation list and qualifier set, property lookup table, default values all
/// NULL, class heap with names and PropertyInfo records), then the instance part (NdTable,
/// values, empty qualifier sets, instance heap with the strings).
fn wmio_instance(class: &str, props: &[(&str, u32, Val)]) -> Vec<u8> {
    let n = props.len();
    let nd_len = (2 * n).div_ceil(8);
    let mut class_heap = wmio_str(class);
    let mut lookup = Le::default();
    for (i, (name, cim_type, _)) in props.iter().enumerate() {
        let name_ref = class_heap.len() as u32;
        class_heap.extend(wmio_str(name));
        let info_ref = class_heap.len() as u32;
        let mut info = Le::default();
        info.u32(*cim_type).u16(i as u16).u32(4 * i as u32);
        info.u32(0).u32(4); // ClassOfOrigin (the class name), empty qualifier set
        class_heap.extend(info.take());
        lookup.u32(name_ref).u32(info_ref);
    }
    let mut defaults = vec![0u8; nd_len + 4 * n];
    for i in 0..n {
        defaults[i / 4] |= 1 << ((i % 4) * 2); // no default value: NULL
    }
    let mut part = Le::default();
    part.u32(0).u8(0).u32(0); // EncodingLength (patched), reserved, ClassNameRef
    part.u32(defaults.len() as u32).u32(4).u32(4); // NdTable+ValueTable, lists
    part.u32(n as u32).bytes(&lookup.take()).bytes(&defaults);
    part.u32(0x8000_0000 | class_heap.len() as u32)
        .bytes(&class_heap);
    let mut class_part = part.take();
    let l = class_part.len() as u32;
    class_part[..4].copy_from_slice(&l.to_le_bytes());

    let mut heap = wmio_str(class);
    let mut nd = vec![0u8; nd_len];
    let mut values = Le::default();
    for (i, (_, _, v)) in props.iter().enumerate() {
        match v {
            Val::Null => {
                nd[i / 4] |= 1 << ((i % 4) * 2);
                values.u32(0);
            }
            Val::Str(s) => {
                values.u32(heap.len() as u32);
                heap.extend(wmio_str(s));
            }
            Val::U32(x) => {
                values.u32(*x);
            }
        }
    }
    let mut part = Le::default();
    part.u32(0).u8(0).u32(0); // EncodingLength (patched), InstanceFlags, class name ref
    part.bytes(&nd).bytes(&values.take());
    part.u32(4).u8(1); // empty InstanceQualifierSet, no property qualifiers
    part.u32(0x8000_0000 | heap.len() as u32).bytes(&heap);
    let mut inst_part = part.take();
    let l = inst_part.len() as u32;
    inst_part[..4].copy_from_slice(&l.to_le_bytes());

    let mut block = vec![0x02]; // ObjectFlags: an instance
    block.extend(class_part);
    block.extend(inst_part);
    let mut v = Le::default();
    v.u32(0x1234_5678).u32(block.len() as u32).bytes(&block);
    v.take()
}

/// IWbemServices::GetObject (opnum 6): strObjectPath, lFlags, pCtx null, ppObject
/// pointing to a null object, ppCallResult null.
fn st_wbem_get_object(le: bool, cid: &str, path: &str) -> Vec<u8> {
    let mut w = Buf::new(le);
    orpcthis(&mut w, cid);
    put_bstr(&mut w, 0x0002_0000, path);
    w.u32(0); // lFlags
    w.u32(0); // pCtx
    w.u32(0x0002_0004); // ppObject
    w.u32(0); // *ppObject: null
    w.u32(0); // ppCallResult
    w.b
}

/// GetObject or ExecMethod response: the object returned (an OBJREF), no call result,
/// S_OK.
fn st_wbem_object_resp(le: bool, objref: &[u8]) -> Vec<u8> {
    let mut w = Buf::new(le);
    orpcthat(&mut w);
    w.u32(0x0002_0000); // ppObject / ppOutParams
    put_iface_ptr(&mut w, 0x0002_0004, objref);
    w.u32(0); // ppCallResult
    w.u32(0); // S_OK
    w.b
}

/// IWbemServices::ExecMethod (opnum 24) with the in-parameters object `objref`.
fn st_wbem_exec_method(le: bool, cid: &str, path: &str, method: &str, objref: &[u8]) -> Vec<u8> {
    let mut w = Buf::new(le);
    orpcthis(&mut w, cid);
    put_bstr(&mut w, 0x0002_0000, path);
    put_bstr(&mut w, 0x0002_0004, method);
    w.u32(0); // lFlags
    w.u32(0); // pCtx
    put_iface_ptr(&mut w, 0x0002_0008, objref); // pInParams
    w.u32(0x0002_000c); // ppOutParams
    w.u32(0); // *ppOutParams: null
    w.u32(0); // ppCallResult
    w.b
}

/// IRemUnknown2::RemRelease (opnum 5): one REMINTERFACEREF (IPID, public and private
/// reference counts).
fn st_rem_release(le: bool, cid: &str, ipid: &str, refs: u32) -> Vec<u8> {
    let mut w = Buf::new(le);
    orpcthis(&mut w, cid);
    w.u16(1); // cInterfaceRefs
    w.u32(1); // conformance
    w.uuid(ipid);
    w.u32(refs);
    w.u32(0);
    w.b
}

/// An ORPCTHAT and an HRESULT.
fn st_orpc_hresult(le: bool, hr: u32) -> Vec<u8> {
    let mut w = Buf::new(le);
    orpcthat(&mut w);
    w.u32(hr);
    w.b
}

// ---------------------------------------------------------------------------
// NTLMSSP tokens (always little-endian)

/// FILETIME of 2024-01-01T00:09:00Z, the logon time.
const LOGON_FILETIME: u64 = (BASE_SECS + 540 + FILETIME_UNIX_OFFSET) * 10_000_000;

/// Target info of server SRV01 in domain CORP (corp.local).
fn target_info() -> Vec<u8> {
    let (domain, server) = (utf16le("CORP"), utf16le("SRV01"));
    let (dns_domain, dns_server) = (utf16le("corp.local"), utf16le("srv01.corp.local"));
    av_pairs(&[
        (2, &domain),
        (1, &server),
        (4, &dns_domain),
        (3, &dns_server),
        (5, &dns_domain),
        (7, &LOGON_FILETIME.to_le_bytes()),
        (0, &[]),
    ])
}

fn challenge(rng: &mut Rng) -> Vec<u8> {
    ntlm_challenge(rng, &target_info())
}

/// AUTHENTICATE_MESSAGE for `CORP\svc_backup` from WS01.
fn authenticate(rng: &mut Rng) -> Vec<u8> {
    let nt = ntlmv2_response(rng, LOGON_FILETIME, &target_info());
    let key = rng.bytes(16);
    let mut mic = [0u8; 16];
    mic.copy_from_slice(&rng.bytes(16));
    ntlm_authenticate("CORP", "svc_backup", "WS01", &nt, &key, &mic)
}

/// An NTLM auth verifier at packet privacy, auth context 1.
fn privacy(token: Vec<u8>) -> Auth {
    Auth {
        typ: RPC_C_AUTHN_WINNT,
        level: RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
        ctx_id: 1,
        token,
    }
}

/// NTLMSSP_MESSAGE_SIGNATURE (16 bytes) for sealed requests/responses.
fn ntlm_signature(rng: &mut Rng, seq: u32) -> Vec<u8> {
    let mut v = 1u32.to_le_bytes().to_vec();
    v.extend_from_slice(&rng.bytes(8));
    v.extend_from_slice(&seq.to_le_bytes());
    v
}

// ---------------------------------------------------------------------------
// SMB2 / SMB3 (MS-SMB2 2.2; all little-endian)

/// SMB2_SESSION_FLAG_ENCRYPT_DATA in a SESSION_SETUP response.
const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x0004;
/// FileId of a related compounded command: "the previous command's".
const RELATED_FID: [u8; 16] = [0xff; 16];

/// SMB 3.1.1 negotiate contexts: preauth integrity (SHA-512) and encryption
/// capabilities (AES-128-GCM), each 8-byte aligned.
fn negotiate_contexts(salt: &[u8]) -> Vec<u8> {
    let mut preauth = Le::default();
    preauth
        .u16(1)
        .u16(2)
        .u16(salt.len() as u16)
        .u16(1)
        .bytes(salt);
    let mut enc = Le::default();
    enc.u16(1).u16(2); // one cipher: AES-128-GCM
    let mut v = Le::default();
    for (typ, data) in [(1u16, preauth.take()), (2, enc.take())] {
        while !v.0.len().is_multiple_of(8) {
            v.u8(0);
        }
        v.u16(typ).u16(data.len() as u16).u32(0).bytes(&data);
    }
    v.take()
}

impl World {
    /// Make connection `c` an SMB2 connection on session `session`.
    fn smb_conn(&mut self, c: usize, session: u64) {
        self.conns[c].smb = Some(Smb {
            msg_id: 0,
            session,
            tree: 0,
            signed: false,
            outbox: [Vec::new(), Vec::new()],
        });
    }

    fn smb_state(&mut self, c: usize) -> &mut Smb {
        self.conns[c].smb.as_mut().expect("an SMB connection")
    }

    fn next_msg_id(&mut self, c: usize) -> u64 {
        let s = self.smb_state(c);
        let id = s.msg_id;
        s.msg_id += 1;
        id
    }

    /// One SMB2 command: 64-byte header + `body`.
    fn smb2(
        &mut self,
        c: usize,
        cmd: u16,
        resp: bool,
        status: u32,
        mid: u64,
        body: &[u8],
    ) -> Vec<u8> {
        let (session, tree, signed) = {
            let s = self.smb_state(c);
            (s.session, s.tree, s.signed)
        };
        let mut flags = if resp { SMB2_FLAGS_SERVER_TO_REDIR } else { 0 };
        // Before the session exists nothing is signed.
        let signed = signed && cmd != SMB2_NEGOTIATE && cmd != SMB2_SESSION_SETUP;
        if signed {
            flags |= SMB2_FLAGS_SIGNED;
        }
        let mut signature = [0; 16];
        if signed {
            signature.copy_from_slice(&self.rng.bytes(16));
        }
        let mut h = Le::default();
        Smb2Header {
            cmd,
            status,
            flags,
            mid,
            tree,
            session: if cmd == SMB2_NEGOTIATE { 0 } else { session },
            signature,
        }
        .write(&mut h);
        h.bytes(body).take()
    }

    /// Put SMB2 commands on the wire as one message (compounded when several).
    fn smb_put(&mut self, c: usize, dir: usize, cmds: Vec<Vec<u8>>, tags: &[Tag]) {
        let msg = if cmds.len() == 1 {
            cmds.into_iter().next().unwrap_or_default()
        } else {
            compound(cmds)
        };
        self.queue_wire(c, dir, nbss(&msg), tags);
        self.send(c, dir);
    }

    /// The DCE-RPC PDUs waiting in direction `dir`, concatenated, and their tags.
    fn take_dce(&mut self, c: usize, dir: usize) -> (Vec<u8>, Vec<Tag>) {
        let out = std::mem::take(&mut self.smb_state(c).outbox[dir]);
        let mut bytes = Vec::new();
        let mut tags = Vec::new();
        for (b, t) in out {
            bytes.extend_from_slice(&b);
            if t != Tag::Other {
                tags.push(t);
            }
        }
        (bytes, tags)
    }

    /// NEGOTIATE (dialect chosen by the server) and a two-leg NTLMSSP
    /// SESSION_SETUP, in clear.
    fn smb_logon(&mut self, c: usize, dialect: u16, encrypt: bool) {
        let mid = self.next_msg_id(c);
        let guid = self.rng.bytes(16);
        let salt = self.rng.bytes(32);
        let ctxs = negotiate_contexts(&salt);
        let b = negotiate_req(&guid, Some((2, &ctxs)));
        let req = self.smb2(c, SMB2_NEGOTIATE, false, 0, mid, &b);
        self.smb_put(c, C, vec![req], &[]);
        self.wait(310);
        let sguid = self.rng.bytes(16);
        let blob = spnego(&[], true);
        let salt = self.rng.bytes(32);
        let ctxs = negotiate_contexts(&salt);
        let ctxs = (dialect == 0x0311).then_some((2, &ctxs[..]));
        let b = negotiate_resp(dialect, &sguid, &blob, ctxs);
        let resp = self.smb2(c, SMB2_NEGOTIATE, true, 0, mid, &b);
        self.smb_put(c, S, vec![resp], &[]);
        self.wait(520);
        // SESSION_SETUP 1: NEGOTIATE_MESSAGE, the server assigns the SessionId.
        let session = self.smb_state(c).session;
        self.smb_state(c).session = 0;
        let mid = self.next_msg_id(c);
        let req = self.session_setup_req(c, mid, &spnego(&ntlm_negotiate(), true));
        self.smb_put(c, C, vec![req], &[]);
        self.wait(640);
        self.smb_state(c).session = session;
        let chal = challenge(&mut self.rng);
        let resp = self.session_setup_resp(
            c,
            mid,
            STATUS_MORE_PROCESSING_REQUIRED,
            0,
            &spnego(&chal, false),
        );
        self.smb_put(c, S, vec![resp], &[]);
        self.wait(1_210);
        // SESSION_SETUP 2: AUTHENTICATE_MESSAGE (CORP\svc_backup from WS01).
        let mid = self.next_msg_id(c);
        let auth = authenticate(&mut self.rng);
        let req = self.session_setup_req(c, mid, &spnego(&auth, false));
        self.smb_put(c, C, vec![req], &[]);
        self.wait(2_950);
        let flags = if encrypt {
            SESSION_FLAG_ENCRYPT_DATA
        } else {
            0
        };
        let resp = self.session_setup_resp(c, mid, 0, flags, &SPNEGO_ACCEPT_COMPLETED);
        self.smb_put(c, S, vec![resp], &[]);
        self.wait(400);
    }

    fn session_setup_req(&mut self, c: usize, mid: u64, blob: &[u8]) -> Vec<u8> {
        let b = session_setup_req(blob);
        self.smb2(c, SMB2_SESSION_SETUP, false, 0, mid, &b)
    }

    fn session_setup_resp(
        &mut self,
        c: usize,
        mid: u64,
        status: u32,
        flags: u16,
        blob: &[u8],
    ) -> Vec<u8> {
        let b = session_setup_resp(flags, blob);
        self.smb2(c, SMB2_SESSION_SETUP, true, status, mid, &b)
    }

    /// TREE_CONNECT to `path`, a pipe share with TreeId `tree`.
    fn smb_tree_connect(&mut self, c: usize, path: &str, tree: u32) {
        let mid = self.next_msg_id(c);
        let req = self.smb2(c, SMB2_TREE_CONNECT, false, 0, mid, &tree_connect_req(path));
        self.smb_put(c, C, vec![req], &[]);
        self.wait(330);
        self.smb_state(c).tree = tree;
        let resp = self.smb2(c, SMB2_TREE_CONNECT, true, 0, mid, &tree_connect_resp(2));
        self.smb_put(c, S, vec![resp], &[]);
        self.wait(450);
    }

    fn create_req(&mut self, c: usize, mid: u64, name: &str) -> Vec<u8> {
        self.smb2(c, SMB2_CREATE, false, 0, mid, &create_req(name))
    }

    /// CREATE response for a pipe (allocation 4096, end of file 0, FILE_ATTRIBUTE_NORMAL).
    fn create_resp(&mut self, c: usize, mid: u64, fid: &[u8; 16]) -> Vec<u8> {
        self.smb2(
            c,
            SMB2_CREATE,
            true,
            0,
            mid,
            &create_resp(fid, 4096, 0, 0x80),
        )
    }

    fn new_fid(&mut self) -> [u8; 16] {
        let mut f = [0u8; 16];
        f.copy_from_slice(&self.rng.bytes(16));
        f
    }

    /// CREATE of the pipe `name`; returns its FileId.
    fn smb_open(&mut self, c: usize, name: &str) -> [u8; 16] {
        let mid = self.next_msg_id(c);
        let req = self.create_req(c, mid, name);
        self.smb_put(c, C, vec![req], &[]);
        self.wait(560);
        let fid = self.new_fid();
        let resp = self.create_resp(c, mid, &fid);
        self.smb_put(c, S, vec![resp], &[]);
        self.wait(300);
        fid
    }

    fn smb_close(&mut self, c: usize, fid: &[u8; 16]) {
        let mid = self.next_msg_id(c);
        let req = self.smb2(c, SMB2_CLOSE, false, 0, mid, &close_req(fid));
        self.smb_put(c, C, vec![req], &[]);
        self.wait(210);
        let resp = self.smb2(c, SMB2_CLOSE, true, 0, mid, &close_resp());
        self.smb_put(c, S, vec![resp], &[]);
        self.wait(300);
    }

    /// The client's waiting PDUs written to the pipe in `pieces` WRITEs of
    /// near-equal size, each answered.
    fn smb_write(&mut self, c: usize, fid: &[u8; 16], pieces: usize) {
        let (data, tags) = self.take_dce(c, C);
        let size = data.len().div_ceil(pieces);
        for chunk in data.chunks(size) {
            self.smb_write_one(c, fid, chunk, &tags);
        }
    }

    /// The client's waiting PDUs written to the pipe one PDU per WRITE (as Impacket writes
    /// the fragments of a call), each answered.
    fn smb_write_each(&mut self, c: usize, fid: &[u8; 16]) {
        let out = std::mem::take(&mut self.smb_state(c).outbox[C]);
        for (pdu, tag) in out {
            let tags: Vec<Tag> = Some(tag).filter(|t| *t != Tag::Other).into_iter().collect();
            self.smb_write_one(c, fid, &pdu, &tags);
        }
    }

    /// One WRITE of `data` (completing `tags`) and its response.
    fn smb_write_one(&mut self, c: usize, fid: &[u8; 16], data: &[u8], tags: &[Tag]) {
        let mid = self.next_msg_id(c);
        let b = write_req(fid, data.len() as u32, data);
        let req = self.smb2(c, SMB2_WRITE, false, 0, mid, &b);
        self.smb_put(c, C, vec![req], tags);
        self.wait(260);
        let b = write_resp(data.len() as u32);
        let resp = self.smb2(c, SMB2_WRITE, true, 0, mid, &b);
        self.smb_put(c, S, vec![resp], &[]);
        self.wait(180);
    }

    /// The server's waiting PDUs read back one PDU per READ (a READ of 4280 bytes holds one
    /// fragment): a READ request, `wait` µs for the first and 120 µs for the next, the READ
    /// response.
    fn smb_read_each(&mut self, c: usize, fid: &[u8; 16], wait: u64) {
        let out = std::mem::take(&mut self.smb_state(c).outbox[S]);
        for (i, (pdu, tag)) in out.into_iter().enumerate() {
            let mid = self.smb_read_req(c, fid);
            self.wait(if i == 0 { wait } else { 120 });
            let tags: Vec<Tag> = Some(tag).filter(|t| *t != Tag::Other).into_iter().collect();
            let b = read_resp(pdu.len() as u32, &pdu);
            let resp = self.smb2(c, SMB2_READ, true, 0, mid, &b);
            self.smb_put(c, S, vec![resp], &tags);
            self.wait(90);
        }
    }

    /// A whole call by WRITE and READ on pipe `fid`, one fragment per message: the request
    /// written, the response read back after `wait` µs. Returns the call's index.
    fn call_rw(&mut self, c: usize, fid: &[u8; 16], r: Req, wait: u64, resp: &[u8]) -> usize {
        let k = self.request(c, r);
        self.smb_write_each(c, fid);
        self.response(k, resp, None);
        self.smb_read_each(c, fid, wait);
        k
    }

    /// A READ request; `smb_read_resp` answers it with the server's waiting PDUs.
    fn smb_read_req(&mut self, c: usize, fid: &[u8; 16]) -> u64 {
        let mid = self.next_msg_id(c);
        let req = self.smb2(c, SMB2_READ, false, 0, mid, &read_req(fid, 4280));
        self.smb_put(c, C, vec![req], &[]);
        mid
    }

    fn smb_read_resp(&mut self, c: usize, mid: u64) {
        let (data, tags) = self.take_dce(c, S);
        let b = read_resp(data.len() as u32, &data);
        let resp = self.smb2(c, SMB2_READ, true, 0, mid, &b);
        self.smb_put(c, S, vec![resp], &tags);
    }

    fn ioctl_req(
        &mut self,
        c: usize,
        mid: u64,
        fid: &[u8; 16],
        input: &[u8],
        related: bool,
    ) -> Vec<u8> {
        let mut m = self.smb2(c, SMB2_IOCTL, false, 0, mid, &ioctl_req(fid, input));
        if related {
            m[16] |= SMB2_FLAGS_RELATED_OPERATIONS as u8;
            m[36..40].copy_from_slice(&[0xff; 4]); // TreeId
            m[40..48].copy_from_slice(&[0xff; 8]); // SessionId
        }
        m
    }

    fn ioctl_resp(&mut self, c: usize, mid: u64, fid: &[u8; 16], output: &[u8]) -> Vec<u8> {
        self.smb2(c, SMB2_IOCTL, true, 0, mid, &ioctl_resp(fid, output))
    }

    /// FSCTL_PIPE_TRANSCEIVE carrying the client's waiting PDUs; returns its
    /// MessageId for `smb_transceive_resp`.
    fn smb_transceive(&mut self, c: usize, fid: &[u8; 16]) -> u64 {
        let (data, tags) = self.take_dce(c, C);
        let mid = self.next_msg_id(c);
        let req = self.ioctl_req(c, mid, fid, &data, false);
        self.smb_put(c, C, vec![req], &tags);
        mid
    }

    fn smb_transceive_resp(&mut self, c: usize, mid: u64, fid: &[u8; 16]) {
        let (data, tags) = self.take_dce(c, S);
        let resp = self.ioctl_resp(c, mid, fid, &data);
        self.smb_put(c, S, vec![resp], &tags);
    }

    /// A whole call by FSCTL_PIPE_TRANSCEIVE on pipe `fid`: the request, `wait` µs, the
    /// response. Returns the call's index.
    fn call_transceive(
        &mut self,
        c: usize,
        fid: &[u8; 16],
        r: Req,
        wait: u64,
        resp: &[u8],
    ) -> usize {
        let k = self.request(c, r);
        let mid = self.smb_transceive(c, fid);
        self.wait(wait);
        self.response(k, resp, None);
        self.smb_transceive_resp(c, mid, fid);
        k
    }

    /// [`World::bind_ctx0`] (max fragment 4280) written to pipe `fid`, a READ, `wait` µs,
    /// and the bind_ack in the READ response.
    fn smb_bind(
        &mut self,
        c: usize,
        fid: &[u8; 16],
        iface: &'static Iface,
        wait: u64,
        assoc: u32,
        sec_addr: &str,
    ) {
        self.bind_ctx0(c, iface, 4280);
        self.smb_write(c, fid, 1);
        let mid = self.smb_read_req(c, fid);
        self.wait(wait);
        self.accept_ctx0(c, iface, 4280, assoc, sec_addr);
        self.smb_read_resp(c, mid);
    }

    /// CREATE of `name` compounded with a related IOCTL carrying the client's
    /// waiting PDUs (its FileId is "the CREATE's"); returns both MessageIds
    /// for `smb_create_transceive_resp`.
    fn smb_create_transceive(&mut self, c: usize, name: &str) -> (u64, u64) {
        let (data, tags) = self.take_dce(c, C);
        let m1 = self.next_msg_id(c);
        let m2 = self.next_msg_id(c);
        let create = self.create_req(c, m1, name);
        let ioctl = self.ioctl_req(c, m2, &RELATED_FID, &data, true);
        self.smb_put(c, C, vec![create, ioctl], &tags);
        (m1, m2)
    }

    /// CREATE response + IOCTL response (the server's waiting PDUs) in one
    /// compound message; returns the new FileId.
    fn smb_create_transceive_resp(&mut self, c: usize, mids: (u64, u64)) -> [u8; 16] {
        let fid = self.new_fid();
        let (data, tags) = self.take_dce(c, S);
        let create = self.create_resp(c, mids.0, &fid);
        let mut ioctl = self.ioctl_resp(c, mids.1, &fid, &data);
        ioctl[16] |= SMB2_FLAGS_RELATED_OPERATIONS as u8;
        self.smb_put(c, S, vec![create, ioctl], &tags);
        fid
    }

    /// SMB3 encrypted messages (transform header, 2.2.41) of the given
    /// plaintext sizes, alternating client and server.
    fn smb_encrypted(&mut self, c: usize, sizes: &[usize]) {
        let session = self.smb_state(c).session;
        for (i, &n) in sizes.iter().enumerate() {
            let mut b = Le::default();
            let sig = self.rng.bytes(16);
            let mut nonce = self.rng.bytes(11);
            nonce.extend_from_slice(&[0; 5]); // AES-GCM: 11-byte nonce
            b.bytes(b"\xfdSMB").bytes(&sig).bytes(&nonce);
            b.u32(n as u32).u16(0).u16(1).u64(session);
            let body = self.rng.bytes(n);
            b.bytes(&body);
            let dir = if i % 2 == 0 { C } else { S };
            self.queue_wire(c, dir, nbss(&b.take()), &[]);
            self.send(c, dir);
            self.wait(if dir == C { 350 } else { 900 });
        }
    }
}

// srvsvc NetrShareEnum (MS-SRVS 3.1.4.8), level 1

fn st_share_enum(le: bool, server: &str) -> Vec<u8> {
    let mut b = Buf::new(le);
    b.u32(0x0002_0000); // ServerName referent
    b.wstr(server);
    b.u32(1); // Level
    b.u32(1); // union switch
    b.u32(0x0002_0004); // SHARE_INFO_1_CONTAINER referent
    b.u32(0); // EntriesRead
    b.u32(0); // Buffer: null
    b.u32(0xffff_ffff); // PreferedMaximumLength
    b.u32(0x0002_0008); // ResumeHandle referent
    b.u32(0);
    b.b
}

fn st_share_enum_resp(le: bool, shares: &[(&str, u32, &str)]) -> Vec<u8> {
    let n = shares.len() as u32;
    let mut b = Buf::new(le);
    b.u32(1); // Level
    b.u32(1); // union switch
    b.u32(0x0002_0000); // container referent
    b.u32(n); // EntriesRead
    b.u32(0x0002_0004); // Buffer referent
    b.u32(n); // conformant array size
    let mut r = 0x0002_0008u32;
    for (_, typ, _) in shares {
        b.u32(r); // shi1_netname
        b.u32(*typ);
        b.u32(r + 4); // shi1_remark
        r += 8;
    }
    for (name, _, remark) in shares {
        b.wstr(name);
        b.wstr(remark);
    }
    b.u32(n); // TotalEntries
    b.u32(0x0002_0100); // ResumeHandle referent
    b.u32(0);
    b.u32(0); // WERROR
    b.b
}

// ---------------------------------------------------------------------------
// scenarios

const fn ip(a: u8, b: u8, c: u8, d: u8) -> [u8; 4] {
    [a, b, c, d]
}

const SMBEXEC_PATH: &str = r"%COMSPEC% /Q /c echo whoami ^> \\127.0.0.1\C$\__output 2^>^&1 > %TEMP%\execute.bat & %COMSPEC% /Q /c %TEMP%\execute.bat & del %TEMP%\execute.bat";

/// Scenario 1: Port 135: handshake, bind epmapper, ept_lookup, ept_map, FIN both ways.
fn s01_tcp135_epmapper() -> World {
    let mut w = World::new(1);
    let srv = ip(10, 1, 0, 5);
    let cli = ip(10, 1, 0, 10);
    let c = w.conn((cli, 49721), (srv, 135), 0x1a2b_3c01, 0x5e6f_7a01, true);
    let le = true;
    w.handshake(c);
    w.wait(1_200);
    w.bind_tcp(c, &EPM, 5840, 310, 0x0000_a1b2, "135");
    w.wait(950);
    w.call(
        c,
        Req::new(2, 2, &st_ept_lookup(le)),
        1_437,
        &st_ept_lookup_resp(le, 3, srv, true),
    );
    w.wait(2_100);
    let query = tower(SVCCTL.syn(), 135, srv);
    let mapped = tower(SVCCTL.syn(), 49667, srv);
    w.call(
        c,
        Req::new(3, 3, &st_ept_map(le, &query)),
        893,
        &st_ept_map_resp(le, &mapped),
    );
    w.wait(5_000);
    w.close(c);
    w
}

/// Scenario 2: Dynamic port 49667, svcctl: service creation, faults, unanswered call, RST.
fn s02_dynamic_port_svcctl() -> World {
    let mut w = World::new(2);
    let le = true;
    let cli = ip(10, 2, 0, 10);
    let srv = ip(10, 2, 0, 5);
    let c = w.conn((cli, 49722), (srv, 49667), 0x0c0f_fee0, 0x7000_0001, true);
    w.handshake(c);
    w.wait(900);
    w.bind_tcp(c, &SVCCTL, 4280, 420, 0x0001_2e6f, "49667");
    w.wait(700);
    let scm = w.rng.handle();
    let svc = w.rng.handle();
    // call_id 2: OpenSCManagerW
    w.call(
        c,
        Req::new(2, 15, &st_open_scm(le, r"\\SRV02")),
        1_611,
        &st_handle_status(le, &scm, 0),
    );
    w.wait(1_250);
    // call_id 3: CreateServiceW
    let stub = st_create_service(le, &scm, "BTOBTO", "BTOBTO", SMBEXEC_PATH);
    w.call(
        c,
        Req::new(3, 12, &stub),
        14_723,
        &st_create_service_resp(le, &svc),
    );
    w.wait(830);
    // call_id 4: StartServiceW
    w.call(
        c,
        Req::new(4, 19, &st_start_service(le, &svc)),
        31_004,
        &st_status(le, 1053),
    ); // ERROR_SERVICE_REQUEST_TIMEOUT
    w.wait(2_000);
    // call_id 5: CloseServiceHandle answered with a fault (access denied)
    let k = w.request(c, Req::new(5, 0, &st_handle(&svc)));
    w.send(c, C);
    w.wait(402);
    w.fault(k, STATUS_ACCESS_DENIED, 0);
    w.send(c, S);
    w.wait(1_500);
    // call_id 6: opnum 61, unknown to Zeek (and to the server: op range error)
    let stub = w.rng.bytes(36);
    let k = w.request(c, Req::new(6, 61, &stub));
    w.send(c, C);
    w.wait(288);
    w.fault(k, NCA_S_OP_RNG_ERROR, PFC_DID_NOT_EXECUTE);
    w.send(c, S);
    w.wait(1_900);
    // call_id 7: CloseServiceHandle(scm), never answered
    w.request(c, Req::new(7, 0, &st_handle(&scm)));
    w.send(c, C);
    w.wait(40_000);
    w.ack(c, S);
    w.wait(2_500_000);
    w.rst(c, C);
    w
}

/// Scenario 3: Fragmentation: a 3-fragment request, a 2-fragment response, two PDUs in
/// one segment, one PDU over three segments.
fn s03_multifrag() -> World {
    let mut w = World::new(3);
    let le = true;
    let cli = ip(10, 3, 0, 10);
    let srv = ip(10, 3, 0, 5);
    // connection A: epmapper, ept_lookup answered in 2 fragments
    let a = w.conn((cli, 49723), (srv, 135), 0x3000_0aa0, 0x3100_0bb0, true);
    w.handshake(a);
    w.wait(600);
    w.bind_tcp(a, &EPM, 1432, 280, 0x0000_3a01, "135");
    w.wait(520);
    let k = w.request(a, Req::new(2, 2, &st_ept_lookup(le)).frag(FRAG_STUB));
    w.send(a, C);
    w.wait(2_345);
    let stub = st_ept_lookup_resp(le, EPT_ENTRIES.len(), srv, false);
    assert!(stub.len() > FRAG_STUB && stub.len() <= 2 * FRAG_STUB);
    w.response(k, &stub, None);
    w.send(a, S); // each fragment (<= 1432 bytes) in its own segment
    w.wait(3_000);
    w.close(a);
    w.wait(4_000);

    // connection B: svcctl
    let b = w.conn((cli, 49724), (srv, 49667), 0x3200_0cc0, 0x3300_0dd0, true);
    w.handshake(b);
    w.wait(640);
    w.bind_tcp(b, &SVCCTL, 1432, 300, 0x0000_3a02, "49667");
    w.wait(480);
    let scm = w.rng.handle();
    let svc = w.rng.handle();
    // call_id 2: OpenSCManagerW, its single PDU spread over 3 TCP segments
    let k = w.request(
        b,
        Req::new(2, 15, &st_open_scm(le, r"\\SRV03")).frag(FRAG_STUB),
    );
    let len = w.conns[b].st[C].data.len() - w.conns[b].st[C].snd_nxt;
    w.send_n(b, C, 10); // cuts the common header
    w.wait(150);
    w.send_n(b, C, 54);
    w.wait(150);
    w.send_n(b, C, len - 64);
    w.wait(1_777);
    w.response(k, &st_handle_status(le, &scm, 0), None);
    w.send(b, S);
    w.wait(900);
    // call_id 3: CreateServiceW with a long command line: 3 request fragments
    let path = format!(
        r"%COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden -noni -enc {}",
        w.rng.b64ish(1_560)
    );
    let stub = st_create_service(le, &scm, "WinUpdSvc", "Windows Update Helper", &path);
    assert!(stub.len() > 2 * FRAG_STUB && stub.len() <= 3 * FRAG_STUB);
    let k = w.request(b, Req::new(3, 12, &stub).frag(FRAG_STUB));
    w.send(b, C); // one fragment per segment
    w.wait(9_876);
    w.response(k, &st_create_service_resp(le, &svc), None);
    w.send(b, S);
    w.wait(700);
    // call_id 4 + 5: StartServiceW and CloseServiceHandle(svc) in ONE segment
    let k4 = w.request(
        b,
        Req::new(4, 19, &st_start_service(le, &svc)).frag(FRAG_STUB),
    );
    let k5 = w.request(b, Req::new(5, 0, &st_handle(&svc)).frag(FRAG_STUB));
    w.send(b, C);
    w.wait(20_321);
    w.response(k4, &st_status(le, 0), None);
    w.send(b, S);
    w.wait(333);
    w.response(k5, &st_close_resp(le), None);
    w.send(b, S);
    w.wait(600);
    // call_id 6: CloseServiceHandle(scm)
    w.call(
        b,
        Req::new(6, 0, &st_handle(&scm)).frag(FRAG_STUB),
        250,
        &st_close_resp(le),
    );
    w.wait(2_000);
    w.close(b);
    w
}

/// Scenario 4: Big-endian data representation (drep[0] = 0x00) on both sides.
fn s04_bigendian_client() -> World {
    let mut w = World::new(4);
    let le = false;
    let srv = ip(10, 4, 0, 5);
    let cli = ip(10, 4, 0, 10);
    let c = w.conn((cli, 49725), (srv, 135), 0x4000_0001, 0x4100_0001, le);
    w.handshake(c);
    w.wait(1_000);
    w.bind_tcp(c, &EPM, 4280, 350, 0x0000_4b01, "135");
    w.wait(800);
    let query = tower(ATSVC.syn(), 135, srv);
    let mapped = tower(ATSVC.syn(), 49670, srv);
    w.call(
        c,
        Req::new(2, 3, &st_ept_map(le, &query)),
        1_024,
        &st_ept_map_resp(le, &mapped),
    );
    w.wait(1_500);
    w.call(
        c,
        Req::new(3, 2, &st_ept_lookup(le)),
        2_048,
        &st_ept_lookup_resp(le, 2, srv, true),
    );
    w.wait(3_000);
    w.close(c);
    w
}

/// Scenario 5: alter_context adding a second context; a bind with a rejected context.
fn s05_alter_context() -> World {
    let mut w = World::new(5);
    let le = true;
    let cli = ip(10, 5, 0, 10);
    let srv = ip(10, 5, 0, 5);
    let a = w.conn((cli, 49726), (srv, 135), 0x5000_0001, 0x5100_0001, true);
    w.handshake(a);
    w.wait(700);
    w.bind_tcp(a, &EPM, 4280, 300, 0x0000_5c01, "135");
    w.wait(600);
    w.bind(
        a,
        PT_ALTER,
        2,
        4280,
        0x0000_5c01,
        &[(1, &SVCCTL, &[NDR])],
        None,
    );
    w.send(a, C);
    w.wait(260);
    w.bind_ack(
        a,
        PT_ALTER_RESP,
        2,
        4280,
        0x0000_5c01,
        "",
        &[(1, &SVCCTL, 0, 0)],
        None,
    );
    w.send(a, S);
    w.wait(500);
    let scm = w.rng.handle();
    w.call(
        a,
        Req::new(3, 15, &st_open_scm(le, r"\\SRV05")).ctx(1),
        1_313,
        &st_handle_status(le, &scm, 0),
    );
    w.wait(800);
    let query = tower(TSCH.syn(), 135, srv);
    let mapped = tower(TSCH.syn(), 49671, srv);
    w.call(
        a,
        Req::new(4, 3, &st_ept_map(le, &query)),
        777,
        &st_ept_map_resp(le, &mapped),
    );
    w.wait(1_000);
    w.close(a);
    w.wait(2_000);

    // connection B: ctx 0 (atsvc over NDR64 only) rejected, ctx 1 (an
    // interface Zeek does not know) accepted; one call on ctx 1 carrying an
    // object UUID.
    let b = w.conn((cli, 49727), (srv, 49680), 0x5200_0001, 0x5300_0001, true);
    w.handshake(b);
    w.wait(650);
    w.bind(
        b,
        PT_BIND,
        1,
        4280,
        0,
        &[(0, &ATSVC, &[NDR64]), (1, &UNKNOWN, &[NDR])],
        None,
    );
    w.send(b, C);
    w.wait(310);
    w.bind_ack(
        b,
        PT_BIND_ACK,
        1,
        4280,
        0x0000_5c02,
        "49680",
        &[(0, &ATSVC, 2, 2), (1, &UNKNOWN, 0, 0)],
        None,
    );
    w.send(b, S);
    w.wait(450);
    let obj = w.rng.uuid_string();
    let stub = w.rng.bytes(44);
    let reply = w.rng.bytes(12);
    w.call(b, Req::new(2, 4, &stub).ctx(1).obj(&obj), 2_222, &reply);
    w.wait(1_000);
    w.close(b);
    w
}

/// Scenario 6: Mid-stream captures: no handshake, first packet from the server.
fn s06_midstream() -> World {
    let mut w = World::new(6);
    let srv = ip(10, 6, 0, 5);
    let (cli_a, cli_b) = (ip(10, 6, 0, 10), ip(10, 6, 0, 11));
    let a = w.conn((cli_a, 50110), (srv, 49668), 0x7a3c_1f00, 0x2b9d_4e00, true);
    let b = w.conn((cli_b, 50111), (srv, 49669), 0x6611_0000, 0x6622_0000, true);
    // A: the response to a call made before the capture started
    let stub = w.rng.bytes(20);
    w.orphan_response(a, 41, 0, &stub);
    w.send(a, S);
    w.wait(5_000);
    let stub = w.rng.bytes(56);
    let ka = w.request(a, Req::new(42, 5, &stub));
    w.send(a, C);
    w.wait(300);
    // B: also first seen from the server side
    let stub = w.rng.bytes(8);
    w.orphan_response(b, 17, 0, &stub);
    w.send(b, S);
    w.wait(900);
    let stub = w.rng.bytes(16);
    w.response(ka, &stub, None);
    w.send(a, S);
    w.wait(1_100);
    let stub = w.rng.bytes(24);
    let reply = w.rng.bytes(40);
    w.call(b, Req::new(18, 2, &stub), 1_450, &reply);
    w.wait(2_000);
    let stub = w.rng.bytes(100);
    let reply = w.rng.bytes(4);
    w.call(a, Req::new(43, 6, &stub), 3_210, &reply);
    w.wait(1_000);
    // B: a (rare) bind on the established connection, then a call on it
    w.bind(b, PT_BIND, 19, 4280, 0, &[(1, &SVCCTL, &[NDR])], None);
    w.send(b, C);
    w.wait(333);
    w.bind_ack(
        b,
        PT_BIND_ACK,
        19,
        4280,
        0x0000_6d01,
        "49669",
        &[(1, &SVCCTL, 0, 0)],
        None,
    );
    w.send(b, S);
    w.wait(700);
    let scm = w.rng.handle();
    w.call(
        b,
        Req::new(20, 15, &st_open_scm(true, r"\\SRV06")).ctx(1),
        1_818,
        &st_handle_status(true, &scm, 0),
    );
    w.wait(40_000);
    w.ack(a, C);
    w.ack(b, C);
    w
}

/// Scenario 7: Out-of-order delivery, exact retransmissions, overlapping retransmission.
fn s07_ooo_retrans() -> World {
    let mut w = World::new(7);
    let le = true;
    let srv = ip(10, 7, 0, 5);
    let cli = ip(10, 7, 0, 10);
    let c = w.conn((cli, 49728), (srv, 135), 0x7000_0007, 0x7100_0007, true);
    w.handshake(c);
    w.wait(800);
    w.bind_tcp(c, &EPM, 4280, 300, 0x0000_7e01, "135");
    w.wait(600);

    // call_id 2: request in two segments, the second captured first
    let k = w.request(c, Req::new(2, 2, &st_ept_lookup(le)));
    let s0 = w.conns[c].st[C].snd_nxt;
    let end = w.conns[c].st[C].data.len();
    let mid = s0 + 48;
    w.emit(c, C, mid, end, TH_PSH | TH_ACK, true);
    w.wait(40);
    w.ack(c, S); // duplicate ACK (still acks s0)
    w.wait(210);
    w.emit(c, C, s0, mid, TH_ACK, true); // fills the hole: request complete here
    w.wait(1_222);
    w.response(k, &st_ept_lookup_resp(le, 3, srv, true), None);
    w.send(c, S);
    w.wait(1_000);

    // call_id 3: request retransmitted exactly (spurious RTO), response too
    let t = tower(SVCCTL.syn(), 135, srv);
    let k = w.request(c, Req::new(3, 3, &st_ept_map(le, &t)));
    let s0 = w.conns[c].st[C].snd_nxt;
    let end = w.conns[c].st[C].data.len();
    w.emit(c, C, s0, end, TH_PSH | TH_ACK, true);
    w.wait(300_000);
    w.emit(c, C, s0, end, TH_PSH | TH_ACK, true); // exact retransmission
    w.wait(1_015);
    let t = tower(SVCCTL.syn(), 49667, srv);
    w.response(k, &st_ept_map_resp(le, &t), None);
    let r0 = w.conns[c].st[S].snd_nxt;
    let rend = w.conns[c].st[S].data.len();
    w.emit(c, S, r0, rend, TH_PSH | TH_ACK, true);
    w.wait(200_000);
    w.emit(c, S, r0, rend, TH_PSH | TH_ACK, true); // exact retransmission
    w.wait(60);
    w.ack(c, C);
    w.wait(900);

    // call_id 4: retransmission overlapping the previous segment partially
    let k = w.request(c, Req::new(4, 2, &st_ept_lookup(le)));
    let s0 = w.conns[c].st[C].snd_nxt;
    let end = w.conns[c].st[C].data.len();
    w.emit(c, C, s0, s0 + 64, TH_ACK, true);
    w.wait(250_000);
    w.emit(c, C, s0 + 32, end, TH_PSH | TH_ACK, true); // bytes s0+32..s0+64 again
    w.wait(1_111);
    w.response(k, &st_ept_lookup_resp(le, 1, srv, false), None);
    w.send(c, S);
    w.wait(2_000);
    w.close(c);
    w
}

/// Scenario 8: A segment of call_id 4's request is missing from the capture.
fn s08_lost_segment() -> World {
    let mut w = World::new(8);
    let le = true;
    let cli = ip(10, 8, 0, 10);
    let srv = ip(10, 8, 0, 5);
    let c = w.conn((cli, 49729), (srv, 49667), 0x8000_0008, 0x8100_0008, true);
    w.handshake(c);
    w.wait(900);
    w.bind_tcp(c, &SVCCTL, 4280, 320, 0x0000_8f01, "49667");
    w.wait(600);
    let scm = w.rng.handle();
    for i in 0..5u32 {
        let call_id = 2 + i;
        let name = format!("svc_{}", (b'a' + i as u8) as char);
        let path = format!(
            r"C:\Windows\System32\cmd.exe /c powershell -nop -enc {}",
            w.rng.b64ish(960)
        );
        let stub = st_create_service(le, &scm, &name, &name, &path);
        let k = w.request(c, Req::new(call_id, 12, &stub));
        let s0 = w.conns[c].st[C].snd_nxt;
        let end = w.conns[c].st[C].data.len();
        assert!(end - s0 > MSS && end - s0 <= 2 * MSS);
        w.emit(c, C, s0, s0 + MSS, TH_ACK, true);
        w.wait(20);
        // the capture drops the second segment of call_id 4's request
        w.emit(c, C, s0 + MSS, end, TH_PSH | TH_ACK, call_id != 4);
        w.wait(3_000 + 117 * u64::from(i));
        let svc = w.rng.handle();
        w.response(k, &st_create_service_resp(le, &svc), None);
        w.send(c, S);
        w.wait(1_500);
    }
    w.close(c);
    w
}

/// Scenario 9: NTLM, packet privacy: bind/bind_ack/AUTH3, then sealed calls.
fn s09_privacy_auth() -> World {
    let mut w = World::new(9);
    let cli = ip(10, 9, 0, 10);
    let srv = ip(10, 9, 0, 5);
    let c = w.conn((cli, 49730), (srv, 49667), 0x9000_0009, 0x9100_0009, true);
    w.handshake(c);
    w.wait(1_100);
    w.bind(
        c,
        PT_BIND,
        1,
        4280,
        0,
        &[(0, &SVCCTL, &[NDR])],
        Some(&privacy(ntlm_negotiate())),
    );
    w.send(c, C);
    w.wait(640);
    let ch = challenge(&mut w.rng);
    w.bind_ack(
        c,
        PT_BIND_ACK,
        1,
        4280,
        0x0000_9a01,
        "49667",
        &[(0, &SVCCTL, 0, 0)],
        Some(&privacy(ch)),
    );
    w.send(c, S);
    w.wait(2_300);
    let au = authenticate(&mut w.rng);
    w.auth3(c, 1, &privacy(au));
    w.send(c, C);
    w.wait(400);
    // call_id 2: CreateServiceW, sealed stub (290 bytes -> auth_pad_length 2)
    w.sealed_call(c, Req::new(2, 12, &[]), [290, 28], 0, 13_337);
    w.wait(900);
    // call_id 3: StartServiceW
    w.sealed_call(c, Req::new(3, 19, &[]), [28, 4], 1, 25_250);
    w.wait(1_000);
    w.close(c);
    w
}

const TASK_XML: &str = r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers>
    <CalendarTrigger>
      <StartBoundary>2015-07-15T20:35:13.2757294</StartBoundary>
      <Enabled>true</Enabled>
      <ScheduleByDay>
        <DaysInterval>1</DaysInterval>
      </ScheduleByDay>
    </CalendarTrigger>
  </Triggers>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>true</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>true</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>P3D</ExecutionTimeLimit>
    <Priority>7</Priority>
  </Settings>
  <Actions Context="LocalSystem">
    <Exec>
      <Command>cmd.exe</Command>
      <Arguments>/C whoami &gt; %windir%\Temp\hXqfWbuz.tmp 2&gt;&amp;1</Arguments>
    </Exec>
  </Actions>
</Task>
"#;

/// Scenario 10: atsvc (49670) and ITaskSchedulerService (49671) on two connections.
fn s10_atsvc_schtask() -> World {
    let mut w = World::new(10);
    let le = true;
    let cli = ip(10, 10, 0, 10);
    let srv = ip(10, 10, 0, 5);
    let a = w.conn((cli, 49731), (srv, 49670), 0xa000_000a, 0xa100_000a, true);
    let b = w.conn((cli, 49732), (srv, 49671), 0xb000_000b, 0xb100_000b, true);
    w.handshake(a);
    w.wait(800);
    w.bind_tcp(a, &ATSVC, 4280, 300, 0x0000_a001, "49670");
    w.wait(500);
    w.handshake(b);
    w.wait(300);
    let stub = st_netr_job_add(
        le,
        r"\\10.10.0.5",
        r"cmd.exe /c whoami > C:\Windows\Temp\at_out.txt 2>&1",
    );
    let ka = w.request(a, Req::new(2, 0, &stub));
    w.send(a, C);
    w.wait(200);
    w.bind_ctx0(b, &TSCH, 4280);
    w.send(b, C);
    w.wait(2_000);
    w.response(ka, &st_netr_job_add_resp(le, 7), None);
    w.send(a, S);
    w.wait(150);
    w.accept_ctx0(b, &TSCH, 4280, 0x0000_a002, "49671");
    w.send(b, S);
    w.wait(700);
    let path = r"\hXqfWbuz";
    let kb = w.request(b, Req::new(2, 1, &st_sch_register(le, path, TASK_XML)));
    w.send(b, C); // 2,968-byte PDU: three TCP segments
    w.wait(500);
    w.close(a);
    w.wait(6_543);
    w.response(kb, &st_sch_register_resp(le, path), None);
    w.send(b, S);
    w.wait(800);
    let guid = w.rng.uuid_string();
    w.call(
        b,
        Req::new(3, 12, &st_sch_run(le, path)),
        4_321,
        &st_sch_run_resp(le, &guid),
    );
    w.wait(1_000);
    w.close(b);
    w
}

/// Scenario 11: SMB 3.1.1. Connection a: the server requires encryption
/// after an NTLMSSP logon in clear, so everything after SESSION_SETUP travels
/// in transform headers (no call can be seen). Connection b: a signed, not
/// encrypted SMB 3.1.1 session: srvsvc NetrShareEnum over `\pipe\srvsvc`.
fn s11_smb3_encrypted() -> World {
    let mut w = World::new(11);
    let le = true;
    let cli = ip(10, 11, 0, 10);
    let srv = ip(10, 11, 0, 5);
    let a = w.conn((cli, 50211), (srv, 445), 0x1100_000a, 0x1200_000a, le);
    w.smb_conn(a, 0x0000_2c00_0000_0051);
    w.handshake(a);
    w.wait(500);
    w.smb_logon(a, 0x0311, true);
    // tree connect, create svcctl, bind, OpenSCManagerW, CreateServiceW, ...
    w.smb_encrypted(
        a,
        &[148, 96, 172, 152, 220, 132, 240, 148, 680, 164, 220, 152],
    );
    w.wait(1_000);
    w.close(a);
    w.wait(20_000);
    let b = w.conn((cli, 50212), (srv, 445), 0x1300_000b, 0x1400_000b, le);
    w.smb_conn(b, 0x0000_2c00_0000_0055);
    w.smb_state(b).signed = true;
    w.handshake(b);
    w.wait(500);
    w.smb_logon(b, 0x0311, false);
    w.smb_tree_connect(b, r"\\10.11.0.5\IPC$", 1);
    let fid = w.smb_open(b, "srvsvc");
    w.smb_bind(b, &fid, &SRVSVC, 310, 0x0000_5b11, r"\PIPE\srvsvc");
    w.wait(700);
    let stub = st_share_enum(le, r"\\10.11.0.5");
    let shares = [
        ("ADMIN$", 0x8000_0000, "Remote Admin"),
        ("C$", 0x8000_0000, "Default share"),
        ("IPC$", 0x8000_0003, "Remote IPC"),
    ];
    let reply = st_share_enum_resp(le, &shares);
    w.call_transceive(b, &fid, Req::new(2, 15, &stub), 1_830, &reply);
    w.wait(400);
    w.smb_close(b, &fid);
    w.close(b);
    w
}

/// Scenario 12: SMB 2.1 named pipes. svcctl opened by a CREATE compounded
/// with the IOCTL that carries the bind (the IOCTL's FileId is "the
/// CREATE's"), then OpenSCManagerW, CreateServiceW and StartServiceW by
/// FSCTL_PIPE_TRANSCEIVE; atsvc NetrJobAdd whose request PDU is written in
/// three SMB2 WRITEs and whose response is read back by READ.
fn s12_smb2_compound_split() -> World {
    let mut w = World::new(12);
    let le = true;
    let cli = ip(10, 12, 0, 10);
    let srv = ip(10, 12, 0, 5);
    let c = w.conn((cli, 49812), (srv, 445), 0x1500_000c, 0x1600_000c, le);
    w.smb_conn(c, 0x0000_0400_0000_0021);
    w.handshake(c);
    w.wait(600);
    w.smb_logon(c, 0x0210, false);
    w.smb_tree_connect(c, r"\\10.12.0.5\IPC$", 5);
    w.bind_ctx0(c, &SVCCTL, 4280);
    let mids = w.smb_create_transceive(c, "svcctl");
    w.wait(950);
    w.accept_ctx0(c, &SVCCTL, 4280, 0x0000_6c12, r"\PIPE\svcctl");
    let fid = w.smb_create_transceive_resp(c, mids);
    w.wait(600);
    let scm = w.rng.handle();
    let svc = w.rng.handle();
    w.call_transceive(
        c,
        &fid,
        Req::new(2, 15, &st_open_scm(le, r"\\10.12.0.5")),
        1_420,
        &st_handle_status(le, &scm, 0),
    );
    w.wait(800);
    let stub = st_create_service(le, &scm, "WgKpQzRt", "WgKpQzRt", SMBEXEC_PATH);
    w.call_transceive(
        c,
        &fid,
        Req::new(3, 12, &stub),
        12_500,
        &st_create_service_resp(le, &svc),
    );
    w.wait(700);
    w.call_transceive(
        c,
        &fid,
        Req::new(4, 19, &st_start_service(le, &svc)),
        30_200,
        &st_status(le, 1053),
    );
    w.wait(900);
    w.smb_close(c, &fid);
    w.wait(3_000);
    let fid = w.smb_open(c, "atsvc");
    w.smb_bind(c, &fid, &ATSVC, 290, 0x0000_6c13, r"\PIPE\atsvc");
    w.wait(650);
    let cmd = format!(
        r"powershell.exe -NoP -NonI -W Hidden -Enc {}",
        w.rng.b64ish(600)
    );
    let stub = st_netr_job_add(le, r"\\10.12.0.5", &cmd);
    let k = w.request(c, Req::new(2, 0, &stub));
    w.smb_write(c, &fid, 3);
    let mid = w.smb_read_req(c, &fid);
    w.wait(2_100);
    w.response(k, &st_netr_job_add_resp(le, 3), None);
    w.smb_read_resp(c, mid);
    w.wait(500);
    w.smb_close(c, &fid);
    w.close(c);
    w
}

/// Max fragment size DCOM negotiates over ncacn_ip_tcp (Windows' default).
const DCOM_FRAG: u16 = 5840;
/// Stub bytes per 5,840-byte request or response fragment (5840 - 24).
const DCOM_FRAG_STUB: usize = 5816;
/// Stub bytes per 4,280-byte fragment (4280 - 24), the max fragment size on SMB pipes.
const SMB_FRAG_STUB: usize = 4256;

/// Scenario 13: DCOM (WMI) on a dynamic port. GetObject's response is 16 fragments of
/// 5,840 bytes (93,056 stub bytes, over Zeek's `DCE_RPC::max_frag_data` in all but not
/// per fragment); then ExecMethod (Win32_Process.Create) and, after an alter_context
/// adding IRemUnknown2 as context 1, RemRelease.
fn s13_dcom_wmi_bigresp() -> World {
    let mut w = World::new(13);
    let le = true;
    let cli = ip(10, 13, 0, 10);
    let srv = ip(10, 13, 0, 5);
    let c = w.conn((cli, 49833), (srv, 49702), 0x1d00_000d, 0x1e00_000d, le);
    w.handshake(c);
    w.wait(650);
    w.bind_tcp(c, &WBEM, DCOM_FRAG, 410, 0x0000_d013, "49702");
    w.wait(1_300);
    let ipid = w.rng.uuid_string();
    let cid = w.rng.uuid_string();
    // call_id 2: GetObject("Win32_Process"), answered with the class in 16 fragments
    let stub = st_wbem_get_object(le, &cid, "Win32_Process");
    let k = w.request(c, Req::new(2, 6, &stub).obj(&ipid).frag(DCOM_FRAG_STUB));
    w.send(c, C);
    w.wait(46_250);
    let total = 16 * DCOM_FRAG_STUB;
    let n = total - st_wbem_object_resp(le, &objref_wbem(&[])).len();
    let mut class = Le::default();
    class.u32(0x1234_5678).u32(n as u32 - 8); // EncodingUnit header
    let opaque = w.rng.bytes(n - 8); // the class definition with amended qualifiers
    let stub = st_wbem_object_resp(le, &objref_wbem(&class.bytes(&opaque).take()));
    assert_eq!(stub.len(), total);
    w.response(k, &stub, None);
    w.send(c, S); // 16 PDUs of 5,840 bytes: 4 full segments each
    w.wait(2_400);
    w.ack(c, C);
    w.wait(1_100);
    // call_id 3: ExecMethod Win32_Process.Create, as wmiexec calls it
    let inparams = wmio_instance(
        "__PARAMETERS",
        &[
            ("CommandLine", CIM_STRING, Val::Str(WMI_COMMAND)),
            ("CurrentDirectory", CIM_STRING, Val::Str(r"C:\")),
            ("ProcessStartupInformation", CIM_OBJECT, Val::Null),
        ],
    );
    let stub = st_wbem_exec_method(le, &cid, "Win32_Process", "Create", &objref_wbem(&inparams));
    let outparams = wmio_instance(
        "__PARAMETERS",
        &[
            ("ProcessId", CIM_UINT32, Val::U32(4_812)),
            ("ReturnValue", CIM_UINT32, Val::U32(0)),
        ],
    );
    let reply = st_wbem_object_resp(le, &objref_wbem(&outparams));
    let r = Req::new(3, 24, &stub).obj(&ipid).frag(DCOM_FRAG_STUB);
    w.call(c, r, 61_800, &reply);
    w.wait(1_700);
    // call_id 4: alter_context adding IRemUnknown2 as context 1
    let ctxs: &[(u16, &Iface, &[Syn])] = &[(1, &REM_UNKNOWN2, &[NDR])];
    w.bind(c, PT_ALTER, 4, DCOM_FRAG, 0x0000_d013, ctxs, None);
    w.send(c, C);
    w.wait(290);
    let results = [(1, &REM_UNKNOWN2, 0, 0)];
    w.bind_ack(
        c,
        PT_ALTER_RESP,
        4,
        DCOM_FRAG,
        0x0000_d013,
        "",
        &results,
        None,
    );
    w.send(c, S);
    w.wait(520);
    // call_id 5: RemRelease of the IWbemServices reference, on the IRemUnknown IPID
    let rem_ipid = w.rng.uuid_string();
    let stub = st_rem_release(le, &cid, &ipid, 5);
    let r = Req::new(5, 5, &stub)
        .ctx(1)
        .obj(&rem_ipid)
        .frag(DCOM_FRAG_STUB);
    w.call(c, r, 830, &st_orpc_hresult(le, 0));
    w.wait(3_000);
    w.close(c);
    w
}

/// The command line scenario 13's ExecMethod starts (wmiexec's shape).
const WMI_COMMAND: &str = r"cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1704075000.13 2>&1";

/// TASK_XML with another Exec action.
fn task_xml(command: &str, arguments: &str) -> String {
    let start = TASK_XML.find("<Command>").expect("a Command");
    let end = TASK_XML.find("</Exec>").expect("an Exec");
    format!(
        "{}<Command>{command}</Command>\n      <Arguments>{arguments}</Arguments>\n    {}",
        &TASK_XML[..start],
        &TASK_XML[end..]
    )
}

/// Scenario 14: ITaskSchedulerService over the SMB2 pipe `\atsvc`, by WRITE and READ
/// with one fragment per message (as Impacket's atexec): SchRpcRegisterTask whose request
/// is 9 fragments (34,740 stub bytes, over Zeek's `DCE_RPC::max_frag_data` in all but
/// not per fragment), then SchRpcEnableTask, SchRpcRetrieveTask (the XML back in 9
/// fragments), SchRpcRun, SchRpcGetLastRunInfo, SchRpcDelete.
fn s14_smb2_atsvc_bigtask() -> World {
    let mut w = World::new(14);
    let le = true;
    let cli = ip(10, 14, 0, 10);
    let srv = ip(10, 14, 0, 5);
    let c = w.conn((cli, 49914), (srv, 445), 0x1900_000e, 0x1a00_000e, le);
    w.smb_conn(c, 0x0000_1000_0000_0041);
    w.smb_state(c).signed = true;
    w.handshake(c);
    w.wait(550);
    w.smb_logon(c, 0x0302, false);
    w.smb_tree_connect(c, r"\\10.14.0.5\IPC$", 1);
    let fid = w.smb_open(c, "atsvc");
    w.smb_bind(c, &fid, &TSCH, 330, 0x0000_e014, r"\PIPE\atsvc");
    w.wait(600);
    // A launcher with a long encoded script, sized so that the stub is 34,740 bytes.
    let path = r"\lFqwOZwT";
    let pool = w.rng.b64ish(20_000);
    let stub_of = |n: usize| {
        let args = format!("-NoP -NonI -W Hidden -Enc {}", &pool[..n]);
        let xml = task_xml("powershell.exe", &args);
        (st_sch_register(le, path, &xml), xml)
    };
    let n = (12_000..20_000)
        .find(|&n| stub_of(n).0.len() >= 34_740)
        .expect("a size");
    let (stub, xml) = stub_of(n);
    assert_eq!(stub.len(), 34_740);
    let f = SMB_FRAG_STUB;
    let reply = st_sch_register_resp(le, path);
    w.call_rw(c, &fid, Req::new(2, 1, &stub).frag(f), 8_430, &reply);
    w.wait(700);
    let stub = st_sch_enable(le, path, true);
    w.call_rw(
        c,
        &fid,
        Req::new(3, 19, &stub).frag(f),
        2_100,
        &st_status(le, 0),
    );
    w.wait(600);
    let stub = st_sch_retrieve(le, path, "en-US");
    let reply = st_sch_retrieve_resp(le, &xml);
    w.call_rw(c, &fid, Req::new(4, 2, &stub).frag(f), 1_900, &reply);
    w.wait(650);
    let guid = w.rng.uuid_string();
    let reply = st_sch_run_resp(le, &guid);
    w.call_rw(
        c,
        &fid,
        Req::new(5, 12, &st_sch_run(le, path)).frag(f),
        5_300,
        &reply,
    );
    w.wait(1_500_000); // the task runs
    let stub = st_sch_path(le, path, None);
    let reply = st_sch_last_run_resp(le, [2024, 1, 1, 1, 2, 20, 1, 512], 0);
    w.call_rw(c, &fid, Req::new(6, 16, &stub).frag(f), 1_200, &reply);
    w.wait(800);
    let stub = st_sch_path(le, path, Some(0));
    w.call_rw(
        c,
        &fid,
        Req::new(7, 13, &stub).frag(f),
        3_800,
        &st_status(le, 0),
    );
    w.wait(500);
    w.smb_close(c, &fid);
    w.close(c);
    w
}

/// Scenario 15: a service created on one connection and started from another. **A**
/// (SMB2 pipe `\svcctl`, FSCTL_PIPE_TRANSCEIVE): OpenSCManagerW, CreateServiceW,
/// CloseServiceHandle twice; the connection closes. Two seconds later **B** (TCP, port
/// 49667, same client and server): OpenSCManagerW, OpenServiceW by name, StartServiceW,
/// CloseServiceHandle twice.
fn s15_svcctl_reconnect() -> World {
    let mut w = World::new(15);
    let le = true;
    let cli = ip(10, 15, 0, 10);
    let srv = ip(10, 15, 0, 5);
    let (name, path) = ("UpdHelper", r"C:\Windows\Temp\updhelper.exe -service");
    let a = w.conn((cli, 49915), (srv, 445), 0x1b00_000f, 0x1c00_000f, le);
    w.smb_conn(a, 0x0000_0800_0000_0011);
    w.handshake(a);
    w.wait(500);
    w.smb_logon(a, 0x0210, false);
    w.smb_tree_connect(a, r"\\10.15.0.5\IPC$", 1);
    let fid = w.smb_open(a, "svcctl");
    w.smb_bind(a, &fid, &SVCCTL, 300, 0x0000_f015, r"\PIPE\svcctl");
    w.wait(500);
    let scm = w.rng.handle();
    let svc = w.rng.handle();
    let reply = st_handle_status(le, &scm, 0);
    let stub = st_open_scm(le, r"\\10.15.0.5");
    w.call_transceive(a, &fid, Req::new(2, 15, &stub), 1_250, &reply);
    w.wait(700);
    let stub = st_create_service(le, &scm, name, name, path);
    let reply = st_create_service_resp(le, &svc);
    w.call_transceive(a, &fid, Req::new(3, 12, &stub), 11_900, &reply);
    w.wait(600);
    let reply = st_close_resp(le);
    w.call_transceive(a, &fid, Req::new(4, 0, &st_handle(&svc)), 310, &reply);
    w.wait(400);
    w.call_transceive(a, &fid, Req::new(5, 0, &st_handle(&scm)), 290, &reply);
    w.wait(400);
    w.smb_close(a, &fid);
    w.close(a);
    w.wait(2_000_000);

    let b = w.conn((cli, 49916), (srv, 49667), 0x1d00_000f, 0x1e00_000f, le);
    w.handshake(b);
    w.wait(700);
    w.bind_tcp(b, &SVCCTL, 4280, 330, 0x0000_f016, "49667");
    w.wait(500);
    let scm = w.rng.handle();
    let svc = w.rng.handle();
    let reply = st_handle_status(le, &scm, 0);
    w.call(
        b,
        Req::new(2, 15, &st_open_scm(le, r"\\10.15.0.5")),
        1_180,
        &reply,
    );
    w.wait(600);
    let reply = st_handle_status(le, &svc, 0);
    w.call(
        b,
        Req::new(3, 16, &st_open_service(le, &scm, name)),
        950,
        &reply,
    );
    w.wait(500);
    let stub = st_start_service(le, &svc);
    w.call(b, Req::new(4, 19, &stub), 24_600, &st_status(le, 0));
    w.wait(800);
    let reply = st_close_resp(le);
    w.call(b, Req::new(5, 0, &st_handle(&svc)), 280, &reply);
    w.wait(300);
    w.call(b, Req::new(6, 0, &st_handle(&scm)), 260, &reply);
    w.wait(1_000);
    w.close(b);
    w
}

/// Size limit of a generated capture, in KiB.
const SMALL_KIB: usize = 20;
/// The limit of the two captures whose calls carry more than Zeek's
/// `DCE_RPC::max_frag_data` (30,000) bytes: they cannot be small.
const BIG_KIB: usize = 128;

type Scenario = (&'static str, fn() -> World, usize);

const SCENARIOS: &[Scenario] = &[
    ("tcp135_epmapper", s01_tcp135_epmapper, SMALL_KIB),
    ("dynamic_port_svcctl", s02_dynamic_port_svcctl, SMALL_KIB),
    ("multifrag", s03_multifrag, SMALL_KIB),
    ("bigendian_client", s04_bigendian_client, SMALL_KIB),
    ("alter_context", s05_alter_context, SMALL_KIB),
    ("midstream", s06_midstream, SMALL_KIB),
    ("ooo_retrans", s07_ooo_retrans, SMALL_KIB),
    ("lost_segment", s08_lost_segment, SMALL_KIB),
    ("privacy_auth", s09_privacy_auth, SMALL_KIB),
    ("atsvc_schtask", s10_atsvc_schtask, SMALL_KIB),
    ("smb3_encrypted", s11_smb3_encrypted, SMALL_KIB),
    ("smb2_compound_split", s12_smb2_compound_split, SMALL_KIB),
    ("dcom_wmi_bigresp", s13_dcom_wmi_bigresp, BIG_KIB),
    ("smb2_atsvc_bigtask", s14_smb2_atsvc_bigtask, BIG_KIB),
    ("svcctl_reconnect", s15_svcctl_reconnect, SMALL_KIB),
];

fn main() {
    let out = match std::env::args_os().nth(1) {
        Some(o) => o,
        None => {
            eprintln!("usage: make_captures OUTDIR");
            std::process::exit(2);
        }
    };
    let out = Path::new(&out);
    fs::create_dir_all(out).expect("create output directory");
    write_scenarios(out, SCENARIOS);
    // The AD attack scenarios (issue 18) go to their own folder, so the top-level set
    // stays what the other tests count.
    let attack = out.join("attack");
    fs::create_dir_all(&attack).expect("create attack directory");
    write_scenarios(&attack, attack::SCENARIOS);
}

fn write_scenarios(out: &Path, scenarios: &[Scenario]) {
    for (name, make, kib) in scenarios {
        let (pcap, tsv) = make().finish();
        assert!(pcap.len() < kib * 1024, "{} is {} bytes", name, pcap.len());
        let rows = tsv.lines().count() - 1;
        fs::write(out.join(format!("{}.pcap", name)), &pcap).expect("write pcap");
        fs::write(out.join(format!("{}.expected.tsv", name)), &tsv).expect("write tsv");
        eprintln!("{:<26} {:>6} bytes {:>3} calls", name, pcap.len(), rows);
    }
}
