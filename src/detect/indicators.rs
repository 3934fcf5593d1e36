//! Built-in remote-execution indicator sets, as data.
//!
//! Each row names one call by its wire identity (interface UUID, opnum) and says which
//! published analytic it comes from, the ATT&CK technique that analytic gave it, and the
//! `endpoint::operation` string that analytic matched on. Matching is always on the wire
//! identity ([`matches`]), never on names: a call Zeek would name differently (or not at
//! all) is still found.
//!
//! `would_match_in_zeek` records whether the published string equals Zeek's rendering of
//! the call (the names in [`crate::names`]), i.e. whether the analytic as published could
//! ever have fired on that call. BZAR's `atsvc::JobAdd` is the case in point: Zeek names
//! atsvc opnum 0 `NetrJobAdd`, so no BZAR version ever caught an `at` job; those rows are
//! kept (with the intended opnum, MS-TSCH 3.2.5.2.1) and flagged `false`.
//!
//! Sets:
//! * `improved` (default): the Summiting-the-Pyramid analytic for `dce_rpc.log` with Zeek's
//!   actual names: atsvc NetrJobAdd, ITaskSchedulerService SchRpcRegisterTask / SchRpcRun /
//!   SchRpcEnableTask, IWbemServices ExecMethod / ExecMethodAsync, and every svcctl
//!   service-creation (CreateServiceW/A, CreateServiceWOW64A/W, CreateWowService) and start
//!   (StartServiceW/A) opnum.
//! * `bzar-2020`: BZAR from 2020-02-17 on (sub-technique ids as renamed 2020-10-11), which
//!   added the two WOW64 service-creation calls.
//! * `bzar-2019`: the first BZAR release (technique ids of the time: T1035, T1047, T1053).
//! * `all`: the union; a call matching several sets yields one row per set.
//!
//! Sources: `shared/reference/indicators.md` (BZAR commits cc217b8, bbcf6dd, 93d55de; STP
//! zeek_dce_rpc analytic), opnums from MS-SCMR, MS-TSCH and MS-WMI.

use std::fmt;
use std::str::FromStr;

/// Which built-in indicator set to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum IndicatorSet {
    /// The improved analytic (Zeek's real names, every svcctl create/start opnum).
    #[default]
    #[value(name = "improved")]
    Improved,
    /// BZAR as of 2020 (adds CreateServiceWOW64A/W).
    #[value(name = "bzar-2020")]
    Bzar2020,
    /// BZAR's first release (2019).
    #[value(name = "bzar-2019")]
    Bzar2019,
    /// Union of all sets.
    #[value(name = "all")]
    All,
}

impl IndicatorSet {
    /// The set's command-line name (also the `set` column of its rows).
    pub fn name(self) -> &'static str {
        match self {
            IndicatorSet::Improved => "improved",
            IndicatorSet::Bzar2020 => "bzar-2020",
            IndicatorSet::Bzar2019 => "bzar-2019",
            IndicatorSet::All => "all",
        }
    }

    /// Whether a row of set `row_set` belongs to this selection.
    pub fn includes(self, row_set: &str) -> bool {
        match self {
            IndicatorSet::All => true,
            s => s.name() == row_set,
        }
    }
}

impl fmt::Display for IndicatorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown indicator-set name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown indicator set {0:?} (expected improved, bzar-2020, bzar-2019 or all)")]
pub struct UnknownSet(pub String);

impl FromStr for IndicatorSet {
    type Err = UnknownSet;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "improved" => Ok(IndicatorSet::Improved),
            "bzar-2020" => Ok(IndicatorSet::Bzar2020),
            "bzar-2019" => Ok(IndicatorSet::Bzar2019),
            "all" => Ok(IndicatorSet::All),
            _ => Err(UnknownSet(s.to_string())),
        }
    }
}

/// One indicator: a call (UUID, opnum) and what a published analytic said about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indicator {
    /// `improved`, `bzar-2020` or `bzar-2019`.
    pub set: &'static str,
    /// ATT&CK technique id as that set used it (e.g. `T1053.002`, or 2019's `T1053`).
    pub technique: &'static str,
    /// ATT&CK tactic (lower case, as in Sigma tags).
    pub tactic: &'static str,
    pub technique_name: &'static str,
    /// Interface UUID, lower case.
    pub uuid: &'static str,
    pub opnum: u16,
    /// Zeek's endpoint name for the interface.
    pub endpoint: &'static str,
    /// The operation string the published version used.
    pub operation: &'static str,
    /// Whether `endpoint::operation` equals Zeek's rendering of this call.
    pub would_match_in_zeek: bool,
}

const SVCCTL: &str = "367abb81-9844-35f1-ad32-98f038001003";
const ATSVC: &str = "1ff70682-0a51-30e8-076d-740be8cee98b";
const TSCH: &str = "86d35949-83c9-4044-b424-db363231fd0c";
const WBEM: &str = "9556dc99-828c-11cf-a37e-00aa003240c7";

const EXEC: &str = "execution";

const N_SVC_EXEC: &str = "System Services: Service Execution";
const N_AT: &str = "Scheduled Task/Job: At";
const N_SCHTASK: &str = "Scheduled Task/Job: Scheduled Task";
const N_WMI: &str = "Windows Management Instrumentation";
/// ATT&CK names in 2019, before sub-techniques.
const N_SVC_EXEC_2019: &str = "Service Execution";
const N_SCHTASK_2019: &str = "Scheduled Task";

#[allow(clippy::too_many_arguments)]
const fn ind(
    set: &'static str,
    technique: &'static str,
    technique_name: &'static str,
    uuid: &'static str,
    opnum: u16,
    endpoint: &'static str,
    operation: &'static str,
    would_match_in_zeek: bool,
) -> Indicator {
    Indicator {
        set,
        technique,
        tactic: EXEC,
        technique_name,
        uuid,
        opnum,
        endpoint,
        operation,
        would_match_in_zeek,
    }
}

/// Every indicator of every set. Order: set, then technique as the source lists it.
pub static INDICATORS: &[Indicator] = &[
    // improved: the STP analytic with Zeek's names; svcctl patterns expanded to opnums.
    ind(
        "improved",
        "T1053.002",
        N_AT,
        ATSVC,
        0,
        "atsvc",
        "NetrJobAdd",
        true,
    ),
    ind(
        "improved",
        "T1053.005",
        N_SCHTASK,
        TSCH,
        1,
        "ITaskSchedulerService",
        "SchRpcRegisterTask",
        true,
    ),
    ind(
        "improved",
        "T1053.005",
        N_SCHTASK,
        TSCH,
        19,
        "ITaskSchedulerService",
        "SchRpcEnableTask",
        true,
    ),
    ind(
        "improved",
        "T1053.005",
        N_SCHTASK,
        TSCH,
        12,
        "ITaskSchedulerService",
        "SchRpcRun",
        true,
    ),
    ind(
        "improved",
        "T1047",
        N_WMI,
        WBEM,
        24,
        "IWbemServices",
        "ExecMethod",
        true,
    ),
    ind(
        "improved",
        "T1047",
        N_WMI,
        WBEM,
        25,
        "IWbemServices",
        "ExecMethodAsync",
        true,
    ),
    ind(
        "improved",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        60,
        "svcctl",
        "CreateWowService",
        true,
    ),
    ind(
        "improved",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        12,
        "svcctl",
        "CreateServiceW",
        true,
    ),
    ind(
        "improved",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        24,
        "svcctl",
        "CreateServiceA",
        true,
    ),
    ind(
        "improved",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        44,
        "svcctl",
        "CreateServiceWOW64A",
        true,
    ),
    ind(
        "improved",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        45,
        "svcctl",
        "CreateServiceWOW64W",
        true,
    ),
    ind(
        "improved",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        19,
        "svcctl",
        "StartServiceW",
        true,
    ),
    ind(
        "improved",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        31,
        "svcctl",
        "StartServiceA",
        true,
    ),
    // bzar-2020 (bbcf6dd, ids as of 93d55de).
    ind(
        "bzar-2020",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        45,
        "svcctl",
        "CreateServiceWOW64W",
        true,
    ),
    ind(
        "bzar-2020",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        44,
        "svcctl",
        "CreateServiceWOW64A",
        true,
    ),
    ind(
        "bzar-2020",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        12,
        "svcctl",
        "CreateServiceW",
        true,
    ),
    ind(
        "bzar-2020",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        24,
        "svcctl",
        "CreateServiceA",
        true,
    ),
    ind(
        "bzar-2020",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        19,
        "svcctl",
        "StartServiceW",
        true,
    ),
    ind(
        "bzar-2020",
        "T1569.002",
        N_SVC_EXEC,
        SVCCTL,
        31,
        "svcctl",
        "StartServiceA",
        true,
    ),
    ind(
        "bzar-2020",
        "T1047",
        N_WMI,
        WBEM,
        24,
        "IWbemServices",
        "ExecMethod",
        true,
    ),
    ind(
        "bzar-2020",
        "T1047",
        N_WMI,
        WBEM,
        25,
        "IWbemServices",
        "ExecMethodAsync",
        true,
    ),
    ind(
        "bzar-2020",
        "T1053.002",
        N_AT,
        ATSVC,
        0,
        "atsvc",
        "JobAdd",
        false,
    ),
    ind(
        "bzar-2020",
        "T1053.005",
        N_SCHTASK,
        TSCH,
        1,
        "ITaskSchedulerService",
        "SchRpcRegisterTask",
        true,
    ),
    ind(
        "bzar-2020",
        "T1053.005",
        N_SCHTASK,
        TSCH,
        12,
        "ITaskSchedulerService",
        "SchRpcRun",
        true,
    ),
    ind(
        "bzar-2020",
        "T1053.005",
        N_SCHTASK,
        TSCH,
        19,
        "ITaskSchedulerService",
        "SchRpcEnableTask",
        true,
    ),
    // bzar-2019 (cc217b8).
    ind(
        "bzar-2019",
        "T1035",
        N_SVC_EXEC_2019,
        SVCCTL,
        12,
        "svcctl",
        "CreateServiceW",
        true,
    ),
    ind(
        "bzar-2019",
        "T1035",
        N_SVC_EXEC_2019,
        SVCCTL,
        24,
        "svcctl",
        "CreateServiceA",
        true,
    ),
    ind(
        "bzar-2019",
        "T1035",
        N_SVC_EXEC_2019,
        SVCCTL,
        19,
        "svcctl",
        "StartServiceW",
        true,
    ),
    ind(
        "bzar-2019",
        "T1035",
        N_SVC_EXEC_2019,
        SVCCTL,
        31,
        "svcctl",
        "StartServiceA",
        true,
    ),
    ind(
        "bzar-2019",
        "T1047",
        N_WMI,
        WBEM,
        24,
        "IWbemServices",
        "ExecMethod",
        true,
    ),
    ind(
        "bzar-2019",
        "T1047",
        N_WMI,
        WBEM,
        25,
        "IWbemServices",
        "ExecMethodAsync",
        true,
    ),
    ind(
        "bzar-2019",
        "T1053",
        N_SCHTASK_2019,
        ATSVC,
        0,
        "atsvc",
        "JobAdd",
        false,
    ),
    ind(
        "bzar-2019",
        "T1053",
        N_SCHTASK_2019,
        TSCH,
        1,
        "ITaskSchedulerService",
        "SchRpcRegisterTask",
        true,
    ),
    ind(
        "bzar-2019",
        "T1053",
        N_SCHTASK_2019,
        TSCH,
        12,
        "ITaskSchedulerService",
        "SchRpcRun",
        true,
    ),
    ind(
        "bzar-2019",
        "T1053",
        N_SCHTASK_2019,
        TSCH,
        19,
        "ITaskSchedulerService",
        "SchRpcEnableTask",
        true,
    ),
];

/// The indicators of `set` that name the call (`uuid`, `opnum`). `uuid` is compared
/// case-insensitively. With [`IndicatorSet::All`], one row per set that covers the call.
pub fn matches(set: IndicatorSet, uuid: &str, opnum: u16) -> Vec<&'static Indicator> {
    INDICATORS
        .iter()
        .filter(|i| i.opnum == opnum && set.includes(i.set) && i.uuid.eq_ignore_ascii_case(uuid))
        .collect()
}

/// The rows of one set (or of all sets).
pub fn rows(set: IndicatorSet) -> impl Iterator<Item = &'static Indicator> {
    INDICATORS.iter().filter(move |i| set.includes(i.set))
}

/// The ATT&CK name of a technique id, if some built-in row carries it (used to name the
/// techniques found in Sigma tags). Prefers the current (sub-technique era) name.
pub fn technique_name(id: &str) -> Option<&'static str> {
    INDICATORS
        .iter()
        .find(|i| i.technique.eq_ignore_ascii_case(id))
        .map(|i| i.technique_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{self, Uuid};

    fn sets(v: &[&Indicator]) -> Vec<&'static str> {
        let mut s: Vec<_> = v.iter().map(|i| i.set).collect();
        s.sort_unstable();
        s
    }

    #[test]
    fn atsvc_job_add_in_every_set_but_unmatchable_in_bzar() {
        let m = matches(IndicatorSet::All, ATSVC, 0);
        assert_eq!(sets(&m), ["bzar-2019", "bzar-2020", "improved"]);
        for i in &m {
            assert_eq!(i.would_match_in_zeek, i.set == "improved", "{i:?}");
        }
        let imp = matches(IndicatorSet::Improved, ATSVC, 0);
        assert_eq!(imp.len(), 1);
        assert_eq!(imp[0].technique, "T1053.002");
        assert_eq!(imp[0].operation, "NetrJobAdd");
        let b19 = matches(IndicatorSet::Bzar2019, ATSVC, 0);
        assert_eq!(b19.len(), 1);
        assert_eq!(b19[0].technique, "T1053");
        assert_eq!(b19[0].operation, "JobAdd");
        // atsvc NetrJobDel (1) is in no set.
        assert!(matches(IndicatorSet::All, ATSVC, 1).is_empty());
    }

    #[test]
    fn uuid_case_insensitive() {
        let m = matches(
            IndicatorSet::Improved,
            "1FF70682-0A51-30E8-076D-740BE8CEE98B",
            0,
        );
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn wow64_and_wow_service() {
        let m = matches(IndicatorSet::All, SVCCTL, 45);
        assert_eq!(sets(&m), ["bzar-2020", "improved"]);
        assert!(matches(IndicatorSet::Bzar2019, SVCCTL, 45).is_empty());
        assert_eq!(matches(IndicatorSet::Bzar2020, SVCCTL, 44).len(), 1);
        let w = matches(IndicatorSet::All, SVCCTL, 60);
        assert_eq!(sets(&w), ["improved"]);
        assert_eq!(w[0].operation, "CreateWowService");
        // OpenSCManagerW (15) and OpenServiceW (16) are not execution.
        assert!(matches(IndicatorSet::All, SVCCTL, 15).is_empty());
        assert!(matches(IndicatorSet::All, SVCCTL, 16).is_empty());
    }

    #[test]
    fn task_scheduler_opnums() {
        for (op, name) in [
            (1, "SchRpcRegisterTask"),
            (12, "SchRpcRun"),
            (19, "SchRpcEnableTask"),
        ] {
            let m = matches(IndicatorSet::All, TSCH, op);
            assert_eq!(sets(&m), ["bzar-2019", "bzar-2020", "improved"], "{op}");
            assert!(m.iter().all(|i| i.operation == name));
        }
        // SchRpcGetNumberOfMissedRuns (18) is not an indicator.
        assert!(matches(IndicatorSet::All, TSCH, 18).is_empty());
    }

    /// `would_match_in_zeek` must agree with Zeek's names for every row.
    #[test]
    fn would_match_agrees_with_zeek_names() {
        for i in INDICATORS {
            let u = Uuid::parse(i.uuid).unwrap_or_else(|| panic!("bad uuid {}", i.uuid));
            assert_eq!(i.uuid, i.uuid.to_ascii_lowercase());
            assert_eq!(names::endpoint(&u), Some(i.endpoint), "{i:?}");
            let zeek_op = names::operation(&u, i.opnum);
            assert_eq!(
                zeek_op == Some(i.operation),
                i.would_match_in_zeek,
                "{i:?} vs zeek {zeek_op:?}"
            );
        }
    }

    #[test]
    fn set_sizes_and_uniqueness() {
        assert_eq!(rows(IndicatorSet::Improved).count(), 13);
        assert_eq!(rows(IndicatorSet::Bzar2020).count(), 12);
        assert_eq!(rows(IndicatorSet::Bzar2019).count(), 10);
        assert_eq!(rows(IndicatorSet::All).count(), INDICATORS.len());
        // Within a set, a call is named at most once.
        for (n, a) in INDICATORS.iter().enumerate() {
            for b in &INDICATORS[n + 1..] {
                assert!(
                    !(a.set == b.set && a.uuid == b.uuid && a.opnum == b.opnum),
                    "{a:?} duplicates {b:?}"
                );
            }
        }
    }

    #[test]
    fn set_names_parse() {
        for s in [
            IndicatorSet::Improved,
            IndicatorSet::Bzar2020,
            IndicatorSet::Bzar2019,
            IndicatorSet::All,
        ] {
            assert_eq!(s.name().parse::<IndicatorSet>(), Ok(s));
            assert_eq!(
                <IndicatorSet as clap::ValueEnum>::from_str(s.name(), false),
                Ok(s)
            );
        }
        assert!("bzar".parse::<IndicatorSet>().is_err());
        assert_eq!(IndicatorSet::default(), IndicatorSet::Improved);
    }

    #[test]
    fn technique_names() {
        assert_eq!(technique_name("t1047"), Some(N_WMI));
        assert_eq!(technique_name("T1569.002"), Some(N_SVC_EXEC));
        assert_eq!(technique_name("T9999"), None);
    }
}
