//! How much an `attack` row's hit is worth: the row's header-only level, raised or
//! lowered by the decoded arguments (the listener host of a coercion, the hive a registry
//! save wrote, the naming context of a replication request, zero Netlogon credentials,
//! ...) and by who the client is (a domain controller or not). Every judgement says why
//! in the hit's `reason`; a call whose arguments could not be read keeps the row's level
//! and says so.

use super::Hit;
use super::indicators::{Level, Row};
use crate::args::{Args, drsr, lsad, samr};
use crate::output::Record;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A level and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub level: Level,
    pub reason: Option<String>,
}

fn j(level: Level, reason: impl Into<String>) -> Judgement {
    Judgement {
        level,
        reason: Some(reason.into()),
    }
}

/// Judge one `attack` row's match on one call. `h` is the hit being built (its DC facts
/// are filled in).
pub fn assess(row: &Row, r: &Record, h: &Hit) -> Judgement {
    let x = r.extra.as_deref();
    let args = x.and_then(|x| x.args.as_ref());
    let opnum = x.map_or(0, |x| x.opnum);
    match (args, judge(row, r, h, args, opnum)) {
        (_, Some(j)) => j,
        (None, None) => {
            let status = x.map_or("no_decoder", |x| x.args_status);
            Judgement {
                level: row.level,
                reason: Some(match status {
                    "no_decoder" => {
                        "judged on the call alone (its arguments are not decoded)".into()
                    }
                    "decoded" => "judged on the call alone".into(),
                    s => format!(
                        "arguments {}: judged on the call alone",
                        s.replace('_', " ")
                    ),
                }),
            }
        }
        (Some(_), None) => Judgement {
            level: row.level,
            reason: None,
        },
    }
}

/// The row-specific judgement; None: the row's level stands.
fn judge(row: &Row, r: &Record, h: &Hit, args: Option<&Args>, opnum: u16) -> Option<Judgement> {
    use Level::*;
    let client_dc = h.client_is_dc;
    let dcs = match h.dc_source {
        Some(s) => format!("({s} DCs)"),
        None => "(no DC known)".into(),
    };
    match (row.technique, row.interface) {
        ("T1569.002", _) => match args? {
            Args::Service(s) => Some(match s.action {
                "change_config" if s.binary_path.is_none() => {
                    j(Low, "ChangeServiceConfig without a new binary path")
                }
                "create" => j(High, "service created"),
                "start" => j(High, "service started"),
                "change_config" => j(High, "existing service repointed to a new binary"),
                _ => return None,
            }),
            _ => None,
        },
        ("T1543.003", _) => match args? {
            Args::Service(s) if matches!(s.action, "create" | "change_config") => {
                Some(match s.start_type {
                    Some(0..=2) => {
                        let bin = s
                            .binary_path
                            .as_deref()
                            .or(s.linked_binary_path.as_deref())
                            .unwrap_or_default();
                        if suspicious_binary(bin) {
                            j(High, format!("auto-start service running {bin}"))
                        } else {
                            j(Medium, "auto-start service")
                        }
                    }
                    Some(_) => j(Low, "service does not start automatically"),
                    None => j(Low, "start type unchanged"),
                })
            }
            _ => None,
        },
        ("T1053.002", _) => (opnum == 1).then(|| j(Low, "NetrJobDel: job cleanup")),
        ("T1053.005", "ITaskSchedulerService") => {
            (opnum == 13).then(|| j(Low, "SchRpcDelete: task cleanup"))
        }
        ("T1546.003", _) => match args? {
            Args::WmiOp(w) => {
                let text = format!(
                    "{} {}",
                    w.class.as_deref().unwrap_or_default(),
                    w.object_path.as_deref().unwrap_or_default()
                );
                let subs = [
                    "__EventFilter",
                    "CommandLineEventConsumer",
                    "ActiveScriptEventConsumer",
                    "__FilterToConsumerBinding",
                ];
                let hit = subs.iter().find(|c| contains_ci(&text, c));
                Some(match (w.action, hit) {
                    ("put_instance", Some(c)) => {
                        j(High, format!("permanent WMI subscription: {c}"))
                    }
                    ("delete_instance", Some(c)) => {
                        j(Medium, format!("WMI subscription removed: {c}"))
                    }
                    _ => j(Informational, "not a WMI event subscription class"),
                })
            }
            _ => None,
        },
        ("T1490", _) => match args? {
            Args::WmiOp(w) if w.action == "delete_instance" => Some(
                if w.object_path
                    .as_deref()
                    .is_some_and(|p| contains_ci(p, "Win32_ShadowCopy"))
                {
                    j(High, "shadow copy deleted over WMI")
                } else {
                    j(Informational, "not a shadow copy")
                },
            ),
            Args::Wmi(w) => Some(if contains_ci(&w.object_path, "Win32_ShadowCopy") {
                j(High, "method called on Win32_ShadowCopy")
            } else {
                j(Informational, "not a shadow copy")
            }),
            _ => None,
        },
        ("T1518.001", _) => match args? {
            Args::WmiOp(w) => {
                let q = w.query.as_deref().unwrap_or_default();
                Some(
                    if ["AntiVirusProduct", "FirewallProduct", "AntiSpywareProduct"]
                        .iter()
                        .any(|c| contains_ci(q, c))
                    {
                        j(Medium, "query for security products")
                    } else {
                        j(Low, "WMI query")
                    },
                )
            }
            _ => None,
        },
        ("T1047", "IWbemLevel1Login") => Some(j(Low, "WMI session start: context")),
        ("T1021.003", _) => match args {
            Some(Args::Activation(a)) => Some(match (a.lateral_movement_class, &a.clsid) {
                (true, Some(c)) => j(
                    High,
                    format!(
                        "lateral-movement class {} {{{c}}}",
                        a.clsid_name.unwrap_or("?")
                    ),
                ),
                (false, Some(c)) => j(
                    Informational,
                    format!(
                        "class {} is not a lateral-movement class",
                        a.clsid_name.unwrap_or(c)
                    ),
                ),
                _ => j(Low, format!("activation properties {}", a.properties)),
            }),
            Some(Args::Dispatch(d)) => {
                let on = d.object.as_ref().map(on_class).unwrap_or_default();
                let lm = d.object.as_ref().is_some_and(|o| o.lateral_movement_class);
                Some(match (d.suspicious.is_empty(), lm) {
                    (false, _) => j(
                        High,
                        format!("method names {}{on}", d.suspicious.join(", ")),
                    ),
                    (true, true) => j(Low, format!("no command-running method names{on}")),
                    (true, false) => j(Informational, "no command-running method names"),
                })
            }
            Some(Args::DcomCall(o)) => Some(if o.lateral_movement_class {
                j(Medium, format!("method call{}", on_class(o)))
            } else {
                j(Informational, "call on an object of an ordinary class")
            }),
            _ => None,
        },
        ("T1547.001", _) => registry(args?, is_run_key, "autostart key"),
        ("T1547.004", _) => registry(args?, is_winlogon_key, "Winlogon key"),
        ("T1562.001", "winreg") => {
            registry(args?, is_defense_key, "security-tool or LSA protection key")
        }
        ("T1112", _) => match args? {
            Args::Registry(a) if a.action != "open_key" => {
                let p = a.key_path.as_deref().unwrap_or_default();
                Some(
                    if is_run_key(p)
                        || is_winlogon_key(p)
                        || is_defense_key(p)
                        || is_sensitive_key(p)
                    {
                        j(Medium, format!("write to a security-relevant key {p}"))
                    } else {
                        j(Low, format!("registry {} {p}", a.action.replace('_', " ")))
                    },
                )
            }
            _ => None,
        },
        ("T1003.002", _) | ("T1003.004", "winreg") => {
            let sam = row.technique == "T1003.002";
            match args {
                Some(Args::Registry(a)) => {
                    let p = a.key_path.as_deref().unwrap_or_default();
                    let hive = hive_of(p);
                    Some(match (a.action, hive) {
                        ("save_key", Some("SAM")) if sam => j(
                            Critical,
                            format!("SAM hive saved to {}", a.file.as_deref().unwrap_or("?")),
                        ),
                        ("save_key", Some("SECURITY")) if !sam => j(
                            Critical,
                            format!(
                                "SECURITY hive saved to {}",
                                a.file.as_deref().unwrap_or("?")
                            ),
                        ),
                        ("save_key", Some("SYSTEM")) => j(
                            High,
                            format!(
                                "SYSTEM hive (boot key) saved to {}",
                                a.file.as_deref().unwrap_or("?")
                            ),
                        ),
                        ("save_key", _) => j(
                            if sam { Medium } else { Informational },
                            format!("key {p} saved"),
                        ),
                        ("query_info", _) if is_boot_key_part(p) => {
                            j(High, format!("boot key part read: {p}"))
                        }
                        (_, Some("SAM")) if sam => j(Low, format!("SAM hive opened: {p}")),
                        (_, Some("SECURITY")) if !sam => {
                            j(Low, format!("SECURITY hive opened: {p}"))
                        }
                        _ => j(Informational, format!("{} {p}", a.action.replace('_', " "))),
                    })
                }
                None if matches!(opnum, 20 | 31) => Some(j(
                    if sam { High } else { Medium },
                    "a registry key was saved to a file (arguments not readable)",
                )),
                _ => None,
            }
        }
        ("T1003.004", "lsarpc") => match args? {
            Args::Lsa(l) => {
                let n = l.secret_name.as_deref().unwrap_or_default();
                Some(if lsad::is_sensitive_secret(n) {
                    j(Critical, format!("LSA secret {n}"))
                } else if n.is_empty() {
                    j(High, "LSA secret (name not seen)")
                } else {
                    j(High, format!("LSA secret {n}"))
                })
            }
            _ => None,
        },
        ("T1555", _) => match args? {
            Args::BackupKey(b) => Some(j(
                Low,
                format!(
                    "{} (routine for domain clients)",
                    b.action_name.unwrap_or("unknown action")
                ),
            )),
            _ => None,
        },
        ("T1136.002", _) => match args? {
            Args::Sam(a) => Some(match a.account_type {
                Some(0x80) | Some(0x100) => j(
                    High,
                    format!(
                        "machine account {} created{}",
                        a.name.as_deref().unwrap_or("?"),
                        result_note(a.result)
                    ),
                ),
                _ => j(
                    Medium,
                    format!(
                        "account {} created{}",
                        a.name.as_deref().unwrap_or("?"),
                        result_note(a.result)
                    ),
                ),
            }),
            _ => None,
        },
        ("T1098.007", _) => match args? {
            Args::Sam(a) => Some(match a.rid {
                Some(rid) if samr::is_privileged_rid(rid) => j(
                    High,
                    format!(
                        "member added to {} ({rid})",
                        samr::rid_name(rid).unwrap_or("privileged group")
                    ),
                ),
                Some(rid) => j(Medium, format!("member added to group RID {rid}")),
                None => j(Medium, "member added to a group opened before the capture"),
            }),
            _ => None,
        },
        ("T1098", "samr") => match args? {
            Args::Sam(a) => Some(match (a.action, a.info_class) {
                ("set_user_info", Some(18)) => {
                    j(High, "NT hash set directly (UserInternal1Information)")
                }
                ("set_user_info", Some(7)) => {
                    let n = a.new_account_name.as_deref().unwrap_or_default();
                    if !n.is_empty() && !n.ends_with('$') {
                        j(
                            High,
                            format!("account renamed to {n} (no trailing $: noPac-style)"),
                        )
                    } else {
                        j(Medium, format!("account renamed to {n}"))
                    }
                }
                ("set_user_info", Some(23..=26)) => j(Medium, "password reset by another account"),
                ("set_user_info", _)
                    if a.user_account_control.is_some_and(|u| u & 0x0001_0000 != 0) =>
                {
                    j(
                        High,
                        "Kerberos pre-authentication disabled (AS-REP roasting)",
                    )
                }
                ("set_user_info", _) => j(Low, "account information changed"),
                _ => j(Low, "password change (routine)"),
            }),
            _ => None,
        },
        ("T1098", "lsarpc") => match args? {
            Args::Lsa(l) => {
                let rights = l.rights.clone().unwrap_or_default();
                let bad: Vec<&String> = rights.iter().filter(|r| is_sensitive_right(r)).collect();
                Some(if bad.is_empty() {
                    j(Medium, format!("rights {}", rights.join(", ")))
                } else {
                    j(
                        High,
                        format!(
                            "sensitive rights {}",
                            bad.iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
            }
            _ => None,
        },
        ("T1531", _) => match args? {
            Args::Sam(a) if a.action == "set_user_info" => {
                Some(if a.user_account_control.is_some_and(|u| u & 1 != 0) {
                    j(Medium, "account disabled")
                } else {
                    j(Informational, "account change that removes no access")
                })
            }
            _ => None,
        },
        ("T1134.005", _) => match args? {
            Args::Replication(d) => {
                let h = d.sid_history.clone().unwrap_or_default();
                Some(j(
                    High,
                    format!(
                        "SID history of {}\\{} added to {}\\{}",
                        h.src_domain.as_deref().unwrap_or("?"),
                        h.src_principal.as_deref().unwrap_or("?"),
                        h.dst_domain.as_deref().unwrap_or("?"),
                        h.dst_principal.as_deref().unwrap_or("?")
                    ),
                ))
            }
            _ => None,
        },
        ("T1207", _) | ("T1003.006", _) if r.orig_h == r.resp_h => Some(j(
            if opnum == 3 || row.technique == "T1207" {
                High
            } else {
                Low
            },
            format!(
                "client and server are the same host: a DC does not replicate from itself (a tool run on the DC, or a loopback capture){}",
                drs_note(args)
            ),
        )),
        ("T1207", _) => {
            let server_not_dc = h.server_is_dc == Some(false) && h.dc_source == Some("given");
            Some(match (client_dc, server_not_dc) {
                (_, true) => j(
                    Critical,
                    "drsuapi served by a host that is not a known DC (rogue DC)",
                ),
                (Some(false), _) => j(
                    Critical,
                    format!(
                        "replica or DC object changed by a host that is not a DC {dcs}{}",
                        drs_note(args)
                    ),
                ),
                (Some(true), _) => j(Low, format!("between DCs {dcs}{}", drs_note(args))),
                (None, _) => j(
                    row.level,
                    format!("no DC known to compare with{}", drs_note(args)),
                ),
            })
        }
        ("T1003.006", "drsuapi") => {
            let server_not_dc = h.server_is_dc == Some(false) && h.dc_source == Some("given");
            if server_not_dc {
                return Some(j(
                    Critical,
                    "drsuapi served by a host that is not a known DC (rogue DC)",
                ));
            }
            if opnum != 3 {
                return Some(match client_dc {
                    Some(true) => j(Informational, format!("DC to DC {dcs}")),
                    _ => j(Low, "context call of a replication session"),
                });
            }
            let exop = match args {
                Some(Args::Replication(d)) => d.extended_op.filter(|e| *e != 0),
                _ => None,
            };
            Some(match client_dc {
                Some(true) => j(
                    Informational,
                    format!("replication between DCs {dcs}{}", drs_note(args)),
                ),
                Some(false) => j(
                    if exop.is_some() || h.dc_source == Some("given") {
                        Critical
                    } else {
                        High
                    },
                    format!(
                        "replication requested by a host that is not a DC {dcs}{}",
                        drs_note(args)
                    ),
                ),
                None => j(
                    High,
                    format!("no DC known to compare with{}", drs_note(args)),
                ),
            })
        }
        ("T1003.006", "netlogon") => Some(match client_dc {
            Some(true) => j(Informational, format!("DC to DC {dcs}")),
            Some(false) => j(
                High,
                format!(
                    "account secrets requested by a host that is not a DC {dcs}{}",
                    match args {
                        Some(Args::Netlogon(n)) => n
                            .account_name
                            .as_ref()
                            .map(|a| format!(": {a}"))
                            .unwrap_or_default(),
                        _ => String::new(),
                    }
                ),
            ),
            None => j(row.level, "no DC known to compare with"),
        }),
        ("T1210", "netlogon") => match args? {
            Args::Netlogon(n) if n.is_zerologon() => Some(j(
                Critical,
                if n.empty_password == Some(true) {
                    "empty password set with a zero authenticator (Zerologon)"
                } else {
                    "all-zero client credential (Zerologon)"
                },
            )),
            Args::Netlogon(n) if n.netsync_challenge == Some(true) => {
                Some(j(Low, "NetSync client challenge (see T1003.006)"))
            }
            Args::Netlogon(_) => Some(j(Informational, "ordinary secure-channel call")),
            _ => None,
        },
        ("T1187", iface) => match args {
            Some(Args::Coercion(c)) => Some(coercion(c, r, h, iface)),
            Some(Args::Printer(p)) if p.action == "open" => Some(j(
                Informational,
                format!(
                    "printer opened: {}",
                    p.printer_name.as_deref().unwrap_or("?")
                ),
            )),
            _ => None,
        },
        ("T1210", "spoolss") | ("T1210", "IRemoteWinspool") => match args? {
            Args::PrinterDriver(d) => {
                let bad: Vec<&str> = d.paths().filter(|p| suspicious_driver_path(p)).collect();
                let warned = d.file_copy_flags.is_some_and(|f| f & 0x8000 != 0);
                let done = match d.result {
                    Some(0) => " (succeeded)",
                    Some(_) => " (refused)",
                    None => "",
                };
                Some(if !bad.is_empty() || warned {
                    let mut why = Vec::new();
                    if !bad.is_empty() {
                        why.push(format!("driver file {}", bad.join(", ")));
                    }
                    if warned {
                        why.push("APD_INSTALL_WARNED_DRIVER".into());
                    }
                    j(
                        Critical,
                        format!("PrintNightmare: {}{done}", why.join(" and ")),
                    )
                } else {
                    j(Low, format!("driver from the driver store{done}"))
                })
            }
            Args::Printer(p) => Some(
                if p.path.as_deref().is_some_and(|x| x.starts_with("\\\\")) {
                    j(
                        High,
                        format!("driver package from {}", p.path.as_deref().unwrap_or("?")),
                    )
                } else {
                    j(Low, "driver package")
                },
            ),
            _ => None,
        },
        ("T1547.010", _) | ("T1547.012", _) => match args? {
            Args::Printer(p) => {
                let path = p.path.as_deref().unwrap_or("?");
                Some(if path.starts_with("\\\\") || suspicious_binary(path) {
                    j(High, format!("DLL {path}"))
                } else {
                    j(Medium, format!("DLL {path}"))
                })
            }
            _ => None,
        },
        ("T1070.001", _) => match args? {
            Args::EventLog(e) => {
                let n = e.log_name.as_deref().unwrap_or_default();
                Some(if n.eq_ignore_ascii_case("security") {
                    j(Critical, "Security log cleared")
                } else if n.is_empty() {
                    j(High, "event log cleared (its name was not seen)")
                } else {
                    j(High, format!("{n} log cleared"))
                })
            }
            _ => None,
        },
        ("T1562.002", _) => match args? {
            Args::EventLog(e) => {
                let n = e.log_name.as_deref().unwrap_or_default();
                Some(match e.enabled {
                    Some(false) if contains_ci(n, "security") || contains_ci(n, "sysmon") => {
                        j(Critical, format!("{n} channel disabled"))
                    }
                    Some(false) => j(High, format!("{n} channel disabled")),
                    _ => j(Low, format!("{n} channel configured, not disabled")),
                })
            }
            _ => None,
        },
        ("T1562.001", "svcctl") | ("T1489", _) => match args? {
            Args::Service(s) => {
                let name = s.service_name.as_deref().unwrap_or_default();
                let stop_like = match s.action {
                    "control" => s.control == Some(1),
                    "delete" => true,
                    "change_config" => s.start_type == Some(4),
                    _ => false,
                };
                let security = is_security_service(name);
                let backup = is_backup_service(name);
                Some(match (row.technique, stop_like) {
                    ("T1562.001", true) if security => j(
                        High,
                        format!("security service {name}: {}", s.action.replace('_', " ")),
                    ),
                    ("T1489", true) if backup => {
                        j(Medium, format!("backup or database service {name} stopped"))
                    }
                    (_, true) if name.is_empty() => j(Low, "service opened before the capture"),
                    (_, _) => j(Informational, format!("service {name}")),
                })
            }
            _ => None,
        },
        _ => None,
    }
}

/// A registry row whose key path decides: writes on a matching key are high, creating or
/// opening it low, anything else informational.
fn registry(args: &Args, matches: fn(&str) -> bool, what: &str) -> Option<Judgement> {
    let Args::Registry(a) = args else {
        return None;
    };
    let p = a.key_path.as_deref().unwrap_or_default();
    Some(if matches(p) {
        match a.action {
            "set_value" | "delete_value" => j(
                Level::High,
                format!(
                    "{what} {p} value {} set",
                    a.value_name.as_deref().unwrap_or("(default)")
                ),
            ),
            "create_key" => j(Level::Medium, format!("{what} {p} created")),
            _ => j(
                Level::Low,
                format!("{what} {p} {}", a.action.replace('_', " ")),
            ),
        }
    } else {
        j(Level::Informational, format!("key {p}"))
    })
}

fn coercion(c: &crate::args::coerce::CoercionArgs, r: &Record, h: &Hit, iface: &str) -> Judgement {
    let Some(l) = c.listener.as_deref() else {
        return j(
            Level::Low,
            format!(
                "{} without a host: {}",
                c.parameter,
                c.path.as_deref().unwrap_or("?")
            ),
        );
    };
    let tree = r.extra.as_ref().and_then(|x| x.tree.as_deref());
    if is_same_host(l, r.resp_h, tree) {
        return j(
            Level::Low,
            format!("{} names the server itself ({l})", c.parameter),
        );
    }
    if iface == "spoolss" && is_same_host(l, r.orig_h, None) {
        return j(
            Level::Informational,
            format!("print client registered its own address {l}"),
        );
    }
    let mut why = format!("the server is told to authenticate to {l}");
    if let Some(p) = c.listener_port {
        why.push_str(&format!(" port {p} (WebDAV: relayable to LDAP)"));
    }
    match c.result {
        Some(0x35) => why.push_str("; the server tried (ERROR_BAD_NETPATH)"),
        Some(0) => why.push_str("; the call succeeded"),
        _ => {}
    }
    if h.server_is_dc == Some(true) {
        why.push_str("; the coerced server is a DC");
        j(Level::Critical, why)
    } else {
        j(Level::High, why)
    }
}

fn result_note(r: Option<u32>) -> String {
    match r {
        Some(0) => " (succeeded)".into(),
        Some(x) => format!(
            " (failed: {})",
            crate::args::coerce::status_name(x)
                .map_or_else(|| format!("0x{x:08x}"), str::to_string)
        ),
        None => String::new(),
    }
}

fn drs_note(args: Option<&Args>) -> String {
    match args {
        Some(Args::Replication(d)) => {
            let mut s = String::new();
            if let Some(nc) = d.naming_context.as_ref().and_then(drsr::DsName::text) {
                s.push_str(&format!("; naming context {nc}"));
            }
            if let Some(e) = d.extended_op_name.filter(|e| *e != "none") {
                s.push_str(&format!("; {e}"));
            }
            if let Some(a) = &d.source_dsa_address {
                s.push_str(&format!("; source {a}"));
            }
            s
        }
        _ => String::new(),
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// Whether the host name or address `l` is the host at `addr` (or the SMB tree's server).
pub fn is_same_host(l: &str, addr: IpAddr, tree: Option<&str>) -> bool {
    let l = l.trim().trim_end_matches('.').to_ascii_lowercase();
    if matches!(l.as_str(), "localhost" | "127.0.0.1" | "::1") {
        return true;
    }
    if l.parse::<IpAddr>().ok() == Some(addr) {
        return true;
    }
    if let Some(t) = tree.and_then(crate::args::coerce::unc) {
        let t = t.host.to_ascii_lowercase();
        let first = |s: &str| s.split('.').next().unwrap_or_default().to_string();
        if t == l || (l.parse::<IpAddr>().is_err() && first(&t) == first(&l)) {
            return true;
        }
    }
    false
}

fn is_run_key(p: &str) -> bool {
    let p = p.to_ascii_lowercase();
    [
        "\\currentversion\\run",
        "\\currentversion\\policies\\explorer\\run",
        "\\explorer\\shell folders",
        "\\explorer\\user shell folders",
    ]
    .iter()
    .any(|k| p.contains(k))
}

fn is_winlogon_key(p: &str) -> bool {
    p.to_ascii_lowercase()
        .contains("\\windows nt\\currentversion\\winlogon")
}

fn is_defense_key(p: &str) -> bool {
    let p = p.to_ascii_lowercase();
    [
        "\\windows defender",
        "\\control\\lsa",
        "\\windowsfirewall",
        "\\sharedaccess\\parameters\\firewallpolicy",
    ]
    .iter()
    .any(|k| p.contains(k))
}

fn is_sensitive_key(p: &str) -> bool {
    let p = p.to_ascii_lowercase();
    [
        "\\image file execution options",
        "\\currentcontrolset\\services\\",
        "\\safeboot",
        "\\windows nt\\currentversion\\windows",
    ]
    .iter()
    .any(|k| p.contains(k))
}

/// `SAM`, `SECURITY` or `SYSTEM` when the path is that HKLM hive's root.
fn hive_of(p: &str) -> Option<&'static str> {
    let tail = p.trim_end_matches('\\').rsplit('\\').next()?;
    let parent_is_hklm = p.to_ascii_uppercase().starts_with("HKLM\\")
        && p.matches('\\').count() == 1
        || p.starts_with("?\\") && p.matches('\\').count() == 1;
    if !parent_is_hklm {
        return None;
    }
    ["SAM", "SECURITY", "SYSTEM"]
        .into_iter()
        .find(|h| tail.eq_ignore_ascii_case(h))
}

fn is_boot_key_part(p: &str) -> bool {
    let p = p.to_ascii_lowercase();
    p.contains("\\control\\lsa\\")
        && ["\\jd", "\\skew1", "\\gbg", "\\data"]
            .iter()
            .any(|k| p.ends_with(k))
}

fn suspicious_binary(b: &str) -> bool {
    let b = b.to_ascii_lowercase();
    [
        "cmd",
        "powershell",
        "pwsh",
        "rundll32",
        "regsvr32",
        "mshta",
        "wscript",
        "cscript",
        "\\\\",
        "admin$",
        "\\temp\\",
        "\\users\\",
        "\\programdata\\",
        "%temp%",
        "%comspec%",
    ]
    .iter()
    .any(|k| b.contains(k))
}

fn suspicious_driver_path(p: &str) -> bool {
    let l = p.to_ascii_lowercase();
    l.starts_with("\\\\")
        || l.contains("\\??\\unc\\")
        || l.contains("\\3\\old\\")
        || l.contains("\\temp\\")
        || l.contains("\\users\\")
}

fn is_sensitive_right(r: &str) -> bool {
    [
        "SeDebugPrivilege",
        "SeBackupPrivilege",
        "SeRestorePrivilege",
        "SeTakeOwnershipPrivilege",
        "SeLoadDriverPrivilege",
        "SeImpersonatePrivilege",
        "SeTcbPrivilege",
        "SeEnableDelegationPrivilege",
        "SeAssignPrimaryTokenPrivilege",
        "SeRemoteInteractiveLogonRight",
    ]
    .iter()
    .any(|x| x.eq_ignore_ascii_case(r))
}

/// Services of security products (stopping, disabling or deleting them impairs defences).
fn is_security_service(n: &str) -> bool {
    const NAMES: [&str; 24] = [
        "windefend",
        "sense",
        "wdnissvc",
        "wdboot",
        "wdfilter",
        "msmpsvc",
        "mpssvc",
        "eventlog",
        "sysmon",
        "sysmon64",
        "sysmondrv",
        "wscsvc",
        "securityhealthservice",
        "csfalconservice",
        "csagent",
        "cylancesvc",
        "sentinelagent",
        "cbdefense",
        "xagt",
        "savservice",
        "sophoshealth",
        "ekrn",
        "mfemms",
        "elastic-endpoint",
    ];
    NAMES.contains(&n.to_ascii_lowercase().as_str())
}

/// Backup, shadow-copy and database services (ransomware stops them before encrypting).
fn is_backup_service(n: &str) -> bool {
    let n = n.to_ascii_lowercase();
    [
        "vss",
        "swprv",
        "wbengine",
        "sqlwriter",
        "sqlserveragent",
        "sqlbrowser",
    ]
    .contains(&n.as_str())
        || [
            "mssql",
            "msexchange",
            "veeam",
            "backupexec",
            "oracle",
            "mysql",
            "postgresql",
        ]
        .iter()
        .any(|p| n.starts_with(p))
}

/// Judgements that need several calls, applied to a whole run's hits:
/// * Zerologon: zero-credential attempts from one client to one server are counted across
///   connections (the public tester opens one connection per attempt).
/// * Discovery: a client that runs discovery calls against many hosts (BloodHound-style
///   sweeps) has those hits raised from low to medium.
pub fn across_calls(hits: &mut [Hit]) {
    // (client, server) -> (zero-credential authentications, zero challenges, success).
    let mut zl: BTreeMap<(IpAddr, IpAddr), (u32, u32, bool)> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for h in hits.iter() {
        if let Some(Args::Netlogon(n)) = &h.args
            && n.zero_credential == Some(true)
            && seen.insert(h.call)
        {
            let e = zl.entry((h.orig_h, h.resp_h)).or_default();
            if matches!(n.action, "authenticate" | "authenticate2" | "authenticate3") {
                e.0 += 1;
                e.2 |= n.result == Some(0);
            } else if n.action == "req_challenge" {
                e.1 += 1;
            }
        }
    }
    // Per connection (uid, pipe): (zero-credential authentications, zero challenges, success).
    let mut per_conn: BTreeMap<(String, String), (u32, u32, bool)> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for h in hits.iter() {
        if let Some(Args::Netlogon(n)) = &h.args
            && n.zero_credential == Some(true)
            && seen.insert(h.call)
        {
            let e = per_conn.entry(conn_key(h)).or_default();
            if matches!(n.action, "authenticate" | "authenticate2" | "authenticate3") {
                e.0 += 1;
                e.2 |= n.result == Some(0);
            } else if n.action == "req_challenge" {
                e.1 += 1;
            }
        }
    }
    let mut targets: BTreeMap<IpAddr, BTreeSet<IpAddr>> = BTreeMap::new();
    for h in hits.iter() {
        if is_discovery(h) {
            targets.entry(h.orig_h).or_default().insert(h.resp_h);
        }
    }
    for h in hits.iter_mut() {
        if let Some(Args::Netlogon(n)) = &mut h.args
            && let Some((auths, challenges, ok)) = per_conn.get(&conn_key_of(&h.uid, &h.smb_pipe))
        {
            n.attempts_in_connection = Some(if *auths > 0 { *auths } else { *challenges });
            n.succeeded_in_connection = Some(*ok);
        }
        if h.set == Some("attack")
            && let Some(Args::Netlogon(n)) = &h.args
            && n.is_zerologon()
            && let Some((auths, challenges, ok)) = zl.get(&(h.orig_h, h.resp_h))
        {
            if let Some(c) = n.attempts_in_connection {
                let extra = format!(
                    "; {c} attempt(s) on this connection, {}",
                    if n.succeeded_in_connection == Some(true) {
                        "one succeeded"
                    } else {
                        "none succeeded"
                    }
                );
                h.reason = Some(h.reason.take().unwrap_or_default() + &extra);
            }
            let count = if *auths > 0 { *auths } else { *challenges };
            let extra = format!(
                "; {count} zero-credential attempt(s) from {} to {} in this run, {}",
                h.orig_h,
                h.resp_h,
                if *ok {
                    "one authenticated (STATUS_SUCCESS): the DC's account is compromised"
                } else {
                    "none authenticated"
                }
            );
            h.reason = Some(h.reason.take().unwrap_or_default() + &extra);
        }
        if is_discovery(h)
            && h.level.as_deref() == Some("low")
            && let Some(t) = targets.get(&h.orig_h)
            && t.len() >= DISCOVERY_SWEEP
        {
            h.level = Some(Level::Medium.to_string());
            h.reason = Some(format!(
                "discovery sweep: {} ran discovery calls against {} hosts",
                h.orig_h,
                t.len()
            ));
        }
    }
}

/// Distinct targets of one client's discovery calls that make a sweep.
pub const DISCOVERY_SWEEP: usize = 10;

fn conn_key(h: &Hit) -> (String, String) {
    conn_key_of(&h.uid, &h.smb_pipe)
}

fn conn_key_of(uid: &str, pipe: &Option<crate::output::SmolStr>) -> (String, String) {
    (
        uid.to_string(),
        pipe.as_deref().unwrap_or_default().to_string(),
    )
}

fn is_discovery(h: &Hit) -> bool {
    h.set == Some("attack")
        && h.techniques
            .first()
            .is_some_and(|t| t.tactic.as_deref() == Some("discovery"))
}

/// ` on an object of <class> (from <operation>)`.
fn on_class(o: &crate::args::dcom::DcomObject) -> String {
    format!(
        " on an object of {} (from {})",
        o.clsid_name
            .or(o.clsid.as_deref())
            .unwrap_or("an unknown class"),
        o.obtained_by.operation
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_paths_and_lists() {
        let a: IpAddr = "10.0.0.5".parse().unwrap();
        assert!(is_same_host("10.0.0.5", a, None));
        assert!(is_same_host("LOCALHOST", a, None));
        assert!(is_same_host("dc1", a, Some("\\\\DC1.lab.local\\IPC$")));
        assert!(is_same_host("dc1.lab.local", a, Some("\\\\DC1\\IPC$")));
        assert!(!is_same_host("10.0.0.99", a, Some("\\\\DC1\\IPC$")));
        assert!(!is_same_host("attacker", a, Some("\\\\10.0.0.5\\IPC$")));
        assert_eq!(hive_of("HKLM\\SAM"), Some("SAM"));
        assert_eq!(hive_of("HKLM\\security"), Some("SECURITY"));
        assert_eq!(hive_of("?\\SYSTEM"), Some("SYSTEM"));
        assert_eq!(hive_of("HKLM\\SOFTWARE\\SAM"), None);
        assert!(is_boot_key_part(
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD"
        ));
        assert!(!is_boot_key_part(
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa"
        ));
        assert!(is_run_key(
            "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\RunOnce"
        ));
        assert!(is_winlogon_key(
            "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon"
        ));
        assert!(suspicious_driver_path(
            "C:\\Windows\\System32\\spool\\drivers\\x64\\3\\old\\1\\x.dll"
        ));
        assert!(!suspicious_driver_path(
            "C:\\Windows\\System32\\DriverStore\\FileRepository\\ntprint.inf_amd64\\Amd64\\UNIDRV.DLL"
        ));
        assert!(is_security_service("WinDefend"));
        assert!(is_backup_service("MSSQL$SQLEXPRESS"));
        assert!(!is_backup_service("Spooler"));
    }
}
