//! The AD lab's ground truth (`captures/ad-lab/out/<name>.truth.tsv`, made by
//! `captures/ad-lab/make.sh` against a Samba 4.17 AD DC) checked against tshark's
//! decode of each capture WITH the lab's keys (`<name>.keys`: the administrator's
//! password for NTLMSSP, the exported keytab for Kerberos, the SMB3 session keys
//! Samba logged). Every truth row must be a DCE-RPC request tshark decodes (the
//! PDU with the last fragment), in the same order, with the same transport, SMB
//! dialect and session authentication, pipe or server port, interface UUID
//! (from the bind on that connection or pipe handle and context), opnum,
//! DCE-RPC authentication type and level and encryption, and tshark must see
//! no other request. The attack's key argument (coercion listener, Zerologon
//! credential, hive file...) is checked against tshark's field where tshark
//! decodes it. Without keys, tshark must see exactly the number of requests the
//! lab README lists (SMB3 encryption hides them; DCE-RPC sealing hides only the
//! stub), and rpcsift without keys must record exactly those requests (with the keys:
//! tests/decrypt.rs).
//!
//! tshark is installed by `.ci/run`. Without it the tshark checks fail when
//! `RPCSIFT_SHARED` is set (CI) and are skipped with a message otherwise. With
//! `RPCSIFT_SHARED` set, the Zeek names in the truth files are also checked
//! against the shared reference tables.

mod common;
use common::lab::{truth_files, zeek_names};
use common::*;
use rpcsift::engine::Options;
use rpcsift::output::Format;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const DIR: &str = "captures/ad-lab/out";

/// (capture, requests, requests tshark sees without keys, SMB3 sessions keyed).
const CAPTURES: [(&str, usize, usize, usize); 22] = [
    ("dcsync_ntlm", 11, 7, 1),
    ("dcsync_krbtgt_ntlm", 8, 5, 1),
    ("dcsync_kerberos", 12, 7, 1),
    ("dcsync_krbtgt_kerberos", 9, 5, 1),
    ("hive_secretsdump", 36, 7, 1),
    ("hive_regsave", 6, 6, 0),
    ("enum_lookupsid", 4, 4, 0),
    ("enum_samrdump_kerberos", 14, 0, 1),
    ("enum_rpcclient", 10, 10, 1),
    ("discovery_srvsvc_wkssvc", 5, 5, 0),
    ("coerce_printerbug", 3, 3, 0),
    ("coerce_petitpotam", 3, 3, 0),
    ("coerce_petitpotam_privacy", 1, 1, 0),
    ("coerce_dfscoerce", 1, 0, 1),
    ("zerologon_tcp", 9, 9, 0),
    ("svcctl_create_smb21", 3, 3, 0),
    ("svcctl_create_smb3", 3, 0, 1),
    ("drs_clone_kerberos", 16, 16, 0),
    ("drs_clone_ntlm", 16, 16, 0),
    ("rpcclient_tcp_seal_kerberos", 10, 10, 0),
    ("rpcclient_smb3_gcm", 8, 0, 1),
    ("smb_encrypt_required", 9, 0, 2),
];

/// Samba's dynamic DCE-RPC ports in the lab, decoded as DCE-RPC explicitly.
const RPC_PORTS: [u16; 3] = [49152, 49153, 49154];

const COLUMNS: [&str; 15] = [
    "call_index",
    "source",
    "transport",
    "smb_dialect",
    "named_pipe_or_port",
    "uuid",
    "endpoint",
    "opnum",
    "operation",
    "smb_auth",
    "auth_type",
    "auth_level",
    "encryption",
    "key_arg",
    "key_value",
];

/// Key arguments tshark 4.0 decodes: (truth key_arg, interface UUID, opnum, tshark field).
const KEY_FIELDS: [(&str, &str, u32, &str); 6] = [
    (
        "FileName",
        "c681d488-d850-11d0-8c52-00c04fd90f7e",
        0,
        "efs.EfsRpcOpenFileRaw.FileName",
    ),
    (
        "pszLocalMachine",
        "12345678-1234-abcd-ef00-0123456789ab",
        65,
        "spoolss.servername",
    ),
    (
        "ServerName",
        "4fc742e0-4a10-11cf-8273-00aa004ae673",
        12,
        "netdfs.dfs_AddStdRoot.servername",
    ),
    (
        "ClientChallenge",
        "12345678-1234-abcd-ef00-01234567cffb",
        4,
        "netlogon.clientchallenge",
    ),
    (
        "ClientCredential",
        "12345678-1234-abcd-ef00-01234567cffb",
        26,
        "netlogon.clientcred",
    ),
    (
        "lpFile",
        "338cd001-2244-31f1-aaaa-900038001003",
        20,
        "winreg.winreg_SaveKey.filename",
    ),
];

/// The part of a request both the truth and tshark's decode describe.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Request {
    transport: String,
    smb_dialect: String,
    pipe_or_port: String,
    uuid: String,
    opnum: u32,
    smb_auth: String,
    auth_type: String,
    auth_level: String,
    encryption: String,
}

struct TruthRow {
    request: Request,
    source: String,
    endpoint: String,
    operation: String,
    key_arg: String,
    key_value: String,
}

fn path(name: &str, ext: &str) -> PathBuf {
    project(&format!("{DIR}/{name}.{ext}"))
}

fn truth(name: &str) -> Vec<TruthRow> {
    let t = Tsv::read(&path(name, "truth.tsv"));
    assert_eq!(t.header, COLUMNS, "{name}: truth columns");
    t.rows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            assert_eq!(f.len(), COLUMNS.len(), "{name}: row {f:?}");
            assert_eq!(f[0], (i + 1).to_string(), "{name}: call_index");
            TruthRow {
                request: Request {
                    transport: f[2].to_string(),
                    smb_dialect: f[3].to_string(),
                    pipe_or_port: f[4].to_string(),
                    uuid: f[5].to_string(),
                    opnum: f[7].parse().expect("opnum"),
                    smb_auth: f[9].to_string(),
                    auth_type: f[10].to_string(),
                    auth_level: f[11].to_string(),
                    encryption: f[12].to_string(),
                },
                source: f[1].to_string(),
                endpoint: f[6].to_string(),
                operation: f[8].to_string(),
                key_arg: f[13].to_string(),
                key_value: f[14].to_string(),
            }
        })
        .collect()
}

/// A parsed key file (rpcsift's format: one key a line, `#` comments).
#[derive(Default)]
struct Keys {
    /// (user, secret)
    passwords: Vec<(String, String)>,
    nt_hashes: Vec<(String, String)>,
    keytabs: Vec<PathBuf>,
    /// (session id, session key, client-to-server key, server-to-client key)
    smb3: Vec<(String, String, String, String)>,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn keys(name: &str) -> Keys {
    let p = path(name, "keys");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut k = Keys::default();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut parts = t.splitn(3, char::is_whitespace);
        let kind = parts.next().unwrap_or_default();
        match kind {
            "password" => {
                let user = parts.next().expect("password user").to_string();
                let secret = parts.next().unwrap_or_default().to_string();
                k.passwords.push((user, secret));
            }
            "nt-hash" => {
                let user = parts.next().expect("nt-hash user").to_string();
                let hash = parts.next().expect("nt-hash value").trim().to_string();
                assert!(is_hex(&hash, 32), "{name}: nt-hash is 32 hex digits");
                k.nt_hashes.push((user, hash));
            }
            "keytab" => {
                let rel = t["keytab".len()..].trim();
                k.keytabs.push(p.parent().expect("keys folder").join(rel));
            }
            "smb3-key" => {
                let f: Vec<&str> = t.split_whitespace().collect();
                assert!(
                    f.len() == 3 || f.len() == 5,
                    "{name}: smb3-key SESSION_ID SESSION_KEY [C2S S2C]"
                );
                assert!(is_hex(f[1], 16), "{name}: session id is 8 bytes");
                for key in &f[2..] {
                    assert!(is_hex(key, 32), "{name}: SMB3 keys are 16 bytes");
                }
                let c2s = f.get(3).unwrap_or(&"").to_string();
                let s2c = f.get(4).unwrap_or(&"").to_string();
                k.smb3.push((f[1].to_string(), f[2].to_string(), c2s, s2c));
            }
            other => panic!("{name}: unknown key kind {other:?}"),
        }
    }
    k
}

/// tshark options that decrypt with a key file's keys (tshark 4.0 wants the
/// SMB2 session id as the 8 wire bytes; a keytab alone does not decrypt a
/// Kerberos SMB3 session there, the logged SMB3 keys do).
fn tshark_key_args(k: &Keys) -> Vec<String> {
    let mut a = vec!["-o".to_string(), "kerberos.decrypt:TRUE".to_string()];
    for (_, secret) in &k.passwords {
        a.push("-o".into());
        a.push(format!("ntlmssp.nt_password:{secret}"));
    }
    for kt in &k.keytabs {
        a.push("-K".into());
        a.push(kt.display().to_string());
    }
    for (id, key, c2s, s2c) in &k.smb3 {
        // Wireshark's record: session id, session key, server-to-client, client-to-server.
        a.push("-o".into());
        a.push(format!(
            "uat:smb2_seskey_list:{id},{key},\"{s2c}\",\"{c2s}\""
        ));
    }
    a
}

/// tshark's fields for the frames matching `filter` (see [`tshark::fields`]), one map
/// per frame from each field to its occurrences.
fn tshark_frames(
    pcap: &Path,
    key_args: &[String],
    filter: &str,
    fields: &[&'static str],
) -> Vec<HashMap<&'static str, Vec<String>>> {
    tshark::fields(pcap, key_args, &RPC_PORTS, filter, fields)
        .into_iter()
        .map(|cols| fields.iter().copied().zip(cols).collect())
        .collect()
}

const FIELDS: [&str; 24] = [
    "tcp.stream",
    "tcp.dstport",
    "frame.protocols",
    "smb2.cmd",
    "smb2.flags.response",
    "smb2.msg_id",
    "smb2.fid",
    "smb2.filename",
    "smb2.dialect",
    "smb2.negotiate_context.cipher_id",
    "smb2.header.transform.flags.encrypted",
    "dcerpc.pkt_type",
    "dcerpc.cn_ctx_id",
    "dcerpc.cn_bind_to_uuid",
    "dcerpc.opnum",
    "dcerpc.cn_flags",
    "dcerpc.auth_type",
    "dcerpc.auth_level",
    KEY_FIELDS[0].3,
    KEY_FIELDS[1].3,
    KEY_FIELDS[2].3,
    KEY_FIELDS[3].3,
    KEY_FIELDS[4].3,
    KEY_FIELDS[5].3,
];

const FILTER: &str = "dcerpc.pkt_type == 0 || dcerpc.pkt_type == 11 || dcerpc.pkt_type == 14 \
                      || smb2.cmd == 0 || smb2.cmd == 1 || smb2.cmd == 5";

fn hex_u32(s: &str) -> u32 {
    let t = s.trim_start_matches("0x");
    u32::from_str_radix(t, 16).unwrap_or_else(|_| panic!("hex {s:?}"))
}

fn auth_type_name(v: &str) -> &'static str {
    match v {
        "9" => "RPC_C_AUTHN_GSS_NEGOTIATE",
        "10" => "RPC_C_AUTHN_WINNT",
        "16" => "RPC_C_AUTHN_GSS_KERBEROS",
        "68" => "RPC_C_AUTHN_NETLOGON",
        other => panic!("auth type {other}"),
    }
}

fn auth_level_name(v: &str) -> &'static str {
    match v {
        "2" => "RPC_C_AUTHN_LEVEL_CONNECT",
        "4" => "RPC_C_AUTHN_LEVEL_PKT",
        "5" => "RPC_C_AUTHN_LEVEL_PKT_INTEGRITY",
        "6" => "RPC_C_AUTHN_LEVEL_PKT_PRIVACY",
        other => panic!("auth level {other}"),
    }
}

/// Every request tshark decodes in `pcap` with `key_args`, in capture order,
/// one per call, with the value of the key-argument field its frame carries.
fn decoded(pcap: &Path, key_args: &[String]) -> Vec<(Request, Option<String>)> {
    // (stream, SMB2 handle or "", context id) -> interface: one association per
    // TCP connection, or per pipe handle (several pipes share an SMB connection).
    let mut ifaces: HashMap<(String, String, String), String> = HashMap::new();
    let mut create_names: HashMap<(String, String), String> = HashMap::new();
    let mut pipes: HashMap<(String, String), String> = HashMap::new();
    let (mut dialect, mut cipher, mut smb_auth) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut out = Vec::new();
    for f in tshark_frames(pcap, key_args, FILTER, &FIELDS) {
        let stream = f["tcp.stream"][0].clone();
        let protocols = f["frame.protocols"].first().cloned().unwrap_or_default();
        let layers: Vec<&str> = protocols.split(':').collect();
        let cmds = &f["smb2.cmd"];
        let response = f["smb2.flags.response"].first().map(String::as_str);
        let handle = f["smb2.fid"].first().cloned().unwrap_or_default();
        if cmds == &["0"] && response == Some("1") {
            if let Some(d) = f["smb2.dialect"].first() {
                let d = hex_u32(d);
                if d != 0x02FF {
                    let name = match d {
                        0x0202 => "2.0.2",
                        0x0210 => "2.1",
                        0x0300 => "3.0",
                        0x0302 => "3.0.2",
                        0x0311 => "3.1.1",
                        other => panic!("dialect {other:#x}"),
                    };
                    dialect.insert(stream.clone(), name);
                }
            }
            if let Some(c) = f["smb2.negotiate_context.cipher_id"].first() {
                let name = match hex_u32(c) {
                    1 => "aes-128-ccm",
                    2 => "aes-128-gcm",
                    3 => "aes-256-ccm",
                    4 => "aes-256-gcm",
                    other => panic!("cipher {other}"),
                };
                cipher.insert(stream.clone(), name);
            }
        }
        if cmds == &["1"] && response == Some("0") {
            if layers.contains(&"ntlmssp") {
                smb_auth.insert(stream.clone(), "ntlm");
            } else if layers.contains(&"kerberos") || layers.contains(&"spnego-krb5") {
                smb_auth.insert(stream.clone(), "kerberos");
            }
        }
        if cmds == &["5"] {
            let msg = f["smb2.msg_id"][0].clone();
            if response == Some("0") {
                if let Some(n) = f["smb2.filename"].first() {
                    let n = n.to_lowercase().trim_start_matches('\\').to_string();
                    create_names.insert((stream.clone(), msg), n);
                }
            } else if let Some(n) = create_names.get(&(stream.clone(), msg))
                && !handle.is_empty()
            {
                pipes.insert((stream.clone(), handle.clone()), n.clone());
            }
        }
        let types = &f["dcerpc.pkt_type"];
        if types.is_empty() {
            continue;
        }
        let smb = layers.contains(&"smb2");
        let assoc = if smb { handle.clone() } else { String::new() };
        if types.iter().any(|t| t == "11" || t == "14") {
            let (ctxs, uuids) = (&f["dcerpc.cn_ctx_id"], &f["dcerpc.cn_bind_to_uuid"]);
            assert_eq!(ctxs.len(), uuids.len(), "bind context items");
            for (ctx, uuid) in ctxs.iter().zip(uuids) {
                ifaces.insert(
                    (stream.clone(), assoc.clone(), ctx.clone()),
                    uuid.to_lowercase(),
                );
            }
            continue;
        }
        for (i, t) in types.iter().enumerate() {
            if t != "0" || hex_u32(&f["dcerpc.cn_flags"][i]) & 0x02 == 0 {
                continue; // not the last fragment: the call completes later
            }
            let ctx = &f["dcerpc.cn_ctx_id"][i];
            let uuid = ifaces
                .get(&(stream.clone(), assoc.clone(), ctx.clone()))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: request on stream {stream} context {ctx} without a bind",
                        pcap.display()
                    )
                })
                .clone();
            let level = f["dcerpc.auth_level"].get(i).cloned();
            let mut enc = Vec::new();
            if smb && !f["smb2.header.transform.flags.encrypted"].is_empty() {
                enc.push(format!("smb3-{}", cipher[&stream]));
            }
            if level.as_deref() == Some("6") {
                enc.push("dce-privacy".to_string());
            }
            let opnum: u32 = f["dcerpc.opnum"][i].parse().expect("opnum");
            let key = KEY_FIELDS
                .iter()
                .find(|k| k.1 == uuid && k.2 == opnum)
                .and_then(|k| f[k.3].first().cloned());
            let smb_dialect = if smb {
                dialect.get(&stream).copied().unwrap_or("-")
            } else {
                "-"
            };
            // rpcsift's naming: an SMB2 connection that negotiated 3.x is "smb3".
            let transport = match (smb, smb_dialect.starts_with("3.")) {
                (false, _) => "tcp",
                (true, false) => "smb2",
                (true, true) => "smb3",
            };
            let request = Request {
                transport: transport.to_string(),
                smb_dialect: smb_dialect.to_string(),
                pipe_or_port: if smb {
                    pipes
                        .get(&(stream.clone(), handle.clone()))
                        .cloned()
                        .unwrap_or_else(|| panic!("{}: pipe of handle {handle}", pcap.display()))
                } else {
                    f["tcp.dstport"][0].clone()
                },
                uuid,
                opnum,
                smb_auth: if smb {
                    smb_auth.get(&stream).copied().unwrap_or("-")
                } else {
                    "-"
                }
                .to_string(),
                auth_type: match &level {
                    Some(_) => auth_type_name(&f["dcerpc.auth_type"][i]).to_string(),
                    None => "-".to_string(),
                },
                auth_level: match &level {
                    Some(l) => auth_level_name(l).to_string(),
                    None => "-".to_string(),
                },
                encryption: if enc.is_empty() {
                    "none".to_string()
                } else {
                    enc.join("+")
                },
            };
            out.push((request, key));
        }
    }
    out
}

/// Request PDUs (last fragments) tshark sees in `pcap` without any key.
fn visible_without_keys(pcap: &Path) -> usize {
    tshark_frames(pcap, &[], "dcerpc.pkt_type == 0", &["dcerpc.cn_flags"])
        .iter()
        .map(|f| {
            f["dcerpc.cn_flags"]
                .iter()
                .filter(|x| hex_u32(x) & 0x02 != 0)
                .count()
        })
        .sum()
}

/// Every truth file in the folder is listed above, with its capture and keys.
#[test]
fn every_ad_lab_capture_is_listed() {
    let names = truth_files(DIR);
    let mut listed: Vec<String> = CAPTURES.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(names, listed);
    for n in &names {
        assert!(path(n, "pcap").is_file(), "{n}.pcap");
        assert!(path(n, "keys").is_file(), "{n}.keys");
    }
    let total_bytes: u64 = names
        .iter()
        .map(|n| std::fs::metadata(path(n, "pcap")).expect("pcap").len())
        .sum();
    assert!(
        total_bytes < 4_000_000,
        "AD lab captures stay small: {total_bytes} bytes"
    );
}

/// The truth files say what they claim: row counts, sources, and the attacks'
/// key arguments (which need neither tshark nor the shared folder).
#[test]
fn truth_and_key_files_are_consistent() {
    let mut total = 0;
    for (name, calls, _, sessions) in CAPTURES {
        let rows = truth(name);
        assert_eq!(rows.len(), calls, "{name}: truth rows");
        total += calls;
        let sources: BTreeSet<&str> = rows.iter().map(|r| r.source.as_str()).collect();
        assert!(
            sources == BTreeSet::from(["impacket"]) || sources == BTreeSet::from(["tshark-keys"]),
            "{name}: one source per capture, got {sources:?}"
        );
        let k = keys(name);
        assert_eq!(
            k.passwords,
            [(
                r"LAB\Administrator".to_string(),
                "Adm1n-Lab-Pass".to_string()
            )],
            "{name}: password line"
        );
        // NT hash = MD4(UTF-16LE(password)), the published NTLM definition.
        assert_eq!(
            k.nt_hashes,
            [(
                r"LAB\Administrator".to_string(),
                "496535f6552abfe1cfb9386cb47fd309".to_string()
            )],
            "{name}: nt-hash line"
        );
        assert_eq!(k.keytabs.len(), 1, "{name}: keytab line");
        assert!(
            std::fs::metadata(&k.keytabs[0]).is_ok_and(|m| m.len() > 100),
            "{name}: keytab file {}",
            k.keytabs[0].display()
        );
        assert_eq!(k.smb3.len(), sessions, "{name}: SMB3 sessions keyed");
        let smb3_rows = rows
            .iter()
            .filter(|r| r.request.encryption.starts_with("smb3-"))
            .count();
        assert!(
            smb3_rows == 0 || sessions > 0,
            "{name}: SMB3-encrypted rows without session keys"
        );
    }
    assert_eq!(total, 197, "requests over all AD lab captures");

    let key = |name: &str, arg: &str| -> Vec<String> {
        truth(name)
            .into_iter()
            .filter(|r| r.key_arg == arg)
            .map(|r| r.key_value)
            .collect()
    };
    // Coercion: every request names the lab's listener.
    assert_eq!(
        key("coerce_petitpotam", "FileName"),
        [r"\\127.0.0.2\lab\petit.txt"; 3]
    );
    let pipes: Vec<String> = truth("coerce_petitpotam")
        .into_iter()
        .map(|r| r.request.pipe_or_port)
        .collect();
    assert_eq!(pipes, ["lsarpc", "samr", "netlogon"]);
    assert_eq!(
        key("coerce_petitpotam_privacy", "FileName"),
        [r"\\127.0.0.2\lab\petit.txt"]
    );
    assert_eq!(
        key("coerce_printerbug", "pszLocalMachine"),
        [r"\\127.0.0.2"]
    );
    assert_eq!(key("coerce_dfscoerce", "ServerName"), ["127.0.0.2"]);
    // Zerologon: four tries, each an all-zero challenge and credential.
    assert_eq!(
        key("zerologon_tcp", "ClientCredential"),
        ["0000000000000000"; 4]
    );
    assert_eq!(
        key("zerologon_tcp", "ClientChallenge"),
        ["0000000000000000"; 4]
    );
    // DCSync: the krbtgt account by name, then its object; the full dump by SID.
    assert_eq!(key("dcsync_krbtgt_ntlm", "rpNames"), [r"LAB\krbtgt"]);
    assert_eq!(key("dcsync_krbtgt_kerberos", "rpNames"), [r"LAB\krbtgt"]);
    let sid = "S-1-5-21-1111111111-2222222222-3333333333";
    let rids: Vec<String> = key("dcsync_ntlm", "pNC");
    assert_eq!(
        rids,
        ["500", "501", "502", "1000"].map(|r| format!("{sid}-{r}"))
    );
    // Hive saves: secretsdump's temporary files, reg.py's UNC path.
    let saves = key("hive_secretsdump", "lpFile");
    assert_eq!(saves.len(), 2);
    assert!(
        saves
            .iter()
            .all(|s| s.starts_with(r"..\Temp\") && s.ends_with(".tmp")),
        "{saves:?}"
    );
    assert_eq!(
        key("hive_regsave", "lpFile"),
        [r"\\127.0.0.2\share\SAM.save"]
    );
}

#[test]
fn truth_matches_tshark_with_keys() {
    if !tshark::present("the AD lab truth cross-check") {
        return;
    }
    let mut key_values = 0;
    for (name, calls, without_keys, _) in CAPTURES {
        let pcap = path(name, "pcap");
        let rows = truth(name);
        let got = decoded(&pcap, &tshark_key_args(&keys(name)));
        let want: Vec<Request> = rows.iter().map(|r| r.request.clone()).collect();
        let got_requests: Vec<Request> = got.iter().map(|g| g.0.clone()).collect();
        assert_eq!(
            got_requests, want,
            "{name}: tshark's requests (with keys) differ from the truth file"
        );
        assert_eq!(want.len(), calls, "{name}");
        for (row, (_, value)) in rows.iter().zip(&got) {
            if let Some(v) = value {
                assert!(
                    KEY_FIELDS.iter().any(|k| k.0 == row.key_arg),
                    "{name}: tshark decodes a key argument the truth does not name"
                );
                assert_eq!(&row.key_value, v, "{name}: {}", row.key_arg);
                key_values += 1;
            }
        }
        assert_eq!(
            visible_without_keys(&pcap),
            without_keys,
            "{name}: requests tshark sees without keys"
        );
    }
    // 4 EfsRpcOpenFileRaw, 1 printer bug, 1 DFS root, 8 Netlogon, 3 hive saves.
    assert_eq!(key_values, 17, "key arguments cross-checked with tshark");
}

/// rpcsift on the AD lab captures, without keys (decryption is not built yet):
/// one record per request the truth lists outside SMB3 encryption, in order,
/// with the same transport, pipe or port, interface and opnum; calls under
/// DCE-RPC packet privacy say they are encrypted. That is also exactly what
/// tshark sees without keys.
#[test]
fn rpcsift_reads_every_request_not_hidden_by_smb3() {
    let field = |v: &Value, k: &str| match &v[k] {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut sealed = 0;
    for (name, _, without_keys, _) in CAPTURES {
        let rows = truth(name);
        let want: Vec<(String, String, String, String)> = rows
            .iter()
            .map(|r| &r.request)
            .filter(|r| !r.encryption.contains("smb3-"))
            .map(|r| {
                (
                    r.transport.clone(),
                    r.pipe_or_port.clone(),
                    r.uuid.clone(),
                    r.opnum.to_string(),
                )
            })
            .collect();
        assert_eq!(want.len(), without_keys, "{name}: visible requests");
        let out = render(
            &run(&[path(name, "pcap")], &Options::default()),
            Format::Json,
        );
        let recs: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        let got: Vec<(String, String, String, String)> = recs
            .iter()
            .map(|v| {
                let transport = field(v, "transport");
                let where_ = if transport == "tcp" {
                    field(v, "id.resp_p")
                } else {
                    field(v, "smb_pipe").trim_start_matches('\\').to_lowercase()
                };
                (transport, where_, field(v, "uuid"), field(v, "opnum"))
            })
            .collect();
        assert_eq!(got, want, "{name}: rpcsift's records");
        let private: Vec<bool> = rows
            .iter()
            .filter(|r| !r.request.encryption.contains("smb3-"))
            .map(|r| r.request.encryption.contains("dce-privacy"))
            .collect();
        for (rec, private) in recs.iter().zip(private) {
            assert_eq!(rec["encrypted"], private, "{name}: {rec}");
            sealed += usize::from(private);
        }
    }
    assert_eq!(
        sealed, 65,
        "DCE-RPC sealed calls rpcsift flags as encrypted"
    );
}

/// Zeek names in the truth files agree with the shared reference tables
/// (checked only when `RPCSIFT_SHARED` is set).
#[test]
fn truth_names_match_reference_tables() {
    let Some(shared) = shared() else { return };
    let (endpoints, operations) = zeek_names(&shared);
    let names = |rel: &str| -> BTreeSet<String> {
        Tsv::read(&need(&shared, rel))
            .columns(["name"])
            .into_iter()
            .map(|[n]| n.to_string())
            .collect()
    };
    let auth_types = names("reference/zeek-auth-types.tsv");
    let auth_levels = names("reference/zeek-auth-levels.tsv");
    for (name, ..) in CAPTURES {
        for row in truth(name) {
            let r = &row.request;
            assert_eq!(
                endpoints.get(&r.uuid),
                Some(&row.endpoint),
                "{name}: endpoint of {}",
                r.uuid
            );
            assert_eq!(
                operations.get(&(r.uuid.clone(), r.opnum.to_string())),
                Some(&row.operation),
                "{name}: operation {} {}",
                r.uuid,
                r.opnum
            );
            assert!(
                r.auth_type == "-" || auth_types.contains(&r.auth_type),
                "{name}: auth type {}",
                r.auth_type
            );
            assert!(
                r.auth_level == "-" || auth_levels.contains(&r.auth_level),
                "{name}: auth level {}",
                r.auth_level
            );
        }
    }
}
