//! Accurate call tracking for one association (one TCP connection or one named pipe):
//! presentation contexts from bind/alter_context and their acks, fragment reassembly per
//! direction and call id, and request/response matching by call id (FIFO on reuse).

use super::pdu::{self, Body, Pdu, SyntaxId};
use crate::FastMap;
use crate::auth::keys::KeySource;
use crate::capture::Timestamp;
use crate::names::Uuid;
use crate::stats::Counters;
use smol_str::SmolStr;
use std::collections::VecDeque;

/// Limits for one association; each has a counter in [`Counters`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Stub bytes kept per call (request side) for argument decoding; the rest is counted.
    pub max_stub_bytes: usize,
    /// Bytes accepted across the fragments of one call before reassembly gives up.
    pub max_frag_bytes: usize,
    /// Calls being reassembled at once per direction.
    pub max_reassembly: usize,
    /// Requests waiting for their response.
    pub max_pending_calls: usize,
    /// Presentation contexts kept per association.
    pub max_contexts: usize,
    /// Which calls' request stubs are worth keeping (those an argument decoder reads);
    /// `None` keeps every stub. Stub lengths are counted either way.
    pub keep_stub: Option<fn(&Uuid, u16) -> bool>,
    /// Which calls' whole response stubs are worth keeping (up to [`RESP_STUB_KEEP_WHOLE`]:
    /// DCOM activations and method calls hand out object references); `None` keeps the
    /// first [`RESP_STUB_KEEP`] bytes of every response only. With a predicate, requests
    /// without their bind that carry an object UUID (DCOM calls, named later by their
    /// IPID) keep both stubs.
    pub keep_response: Option<fn(&Uuid, u16) -> bool>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stub_bytes: 1 << 20,
            max_frag_bytes: 16 << 20,
            max_reassembly: 64,
            max_pending_calls: 4096,
            max_contexts: 256,
            keep_stub: None,
            keep_response: None,
        }
    }
}

/// Responses kept while waiting for a late request.
const EARLY_RESPONSES: usize = 64;

/// Response stub bytes kept per call: enough for the handles and return codes the argument
/// decoders link calls by (`crate::args`), small enough to keep for every call.
pub const RESP_STUB_KEEP: usize = 64;

/// Response stub bytes kept for the calls `Limits::keep_response` picks.
pub const RESP_STUB_KEEP_WHOLE: usize = 16 << 10;

/// NDR64 transfer syntax 71710533-beba-4937-8319-b5dbef9ccc36 (MS-RPCE 2.2.4.12).
const NDR64: Uuid = Uuid([
    0x71, 0x71, 0x05, 0x33, 0xbe, 0xba, 0x49, 0x37, 0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36,
]);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Ok,
    Fault(u32),
    NoResponse,
}

/// One DCE-RPC call as it happened on the wire.
#[derive(Debug, Clone)]
pub struct Call {
    /// Time of the packet that completed the request (its last fragment).
    pub ts: Timestamp,
    /// Time of the packet that completed the response or fault.
    pub resp_ts: Option<Timestamp>,
    /// Direction (0 or 1 of the transport) the request travelled in: the client's.
    pub client_dir: u8,
    pub call_id: u32,
    pub ctx_id: u16,
    pub opnum: u16,
    /// Interface from the presentation context; None when its bind was not seen.
    pub uuid: Option<Uuid>,
    pub if_version: Option<(u16, u16)>,
    /// Object UUID (DCOM calls carry the interface pointer id here).
    pub object: Option<Uuid>,
    pub status: CallStatus,
    /// Secondary address from the bind_ack of this association.
    pub sec_addr: Option<SmolStr>,
    pub auth_type: Option<u8>,
    pub auth_level: Option<u8>,
    /// The request stub is encrypted (packet privacy) on the wire.
    pub encrypted: bool,
    /// Set when every request fragment of a sealed call was unsealed with a key that
    /// verified (then `stub` holds the clear stub): the kind of key.
    pub decrypted: Option<KeySource>,
    /// Request used big-endian NDR.
    pub big_endian: bool,
    /// Fragments of the request.
    pub req_frags: u32,
    /// Total request stub length (all fragments).
    pub req_stub_len: u64,
    /// Total response stub length.
    pub resp_stub_len: u64,
    /// Request stub (up to `max_stub_bytes`; empty when encrypted).
    pub stub: Vec<u8>,
    /// First [`RESP_STUB_KEEP`] bytes of the response stub (empty when encrypted or none),
    /// or up to [`RESP_STUB_KEEP_WHOLE`] for the calls `Limits::keep_response` picks.
    pub resp_stub: Vec<u8>,
    /// The server accepted the NDR64 transfer syntax for this call's context.
    pub ndr64: bool,
    /// The first fragment of the request was not seen (lost or before the capture).
    pub partial: bool,
}

#[derive(Debug, Clone)]
struct Context {
    syntax: SyntaxId,
    uuid: Uuid,
    /// Accepted by the server (None while unanswered).
    accepted: Option<bool>,
    /// The accepted transfer syntax is NDR64.
    ndr64: bool,
}

/// A response being reassembled: stub bytes so far, bytes kept, bytes to keep.
type RespPart = (u64, Vec<u8>, usize);

/// The fields of a request PDU [`Association::on_request`] needs.
struct Req<'a> {
    ctx_id: u16,
    opnum: u16,
    object: Option<[u8; 16]>,
    stub: &'a [u8],
    unsealed: Option<KeySource>,
}

#[derive(Debug)]
struct Partial {
    call: Call,
    bytes: usize,
    over_limit: bool,
}

/// State of one association.
#[derive(Debug, Default)]
pub struct Association {
    contexts: FastMap<u16, Context>,
    /// Binds waiting for their ack: call id → proposed context ids in order.
    pending_binds: VecDeque<(u32, Vec<u16>)>,
    sec_addr: Option<SmolStr>,
    /// Requests being reassembled, per direction, by call id.
    reasm: [FastMap<u32, Partial>; 2],
    /// Responses being reassembled, by call id.
    resp_reasm: [FastMap<u32, RespPart>; 2],
    /// Completed requests waiting for a response, by call id, oldest first.
    pending: FastMap<u32, VecDeque<Call>>,
    pending_count: usize,
    /// Responses seen before their request (the request was held behind a TCP hole or
    /// reordered): matched when the request completes, counted as orphans at the end.
    early: VecDeque<(u32, Timestamp, CallStatus, u64, Vec<u8>)>,
    /// Finished calls in completion order.
    pub done: Vec<Call>,
    limits: Limits,
    seen_bind: bool,
}

impl Association {
    pub fn new(limits: Limits) -> Self {
        Association {
            limits,
            ..Default::default()
        }
    }

    /// (request time, call id) of the earliest request still waiting for its response:
    /// calls finished after it cannot be decoded in request order before it is settled.
    pub fn oldest_pending(&self) -> Option<(Timestamp, u32)> {
        if self.pending_count == 0 {
            return None;
        }
        self.pending
            .values()
            .filter_map(|q| q.iter().map(|c| (c.ts, c.call_id)).min())
            .min()
    }

    /// True once a bind or alter_context was seen.
    pub fn bind_seen(&self) -> bool {
        self.seen_bind
    }

    /// Handle one complete PDU that travelled in direction `dir` and was completed at `ts`.
    pub fn on_pdu(&mut self, dir: usize, ts: Timestamp, p: &Pdu<'_>, counters: &mut Counters) {
        self.on_pdu_unsealed(dir, ts, p, None, counters)
    }

    /// [`Association::on_pdu`] for a PDU whose sealed stub was unsealed in place with a key
    /// of kind `unsealed` (None: as it came off the wire). The call keeps `encrypted` (what
    /// the wire showed) and gains `decrypted` when all its request fragments were unsealed.
    pub fn on_pdu_unsealed(
        &mut self,
        dir: usize,
        ts: Timestamp,
        p: &Pdu<'_>,
        unsealed: Option<KeySource>,
        counters: &mut Counters,
    ) {
        let h = &p.header;
        let le = h.little_endian();
        match &p.body {
            Body::Bind { contexts, .. } | Body::AlterContext { contexts, .. } => {
                self.seen_bind = true;
                let mut ids = Vec::new();
                for c in contexts {
                    if self.contexts.len() >= self.limits.max_contexts
                        && !self.contexts.contains_key(&c.ctx_id)
                    {
                        break;
                    }
                    let uuid = Uuid::from_wire(&c.abstract_syntax.uuid_raw, le);
                    // A re-proposed context id replaces the old one (alter_context may redefine).
                    self.contexts.insert(
                        c.ctx_id,
                        Context {
                            syntax: c.abstract_syntax,
                            uuid,
                            accepted: None,
                            ndr64: false,
                        },
                    );
                    ids.push(c.ctx_id);
                }
                if self.pending_binds.len() >= 16 {
                    self.pending_binds.pop_front();
                }
                self.pending_binds.push_back((h.call_id, ids));
            }
            Body::BindAck { sec_addr, results } | Body::AlterContextResp { sec_addr, results } => {
                let sa = pdu::trim_nul(sec_addr);
                if !sa.is_empty() {
                    self.sec_addr = Some(SmolStr::from(String::from_utf8_lossy(sa)));
                }
                let pos = self
                    .pending_binds
                    .iter()
                    .position(|(cid, _)| *cid == h.call_id);
                let ids = match pos {
                    Some(i) => self.pending_binds.remove(i).map(|(_, ids)| ids),
                    None => self.pending_binds.pop_back().map(|(_, ids)| ids),
                };
                if let Some(ids) = ids {
                    for (id, r) in ids.iter().zip(results.iter()) {
                        if let Some(c) = self.contexts.get_mut(id) {
                            c.accepted = Some(r.result == 0);
                            c.ndr64 = r.result == 0
                                && Uuid::from_wire(&r.transfer_syntax.uuid_raw, le) == NDR64;
                        }
                    }
                }
            }
            Body::BindNak { .. } => {
                let pos = self
                    .pending_binds
                    .iter()
                    .position(|(cid, _)| *cid == h.call_id);
                if let Some(i) = pos
                    && let Some((_, ids)) = self.pending_binds.remove(i)
                {
                    for id in ids {
                        if self.contexts.get(&id).is_some_and(|c| c.accepted.is_none()) {
                            self.contexts.remove(&id);
                        }
                    }
                }
            }
            Body::Request {
                ctx_id,
                opnum,
                object,
                stub,
                ..
            } => {
                let req = Req {
                    ctx_id: *ctx_id,
                    opnum: *opnum,
                    object: *object,
                    stub,
                    unsealed,
                };
                self.on_request(dir, ts, p, req, counters);
            }
            Body::Response { stub, .. } => {
                let d = dir & 1;
                let (total, mut kept, cap) = match self.resp_reasm[d].remove(&h.call_id) {
                    Some((n, k, cap)) if !h.first() => (n + stub.len() as u64, k, cap),
                    _ => (stub.len() as u64, Vec::new(), self.resp_keep(h.call_id)),
                };
                let privacy = p
                    .auth
                    .is_some_and(|a| a.auth_level == pdu::AUTH_LEVEL_PKT_PRIVACY);
                if (!privacy || unsealed.is_some()) && kept.len() < cap {
                    let room = cap - kept.len();
                    kept.extend_from_slice(&stub[..stub.len().min(room)]);
                }
                if h.last() {
                    self.answer(h.call_id, ts, CallStatus::Ok, total, kept, counters);
                } else if self.resp_reasm[d].len() < self.limits.max_reassembly {
                    self.resp_reasm[d].insert(h.call_id, (total, kept, cap));
                } else {
                    counters.dcerpc_frag_limit += 1;
                }
            }
            Body::Fault { status, .. } => {
                let fault = CallStatus::Fault(*status);
                self.answer(h.call_id, ts, fault, 0, Vec::new(), counters);
            }
            Body::Other => {}
        }
    }

    fn on_request(
        &mut self,
        dir: usize,
        ts: Timestamp,
        p: &Pdu<'_>,
        req: Req<'_>,
        counters: &mut Counters,
    ) {
        let Req {
            ctx_id,
            opnum,
            object,
            stub,
            unsealed,
        } = req;
        let h = &p.header;
        let d = dir & 1;
        let encrypted = p
            .auth
            .is_some_and(|a| a.auth_level == pdu::AUTH_LEVEL_PKT_PRIVACY);
        // The stub can be read: clear on the wire, or unsealed with a key.
        let readable = !encrypted || unsealed.is_some();
        let existing = self.reasm[d].remove(&h.call_id);
        let mut part = match existing {
            Some(part) if !h.first() => part,
            _ => {
                if existing.is_some() {
                    // A second first fragment for a call still being reassembled.
                    counters.dcerpc_bad_pdus += 1;
                }
                let ctx = self.contexts.get(&ctx_id);
                let call = Call {
                    ts,
                    resp_ts: None,
                    client_dir: d as u8,
                    call_id: h.call_id,
                    ctx_id,
                    opnum,
                    uuid: ctx.map(|c| c.uuid),
                    if_version: ctx.map(|c| (c.syntax.major, c.syntax.minor)),
                    object: object.map(|o| Uuid::from_wire(&o, h.little_endian())),
                    status: CallStatus::NoResponse,
                    sec_addr: self.sec_addr.clone(),
                    auth_type: p.auth.map(|a| a.auth_type),
                    auth_level: p.auth.map(|a| a.auth_level),
                    encrypted,
                    decrypted: if encrypted { unsealed } else { None },
                    big_endian: !h.little_endian(),
                    req_frags: 0,
                    req_stub_len: 0,
                    resp_stub_len: 0,
                    stub: Vec::new(),
                    resp_stub: Vec::new(),
                    ndr64: ctx.is_some_and(|c| c.ndr64),
                    partial: !h.first(),
                };
                Partial {
                    call,
                    bytes: 0,
                    over_limit: false,
                }
            }
        };
        if encrypted && unsealed.is_none() && part.call.decrypted.is_some() {
            // A fragment stayed sealed: the reassembled stub cannot be read.
            part.call.decrypted = None;
            part.call.stub = Vec::new();
        }
        part.call.req_frags += 1;
        part.call.req_stub_len += stub.len() as u64;
        part.bytes += stub.len();
        if part.bytes > self.limits.max_frag_bytes && !part.over_limit {
            part.over_limit = true;
            counters.dcerpc_frag_limit += 1;
        }
        let wanted = match (self.limits.keep_stub, part.call.uuid) {
            (None, _) => true,
            (Some(keep), Some(u)) => keep(&u, part.call.opnum),
            // A DCOM call whose bind was missed: its IPID may name it later.
            (Some(_), None) => self.limits.keep_response.is_some() && part.call.object.is_some(),
        };
        let readable = readable && (!part.call.encrypted || part.call.decrypted.is_some());
        if wanted && readable && part.call.stub.len() < self.limits.max_stub_bytes {
            let room = self.limits.max_stub_bytes - part.call.stub.len();
            part.call
                .stub
                .extend_from_slice(&stub[..stub.len().min(room)]);
        }
        if !h.last() {
            if self.reasm[d].len() >= self.limits.max_reassembly {
                counters.dcerpc_frag_limit += 1;
                return;
            }
            self.reasm[d].insert(h.call_id, part);
            return;
        }
        let mut call = part.call;
        call.ts = ts;
        counters.dcerpc_calls += 1;
        if call.uuid.is_none() {
            counters.dcerpc_missed_binds += 1;
        }
        if call.encrypted {
            counters.dcerpc_encrypted_stubs += 1;
        }
        if let Some(i) = self
            .early
            .iter()
            .position(|(cid, t, _, _, _)| *cid == call.call_id && *t >= call.ts)
            && let Some((_, t, status, len, kept)) = self.early.remove(i)
        {
            self.complete(call, t, status, len, kept, counters);
            return;
        }
        if self.pending_count >= self.limits.max_pending_calls {
            counters.dcerpc_pending_limit += 1;
            // Oldest waiting call is given up as unanswered, never dropped.
            if let Some(old) = self.pop_oldest_pending() {
                self.done.push(old);
            }
        }
        self.pending
            .entry(call.call_id)
            .or_default()
            .push_back(call);
        self.pending_count += 1;
    }

    /// Response bytes to keep for the call waiting under `call_id` (a response seen
    /// before its request keeps the usual head).
    fn resp_keep(&self, call_id: u32) -> usize {
        let Some(keep) = self.limits.keep_response else {
            return RESP_STUB_KEEP;
        };
        let whole = self
            .pending
            .get(&call_id)
            .and_then(|q| q.front())
            .is_some_and(|c| match c.uuid {
                Some(u) => keep(&u, c.opnum),
                None => c.object.is_some(),
            });
        if whole {
            RESP_STUB_KEEP_WHOLE
        } else {
            RESP_STUB_KEEP
        }
    }

    fn pop_oldest_pending(&mut self) -> Option<Call> {
        let key = self
            .pending
            .iter()
            .filter_map(|(k, q)| q.front().map(|c| (c.ts, *k)))
            .min()
            .map(|(_, k)| k)?;
        let q = self.pending.get_mut(&key)?;
        let c = q.pop_front();
        if q.is_empty() {
            self.pending.remove(&key);
        }
        if c.is_some() {
            self.pending_count -= 1;
        }
        c
    }

    fn answer(
        &mut self,
        call_id: u32,
        ts: Timestamp,
        status: CallStatus,
        resp_len: u64,
        resp_stub: Vec<u8>,
        counters: &mut Counters,
    ) {
        let Some(call) = self.pending.get_mut(&call_id).and_then(|q| q.pop_front()) else {
            if self.early.len() >= EARLY_RESPONSES {
                self.early.pop_front();
                counters.dcerpc_orphan_responses += 1;
            }
            self.early
                .push_back((call_id, ts, status, resp_len, resp_stub));
            return;
        };
        if self.pending.get(&call_id).is_some_and(|q| q.is_empty()) {
            self.pending.remove(&call_id);
        }
        self.pending_count -= 1;
        self.complete(call, ts, status, resp_len, resp_stub, counters);
    }

    fn complete(
        &mut self,
        mut call: Call,
        ts: Timestamp,
        status: CallStatus,
        resp_len: u64,
        resp_stub: Vec<u8>,
        counters: &mut Counters,
    ) {
        call.resp_ts = Some(ts);
        call.resp_stub = resp_stub;
        call.status = status;
        call.resp_stub_len = resp_len;
        if let CallStatus::Fault(_) = status {
            counters.dcerpc_faults += 1;
        }
        self.done.push(call);
    }

    /// End of the association: every call still waiting is unanswered. Returns all calls.
    pub fn finish(&mut self, counters: &mut Counters) -> Vec<Call> {
        let mut rest: Vec<Call> = self.pending.drain().flat_map(|(_, q)| q).collect();
        self.pending_count = 0;
        // Requests whose last fragment never came are lost: count them as missed by limit.
        for d in 0..2 {
            for (_, p) in self.reasm[d].drain() {
                let mut c = p.call;
                c.partial = true;
                counters.dcerpc_calls += 1;
                rest.push(c);
            }
        }
        counters.dcerpc_no_response += rest.len() as u64;
        counters.dcerpc_orphan_responses += self.early.len() as u64;
        self.early.clear();
        let mut out = std::mem::take(&mut self.done);
        out.append(&mut rest);
        out.sort_by_key(|c| (c.ts, c.call_id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcerpc::pdu::tests::{ack_body, bind_body, build, request_body, response_body};
    use crate::dcerpc::pdu::{
        ALTER_CONTEXT, ALTER_CONTEXT_RESP, BIND, BIND_ACK, FAULT, REQUEST, RESPONSE, parse_pdu,
    };

    const SVCCTL: [u8; 16] = [
        0x36, 0x7a, 0xbb, 0x81, 0x98, 0x44, 0x35, 0xf1, 0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10,
        0x03,
    ];
    const ATSVC: [u8; 16] = [
        0x1f, 0xf7, 0x06, 0x82, 0x0a, 0x51, 0x30, 0xe8, 0x07, 0x6d, 0x74, 0x0b, 0xe8, 0xce, 0xe9,
        0x8b,
    ];

    fn t(ms: i64) -> Timestamp {
        Timestamp::new(100 + ms / 1000, (ms % 1000) as u32 * 1_000_000)
    }

    fn feed(a: &mut Association, c: &mut Counters, dir: usize, ms: i64, raw: Vec<u8>) {
        let p = parse_pdu(&raw).expect("valid pdu");
        a.on_pdu(dir, t(ms), &p, c);
    }

    fn bound(le: bool) -> (Association, Counters) {
        let mut a = Association::new(Limits::default());
        let mut c = Counters::default();
        feed(
            &mut a,
            &mut c,
            0,
            0,
            build(BIND, 3, le, 1, &bind_body(le, &[(0, SVCCTL, 2)]), None),
        );
        feed(
            &mut a,
            &mut c,
            1,
            1,
            build(
                BIND_ACK,
                3,
                le,
                1,
                &ack_body(le, b"\\PIPE\\svcctl\0", &[0]),
                None,
            ),
        );
        (a, c)
    }

    #[test]
    fn request_response_and_fault() {
        let (mut a, mut c) = bound(true);
        feed(
            &mut a,
            &mut c,
            0,
            10,
            build(
                REQUEST,
                3,
                true,
                2,
                &request_body(true, 0, 12, b"abcd"),
                None,
            ),
        );
        feed(
            &mut a,
            &mut c,
            0,
            11,
            build(REQUEST, 3, true, 3, &request_body(true, 0, 19, b""), None),
        );
        feed(
            &mut a,
            &mut c,
            1,
            15,
            build(RESPONSE, 3, true, 2, &response_body(true, 0, b"xy"), None),
        );
        let mut fault = 0u32.to_le_bytes().to_vec();
        fault.extend_from_slice(&[0, 0, 0, 0]);
        fault.extend_from_slice(&5u32.to_le_bytes());
        fault.extend_from_slice(&[0; 4]);
        feed(
            &mut a,
            &mut c,
            1,
            20,
            build(FAULT, 3, true, 3, &fault, None),
        );
        feed(
            &mut a,
            &mut c,
            0,
            30,
            build(REQUEST, 3, true, 4, &request_body(true, 0, 0, b""), None),
        );
        let calls = a.finish(&mut c);
        assert_eq!(calls.len(), 3);
        assert_eq!(
            (calls[0].opnum, calls[0].status, calls[0].resp_ts),
            (12, CallStatus::Ok, Some(t(15)))
        );
        assert_eq!(
            calls[0].uuid.map(|u| u.to_string()).as_deref(),
            Some("367abb81-9844-35f1-ad32-98f038001003")
        );
        assert_eq!(calls[0].sec_addr.as_deref(), Some("\\PIPE\\svcctl"));
        assert_eq!(calls[0].stub, b"abcd");
        assert_eq!(calls[0].resp_stub_len, 2);
        assert_eq!(calls[1].status, CallStatus::Fault(5));
        assert_eq!(calls[2].status, CallStatus::NoResponse);
        assert_eq!(
            (c.dcerpc_calls, c.dcerpc_faults, c.dcerpc_no_response),
            (3, 1, 1)
        );
    }

    #[test]
    fn big_endian_uuid_is_decoded_by_drep() {
        let (mut a, mut c) = bound(false);
        feed(
            &mut a,
            &mut c,
            0,
            10,
            build(REQUEST, 3, false, 2, &request_body(false, 0, 15, b""), None),
        );
        let calls = a.finish(&mut c);
        assert_eq!(
            calls[0].uuid.map(|u| u.to_string()).as_deref(),
            Some("367abb81-9844-35f1-ad32-98f038001003")
        );
        assert!(calls[0].big_endian);
        assert_eq!(calls[0].opnum, 15);
    }

    #[test]
    fn fragments_are_reassembled_and_time_is_the_last() {
        let (mut a, mut c) = bound(true);
        feed(
            &mut a,
            &mut c,
            0,
            10,
            build(REQUEST, 1, true, 2, &request_body(true, 0, 12, b"ab"), None),
        );
        feed(
            &mut a,
            &mut c,
            0,
            12,
            build(REQUEST, 0, true, 2, &request_body(true, 0, 12, b"cd"), None),
        );
        feed(
            &mut a,
            &mut c,
            0,
            14,
            build(REQUEST, 2, true, 2, &request_body(true, 0, 12, b"ef"), None),
        );
        feed(
            &mut a,
            &mut c,
            1,
            20,
            build(RESPONSE, 1, true, 2, &response_body(true, 0, b"123"), None),
        );
        feed(
            &mut a,
            &mut c,
            1,
            25,
            build(RESPONSE, 2, true, 2, &response_body(true, 0, b"45"), None),
        );
        let calls = a.finish(&mut c);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].stub, b"abcdef");
        assert_eq!(calls[0].req_frags, 3);
        assert_eq!(calls[0].ts, t(14));
        assert_eq!(calls[0].resp_ts, Some(t(25)));
        assert_eq!(calls[0].resp_stub_len, 5);
    }

    #[test]
    fn repeated_call_id_is_fifo() {
        let (mut a, mut c) = bound(true);
        feed(
            &mut a,
            &mut c,
            0,
            10,
            build(REQUEST, 3, true, 7, &request_body(true, 0, 1, b""), None),
        );
        feed(
            &mut a,
            &mut c,
            0,
            11,
            build(REQUEST, 3, true, 7, &request_body(true, 0, 2, b""), None),
        );
        feed(
            &mut a,
            &mut c,
            1,
            12,
            build(RESPONSE, 3, true, 7, &response_body(true, 0, b""), None),
        );
        let calls = a.finish(&mut c);
        assert_eq!(
            calls
                .iter()
                .map(|c| (c.opnum, c.status))
                .collect::<Vec<_>>(),
            vec![(1, CallStatus::Ok), (2, CallStatus::NoResponse)]
        );
    }

    #[test]
    fn alter_context_adds_an_interface_and_unknown_ctx_is_a_missed_bind() {
        let (mut a, mut c) = bound(true);
        feed(
            &mut a,
            &mut c,
            0,
            5,
            build(
                ALTER_CONTEXT,
                3,
                true,
                2,
                &bind_body(true, &[(1, ATSVC, 1)]),
                None,
            ),
        );
        feed(
            &mut a,
            &mut c,
            1,
            6,
            build(
                ALTER_CONTEXT_RESP,
                3,
                true,
                2,
                &ack_body(true, b"", &[0]),
                None,
            ),
        );
        feed(
            &mut a,
            &mut c,
            0,
            10,
            build(REQUEST, 3, true, 3, &request_body(true, 1, 0, b""), None),
        );
        feed(
            &mut a,
            &mut c,
            0,
            11,
            build(REQUEST, 3, true, 4, &request_body(true, 9, 0, b""), None),
        );
        let calls = a.finish(&mut c);
        assert_eq!(
            calls[0].uuid.map(|u| u.to_string()).as_deref(),
            Some("1ff70682-0a51-30e8-076d-740be8cee98b")
        );
        assert_eq!(
            calls[0].sec_addr.as_deref(),
            Some("\\PIPE\\svcctl"),
            "alter_context_resp keeps the bind's address"
        );
        assert_eq!(calls[1].uuid, None);
        assert_eq!(c.dcerpc_missed_binds, 1);
    }

    #[test]
    fn whole_responses_kept_for_picked_calls_and_unbound_object_calls() {
        let limits = Limits {
            keep_stub: Some(|_, _| false),
            keep_response: Some(|_, opnum| opnum == 12),
            ..Limits::default()
        };
        let mut a = Association::new(limits);
        let mut c = Counters::default();
        let bind = build(BIND, 3, true, 1, &bind_body(true, &[(0, SVCCTL, 2)]), None);
        feed(&mut a, &mut c, 0, 0, bind);
        let ack = build(BIND_ACK, 3, true, 1, &ack_body(true, b"135\0", &[0]), None);
        feed(&mut a, &mut c, 1, 1, ack);
        let body = vec![9u8; 300];
        for (cid, opnum) in [(2, 12), (3, 13)] {
            let req = build(
                REQUEST,
                3,
                true,
                cid,
                &request_body(true, 0, opnum, b"ab"),
                None,
            );
            feed(&mut a, &mut c, 0, 10, req);
            let f1 = build(RESPONSE, 1, true, cid, &response_body(true, 0, &body), None);
            let f2 = build(RESPONSE, 2, true, cid, &response_body(true, 0, &body), None);
            feed(&mut a, &mut c, 1, 11, f1);
            feed(&mut a, &mut c, 1, 12, f2);
        }
        let calls = a.finish(&mut c);
        assert_eq!(calls[0].resp_stub.len(), 600);
        assert_eq!(calls[1].resp_stub.len(), RESP_STUB_KEEP);
        assert!(calls[0].stub.is_empty());
        // No bind: a request with an object UUID (PFC_OBJECT_UUID) keeps both stubs.
        let mut a = Association::new(limits);
        let mut body = Vec::new();
        body.extend_from_slice(&2u32.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&5u16.to_le_bytes());
        body.extend_from_slice(&[0x11; 16]);
        body.extend_from_slice(b"st");
        feed(
            &mut a,
            &mut c,
            0,
            20,
            build(REQUEST, 0x83, true, 7, &body, None),
        );
        let resp = build(
            RESPONSE,
            3,
            true,
            7,
            &response_body(true, 0, &[5; 100]),
            None,
        );
        feed(&mut a, &mut c, 1, 21, resp);
        let calls = a.finish(&mut c);
        assert_eq!(calls[0].uuid, None);
        assert!(calls[0].object.is_some());
        assert_eq!((calls[0].stub.len(), calls[0].resp_stub.len()), (2, 100));
    }

    #[test]
    fn response_stub_head_kept_and_ndr64_flagged() {
        // Two response fragments: the first RESP_STUB_KEEP bytes are kept across them.
        let (mut a, mut c) = bound(true);
        let req = build(
            REQUEST,
            3,
            true,
            2,
            &request_body(true, 0, 12, b"abcd"),
            None,
        );
        feed(&mut a, &mut c, 0, 10, req);
        let first = vec![7u8; 40];
        let second = vec![8u8; 40];
        let f1 = build(RESPONSE, 1, true, 2, &response_body(true, 0, &first), None);
        let f2 = build(RESPONSE, 2, true, 2, &response_body(true, 0, &second), None);
        feed(&mut a, &mut c, 1, 11, f1);
        feed(&mut a, &mut c, 1, 12, f2);
        let calls = a.finish(&mut c);
        assert_eq!(calls[0].resp_stub_len, 80);
        assert_eq!(calls[0].resp_stub.len(), RESP_STUB_KEEP);
        assert_eq!(calls[0].resp_stub[..40], first[..]);
        assert_eq!(calls[0].resp_stub[40..], second[..RESP_STUB_KEEP - 40]);
        assert!(!calls[0].ndr64);
        // A bind_ack that accepts NDR64.
        for le in [true, false] {
            let mut a = Association::new(Limits::default());
            let mut c = Counters::default();
            let bind = build(BIND, 3, le, 1, &bind_body(le, &[(0, SVCCTL, 2)]), None);
            feed(&mut a, &mut c, 0, 0, bind);
            let mut ack = ack_body(le, b"\\PIPE\\svcctl\0", &[0]);
            let ndr = crate::dcerpc::pdu::tests::uuid_wire(&crate::dcerpc::pdu::tests::NDR, le);
            let at = ack.windows(16).position(|w| w == ndr).expect("NDR in ack");
            let ndr64 = crate::dcerpc::pdu::tests::uuid_wire(&NDR64.0, le);
            ack[at..at + 16].copy_from_slice(&ndr64);
            feed(&mut a, &mut c, 1, 1, build(BIND_ACK, 3, le, 1, &ack, None));
            let req = build(REQUEST, 3, le, 2, &request_body(le, 0, 12, b"x"), None);
            feed(&mut a, &mut c, 0, 2, req);
            assert!(a.finish(&mut c)[0].ndr64);
        }
    }

    #[test]
    fn early_response_pairs_with_late_request() {
        let (mut a, mut c) = bound(true);
        feed(
            &mut a,
            &mut c,
            1,
            20,
            build(RESPONSE, 3, true, 9, &response_body(true, 0, b""), None),
        );
        feed(
            &mut a,
            &mut c,
            0,
            10,
            build(REQUEST, 3, true, 9, &request_body(true, 0, 12, b""), None),
        );
        feed(
            &mut a,
            &mut c,
            1,
            30,
            build(RESPONSE, 3, true, 99, &response_body(true, 0, b""), None),
        );
        let calls = a.finish(&mut c);
        assert_eq!(calls[0].status, CallStatus::Ok);
        assert_eq!(calls[0].resp_ts, Some(t(20)));
        assert_eq!(c.dcerpc_orphan_responses, 1);
    }

    #[test]
    fn pending_limit_gives_up_oldest_as_unanswered() {
        let mut a = Association::new(Limits {
            max_pending_calls: 2,
            ..Limits::default()
        });
        let mut c = Counters::default();
        for cid in 0..5 {
            feed(
                &mut a,
                &mut c,
                0,
                cid as i64,
                build(REQUEST, 3, true, cid, &request_body(true, 0, 1, b""), None),
            );
        }
        let calls = a.finish(&mut c);
        assert_eq!(calls.len(), 5, "no call is dropped");
        assert_eq!(c.dcerpc_pending_limit, 3);
    }
}
