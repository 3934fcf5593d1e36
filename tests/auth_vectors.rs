//! `auth` against public vectors made by others: Wireshark's SMB3-encrypted test captures
//! and its Kerberos capture + keytab, with the keys and expected results of its
//! `test/suite_decryption.py`.
//!
//! The files are not in the project: `tools/fetch-wireshark-vectors.sh DIR` puts them in
//! DIR, and the tests read them from `RPCSIFT_WIRESHARK_VECTORS=DIR` (`.ci/run` fetches
//! them and sets it). With the variable unset the tests print a skip message; set to a
//! folder that is not there, they fail.
//!
//! Each SMB3 test: reassemble the capture's TCP connection with rpcsift's reader and flow
//! table, compute the SMB 3.1.1 preauth integrity hash over NEGOTIATE and SESSION_SETUP,
//! derive the cipher keys from the published session key, check them against the
//! decryption keys Wireshark's suite publishes, decrypt every transform message of both
//! directions, and find the TREE_CONNECT to the share Wireshark's suite expects.

mod common;

use rpcsift::auth::kerberos::crypto::{self, ETYPE_RC4_HMAC, Key};
use rpcsift::auth::keys::KeyRing;
use rpcsift::auth::keytab;
use rpcsift::auth::smb3::{self, Cipher, Decryptor, PreauthHash, Smb3Error, TRANSFORM_HEADER_LEN};
use rpcsift::capture::{Frame, PacketDecoder, open_capture, read_frames};
use rpcsift::flow::table::{ConnMeta, FlowApp};
use rpcsift::flow::{FlowEvent, FlowLimits, FlowTable};
use rpcsift::stats::Counters;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

fn need(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "missing {} in RPCSIFT_WIRESHARK_VECTORS",
        p.display()
    );
    p
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn for_each_frame(path: &Path, mut f: impl FnMut(&Frame<'_>)) {
    let input = open_capture(path).expect("open capture");
    let mut c = Counters::default();
    let mut notices = Vec::new();
    read_frames("vector", input, &mut c, &mut notices, |fr| f(fr)).expect("read capture");
}

/// Both directions of every TCP connection to port 445, reassembled.
struct Recorder {
    bytes: [Vec<u8>; 2],
    done: Rc<RefCell<Vec<[Vec<u8>; 2]>>>,
}

impl FlowApp for Recorder {
    fn event(&mut self, _m: &ConnMeta, ev: FlowEvent<'_>) -> bool {
        match ev {
            FlowEvent::Data { dir, data, .. } => self.bytes[dir].extend_from_slice(data),
            FlowEvent::Gap { .. } => panic!("gap in a Wireshark vector capture"),
            FlowEvent::Close { .. } => self.done.borrow_mut().push(std::mem::take(&mut self.bytes)),
        }
        true
    }
}

fn smb_streams(path: &Path) -> Vec<[Vec<u8>; 2]> {
    let done = Rc::new(RefCell::new(Vec::new()));
    let d2 = done.clone();
    let mut table = FlowTable::new(
        FlowLimits::default(),
        |p| p == 445,
        move |_m: &ConnMeta| Recorder {
            bytes: [Vec::new(), Vec::new()],
            done: d2.clone(),
        },
    );
    let mut dec = PacketDecoder::new(false);
    let (mut c, mut c2) = (Counters::default(), Counters::default());
    for_each_frame(path, |fr| {
        dec.decode(fr, &mut c, &mut |seg| table.process(seg, &mut c2))
    });
    table.finish_all(&mut c2);
    drop(table);
    Rc::try_unwrap(done)
        .map(RefCell::into_inner)
        .unwrap_or_default()
}

/// NBSS session messages of one direction.
fn nbss(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= stream.len() {
        let len = u32::from_be_bytes([0, stream[at + 1], stream[at + 2], stream[at + 3]]) as usize;
        assert_eq!(stream[at], 0, "NBSS session message");
        out.push(stream[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    out
}

fn command(msg: &[u8]) -> Option<u16> {
    (msg.get(..4)? == [0xfe, b'S', b'M', b'B']).then(|| u16::from_le_bytes([msg[12], msg[13]]))
}

fn status(msg: &[u8]) -> u32 {
    u32::from_le_bytes(msg[8..12].try_into().unwrap())
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

struct Case {
    file: &'static str,
    session_id: &'static str,
    session_key: &'static str,
    /// Wireshark's published S2C and C2S decryption keys.
    s2c: &'static str,
    c2s: &'static str,
    cipher: Cipher,
    tree: &'static str,
}

/// The values of Wireshark's suite_decryption.py (case_decrypt_smb2).
const CASES: &[Case] = &[
    Case {
        file: "smb300-aes-128-ccm.pcap.gz",
        session_id: "1900009c003c0000",
        session_key: "9a9ea16a0cdbeb6064772318073f172f",
        s2c: "8be6cc53d4beba29387e69aef035d497",
        c2s: "bff985870e81784d533fdc09497b8eab",
        cipher: Cipher::Aes128Ccm,
        tree: r"\\dfsroot1.foo.test\IPC$",
    },
    Case {
        file: "smb311-aes-128-ccm.pcap.gz",
        session_id: "2900009c003c0000",
        session_key: "f1fa528d3cd182cca67bd4596dabd885",
        s2c: "763d5552dbc9650b700869467a5857e4",
        c2s: "35e69833c6578e438c8701cb40bf483e",
        cipher: Cipher::Aes128Ccm,
        tree: r"\\dfsroot1.foo.test\IPC$",
    },
    Case {
        file: "smb311-aes-128-gcm.pcap.gz",
        session_id: "3900000000400000",
        session_key: "e79161ded03bda1449b2c8e58f753953",
        s2c: "b02f5de25e0562075c3dc329fa2aa396",
        c2s: "7201623a31754e6581864581209dd3d2",
        cipher: Cipher::Aes128Gcm,
        tree: r"\\dfsroot1.foo.test\IPC$",
    },
    Case {
        file: "smb311-aes-256-ccm.pcap.gz",
        session_id: "d6fdb96d00000000",
        session_key: "6b559c2e60519e344581d086a6d3d050",
        s2c: "014fccd4a53554bf5b54b27a32512b35fca262b90e088a5efa7d6c952418578b",
        c2s: "1d34170138a77dac4abbe0149253c8b977a71f399081cda6cbaf62359670c1c5",
        cipher: Cipher::Aes256Ccm,
        tree: r"\\172.31.9.163\IPC$",
    },
    Case {
        file: "smb311-aes-256-gcm.pcap.gz",
        session_id: "56dc03ab00000000",
        session_key: "6a5004adfbdef1abd5879800675324e5",
        s2c: "46b64f320a0f856b63b3a0dc2c058a67267830a8cbdd44a088fbf1d0308a981f",
        c2s: "484c30bf3e17e322e0d217764d4584a325ec0495519c3f1547e0f996ab76c4c4",
        cipher: Cipher::Aes256Gcm,
        tree: r"\\172.31.9.163\IPC$",
    },
];

fn run_case(dir: &Path, case: &Case) {
    let streams = smb_streams(&need(dir, case.file));
    assert_eq!(streams.len(), 1, "{}: one SMB connection", case.file);
    let c2s_msgs = nbss(&streams[0][0]);
    let s2c_msgs = nbss(&streams[0][1]);
    // Preauth integrity: NEGOTIATE request and response, then each SESSION_SETUP request
    // and each response that is not the final success.
    let neg_req = c2s_msgs
        .iter()
        .find(|m| command(m) == Some(0))
        .expect("negotiate request");
    let neg_resp = s2c_msgs
        .iter()
        .find(|m| command(m) == Some(0))
        .expect("negotiate response");
    let neg = smb3::negotiate_response(neg_resp).expect("negotiate response parses");
    assert_eq!(
        neg.cipher,
        Some(case.cipher),
        "{}: negotiated cipher",
        case.file
    );
    let mut preauth = PreauthHash::new();
    preauth.update(neg_req);
    preauth.update(neg_resp);
    let ss_req: Vec<_> = c2s_msgs.iter().filter(|m| command(m) == Some(1)).collect();
    let ss_resp: Vec<_> = s2c_msgs.iter().filter(|m| command(m) == Some(1)).collect();
    assert_eq!(ss_req.len(), ss_resp.len());
    for (req, resp) in ss_req.iter().zip(&ss_resp) {
        preauth.update(req);
        if status(resp) != 0 {
            preauth.update(resp);
        }
    }
    let sid = u64::from_le_bytes(unhex(case.session_id).try_into().unwrap());
    assert_eq!(
        smb3::smb2_session_id(ss_resp.last().unwrap()),
        Some(sid),
        "{}: session id",
        case.file
    );
    let keys = smb3::derive_keys(
        &unhex(case.session_key),
        neg.dialect,
        case.cipher,
        Some(&preauth.0),
    )
    .expect("keys");
    // The suite lists the AES-256 pairs in the other order than the AES-128 ones
    // (Wireshark tries both orders, see its *_keyswap tests); the decryption below shows
    // which key serves which direction, so compare the pair as a set here.
    let mut got = [hex(&keys.server_to_client), hex(&keys.client_to_server)];
    let mut want = [case.s2c.to_string(), case.c2s.to_string()];
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "{}: the cipher keys of Wireshark's suite",
        case.file
    );

    let mut found_tree = false;
    let mut decrypted = 0;
    for (msgs, key) in [
        (&c2s_msgs, &keys.client_to_server),
        (&s2c_msgs, &keys.server_to_client),
    ] {
        let d = Decryptor::new(case.cipher, key).unwrap();
        for m in msgs
            .iter()
            .filter(|m| m.starts_with(&smb3::TRANSFORM_PROTOCOL_ID))
        {
            let (h, _) = smb3::parse_transform(m).expect("transform header");
            assert_eq!(h.session_id, sid);
            // A wrong key fails the tag check instead of yielding garbage.
            let wrong = Decryptor::new(case.cipher, &vec![0xff; key.len()]).unwrap();
            assert_eq!(wrong.decrypt_in_place(&mut m.clone()), Err(Smb3Error::Tag));
            let mut buf = m.clone();
            let n = d
                .decrypt_in_place(&mut buf)
                .expect("decrypts with the derived key");
            let plain = &buf[TRANSFORM_HEADER_LEN..TRANSFORM_HEADER_LEN + n];
            assert_eq!(
                command(plain).map(|_| smb3::smb2_session_id(plain)),
                Some(Some(sid))
            );
            decrypted += 1;
            if command(plain) == Some(3) {
                let tree = utf16(case.tree);
                found_tree |= plain.windows(tree.len()).any(|w| w == tree);
            }
        }
    }
    assert!(decrypted >= 2, "{}: both directions decrypted", case.file);
    assert!(
        found_tree,
        "{}: TREE_CONNECT to {} in the decrypted messages",
        case.file, case.tree
    );
    // An `smb3-key SESSION_ID SESSION_KEY` line, session id as Wireshark's UAT takes it,
    // finds this session and yields the same keys.
    let mut ring = KeyRing::new();
    let line = format!("smb3-key {} {}\n", case.session_id, case.session_key);
    ring.load_bytes(line.as_bytes(), Path::new("ws.keys"), Path::new("."))
        .unwrap();
    let k = ring.smb3_for(sid).expect("session id matches the wire's");
    let again = smb3::derive_keys(
        k.session_key.expose(),
        neg.dialect,
        case.cipher,
        Some(&preauth.0),
    )
    .unwrap();
    assert_eq!(again.client_to_server, keys.client_to_server);
}

#[test]
fn wireshark_smb3_encrypted_captures_decrypt() {
    let Some(dir) = common::wireshark_vectors() else {
        return;
    };
    for case in CASES {
        run_case(&dir, case);
    }
}

/// UDP payloads from source port 88 (Ethernet, IPv4).
fn kdc_replies(path: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for_each_frame(path, |fr| {
        let d = fr.data;
        if fr.linktype != 1 || d.len() < 14 + 20 + 8 || d[12..14] != [8, 0] || d[23] != 17 {
            return;
        }
        let ihl = (d[14] & 0x0f) as usize * 4;
        let udp = &d[14 + ihl..];
        if u16::from_be_bytes([udp[0], udp[1]]) == 88 {
            out.push(udp[8..].to_vec());
        }
    });
    out
}

/// Wireshark's case_decrypt_kerberos: krb-816 with its keytab shows the key value
/// ccda7d48219f73c3b28311c4ba7242b3. That is the session key of an AS-REP whose enc-part
/// (RC4-HMAC, usage 3) opens with the keytab's u5@DENYDC.COM key: a real-world check of the
/// keytab parser and the RC4-HMAC decryption.
#[test]
fn wireshark_kerberos_keytab_opens_as_rep() {
    let Some(dir) = common::wireshark_vectors() else {
        return;
    };
    let kt = keytab::parse(&std::fs::read(need(&dir, "krb-816.keytab")).unwrap()).unwrap();
    let names: Vec<_> = kt
        .iter()
        .map(|e| (e.principal.to_text(), e.kvno, e.enctype))
        .collect();
    assert_eq!(
        names,
        vec![
            ("des@DENYDC.COM".to_string(), 1, 3),
            ("u5@DENYDC.COM".to_string(), 3, 23)
        ]
    );
    let rc4 = Key::new(ETYPE_RC4_HMAC, kt[1].key.expose()).unwrap();
    let mut session_keys = Vec::new();
    for reply in kdc_replies(&need(&dir, "krb-816.pcap.gz")) {
        let Ok(rep) = rasn::ber::decode::<rasn_kerberos::AsRep>(&reply) else {
            continue;
        };
        if rep.0.enc_part.etype != ETYPE_RC4_HMAC {
            continue;
        }
        let plain = crypto::decrypt(&rc4, 3, &rep.0.enc_part.cipher)
            .expect("AS-REP opens with the keytab key");
        let part: rasn_kerberos::EncAsRepPart = rasn::ber::decode(&plain).expect("EncASRepPart");
        session_keys.push(hex(&part.0.key.value));
    }
    assert!(!session_keys.is_empty(), "RC4 AS-REPs in krb-816");
    assert!(
        session_keys.contains(&"ccda7d48219f73c3b28311c4ba7242b3".to_string()),
        "{session_keys:?}"
    );
}

/// DCE-RPC PDUs of one direction of a TCP stream (no fragmentation across TCP reads
/// matters here: the stream is already reassembled).
fn pdus(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= stream.len() {
        let len = u16::from_le_bytes([stream[at + 8], stream[at + 9]]) as usize;
        assert!(len >= 16 && at + len <= stream.len(), "DCE-RPC framing");
        out.push(&stream[at..at + len]);
        at += len;
    }
    out
}

/// (auth_level, offset of the sec_trailer, auth_value) of a PDU with an auth trailer.
fn auth_trailer(p: &[u8]) -> Option<(u8, usize, &[u8])> {
    let auth_len = u16::from_le_bytes([p[10], p[11]]) as usize;
    if auth_len == 0 {
        return None;
    }
    let st = p.len().checked_sub(auth_len + 8)?;
    Some((p[st + 1], st, &p[st + 8..]))
}

/// The project's own Impacket lab capture with NTLM packet privacy (svcctl over TCP, the
/// lab password `LAB\labadmin`): the key verifies (NTLMv2), and every request and response
/// stub unseals with its signature verified over header + stub + sec_trailer, in order,
/// per direction. The CreateServiceW request then shows the service and binary the truth
/// file records. A wrong password never yields keys.
#[test]
fn lab_ntlm_privacy_capture_unseals() {
    lab_ntlm_capture("stress_privacy_tcp.pcap", 6);
}

/// The same with packet integrity: every signature verifies over the clear stub.
#[test]
fn lab_ntlm_integrity_capture_verifies() {
    lab_ntlm_capture("stress_integrity_tcp.pcap", 5);
}

fn lab_ntlm_capture(name: &str, want_level: u8) {
    use rpcsift::auth::ntlm::{self, Direction};
    use rpcsift::auth::ntlmssp::{self, Message};
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures/impacket")
        .join(name);
    let done = Rc::new(RefCell::new(Vec::new()));
    let d2 = done.clone();
    let mut table = FlowTable::new(
        FlowLimits::default(),
        |p| p == 49670,
        move |_m: &ConnMeta| Recorder {
            bytes: [Vec::new(), Vec::new()],
            done: d2.clone(),
        },
    );
    let mut dec = PacketDecoder::new(false);
    let (mut c, mut c2) = (Counters::default(), Counters::default());
    for_each_frame(&path, |fr| {
        dec.decode(fr, &mut c, &mut |seg| table.process(seg, &mut c2))
    });
    table.finish_all(&mut c2);
    drop(table);
    let streams = Rc::try_unwrap(done)
        .map(RefCell::into_inner)
        .unwrap_or_default();
    assert_eq!(streams.len(), 1);
    let (to_server, to_client) = (pdus(&streams[0][0]), pdus(&streams[0][1]));
    let challenge_pdu = to_client.iter().find(|p| p[2] == 12).expect("bind_ack");
    let Some((_, Message::Challenge(chal))) = ntlmssp::find(auth_trailer(challenge_pdu).unwrap().2)
    else {
        panic!("CHALLENGE in bind_ack")
    };
    let auth3 = to_server.iter().find(|p| p[2] == 16).expect("auth3");
    let Some((_, Message::Authenticate(auth))) = ntlmssp::find(auth_trailer(auth3).unwrap().2)
    else {
        panic!("AUTHENTICATE in auth3")
    };
    let mut wrong = KeyRing::new();
    wrong.add_password("Lab-Passw0rd?").unwrap();
    let o = ntlm::try_keys(&chal, &auth, &wrong);
    assert!(o.verified.is_none());
    assert_eq!(o.failed.len(), 1);
    let mut ring = KeyRing::new();
    ring.load_bytes(
        b"password LAB\\labadmin Lab-Passw0rd!\n",
        Path::new("lab.keys"),
        Path::new("."),
    )
    .unwrap();
    let o = ntlm::try_keys(&chal, &auth, &ring);
    assert_eq!(
        (o.account.user.as_str(), o.account.domain.as_str()),
        ("labadmin", "LAB")
    );
    let (keys, _, origin) = o.verified.expect("the lab password verifies");
    assert_eq!(keys.response, ntlm::Response::NtlmV2);
    assert_eq!(origin.to_string(), "lab.keys:1");

    let mut unsealed = Vec::new();
    for (list, dir, ptype) in [
        (&to_server, Direction::ClientToServer, 0u8),
        (&to_client, Direction::ServerToClient, 2u8),
    ] {
        let mut sealer = keys.sealer(dir);
        for p in list.iter().filter(|p| p[2] == ptype) {
            let (level, st, sig) = auth_trailer(p).expect("auth trailer");
            assert_eq!(level, want_level);
            let mut pdu = p.to_vec();
            let (head, rest) = pdu.split_at_mut(24);
            let (stub, tail) = rest.split_at_mut(st - 24);
            if level == 6 {
                sealer
                    .unseal(head, stub, &tail[..8], sig)
                    .expect("signature verifies");
            } else {
                sealer
                    .verify(&[head, stub, &tail[..8]], sig)
                    .expect("signature verifies");
            }
            unsealed.push((ptype, u16::from_le_bytes([p[22], p[23]]), stub.to_vec()));
        }
        assert!(
            sealer.ok >= 4 && sealer.bad == 0,
            "{dir:?}: {} ok, {} bad",
            sealer.ok,
            sealer.bad
        );
    }
    let create = unsealed
        .iter()
        .find(|(t, opnum, _)| *t == 0 && *opnum == 12)
        .expect("CreateServiceW request");
    for s in ["AuthSvc", r"%SystemRoot%\AuthSvc.exe"] {
        let w = utf16(s);
        assert!(
            create.2.windows(w.len()).any(|x| x == w),
            "{s} in the unsealed CreateServiceW stub"
        );
    }
}
