//! Output: one record per call in Zeek TSV (`zeek`), Zeek JSON lines (`zeek-json`),
//! rpcsift JSON (`json`: Zeek's fields plus ours) or Parquet (`parquet`: the same fields,
//! typed, through [`arrow`] and [`parquet`]).

pub mod arrow;
pub mod escape;
pub mod json;
pub mod parquet;
pub mod spill;

use serde::Serialize;
pub use smol_str::SmolStr;
use std::io::{self, Write};
use std::net::IpAddr;

/// The fields every format shares (Zeek's dce_rpc.log schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub ts: f64,
    pub uid: SmolStr,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub rtt: Option<f64>,
    pub named_pipe: Option<SmolStr>,
    pub endpoint: Option<SmolStr>,
    pub operation: Option<SmolStr>,
    /// rpcsift's own fields (absent in `--zeek-compat` mode). Boxed: records are sorted
    /// and moved, and these fields are most of their size.
    pub extra: Option<Box<Extra>>,
    /// Deterministic ordering key: (time, file index, connection, sequence).
    pub order: (f64, u64, u64, u64),
}

/// Fields only rpcsift has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extra {
    /// Interface UUID, lower-case, or null when the bind was not seen.
    pub uuid: Option<SmolStr>,
    pub opnum: u16,
    /// Microsoft-specification operation name where it differs from Zeek's, or Zeek has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_spec: Option<&'static str>,
    pub if_version: Option<SmolStr>,
    /// "tcp" for plain TCP; "smb1"/"smb2"/"smb3" for named pipes.
    pub transport: &'static str,
    /// SMB named pipe as opened (e.g. `svcctl`), for calls over SMB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb_pipe: Option<SmolStr>,
    /// SMB share path from the tree connect (e.g. `\\10.0.0.1\IPC$`), for calls over SMB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<SmolStr>,
    /// User, domain and workstation of the SMB session, when its session setup carried
    /// NTLMSSP in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb_user: Option<SmolStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb_domain: Option<SmolStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb_workstation: Option<SmolStr>,
    /// Secondary address from the bind_ack.
    pub sec_addr: Option<SmolStr>,
    pub auth_type: Option<SmolStr>,
    pub auth_level: Option<SmolStr>,
    /// "ok", "fault" or "no_response".
    pub status: &'static str,
    /// Fault status code, as `0x%08x`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<String>,
    pub call_id: u32,
    pub ctx_id: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_uuid: Option<String>,
    /// Stub sealed on the wire (DCE-RPC packet privacy), whether or not rpcsift then
    /// unsealed it (`decrypted`).
    pub encrypted: bool,
    /// Only in runs with keys (absent otherwise, so output without keys is unchanged):
    /// true when rpcsift removed this call's packet privacy or SMB3 encryption with one
    /// of the analyst's keys that verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted: Option<bool>,
    /// The kind of key that decrypted the call: `password`, `nt-hash`, `keytab` or
    /// `smb3-key` (the packet privacy's key when both layers were removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted_with: Option<&'static str>,
    pub big_endian: bool,
    pub request_fragments: u32,
    pub request_stub_len: u64,
    pub response_stub_len: u64,
    /// The request's first fragment was not captured.
    pub partial: bool,
    /// Time of the response (null when none).
    pub ts_response: Option<f64>,
    /// The capture file this call came from.
    pub capture: SmolStr,
    /// Who made the call: from the DCE-RPC association's NTLMSSP AUTHENTICATE, else from
    /// the SMB session's (`auth_source` says which). Kerberos gives `auth: "kerberos"` and
    /// a null user: the client principal is encrypted (see `crate::args::who`).
    pub user: Option<SmolStr>,
    pub domain: Option<SmolStr>,
    pub workstation: Option<SmolStr>,
    /// `ntlm`, `kerberos` or null (no authentication seen).
    pub auth: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_source: Option<&'static str>,
    /// Decoded arguments of execution calls (`crate::args`), null when not decoded.
    pub args: Option<crate::args::Args>,
    /// Why `args` is what it is: decoded, encrypted, truncated, no_bind, no_decoder,
    /// malformed.
    pub args_status: &'static str,
    /// One line saying what the call ran or set up to run (see `crate::args::what_ran`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_ran: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Zeek's dce_rpc.log TSV, header and all (zeek-cut works on it).
    Zeek,
    /// Zeek's JSON-lines log.
    ZeekJson,
    /// Zeek's fields plus rpcsift's (uuid, opnum, status, auth, ...), one object per line.
    Json,
    /// The `json` fields as a typed Parquet table (needs -o FILE; schema in the README).
    Parquet,
}

/// Zeek's `dce_rpc.log` columns, in its order.
pub const ZEEK_FIELDS: [&str; 10] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "rtt",
    "named_pipe",
    "endpoint",
    "operation",
];
const FIELDS: &str = "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\trtt\tnamed_pipe\tendpoint\toperation";
const TYPES: &str =
    "#types\ttime\tstring\taddr\tport\taddr\tport\tinterval\tstring\tstring\tstring";

/// Writes records in one format.
pub struct Writer<W: Write> {
    out: W,
    format: Format,
    /// `#open`/`#close` value (wall clock, `%Y-%m-%d-%H-%M-%S`).
    stamp: String,
    header_done: bool,
    /// One JSON line is built here, then written at once (reused: no allocation per record).
    line: Vec<u8>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, format: Format, stamp: String) -> Self {
        Writer {
            out,
            format,
            stamp,
            header_done: false,
            line: Vec::with_capacity(1024),
        }
    }

    pub fn write(&mut self, r: &Record) -> io::Result<()> {
        self.fill_line(r)?;
        self.header()?;
        self.out.write_all(&self.line)
    }

    /// Write one line rendered earlier by [`Writer::render`] (same format), header first.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.header()?;
        self.out.write_all(line)
    }

    /// One record as its output line (newline included), without writing it.
    pub fn render(&mut self, r: &Record) -> io::Result<&[u8]> {
        self.fill_line(r)?;
        Ok(&self.line)
    }

    /// `r` rendered into the reused line buffer.
    fn fill_line(&mut self, r: &Record) -> io::Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let done = self.render_into(r, &mut line);
        self.line = line;
        done
    }

    /// The TSV header, before the first line.
    fn header(&mut self) -> io::Result<()> {
        if self.format == Format::Zeek && !self.header_done {
            self.header_done = true;
            write!(
                self.out,
                "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdce_rpc\n#open\t{}\n{FIELDS}\n{TYPES}\n",
                self.stamp
            )?;
        }
        Ok(())
    }

    /// Append one record's output line (newline included) to `l`.
    pub fn render_into(&self, r: &Record, l: &mut Vec<u8>) -> io::Result<()> {
        match self.format {
            Format::Zeek => {
                write!(l, "{:.6}\t", r.ts)?;
                escape::zeek_tsv_into(l, r.uid.as_bytes());
                l.push(b'\t');
                tsv_addr(l, r.orig_h);
                l.push(b'\t');
                json::uint(l, r.orig_p.into());
                l.push(b'\t');
                tsv_addr(l, r.resp_h);
                l.push(b'\t');
                json::uint(l, r.resp_p.into());
                l.push(b'\t');
                match r.rtt {
                    Some(x) => write!(l, "{x:.6}")?,
                    None => l.push(b'-'),
                }
                for v in [&r.named_pipe, &r.endpoint, &r.operation] {
                    l.push(b'\t');
                    match v {
                        Some(v) => escape::zeek_tsv_into(l, v.as_bytes()),
                        None => l.push(b'-'),
                    }
                }
                l.push(b'\n');
                Ok(())
            }
            Format::ZeekJson | Format::Json => {
                let json = self.format == Format::Json;
                l.extend_from_slice(b"{\"ts\":");
                escape::zeek_json_double_into(l, r.ts);
                l.extend_from_slice(b",\"uid\":");
                json::str(l, &r.uid);
                l.extend_from_slice(b",\"id.orig_h\":");
                addr(l, r.orig_h);
                l.extend_from_slice(b",\"id.orig_p\":");
                json::uint(l, r.orig_p.into());
                l.extend_from_slice(b",\"id.resp_h\":");
                addr(l, r.resp_h);
                l.extend_from_slice(b",\"id.resp_p\":");
                json::uint(l, r.resp_p.into());
                match r.rtt {
                    Some(x) => {
                        l.extend_from_slice(b",\"rtt\":");
                        escape::zeek_json_double_into(l, x);
                    }
                    None if json => l.extend_from_slice(b",\"rtt\":null"),
                    None => {}
                }
                for (k, v) in [
                    (&b",\"named_pipe\":"[..], &r.named_pipe),
                    (&b",\"endpoint\":"[..], &r.endpoint),
                    (&b",\"operation\":"[..], &r.operation),
                ] {
                    match v {
                        Some(v) => {
                            l.extend_from_slice(k);
                            json::zeek_hex_str(l, v);
                        }
                        None if json => {
                            l.extend_from_slice(k);
                            l.extend_from_slice(b"null");
                        }
                        None => {}
                    }
                }
                if json && let Some(e) = &r.extra {
                    json::extra_members(l, e)?;
                }
                l.extend_from_slice(b"}\n");
                Ok(())
            }
            // Not text: the record's column values, for `output::spill` on the way to
            // `output::parquet` (which writes the file).
            Format::Parquet => {
                arrow::encode_row(arrow::CALL_COLUMNS, r, l).map_err(io::Error::other)
            }
        }
    }

    /// Finish the output (`#close` for TSV). Writes nothing when no record was written.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == Format::Zeek && self.header_done {
            writeln!(self.out, "#close\t{}", self.stamp)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// An address as Zeek's TSV writes it (IPv4 without the formatter, the common case).
fn tsv_addr(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                json::uint(out, o.into());
            }
        }
        IpAddr::V6(_) => {
            let _ = write!(out, "{a}");
        }
    }
}

/// An address as a JSON string (the TSV text in quotes: an address has nothing to escape).
fn addr(out: &mut Vec<u8>, a: IpAddr) {
    out.push(b'"');
    tsv_addr(out, a);
    out.push(b'"');
}

/// Wall-clock time as Zeek writes `#open`/`#close` (UTC).
pub fn zeek_stamp_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    zeek_stamp(secs)
}

/// `%Y-%m-%d-%H-%M-%S` in UTC for a Unix time.
pub fn zeek_stamp(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}-{:02}-{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Record {
        Record {
            ts: 1347446180.330312,
            uid: "CabC".into(),
            orig_h: "192.168.122.145".parse().expect("ip"),
            orig_p: 55614,
            resp_h: "192.168.122.3".parse().expect("ip"),
            resp_p: 1024,
            rtt: Some(0.005543947219848633),
            named_pipe: Some("\\PIPE\\drsuapi".into()),
            endpoint: Some("drsuapi".into()),
            operation: Some("DRSBind".into()),
            extra: None,
            order: (0.0, 0, 0, 0),
        }
    }

    #[test]
    fn zeek_tsv_row_and_header() {
        let mut w = Writer::new(Vec::new(), Format::Zeek, "2020-01-02-03-04-05".into());
        w.write(&rec()).expect("write");
        let out = String::from_utf8(w.finish().expect("finish")).expect("utf8");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "#separator \\x09");
        assert_eq!(lines[5], "#open\t2020-01-02-03-04-05");
        assert_eq!(lines[6], FIELDS);
        assert_eq!(FIELDS, format!("#fields\t{}", ZEEK_FIELDS.join("\t")));
        assert_eq!(
            lines[8],
            "1347446180.330312\tCabC\t192.168.122.145\t55614\t192.168.122.3\t1024\t0.005544\t\\\\PIPE\\\\drsuapi\tdrsuapi\tDRSBind"
        );
        assert_eq!(lines[9], "#close\t2020-01-02-03-04-05");
    }

    #[test]
    fn zeek_json_row() {
        let mut w = Writer::new(Vec::new(), Format::ZeekJson, String::new());
        w.write(&rec()).expect("write");
        let out = String::from_utf8(w.finish().expect("finish")).expect("utf8");
        assert_eq!(
            out.trim_end(),
            r#"{"ts":1347446180.330312,"uid":"CabC","id.orig_h":"192.168.122.145","id.orig_p":55614,"id.resp_h":"192.168.122.3","id.resp_p":1024,"rtt":0.005543947219848633,"named_pipe":"\\PIPE\\drsuapi","endpoint":"drsuapi","operation":"DRSBind"}"#
        );
    }

    #[test]
    fn ipv6_addresses_in_every_format() {
        let mut r = rec();
        r.orig_h = "fe80::1:2".parse().expect("ip");
        r.resp_h = "2001:db8::ff".parse().expect("ip");
        let mut tsv = Writer::new(Vec::new(), Format::Zeek, String::new());
        let line = String::from_utf8(tsv.render(&r).expect("render").to_vec()).expect("utf8");
        assert!(
            line.contains("\tfe80::1:2\t55614\t2001:db8::ff\t1024\t"),
            "{line}"
        );
        let mut js = Writer::new(Vec::new(), Format::ZeekJson, String::new());
        let line = String::from_utf8(js.render(&r).expect("render").to_vec()).expect("utf8");
        assert!(
            line.contains(
                r#""id.orig_h":"fe80::1:2","id.orig_p":55614,"id.resp_h":"2001:db8::ff""#
            ),
            "{line}"
        );
    }

    #[test]
    fn empty_output_writes_nothing() {
        let w = Writer::new(Vec::new(), Format::Zeek, "x".into());
        assert!(w.finish().expect("finish").is_empty());
    }

    #[test]
    fn stamp() {
        assert_eq!(zeek_stamp(0), "1970-01-01-00-00-00");
        assert_eq!(zeek_stamp(1347446180), "2012-09-12-10-36-20");
    }
}
