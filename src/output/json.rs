//! A JSON line writer for records that appends straight into one reused buffer.
//!
//! It writes exactly what `serde_json` writes for the same values (the unit and property
//! tests compare the two) but without a serializer per field, a temporary `String` per
//! escaped value or an intermediate object: on RPC-dense traffic the output is larger than
//! the capture, so this is one of the hot loops.

use super::{Extra, SmolStr, escape};
use std::io;

/// What a byte becomes inside a JSON string: 0 = itself, b'u' = `\u00XX`, else `\<byte>`.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A JSON string literal (quotes included), escaped as `serde_json` does.
pub fn str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let e = ESCAPE[c as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        if e == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 0xf) as usize]);
        } else {
            out.push(b'\\');
            out.push(e);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// A JSON string of Zeek's HEX-escaped value ([`escape::zeek_hex`]) without building it.
pub fn zeek_hex_str(out: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return str(out, s);
    }
    str(out, &escape::zeek_hex(s))
}

/// An unsigned integer in decimal.
pub fn uint(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A double as `serde_json` writes it (`null` when not finite). Times take the fast path
/// (decimal notation, where `ryu` and `serde_json` agree); the rest goes to `serde_json`.
pub fn f64(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() && (1e-5..1e15).contains(&x.abs()) {
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(b.format_finite(x).as_bytes());
    } else if serde_json::to_writer(&mut *out, &x).is_err() {
        out.extend_from_slice(b"null");
    }
}

fn bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

/// `,"key":` (keys are plain identifiers: nothing to escape).
fn key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

fn opt_str(out: &mut Vec<u8>, k: &str, v: Option<&str>) {
    key(out, k);
    match v {
        Some(s) => str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Only when present (`skip_serializing_if = "Option::is_none"`).
fn some_str(out: &mut Vec<u8>, k: &str, v: Option<&str>) {
    if let Some(s) = v {
        key(out, k);
        str(out, s);
    }
}

fn smol(v: &Option<SmolStr>) -> Option<&str> {
    v.as_deref()
}

/// The members of [`Extra`], each preceded by a comma, in the struct's order and with its
/// `serde` attributes: the same text `serde_json` gives between the braces.
pub fn extra_members(out: &mut Vec<u8>, e: &Extra) -> io::Result<()> {
    opt_str(out, "uuid", smol(&e.uuid));
    key(out, "opnum");
    uint(out, e.opnum.into());
    some_str(out, "operation_spec", e.operation_spec);
    opt_str(out, "if_version", smol(&e.if_version));
    key(out, "transport");
    str(out, e.transport);
    some_str(out, "smb_pipe", smol(&e.smb_pipe));
    some_str(out, "tree", smol(&e.tree));
    some_str(out, "smb_user", smol(&e.smb_user));
    some_str(out, "smb_domain", smol(&e.smb_domain));
    some_str(out, "smb_workstation", smol(&e.smb_workstation));
    opt_str(out, "sec_addr", smol(&e.sec_addr));
    opt_str(out, "auth_type", smol(&e.auth_type));
    opt_str(out, "auth_level", smol(&e.auth_level));
    key(out, "status");
    str(out, e.status);
    some_str(out, "fault_code", e.fault_code.as_deref());
    key(out, "call_id");
    uint(out, e.call_id.into());
    key(out, "ctx_id");
    uint(out, e.ctx_id.into());
    some_str(out, "object_uuid", e.object_uuid.as_deref());
    key(out, "encrypted");
    bool(out, e.encrypted);
    if let Some(d) = e.decrypted {
        key(out, "decrypted");
        bool(out, d);
    }
    some_str(out, "decrypted_with", e.decrypted_with);
    key(out, "big_endian");
    bool(out, e.big_endian);
    key(out, "request_fragments");
    uint(out, e.request_fragments.into());
    key(out, "request_stub_len");
    uint(out, e.request_stub_len);
    key(out, "response_stub_len");
    uint(out, e.response_stub_len);
    key(out, "partial");
    bool(out, e.partial);
    key(out, "ts_response");
    match e.ts_response {
        Some(x) => f64(out, x),
        None => out.extend_from_slice(b"null"),
    }
    key(out, "capture");
    str(out, &e.capture);
    opt_str(out, "user", smol(&e.user));
    opt_str(out, "domain", smol(&e.domain));
    opt_str(out, "workstation", smol(&e.workstation));
    opt_str(out, "auth", e.auth);
    some_str(out, "auth_source", e.auth_source);
    key(out, "args");
    match &e.args {
        // Rare (execution calls only): the nested shapes stay with serde.
        Some(a) => serde_json::to_writer(&mut *out, a).map_err(io::Error::other)?,
        None => out.extend_from_slice(b"null"),
    }
    key(out, "args_status");
    str(out, e.args_status);
    some_str(out, "what_ran", e.what_ran.as_deref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_str(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).expect("serialise")
    }

    #[test]
    fn strings_escape_like_serde() {
        for s in [
            "",
            "plain",
            "a\"b\\c",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "\\PIPE\\svcctl",
            "héllo ✓ \u{10ffff}",
        ] {
            let mut out = Vec::new();
            str(&mut out, s);
            assert_eq!(out, serde_str(s), "{s:?}");
        }
    }

    #[test]
    fn zeek_hex_strings() {
        let mut out = Vec::new();
        zeek_hex_str(&mut out, "a\u{1}b\u{7f}");
        assert_eq!(out, br#""a\\x01b\\x7f""#);
        out.clear();
        zeek_hex_str(&mut out, "svcctl");
        assert_eq!(out, br#""svcctl""#);
    }

    #[test]
    fn numbers() {
        for v in [0u64, 7, 10, 65535, u64::MAX] {
            let mut out = Vec::new();
            uint(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
        for x in [0.0, 1.0, 0.1, 1.7e9 + 0.123456, 1e-9, 1e300, -2.5, f64::NAN] {
            let mut out = Vec::new();
            f64(&mut out, x);
            assert_eq!(out, serde_json::to_vec(&x).expect("serialise"), "{x}");
        }
    }

    fn extra(seed: u64) -> Extra {
        let s = |v: &str| Some(SmolStr::from(v));
        let pick = |bit: u64| seed >> bit & 1 == 1;
        Extra {
            uuid: pick(0).then(|| "367abb81-9844-35f1-ad32-98f038001003".into()),
            opnum: (seed % 70) as u16,
            operation_spec: pick(1).then_some("CreateServiceWOW64W"),
            if_version: s("2.0"),
            transport: if pick(2) { "smb2" } else { "tcp" },
            smb_pipe: pick(3).then(|| "svcctl".into()),
            tree: pick(4).then(|| "\\\\10.0.0.1\\IPC$".into()),
            smb_user: pick(5).then(|| "Administrator".into()),
            smb_domain: pick(5).then(|| "CORP".into()),
            smb_workstation: pick(6).then(|| "WS\"1".into()),
            sec_addr: pick(7).then(|| "\\PIPE\\svcctl".into()),
            auth_type: pick(8).then(|| "NTLMSSP".into()),
            auth_level: pick(8).then(|| "PKT_PRIVACY".into()),
            status: "fault",
            fault_code: pick(9).then(|| "0x00000005".into()),
            call_id: seed as u32,
            ctx_id: (seed >> 3) as u16,
            object_uuid: pick(10).then(|| "00000000-0000-0000-0000-000000000001".into()),
            encrypted: pick(11),
            decrypted: pick(18).then_some(pick(19)),
            decrypted_with: (pick(18) && pick(19)).then_some("nt-hash"),
            big_endian: pick(12),
            request_fragments: 3,
            request_stub_len: seed,
            response_stub_len: seed / 3,
            partial: pick(13),
            ts_response: pick(14).then_some(1_700_000_000.0 + (seed % 1000) as f64 / 7.0),
            capture: "captures/a b\tc.pcap".into(),
            user: pick(15).then(|| "bob".into()),
            domain: pick(15).then(|| "D".into()),
            workstation: None,
            auth: pick(16).then_some("ntlm"),
            auth_source: pick(16).then_some("dcerpc"),
            args: None,
            args_status: "no_decoder",
            what_ran: pick(17).then(|| "service x: cmd.exe /c \"whoami\"\r\n".into()),
        }
    }

    proptest! {
        /// Every combination of present and absent fields renders as serde does.
        #[test]
        fn extra_matches_serde(seed in any::<u64>()) {
            let e = extra(seed);
            let mut ours = b"{".to_vec();
            extra_members(&mut ours, &e).expect("render");
            ours[1] = b'{';
            ours.remove(0);
            ours.push(b'}');
            let theirs = serde_json::to_vec(&e).expect("serialise");
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }

        #[test]
        fn any_string_escapes_like_serde(s in any::<String>()) {
            let mut out = Vec::new();
            str(&mut out, &s);
            prop_assert_eq!(out, serde_str(&s));
        }

        #[test]
        fn any_double_like_serde(x in any::<f64>()) {
            let mut out = Vec::new();
            f64(&mut out, x);
            prop_assert_eq!(out, serde_json::to_vec(&x).expect("serialise"));
        }
    }
}
