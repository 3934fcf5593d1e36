//! `--zeek-compat` on calls whose fragments carry more than Zeek's `DCE_RPC::max_frag_data`
//! (30,000) bytes in all but fewer in each (issue 21, item 1). Zeek checks the limit against
//! its chunked FlowBuffer, which holds only the fragment just added: a real Zeek logs such a
//! call, with `rtt` to its last response fragment, and the calls after it, and reports no
//! `too_much_dce_rpc_fragment_data` weird. The captures are the project's own
//! (`examples/make_captures.rs`); the lines expected are the operations a real Zeek logs
//! there, with `ts`, `rtt` and `named_pipe` from the generator's ground truth
//! (`NAME.expected.tsv`), which does not use the library.

mod common;
use common::*;
use rpcsift::output::Format;

/// Zeek's TSV lines for the calls of `captures/{name}.expected.tsv` (uid masked as
/// [`rows_masked_uid`] does), after checking that those calls are `ops`, in order.
fn zeek_lines_from_truth(name: &str, ops: &[(&str, &str)]) -> Vec<String> {
    let truth = Tsv::read(&project(&format!("captures/{name}.expected.tsv")));
    let col = |r: &Vec<String>, c: &str| r[truth.col(c)].clone();
    let got: Vec<(String, String)> = truth
        .rows
        .iter()
        .map(|r| (col(r, "endpoint"), col(r, "operation")))
        .collect();
    let want: Vec<(String, String)> = ops
        .iter()
        .map(|(e, o)| (e.to_string(), o.to_string()))
        .collect();
    assert_eq!(got, want, "{name}: the generator's calls");
    truth
        .rows
        .iter()
        .map(|r| {
            [
                col(r, "ts"),
                "UID".into(),
                col(r, "orig_h"),
                col(r, "orig_p"),
                col(r, "resp_h"),
                col(r, "resp_p"),
                col(r, "rtt"),
                // Zeek's ASCII writer escapes a backslash.
                col(r, "named_pipe").replace('\\', "\\\\"),
                col(r, "endpoint"),
                col(r, "operation"),
            ]
            .join("\t")
        })
        .collect()
}

fn check(name: &str, ops: &[(&str, &str)]) {
    let want = zeek_lines_from_truth(name, ops);
    let out = run(&[project(&format!("captures/{name}.pcap"))], &zeek_compat());
    assert_eq!(
        rows_masked_uid(&render(&out, Format::Zeek)),
        want,
        "{name}: --zeek-compat differs from what Zeek logs"
    );
    let c = &out.counters;
    assert_eq!(
        (
            c.zeek_too_much_fragment_data,
            c.zeek_too_many_msgs_in_reassembly,
            c.zeek_multiple_first_fragments
        ),
        (0, 0, 0),
        "{name}: Zeek reports no DCE-RPC weird here"
    );
}

/// DCOM on a dynamic port: GetObject's response is 16 fragments of 5,840 bytes (93,056 stub
/// bytes). Zeek logs GetObject with `rtt` to the last fragment, then ExecMethod and, on
/// another presentation context, RemRelease.
#[test]
fn tcp_response_in_many_fragments_is_logged_and_so_are_the_next_calls() {
    check(
        "dcom_wmi_bigresp",
        &[
            ("IWbemServices", "GetObject"),
            ("IWbemServices", "ExecMethod"),
            ("IRemUnknown2", "RemRelease"),
        ],
    );
    // GetObject's request completes at 1704075000.103007; the first response fragment at
    // .149817 (rtt 0.046810), the last at .154377: Zeek's rtt runs to the last one.
    let truth = Tsv::read(&project("captures/dcom_wmi_bigresp.expected.tsv"));
    assert_eq!(truth.rows[0][truth.col("ts")], "1704075000.103007");
    assert_eq!(truth.rows[0][truth.col("rtt")], "0.051370");
}

/// An SMB2 named pipe (`\atsvc`): SchRpcRegisterTask's request is 9 fragments (34,740 stub
/// bytes), SchRpcRetrieveTask's response 9 more. Zeek logs all six calls.
#[test]
fn pipe_request_in_many_fragments_is_logged_and_so_are_the_next_calls() {
    let tsch = "ITaskSchedulerService";
    check(
        "smb2_atsvc_bigtask",
        &[
            (tsch, "SchRpcRegisterTask"),
            (tsch, "SchRpcEnableTask"),
            (tsch, "SchRpcRetrieveTask"),
            (tsch, "SchRpcRun"),
            (tsch, "SchRpcGetLastRunInfo"),
            (tsch, "SchRpcDelete"),
        ],
    );
}
