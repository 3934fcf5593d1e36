//! Zeek's string escaping for its ASCII (TSV) and JSON writers.

/// Escape a string value for Zeek's TSV: `\` doubled, tab and non-printable bytes as
/// `\xNN`, valid UTF-8 kept, `-`/`(empty)` values disguised, empty as `(empty)`.
pub fn zeek_tsv(s: &str) -> String {
    zeek_tsv_bytes(s.as_bytes())
}

/// [`zeek_tsv_bytes`] appended to `out`; text that needs no escaping (the usual case) is
/// copied as is.
pub fn zeek_tsv_into(out: &mut Vec<u8>, b: &[u8]) {
    let plain = !matches!(b, b"" | b"-" | b"(empty)")
        && b.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'\\');
    if plain {
        out.extend_from_slice(b);
    } else {
        out.extend_from_slice(zeek_tsv_bytes(b).as_bytes());
    }
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
    let mut out = Vec::with_capacity(24);
    zeek_json_double_into(&mut out, x);
    String::from_utf8(out).unwrap_or_default()
}

/// [`zeek_json_double`] appended to `out`. Timestamps and round-trip times take the fast
/// path: `ryu` prints the same shortest digits as `Display`, and in decimal notation
/// (with the `.0`) for the magnitudes where both do. (Where 17 digits are needed, several
/// 17-digit strings read back as the same double and the two may pick different ones;
/// both round-trip.)
pub fn zeek_json_double_into(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() && (1e-5..1e15).contains(&x.abs()) {
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(b.format_finite(x).as_bytes());
    } else {
        out.extend_from_slice(display_double(x).as_bytes());
    }
}

/// Significant digits of a decimal rendering.
#[cfg(test)]
fn significant_digits(s: &str) -> usize {
    let mantissa = s.split(['e', 'E']).next().unwrap_or(s);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').trim_end_matches('0').len()
}

fn display_double(x: f64) -> String {
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

/// Undo [`zeek_tsv_bytes`] for one field of a Zeek TSV log with the default
/// `#empty_field (empty)` and `#unset_field -`: `None` for the unset field, the raw bytes
/// otherwise. A `\` not followed by `\` or `xNN` is kept literally, as Zeek's reader does.
pub fn unescape_zeek_tsv(field: &str) -> Option<Vec<u8>> {
    match field {
        "-" => None,
        "(empty)" => Some(Vec::new()),
        _ => Some(unescape_bytes(field)),
    }
}

/// Decode Zeek's `\\` and `\xNN` escapes in a field's text (whatever the log's empty and
/// unset markers are: the caller checks those first).
pub fn unescape_bytes(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b.get(i + 1) == Some(&b'x') {
                let hex = b
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok());
                if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any byte string survives escaping, and the escaped form is what Zeek writes:
        /// no separator, newline or other control byte, every backslash an escape.
        #[test]
        fn tsv_escaping_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let esc = zeek_tsv_bytes(&bytes);
            prop_assert!(!esc.is_empty());
            prop_assert!(esc.chars().all(|c| (c as u32) >= 0x20 && c as u32 != 0x7f), "{:?}", esc);
            prop_assert_ne!(esc.as_str(), "-");
            let e = esc.as_bytes();
            let mut i = 0;
            while i < e.len() {
                if e[i] == b'\\' {
                    let next = e.get(i + 1).copied();
                    prop_assert!(next == Some(b'\\') || next == Some(b'x'), "{:?}", esc);
                    i += if next == Some(b'x') { 4 } else { 2 };
                } else {
                    i += 1;
                }
            }
            prop_assert_eq!(unescape_zeek_tsv(&esc), Some(bytes));
        }

        /// The fast path prints what the `Display` path prints, whatever the magnitude
        /// (timestamps, round-trip times, and random doubles), but for the last digit of
        /// an equally close pair of shortest renderings.
        #[test]
        fn json_double_fast_path_equals_display(
            x in prop_oneof![
                any::<f64>(),
                1.0e9f64..2.0e9,
                0.0f64..10.0,
                1e-6f64..1e-3,
                (0u64..2_000_000_000).prop_map(|s| s as f64),
                Just(-2438917672288.0313f64),
                Just(-658727668599966.3f64),
            ]
        ) {
            let mut fast = Vec::new();
            zeek_json_double_into(&mut fast, x);
            let fast = String::from_utf8(fast).expect("utf8");
            let shown = display_double(x);
            // Both are shortest round-trip renderings; when two shortest strings are
            // equally close to x (a tie, or 17 digits) the two algorithms may pick
            // different ones, which differ only in the last digit.
            prop_assert_eq!(fast.parse::<f64>().ok(), Some(x));
            prop_assert_eq!(significant_digits(&fast), significant_digits(&shown));
            prop_assert_eq!(shown.parse::<f64>().ok(), Some(x));
            if fast != shown {
                // Only a last-digit choice: the same length, the same leading digits.
                prop_assert_eq!(fast.len(), shown.len());
                let n = fast.len() - 1;
                prop_assert_eq!(&fast[..n.saturating_sub(2)], &shown[..n.saturating_sub(2)]);
            }
        }

        /// The appending form writes exactly what the `String` form returns.
        #[test]
        fn tsv_into_equals_tsv_bytes(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
            let mut out = b"x".to_vec();
            zeek_tsv_into(&mut out, &bytes);
            let want = zeek_tsv_bytes(&bytes);
            prop_assert_eq!(&out[1..], want.as_bytes());
        }

        /// Text that needs no escaping (printable, no backslash) is written as is.
        #[test]
        fn plain_text_is_unchanged(s in "[a-zA-Z0-9 .:_$/]{2,40}") {
            prop_assert_eq!(zeek_tsv(&s), s);
        }
    }

    #[test]
    fn unescape_edge_cases() {
        assert_eq!(unescape_zeek_tsv("-"), None);
        assert_eq!(unescape_zeek_tsv("(empty)"), Some(vec![]));
        assert_eq!(unescape_zeek_tsv("\\x2d"), Some(b"-".to_vec()));
        assert_eq!(unescape_zeek_tsv("\\\\PIPE"), Some(b"\\PIPE".to_vec()));
        assert_eq!(unescape_zeek_tsv("a\\xZZ\\"), Some(b"a\\xZZ\\".to_vec()));
    }

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
