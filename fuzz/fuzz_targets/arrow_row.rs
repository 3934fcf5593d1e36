//! The row decoder behind `--format parquet` (`output::arrow`, records spilled to disk on
//! their way to the Parquet writer) on arbitrary bytes: a damaged or hostile row must be an
//! error, never a panic, and a row that decodes must make a valid batch with one row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpcsift::output::arrow;

fuzz_target!(|data: &[u8]| {
    for zeek_compat in [false, true] {
        let mut b = arrow::calls_builder(zeek_compat);
        if b.push_encoded(data).is_ok() {
            assert_eq!(b.len(), 1);
            // Required columns may still be null in a decoded row: then finish refuses.
            if let Ok(batch) = b.finish() {
                assert_eq!(batch.num_rows(), 1);
            }
        } else {
            assert_eq!(b.len(), 0);
        }
    }
});
