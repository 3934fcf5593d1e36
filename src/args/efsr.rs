//! MS-EFSR (PetitPotam): the path parameter of the EFSRPC calls that open a file, on both
//! interfaces: `efsrpc` df1941c5-fe89-4e79-bf10-463657acf44d (`\pipe\efsrpc`) and
//! c681d488-d850-11d0-8c52-00c04fd90f7e (the same methods reached over `\pipe\lsarpc`,
//! and by tools over `\lsass`, `\samr`, `\netlogon`).
//!
//! Request parameters, in wire order (MS-EFSR 3.1.4.2; the binding handle is implicit):
//! * EfsRpcOpenFileRaw (0): `[in, string] wchar_t* FileName` (a top-level [ref] string:
//!   inline), `long Flags`.
//! * EfsRpcEncryptFileSrv (4), QueryUsersOnFile (6), QueryRecoveryAgents (7),
//!   RemoveUsersFromFile (8), AddUsersToFile (9), FileKeyInfo (12),
//!   GetEncryptedFileMetadata (18), SetEncryptedFileMetadata (19), EncryptFileExSrv (21):
//!   `FileName` first; what follows is not needed.
//! * EfsRpcDecryptFileSrv (5): `FileName`, `unsigned long OpenFlag`.
//! * EfsRpcDuplicateEncryptionInfoFile (13): `SrcFileName`, `DestFileName`, ...
//! * EfsRpcAddUsersToFileEx (15) and EfsRpcFileKeyInfoEx (16): `DWORD` flags,
//!   `[unique] EFS_RPC_BLOB* Reserved` (`cbData`, `[size_is(cbData)] bData`), then
//!   `FileName`.

use super::coerce::CoercionArgs;
use super::ndr::{Reader, Result};

pub const UUID: &str = "df1941c5-fe89-4e79-bf10-463657acf44d";
/// The EFSRPC methods on the lsarpc pipe's interface.
pub const UUID_LSA: &str = "c681d488-d850-11d0-8c52-00c04fd90f7e";

/// Opnums whose request has a decoder.
pub const OPNUMS: [u16; 14] = [0, 4, 5, 6, 7, 8, 9, 12, 13, 15, 16, 18, 19, 21];

/// Decode one EFSRPC request (None for operations without a path).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<CoercionArgs>> {
    OPNUMS.contains(&opnum).then(|| request(opnum, r))
}

fn request(opnum: u16, r: &mut Reader<'_>) -> Result<CoercionArgs> {
    let mut flags = None;
    if matches!(opnum, 15 | 16) {
        flags = Some(r.u32()?);
        if r.pointer()? != 0 {
            let _cb = r.u32()?;
            if r.pointer()? != 0 {
                r.conformant_bytes()?;
            }
        }
    }
    let path = r.wstring()?;
    let mut a = CoercionArgs::new("MS-EFSR", "FileName", Some(path));
    match opnum {
        0 | 5 => a.flags = Some(r.u32()?),
        13 => a.second_path = Some(r.wstring()?),
        _ => {}
    }
    if flags.is_some() {
        a.flags = flags;
    }
    Ok(a)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    pub fn open_file_raw_stub(mut s: Stub, path: &str) -> Vec<u8> {
        s.wstr(path).u32(0);
        s.done()
    }

    fn decode(op: u16, b: &[u8], le: bool, ndr64: bool) -> Result<CoercionArgs> {
        let mut r = super::super::reader(b, le, ndr64);
        decode_request(op, &mut r).expect("decoder")
    }

    #[test]
    fn open_file_raw_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            let s = Stub::of(le, ndr64);
            let b = open_file_raw_stub(s, "\\\\10.0.0.99\\test\\Settings.ini");
            let a = decode(0, &b, le, ndr64).expect("decoded");
            assert_eq!(a.protocol, "MS-EFSR");
            assert_eq!(a.parameter, "FileName");
            assert_eq!(a.path.as_deref(), Some("\\\\10.0.0.99\\test\\Settings.ini"));
            assert_eq!(a.listener.as_deref(), Some("10.0.0.99"));
            assert_eq!(a.flags, Some(0));
        }
    }

    #[test]
    fn every_path_opnum() {
        for le in [true, false] {
            for op in OPNUMS {
                let mut s = Stub::new(le);
                if matches!(op, 15 | 16) {
                    s.u32(1).ptr().u32(3).ptr().u32(3).raw(b"abc");
                }
                s.wstr("\\\\relay@80\\x\\y");
                match op {
                    0 | 5 => {
                        s.u32(7);
                    }
                    13 => {
                        s.wstr("\\\\relay2\\z");
                    }
                    _ => {}
                }
                let a = decode(op, &s.done(), le, false).expect("decoded");
                assert_eq!(a.listener.as_deref(), Some("relay"), "{op}");
                assert_eq!(a.listener_port, Some(80), "{op}");
                if op == 13 {
                    assert_eq!(a.second_path.as_deref(), Some("\\\\relay2\\z"));
                }
                if matches!(op, 15 | 16) {
                    assert_eq!(a.flags, Some(1));
                }
            }
        }
        // Close (3) has no path.
        assert!(decode_request(3, &mut Reader::new(&[], true)).is_none());
    }

    #[test]
    fn truncations_fail() {
        let b = open_file_raw_stub(Stub::new(true), "\\\\h\\s");
        for n in 0..b.len() {
            assert!(decode(0, &b[..n], true, false).is_err(), "cut at {n}");
        }
    }
}
