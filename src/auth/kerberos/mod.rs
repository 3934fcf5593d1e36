//! Kerberos with the analyst's keys: AP-REQ ticket and authenticator decryption, AP-REP
//! decryption, and the GSS-API per-message tokens of the resulting context.
//!
//! * [`ApReqInfo::decrypt`]: find the service key for the ticket (keytab entries of the
//!   same etype, the ticket's own service principal first; passwords through
//!   string-to-key with the principal's salt), decrypt EncTicketPart (usage 2): client
//!   principal, realm and session key; then the authenticator (usage 11): subkey, sequence
//!   number and the GSS checksum flags (DCE style, mutual).
//! * [`ApRepInfo::decrypt`]: EncAPRepPart under the session key (usage 12): the acceptor
//!   subkey and sequence number.
//! * [`gss::GssContext`]: unwrap / verify per-message tokens with the context key.
//! * [`spnego`]: reach the Kerberos token inside SPNEGO and GSS-API framing.
//!
//! ASN.1 comes from `rasn-kerberos` (RFC 4120 types on the `rasn` codec). Chosen over
//! `picky-krb` and `kerberos_asn1`: `kerberos_asn1` is AGPL-3.0 (incompatible with this
//! MIT/Apache project) and unmaintained since 2021; `picky-krb` is maintained but bundles
//! its own Kerberos crypto (AES only, no RC4-HMAC, allocating API) and pulls x509, rand and
//! bignum crates; rasn-kerberos is types only, so the crypto stays on the RustCrypto
//! primitives used everywhere else in `auth`. Two structures are declared here instead of
//! taken from the crate: Authenticator and EncAPRepPart, because Windows encodes sequence
//! numbers above 2^31 as negative INTEGERs, which the crate's `u32` field rejects.

pub mod crypto;
pub mod gss;
pub mod spnego;

use crate::auth::keys::{KeyRing, KeySource, Origin};
use crypto::{CryptoError, Key};
use rasn::prelude::*;
use rasn_kerberos::{
    ApRep, ApReq, Checksum, EncTicketPart, EncryptionKey, KerberosTime, PrincipalName,
};

/// Key usages (RFC 4120 7.5.1).
pub const USAGE_TICKET: u32 = 2;
pub const USAGE_AP_REQ_AUTH: u32 = 11;
pub const USAGE_AP_REP: u32 = 12;

/// Largest Kerberos message decoded (tickets with big PACs stay well under this).
pub const MAX_MESSAGE: usize = 64 << 10;
/// Password-derived keys tried per ticket (each costs a PBKDF2 run).
pub const MAX_PASSWORD_TRIES: usize = 64;

/// GSS checksum flags (RFC 4121 4.1.1.1, MS-KILE 3.2.5.2).
pub const GSS_C_MUTUAL_FLAG: u32 = 0x02;
pub const GSS_C_DCE_STYLE: u32 = 0x1000;

/// RFC 4120 Authenticator with the sequence number as a signed INTEGER (Windows).
#[derive(AsnType, Clone, Debug, Decode, Encode, PartialEq, Eq)]
#[rasn(tag(explicit(application, 2)))]
pub struct Authenticator {
    #[rasn(tag(explicit(0)))]
    pub authenticator_vno: Integer,
    #[rasn(tag(explicit(1)))]
    pub crealm: GeneralString,
    #[rasn(tag(explicit(2)))]
    pub cname: PrincipalName,
    #[rasn(tag(explicit(3)))]
    pub cksum: Option<Checksum>,
    #[rasn(tag(explicit(4)))]
    pub cusec: Integer,
    #[rasn(tag(explicit(5)))]
    pub ctime: KerberosTime,
    #[rasn(tag(explicit(6)))]
    pub subkey: Option<EncryptionKey>,
    #[rasn(tag(explicit(7)))]
    pub seq_number: Option<i64>,
    #[rasn(tag(explicit(8)))]
    pub authorization_data: Option<Any>,
}

/// RFC 4120 EncAPRepPart with a signed sequence number (Windows).
#[derive(AsnType, Clone, Debug, Decode, Encode, PartialEq, Eq)]
#[rasn(tag(explicit(application, 27)))]
pub struct EncApRepPart {
    #[rasn(tag(explicit(0)))]
    pub ctime: KerberosTime,
    #[rasn(tag(explicit(1)))]
    pub cusec: Integer,
    #[rasn(tag(explicit(2)))]
    pub subkey: Option<EncryptionKey>,
    #[rasn(tag(explicit(3)))]
    pub seq_number: Option<i64>,
}

fn text(s: &GeneralString) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

fn principal_text(p: &PrincipalName) -> String {
    p.string.iter().map(text).collect::<Vec<_>>().join("/")
}

fn key_of(k: &EncryptionKey) -> Option<Key> {
    Key::new(k.r#type, &k.value)
}

/// What decrypting an AP-REQ revealed. Keys stay redacted in Debug output.
#[derive(Debug, Clone)]
pub struct ApReqInfo {
    /// The client: `name` (components joined with `/`) and realm, from EncTicketPart.
    pub client: String,
    pub client_realm: String,
    /// The service the ticket is for (`cifs/host.domain`) and its realm, in clear.
    pub service: String,
    pub service_realm: String,
    /// Etype and kvno of the ticket's encryption (the service key's).
    pub ticket_etype: i32,
    pub ticket_kvno: Option<u32>,
    pub session_key: Key,
    /// The authenticator's subkey (the initiator subkey of the GSS context).
    pub subkey: Option<Key>,
    pub seq_number: Option<u32>,
    /// Flags of the GSS checksum (type 0x8003) when present.
    pub gss_flags: Option<u32>,
    /// Which key opened the ticket.
    pub source: KeySource,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KerberosError {
    #[error("not a Kerberos AP-REQ / AP-REP")]
    NotKerberos,
    #[error("no key for the ticket's service and encryption type")]
    NoKey,
    #[error("ticket or authenticator did not decrypt: {0}")]
    Crypto(#[from] CryptoError),
    #[error("decrypted part is not valid ASN.1")]
    Asn1,
}

/// The gist of a Kerberos blob without any key: is it an AP-REQ, and for which service.
pub fn peek_ap_req(blob: &[u8]) -> Option<(String, String)> {
    let msg = spnego::kerberos_message(blob)?;
    let req: ApReq = rasn::ber::decode(msg.get(..msg.len().min(MAX_MESSAGE))?).ok()?;
    Some((principal_text(&req.ticket.sname), text(&req.ticket.realm)))
}

impl ApReqInfo {
    /// Decrypt the AP-REQ in `blob` (SPNEGO, GSS-framed or bare) with the ring's keys.
    pub fn decrypt(blob: &[u8], ring: &KeyRing) -> Result<ApReqInfo, KerberosError> {
        let msg = spnego::kerberos_message(blob).ok_or(KerberosError::NotKerberos)?;
        if msg.len() > MAX_MESSAGE {
            return Err(KerberosError::NotKerberos);
        }
        let req: ApReq = rasn::ber::decode(msg).map_err(|_| KerberosError::NotKerberos)?;
        let enc = &req.ticket.enc_part;
        let sname: Vec<String> = req.ticket.sname.string.iter().map(text).collect();
        let realm = text(&req.ticket.realm);
        let (ticket, source, origin) =
            open_ticket(enc.etype, enc.kvno, &sname, &realm, &enc.cipher, ring)?;
        let session_key = key_of(&ticket.key).ok_or(KerberosError::Crypto(CryptoError::Etype))?;
        let auth_plain =
            crypto::decrypt(&session_key, USAGE_AP_REQ_AUTH, &req.authenticator.cipher)?;
        let auth: Authenticator =
            rasn::ber::decode(&auth_plain).map_err(|_| KerberosError::Asn1)?;
        let gss_flags = auth
            .cksum
            .as_ref()
            .filter(|c| c.r#type == 0x8003)
            .and_then(|c| c.checksum.get(20..24))
            .map(|f| u32::from_le_bytes([f[0], f[1], f[2], f[3]]));
        Ok(ApReqInfo {
            client: principal_text(&ticket.cname),
            client_realm: text(&ticket.crealm),
            service: sname.join("/"),
            service_realm: realm,
            ticket_etype: enc.etype,
            ticket_kvno: enc.kvno,
            session_key,
            subkey: auth.subkey.as_ref().and_then(key_of),
            seq_number: auth.seq_number.map(|s| s as u32),
            gss_flags,
            source,
            origin,
        })
    }

    /// The client asked for DCE-style GSS (DCE-RPC's three-leg exchange).
    pub fn dce_style(&self) -> bool {
        self.gss_flags.is_some_and(|f| f & GSS_C_DCE_STYLE != 0)
    }
}

/// Try the ring's keys on a ticket's encrypted part.
fn open_ticket(
    etype: i32,
    kvno: Option<u32>,
    sname: &[String],
    realm: &str,
    cipher: &[u8],
    ring: &KeyRing,
) -> Result<(EncTicketPart, KeySource, Origin), KerberosError> {
    let try_key = |key: &Key| -> Option<EncTicketPart> {
        let plain = crypto::decrypt(key, USAGE_TICKET, cipher).ok()?;
        rasn::ber::decode(&plain).ok()
    };
    let same_principal = |e: &crate::auth::keytab::KeytabEntry| {
        e.principal.realm.eq_ignore_ascii_case(realm)
            && e.principal.components.len() == sname.len()
            && e.principal
                .components
                .iter()
                .zip(sname)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    // Keytab: the ticket's own principal (and kvno) first, then every key of the etype
    // (one account's key serves all its service names: cifs/, host/, ldap/...).
    let mut candidates: Vec<_> = ring
        .keytab
        .iter()
        .filter(|k| k.entry.enctype == etype)
        .collect();
    candidates.sort_by_key(|k| {
        (
            !same_principal(&k.entry),
            kvno.is_some_and(|v| v != k.entry.kvno),
        )
    });
    for k in candidates {
        if let Some(key) = Key::new(etype, k.entry.key.expose())
            && let Some(t) = try_key(&key)
        {
            return Ok((t, KeySource::Keytab, k.origin.clone()));
        }
    }
    // Passwords: RC4's key is the NT hash; AES needs the salt, guessed from the service
    // principal (a computer account's salt, then the principal's default salt).
    let mut tries = 0;
    for (idx, k) in ring.ntlm.iter().enumerate() {
        let key = if etype == crypto::ETYPE_RC4_HMAC {
            Key::new(etype, k.nt_hash.expose())
        } else {
            None
        };
        if let Some(key) = key
            && let Some(t) = try_key(&key)
        {
            return Ok((t, k.source, k.origin.clone()));
        }
        let Some(pw) = &k.password else { continue };
        if etype == crypto::ETYPE_RC4_HMAC {
            continue;
        }
        let host = sname
            .get(1)
            .or(sname.first())
            .map(String::as_str)
            .unwrap_or("");
        let comps: Vec<&str> = sname.iter().map(String::as_str).collect();
        for salt in [
            crypto::machine_salt(realm, host),
            crypto::default_salt(realm, &comps),
        ] {
            tries += 1;
            if tries > MAX_PASSWORD_TRIES {
                return Err(KerberosError::NoKey);
            }
            if let Some(key) = derive_cached(ring, idx, etype, pw.expose(), &salt)
                && let Some(t) = try_key(&key)
            {
                return Ok((t, k.source, k.origin.clone()));
            }
        }
    }
    Err(KerberosError::NoKey)
}

/// The key a Kerberos GSS context exports (RFC 4121 2; MS-SMB2 Session.SessionKey comes
/// from it): the acceptor subkey when the AP-REP carried one, else the authenticator's
/// subkey, else the ticket's session key. SMB 3.x takes its first 16 bytes as the session
/// key and the whole key for the AES-256 ciphers (FullSessionKey).
pub fn context_key<'a>(req: &'a ApReqInfo, rep: Option<&'a ApRepInfo>) -> &'a Key {
    rep.and_then(|r| r.subkey.as_ref())
        .or(req.subkey.as_ref())
        .unwrap_or(&req.session_key)
}

/// A GSS context for the per-message tokens of this exchange.
pub fn gss_context(req: &ApReqInfo, rep: Option<&ApRepInfo>) -> gss::GssContext {
    gss::GssContext::new(
        req.session_key.clone(),
        req.subkey.clone(),
        rep.and_then(|r| r.subkey.clone()),
    )
}

/// String-to-key through the ring's cache (a poisoned lock just skips the cache).
fn derive_cached(
    ring: &KeyRing,
    idx: usize,
    etype: i32,
    password: &[u8],
    salt: &[u8],
) -> Option<Key> {
    let id = (idx, etype, salt.to_vec());
    if let Ok(cache) = ring.derived.lock()
        && let Some(hit) = cache.get(&id)
    {
        return hit.as_ref().and_then(|s| Key::new(etype, s.expose()));
    }
    let key = crypto::string_to_key(etype, password, salt, None);
    if let Ok(mut cache) = ring.derived.lock()
        && cache.len() < crate::auth::keys::MAX_DERIVED
    {
        cache.insert(
            id,
            key.as_ref()
                .map(|k| crate::auth::keys::Secret::new(k.expose().to_vec())),
        );
    }
    key
}

/// What decrypting an AP-REP revealed.
#[derive(Debug, Clone)]
pub struct ApRepInfo {
    /// The acceptor subkey, when the server chose one.
    pub subkey: Option<Key>,
    pub seq_number: Option<u32>,
}

impl ApRepInfo {
    /// Decrypt the AP-REP in `blob` with the session key from the AP-REQ.
    pub fn decrypt(blob: &[u8], session_key: &Key) -> Result<ApRepInfo, KerberosError> {
        let msg = spnego::kerberos_message(blob).ok_or(KerberosError::NotKerberos)?;
        if msg.len() > MAX_MESSAGE {
            return Err(KerberosError::NotKerberos);
        }
        let rep: ApRep = rasn::ber::decode(msg).map_err(|_| KerberosError::NotKerberos)?;
        let plain = crypto::decrypt(session_key, USAGE_AP_REP, &rep.enc_part.cipher)?;
        let part: EncApRepPart = rasn::ber::decode(&plain).map_err(|_| KerberosError::Asn1)?;
        Ok(ApRepInfo {
            subkey: part.subkey.as_ref().and_then(key_of),
            seq_number: part.seq_number.map(|s| s as u32),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::crypto::{ETYPE_AES128, ETYPE_AES256, ETYPE_RC4_HMAC, UsageKeys};
    use super::spnego::tests::{gss_krb5, neg_token_init, neg_token_resp};
    use super::spnego::{TOK_AP_REP, TOK_AP_REQ};
    use super::*;
    use crate::auth::keys::KeyRing;
    use crate::auth::keytab::tests::{keytab, record};
    use rasn_kerberos::{EncryptedData, Ticket, TicketFlags, TransitedEncoding};
    use std::path::Path;

    fn gs(s: &str) -> GeneralString {
        GeneralString::from_bytes(s.as_bytes()).unwrap()
    }

    fn pname(t: i32, parts: &[&str]) -> PrincipalName {
        PrincipalName {
            r#type: t,
            string: parts.iter().map(|p| gs(p)).collect(),
        }
    }

    fn time() -> KerberosTime {
        KerberosTime(
            rasn::types::GeneralizedTime::parse_from_rfc3339("2024-01-02T03:04:05Z").unwrap(),
        )
    }

    pub(crate) struct Built {
        pub ap_req: Vec<u8>,
        pub ap_rep: Vec<u8>,
        pub session: Key,
        pub subkey: Key,
        pub acceptor_subkey: Key,
    }

    /// An AP-REQ for `cifs/dc1.lab.local@LAB.LOCAL` from alice@LAB.LOCAL, its ticket
    /// under `service_key`, with a DCE-style GSS checksum, and the matching AP-REP.
    pub(crate) fn build(service_key: &Key, session_etype: i32) -> Built {
        let n = crypto::key_len(session_etype).unwrap();
        let session = Key::new(session_etype, &vec![0x11; n]).unwrap();
        let subkey = Key::new(session_etype, &vec![0x22; n]).unwrap();
        let acceptor_subkey = Key::new(session_etype, &vec![0x33; n]).unwrap();
        let conf = |k: &Key| vec![0x5au8; if k.etype == ETYPE_RC4_HMAC { 8 } else { 16 }];
        let etp = EncTicketPart {
            flags: TicketFlags(rasn::types::BitString::repeat(false, 32)),
            key: EncryptionKey {
                r#type: session_etype,
                value: session.expose().to_vec().into(),
            },
            crealm: gs("LAB.LOCAL"),
            cname: pname(1, &["alice"]),
            transited: TransitedEncoding {
                r#type: 0,
                contents: Vec::new().into(),
            },
            auth_time: time(),
            start_time: None,
            end_time: time(),
            renew_till: None,
            caddr: None,
            authorization_data: None,
        };
        let etp_der = rasn::der::encode(&etp).unwrap();
        let ticket_ct = UsageKeys::new(service_key, USAGE_TICKET)
            .unwrap()
            .encrypt(&conf(service_key), &etp_der);
        let mut gss_ck = 16u32.to_le_bytes().to_vec();
        gss_ck.extend_from_slice(&[0; 16]);
        gss_ck.extend_from_slice(&(GSS_C_DCE_STYLE | GSS_C_MUTUAL_FLAG | 0x30).to_le_bytes());
        let auth = Authenticator {
            authenticator_vno: 5.into(),
            crealm: gs("LAB.LOCAL"),
            cname: pname(1, &["alice"]),
            cksum: Some(Checksum {
                r#type: 0x8003,
                checksum: gss_ck.into(),
            }),
            cusec: 0.into(),
            ctime: time(),
            subkey: Some(EncryptionKey {
                r#type: session_etype,
                value: subkey.expose().to_vec().into(),
            }),
            // Above 2^31: Windows sends it as a negative INTEGER.
            seq_number: Some(-5),
            authorization_data: None,
        };
        let auth_ct = UsageKeys::new(&session, USAGE_AP_REQ_AUTH)
            .unwrap()
            .encrypt(&conf(&session), &rasn::der::encode(&auth).unwrap());
        let req = ApReq {
            pvno: 5.into(),
            msg_type: 14.into(),
            ap_options: rasn_kerberos::ApOptions(rasn::types::BitString::repeat(false, 32)),
            ticket: Ticket {
                tkt_vno: 5.into(),
                realm: gs("LAB.LOCAL"),
                sname: pname(2, &["cifs", "dc1.lab.local"]),
                enc_part: EncryptedData {
                    etype: service_key.etype,
                    kvno: Some(3),
                    cipher: ticket_ct.into(),
                },
            },
            authenticator: EncryptedData {
                etype: session_etype,
                kvno: None,
                cipher: auth_ct.into(),
            },
        };
        let rep_part = EncApRepPart {
            ctime: time(),
            cusec: 0.into(),
            subkey: Some(EncryptionKey {
                r#type: session_etype,
                value: acceptor_subkey.expose().to_vec().into(),
            }),
            seq_number: Some(77),
        };
        let rep = ApRep {
            pvno: 5.into(),
            msg_type: 15.into(),
            enc_part: EncryptedData {
                etype: session_etype,
                kvno: None,
                cipher: UsageKeys::new(&session, USAGE_AP_REP)
                    .unwrap()
                    .encrypt(&conf(&session), &rasn::der::encode(&rep_part).unwrap())
                    .into(),
            },
        };
        Built {
            ap_req: rasn::der::encode(&req).unwrap(),
            ap_rep: rasn::der::encode(&rep).unwrap(),
            session,
            subkey,
            acceptor_subkey,
        }
    }

    fn ring_with_keytab(etype: u16, key: &[u8]) -> KeyRing {
        let dir = std::env::temp_dir().join(format!("rpcsift-krb-{}-{etype}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let other = record(
            "LAB.LOCAL",
            &["krbtgt", "LAB.LOCAL"],
            2,
            etype,
            &vec![0x77; key.len()],
            None,
        );
        let mine = record("LAB.LOCAL", &["cifs", "dc1.lab.local"], 3, etype, key, None);
        std::fs::write(dir.join("k.keytab"), keytab(&[other, mine])).unwrap();
        let mut r = KeyRing::new();
        r.add_keytab(&dir.join("k.keytab")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        r
    }

    #[test]
    fn ap_req_and_ap_rep_with_a_keytab_every_etype() {
        for etype in [ETYPE_AES256, ETYPE_AES128, ETYPE_RC4_HMAC] {
            let n = crypto::key_len(etype).unwrap();
            let service = Key::new(etype, &vec![0x44; n]).unwrap();
            let b = build(&service, etype);
            let ring = ring_with_keytab(etype as u16, service.expose());
            // SPNEGO-wrapped, GSS-framed and bare all work.
            for blob in [
                neg_token_init(&gss_krb5(TOK_AP_REQ, &b.ap_req)),
                gss_krb5(TOK_AP_REQ, &b.ap_req),
                b.ap_req.clone(),
            ] {
                let info = ApReqInfo::decrypt(&blob, &ring).unwrap();
                assert_eq!(
                    (info.client.as_str(), info.client_realm.as_str()),
                    ("alice", "LAB.LOCAL")
                );
                assert_eq!(info.service, "cifs/dc1.lab.local");
                assert_eq!(info.session_key, b.session);
                assert_eq!(info.subkey.as_ref(), Some(&b.subkey));
                assert_eq!(info.seq_number, Some(0xffff_fffb));
                assert!(info.dce_style());
                assert_eq!(
                    (info.source, info.ticket_kvno),
                    (KeySource::Keytab, Some(3))
                );
            }
            assert_eq!(
                peek_ap_req(&b.ap_req),
                Some(("cifs/dc1.lab.local".into(), "LAB.LOCAL".into()))
            );
            let rep = ApRepInfo::decrypt(
                &neg_token_resp(&gss_krb5(TOK_AP_REP, &b.ap_rep)),
                &b.session,
            )
            .unwrap();
            assert_eq!(rep.subkey.as_ref(), Some(&b.acceptor_subkey));
            assert_eq!(rep.seq_number, Some(77));
            assert_eq!(
                context_key(&ApReqInfo::decrypt(&b.ap_req, &ring).unwrap(), Some(&rep)),
                &b.acceptor_subkey
            );
            let info = ApReqInfo::decrypt(&b.ap_req, &ring).unwrap();
            assert_eq!(context_key(&info, None), &b.subkey);
            // Both ends of the context: the client seals with what the server unwraps.
            let mut client = gss_context(&info, Some(&rep));
            let mut server = gss_context(&info, Some(&rep));
            let mut stub = b"NetrServerReqChallenge".to_vec();
            let av = client.wrap_dce(gss::Sender::Initiator, 0, &[], &mut stub, &[]);
            assert_eq!(
                server.unwrap_dce(&av, &[], &mut stub, &[]),
                Ok(gss::Sender::Initiator)
            );
            assert_eq!(stub, b"NetrServerReqChallenge");
            // Wrong session key for the AP-REP, wrong service key for the ticket.
            assert!(ApRepInfo::decrypt(&b.ap_rep, &b.subkey).is_err());
            let wrong = ring_with_keytab(etype as u16, &vec![0x45; n]);
            assert_eq!(
                ApReqInfo::decrypt(&b.ap_req, &wrong).unwrap_err(),
                KerberosError::NoKey
            );
        }
    }

    #[test]
    fn ticket_opens_with_a_password() {
        // AES: the computer account's key from its password and the machine salt.
        let service = crypto::string_to_key(
            ETYPE_AES256,
            b"Machine-Pass",
            b"LAB.LOCALhostdc1.lab.local",
            None,
        )
        .unwrap();
        let b = build(&service, ETYPE_AES256);
        let mut ring = KeyRing::new();
        ring.load_bytes(
            b"password LAB\\dc1$ wrong\npassword * Machine-Pass\n",
            Path::new("k"),
            Path::new("."),
        )
        .unwrap();
        let info = ApReqInfo::decrypt(&b.ap_req, &ring).unwrap();
        assert_eq!(info.source, KeySource::Password);
        assert_eq!(info.origin.to_string(), "k:2");
        // The derived keys are cached: the next AP-REQ for the service costs no PBKDF2.
        let cached = ring.derived.lock().unwrap().len();
        assert!(cached >= 2, "{cached}");
        let again = ApReqInfo::decrypt(&b.ap_req, &ring.clone()).unwrap();
        assert_eq!(again.session_key, info.session_key);
        assert_eq!(ring.derived.lock().unwrap().len(), cached);
        // RC4: the NT hash (here of the empty password: a Zerologon'd DC).
        let service = crypto::string_to_key(ETYPE_RC4_HMAC, b"", b"", None).unwrap();
        let b = build(&service, ETYPE_RC4_HMAC);
        let mut ring = KeyRing::new();
        ring.load_bytes(b"password LAB\\DC1$\n", Path::new("k"), Path::new("."))
            .unwrap();
        assert!(ApReqInfo::decrypt(&b.ap_req, &ring).is_ok());
    }

    #[test]
    fn garbage_is_an_error() {
        let ring = KeyRing::new();
        assert_eq!(
            ApReqInfo::decrypt(b"", &ring).unwrap_err(),
            KerberosError::NotKerberos
        );
        assert_eq!(
            ApReqInfo::decrypt(b"NTLMSSP\0\x03", &ring).unwrap_err(),
            KerberosError::NotKerberos
        );
        let service = Key::new(ETYPE_AES128, &[1; 16]).unwrap();
        let b = build(&service, ETYPE_AES128);
        for cut in [1, 10, b.ap_req.len() / 2, b.ap_req.len() - 1] {
            assert!(ApReqInfo::decrypt(&b.ap_req[..cut], &ring).is_err());
        }
        assert_eq!(
            ApReqInfo::decrypt(&b.ap_req, &ring).unwrap_err(),
            KerberosError::NoKey
        );
    }
}
