#![no_main]
//! Key-file parsing (`--keys FILE`) over arbitrary bytes: never a panic, errors name a line
//! that exists, and secrets never reach the error text or the Debug output.
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::keys::{KeyRing, MAX_KEYS};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let mut ring = KeyRing::new();
    // Keytab lines resolve below a folder that does not exist (absolute paths are read
    // bounded, like any key file).
    match ring.load_bytes(data, Path::new("fuzz.keys"), Path::new("/nonexistent-rpcsift-fuzz")) {
        Ok(()) => {
            assert!(ring.len() <= MAX_KEYS);
            for k in &ring.ntlm {
                assert_eq!(format!("{:?}", k.nt_hash), "Secret(<redacted>)");
                if k.password.is_some() {
                    assert_eq!(format!("{:?}", k.password), "Some(Secret(<redacted>))");
                }
            }
        }
        Err(e) => {
            let lines = data.split(|&b| b == b'\n').count();
            let msg = e.to_string();
            if let Some(rest) = msg.strip_prefix("fuzz.keys:") {
                let n: usize = rest.split(':').next().unwrap_or("0").parse().unwrap_or(0);
                assert!(n >= 1 && n <= lines, "{msg}");
            }
        }
    }
});
