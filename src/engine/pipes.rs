//! SMB connections: the SMB parser, and one DCE-RPC stream per named pipe it reports
//! (accurate mode: per pipe key; Zeek emulation: per Zeek fid).

use super::dce::DceStream;
use super::record::CallTransport;
use super::sink::RecordSink;
use crate::FastMap;
use crate::args;
use crate::auth::keys::{KeyRing, KeySource};
use crate::capture;
use crate::dcerpc::{self, Call};
use crate::flow::table::ConnMeta;
use crate::output::SmolStr;
use crate::smb;
use crate::zeek;
use std::sync::Arc;

/// A named pipe seen on an SMB connection (accurate mode).
struct Pipe {
    name: SmolStr,
    context: smb::PipeContext,
    stream: DceStream,
    /// Its bytes came out of SMB3 messages decrypted with a key of this kind.
    decrypted: Option<KeySource>,
}

/// A decoded call and the transport it came over.
pub(super) type TransportedCall = ((Call, args::Annotation), CallTransport);

/// SMB connection state: the SMB parser and one DCE-RPC stream per pipe.
pub(super) struct SmbState {
    conn: smb::SmbConn,
    /// Accurate mode: pipes by key, in creation order for determinism.
    pipes: Vec<(smb::PipeKey, Pipe)>,
    /// Zeek mode: one analyzer per Zeek fid, at most [`zeek::MAX_DCE_RPC_ANALYZERS`].
    zeek_fids: FastMap<u64, DceStream>,
    zeek_compat: bool,
    limits: dcerpc::Limits,
    /// The analyst's keys (accurate mode): for sealed pipes and SMB3 encryption.
    keys: Option<Arc<KeyRing>>,
}

/// "smb1", or "smb2"/"smb3" as the connection negotiated.
fn transport_name(key: &smb::PipeKey, smb3: bool) -> &'static str {
    match (key.smb2, smb3) {
        (false, _) => "smb1",
        (true, false) => "smb2",
        (true, true) => "smb3",
    }
}

/// Open pipes tracked per SMB connection (the SMB layer bounds its own tables too).
const MAX_PIPES: usize = 4096;

impl SmbState {
    pub fn new(zeek_compat: bool, limits: dcerpc::Limits, keys: Option<Arc<KeyRing>>) -> Self {
        let keys = keys.filter(|_| !zeek_compat);
        SmbState {
            conn: match (&keys, zeek_compat) {
                (_, true) => smb::SmbConn::new(),
                (Some(k), false) => smb::SmbConn::with_keys(k.clone()),
                (None, false) => smb::SmbConn::accurate(),
            },
            pipes: Vec::new(),
            zeek_fids: FastMap::default(),
            zeek_compat,
            limits,
            keys,
        }
    }

    /// One direction's bytes of the SMB connection; pipe data goes on to its DCE-RPC
    /// stream, and the calls it settles (accurate mode) into `out`.
    pub fn feed(
        &mut self,
        dir: usize,
        ts: capture::Timestamp,
        data: &[u8],
        sink: &mut RecordSink,
        mut script: Option<&mut zeek::ConnScript>,
        (meta, out): (&ConnMeta, &mut Vec<TransportedCall>),
    ) {
        let SmbState {
            conn,
            pipes,
            zeek_fids,
            zeek_compat,
            limits,
            keys,
        } = self;
        let (zeek_compat, limits) = (*zeek_compat, *limits);
        let smb3 = conn.is_smb3();
        let transport = |key: &smb::PipeKey| transport_name(key, smb3);
        let mut smb_c = std::mem::take(&mut sink.smb_counters);
        let mut calls = Vec::new();
        conn.set_time(ts);
        conn.feed(dir, data, &mut smb_c, &mut |ev| match ev {
            smb::PipeEvent::Open { key, name, context } if !zeek_compat => {
                if let Some((_, p)) = pipes.iter_mut().find(|(k, _)| *k == key) {
                    p.name = name.into();
                    p.context = context;
                } else if pipes.len() < MAX_PIPES {
                    sink.counters.dcerpc_connections += 1;
                    pipes.push((
                        key,
                        Pipe {
                            name: name.into(),
                            context,
                            stream: DceStream::new(false, false, limits, keys.as_ref()),
                            decrypted: None,
                        },
                    ));
                }
            }
            smb::PipeEvent::Data {
                key,
                dir,
                data,
                at,
                decrypted,
                ..
            } if !zeek_compat => {
                let idx = match pipes.iter().position(|(k, _)| *k == key) {
                    Some(i) => Some(i),
                    None if pipes.len() < MAX_PIPES => {
                        sink.counters.dcerpc_connections += 1;
                        pipes.push((
                            key,
                            Pipe {
                                name: SmolStr::default(),
                                context: smb::PipeContext::default(),
                                stream: DceStream::new(false, true, limits, keys.as_ref()),
                                decrypted: None,
                            },
                        ));
                        Some(pipes.len() - 1)
                    }
                    None => None,
                };
                if let Some(i) = idx {
                    let ts = at.unwrap_or(ts);
                    let (key, p) = &mut pipes[i];
                    if decrypted.is_some() {
                        p.decrypted = decrypted;
                    }
                    p.stream.feed(dir, ts, data, sink, None, 0);
                    p.stream.ready(sink, meta, &mut calls);
                    let via = CallTransport {
                        transport: transport(key),
                        pipe: Some(p.name.clone()),
                        context: p.context.clone(),
                        decrypted_with: p.decrypted,
                    };
                    out.extend(calls.drain(..).map(|c| (c, via.clone())));
                }
            }
            smb::PipeEvent::Close { key, .. } if !zeek_compat => {
                if let Some(i) = pipes.iter().position(|(k, _)| *k == key) {
                    let (key, pipe) = pipes.remove(i);
                    pipe.stream.finish(sink, meta, &mut calls);
                    let via = CallTransport {
                        transport: transport(&key),
                        pipe: Some(pipe.name),
                        context: pipe.context,
                        decrypted_with: pipe.decrypted,
                    };
                    out.extend(calls.drain(..).map(|c| (c, via.clone())));
                }
            }
            smb::PipeEvent::ZeekData { dir, data, fid }
            | smb::PipeEvent::Data {
                dir,
                data,
                zeek: Some(fid),
                ..
            } if zeek_compat => {
                if !zeek_fids.contains_key(&fid) && zeek_fids.len() >= zeek::MAX_DCE_RPC_ANALYZERS {
                    // Zeek's SMB pipe code destroys every analyzer of the connection, and
                    // the script its whole backing table, before starting the new one.
                    zeek_fids.clear();
                    sink.counters.zeek_dce_rpc_analyzers_discarded += 1;
                    if let Some(s) = script.as_deref_mut() {
                        s.discard_backing();
                    }
                }
                zeek_fids
                    .entry(fid)
                    .or_insert_with(|| DceStream::new(true, false, limits, None))
                    .feed(dir, ts, data, sink, script.as_deref_mut(), fid);
            }
            smb::PipeEvent::ZeekClose { fid }
            | smb::PipeEvent::Close {
                zeek: Some(fid), ..
            } if zeek_compat => {
                zeek_fids.remove(&fid);
                if let Some(s) = script.as_deref_mut() {
                    s.drop_fid(fid);
                }
            }
            _ => {}
        });
        sink.smb_counters.merge(&smb_c);
        if keys.is_some() {
            conn.take_key_events(&mut sink.counters.keys);
        }
    }

    /// Bytes held for messages and PDUs not complete yet (SMB framing and deferred pipe
    /// data, every pipe's DCE-RPC framers).
    pub fn buffered(&self) -> usize {
        let pipes: usize = self.pipes.iter().map(|(_, p)| p.stream.buffered()).sum();
        let fids: usize = self.zeek_fids.values().map(DceStream::buffered).sum();
        self.conn.buffered() + pipes + fids
    }

    /// `len` bytes of direction `dir` were lost.
    pub fn gap(&mut self, dir: usize, len: u64, sink: &mut RecordSink) {
        // A gap inside a skipped file transfer costs no pipe byte.
        if self.conn.gap_len(dir, len, &mut sink.smb_counters) {
            return;
        }
        // The lost bytes may have belonged to any pipe: every pipe resynchronises.
        for (_, p) in self.pipes.iter_mut() {
            p.stream.framers[dir].gap();
        }
    }

    /// End of the connection: the calls of the pipes still open, into `out`.
    pub fn finish(self, sink: &mut RecordSink, meta: &ConnMeta, out: &mut Vec<TransportedCall>) {
        let mut calls = Vec::new();
        let smb3 = self.conn.is_smb3();
        for (key, p) in self.pipes {
            p.stream.finish(sink, meta, &mut calls);
            let via = CallTransport {
                transport: transport_name(&key, smb3),
                pipe: Some(p.name),
                context: p.context,
                decrypted_with: p.decrypted,
            };
            out.extend(calls.drain(..).map(|c| (c, via.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcerpc::pdu::tests::{ack_body, bind_body, build, request_body, response_body};
    use crate::smb::records::{FileId, SMB2_SHARE_TYPE_PIPE};
    use crate::smb::testutil::*;

    /// srvsvc, whose NetrShareEnum (opnum 15) Zeek logs.
    const SRVSVC: [u8; 16] = [
        0x4b, 0x32, 0x4f, 0xc8, 0x16, 0x70, 0x01, 0xd3, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1,
        0x88,
    ];

    /// `fids` pipes on one SMB2 connection, each with a bind and one answered call, none
    /// closed; then one more request on the last pipe, unanswered (so the connection-removal
    /// hook logs the backing table). Returns the Zeek lines and the run's counters.
    fn many_pipes(fids: u64) -> (Vec<zeek::ZeekLine>, crate::stats::Counters) {
        let mut st = SmbState::new(true, dcerpc::Limits::default(), None);
        let mut sink = RecordSink::new("t", 0, None, None);
        let mut script = zeek::ConnScript::new(true);
        let mut t = capture::Timestamp {
            secs: 1000,
            nanos: 0,
        };
        let ip = std::net::IpAddr::from([10, 0, 0, 1]);
        let meta = ConnMeta {
            orig: (ip, 50000),
            resp: (ip, 445),
            seq: 1,
            first_ts: t,
            last_ts: t,
            syn_seen: true,
        };
        let mut out = Vec::new();
        let mut msg = |st: &mut SmbState, dir: usize, m: Vec<u8>, sink: &mut RecordSink| {
            t.nanos += 1000;
            st.feed(
                dir,
                t,
                &nbss(&m),
                sink,
                Some(&mut script),
                (&meta, &mut out),
            );
        };
        let mut id = 1u64;
        let mut next = || {
            id += 1;
            id
        };
        msg(
            &mut st,
            0,
            smb2_tree_connect_req_msg(1, "\\\\srv\\IPC$"),
            &mut sink,
        );
        msg(
            &mut st,
            1,
            smb2_tree_connect_resp_msg(1, 5, SMB2_SHARE_TYPE_PIPE),
            &mut sink,
        );
        let bind = build(11, 3, true, 1, &bind_body(true, &[(0, SRVSVC, 3)]), None);
        let ack = build(
            12,
            3,
            true,
            1,
            &ack_body(true, b"\\PIPE\\srvsvc\0", &[0]),
            None,
        );
        let req = build(0, 3, true, 2, &request_body(true, 0, 15, &[0; 8]), None);
        let resp = build(2, 3, true, 2, &response_body(true, 0, &[0; 8]), None);
        for f in 1..=fids {
            let fid = FileId {
                persistent: f,
                volatile: 0,
            };
            let m = next();
            msg(&mut st, 0, smb2_create_req_msg(m, 5, "srvsvc"), &mut sink);
            msg(&mut st, 1, smb2_create_resp_msg(m, 5, fid), &mut sink);
            for (pdu, answer) in [(&bind, &ack), (&req, &resp)] {
                let m = next();
                msg(&mut st, 0, smb2_write_req_msg(m, 5, fid, pdu), &mut sink);
                let m = next();
                msg(&mut st, 0, smb2_read_req_msg(m, 5, fid, 1024), &mut sink);
                msg(&mut st, 1, smb2_read_resp_msg(m, answer, 0), &mut sink);
            }
        }
        let last = FileId {
            persistent: fids,
            volatile: 0,
        };
        let m = next();
        msg(&mut st, 0, smb2_write_req_msg(m, 5, last, &req), &mut sink);
        script.remove(t.zeek_time());
        (script.lines, sink.counters)
    }

    /// Zeek keeps at most `SMB::max_dce_rpc_analyzers` (1000) pipe analyzers per SMB
    /// connection: the 1001st fid discards them all, and the script its backing table, so
    /// the connection-removal hook finds one backing entry (the last fid's), not 1001.
    #[test]
    fn zeek_caps_pipe_analyzers_per_connection() {
        let (lines, c) = many_pipes(1001);
        let responses = lines.iter().filter(|l| !l.from_removal).count();
        let removal = lines.iter().filter(|l| l.from_removal).count();
        assert_eq!(responses, 1001);
        assert_eq!(removal, 1);
        assert_eq!(c.zeek_dce_rpc_analyzers_discarded, 1);
        // Below the cap every backing entry is still there at removal.
        let (lines, c) = many_pipes(1000);
        assert_eq!(lines.iter().filter(|l| l.from_removal).count(), 1000);
        assert_eq!(c.zeek_dce_rpc_analyzers_discarded, 0);
    }
}
