//! tshark, the independent dissector the labs' truth files are checked against
//! (`.ci/run` installs it).

use std::path::Path;
use std::process::Command;

/// True when tshark runs. When it does not, a test that needs it returns early with a
/// message saying it skips `what`, except in CI (`RPCSIFT_SHARED` set), where it fails.
pub fn present(what: &str) -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("RPCSIFT_SHARED").is_none(),
            "tshark is not installed but RPCSIFT_SHARED is set: .ci/run installs it"
        );
        eprintln!("tshark not installed: skipping {what}");
    }
    ok
}

/// tshark's `fields` for the frames of `pcap` matching `filter`, one Vec per frame, each
/// field a list of its occurrences (several PDUs can share a frame). `options` go to
/// tshark as they are (decryption keys); the TCP `rpc_ports` are decoded as DCE-RPC
/// explicitly, so that the check does not hang on tshark's heuristics.
pub fn fields(
    pcap: &Path,
    options: &[String],
    rpc_ports: &[u16],
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(pcap).args(options);
    for port in rpc_ports {
        cmd.arg("-d").arg(format!("tcp.port=={port},dcerpc"));
    }
    cmd.args(["-Y", filter, "-T", "fields", "-E", "separator=/t"]);
    cmd.args(["-E", "occurrence=a", "-E", "aggregator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("tshark output is UTF-8")
        .lines()
        .map(|line| {
            let cols: Vec<Vec<String>> = line
                .split('\t')
                .map(|c| {
                    if c.is_empty() {
                        Vec::new()
                    } else {
                        c.split('|').map(str::to_string).collect()
                    }
                })
                .collect();
            assert_eq!(cols.len(), fields.len(), "tshark line {line:?}");
            cols
        })
        .collect()
}
