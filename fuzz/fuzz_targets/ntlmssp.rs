#![no_main]
//! NTLMSSP AUTHENTICATE_MESSAGE search and parsing over arbitrary bytes (an SMB session
//! setup security blob or a DCE-RPC auth verifier). Checks that a parse never panics, that
//! names stay within their bound, and that a message found by the scan parses the same when
//! handed over directly from its signature.
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::ntlmssp::{MAX_FIELD_CHARS, SIGNATURE, find_authenticate, parse_authenticate};

fuzz_target!(|data: &[u8]| {
    let direct = parse_authenticate(data);
    if let Some(u) = &direct {
        for s in [&u.user, &u.domain, &u.workstation] {
            assert!(s.chars().count() <= MAX_FIELD_CHARS);
        }
    }
    let found = find_authenticate(data);
    if data.starts_with(SIGNATURE) && direct.is_some() {
        assert_eq!(found, direct);
    }
    if let Some(u) = found {
        assert!(u.user.chars().count() <= MAX_FIELD_CHARS);
    }
});
