//! `rpcsift report` and `--navigator`: the page is self-contained and carries the expected
//! hits; the ATT&CK Navigator layer follows the layer format 4.5 (field names, required
//! keys, types) and scores the project captures' techniques by hit count.
//! The page as drawn in a browser is checked by tests/report_browser.rs.

mod common;
use common::{report_inputs, rpcsift, temp_dir};

use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

fn run_ok(c: &mut Command) -> String {
    let o = c.output().expect("run rpcsift");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    stderr
}

/// The JSON in the page's data block (the block is escaped, not raw).
fn embedded_data(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"rpcsift-data\">";
    let start = html.find(open).expect("data block") + open.len();
    let len = html[start..].find("</script>").expect("end of data block");
    let raw = &html[start..start + len];
    assert!(!raw.contains('<'), "unescaped < in the data block");
    serde_json::from_str(raw).expect("data block is JSON")
}

#[test]
fn report_page_is_self_contained_and_carries_hits() {
    let dir = temp_dir("page");
    let out = dir.join("r.html");
    let nav = dir.join("layer.json");
    let stderr = run_ok(
        rpcsift()
            .args(["report", "-o"])
            .arg(&out)
            .arg("--navigator")
            .arg(&nav)
            .args(report_inputs()),
    );
    assert!(
        stderr.contains("9 hit(s) from 5 capture file(s)"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(&out).expect("report written");
    // Self-contained: nothing fetched from anywhere.
    for bad in ["src=\"http", "href=\"http", "src=\"//", "@import", "<link"] {
        assert!(!html.contains(bad), "external reference {bad}");
    }
    assert!(
        html.contains("default-src 'none'"),
        "CSP blocks the network"
    );
    let d = embedded_data(&html);
    let hits = d["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 9);
    // Arguments and user are carried over from the call records.
    let create = hits
        .iter()
        .find(|h| h["operation"] == "CreateServiceW" && h["transport"] == "smb2")
        .expect("psexec over smb2");
    assert_eq!(create["user"], "labadmin");
    assert_eq!(create["domain"], "LAB");
    assert_eq!(create["args"]["kind"], "service");
    assert_eq!(create["args"]["binary_path"], "%SystemRoot%\\RKzqWbFd.exe");
    assert_eq!(
        create["what_ran"],
        "service RKzq: %SystemRoot%\\RKzqWbFd.exe"
    );
    let wmi = hits
        .iter()
        .find(|h| h["operation"] == "ExecMethod")
        .expect("wmi");
    assert!(
        wmi["what_ran"]
            .as_str()
            .is_some_and(|w| w.starts_with("wmi Win32_Process.Create: cmd.exe")),
        "{wmi}"
    );
    // Summary and per-capture accounting.
    let s = &d["summary"];
    assert_eq!(s["captures"], 5);
    assert_eq!(s["hits"], 9);
    assert_eq!(s["captures_failed"], 0);
    let caps = d["captures"].as_array().expect("captures");
    assert_eq!(caps.len(), 5);
    let per: Vec<(String, u64)> = caps
        .iter()
        .map(|c| {
            let f = c["file"].as_str().unwrap_or("");
            let name = Path::new(f)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, c["hits"].as_u64().unwrap_or(99))
        })
        .collect();
    assert_eq!(
        per,
        [
            ("psexec_smb2.pcap".to_string(), 2),
            ("at_smb1.pcap".to_string(), 1),
            ("wmi_exec_tcp.pcap".to_string(), 1),
            ("atsvc_schtask.pcap".to_string(), 3),
            ("dynamic_port_svcctl.pcap".to_string(), 2),
        ]
    );
    let calls: u64 = caps.iter().filter_map(|c| c["calls"].as_u64()).sum();
    assert_eq!(s["calls"].as_u64(), Some(calls));
    // The navigator layer was written by report too.
    let layer: Value =
        serde_json::from_str(&std::fs::read_to_string(&nav).expect("layer")).expect("json");
    validate_layer(&layer);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hits_are_in_time_order_with_expected_operations() {
    let dir = temp_dir("order");
    let out = dir.join("r.html");
    run_ok(
        rpcsift()
            .args(["report", "-q", "-o"])
            .arg(&out)
            .args(report_inputs()),
    );
    let d = embedded_data(&std::fs::read_to_string(&out).expect("report"));
    let hits = d["hits"].as_array().expect("hits");
    let ts: Vec<f64> = hits.iter().filter_map(|h| h["ts"].as_f64()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "time order");
    let mut ops: Vec<&str> = hits
        .iter()
        .filter_map(|h| h["operation"].as_str())
        .collect();
    ops.sort_unstable();
    assert_eq!(
        ops,
        [
            "CreateServiceW",
            "CreateServiceW",
            "ExecMethod",
            "NetrJobAdd",
            "NetrJobAdd",
            "SchRpcRegisterTask",
            "SchRpcRun",
            "StartServiceW",
            "StartServiceW"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_from_saved_detect_json() {
    let dir = temp_dir("saved");
    let hits = dir.join("hits.json");
    let o = rpcsift()
        .args(["detect", "-q", "--format", "json", "-o"])
        .arg(&hits)
        .arg(common::project("captures/atsvc_schtask.pcap"))
        .output()
        .expect("detect");
    assert!(o.status.success());
    let out = dir.join("r.html");
    run_ok(
        rpcsift()
            .args(["report", "-q", "--hits"])
            .arg(&hits)
            .arg("-o")
            .arg(&out),
    );
    let d = embedded_data(&std::fs::read_to_string(&out).expect("report"));
    assert_eq!(d["hits"].as_array().map(Vec::len), Some(3));
    assert_eq!(d["summary"], Value::Null);
    assert_eq!(d["hits"][0]["operation"], "NetrJobAdd");
    // Not JSON: a usage error naming the line.
    std::fs::write(&hits, "{\"ts\": 1}\nnot json\n").expect("write");
    let o = rpcsift()
        .args(["report", "-q", "--hits"])
        .arg(&hits)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("report");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_strings_cannot_break_out_of_the_data_block() {
    use rpcsift::report::{Meta, ReportData, render_html};
    let evil = "</script><script>document.title='pwned'</script><!--";
    let hit = serde_json::json!({
        "ts": 1.5, "id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.2", "operation": evil,
        "what_ran": evil, "techniques": [{"id": "T1047", "name": evil}], "matched_by": "improved"
    });
    let meta = Meta {
        title: evil.into(),
        ..Default::default()
    };
    let html = render_html(&ReportData::from_hit_values(vec![hit.clone()], meta));
    // The string appears only escaped: in <title> and <h1> (two `</script>` each), never raw.
    assert!(!html.contains(evil));
    assert_eq!(html.matches("&lt;/script&gt;").count(), 4);
    // Exactly the two script elements of the page (data, renderer) are closed.
    assert_eq!(html.matches("</script>").count(), 2);
    let d = embedded_data(&html);
    assert_eq!(d["hits"][0], hit);
    assert_eq!(d["meta"]["title"], evil);
}

// ---- ATT&CK Navigator layer (format 4.5) ----

fn is_hex_colour(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn technique_id_ok(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('T') else {
        return false;
    };
    let (m, sub) = rest.split_once('.').unwrap_or((rest, ""));
    m.len() == 4
        && m.bytes().all(|b| b.is_ascii_digit())
        && (sub.is_empty() || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit())))
}

const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// Check a layer against the fields of the Navigator layer format 4.5: required keys,
/// value types, enumerations, and no key the format does not define.
fn validate_layer(l: &Value) {
    let o = l.as_object().expect("layer is an object");
    const TOP: &[&str] = &[
        "versions",
        "name",
        "description",
        "domain",
        "customDataURL",
        "filters",
        "sorting",
        "layout",
        "hideDisabled",
        "techniques",
        "gradient",
        "legendItems",
        "showTacticRowBackground",
        "tacticRowBackground",
        "selectTechniquesAcrossTactics",
        "selectSubtechniquesWithParent",
        "selectVisibleTechniques",
        "metadata",
        "links",
    ];
    for k in o.keys() {
        assert!(
            TOP.contains(&k.as_str()),
            "key {k} is not in the layer format"
        );
    }
    // Required.
    assert!(l["name"].is_string(), "name");
    assert_eq!(l["domain"], "enterprise-attack");
    let v = &l["versions"];
    assert_eq!(v["layer"], "4.5");
    let nav = v["navigator"].as_str().expect("versions.navigator");
    let parts: Vec<u32> = nav.split('.').map(|p| p.parse().expect("number")).collect();
    assert!(
        parts >= vec![4, 9, 0],
        "navigator {nav} must be at least 4.9.0"
    );
    assert!(v["attack"].is_string());
    // Optional, typed.
    assert!(l["description"].is_string());
    assert!(l["filters"]["platforms"].is_array());
    assert!(l["sorting"].as_u64().is_some_and(|s| s <= 3));
    let lay = &l["layout"];
    assert!(["side", "flat", "mini"].contains(&lay["layout"].as_str().unwrap_or("")));
    for b in ["showID", "showName", "showAggregateScores", "countUnscored"] {
        assert!(lay[b].is_boolean(), "layout.{b}");
    }
    assert!(
        ["average", "min", "max", "sum"].contains(&lay["aggregateFunction"].as_str().unwrap_or(""))
    );
    assert!(
        ["none", "all", "annotated"].contains(&lay["expandedSubtechniques"].as_str().unwrap_or(""))
    );
    for b in [
        "hideDisabled",
        "showTacticRowBackground",
        "selectTechniquesAcrossTactics",
        "selectSubtechniquesWithParent",
        "selectVisibleTechniques",
    ] {
        assert!(l[b].is_boolean(), "{b}");
    }
    assert!(is_hex_colour(&l["tacticRowBackground"]));
    let g = &l["gradient"];
    let colours = g["colors"].as_array().expect("gradient.colors");
    assert!(colours.len() >= 2 && colours.iter().all(is_hex_colour));
    let (min, max) = (
        g["minValue"].as_f64().expect("minValue"),
        g["maxValue"].as_f64().expect("maxValue"),
    );
    assert!(max > min, "maxValue must be > minValue");
    for li in l["legendItems"].as_array().expect("legendItems") {
        assert!(li["label"].is_string());
        assert!(is_hex_colour(&li["color"]));
    }
    for m in l["metadata"].as_array().expect("metadata") {
        assert!(m["name"].is_string() && m["value"].is_string(), "{m}");
    }
    const TECH: &[&str] = &[
        "techniqueID",
        "tactic",
        "comment",
        "enabled",
        "score",
        "color",
        "metadata",
        "links",
        "showSubtechniques",
    ];
    for t in l["techniques"].as_array().expect("techniques") {
        let to = t.as_object().expect("technique object");
        for k in to.keys() {
            assert!(TECH.contains(&k.as_str()), "technique key {k}");
        }
        assert!(
            technique_id_ok(t["techniqueID"].as_str().expect("techniqueID")),
            "{t}"
        );
        if let Some(tac) = to.get("tactic") {
            assert!(
                TACTICS.contains(&tac.as_str().unwrap_or("")),
                "tactic {tac}"
            );
        }
        assert!(t["score"].is_number());
        assert!(t["comment"].is_string());
        assert!(t["enabled"].is_boolean());
        assert!(t["showSubtechniques"].is_boolean());
        for m in t["metadata"].as_array().expect("metadata") {
            assert!(m["name"].is_string() && m["value"].is_string(), "{m}");
        }
    }
}

/// `rpcsift detect -q --format json --navigator NAV ARGS...` exits 0: its standard output,
/// and the layer it wrote, checked against the layer format.
fn detect_layer<A: AsRef<OsStr>>(nav: &Path, args: impl IntoIterator<Item = A>) -> (String, Value) {
    let o = rpcsift()
        .args(["detect", "-q", "--format", "json", "--navigator"])
        .arg(nav)
        .args(args)
        .output()
        .expect("detect");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let l: Value =
        serde_json::from_str(&std::fs::read_to_string(nav).expect("layer")).expect("layer json");
    validate_layer(&l);
    (String::from_utf8_lossy(&o.stdout).into_owned(), l)
}

#[test]
fn detect_navigator_layer_scores_techniques_by_hits() {
    let dir = temp_dir("nav");
    let nav = dir.join("layer.json");
    let (stdout, l) = detect_layer(&nav, report_inputs());
    // Standard output still carries the hits.
    assert_eq!(stdout.lines().count(), 9);
    let rows: Vec<(String, String, u64, String)> = l["techniques"]
        .as_array()
        .expect("techniques")
        .iter()
        .map(|t| {
            (
                t["techniqueID"].as_str().unwrap_or("").to_string(),
                t["tactic"].as_str().unwrap_or("").to_string(),
                t["score"].as_u64().unwrap_or(0),
                t["comment"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = [
        (
            "T1047",
            1,
            "1 hit(s) on 1 target host(s): 127.0.0.1 -> 127.0.0.1 (1)",
        ),
        (
            "T1053.002",
            2,
            "2 hit(s) on 2 target host(s): 10.10.0.10 -> 10.10.0.5 (1); 127.0.0.1 -> 127.0.0.1 (1)",
        ),
        (
            "T1053.005",
            2,
            "2 hit(s) on 1 target host(s): 10.10.0.10 -> 10.10.0.5 (2)",
        ),
        (
            "T1569.002",
            4,
            "4 hit(s) on 2 target host(s): 10.2.0.10 -> 10.2.0.5 (2); 127.0.0.1 -> 127.0.0.1 (2)",
        ),
    ];
    assert_eq!(rows.len(), want.len(), "{rows:?}");
    for (r, w) in rows.iter().zip(want) {
        assert_eq!((r.0.as_str(), r.2, r.3.as_str()), w);
        assert_eq!(r.1, "execution");
    }
    assert_eq!(l["gradient"]["maxValue"], 4);
    assert_eq!(l["gradient"]["minValue"], 0);
    // No hits: still a valid layer, no techniques.
    let (_, l) = detect_layer(&nav, [common::project("captures/tcp135_epmapper.pcap")]);
    assert_eq!(l["techniques"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigma_tactic_tags_become_navigator_tactics() {
    // A Sigma rule tagged with a tactic spelled the Sigma way (underscore).
    let dir = temp_dir("sigma-nav");
    std::fs::write(
        dir.join("r.yml"),
        "title: t\nid: t-rule\nlevel: high\ntags: [attack.lateral_movement, attack.t1021.002]\nlogsource: {product: zeek, service: dce_rpc}\ndetection:\n  s: {endpoint: svcctl}\n  condition: s\n",
    )
    .expect("rule");
    let nav = dir.join("layer.json");
    let args = [
        "--sigma".into(),
        dir.join("r.yml"),
        common::project("captures/dynamic_port_svcctl.pcap"),
    ];
    let (stdout, l) = detect_layer(&nav, args);
    let t = &l["techniques"][0];
    assert_eq!(t["techniqueID"], "T1021.002");
    assert_eq!(t["tactic"], "lateral-movement");
    let n = stdout.lines().count() as u64;
    assert!(n > 0);
    assert_eq!(t["score"].as_u64(), Some(n));
    let _ = std::fs::remove_dir_all(&dir);
}
