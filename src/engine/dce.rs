//! One DCE-RPC byte stream pair (a TCP connection or a named pipe), decoded accurately or
//! the way Zeek's analyzer would. Accurate calls leave as soon as they are settled: a
//! finished call is decoded (arguments, identity) and handed on once every earlier request
//! of the association has finished too, so that argument decoding still sees the calls in
//! request order while memory follows the calls in flight, not the association's history.

use super::sink::RecordSink;
use crate::args::{self, Annotation};
use crate::auth::keys::KeyRing;
use crate::capture;
use crate::dcerpc::security::{self, Security, Unsealed};
use crate::dcerpc::{self, Association, Call, Framer, Recovery, pdu};
use crate::flow::table::ConnMeta;
use crate::stats::Counters;
use crate::zeek;
use std::sync::Arc;

/// Finished calls held back (waiting for an earlier request's response) per association;
/// past it the oldest are decoded anyway.
const MAX_HELD_CALLS: usize = 4096;

/// Both directions' PDU framers and the decoder they feed.
pub(super) struct DceStream {
    pub framers: [Framer; 2],
    decoder: DceDecoder,
}

enum DceDecoder {
    Accurate(Box<Accurate>),
    /// Zeek's analyzer instance; the script state lives per connection (`ConnScript`).
    ZeekEmulation(Box<zeek::Analyzer>),
}

struct Accurate {
    assoc: Association,
    /// Identities from the association's auth tokens.
    who: args::who::WhoLog,
    annotator: args::Annotator,
    /// Finished calls not yet decoded, in (request time, call id) order.
    held: Vec<Call>,
    /// With the analyst's keys: the association's authentication and verifiers.
    security: Option<Box<Security>>,
    /// A sealed PDU is copied here and unsealed in place (reused: no allocation per PDU).
    scratch: Vec<u8>,
}

impl DceStream {
    /// `keys`: the analyst's keys (accurate mode only; the Zeek emulation never has any).
    pub fn new(
        zeek_compat: bool,
        midstream: bool,
        limits: dcerpc::Limits,
        keys: Option<&Arc<KeyRing>>,
    ) -> Self {
        let recovery = if zeek_compat {
            Recovery::NextChunk
        } else {
            Recovery::Scan
        };
        let mut framers = [Framer::new(recovery), Framer::new(recovery)];
        if !zeek_compat && midstream {
            framers[0].hunt();
            framers[1].hunt();
        }
        let decoder = if zeek_compat {
            DceDecoder::ZeekEmulation(Box::new(zeek::Analyzer::new()))
        } else {
            DceDecoder::Accurate(Box::new(Accurate {
                assoc: Association::new(limits),
                who: args::who::WhoLog::default(),
                annotator: args::Annotator::default(),
                held: Vec::new(),
                security: keys.map(|k| Box::new(Security::new(k.clone()))),
                scratch: Vec::new(),
            }))
        };
        DceStream { framers, decoder }
    }

    /// Feed one direction's bytes. `script`/`fid` are used in Zeek mode only.
    pub fn feed(
        &mut self,
        dir: usize,
        ts: capture::Timestamp,
        data: &[u8],
        sink: &mut RecordSink,
        script: Option<&mut zeek::ConnScript>,
        fid: u64,
    ) {
        let RecordSink {
            counters, framing, ..
        } = sink;
        match &mut self.decoder {
            DceDecoder::Accurate(a) => {
                let Accurate {
                    assoc,
                    who,
                    security,
                    scratch,
                    ..
                } = &mut **a;
                self.framers[dir].feed(data, framing, &mut |raw| {
                    // With keys, a sealed request or response is unsealed into `scratch`.
                    let mut unsealed = None;
                    if let Some(sec) = security.as_deref_mut()
                        && sec.active()
                        && security::has_verifier(raw)
                        && let Unsealed::Unsealed(source) = sec.unseal(raw, scratch, counters)
                    {
                        unsealed = Some(source);
                    }
                    let bytes: &[u8] = if unsealed.is_some() { scratch } else { raw };
                    match dcerpc::parse_pdu(bytes) {
                        Ok(p) => {
                            let leg = p.auth.is_some()
                                && matches!(
                                    p.header.ptype,
                                    pdu::BIND
                                        | pdu::ALTER_CONTEXT
                                        | pdu::AUTH3
                                        | pdu::BIND_ACK
                                        | pdu::ALTER_CONTEXT_RESP
                                );
                            if leg && let Some(sec) = security.as_deref_mut() {
                                sec.on_auth_leg(bytes, &mut counters.keys);
                            }
                            if let Some(seen) = args::who::from_pdu(bytes, &p) {
                                // A Kerberos leg of a context whose ticket was decrypted
                                // names the client.
                                let ticket = match seen {
                                    args::who::AuthSeen::Kerberos => {
                                        security.as_deref().and_then(Security::ticket)
                                    }
                                    _ => None,
                                };
                                let seen = match ticket {
                                    Some(t) => args::who::AuthSeen::KerberosTicket(
                                        crate::auth::ntlmssp::NtlmUser {
                                            user: t.user.into(),
                                            domain: t.realm.into(),
                                            workstation: Default::default(),
                                        },
                                    ),
                                    None => seen,
                                };
                                who.push(ts, seen);
                            }
                            assoc.on_pdu_unsealed(dir, ts, &p, unsealed, counters)
                        }
                        Err(_) => counters.dcerpc_bad_pdus += 1,
                    }
                });
            }
            DceDecoder::ZeekEmulation(an) => {
                let Some(script) = script else { return };
                let now = ts.zeek_time();
                self.framers[dir].feed(data, framing, &mut |raw| {
                    an.on_pdu(script, fid, dir, now, raw)
                });
            }
        }
    }

    /// Bytes the framers hold for PDUs not complete yet.
    pub fn buffered(&self) -> usize {
        self.framers[0].buffered() + self.framers[1].buffered()
    }

    /// Bytes of direction `dir` were lost.
    pub fn gap(&mut self, dir: usize) {
        self.framers[dir].gap();
        if let DceDecoder::ZeekEmulation(an) = &mut self.decoder {
            an.set_skip();
        }
    }

    /// Accurate calls settled so far, decoded, into `out` (nothing in Zeek mode).
    pub fn ready(
        &mut self,
        sink: &mut RecordSink,
        meta: &ConnMeta,
        out: &mut Vec<(Call, Annotation)>,
    ) {
        if let DceDecoder::Accurate(a) = &mut self.decoder {
            a.release(false, sink, meta, out);
        }
    }

    /// End of the stream: every call, settled or not, decoded, into `out`.
    pub fn finish(
        mut self,
        sink: &mut RecordSink,
        meta: &ConnMeta,
        out: &mut Vec<(Call, Annotation)>,
    ) {
        for f in &mut self.framers {
            f.finish(&mut sink.counters);
        }
        if let DceDecoder::Accurate(a) = &mut self.decoder {
            a.release(true, sink, meta, out);
        }
    }
}

impl Accurate {
    /// Decode the held calls that no earlier request still waits for (all of them when
    /// `closing`: the association's unanswered requests become calls too).
    fn release(
        &mut self,
        closing: bool,
        sink: &mut RecordSink,
        meta: &ConnMeta,
        out: &mut Vec<(Call, Annotation)>,
    ) {
        let before = self.held.len();
        if closing {
            self.held.extend(self.assoc.finish(&mut sink.counters));
        } else {
            // Moved, not swapped: both vectors keep their capacity.
            self.held.append(&mut self.assoc.done);
        }
        if self.held.len() > before {
            self.held.sort_by_key(|c| (c.ts, c.call_id));
        }
        if self.held.is_empty() {
            return;
        }
        let settled = match self.assoc.oldest_pending() {
            Some(first) if !closing => self.held.partition_point(|c| (c.ts, c.call_id) < first),
            _ => self.held.len(),
        };
        let cut = settled.max(self.held.len().saturating_sub(MAX_HELD_CALLS));
        for mut c in self.held.drain(..cut) {
            let hosts = if c.client_dir == 0 {
                (meta.orig.0, meta.resp.0)
            } else {
                (meta.resp.0, meta.orig.0)
            };
            let ann = self
                .annotator
                .annotate(&c, &self.who, &mut sink.services, hosts);
            count_status(&ann, &mut sink.counters);
            // No bind, but the object UUID is an IPID handed out earlier: name the call.
            if ann.uuid_from_ipid.is_some() {
                c.uuid = ann.uuid_from_ipid;
            }
            if self.security.is_some() && c.encrypted {
                if c.decrypted.is_some() {
                    sink.counters.dcerpc_decrypted_calls += 1;
                } else {
                    sink.counters.dcerpc_sealed_left += 1;
                }
            }
            out.push((c, ann));
        }
    }
}

fn count_status(ann: &Annotation, counters: &mut Counters) {
    match ann.status {
        args::ArgsStatus::Malformed => counters.args_malformed += 1,
        args::ArgsStatus::Limit => counters.args_limit += 1,
        _ => {}
    }
}
