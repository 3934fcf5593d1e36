//! The attack lab's captures (`captures/impacket/<name>.pcap`, made by `captures/lab/make.sh`)
//! and their ground truth (`<name>.truth.tsv`, written by `captures/lab/scenarios.py`).

use super::{Tsv, need, project};
use std::collections::HashMap;
use std::path::Path;

/// The lab captures: the `<name>` of every `captures/impacket/<name>.truth.tsv`, sorted.
/// The folder is the one list (the lab writes it); `tests/lab_captures.rs` checks that each
/// name has its test and its capture.
pub fn lab_captures() -> Vec<String> {
    let names = truth_files("captures/impacket");
    assert!(!names.is_empty(), "captures/impacket: no truth file");
    names
}

/// The `<name>` of every `<name>.truth.tsv` in the project folder `dir`, sorted.
pub fn truth_files(dir: &str) -> Vec<String> {
    let dir = project(dir);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".truth.tsv").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// Zeek's endpoint names by lower-case interface UUID, and its operation names by
/// (lower-case UUID, opnum), from the shared reference tables.
pub type ZeekNames = (HashMap<String, String>, HashMap<(String, String), String>);

/// [`ZeekNames`] read from the shared folder `shared`.
pub fn zeek_names(shared: &Path) -> ZeekNames {
    let read = |rel: &str| Tsv::read(&need(shared, rel));
    let endpoints = read("reference/zeek-endpoints.tsv")
        .columns(["uuid", "endpoint"])
        .into_iter()
        .map(|[u, e]| (u.to_lowercase(), e.to_string()))
        .collect();
    let operations = read("reference/zeek-operations.tsv")
        .columns(["uuid", "opnum", "operation"])
        .into_iter()
        .map(|[u, n, o]| ((u.to_lowercase(), n.to_string()), o.to_string()))
        .collect();
    (endpoints, operations)
}

/// A request as the wire identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `smb1`, `smb2` or `tcp`.
    pub transport: String,
    /// The SMB pipe (no leading backslash) or the TCP server port.
    pub pipe_or_port: String,
    pub uuid: String,
    pub opnum: String,
}

/// One row of a truth file: one request the Impacket client sent, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthRow {
    pub request: Request,
    /// Zeek's names.
    pub endpoint: String,
    pub operation: String,
    /// `yes` when the call is an execution indicator, else `no`.
    pub execution: String,
    /// What the client sent; `None` where the truth writes `-`.
    pub service_name: Option<String>,
    pub binary_path: Option<String>,
    pub task_command: Option<String>,
    pub wmi_command_line: Option<String>,
}

/// The rows of `<name>.truth.tsv`. Fields are read by column name; the file must have its
/// 12 columns, a field for each in every row, and `call_index` counting 1, 2, 3...
pub fn lab_truth(name: &str) -> Vec<TruthRow> {
    let t = Tsv::read(&project(&format!("captures/impacket/{name}.truth.tsv")));
    assert_eq!(t.header.len(), 12, "{name}: truth columns {:?}", t.header);
    t.rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            assert_eq!(row.len(), t.header.len(), "{name}: truth row {}", i + 1);
            let get = |column: &str| row[t.col(column)].clone();
            let opt = |column: &str| Some(get(column)).filter(|v| v != "-");
            assert_eq!(get("call_index"), (i + 1).to_string(), "{name}: call_index");
            TruthRow {
                request: Request {
                    transport: get("transport"),
                    pipe_or_port: get("named_pipe_or_port"),
                    uuid: get("uuid"),
                    opnum: get("opnum"),
                },
                endpoint: get("endpoint"),
                operation: get("operation"),
                execution: get("execution_indicator"),
                service_name: opt("service_name"),
                binary_path: opt("binary_path"),
                task_command: opt("task_command"),
                wmi_command_line: opt("wmi_command_line"),
            }
        })
        .collect()
}

/// The task command as the truth files write it: Command, a space, Arguments (of a
/// decoded SchRpcRegisterTask's `args`).
pub fn task_command(a: &serde_json::Value) -> Option<String> {
    let x = &a["actions"][0];
    let cmd = x["command"].as_str()?;
    Some(match x["arguments"].as_str() {
        Some(args) => format!("{cmd} {args}"),
        None => cmd.to_string(),
    })
}
