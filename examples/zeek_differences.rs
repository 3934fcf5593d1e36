//! Writes `docs/zeek-differences.md`: `rpcsift validate` over every capture of the shared
//! corpus that has a real Zeek log beside it.
//!
//! ```text
//! cargo run --release --example zeek_differences -- "$RPCSIFT_SHARED" > docs/zeek-differences.md
//! ```
//!
//! The shared folder may also be given by `RPCSIFT_SHARED` alone.

use std::io::Write;
use std::path::PathBuf;

fn main() {
    let base = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("RPCSIFT_SHARED"))
        .map(PathBuf::from);
    let Some(base) = base else {
        eprintln!("usage: zeek_differences SHARED_DIR   (or set RPCSIFT_SHARED)");
        std::process::exit(2);
    };
    match rpcsift::validate::differences::document(&base) {
        Ok(doc) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(doc.as_bytes()).is_err() {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("zeek_differences: {e}");
            std::process::exit(2);
        }
    }
}
