//! MS-DRSR `drsuapi` (e3514235-4b06-11d1-ab04-00c04fc2dcd2): the replication requests
//! behind DCSync (IDL_DRSGetNCChanges), replica management (DRSReplicaSync,
//! DRSReplicaAdd/Del), DCShadow (DRSAddEntry registering a rogue DC) and SID-history
//! injection (DRSAddSidHistory).
//!
//! Every request is `[in, ref] DRS_HANDLE hDrs` (a context handle), `DWORD dwInVersion`
//! and `[in, ref, switch_is(dwInVersion)] DRS_MSG_* *pmsgIn`: a union behind a [ref]
//! pointer, so inline, its DWORD discriminant first, then the arm (a structure aligned to
//! its largest member; its embedded pointers' referents follow it, in pointer order, each
//! referent with its own referents right after it).
//!
//! * GetNCChanges (3), versions 5, 8, 10 and 11 (MS-DRSR 4.1.10.2.4/.6/.7/.8; V11 adds
//!   `correlationID` and `pReservedBuffer` to V10 like the other version-2/3 messages of
//!   the 1803 release): `uuidDsaObjDest` (the client DC's DSA GUID), `uuidInvocIdSrc`,
//!   `pNC` (a DSNAME: the NC root for a full replication, the object for EXOP_REPL_OBJ),
//!   `usnvecFrom`, `pUpToDateVecDest`, `ulFlags`, `cMaxObjects`, `cMaxBytes`,
//!   `ulExtendedOp`, `liFsmoInfo`, then (V8+) two partial attribute sets, the prefix
//!   table and (V10+) `ulMoreFlags`. `pNC` is the first embedded pointer, so its DSNAME is
//!   the first referent after the structure. Versions 4 and 7 (SMTP replication) give
//!   the version only.
//! * ReplicaSync (2) V1/V2: `pNC`, `uuidDsaSrc`, `[unique, string] char* pszDsaSrc`,
//!   `ulOptions`.
//! * ReplicaAdd (5) V1 `pNC, pszDsaSrc, REPLTIMES rtSchedule (84 bytes), ulOptions`; V2/V3
//!   `pNC, pSourceDsaDN, pTransportDN, pszSourceDsaAddress, rtSchedule, ulOptions`.
//!   ReplicaDel (6) V1/V2: `pNC, [unique] pszDsaSrc, ulOptions`.
//! * AddEntry (17) V2/V3: an `ENTINFLIST` (linked list of `ENTINF { DSNAME* pName; ULONG
//!   ulFlags; ATTRBLOCK AttrBlock }`): the names of the objects added and the attribute
//!   types they carry (values are skipped).
//! * AddSidHistory (20) V1: `Flags`, the source domain, principal and DC, the source
//!   credentials (user, domain, password: counted WCHAR arrays; the password is skipped,
//!   never kept), the destination domain and principal.
//!
//! DSNAME (MS-DRSR 5.50) is a conformant structure: the name's character count first,
//! then `structLen`, `SidLen`, `Guid`, a 28-byte `Sid`, `NameLen`, `StringName`.

use super::ndr::{NdrError, Reader, Result};
use serde::Serialize;

pub const UUID: &str = "e3514235-4b06-11d1-ab04-00c04fc2dcd2";
pub const REPLICA_SYNC: u16 = 2;
pub const GET_NC_CHANGES: u16 = 3;
pub const REPLICA_ADD: u16 = 5;
pub const REPLICA_DEL: u16 = 6;
pub const ADD_ENTRY: u16 = 17;
pub const ADD_SID_HISTORY: u16 = 20;

/// Objects of one DRSAddEntry kept (the rest are counted).
const MAX_OBJECTS: usize = 64;

/// A DSNAME: any of the object's GUID, SID and distinguished name that were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DsName {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl DsName {
    /// The most telling form: the DN, else the SID, else `{GUID}`.
    pub fn text(&self) -> Option<String> {
        self.dn
            .clone()
            .or_else(|| self.sid.clone())
            .or_else(|| self.guid.as_ref().map(|g| format!("{{{g}}}")))
    }
}

/// One object DRSAddEntry adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AddedObject {
    pub name: DsName,
    pub flags: u32,
    /// ATTRTYP values of its attributes (MS-DRSR 5.14), in order.
    pub attribute_types: Vec<u32>,
}

/// DRSAddSidHistory's request; the source password is never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SidHistoryArgs {
    pub flags: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_domain_controller: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_creds_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_creds_domain: Option<String>,
    /// Source credentials carried a password (its value is not output).
    pub password_sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_principal: Option<String>,
}

/// A decoded drsuapi request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrsArgs {
    /// `get_nc_changes`, `replica_sync`, `replica_add`, `replica_del`, `add_entry` or
    /// `add_sid_history`.
    pub action: &'static str,
    /// The request message's version.
    pub version: u32,
    /// `pNC`: the naming context (or, for EXOP_REPL_OBJ, the single object) asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub naming_context: Option<DsName>,
    /// GetNCChanges `uuidDsaObjDest`: the DSA GUID the client claims (a real DC's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_dsa: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_invocation_id: Option<String>,
    /// GetNCChanges `ulFlags` / ReplicaSync, Add, Del `ulOptions` (DRS_OPTIONS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags_names: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_objects: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_op: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_op_name: Option<&'static str>,
    /// ReplicaSync `uuidDsaSrc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dsa: Option<String>,
    /// ReplicaSync/Add/Del: the source DC's network address (a rogue DC's name in
    /// DCShadow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dsa_address: Option<String>,
    /// ReplicaAdd V2+: the source DC's nTDSDSA object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dsa_dn: Option<DsName>,
    /// AddEntry: the objects added (at most 64 kept) and how many there were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<AddedObject>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid_history: Option<SidHistoryArgs>,
}

/// Decode a drsuapi request (None for operations without a decoder).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<DrsArgs>> {
    matches!(
        opnum,
        REPLICA_SYNC | GET_NC_CHANGES | REPLICA_ADD | REPLICA_DEL | ADD_ENTRY | ADD_SID_HISTORY
    )
    .then(|| request(opnum, r))
}

fn request(opnum: u16, r: &mut Reader<'_>) -> Result<DrsArgs> {
    r.context_handle()?;
    let version = r.switched(Reader::u32, "message version and union discriminant differ")?;
    let mut a = DrsArgs {
        version,
        ..Default::default()
    };
    match opnum {
        GET_NC_CHANGES => {
            a.action = "get_nc_changes";
            get_nc_changes(r, &mut a)?;
        }
        // DRS_MSG_REPSYNC and DRS_MSG_REPDEL: the same fields but ReplicaSync's
        // uuidDsaSrc.
        REPLICA_SYNC | REPLICA_DEL => {
            let sync = opnum == REPLICA_SYNC;
            a.action = if sync { "replica_sync" } else { "replica_del" };
            if !matches!(version, 1 | 2) {
                let what = if sync {
                    "DRS_MSG_REPSYNC version"
                } else {
                    "DRS_MSG_REPDEL version"
                };
                return Err(NdrError::Bad(r.pos(), what));
            }
            let nc = r.pointer()?;
            if sync {
                a.source_dsa = Some(r.guid_text()?);
            }
            let src = r.pointer()?;
            set_options(&mut a, r.u32()?);
            if version == 2 {
                correlation(r)?;
            }
            a.naming_context = r.referent(nc, dsname)?;
            a.source_dsa_address = r.referent(src, Reader::cstring)?;
        }
        REPLICA_ADD => {
            a.action = "replica_add";
            let nc = r.pointer()?;
            let (src_dn, transport, addr) = match version {
                1 => (0, 0, r.pointer()?),
                2 | 3 => (r.pointer()?, r.pointer()?, r.pointer()?),
                _ => return Err(NdrError::Bad(r.pos(), "DRS_MSG_REPADD version")),
            };
            r.bytes(84)?; // rtSchedule
            set_options(&mut a, r.u32()?);
            if version == 3 {
                correlation(r)?;
            }
            a.naming_context = r.referent(nc, dsname)?;
            a.source_dsa_dn = r.referent(src_dn, dsname)?;
            r.referent(transport, dsname)?;
            a.source_dsa_address = r.referent(addr, Reader::cstring)?;
        }
        ADD_ENTRY => {
            a.action = "add_entry";
            if !matches!(version, 2 | 3) {
                return Err(NdrError::Bad(r.pos(), "DRS_MSG_ADDENTRYREQ version"));
            }
            let head = entinf_scalars(r)?;
            if version == 3 {
                r.pointer()?; // pClientCreds
            }
            let mut count = 0;
            let objects = list_buffers(r, head, &mut count)?;
            a.object_count = Some(count);
            a.objects = Some(objects);
        }
        ADD_SID_HISTORY => {
            a.action = "add_sid_history";
            if version != 1 {
                return Err(NdrError::Bad(r.pos(), "DRS_MSG_ADDSIDREQ version"));
            }
            a.sid_history = Some(add_sid_history(r)?);
        }
        _ => return Err(NdrError::Bad(r.pos(), "no decoder")),
    }
    Ok(a)
}

/// `correlationID` and `pReservedBuffer`, which end the fixed part of the messages the
/// 1803 release added (skipped).
fn correlation(r: &mut Reader<'_>) -> Result<()> {
    r.guid()?;
    r.pointer()?;
    Ok(())
}

fn set_options(a: &mut DrsArgs, v: u32) {
    a.flags = Some(v);
    a.flags_names = Some(option_names(v));
}

fn get_nc_changes(r: &mut Reader<'_>, a: &mut DrsArgs) -> Result<()> {
    if !matches!(a.version, 5 | 8 | 10 | 11) {
        // V4 and V7 travel over SMTP replication; only the version is reported.
        return Ok(());
    }
    r.align(8)?;
    a.dest_dsa = Some(r.guid_text()?);
    a.source_invocation_id = Some(r.guid_text()?);
    let nc = r.pointer()?;
    r.u64()?;
    r.u64()?;
    r.u64()?; // usnvecFrom
    r.pointer()?; // pUpToDateVecDest
    let flags = r.u32()?;
    set_options(a, flags);
    a.max_objects = Some(r.u32()?);
    r.u32()?; // cMaxBytes
    let exop = r.u32()?;
    a.extended_op = Some(exop);
    a.extended_op_name = exop_name(exop);
    r.u64()?; // liFsmoInfo
    if a.version >= 8 {
        r.pointer()?;
        r.pointer()?; // pPartialAttrSet, pPartialAttrSetEx
        r.u32()?;
        r.pointer()?; // PrefixTableDest
    }
    if a.version >= 10 {
        r.u32()?; // ulMoreFlags
    }
    if a.version >= 11 {
        correlation(r)?;
    }
    a.naming_context = r.referent(nc, dsname)?;
    Ok(())
}

/// A DSNAME referent.
pub fn dsname(r: &mut Reader<'_>) -> Result<DsName> {
    let at = r.pos();
    let n = r.count()?;
    let _struct_len = r.u32()?;
    let sid_len = r.u32()?;
    let guid = r.guid()?;
    let sid = r.bytes(28)?;
    let name_len = r.u32()?;
    let n = r.check_count(n, 2)?;
    if name_len as usize > n {
        return Err(NdrError::Bad(at, "DSNAME NameLen beyond its array"));
    }
    let chars = r.bytes(n * 2)?;
    let name_bytes = &chars[..name_len as usize * 2];
    let dn = super::ndr::utf16_text(name_bytes, r.little_endian());
    Ok(DsName {
        dn: (!dn.is_empty()).then_some(dn),
        guid: (guid != [0; 16]).then(|| super::ndr::guid_to_string(&guid, r.little_endian())),
        sid: (sid_len >= 8)
            .then(|| binary_sid(&sid[..(sid_len as usize).min(28)]))
            .flatten(),
    })
}

/// A SID in its binary (self-relative, little-endian sub-authorities) form.
pub fn binary_sid(b: &[u8]) -> Option<String> {
    let (&rev, rest) = b.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let auth = rest.get(..6)?;
    let subs = rest.get(6..6 + 4 * count as usize)?;
    let authority = auth.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    let mut s = format!("S-{rev}-{authority}");
    for c in subs.chunks_exact(4) {
        s.push_str(&format!(
            "-{}",
            u32::from_le_bytes([c[0], c[1], c[2], c[3]])
        ));
    }
    Some(s)
}

/// ENTINFLIST's fixed part: (pNextEntInf, pName, ulFlags, attrCount, pAttr).
type EntScalars = (u64, u64, u32, u32, u64);

fn entinf_scalars(r: &mut Reader<'_>) -> Result<EntScalars> {
    let next = r.pointer()?;
    let name = r.pointer()?;
    let flags = r.u32()?;
    let count = r.u32()?;
    let attrs = r.pointer()?;
    Ok((next, name, flags, count, attrs))
}

/// The referents of one ENTINFLIST node: the rest of the list first (its pointer comes
/// first), then the node's DSNAME and attributes. Returns the objects in list order.
fn list_buffers(r: &mut Reader<'_>, s: EntScalars, count: &mut usize) -> Result<Vec<AddedObject>> {
    let (next, name, flags, attr_count, attrs) = s;
    r.enter()?;
    let mut tail = Vec::new();
    if next != 0 {
        let ns = entinf_scalars(r)?;
        tail = list_buffers(r, ns, count)?;
    }
    let name = r.referent(name, dsname)?.unwrap_or_default();
    let types = r
        .referent(attrs, |r| attr_block(r, attr_count))?
        .unwrap_or_default();
    r.leave();
    *count += 1;
    let mut out = Vec::with_capacity(tail.len() + 1);
    out.push(AddedObject {
        name,
        flags,
        attribute_types: types,
    });
    out.extend(tail);
    out.truncate(MAX_OBJECTS);
    Ok(out)
}

/// An ATTR array referent: every ATTR's fixed part, then each one's values.
fn attr_block(r: &mut Reader<'_>, attr_count: u32) -> Result<Vec<u32>> {
    let n = r.sized_array(u64::from(attr_count), 12, "ATTRBLOCK")?;
    let mut fixed = Vec::with_capacity(n);
    for _ in 0..n {
        let typ = r.u32()?;
        let vals = r.u32()?;
        let p = r.pointer()?;
        fixed.push((typ, vals, p));
    }
    r.enter()?;
    for &(_, vals, p) in &fixed {
        if p == 0 {
            continue;
        }
        let m = r.sized_array(u64::from(vals), 8, "ATTRVALBLOCK")?;
        let mut ptrs = Vec::with_capacity(m);
        for _ in 0..m {
            let _len = r.u32()?;
            ptrs.push(r.pointer()?);
        }
        r.deferred(&ptrs, |r| r.conformant_bytes().map(|_| ()))?;
    }
    r.leave();
    Ok(fixed.into_iter().map(|(t, _, _)| t).collect())
}

fn add_sid_history(r: &mut Reader<'_>) -> Result<SidHistoryArgs> {
    let flags = r.u32()?;
    let src_domain = r.pointer()?;
    let src_principal = r.pointer()?;
    let src_dc = r.pointer()?;
    let user_len = r.u32()?;
    let user = r.pointer()?;
    let domain_len = r.u32()?;
    let domain = r.pointer()?;
    let pw_len = r.u32()?;
    let pw = r.pointer()?;
    let dst_domain = r.pointer()?;
    let dst_principal = r.pointer()?;
    let s = |r: &mut Reader<'_>, p: u64| r.referent(p, Reader::wstring);
    let counted = |r: &mut Reader<'_>, p: u64, len: u32| {
        r.referent(p, |r| {
            let n = r.sized_count(u64::from(len), 2, "counted WCHAR array size")?;
            r.align(2)?;
            let b = r.bytes(n * 2)?;
            Ok(super::ndr::utf16_text(b, r.little_endian()))
        })
    };
    let mut a = SidHistoryArgs {
        flags,
        src_domain: s(r, src_domain)?,
        src_principal: s(r, src_principal)?,
        src_domain_controller: s(r, src_dc)?,
        src_creds_user: counted(r, user, user_len)?,
        src_creds_domain: counted(r, domain, domain_len)?,
        ..Default::default()
    };
    // The password: read to reach what follows, never kept.
    a.password_sent = counted(r, pw, pw_len)?.is_some_and(|p| !p.is_empty());
    a.dst_domain = s(r, dst_domain)?;
    a.dst_principal = s(r, dst_principal)?;
    Ok(a)
}

/// EXOP_* extended operations (MS-DRSR 4.1.10.2.22).
pub fn exop_name(v: u32) -> Option<&'static str> {
    Some(match v {
        0 => "none",
        1 => "EXOP_FSMO_REQ_ROLE",
        2 => "EXOP_FSMO_REQ_RID_ALLOC",
        3 => "EXOP_FSMO_RID_REQ_ROLE",
        4 => "EXOP_FSMO_REQ_PDC",
        5 => "EXOP_FSMO_ABANDON_ROLE",
        6 => "EXOP_REPL_OBJ",
        7 => "EXOP_REPL_SECRETS",
        _ => return None,
    })
}

/// DRS_OPTIONS bits as IDL_DRSGetNCChanges and the replica calls read them (MS-DRSR
/// 5.41; several bits have other names in other calls).
pub fn option_names(v: u32) -> Vec<&'static str> {
    const BITS: [(u32, &str); 14] = [
        (0x0000_0001, "DRS_ASYNC_OP"),
        (0x0000_0010, "DRS_WRIT_REP"),
        (0x0000_0020, "DRS_INIT_SYNC"),
        (0x0000_0040, "DRS_PER_SYNC"),
        (0x0000_0080, "DRS_MAIL_REP"),
        (0x0000_0100, "DRS_ASYNC_REP"),
        (0x0000_0800, "DRS_GET_ANC"),
        (0x0000_2000, "DRS_NONGC_RO_REP"),
        (0x0000_8000, "DRS_FULL_SYNC_NOW"),
        (0x0008_0000, "DRS_SYNC_URGENT"),
        (0x0040_0000, "DRS_SPECIAL_SECRET_PROCESSING"),
        (0x1000_0000, "DRS_USE_COMPRESSION"),
        (0x2000_0000, "DRS_NEVER_NOTIFY"),
        (0x8000_0000, "DRS_GET_ALL_GROUP_MEMBERSHIP"),
    ];
    super::bit_names(v, &BITS)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    pub const DRS: [u8; 20] = [
        0, 0, 0, 0, 0xd5, 0xd5, 0xd5, 0xd5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    pub const DEST_DSA: &str = "4c5c2e9a-0f76-4f0e-a3b2-8d1c55b1a101";
    pub const USER_GUID: &str = "0b7c3f3e-35a1-4a86-9b36-6c43c1f5e0aa";

    pub fn dsname(s: &mut Stub, dn: &str, guid: Option<&str>) {
        let units: Vec<u16> = dn.encode_utf16().collect();
        s.size(units.len() as u64 + 1).u32(0).u32(0);
        match guid {
            Some(g) => s.guid(g),
            None => s.raw(&[0; 16]),
        };
        s.raw(&[0; 28]).u32(units.len() as u32);
        for u in units {
            s.u16(u);
        }
        s.u16(0);
    }

    /// IDL_DRSGetNCChanges V8 (V10 with `more_flags`), as secretsdump sends it for one
    /// user (EXOP_REPL_OBJ on the user's GUID, no DN) or for a whole NC.
    pub fn get_nc_changes_stub(
        mut s: Stub,
        version: u32,
        dn: &str,
        guid: Option<&str>,
        exop: u32,
    ) -> Vec<u8> {
        s.handle(&DRS).u32(version).u32(version);
        s.align(8);
        s.guid(DEST_DSA)
            .guid("11111111-2222-3333-4444-555555555555")
            .ptr()
            .u64(0)
            .u64(0)
            .u64(0)
            .null()
            .u32(0x0001_0030)
            .u32(1)
            .u32(0)
            .u32(exop)
            .u64(0)
            .null()
            .null()
            .u32(0)
            .null();
        if version >= 10 {
            s.u32(0);
        }
        dsname(&mut s, dn, guid);
        s.done()
    }

    fn dec(op: u16, b: &[u8], le: bool, ndr64: bool) -> Result<DrsArgs> {
        let mut r = super::super::reader(b, le, ndr64);
        decode_request(op, &mut r).expect("decoder")
    }

    #[test]
    fn get_nc_changes_single_object_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            for version in [8, 10] {
                let s = Stub::of(le, ndr64);
                let b = get_nc_changes_stub(s, version, "", Some(USER_GUID), 6);
                let a = dec(3, &b, le, ndr64).expect("decoded");
                assert_eq!(a.action, "get_nc_changes");
                assert_eq!(a.version, version);
                assert_eq!(a.dest_dsa.as_deref(), Some(DEST_DSA));
                assert_eq!(a.extended_op_name, Some("EXOP_REPL_OBJ"));
                let nc = a.naming_context.expect("pNC");
                assert_eq!(nc.guid.as_deref(), Some(USER_GUID));
                assert_eq!(nc.dn, None);
                assert_eq!(nc.text(), Some(format!("{{{USER_GUID}}}")));
                assert_eq!(a.flags_names, Some(vec!["DRS_WRIT_REP", "DRS_INIT_SYNC"]));
            }
        }
    }

    #[test]
    fn get_nc_changes_full_nc() {
        let b = get_nc_changes_stub(Stub::new(true), 8, "DC=lab,DC=local", None, 0);
        let a = dec(3, &b, true, false).expect("decoded");
        assert_eq!(
            a.naming_context.and_then(|n| n.dn).as_deref(),
            Some("DC=lab,DC=local")
        );
        assert_eq!(a.extended_op_name, Some("none"));
        // SMTP versions give the version only.
        let mut s = Stub::new(true);
        s.handle(&DRS).u32(7).u32(7);
        let a = dec(3, &s.done(), true, false).expect("decoded");
        assert_eq!((a.version, a.naming_context), (7, None));
        // Version and discriminant must agree.
        let mut s = Stub::new(true);
        s.handle(&DRS).u32(8).u32(10);
        assert!(dec(3, &s.done(), true, false).is_err());
        for n in 0..b.len() {
            assert!(dec(3, &b[..n], true, false).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn replica_sync_add_del() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.handle(&DRS)
                .u32(1)
                .u32(1)
                .ptr()
                .guid(DEST_DSA)
                .ptr()
                .u32(0x13);
            dsname(&mut s, "DC=lab,DC=local", None);
            s.cstr("rogue.lab.local");
            let a = dec(2, &s.done(), le, false).expect("sync");
            assert_eq!(a.source_dsa.as_deref(), Some(DEST_DSA));
            assert_eq!(a.source_dsa_address.as_deref(), Some("rogue.lab.local"));
            assert_eq!(a.flags, Some(0x13));
            let mut s = Stub::new(le);
            s.handle(&DRS)
                .u32(1)
                .u32(1)
                .ptr()
                .ptr()
                .raw(&[0; 84])
                .u32(0x10);
            dsname(&mut s, "DC=lab,DC=local", None);
            s.cstr("rogue.lab.local");
            let a = dec(5, &s.done(), le, false).expect("add");
            assert_eq!(a.action, "replica_add");
            assert_eq!(a.source_dsa_address.as_deref(), Some("rogue.lab.local"));
            let mut s = Stub::new(le);
            s.handle(&DRS).u32(1).u32(1).ptr().ptr().u32(0);
            dsname(&mut s, "DC=lab,DC=local", None);
            s.cstr("rogue");
            let a = dec(6, &s.done(), le, false).expect("del");
            assert_eq!(a.action, "replica_del");
            assert_eq!(
                a.naming_context.and_then(|n| n.dn).as_deref(),
                Some("DC=lab,DC=local")
            );
        }
    }

    #[test]
    fn add_entry_two_objects_in_order() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            // Head: next, pName, flags, attrCount, pAttr.
            s.handle(&DRS).u32(2).u32(2).ptr().ptr().u32(0).u32(1).ptr();
            // Second node (the head's next), no further node, one attribute.
            s.null().ptr().u32(0).u32(1).ptr();
            dsname(
                &mut s,
                "CN=NTDS Settings,CN=ROGUE,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=lab,DC=local",
                None,
            );
            s.u32(1).u32(0x0002_0001).u32(1).ptr();
            s.u32(1).u32(2).ptr().u32(2).raw(b"xy");
            // Head's name and attributes.
            dsname(
                &mut s,
                "CN=ROGUE,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=lab,DC=local",
                None,
            );
            s.u32(1).u32(3).u32(0).null();
            let a = dec(17, &s.done(), le, false).expect("add entry");
            let objs = a.objects.expect("objects");
            assert_eq!(a.object_count, Some(2));
            assert!(
                objs[0]
                    .name
                    .dn
                    .as_deref()
                    .expect("dn")
                    .starts_with("CN=ROGUE,")
            );
            assert!(
                objs[1]
                    .name
                    .dn
                    .as_deref()
                    .expect("dn")
                    .starts_with("CN=NTDS Settings")
            );
            assert_eq!(objs[1].attribute_types, vec![0x0002_0001]);
            assert_eq!(objs[0].attribute_types, vec![3]);
        }
    }

    #[test]
    fn add_sid_history_keeps_no_password() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.handle(&DRS).u32(1).u32(1).u32(0);
            s.ptr()
                .ptr()
                .null()
                .u32(5)
                .ptr()
                .u32(3)
                .ptr()
                .u32(6)
                .ptr()
                .ptr()
                .ptr();
            s.wstr("OLD").wstr("Administrator");
            s.u32(5);
            for u in "admin".encode_utf16() {
                s.u16(u);
            }
            s.u32(3);
            for u in "OLD".encode_utf16() {
                s.u16(u);
            }
            s.u32(6);
            for u in "s3cr3t".encode_utf16() {
                s.u16(u);
            }
            s.wstr("LAB").wstr("lowpriv");
            let a = dec(20, &s.done(), le, false).expect("sid history");
            let h = a.sid_history.expect("args");
            assert_eq!(h.src_principal.as_deref(), Some("Administrator"));
            assert_eq!(h.src_creds_user.as_deref(), Some("admin"));
            assert!(h.password_sent);
            assert_eq!(h.dst_principal.as_deref(), Some("lowpriv"));
            let json = serde_json::to_string(&h).expect("json");
            assert!(!json.contains("s3cr3t"), "{json}");
        }
    }

    #[test]
    fn binary_sids() {
        let b = [
            1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xf4, 1, 0, 0,
        ];
        assert_eq!(binary_sid(&b).as_deref(), Some("S-1-5-21-1-2-3-500"));
        assert_eq!(binary_sid(&b[..10]), None);
    }
}
