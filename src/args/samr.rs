//! MS-SAMR `samr` (12345778-1234-abcd-ef00-0123456789ac): account creation, group
//! membership, password and account-control changes, account deletion. Group, alias and
//! user handles are linked to the RID they were opened with (see [`super::Tracker`]), so
//! SamrAddMemberToAlias on the handle of alias 544 says "added to Administrators".
//!
//! Request parameters, in wire order (MS-SAMR 3.1.5):
//! * SamrCreateUserInDomain (12): `DomainHandle`, `RPC_UNICODE_STRING Name`,
//!   `DesiredAccess`; SamrCreateUser2InDomain (50): `DomainHandle`, `Name`,
//!   `AccountType`, `DesiredAccess`. The response returns the user handle and the RID.
//! * SamrOpenGroup (19), SamrOpenAlias (27), SamrOpenUser (34): `DomainHandle`,
//!   `DesiredAccess`, `GroupId` / `AliasId` / `UserId`.
//! * SamrAddMemberToGroup (22): `GroupHandle`, `MemberId`, `Attributes`;
//!   SamrAddMemberToAlias (31): `AliasHandle`, `RPC_SID MemberId`;
//!   SamrAddMultipleMembersToAlias (52): `AliasHandle`, `SAMPR_PSID_ARRAY { Count,
//!   [size_is(Count)] SAMPR_SID_INFORMATION* Sids }`.
//! * SamrDeleteUser (35): `UserHandle`.
//! * SamrSetInformationUser (37) / 2 (58): `UserHandle`, `USER_INFORMATION_CLASS` (an
//!   enum), `[switch_is] SAMPR_USER_INFO_BUFFER` (discriminant again, then the arm).
//!   Read: the class; for 7 the new account name; for 16 UserAccountControl; for 21
//!   UserAccountControl and WhichFields. Password and hash classes (18, 23-26, 31, 32) are
//!   reported as "sets a password/hash", never decoded.
//! * SamrChangePasswordUser (38): `UserHandle`; SamrOemChangePasswordUser2 (54):
//!   `[unique] RPC_STRING* ServerName`, `RPC_STRING UserName`; SamrUnicodeChangePassword
//!   User2 (55), 3 (63), 4 (73): `[unique] RPC_UNICODE_STRING* ServerName`,
//!   `RPC_UNICODE_STRING UserName`.

use super::ndr::{ContextHandle, MAX_ARRAY, NdrError, Reader, Result};
use serde::Serialize;

pub const UUID: &str = "12345778-1234-abcd-ef00-0123456789ac";

/// Opnums with a decoder.
pub const OPNUMS: [u16; 15] = [12, 19, 22, 27, 31, 34, 35, 37, 38, 50, 52, 54, 55, 58, 63];
/// SamrUnicodeChangePasswordUser4 shares 55's first parameters.
pub const CHANGE_PASSWORD_4: u16 = 73;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SamArgs {
    /// `create_user`, `open_group`, `open_alias`, `open_user`, `add_member`,
    /// `add_members`, `delete_user`, `set_user_info` or `change_password`.
    pub action: &'static str,
    /// The account created, or whose password is changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_type_name: Option<&'static str>,
    /// `group`, `alias` or `user`: what `rid` names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'static str>,
    /// The group, alias or user (from the request, through the handle, or the RID a
    /// created account got).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rid_name: Option<&'static str>,
    /// SamrAddMemberToGroup's member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_rid: Option<u32>,
    /// SamrAddMemberToAlias / AddMultipleMembersToAlias members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_sids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_class: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_class_name: Option<&'static str>,
    /// Class 7: the account's new sAMAccountName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_account_control: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_account_control_names: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub which_fields: Option<u32>,
    /// The call sets a password or a password hash (never shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sets_password: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_name: Option<&'static str>,
    /// The group, alias or user handle passed (linking only).
    #[serde(skip)]
    pub handle: Option<ContextHandle>,
}

/// Decode one samr request (None for operations without a decoder).
pub fn decode_request(opnum: u16, r: &mut Reader<'_>) -> Option<Result<SamArgs>> {
    (OPNUMS.contains(&opnum) || opnum == CHANGE_PASSWORD_4).then(|| request(opnum, r))
}

fn request(opnum: u16, r: &mut Reader<'_>) -> Result<SamArgs> {
    let mut a = SamArgs::default();
    match opnum {
        12 | 50 => {
            a.action = "create_user";
            r.context_handle()?;
            a.name = r.unicode_string()?;
            if opnum == 50 {
                let t = r.u32()?;
                a.account_type = Some(t);
                a.account_type_name = account_type_name(t);
            }
            r.u32()?;
            a.target = Some("user");
        }
        19 | 27 | 34 => {
            r.context_handle()?;
            r.u32()?;
            let rid = r.u32()?;
            let (action, target) = match opnum {
                19 => ("open_group", "group"),
                27 => ("open_alias", "alias"),
                _ => ("open_user", "user"),
            };
            a.action = action;
            a.target = Some(target);
            a.rid = Some(rid);
            a.rid_name = rid_name(rid);
        }
        22 => {
            a.action = "add_member";
            a.handle = Some(r.context_handle()?);
            a.member_rid = Some(r.u32()?);
            a.target = Some("group");
        }
        31 => {
            a.action = "add_member";
            a.handle = Some(r.context_handle()?);
            a.member_sids = Some(vec![r.sid()?]);
            a.target = Some("alias");
        }
        52 => {
            a.action = "add_members";
            a.handle = Some(r.context_handle()?);
            a.target = Some("alias");
            let count = r.u32()?;
            let mut sids = Vec::new();
            if r.pointer()? != 0 {
                let ids = r.pointer_array()?;
                if ids.len() as u64 != u64::from(count) {
                    return Err(NdrError::Bad(r.pos(), "SAMPR_PSID_ARRAY count"));
                }
                for s in r.deferred(&ids, |r| r.sid())?.into_iter().flatten() {
                    sids.push(s);
                }
            }
            a.member_sids = Some(sids);
        }
        35 | 38 => {
            a.action = if opnum == 35 {
                "delete_user"
            } else {
                "change_password"
            };
            a.handle = Some(r.context_handle()?);
            a.target = Some("user");
            a.sets_password = (opnum == 38).then_some(true);
        }
        37 | 58 => {
            a.action = "set_user_info";
            a.handle = Some(r.context_handle()?);
            a.target = Some("user");
            let class = r.switched(Reader::enum16, "USER_INFORMATION_CLASS discriminant")?;
            a.info_class = Some(class);
            a.info_class_name = info_class_name(class);
            match class {
                7 => a.new_account_name = r.unicode_string()?,
                16 => set_uac(&mut a, r.u32()?),
                21 => {
                    for _ in 0..12 {
                        r.u32()?; // six OLD_LARGE_INTEGER times
                    }
                    for _ in 0..10 {
                        r.counted_string_header()?;
                    }
                    for _ in 0..2 {
                        r.counted_string_header()?; // LM/NT OWF (RPC_SHORT_BLOB)
                    }
                    r.counted_string_header()?; // PrivateData
                    r.u32()?;
                    r.pointer()?; // SecurityDescriptor
                    r.u32()?; // UserId
                    r.u32()?; // PrimaryGroupId
                    set_uac(&mut a, r.u32()?);
                    let which = r.u32()?;
                    a.which_fields = Some(which);
                    // USER_ALL_NTPASSWORDPRESENT / LMPASSWORDPRESENT.
                    if which & 0x0300_0000 != 0 {
                        a.sets_password = Some(true);
                    }
                }
                18 | 23 | 24 | 25 | 26 | 31 | 32 => a.sets_password = Some(true),
                _ => {}
            }
        }
        54 => {
            a.action = "change_password";
            if r.pointer()? != 0 {
                r.ansi_counted_string()?;
            }
            a.name = r.ansi_counted_string()?;
            a.sets_password = Some(true);
        }
        55 | 63 | CHANGE_PASSWORD_4 => {
            a.action = "change_password";
            r.unique_unicode_string()?;
            a.name = r.unicode_string()?;
            a.sets_password = Some(true);
        }
        _ => return Err(NdrError::Bad(r.pos(), "no decoder")),
    }
    Ok(a)
}

fn set_uac(a: &mut SamArgs, v: u32) {
    a.user_account_control = Some(v);
    a.user_account_control_names = Some(uac_names(v));
}

/// USER_* account-control bits (MS-SAMR 2.2.1.12).
pub fn uac_names(v: u32) -> Vec<&'static str> {
    const BITS: [(u32, &str); 15] = [
        (0x0000_0001, "USER_ACCOUNT_DISABLED"),
        (0x0000_0004, "USER_PASSWORD_NOT_REQUIRED"),
        (0x0000_0010, "USER_NORMAL_ACCOUNT"),
        (0x0000_0040, "USER_INTERDOMAIN_TRUST_ACCOUNT"),
        (0x0000_0080, "USER_WORKSTATION_TRUST_ACCOUNT"),
        (0x0000_0100, "USER_SERVER_TRUST_ACCOUNT"),
        (0x0000_0200, "USER_DONT_EXPIRE_PASSWORD"),
        (0x0000_0800, "USER_ENCRYPTED_TEXT_PASSWORD_ALLOWED"),
        (0x0000_2000, "USER_TRUSTED_FOR_DELEGATION"),
        (0x0000_4000, "USER_NOT_DELEGATED"),
        (0x0000_8000, "USER_USE_DES_KEY_ONLY"),
        (0x0001_0000, "USER_DONT_REQUIRE_PREAUTH"),
        (0x0004_0000, "USER_TRUSTED_TO_AUTHENTICATE_FOR_DELEGATION"),
        (0x0010_0000, "USER_PARTIAL_SECRETS_ACCOUNT"),
        (0x0020_0000, "USER_USE_AES_KEYS"),
    ];
    super::bit_names(v, &BITS)
}

/// SamrCreateUser2InDomain AccountType.
pub fn account_type_name(v: u32) -> Option<&'static str> {
    Some(match v {
        0x10 => "USER_NORMAL_ACCOUNT",
        0x40 => "USER_INTERDOMAIN_TRUST_ACCOUNT",
        0x80 => "USER_WORKSTATION_TRUST_ACCOUNT",
        0x100 => "USER_SERVER_TRUST_ACCOUNT",
        _ => return None,
    })
}

/// USER_INFORMATION_CLASS (MS-SAMR 2.2.6.28).
pub fn info_class_name(v: u32) -> Option<&'static str> {
    Some(match v {
        1 => "UserGeneralInformation",
        2 => "UserPreferencesInformation",
        3 => "UserLogonInformation",
        4 => "UserLogonHoursInformation",
        5 => "UserAccountInformation",
        6 => "UserNameInformation",
        7 => "UserAccountNameInformation",
        8 => "UserFullNameInformation",
        9 => "UserPrimaryGroupInformation",
        10 => "UserHomeInformation",
        11 => "UserScriptInformation",
        12 => "UserProfileInformation",
        13 => "UserAdminCommentInformation",
        14 => "UserWorkStationsInformation",
        16 => "UserControlInformation",
        17 => "UserExpiresInformation",
        18 => "UserInternal1Information",
        20 => "UserParametersInformation",
        21 => "UserAllInformation",
        23 => "UserInternal4Information",
        24 => "UserInternal5Information",
        25 => "UserInternal4InformationNew",
        26 => "UserInternal5InformationNew",
        31 => "UserInternal7Information",
        32 => "UserInternal8Information",
        _ => return None,
    })
}

/// Well-known domain and builtin RIDs (MS-DTYP 2.4.2.4).
pub fn rid_name(rid: u32) -> Option<&'static str> {
    Some(match rid {
        500 => "Administrator",
        501 => "Guest",
        502 => "krbtgt",
        512 => "Domain Admins",
        513 => "Domain Users",
        515 => "Domain Computers",
        516 => "Domain Controllers",
        517 => "Cert Publishers",
        518 => "Schema Admins",
        519 => "Enterprise Admins",
        520 => "Group Policy Creator Owners",
        521 => "Read-only Domain Controllers",
        526 => "Key Admins",
        527 => "Enterprise Key Admins",
        544 => "Administrators",
        545 => "Users",
        548 => "Account Operators",
        549 => "Server Operators",
        550 => "Print Operators",
        551 => "Backup Operators",
        555 => "Remote Desktop Users",
        562 => "Distributed COM Users",
        580 => "Remote Management Users",
        _ => return None,
    })
}

/// Groups and aliases whose members hold domain or host administration rights.
pub fn is_privileged_rid(rid: u32) -> bool {
    matches!(
        rid,
        512 | 516 | 518 | 519 | 520 | 526 | 527 | 544 | 548 | 549 | 550 | 551 | 555 | 562 | 580
    )
}

/// Members kept of one SamrAddMultipleMembersToAlias: the NDR array limit.
pub const MAX_MEMBERS: usize = MAX_ARRAY;

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ndr::build::{SYNTAXES, Stub};
    use super::*;

    pub const DOM: [u8; 20] = [
        0, 0, 0, 0, 0x44, 0x4f, 0x4d, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    ];
    pub const ALIAS: [u8; 20] = [
        0, 0, 0, 0, 0x41, 0x4c, 0x49, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    ];

    fn dec(op: u16, b: &[u8], le: bool, ndr64: bool) -> Result<SamArgs> {
        let mut r = super::super::reader(b, le, ndr64);
        decode_request(op, &mut r).expect("decoder")
    }

    pub fn create_user2_stub(le: bool, name: &str, t: u32) -> Vec<u8> {
        let mut s = Stub::new(le);
        s.handle(&DOM).ustring(name).u32(t).u32(0x000f_07ff);
        s.done()
    }

    #[test]
    fn create_and_open_both_orders_and_ndr64() {
        for (le, ndr64) in SYNTAXES {
            let mut s = Stub::of(le, ndr64);
            s.handle(&DOM).ustring("EVILPC$").u32(0x80).u32(0x000f_07ff);
            let a = dec(50, &s.done(), le, ndr64).expect("create");
            assert_eq!(a.name.as_deref(), Some("EVILPC$"));
            assert_eq!(a.account_type_name, Some("USER_WORKSTATION_TRUST_ACCOUNT"));
            let mut s = Stub::of(le, ndr64);
            s.handle(&DOM).u32(0x2000_0000).u32(544);
            let a = dec(27, &s.done(), le, ndr64).expect("open alias");
            assert_eq!((a.rid, a.rid_name), (Some(544), Some("Administrators")));
            let mut s = Stub::of(le, ndr64);
            s.handle(&ALIAS).sid("S-1-5-21-1-2-3-1105");
            let a = dec(31, &s.done(), le, ndr64).expect("add member");
            assert_eq!(a.member_sids, Some(vec!["S-1-5-21-1-2-3-1105".to_string()]));
            assert_eq!(a.handle, Some(ALIAS));
        }
    }

    #[test]
    fn add_multiple_members_and_group_member() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.handle(&ALIAS).u32(2).ptr().u32(2).ptr().ptr();
            s.sid("S-1-5-21-9-9-9-1000").sid("S-1-5-21-9-9-9-1001");
            let a = dec(52, &s.done(), le, false).expect("multiple");
            assert_eq!(a.member_sids.as_ref().map(Vec::len), Some(2));
            let mut s = Stub::new(le);
            s.handle(&ALIAS).u32(1106).u32(7);
            let a = dec(22, &s.done(), le, false).expect("group member");
            assert_eq!(a.member_rid, Some(1106));
        }
    }

    #[test]
    fn set_information_user_classes() {
        for le in [true, false] {
            // Class 7: rename (noPac).
            let mut s = Stub::new(le);
            s.handle(&ALIAS).enum16(7).enum16(7).ustring("DC1");
            let a = dec(58, &s.done(), le, false).expect("rename");
            assert_eq!(a.new_account_name.as_deref(), Some("DC1"));
            // Class 16: account control with DONT_REQUIRE_PREAUTH.
            let mut s = Stub::new(le);
            s.handle(&ALIAS).enum16(16).enum16(16).u32(0x0001_0010);
            let a = dec(37, &s.done(), le, false).expect("uac");
            assert_eq!(
                a.user_account_control_names,
                Some(vec!["USER_NORMAL_ACCOUNT", "USER_DONT_REQUIRE_PREAUTH"])
            );
            // Class 18: a hash set directly; nothing of it is read.
            let mut s = Stub::new(le);
            s.handle(&ALIAS).enum16(18).enum16(18).raw(&[0x11; 35]);
            let a = dec(58, &s.done(), le, false).expect("internal1");
            assert_eq!(a.sets_password, Some(true));
            assert_eq!(a.info_class_name, Some("UserInternal1Information"));
            // Class 21 with WhichFields.
            let mut s = Stub::new(le);
            s.handle(&ALIAS).enum16(21).enum16(21);
            for _ in 0..12 {
                s.u32(0);
            }
            for _ in 0..13 {
                s.u16(0).u16(0).null();
            }
            s.u32(0)
                .null()
                .u32(0)
                .u32(0)
                .u32(0x0001_0010)
                .u32(0x0000_0010);
            let a = dec(58, &s.done(), le, false).expect("all");
            assert_eq!(a.user_account_control, Some(0x0001_0010));
            assert_eq!(a.which_fields, Some(0x10));
            // Mismatched discriminant.
            let mut s = Stub::new(le);
            s.handle(&ALIAS).enum16(7).enum16(8);
            assert!(dec(58, &s.done(), le, false).is_err());
        }
    }

    #[test]
    fn change_password_names_the_user() {
        for le in [true, false] {
            let mut s = Stub::new(le);
            s.null().ustring("alice").raw(&[0; 600]);
            let a = dec(55, &s.done(), le, false).expect("change");
            assert_eq!(
                (a.name.as_deref(), a.sets_password),
                (Some("alice"), Some(true))
            );
        }
        assert!(decode_request(1, &mut Reader::new(&[], true)).is_none());
        let b = create_user2_stub(true, "x", 0x10);
        for n in 0..b.len() {
            assert!(dec(50, &b[..n], true, false).is_err(), "cut at {n}");
        }
    }
}
