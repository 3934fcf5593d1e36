//! Reader for Zeek's `dce_rpc.log`, in either of the forms Zeek writes:
//!
//! * **TSV** (the ASCII writer): `#separator` (its value may use `\xNN` escapes, as Zeek
//!   writes `\x09`), `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#fields`
//!   (columns may come in any order; extra columns are ignored), `#types`, `#open`, `#close`.
//!   Headers may appear again further down (concatenated logs). Values are unescaped the
//!   way Zeek escapes them (`\\` and `\xNN`). A field equal to the unset marker is unset; one
//!   equal to the empty marker is the empty string.
//! * **JSON lines** (`LogAscii::use_json=T`): one object per line with flattened keys
//!   (`"id.orig_h"`; a nested `"id": {...}` object is accepted too). `ts` may be epoch
//!   seconds (a number, or a string holding one) or an ISO 8601 string
//!   (`LogAscii::json_timestamps=JSON::TS_ISO8601`). Unset fields are absent.
//!
//! Either form may be gzip-compressed (recognised by its magic bytes, not its name).
//! btest baselines are accepted as well: their `### BTest` comment line is skipped and a
//! `ts` canonified to `XXXXXXXXXX.XXXXXX` is read as "time unknown" (`ts: None`), which
//! the matcher then ignores. Every error names the file and the line.

use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

/// One line of a Zeek `dce_rpc.log`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ZeekRecord {
    /// The log file this record came from (as given on the command line).
    pub file: String,
    /// 1-based line number in the (decompressed) file.
    pub line: usize,
    /// `None` when the log's timestamp was masked (btest canonification).
    pub ts: Option<f64>,
    pub uid: Option<String>,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub rtt: Option<f64>,
    pub named_pipe: Option<String>,
    pub endpoint: Option<String>,
    pub operation: Option<String>,
}

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
}

/// Read one log file (TSV or JSON lines, gzip or not).
pub fn read_log_file(path: &Path) -> Result<Vec<ZeekRecord>, LogError> {
    let label = path.display().to_string();
    let raw = std::fs::read(path).map_err(|e| LogError::Io {
        file: label.clone(),
        source: e,
    })?;
    read_log_bytes(&label, &raw)
}

/// Parse a log held in memory (`label` names it in errors).
pub fn read_log_bytes(label: &str, raw: &[u8]) -> Result<Vec<ZeekRecord>, LogError> {
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        MultiGzDecoder::new(raw)
            .read_to_end(&mut out)
            .map_err(|e| LogError::Io {
                file: label.to_string(),
                source: e,
            })?;
        String::from_utf8_lossy(&out).into_owned()
    } else {
        String::from_utf8_lossy(raw).into_owned()
    };
    parse_log_text(label, &text)
}

/// Parse a log's text, choosing TSV or JSON by its first non-blank character.
pub fn parse_log_text(label: &str, text: &str) -> Result<Vec<ZeekRecord>, LogError> {
    match text.trim_start().as_bytes().first() {
        None => Ok(Vec::new()),
        Some(b'{') => parse_json(label, text),
        Some(_) => parse_tsv(label, text),
    }
}

/// The dce_rpc.log columns in Zeek's order (used when a TSV log has no `#fields`).
const DEFAULT_FIELDS: [&str; 10] = crate::output::ZEEK_FIELDS;

struct TsvState {
    separator: String,
    set_separator: String,
    empty_field: String,
    unset_field: String,
    fields: Vec<String>,
}

impl Default for TsvState {
    fn default() -> Self {
        TsvState {
            separator: "\t".into(),
            set_separator: ",".into(),
            empty_field: "(empty)".into(),
            unset_field: "-".into(),
            fields: DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Decode Zeek's `\xNN` and `\\` escapes.
fn unescape(s: &str) -> String {
    String::from_utf8_lossy(&crate::output::escape::unescape_bytes(s)).into_owned()
}

fn perr(file: &str, line: usize, message: impl Into<String>) -> LogError {
    LogError::Parse {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

fn parse_tsv(label: &str, text: &str) -> Result<Vec<ZeekRecord>, LogError> {
    let mut st = TsvState::default();
    let mut out = Vec::new();
    for (i, raw_line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            tsv_header(label, lineno, rest, &mut st)?;
            continue;
        }
        let cols: Vec<&str> = line.split(st.separator.as_str()).collect();
        if cols.len() != st.fields.len() {
            return Err(perr(
                label,
                lineno,
                format!(
                    "{} columns, but #fields names {}",
                    cols.len(),
                    st.fields.len()
                ),
            ));
        }
        let get = |name: &str| -> Option<Option<String>> {
            let idx = st.fields.iter().position(|f| f == name)?;
            let v = cols.get(idx)?;
            Some(if *v == st.unset_field {
                None
            } else if *v == st.empty_field {
                Some(String::new())
            } else {
                Some(unescape(v))
            })
        };
        out.push(build_record(label, lineno, &get)?);
    }
    Ok(out)
}

fn tsv_header(label: &str, lineno: usize, rest: &str, st: &mut TsvState) -> Result<(), LogError> {
    if rest.starts_with('#') {
        // `##...` / `### BTest ...`: a comment, not a Zeek header.
        return Ok(());
    }
    if let Some(v) = rest.strip_prefix("separator") {
        // Written before the separator is known, so key and value are split by a space.
        let v = v
            .strip_prefix(' ')
            .or_else(|| v.strip_prefix('\t'))
            .unwrap_or(v);
        let sep = unescape(v);
        if sep.is_empty() {
            return Err(perr(label, lineno, "empty #separator"));
        }
        st.separator = sep;
        return Ok(());
    }
    let (key, value) = match rest.split_once(st.separator.as_str()) {
        Some((k, v)) => (k, v),
        // `#open XXXX-...` in btest baselines (a space instead of the separator), or a
        // header without a value: nothing we need.
        None => return Ok(()),
    };
    match key {
        "set_separator" => st.set_separator = unescape(value),
        "empty_field" => st.empty_field = unescape(value),
        "unset_field" => st.unset_field = unescape(value),
        "path" => {
            let p = unescape(value);
            if p != "dce_rpc" {
                return Err(perr(
                    label,
                    lineno,
                    format!("this is Zeek's {p}.log, not dce_rpc.log"),
                ));
            }
        }
        "fields" => {
            st.fields = value.split(st.separator.as_str()).map(unescape).collect();
            for need in ["ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"] {
                if !st.fields.iter().any(|f| f == need) {
                    return Err(perr(label, lineno, format!("#fields lacks {need}")));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A btest-canonified timestamp (`XXXXXXXXXX.XXXXXX`).
fn is_masked_ts(s: &str) -> bool {
    !s.is_empty() && s.contains('X') && s.chars().all(|c| c == 'X' || c == '.')
}

fn build_record(
    label: &str,
    lineno: usize,
    get: &dyn Fn(&str) -> Option<Option<String>>,
) -> Result<ZeekRecord, LogError> {
    let need = |name: &str| -> Result<String, LogError> {
        get(name)
            .flatten()
            .ok_or_else(|| perr(label, lineno, format!("{name} is missing or unset")))
    };
    let ts_s = need("ts")?;
    let ts = if is_masked_ts(&ts_s) {
        None
    } else {
        Some(parse_time(&ts_s).ok_or_else(|| perr(label, lineno, format!("bad ts {ts_s:?}")))?)
    };
    let addr = |name: &str| -> Result<IpAddr, LogError> {
        let s = need(name)?;
        s.parse()
            .map_err(|_| perr(label, lineno, format!("bad {name} {s:?}")))
    };
    let port = |name: &str| -> Result<u16, LogError> {
        let s = need(name)?;
        // Zeek's JSON writes ports as numbers; some pipelines add "/tcp".
        let n = s.strip_suffix("/tcp").unwrap_or(&s);
        n.parse()
            .map_err(|_| perr(label, lineno, format!("bad {name} {s:?}")))
    };
    let rtt = match get("rtt").flatten() {
        None => None,
        Some(s) => Some(
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| perr(label, lineno, format!("bad rtt {s:?}")))?,
        ),
    };
    Ok(ZeekRecord {
        file: label.to_string(),
        line: lineno,
        ts,
        uid: get("uid").flatten(),
        orig_h: addr("id.orig_h")?,
        orig_p: port("id.orig_p")?,
        resp_h: addr("id.resp_h")?,
        resp_p: port("id.resp_p")?,
        rtt,
        named_pipe: get("named_pipe").flatten(),
        endpoint: get("endpoint").flatten(),
        operation: get("operation").flatten(),
    })
}

fn parse_json(label: &str, text: &str) -> Result<Vec<ZeekRecord>, LogError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| perr(label, lineno, format!("not a JSON object: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| perr(label, lineno, "not a JSON object"))?;
        let lookup = |name: &str| -> Option<&serde_json::Value> {
            if let Some(v) = obj.get(name) {
                return Some(v);
            }
            let (head, tail) = name.split_once('.')?;
            obj.get(head)?.as_object()?.get(tail)
        };
        let get = |name: &str| -> Option<Option<String>> {
            match lookup(name) {
                None | Some(serde_json::Value::Null) => Some(None),
                Some(serde_json::Value::String(s)) => Some(Some(s.clone())),
                Some(serde_json::Value::Number(n)) => Some(Some(n.to_string())),
                Some(serde_json::Value::Bool(b)) => Some(Some(b.to_string())),
                Some(other) => Some(Some(other.to_string())),
            }
        };
        out.push(build_record(label, lineno, &get)?);
    }
    Ok(out)
}

/// Epoch seconds (`1600448915.740150`) or ISO 8601 (`2020-09-18T17:08:35.740150Z`,
/// optionally with a `+hh:mm` offset).
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    parse_iso8601(s)
}

fn parse_iso8601(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T') | Some(b't') | Some(b' ')) {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(|c| c.is_ascii_digit()) {
            end += 1;
        }
        if end == start {
            return None;
        }
        frac = format!("0.{}", s.get(start..end)?).parse().ok()?;
        i = end;
    }
    let offset = match s.get(i..)? {
        "" | "Z" | "z" => 0,
        tz => {
            let sign = match tz.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let rest = tz.get(1..)?.replace(':', "");
            if rest.len() != 4 || !rest.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = rest.get(0..2)?.parse().ok()?;
            let om: i64 = rest.get(2..4)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
    Some(secs as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// A Zeek log line as a Sigma event (Zeek's `dce_rpc.log` fields), so the rules rpcsift
/// ships can be run on Zeek's own logs.
impl crate::detect::sigma::Event for ZeekRecord {
    fn get(&self, field: &str) -> crate::detect::sigma::Value<'_> {
        use crate::detect::sigma::Value as V;
        fn s(o: &Option<String>) -> crate::detect::sigma::Value<'_> {
            o.as_deref().map_or(
                crate::detect::sigma::Value::Null,
                crate::detect::sigma::Value::Str,
            )
        }
        match field {
            "ts" => self.ts.map_or(V::Null, V::Float),
            "uid" => s(&self.uid),
            "id.orig_h" => V::Addr(self.orig_h),
            "id.orig_p" => V::Int(self.orig_p.into()),
            "id.resp_h" => V::Addr(self.resp_h),
            "id.resp_p" => V::Int(self.resp_p.into()),
            "rtt" => self.rtt.map_or(V::Null, V::Float),
            "named_pipe" => s(&self.named_pipe),
            "endpoint" => s(&self.endpoint),
            "operation" => s(&self.operation),
            _ => V::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdce_rpc\n#open\t2020-01-01-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\trtt\tnamed_pipe\tendpoint\toperation\n#types\ttime\tstring\taddr\tport\taddr\tport\tinterval\tstring\tstring\tstring\n";

    #[test]
    fn tsv_standard() {
        let text = format!(
            "{HEADER}1347446180.330312\tCHhAvVGS1DHFjwGM9\t192.168.122.145\t55614\t192.168.122.3\t1024\t0.005544\t\\\\PIPE\\\\drsuapi\tdrsuapi\tDRSBind\n#close\t2020-01-01-00-00-00\n"
        );
        let r = parse_log_text("x.log", &text).unwrap();
        assert_eq!(r.len(), 1);
        let z = &r[0];
        assert_eq!(z.ts, Some(1347446180.330312));
        assert_eq!(z.line, 9);
        assert_eq!(z.uid.as_deref(), Some("CHhAvVGS1DHFjwGM9"));
        assert_eq!(z.orig_h, "192.168.122.145".parse::<IpAddr>().unwrap());
        assert_eq!((z.orig_p, z.resp_p), (55614, 1024));
        assert_eq!(z.rtt, Some(0.005544));
        assert_eq!(z.named_pipe.as_deref(), Some("\\PIPE\\drsuapi"));
        assert_eq!(z.endpoint.as_deref(), Some("drsuapi"));
        assert_eq!(z.operation.as_deref(), Some("DRSBind"));
    }

    #[test]
    fn tsv_other_separators_markers_and_column_order() {
        let text = "#separator \\x7c\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n#path|dce_rpc\n#fields|operation|endpoint|named_pipe|rtt|id.resp_p|id.resp_h|id.orig_p|id.orig_h|ts\n\
                    unknown-3|IRemUnknown2|EMPTY|NONE|135|10.0.0.2|50000|10.0.0.1|1.500000\n\
                    a\\x7cb|x|\\x2d|0.25|135|::1|1|fe80::1|2.0\n";
        let r = parse_log_text("y.log", text).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].operation.as_deref(), Some("unknown-3"));
        assert_eq!(r[0].named_pipe.as_deref(), Some(""));
        assert_eq!(r[0].rtt, None);
        assert_eq!(r[0].uid, None);
        assert_eq!(r[0].ts, Some(1.5));
        // `\x7c` inside a value is the separator character, escaped.
        assert_eq!(r[1].operation.as_deref(), Some("a|b"));
        // An escaped "-" is the string "-", not unset.
        assert_eq!(r[1].named_pipe.as_deref(), Some("-"));
        assert_eq!(r[1].orig_h, "fe80::1".parse::<IpAddr>().unwrap());
        assert_eq!(r[1].line, 8);
    }

    #[test]
    fn btest_baseline_masked_ts() {
        let text = format!(
            "### BTest baseline data generated by btest-diff. Do not edit.\n{}#open XXXX-XX-XX-XX-XX-XX\nXXXXXXXXXX.XXXXXX\tC1\t10.0.0.1\t1\t10.0.0.2\t135\t0.000375\t135\tepmapper\tept_map\n#close XXXX-XX-XX-XX-XX-XX\n",
            HEADER.replace("#open\t2020-01-01-00-00-00\n", "")
        );
        let r = parse_log_text("b.log", &text).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].ts, None);
        assert_eq!(r[0].operation.as_deref(), Some("ept_map"));
    }

    #[test]
    fn tsv_errors_name_file_and_line() {
        let text = format!("{HEADER}1.0\tC\t10.0.0.1\t1\t10.0.0.2\n");
        let e = parse_log_text("bad.log", &text).unwrap_err().to_string();
        assert_eq!(e, "bad.log:9: 5 columns, but #fields names 10");
        let text = format!("{HEADER}1.0\tC\tnot-an-ip\t1\t10.0.0.2\t2\t-\t-\ta\tb\n");
        let e = parse_log_text("bad.log", &text).unwrap_err().to_string();
        assert_eq!(e, "bad.log:9: bad id.orig_h \"not-an-ip\"");
        let text = format!("{HEADER}abc\tC\t10.0.0.1\t1\t10.0.0.2\t2\t-\t-\ta\tb\n");
        let e = parse_log_text("bad.log", &text).unwrap_err().to_string();
        assert_eq!(e, "bad.log:9: bad ts \"abc\"");
        let e = parse_log_text("c.log", "#separator \\x09\n#path\tconn\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "c.log:2: this is Zeek's conn.log, not dce_rpc.log");
    }

    #[test]
    fn json_lines() {
        let text = r#"{"ts":1347446180.330312,"uid":"C1","id.orig_h":"192.168.122.145","id.orig_p":55614,"id.resp_h":"192.168.122.3","id.resp_p":1024,"rtt":0.005543947219848633,"named_pipe":"\\PIPE\\drsuapi","endpoint":"drsuapi","operation":"DRSBind"}
{"ts":"2012-09-12T10:36:20.336310Z","uid":"C1","id":{"orig_h":"192.168.122.145","orig_p":55614,"resp_h":"192.168.122.3","resp_p":1024},"endpoint":"drsuapi","operation":"DRSCrackNames"}
"#;
        let r = parse_log_text("j.log", text).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].rtt, Some(0.005543947219848633));
        assert_eq!(r[0].named_pipe.as_deref(), Some("\\PIPE\\drsuapi"));
        assert_eq!(r[1].ts, Some(1347446180.33631));
        assert_eq!(r[1].rtt, None);
        assert_eq!(r[1].named_pipe, None);
        assert_eq!(r[1].resp_p, 1024);
        assert_eq!(r[1].line, 2);
        let e = parse_log_text("j.log", "{\"ts\":1}\n{oops\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("j.log:1: id.orig_h is missing"), "{e}");
    }

    #[test]
    fn gzip_by_magic() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let text = format!(
            "{HEADER}5.000001\tC\t10.0.0.1\t1\t10.0.0.2\t445\t-\t-\tsvcctl\tCreateServiceW\n"
        );
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let r = read_log_bytes("z.log.gz", &gz).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].ts, Some(5.000001));
        assert_eq!(r[0].operation.as_deref(), Some("CreateServiceW"));
        assert!(read_log_bytes("empty.log", b"").unwrap().is_empty());
        assert!(read_log_bytes("bad.gz", &gz[..10]).is_err());
    }

    #[test]
    fn iso8601() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_time("2020-09-18T17:08:35.5Z"), Some(1600448915.5));
        assert_eq!(parse_time("2020-09-18T19:08:35+02:00"), Some(1600448915.0));
        assert_eq!(parse_time("2000-02-29T00:00:00"), Some(951782400.0));
        assert_eq!(parse_time("2020-13-01T00:00:00Z"), None);
        assert_eq!(parse_time("2020-01-01T00:00:00.Z"), None);
        assert_eq!(parse_time("nonsense"), None);
        assert_eq!(parse_time("1600448915.740150"), Some(1600448915.74015));
    }
}
