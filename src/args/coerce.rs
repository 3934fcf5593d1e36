//! Authentication coercion: calls that make the server open a path on a host the caller
//! chooses, and so authenticate to it (PetitPotam, PrinterBug, DFSCoerce, ShadowCoerce,
//! CheeseOunce). [`CoercionArgs`] is what every coercion decoder returns: the parameter
//! that carries the path and the host in it (the listener the victim was told to contact).
//!
//! [`unc`] reads the host out of the path forms these calls use: `\\host\share\...`,
//! `\\host@port\...` and `\\host@SSL@port\...` (WebDAV), `\\?\UNC\host\...` and
//! `\??\UNC\host\...` (NT paths), forward slashes, and a bare `\\host` (MS-RPRN's
//! `pszLocalMachine`). A path without a host (a local path) has no listener.

use serde::Serialize;

/// The arguments of one coercion call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CoercionArgs {
    /// `MS-EFSR`, `MS-RPRN`, `MS-DFSNM`, `MS-FSRVP` or `MS-EVEN`.
    pub protocol: &'static str,
    /// The parameter that carries the path (`FileName`, `pszLocalMachine`, `ServerName`,
    /// `ShareName`, `BackupFileName`).
    pub parameter: &'static str,
    /// Its value as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The host the server is told to contact (the listener), from the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener: Option<String>,
    /// A port in the path (`\\host@80\...`: WebDAV over HTTP, so NTLM can be relayed to
    /// LDAP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_port: Option<u16>,
    /// The path asks for WebDAV over TLS (`@SSL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_ssl: Option<bool>,
    /// A second path or name the call carries (EFS DuplicateEncryptionInfoFile's
    /// destination, the DFS root share).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_path: Option<String>,
    /// MS-RPRN: the printer the notification is registered on (from the RpcOpenPrinter
    /// call that returned the handle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    /// The call's return code (0: success), when the response was captured in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
    /// MS-RPRN: the printer handle the notification is registered on (linking only).
    #[serde(skip)]
    pub handle: Option<[u8; 20]>,
}

impl CoercionArgs {
    /// Arguments for `path` sent in `parameter`, with the listener read from it.
    pub fn new(protocol: &'static str, parameter: &'static str, path: Option<String>) -> Self {
        let u = path.as_deref().and_then(unc);
        CoercionArgs {
            protocol,
            parameter,
            listener: u.as_ref().map(|u| u.host.clone()),
            listener_port: u.as_ref().and_then(|u| u.port),
            listener_ssl: u.as_ref().and_then(|u| u.ssl.then_some(true)),
            path,
            ..Default::default()
        }
    }
}

/// The host part of a UNC path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unc {
    pub host: String,
    pub port: Option<u16>,
    pub ssl: bool,
}

/// Longest host name kept (DNS names are at most 253 characters).
const MAX_HOST: usize = 255;

/// The host a UNC-style path points at, None for a local or empty path.
pub fn unc(path: &str) -> Option<Unc> {
    let p = path.trim().replace('/', "\\");
    let lower = p.to_ascii_lowercase();
    let rest = ["\\\\?\\unc\\", "\\??\\unc\\", "\\\\.\\unc\\"]
        .iter()
        .find(|pre| lower.starts_with(**pre))
        .map(|pre| &p[pre.len()..])
        .or_else(|| {
            // `\\?\C:\...` and `\??\C:\...` are local.
            if lower.starts_with("\\\\?\\") || lower.starts_with("\\??\\") {
                None
            } else {
                p.strip_prefix("\\\\")
            }
        })?;
    let host_part = rest.split('\\').next().unwrap_or_default();
    let mut parts = host_part.split('@');
    let host = parts.next().unwrap_or_default().trim();
    if host.is_empty() || host.len() > MAX_HOST {
        return None;
    }
    let mut u = Unc {
        host: host.to_string(),
        port: None,
        ssl: false,
    };
    for x in parts {
        if x.eq_ignore_ascii_case("ssl") {
            u.ssl = true;
        } else if let Ok(port) = x.parse() {
            u.port = Some(port);
        }
    }
    Some(u)
}

/// Names of the return codes these calls give (Win32 errors and NTSTATUS values).
pub fn status_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0 => "success",
        0x0000_0002 => "ERROR_FILE_NOT_FOUND",
        0x0000_0005 => "ERROR_ACCESS_DENIED",
        0x0000_0035 => "ERROR_BAD_NETPATH",
        0x0000_0043 => "ERROR_BAD_NET_NAME",
        0x0000_0057 => "ERROR_INVALID_PARAMETER",
        0x0000_0032 => "ERROR_NOT_SUPPORTED",
        0x0000_06ba => "RPC_S_SERVER_UNAVAILABLE",
        0x0000_0709 => "ERROR_INVALID_PRINTER_NAME",
        0x0000_0bc8 => "ERROR_PRINTER_DRIVER_BLOCKED",
        0x8007_0005 => "E_ACCESSDENIED",
        0xc000_0022 => "STATUS_ACCESS_DENIED",
        0xc000_000d => "STATUS_INVALID_PARAMETER",
        0xc000_0034 => "STATUS_OBJECT_NAME_NOT_FOUND",
        0xc000_006d => "STATUS_LOGON_FAILURE",
        0xc000_0064 => "STATUS_NO_SUCH_USER",
        0xc000_0063 => "STATUS_USER_EXISTS",
        0xc000_00bb => "STATUS_NOT_SUPPORTED",
        0xc000_0225 => "STATUS_NOT_FOUND",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(p: &str) -> Option<(String, Option<u16>, bool)> {
        unc(p).map(|u| (u.host, u.port, u.ssl))
    }

    #[test]
    fn unc_forms() {
        let h = |s: &str| Some((s.to_string(), None, false));
        assert_eq!(
            host("\\\\192.168.0.15\\test\\Settings.ini"),
            h("192.168.0.15")
        );
        assert_eq!(host("\\\\attacker"), h("attacker"));
        assert_eq!(host("\\\\attacker\\"), h("attacker"));
        assert_eq!(host("\\??\\UNC\\10.0.0.9\\share\\x.evtx"), h("10.0.0.9"));
        assert_eq!(host("\\\\?\\UNC\\evil.lab\\s\\f"), h("evil.lab"));
        assert_eq!(host("//relay/share/f"), h("relay"));
        assert_eq!(host("  \\\\spaced\\s"), h("spaced"));
        assert_eq!(
            host("\\\\relay@80\\webdav\\x"),
            Some(("relay".into(), Some(80), false))
        );
        assert_eq!(
            host("\\\\relay@SSL@443\\DavWWWRoot\\x"),
            Some(("relay".into(), Some(443), true))
        );
        for local in [
            "C:\\Windows\\x",
            "\\\\?\\C:\\x",
            "\\??\\C:\\x",
            "",
            "\\\\",
            "\\\\\\x",
            "x",
        ] {
            assert_eq!(unc(local), None, "{local:?}");
        }
        assert_eq!(unc(&format!("\\\\{}", "a".repeat(300))), None);
    }

    #[test]
    fn new_reads_the_listener() {
        let a = CoercionArgs::new(
            "MS-EFSR",
            "FileName",
            Some("\\\\10.0.0.99@8080\\x\\y".into()),
        );
        assert_eq!(a.listener.as_deref(), Some("10.0.0.99"));
        assert_eq!(a.listener_port, Some(8080));
        assert_eq!(a.listener_ssl, None);
        let b = CoercionArgs::new("MS-EFSR", "FileName", Some("C:\\x".into()));
        assert_eq!(b.listener, None);
        assert_eq!(status_name(0x35), Some("ERROR_BAD_NETPATH"));
        assert_eq!(status_name(0x1234_5678), None);
    }
}
