#![no_main]
//! Bytes as a whole capture file through the engine with the analyst's keys (the labs'
//! passwords, NT hashes and keytab, SMB3 session keys): the authentication legs (NTLM
//! CHALLENGE/AUTHENTICATE, Kerberos AP-REQ/AP-REP, SPNEGO mechListMIC), DCE-RPC unsealing
//! and signature checks, and SMB3 session key derivation and decryption run on whatever
//! the mutated traffic holds. Seeded with the labs' captures (fuzz/smoke.sh).
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::keys::KeyRing;
use rpcsift::engine::{Options, analyze_reader};
use std::path::Path;
use std::sync::{Arc, OnceLock};

fn ring() -> Arc<KeyRing> {
    static RING: OnceLock<Arc<KeyRing>> = OnceLock::new();
    RING.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut r = KeyRing::new();
        for f in ["captures/impacket/lab.keys", "captures/ad-lab/out/dcsync_kerberos.keys"] {
            let p = root.join(f);
            if p.is_file() {
                r.load_file(&p).expect("the labs' key files parse");
            }
        }
        // An smb3-key line with cipher keys for a made-up session (the derived keys of the
        // captures' sessions come from the password and the keytab).
        r.load_bytes(
            b"smb3-key 0100000000000000 000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f\n",
            Path::new("fuzz.keys"),
            Path::new("."),
        )
        .expect("smb3-key line");
        Arc::new(r)
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        keys: Some(ring()),
        ..Options::default()
    };
    let _ = analyze_reader("fuzz", data, 0, &opts);
});
