//! SmbConn on hand-built conversations.

use super::*;
use crate::smb::PipeContext;
use crate::smb::records::*;
use crate::smb::testutil::*;
use crate::smb::{LARGE_MESSAGE_LEN, MAX_OPEN_FILES};

/// An owned copy of a [`PipeEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Open(PipeKey, String),
    Data(PipeKey, usize, Vec<u8>, Option<u64>),
    Close(PipeKey, Option<u64>),
    ZData(usize, Vec<u8>, u64),
    ZClose(u64),
}

fn own(e: PipeEvent<'_>) -> Ev {
    match e {
        PipeEvent::Open { key, name, .. } => Ev::Open(key, name),
        PipeEvent::Data {
            key,
            dir,
            data,
            zeek,
            ..
        } => Ev::Data(key, dir, data.to_vec(), zeek),
        PipeEvent::Close { key, zeek } => Ev::Close(key, zeek),
        PipeEvent::ZeekData { dir, data, fid } => Ev::ZData(dir, data.to_vec(), fid),
        PipeEvent::ZeekClose { fid } => Ev::ZClose(fid),
    }
}

/// The accurate part of the events (no Zeek fields).
fn accurate(ev: &[Ev]) -> Vec<Ev> {
    ev.iter()
        .filter_map(|e| match e {
            Ev::Data(k, d, b, _) => Some(Ev::Data(*k, *d, b.clone(), None)),
            Ev::Close(k, _) => Some(Ev::Close(*k, None)),
            Ev::ZData(..) | Ev::ZClose(_) => None,
            other => Some(other.clone()),
        })
        .collect()
}

#[derive(Default)]
struct H {
    conn: SmbConn,
    c: SmbCounters,
    ev: Vec<Ev>,
}

impl H {
    fn feed(&mut self, dir: usize, bytes: &[u8]) {
        let ev = &mut self.ev;
        self.conn
            .feed(dir, bytes, &mut self.c, &mut |e| ev.push(own(e)));
    }
    fn msg(&mut self, dir: usize, smb: &[u8]) {
        self.feed(dir, &nbss(smb));
    }
    fn run(conv: &[(usize, Vec<u8>)]) -> H {
        let mut h = H::default();
        for (d, b) in conv {
            h.feed(*d, b);
        }
        h
    }
}

/// A DCE-RPC PDU with a plausible header (little-endian, flags first|last).
fn dce(ptype: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let len = (16 + body.len()) as u16;
    let mut v = vec![5, 0, ptype, 3, 0x10, 0, 0, 0];
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&call_id.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn smb2_negotiate(resp: bool) -> Vec<u8> {
    let m = Smb2::new(SMB2_NEGOTIATE);
    if resp {
        m.response().build(&[65, 0, 1, 0, 0x10, 0x02, 0, 0])
    } else {
        m.build(&[36, 0, 1, 0, 1, 0, 0, 0, 0x10, 0x02])
    }
}

fn smb2_write_resp(msg_id: u64, n: u32) -> Vec<u8> {
    let mut b = vec![17, 0, 0, 0];
    b.extend_from_slice(&n.to_le_bytes());
    b.extend_from_slice(&[0; 9]);
    Smb2::new(SMB2_WRITE)
        .response()
        .msg_id(msg_id)
        .tree(1)
        .build(&b)
}

const FA: FileId = FileId {
    persistent: 0x11,
    volatile: 0xaa,
};
const FB: FileId = FileId {
    persistent: 0x22,
    volatile: 0xbb,
};

fn key2(tree: u32, f: FileId) -> PipeKey {
    PipeKey {
        smb2: true,
        session: SESSION,
        tree,
        fid: PipeKey::smb2_fid(f.persistent, f.volatile),
    }
}

struct Conv {
    msgs: Vec<(usize, Vec<u8>)>,
    expected: Vec<Ev>,
}

/// Two pipes on an IPC$ tree: binds by WRITE, acks by READ answered out of order, a call
/// by IOCTL answered asynchronously, then CLOSE.
fn smb2_conversation() -> Conv {
    let bind_a = dce(11, 1, b"svcctl-bind");
    let bind_b = dce(11, 1, b"lsarpc-bind");
    let ack_a = dce(12, 1, b"ack-a");
    let ack_b = dce(12, 1, b"ack-b");
    let call_a = dce(0, 2, b"OpenSCManagerW");
    let resp_a = dce(2, 2, b"handle");
    let pending = Smb2::new(SMB2_IOCTL)
        .response()
        .status(STATUS_PENDING)
        .msg_id(9)
        .async_id(0x77)
        .build(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut final_resp = smb2_ioctl_resp_msg(9, FA, FSCTL_PIPE_TRANSCEIVE, &resp_a, 0);
    final_resp[16] |= SMB2_FLAGS_ASYNC_COMMAND as u8;
    final_resp[32..40].copy_from_slice(&0x77u64.to_le_bytes());
    let msgs = vec![
        (0, smb2_negotiate(false)),
        (1, smb2_negotiate(true)),
        (0, smb2_tree_connect_req_msg(2, "\\\\srv\\IPC$")),
        (1, smb2_tree_connect_resp_msg(2, 1, SMB2_SHARE_TYPE_PIPE)),
        (0, smb2_create_req_msg(3, 1, "svcctl")),
        (1, smb2_create_resp_msg(3, 1, FA)),
        (0, smb2_create_req_msg(4, 1, "lsarpc")),
        (1, smb2_create_resp_msg(4, 1, FB)),
        (0, smb2_write_req_msg(5, 1, FA, &bind_a)),
        (1, smb2_write_resp(5, bind_a.len() as u32)),
        (0, smb2_write_req_msg(6, 1, FB, &bind_b)),
        (1, smb2_write_resp(6, bind_b.len() as u32)),
        (0, smb2_read_req_msg(7, 1, FA, 1024)),
        (0, smb2_read_req_msg(8, 1, FB, 1024)),
        (1, smb2_read_resp_msg(8, &ack_b, 0)),
        (1, smb2_read_resp_msg(7, &ack_a, 0)),
        (
            0,
            smb2_ioctl_req_msg(9, 1, FA, FSCTL_PIPE_TRANSCEIVE, &call_a),
        ),
        (1, pending),
        (1, final_resp),
        (0, smb2_close_req_msg(10, 1, FA)),
        (0, smb2_close_req_msg(11, 1, FB)),
    ];
    let (ka, kb) = (key2(1, FA), key2(1, FB));
    let (za, zb) = (Some(FA.zeek_fid()), Some(FB.zeek_fid()));
    let expected = vec![
        Ev::Open(ka, "svcctl".into()),
        Ev::Open(kb, "lsarpc".into()),
        Ev::Data(ka, 0, bind_a, za),
        Ev::Data(kb, 0, bind_b, zb),
        Ev::Data(kb, 1, ack_b, zb),
        Ev::Data(ka, 1, ack_a, za),
        Ev::Data(ka, 0, call_a, za),
        Ev::Data(ka, 1, resp_a, za),
        Ev::Close(ka, za),
        Ev::Close(kb, zb),
    ];
    Conv {
        msgs: msgs.into_iter().map(|(d, m)| (d, nbss(&m))).collect(),
        expected,
    }
}

const TID: u16 = 2050;
const FID1: u16 = 0x4001;

fn key1(fid: u16) -> PipeKey {
    PipeKey {
        smb2: false,
        session: UID as u64,
        tree: TID as u32,
        fid: fid as u64,
    }
}

/// SMB1: tree connect to IPC$, NT_CREATE_ANDX \svcctl, bind by WRITE_ANDX, ack by
/// READ_ANDX, a call by TransactNmPipe split over a secondary request, CLOSE.
fn smb1_conversation(unicode: bool) -> Conv {
    let bind = dce(11, 0, b"svcctl-bind-smb1");
    let ack = dce(12, 0, b"ack");
    let call = dce(0, 0, b"CreateServiceW-stub-bytes");
    let resp = dce(2, 0, b"service-handle");
    let interim = Smb1::new(SMB_COM_TRANSACTION)
        .mid(5)
        .tid(TID)
        .reply()
        .build(&[], &[]);
    let write_resp = Smb1::new(SMB_COM_WRITE_ANDX)
        .mid(3)
        .tid(TID)
        .reply()
        .build(&[0xff, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0], &[]);
    let msgs = vec![
        (
            0,
            Smb1::new(SMB_COM_NEGOTIATE).build(&[], b"\x02NT LM 0.12\0"),
        ),
        (1, Smb1::new(SMB_COM_NEGOTIATE).reply().build(&[0; 34], &[])),
        (0, smb1_tree_connect_req_msg(1, "\\\\SRV\\IPC$", unicode)),
        (1, smb1_tree_connect_resp_msg(1, TID, b"IPC")),
        (0, smb1_nt_create_req_msg(2, TID, "\\svcctl", unicode)),
        (
            1,
            smb1_nt_create_resp_msg(2, TID, FID1, FILE_TYPE_MESSAGE_MODE_PIPE),
        ),
        (0, smb1_write_andx_msg(3, TID, FID1, 0x0008, &bind)),
        (1, write_resp),
        (0, smb1_read_andx_req_msg(4, TID, FID1)),
        (1, smb1_read_andx_resp_msg(4, TID, &ack)),
        (
            0,
            smb1_trans_req_msg_part(
                5,
                TID,
                "\\PIPE\\",
                &[TRANS_TRANSACT_NMPIPE, FID1],
                &call[..10],
                call.len(),
                unicode,
            ),
        ),
        (1, interim),
        (
            0,
            smb1_trans_secondary_msg(5, TID, &call[10..], 10, call.len()),
        ),
        (1, smb1_trans_resp_msg(5, TID, &resp, 0)),
        (0, smb1_close_req_msg(6, TID, FID1)),
    ];
    let k = key1(FID1);
    let expected = vec![
        Ev::Open(k, "\\svcctl".into()),
        Ev::Data(k, 0, bind, Some(0)),
        Ev::Data(k, 1, ack, Some(0)),
        Ev::Data(k, 0, call[..10].to_vec(), Some(0)),
        Ev::Data(k, 0, call[10..].to_vec(), None),
        Ev::Data(k, 1, resp, Some(0)),
        Ev::Close(k, None),
    ];
    Conv {
        msgs: msgs.into_iter().map(|(d, m)| (d, nbss(&m))).collect(),
        expected,
    }
}

#[test]
fn smb2_pipes_come_out_keyed() {
    let conv = smb2_conversation();
    let h = H::run(&conv.msgs);
    assert_eq!(h.ev, conv.expected);
    assert_eq!(h.c.pipes_opened, 2);
    assert_eq!(h.c.smb_connections, 1);
    assert_eq!(h.c.smb_bad_messages, 0);
    assert_eq!(h.c.unmatched_read_responses, 0);
    assert_eq!(h.c.smb2_messages, conv.msgs.len() as u64);
}

#[test]
fn smb1_pipe_comes_out_keyed() {
    for unicode in [false, true] {
        let conv = smb1_conversation(unicode);
        let h = H::run(&conv.msgs);
        assert_eq!(h.ev, conv.expected, "unicode {unicode}");
        assert_eq!(h.c.smb_bad_messages, 0);
        assert_eq!(h.c.smb1_messages, conv.msgs.len() as u64);
    }
}

#[test]
fn two_pipes_never_mix() {
    let conv = smb2_conversation();
    let h = H::run(&conv.msgs);
    let stream = |k: PipeKey, dir: usize| -> Vec<u8> {
        h.ev.iter()
            .filter_map(|e| match e {
                Ev::Data(kk, d, b, _) if *kk == k && *d == dir => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let a_in = stream(key2(1, FA), 0);
    let b_in = stream(key2(1, FB), 0);
    assert!(a_in.windows(6).any(|w| w == b"svcctl") && !a_in.windows(6).any(|w| w == b"lsarpc"));
    assert!(b_in.windows(6).any(|w| w == b"lsarpc") && !b_in.windows(6).any(|w| w == b"svcctl"));
    assert!(stream(key2(1, FA), 1).ends_with(b"handle"));
    assert!(stream(key2(1, FB), 1).ends_with(b"ack-b"));
}

#[test]
fn split_anywhere_gives_the_same_events() {
    for conv in [
        smb2_conversation(),
        smb1_conversation(true),
        smb1_conversation(false),
    ] {
        let base = H::run(&conv.msgs);
        for i in 0..conv.msgs.len() {
            let (d, m) = &conv.msgs[i];
            for cut in 1..m.len() {
                let mut h = H::default();
                for (j, (dd, mm)) in conv.msgs.iter().enumerate() {
                    if j == i {
                        h.feed(*d, &m[..cut]);
                        h.feed(*d, &m[cut..]);
                    } else {
                        h.feed(*dd, mm);
                    }
                }
                assert_eq!(h.ev, base.ev, "message {i} cut at {cut}");
                assert_eq!(h.c, base.c, "message {i} cut at {cut}");
            }
        }
        // Byte by byte: the same accurate events; Zeek never syncs on 1-byte chunks.
        let mut h = H::default();
        for (d, m) in &conv.msgs {
            for byte in m.chunks(1) {
                h.feed(*d, byte);
            }
        }
        assert_eq!(accurate(&h.ev), accurate(&base.ev));
        assert!(
            h.ev.iter()
                .all(|e| !matches!(e, Ev::Data(_, _, _, Some(_)))),
            "1-byte chunks never sync Zeek"
        );
    }
}

#[test]
fn read_response_matched_by_message_id() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..8]);
    h.ev.clear();
    // Three reads; answered in reverse order, one of them twice.
    h.msg(0, &smb2_read_req_msg(40, 1, FA, 10));
    h.msg(0, &smb2_read_req_msg(41, 1, FB, 10));
    h.msg(1, &smb2_read_resp_msg(41, b"\x05\x00for-b", 0));
    h.msg(1, &smb2_read_resp_msg(40, b"\x05\x00for-a", 0));
    h.msg(1, &smb2_read_resp_msg(40, b"\x05\x00again", 0));
    assert_eq!(
        accurate(&h.ev),
        vec![
            Ev::Data(key2(1, FB), 1, b"\x05\x00for-b".to_vec(), None),
            Ev::Data(key2(1, FA), 1, b"\x05\x00for-a".to_vec(), None),
        ]
    );
    assert_eq!(h.c.unmatched_read_responses, 1);
}

#[test]
fn async_pending_then_final_read() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..8]);
    h.ev.clear();
    h.msg(0, &smb2_read_req_msg(50, 1, FA, 4));
    for _ in 0..2 {
        h.msg(
            1,
            &Smb2::new(SMB2_READ)
                .response()
                .status(STATUS_PENDING)
                .msg_id(50)
                .async_id(9)
                .build(&[9, 0, 0, 0, 0, 0, 0, 0, 0]),
        );
    }
    assert!(h.ev.is_empty());
    let final_resp = Smb2::new(SMB2_READ)
        .response()
        .msg_id(50)
        .async_id(9)
        .build(&smb2_read_resp_body(b"\x05\x00data"));
    h.msg(1, &final_resp);
    assert_eq!(
        h.ev,
        vec![Ev::Data(
            key2(1, FA),
            1,
            b"\x05\x00data".to_vec(),
            Some(FA.zeek_fid())
        )]
    );
    assert_eq!(h.c.unmatched_read_responses, 0);
}

#[test]
fn error_and_overflow_responses() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..8]);
    h.ev.clear();
    // Error: no data, and the request is answered.
    h.msg(0, &smb2_read_req_msg(60, 1, FA, 4));
    h.msg(1, &smb2_error_resp_msg(SMB2_READ, 60, 0xc000_00b0));
    assert!(h.ev.is_empty());
    h.msg(1, &smb2_read_resp_msg(60, b"late", 0));
    assert_eq!(h.c.unmatched_read_responses, 1);
    // STATUS_BUFFER_OVERFLOW on READ and IOCTL still carries data.
    h.msg(0, &smb2_read_req_msg(61, 1, FA, 4));
    h.msg(
        1,
        &smb2_read_resp_msg(61, b"\x05\x00part", STATUS_BUFFER_OVERFLOW),
    );
    h.msg(
        0,
        &smb2_ioctl_req_msg(62, 1, FB, FSCTL_PIPE_TRANSCEIVE, b"\x05\x00q"),
    );
    h.msg(
        1,
        &smb2_ioctl_resp_msg(
            62,
            FB,
            FSCTL_PIPE_TRANSCEIVE,
            b"\x05\x00big",
            STATUS_BUFFER_OVERFLOW,
        ),
    );
    let za = Some(FA.zeek_fid());
    let zb = Some(FB.zeek_fid());
    assert_eq!(
        h.ev,
        vec![
            Ev::Data(key2(1, FA), 1, b"\x05\x00part".to_vec(), za),
            Ev::Data(key2(1, FB), 0, b"\x05\x00q".to_vec(), zb),
            Ev::Data(key2(1, FB), 1, b"\x05\x00big".to_vec(), zb),
        ]
    );
    assert_eq!(h.c.smb_bad_messages, 0);
}

#[test]
fn compound_with_related_operations() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..4]);
    h.ev.clear();
    let fc = FileId {
        persistent: 0x33,
        volatile: 0xcc,
    };
    let bind = dce(11, 1, b"srvsvc-bind");
    let ack = dce(12, 1, b"srvsvc-ack");
    let req = compound(&[
        smb2_create_req_msg(20, 1, "srvsvc"),
        Smb2::new(SMB2_WRITE)
            .msg_id(21)
            .related()
            .session(u64::MAX)
            .tree(u32::MAX)
            .build(&smb2_write_req_body(FileId::RELATED, &bind)),
        Smb2::new(SMB2_READ)
            .msg_id(22)
            .related()
            .session(u64::MAX)
            .tree(u32::MAX)
            .build(&smb2_read_req_body(FileId::RELATED, 1024)),
    ]);
    let resp = compound(&[
        smb2_create_resp_msg(20, 1, fc),
        {
            let mut w = smb2_write_resp(21, bind.len() as u32);
            w[16] |= SMB2_FLAGS_RELATED_OPERATIONS as u8;
            w
        },
        Smb2::new(SMB2_READ)
            .response()
            .related()
            .msg_id(22)
            .tree(1)
            .build(&smb2_read_resp_body(&ack)),
    ]);
    h.msg(0, &req);
    assert!(
        h.ev.is_empty(),
        "the write waits for the CREATE response: {:?}",
        h.ev
    );
    h.msg(1, &resp);
    let k = key2(1, fc);
    assert_eq!(
        h.ev,
        vec![
            Ev::Open(k, "srvsvc".into()),
            Ev::Data(k, 0, bind.clone(), None),
            Ev::Data(k, 1, ack, None)
        ],
        "Zeek sees only the first command of a compound"
    );
    assert_eq!(h.c.smb2_messages, 4 + 6);
    assert_eq!(h.conn.buffered(), 0);
    // A related command on a known FileId, compounded after a WRITE.
    h.ev.clear();
    let req = compound(&[
        smb2_write_req_msg(23, 1, fc, &bind),
        Smb2::new(SMB2_READ)
            .msg_id(24)
            .related()
            .build(&smb2_read_req_body(FileId::RELATED, 10)),
    ]);
    h.msg(0, &req);
    h.msg(1, &smb2_read_resp_msg(24, b"\x05\x00r", 0));
    assert_eq!(
        h.ev,
        vec![
            Ev::Data(k, 0, bind, Some(fc.zeek_fid())),
            Ev::Data(k, 1, b"\x05\x00r".to_vec(), None)
        ]
    );
}

#[test]
fn non_pipe_files_are_skipped() {
    let mut h = H::default();
    h.msg(0, &smb2_negotiate(false));
    h.msg(0, &smb2_tree_connect_req_msg(1, "\\\\srv\\C$"));
    h.msg(1, &smb2_tree_connect_resp_msg(1, 7, SMB2_SHARE_TYPE_DISK));
    h.msg(0, &smb2_create_req_msg(2, 7, "file.txt"));
    h.msg(1, &smb2_create_resp_msg(2, 7, FA));
    h.msg(0, &smb2_write_req_msg(3, 7, FA, b"hello"));
    // Even data that looks like DCE-RPC: the tree says disk.
    h.msg(0, &smb2_write_req_msg(4, 7, FA, &dce(11, 1, b"x")));
    h.msg(0, &smb2_read_req_msg(5, 7, FA, 100));
    h.msg(1, &smb2_read_resp_msg(5, b"world", 0));
    h.msg(0, &smb2_close_req_msg(6, 7, FA));
    assert_eq!(h.ev, vec![Ev::ZClose(FA.zeek_fid())]);
    assert_eq!(h.c.non_pipe_bytes_skipped, 5 + 17 + 5);
    assert_eq!(h.c.pipe_bytes, 0);
    assert_eq!(h.c.pipes_opened, 0);
}

#[test]
fn zeek_heuristic_marks_a_disk_tree() {
    let mut h = H::default();
    h.msg(0, &smb2_negotiate(false));
    h.msg(0, &smb2_tree_connect_req_msg(1, "\\\\srv\\share"));
    h.msg(1, &smb2_tree_connect_resp_msg(1, 3, SMB2_SHARE_TYPE_DISK));
    // A file named like a pipe on a disk share: Zeek marks the whole tree as a pipe tree.
    h.msg(0, &smb2_create_req_msg(2, 3, "samr"));
    h.msg(1, &smb2_create_resp_msg(2, 3, FA));
    h.msg(0, &smb2_create_req_msg(3, 3, "report.doc"));
    h.msg(1, &smb2_create_resp_msg(3, 3, FB));
    h.msg(0, &smb2_write_req_msg(4, 3, FB, b"doc bytes"));
    h.msg(0, &smb2_close_req_msg(5, 3, FB));
    assert_eq!(
        h.ev,
        vec![
            Ev::ZData(0, b"doc bytes".to_vec(), FB.zeek_fid()),
            Ev::ZClose(FB.zeek_fid())
        ]
    );
}

#[test]
fn unknown_trees_by_name_and_by_content() {
    // Picked up after the tree connect: trees unknown.
    let mut h = H::default();
    let fc = FileId {
        persistent: 7,
        volatile: 8,
    };
    let fd = FileId {
        persistent: 9,
        volatile: 10,
    };
    h.msg(0, &smb2_create_req_msg(1, 5, "atsvc"));
    h.msg(1, &smb2_create_resp_msg(1, 5, FA));
    h.msg(0, &smb2_create_req_msg(2, 5, "mystery"));
    h.msg(1, &smb2_create_resp_msg(2, 5, FB));
    h.msg(0, &smb2_write_req_msg(3, 5, FB, b"not dce"));
    let bind = dce(11, 1, b"b");
    h.msg(0, &smb2_write_req_msg(4, 5, FB, &bind));
    // No CREATE seen at all.
    h.msg(0, &smb2_write_req_msg(5, 5, fc, &bind));
    h.msg(0, &smb2_write_req_msg(6, 5, fd, b"plain file"));
    assert_eq!(
        h.ev,
        vec![
            Ev::Open(key2(5, FA), "atsvc".into()),
            Ev::Open(key2(5, FB), "mystery".into()),
            Ev::Data(key2(5, FB), 0, bind.clone(), None),
            Ev::Open(key2(5, fc), String::new()),
            Ev::Data(key2(5, fc), 0, bind, None),
        ],
        "Zeek forwards none of these writes: the tree was never marked"
    );
    assert_eq!(h.c.non_pipe_bytes_skipped, 7 + 10);
}

#[test]
fn gap_then_resync() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..8]);
    h.ev.clear();
    let w1 = nbss(&smb2_write_req_msg(5, 1, FA, &dce(11, 1, b"lost-bind")));
    let w2 = nbss(&smb2_write_req_msg(6, 1, FB, &dce(11, 1, b"kept")));
    let w3 = nbss(&smb2_write_req_msg(7, 1, FB, &dce(0, 2, b"call")));
    h.feed(0, &w1[..40]);
    h.conn.gap(0, &mut h.c);
    // The chunk after the gap starts inside w1: Zeek cannot resync on it.
    let mut chunk = w1[60..].to_vec();
    chunk.extend_from_slice(&w2);
    h.feed(0, &chunk);
    h.feed(0, &w3);
    let kb = key2(1, FB);
    assert_eq!(
        h.ev,
        vec![
            Ev::Data(kb, 0, dce(11, 1, b"kept"), None),
            Ev::Data(kb, 0, dce(0, 2, b"call"), Some(FB.zeek_fid()))
        ]
    );
    assert_eq!(h.c.smb_resyncs, 1);
}

#[test]
fn transform_messages_are_counted() {
    let mut h = H::default();
    h.msg(0, &transform_msg(0x55, 100));
    h.msg(1, &transform_msg(0x55, 200));
    let big = transform_msg(0x55, LARGE_MESSAGE_LEN + 10);
    let s = nbss(&big);
    for c in s.chunks(1000) {
        h.feed(0, c);
        assert!(h.conn.buffered() <= 4 + crate::smb::PEEK_LEN);
    }
    assert!(h.ev.is_empty());
    assert_eq!(h.c.smb3_encrypted_messages, 3);
    assert_eq!(
        h.c.smb3_encrypted_bytes,
        (52 + 100 + 52 + 200 + big.len()) as u64
    );
    assert_eq!(h.c.smb_connections, 1);
}

#[test]
fn large_writes_streamed_or_buffered() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..8]);
    h.ev.clear();
    h.msg(0, &smb2_tree_connect_req_msg(30, "\\\\srv\\ADMIN$"));
    h.msg(1, &smb2_tree_connect_resp_msg(30, 9, SMB2_SHARE_TYPE_DISK));
    let fd = FileId {
        persistent: 0x44,
        volatile: 0xdd,
    };
    h.msg(0, &smb2_create_req_msg(31, 9, "PSEXESVC.exe"));
    h.msg(1, &smb2_create_resp_msg(31, 9, fd));
    let payload = vec![0x4d; LARGE_MESSAGE_LEN * 2];
    let w = nbss(&smb2_write_req_msg(32, 9, fd, &payload));
    for c in w.chunks(1460) {
        h.feed(0, c);
        assert!(
            h.conn.buffered() <= 4 + crate::smb::PEEK_LEN,
            "disk write not buffered"
        );
    }
    h.msg(0, &smb2_read_req_msg(33, 9, fd, payload.len() as u32));
    let r = nbss(&smb2_read_resp_msg(33, &payload, 0));
    for c in r.chunks(1460) {
        h.feed(1, c);
        assert!(
            h.conn.buffered() <= 4 + crate::smb::PEEK_LEN,
            "disk read not buffered"
        );
    }
    assert_eq!(h.c.smb_streamed_skips, 2);
    assert_eq!(h.c.non_pipe_bytes_skipped, 2 * payload.len() as u64);
    assert!(h.ev.is_empty());
    // A large pipe write is buffered whole and delivered.
    let mut big = dce(0, 3, b"");
    big.resize(LARGE_MESSAGE_LEN + 500, 0x61);
    let w = nbss(&smb2_write_req_msg(34, 1, FA, &big));
    for c in w.chunks(1460) {
        h.feed(0, c);
    }
    assert_eq!(
        h.ev,
        vec![Ev::Data(key2(1, FA), 0, big, Some(FA.zeek_fid()))]
    );
    // Both skipped messages were still counted as messages.
    assert_eq!(h.c.smb2_messages, 8 + 4 + 2 + 1 + 1);
    assert_eq!(h.c.unmatched_read_responses, 0);
}

#[test]
fn andx_chains_are_bounded_and_loop_free() {
    let mut h = H::default();
    // NT_CREATE_ANDX whose AndX offset points back at itself.
    let mut m = smb1_nt_create_req_msg(1, TID, "\\svcctl", false);
    m[32 + 1] = SMB_COM_NT_CREATE_ANDX;
    m[32 + 3..32 + 5].copy_from_slice(&32u16.to_le_bytes());
    h.msg(0, &m);
    assert_eq!(h.c.smb_bad_messages, 1);
    // 20 chained LOGOFF_ANDX blocks.
    let mut m = Smb1::new(rec::SMB_COM_LOGOFF_ANDX).header();
    for i in 0..20 {
        let next = (32 + (i + 1) * 7) as u16;
        let cmd = if i == 19 {
            0xff
        } else {
            rec::SMB_COM_LOGOFF_ANDX
        };
        let mut w = vec![cmd, 0];
        w.extend_from_slice(&next.to_le_bytes());
        push_block(&mut m, &w, &[]);
    }
    h.msg(0, &m);
    assert_eq!(h.c.andx_chain_limit, 1);
}

#[test]
fn compound_chain_is_bounded() {
    let mut h = H::default();
    let echoes: Vec<Vec<u8>> = (0..100)
        .map(|i| Smb2::new(13).msg_id(i).build(&[4, 0, 0, 0]))
        .collect();
    h.msg(0, &compound(&echoes));
    assert_eq!(h.c.compound_chain_limit, 1);
    assert_eq!(h.c.smb2_messages, crate::smb::MAX_COMPOUND_CHAIN as u64);
    // NextCommand past the end.
    let mut m = Smb2::new(13).build(&[4, 0, 0, 0]);
    m[20..24].copy_from_slice(&1000u32.to_le_bytes());
    h.msg(0, &m);
    assert_eq!(h.c.smb_bad_messages, 1);
}

#[test]
fn tables_are_bounded() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..4]);
    h.ev.clear();
    for i in 0..=MAX_OPEN_FILES as u64 {
        h.msg(0, &smb2_create_req_msg(100 + i, 1, "p"));
        h.msg(
            1,
            &smb2_create_resp_msg(
                100 + i,
                1,
                FileId {
                    persistent: i,
                    volatile: i,
                },
            ),
        );
    }
    assert_eq!(h.c.file_table_evictions, 1);
    let first = key2(
        1,
        FileId {
            persistent: 0,
            volatile: 0,
        },
    );
    assert!(
        h.ev.contains(&Ev::Close(first, None)),
        "an evicted pipe is closed"
    );
    for i in 0..=crate::smb::MAX_PENDING as u64 {
        h.msg(0, &smb2_read_req_msg(10_000 + i, 1, FA, 1));
    }
    assert_eq!(h.c.smb_pending_limit, 1);
}

#[test]
fn zeek_sync_waits_for_an_smb_header_chunk() {
    let conv = smb2_conversation();
    let mut h = H::default();
    // The first chunk is a keepalive on its own: Zeek cannot sync on it...
    h.feed(0, &[0x85, 0, 0, 0]);
    // ... but does on the next chunk, which starts with a header.
    for (d, m) in &conv.msgs {
        h.feed(*d, m);
    }
    assert_eq!(h.ev, conv.expected);
    // Everything in one chunk per direction after a keepalive chunk: not synced until a
    // chunk starts with an SMB header.
    let mut h = H::default();
    let mut s0 = vec![0x85, 0, 0, 0];
    let mut s1 = vec![0x85, 0, 0, 0];
    for (d, m) in &conv.msgs[..8] {
        if *d == 0 {
            s0.extend_from_slice(m)
        } else {
            s1.extend_from_slice(m)
        }
    }
    h.feed(0, &s0);
    h.feed(1, &s1);
    h.feed(0, &nbss(&smb2_write_req_msg(5, 1, FA, b"\x05\x00x")));
    assert_eq!(
        h.ev.last(),
        Some(&Ev::Data(key2(1, FA), 0, b"\x05\x00x".to_vec(), None)),
        "tree marking was never seen by Zeek"
    );
}

#[test]
fn smb1_zeek_rules() {
    let mut h = H::default();
    h.msg(
        0,
        &Smb1::new(SMB_COM_NEGOTIATE).build(&[], b"\x02NT LM 0.12\0"),
    );
    // No tree connect seen. NT_CREATE_ANDX "lsarpc" (no backslash) marks the tree for Zeek.
    h.msg(0, &smb1_nt_create_req_msg(1, TID, "lsarpc", false));
    h.msg(
        1,
        &smb1_nt_create_resp_msg(1, TID, FID1, FILE_TYPE_MESSAGE_MODE_PIPE),
    );
    h.msg(
        0,
        &smb1_write_andx_msg(2, TID, FID1, 0x000c, b"\x10\x00\x05\x00\x0bbindbind"),
    );
    // Transaction on an unknown name: Zeek forwards the response only (pipe tree).
    h.msg(
        0,
        &smb1_trans_req_msg(
            3,
            TID,
            "",
            &[TRANS_TRANSACT_NMPIPE, FID1],
            b"\x05\x00\x00q",
            false,
        ),
    );
    h.msg(1, &smb1_trans_resp_msg(3, TID, b"\x05\x00\x02r", 0));
    let k = key1(FID1);
    assert_eq!(
        h.ev,
        vec![
            Ev::Open(k, "lsarpc".into()),
            // Raw-mode write: the 2-byte length is not pipe data, but Zeek forwards it.
            Ev::Data(k, 0, b"\x05\x00\x0bbindbind".to_vec(), None),
            Ev::ZData(0, b"\x10\x00\x05\x00\x0bbindbind".to_vec(), 0),
            Ev::Data(k, 0, b"\x05\x00\x00q".to_vec(), None),
            Ev::Data(k, 1, b"\x05\x00\x02r".to_vec(), Some(0)),
        ]
    );
    assert_eq!(h.c.smb1_other_pipe_transactions, 0);
    h.msg(
        0,
        &smb1_trans_req_msg(
            4,
            TID,
            "\\PIPE\\",
            &[rec::TRANS_PEEK_NMPIPE, FID1],
            b"",
            false,
        ),
    );
    assert_eq!(h.c.smb1_other_pipe_transactions, 1);
}

#[test]
fn hostile_bytes_do_not_panic() {
    // A deterministic pseudo-random stream mixed with real messages.
    let conv = smb2_conversation();
    let mut x: u64 = 0x1234_5678;
    for round in 0..200 {
        let mut h = H::default();
        for (d, m) in &conv.msgs {
            let mut m = m.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % m.len();
                m[i] = (x >> 32) as u8;
            }
            let cut = (x as usize >> 8) % (m.len() + 1);
            h.feed(*d, &m[..cut]);
            if round % 7 == 0 {
                h.conn.gap(*d, &mut h.c);
            }
            h.feed(*d, &m[cut..]);
        }
    }
}

#[test]
fn signed_multi_credit_messages() {
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..8]);
    h.ev.clear();
    let data = dce(0, 9, &[0x61; 3000]);
    let w = Smb2::new(SMB2_WRITE)
        .msg_id(70)
        .tree(1)
        .signed()
        .credit_charge(3)
        .build(&smb2_write_req_body(FA, &data));
    h.msg(0, &w);
    // The response to a multi-credit request keeps the request's MessageId.
    h.msg(
        0,
        &Smb2::new(SMB2_READ)
            .msg_id(73)
            .tree(1)
            .credit_charge(2)
            .build(&smb2_read_req_body(FA, 131072)),
    );
    h.msg(
        1,
        &Smb2::new(SMB2_READ)
            .response()
            .msg_id(73)
            .signed()
            .credit_charge(2)
            .build(&smb2_read_resp_body(&data)),
    );
    let z = Some(FA.zeek_fid());
    assert_eq!(
        h.ev,
        vec![
            Ev::Data(key2(1, FA), 0, data.clone(), z),
            Ev::Data(key2(1, FA), 1, data, z)
        ]
    );
    assert_eq!(h.c.smb_signed_messages, 2);
}

/// Feed whole messages and keep the context of every Open.
fn contexts(conv: &[(usize, Vec<u8>)]) -> (SmbConn, SmbCounters, Vec<(PipeKey, PipeContext)>) {
    let mut conn = SmbConn::new();
    let mut c = SmbCounters::default();
    let mut opens = Vec::new();
    for (d, m) in conv {
        conn.feed(*d, &nbss(m), &mut c, &mut |e| {
            if let PipeEvent::Open { key, context, .. } = e {
                opens.push((key, context));
            }
        });
    }
    (conn, c, opens)
}

#[test]
fn smb2_pipe_carries_tree_user_and_dialect() {
    use crate::auth::ntlmssp::tests::{authenticate, spnego_resp};
    let auth = spnego_resp(&authenticate("alice", "CORP", "WS01", true));
    let conv = vec![
        (0, smb2_negotiate(false)),
        (1, smb2_negotiate_resp_msg(0, 0x0311)),
        // First leg: no session yet, no AUTHENTICATE.
        (
            0,
            smb2_session_setup_req_msg(1, 0, b"\x60\x10NTLMSSP\0\x01\0\0\0"),
        ),
        (
            1,
            smb2_session_setup_resp_msg(1, SESSION, STATUS_MORE_PROCESSING_REQUIRED),
        ),
        (0, smb2_session_setup_req_msg(2, SESSION, &auth)),
        (1, smb2_session_setup_resp_msg(2, SESSION, 0)),
        (0, smb2_tree_connect_req_msg(3, "\\\\10.0.0.1\\IPC$")),
        (1, smb2_tree_connect_resp_msg(3, 1, SMB2_SHARE_TYPE_PIPE)),
        (0, smb2_create_req_msg(4, 1, "svcctl")),
        (1, smb2_create_resp_msg(4, 1, FA)),
    ];
    let (conn, c, opens) = contexts(&conv);
    assert_eq!(conn.dialect(), Some(0x0311));
    assert!(conn.is_smb3());
    assert_eq!(c.smb_bad_messages, 0);
    let ctx = PipeContext {
        tree: Some("\\\\10.0.0.1\\IPC$".into()),
        user: Some(NtlmUser {
            user: "alice".into(),
            domain: "CORP".into(),
            workstation: "WS01".into(),
        }),
        kerberos: false,
    };
    assert_eq!(opens, vec![(key2(1, FA), ctx)]);
}

#[test]
fn smb2_dialect_2_is_not_smb3_and_user_unknown_without_auth() {
    let conv = vec![
        (1, smb2_negotiate_resp_msg(0, 0x0210)),
        (0, smb2_tree_connect_req_msg(3, "\\\\srv\\IPC$")),
        (1, smb2_tree_connect_resp_msg(3, 1, SMB2_SHARE_TYPE_PIPE)),
        (0, smb2_create_req_msg(4, 1, "lsarpc")),
        (1, smb2_create_resp_msg(4, 1, FB)),
    ];
    let (conn, _, opens) = contexts(&conv);
    assert_eq!(conn.dialect(), Some(0x0210));
    assert!(!conn.is_smb3());
    assert_eq!(opens.len(), 1);
    assert_eq!(opens[0].1.tree.as_deref(), Some("\\\\srv\\IPC$"));
    assert_eq!(opens[0].1.user, None);
    // No negotiate seen: SMB2 unless encrypted messages show it is SMB3.
    let mut h = H::default();
    h.msg(0, &smb2_create_req_msg(4, 1, "lsarpc"));
    assert!(!h.conn.is_smb3());
    h.msg(0, &transform_msg(0x99, 10));
    assert!(h.conn.is_smb3());
}

#[test]
fn smb1_session_user_extended_and_plain() {
    use crate::auth::ntlmssp::tests::{authenticate, spnego_resp};
    for unicode in [false, true] {
        // Extended security: the AUTHENTICATE leg carries the UID the server gave.
        let blob = spnego_resp(&authenticate("bob", "LAB", "PC7", unicode));
        let conv = vec![
            (0, smb1_session_setup_blob_msg(1, UID, &blob)),
            (1, smb1_session_setup_resp_msg(1, UID)),
            (0, smb1_tree_connect_req_msg(2, "\\\\SRV\\IPC$", unicode)),
            (1, smb1_tree_connect_resp_msg(2, TID, b"IPC")),
            (0, smb1_nt_create_req_msg(3, TID, "\\svcctl", unicode)),
            (
                1,
                smb1_nt_create_resp_msg(3, TID, FID1, FILE_TYPE_MESSAGE_MODE_PIPE),
            ),
        ];
        let (conn, c, opens) = contexts(&conv);
        assert!(!conn.is_smb3());
        assert_eq!(c.smb_bad_messages, 0, "unicode {unicode}");
        let ctx = &opens[0].1;
        assert_eq!(ctx.tree.as_deref(), Some("\\\\SRV\\IPC$"));
        let u = ctx.user.as_ref().unwrap();
        assert_eq!(
            (u.user.as_str(), u.domain.as_str(), u.workstation.as_str()),
            ("bob", "LAB", "PC7")
        );
        // Without extended security: UID 0 in the request, assigned by the response.
        let conv = vec![
            (
                0,
                smb1_session_setup_plain_msg(1, "carol", "WORKGROUP", unicode),
            ),
            (1, smb1_session_setup_resp_msg(1, UID)),
            (0, smb1_tree_connect_req_msg(2, "\\\\SRV\\IPC$", unicode)),
            (1, smb1_tree_connect_resp_msg(2, TID, b"IPC")),
            (0, smb1_nt_create_req_msg(3, TID, "\\svcctl", unicode)),
            (
                1,
                smb1_nt_create_resp_msg(3, TID, FID1, FILE_TYPE_MESSAGE_MODE_PIPE),
            ),
        ];
        let (_, c, opens) = contexts(&conv);
        assert_eq!(c.smb_bad_messages, 0, "unicode {unicode}");
        let u = opens[0].1.user.as_ref().unwrap();
        assert_eq!(
            (u.user.as_str(), u.domain.as_str(), u.workstation.as_str()),
            ("carol", "WORKGROUP", "")
        );
    }
}

#[test]
fn encrypted_sessions_and_compressed_connections_counted_once() {
    let mut h = H::default();
    h.msg(0, &transform_msg(0x55, 100));
    h.msg(1, &transform_msg(0x55, 100));
    h.msg(0, &transform_msg(0x66, 100));
    h.msg(0, b"\xfcSMB\x10\0\0\0\x01\0\0\0\0\0\0\0");
    h.msg(1, b"\xfcSMB\x10\0\0\0\x01\0\0\0\0\0\0\0");
    assert_eq!(h.c.smb3_encrypted_messages, 3);
    assert_eq!(h.c.smb3_encrypted_sessions, 2);
    assert_eq!(h.c.smb3_compressed_messages, 2);
    assert_eq!(h.c.smb3_compressed_connections, 1);
}

#[test]
fn deferred_compound_data_keeps_its_arrival_time() {
    use crate::capture::Timestamp;
    let conv = smb2_conversation();
    let mut h = H::run(&conv.msgs[..4]);
    let fc = FileId {
        persistent: 0x33,
        volatile: 0xcc,
    };
    let call = dce(0, 2, b"NetrShareEnum");
    let req = compound(&[
        smb2_create_req_msg(20, 1, "srvsvc"),
        Smb2::new(SMB2_IOCTL)
            .msg_id(21)
            .related()
            .session(u64::MAX)
            .tree(u32::MAX)
            .build(&smb2_ioctl_req_body(
                FileId::RELATED,
                FSCTL_PIPE_TRANSCEIVE,
                &call,
            )),
    ]);
    let resp = smb2_create_resp_msg(20, 1, fc);
    let t_req = Timestamp {
        secs: 100,
        nanos: 5,
    };
    let t_resp = Timestamp {
        secs: 101,
        nanos: 0,
    };
    let mut at = Vec::new();
    h.conn.set_time(t_req);
    h.conn.feed(0, &nbss(&req), &mut h.c, &mut |e| {
        panic!("early event {e:?}")
    });
    h.conn.set_time(t_resp);
    h.conn.feed(1, &nbss(&resp), &mut h.c, &mut |e| {
        if let PipeEvent::Data { data, at: t, .. } = e {
            at.push((data.to_vec(), t));
        }
    });
    assert_eq!(at, vec![(call.clone(), Some(t_req))]);
    // Data not held back carries no time of its own.
    let mut at = Vec::new();
    h.conn.feed(
        0,
        &nbss(&smb2_write_req_msg(22, 1, fc, &call)),
        &mut h.c,
        &mut |e| {
            if let PipeEvent::Data { at: t, .. } = e {
                at.push(t);
            }
        },
    );
    assert_eq!(at, vec![None]);
}
