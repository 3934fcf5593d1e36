//! One authentication exchange as the wire shows it, with the analyst's keys: the tokens
//! of a DCE-RPC association's bind / alter_context / auth3 legs or of an SMB session's
//! SESSION_SETUP legs, NTLMSSP or Kerberos, bare or inside SPNEGO.
//!
//! Feed the initiator's tokens to [`Exchange::client_token`] and the acceptor's to
//! [`Exchange::server_token`], in order. Once a key verifies, [`Exchange::established`]
//! holds what the protocol needs next: NTLM session keys (sealing, SMB's session key) or
//! the Kerberos AP-REQ/AP-REP (GSS context, SMB's session key). Every attempt is reported
//! as an [`Event`] (an account and a key origin, never a key) for the run's summary.
//!
//! Bounded: one CHALLENGE message and one SPNEGO mechTypes list are kept (at most
//! [`MAX_KEPT`] bytes each); a new exchange on the same association replaces the old one.

use super::kerberos::{self, ApRepInfo, ApReqInfo, KerberosError, spnego};
use super::keys::{KeyRing, KeySource, Origin};
use super::ntlm::{self, SessionKeys};
use super::ntlmssp::{self, Message};
use std::sync::Arc;

/// Bytes kept of a CHALLENGE message or a mechTypes list (both are a few hundred bytes;
/// a larger one is not kept, and its exchange cannot be verified).
pub const MAX_KEPT: usize = 2048;

/// What a verified key gave.
#[derive(Debug, Clone)]
pub enum Established {
    Ntlm {
        keys: SessionKeys,
        source: KeySource,
    },
    Kerberos {
        req: Box<ApReqInfo>,
        /// The acceptor's AP-REP, once seen and opened with the ticket's session key.
        rep: Option<Box<ApRepInfo>>,
    },
}

impl Established {
    /// The kind of key that verified (`decrypted_with`).
    pub fn source(&self) -> KeySource {
        match self {
            Established::Ntlm { source, .. } => *source,
            Established::Kerberos { req, .. } => req.source,
        }
    }

    /// The GSS session key the exchange exports (SMB's Session.SessionKey is its first 16
    /// bytes; the AES-256 ciphers take all of it).
    pub fn session_key(&self) -> &[u8] {
        match self {
            Established::Ntlm { keys, .. } => keys.exported_session_key(),
            Established::Kerberos { req, rep } => {
                kerberos::context_key(req, rep.as_deref()).expose()
            }
        }
    }
}

/// What happened to one authentication, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A key verified: `account` is `DOMAIN\user` (NTLM) or `user@REALM` (Kerberos, from
    /// the decrypted ticket).
    Verified {
        account: String,
        kerberos: bool,
        source: KeySource,
        origin: Origin,
    },
    /// No key verified: the NTLM account, or for Kerberos the ticket's service (the client
    /// is inside the ticket).
    NoKey { account: String },
    /// A key matched the account and did not verify; it is never used.
    KeyFailed { origin: Origin, account: String },
}

/// The account of a Kerberos ticket, for the identity fields of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketAccount {
    pub user: String,
    pub realm: String,
}

/// One authentication exchange.
#[derive(Debug)]
pub struct Exchange {
    ring: Arc<KeyRing>,
    /// The acceptor's last CHALLENGE message (from its signature on).
    challenge: Vec<u8>,
    /// The initiator's SPNEGO mechTypes (for the mechListMIC).
    mech_types: Vec<u8>,
    pub established: Option<Established>,
}

/// `DOMAIN\user` (or `user` without a domain).
pub fn ntlm_account(u: &ntlmssp::NtlmUser) -> String {
    if u.domain.is_empty() {
        u.user.to_string()
    } else {
        format!("{}\\{}", u.domain, u.user)
    }
}

impl Exchange {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        Exchange {
            ring,
            challenge: Vec::new(),
            mech_types: Vec::new(),
            established: None,
        }
    }

    /// The initiator's SPNEGO mechTypes, when seen (what an NTLM mechListMIC signs).
    pub fn mech_types(&self) -> Option<&[u8]> {
        (!self.mech_types.is_empty()).then_some(&self.mech_types[..])
    }

    /// An initiator token (NEGOTIATE, AUTHENTICATE, AP-REQ; SPNEGO or bare). Returns the
    /// ticket's account when an AP-REQ decrypted.
    pub fn client_token(&mut self, token: &[u8], events: &mut Vec<Event>) -> Option<TicketAccount> {
        if let Some(m) = spnego::mech_types(token)
            && m.len() <= MAX_KEPT
        {
            self.mech_types.clear();
            self.mech_types.extend_from_slice(m);
        }
        match ntlmssp::find(token) {
            Some((_, Message::Negotiate { .. })) => {
                // A new exchange: what the last one established no longer applies.
                self.challenge.clear();
                self.established = None;
                None
            }
            Some((_, Message::Authenticate(auth))) => {
                self.authenticate(&auth, events);
                None
            }
            Some((_, Message::Challenge(_))) => None,
            None => self.ap_req(token, events),
        }
    }

    fn authenticate(&mut self, auth: &ntlmssp::Authenticate<'_>, events: &mut Vec<Event>) {
        let account = auth.names();
        if account.user.is_empty() {
            // Anonymous: no key to verify, nothing sealed with one.
            self.established = None;
            return;
        }
        let Some(Message::Challenge(chal)) = ntlmssp::parse(&self.challenge) else {
            // The CHALLENGE was not captured: the key cannot be checked.
            events.push(Event::NoKey {
                account: ntlm_account(&account),
            });
            return;
        };
        let o = ntlm::try_keys(&chal, auth, &self.ring);
        let name = ntlm_account(&o.account);
        for origin in o.failed {
            events.push(Event::KeyFailed {
                origin,
                account: name.clone(),
            });
        }
        match o.verified {
            Some((keys, source, origin)) => {
                events.push(Event::Verified {
                    account: name,
                    kerberos: false,
                    source,
                    origin,
                });
                self.established = Some(Established::Ntlm { keys, source });
            }
            None => {
                events.push(Event::NoKey { account: name });
                self.established = None;
            }
        }
    }

    fn ap_req(&mut self, token: &[u8], events: &mut Vec<Event>) -> Option<TicketAccount> {
        // Only an AP-REQ starts a context (a DCE-style initiator also sends an AP-REP).
        if spnego::kerberos_message(token).and_then(|m| m.first()) != Some(&0x6e) {
            return None;
        }
        match ApReqInfo::decrypt(token, &self.ring) {
            Ok(req) => {
                let account = TicketAccount {
                    user: req.client.clone(),
                    realm: req.client_realm.clone(),
                };
                events.push(Event::Verified {
                    account: format!("{}@{}", req.client, req.client_realm),
                    kerberos: true,
                    source: req.source,
                    origin: req.origin.clone(),
                });
                self.established = Some(Established::Kerberos {
                    req: Box::new(req),
                    rep: None,
                });
                Some(account)
            }
            Err(KerberosError::NotKerberos) => None,
            Err(_) => {
                let service = kerberos::peek_ap_req(token)
                    .map_or_else(|| "?".to_string(), |(s, r)| format!("{s}@{r}"));
                events.push(Event::NoKey {
                    account: format!("kerberos ticket for {service}"),
                });
                self.established = None;
                None
            }
        }
    }

    /// An acceptor token (CHALLENGE, AP-REP; SPNEGO or bare).
    pub fn server_token(&mut self, token: &[u8]) {
        if let Some((at, Message::Challenge(_))) = ntlmssp::find(token) {
            let msg = &token[at..];
            self.challenge.clear();
            if msg.len() <= MAX_KEPT {
                self.challenge.extend_from_slice(msg);
            }
            return;
        }
        if let Some(Established::Kerberos { req, rep }) = &mut self.established
            && rep.is_none()
            && spnego::kerberos_message(token).and_then(|m| m.first()) == Some(&0x6f)
            && let Ok(r) = ApRepInfo::decrypt(token, &req.session_key)
        {
            *rep = Some(Box::new(r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ntlmssp::tests::{SPEC_V2_CHALLENGE, unhex};

    #[test]
    fn authenticate_without_challenge_or_key_is_reported_not_used() {
        let mut ring = KeyRing::new();
        ring.add_password("not the password").unwrap();
        let mut x = Exchange::new(Arc::new(ring));
        let mut ev = Vec::new();
        let auth = crate::auth::ntlmssp::tests::authenticate("bob", "CORP", "WS", true);
        x.client_token(&auth, &mut ev);
        assert_eq!(
            ev,
            vec![Event::NoKey {
                account: "CORP\\bob".into()
            }]
        );
        assert!(x.established.is_none());
        // With the CHALLENGE kept, the password is tried, fails and is reported.
        x.server_token(&unhex(SPEC_V2_CHALLENGE));
        ev.clear();
        x.client_token(&auth, &mut ev);
        assert!(matches!(&ev[0], Event::KeyFailed { account, .. } if account == "CORP\\bob"));
        assert!(matches!(&ev[1], Event::NoKey { .. }));
        assert!(x.established.is_none());
        // Garbage changes nothing.
        x.client_token(b"\x60\x03\x06\x01\x00", &mut ev);
        x.server_token(b"NTLMSSP\0\x02");
        assert_eq!(ev.len(), 2);
    }
}
