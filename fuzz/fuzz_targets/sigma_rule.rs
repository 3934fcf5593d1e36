//! Sigma loader and evaluator on arbitrary text: YAML parsing, rule structure, modifiers,
//! wildcards, regexes and the condition parser, then evaluation of every rule that loads
//! on a few call-like events. Must never panic, loop or blow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpcsift::detect::sigma::{self, Event, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

struct Ev(u8);

impl Event for Ev {
    fn get(&self, field: &str) -> Value<'_> {
        // Vary the shape of the event by its seed: null fields, IPv6, odd strings.
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 2, 0, self.0));
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(self.0)));
        match (field, self.0 % 3) {
            ("endpoint", 0) => Value::Str("svcctl"),
            ("endpoint", 1) => Value::Str("ITaskSchedulerService"),
            ("operation", 0) => Value::Str("CreateServiceW"),
            ("operation", 1) => Value::Str("unknown-19"),
            ("named_pipe", _) => Value::Str("\\PIPE\\svcctl"),
            ("id.orig_h", 2) => Value::Addr(v6),
            ("id.orig_h" | "id.resp_h", _) => Value::Addr(v4),
            ("id.orig_p" | "id.resp_p" | "opnum", _) => Value::Int(i64::from(self.0) * 300),
            ("ts", _) => Value::Float(1704067200.5),
            ("rtt", 0) => Value::Float(f64::NAN),
            ("rtt", _) => Value::Float(0.0012),
            ("uid", _) => Value::Str("CÄ*?\\x"),
            _ => Value::Null,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for r in sigma::parse_rules(&text, "fuzz.yml") {
        match r {
            Ok(rule) => {
                assert_eq!(rule.file, "fuzz.yml");
                let _ = rule.techniques();
                let _ = rule.tactic();
                for seed in 0..3 {
                    let _ = rule.matches(&Ev(seed));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with("fuzz.yml"), "{msg}");
            }
        }
    }
    assert!(sigma::fields().next().is_some());
});
