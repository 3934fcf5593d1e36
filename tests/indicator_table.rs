//! The built-in AD-attack indicator table (`src/detect/rows.rs`) against the project's
//! reference table (`reference/attack-indicators.tsv` in RPCSIFT_SHARED), row for row: set
//! (`rpcsift` there is `attack` here), technique, tactic, technique name, interface, UUID,
//! opnums and whether the published string can match Zeek's names. The reference's
//! `sigma` rows are the published Sigma rules (see `rules/` and tests/sigma_rules.rs), not
//! indicator rows. Any edit to one side without the other fails here.

mod common;

use rpcsift::detect::indicators::Opnums;
use rpcsift::detect::rows::ROWS;

#[test]
fn rows_equal_the_reference_table() {
    let Some(shared) = common::shared() else {
        return;
    };
    let tsv = std::fs::read_to_string(common::need(&shared, "reference/attack-indicators.tsv"))
        .expect("read the reference table");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (c_set, c_tech, c_tactic, c_name, c_iface, c_uuid, c_ops) = (
        col("set"),
        col("technique"),
        col("tactic"),
        col("technique_name"),
        col("interface"),
        col("uuid"),
        col("opnums"),
    );
    let mut want = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let set = match f[c_set] {
            "sigma" => continue,
            "rpcsift" => "attack",
            other => other,
        };
        let ops = f[c_ops];
        let (ops, matches) = match ops.strip_prefix("- (intended ") {
            Some(rest) => (rest.trim_end_matches(')'), false),
            None => (ops, true),
        };
        want.push((
            set.to_string(),
            f[c_tech].to_string(),
            f[c_tactic].to_string(),
            f[c_name].to_string(),
            f[c_iface].to_string(),
            f[c_uuid].to_string(),
            ops.to_string(),
            matches,
        ));
    }
    let got: Vec<_> = ROWS
        .iter()
        .map(|r| {
            (
                r.set.to_string(),
                r.technique.to_string(),
                r.tactic.to_string(),
                r.technique_name.to_string(),
                r.interface.to_string(),
                r.uuid.unwrap_or("*").to_string(),
                match r.opnums {
                    Opnums::Any => "*".to_string(),
                    Opnums::List(l) => l.iter().map(u16::to_string).collect::<Vec<_>>().join(","),
                },
                r.would_match_in_zeek,
            )
        })
        .collect();
    assert_eq!(got.len(), want.len(), "row count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "row {i}");
    }
}
