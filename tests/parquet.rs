//! `--format parquet` end to end: the `rpcsift` binary writes Parquet for `calls` and
//! `detect` on the project's captures (`captures/` and below it `captures/impacket/`), the file is
//! read back with the `parquet` crate and compared, record by record and field by field,
//! with the JSON output of the same run.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn rpcsift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rpcsift"))
}

/// `captures/`, searched recursively: the generated captures and `captures/impacket/`.
fn captures() -> [PathBuf; 1] {
    [Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")]
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rpcsift-parquet-{}-{name}", std::process::id()))
}

/// Run rpcsift with `args` and the captures; the output file's bytes.
fn run_to_file(args: &[&str], out: &Path) -> Vec<u8> {
    let o = rpcsift()
        .args(args)
        .arg("-q")
        .arg("-o")
        .arg(out)
        .args(captures())
        .output()
        .expect("run rpcsift");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bytes = std::fs::read(out).expect("output file");
    let _ = std::fs::remove_file(out);
    bytes
}

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Map<String, Value>> {
    String::from_utf8(bytes.to_vec())
        .expect("utf8")
        .lines()
        .map(|l| match serde_json::from_str(l).expect("json line") {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        })
        .collect()
}

/// The Parquet file's batches, its key-value metadata and row group count.
fn read_parquet(args: &[&str], name: &str) -> (Vec<RecordBatch>, Vec<(String, String)>, usize) {
    let path = temp(name);
    std::fs::write(&path, run_to_file(args, &path)).expect("write back");
    let file = std::fs::File::open(&path).expect("open");
    let _ = std::fs::remove_file(&path);
    let b = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
    let kv = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let groups = b.metadata().num_row_groups();
    let batches = b
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches");
    (batches, kv, groups)
}

/// Seconds to whole microseconds, as the writer rounds them.
fn micros(s: f64) -> i64 {
    (s * 1e6).round() as i64
}

/// One Arrow cell against the JSON value of the same field (absent = null).
fn same(col: &dyn Array, i: usize, name: &str, json: Option<&Value>) -> Result<(), String> {
    let json = json.filter(|v| !v.is_null());
    let Some(j) = json else {
        return if col.is_null(i) {
            Ok(())
        } else {
            Err(format!("{name}: JSON null/absent, Parquet has a value"))
        };
    };
    if col.is_null(i) {
        return Err(format!("{name}: Parquet null, JSON {j}"));
    }
    let ok = match col.data_type() {
        DataType::Utf8 if name == "args" => {
            let text = col.as_string::<i32>().value(i);
            serde_json::from_str::<Value>(text).ok().as_ref() == Some(j)
        }
        DataType::Utf8 => j.as_str() == Some(col.as_string::<i32>().value(i)),
        DataType::UInt16 => j.as_u64() == Some(col.as_primitive::<UInt16Type>().value(i).into()),
        DataType::UInt32 => j.as_u64() == Some(col.as_primitive::<UInt32Type>().value(i).into()),
        DataType::UInt64 => j.as_u64() == Some(col.as_primitive::<UInt64Type>().value(i)),
        // serde_json's default number parser (without its `float_roundtrip` feature) can
        // land one ULP away from the printed decimal; the writer's value is exact.
        DataType::Float64 => j.as_f64().is_some_and(|x| {
            let y = col.as_primitive::<Float64Type>().value(i);
            (x.to_bits() as i64 - y.to_bits() as i64).abs() <= 1
        }),
        DataType::Boolean => j.as_bool() == Some(col.as_boolean().value(i)),
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => {
            j.as_f64().map(micros) == Some(col.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        DataType::List(_) => {
            let items = col.as_list::<i32>().value(i);
            let Some(arr) = j.as_array() else {
                return Err(format!("{name}: JSON {j} is not a list"));
            };
            if arr.len() != items.len() {
                return Err(format!("{name}: {} items, JSON {j}", items.len()));
            }
            for (k, jv) in arr.iter().enumerate() {
                match items.data_type() {
                    DataType::Struct(fields) => {
                        let s = items.as_struct();
                        for (f, c) in fields.iter().zip(s.columns()) {
                            same(c.as_ref(), k, f.name(), jv.get(f.name()))?;
                        }
                    }
                    _ => same(items.as_ref(), k, name, Some(jv))?,
                }
            }
            true
        }
        other => return Err(format!("{name}: unexpected type {other}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{name}: Parquet row {i} differs from JSON {j}"))
    }
}

/// Every JSON record equals the Parquet row at the same place: same count, every JSON key a
/// column, every column equal to its JSON field (null when the key is absent).
fn assert_same(json: &[serde_json::Map<String, Value>], batches: &[RecordBatch]) {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, json.len(), "row count");
    assert!(!json.is_empty(), "the captures give records");
    let mut n = 0;
    for b in batches {
        let schema = b.schema();
        for i in 0..b.num_rows() {
            let j = &json[n];
            for k in j.keys() {
                assert!(
                    schema.field_with_name(k).is_ok(),
                    "JSON key {k} has no column"
                );
            }
            for (f, c) in schema.fields().iter().zip(b.columns()) {
                if let Err(e) = same(c.as_ref(), i, f.name(), j.get(f.name())) {
                    panic!("record {n}: {e}\nJSON: {}", Value::Object(j.clone()));
                }
            }
            n += 1;
        }
    }
}

fn meta(kv: &[(String, String)], key: &str) -> Option<String> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

#[test]
fn calls_parquet_equals_json_through_spilled_runs() {
    // Few records per run: the records reach the writer through runs on disk and the merge.
    let common = ["calls", "--records-in-memory", "7", "-j", "2"];
    let json = json_lines(&run_to_file(
        &[&common[..], &["--format", "json"]].concat(),
        &temp("calls.json"),
    ));
    let (batches, kv, groups) = read_parquet(
        &[&common[..], &["--format", "parquet"]].concat(),
        "calls.parquet",
    );
    assert_eq!(meta(&kv, "schema_version").as_deref(), Some("1"));
    assert_eq!(meta(&kv, "rpcsift_table").as_deref(), Some("calls"));
    assert_eq!(groups, 1);
    assert_eq!(batches[0].num_columns(), 46);
    // The generated captures, the Impacket lab, the AD attack scenarios and the AD lab.
    assert_eq!(json.len(), 350, "calls in captures/");
    assert_same(&json, &batches);
    // Every transport the captures hold, and decoded arguments, made it through.
    let transports: std::collections::BTreeSet<_> = json
        .iter()
        .filter_map(|j| j["transport"].as_str())
        .collect();
    assert_eq!(
        transports.into_iter().collect::<Vec<_>>(),
        ["smb1", "smb2", "smb3", "tcp"]
    );
    assert!(json.iter().filter(|j| !j["args"].is_null()).count() >= 10);
}

#[test]
fn zeek_compat_parquet_has_zeeks_columns() {
    let json = json_lines(&run_to_file(
        &["calls", "--zeek-compat", "--format", "json"],
        &temp("zc.json"),
    ));
    let (batches, _, _) = read_parquet(
        &["calls", "--zeek-compat", "--format", "parquet"],
        "zc.parquet",
    );
    let names: Vec<String> = batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, rpcsift::output::ZEEK_FIELDS);
    assert_same(&json, &batches);
}

#[test]
fn detect_parquet_equals_json() {
    let json = json_lines(&run_to_file(
        &["detect", "--indicators", "all", "--format", "json"],
        &temp("hits.json"),
    ));
    let (batches, kv, _) = read_parquet(
        &["detect", "--indicators", "all", "--format", "parquet"],
        "hits.parquet",
    );
    assert_eq!(meta(&kv, "rpcsift_table").as_deref(), Some("hits"));
    assert_same(&json, &batches);
    assert!(json.iter().any(|j| j["would_match_in_zeek"] == false));
}

#[test]
fn parquet_needs_an_output_file() {
    for sub in ["calls", "detect"] {
        let o = rpcsift()
            .args([sub, "--format", "parquet"])
            .args(captures())
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{sub}");
        assert!(o.stdout.is_empty());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--format parquet needs -o FILE"),
            "{sub}: {err}"
        );
    }
}
