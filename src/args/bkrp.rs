//! MS-BKRP `BackupKey` (3dde7c30-165d-11d1-ab8f-00805f14db40): BackuprKey (0), `[in] GUID*
//! pguidActionAgent`, `[in, size_is(cbDataIn)] byte* pDataIn`, `cbDataIn`, `dwParam`
//! (MS-BKRP 3.1.4.1). The action GUID says what the client asks the DC to do with DPAPI
//! master keys; the data (a wrapped key) is never shown.

use super::ndr::{Reader, Result};
use serde::Serialize;

pub const UUID: &str = "3dde7c30-165d-11d1-ab8f-00805f14db40";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackupKeyArgs {
    pub action_guid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_name: Option<&'static str>,
    pub data_len: usize,
}

/// Decode BackuprKey (None for other opnums).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<BackupKeyArgs>> {
    (opnum == 0).then(|| {
        let g = r.guid_text()?;
        let data = r.conformant_bytes()?;
        let _cb = r.u32()?;
        let _param = r.u32()?;
        Ok(BackupKeyArgs {
            action_name: action_name(&g),
            action_guid: g,
            data_len: data.len(),
        })
    })
}

/// BACKUPKEY_* action GUIDs (MS-BKRP 3.1.4.1).
pub fn action_name(g: &str) -> Option<&'static str> {
    Some(match g {
        "7f752b10-178e-11d1-ab8f-00805f14db40" => "BACKUPKEY_BACKUP_GUID",
        "47270c64-2fc7-499b-ac5b-0e37cdce899a" => "BACKUPKEY_RESTORE_GUID",
        "018ff48a-eaba-40c6-8f6d-72370240e967" => "BACKUPKEY_RETRIEVE_BACKUP_KEY_GUID",
        "7fe94d50-178e-11d1-ab8f-00805f14db40" => "BACKUPKEY_RESTORE_GUID_WIN2K",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::ndr::build::Stub;
    use super::*;

    #[test]
    fn action_guid_both_orders() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.guid("018ff48a-eaba-40c6-8f6d-72370240e967")
                .u32(4)
                .raw(b"\x01\x02\x03\x04")
                .u32(4)
                .u32(0);
            let b = s.done();
            let a = decode_request(0, &mut Reader::new(&b, le))
                .expect("decoder")
                .expect("decoded");
            assert_eq!(a.action_name, Some("BACKUPKEY_RETRIEVE_BACKUP_KEY_GUID"));
            assert_eq!(a.data_len, 4);
        }
        assert!(decode_request(1, &mut Reader::new(&[], true)).is_none());
        assert!(
            decode_request(0, &mut Reader::new(&[0; 10], true))
                .expect("decoder")
                .is_err()
        );
    }
}
