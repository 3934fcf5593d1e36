//! Zeek emulation (`--zeek-compat`): reproduces what Zeek's DCE_RPC analyzer and
//! `base/protocols/dce-rpc/main.zeek` would have logged, quirks included (see
//! `zeek-dce-rpc-semantics.md`). Kept apart from the accurate path on purpose: nothing
//! here is "right", it is what Zeek does.

use crate::FastMap;
use crate::dcerpc::pdu::{self, Body};
use crate::names::{self, Uuid};
use smol_str::SmolStr;
use std::collections::BTreeMap;

/// Zeek's `DCE_RPC::max_cmd_reassembly`.
pub const MAX_CMD_REASSEMBLY: usize = 20;
/// Zeek's `SMB::max_dce_rpc_analyzers`: pipe analyzers per SMB connection.
pub const MAX_DCE_RPC_ANALYZERS: usize = 1000;
/// Zeek's `DCE_RPC::max_frag_data`.
pub const MAX_FRAG_DATA: usize = 30000;

/// One line of Zeek's dce_rpc.log (connection fields are added by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct ZeekLine {
    /// Zeek network time of the line's `ts` field.
    pub ts: f64,
    /// Network time at which Zeek would have written the line (for ordering).
    pub written_at: f64,
    pub rtt: Option<f64>,
    pub named_pipe: Option<SmolStr>,
    pub endpoint: Option<SmolStr>,
    pub operation: Option<SmolStr>,
    /// Written by the connection-removal hook.
    pub from_removal: bool,
}

#[derive(Debug, Default, Clone)]
struct Info {
    ts: f64,
    rtt: Option<f64>,
    named_pipe: Option<SmolStr>,
    endpoint: Option<SmolStr>,
    operation: Option<SmolStr>,
}

#[derive(Debug, Default, Clone)]
struct ScriptState {
    uuid: Option<Uuid>,
    named_pipe: Option<SmolStr>,
    ctx_to_uuid: FastMap<u16, Uuid>,
}

/// Script-side backing entry for one fid.
#[derive(Debug, Default, Clone)]
struct Backing {
    info: Info,
    state: ScriptState,
}

/// One DCE_RPC analyzer instance (per TCP connection, per SMB1 connection, per SMB2 fid).
#[derive(Debug, Default)]
pub struct Analyzer {
    skip: bool,
    /// Per direction: call_id → the first fragment of a call being reassembled.
    reasm: [FastMap<u32, Frag>; 2],
    cont_id_opnum: FastMap<u16, u16>,
}

#[derive(Debug, Clone)]
struct Frag {
    first: Vec<u8>,
}

/// Weirds Zeek's DCE-RPC analyzer reports (each also stops that analyzer instance: SetSkip).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Weirds {
    /// `too_much_dce_rpc_fragment_data`: one fragment's body over `max_frag_data`.
    pub too_much_fragment_data: u64,
    /// `too_many_dce_rpc_msgs_in_reassembly`: over `max_cmd_reassembly` calls reassembling.
    pub too_many_msgs_in_reassembly: u64,
    /// `multiple_first_fragments_in_dce_rpc_reassembly`.
    pub multiple_first_fragments: u64,
}

/// Script state for one connection: every fid's backing record and the `c$dce_rpc` alias.
#[derive(Debug, Default)]
pub struct ConnScript {
    /// `c$dce_rpc_backing`, in insertion order (the order the removal hook visits it):
    /// keyed by insertion number, with `fids` to find a fid's entry.
    backing: BTreeMap<u64, (u64, Backing)>,
    fids: FastMap<u64, u64>,
    inserted: u64,
    /// `c$dce_rpc` is set: the last DCE-RPC handler was not a response.
    alias_set: bool,
    pub lines: Vec<ZeekLine>,
    /// Weirds of the connection's analyzers.
    pub weirds: Weirds,
    ignore: bool,
}

impl ConnScript {
    /// `apply_ignore`: Zeek's default ignore list is in force (it is in a real Zeek).
    pub fn new(apply_ignore: bool) -> Self {
        ConnScript {
            ignore: apply_ignore,
            ..Default::default()
        }
    }

    fn backing(&mut self, fid: u64, now: f64) -> &mut Backing {
        let n = match self.fids.get(&fid) {
            Some(&n) => n,
            None => {
                let n = self.inserted;
                self.inserted += 1;
                self.fids.insert(fid, n);
                let fresh = Backing {
                    info: Info {
                        ts: now,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                self.backing.insert(n, (fid, fresh));
                n
            }
        };
        // The entry exists: it was found in or just put into both maps.
        &mut self.backing.entry(n).or_default().1
    }

    /// `set_session` + `set_state`.
    fn session(&mut self, fid: u64, now: f64) -> &mut Backing {
        self.alias_set = true;
        let b = self.backing(fid, now);
        set_state(b);
        b
    }

    fn loggable(&self, info: &Info) -> bool {
        match (&info.endpoint, &info.operation) {
            (Some(e), Some(o)) => !(self.ignore && names::is_ignored(e, o)),
            _ => false,
        }
    }

    /// Forget a fid (SMB2 CLOSE).
    pub fn drop_fid(&mut self, fid: u64) {
        if let Some(n) = self.fids.remove(&fid) {
            self.backing.remove(&n);
        }
    }

    /// `smb_discarded_dce_rpc_analyzers`: the SMB connection reached
    /// `SMB::max_dce_rpc_analyzers` pipe analyzers; the script deletes the whole backing
    /// table (`c$dce_rpc` itself stays).
    pub fn discard_backing(&mut self) {
        self.backing.clear();
        self.fids.clear();
    }

    /// The connection-removal hook.
    pub fn remove(&mut self, now: f64) {
        if !self.alias_set {
            return;
        }
        let mut extra = Vec::new();
        for (_, b) in self.backing.values_mut() {
            set_state(b);
            extra.push(b.info.clone());
        }
        for info in extra {
            if self.loggable(&info) {
                self.lines.push(line(&info, now, true));
            }
        }
    }
}

fn set_state(b: &mut Backing) {
    if let Some(u) = b.state.uuid {
        b.info.endpoint = Some(names::text(names::endpoint_or_unknown(&u)));
    }
    if let Some(np) = &b.state.named_pipe {
        b.info.named_pipe = Some(np.clone());
    }
}

fn line(info: &Info, now: f64, from_removal: bool) -> ZeekLine {
    ZeekLine {
        ts: info.ts,
        written_at: now,
        rtt: info.rtt,
        named_pipe: info.named_pipe.clone(),
        endpoint: info.endpoint.clone(),
        operation: info.operation.clone(),
        from_removal,
    }
}

/// Zeek renders the raw UUID bytes as little-endian fields whatever the drep says.
fn zeek_uuid(raw: &[u8; 16]) -> Uuid {
    Uuid::from_wire(raw, true)
}

/// `normalize_named_pipe_name`: text after `\pipe\` (any case), lower-cased.
fn normalize_pipe(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.find("\\pipe\\") {
        Some(i) => lower[i + 6..].to_string(),
        None => lower,
    }
}

impl Analyzer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Skip mode (limits, gaps): the instance ignores all further input.
    pub fn skipping(&self) -> bool {
        self.skip
    }

    pub fn set_skip(&mut self) {
        self.skip = true;
    }

    /// One framed PDU delivered by the transport in direction `dir` (0 = orig) at `now`.
    pub fn on_pdu(&mut self, script: &mut ConnScript, fid: u64, dir: usize, now: f64, raw: &[u8]) {
        if self.skip {
            return;
        }
        let Ok((_, h)) = pdu::header(raw) else { return };
        let frag_len = (h.frag_len as usize).min(raw.len());
        let auth_room = if h.auth_len > 0 {
            h.auth_len as usize + 8
        } else {
            0
        };
        let body_end = frag_len.saturating_sub(auth_room).max(pdu::HEADER_LEN);
        let body_len = body_end - pdu::HEADER_LEN;
        let d = dir & 1;
        // Zeek checks `DCE_RPC::max_frag_data` against its FlowBuffer's `data_length()`.
        // The buffer is a chunked frame buffer that never copies: `data_length()` is the
        // length of the fragment just added, not of the call so far. So only a single PDU
        // whose body exceeds the limit trips it, however many fragments a call has (a real
        // Zeek logs an 80 KB response in 5,840-byte fragments normally).
        let too_big = body_len > MAX_FRAG_DATA;
        let complete: Option<Vec<u8>> = match (h.first(), h.last()) {
            _ if h.first() && self.reasm[d].contains_key(&h.call_id) => {
                script.weirds.multiple_first_fragments += 1;
                self.skip = true;
                return;
            }
            (true, true) => None,
            (true, false) => {
                self.reasm[d].insert(
                    h.call_id,
                    Frag {
                        first: raw[..frag_len].to_vec(),
                    },
                );
                if self.reasm[d].len() > MAX_CMD_REASSEMBLY {
                    script.weirds.too_many_msgs_in_reassembly += 1;
                    self.skip = true;
                }
                if too_big {
                    script.weirds.too_much_fragment_data += 1;
                    self.skip = true;
                }
                return;
            }
            (false, last) => {
                if !self.reasm[d].contains_key(&h.call_id) {
                    return;
                }
                if too_big {
                    script.weirds.too_much_fragment_data += 1;
                    self.skip = true;
                }
                if !last {
                    return;
                }
                // The last fragment is still parsed (its event fires) even when it set
                // skip: only later input is ignored.
                self.reasm[d].remove(&h.call_id).map(|f| f.first)
            }
        };
        // The event sees the first fragment's header fields (ctx, opnum, bind contents).
        let bytes: &[u8] = complete.as_deref().unwrap_or(&raw[..frag_len]);
        let Ok(p) = pdu::parse_pdu(bytes) else { return };
        self.event(script, fid, now, &p);
    }

    fn event(&mut self, script: &mut ConnScript, fid: u64, now: f64, p: &pdu::Pdu<'_>) {
        match &p.body {
            Body::Bind { contexts, .. } | Body::AlterContext { contexts, .. } => {
                for c in contexts {
                    let u = zeek_uuid(&c.abstract_syntax.uuid_raw);
                    let b = script.session(fid, now);
                    b.state.ctx_to_uuid.insert(c.ctx_id, u);
                    b.state.uuid = Some(u);
                    b.info.endpoint = Some(names::text(names::endpoint_or_unknown(&u)));
                }
            }
            Body::BindAck { sec_addr, .. } => {
                let sa = pdu::trim_nul(sec_addr);
                let b = script.session(fid, now);
                if !sa.is_empty() {
                    let s = SmolStr::from(String::from_utf8_lossy(sa));
                    b.state.named_pipe = Some(s.clone());
                    b.info.named_pipe = Some(s);
                }
            }
            Body::AlterContextResp { .. } => {
                script.session(fid, now);
            }
            Body::Request { ctx_id, opnum, .. } => {
                self.cont_id_opnum.insert(*ctx_id, *opnum);
                let b = script.session(fid, now);
                b.info.ts = now;
            }
            Body::Response { ctx_id, .. } => {
                let opnum = *self.cont_id_opnum.entry(*ctx_id).or_insert(0);
                let b = script.session(fid, now);
                if b.info.endpoint.is_none()
                    && let Some(np) = &b.info.named_pipe
                    && let Some(u) = names::pipe_name_uuid(&normalize_pipe(np))
                {
                    b.state.uuid = Some(u);
                }
                if b.info.endpoint.is_some() {
                    if let Some(u) = b.state.uuid {
                        b.info.operation =
                            Some(names::text(names::operation_or_unknown(&u, opnum)));
                    }
                    if b.info.ts != now {
                        b.info.rtt = Some(now - b.info.ts);
                    }
                }
                if let Some(u) = b.state.ctx_to_uuid.get(ctx_id).copied() {
                    b.info.endpoint = Some(names::text(names::endpoint_or_unknown(&u)));
                    b.info.operation = Some(names::text(names::operation_or_unknown(&u, opnum)));
                }
                let info = b.info.clone();
                if script.loggable(&info) {
                    script.lines.push(line(&info, now, false));
                }
                script.alias_set = false;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcerpc::pdu::tests::{ack_body, bind_body, build, request_body, response_body};
    use crate::dcerpc::pdu::{BIND, BIND_ACK, REQUEST, RESPONSE};

    const EPM: [u8; 16] = [
        0xe1, 0xaf, 0x83, 0x08, 0x5d, 0x1f, 0x11, 0xc9, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0,
        0xfa,
    ];

    fn setup() -> (Analyzer, ConnScript) {
        let mut a = Analyzer::new();
        let mut s = ConnScript::new(true);
        a.on_pdu(
            &mut s,
            0,
            0,
            1.0,
            &build(BIND, 3, true, 1, &bind_body(true, &[(0, EPM, 3)]), None),
        );
        a.on_pdu(
            &mut s,
            0,
            1,
            1.5,
            &build(BIND_ACK, 3, true, 1, &ack_body(true, b"135\0", &[0]), None),
        );
        (a, s)
    }

    #[test]
    fn one_call_logged_with_rtt_and_pipe() {
        let (mut a, mut s) = setup();
        a.on_pdu(
            &mut s,
            0,
            0,
            2.0,
            &build(REQUEST, 3, true, 2, &request_body(true, 0, 3, b"x"), None),
        );
        a.on_pdu(
            &mut s,
            0,
            1,
            2.25,
            &build(RESPONSE, 3, true, 2, &response_body(true, 0, b"y"), None),
        );
        assert_eq!(s.lines.len(), 1);
        let l = &s.lines[0];
        assert_eq!((l.ts, l.rtt), (2.0, Some(0.25)));
        assert_eq!(l.named_pipe.as_deref(), Some("135"));
        assert_eq!(l.endpoint.as_deref(), Some("epmapper"));
        assert_eq!(l.operation.as_deref(), Some("ept_map"));
        s.remove(9.0);
        assert_eq!(
            s.lines.len(),
            1,
            "last event was a response: no removal line"
        );
    }

    #[test]
    fn response_opnum_is_last_request_on_ctx_and_removal_duplicates() {
        let (mut a, mut s) = setup();
        a.on_pdu(
            &mut s,
            0,
            0,
            2.0,
            &build(REQUEST, 3, true, 2, &request_body(true, 0, 3, b""), None),
        );
        a.on_pdu(
            &mut s,
            0,
            0,
            2.1,
            &build(REQUEST, 3, true, 3, &request_body(true, 0, 2, b""), None),
        );
        a.on_pdu(
            &mut s,
            0,
            1,
            2.5,
            &build(RESPONSE, 3, true, 2, &response_body(true, 0, b""), None),
        );
        assert_eq!(s.lines[0].operation.as_deref(), Some("ept_lookup"));
        assert_eq!(s.lines[0].ts, 2.1);
        a.on_pdu(
            &mut s,
            0,
            0,
            3.0,
            &build(REQUEST, 3, true, 4, &request_body(true, 0, 3, b""), None),
        );
        s.remove(9.0);
        assert_eq!(s.lines.len(), 2);
        let dup = &s.lines[1];
        assert!(dup.from_removal);
        assert_eq!(dup.ts, 3.0);
        assert_eq!(
            dup.operation.as_deref(),
            Some("ept_lookup"),
            "stale operation"
        );
        assert_eq!(dup.rtt, s.lines[0].rtt, "stale rtt");
    }

    #[test]
    fn non_first_fragment_without_buffer_is_dropped() {
        let mut a = Analyzer::new();
        let mut s = ConnScript::new(true);
        a.on_pdu(
            &mut s,
            0,
            0,
            1.0,
            &build(BIND, 0, true, 1, &bind_body(true, &[(0, EPM, 3)]), None),
        );
        assert!(s.backing.is_empty());
    }

    #[test]
    fn too_many_reassemblies_set_skip() {
        let mut a = Analyzer::new();
        let mut s = ConnScript::new(true);
        for cid in 0..=MAX_CMD_REASSEMBLY as u32 {
            a.on_pdu(
                &mut s,
                0,
                0,
                1.0,
                &build(REQUEST, 1, true, cid, &request_body(true, 0, 3, b"a"), None),
            );
        }
        assert!(a.skipping());
    }

    /// A call in many fragments whose total exceeds `max_frag_data` but none of whose
    /// fragments does: Zeek (its chunked FlowBuffer measures one fragment) logs it, and
    /// the calls after it.
    #[test]
    fn many_small_fragments_over_max_frag_data_are_logged() {
        let (mut a, mut s) = setup();
        a.on_pdu(
            &mut s,
            0,
            0,
            2.0,
            &build(REQUEST, 3, true, 2, &request_body(true, 0, 3, b""), None),
        );
        // 16 response fragments of 5,840 bytes of body: 93 KB in all.
        let chunk = vec![0u8; 5840 - 8];
        for i in 0..16u8 {
            let flags = match i {
                0 => 1,
                15 => 2,
                _ => 0,
            };
            a.on_pdu(
                &mut s,
                0,
                1,
                2.5 + f64::from(i) * 0.01,
                &build(
                    RESPONSE,
                    flags,
                    true,
                    2,
                    &response_body(true, 0, &chunk),
                    None,
                ),
            );
        }
        assert!(!a.skipping());
        assert_eq!(s.weirds, Weirds::default());
        assert_eq!(s.lines.len(), 1);
        assert_eq!(s.lines[0].operation.as_deref(), Some("ept_map"));
        let rtt = s.lines[0].rtt.expect("rtt");
        assert!((rtt - 0.65).abs() < 1e-9, "rtt to the last fragment: {rtt}");
        // The next call is logged normally.
        a.on_pdu(
            &mut s,
            0,
            0,
            3.0,
            &build(REQUEST, 3, true, 3, &request_body(true, 0, 2, b""), None),
        );
        a.on_pdu(
            &mut s,
            0,
            1,
            3.5,
            &build(RESPONSE, 3, true, 3, &response_body(true, 0, b""), None),
        );
        assert_eq!(s.lines.len(), 2);
        assert_eq!(s.lines[1].operation.as_deref(), Some("ept_lookup"));
    }

    /// One fragment whose body alone exceeds `max_frag_data`: the weird, and the analyzer
    /// stops after that PDU (a last fragment is still processed).
    #[test]
    fn one_fragment_over_max_frag_data_stops_the_analyzer() {
        let (mut a, mut s) = setup();
        a.on_pdu(
            &mut s,
            0,
            0,
            2.0,
            &build(REQUEST, 1, true, 2, &request_body(true, 0, 3, b"a"), None),
        );
        let big = vec![0u8; MAX_FRAG_DATA];
        a.on_pdu(
            &mut s,
            0,
            0,
            2.1,
            &build(REQUEST, 2, true, 2, &request_body(true, 0, 3, &big), None),
        );
        assert!(a.skipping());
        assert_eq!(s.weirds.too_much_fragment_data, 1);
        // The response is ignored: no line, and none at removal (no operation was ever set).
        a.on_pdu(
            &mut s,
            0,
            1,
            2.5,
            &build(RESPONSE, 3, true, 2, &response_body(true, 0, b""), None),
        );
        assert!(s.lines.is_empty());
        s.remove(9.0);
        assert!(s.lines.is_empty());
    }
}
