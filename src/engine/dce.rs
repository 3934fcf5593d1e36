//! One DCE-RPC byte stream pair (a TCP connection or a named pipe), decoded accurately or
//! the way Zeek's analyzer would.

use super::sink::RecordSink;
use crate::args;
use crate::capture;
use crate::dcerpc::{self, Association, Call, Framer, Recovery};
use crate::stats::Counters;
use crate::zeek;

/// Both directions' PDU framers and the decoder they feed.
pub(super) struct DceStream {
    pub framers: [Framer; 2],
    decoder: DceDecoder,
    /// Identities from the association's auth tokens (accurate mode).
    who: args::who::WhoLog,
}

enum DceDecoder {
    Accurate(Box<Association>),
    /// Zeek's analyzer instance; the script state lives per connection (`ConnScript`).
    ZeekEmulation(Box<zeek::Analyzer>),
}

impl DceStream {
    pub fn new(zeek_compat: bool, midstream: bool, limits: dcerpc::Limits) -> Self {
        let recovery = if zeek_compat {
            Recovery::NextChunk
        } else {
            Recovery::Scan
        };
        let mut framers = [Framer::new(recovery), Framer::new(recovery)];
        if !zeek_compat && midstream {
            framers[0].hunt();
            framers[1].hunt();
        }
        let decoder = if zeek_compat {
            DceDecoder::ZeekEmulation(Box::new(zeek::Analyzer::new()))
        } else {
            DceDecoder::Accurate(Box::new(Association::new(limits)))
        };
        DceStream {
            framers,
            decoder,
            who: args::who::WhoLog::default(),
        }
    }

    /// Feed one direction's bytes. `script`/`fid` are used in Zeek mode only.
    pub fn feed(
        &mut self,
        dir: usize,
        ts: capture::Timestamp,
        data: &[u8],
        sink: &mut RecordSink,
        script: Option<&mut zeek::ConnScript>,
        fid: u64,
    ) {
        let RecordSink {
            counters, framing, ..
        } = sink;
        match &mut self.decoder {
            DceDecoder::Accurate(assoc) => {
                let who = &mut self.who;
                self.framers[dir].feed(data, framing, &mut |raw| match dcerpc::parse_pdu(raw) {
                    Ok(p) => {
                        if let Some(seen) = args::who::from_pdu(raw, &p) {
                            who.push(ts, seen);
                        }
                        assoc.on_pdu(dir, ts, &p, counters)
                    }
                    Err(_) => counters.dcerpc_bad_pdus += 1,
                });
            }
            DceDecoder::ZeekEmulation(an) => {
                let Some(script) = script else { return };
                let now = ts.zeek_time();
                self.framers[dir].feed(data, framing, &mut |raw| {
                    an.on_pdu(script, fid, dir, now, raw)
                });
            }
        }
    }

    /// Bytes of direction `dir` were lost.
    pub fn gap(&mut self, dir: usize) {
        self.framers[dir].gap();
        if let DceDecoder::ZeekEmulation(an) = &mut self.decoder {
            an.set_skip();
        }
    }

    /// Accurate calls of this stream with their decoded arguments (empty in Zeek mode).
    pub fn finish(mut self, counters: &mut Counters) -> Vec<(Call, args::Annotation)> {
        for f in &mut self.framers {
            f.finish(counters);
        }
        match self.decoder {
            DceDecoder::Accurate(mut a) => {
                let calls = args::annotate(a.finish(counters), &self.who);
                for (_, ann) in &calls {
                    match ann.status {
                        args::ArgsStatus::Malformed => counters.args_malformed += 1,
                        args::ArgsStatus::Limit => counters.args_limit += 1,
                        _ => {}
                    }
                }
                calls
            }
            DceDecoder::ZeekEmulation(_) => Vec::new(),
        }
    }
}
