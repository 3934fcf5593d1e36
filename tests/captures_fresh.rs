//! The committed synthetic captures (`captures/*.pcap`) and their ground
//! truth (`captures/*.expected.tsv`) must be exactly what the generator
//! `examples/make_captures.rs` writes today, so the two can never drift.
//!
//! The test regenerates everything into a fresh temporary directory with
//! `cargo run --example make_captures -- <tmpdir>` and compares byte for byte.
//! After an intentional change to the generator, refresh the files with:
//!
//! ```text
//! cargo run --example make_captures -- captures
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Names of the generated artefacts found in `dir`.
fn artefacts(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".expected.tsv"))
        .collect()
}

/// Removes the temporary directory even when an assertion fails.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn committed_captures_match_the_generator() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let committed = root.join("captures");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = TempDir(std::env::temp_dir().join(format!(
        "rpcsift-captures-fresh-{}-{}",
        std::process::id(),
        nanos
    )));

    let output = Command::new(env!("CARGO"))
        .arg("run")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--example")
        .arg("make_captures")
        .arg("--")
        .arg(&tmp.0)
        .output()
        .expect("failed to spawn cargo");
    assert!(
        output.status.success(),
        "`cargo run --example make_captures` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    // The top level, then the AD attack scenarios the generator writes to `attack/`.
    compare(&tmp.0, &committed);
    compare(&tmp.0.join("attack"), &committed.join("attack"));
}

fn compare(fresh_dir: &Path, committed: &Path) {
    let fresh = artefacts(fresh_dir);
    let old = artefacts(committed);
    assert!(!fresh.is_empty(), "the generator wrote no capture");
    assert_eq!(
        fresh, old,
        "captures/ does not hold exactly the files the generator writes; \
         regenerate with `cargo run --example make_captures -- captures`"
    );

    let stale: Vec<&String> = fresh
        .iter()
        .filter(|name| {
            let a = fs::read(fresh_dir.join(name)).expect("read regenerated file");
            let b = fs::read(committed.join(name)).expect("read committed file");
            a != b
        })
        .collect();
    assert!(
        stale.is_empty(),
        "committed captures differ from the generator's output: {stale:?}; \
         regenerate with `cargo run --example make_captures -- captures`"
    );
}
