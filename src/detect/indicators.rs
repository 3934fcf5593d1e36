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

/// How much a hit is worth, on Sigma's scale (`informational` < `low` < `medium` < `high` <
/// `critical`). `--min-level` hides hits below it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return Err(format!("unknown level {s:?}")),
        })
    }
}

/// A selection of built-in indicator rows: any union of the named sets below, written on
/// the command line as `--indicators attack,bzar`. A bit set, so selections combine with
/// `|` and stay `Copy`.
///
/// * `improved`, `bzar-2020`, `bzar-2019`: the remote-execution sets (see the module docs).
/// * `attack`: every row of the rpcsift AD-attack set ([`super::rows::ROWS`], set
///   `attack`); the tactic names (`credential-access`, `lateral-movement`, `persistence`,
///   `privilege-escalation`, `defense-evasion`, `discovery`, `impact`, `execution`) select
///   that set's rows of one tactic.
/// * `bzar`: BZAR as published today (all 19 techniques, discovery included).
/// * `corelight`: the rows of Corelight's Zeek packages that look at DCE-RPC.
/// * `all`: every set.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndicatorSet(u32);

const B_IMPROVED: u32 = 1;
const B_BZAR2020: u32 = 1 << 1;
const B_BZAR2019: u32 = 1 << 2;
const B_BZAR: u32 = 1 << 3;
const B_CORELIGHT: u32 = 1 << 4;
/// One bit per ATT&CK tactic of the `attack` set, in [`TACTICS`] order.
const B_TACTIC0: u32 = 1 << 8;
const TACTIC_MASK: u32 = 0xff << 8;

/// The tactics of the `attack` set, as ATT&CK short names (the `tactic` of its rows).
pub const TACTICS: [&str; 8] = [
    "credential-access",
    "lateral-movement",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "discovery",
    "impact",
    "execution",
];

const fn tactic_bit(i: u32) -> u32 {
    B_TACTIC0 << i
}

#[allow(non_upper_case_globals)]
impl IndicatorSet {
    /// The improved remote-execution analytic (Zeek's real names, every svcctl
    /// create/start opnum).
    pub const Improved: IndicatorSet = IndicatorSet(B_IMPROVED);
    /// BZAR's execution strings as of 2020 (adds CreateServiceWOW64A/W).
    pub const Bzar2020: IndicatorSet = IndicatorSet(B_BZAR2020);
    /// BZAR's first release (2019).
    pub const Bzar2019: IndicatorSet = IndicatorSet(B_BZAR2019);
    /// Every AD-attack row rpcsift knows (47 techniques, all tactics).
    pub const Attack: IndicatorSet = IndicatorSet(TACTIC_MASK);
    /// BZAR as published (all its sets).
    pub const Bzar: IndicatorSet = IndicatorSet(B_BZAR);
    /// Corelight's DCE-RPC packages.
    pub const Corelight: IndicatorSet = IndicatorSet(B_CORELIGHT);
    pub const CredentialAccess: IndicatorSet = IndicatorSet(tactic_bit(0));
    pub const LateralMovement: IndicatorSet = IndicatorSet(tactic_bit(1));
    pub const Persistence: IndicatorSet = IndicatorSet(tactic_bit(2));
    pub const PrivilegeEscalation: IndicatorSet = IndicatorSet(tactic_bit(3));
    pub const DefenseEvasion: IndicatorSet = IndicatorSet(tactic_bit(4));
    pub const Discovery: IndicatorSet = IndicatorSet(tactic_bit(5));
    pub const Impact: IndicatorSet = IndicatorSet(tactic_bit(6));
    pub const Execution: IndicatorSet = IndicatorSet(tactic_bit(7));
    /// Union of all sets.
    pub const All: IndicatorSet =
        IndicatorSet(B_IMPROVED | B_BZAR2020 | B_BZAR2019 | B_BZAR | B_CORELIGHT | TACTIC_MASK);

    /// The named selections, as the command line spells them, with their help text.
    pub const NAMED: [(IndicatorSet, &'static str, &'static str); 15] = [
        (
            Self::Attack,
            "attack",
            "every AD attack rpcsift knows, all tactics (default)",
        ),
        (
            Self::Improved,
            "improved",
            "remote execution: the improved analytic",
        ),
        (
            Self::Bzar2020,
            "bzar-2020",
            "remote execution: BZAR as of 2020",
        ),
        (
            Self::Bzar2019,
            "bzar-2019",
            "remote execution: BZAR's first release",
        ),
        (Self::Bzar, "bzar", "BZAR as published, all 19 techniques"),
        (Self::Corelight, "corelight", "Corelight's DCE-RPC packages"),
        (
            Self::CredentialAccess,
            "credential-access",
            "attack rows of that tactic",
        ),
        (
            Self::LateralMovement,
            "lateral-movement",
            "attack rows of that tactic",
        ),
        (
            Self::Persistence,
            "persistence",
            "attack rows of that tactic",
        ),
        (
            Self::PrivilegeEscalation,
            "privilege-escalation",
            "attack rows of that tactic",
        ),
        (
            Self::DefenseEvasion,
            "defense-evasion",
            "attack rows of that tactic",
        ),
        (Self::Discovery, "discovery", "attack rows of that tactic"),
        (Self::Impact, "impact", "attack rows of that tactic"),
        (Self::Execution, "execution", "attack rows of that tactic"),
        (Self::All, "all", "every set"),
    ];

    /// The selection's command-line name, or `combined` for a union of several named
    /// sets (its [`fmt::Display`] lists them).
    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("combined", |(_, n, _)| *n)
    }

    /// The names the selection is made of, joined with commas (`attack` collects its
    /// tactics).
    pub fn names(self) -> String {
        if let Some((_, n, _)) = Self::NAMED.iter().find(|(s, _, _)| *s == self) {
            return (*n).to_string();
        }
        let mut rest = self.0;
        let mut parts = Vec::new();
        for (s, n, _) in Self::NAMED.iter().filter(|(s, _, _)| *s != Self::All) {
            if s.0 & rest == s.0 && s.0 != 0 {
                parts.push(*n);
                rest &= !s.0;
            }
        }
        parts.join(",")
    }

    /// Whether a row of the execution sets (`improved`, `bzar-2020`, `bzar-2019`) belongs
    /// to this selection.
    pub fn includes(self, row_set: &str) -> bool {
        let bit = match row_set {
            "improved" => B_IMPROVED,
            "bzar-2020" => B_BZAR2020,
            "bzar-2019" => B_BZAR2019,
            "bzar" => B_BZAR,
            "corelight" => B_CORELIGHT,
            "attack" => TACTIC_MASK,
            _ => 0,
        };
        self.0 & bit != 0
    }

    /// Whether a row of [`super::rows::ROWS`] belongs to this selection.
    pub fn includes_row(self, r: &Row) -> bool {
        match r.set {
            "attack" => TACTICS
                .iter()
                .position(|t| *t == r.tactic)
                .is_some_and(|i| self.0 & tactic_bit(i as u32) != 0),
            other => self.includes(other),
        }
    }

    /// True when the selection includes any row of the execution sets.
    pub fn has_execution_sets(self) -> bool {
        self.0 & (B_IMPROVED | B_BZAR2020 | B_BZAR2019) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Default for IndicatorSet {
    /// `attack`: every AD attack (issue 18 made it the default; it was `improved`).
    fn default() -> Self {
        IndicatorSet::Attack
    }
}

impl std::ops::BitOr for IndicatorSet {
    type Output = IndicatorSet;
    fn bitor(self, o: IndicatorSet) -> IndicatorSet {
        IndicatorSet(self.0 | o.0)
    }
}

impl fmt::Debug for IndicatorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndicatorSet({})", self.names())
    }
}

impl fmt::Display for IndicatorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names())
    }
}

impl clap::ValueEnum for IndicatorSet {
    fn value_variants<'a>() -> &'a [Self] {
        const V: [IndicatorSet; 15] = {
            let mut v = [IndicatorSet(0); 15];
            let mut i = 0;
            while i < 15 {
                v[i] = IndicatorSet::NAMED[i].0;
                i += 1;
            }
            v
        };
        &V
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Self::NAMED
            .iter()
            .find(|(s, _, _)| s == self)
            .map(|(_, n, h)| clap::builder::PossibleValue::new(*n).help(*h))
    }
}

/// Error for an unknown indicator-set name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown indicator set {0:?} (expected attack, improved, bzar-2020, bzar-2019, bzar, corelight, a tactic name or all, comma-separated)"
)]
pub struct UnknownSet(pub String);

impl FromStr for IndicatorSet {
    type Err = UnknownSet;
    /// One name, or several separated by commas (their union).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = IndicatorSet(0);
        for part in s.split(',') {
            let p = part.trim().to_ascii_lowercase();
            let Some((set, _, _)) = Self::NAMED.iter().find(|(_, n, _)| *n == p) else {
                return Err(UnknownSet(s.to_string()));
            };
            out = out | *set;
        }
        Ok(out)
    }
}

/// The opnums of a row: a list, or every opnum of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opnums {
    List(&'static [u16]),
    Any,
}

impl Opnums {
    pub fn contains(self, opnum: u16) -> bool {
        match self {
            Opnums::List(l) => l.contains(&opnum),
            Opnums::Any => true,
        }
    }
}

/// One row of the AD-attack sets ([`super::rows::ROWS`]): a technique on one interface, the
/// opnums that carry it, the level a header-only match is worth and the false-positive
/// context an analyst needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// `attack`, `bzar` or `corelight`.
    pub set: &'static str,
    pub technique: &'static str,
    /// ATT&CK tactic short name.
    pub tactic: &'static str,
    pub technique_name: &'static str,
    /// The interface as the reference table names it (Zeek's endpoint name).
    pub interface: &'static str,
    /// Interface UUID (lower case); None: any interface.
    pub uuid: Option<&'static str>,
    pub opnums: Opnums,
    /// False when the published analytic's `endpoint::operation` string can never match
    /// Zeek's name for these calls (the opnums are then the ones it meant).
    pub would_match_in_zeek: bool,
    /// What a match is worth before arguments and DC context are looked at.
    pub level: Level,
    /// The false-positive context of the row, in one sentence.
    pub context: &'static str,
}

/// The rows of `set` (from [`super::rows::ROWS`]) that name the call (`uuid`, `opnum`);
/// `uuid` is compared case-insensitively. A call can match several rows of one set (svcctl
/// CreateServiceW is both T1569.002 and T1543.003).
pub fn match_rows(
    set: IndicatorSet,
    uuid: &str,
    opnum: u16,
) -> impl Iterator<Item = &'static Row> + '_ {
    super::rows::ROWS.iter().filter(move |r| {
        r.opnums.contains(opnum)
            && r.uuid.is_none_or(|u| u.eq_ignore_ascii_case(uuid))
            && set.includes_row(r)
    })
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
        .or_else(|| {
            super::rows::ROWS
                .iter()
                .find(|r| r.set == "attack" && r.technique.eq_ignore_ascii_case(id))
                .map(|r| r.technique_name)
        })
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
        // Issue 18 added `bzar` (BZAR as published) and made `attack` the default.
        assert!("bzar-2021".parse::<IndicatorSet>().is_err());
        assert_eq!(IndicatorSet::default(), IndicatorSet::Attack);
    }

    #[test]
    fn selections_combine_with_commas() {
        for (s, _, _) in IndicatorSet::NAMED {
            assert_eq!(s.name().parse::<IndicatorSet>(), Ok(s));
            assert_eq!(s.names(), s.name());
        }
        let both: IndicatorSet = "attack,bzar".parse().expect("parses");
        assert_eq!(both, IndicatorSet::Attack | IndicatorSet::Bzar);
        assert_eq!(both.name(), "combined");
        assert_eq!(both.to_string(), "attack,bzar");
        let t: IndicatorSet = "credential-access, Lateral-Movement"
            .parse()
            .expect("parses");
        assert_eq!(t.to_string(), "credential-access,lateral-movement");
        // Every tactic together is `attack`.
        let every = TACTICS.join(",").parse::<IndicatorSet>().expect("parses");
        assert_eq!(every, IndicatorSet::Attack);
        assert_eq!(every.to_string(), "attack");
        assert!("attack,nope".parse::<IndicatorSet>().is_err());
        assert!("".parse::<IndicatorSet>().is_err());
        // A tactic selects only that tactic's attack rows.
        let drs = "e3514235-4b06-11d1-ab04-00c04fc2dcd2";
        let techs = |s: IndicatorSet, op| {
            match_rows(s, drs, op)
                .map(|r| (r.set, r.technique))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            techs(IndicatorSet::CredentialAccess, 3),
            [("attack", "T1003.006")]
        );
        assert_eq!(techs(IndicatorSet::Discovery, 3), []);
        assert_eq!(
            techs(IndicatorSet::All, 3),
            [("bzar", "T1003.006"), ("attack", "T1003.006")]
        );
        assert_eq!(
            techs(IndicatorSet::PrivilegeEscalation, 20),
            [("attack", "T1134.005")]
        );
        // The execution sets are not rows of ROWS.
        assert_eq!(techs(IndicatorSet::Improved, 3), []);
        assert!(IndicatorSet::All.has_execution_sets());
        assert!(!IndicatorSet::Attack.has_execution_sets());
    }

    #[test]
    fn level_order_and_names() {
        use Level::*;
        assert!(Informational < Low && Low < Medium && Medium < High && High < Critical);
        for l in [Informational, Low, Medium, High, Critical] {
            assert_eq!(l.as_str().parse::<Level>(), Ok(l));
            assert_eq!(serde_json::to_value(l).expect("json"), l.as_str());
        }
        assert_eq!("HIGH".parse::<Level>(), Ok(High));
        assert!("severe".parse::<Level>().is_err());
        assert_eq!(Level::default(), Medium);
    }

    /// Discovery rows are low unless an argument raises them; every attack row has a
    /// context note.
    #[test]
    fn row_levels_and_contexts() {
        let rows = super::super::rows::ROWS;
        assert_eq!(rows.iter().filter(|r| r.set == "attack").count(), 79);
        assert_eq!(rows.iter().filter(|r| r.set == "bzar").count(), 32);
        assert_eq!(rows.iter().filter(|r| r.set == "corelight").count(), 6);
        let techniques: std::collections::BTreeSet<_> = rows
            .iter()
            .filter(|r| r.set == "attack")
            .map(|r| r.technique)
            .collect();
        assert_eq!(techniques.len(), 47);
        for r in rows {
            assert!(!r.context.is_empty(), "{r:?}");
            assert!(TACTICS.contains(&r.tactic), "{r:?}");
            if r.tactic == "discovery" {
                assert_eq!(r.level, Level::Low, "{r:?}");
            }
            if let Some(u) = r.uuid {
                assert_eq!(u, u.to_ascii_lowercase());
                assert!(crate::names::Uuid::parse(u).is_some(), "{r:?}");
            }
        }
    }

    #[test]
    fn technique_names() {
        assert_eq!(technique_name("t1047"), Some(N_WMI));
        assert_eq!(technique_name("T1569.002"), Some(N_SVC_EXEC));
        assert_eq!(technique_name("T9999"), None);
    }
}
