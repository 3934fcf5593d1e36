//! `--zeek-compat` against Zeek's own btest baselines (plain-TCP traces), field by field
//! with only the uid masked. Needs `RPCSIFT_SHARED`.

mod common;
use common::*;
use rpcsift::output::Format;

/// Apply btest's canonification to a Zeek TSV row: the first timestamp becomes X's.
fn canon_ts(row: &str) -> String {
    match row.split_once('\t') {
        Some((_, rest)) => format!("XXXXXXXXXX.XXXXXX\t{rest}"),
        None => row.to_string(),
    }
}

fn check(name: &str, pcap: &str) {
    let Some(base) = shared() else { return };
    let dir = "conformance/zeek";
    let trace = need(&base, &format!("{dir}/{pcap}"));
    let baseline = std::fs::read_to_string(need(&base, &format!("{dir}/{name}.dce_rpc.log")))
        .expect("read baseline");
    let out = render(&run(&[trace], &zeek_compat()), Format::Zeek);
    let ours = rows_masked_uid(&out);

    // The canonified baseline: drop btest's header line, compare with ts masked.
    let want: Vec<String> =
        rows_masked_uid(&baseline.lines().skip(1).collect::<Vec<_>>().join("\n"));
    let got: Vec<String> = ours.iter().map(|r| canon_ts(r)).collect();
    assert_eq!(got, want, "{name}: rows differ from Zeek's baseline");

    // Header lines equal apart from #open/#close values.
    let hdr = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with('#') && !l.starts_with("#open") && !l.starts_with("#close"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        hdr(&out),
        hdr(&baseline.lines().skip(1).collect::<Vec<_>>().join("\n")),
        "{name}: header"
    );

    // Where the pre-canonification baseline exists, timestamps must match too.
    let with_ts = base.join(format!("{dir}/{name}.dce_rpc.with-ts.log"));
    if with_ts.is_file() {
        let real = std::fs::read_to_string(with_ts).expect("read with-ts");
        assert_eq!(
            ours,
            rows_masked_uid(&real),
            "{name}: rows differ from the with-ts baseline"
        );
    }
}

#[test]
fn cs_window7_drsuapi_alter_context() {
    check(
        "cs_window7-join_stream092",
        "cs_window7-join_stream092.pcap",
    );
}

#[test]
fn netlogon_no_handshake() {
    check("dce_rpc_netlogon", "dce_rpc_netlogon.pcapng");
}

#[test]
fn mapi_epmapper_nspi_exchange() {
    check("mapi", "mapi.pcap");
}

#[test]
fn dssetup_smb1_transaction() {
    check(
        "dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation",
        "dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap",
    );
}
