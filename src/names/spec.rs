//! Operation names as the Microsoft protocol specifications spell them, for the
//! few interfaces that matter to remote-execution detection.
//!
//! Zeek's names are kept unchanged in the Zeek-compatible outputs because
//! existing detections match on them. Analysts and Sigma-style rules, however,
//! often search for the specification's spelling (`RCreateServiceW`,
//! `IDL_DRSGetNCChanges`), and Zeek is wrong or silent in a few places (WMI
//! opnums 16/17, IUnknown opnums, SCMR's reserved opnums). This table lets the
//! accurate output carry the specification's name next to Zeek's.
//!
//! Each list is a whole interface as the specification numbers it (MS-RPRN's,
//! over a hundred opnums, is limited to the ones the attack indicators use), not
//! just the differences: [`super::operation_spec`] drops the entries whose name is
//! identical to Zeek's, so a later change to Zeek's tables cannot make this
//! table repeat or contradict it. Lists are sorted by opnum (checked by a unit
//! test) so they can be binary-searched.

use super::Uuid;

/// Parses a UUID at compile time; a typo in this file is then a build error
/// rather than an interface that silently never matches.
const fn uuid(s: &str) -> Uuid {
    match Uuid::parse(s) {
        Some(u) => u,
        None => panic!("malformed UUID in names::spec"),
    }
}

/// One interface: its UUID, the specification it comes from, and its
/// operations by opnum.
pub(super) struct SpecInterface {
    pub(super) uuid: Uuid,
    /// The Microsoft Open Specification that defines the interface.
    pub(super) spec: &'static str,
    pub(super) ops: &'static [(u16, &'static str)],
}

/// MS-SCMR `svcctl`. Zeek uses the method names without their leading `R` and
/// still carries the old internal names for opnums that the current
/// specification lists as `OpnumNNNotUsedOnWire` (reserved for local use,
/// never valid on the wire). Seeing one of those on the wire is itself worth
/// noticing, so the placeholder names are kept.
const SCMR: &[(u16, &str)] = &[
    (0, "RCloseServiceHandle"),
    (1, "RControlService"),
    (2, "RDeleteService"),
    (3, "RLockServiceDatabase"),
    (4, "RQueryServiceObjectSecurity"),
    (5, "RSetServiceObjectSecurity"),
    (6, "RQueryServiceStatus"),
    (7, "RSetServiceStatus"),
    (8, "RUnlockServiceDatabase"),
    (9, "RNotifyBootConfigStatus"),
    (10, "Opnum10NotUsedOnWire"),
    (11, "RChangeServiceConfigW"),
    (12, "RCreateServiceW"),
    (13, "REnumDependentServicesW"),
    (14, "REnumServicesStatusW"),
    (15, "ROpenSCManagerW"),
    (16, "ROpenServiceW"),
    (17, "RQueryServiceConfigW"),
    (18, "RQueryServiceLockStatusW"),
    (19, "RStartServiceW"),
    (20, "RGetServiceDisplayNameW"),
    (21, "RGetServiceKeyNameW"),
    (22, "Opnum22NotUsedOnWire"),
    (23, "RChangeServiceConfigA"),
    (24, "RCreateServiceA"),
    (25, "REnumDependentServicesA"),
    (26, "REnumServicesStatusA"),
    (27, "ROpenSCManagerA"),
    (28, "ROpenServiceA"),
    (29, "RQueryServiceConfigA"),
    (30, "RQueryServiceLockStatusA"),
    (31, "RStartServiceA"),
    (32, "RGetServiceDisplayNameA"),
    (33, "RGetServiceKeyNameA"),
    (34, "Opnum34NotUsedOnWire"),
    (35, "REnumServiceGroupW"),
    (36, "RChangeServiceConfig2A"),
    (37, "RChangeServiceConfig2W"),
    (38, "RQueryServiceConfig2A"),
    (39, "RQueryServiceConfig2W"),
    (40, "RQueryServiceStatusEx"),
    (41, "REnumServicesStatusExA"),
    (42, "REnumServicesStatusExW"),
    (43, "Opnum43NotUsedOnWire"),
    (44, "RCreateServiceWOW64A"),
    (45, "RCreateServiceWOW64W"),
    (46, "Opnum46NotUsedOnWire"),
    (47, "RNotifyServiceStatusChange"),
    (48, "RGetNotifyResults"),
    (49, "RCloseNotifyHandle"),
    (50, "RControlServiceExA"),
    (51, "RControlServiceExW"),
    (52, "Opnum52NotUsedOnWire"),
    (53, "Opnum53NotUsedOnWire"),
    (54, "Opnum54NotUsedOnWire"),
    (55, "Opnum55NotUsedOnWire"),
    (56, "RQueryServiceConfigEx"),
    (57, "Opnum57NotUsedOnWire"),
    (58, "Opnum58NotUsedOnWire"),
    (59, "Opnum59NotUsedOnWire"),
    (60, "RCreateWowService"),
    (61, "Opnum61NotUsedOnWire"),
    (62, "Opnum62NotUsedOnWire"),
    (63, "Opnum63NotUsedOnWire"),
    (64, "ROpenSCManager2"),
];

/// MS-TSCH `ITaskSchedulerService`. Zeek has every opnum but spells opnum 6
/// in the singular.
const TSCH: &[(u16, &str)] = &[
    (0, "SchRpcHighestVersion"),
    (1, "SchRpcRegisterTask"),
    (2, "SchRpcRetrieveTask"),
    (3, "SchRpcCreateFolder"),
    (4, "SchRpcSetSecurity"),
    (5, "SchRpcGetSecurity"),
    (6, "SchRpcEnumFolders"),
    (7, "SchRpcEnumTasks"),
    (8, "SchRpcEnumInstances"),
    (9, "SchRpcGetInstanceInfo"),
    (10, "SchRpcStopInstance"),
    (11, "SchRpcStop"),
    (12, "SchRpcRun"),
    (13, "SchRpcDelete"),
    (14, "SchRpcRename"),
    (15, "SchRpcScheduledRuntimes"),
    (16, "SchRpcGetLastRunInfo"),
    (17, "SchRpcGetTaskInfo"),
    (18, "SchRpcGetNumberOfMissedRuns"),
    (19, "SchRpcEnableTask"),
];

/// MS-DRSR `drsuapi`. Zeek drops the `IDL_` prefix on opnums 0-24 only, and
/// DCSync rules are usually written against `IDL_DRSGetNCChanges`.
const DRSR: &[(u16, &str)] = &[
    (0, "IDL_DRSBind"),
    (1, "IDL_DRSUnbind"),
    (2, "IDL_DRSReplicaSync"),
    (3, "IDL_DRSGetNCChanges"),
    (4, "IDL_DRSUpdateRefs"),
    (5, "IDL_DRSReplicaAdd"),
    (6, "IDL_DRSReplicaDel"),
    (7, "IDL_DRSReplicaModify"),
    (8, "IDL_DRSVerifyNames"),
    (9, "IDL_DRSGetMemberships"),
    (10, "IDL_DRSInterDomainMove"),
    (11, "IDL_DRSGetNT4ChangeLog"),
    (12, "IDL_DRSCrackNames"),
    (13, "IDL_DRSWriteSPN"),
    (14, "IDL_DRSRemoveDsServer"),
    (15, "IDL_DRSRemoveDsDomain"),
    (16, "IDL_DRSDomainControllerInfo"),
    (17, "IDL_DRSAddEntry"),
    (18, "IDL_DRSExecuteKCC"),
    (19, "IDL_DRSGetReplInfo"),
    (20, "IDL_DRSAddSidHistory"),
    (21, "IDL_DRSGetMemberships2"),
    (22, "IDL_DRSReplicaVerifyObjects"),
    (23, "IDL_DRSGetObjectExistence"),
    (24, "IDL_DRSQuerySitesByCost"),
    (25, "IDL_DRSInitDemotion"),
    (26, "IDL_DRSReplicaDemotion"),
    (27, "IDL_DRSFinishDemotion"),
    (28, "IDL_DRSAddCloneDC"),
    (29, "IDL_DRSWriteNgcKey"),
    (30, "IDL_DRSReadNgcKey"),
];

/// MS-WMI `IWbemServices`. Zeek has no IUnknown opnums and names 16/17 after
/// 10/11 (`DeleteClass`), which hides WMI instance deletion.
const WMI_SERVICES: &[(u16, &str)] = &[
    (0, "QueryInterface"),
    (1, "AddRef"),
    (2, "Release"),
    (3, "OpenNamespace"),
    (4, "CancelAsyncCall"),
    (5, "QueryObjectSink"),
    (6, "GetObject"),
    (7, "GetObjectAsync"),
    (8, "PutClass"),
    (9, "PutClassAsync"),
    (10, "DeleteClass"),
    (11, "DeleteClassAsync"),
    (12, "CreateClassEnum"),
    (13, "CreateClassEnumAsync"),
    (14, "PutInstance"),
    (15, "PutInstanceAsync"),
    (16, "DeleteInstance"),
    (17, "DeleteInstanceAsync"),
    (18, "CreateInstanceEnum"),
    (19, "CreateInstanceEnumAsync"),
    (20, "ExecQuery"),
    (21, "ExecQueryAsync"),
    (22, "ExecNotificationQuery"),
    (23, "ExecNotificationQueryAsync"),
    (24, "ExecMethod"),
    (25, "ExecMethodAsync"),
];

/// MS-DCOM `IRemoteSCMActivator`. Zeek's IUnknown names carry typos
/// (`AddRefIRemoteISCMActivator`).
const DCOM_ACTIVATOR: &[(u16, &str)] = &[
    (0, "QueryInterface"),
    (1, "AddRef"),
    (2, "Release"),
    (3, "RemoteGetClassObject"),
    (4, "RemoteCreateInstance"),
];

/// MS-EFSR, on both of its interface UUIDs. Zeek misspells opnums 5
/// (`EfsDecryptFileSrv`) and 21 (`EfsRpcEncryptFileExServ`), so indicators
/// written against the specification's names miss them.
const EFSR: &[(u16, &str)] = &[
    (0, "EfsRpcOpenFileRaw"),
    (1, "EfsRpcReadFileRaw"),
    (2, "EfsRpcWriteFileRaw"),
    (3, "EfsRpcCloseRaw"),
    (4, "EfsRpcEncryptFileSrv"),
    (5, "EfsRpcDecryptFileSrv"),
    (6, "EfsRpcQueryUsersOnFile"),
    (7, "EfsRpcQueryRecoveryAgents"),
    (8, "EfsRpcRemoveUsersFromFile"),
    (9, "EfsRpcAddUsersToFile"),
    (10, "Opnum10NotUsedOnWire"),
    (11, "EfsRpcNotSupported"),
    (12, "EfsRpcFileKeyInfo"),
    (13, "EfsRpcDuplicateEncryptionInfoFile"),
    (14, "Opnum14NotUsedOnWire"),
    (15, "EfsRpcAddUsersToFileEx"),
    (16, "EfsRpcFileKeyInfoEx"),
    (17, "Opnum17NotUsedOnWire"),
    (18, "EfsRpcGetEncryptedFileMetadata"),
    (19, "EfsRpcSetEncryptedFileMetadata"),
    (20, "EfsRpcFlushEfsCache"),
    (21, "EfsRpcEncryptFileExSrv"),
    (22, "EfsRpcQueryProtectors"),
];

/// MS-TSTS `TermSrvSession` (`\pipe\LSM_API_service`). Zeek's table gives
/// this UUID the TermSrvNotification names for 0-3 and nothing for 4-17, so
/// `tscon` (RpcConnect, 2) is logged as `RpcWaitAsyncNotification`.
const TERMSRV_SESSION: &[(u16, &str)] = &[
    (0, "RpcOpenSession"),
    (1, "RpcCloseSession"),
    (2, "RpcConnect"),
    (3, "RpcDisconnect"),
    (4, "RpcLogoff"),
    (5, "RpcGetUserName"),
    (6, "RpcGetTerminalName"),
    (7, "RpcGetState"),
    (8, "RpcIsSessionDesktopLocked"),
    (9, "RpcShowMessageBox"),
    (10, "RpcGetTimes"),
    (11, "RpcGetSessionCounters"),
    (12, "RpcGetSessionInformation"),
    (13, "RpcSwitchToServicesSession"),
    (14, "RpcRevertFromServicesSession"),
    (15, "RpcGetLoggedOnCount"),
    (16, "RpcGetSessionType"),
    (17, "RpcGetSessionInformationEx"),
];

/// MS-BKRP `BackupKey`: its only method, which Zeek calls `bkrp_BackupKey`.
const BKRP: &[(u16, &str)] = &[(0, "BackuprKey")];

/// MS-RPRN `spoolss`: only the opnums the attack indicators use (the
/// interface has over a hundred). Zeek names 69 `RpcSplOpenPrinter` and drops
/// it from `dce_rpc.log` (its ignore list).
const RPRN_PARTIAL: &[(u16, &str)] = &[
    (1, "RpcOpenPrinter"),
    (9, "RpcAddPrinterDriver"),
    (14, "RpcAddPrintProcessor"),
    (46, "RpcAddMonitor"),
    (62, "RpcRemoteFindFirstPrinterChangeNotification"),
    (65, "RpcRemoteFindFirstPrinterChangeNotificationEx"),
    (69, "RpcOpenPrinterEx"),
    (89, "RpcAddPrinterDriverEx"),
];

/// The interfaces with specification names. Few enough that a linear scan
/// over the UUIDs is as fast as anything cleverer.
pub(super) static SPEC_INTERFACES: [SpecInterface; 10] = [
    SpecInterface {
        uuid: uuid("367abb81-9844-35f1-ad32-98f038001003"),
        spec: "MS-SCMR",
        ops: SCMR,
    },
    SpecInterface {
        uuid: uuid("86d35949-83c9-4044-b424-db363231fd0c"),
        spec: "MS-TSCH",
        ops: TSCH,
    },
    SpecInterface {
        uuid: uuid("e3514235-4b06-11d1-ab04-00c04fc2dcd2"),
        spec: "MS-DRSR",
        ops: DRSR,
    },
    SpecInterface {
        uuid: uuid("9556dc99-828c-11cf-a37e-00aa003240c7"),
        spec: "MS-WMI",
        ops: WMI_SERVICES,
    },
    SpecInterface {
        uuid: uuid("000001a0-0000-0000-c000-000000000046"),
        spec: "MS-DCOM",
        ops: DCOM_ACTIVATOR,
    },
    SpecInterface {
        uuid: uuid("df1941c5-fe89-4e79-bf10-463657acf44d"),
        spec: "MS-EFSR",
        ops: EFSR,
    },
    SpecInterface {
        uuid: uuid("c681d488-d850-11d0-8c52-00c04fd90f7e"),
        spec: "MS-EFSR",
        ops: EFSR,
    },
    SpecInterface {
        uuid: uuid("484809d6-4239-471b-b5bc-61df8c23ac48"),
        spec: "MS-TSTS",
        ops: TERMSRV_SESSION,
    },
    SpecInterface {
        uuid: uuid("3dde7c30-165d-11d1-ab8f-00805f14db40"),
        spec: "MS-BKRP",
        ops: BKRP,
    },
    SpecInterface {
        uuid: uuid("12345678-1234-abcd-ef00-0123456789ab"),
        spec: "MS-RPRN",
        ops: RPRN_PARTIAL,
    },
];

/// The specification's name for `(uuid, opnum)`, whether or not it differs
/// from Zeek's.
pub(super) fn lookup(uuid: &Uuid, opnum: u16) -> Option<&'static str> {
    let iface = SPEC_INTERFACES.iter().find(|i| i.uuid == *uuid)?;
    let i = iface.ops.binary_search_by_key(&opnum, |&(n, _)| n).ok()?;
    Some(iface.ops[i].1)
}
