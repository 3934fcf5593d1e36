#![no_main]
//! NTLM key verification and message security over arbitrary bytes: an AUTHENTICATE
//! message checked against a fixed CHALLENGE with a password, and, whatever the outcome,
//! unsealing and signature checks on arbitrary data. Never a panic; a wrong or truncated
//! signature is an error, counted.
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::keys::KeyRing;
use rpcsift::auth::ntlm::{self, Direction, Response, SessionKeys};
use rpcsift::auth::ntlmssp::{self, Challenge, Message};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let mut ring = KeyRing::new();
    ring.load_bytes(b"password * Password\nnt-hash * 8846f7eaee8fb117ad06bdd830b7586c\n", Path::new("k"), Path::new("."))
        .expect("fixed keys");
    let chal = Challenge {
        flags: u32::from(sel) << 24 | 0x0088_8235,
        server_challenge: [1, 2, 3, 4, 5, 6, 7, 8],
        target_name: &[],
        target_info: &[],
        version: None,
    };
    if let Some((_, Message::Authenticate(a))) = ntlmssp::find(rest) {
        let _ = a.names();
        for k in &ring.ntlm {
            if let Some(keys) = ntlm::verify(&chal, &a, k) {
                let _ = ntlm::verify_mic(&keys, b"", b"", &a);
                let mut s = keys.sealer(Direction::ClientToServer);
                let mut buf = rest.to_vec();
                let _ = s.unseal(&[], &mut buf, &[], rest.get(..16).unwrap_or(&[]));
            }
        }
    }
    // Sealing state on arbitrary input, both flavours (with/without extended session security).
    for flags in [0xe28a_8233u32, 0xe280_8235] {
        let keys = SessionKeys::from_exported(flags, Response::NtlmV2, [sel; 16]);
        let mut s = keys.sealer(Direction::ServerToClient);
        let (sig, body) = rest.split_at(rest.len().min(16));
        let mut buf = body.to_vec();
        let r = s.unseal(&body[..body.len().min(8)], &mut buf, &[], sig);
        assert_eq!(s.ok + s.bad, 1);
        if sig.len() != 16 {
            assert!(r.is_err());
        }
        let _ = s.verify(&[body], sig);
    }
});
