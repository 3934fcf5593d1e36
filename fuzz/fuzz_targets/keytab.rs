#![no_main]
//! MIT keytab parsing over arbitrary bytes: never a panic, entries within bounds.
use libfuzzer_sys::fuzz_target;
use rpcsift::auth::keytab::{MAX_COMPONENTS, MAX_ENTRIES, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse(data) {
        assert!(entries.len() <= MAX_ENTRIES);
        for e in &entries {
            assert!(e.principal.components.len() <= MAX_COMPONENTS);
            assert!(e.key.len() <= data.len());
        }
    }
});
