//! The `rpcsift` binary: formats, output file, directories, summary and exit codes.

use std::process::Command;

fn rpcsift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rpcsift"))
}

fn captures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// The generated captures (top level of `captures/`), copied into a fresh directory with
/// half of them in a subdirectory, so that the directory walk is exercised and the count
/// does not depend on other capture sets kept under `captures/`.
fn generated_captures_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rpcsift-cli-dir-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).expect("temp dir");
    let mut names: Vec<_> = std::fs::read_dir(captures())
        .expect("captures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 15, "generated captures");
    for (i, p) in names.iter().enumerate() {
        let to = if i % 2 == 0 { &dir } else { &sub };
        std::fs::copy(p, to.join(p.file_name().expect("name"))).expect("copy");
    }
    dir
}

#[test]
fn directory_of_captures_zeek_tsv() {
    let dir = generated_captures_dir();
    let out = rpcsift().arg("calls").arg(&dir).output().expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let rows: Vec<&str> = stdout.lines().filter(|l| !l.starts_with('#')).collect();
    // 58 calls across the 15 generated captures (see captures/README.md).
    assert_eq!(rows.len(), 58);
    assert!(stdout.starts_with("#separator \\x09\n"));
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("#close\t"))
    );
    let stderr = String::from_utf8(out.stderr).expect("utf8");
    assert!(stderr.contains("== rpcsift summary =="));
    assert!(stderr.contains("58  DCE-RPC calls"), "{stderr}");
    // smb3_encrypted: one SMB3 session whose messages are all encrypted.
    assert!(
        stderr.contains("\n1 SMB3 sessions encrypted: their calls are invisible\n"),
        "{stderr}"
    );
}

#[test]
fn json_to_file_and_quiet() {
    let dir = std::env::temp_dir().join(format!("rpcsift-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("calls.json");
    let out = rpcsift()
        .args(["calls", "--quiet", "--format", "json", "-o"])
        .arg(&file)
        .arg(captures().join("atsvc_schtask.pcap"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let text = std::fs::read_to_string(&file).expect("read output");
    let ops: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["operation"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(ops, ["NetrJobAdd", "SchRpcRegisterTask", "SchRpcRun"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_file_exits_1_and_others_still_processed() {
    let dir = std::env::temp_dir().join(format!("rpcsift-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let bad = dir.join("bad.pcap");
    std::fs::write(&bad, b"this is not a capture file at all").expect("write");
    let out = rpcsift()
        .args(["calls", "--format", "zeek-json"])
        .arg(&bad)
        .arg(captures().join("tcp135_epmapper.pcap"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.pcap"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_capture_found_exits_2() {
    let dir = std::env::temp_dir().join(format!("rpcsift-cli-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let out = rpcsift().arg("calls").arg(&dir).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = rpcsift()
        .arg("calls")
        .arg("--format")
        .arg("nope")
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A capture over the progress threshold (8 MiB): a lab capture's records repeated.
fn big_capture(dir: &std::path::Path) -> std::path::PathBuf {
    let src = std::fs::read(captures().join("impacket/stress_bigstub_smb2.pcap")).expect("read");
    let mut out = src.clone();
    while out.len() < 9 << 20 {
        out.extend_from_slice(&src[24..]);
    }
    let p = dir.join("big.pcap");
    std::fs::write(&p, out).expect("write");
    p
}

#[test]
fn progress_only_on_a_terminal() {
    let dir = std::env::temp_dir().join(format!("rpcsift-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let big = big_capture(&dir);
    // Piped: the summary, no progress line.
    let out = rpcsift()
        .args(["calls", "--format", "json", "-o", "/dev/null"])
        .arg(&big)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("== rpcsift summary =="));
    assert!(!stderr.contains("MiB/s"), "{stderr}");
    // On a terminal (util-linux `script` gives one): a progress line, then the summary.
    let Some(script) = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
    else {
        eprintln!("util-linux script not found: skipping the terminal half");
        return;
    };
    let cmd = format!(
        "{} calls --format json -o /dev/null {}",
        env!("CARGO_BIN_EXE_rpcsift"),
        big.display()
    );
    let tty = Command::new(script)
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&tty.stdout);
    assert!(text.contains(" MiB ("), "{text}");
    assert!(text.contains("== rpcsift summary =="), "{text}");
    // --quiet: nothing at all, even on a terminal.
    let quiet = Command::new(script)
        .args(["-q", "-e", "-c", &format!("{cmd} --quiet"), "/dev/null"])
        .output()
        .expect("script");
    assert!(
        quiet.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn standard_input_plain_and_gzip() {
    use std::io::Write as _;
    let cap = std::fs::read(captures().join("multifrag.pcap")).expect("read");
    let from_file = rpcsift()
        .args(["calls", "--quiet", "--format", "json"])
        .arg(captures().join("multifrag.pcap"))
        .output()
        .expect("run");
    let lines = |o: &[u8]| {
        String::from_utf8_lossy(o)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
                // The capture label and the uid derived from it name the input.
                let o = v.as_object_mut().expect("object");
                o.remove("capture");
                o.remove("uid");
                v.to_string()
            })
            .collect::<Vec<_>>()
    };
    let want = lines(&from_file.stdout);
    assert_eq!(want.len(), 6);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&cap).expect("gzip");
    let gz = gz.finish().expect("gzip");
    for input in [cap.clone(), gz] {
        let mut child = rpcsift()
            .args(["calls", "--quiet", "--format", "json", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&input)
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(lines(&out.stdout), want);
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"capture\":\"stdin\""));
    }
}

/// `-o -` is standard output for every subcommand that takes `-o`: no file named `-`.
#[test]
fn dash_output_is_standard_output() {
    let dir = std::env::temp_dir().join(format!("rpcsift-cli-dash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let cap = captures().join("atsvc_schtask.pcap");
    let runs: [&[&str]; 3] = [
        &["calls", "--quiet", "--format", "json", "-o", "-"],
        &["detect", "--quiet", "--format", "json", "-o", "-"],
        &["report", "--quiet", "-o", "-"],
    ];
    for args in runs {
        let out = rpcsift()
            .current_dir(&dir)
            .args(args)
            .arg(&cap)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = String::from_utf8(out.stdout).expect("utf8");
        match args[0] {
            "calls" => assert_eq!(stdout.lines().count(), 3, "{stdout}"),
            // SchRpcRegisterTask and SchRpcRun are execution indicators.
            "detect" => assert!(stdout.contains("SchRpcRegisterTask"), "{stdout}"),
            _ => assert!(stdout.starts_with("<!DOCTYPE html>"), "{stdout}"),
        }
        assert!(!dir.join("-").exists(), "{args:?} wrote a file named -");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--quiet` silences the summary, never an error: an unreadable capture is named on
/// standard error with its offset and cause.
#[test]
fn quiet_still_reports_unreadable_files() {
    let dir = std::env::temp_dir().join(format!("rpcsift-cli-quiet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let bad = dir.join("garbage.pcap");
    std::fs::write(&bad, b"this is not a capture at all").expect("write");
    for cmd in ["calls", "detect"] {
        let out = rpcsift()
            .args([cmd, "--quiet"])
            .arg(&bad)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let stderr = String::from_utf8(out.stderr).expect("utf8");
        assert_eq!(
            stderr,
            format!(
                "rpcsift: error: {} at offset 0: not a PCAP or PCAPNG capture: unknown magic 74686973\n",
                bad.display()
            ),
            "{cmd}"
        );
    }
    // A missing path names the OS error once.
    let missing = dir.join("nope.pcap");
    let out = rpcsift()
        .args(["calls", "--quiet"])
        .arg(&missing)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).expect("utf8");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
