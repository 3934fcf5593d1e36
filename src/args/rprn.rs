//! MS-RPRN `spoolss` (12345678-1234-abcd-ef00-0123456789ab) and MS-PAR
//! `IRemoteWinspool` (76f03f96-cdfd-44fc-a22c-64950a001209): the calls behind PrinterBug
//! (change notifications sent to a listener), PrintNightmare (driver installs) and
//! port-monitor / print-processor persistence.
//!
//! Request parameters, in wire order (MS-RPRN 3.1.4, MS-PAR 3.1.4):
//! * RpcOpenPrinter (1) / RpcOpenPrinterEx (69): `[in, string, unique] STRING_HANDLE
//!   pPrinterName` first (the rest is not needed). The response returns the printer handle.
//! * RpcRemoteFindFirstPrinterChangeNotification (62) and ...Ex (65): `PRINTER_HANDLE
//!   hPrinter, DWORD fdwFlags, DWORD fdwOptions, [in, string, unique] wchar_t*
//!   pszLocalMachine, ...`: the server will call back `pszLocalMachine` (the listener).
//! * RpcAddPrinterDriver (9) `pName, [in] DRIVER_CONTAINER*`; RpcAddPrinterDriverEx (89)
//!   and RpcAsyncAddPrinterDriver (MS-PAR 39, whose `pName` is [ref]) add `DWORD
//!   dwFileCopyFlags`. `DRIVER_CONTAINER { DWORD Level; [switch_is(Level)] union { ...
//!   RPC_DRIVER_INFO_N* } }`: the level, the union's discriminant, the arm's referent id;
//!   the structure and then its strings follow. Levels 2, 3 and 4 are read whole (so
//!   `dwFileCopyFlags` is reached); for 6 and 8 the paths are read and the flags are not.
//! * RpcAddPrintProcessor (14) / RpcAsyncAddPrintProcessor (MS-PAR 44): `pName [unique],
//!   pEnvironment, pPathName, pPrintProcessorName` (strings).
//! * RpcAddMonitor (46) / RpcAsyncAddMonitor (MS-PAR 51): `pName [unique],
//!   MONITOR_CONTAINER* { Level; union { MONITOR_INFO_1*, MONITOR_INFO_2* } }`,
//!   MONITOR_INFO_2 = `pName, pEnvironment, pDLLName`.
//! * RpcAsyncInstallPrinterDriverFromPackage (MS-PAR 62): `pszServer [unique],
//!   pszInfPath, pszDriverName [unique], pszEnvironment, dwFlags`;
//!   RpcAsyncUploadPrinterDriverPackage (63): `pszServer [unique], pszInfPath,
//!   pszEnvironment, dwFlags, ...`.

use super::coerce::CoercionArgs;
use super::ndr::{NdrError, Reader, Result};
use serde::Serialize;

pub const UUID: &str = "12345678-1234-abcd-ef00-0123456789ab";
pub const UUID_PAR: &str = "76f03f96-cdfd-44fc-a22c-64950a001209";

/// spoolss opnums with a decoder.
pub const SPOOLSS_OPNUMS: [u16; 8] = [1, 9, 14, 46, 62, 65, 69, 89];
/// IRemoteWinspool opnums with a decoder.
pub const PAR_OPNUMS: [u16; 5] = [39, 44, 51, 62, 63];

/// A driver install (RpcAddPrinterDriver(Ex), RpcAsyncAddPrinterDriver).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DriverArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// DRIVER_CONTAINER level.
    pub level: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependent_files: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_copy_flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_copy_flags_names: Option<Vec<&'static str>>,
    /// The call's return code (0: the driver was added), when the response was captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
}

impl DriverArgs {
    /// The driver's file paths, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        [
            &self.driver_path,
            &self.data_file,
            &self.config_file,
            &self.help_file,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .chain(self.dependent_files.iter().flatten().map(String::as_str))
    }
}

/// Other print-system calls: opening a printer, adding a print processor, a port monitor
/// or a driver package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrinterArgs {
    /// `open`, `add_print_processor`, `add_monitor`, `install_driver_package` or
    /// `upload_driver_package`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The printer or server name opened (`\\host`, `\\host\printer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer_name: Option<String>,
    /// Print processor, monitor or driver name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The DLL (print processor, monitor) or INF path (driver package).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    /// The printer handle RpcOpenPrinter(Ex) returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
}

/// What one request decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Notify(CoercionArgs, [u8; 20]),
    Driver(DriverArgs),
    Printer(PrinterArgs),
}

/// Decode one spoolss (`par == false`) or IRemoteWinspool request.
pub fn decode_request(par: bool, opnum: u16, r: &mut Reader<'_>) -> Option<Result<Request>> {
    let known = if par {
        PAR_OPNUMS.contains(&opnum)
    } else {
        SPOOLSS_OPNUMS.contains(&opnum)
    };
    known.then(|| request(par, opnum, r))
}

fn request(par: bool, opnum: u16, r: &mut Reader<'_>) -> Result<Request> {
    Ok(match (par, opnum) {
        (false, 1 | 69) => Request::Printer(PrinterArgs {
            action: "open",
            printer_name: r.unique_string(true)?,
            ..Default::default()
        }),
        (false, 62 | 65) => {
            let h = r.context_handle()?;
            let flags = r.u32()?;
            let _options = r.u32()?;
            let local = r.unique_string(true)?;
            let mut a = CoercionArgs::new("MS-RPRN", "pszLocalMachine", local);
            a.flags = Some(flags);
            Request::Notify(a, h)
        }
        (false, 9 | 89) | (true, 39) => {
            let server = if par {
                Some(r.wstring()?)
            } else {
                r.unique_string(true)?
            };
            let mut d = driver_container(r)?;
            d.server = server;
            if opnum != 9 && d.level <= 4 {
                let f = r.u32()?;
                d.file_copy_flags = Some(f);
                d.file_copy_flags_names = Some(copy_flag_names(f));
            }
            Request::Driver(d)
        }
        (false, 14) | (true, 44) => {
            let server = r.unique_string(true)?;
            let environment = Some(r.wstring()?);
            let path = Some(r.wstring()?);
            let name = Some(r.wstring()?);
            Request::Printer(PrinterArgs {
                action: "add_print_processor",
                server,
                environment,
                path,
                name,
                ..Default::default()
            })
        }
        (false, 46) | (true, 51) => {
            let server = r.unique_string(true)?;
            let level = r.switched(Reader::u32, "MONITOR_CONTAINER level")?;
            let mut a = PrinterArgs {
                action: "add_monitor",
                server,
                ..Default::default()
            };
            if r.pointer()? != 0 {
                match level {
                    1 => {
                        let p = r.pointer()?;
                        a.name = r.referent(p, Reader::wstring)?;
                    }
                    2 => {
                        let ids = [r.pointer()?, r.pointer()?, r.pointer()?];
                        let v = r.deferred(&ids, |r| r.wstring())?;
                        let [name, env, dll]: [Option<String>; 3] =
                            v.try_into().unwrap_or([None, None, None]);
                        a.name = name;
                        a.environment = env;
                        a.path = dll;
                    }
                    _ => return Err(NdrError::Bad(r.pos(), "MONITOR_CONTAINER level")),
                }
            }
            Request::Printer(a)
        }
        (true, 62) => {
            let server = r.unique_string(true)?;
            let path = Some(r.wstring()?);
            let name = r.unique_string(true)?;
            let environment = Some(r.wstring()?);
            let flags = Some(r.u32()?);
            Request::Printer(PrinterArgs {
                action: "install_driver_package",
                server,
                path,
                name,
                environment,
                flags,
                ..Default::default()
            })
        }
        (true, 63) => {
            let server = r.unique_string(true)?;
            let path = Some(r.wstring()?);
            let environment = Some(r.wstring()?);
            let flags = Some(r.u32()?);
            Request::Printer(PrinterArgs {
                action: "upload_driver_package",
                server,
                path,
                environment,
                flags,
                ..Default::default()
            })
        }
        _ => return Err(NdrError::Bad(r.pos(), "no decoder")),
    })
}

/// DRIVER_CONTAINER and the RPC_DRIVER_INFO_N it points to.
fn driver_container(r: &mut Reader<'_>) -> Result<DriverArgs> {
    let level = r.switched(Reader::u32, "DRIVER_CONTAINER level")?;
    let mut d = DriverArgs {
        level,
        ..Default::default()
    };
    if r.pointer()? == 0 {
        return Ok(d);
    }
    match level {
        2 | 3 | 4 | 6 | 8 => {}
        _ => return Err(NdrError::Bad(r.pos(), "DRIVER_CONTAINER level")),
    }
    d.version = Some(r.u32()?);
    // pName, pEnvironment, pDriverPath, pDataFile, pConfigFile (every level).
    let mut ids: Vec<u64> = (0..5).map(|_| r.pointer()).collect::<Result<_>>()?;
    let mut dep: Option<(u32, u64)> = None;
    if matches!(level, 3 | 4) {
        // pHelpFile, pMonitorName, pDefaultDataType, then cchDependentFiles and
        // pDependentFiles (a counted multi-string).
        for _ in 0..3 {
            ids.push(r.pointer()?);
        }
        let cch = r.u32()?;
        dep = Some((cch, r.pointer()?));
        if level == 4 {
            let _cch_prev = r.u32()?;
            ids.push(r.pointer()?);
        }
    }
    if matches!(level, 6 | 8) {
        // The remaining fields of levels 6 and 8 are not needed: only the first five
        // strings are read (their referents come first), and dwFileCopyFlags is not.
        let first: Vec<u64> = ids[..5].to_vec();
        let mut v = r.deferred(&first, |r| r.wstring())?.into_iter();
        fill_paths(&mut d, &mut v);
        return Ok(d);
    }
    let strings = r.deferred(&ids[..ids.len().min(8)], |r| r.wstring())?;
    let mut v = strings.into_iter();
    fill_paths(&mut d, &mut v);
    d.help_file = v.next().flatten();
    let _monitor = v.next();
    let _default_type = v.next();
    if let Some((cch, p)) = dep {
        if p != 0 {
            let n = r.sized_count(u64::from(cch), 2, "pDependentFiles size")?;
            let b = r.bytes(n * 2)?;
            d.dependent_files = Some(multi_sz(b, r.little_endian()));
        }
        if level == 4 && ids.len() > 8 && ids[8] != 0 {
            let n = r.count()?;
            let n = r.check_count(n, 2)?;
            r.bytes(n * 2)?;
        }
    }
    Ok(d)
}

fn fill_paths(d: &mut DriverArgs, v: &mut impl Iterator<Item = Option<String>>) {
    d.driver_name = v.next().flatten();
    d.environment = v.next().flatten();
    d.driver_path = v.next().flatten();
    d.data_file = v.next().flatten();
    d.config_file = v.next().flatten();
}

/// A REG_MULTI_SZ-style list (NUL-separated, double NUL at the end).
fn multi_sz(b: &[u8], le: bool) -> Vec<String> {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        })
        .collect();
    units
        .split(|u| *u == 0)
        .filter(|s| !s.is_empty())
        .take(super::ndr::MAX_ARRAY)
        .map(|s| {
            char::decode_utf16(s.iter().copied())
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        })
        .collect()
}

/// APD_* bits of dwFileCopyFlags (MS-RPRN 2.2.3.8? and 3.1.4.4.8).
pub fn copy_flag_names(f: u32) -> Vec<&'static str> {
    const BITS: [(u32, &str); 9] = [
        (0x0000_0001, "APD_STRICT_UPGRADE"),
        (0x0000_0002, "APD_STRICT_DOWNGRADE"),
        (0x0000_0004, "APD_COPY_ALL_FILES"),
        (0x0000_0008, "APD_COPY_NEW_FILES"),
        (0x0000_0010, "APD_COPY_FROM_DIRECTORY"),
        (0x0000_1000, "APD_DONT_COPY_FILES_TO_CLUSTER"),
        (0x0000_2000, "APD_COPY_TO_ALL_SPOOLERS"),
        (0x0000_8000, "APD_INSTALL_WARNED_DRIVER"),
        (0x0001_0000, "APD_RETURN_BLOCKING_STATUS_CODE"),
    ];
    super::bit_names(f, &BITS)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    pub const PRN: [u8; 20] = [
        0, 0, 0, 0, 0x50, 0x52, 0x4e, 0x54, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];

    /// RpcAddPrinterDriverEx with a level-2 DRIVER_INFO, as the PrintNightmare PoC sends it.
    pub fn add_driver_ex_stub(mut s: Stub, config_file: &str, flags: u32) -> Vec<u8> {
        s.ustr(true, Some("\\\\10.0.0.5"))
            .u32(2)
            .u32(2)
            .ptr()
            .u32(3)
            .ptr()
            .ptr()
            .ptr()
            .ptr()
            .ptr()
            .wstr("1234")
            .wstr("Windows x64")
            .wstr("C:\\Windows\\System32\\DriverStore\\FileRepository\\ntprint.inf_amd64\\Amd64\\UNIDRV.DLL")
            .wstr(config_file)
            .wstr(config_file)
            .u32(flags);
        s.done()
    }

    pub fn notify_stub(mut s: Stub, local: &str) -> Vec<u8> {
        s.handle(&PRN)
            .u32(0x100)
            .u32(0)
            .ustr(true, Some(local))
            .u32(0)
            .null();
        s.done()
    }

    fn dec(par: bool, op: u16, b: &[u8], le: bool, ndr64: bool) -> Result<Request> {
        let mut r = super::super::reader(b, le, ndr64);
        decode_request(par, op, &mut r).expect("decoder")
    }

    #[test]
    fn add_printer_driver_ex_level2_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            let s = Stub::of(le, ndr64);
            let b = add_driver_ex_stub(s, "\\\\10.0.0.99\\share\\evil.dll", 0x8014);
            let Ok(Request::Driver(d)) = dec(false, 89, &b, le, ndr64) else {
                panic!("le {le} ndr64 {ndr64}")
            };
            assert_eq!(d.server.as_deref(), Some("\\\\10.0.0.5"));
            assert_eq!((d.level, d.version), (2, Some(3)));
            assert_eq!(d.driver_name.as_deref(), Some("1234"));
            assert_eq!(d.environment.as_deref(), Some("Windows x64"));
            assert_eq!(
                d.config_file.as_deref(),
                Some("\\\\10.0.0.99\\share\\evil.dll")
            );
            assert_eq!(d.file_copy_flags, Some(0x8014));
            assert_eq!(
                d.file_copy_flags_names,
                Some(vec![
                    "APD_COPY_ALL_FILES",
                    "APD_COPY_FROM_DIRECTORY",
                    "APD_INSTALL_WARNED_DRIVER"
                ])
            );
            assert_eq!(d.paths().count(), 3);
        }
    }

    #[test]
    fn async_add_printer_driver_has_a_ref_server_name() {
        let mut s = Stub::new(true);
        s.wstr("\\\\dc")
            .u32(2)
            .u32(2)
            .ptr()
            .u32(3)
            .ptr()
            .null()
            .ptr()
            .ptr()
            .ptr()
            .wstr("d")
            .wstr("C:\\Windows\\System32\\spool\\drivers\\x64\\3\\old\\1\\evil.dll")
            .wstr("a")
            .wstr("b")
            .u32(0x10);
        let Ok(Request::Driver(d)) = dec(true, 39, &s.done(), true, false) else {
            panic!()
        };
        assert_eq!(d.server.as_deref(), Some("\\\\dc"));
        assert_eq!(d.environment, None);
        assert_eq!(
            d.driver_path.as_deref(),
            Some("C:\\Windows\\System32\\spool\\drivers\\x64\\3\\old\\1\\evil.dll")
        );
        assert_eq!(d.file_copy_flags, Some(0x10));
    }

    #[test]
    fn level3_with_dependent_files() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.ustr(true, None).u32(3).u32(3).ptr().u32(3);
            for _ in 0..8 {
                s.ptr();
            }
            let dep: Vec<u16> = "a.dll\0b.dll\0\0".encode_utf16().collect();
            s.u32(dep.len() as u32).ptr();
            for t in ["n", "e", "\\\\x\\s\\d.dll", "df", "cf", "hf", "mon", "RAW"] {
                s.wstr(t);
            }
            s.u32(dep.len() as u32);
            for u in &dep {
                s.u16(*u);
            }
            s.u32(4);
            let Ok(Request::Driver(d)) = dec(false, 89, &s.done(), le, false) else {
                panic!()
            };
            assert_eq!(d.help_file.as_deref(), Some("hf"));
            assert_eq!(
                d.dependent_files,
                Some(vec!["a.dll".to_string(), "b.dll".to_string()])
            );
            assert_eq!(d.file_copy_flags, Some(4));
        }
    }

    #[test]
    fn notification_and_open_printer() {
        for (le, ndr64) in SYNTAXES {
            let s = Stub::of(le, ndr64);
            let b = notify_stub(s, "\\\\10.0.0.99");
            for op in [62, 65] {
                let Ok(Request::Notify(a, h)) = dec(false, op, &b, le, ndr64) else {
                    panic!()
                };
                assert_eq!(h, PRN);
                assert_eq!(a.listener.as_deref(), Some("10.0.0.99"));
                assert_eq!(a.flags, Some(0x100));
            }
            let mut s = Stub::of(le, ndr64);
            s.ustr(true, Some("\\\\10.0.0.5"))
                .null()
                .u32(0)
                .null()
                .u32(0x20);
            let Ok(Request::Printer(p)) = dec(false, 1, &s.done(), le, ndr64) else {
                panic!()
            };
            assert_eq!(p.printer_name.as_deref(), Some("\\\\10.0.0.5"));
        }
    }

    #[test]
    fn processor_monitor_and_packages() {
        let le = true;
        let mut s = Stub::new(le);
        s.ustr(true, None)
            .wstr("Windows x64")
            .wstr("evil.dll")
            .wstr("EvilProc");
        let Ok(Request::Printer(p)) = dec(false, 14, &s.done(), le, false) else {
            panic!()
        };
        assert_eq!(
            (p.action, p.path.as_deref(), p.name.as_deref()),
            ("add_print_processor", Some("evil.dll"), Some("EvilProc"))
        );
        let mut s = Stub::new(le);
        s.ustr(true, None)
            .u32(2)
            .u32(2)
            .ptr()
            .ptr()
            .ptr()
            .ptr()
            .wstr("Mon")
            .wstr("Windows x64")
            .wstr("mon.dll");
        let Ok(Request::Printer(p)) = dec(true, 51, &s.done(), le, false) else {
            panic!()
        };
        assert_eq!(
            (p.action, p.path.as_deref(), p.name.as_deref()),
            ("add_monitor", Some("mon.dll"), Some("Mon"))
        );
        let mut s = Stub::new(le);
        s.ustr(true, None)
            .wstr("\\\\10.0.0.99\\s\\x.inf")
            .ustr(true, Some("drv"))
            .wstr("Windows x64")
            .u32(0);
        let Ok(Request::Printer(p)) = dec(true, 62, &s.done(), le, false) else {
            panic!()
        };
        assert_eq!(p.path.as_deref(), Some("\\\\10.0.0.99\\s\\x.inf"));
        assert!(decode_request(false, 0, &mut Reader::new(&[], true)).is_none());
    }

    #[test]
    fn truncations_and_bad_levels_fail() {
        let b = add_driver_ex_stub(Stub::new(true), "x", 0);
        for n in 0..b.len() {
            assert!(dec(false, 89, &b[..n], true, false).is_err(), "cut at {n}");
        }
        // Level 2 but discriminant 3, and an unknown level.
        let mut s = Stub::new(true);
        s.ustr(true, None).u32(2).u32(3).ptr();
        assert!(dec(false, 89, &s.done(), true, false).is_err());
        let mut s = Stub::new(true);
        s.ustr(true, None).u32(7).u32(7).ptr().u32(3);
        assert!(dec(false, 89, &s.done(), true, false).is_err());
    }
}
