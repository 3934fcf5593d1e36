//! End to end with the analyst's keys (issue 17): the Impacket lab's packet-privacy
//! captures with `captures/impacket/lab.keys`, the AD lab's captures with their key files
//! (NTLM and Kerberos DCE-RPC sealing, SMB3 AES-128-CCM and AES-128-GCM encryption, keys
//! derived from a password or a keytab, or given as `smb3-key` lines), wrong keys, no keys,
//! the Zeek emulation (never any key), the CLI's key errors, and Wireshark's SMB3 vector
//! captures (`RPCSIFT_WIRESHARK_VECTORS`, see tests/auth_vectors.rs).

mod common;
use common::lab::{lab_truth, task_command};
use common::*;
use rpcsift::auth::keys::KeyRing;
use rpcsift::engine::{Options, RunOutput};
use rpcsift::output::Format;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const AD: &str = "captures/ad-lab/out";

fn ring_of(files: &[PathBuf]) -> Arc<KeyRing> {
    let mut r = KeyRing::new();
    for f in files {
        r.load_file(f)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    Arc::new(r)
}

fn with_keys(files: &[PathBuf]) -> Options {
    Options {
        keys: Some(ring_of(files)),
        ..Options::default()
    }
}

fn json(out: &RunOutput) -> Vec<Value> {
    render(out, Format::Json)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// A key file written for a test (the AD lab's keytab named by its absolute path).
fn key_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write key file");
    p
}

fn lab_keys() -> PathBuf {
    project("captures/impacket/lab.keys")
}

/// The lab's NTLM packet-privacy captures: with the lab's key file every sealed call is
/// decrypted (with the password), and every argument the truth file records decodes to
/// the value the Impacket client sent; the account comes from the bind.
#[test]
fn lab_privacy_captures_decrypt_to_the_truth() {
    // (capture, calls, execution arguments checked)
    let cases = [
        ("stress_privacy_tcp", 7, 2),
        ("psexec_privacy_smb2", 7, 2),
        ("atexec_privacy_smb2", 3, 1),
    ];
    for (name, calls, values) in cases {
        let out = run(
            &[project(&format!("captures/impacket/{name}.pcap"))],
            &with_keys(&[lab_keys()]),
        );
        let recs = json(&out);
        let rows = lab_truth(name);
        assert_eq!(recs.len(), rows.len(), "{name}: one record per truth row");
        assert_eq!(recs.len(), calls, "{name}");
        let mut checked = 0;
        for (i, (t, r)) in rows.iter().zip(&recs).enumerate() {
            let at = format!("{name} call {}", i + 1);
            assert_eq!(r["uuid"], t.request.uuid.as_str(), "{at}");
            assert_eq!(r["operation"], t.operation.as_str(), "{at}");
            assert_eq!(r["encrypted"], true, "{at}: sealed on the wire");
            assert_eq!(r["decrypted"], true, "{at}");
            assert_eq!(r["decrypted_with"], "password", "{at}");
            assert_ne!(r["args_status"], "encrypted", "{at}");
            assert_eq!(
                (r["user"].as_str(), r["domain"].as_str(), r["auth"].as_str()),
                (Some("labadmin"), Some("LAB"), Some("ntlm")),
                "{at}"
            );
            let a = &r["args"];
            if let Some(v) = &t.service_name {
                assert_eq!(a["service_name"], v.as_str(), "{at}");
                checked += 1;
            }
            if let Some(v) = &t.binary_path {
                assert_eq!(a["binary_path"], v.as_str(), "{at}");
                checked += 1;
            }
            if let Some(v) = &t.task_command {
                assert_eq!(task_command(a).as_deref(), Some(v.as_str()), "{at}");
                checked += 1;
            }
            if r["args_status"] != "no_decoder" {
                assert_eq!(r["args_status"], "decoded", "{at}: {r}");
            }
        }
        assert_eq!(checked, values, "{name}: truth values checked");
        let c = &out.counters;
        assert_eq!(c.dcerpc_encrypted_stubs, calls as u64, "{name}");
        assert_eq!(c.dcerpc_decrypted_calls, calls as u64, "{name}");
        assert_eq!(c.dcerpc_sealed_left, 0, "{name}");
        assert_eq!(c.dcerpc_unseal_failures, 0, "{name}");
        let v = &c.keys.verified["LAB\\labadmin"];
        assert_eq!((v.auth, v.with), ("ntlm", "password"));
        assert!(v.origin.ends_with("lab.keys:3"), "{}", v.origin);
        assert!(c.keys.keys_failed.is_empty() && c.keys.without_key.is_empty());
    }
}

/// The NT hash alone does the same, and says so.
#[test]
fn lab_privacy_capture_with_the_nt_hash() {
    let dir = temp_dir("nthash");
    let k = key_file(
        &dir,
        "hash.keys",
        "nt-hash LAB\\labadmin 9bf15d3185edc976c5a9767d00e9436d\n",
    );
    let out = run(
        &[project("captures/impacket/psexec_privacy_smb2.pcap")],
        &with_keys(&[k]),
    );
    let recs = json(&out);
    assert_eq!(recs.len(), 7);
    for r in &recs {
        assert_eq!(
            (r["decrypted"].as_bool(), r["decrypted_with"].as_str()),
            (Some(true), Some("nt-hash"))
        );
    }
    let c = recs
        .iter()
        .find(|r| r["operation"] == "CreateServiceW")
        .unwrap();
    assert_eq!(c["args"]["service_name"], "SealSvc");
    assert_eq!(c["what_ran"], r"service SealSvc: %SystemRoot%\SealSvc.exe");
}

/// Packet integrity: the stubs were readable already; with the key every signature of
/// both directions verifies, and nothing else changes.
#[test]
fn lab_integrity_signatures_verify() {
    let p = project("captures/impacket/stress_integrity_tcp.pcap");
    let out = run(std::slice::from_ref(&p), &with_keys(&[lab_keys()]));
    assert_eq!(out.counters.dcerpc_signatures_verified, 14);
    assert_eq!(out.counters.dcerpc_signature_failures, 0);
    let plain = json(&run(&[p], &Options::default()));
    let keyed = json(&out);
    assert_eq!(plain.len(), keyed.len());
    for (a, b) in plain.iter().zip(&keyed) {
        let mut b = b.clone();
        assert_eq!(b["decrypted"], false);
        b.as_object_mut().unwrap().remove("decrypted");
        assert_eq!(a, &b);
    }
}

/// The AD lab truth file's rows: (uuid, opnum, encryption).
fn ad_truth(name: &str) -> Vec<(String, String, String)> {
    let t = Tsv::read(&project(&format!("{AD}/{name}.truth.tsv")));
    t.columns(["uuid", "opnum", "encryption"])
        .into_iter()
        .map(|[u, o, e]| (u.to_string(), o.to_string(), e.to_string()))
        .collect()
}

/// (capture, sealed calls decrypted, SMB3 sessions decrypted, records with a Kerberos
/// ticket's account)
const AD_CASES: [(&str, u64, u64, usize); 22] = [
    ("dcsync_ntlm", 6, 1, 0),
    ("dcsync_krbtgt_ntlm", 4, 1, 0),
    ("dcsync_kerberos", 6, 1, 11),
    ("dcsync_krbtgt_kerberos", 4, 1, 8),
    ("hive_secretsdump", 6, 1, 0),
    ("hive_regsave", 0, 0, 0),
    ("enum_lookupsid", 0, 0, 0),
    ("enum_samrdump_kerberos", 0, 1, 14),
    ("enum_rpcclient", 0, 0, 0),
    ("discovery_srvsvc_wkssvc", 0, 0, 0),
    ("coerce_printerbug", 0, 0, 0),
    ("coerce_petitpotam", 0, 0, 0),
    ("coerce_petitpotam_privacy", 1, 0, 0),
    ("coerce_dfscoerce", 0, 1, 0),
    ("zerologon_tcp", 0, 0, 0),
    ("svcctl_create_smb21", 0, 0, 0),
    ("svcctl_create_smb3", 0, 1, 0),
    ("drs_clone_kerberos", 15, 0, 15),
    ("drs_clone_ntlm", 15, 0, 0),
    ("rpcclient_tcp_seal_kerberos", 8, 0, 8),
    ("rpcclient_smb3_gcm", 0, 1, 0),
    ("smb_encrypt_required", 0, 2, 8),
];

/// Every AD lab capture with its key file: one record per truth row, in order, with the
/// truth's interface and opnum; a record is decrypted exactly when the truth says the
/// request was encrypted (DCE-RPC sealing, SMB3 encryption or both), and then with the
/// key that opened it; Kerberos calls name the account from the decrypted ticket.
#[test]
fn ad_lab_captures_decrypt_with_their_keys() {
    for (name, sealed, smb3, tickets) in AD_CASES {
        let cap = project(&format!("{AD}/{name}.pcap"));
        let keys = project(&format!("{AD}/{name}.keys"));
        let out = run(&[cap], &with_keys(&[keys]));
        let recs = json(&out);
        let rows = ad_truth(name);
        assert_eq!(recs.len(), rows.len(), "{name}: one record per truth row");
        let mut ticket_accounts = 0;
        for (i, ((uuid, opnum, enc), r)) in rows.iter().zip(&recs).enumerate() {
            let at = format!("{name} call {}", i + 1);
            assert_eq!(r["uuid"], uuid.as_str(), "{at}");
            assert_eq!(r["opnum"].to_string(), *opnum, "{at}");
            assert_eq!(r["decrypted"], enc != "none", "{at}: encryption {enc}");
            assert_eq!(r["encrypted"], enc.contains("dce-privacy"), "{at}");
            if r["decrypted"] == true {
                let with = r["decrypted_with"].as_str().unwrap_or_default();
                // The key behind the authentication comes first; smb3-key lines are the
                // fallback (every key file has the password and the keytab).
                let want = if r["auth"] == "kerberos" {
                    "keytab"
                } else {
                    "password"
                };
                assert_eq!(with, want, "{at}: {r}");
                assert_ne!(r["args_status"], "encrypted", "{at}");
            }
            if r["auth"] == "kerberos" {
                assert_eq!(
                    (r["user"].as_str(), r["domain"].as_str()),
                    (Some("Administrator"), Some("LAB.TEST")),
                    "{at}"
                );
                let source = r["auth_source"].as_str().unwrap_or_default();
                assert!(source.ends_with("kerberos-ticket"), "{at}: {source}");
                ticket_accounts += 1;
            }
        }
        assert_eq!(
            ticket_accounts, tickets,
            "{name}: Kerberos calls with their account"
        );
        let c = &out.counters;
        assert_eq!(
            c.dcerpc_decrypted_calls, sealed,
            "{name}: sealed calls decrypted"
        );
        assert_eq!(c.dcerpc_sealed_left, 0, "{name}");
        assert_eq!(c.dcerpc_unseal_failures, 0, "{name}");
        assert_eq!(
            c.smb.smb3_decrypted_sessions, smb3,
            "{name}: SMB3 sessions decrypted"
        );
        assert_eq!(c.smb.smb3_decrypt_failures, 0, "{name}");
        assert!(c.keys.keys_failed.is_empty(), "{name}: {:?}", c.keys);
        eprintln!(
            "{name}: {} calls, {} sealed calls decrypted, {} SMB3 sessions ({} messages) decrypted",
            recs.len(),
            sealed,
            smb3,
            c.smb.smb3_decrypted_messages
        );
    }
}

/// SMB3 with keys derived from the authentication alone (no `smb3-key` line), and from the
/// `smb3-key` lines alone (no password, no keytab): the same calls decrypt; with only the
/// session keys a Kerberos session's account stays unknown and its DCE-RPC sealing stays.
#[test]
fn ad_lab_smb3_from_authentication_or_session_keys() {
    let dir = temp_dir("adkeys");
    let keytab = project(&format!("{AD}/lab.keytab"));
    let auth_only = key_file(
        &dir,
        "auth.keys",
        &format!(
            "password LAB\\Administrator Adm1n-Lab-Pass\nkeytab {}\n",
            keytab.display()
        ),
    );
    for (name, smb3, ccm_or_gcm) in [
        ("enum_samrdump_kerberos", 1, "ccm"),
        ("svcctl_create_smb3", 1, "ccm"),
        ("rpcclient_smb3_gcm", 1, "gcm"),
        ("smb_encrypt_required", 2, "gcm"),
        ("dcsync_kerberos", 1, "ccm"),
    ] {
        let cap = project(&format!("{AD}/{name}.pcap"));
        let rows = ad_truth(name);
        assert!(rows.iter().any(|r| r.2.contains(ccm_or_gcm)), "{name}");
        let out = run(
            std::slice::from_ref(&cap),
            &with_keys(std::slice::from_ref(&auth_only)),
        );
        assert_eq!(out.counters.smb.smb3_decrypted_sessions, smb3, "{name}");
        let recs = json(&out);
        assert_eq!(recs.len(), rows.len(), "{name}");
        for (row, r) in rows.iter().zip(&recs) {
            assert_eq!(r["decrypted"], row.2 != "none", "{name}: {r}");
        }
        // Session keys only.
        let lines: String = std::fs::read_to_string(project(&format!("{AD}/{name}.keys")))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("smb3-key"))
            .map(|l| format!("{l}\n"))
            .collect();
        let k = key_file(&dir, &format!("{name}.smb3.keys"), &lines);
        let out = run(&[cap], &with_keys(&[k]));
        assert_eq!(out.counters.smb.smb3_decrypted_sessions, smb3, "{name}");
        let recs = json(&out);
        assert_eq!(recs.len(), rows.len(), "{name}");
        for (row, r) in rows.iter().zip(&recs) {
            let smb3_row = row.2.starts_with("smb3");
            let sealed_row = row.2.contains("dce-privacy");
            if smb3_row {
                assert_eq!(r["decrypted"], true, "{name}: {r}");
                assert_eq!(r["decrypted_with"], "smb3-key", "{name}");
            }
            if sealed_row {
                // The DCE-RPC sealing needs the authentication's key.
                assert!(
                    r["args_status"] == "encrypted" || r["args_status"] == "no_decoder",
                    "{name}: {r}"
                );
            }
            if r["auth"] == "kerberos" && r["transport"] == "smb3" {
                assert!(r["user"].is_null(), "{name}: no ticket, no account");
            }
        }
        if name == "dcsync_kerberos" {
            assert_eq!(out.counters.dcerpc_sealed_left, 6);
            assert!(
                out.counters
                    .keys
                    .without_key
                    .keys()
                    .any(|k| k.starts_with("kerberos ticket for ")),
                "{:?}",
                out.counters.keys
            );
        }
    }
}

/// The SMB3-encrypted svcctl capture's CreateServiceW decodes to the binary path the
/// client sent (the truth file's key argument), as it would in clear.
#[test]
fn ad_lab_smb3_encrypted_create_service_arguments() {
    let cap = project(&format!("{AD}/svcctl_create_smb3.pcap"));
    let out = run(
        &[cap],
        &with_keys(&[project(&format!("{AD}/svcctl_create_smb3.keys"))]),
    );
    let recs = json(&out);
    let t = Tsv::read(&project(&format!("{AD}/svcctl_create_smb3.truth.tsv")));
    let want = t
        .columns(["operation", "key_value"])
        .into_iter()
        .find(|[op, _]| *op == "CreateServiceW")
        .map(|[_, v]| v.to_string())
        .expect("truth row");
    let c = recs
        .iter()
        .find(|r| r["operation"] == "CreateServiceW")
        .expect("CreateServiceW");
    assert_eq!(c["transport"], "smb3");
    assert_eq!(c["decrypted_with"], "password");
    assert_eq!(c["args"]["binary_path"], want.as_str());
    assert_eq!(
        (c["user"].as_str(), c["smb_user"].as_str()),
        (Some("Administrator"), Some("Administrator"))
    );
    // The same through `hive_secretsdump`: OpenServiceW on RemoteRegistry.
    let out = run(
        &[project(&format!("{AD}/hive_secretsdump.pcap"))],
        &with_keys(&[project(&format!("{AD}/hive_secretsdump.keys"))]),
    );
    let open = json(&out)
        .into_iter()
        .find(|r| r["operation"] == "OpenServiceW")
        .expect("OpenServiceW");
    assert_eq!(open["args"]["service_name"], "RemoteRegistry");
    assert_eq!(open["decrypted"], true);
}

/// Wrong keys are reported per account and origin and never used: nothing decrypts and
/// the records are those of a run without keys (plus `decrypted: false`).
#[test]
fn wrong_keys_are_reported_and_never_used() {
    let dir = temp_dir("wrong");
    let k = key_file(
        &dir,
        "wrong.keys",
        "# all wrong\npassword LAB\\labadmin Lab-Passw0rd?\nnt-hash * 00112233445566778899aabbccddeeff\npassword someone.else@LAB nope\n",
    );
    let cap = project("captures/impacket/psexec_privacy_smb2.pcap");
    let out = run(std::slice::from_ref(&cap), &with_keys(&[k]));
    let c = &out.counters;
    assert_eq!(c.dcerpc_decrypted_calls, 0);
    assert_eq!(c.dcerpc_sealed_left, 7);
    assert!(c.keys.verified.is_empty());
    assert_eq!(c.keys.without_key.get("LAB\\labadmin"), Some(&2));
    let failed: Vec<&String> = c.keys.keys_failed.keys().collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[0].ends_with("wrong.keys:2 (LAB\\labadmin)"),
        "{failed:?}"
    );
    assert!(
        failed[1].ends_with("wrong.keys:3 (LAB\\labadmin)"),
        "{failed:?}"
    );
    let plain = json(&run(&[cap], &Options::default()));
    let keyed = json(&out);
    assert_eq!(plain.len(), keyed.len());
    for (a, b) in plain.iter().zip(&keyed) {
        let mut b = b.clone();
        assert_eq!(b["decrypted"], false);
        assert!(b.get("decrypted_with").is_none());
        b.as_object_mut().unwrap().remove("decrypted");
        assert_eq!(a, &b);
    }
    // Neither the summary lines nor the output carry a secret.
    let lines = c.keys.lines().join("\n");
    for secret in ["Lab-Passw0rd?", "00112233445566778899aabbccddeeff", "nope"] {
        assert!(!lines.contains(secret) && !render(&out, Format::Json).contains(secret));
    }
}

/// No key, no change: without keys (or with a key file of comments only) the output is
/// byte for byte the same and has no decryption field; with keys that open nothing on a
/// clear capture, only `decrypted: false` is added. The Zeek emulation never uses keys.
#[test]
fn no_key_no_change() {
    let dir = temp_dir("nokey");
    let empty = key_file(&dir, "empty.keys", "# nothing here\n\n");
    let caps = [
        project("captures/atsvc_schtask.pcap"),
        project("captures/smb3_encrypted.pcap"),
        project("captures/impacket/stress_privacy_tcp.pcap"),
    ];
    let plain = run(&caps, &Options::default());
    let text = render(&plain, Format::Json);
    assert!(!text.contains("\"decrypted"));
    let none = run(&caps, &with_keys(&[empty]));
    assert_eq!(render(&none, Format::Json), text);
    assert_eq!(none.counters, plain.counters);
    // Zeek's log: the same with the lab's keys as without.
    let zeek = run(&caps, &zeek_compat());
    let zeek_keys = run(
        &caps,
        &Options {
            keys: Some(ring_of(&[lab_keys()])),
            ..zeek_compat()
        },
    );
    assert_eq!(
        render(&zeek_keys, Format::Zeek),
        render(&zeek, Format::Zeek)
    );
    assert_eq!(zeek_keys.counters, zeek.counters);
    // A clear capture with keys: the records only gain `decrypted: false`.
    let clear = [project("captures/atsvc_schtask.pcap")];
    let a = json(&run(&clear, &Options::default()));
    let b = json(&run(&clear, &with_keys(&[lab_keys()])));
    assert_eq!(a.len(), b.len());
    for (x, mut y) in a.into_iter().zip(b) {
        assert_eq!(y["decrypted"], false);
        y.as_object_mut().unwrap().remove("decrypted");
        assert_eq!(x, y);
    }
}

/// The output is the same whatever the number of workers, keys or not.
#[test]
fn decrypted_output_does_not_depend_on_workers() {
    let caps: Vec<PathBuf> = ["dcsync_kerberos", "smb_encrypt_required", "drs_clone_ntlm"]
        .iter()
        .map(|n| project(&format!("{AD}/{n}.pcap")))
        .collect();
    let keys: Vec<PathBuf> = ["dcsync_kerberos", "smb_encrypt_required", "drs_clone_ntlm"]
        .iter()
        .map(|n| project(&format!("{AD}/{n}.keys")))
        .collect();
    let one = run(
        &caps,
        &Options {
            workers: 1,
            ..with_keys(&keys)
        },
    );
    let four = run(
        &caps,
        &Options {
            workers: 4,
            ..with_keys(&keys)
        },
    );
    assert_eq!(render(&one, Format::Json), render(&four, Format::Json));
    assert_eq!(one.counters, four.counters);
}

/// The CLI: a malformed key file is exit 2 naming the file and line (never the secret);
/// a missing keytab too; keys with --zeek-compat are ignored with a note; the summary
/// lists the accounts and keys.
#[test]
fn cli_keys() {
    let dir = temp_dir("cli");
    let bad = key_file(
        &dir,
        "bad.keys",
        "password LAB\\x Secret-1\nnt-hash LAB\\x 1234\n",
    );
    let cap = project("captures/impacket/stress_privacy_tcp.pcap");
    let o = rpcsift()
        .args(["calls", "--keys"])
        .arg(&bad)
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.keys:2"), "{err}");
    assert!(!err.contains("Secret-1") && !err.contains("1234"), "{err}");
    let o = rpcsift()
        .args(["detect", "--keytab", "/nonexistent/x.keytab"])
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("x.keytab"));
    let o = rpcsift()
        .args(["calls", "--nt-hash", "xyz"])
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // Good keys: the summary says who and how, never the password.
    let o = rpcsift()
        .args(["calls", "--format", "json", "--password", "Lab-Passw0rd!"])
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "key verified: LAB\\labadmin (ntlm, password from --password #1, 1 authentication)"
        ),
        "{err}"
    );
    assert!(
        err.contains("7  sealed calls decrypted with the analyst's keys"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!err.contains("Lab-Passw0rd!") && !out.contains("Lab-Passw0rd!"));
    assert_eq!(out.matches("\"decrypted\":true").count(), 7);
    // Zeek emulation: keys ignored, said once.
    let o = rpcsift()
        .args(["calls", "--zeek-compat", "--keys"])
        .arg(lab_keys())
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not used with --zeek-compat"));
    // detect finds the sealed execution calls' arguments; report says what the keys did.
    let o = rpcsift()
        .args(["detect", "--format", "json", "--keys"])
        .arg(lab_keys())
        .arg(&cap)
        .output()
        .unwrap();
    let hits = String::from_utf8_lossy(&o.stdout);
    assert!(hits.contains("AuthSvc"), "{hits}");
    let html = dir.join("r.html");
    let o = rpcsift()
        .args(["report", "-q", "-o"])
        .arg(&html)
        .arg("--keys")
        .arg(lab_keys())
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("authentications of LAB\\\\labadmin: key verified"));
    assert!(!page.contains("Lab-Passw0rd!"));
}

/// Kerberos-sealed DRSUAPI: the unsealed request stubs carry what secretsdump and Samba's
/// clone asked for (rpcsift has no DRSUAPI argument decoder yet, so the stubs are read
/// here through the library's security context and association, with every stub kept).
#[test]
fn kerberos_sealed_drsuapi_stubs_carry_the_request() {
    use rpcsift::dcerpc::security::{Security, Unsealed, has_verifier};
    use rpcsift::dcerpc::{Association, Framer, Limits, Recovery, parse_pdu};
    use rpcsift::stats::Counters;
    // The binary SID S-1-5-21-1111111111-2222222222-3333333333-500 in pNC's DSNAME.
    let mut sid = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
    for sub in [21u32, 1111111111, 2222222222, 3333333333, 500] {
        sid.extend_from_slice(&sub.to_le_bytes());
    }
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let dn = utf16("DC=lab,DC=test");
    // (capture, DRSGetNCChanges requests, what the first one asks for)
    let cases: [(&str, usize, &[u8]); 4] = [
        ("dcsync_kerberos", 4, &sid),
        ("dcsync_ntlm", 4, &sid),
        ("drs_clone_kerberos", 14, &dn),
        ("drs_clone_ntlm", 14, &dn),
    ];
    for (name, want, needle) in cases {
        let port = 49153;
        let chunks = tcp_chunks(&project(&format!("{AD}/{name}.pcap")), port);
        let ring = ring_of(&[project(&format!("{AD}/{name}.keys"))]);
        let mut sec = Security::new(ring);
        let mut assoc = Association::new(Limits::default());
        let mut c = Counters::default();
        let mut buf = Vec::new();
        // PDUs of both directions in the order their last bytes arrived.
        let mut pdus: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut framers = [Framer::new(Recovery::Scan), Framer::new(Recovery::Scan)];
        for (dir, data) in &chunks {
            if data.is_empty() {
                // Bytes lost (the clone captures cut the server's big responses).
                framers[*dir].gap();
                continue;
            }
            framers[*dir].feed(data, &mut Counters::default(), &mut |p| {
                pdus.push((*dir, p.to_vec()))
            });
        }
        for (dir, raw) in &pdus {
            let mut unsealed = None;
            if sec.active()
                && has_verifier(raw)
                && let Unsealed::Unsealed(k) = sec.unseal(raw, &mut buf, &mut c)
            {
                unsealed = Some(k);
            }
            let bytes: &[u8] = if unsealed.is_some() { &buf } else { raw };
            let p = parse_pdu(bytes).expect("pdu");
            if p.auth.is_some() && !matches!(p.header.ptype, 0 | 2 | 3) {
                sec.on_auth_leg(bytes, &mut c.keys);
            }
            assoc.on_pdu_unsealed(
                *dir,
                rpcsift::capture::Timestamp::new(0, 0),
                &p,
                unsealed,
                &mut c,
            );
        }
        let calls = assoc.finish(&mut c);
        let changes: Vec<_> = calls.iter().filter(|x| x.opnum == 3).collect();
        assert_eq!(changes.len(), want, "{name}: DRSGetNCChanges");
        assert!(
            changes.iter().all(|x| x.encrypted && x.decrypted.is_some()),
            "{name}: {c:?}"
        );
        assert!(
            changes[0].stub.windows(needle.len()).any(|w| w == needle),
            "{name}: pNC in the unsealed stub"
        );
        assert_eq!(c.dcerpc_unseal_failures, 0, "{name}");
    }
}

/// The data of the first TCP connection to `port`, chunk by chunk as reassembled, with
/// the direction of each (an empty chunk: bytes lost there).
fn tcp_chunks(path: &Path, port: u16) -> Vec<(usize, Vec<u8>)> {
    use rpcsift::capture::{PacketDecoder, open_capture, read_frames};
    use rpcsift::flow::table::{ConnMeta, FlowApp};
    use rpcsift::flow::{FlowEvent, FlowLimits, FlowTable};
    use rpcsift::stats::Counters;
    use std::cell::RefCell;
    use std::rc::Rc;
    type Chunks = Vec<(usize, Vec<u8>)>;
    struct Rec {
        bytes: Chunks,
        done: Rc<RefCell<Vec<Chunks>>>,
    }
    impl FlowApp for Rec {
        fn event(&mut self, _m: &ConnMeta, ev: FlowEvent<'_>) -> bool {
            match ev {
                FlowEvent::Data { dir, data, .. } => self.bytes.push((dir, data.to_vec())),
                FlowEvent::Gap { dir, .. } => self.bytes.push((dir, Vec::new())),
                FlowEvent::Close { .. } => {
                    self.done.borrow_mut().push(std::mem::take(&mut self.bytes))
                }
            }
            true
        }
    }
    let done = Rc::new(RefCell::new(Vec::new()));
    let d2 = done.clone();
    let mut table = FlowTable::new(
        FlowLimits::default(),
        |p| p == 135 || p == 445 || (49152..=49154).contains(&p),
        move |m: &ConnMeta| Rec {
            bytes: Vec::new(),
            done: if m.resp.1 == port {
                d2.clone()
            } else {
                Rc::new(RefCell::new(Vec::new()))
            },
        },
    );
    let mut dec = PacketDecoder::new(false);
    let (mut c, mut c2) = (Counters::default(), Counters::default());
    let input = open_capture(path).expect("open");
    let mut notices = Vec::new();
    read_frames("t", input, &mut c, &mut notices, |fr| {
        dec.decode(fr, &mut c2, &mut |seg| {
            table.process(seg, &mut Counters::default())
        })
    })
    .expect("read");
    table.finish_all(&mut c2);
    drop(table);
    let v = Rc::try_unwrap(done)
        .map(RefCell::into_inner)
        .unwrap_or_default();
    v.into_iter().next().expect("a connection to the port")
}

/// Wireshark's SMB3 decryption captures through the whole engine, with an `smb3-key
/// SESSION_ID SESSION_KEY` line as its suite publishes them (the session id as the wire's
/// 8 bytes): the 3.0 KDF, and the 3.1.1 KDF over the preauth hash rpcsift computes,
/// for the four ciphers. Their one session decrypts (both its transform messages; the
/// captures carry a tree connect, no pipe) and nothing is left encrypted; without the key
/// the session is counted as encrypted.
#[test]
fn wireshark_smb3_vectors_decrypt_through_the_engine() {
    let Some(dir) = wireshark_vectors() else {
        return;
    };
    let tmp = temp_dir("ws");
    for (file, sid, key) in [
        (
            "smb300-aes-128-ccm.pcap.gz",
            "1900009c003c0000",
            "9a9ea16a0cdbeb6064772318073f172f",
        ),
        (
            "smb311-aes-128-ccm.pcap.gz",
            "2900009c003c0000",
            "f1fa528d3cd182cca67bd4596dabd885",
        ),
        (
            "smb311-aes-128-gcm.pcap.gz",
            "3900000000400000",
            "e79161ded03bda1449b2c8e58f753953",
        ),
        (
            "smb311-aes-256-ccm.pcap.gz",
            "d6fdb96d00000000",
            "6b559c2e60519e344581d086a6d3d050",
        ),
        (
            "smb311-aes-256-gcm.pcap.gz",
            "56dc03ab00000000",
            "6a5004adfbdef1abd5879800675324e5",
        ),
    ] {
        let cap = dir.join(file);
        assert!(cap.is_file(), "missing {}", cap.display());
        let plain = run(std::slice::from_ref(&cap), &Options::default());
        assert_eq!(plain.counters.smb.smb3_encrypted_sessions, 1, "{file}");
        assert_eq!(plain.counters.smb.smb3_encrypted_messages, 2, "{file}");
        let k = key_file(
            &tmp,
            &format!("{file}.keys"),
            &format!("smb3-key {sid} {key}\n"),
        );
        let out = run(&[cap], &with_keys(&[k]));
        let s = &out.counters.smb;
        assert_eq!(
            (s.smb3_decrypted_sessions, s.smb3_decrypted_messages),
            (1, 2),
            "{file}"
        );
        assert_eq!(
            (s.smb3_encrypted_sessions, s.smb3_encrypted_messages),
            (0, 0),
            "{file}"
        );
        assert_eq!(s.smb3_decrypt_failures, 0, "{file}");
        // The decrypted TREE_CONNECT request and response count as SMB2 messages.
        assert_eq!(
            s.smb2_messages,
            plain.counters.smb.smb2_messages + 2,
            "{file}"
        );
    }
}

/// `detect` with the AD lab's key files: the attack's proof is read through the key. The
/// service created inside an SMB3-encrypted session (NTLM, password) and the DCSync of
/// Kerberos-sealed drsuapi (keytab: the account comes from the ticket) show their
/// arguments and say how they were decrypted; without keys the SMB3 session hides the call
/// and the DCSync hits carry no argument and no account.
#[test]
fn detect_hits_carry_what_the_keys_opened() {
    let hits = |name: &str, keys: bool| -> Vec<Value> {
        let cap = project(&format!("{AD}/{name}.pcap"));
        let mut cmd = rpcsift();
        cmd.args(["detect", "--quiet", "--format", "json"]);
        if keys {
            cmd.arg("--keys").arg(project(&format!("{AD}/{name}.keys")));
        }
        let o = cmd.arg(&cap).output().expect("run rpcsift");
        assert_eq!(o.status.code(), Some(0), "{name}");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    };
    let svc = hits("svcctl_create_smb3", true);
    assert_eq!(svc.len(), 1, "{svc:?}");
    assert_eq!(svc[0]["operation"], "CreateServiceW");
    assert_eq!(svc[0]["decrypted"], true);
    assert_eq!(svc[0]["decrypted_with"], "password");
    assert_eq!(svc[0]["user"], "Administrator");
    assert!(
        svc[0]["what_ran"]
            .as_str()
            .is_some_and(|w| w.starts_with("service LabSvc3: %COMSPEC% /Q /c echo lab")),
        "{svc:?}"
    );
    assert!(hits("svcctl_create_smb3", false).is_empty());

    let sync = hits("dcsync_kerberos", true);
    assert_eq!(sync.len(), 4);
    let mut sids: Vec<&str> = sync
        .iter()
        .map(|h| {
            assert_eq!(h["operation"], "DRSGetNCChanges");
            assert_eq!(h["decrypted_with"], "keytab");
            assert_eq!(
                (h["user"].as_str(), h["auth"].as_str()),
                (Some("Administrator"), Some("kerberos"))
            );
            assert_eq!(h["args"]["extended_op_name"], "EXOP_REPL_OBJ");
            h["args"]["naming_context"]["sid"].as_str().expect("sid")
        })
        .collect();
    sids.sort_unstable();
    let rids: Vec<&str> = sids
        .iter()
        .map(|s| s.rsplit('-').next().unwrap_or(""))
        .collect();
    assert_eq!(rids, ["1000", "500", "501", "502"]);
    let sealed = hits("dcsync_kerberos", false);
    assert_eq!(sealed.len(), 4);
    assert!(sealed.iter().all(|h| h["args_status"] == "encrypted"
        && h["user"].is_null()
        && h.get("decrypted").is_none()));
}
