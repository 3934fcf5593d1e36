//! Build script: the git revision for `rpcsift --version` (env `RPCSIFT_GIT_REV`).
//!
//! `git rev-parse --short HEAD` when the crate is its own git checkout; else the `sha1`
//! cargo records in `.cargo_vcs_info.json` of a packaged crate (crates.io tarball); else
//! "unknown". A checkout nested in some other repository does not borrow its revision.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn short_hex(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| s[..s.len().min(12)].to_ascii_lowercase())
}

fn from_vcs_info(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    short_hex(&rest[start..start + len]).map(|h| h[..h.len().min(9)].to_string())
}

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()),
    );
    println!("cargo:rerun-if-changed=build.rs");
    let mut rev = None;
    let top = git(&dir, &["rev-parse", "--show-toplevel"]);
    let ours = top
        .as_deref()
        .is_some_and(|t| std::fs::canonicalize(t).ok() == std::fs::canonicalize(&dir).ok());
    if ours {
        // Rebuild when HEAD moves: HEAD itself, the branch refs, packed refs.
        for p in ["HEAD", "refs/heads", "packed-refs"] {
            if let Some(path) = git(&dir, &["rev-parse", "--git-path", p]) {
                let path = dir.join(path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        rev = git(&dir, &["rev-parse", "--short", "HEAD"]).and_then(|s| short_hex(&s));
    }
    let rev = rev
        .or_else(|| from_vcs_info(&dir))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RPCSIFT_GIT_REV={rev}");
}
