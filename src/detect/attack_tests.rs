//! One test per technique of the `attack` set: a call (interface, opnum, decoded
//! arguments, client and server) and the level its hit gets, with the DC context given
//! or inferred. Calls are built directly as records (the decoders have their own tests on
//! hand-built stubs; the captures have theirs in tests/attack.rs).

use super::indicators::{IndicatorSet, Level};
use super::{Detector, Hit, Settings};
use crate::args::*;
use crate::output::{Extra, Record};
use std::collections::BTreeSet;
use std::net::IpAddr;

const CLIENT: &str = "10.0.0.50";
const SERVER: &str = "10.0.0.5";
const DC2: &str = "10.0.0.6";

pub(crate) fn record(uuid: &str, opnum: u16, args: Option<Args>, orig: &str, resp: &str) -> Record {
    let status = if args.is_some() {
        "decoded"
    } else {
        "no_decoder"
    };
    Record {
        ts: 1_700_000_000.0,
        uid: "Ctest".into(),
        orig_h: orig.parse().expect("addr"),
        orig_p: 50000,
        resp_h: resp.parse().expect("addr"),
        resp_p: 445,
        rtt: Some(0.001),
        named_pipe: None,
        endpoint: None,
        operation: None,
        extra: Some(Box::new(Extra {
            uuid: Some(uuid.into()),
            opnum,
            operation_spec: None,
            if_version: None,
            transport: "smb2",
            smb_pipe: None,
            tree: Some(format!("\\\\{resp}\\IPC$").into()),
            smb_user: None,
            smb_domain: None,
            smb_workstation: None,
            sec_addr: None,
            auth_type: None,
            auth_level: None,
            status: "ok",
            fault_code: None,
            call_id: 1,
            ctx_id: 0,
            object_uuid: None,
            encrypted: false,
            big_endian: false,
            request_fragments: 1,
            request_stub_len: 100,
            response_stub_len: 4,
            partial: false,
            ts_response: None,
            capture: "test".into(),
            user: None,
            domain: None,
            workstation: None,
            auth: None,
            auth_source: None,
            decrypted: None,
            decrypted_with: None,
            what_ran: args.as_ref().and_then(what_ran),
            args,
            args_status: status,
        })),
        order: (1_700_000_000.0, 0, 0, 0),
    }
}

fn all_hits(r: &Record, dcs: Option<&[&str]>) -> Vec<Hit> {
    let d = Detector {
        set: Some(IndicatorSet::Attack),
        rules: vec![],
    };
    let s = Settings {
        min_level: Level::Informational,
        dcs: dcs.map(|v| {
            v.iter()
                .map(|a| a.parse::<IpAddr>().expect("addr"))
                .collect::<BTreeSet<_>>()
        }),
        evidence: None,
    };
    d.run_with(std::slice::from_ref(r), &s)
}

/// The level of `technique`'s hit on the call (panics when it does not hit).
fn level(r: &Record, technique: &str, dcs: Option<&[&str]>) -> (Level, String) {
    let hits = all_hits(r, dcs);
    let h = hits
        .iter()
        .find(|h| h.techniques[0].id == technique)
        .unwrap_or_else(|| panic!("no {technique} hit: {hits:?}"));
    assert!(h.context.is_some(), "{technique}: context");
    (
        h.level
            .as_deref()
            .and_then(|l| l.parse().ok())
            .expect("level"),
        h.reason.clone().unwrap_or_default(),
    )
}

fn lv(uuid: &str, op: u16, args: Option<Args>, technique: &str) -> Level {
    level(&record(uuid, op, args, CLIENT, SERVER), technique, None).0
}

const SVCCTL: &str = "367abb81-9844-35f1-ad32-98f038001003";
const WINREG: &str = "338cd001-2244-31f1-aaaa-900038001003";
const SAMR: &str = "12345778-1234-abcd-ef00-0123456789ac";
const LSA: &str = "12345778-1234-abcd-ef00-0123456789ab";
const DRS: &str = "e3514235-4b06-11d1-ab04-00c04fc2dcd2";
const NETLOGON: &str = "12345678-1234-abcd-ef00-01234567cffb";
const SPOOLSS: &str = "12345678-1234-abcd-ef00-0123456789ab";
const WBEM: &str = "9556dc99-828c-11cf-a37e-00aa003240c7";
const EVENTLOG: &str = "82273fdc-e32a-18c3-3f78-827929dc23ea";
const EVEN6: &str = "f6beaff7-1e19-4fbb-9f8f-b89e2018337c";

fn service(action: &'static str, name: &str) -> ServiceArgs {
    ServiceArgs {
        action,
        service_name: Some(name.into()),
        ..Default::default()
    }
}

fn reg(action: &'static str, path: &str, value: Option<&str>) -> Option<Args> {
    Some(Args::Registry(rrp::RegistryArgs {
        action,
        key_path: Some(path.into()),
        value_name: value.map(str::to_string),
        file: (action == "save_key").then(|| "..\\Temp\\AbCd.tmp".to_string()),
        ..Default::default()
    }))
}

fn coercion(protocol: &'static str, param: &'static str, path: &str) -> Option<Args> {
    Some(Args::Coercion(coerce::CoercionArgs::new(
        protocol,
        param,
        Some(path.into()),
    )))
}

#[test]
fn execution_and_persistence_by_services_tasks_wmi() {
    use Level::*;
    let mut create = service("create", "x");
    create.binary_path = Some("C:\\Windows\\x.exe".into());
    create.start_type = Some(3);
    assert_eq!(
        lv(SVCCTL, 12, Some(Args::Service(create.clone())), "T1569.002"),
        High
    );
    assert_eq!(
        lv(SVCCTL, 12, Some(Args::Service(create.clone())), "T1543.003"),
        Low
    );
    create.start_type = Some(2);
    create.binary_path = Some("cmd.exe /c evil".into());
    assert_eq!(
        lv(SVCCTL, 12, Some(Args::Service(create)), "T1543.003"),
        High
    );
    assert_eq!(
        lv("1ff70682-0a51-30e8-076d-740be8cee98b", 0, None, "T1053.002"),
        High
    );
    assert_eq!(
        lv("1ff70682-0a51-30e8-076d-740be8cee98b", 1, None, "T1053.002"),
        Low
    );
    assert_eq!(
        lv("86d35949-83c9-4044-b424-db363231fd0c", 1, None, "T1053.005"),
        High
    );
    assert_eq!(
        lv("378e52b0-c0a9-11cf-822d-00aa0051e40f", 0, None, "T1053.005"),
        Medium
    );
    assert_eq!(lv(WBEM, 24, None, "T1047"), High);
    assert_eq!(
        lv("f309ad18-d86a-11d0-a075-00c04fb68820", 6, None, "T1047"),
        Low
    );
    let put = wmi::WmiOpArgs {
        action: "put_instance",
        class: Some("CommandLineEventConsumer".into()),
        ..Default::default()
    };
    assert_eq!(lv(WBEM, 14, Some(Args::WmiOp(put)), "T1546.003"), High);
    let lm = dcom::ActivationArgs {
        action: "remote_create_instance",
        clsid: Some("49b2791a-b1ae-4c90-9b8e-e860ba07f889".into()),
        clsid_name: Some("MMC20.Application"),
        lateral_movement_class: true,
        properties: "decoded",
        ..Default::default()
    };
    assert_eq!(
        lv(
            "000001a0-0000-0000-c000-000000000046",
            4,
            Some(Args::Activation(lm)),
            "T1021.003"
        ),
        High
    );
    let wmi_class = dcom::ActivationArgs {
        action: "remote_activation",
        clsid: Some("8bc3f05e-d86b-11d0-a075-00c04fb68820".into()),
        clsid_name: Some("WbemLevel1Login (WMI)"),
        properties: "absent",
        ..Default::default()
    };
    assert_eq!(
        lv(
            "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57",
            0,
            Some(Args::Activation(wmi_class)),
            "T1021.003"
        ),
        Informational
    );
    let names = dcom::DispatchArgs {
        names: vec!["Document".into(), "ExecuteShellCommand".into()],
        suspicious: vec!["ExecuteShellCommand".into()],
        object: None,
    };
    assert_eq!(
        lv(
            "00020400-0000-0000-c000-000000000046",
            5,
            Some(Args::Dispatch(names)),
            "T1021.003"
        ),
        High
    );
    // Calls on an object whose IPID an activation handed out: Invoke on a lateral-movement
    // class is medium, a name lookup without command-running names low.
    let object = |lm: bool| dcom::DcomObject {
        ipid: "0000a001-2008-0f1c-5d6e-7f8091a2b3c4".into(),
        iid: "00020400-0000-0000-c000-000000000046".into(),
        interface: Some("IDispatch".into()),
        clsid: Some("49b2791a-b1ae-4c90-9b8e-e860ba07f889".into()),
        clsid_name: lm.then_some("MMC20.Application"),
        lateral_movement_class: lm,
        obtained_by: crate::args::LinkedCall {
            call_id: 2,
            ts: 1.0,
            operation: "RemoteCreateInstance".into(),
        },
        interface_from: "ipid",
    };
    let idispatch = "00020400-0000-0000-c000-000000000046";
    assert_eq!(
        lv(
            idispatch,
            6,
            Some(Args::DcomCall(object(true))),
            "T1021.003"
        ),
        Medium
    );
    assert_eq!(
        lv(
            idispatch,
            6,
            Some(Args::DcomCall(object(false))),
            "T1021.003"
        ),
        Informational
    );
    let plain = dcom::DispatchArgs {
        names: vec!["Document".into()],
        suspicious: vec![],
        object: Some(object(true)),
    };
    assert_eq!(
        lv(idispatch, 5, Some(Args::Dispatch(plain)), "T1021.003"),
        Low
    );
    let run = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run";
    assert_eq!(
        lv(WINREG, 22, reg("set_value", run, Some("u")), "T1547.001"),
        High
    );
    assert_eq!(
        lv(
            WINREG,
            22,
            reg("set_value", "HKLM\\SOFTWARE\\App", Some("u")),
            "T1547.001"
        ),
        Informational
    );
    let wl = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon";
    assert_eq!(
        lv(
            WINREG,
            22,
            reg("set_value", wl, Some("Userinit")),
            "T1547.004"
        ),
        High
    );
    let monitor = rprn::PrinterArgs {
        action: "add_monitor",
        path: Some("mon.dll".into()),
        ..Default::default()
    };
    assert_eq!(
        lv(
            SPOOLSS,
            46,
            Some(Args::Printer(monitor.clone())),
            "T1547.010"
        ),
        Medium
    );
    let mut proc_ = monitor;
    proc_.action = "add_print_processor";
    proc_.path = Some("\\\\10.0.0.99\\s\\p.dll".into());
    assert_eq!(
        lv(SPOOLSS, 14, Some(Args::Printer(proc_)), "T1547.012"),
        High
    );
    let ifeo = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options\\sethc.exe";
    assert_eq!(
        lv(
            WINREG,
            22,
            reg("set_value", ifeo, Some("Debugger")),
            "T1112"
        ),
        Medium
    );
}

#[test]
fn accounts_groups_rights_and_trusts() {
    use Level::*;
    let machine = samr::SamArgs {
        action: "create_user",
        name: Some("EVILPC$".into()),
        account_type: Some(0x80),
        ..Default::default()
    };
    assert_eq!(lv(SAMR, 50, Some(Args::Sam(machine)), "T1136.002"), High);
    let add = samr::SamArgs {
        action: "add_member",
        rid: Some(512),
        member_rid: Some(1105),
        ..Default::default()
    };
    assert_eq!(
        lv(SAMR, 22, Some(Args::Sam(add.clone())), "T1098.007"),
        High
    );
    let mut other = add;
    other.rid = Some(1200);
    assert_eq!(lv(SAMR, 22, Some(Args::Sam(other)), "T1098.007"), Medium);
    let hash = samr::SamArgs {
        action: "set_user_info",
        info_class: Some(18),
        sets_password: Some(true),
        ..Default::default()
    };
    assert_eq!(lv(SAMR, 58, Some(Args::Sam(hash)), "T1098"), High);
    let change = samr::SamArgs {
        action: "change_password",
        name: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(lv(SAMR, 55, Some(Args::Sam(change)), "T1098"), Low);
    let rights = lsad::LsaArgs {
        action: "add_account_rights",
        rights: Some(vec!["SeDebugPrivilege".into()]),
        ..Default::default()
    };
    assert_eq!(lv(LSA, 37, Some(Args::Lsa(rights)), "T1098"), High);
    let disable = samr::SamArgs {
        action: "set_user_info",
        info_class: Some(16),
        user_account_control: Some(0x11),
        ..Default::default()
    };
    assert_eq!(lv(SAMR, 37, Some(Args::Sam(disable)), "T1531"), Medium);
    assert_eq!(lv(SAMR, 35, None, "T1531"), Medium);
    assert_eq!(lv(LSA, 59, None, "T1484.002"), High);
    assert_eq!(lv(DRS, 20, None, "T1134.005"), High);
}

fn get_nc_changes(exop: u32) -> Option<Args> {
    Some(Args::Replication(drsr::DrsArgs {
        action: "get_nc_changes",
        version: 8,
        naming_context: Some(drsr::DsName {
            dn: Some("DC=lab,DC=local".into()),
            ..Default::default()
        }),
        extended_op: Some(exop),
        extended_op_name: drsr::exop_name(exop),
        ..Default::default()
    }))
}

#[test]
fn dcsync_dcshadow_netsync_by_dc_context() {
    use Level::*;
    // DCSync from a workstation, DCs given.
    let r = record(DRS, 3, get_nc_changes(6), CLIENT, SERVER);
    let (l, why) = level(&r, "T1003.006", Some(&[SERVER, DC2]));
    assert_eq!(l, Critical);
    assert!(
        why.contains("not a DC") && why.contains("DC=lab,DC=local"),
        "{why}"
    );
    // The same from the other DC: replication.
    let r = record(DRS, 3, get_nc_changes(0), DC2, SERVER);
    assert_eq!(
        level(&r, "T1003.006", Some(&[SERVER, DC2])).0,
        Informational
    );
    let hits = all_hits(&r, Some(&[SERVER, DC2]));
    assert_eq!(hits[0].client_is_dc, Some(true));
    assert_eq!(hits[0].dc_source, Some("given"));
    // Inferred: the server answered drsuapi, so it is a DC; the client is not.
    let r = record(DRS, 3, get_nc_changes(0), CLIENT, SERVER);
    let hits = all_hits(&r, None);
    let h = hits.iter().find(|h| h.set == Some("attack")).expect("hit");
    assert_eq!(
        (h.client_is_dc, h.server_is_dc, h.dc_source),
        (Some(false), Some(true), Some("inferred"))
    );
    assert_eq!(h.level.as_deref(), Some("high"));
    // DCShadow: AddEntry from a workstation; a drsuapi server that is not a DC.
    let r = record(DRS, 17, None, CLIENT, SERVER);
    assert_eq!(level(&r, "T1207", Some(&[SERVER])).0, Critical);
    let r = record(DRS, 17, None, DC2, SERVER);
    assert_eq!(level(&r, "T1207", Some(&[SERVER, DC2])).0, Low);
    let r = record(DRS, 3, get_nc_changes(0), SERVER, CLIENT);
    assert_eq!(level(&r, "T1003.006", Some(&[SERVER])).0, Critical);
    // The DC asking itself: not replication between DCs (a tool on the DC, or loopback).
    let r = record(DRS, 3, get_nc_changes(0), SERVER, SERVER);
    let (l, why) = level(&r, "T1003.006", None);
    assert_eq!(l, High);
    assert!(why.contains("same host"), "{why}");
    // NetSync: trust passwords asked by a workstation.
    let ns = Some(Args::Netlogon(nrpc::NetlogonArgs {
        action: "trust_passwords_get",
        account_name: Some("DC1$".into()),
        ..Default::default()
    }));
    let r = record(NETLOGON, 42, ns.clone(), CLIENT, SERVER);
    assert_eq!(level(&r, "T1003.006", Some(&[SERVER])).0, High);
    let r = record(NETLOGON, 42, ns, DC2, SERVER);
    assert_eq!(
        level(&r, "T1003.006", Some(&[SERVER, DC2])).0,
        Informational
    );
}

#[test]
fn credential_dumping_and_zerologon() {
    use Level::*;
    assert_eq!(
        lv(WINREG, 20, reg("save_key", "HKLM\\SAM", None), "T1003.002"),
        Critical
    );
    assert_eq!(
        lv(
            WINREG,
            20,
            reg("save_key", "HKLM\\SECURITY", None),
            "T1003.004"
        ),
        Critical
    );
    assert_eq!(
        lv(
            WINREG,
            20,
            reg("save_key", "HKLM\\SYSTEM", None),
            "T1003.002"
        ),
        High
    );
    assert_eq!(
        lv(
            WINREG,
            16,
            reg(
                "query_info",
                "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD",
                None
            ),
            "T1003.002"
        ),
        High
    );
    assert_eq!(
        lv(
            WINREG,
            15,
            reg("open_key", "HKLM\\SOFTWARE", None),
            "T1003.002"
        ),
        Informational
    );
    // A save whose arguments are sealed still counts.
    assert_eq!(lv(WINREG, 31, None, "T1003.002"), High);
    let secret = lsad::LsaArgs {
        action: "retrieve_private_data",
        secret_name: Some("G$BCKUPKEY_PREFERRED".into()),
        ..Default::default()
    };
    assert_eq!(lv(LSA, 43, Some(Args::Lsa(secret)), "T1003.004"), Critical);
    let bk = bkrp::BackupKeyArgs {
        action_guid: "47270c64-2fc7-499b-ac5b-0e37cdce899a".into(),
        action_name: Some("BACKUPKEY_RESTORE_GUID"),
        data_len: 100,
    };
    assert_eq!(
        lv(
            "3dde7c30-165d-11d1-ab8f-00805f14db40",
            0,
            Some(Args::BackupKey(bk)),
            "T1555"
        ),
        Low
    );
    let zl = nrpc::NetlogonArgs {
        action: "authenticate3",
        account_name: Some("DC1$".into()),
        zero_credential: Some(true),
        result: Some(0),
        ..Default::default()
    };
    let (l, why) = level(
        &record(NETLOGON, 26, Some(Args::Netlogon(zl)), CLIENT, SERVER),
        "T1210",
        None,
    );
    assert_eq!(l, Critical);
    assert!(
        why.contains("1 zero-credential attempt(s)") && why.contains("STATUS_SUCCESS"),
        "{why}"
    );
    let normal = nrpc::NetlogonArgs {
        action: "authenticate3",
        zero_credential: Some(false),
        ..Default::default()
    };
    assert_eq!(
        lv(NETLOGON, 26, Some(Args::Netlogon(normal)), "T1210"),
        Informational
    );
    let nightmare = rprn::DriverArgs {
        level: 2,
        config_file: Some("\\\\10.0.0.99\\s\\evil.dll".into()),
        file_copy_flags: Some(0x8014),
        ..Default::default()
    };
    assert_eq!(
        lv(SPOOLSS, 89, Some(Args::PrinterDriver(nightmare)), "T1210"),
        Critical
    );
    let store = rprn::DriverArgs {
        level: 2,
        driver_path: Some(
            "C:\\Windows\\System32\\DriverStore\\FileRepository\\x\\UNIDRV.DLL".into(),
        ),
        file_copy_flags: Some(0),
        ..Default::default()
    };
    assert_eq!(
        lv(SPOOLSS, 89, Some(Args::PrinterDriver(store)), "T1210"),
        Low
    );
    assert_eq!(
        lv("4b324fc8-1670-01d3-1278-5a47bf6ee188", 31, None, "T1210"),
        Medium
    );
}

#[test]
fn coercions_name_the_listener() {
    use Level::*;
    let efs = "df1941c5-fe89-4e79-bf10-463657acf44d";
    let r = record(
        efs,
        0,
        coercion("MS-EFSR", "FileName", "\\\\10.0.0.99\\x\\y"),
        CLIENT,
        SERVER,
    );
    let (l, why) = level(&r, "T1187", None);
    assert_eq!(l, High);
    assert!(why.contains("10.0.0.99"), "{why}");
    assert_eq!(level(&r, "T1187", Some(&[SERVER])).0, Critical);
    let own = record(
        efs,
        0,
        coercion("MS-EFSR", "FileName", "\\\\10.0.0.5\\x\\y"),
        CLIENT,
        SERVER,
    );
    assert_eq!(level(&own, "T1187", None).0, Low);
    let lsa = record(
        "c681d488-d850-11d0-8c52-00c04fd90f7e",
        0,
        coercion("MS-EFSR", "FileName", "\\\\relay@80\\x"),
        CLIENT,
        SERVER,
    );
    assert!(level(&lsa, "T1187", None).1.contains("WebDAV"));
    let printer = record(
        SPOOLSS,
        65,
        coercion("MS-RPRN", "pszLocalMachine", "\\\\10.0.0.99"),
        CLIENT,
        SERVER,
    );
    assert_eq!(level(&printer, "T1187", None).0, High);
    let client_itself = record(
        SPOOLSS,
        65,
        coercion("MS-RPRN", "pszLocalMachine", "\\\\10.0.0.50"),
        CLIENT,
        SERVER,
    );
    assert_eq!(level(&client_itself, "T1187", None).0, Informational);
    let dfs = record(
        "4fc742e0-4a10-11cf-8273-00aa004ae673",
        12,
        coercion("MS-DFSNM", "ServerName", "\\\\10.0.0.99"),
        CLIENT,
        SERVER,
    );
    assert_eq!(level(&dfs, "T1187", None).0, High);
    let fsrvp = record(
        "a8e0653c-2744-4389-a61d-7373df8b2292",
        8,
        coercion("MS-FSRVP", "ShareName", "\\\\10.0.0.99\\s"),
        CLIENT,
        SERVER,
    );
    assert_eq!(level(&fsrvp, "T1187", None).0, High);
    let bel = record(
        EVENTLOG,
        9,
        coercion("MS-EVEN", "BackupFileName", "\\??\\UNC\\10.0.0.99\\s\\x"),
        CLIENT,
        SERVER,
    );
    assert_eq!(level(&bel, "T1187", None).0, High);
    // Sealed: the row's level, said to be a header-only judgement.
    let (l, why) = level(&record(efs, 0, None, CLIENT, SERVER), "T1187", None);
    assert_eq!(l, Medium);
    assert!(why.contains("judged on the call alone"), "{why}");
}

#[test]
fn defense_evasion_and_impact() {
    use Level::*;
    let clear = |name: &str| {
        Some(Args::EventLog(even::EventLogArgs {
            action: "clear",
            log_name: Some(name.into()),
            ..Default::default()
        }))
    };
    assert_eq!(lv(EVENTLOG, 0, clear("Security"), "T1070.001"), Critical);
    assert_eq!(lv(EVEN6, 6, clear("Application"), "T1070.001"), High);
    let off = even::EventLogArgs {
        action: "put_channel_config",
        log_name: Some("Microsoft-Windows-Sysmon/Operational".into()),
        enabled: Some(false),
        ..Default::default()
    };
    assert_eq!(
        lv(EVEN6, 21, Some(Args::EventLog(off)), "T1562.002"),
        Critical
    );
    let mut stop = service("control", "WinDefend");
    stop.control = Some(1);
    assert_eq!(lv(SVCCTL, 1, Some(Args::Service(stop)), "T1562.001"), High);
    let mut stop = service("control", "PSEXESVC");
    stop.control = Some(1);
    assert_eq!(
        lv(SVCCTL, 1, Some(Args::Service(stop)), "T1562.001"),
        Informational
    );
    let def = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender";
    assert_eq!(
        lv(
            WINREG,
            22,
            reg("set_value", def, Some("DisableAntiSpyware")),
            "T1562.001"
        ),
        High
    );
    let mut sql = service("control", "MSSQLSERVER");
    sql.control = Some(1);
    assert_eq!(lv(SVCCTL, 1, Some(Args::Service(sql)), "T1489"), Medium);
    let shadow = wmi::WmiOpArgs {
        action: "delete_instance",
        object_path: Some("Win32_ShadowCopy.ID=\"{1}\"".into()),
        ..Default::default()
    };
    assert_eq!(lv(WBEM, 16, Some(Args::WmiOp(shadow)), "T1490"), High);
    assert_eq!(lv(WINREG, 24, None, "T1529"), Medium);
    assert_eq!(
        lv("894de0c0-0d55-11d3-a322-00c04fa321a1", 0, None, "T1529"),
        Medium
    );
    assert_eq!(
        lv("484809d6-4239-471b-b5bc-61df8c23ac48", 2, None, "T1563.002"),
        Medium
    );
    assert_eq!(
        lv("7fe0d935-dda6-443f-85d0-1cfb58fe41dd", 33, None, "T1649"),
        Medium
    );
    assert_eq!(
        lv("91ae6020-9e3c-11cf-8d7c-00aa00c091be", 0, None, "T1649"),
        Low
    );
}

#[test]
fn discovery_is_low_unless_raised() {
    use Level::*;
    for (uuid, op, t) in [
        (SAMR, 13, "T1087.002"),
        (LSA, 76, "T1087.002"),
        (SAMR, 33, "T1069"),
        (SAMR, 56, "T1201"),
        (NETLOGON, 40, "T1482"),
        ("4b324fc8-1670-01d3-1278-5a47bf6ee188", 12, "T1049"),
        ("6bffd098-a112-3610-9833-46c3f87e345a", 2, "T1033"),
        ("4b324fc8-1670-01d3-1278-5a47bf6ee188", 15, "T1135"),
        ("4b324fc8-1670-01d3-1278-5a47bf6ee188", 21, "T1018"),
        ("6bffd098-a112-3610-9833-46c3f87e345a", 5, "T1016"),
        ("4b324fc8-1670-01d3-1278-5a47bf6ee188", 28, "T1124"),
        (SVCCTL, 42, "T1007"),
        ("5ca4a760-ebb1-11cf-8611-00a0245420ed", 43, "T1057"),
        (WBEM, 20, "T1518.001"),
        ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", 2, "T1046"),
    ] {
        assert_eq!(lv(uuid, op, None, t), Low, "{t}");
    }
    let av = wmi::WmiOpArgs {
        action: "exec_query",
        query: Some("SELECT * FROM AntiVirusProduct".into()),
        ..Default::default()
    };
    assert_eq!(lv(WBEM, 20, Some(Args::WmiOp(av)), "T1518.001"), Medium);
    // One client sweeping ten hosts: raised to medium, and shown at the default level.
    let records: Vec<Record> = (0..10)
        .map(|i| {
            record(
                "4b324fc8-1670-01d3-1278-5a47bf6ee188",
                12,
                None,
                CLIENT,
                &format!("10.0.1.{i}"),
            )
        })
        .collect();
    let d = Detector {
        set: Some(IndicatorSet::Attack),
        rules: vec![],
    };
    let hits = d.run(&records);
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|h| h.level.as_deref() == Some("medium")));
    assert!(
        hits[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("10 hosts")
    );
    assert!(d.run(&records[..9]).is_empty());
}

/// Every technique of the attack set is exercised by a test above.
#[test]
fn every_attack_technique_is_tested() {
    let src = include_str!("attack_tests.rs");
    let techniques: BTreeSet<&str> = super::rows::ROWS
        .iter()
        .filter(|r| r.set == "attack")
        .map(|r| r.technique)
        .collect();
    for t in techniques {
        assert!(src.contains(&format!("\"{t}\"")), "{t} has no test");
    }
}
