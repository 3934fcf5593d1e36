//! Write rpcsift's Sigma rules (`rules/*.yml`, one per technique of the `attack` set) from
//! its indicator table: `cargo run --example gen_rules [DIR]` (default `rules`). Files of
//! techniques no longer in the table are removed. tests/sigma_rules.rs checks that the
//! shipped files are what this writes.

use rpcsift::detect::sigma_rules;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules"));
    std::fs::create_dir_all(&dir)?;
    let rules = sigma_rules::generate();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.ends_with(".yml") && !rules.iter().any(|r| r.file == name) {
            std::fs::remove_file(&p)?;
        }
    }
    for r in &rules {
        std::fs::write(dir.join(&r.file), &r.text)?;
    }
    eprintln!("wrote {} rules to {}", rules.len(), dir.display());
    Ok(())
}
