//! The per-connection protocol session: identify what a TCP connection carries (DCE-RPC
//! straight over TCP, or SMB with named pipes), attach the decoder, feed it, and turn its
//! calls into records when the connection closes.

use super::Options;
use super::dce::DceStream;
use super::pipes::{SmbState, TransportedCall};
use super::record::{self, CallTransport, UuidTextCache};
use super::sink::RecordSink;
use crate::args;
use crate::auth::keys::KeyRing;
use crate::capture;
use crate::dcerpc;
use crate::flow::FlowEvent;
use crate::flow::table::{ConnMeta, FlowApp};
use crate::output::SmolStr;
use crate::smb;
use crate::zeek;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Ports where a plain-TCP DCE-RPC server is expected (for orienting mid-stream connections).
pub(super) fn dce_server_port(port: u16) -> bool {
    matches!(port, 135 | 139 | 445 | 593)
}

/// What a connection was found to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Dce,
    Smb,
}

enum SessionState {
    /// Still looking at the first bytes.
    Sniffing,
    /// DCE-RPC straight over TCP.
    Dce(Box<DceStream>),
    /// SMB carrying named pipes.
    Smb(Box<SmbState>),
    Ignored,
}

/// Data held while deciding what a connection carries (bounded).
const SNIFF_BUDGET: usize = 4096;

pub(super) struct Session {
    sink: Rc<RefCell<RecordSink>>,
    state: SessionState,
    zeek_compat: bool,
    zeek_ignore: bool,
    limits: dcerpc::Limits,
    /// Per direction: first chunk seen.
    first_seen: [bool; 2],
    held: Vec<(usize, capture::Timestamp, Vec<u8>)>,
    held_bytes: usize,
    /// Zeek script state for the whole connection (Zeek mode).
    script: Option<zeek::ConnScript>,
    /// The connection's uid, made at its first record.
    uid: Option<SmolStr>,
    /// Records made so far (their rank in the record order).
    records: u64,
    /// Settled calls waiting to become records (reused buffers).
    ready: Vec<TransportedCall>,
    calls: Vec<(dcerpc::Call, args::Annotation)>,
    /// Parser bytes last added to the pipeline's `parser_bytes`.
    buffered: usize,
    /// The analyst's keys (None in Zeek mode and without keys).
    keys: Option<Arc<KeyRing>>,
}

impl Session {
    pub fn new(sink: Rc<RefCell<RecordSink>>, opts: &Options) -> Self {
        Session {
            sink,
            state: SessionState::Sniffing,
            zeek_compat: opts.zeek_compat,
            zeek_ignore: opts.zeek_ignore,
            limits: dcerpc::Limits {
                // Only the stubs an argument decoder reads are kept in memory.
                keep_stub: opts.dce.keep_stub.or(Some(args::keeps_stub)),
                // Whole responses only where object references (IPIDs) are handed out.
                keep_response: opts.dce.keep_response.or(Some(args::keeps_response)),
                ..opts.dce
            },
            first_seen: [false; 2],
            held: Vec::new(),
            held_bytes: 0,
            script: None,
            uid: None,
            records: 0,
            ready: Vec::new(),
            calls: Vec::new(),
            buffered: 0,
            keys: opts.active_keys().cloned(),
        }
    }

    /// Decide from the first bytes of a direction what this connection carries:
    /// `Some(Some(carrier))` attach, `Some(None)` not interesting, `None` not known yet.
    fn identify(&mut self, meta: &ConnMeta, dir: usize, data: &[u8]) -> Option<Option<Carrier>> {
        let first = !self.first_seen[dir];
        self.first_seen[dir] = true;
        if self.zeek_compat {
            // Zeek: well-known responder ports, or a DPD signature at the start of a direction.
            if matches!(meta.resp.1, 139 | 445) || (first && smb::zeek_smb_signature(data)) {
                return Some(Some(Carrier::Smb));
            }
            if meta.resp.1 == 135 || (first && dcerpc::pdu::zeek_signature(data)) {
                return Some(Some(Carrier::Dce));
            }
        } else {
            if first && smb::looks_like_smb(data) {
                return Some(Some(Carrier::Smb));
            }
            if meta.resp.1 == 135 || meta.orig.1 == 135 {
                return Some(Some(Carrier::Dce));
            }
            if first && dcerpc::pdu::plausible_header(data).is_some() {
                return Some(Some(Carrier::Dce));
            }
            if !meta.syn_seen && first && confirm_midstream(data) {
                return Some(Some(Carrier::Dce));
            }
        }
        if (self.first_seen[0] && self.first_seen[1]) || self.held_bytes > SNIFF_BUDGET {
            return Some(None);
        }
        None
    }

    fn attach(&mut self, meta: &ConnMeta, carrier: Carrier) {
        if self.zeek_compat {
            self.script = Some(zeek::ConnScript::new(true));
        }
        self.state = match carrier {
            Carrier::Dce => {
                self.sink.borrow_mut().counters.dcerpc_connections += 1;
                SessionState::Dce(Box::new(DceStream::new(
                    self.zeek_compat,
                    !meta.syn_seen,
                    self.limits,
                    self.keys.as_ref(),
                )))
            }
            Carrier::Smb => SessionState::Smb(Box::new(SmbState::new(
                self.zeek_compat,
                self.limits,
                self.keys.clone(),
            ))),
        };
    }

    fn feed(&mut self, meta: &ConnMeta, dir: usize, ts: capture::Timestamp, data: &[u8]) {
        let sink = self.sink.clone();
        let mut sink = sink.borrow_mut();
        let sink = &mut *sink;
        match &mut self.state {
            SessionState::Dce(d) => {
                d.feed(dir, ts, data, sink, self.script.as_mut(), 0);
                d.ready(sink, meta, &mut self.calls);
                self.ready.extend(self.calls.drain(..).map(|c| (c, tcp())));
            }
            SessionState::Smb(st) => st.feed(
                dir,
                ts,
                data,
                sink,
                self.script.as_mut(),
                (meta, &mut self.ready),
            ),
            _ => {}
        }
        self.emit(meta, sink);
    }

    fn gap(&mut self, dir: usize, len: u64) {
        match &mut self.state {
            SessionState::Dce(d) => d.gap(dir),
            SessionState::Smb(st) => st.gap(dir, len, &mut self.sink.borrow_mut()),
            _ => {}
        }
    }

    /// Settled calls and the Zeek lines written so far become records.
    fn emit(&mut self, meta: &ConnMeta, sink: &mut RecordSink) {
        let lines = self.script.as_mut().map_or(0, |s| s.lines.len());
        if self.ready.is_empty() && lines == 0 {
            return;
        }
        let uid = self
            .uid
            .get_or_insert_with(|| SmolStr::from(record::make_uid(&sink.label, meta)))
            .clone();
        let (label, file_index) = (sink.label.clone(), sink.file_index);
        let mut texts = UuidTextCache::default();
        for (c, via) in self.ready.drain(..) {
            if self.zeek_ignore && record::is_ignored_call(&c.0) {
                continue;
            }
            // Within a connection, records sort by request time, then call id, then the
            // order they were settled in.
            let rank = u64::from(c.0.call_id) << 32 | (self.records & 0xffff_ffff);
            self.records += 1;
            let at = (file_index, rank);
            sink.push(record::accurate_record(
                &c,
                meta,
                &uid,
                &label,
                at,
                &via,
                &mut texts,
                self.keys.is_some(),
            ));
        }
        if let Some(script) = self.script.as_mut() {
            for l in script.lines.drain(..) {
                let at = (file_index, self.records);
                self.records += 1;
                sink.push(record::zeek_record(&l, meta, &uid, at));
            }
        }
        sink.maybe_spill();
    }

    fn close(&mut self, meta: &ConnMeta, ts: capture::Timestamp) {
        let state = std::mem::replace(&mut self.state, SessionState::Ignored);
        let sink = self.sink.clone();
        let mut sink = sink.borrow_mut();
        let sink = &mut *sink;
        match state {
            SessionState::Dce(d) => {
                let mut calls = Vec::new();
                d.finish(sink, meta, &mut calls);
                self.ready.extend(calls.into_iter().map(|c| (c, tcp())));
            }
            SessionState::Smb(st) => st.finish(sink, meta, &mut self.ready),
            _ => {}
        }
        if let Some(script) = self.script.as_mut() {
            script.remove(ts.zeek_time());
            let w = script.weirds;
            sink.counters.zeek_too_much_fragment_data += w.too_much_fragment_data;
            sink.counters.zeek_too_many_msgs_in_reassembly += w.too_many_msgs_in_reassembly;
            sink.counters.zeek_multiple_first_fragments += w.multiple_first_fragments;
        }
        self.emit(meta, sink);
        self.script = None;
    }
}

/// The transport of a call straight over TCP.
fn tcp() -> CallTransport {
    CallTransport {
        transport: "tcp",
        ..CallTransport::default()
    }
}

/// For a connection picked up mid-stream: a header inside the first chunk whose PDU
/// ends exactly at the chunk end or at another plausible header.
fn confirm_midstream(data: &[u8]) -> bool {
    // SMB carries DCE-RPC inside its messages; it is not DCE-RPC over TCP.
    if data.len() >= 8 && matches!(&data[4..8], b"\xffSMB" | b"\xfeSMB" | b"\xfdSMB") {
        return false;
    }
    let mut off = 0;
    while off < data.len() {
        let Some(i) = dcerpc::stream::find_header(&data[off..]) else {
            return false;
        };
        let at = off + i;
        if let Some(h) = dcerpc::pdu::plausible_header(&data[at..]) {
            let end = at + h.frag_len as usize;
            if end == data.len()
                || (end < data.len() && dcerpc::pdu::plausible_header(&data[end..]).is_some())
            {
                return true;
            }
        }
        off = at + 1;
    }
    false
}

impl Session {
    /// Bytes this connection's parsers hold now.
    fn buffered_now(&self) -> usize {
        self.held_bytes
            + match &self.state {
                SessionState::Dce(d) => d.buffered(),
                SessionState::Smb(st) => st.buffered(),
                _ => 0,
            }
    }

    /// Keep the pipeline's count of parser bytes current.
    fn account(&mut self) {
        let now = self.buffered_now();
        if now != self.buffered {
            let mut sink = self.sink.borrow_mut();
            sink.parser_bytes = (sink.parser_bytes + now).saturating_sub(self.buffered);
            self.buffered = now;
        }
    }
}

impl FlowApp for Session {
    fn event(&mut self, meta: &ConnMeta, ev: FlowEvent<'_>) -> bool {
        let keep = self.handle(meta, ev);
        self.account();
        keep
    }
}

impl Session {
    fn handle(&mut self, meta: &ConnMeta, ev: FlowEvent<'_>) -> bool {
        match ev {
            FlowEvent::Data { dir, ts, data } => {
                if let SessionState::Sniffing = self.state {
                    match self.identify(meta, dir, data) {
                        Some(Some(carrier)) => {
                            self.attach(meta, carrier);
                            for (d, t, bytes) in std::mem::take(&mut self.held) {
                                self.feed(meta, d, t, &bytes);
                            }
                            self.held_bytes = 0;
                        }
                        Some(None) => {
                            self.state = SessionState::Ignored;
                            self.held.clear();
                            return false;
                        }
                        None => {
                            self.held_bytes += data.len();
                            self.held.push((dir, ts, data.to_vec()));
                            return true;
                        }
                    }
                }
                match self.state {
                    SessionState::Dce(_) | SessionState::Smb(_) => {
                        self.feed(meta, dir, ts, data);
                        true
                    }
                    SessionState::Ignored => false,
                    SessionState::Sniffing => true,
                }
            }
            FlowEvent::Gap { dir, len, .. } => {
                self.gap(dir, len);
                true
            }
            FlowEvent::Close { ts } => {
                self.close(meta, ts);
                self.held.clear();
                self.held_bytes = 0;
                false
            }
        }
    }
}
