//! `docs/zeek-differences.md` is what `validate::differences::document` writes for the
//! shared corpus (refresh: `cargo run --release --example zeek_differences --
//! "$RPCSIFT_SHARED" > docs/zeek-differences.md`). Needs `RPCSIFT_SHARED`.

mod common;
use common::*;

#[test]
fn zeek_differences_doc_is_current() {
    let Some(base) = shared() else { return };
    let cases = rpcsift::validate::differences::corpus(&base).expect("corpus");
    // 11 real captures, 21 Zeek traces, 4 btest baselines.
    assert_eq!(cases.len(), 36, "{cases:#?}");
    let doc = rpcsift::validate::differences::document(&base).expect("document");
    let committed = std::fs::read_to_string(project("docs/zeek-differences.md"))
        .expect("docs/zeek-differences.md");
    if doc != committed {
        let (n, (a, b)) = doc
            .lines()
            .zip(committed.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "docs/zeek-differences.md is stale (first difference at line {}:\n  now:       {a}\n  committed: {b}\n); refresh it with: cargo run --release --example zeek_differences -- \"$RPCSIFT_SHARED\" > docs/zeek-differences.md",
            n + 1
        );
    }
}
