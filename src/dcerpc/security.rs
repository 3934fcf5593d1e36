//! DCE-RPC security with the analyst's keys (accurate path only): the authentication legs
//! of an association (bind, alter_context and auth3 from the client, bind_ack and
//! alter_context_resp from the server) through an [`Exchange`], then the verifier of every
//! request, response and fault: packet privacy unsealed in place, packet integrity
//! signatures checked (and counted).
//!
//! NTLM: one RC4 sealing state per direction runs across the association (MS-NLMP 3.4),
//! so every signed PDU of a direction goes through it in order, and SPNEGO's mechListMIC
//! (one signature per direction during the exchange) too. Kerberos: one GSS context
//! (RFC 4121 / RFC 4757 tokens), per PDU, no running state.
//!
//! Header signing (MS-RPCE 2.2.2.11): the signature covers the PDU header, the stub and
//! the sec_trailer when the peers agreed on PFC_SUPPORT_HEADER_SIGN, else the stub alone.
//! Clients do not always set the flag they sign with, so both forms are tried (against the
//! one keystream the sender used) and the one that verifies is remembered.
//!
//! A stub whose signature does not verify after unsealing is not used: the call stays
//! sealed (`args_status: encrypted`) and the PDU is counted.

use super::pdu::{self, AUTH_LEVEL_PKT_PRIVACY, HEADER_LEN, Header};
use crate::auth::exchange::{Established, Event, Exchange, TicketAccount};
use crate::auth::kerberos::{self, gss::GssContext};
use crate::auth::keys::{KeyRing, KeySource};
use crate::auth::ntlm::{Direction, Sealer};
use crate::stats::{Counters, KeyUse};
use std::sync::Arc;

/// Packet integrity (signed, not sealed).
pub const AUTH_LEVEL_PKT_INTEGRITY: u8 = 5;

/// What [`Security::unseal`] did with a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// Not sealed (no verifier, or integrity only): use it as it is.
    Clear,
    /// Sealed, and now unsealed in place with a key of this kind; its signature verified.
    Unsealed(KeySource),
    /// Sealed and still sealed: no key verified for this association.
    Sealed,
    /// Sealed, a key was there, and the signature did not verify after unsealing: the
    /// bytes are not to be trusted (a lost PDU, or a damaged one).
    Failed,
}

enum Context {
    Ntlm {
        c2s: Box<Sealer>,
        s2c: Box<Sealer>,
        source: KeySource,
    },
    Kerberos {
        gss: Box<GssContext>,
        source: KeySource,
    },
}

/// The security state of one association.
pub struct Security {
    exchange: Exchange,
    ctx: Option<Context>,
    /// Whether verifiers cover the header and sec_trailer (learnt from the first one that
    /// verified; tried first afterwards).
    header_sign: bool,
    events: Vec<Event>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("active", &self.ctx.is_some())
            .field("header_sign", &self.header_sign)
            .finish_non_exhaustive()
    }
}

/// Record an exchange's events in the run's key summary.
pub fn record_events(events: &mut Vec<Event>, keys: &mut KeyUse) {
    for e in events.drain(..) {
        match e {
            Event::Verified {
                account,
                kerberos,
                source,
                origin,
            } => keys.verified(
                &account,
                if kerberos { "kerberos" } else { "ntlm" },
                source.as_str(),
                &origin.to_string(),
            ),
            Event::NoKey { account } => keys.without_key(&account),
            Event::KeyFailed { origin, account } => keys.key_failed(&origin.to_string(), &account),
        }
    }
}

/// The auth token of a PDU with a verifier: `auth_len` bytes at its end.
fn auth_token<'a>(raw: &'a [u8], h: &Header) -> Option<&'a [u8]> {
    let end = h.frag_len as usize;
    let start = end.checked_sub(h.auth_len as usize)?;
    raw.get(start..end)
}

/// Where the stub starts in a request, response or fault PDU; None for other types.
fn stub_start(h: &Header) -> Option<usize> {
    match h.ptype {
        pdu::REQUEST if h.flags & pdu::PFC_OBJECT_UUID != 0 => Some(HEADER_LEN + 8 + 16),
        pdu::REQUEST | pdu::RESPONSE => Some(HEADER_LEN + 8),
        // alloc_hint, p_cont_id, cancel_count, reserved, status, reserved2.
        pdu::FAULT => Some(HEADER_LEN + 16),
        _ => None,
    }
}

/// Does this PDU carry a verifier [`Security::unseal`] deals with (a request, response or
/// fault with an auth trailer)? Cheap: reads the header only.
pub fn has_verifier(raw: &[u8]) -> bool {
    pdu::header(raw).is_ok_and(|(_, h)| h.auth_len > 0 && stub_start(&h).is_some())
}

impl Security {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        Security {
            exchange: Exchange::new(ring),
            ctx: None,
            header_sign: true,
            events: Vec::new(),
        }
    }

    /// A key verified for this association: its sealed PDUs can be unsealed.
    pub fn active(&self) -> bool {
        self.ctx.is_some()
    }

    /// The account of the Kerberos ticket in effect (decrypted with the analyst's keys).
    pub fn ticket(&self) -> Option<TicketAccount> {
        match (&self.ctx, &self.exchange.established) {
            (Some(_), Some(Established::Kerberos { req, .. })) => Some(TicketAccount {
                user: req.client.clone(),
                realm: req.client_realm.clone(),
            }),
            _ => None,
        }
    }

    /// An authentication leg (bind, alter_context, auth3, bind_ack, alter_context_resp
    /// with an auth token); `raw` is the whole PDU. The accounts and keys tried go to
    /// `keys`; [`Security::ticket`] then names a Kerberos client.
    pub fn on_auth_leg(&mut self, raw: &[u8], keys: &mut KeyUse) {
        let Ok((_, h)) = pdu::header(raw) else {
            return;
        };
        let Some(token) = auth_token(raw, &h).filter(|_| h.auth_len > 0) else {
            return;
        };
        match h.ptype {
            pdu::BIND | pdu::ALTER_CONTEXT | pdu::AUTH3 => {
                self.exchange.client_token(token, &mut self.events);
                if self.exchange.established.is_none() {
                    self.ctx = None;
                } else if !self.events.is_empty() {
                    // A key verified just now (a new exchange on the association).
                    self.start();
                }
                self.mech_list_mic(token, Direction::ClientToServer);
            }
            pdu::BIND_ACK | pdu::ALTER_CONTEXT_RESP => {
                let had_rep = matches!(
                    &self.exchange.established,
                    Some(Established::Kerberos { rep: Some(_), .. })
                );
                self.exchange.server_token(token);
                if !had_rep
                    && matches!(
                        &self.exchange.established,
                        Some(Established::Kerberos { rep: Some(_), .. })
                    )
                {
                    // The acceptor's subkey: the context's key from now on.
                    self.start();
                }
                self.mech_list_mic(token, Direction::ServerToClient);
            }
            _ => {}
        }
        record_events(&mut self.events, keys);
    }

    /// (Re)build the per-message state from what the exchange established.
    fn start(&mut self) {
        self.ctx = match &self.exchange.established {
            Some(Established::Ntlm { keys, source }) => Some(Context::Ntlm {
                c2s: Box::new(keys.sealer(Direction::ClientToServer)),
                s2c: Box::new(keys.sealer(Direction::ServerToClient)),
                source: *source,
            }),
            Some(Established::Kerberos { req, rep }) => Some(Context::Kerberos {
                gss: Box::new(kerberos::gss_context(req, rep.as_deref())),
                source: req.source,
            }),
            None => None,
        };
    }

    /// SPNEGO's mechListMIC in an NTLM exchange is a signature of that direction: it uses
    /// sequence number 0; then the direction's RC4 keystream restarts (MS-SPNG 3.3.5.1).
    fn mech_list_mic(&mut self, token: &[u8], dir: Direction) {
        let Some(mic) = kerberos::spnego::mech_list_mic(token) else {
            return;
        };
        let Some(Context::Ntlm { c2s, s2c, .. }) = &mut self.ctx else {
            return;
        };
        let types = self.exchange.mech_types().unwrap_or(&[]);
        let sealer = match dir {
            Direction::ClientToServer => c2s,
            Direction::ServerToClient => s2c,
        };
        let _ = sealer.verify(&[types], mic);
        sealer.reset_keystream();
    }

    /// A request, response or fault with a verifier: `buf` holds a copy of the PDU (`raw`,
    /// exactly `frag_len` bytes) and is unsealed in place when it is sealed and a key
    /// verified; integrity signatures are checked. Counts what it did in `counters`.
    pub fn unseal(&mut self, raw: &[u8], buf: &mut Vec<u8>, counters: &mut Counters) -> Unsealed {
        let Ok((_, h)) = pdu::header(raw) else {
            return Unsealed::Clear;
        };
        let frag = (h.frag_len as usize).min(raw.len());
        let (Some(start), Some(st)) = (stub_start(&h), frag.checked_sub(h.auth_len as usize + 8))
        else {
            return Unsealed::Clear;
        };
        let level = raw[st + 1];
        let privacy = level == AUTH_LEVEL_PKT_PRIVACY;
        if !privacy && level != AUTH_LEVEL_PKT_INTEGRITY {
            return Unsealed::Clear;
        }
        let Some(ctx) = self.ctx.as_mut() else {
            return if privacy {
                Unsealed::Sealed
            } else {
                Unsealed::Clear
            };
        };
        if start > st {
            if privacy {
                counters.dcerpc_unseal_failures += 1;
                return Unsealed::Failed;
            }
            return Unsealed::Clear;
        }
        let from_client = h.ptype == pdu::REQUEST;
        if !privacy {
            // Integrity: the data stays as it is, no copy.
            let (before, rest) = raw[..frag].split_at(start);
            let (data, tail) = rest.split_at(st - start);
            let (after, sig) = tail.split_at(8);
            let ok = match ctx {
                Context::Ntlm { c2s, s2c, .. } => {
                    let sealer = if from_client { c2s } else { s2c };
                    sealer.verify_dce(before, data, after, sig).ok()
                }
                Context::Kerberos { gss, .. } => [self.header_sign, !self.header_sign]
                    .into_iter()
                    .find(|&hs| {
                        let (b, a): (&[u8], &[u8]) = if hs { (before, after) } else { (&[], &[]) };
                        gss.verify_dce(sig, b, data, a).is_ok()
                    }),
            };
            match ok {
                Some(hs) => {
                    self.header_sign = hs;
                    counters.dcerpc_signatures_verified += 1;
                }
                None => counters.dcerpc_signature_failures += 1,
            }
            return Unsealed::Clear;
        }
        match ctx {
            Context::Ntlm { c2s, s2c, source } => {
                let sealer = if from_client { c2s } else { s2c };
                buf.clear();
                buf.extend_from_slice(&raw[..frag]);
                let (before, rest) = buf.split_at_mut(start);
                let (data, tail) = rest.split_at_mut(st - start);
                let (after, sig) = tail.split_at(8);
                match sealer.unseal_dce(before, data, after, sig) {
                    Ok(hs) => {
                        self.header_sign = hs;
                        Unsealed::Unsealed(*source)
                    }
                    Err(_) => failed(counters),
                }
            }
            Context::Kerberos { gss, source } => {
                // Stateless per PDU: the other header-signing form is tried on a fresh copy.
                for hs in [self.header_sign, !self.header_sign] {
                    buf.clear();
                    buf.extend_from_slice(&raw[..frag]);
                    let (before, rest) = buf.split_at_mut(start);
                    let (data, tail) = rest.split_at_mut(st - start);
                    let (after, sig) = tail.split_at(8);
                    let (b, a): (&[u8], &[u8]) = if hs { (before, after) } else { (&[], &[]) };
                    if gss.unwrap_dce(sig, b, data, a).is_ok() {
                        self.header_sign = hs;
                        return Unsealed::Unsealed(*source);
                    }
                }
                failed(counters)
            }
        }
    }
}

fn failed(counters: &mut Counters) -> Unsealed {
    counters.dcerpc_unseal_failures += 1;
    Unsealed::Failed
}
