//! MS-DFSNM (DFSCoerce), interface 4fc742e0-4a10-11cf-8273-00aa004ae673 on `\pipe\netdfs`:
//! NetrDfsAddStdRoot (12) `[in, string] WCHAR* ServerName, [in, string] WCHAR* RootShare,
//! [in, string, unique] WCHAR* Comment, [in] DWORD ApiFlags` and NetrDfsRemoveStdRoot
//! (13) `ServerName, RootShare, ApiFlags` (MS-DFSNM 3.1.4.4.1/.2). `ServerName` is a host
//! name, not a UNC path: it is the listener itself.

use super::coerce::CoercionArgs;
use super::ndr::{Reader, Result};

pub const UUID: &str = "4fc742e0-4a10-11cf-8273-00aa004ae673";
pub const ADD_STD_ROOT: u16 = 12;
pub const REMOVE_STD_ROOT: u16 = 13;

/// Decode NetrDfsAddStdRoot / NetrDfsRemoveStdRoot (None for other operations).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<CoercionArgs>> {
    matches!(opnum, ADD_STD_ROOT | REMOVE_STD_ROOT).then(|| request(opnum, r))
}

fn request(opnum: u16, r: &mut Reader<'_>) -> Result<CoercionArgs> {
    let server = r.wstring()?;
    let share = r.wstring()?;
    if opnum == ADD_STD_ROOT {
        r.unique_string(true)?;
    }
    let flags = r.u32()?;
    let host = server.trim().trim_start_matches(['\\', '/']).to_string();
    let mut a = CoercionArgs::new("MS-DFSNM", "ServerName", Some(server));
    if a.listener.is_none() && !host.is_empty() {
        a.listener = super::coerce::unc(&format!("\\\\{host}")).map(|u| u.host);
    }
    a.second_path = Some(share);
    a.flags = Some(flags);
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    #[test]
    fn add_and_remove_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            let mut s = Stub::of(le, ndr64);
            s.wstr("10.0.0.99").wstr("test").ustr(true, None).u32(0);
            let b = s.done();
            let mut r = super::super::reader(&b, le, ndr64);
            let a = decode_request(12, &mut r)
                .expect("decoder")
                .expect("decoded");
            assert_eq!(a.listener.as_deref(), Some("10.0.0.99"));
            assert_eq!(a.second_path.as_deref(), Some("test"));
            assert_eq!(a.parameter, "ServerName");
            let mut s = Stub::of(le, ndr64);
            s.wstr("\\\\relay.lab").wstr("share").u32(0);
            let b = s.done();
            let mut r = super::super::reader(&b, le, ndr64);
            let a = decode_request(13, &mut r)
                .expect("decoder")
                .expect("decoded");
            assert_eq!(a.listener.as_deref(), Some("relay.lab"));
        }
        assert!(decode_request(14, &mut Reader::new(&[], true)).is_none());
        let mut s = Stub::new(true);
        s.wstr("h").wstr("s").ustr(true, Some("c")).u32(0);
        let b = s.done();
        for n in 0..b.len() {
            assert!(
                decode_request(12, &mut Reader::new(&b[..n], true))
                    .expect("decoder")
                    .is_err()
            );
        }
    }
}
