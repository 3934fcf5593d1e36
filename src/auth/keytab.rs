//! MIT keytab files: what `ktutil`, `samba-tool domain exportkeytab` and Windows `ktpass`
//! write. One file holds service keys (principal, key version number, encryption type, key).
//!
//! Format (MIT krb5 `keytab.txt`): a 2-byte version (`05 01` or `05 02`), then records,
//! each `size:i32` followed by `size` bytes. A negative size is a hole (a deleted entry) of
//! `-size` bytes; zero ends the file. A record: `num_components:u16 realm:data
//! components:data* name_type:u32 timestamp:u32 vno8:u8 keytype:u16 key:data [vno:u32]`,
//! where `data` is `len:u16 bytes`. Version 0x0501 writes integers in the writer's byte
//! order (taken as little-endian here: the hosts that wrote it were) and counts the realm
//! in `num_components` and has no name_type; 0x0502 is big-endian throughout. The trailing
//! 32-bit vno, when the record has room for it, replaces the 8-bit one (MIT: only when not
//! zero).
//!
//! Bounded: [`MAX_KEYTAB_BYTES`] of file, [`MAX_ENTRIES`] entries, every length checked
//! against its record.

use super::keys::Secret;
use thiserror::Error;

/// Largest keytab file read.
pub const MAX_KEYTAB_BYTES: usize = 4 << 20;
/// Entries kept of one keytab.
pub const MAX_ENTRIES: usize = 10_000;
/// Components of a principal name kept (`host/name.domain` has 2).
pub const MAX_COMPONENTS: usize = 8;

/// A principal name as the keytab stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub realm: String,
    pub components: Vec<String>,
    pub name_type: u32,
}

impl Principal {
    /// `comp1/comp2@REALM`.
    pub fn to_text(&self) -> String {
        format!("{}@{}", self.components.join("/"), self.realm)
    }
}

/// One keytab entry. The key never shows in Debug output ([`Secret`]).
#[derive(Debug, Clone)]
pub struct KeytabEntry {
    pub principal: Principal,
    pub timestamp: u32,
    pub kvno: u32,
    /// Kerberos encryption type (17, 18, 23, ...).
    pub enctype: i32,
    pub key: Secret,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeytabError {
    #[error("not a keytab (version bytes {0:02x} {1:02x}, expected 05 01 or 05 02)")]
    BadVersion(u8, u8),
    #[error("record at byte {0} runs past the end of the file")]
    Truncated(usize),
    #[error("record at byte {0} is malformed: {1}")]
    BadRecord(usize, &'static str),
    #[error("larger than {MAX_KEYTAB_BYTES} bytes")]
    TooLarge,
    #[error("more than {MAX_ENTRIES} entries")]
    TooManyEntries,
}

/// A cursor over one record.
struct Rec<'a> {
    b: &'a [u8],
    at: usize,
    big_endian: bool,
}

impl<'a> Rec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let s: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    }
    fn u32(&mut self) -> Option<u32> {
        let s: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    }
    fn data(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.at)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parse a whole keytab file.
pub fn parse(file: &[u8]) -> Result<Vec<KeytabEntry>, KeytabError> {
    if file.len() > MAX_KEYTAB_BYTES {
        return Err(KeytabError::TooLarge);
    }
    let (v0, v1) = (
        file.first().copied().unwrap_or(0),
        file.get(1).copied().unwrap_or(0),
    );
    let big_endian = match (v0, v1) {
        (5, 2) => true,
        (5, 1) => false,
        _ => return Err(KeytabError::BadVersion(v0, v1)),
    };
    let mut out = Vec::new();
    let mut at = 2usize;
    while at < file.len() {
        let size_bytes: [u8; 4] = file
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or(KeytabError::Truncated(at))?;
        let size = if big_endian {
            i32::from_be_bytes(size_bytes)
        } else {
            i32::from_le_bytes(size_bytes)
        };
        let start = at + 4;
        if size == 0 {
            break;
        }
        let len = size.unsigned_abs() as usize;
        let body = file
            .get(start..start.checked_add(len).ok_or(KeytabError::Truncated(at))?)
            .ok_or(KeytabError::Truncated(at))?;
        at = start + len;
        if size < 0 {
            continue; // a hole left by a deleted entry
        }
        if out.len() >= MAX_ENTRIES {
            return Err(KeytabError::TooManyEntries);
        }
        out.push(parse_record(body, big_endian).ok_or(KeytabError::BadRecord(
            start - 4,
            "field past the record end",
        ))?);
    }
    Ok(out)
}

fn parse_record(body: &[u8], big_endian: bool) -> Option<KeytabEntry> {
    let mut r = Rec {
        b: body,
        at: 0,
        big_endian,
    };
    let mut count = r.u16()? as usize;
    if !big_endian {
        // 0x0501 counts the realm among the components.
        count = count.checked_sub(1)?;
    }
    if count > MAX_COMPONENTS {
        return None;
    }
    let realm = text(r.data()?);
    let mut components = Vec::with_capacity(count);
    for _ in 0..count {
        components.push(text(r.data()?));
    }
    let name_type = if big_endian { r.u32()? } else { 1 };
    let timestamp = r.u32()?;
    let vno8 = r.u8()?;
    let enctype = r.u16()? as i32;
    let key = Secret::new(r.data()?.to_vec());
    let mut kvno = vno8 as u32;
    if r.left() >= 4 {
        let v = r.u32()?;
        if v != 0 {
            kvno = v;
        }
    }
    Some(KeytabEntry {
        principal: Principal {
            realm,
            components,
            name_type,
        },
        timestamp,
        kvno,
        enctype,
        key,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 0x0502 record for `comps@realm`.
    pub(crate) fn record(
        realm: &str,
        comps: &[&str],
        kvno8: u8,
        etype: u16,
        key: &[u8],
        kvno32: Option<u32>,
    ) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&(comps.len() as u16).to_be_bytes());
        r.extend_from_slice(&(realm.len() as u16).to_be_bytes());
        r.extend_from_slice(realm.as_bytes());
        for c in comps {
            r.extend_from_slice(&(c.len() as u16).to_be_bytes());
            r.extend_from_slice(c.as_bytes());
        }
        r.extend_from_slice(&1u32.to_be_bytes()); // KRB5_NT_PRINCIPAL
        r.extend_from_slice(&0x5f00_0000u32.to_be_bytes());
        r.push(kvno8);
        r.extend_from_slice(&etype.to_be_bytes());
        r.extend_from_slice(&(key.len() as u16).to_be_bytes());
        r.extend_from_slice(key);
        if let Some(v) = kvno32 {
            r.extend_from_slice(&v.to_be_bytes());
        }
        let mut out = (r.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&r);
        out
    }

    pub(crate) fn keytab(records: &[Vec<u8>]) -> Vec<u8> {
        let mut f = vec![5, 2];
        for r in records {
            f.extend_from_slice(r);
        }
        f
    }

    #[test]
    fn two_entries_with_a_hole_and_32_bit_kvno() {
        let k1 = [0x11u8; 32];
        let k2 = [0x22u8; 16];
        let mut f = keytab(&[record(
            "CORP.LOCAL",
            &["host", "dc1.corp.local"],
            3,
            18,
            &k1,
            None,
        )]);
        // A hole of 6 bytes.
        f.extend_from_slice(&(-6i32).to_be_bytes());
        f.extend_from_slice(&[0xee; 6]);
        f.extend_from_slice(&record("CORP.LOCAL", &["DC1$"], 255, 23, &k2, Some(300)));
        let e = parse(&f).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].principal.to_text(), "host/dc1.corp.local@CORP.LOCAL");
        assert_eq!(e[0].principal.name_type, 1);
        assert_eq!(
            (e[0].kvno, e[0].enctype, e[0].timestamp),
            (3, 18, 0x5f00_0000)
        );
        assert_eq!(e[0].key.expose(), &k1);
        assert_eq!((e[1].kvno, e[1].enctype), (300, 23));
        assert_eq!(e[1].key.expose(), &k2);
        // The key stays out of Debug output.
        assert!(!format!("{:?}", e[1]).contains("34, 34"));
        // A zero size ends the file.
        let mut z = f.clone();
        let first_end =
            2 + record("CORP.LOCAL", &["host", "dc1.corp.local"], 3, 18, &k1, None).len();
        z.splice(first_end..first_end, 0i32.to_be_bytes());
        assert_eq!(parse(&z).unwrap().len(), 1);
    }

    #[test]
    fn version_0501_is_little_endian_and_counts_the_realm() {
        let mut f = vec![5, 1];
        let mut r = Vec::new();
        r.extend_from_slice(&2u16.to_le_bytes()); // realm + 1 component
        r.extend_from_slice(&3u16.to_le_bytes());
        r.extend_from_slice(b"LAB");
        r.extend_from_slice(&5u16.to_le_bytes());
        r.extend_from_slice(b"alice");
        r.extend_from_slice(&7u32.to_le_bytes()); // timestamp (no name_type in 0x0501)
        r.push(2);
        r.extend_from_slice(&17u16.to_le_bytes());
        r.extend_from_slice(&16u16.to_le_bytes());
        r.extend_from_slice(&[9u8; 16]);
        f.extend_from_slice(&(r.len() as i32).to_le_bytes());
        f.extend_from_slice(&r);
        let e = parse(&f).unwrap();
        assert_eq!(e[0].principal.to_text(), "alice@LAB");
        assert_eq!((e[0].kvno, e[0].enctype, e[0].timestamp), (2, 17, 7));
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        assert_eq!(parse(b"").unwrap_err(), KeytabError::BadVersion(0, 0));
        assert_eq!(parse(&[5, 3]).unwrap_err(), KeytabError::BadVersion(5, 3));
        assert_eq!(parse(&[5, 2]).unwrap().len(), 0);
        let f = keytab(&[record("R", &["a"], 1, 18, &[1; 32], None)]);
        for cut in 3..f.len() {
            assert!(parse(&f[..cut]).is_err(), "cut at {cut}");
        }
        // A record whose key length overruns the record.
        let mut bad = f.clone();
        let n = bad.len();
        bad[n - 33] = 0xff;
        assert!(matches!(parse(&bad), Err(KeytabError::BadRecord(2, _))));
        // Too many components.
        let mut many = f.clone();
        many[6..8].copy_from_slice(&100u16.to_be_bytes());
        assert!(parse(&many).is_err());
    }
}
