//! A small Sigma evaluator for the `zeek` / `dce_rpc` log source.
//!
//! Rules are read from YAML (one rule per YAML document) and evaluated on one call record
//! at a time, with Zeek's `dce_rpc.log` field names (`endpoint`, `operation`,
//! `named_pipe`, `id.orig_h`, `id.orig_p`, `id.resp_h`, `id.resp_p`, `uid`, `rtt`, `ts`)
//! plus rpcsift's own (`uuid`, `opnum`, `operation_spec`, `transport`, `smb_pipe`,
//! `status`); see [`fields`].
//!
//! # Why not an existing crate
//!
//! `rsigma-eval` was evaluated twice. The second time (issue 18, Rust 1.95 being this
//! project's toolchain): its releases 0.24 to 0.26 need Rust 1.96, so 0.23.0 is the newest
//! that builds here. It loads the four usable published Zeek rules and evaluates them
//! correctly on events with Zeek's field names. It was not adopted because it does not
//! pass this module's tests and would not save code:
//! * an unknown field is accepted and silently never matches (`nosuchfield: x` loads),
//!   which is the failure mode of the published BZAR/Sigma strings this project reports;
//!   rejecting it needs a pass of ours over every detection, field by field;
//! * the log source is not checked at load, and the encoding modifiers are accepted,
//!   where this command line must reject other log sources and name the construct;
//! * the old aggregation syntax (`selection | count(operation) by src_ip > 4`, the
//!   unsupported domain-user-enumeration rule) is reported as a generic grammar error
//!   ("expected EOI, or_op, or and_op"), not as an aggregation;
//! * its dependency tree is 72 crates (pest, stacker/psm compiling C with cc, chrono,
//!   flate2, ciborium, ahash, ...), against `regex` and `yaml-rust2` here.
//!   The checks above (file-by-file errors naming the construct, field and log-source
//!   validation) are most of this module's ~1,100 lines of code, so an adapter around
//!   rsigma-eval would be about as long. `sigma-rust` (0.7.0) is a single-maintainer crate
//!   still on thiserror 1 and strum 0.26, with no recent releases, and a downstream user
//!   moved away from it for missing modifiers. YAML is parsed with `yaml-rust2` (pure Rust,
//!   maintained, bounded recursion; `serde_yaml` is deprecated).
//!
//! # Supported
//!
//! * Search identifiers that are maps (all fields must match: AND), lists of maps (OR),
//!   and lists of plain values (keywords: any field contains the value).
//! * Field values: a scalar or a list (OR; AND with `|all`); `null` matches an unset field.
//! * Plain values match the whole field, case-insensitively, with `*` (any run) and `?`
//!   (one character) wildcards; `\*`, `\?` and `\\` escape them.
//! * Modifiers: `contains`, `startswith`, `endswith`, `all`, `cased`, `re` (with `i`, `m`,
//!   `s`; case-sensitive unless `i`, as Sigma specifies), `cidr`, `exists`, `lt`, `lte`,
//!   `gt`, `gte`.
//! * Conditions: identifiers, `and`, `or`, `not`, parentheses, `1 of X*`, `N of X*`,
//!   `any of X*`, `all of X*`, `1 of them`, `all of them` (`them` leaves out identifiers
//!   starting with `_`); a list of conditions is their OR.
//!
//! Everything else (aggregations with `|`, correlation rules, rule collections with
//! `action:`, the encoding modifiers `base64`, `base64offset`, `utf16*`, `wide`,
//! `windash`, `expand`, `fieldref`, unknown fields, other log sources) is rejected with a
//! [`SigmaError`] naming the file and the construct; the other rules still load.

use regex::{Regex, RegexBuilder};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// Field names a rule may use beyond Zeek's `dce_rpc.log` fields
/// ([`crate::output::ZEEK_FIELDS`]); see [`fields`].
pub const RPCSIFT_FIELDS: &[&str] = &[
    "uuid",
    "opnum",
    "operation_spec",
    "transport",
    "smb_pipe",
    "status",
];

/// Largest rule file read (bytes), largest compiled regex, deepest condition nesting.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// Every field name a rule may use: Zeek's, then rpcsift's.
pub fn fields() -> impl Iterator<Item = &'static str> {
    crate::output::ZEEK_FIELDS
        .iter()
        .chain(RPCSIFT_FIELDS)
        .copied()
}
const MAX_REGEX_BYTES: usize = 1 << 20;
const MAX_CONDITION_DEPTH: usize = 64;

/// A field value of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Float(f64),
    Addr(IpAddr),
}

impl Value<'_> {
    /// The text a string match sees (`None` for null).
    fn text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some((*s).to_string()),
            Value::Int(i) => Some(i.to_string()),
            // Zeek prints times and intervals with six decimals.
            Value::Float(f) => Some(format!("{f:.6}")),
            Value::Addr(a) => Some(a.to_string()),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Null | Value::Addr(_) => None,
        }
    }
}

/// One record as the evaluator sees it.
pub trait Event {
    /// The value of a field in [`fields`]; `Value::Null` when unset.
    fn get(&self, field: &str) -> Value<'_>;
}

/// Why a rule (or a whole file) was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigmaError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: not valid YAML: {message}")]
    Yaml { file: String, message: String },
    #[error("{file}: rule {rule}: unsupported: {construct}")]
    Unsupported {
        file: String,
        rule: String,
        construct: String,
    },
    #[error("{file}: rule {rule}: invalid: {message}")]
    Invalid {
        file: String,
        rule: String,
        message: String,
    },
    #[error("{file}: rule {rule}: log source {logsource} is not zeek / dce_rpc")]
    OtherLogSource {
        file: String,
        rule: String,
        logsource: String,
    },
}

/// A loaded rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `id`, or the title when the rule has none.
    pub id: String,
    pub title: String,
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// The file it came from.
    pub file: String,
    searches: Vec<(String, Search)>,
    condition: Cond,
}

impl Rule {
    /// Whether the rule matches the event.
    pub fn matches(&self, e: &dyn Event) -> bool {
        let mut cache: Vec<Option<bool>> = vec![None; self.searches.len()];
        self.condition.eval(e, &self.searches, &mut cache)
    }

    /// ATT&CK technique ids from the tags (`attack.t1053.002` → `T1053.002`).
    pub fn techniques(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tags {
            let l = t.to_ascii_lowercase();
            if let Some(rest) = l.strip_prefix("attack.t")
                && rest.chars().next().is_some_and(|c| c.is_ascii_digit())
                && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
            {
                let id = format!("T{rest}");
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        out
    }

    /// The first ATT&CK tactic tag (`attack.execution` → `execution`).
    pub fn tactic(&self) -> Option<String> {
        self.tags.iter().find_map(|t| {
            let l = t.to_ascii_lowercase();
            let rest = l.strip_prefix("attack.")?;
            let first = rest.chars().next()?;
            // t1234 = technique, g1234 = group, s1234 = software.
            let coded = matches!(first, 't' | 'g' | 's')
                && rest.len() > 1
                && rest[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
            (!coded).then(|| rest.to_string())
        })
    }
}

/// Rules loaded from some paths, and the reasons others were not.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    pub errors: Vec<SigmaError>,
    /// Rule files found (`.yml` / `.yaml`, recursing into directories).
    pub files: usize,
}

/// Load every rule in the given files and directories (directories are recursed for
/// `.yml` and `.yaml`, in name order). A path that does not exist is an [`SigmaError::Io`].
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut out = Loaded::default();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect_yaml(p, &mut files, &mut out.errors, 0);
        } else {
            files.push(p.clone());
        }
    }
    for f in files {
        out.files += 1;
        let name = f.display().to_string();
        match read_limited(&f) {
            Ok(text) => {
                for r in parse_rules(&text, &name) {
                    match r {
                        Ok(rule) => out.rules.push(rule),
                        Err(e) => out.errors.push(e),
                    }
                }
            }
            Err(message) => out.errors.push(SigmaError::Io {
                file: name,
                message,
            }),
        }
    }
    out
}

fn read_limited(p: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(p).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<SigmaError>, depth: u32) {
    if depth > 32 {
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(SigmaError::Io {
                file: dir.display().to_string(),
                message: e.to_string(),
            });
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_yaml(&p, files, errors, depth + 1);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
        {
            files.push(p);
        }
    }
}

/// Parse every YAML document of `text` as a rule. `file` names the source in errors.
pub fn parse_rules(text: &str, file: &str) -> Vec<Result<Rule, SigmaError>> {
    let docs = match YamlLoader::load_from_str(text) {
        Ok(d) => d,
        Err(e) => {
            return vec![Err(SigmaError::Yaml {
                file: file.to_string(),
                message: e.to_string(),
            })];
        }
    };
    docs.iter()
        .enumerate()
        .filter(|(_, d)| !matches!(d, Yaml::Null))
        .map(|(i, d)| parse_rule(d, file, i))
        .collect()
}

/// Builds errors for one rule.
struct Ctx<'a> {
    file: &'a str,
    rule: String,
}

impl Ctx<'_> {
    fn unsupported(&self, construct: impl Into<String>) -> SigmaError {
        SigmaError::Unsupported {
            file: self.file.to_string(),
            rule: self.rule.clone(),
            construct: construct.into(),
        }
    }
    fn invalid(&self, message: impl Into<String>) -> SigmaError {
        SigmaError::Invalid {
            file: self.file.to_string(),
            rule: self.rule.clone(),
            message: message.into(),
        }
    }
}

fn key<'a>(h: &'a yaml_rust2::yaml::Hash, k: &str) -> Option<&'a Yaml> {
    h.get(&Yaml::String(k.to_string()))
}

fn scalar_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_rule(doc: &Yaml, file: &str, index: usize) -> Result<Rule, SigmaError> {
    let Yaml::Hash(h) = doc else {
        return Err(SigmaError::Invalid {
            file: file.to_string(),
            rule: format!("#{}", index + 1),
            message: "YAML document is not a map".into(),
        });
    };
    let title = key(h, "title").and_then(scalar_text);
    let id = key(h, "id").and_then(scalar_text);
    let label = id
        .clone()
        .or_else(|| title.clone())
        .unwrap_or_else(|| format!("#{}", index + 1));
    let cx = Ctx { file, rule: label };
    if key(h, "action").is_some() {
        return Err(cx.unsupported("rule collection (`action:`)"));
    }
    if key(h, "correlation").is_some() {
        return Err(cx.unsupported("correlation rule (`correlation:`)"));
    }
    let title = title.ok_or_else(|| cx.invalid("no `title`"))?;
    check_logsource(h, &cx)?;
    let Some(Yaml::Hash(det)) = key(h, "detection") else {
        return Err(cx.invalid("no `detection` map"));
    };
    let mut searches = Vec::new();
    let mut condition_y = None;
    for (k, v) in det {
        let Yaml::String(name) = k else {
            return Err(cx.invalid("a detection key is not a string"));
        };
        if name == "condition" {
            condition_y = Some(v);
        } else if name == "timeframe" {
            return Err(cx.unsupported("`timeframe` (aggregation)"));
        } else {
            searches.push((name.clone(), parse_search(name, v, &cx)?));
        }
    }
    let condition_y = condition_y.ok_or_else(|| cx.invalid("no `condition`"))?;
    let names: Vec<&str> = searches.iter().map(|(n, _)| n.as_str()).collect();
    let condition = match condition_y {
        Yaml::String(s) => parse_condition(s, &names, &cx)?,
        Yaml::Array(list) => {
            let mut alts = Vec::new();
            for c in list {
                let Yaml::String(s) = c else {
                    return Err(cx.invalid("a condition in the list is not a string"));
                };
                alts.push(parse_condition(s, &names, &cx)?);
            }
            if alts.is_empty() {
                return Err(cx.invalid("empty condition list"));
            }
            Cond::Or(alts)
        }
        _ => return Err(cx.invalid("`condition` is not a string")),
    };
    let tags = match key(h, "tags") {
        Some(Yaml::Array(a)) => a.iter().filter_map(scalar_text).collect(),
        _ => Vec::new(),
    };
    Ok(Rule {
        id: id.unwrap_or_else(|| title.clone()),
        title,
        level: key(h, "level").and_then(scalar_text),
        tags,
        file: file.to_string(),
        searches,
        condition,
    })
}

fn check_logsource(h: &yaml_rust2::yaml::Hash, cx: &Ctx) -> Result<(), SigmaError> {
    let Some(Yaml::Hash(ls)) = key(h, "logsource") else {
        return Err(cx.invalid("no `logsource` map"));
    };
    let get = |k: &str| key(ls, k).and_then(scalar_text);
    let product = get("product");
    let service = get("service");
    let ok = product
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("zeek"))
        && service
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("dce_rpc"));
    if ok {
        Ok(())
    } else {
        let show = |o: Option<String>| o.unwrap_or_else(|| "-".into());
        Err(SigmaError::OtherLogSource {
            file: cx.file.to_string(),
            rule: cx.rule.clone(),
            logsource: format!(
                "product {} / service {} / category {}",
                show(product),
                show(service),
                show(get("category"))
            ),
        })
    }
}

/// One search identifier's body.
#[derive(Debug, Clone)]
enum Search {
    /// OR of AND-maps (a single map is a one-element list).
    Maps(Vec<Vec<FieldCond>>),
    /// Any field contains any keyword.
    Keywords(Vec<Matcher>),
}

#[derive(Debug, Clone)]
struct FieldCond {
    field: String,
    matchers: Vec<Matcher>,
    /// All values must match (`|all`) instead of any.
    all: bool,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// Field unset.
    Null,
    /// Wildcard pattern; `lower` = compare lower-cased text.
    Glob {
        pat: Vec<GlobTok>,
        lower: bool,
    },
    Regex(Regex),
    Cidr {
        net: IpAddr,
        bits: u8,
    },
    Exists(bool),
    Cmp {
        op: CmpOp,
        value: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GlobTok {
    Lit(char),
    One,
    Any,
}

fn parse_search(name: &str, v: &Yaml, cx: &Ctx) -> Result<Search, SigmaError> {
    match v {
        Yaml::Hash(m) => Ok(Search::Maps(vec![parse_map(name, m, cx)?])),
        Yaml::Array(items) if items.is_empty() => {
            Err(cx.invalid(format!("search `{name}` is an empty list")))
        }
        Yaml::Array(items) if items.iter().all(|i| matches!(i, Yaml::Hash(_))) => {
            let mut maps = Vec::new();
            for i in items {
                if let Yaml::Hash(m) = i {
                    maps.push(parse_map(name, m, cx)?);
                }
            }
            Ok(Search::Maps(maps))
        }
        Yaml::Array(items) => {
            let mut ms = Vec::new();
            for i in items {
                let Some(t) = scalar_text(i) else {
                    return Err(cx.invalid(format!(
                        "search `{name}` mixes maps and plain values in one list"
                    )));
                };
                ms.push(Matcher::Glob {
                    pat: wrap_any(parse_glob(&t, true)),
                    lower: true,
                });
            }
            Ok(Search::Keywords(ms))
        }
        _ => Err(cx.invalid(format!("search `{name}` is neither a map nor a list"))),
    }
}

fn wrap_any(mut p: Vec<GlobTok>) -> Vec<GlobTok> {
    p.insert(0, GlobTok::Any);
    p.push(GlobTok::Any);
    p
}

fn parse_map(
    name: &str,
    m: &yaml_rust2::yaml::Hash,
    cx: &Ctx,
) -> Result<Vec<FieldCond>, SigmaError> {
    let mut out = Vec::new();
    for (k, v) in m {
        let Some(k) = scalar_text(k) else {
            return Err(cx.invalid(format!("search `{name}` has a non-string key")));
        };
        out.push(parse_field(name, &k, v, cx)?);
    }
    Ok(out)
}

#[derive(Default)]
struct Mods {
    contains: bool,
    startswith: bool,
    endswith: bool,
    all: bool,
    cased: bool,
    re: bool,
    re_i: bool,
    re_m: bool,
    re_s: bool,
    cidr: bool,
    exists: bool,
    cmp: Option<CmpOp>,
}

fn parse_field(search: &str, key: &str, v: &Yaml, cx: &Ctx) -> Result<FieldCond, SigmaError> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default().to_string();
    if field.is_empty() {
        return Err(cx.unsupported(format!(
            "keyword search with modifiers (`{key}` in `{search}`)"
        )));
    }
    if !fields().any(|f| f == field) {
        let known: Vec<&str> = fields().collect();
        return Err(cx.unsupported(format!(
            "field `{field}` (in `{search}`): not a zeek dce_rpc field; known: {}",
            known.join(", ")
        )));
    }
    let mut m = Mods::default();
    for md in parts {
        match md {
            "contains" => m.contains = true,
            "startswith" => m.startswith = true,
            "endswith" => m.endswith = true,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "re" => m.re = true,
            "i" if m.re => m.re_i = true,
            "m" if m.re => m.re_m = true,
            "s" if m.re => m.re_s = true,
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "lt" => m.cmp = Some(CmpOp::Lt),
            "lte" => m.cmp = Some(CmpOp::Lte),
            "gt" => m.cmp = Some(CmpOp::Gt),
            "gte" => m.cmp = Some(CmpOp::Gte),
            other => {
                return Err(cx.unsupported(format!(
                    "modifier `{other}` (field `{field}` in `{search}`)"
                )));
            }
        }
    }
    let string_mods = m.contains as u8 + m.startswith as u8 + m.endswith as u8;
    let kinds = (string_mods > 0 || m.cased) as u8
        + m.re as u8
        + m.cidr as u8
        + m.exists as u8
        + m.cmp.is_some() as u8;
    if kinds > 1 || string_mods > 1 {
        return Err(cx.unsupported(format!("combination of modifiers `{key}` (in `{search}`)")));
    }
    let values: Vec<&Yaml> = match v {
        Yaml::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    if values.is_empty() {
        return Err(cx.invalid(format!("field `{key}` in `{search}` has an empty list")));
    }
    let mut matchers = Vec::new();
    for val in values {
        matchers.push(value_matcher(search, key, &m, val, cx)?);
    }
    Ok(FieldCond {
        field,
        matchers,
        all: m.all,
    })
}

fn value_matcher(
    search: &str,
    key: &str,
    m: &Mods,
    val: &Yaml,
    cx: &Ctx,
) -> Result<Matcher, SigmaError> {
    let what = || format!("`{key}` in `{search}`");
    if m.exists {
        return match val {
            Yaml::Boolean(b) => Ok(Matcher::Exists(*b)),
            _ => Err(cx.invalid(format!("{}: `exists` needs true or false", what()))),
        };
    }
    if matches!(val, Yaml::Null) {
        return Ok(Matcher::Null);
    }
    let Some(text) = scalar_text(val) else {
        return Err(cx.invalid(format!("{}: value is not a scalar", what())));
    };
    if let Some(op) = m.cmp {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| cx.invalid(format!("{}: `{text}` is not a number", what())))?;
        return Ok(Matcher::Cmp { op, value });
    }
    if m.re {
        let re = RegexBuilder::new(&text)
            .case_insensitive(m.re_i)
            .multi_line(m.re_m)
            .dot_matches_new_line(m.re_s)
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .map_err(|e| cx.invalid(format!("{}: bad regular expression: {e}", what())))?;
        return Ok(Matcher::Regex(re));
    }
    if m.cidr {
        return parse_cidr(&text)
            .map(|(net, bits)| Matcher::Cidr { net, bits })
            .ok_or_else(|| cx.invalid(format!("{}: `{text}` is not a CIDR block", what())));
    }
    let lower = !m.cased;
    let mut pat = parse_glob(&text, lower);
    if m.contains || m.endswith {
        pat.insert(0, GlobTok::Any);
    }
    if m.contains || m.startswith {
        pat.push(GlobTok::Any);
    }
    Ok(Matcher::Glob { pat, lower })
}

/// Sigma's wildcard syntax: `*`, `?`, and `\` escaping `*`, `?` and itself.
fn parse_glob(s: &str, lower: bool) -> Vec<GlobTok> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.chars().peekable();
    let lit = |out: &mut Vec<GlobTok>, c: char| {
        if lower {
            out.extend(c.to_lowercase().map(GlobTok::Lit));
        } else {
            out.push(GlobTok::Lit(c));
        }
    };
    while let Some(c) = it.next() {
        match c {
            '*' => out.push(GlobTok::Any),
            '?' => out.push(GlobTok::One),
            '\\' => match it.peek() {
                Some(&n) if n == '*' || n == '?' || n == '\\' => {
                    it.next();
                    lit(&mut out, n);
                }
                _ => lit(&mut out, '\\'),
            },
            c => lit(&mut out, c),
        }
    }
    out
}

/// Glob match with single-star backtracking: O(len(text) * len(pattern)) worst case.
fn glob_match(pat: &[GlobTok], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(GlobTok::Any) => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(GlobTok::One) => {
                p += 1;
                t += 1;
                continue;
            }
            Some(GlobTok::Lit(c)) if text.get(t) == Some(c) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pat.get(p..)
        .is_some_and(|rest| rest.iter().all(|x| *x == GlobTok::Any))
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, b) = match s.trim().split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s.trim(), None),
    };
    let net: IpAddr = a.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    let bits = match b {
        Some(b) => b.parse::<u8>().ok()?,
        None => max,
    };
    (bits <= max).then_some((net, bits))
}

fn in_cidr(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, n, width): (u128, u128, u32) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        (IpAddr::V6(a), IpAddr::V4(n)) => match a.to_ipv4_mapped() {
            Some(a4) => (u32::from(a4) as u128, u32::from(n) as u128, 32),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let bits = u32::from(bits).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (n >> shift)
}

impl Matcher {
    fn eval(&self, v: &Value) -> bool {
        match self {
            Matcher::Null => matches!(v, Value::Null),
            Matcher::Exists(b) => !matches!(v, Value::Null) == *b,
            Matcher::Glob { pat, lower } => v.text().is_some_and(|t| {
                let chars: Vec<char> = if *lower {
                    t.chars().flat_map(char::to_lowercase).collect()
                } else {
                    t.chars().collect()
                };
                glob_match(pat, &chars)
            }),
            Matcher::Regex(re) => v.text().is_some_and(|t| re.is_match(&t)),
            Matcher::Cidr { net, bits } => match v {
                Value::Addr(a) => in_cidr(*a, *net, *bits),
                Value::Str(s) => s.parse().is_ok_and(|a| in_cidr(a, *net, *bits)),
                _ => false,
            },
            Matcher::Cmp { op, value } => v.number().is_some_and(|x| match op {
                CmpOp::Lt => x < *value,
                CmpOp::Lte => x <= *value,
                CmpOp::Gt => x > *value,
                CmpOp::Gte => x >= *value,
            }),
        }
    }
}

impl Search {
    fn eval(&self, e: &dyn Event) -> bool {
        match self {
            Search::Maps(maps) => maps.iter().any(|conds| {
                conds.iter().all(|c| {
                    let v = e.get(&c.field);
                    if c.all {
                        c.matchers.iter().all(|m| m.eval(&v))
                    } else {
                        c.matchers.iter().any(|m| m.eval(&v))
                    }
                })
            }),
            Search::Keywords(ms) => fields().any(|f| {
                let v = e.get(f);
                ms.iter().any(|m| m.eval(&v))
            }),
        }
    }
}

/// A parsed condition; identifiers are indexes into the rule's searches.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Id(usize),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// At least `n` of the searches match.
    AtLeast(usize, Vec<usize>),
    /// All of the searches match.
    AllOf(Vec<usize>),
}

impl Cond {
    fn eval(
        &self,
        e: &dyn Event,
        searches: &[(String, Search)],
        cache: &mut [Option<bool>],
    ) -> bool {
        let one = |i: usize, cache: &mut [Option<bool>]| -> bool {
            if let Some(Some(b)) = cache.get(i) {
                return *b;
            }
            let b = searches.get(i).is_some_and(|(_, s)| s.eval(e));
            if let Some(slot) = cache.get_mut(i) {
                *slot = Some(b);
            }
            b
        };
        match self {
            Cond::Id(i) => one(*i, cache),
            Cond::And(v) => v.iter().all(|c| c.eval(e, searches, cache)),
            Cond::Or(v) => v.iter().any(|c| c.eval(e, searches, cache)),
            Cond::Not(c) => !c.eval(e, searches, cache),
            Cond::AtLeast(n, ids) => {
                let mut hits = 0;
                for &i in ids {
                    if one(i, cache) {
                        hits += 1;
                        if hits >= *n {
                            return true;
                        }
                    }
                }
                false
            }
            Cond::AllOf(ids) => ids.iter().all(|&i| one(i, cache)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
}

fn tokenize(s: &str, cx: &Ctx) -> Result<Vec<Tok>, SigmaError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Tok>| {
        if !cur.is_empty() {
            out.push(Tok::Word(std::mem::take(cur)));
        }
    };
    for c in s.chars() {
        match c {
            '(' => {
                flush(&mut cur, &mut out);
                out.push(Tok::LParen);
            }
            ')' => {
                flush(&mut cur, &mut out);
                out.push(Tok::RParen);
            }
            '|' => {
                return Err(cx.unsupported(format!("aggregation in condition `{s}`")));
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*') => cur.push(c),
            c => {
                return Err(cx.invalid(format!("character `{c}` in condition `{s}`")));
            }
        }
    }
    flush(&mut cur, &mut out);
    Ok(out)
}

struct CondParser<'a, 'c> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [&'a str],
    cx: &'a Ctx<'c>,
    text: &'a str,
    depth: usize,
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn parse_condition(s: &str, names: &[&str], cx: &Ctx) -> Result<Cond, SigmaError> {
    let toks = tokenize(s, cx)?;
    if toks.is_empty() {
        return Err(cx.invalid("empty condition"));
    }
    let mut p = CondParser {
        toks,
        pos: 0,
        names,
        cx,
        text: s,
        depth: 0,
    };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(p.err_at("unexpected token"));
    }
    Ok(c)
}

impl CondParser<'_, '_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn err_at(&self, what: &str) -> SigmaError {
        let at = match self.peek() {
            Some(Tok::Word(w)) => format!("`{w}`"),
            Some(Tok::LParen) => "`(`".into(),
            Some(Tok::RParen) => "`)`".into(),
            None => "end".into(),
        };
        self.cx
            .invalid(format!("condition `{}`: {what} at {at}", self.text))
    }

    fn enter(&mut self) -> Result<(), SigmaError> {
        self.depth += 1;
        if self.depth > MAX_CONDITION_DEPTH {
            return Err(self.cx.unsupported(format!(
                "condition nested deeper than {MAX_CONDITION_DEPTH}"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Cond, SigmaError> {
        self.enter()?;
        let mut v = vec![self.and()?];
        while is_kw(self.peek(), "or") {
            self.pos += 1;
            v.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Cond::Or(v)
        })
    }

    fn and(&mut self) -> Result<Cond, SigmaError> {
        let mut v = vec![self.unary()?];
        while is_kw(self.peek(), "and") {
            self.pos += 1;
            v.push(self.unary()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Cond::And(v)
        })
    }

    fn unary(&mut self) -> Result<Cond, SigmaError> {
        if is_kw(self.peek(), "not") {
            self.pos += 1;
            self.enter()?;
            let c = self.unary()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(c)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, SigmaError> {
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let c = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err_at("expected `)`"));
                }
                self.pos += 1;
                Ok(c)
            }
            Some(Tok::Word(w)) => {
                if is_kw(self.toks.get(self.pos + 1), "of") {
                    self.pos += 2;
                    let Some(Tok::Word(target)) = self.peek().cloned() else {
                        return Err(self.err_at("expected a name pattern or `them`"));
                    };
                    self.pos += 1;
                    let ids = self.resolve(&target)?;
                    let wl = w.to_ascii_lowercase();
                    return match wl.as_str() {
                        "all" => Ok(Cond::AllOf(ids)),
                        "any" => Ok(Cond::AtLeast(1, ids)),
                        n => match n.parse::<usize>() {
                            Ok(n) if n >= 1 => Ok(Cond::AtLeast(n, ids)),
                            _ => Err(self
                                .cx
                                .unsupported(format!("quantifier `{w} of` in `{}`", self.text))),
                        },
                    };
                }
                if ["and", "or", "not", "of"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(self.err_at("expected an identifier"));
                }
                match self.names.iter().position(|n| *n == w) {
                    Some(i) => {
                        self.pos += 1;
                        Ok(Cond::Id(i))
                    }
                    None => Err(self.cx.invalid(format!(
                        "condition `{}` names `{w}`, which is not a search identifier",
                        self.text
                    ))),
                }
            }
            _ => Err(self.err_at("expected an identifier or `(`")),
        }
    }

    fn resolve(&self, target: &str) -> Result<Vec<usize>, SigmaError> {
        let ids: Vec<usize> = if target.eq_ignore_ascii_case("them") {
            self.names
                .iter()
                .enumerate()
                .filter(|(_, n)| !n.starts_with('_'))
                .map(|(i, _)| i)
                .collect()
        } else {
            let pat = parse_glob(target, false);
            self.names
                .iter()
                .enumerate()
                .filter(|(_, n)| glob_match(&pat, &n.chars().collect::<Vec<_>>()))
                .map(|(i, _)| i)
                .collect()
        };
        if ids.is_empty() {
            return Err(self.cx.invalid(format!(
                "condition `{}`: `{target}` matches no search identifier",
                self.text
            )));
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Ev(HashMap<&'static str, Value<'static>>);

    impl Event for Ev {
        fn get(&self, field: &str) -> Value<'_> {
            self.0.get(field).copied().unwrap_or(Value::Null)
        }
    }

    fn ev(pairs: &[(&'static str, Value<'static>)]) -> Ev {
        Ev(pairs.iter().copied().collect())
    }

    fn svc_create() -> Ev {
        ev(&[
            ("endpoint", Value::Str("svcctl")),
            ("operation", Value::Str("CreateServiceW")),
            ("named_pipe", Value::Str("\\PIPE\\svcctl")),
            ("id.orig_h", Value::Addr("10.2.0.10".parse().unwrap())),
            ("id.resp_h", Value::Addr("10.2.0.5".parse().unwrap())),
            ("id.resp_p", Value::Int(49667)),
            ("rtt", Value::Float(0.014803)),
            ("uid", Value::Str("CAbc123")),
        ])
    }

    const HEAD: &str = "title: t\nid: r1\nlogsource:\n  product: zeek\n  service: dce_rpc\n";

    fn rule(detection: &str) -> Result<Rule, SigmaError> {
        let text = format!("{HEAD}detection:\n{detection}");
        let mut v = parse_rules(&text, "test.yml");
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    fn fires(detection: &str, e: &Ev) -> bool {
        match rule(detection) {
            Ok(r) => r.matches(e),
            Err(err) => panic!("rule did not load: {err}"),
        }
    }

    #[test]
    fn map_is_and_list_is_or_case_insensitive() {
        let e = svc_create();
        assert!(fires(
            "  s:\n    endpoint: SVCCTL\n    operation:\n      - startservicew\n      - createservicew\n  condition: s\n",
            &e
        ));
        assert!(!fires(
            "  s:\n    endpoint: svcctl\n    operation: StartServiceW\n  condition: s\n",
            &e
        ));
        // List of maps: OR.
        assert!(fires(
            "  s:\n    - endpoint: atsvc\n    - operation: CreateServiceW\n  condition: s\n",
            &e
        ));
        // `cased`: exact case only.
        assert!(!fires(
            "  s:\n    endpoint|cased: SVCCTL\n  condition: s\n",
            &e
        ));
        assert!(fires(
            "  s:\n    endpoint|cased: svcctl\n  condition: s\n",
            &e
        ));
    }

    #[test]
    fn wildcards_and_escapes() {
        let e = svc_create();
        for (pat, want) in [
            ("Create*", true),
            ("*Service?", true),
            ("Create?ervice*", true),
            ("CreateService", false),
            ("*Start*", false),
            ("Create\\*", false),
        ] {
            let d = format!("  s:\n    operation: '{pat}'\n  condition: s\n");
            assert_eq!(fires(&d, &e), want, "{pat}");
        }
        assert_eq!(parse_glob("a\\*b", false), {
            use GlobTok::Lit;
            vec![Lit('a'), Lit('*'), Lit('b')]
        });
        assert_eq!(
            parse_glob("\\\\?", false),
            vec![GlobTok::Lit('\\'), GlobTok::One]
        );
        assert_eq!(
            parse_glob("\\x", false),
            vec![GlobTok::Lit('\\'), GlobTok::Lit('x')]
        );
        // Backslash in the field value.
        assert!(fires(
            "  s:\n    named_pipe: '\\PIPE\\svcctl'\n  condition: s\n",
            &e
        ));
        assert!(fires(
            "  s:\n    named_pipe: '*\\\\svcctl'\n  condition: s\n",
            &e
        ));
    }

    #[test]
    fn glob_matcher() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        let p = |s: &str| parse_glob(s, false);
        assert!(glob_match(&p("*"), &c("")));
        assert!(glob_match(&p(""), &c("")));
        assert!(!glob_match(&p("?"), &c("")));
        assert!(glob_match(&p("a*b*c"), &c("axxbyyc")));
        assert!(!glob_match(&p("a*b*c"), &c("axxbyy")));
        assert!(glob_match(&p("*ab"), &c("aab")));
        assert!(glob_match(&p("**a"), &c("ba")));
    }

    #[test]
    fn string_modifiers() {
        let e = svc_create();
        let t = |m: &str, v: &str| {
            fires(
                &format!("  s:\n    operation|{m}: '{v}'\n  condition: s\n"),
                &e,
            )
        };
        assert!(t("contains", "servicew"));
        assert!(!t("contains", "startservice"));
        assert!(t("startswith", "create"));
        assert!(!t("startswith", "service"));
        assert!(t("endswith", "ServiceW"));
        assert!(!t("endswith", "Create"));
        assert!(fires(
            "  s:\n    operation|contains|all:\n      - create\n      - service\n  condition: s\n",
            &e
        ));
        assert!(!fires(
            "  s:\n    operation|contains|all:\n      - create\n      - start\n  condition: s\n",
            &e
        ));
    }

    #[test]
    fn regex_cidr_numbers_exists_null() {
        let e = svc_create();
        assert!(fires(
            "  s:\n    operation|re: '^Create(Service|WowService)'\n  condition: s\n",
            &e
        ));
        // `re` is case-sensitive unless `i`.
        assert!(!fires(
            "  s:\n    operation|re: '^createservice'\n  condition: s\n",
            &e
        ));
        assert!(fires(
            "  s:\n    operation|re|i: '^createservice'\n  condition: s\n",
            &e
        ));
        assert!(fires(
            "  s:\n    id.resp_h|cidr: 10.2.0.0/16\n  condition: s\n",
            &e
        ));
        assert!(!fires(
            "  s:\n    id.resp_h|cidr:\n      - 10.3.0.0/16\n      - 192.168.0.0/16\n  condition: s\n",
            &e
        ));
        assert!(fires(
            "  s:\n    id.orig_h|cidr: 10.2.0.10\n  condition: s\n",
            &e
        ));
        assert!(fires("  s:\n    id.resp_p: 49667\n  condition: s\n", &e));
        assert!(fires(
            "  s:\n    id.resp_p|gte: 49152\n  condition: s\n",
            &e
        ));
        assert!(!fires("  s:\n    rtt|gt: 0.5\n  condition: s\n", &e));
        assert!(fires("  s:\n    rtt: '0.0148*'\n  condition: s\n", &e));
        assert!(fires("  s:\n    smb_pipe: null\n  condition: s\n", &e));
        assert!(!fires("  s:\n    endpoint: null\n  condition: s\n", &e));
        assert!(fires(
            "  s:\n    smb_pipe|exists: false\n  condition: s\n",
            &e
        ));
        assert!(fires(
            "  s:\n    endpoint|exists: true\n  condition: s\n",
            &e
        ));
    }

    #[test]
    fn cidr_math() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_cidr(a("10.1.2.3"), a("10.0.0.0"), 8));
        assert!(!in_cidr(a("11.1.2.3"), a("10.0.0.0"), 8));
        assert!(in_cidr(a("1.2.3.4"), a("0.0.0.0"), 0));
        assert!(in_cidr(a("fe80::1"), a("fe80::"), 10));
        assert!(in_cidr(a("::ffff:10.0.0.1"), a("10.0.0.0"), 24));
        assert!(!in_cidr(a("10.0.0.1"), a("fe80::"), 10));
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("nonsense"), None);
    }

    #[test]
    fn conditions() {
        let e = svc_create();
        let base = "  a:\n    endpoint: svcctl\n  b:\n    operation: StartServiceW\n  c_1:\n    id.resp_p: 49667\n  c_2:\n    id.resp_p: 135\n  _x:\n    uid: nope\n";
        let t = |cond: &str| fires(&format!("{base}  condition: {cond}\n"), &e);
        assert!(t("a and not b"));
        assert!(!t("a and b"));
        assert!(t("b or a"));
        assert!(t("not (a and b)"));
        assert!(!t("not a or b"));
        assert!(t("a and (b or c_1)"));
        assert!(t("1 of c_*"));
        assert!(!t("all of c_*"));
        assert!(t("any of c*"));
        assert!(t("2 of them"));
        assert!(!t("3 of them"));
        assert!(!t("all of them"));
        // `them` leaves out `_x`, so `all of them` fails only on b and c_2.
        assert!(t("all of them or not _x"));
        assert!(t("a AND NOT b"));
        // A list of conditions is their OR.
        assert!(fires(
            &format!("{base}  condition:\n    - b\n    - a\n"),
            &e
        ));
    }

    #[test]
    fn condition_errors() {
        let base = "  a:\n    endpoint: svcctl\n";
        let err = |cond: &str| rule(&format!("{base}  condition: {cond}\n")).unwrap_err();
        assert!(matches!(
            err("a | count() > 4"),
            SigmaError::Unsupported { .. }
        ));
        assert!(matches!(err("b"), SigmaError::Invalid { .. }));
        assert!(matches!(err("1 of z*"), SigmaError::Invalid { .. }));
        assert!(matches!(err("a and"), SigmaError::Invalid { .. }));
        assert!(matches!(err("(a"), SigmaError::Invalid { .. }));
        assert!(matches!(err("a a"), SigmaError::Invalid { .. }));
        assert!(matches!(err("0 of them"), SigmaError::Unsupported { .. }));
        let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        assert!(matches!(err(&deep), SigmaError::Unsupported { .. }));
        let nots = format!("{}a", "not ".repeat(200));
        assert!(matches!(err(&nots), SigmaError::Unsupported { .. }));
    }

    #[test]
    fn unsupported_constructs_name_file_and_construct() {
        let e =
            rule("  s:\n    operation|base64offset|contains: abc\n  condition: s\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("test.yml"), "{msg}");
        assert!(msg.contains("base64offset"), "{msg}");
        assert!(msg.contains("r1"), "{msg}");
        let e = rule("  s:\n    CommandLine: x\n  condition: s\n").unwrap_err();
        assert!(e.to_string().contains("CommandLine"), "{e}");
        let e = rule("  s:\n    operation: x\n  timeframe: 30s\n  condition: s\n").unwrap_err();
        assert!(e.to_string().contains("timeframe"), "{e}");
        let e = rule("  s:\n    operation|re: '('\n  condition: s\n").unwrap_err();
        assert!(matches!(e, SigmaError::Invalid { .. }), "{e}");
    }

    #[test]
    fn other_logsource_and_collections() {
        let text = "title: w\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  s:\n    Image: x\n  condition: s\n---\ntitle: ok\nlogsource:\n  product: zeek\n  service: dce_rpc\ndetection:\n  s:\n    endpoint: svcctl\n  condition: s\n---\naction: global\ntitle: g\n";
        let v = parse_rules(text, "multi.yml");
        assert_eq!(v.len(), 3);
        assert!(matches!(v[0], Err(SigmaError::OtherLogSource { .. })));
        let ok = v[1].as_ref().expect("second rule loads");
        assert_eq!(ok.id, "ok");
        assert!(ok.matches(&svc_create()));
        assert!(matches!(v[2], Err(SigmaError::Unsupported { .. })));
        assert!(matches!(
            parse_rules("a: [", "bad.yml").as_slice(),
            [Err(SigmaError::Yaml { .. })]
        ));
    }

    #[test]
    fn keywords() {
        let e = svc_create();
        assert!(fires("  k:\n    - servicew\n  condition: k\n", &e));
        assert!(!fires("  k:\n    - psexesvc\n  condition: k\n", &e));
    }

    #[test]
    fn metadata() {
        let text = format!(
            "{HEAD}level: high\ntags:\n  - attack.execution\n  - attack.t1569.002\n  - attack.T1047\n  - attack.g0007\n  - car.2013-05-004\ndetection:\n  s:\n    endpoint: svcctl\n  condition: s\n"
        );
        let r = parse_rules(&text, "m.yml").remove(0).expect("loads");
        assert_eq!(r.id, "r1");
        assert_eq!(r.title, "t");
        assert_eq!(r.level.as_deref(), Some("high"));
        assert_eq!(r.techniques(), ["T1569.002", "T1047"]);
        assert_eq!(r.tactic().as_deref(), Some("execution"));
    }
}
