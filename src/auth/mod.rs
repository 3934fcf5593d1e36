//! Authentication tokens and the analyst's keys: key input, key verification, key
//! derivation and the decrypt/unwrap primitives that remove DCE-RPC packet privacy and SMB3
//! encryption (issue 17).
//!
//! A leaf layer: it imports nothing from the other rpcsift layers, so `dcerpc`, `smb`,
//! `args` and the CLI can all use it. NTLMSSP lives here (not under `smb`) because it serves
//! DCE-RPC auth trailers and SMB session setup alike. Nothing here prints, logs or
//! serialises a secret: keys live in [`keys::Secret`] (Debug shows `<redacted>`, memory is
//! wiped on drop) and errors name files and lines, never values.
//!
//! # Keys in: [`keys`], [`keytab`]
//! * [`keys::KeyRing`]: `new()`, `load_file(&Path)` (`--keys FILE`, repeatable),
//!   `add_password(&str)` (`--password`), `add_nt_hash(&str)` (`--nt-hash`),
//!   `add_keytab(&Path)` (`--keytab`); `is_empty()` (no key: change nothing). Errors are
//!   [`keys::KeyError`] (thiserror, `FILE:LINE: what`); the CLI maps them to exit 2.
//! * Lookups: `ring.ntlm_for(user, domain)` (NTLM credentials whose USER matches, `*`
//!   included), `ring.keytab` (all [`keys::KeytabKey`]s), `ring.smb3_for(session_id)`
//!   (`smb3-key` lines; the id as the wire's 8 little-endian bytes read as a u64).
//! * Every key carries its [`keys::KeySource`] (`password`, `nt-hash`, `keytab`,
//!   `smb3-key`: the `decrypted_with` output values, `as_str()`) and an [`keys::Origin`]
//!   (`FILE:LINE` or `--flag #n`) for the summary's "keys that did not verify".
//!
//! # NTLM: [`ntlmssp`], [`ntlm`]
//! Per association (DCE-RPC) or session (SMB):
//! 1. Keep the CHALLENGE ([`ntlmssp::parse`] / [`ntlmssp::find`] on the bind_ack /
//!    SESSION_SETUP response token gives [`ntlmssp::Challenge`]) until the AUTHENTICATE
//!    (auth3 / alter_context / bind, or the next SESSION_SETUP request) arrives.
//! 2. [`ntlm::try_keys`]`(&challenge, &authenticate, &ring) -> ntlm::Outcome`: the account,
//!    the first credential that verified with its [`ntlm::SessionKeys`], and the origins of
//!    matching credentials that did not verify (never used; report them per account).
//!    [`ntlm::verify`] does the same for one credential.
//! 3. SMB: `keys.exported_session_key()` is Session.SessionKey for [`smb3::derive_keys`].
//!    DCE-RPC: one [`ntlm::Sealer`] per direction, `keys.sealer(Direction::ClientToServer)`
//!    for requests and `ServerToClient` for responses. The RC4 state runs across the whole
//!    association: feed every sealed/signed PDU of that direction, in order (a lost PDU
//!    desynchronises the rest; there is no recovery in NTLM sealing).
//! 4. Per PDU, packet privacy: `sealer.unseal(before, stub_and_pad, after, signature)`
//!    decrypts `stub_and_pad` in place (no allocation). `before` = the PDU bytes from the
//!    header to the stub (16-byte common header + request/response fields), `after` = the
//!    8-byte sec_trailer, `signature` = the 16-byte auth_value: MS-RPCE 2.2.2.11 header
//!    signing, which NTLM always negotiates in practice; pass empty `before`/`after` when
//!    PFC_SUPPORT_HEADER_SIGN was not agreed. Packet integrity: `sealer.verify(&[before,
//!    stub, after], signature)`. `Err(SignError)` is counted in `sealer.bad` (`ok` counts
//!    the good ones); the data is decrypted either way.
//!
//! # Kerberos: [`kerberos`]
//! 1. AP-REQ (bind / SESSION_SETUP request, SPNEGO or GSS-framed or bare):
//!    `kerberos::ApReqInfo::decrypt(blob, &ring) -> Result<ApReqInfo, KerberosError>`:
//!    `client`, `client_realm` (fill `user`/`domain`), session key, authenticator subkey,
//!    sequence number, GSS flags (`dce_style()`), and the key's source and origin.
//!    `KerberosError::NoKey` means no key in the ring opened the ticket.
//!    [`kerberos::peek_ap_req`] names the service without a key.
//! 2. AP-REP (bind_ack / SESSION_SETUP response): `kerberos::ApRepInfo::decrypt(blob,
//!    &req.session_key)`: the acceptor subkey and sequence number.
//! 3. SMB: [`kerberos::context_key`]`(&req, rep)` is the GSS session key (its first 16 bytes
//!    are Session.SessionKey; all of it for the AES-256 ciphers).
//! 4. DCE-RPC: [`kerberos::gss_context`]`(&req, rep)` gives one
//!    [`kerberos::gss::GssContext`] for both directions (the token says who sent it).
//!    Per PDU: `ctx.unwrap_dce(auth_value, before, stub_and_pad, after)` (privacy: decrypts
//!    in place, returns the [`kerberos::gss::Sender`]) or `ctx.verify_dce(auth_value,
//!    before, stub, after)` (integrity), with `before`/`after` as for NTLM. Both RFC 4121
//!    (etypes 17/18) and RFC 4757 (etype 23) tokens; `ctx.ok` / `ctx.bad` count checksums.
//!    Kerberos tokens carry their own sequence numbers, so a lost PDU costs only that PDU.
//!
//! # SMB3: [`smb3`]
//! Per connection: [`smb3::negotiate_response`] (dialect and, for 3.1.1, the cipher) and a
//! [`smb3::PreauthHash`] updated with the NEGOTIATE request and response; per session a copy
//! of it updated with every SESSION_SETUP request and every non-final response. Once the
//! session key is known: [`smb3::derive_keys`]`(session_key, dialect, cipher, Some(&h.0))`
//! gives the two cipher keys; build one [`smb3::Decryptor`] per direction, then
//! `decryptor.decrypt_in_place(&mut transform_message)` per TRANSFORM_HEADER message
//! (`Err(Smb3Error::Tag)` on a wrong key). [`smb3::parse_transform`] reads the header's
//! session id to pick the session. An `smb3-key` line with C2S/S2C keys skips the
//! derivation.
//!
//! # One exchange: [`exchange`]
//! [`exchange::Exchange`] follows one authentication (DCE-RPC legs or SMB SESSION_SETUP
//! legs) token by token (`client_token`, `server_token`): NTLM CHALLENGE kept until the
//! AUTHENTICATE, keys tried and verified, Kerberos AP-REQ and AP-REP opened, SPNEGO
//! mechTypes kept for the mechListMIC. `established` then holds the NTLM session keys or
//! the Kerberos context; every attempt is an [`exchange::Event`] for the summary.
//!
//! # Crates
//! RustCrypto for every primitive (`md4`, `md-5`, `sha1`, `sha2`, `hmac`, `des`, `rc4`,
//! `aes`, `cts`, `ccm`, `aes-gcm`, `pbkdf2`, `crc32fast`, `zeroize`); `rasn-kerberos` for the
//! Kerberos ASN.1 (the choice is explained in [`kerberos`]). Hand-written glue only: the
//! MS-NLMP key schedule and signature layout, RFC 3961 n-fold/DK, the RFC 4121/4757 token
//! layouts, the SP800-108 counter loop, and a small DER walker for SPNEGO.

pub mod exchange;
pub mod kerberos;
pub mod keys;
pub mod keytab;
pub mod ntlm;
pub mod ntlmssp;
pub mod smb3;
