//! Building records: a decoded call (accurate mode) or a Zeek log line (emulation) becomes a
//! [`Record`], with the connection's deterministic uid.

use crate::args;
use crate::auth::keys::KeySource;
use crate::dcerpc::{Call, CallStatus};
use crate::flow::table::ConnMeta;
use crate::names;
use crate::output::{Extra, Record, SmolStr};
use crate::smb;
use crate::zeek;
use std::net::IpAddr;

/// What a record says about the transport a call came over.
#[derive(Debug, Clone, Default)]
pub(super) struct CallTransport {
    /// "tcp", "smb1", "smb2" or "smb3".
    pub transport: &'static str,
    /// SMB pipe name from the create.
    pub pipe: Option<SmolStr>,
    pub context: smb::PipeContext,
    /// The pipe's bytes came out of SMB3 transform messages decrypted with a key of this
    /// kind.
    pub decrypted_with: Option<KeySource>,
}

pub(super) fn is_ignored_call(c: &Call) -> bool {
    match c.uuid {
        Some(u) => names::is_ignored(
            &names::endpoint_or_unknown(&u),
            &names::operation_or_unknown(&u, c.opnum),
        ),
        None => false,
    }
}

/// Text shared by a connection's records, built once: a connection's calls mostly use one
/// interface, so its UUID is formatted once rather than per call.
#[derive(Default)]
pub(super) struct UuidTextCache {
    uuid: Option<(names::Uuid, SmolStr)>,
}

impl UuidTextCache {
    fn uuid(&mut self, u: names::Uuid) -> SmolStr {
        match &self.uuid {
            Some((k, t)) if *k == u => t.clone(),
            _ => {
                let t = SmolStr::from(u.to_string());
                self.uuid = Some((u, t.clone()));
                t
            }
        }
    }
}

/// The record of one decoded call; `n` is its rank among the connection's calls.
/// `keys`: the run has keys (records then say whether they were decrypted).
#[allow(clippy::too_many_arguments)]
pub(super) fn accurate_record(
    (c, ann): &(Call, args::Annotation),
    meta: &ConnMeta,
    uid: &SmolStr,
    label: &SmolStr,
    (file_index, n): (u64, u64),
    via: &CallTransport,
    texts: &mut UuidTextCache,
    keys: bool,
) -> Record {
    let pipe = via.pipe.as_ref();
    let user = via.context.user.as_ref();
    let who = args::who::resolve(ann.dce_auth.as_ref(), user, via.context.kerberos);
    let (orig, resp) = if c.client_dir == 0 {
        (meta.orig, meta.resp)
    } else {
        (meta.resp, meta.orig)
    };
    let ts = c.ts.zeek_time();
    let rtt = c.resp_ts.map(|r| r.zeek_time() - ts);
    // Packet privacy's key first: it is what opened the stub.
    let decrypted_with = c.decrypted.or(via.decrypted_with).map(KeySource::as_str);
    let (status, fault_code) = match c.status {
        CallStatus::Ok => ("ok", None),
        CallStatus::Fault(code) => ("fault", Some(format!("0x{code:08x}"))),
        CallStatus::NoResponse => ("no_response", None),
    };
    Record {
        ts,
        uid: uid.clone(),
        orig_h: orig.0,
        orig_p: orig.1,
        resp_h: resp.0,
        resp_p: resp.1,
        rtt,
        // Zeek's rule (the bind_ack's secondary address), falling back to the SMB pipe name.
        named_pipe: c
            .sec_addr
            .clone()
            .or_else(|| pipe.filter(|p| !p.is_empty()).cloned()),
        endpoint: c.uuid.map(|u| names::text(names::endpoint_or_unknown(&u))),
        operation: c
            .uuid
            .map(|u| names::text(names::operation_or_unknown(&u, c.opnum))),
        extra: Some(Box::new(Extra {
            uuid: c.uuid.map(|u| texts.uuid(u)),
            opnum: c.opnum,
            operation_spec: c.uuid.and_then(|u| names::operation_spec(&u, c.opnum)),
            if_version: c
                .if_version
                .map(|(a, b)| smol_str::format_smolstr!("{a}.{b}")),
            transport: via.transport,
            smb_pipe: pipe.cloned(),
            tree: via.context.tree.clone(),
            smb_user: user.map(|u| u.user.clone()),
            smb_domain: user.map(|u| u.domain.clone()),
            smb_workstation: user
                .map(|u| u.workstation.clone())
                .filter(|w| !w.is_empty()),
            sec_addr: c.sec_addr.clone(),
            auth_type: c.auth_type.map(|v| names::text(names::auth_type_name(v))),
            auth_level: c.auth_level.map(|v| names::text(names::auth_level_name(v))),
            status,
            fault_code,
            call_id: c.call_id,
            ctx_id: c.ctx_id,
            object_uuid: c.object.map(|u| u.to_string()),
            encrypted: c.encrypted,
            decrypted: keys.then_some(decrypted_with.is_some()),
            decrypted_with,
            big_endian: c.big_endian,
            request_fragments: c.req_frags,
            request_stub_len: c.req_stub_len,
            response_stub_len: c.resp_stub_len,
            partial: c.partial,
            ts_response: c.resp_ts.map(|t| t.zeek_time()),
            capture: label.clone(),
            user: who.user,
            domain: who.domain,
            workstation: who.workstation,
            auth: who.auth,
            auth_source: who.source,
            what_ran: ann.args.as_deref().and_then(args::what_ran),
            args: ann.args.as_deref().cloned(),
            args_status: ann.status.as_str(),
        })),
        order: (ts, file_index, meta.seq, n),
    }
}

/// One line of Zeek's log (emulation), the `n`th its connection wrote.
pub(super) fn zeek_record(
    l: &zeek::ZeekLine,
    meta: &ConnMeta,
    uid: &SmolStr,
    (file_index, n): (u64, u64),
) -> Record {
    Record {
        ts: l.ts,
        uid: uid.clone(),
        orig_h: meta.orig.0,
        orig_p: meta.orig.1,
        resp_h: meta.resp.0,
        resp_p: meta.resp.1,
        rtt: l.rtt,
        named_pipe: l.named_pipe.clone(),
        endpoint: l.endpoint.clone(),
        operation: l.operation.clone(),
        extra: None,
        order: (l.written_at, file_index, meta.seq, n),
    }
}

/// Deterministic Zeek-shaped uid: `C` + 17 base62 digits of a 128-bit FNV-1a hash of the
/// file and the connection's identity.
pub fn make_uid(label: &str, meta: &ConnMeta) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    let prime: u128 = 0x0000000001000000000000000000013B;
    let mut eat = |b: &[u8]| {
        for x in b {
            h ^= *x as u128;
            h = h.wrapping_mul(prime);
        }
    };
    eat(label.as_bytes());
    for (ip, port) in [meta.orig, meta.resp] {
        match ip {
            IpAddr::V4(a) => eat(&a.octets()),
            IpAddr::V6(a) => eat(&a.octets()),
        }
        eat(&port.to_be_bytes());
    }
    eat(&meta.first_ts.secs.to_be_bytes());
    eat(&meta.first_ts.nanos.to_be_bytes());
    eat(&meta.seq.to_be_bytes());
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::with_capacity(18);
    s.push('C');
    for _ in 0..17 {
        s.push(DIGITS[(h % 62) as usize] as char);
        h /= 62;
    }
    s
}
