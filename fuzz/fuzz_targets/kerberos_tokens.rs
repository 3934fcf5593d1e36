#![no_main]
//! Kerberos token handling over arbitrary bytes: SPNEGO/GSS unwrapping, AP-REQ decryption
//! with a keytab key and a password, AP-REP decryption, and DCE-style wrap/MIC tokens for
//! every etype. Never a panic on wrong or truncated keys and tokens.
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::kerberos::crypto::{ETYPE_AES128, ETYPE_AES256, ETYPE_RC4_HMAC, Key};
use rpcsift::auth::kerberos::gss::GssContext;
use rpcsift::auth::kerberos::{ApRepInfo, ApReqInfo, peek_ap_req, spnego};
use rpcsift::auth::keys::KeyRing;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = spnego::inner_token(data);
    let _ = spnego::kerberos_message(data);
    let _ = peek_ap_req(data);
    let mut ring = KeyRing::new();
    ring.load_bytes(b"password * Password\n", Path::new("k"), Path::new(".")).expect("fixed keys");
    let _ = ApReqInfo::decrypt(data, &ring);
    for etype in [ETYPE_AES256, ETYPE_AES128, ETYPE_RC4_HMAC] {
        let n = if etype == ETYPE_AES256 { 32 } else { 16 };
        let key = Key::new(etype, &vec![0x42; n]).expect("key");
        let _ = ApRepInfo::decrypt(data, &key);
        let mut ctx = GssContext::new(key.clone(), Some(key.clone()), None);
        let split = data.first().map_or(0, |&b| b as usize).min(data.len());
        let (av, stub) = data.split_at(split);
        let mut buf = stub.to_vec();
        let _ = ctx.unwrap_dce(av, &stub[..stub.len().min(24)], &mut buf, &[]);
        let _ = ctx.verify_dce(av, &[], stub, &[]);
        let mut tok = data.to_vec();
        if let Ok((_, r)) = ctx.unwrap_token(&mut tok) {
            assert!(r.end <= tok.len() && r.start <= r.end);
        }
    }
});
