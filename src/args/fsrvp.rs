//! MS-FSRVP (ShadowCoerce), interface a8e0653c-2744-4389-a61d-7373df8b2292 on
//! `\pipe\FssagentRpc`: IsPathSupported (8) and IsPathShadowCopied (9), whose first
//! parameter is `[in, string] LPWSTR ShareName`, the share in UNC form (MS-FSRVP
//! 3.1.4.6/.7). The host in it is the listener.

use super::coerce::CoercionArgs;
use super::ndr::{Reader, Result};

pub const UUID: &str = "a8e0653c-2744-4389-a61d-7373df8b2292";
pub const IS_PATH_SUPPORTED: u16 = 8;
pub const IS_PATH_SHADOW_COPIED: u16 = 9;

/// Decode IsPathSupported / IsPathShadowCopied (None for other operations).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<CoercionArgs>> {
    matches!(opnum, IS_PATH_SUPPORTED | IS_PATH_SHADOW_COPIED).then(|| {
        Ok(CoercionArgs::new(
            "MS-FSRVP",
            "ShareName",
            Some(r.wstring()?),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    #[test]
    fn share_name_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            let mut s = Stub::of(le, ndr64);
            s.wstr("\\\\10.0.0.99\\NETLOGON");
            let b = s.done();
            for op in [8, 9] {
                let mut r = super::super::reader(&b, le, ndr64);
                let a = decode_request(op, &mut r)
                    .expect("decoder")
                    .expect("decoded");
                assert_eq!(a.listener.as_deref(), Some("10.0.0.99"));
                assert_eq!(a.protocol, "MS-FSRVP");
            }
        }
        assert!(decode_request(7, &mut Reader::new(&[], true)).is_none());
        assert!(
            decode_request(8, &mut Reader::new(&[1, 0, 0, 0], true))
                .expect("decoder")
                .is_err()
        );
    }
}
