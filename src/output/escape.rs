//! Zeek's string escaping for its ASCII (TSV) and JSON writers.

/// Escape a string value for Zeek's TSV: `\` doubled, tab and non-printable bytes as
/// `\xNN`, valid UTF-8 kept, `-`/`(empty)` values disguised, empty as `(empty)`.
pub fn zeek_tsv(s: &str) -> String {
    zeek_tsv_bytes(s.as_bytes())
}

/// Escape a raw byte string for Zeek's TSV (invalid UTF-8 bytes become `\xNN`).
pub fn zeek_tsv_bytes(b: &[u8]) -> String {
    match b {
        b"" => return "(empty)".into(),
        b"-" => return "\\x2d".into(),
        b"(empty)" => return "\\x28empty)".into(),
        _ => {}
    }
    let mut out = String::with_capacity(b.len() + 4);
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

/// Zeek's HEX escape policy before JSON encoding: non-printable bytes as literal `\xNN`.
pub fn zeek_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 0x20 || c as u32 == 0x7f {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Bytes to text keeping valid UTF-8 and writing every invalid byte as `\xNN`.
pub fn lossless(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

/// A double as rapidjson's Grisu2 writer prints it: shortest round-trip digits, decimal
/// notation for moderate exponents, a trailing `.0` for integral values.
pub fn zeek_json_double(x: f64) -> String {
    if !x.is_finite() {
        return "null".into();
    }
    if x == 0.0 {
        return "0.0".into();
    }
    let a = x.abs();
    if !(1e-7..1e21).contains(&a) {
        // rapidjson switches to exponent form outside [1e-7, 1e21).
        let s = format!("{x:e}");
        return s;
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_escapes() {
        assert_eq!(zeek_tsv("\\PIPE\\lsass"), "\\\\PIPE\\\\lsass");
        assert_eq!(zeek_tsv("a\tb"), "a\\x09b");
        assert_eq!(zeek_tsv("-"), "\\x2d");
        assert_eq!(zeek_tsv("(empty)"), "\\x28empty)");
        assert_eq!(zeek_tsv(""), "(empty)");
        assert_eq!(zeek_tsv("héllo"), "héllo");
        assert_eq!(zeek_tsv_bytes(b"a\xffb\x01"), "a\\xffb\\x01");
    }

    #[test]
    fn json_doubles() {
        assert_eq!(zeek_json_double(1347446180.330312), "1347446180.330312");
        assert_eq!(
            zeek_json_double(0.005543947219848633),
            "0.005543947219848633"
        );
        assert_eq!(zeek_json_double(2.0), "2.0");
    }
}
