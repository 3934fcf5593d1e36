//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod lab;
pub mod tshark;

use rpcsift::engine::{self, Options, RunOutput};
use rpcsift::output::{Format, Writer};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder of Wireshark's decryption test captures (`tools/fetch-wireshark-vectors.sh
/// DIR`, then `RPCSIFT_WIRESHARK_VECTORS=DIR`; `.ci/run` does both). Unset: the tests that
/// need it print a skip message; set to a folder that is not there: they fail.
pub fn wireshark_vectors() -> Option<PathBuf> {
    let how = "run tools/fetch-wireshark-vectors.sh DIR and set RPCSIFT_WIRESHARK_VECTORS=DIR";
    match std::env::var_os("RPCSIFT_WIRESHARK_VECTORS").map(PathBuf::from) {
        Some(p) => {
            assert!(
                p.is_dir(),
                "RPCSIFT_WIRESHARK_VECTORS={} is not a folder ({how})",
                p.display()
            );
            Some(p)
        }
        None => {
            eprintln!("RPCSIFT_WIRESHARK_VECTORS unset: skipping Wireshark vector tests ({how})");
            None
        }
    }
}

/// The shared reference folder, when `RPCSIFT_SHARED` is set. Tests that need it return
/// early (with a message) when it is unset, and fail loudly when it is set but incomplete.
pub fn shared() -> Option<PathBuf> {
    match std::env::var_os("RPCSIFT_SHARED") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_dir(),
                "RPCSIFT_SHARED={} is not a directory",
                p.display()
            );
            Some(p)
        }
        None => {
            eprintln!("RPCSIFT_SHARED unset: skipping tests on the shared reference captures");
            None
        }
    }
}

/// A file that must exist under the shared folder.
pub fn need(base: &Path, rel: &str) -> PathBuf {
    let p = base.join(rel);
    assert!(
        p.is_file(),
        "missing shared file {} (RPCSIFT_SHARED is set)",
        p.display()
    );
    p
}

pub fn project(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The rpcsift binary built for these tests.
pub fn rpcsift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rpcsift"))
}

/// A fresh, empty folder `rpcsift-<test file>-<tag>-<pid>` in the system's temp folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "rpcsift-{}-{tag}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The captures the report tests draw (tests/report.rs, tests/report_browser.rs): three
/// lab captures and two of the project's own.
pub fn report_inputs() -> Vec<PathBuf> {
    [
        "captures/impacket/psexec_smb2.pcap",
        "captures/impacket/at_smb1.pcap",
        "captures/impacket/wmi_exec_tcp.pcap",
        "captures/atsvc_schtask.pcap",
        "captures/dynamic_port_svcctl.pcap",
    ]
    .iter()
    .map(|p| project(p))
    .collect()
}

pub fn run(paths: &[PathBuf], opts: &Options) -> RunOutput {
    engine::run(paths, opts)
}

pub fn render(run: &RunOutput, format: Format) -> String {
    let mut w = Writer::new(Vec::new(), format, "2000-01-01-00-00-00".into());
    for r in &run.records {
        w.write(r).expect("write");
    }
    String::from_utf8(w.finish().expect("finish")).expect("utf8")
}

pub fn zeek_compat() -> Options {
    Options {
        zeek_compat: true,
        zeek_ignore: true,
        ..Default::default()
    }
}

/// Zeek TSV rows (no header lines) with the uid column masked.
pub fn rows_masked_uid(tsv: &str) -> Vec<String> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut f: Vec<&str> = l.split('\t').collect();
            if f.len() > 1 {
                f[1] = "UID";
            }
            f.join("\t")
        })
        .collect()
}

/// A tab-separated file with a header line (the shared manifest and reference tables,
/// tshark exports, the lab's truth files); fields are found by column name.
pub struct Tsv {
    pub path: PathBuf,
    pub header: Vec<String>,
    /// The lines after the header, blank ones left out, split at tabs.
    pub rows: Vec<Vec<String>>,
}

impl Tsv {
    /// Reads `path`; a file that cannot be read or has no header line fails, naming it.
    pub fn read(path: &Path) -> Tsv {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
        let mut lines = text.lines();
        let header = lines
            .next()
            .unwrap_or_else(|| panic!("{}: no header line", path.display()))
            .split('\t')
            .map(str::to_string)
            .collect();
        let rows = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        Tsv {
            path: path.to_path_buf(),
            header,
            rows,
        }
    }

    /// Index of column `name`; a missing column fails, naming the file.
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{}: no `{name}` column", self.path.display()))
    }

    /// The fields `names` of every row, in order; a row without one fails, naming it.
    pub fn columns<const N: usize>(&self, names: [&str; N]) -> Vec<[&str; N]> {
        let cols = names.map(|n| self.col(n));
        self.rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                cols.map(|c| {
                    row.get(c).map(String::as_str).unwrap_or_else(|| {
                        panic!(
                            "{}: data row {} has no `{}` field",
                            self.path.display(),
                            i + 1,
                            self.header[c]
                        )
                    })
                })
            })
            .collect()
    }
}
