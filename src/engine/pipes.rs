//! SMB connections: the SMB parser, and one DCE-RPC stream per named pipe it reports
//! (accurate mode: per pipe key; Zeek emulation: per Zeek fid).

use super::dce::DceStream;
use super::record::CallTransport;
use super::sink::RecordSink;
use crate::args;
use crate::capture;
use crate::dcerpc::{self, Call};
use crate::output::SmolStr;
use crate::smb;
use crate::stats::Counters;
use crate::zeek;

/// A named pipe seen on an SMB connection (accurate mode).
struct Pipe {
    name: SmolStr,
    context: smb::PipeContext,
    stream: DceStream,
}

/// A decoded call and the pipe it came over.
type PipeCall = (
    (Call, args::Annotation),
    smb::PipeKey,
    SmolStr,
    smb::PipeContext,
);

/// SMB connection state: the SMB parser and one DCE-RPC stream per pipe.
pub(super) struct SmbState {
    conn: smb::SmbConn,
    /// Accurate mode: pipes by key, in creation order for determinism.
    pipes: Vec<(smb::PipeKey, Pipe)>,
    /// Zeek mode: one analyzer per Zeek fid.
    zeek_fids: Vec<(u64, DceStream)>,
    /// Calls of pipes already closed.
    done: Vec<PipeCall>,
    zeek_compat: bool,
    limits: dcerpc::Limits,
}

/// Open pipes tracked per SMB connection (the SMB layer bounds its own tables too).
const MAX_PIPES: usize = 4096;

impl SmbState {
    pub fn new(zeek_compat: bool, limits: dcerpc::Limits) -> Self {
        SmbState {
            conn: if zeek_compat {
                smb::SmbConn::new()
            } else {
                smb::SmbConn::accurate()
            },
            pipes: Vec::new(),
            zeek_fids: Vec::new(),
            done: Vec::new(),
            zeek_compat,
            limits,
        }
    }

    /// One direction's bytes of the SMB connection; pipe data goes on to its DCE-RPC stream.
    pub fn feed(
        &mut self,
        dir: usize,
        ts: capture::Timestamp,
        data: &[u8],
        sink: &mut RecordSink,
        mut script: Option<&mut zeek::ConnScript>,
    ) {
        let SmbState {
            conn,
            pipes,
            zeek_fids,
            done,
            zeek_compat,
            limits,
        } = self;
        let (zeek_compat, limits) = (*zeek_compat, *limits);
        let mut smb_c = std::mem::take(&mut sink.smb_counters);
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
                            stream: DceStream::new(false, false, limits),
                        },
                    ));
                }
            }
            smb::PipeEvent::Data {
                key, dir, data, at, ..
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
                                stream: DceStream::new(false, true, limits),
                            },
                        ));
                        Some(pipes.len() - 1)
                    }
                    None => None,
                };
                if let Some(i) = idx {
                    let ts = at.unwrap_or(ts);
                    pipes[i].1.stream.feed(dir, ts, data, sink, None, 0);
                }
            }
            smb::PipeEvent::Close { key, .. } if !zeek_compat => {
                if let Some(i) = pipes.iter().position(|(k, _)| *k == key) {
                    let (key, pipe) = pipes.remove(i);
                    for c in pipe.stream.finish(&mut sink.counters) {
                        done.push((c, key, pipe.name.clone(), pipe.context.clone()));
                    }
                }
            }
            smb::PipeEvent::ZeekData { dir, data, fid }
            | smb::PipeEvent::Data {
                dir,
                data,
                zeek: Some(fid),
                ..
            } if zeek_compat => {
                let i = match zeek_fids.iter().position(|(f, _)| *f == fid) {
                    Some(i) => i,
                    None => {
                        zeek_fids.push((fid, DceStream::new(true, false, limits)));
                        zeek_fids.len() - 1
                    }
                };
                zeek_fids[i]
                    .1
                    .feed(dir, ts, data, sink, script.as_deref_mut(), fid);
            }
            smb::PipeEvent::ZeekClose { fid }
            | smb::PipeEvent::Close {
                zeek: Some(fid), ..
            } if zeek_compat => {
                zeek_fids.retain(|(f, _)| *f != fid);
                if let Some(s) = script.as_deref_mut() {
                    s.drop_fid(fid);
                }
            }
            _ => {}
        });
        sink.smb_counters.merge(&smb_c);
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

    /// Every call of the connection (closed pipes first, then the open ones), with the
    /// transport each came over.
    pub fn finish(self, counters: &mut Counters) -> Vec<((Call, args::Annotation), CallTransport)> {
        let SmbState {
            pipes, done, conn, ..
        } = self;
        let mut all = done;
        for (key, p) in pipes {
            for c in p.stream.finish(counters) {
                all.push((c, key, p.name.clone(), p.context.clone()));
            }
        }
        let smb2 = if conn.is_smb3() { "smb3" } else { "smb2" };
        all.into_iter()
            .map(|(c, key, name, context)| {
                let transport = if key.smb2 { smb2 } else { "smb1" };
                let via = CallTransport {
                    transport,
                    pipe: Some(name),
                    context,
                };
                (c, via)
            })
            .collect()
    }
}
