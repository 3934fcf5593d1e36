//! Hand-built SMB messages for the unit tests.

use super::records::*;

pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

pub fn utf16z(s: &str) -> Vec<u8> {
    let mut v = utf16(s);
    v.extend_from_slice(&[0, 0]);
    v
}

/// Wrap one SMB message in a direct-TCP / NBSS session message header.
pub fn nbss(msg: &[u8]) -> Vec<u8> {
    let n = msg.len() as u32;
    let mut v = vec![0, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    v.extend_from_slice(msg);
    v
}

pub const UID: u16 = 0x0800;
pub const PID: u32 = 0xfeff;

/// SMB1 message builder.
#[derive(Clone)]
pub struct Smb1 {
    command: u8,
    status: u32,
    flags: u8,
    flags2: u16,
    tid: u16,
    pid: u32,
    uid: u16,
    mid: u16,
}

impl Smb1 {
    pub fn new(command: u8) -> Self {
        Smb1 {
            command,
            status: 0,
            flags: 0x18,
            flags2: 0x0001,
            tid: 0,
            pid: PID,
            uid: UID,
            mid: 0,
        }
    }
    pub fn tid(mut self, v: u16) -> Self {
        self.tid = v;
        self
    }
    pub fn uid(mut self, v: u16) -> Self {
        self.uid = v;
        self
    }
    pub fn mid(mut self, v: u16) -> Self {
        self.mid = v;
        self
    }
    pub fn pid(mut self, v: u32) -> Self {
        self.pid = v;
        self
    }
    pub fn status(mut self, v: u32) -> Self {
        self.status = v;
        self
    }
    pub fn reply(mut self) -> Self {
        self.flags |= SMB_FLAGS_REPLY;
        self
    }
    pub fn unicode(mut self) -> Self {
        self.flags2 |= SMB_FLAGS2_UNICODE;
        self
    }
    pub fn unicode_if(self, u: bool) -> Self {
        if u { self.unicode() } else { self }
    }
    pub fn header(&self) -> Vec<u8> {
        let mut v = SMB1_MAGIC.to_vec();
        v.push(self.command);
        v.extend_from_slice(&self.status.to_le_bytes());
        v.push(self.flags);
        v.extend_from_slice(&self.flags2.to_le_bytes());
        v.extend_from_slice(&((self.pid >> 16) as u16).to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&[0; 2]);
        v.extend_from_slice(&self.tid.to_le_bytes());
        v.extend_from_slice(&(self.pid as u16).to_le_bytes());
        v.extend_from_slice(&self.uid.to_le_bytes());
        v.extend_from_slice(&self.mid.to_le_bytes());
        v
    }
    /// Header + one block (`words` must be an even number of bytes).
    pub fn build(&self, words: &[u8], bytes: &[u8]) -> Vec<u8> {
        let mut v = self.header();
        push_block(&mut v, words, bytes);
        v
    }
}

pub fn push_block(v: &mut Vec<u8>, words: &[u8], bytes: &[u8]) {
    assert!(words.len().is_multiple_of(2));
    v.push((words.len() / 2) as u8);
    v.extend_from_slice(words);
    v.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    v.extend_from_slice(bytes);
}

fn le16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn smb1_str(bytes_offset: usize, s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        let mut v = if !bytes_offset.is_multiple_of(2) {
            vec![0]
        } else {
            vec![]
        };
        v.extend_from_slice(&utf16z(s));
        v
    } else {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }
}

const NO_ANDX: [u8; 4] = [0xff, 0, 0, 0];

pub fn smb1_tree_connect_req_msg(mid: u16, path: &str, unicode: bool) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, 0); // flags
    le16(&mut w, 1); // password length
    let bytes_offset = 32 + 1 + w.len() + 2;
    let mut b = vec![0u8]; // password
    b.extend_from_slice(&smb1_str(bytes_offset + 1, path, unicode));
    b.extend_from_slice(b"?????\0");
    Smb1::new(SMB_COM_TREE_CONNECT_ANDX)
        .mid(mid)
        .unicode_if(unicode)
        .build(&w, &b)
}

pub fn smb1_tree_connect_resp_msg(mid: u16, tid: u16, service: &[u8]) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, 1); // optional support
    let mut b = service.to_vec();
    b.push(0);
    b.extend_from_slice(&[0, 0]);
    Smb1::new(SMB_COM_TREE_CONNECT_ANDX)
        .mid(mid)
        .tid(tid)
        .reply()
        .build(&w, &b)
}

pub fn smb1_nt_create_req_msg(mid: u16, tid: u16, name: &str, unicode: bool) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    w.push(0); // reserved
    let name_len = if unicode {
        2 * name.encode_utf16().count()
    } else {
        name.len()
    };
    le16(&mut w, name_len as u16);
    le32(&mut w, 0x16); // flags
    le32(&mut w, 0); // root fid
    le32(&mut w, 0x0200_0000); // access
    le64(&mut w, 0); // allocation
    le32(&mut w, 0); // attributes
    le32(&mut w, 7); // share
    le32(&mut w, 1); // disposition
    le32(&mut w, 0); // options
    le32(&mut w, 2); // impersonation
    w.push(0); // security flags
    w.push(0); // (words are 48 bytes: 24 words; this byte is part of word 24's pair)
    w.truncate(48);
    let bytes_offset = 32 + 1 + 48 + 2;
    let b = smb1_str(bytes_offset, name, unicode);
    Smb1::new(SMB_COM_NT_CREATE_ANDX)
        .mid(mid)
        .tid(tid)
        .unicode_if(unicode)
        .build(&w, &b)
}

pub fn smb1_nt_create_resp_msg(mid: u16, tid: u16, fid: u16, resource_type: u16) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    w.push(0); // oplock
    le16(&mut w, fid);
    le32(&mut w, 1); // disposition
    w.extend_from_slice(&[0; 32]); // times
    le32(&mut w, 0x80); // attributes
    le64(&mut w, 4096);
    le64(&mut w, 0);
    le16(&mut w, resource_type);
    le16(&mut w, 0x05ff); // pipe status
    w.push(0); // directory
    w.push(0); // pad to an even count (68 bytes = 34 words)
    w.truncate(68);
    Smb1::new(SMB_COM_NT_CREATE_ANDX)
        .mid(mid)
        .tid(tid)
        .reply()
        .build(&w, &[])
}

pub fn smb1_write_andx_words(fid: u16, mode: u16, data_len: usize, data_offset: u16) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, fid);
    le32(&mut w, 0); // offset
    le32(&mut w, 0xffff_ffff); // timeout
    le16(&mut w, mode);
    le16(&mut w, data_len as u16); // remaining
    le16(&mut w, (data_len >> 16) as u16);
    le16(&mut w, data_len as u16);
    le16(&mut w, data_offset);
    le32(&mut w, 0); // offset high
    w
}

pub fn smb1_write_andx_msg(mid: u16, tid: u16, fid: u16, mode: u16, data: &[u8]) -> Vec<u8> {
    let w = smb1_write_andx_words(fid, mode, data.len(), (32 + 1 + 28 + 2) as u16);
    Smb1::new(SMB_COM_WRITE_ANDX)
        .mid(mid)
        .tid(tid)
        .build(&w, data)
}

pub fn smb1_read_andx_req_msg(mid: u16, tid: u16, fid: u16) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, fid);
    le32(&mut w, 0);
    le16(&mut w, 4280);
    le16(&mut w, 4280);
    le32(&mut w, 0);
    le16(&mut w, 0);
    Smb1::new(SMB_COM_READ_ANDX)
        .mid(mid)
        .tid(tid)
        .build(&w, &[])
}

pub fn smb1_read_andx_resp_msg(mid: u16, tid: u16, data: &[u8]) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, 0xffff); // available
    le16(&mut w, 0);
    le16(&mut w, 0);
    le16(&mut w, data.len() as u16);
    le16(&mut w, 60); // data offset: after one pad byte
    le16(&mut w, 0);
    w.extend_from_slice(&[0; 8]);
    let mut b = vec![0u8];
    b.extend_from_slice(data);
    Smb1::new(SMB_COM_READ_ANDX)
        .mid(mid)
        .tid(tid)
        .reply()
        .build(&w, &b)
}

pub fn smb1_close_req_msg(mid: u16, tid: u16, fid: u16) -> Vec<u8> {
    let mut w = Vec::new();
    le16(&mut w, fid);
    le32(&mut w, 0);
    Smb1::new(SMB_COM_CLOSE).mid(mid).tid(tid).build(&w, &[])
}

pub fn smb1_trans_req_msg(
    mid: u16,
    tid: u16,
    name: &str,
    setup: &[u16],
    data: &[u8],
    unicode: bool,
) -> Vec<u8> {
    smb1_trans_req_msg_part(mid, tid, name, setup, data, data.len(), unicode)
}

/// A TRANSACTION request carrying the first `data.len()` of `total` data bytes.
pub fn smb1_trans_req_msg_part(
    mid: u16,
    tid: u16,
    name: &str,
    setup: &[u16],
    data: &[u8],
    total: usize,
    unicode: bool,
) -> Vec<u8> {
    let wc = 14 + setup.len();
    let bytes_offset = 32 + 1 + 2 * wc + 2;
    let mut b = smb1_str(bytes_offset, name, unicode);
    while !(bytes_offset + b.len()).is_multiple_of(4) {
        b.push(0);
    }
    let data_offset = bytes_offset + b.len();
    b.extend_from_slice(data);
    let mut w = Vec::new();
    le16(&mut w, 0); // total param
    le16(&mut w, total as u16);
    le16(&mut w, 0); // max param
    le16(&mut w, 4280); // max data
    w.push(0);
    w.push(0);
    le16(&mut w, 0); // flags
    le32(&mut w, 0); // timeout
    le16(&mut w, 0);
    le16(&mut w, 0); // param count
    le16(&mut w, data_offset as u16); // param offset
    le16(&mut w, data.len() as u16);
    le16(&mut w, data_offset as u16);
    w.push(setup.len() as u8);
    w.push(0);
    for s in setup {
        le16(&mut w, *s);
    }
    Smb1::new(SMB_COM_TRANSACTION)
        .mid(mid)
        .tid(tid)
        .unicode_if(unicode)
        .build(&w, &b)
}

pub fn smb1_trans_resp_msg(mid: u16, tid: u16, data: &[u8], displacement: u16) -> Vec<u8> {
    smb1_trans_resp_msg_total(
        mid,
        tid,
        data,
        displacement,
        displacement as usize + data.len(),
        0,
    )
}

pub fn smb1_trans_resp_msg_total(
    mid: u16,
    tid: u16,
    data: &[u8],
    displacement: u16,
    total: usize,
    status: u32,
) -> Vec<u8> {
    let wc = 10;
    let bytes_offset = 32 + 1 + 2 * wc + 2;
    let pad = (4 - bytes_offset % 4) % 4;
    let data_offset = bytes_offset + pad;
    let mut w = Vec::new();
    le16(&mut w, 0);
    le16(&mut w, total as u16);
    le16(&mut w, 0);
    le16(&mut w, 0);
    le16(&mut w, data_offset as u16);
    le16(&mut w, 0);
    le16(&mut w, data.len() as u16);
    le16(&mut w, data_offset as u16);
    le16(&mut w, displacement);
    w.push(0);
    w.push(0);
    let mut b = vec![0u8; pad];
    b.extend_from_slice(data);
    Smb1::new(SMB_COM_TRANSACTION)
        .mid(mid)
        .tid(tid)
        .status(status)
        .reply()
        .build(&w, &b)
}

pub fn smb1_trans_secondary_msg(
    mid: u16,
    tid: u16,
    data: &[u8],
    displacement: u16,
    total: usize,
) -> Vec<u8> {
    let wc = 8;
    let data_offset = 32 + 1 + 2 * wc + 2;
    let mut w = Vec::new();
    le16(&mut w, 0);
    le16(&mut w, total as u16);
    le16(&mut w, 0);
    le16(&mut w, 0);
    le16(&mut w, 0);
    le16(&mut w, data.len() as u16);
    le16(&mut w, data_offset as u16);
    le16(&mut w, displacement);
    Smb1::new(SMB_COM_TRANSACTION_SECONDARY)
        .mid(mid)
        .tid(tid)
        .build(&w, data)
}

/// SMB2 message builder (one command).
#[derive(Clone)]
pub struct Smb2 {
    command: u16,
    status: u32,
    flags: u32,
    next: u32,
    msg_id: u64,
    async_id: Option<u64>,
    tree: u32,
    session: u64,
    credit_charge: u16,
}

pub const SESSION: u64 = 0x0000_1000_0000_0041;

impl Smb2 {
    pub fn new(command: u16) -> Self {
        Smb2 {
            command,
            status: 0,
            flags: 0,
            next: 0,
            msg_id: 0,
            async_id: None,
            tree: 0,
            session: SESSION,
            credit_charge: 1,
        }
    }
    pub fn status(mut self, v: u32) -> Self {
        self.status = v;
        self
    }
    pub fn response(mut self) -> Self {
        self.flags |= SMB2_FLAGS_SERVER_TO_REDIR;
        self
    }
    pub fn related(mut self) -> Self {
        self.flags |= SMB2_FLAGS_RELATED_OPERATIONS;
        self
    }
    pub fn signed(mut self) -> Self {
        self.flags |= SMB2_FLAGS_SIGNED;
        self
    }
    pub fn msg_id(mut self, v: u64) -> Self {
        self.msg_id = v;
        self
    }
    pub fn async_id(mut self, v: u64) -> Self {
        self.flags |= SMB2_FLAGS_ASYNC_COMMAND;
        self.async_id = Some(v);
        self
    }
    pub fn tree(mut self, v: u32) -> Self {
        self.tree = v;
        self
    }
    pub fn session(mut self, v: u64) -> Self {
        self.session = v;
        self
    }
    pub fn credit_charge(mut self, v: u16) -> Self {
        self.credit_charge = v;
        self
    }
    pub fn build(&self, body: &[u8]) -> Vec<u8> {
        let mut v = SMB2_MAGIC.to_vec();
        le16(&mut v, 64);
        le16(&mut v, self.credit_charge);
        le32(&mut v, self.status);
        le16(&mut v, self.command);
        le16(&mut v, 1);
        le32(&mut v, self.flags);
        le32(&mut v, self.next);
        le64(&mut v, self.msg_id);
        match self.async_id {
            Some(a) => le64(&mut v, a),
            None => {
                le32(&mut v, 0xfeff);
                le32(&mut v, self.tree);
            }
        }
        le64(&mut v, self.session);
        v.extend_from_slice(&[0; 16]);
        v.extend_from_slice(body);
        v
    }
}

/// Chain SMB2 commands into one compound message (8-byte aligned, NextCommand set).
pub fn compound(cmds: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in cmds.iter().enumerate() {
        let mut c = c.clone();
        if i + 1 < cmds.len() {
            while !c.len().is_multiple_of(8) {
                c.push(0);
            }
            let n = c.len() as u32;
            c[20..24].copy_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&c);
    }
    out
}

fn fid_bytes(v: &mut Vec<u8>, f: FileId) {
    le64(v, f.persistent);
    le64(v, f.volatile);
}

pub fn smb2_tree_connect_req_msg(msg_id: u64, path: &str) -> Vec<u8> {
    let p = utf16(path);
    let mut b = Vec::new();
    le16(&mut b, 9);
    le16(&mut b, 0);
    le16(&mut b, 72);
    le16(&mut b, p.len() as u16);
    b.extend_from_slice(&p);
    Smb2::new(SMB2_TREE_CONNECT).msg_id(msg_id).build(&b)
}

pub fn smb2_tree_connect_resp_msg(msg_id: u64, tree: u32, share_type: u8) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 16);
    b.push(share_type);
    b.push(0);
    le32(&mut b, 0x30);
    le32(&mut b, 0);
    le32(&mut b, 0x001f_01ff);
    Smb2::new(SMB2_TREE_CONNECT)
        .response()
        .msg_id(msg_id)
        .tree(tree)
        .build(&b)
}

pub fn smb2_create_req_body(name: &str) -> Vec<u8> {
    let n = utf16(name);
    let mut b = Vec::new();
    le16(&mut b, 57);
    b.push(0);
    b.push(0);
    le32(&mut b, 2);
    le64(&mut b, 0);
    le64(&mut b, 0);
    le32(&mut b, 0x0012_019f);
    le32(&mut b, 0);
    le32(&mut b, 7);
    le32(&mut b, 1);
    le32(&mut b, 0x40);
    le16(&mut b, 120);
    le16(&mut b, n.len() as u16);
    le32(&mut b, 0);
    le32(&mut b, 0);
    b.extend_from_slice(&n);
    if n.is_empty() {
        b.push(0);
    }
    b
}

pub fn smb2_create_req_msg(msg_id: u64, tree: u32, name: &str) -> Vec<u8> {
    Smb2::new(SMB2_CREATE)
        .msg_id(msg_id)
        .tree(tree)
        .build(&smb2_create_req_body(name))
}

pub fn smb2_create_resp_body(fid: FileId) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 89);
    b.push(0);
    b.push(0);
    le32(&mut b, 1);
    b.extend_from_slice(&[0; 32]);
    le64(&mut b, 4096);
    le64(&mut b, 0);
    le32(&mut b, 0x80);
    le32(&mut b, 0);
    fid_bytes(&mut b, fid);
    le32(&mut b, 0);
    le32(&mut b, 0);
    b.push(0);
    b
}

pub fn smb2_create_resp_msg(msg_id: u64, tree: u32, fid: FileId) -> Vec<u8> {
    Smb2::new(SMB2_CREATE)
        .response()
        .msg_id(msg_id)
        .tree(tree)
        .build(&smb2_create_resp_body(fid))
}

pub fn smb2_close_req_msg(msg_id: u64, tree: u32, fid: FileId) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 24);
    le16(&mut b, 0);
    le32(&mut b, 0);
    fid_bytes(&mut b, fid);
    Smb2::new(SMB2_CLOSE).msg_id(msg_id).tree(tree).build(&b)
}

pub fn smb2_read_req_body(fid: FileId, len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 49);
    b.push(0);
    b.push(0);
    le32(&mut b, len);
    le64(&mut b, 0);
    fid_bytes(&mut b, fid);
    le32(&mut b, 0);
    le32(&mut b, 0);
    le32(&mut b, 0);
    le16(&mut b, 0);
    le16(&mut b, 0);
    b.push(0);
    b
}

pub fn smb2_read_req_msg(msg_id: u64, tree: u32, fid: FileId, len: u32) -> Vec<u8> {
    Smb2::new(SMB2_READ)
        .msg_id(msg_id)
        .tree(tree)
        .build(&smb2_read_req_body(fid, len))
}

pub fn smb2_read_resp_body(data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 17);
    b.push(80);
    b.push(0);
    le32(&mut b, data.len() as u32);
    le32(&mut b, 0);
    le32(&mut b, 0);
    b.extend_from_slice(data);
    if data.is_empty() {
        b.push(0);
    }
    b
}

pub fn smb2_read_resp_msg(msg_id: u64, data: &[u8], status: u32) -> Vec<u8> {
    Smb2::new(SMB2_READ)
        .response()
        .status(status)
        .msg_id(msg_id)
        .build(&smb2_read_resp_body(data))
}

pub fn smb2_write_req_body(fid: FileId, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 49);
    le16(&mut b, 112);
    le32(&mut b, data.len() as u32);
    le64(&mut b, 0);
    fid_bytes(&mut b, fid);
    le32(&mut b, 0);
    le32(&mut b, 0);
    le16(&mut b, 0);
    le16(&mut b, 0);
    le32(&mut b, 0);
    b.extend_from_slice(data);
    b
}

pub fn smb2_write_req_msg(msg_id: u64, tree: u32, fid: FileId, data: &[u8]) -> Vec<u8> {
    Smb2::new(SMB2_WRITE)
        .msg_id(msg_id)
        .tree(tree)
        .build(&smb2_write_req_body(fid, data))
}

pub fn smb2_ioctl_req_body(fid: FileId, ctl: u32, input: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 57);
    le16(&mut b, 0);
    le32(&mut b, ctl);
    fid_bytes(&mut b, fid);
    le32(&mut b, 120);
    le32(&mut b, input.len() as u32);
    le32(&mut b, 0);
    le32(&mut b, 120);
    le32(&mut b, 0);
    le32(&mut b, 4280);
    le32(&mut b, 1);
    le32(&mut b, 0);
    b.extend_from_slice(input);
    b
}

pub fn smb2_ioctl_req_msg(msg_id: u64, tree: u32, fid: FileId, ctl: u32, input: &[u8]) -> Vec<u8> {
    Smb2::new(SMB2_IOCTL)
        .msg_id(msg_id)
        .tree(tree)
        .build(&smb2_ioctl_req_body(fid, ctl, input))
}

pub fn smb2_ioctl_resp_msg(
    msg_id: u64,
    fid: FileId,
    ctl: u32,
    output: &[u8],
    status: u32,
) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 49);
    le16(&mut b, 0);
    le32(&mut b, ctl);
    fid_bytes(&mut b, fid);
    le32(&mut b, 112);
    le32(&mut b, 0);
    le32(&mut b, 112);
    le32(&mut b, output.len() as u32);
    le32(&mut b, 0);
    le32(&mut b, 0);
    b.extend_from_slice(output);
    Smb2::new(SMB2_IOCTL)
        .response()
        .status(status)
        .msg_id(msg_id)
        .build(&b)
}

pub fn smb2_error_resp_msg(command: u16, msg_id: u64, status: u32) -> Vec<u8> {
    Smb2::new(command)
        .response()
        .status(status)
        .msg_id(msg_id)
        .build(&[9, 0, 0, 0, 0, 0, 0, 0, 0])
}

pub fn transform_msg(session: u64, size: usize) -> Vec<u8> {
    let mut v = TRANSFORM_MAGIC.to_vec();
    v.extend_from_slice(&[0xaa; 16]);
    v.extend_from_slice(&[0xbb; 16]);
    le32(&mut v, size as u32);
    le16(&mut v, 0);
    le16(&mut v, 1);
    le64(&mut v, session);
    v.extend(std::iter::repeat_n(0x5a, size));
    v
}

pub fn smb2_negotiate_resp_msg(msg_id: u64, dialect: u16) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 65);
    le16(&mut b, 1); // security mode
    le16(&mut b, dialect);
    le16(&mut b, 0);
    b.extend_from_slice(&[0x11; 16]); // server guid
    le32(&mut b, 0); // capabilities
    le32(&mut b, 0x10_0000);
    le32(&mut b, 0x10_0000);
    le32(&mut b, 0x10_0000);
    le64(&mut b, 0);
    le64(&mut b, 0);
    le16(&mut b, 0); // security buffer offset
    le16(&mut b, 0); // security buffer length
    le32(&mut b, 0);
    b.push(0);
    Smb2::new(SMB2_NEGOTIATE)
        .response()
        .session(0)
        .msg_id(msg_id)
        .build(&b)
}

pub fn smb2_session_setup_req_msg(msg_id: u64, session: u64, blob: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 25);
    b.push(0); // flags
    b.push(1); // security mode
    le32(&mut b, 0); // capabilities
    le32(&mut b, 0); // channel
    le16(&mut b, 64 + 24);
    le16(&mut b, blob.len() as u16);
    le64(&mut b, 0); // previous session
    b.extend_from_slice(blob);
    Smb2::new(SMB2_SESSION_SETUP)
        .session(session)
        .msg_id(msg_id)
        .build(&b)
}

pub fn smb2_session_setup_resp_msg(msg_id: u64, session: u64, status: u32) -> Vec<u8> {
    let mut b = Vec::new();
    le16(&mut b, 9);
    le16(&mut b, 0);
    le16(&mut b, 0);
    le16(&mut b, 0);
    b.push(0);
    Smb2::new(SMB2_SESSION_SETUP)
        .response()
        .status(status)
        .session(session)
        .msg_id(msg_id)
        .build(&b)
}

/// SESSION_SETUP_ANDX with extended security (WordCount 12) carrying `blob`.
pub fn smb1_session_setup_blob_msg(mid: u16, uid: u16, blob: &[u8]) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, 4356); // max buffer
    le16(&mut w, 10); // max mpx
    le16(&mut w, 0); // vc
    le32(&mut w, 0); // session key
    le16(&mut w, blob.len() as u16);
    le32(&mut w, 0);
    le32(&mut w, 0x8000_0000); // capabilities: extended security
    let mut b = blob.to_vec();
    b.extend_from_slice(b"Unix\0Samba\0");
    Smb1::new(SMB_COM_SESSION_SETUP_ANDX)
        .mid(mid)
        .uid(uid)
        .build(&w, &b)
}

/// SESSION_SETUP_ANDX without extended security (WordCount 13): plain account and domain.
pub fn smb1_session_setup_plain_msg(
    mid: u16,
    account: &str,
    domain: &str,
    unicode: bool,
) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, 4356);
    le16(&mut w, 10);
    le16(&mut w, 0);
    le32(&mut w, 0);
    le16(&mut w, 24); // OEM password
    le16(&mut w, 24); // Unicode password
    le32(&mut w, 0);
    le32(&mut w, 0x0000_00d4);
    let bytes_offset = 32 + 1 + w.len() + 2;
    let mut b = vec![0x22; 48];
    let acc = smb1_str(bytes_offset + b.len(), account, unicode);
    b.extend_from_slice(&acc);
    let dom = smb1_str(bytes_offset + b.len(), domain, unicode);
    b.extend_from_slice(&dom);
    b.extend_from_slice(&smb1_str(bytes_offset + b.len(), "Windows 2000", unicode));
    Smb1::new(SMB_COM_SESSION_SETUP_ANDX)
        .mid(mid)
        .uid(0)
        .unicode_if(unicode)
        .build(&w, &b)
}

pub fn smb1_session_setup_resp_msg(mid: u16, uid: u16) -> Vec<u8> {
    let mut w = NO_ANDX.to_vec();
    le16(&mut w, 0); // action
    Smb1::new(SMB_COM_SESSION_SETUP_ANDX)
        .mid(mid)
        .uid(uid)
        .reply()
        .build(&w, b"Unix\0Samba\0")
}
