//! Glue for one run: capture files → frames → TCP segments → flow table → per-connection
//! protocol state → records. One file is one unit of work; files run in parallel and the
//! merged output is sorted, so results do not depend on the thread count.

use crate::args;
use crate::capture::{self, PacketDecoder};
use crate::dcerpc::{self, Association, Call, CallStatus, Framer, Recovery};
use crate::flow::table::{ConnKey, ConnMeta, FlowApp, zeek_likely_server_port};
use crate::flow::{FlowEvent, FlowLimits, FlowTable};
use crate::names;
use crate::output::{Extra, Record, SmolStr};
use crate::smb;
use crate::stats::{Counters, Notice};
use crate::zeek;
use rayon::prelude::*;
use std::cell::RefCell;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A test on a finished record, shared by the worker threads.
#[derive(Clone)]
pub struct RecordFilter(pub std::sync::Arc<dyn Fn(&Record) -> bool + Send + Sync>);

impl std::fmt::Debug for RecordFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordFilter")
    }
}

/// Everything a run can be told.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Emulate Zeek's dce_rpc.log, quirks included.
    pub zeek_compat: bool,
    /// Drop operations on Zeek's ignore list (always on in `zeek_compat`).
    pub zeek_ignore: bool,
    pub verify_checksums: bool,
    pub flow: FlowLimits,
    pub dce: dcerpc::Limits,
    /// Passes over each capture, each decoding its own share of the connections, run in
    /// parallel (0: as many as the thread pool has threads per file). The output does not
    /// depend on it.
    pub shards: usize,
    /// Treat all inputs as one continuous capture (rotated files), in the order given.
    pub merge: bool,
    /// File bytes read so far, for a progress display (counted by one pass per file).
    pub progress: Option<capture::ByteCounter>,
    /// Keep memory bounded on long runs: records leave memory as sorted runs on disk
    /// (`RunOutput::runs`), to be merged with [`crate::output::spill::merge`].
    pub spill: Option<crate::output::spill::SpillConfig>,
    /// Keep only the records this accepts (e.g. `detect` keeps the calls that hit), so
    /// that memory follows what is kept, not the capture's size. The others are counted in
    /// `Counters::records_filtered`.
    pub keep: Option<RecordFilter>,
}

/// Memory one tracked connection costs at most while its protocol is being recognised or
/// its first PDU buffered (measured: about 0.6 KiB for a bare TCP connection, 1.2 KiB with
/// a DCE-RPC or SMB parser attached and a partial PDU held; see benches/RESULTS.md).
pub const PER_FLOW_BYTES: usize = 1280;

impl Options {
    /// Keep connection state under about `bytes`: half for connections (the flow cap, at
    /// [`PER_FLOW_BYTES`] each), a quarter for out-of-order data; the rest is for parser
    /// buffers. Past the caps the least recently active connections are closed early, and
    /// counted. Decoded records are kept until the end and are not part of the cap.
    pub fn cap_memory(&mut self, bytes: usize) {
        self.flow.max_flows = self.flow.max_flows.min((bytes / 2 / PER_FLOW_BYTES).max(1));
        self.flow.max_reassembly_bytes = self.flow.max_reassembly_bytes.min((bytes / 4).max(1));
    }
}

/// Which share of the connections one pass decodes: those whose direction-independent
/// address pair hashes to `index` modulo `count`. Every pass still reads every packet (the
/// file is in the page cache after the first), so time and flow-table sweeps agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    fn owns(&self, seg: &capture::TcpSegment<'_>) -> bool {
        if self.count <= 1 {
            return true;
        }
        let key = ConnKey::new((seg.src, seg.sport), (seg.dst, seg.dport));
        // FNV-1a over the normalised pair: stable across threads and runs.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for x in b {
                h ^= *x as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for (ip, port) in [key.a, key.b] {
            match ip {
                IpAddr::V4(a) => eat(&a.octets()),
                IpAddr::V6(a) => eat(&a.octets()),
            }
            eat(&port.to_be_bytes());
        }
        (h % self.count as u64) as u32 == self.index
    }
}

/// What one capture file produced.
#[derive(Debug, Default)]
pub struct FileOutput {
    pub records: Vec<Record>,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Records already written out as sorted runs (with `Options::spill`).
    pub runs: Vec<crate::output::spill::Run>,
}

/// Result of a whole run.
#[derive(Debug, Default)]
pub struct RunOutput {
    pub records: Vec<Record>,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Records already written out as sorted runs (with `Options::spill`); merge them with
    /// `records` through [`crate::output::spill::merge`].
    pub runs: Vec<crate::output::spill::Run>,
}

impl RunOutput {
    /// Records of the run, in memory and spilled.
    pub fn record_count(&self) -> u64 {
        self.records.len() as u64 + self.runs.iter().map(|r| r.records).sum::<u64>()
    }
}

/// Analyse every file (in parallel, and each file in parallel shards when there are fewer
/// files than threads) and merge the results in a deterministic order: the same records in
/// the same order whatever the thread count.
pub fn run(paths: &[PathBuf], opts: &Options) -> RunOutput {
    let threads = rayon::current_num_threads().max(1);
    let units = if opts.merge { 1 } else { paths.len().max(1) };
    let shards = if opts.shards > 0 {
        opts.shards
    } else if units >= threads {
        1
    } else {
        threads.div_ceil(units)
    }
    .min(64) as u32;
    // Standard input inside a merged capture: one pass (stdin can be read once).
    let shards = if opts.merge && paths.iter().any(|p| capture::is_stdin(p)) {
        1
    } else {
        shards
    };
    // Standard input can be read once only: one pass decodes all of it.
    let stdin = |f: usize| !opts.merge && paths.get(f).is_some_and(|p| capture::is_stdin(p));
    let work: Vec<(usize, u32)> = (0..units)
        .flat_map(|f| (0..if stdin(f) { 1 } else { shards }).map(move |k| (f, k)))
        .collect();
    let outs: Vec<FileOutput> = work
        .par_iter()
        .map(|&(f, k)| {
            let shard = if stdin(f) {
                Shard::ALL
            } else {
                Shard {
                    index: k,
                    count: shards,
                }
            };
            if opts.merge {
                analyze_paths_merged(paths, opts, shard)
            } else {
                analyze_path_shard(&paths[f], f as u64, opts, shard)
            }
        })
        .collect();
    let mut run = RunOutput::default();
    for o in outs {
        run.counters.merge(&o.counters);
        run.notices.extend(o.notices);
        run.records.extend(o.records);
        run.runs.extend(o.runs);
    }
    sort_records(&mut run.records);
    run
}

pub fn sort_records(records: &mut [Record]) {
    // Records are large: sort indices (stable, so ties keep their order), then move each
    // record once into place by following the permutation's cycles.
    let mut idx: Vec<usize> = (0..records.len()).collect();
    idx.sort_by(|&a, &b| {
        let (a, b) = (&records[a].order, &records[b].order);
        a.0.total_cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    // idx[i] is the record that belongs at position i.
    for start in 0..idx.len() {
        let mut i = start;
        while idx[i] != start {
            let j = idx[i];
            records.swap(i, j);
            idx[i] = i;
            i = j;
        }
        idx[i] = i;
    }
}

/// Analyse one capture file; errors become notices, never panics.
pub fn analyze_path(path: &Path, file_index: u64, opts: &Options) -> FileOutput {
    analyze_path_shard(path, file_index, opts, Shard::ALL)
}

/// One file, cannot-open included: a file-level failure is counted once (shard 0).
fn open_failed(label: String, e: capture::CaptureError, shard: Shard) -> FileOutput {
    let mut out = FileOutput::default();
    if shard.index == 0 {
        out.counters.files += 1;
        out.counters.files_failed += 1;
        out.notices
            .push(Notice::error(label, e.offset(), e.cause()));
    }
    out
}

/// One share of one capture file's connections.
pub fn analyze_path_shard(
    path: &Path,
    file_index: u64,
    opts: &Options,
    shard: Shard,
) -> FileOutput {
    let label = path.display().to_string();
    let counter = opts.progress.clone().filter(|_| shard.index == 0);
    if capture::is_stdin(path) {
        let mut input = Some(capture::open_stdin(counter));
        return analyze_inputs("stdin", file_index, opts, shard, &mut |sink, c, n| {
            if let Some(r) = input.take() {
                read_one("stdin", r, c, n, sink)
            }
        });
    }
    match capture::open_capture_counted(path, counter) {
        Ok(r) => {
            let mut input = Some(r);
            analyze_inputs(&label, file_index, opts, shard, &mut |sink, c, n| {
                if let Some(r) = input.take() {
                    read_one(&label, r, c, n, sink)
                }
            })
        }
        Err(e) => open_failed(label, e, shard),
    }
}

/// Several files as one continuous capture (rotated captures): one flow table across
/// them, in the order given, so a connection spanning two files is decoded whole. Files
/// whose time ranges overlap are read one after the other, not interleaved; a notice says
/// so. Records name the first file as their capture.
pub fn analyze_paths_merged(paths: &[PathBuf], opts: &Options, shard: Shard) -> FileOutput {
    let Some(first) = paths.first() else {
        return FileOutput::default();
    };
    let label = first.display().to_string();
    analyze_inputs(&label, 0, opts, shard, &mut |sink, c, n| {
        let mut last_ts: Option<capture::Timestamp> = None;
        for p in paths {
            let name = p.display().to_string();
            let counter = opts.progress.clone().filter(|_| shard.index == 0);
            let opened = if capture::is_stdin(p) {
                Ok(capture::open_stdin(counter))
            } else {
                capture::open_capture_counted(p, counter)
            };
            match opened {
                Ok(r) => {
                    let mut first_ts = None;
                    let mut max_ts = last_ts;
                    read_one(&name, r, c, n, &mut |f: &capture::Frame<'_>| {
                        first_ts.get_or_insert(f.ts);
                        max_ts = Some(max_ts.map_or(f.ts, |m| m.max(f.ts)));
                        sink(f)
                    });
                    if let (Some(f), Some(l)) = (first_ts, last_ts)
                        && f < l
                    {
                        n.push(Notice::note(
                            name.clone(),
                            None,
                            "starts before the end of the previous file: --merge reads files \
                             one after the other, it does not interleave them",
                        ));
                    }
                    last_ts = max_ts;
                }
                Err(e) => {
                    c.files += 1;
                    c.files_failed += 1;
                    n.push(Notice::error(name, e.offset(), e.cause()));
                }
            }
        }
    })
}

/// Read one capture into the frame sink; a read error is counted and noted.
fn read_one(
    label: &str,
    input: impl std::io::Read,
    counters: &mut Counters,
    notices: &mut Vec<Notice>,
    sink: &mut dyn FnMut(&capture::Frame<'_>),
) {
    counters.files += 1;
    if let Err(e) = capture::read_frames(label, input, counters, notices, sink) {
        counters.files_failed += 1;
        notices.push(Notice::error(label, e.offset(), e.cause()));
    }
}

/// Shared sink the per-connection state writes into.
struct Sink {
    records: Vec<Record>,
    /// With `Options::spill`: where to spill, and the records rendered as they are made
    /// (then `records` stays empty).
    spill: Option<(
        crate::output::spill::SpillConfig,
        crate::output::spill::Batch,
    )>,
    keep: Option<RecordFilter>,
    /// Runs already sorted (on disk, or the last batch in memory).
    runs: Vec<crate::output::spill::Run>,
    spill_error: Option<String>,
    counters: Counters,
    /// Counters of the PDU framers (kept apart from `counters` for the borrow checker).
    framing: Counters,
    smb_counters: smb::SmbCounters,
    label: SmolStr,
    file_index: u64,
}

/// Analyse a capture from any reader (already decompressed or gzip handled by the caller).
pub fn analyze_reader(
    label: &str,
    input: impl std::io::Read,
    file_index: u64,
    opts: &Options,
) -> FileOutput {
    let mut input = Some(input);
    analyze_inputs(label, file_index, opts, Shard::ALL, &mut |sink, c, n| {
        if let Some(r) = input.take() {
            read_one(label, r, c, n, sink)
        }
    })
}

/// Frames in (from `feed`, which reads one or more captures into the sink it is given),
/// records out, for the connections of one shard.
type Feed<'a> =
    dyn FnMut(&mut dyn FnMut(&capture::Frame<'_>), &mut Counters, &mut Vec<Notice>) + 'a;

fn analyze_inputs(
    label: &str,
    file_index: u64,
    opts: &Options,
    shard: Shard,
    feed: &mut Feed<'_>,
) -> FileOutput {
    let mut counters = Counters::default();
    let mut notices = Vec::new();
    let sink = Rc::new(RefCell::new(Sink {
        records: Vec::new(),
        spill: opts
            .spill
            .as_ref()
            .map(|c| (c.clone(), crate::output::spill::Batch::new(c.format))),
        runs: Vec::new(),
        keep: opts.keep.clone(),
        spill_error: None,
        counters: Counters::default(),
        framing: Counters::default(),
        smb_counters: smb::SmbCounters::default(),
        label: SmolStr::from(label),
        file_index,
    }));
    let mut decoder = PacketDecoder::new(opts.verify_checksums);
    let likely: fn(u16) -> bool = if opts.zeek_compat {
        zeek_likely_server_port
    } else {
        dce_server_port
    };
    let mut table = {
        let sink = sink.clone();
        let opts = opts.clone();
        let mut limits = opts.flow;
        if opts.zeek_compat {
            limits.ack_gap_after = Some(0);
        }
        // Global limits are shared out between the shards.
        let n = shard.count.max(1) as usize;
        limits.max_flows = (limits.max_flows / n).max(1);
        limits.max_reassembly_bytes = (limits.max_reassembly_bytes / n).max(1);
        FlowTable::new(limits, likely, move |_meta: &ConnMeta| {
            TcpApp::new(sink.clone(), &opts)
        })
    };
    // The decoder, the flow table and the reader each keep their own counters so that
    // no two layers need the same `&mut` at once; they are merged at the end.
    let mut dec_c = Counters::default();
    let mut tab_c = Counters::default();
    feed(
        &mut |frame| {
            decoder.decode(frame, &mut dec_c, &mut |seg| {
                if shard.owns(seg) {
                    table.process(seg, &mut tab_c)
                } else {
                    table.skip(seg.ts, &mut tab_c)
                }
            });
        },
        &mut counters,
        &mut notices,
    );
    decoder.finish(&mut dec_c);
    table.finish_all(&mut tab_c);
    drop(table);
    if shard.index == 0 {
        // What every pass sees alike (files, packets, link and IP layers) counts once.
        counters.merge(&dec_c);
    } else {
        counters = Counters::default();
        notices.clear();
    }
    counters.merge(&tab_c);
    let mut sink = sink.borrow_mut();
    sink.flush_batch(false);
    counters.merge(&sink.counters);
    counters.merge(&sink.framing);
    counters.smb.merge(&sink.smb_counters);
    if let Some(e) = sink.spill_error.take() {
        notices.push(Notice::note(
            label,
            None,
            format!("could not spill records to disk, kept them in memory: {e}"),
        ));
    }
    FileOutput {
        records: std::mem::take(&mut sink.records),
        counters,
        notices,
        runs: std::mem::take(&mut sink.runs),
    }
}

/// Ports where a plain-TCP DCE-RPC server is expected (for orienting mid-stream connections).
fn dce_server_port(port: u16) -> bool {
    matches!(port, 135 | 139 | 445 | 593)
}

/// What a connection was found to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dce,
    Smb,
}

enum AppState {
    Detect,
    /// DCE-RPC straight over TCP.
    Dce(Box<DceStream>),
    /// SMB carrying named pipes.
    Smb(Box<SmbState>),
    Ignored,
}

/// One DCE-RPC byte stream pair (a TCP connection or a named pipe), accurate or Zeek's way.
struct DceStream {
    framers: [Framer; 2],
    mode: Mode,
    /// Identities from the association's auth tokens (accurate mode).
    who: args::who::WhoLog,
}

enum Mode {
    Accurate(Box<Association>),
    /// Zeek's analyzer instance; the script state lives per connection (`ZeekConn`).
    Zeek(Box<zeek::Analyzer>),
}

impl DceStream {
    fn new(zeek_compat: bool, midstream: bool, limits: dcerpc::Limits) -> Self {
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
        let mode = if zeek_compat {
            Mode::Zeek(Box::new(zeek::Analyzer::new()))
        } else {
            Mode::Accurate(Box::new(Association::new(limits)))
        };
        DceStream {
            framers,
            mode,
            who: args::who::WhoLog::default(),
        }
    }

    /// Feed one direction's bytes. `script`/`fid` are used in Zeek mode only.
    fn feed(
        &mut self,
        dir: usize,
        ts: capture::Timestamp,
        data: &[u8],
        sink: &mut Sink,
        script: Option<&mut zeek::ConnScript>,
        fid: u64,
    ) {
        let Sink {
            counters, framing, ..
        } = sink;
        match &mut self.mode {
            Mode::Accurate(assoc) => {
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
            Mode::Zeek(an) => {
                let Some(script) = script else { return };
                let now = ts.zeek_time();
                self.framers[dir].feed(data, framing, &mut |raw| {
                    an.on_pdu(script, fid, dir, now, raw)
                });
            }
        }
    }

    fn gap(&mut self, dir: usize) {
        self.framers[dir].gap();
        if let Mode::Zeek(an) = &mut self.mode {
            an.set_skip();
        }
    }

    /// Accurate calls of this stream with their decoded arguments (empty in Zeek mode).
    fn finish(mut self, counters: &mut Counters) -> Vec<(Call, args::Annotation)> {
        for f in &mut self.framers {
            f.finish(counters);
        }
        match self.mode {
            Mode::Accurate(mut a) => {
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
            Mode::Zeek(_) => Vec::new(),
        }
    }
}

/// A named pipe seen on an SMB connection (accurate mode).
struct Pipe {
    name: SmolStr,
    context: smb::PipeContext,
    stream: DceStream,
}

/// What a record says about the transport a call came over.
#[derive(Debug, Clone, Default)]
struct Via {
    /// "tcp", "smb1", "smb2" or "smb3".
    transport: &'static str,
    /// SMB pipe name from the create.
    pipe: Option<SmolStr>,
    context: smb::PipeContext,
}

/// SMB connection state: the SMB parser and one DCE-RPC stream per pipe.
struct SmbState {
    conn: smb::SmbConn,
    /// Accurate mode: pipes by key, in creation order for determinism.
    pipes: Vec<(smb::PipeKey, Pipe)>,
    /// Zeek mode: one analyzer per Zeek fid.
    zeek_fids: Vec<(u64, DceStream)>,
    /// Calls of pipes already closed.
    done: Vec<(
        (Call, args::Annotation),
        smb::PipeKey,
        SmolStr,
        smb::PipeContext,
    )>,
}

/// Open pipes tracked per SMB connection (the SMB layer bounds its own tables too).
const MAX_PIPES: usize = 4096;

/// Data held while deciding what a connection carries (bounded).
const DETECT_BUDGET: usize = 4096;

struct TcpApp {
    sink: Rc<RefCell<Sink>>,
    state: AppState,
    zeek_compat: bool,
    zeek_ignore: bool,
    limits: dcerpc::Limits,
    /// Per direction: first chunk seen.
    first_seen: [bool; 2],
    held: Vec<(usize, capture::Timestamp, Vec<u8>)>,
    held_bytes: usize,
    /// Zeek script state for the whole connection (Zeek mode).
    script: Option<zeek::ConnScript>,
}

impl TcpApp {
    fn new(sink: Rc<RefCell<Sink>>, opts: &Options) -> Self {
        TcpApp {
            sink,
            state: AppState::Detect,
            zeek_compat: opts.zeek_compat,
            zeek_ignore: opts.zeek_ignore,
            limits: dcerpc::Limits {
                // Only the stubs an argument decoder reads are kept in memory.
                keep_stub: opts.dce.keep_stub.or(Some(args::has_decoder)),
                ..opts.dce
            },
            first_seen: [false; 2],
            held: Vec::new(),
            held_bytes: 0,
            script: None,
        }
    }

    /// Decide from the first bytes of a direction what this connection carries:
    /// `Some(Some(kind))` attach, `Some(None)` not interesting, `None` not known yet.
    fn detect(&mut self, meta: &ConnMeta, dir: usize, data: &[u8]) -> Option<Option<Kind>> {
        let first = !self.first_seen[dir];
        self.first_seen[dir] = true;
        if self.zeek_compat {
            // Zeek: well-known responder ports, or a DPD signature at the start of a direction.
            if matches!(meta.resp.1, 139 | 445) || (first && smb::zeek_smb_signature(data)) {
                return Some(Some(Kind::Smb));
            }
            if meta.resp.1 == 135 || (first && dcerpc::pdu::zeek_signature(data)) {
                return Some(Some(Kind::Dce));
            }
        } else {
            if first && smb::looks_like_smb(data) {
                return Some(Some(Kind::Smb));
            }
            if meta.resp.1 == 135 || meta.orig.1 == 135 {
                return Some(Some(Kind::Dce));
            }
            if first && dcerpc::pdu::plausible_header(data).is_some() {
                return Some(Some(Kind::Dce));
            }
            if !meta.syn_seen && first && confirm_midstream(data) {
                return Some(Some(Kind::Dce));
            }
        }
        if (self.first_seen[0] && self.first_seen[1]) || self.held_bytes > DETECT_BUDGET {
            return Some(None);
        }
        None
    }

    fn attach(&mut self, meta: &ConnMeta, kind: Kind) {
        if self.zeek_compat {
            self.script = Some(zeek::ConnScript::new(true));
        }
        let mut sink = self.sink.borrow_mut();
        self.state = match kind {
            Kind::Dce => {
                sink.counters.dcerpc_connections += 1;
                AppState::Dce(Box::new(DceStream::new(
                    self.zeek_compat,
                    !meta.syn_seen,
                    self.limits,
                )))
            }
            Kind::Smb => AppState::Smb(Box::new(SmbState {
                conn: if self.zeek_compat {
                    smb::SmbConn::new()
                } else {
                    smb::SmbConn::accurate()
                },
                pipes: Vec::new(),
                zeek_fids: Vec::new(),
                done: Vec::new(),
            })),
        };
    }

    fn feed(&mut self, dir: usize, ts: capture::Timestamp, data: &[u8]) {
        let mut sink = self.sink.borrow_mut();
        let sink = &mut *sink;
        match &mut self.state {
            AppState::Dce(d) => d.feed(dir, ts, data, sink, self.script.as_mut(), 0),
            AppState::Smb(st) => {
                let SmbState {
                    conn,
                    pipes,
                    zeek_fids,
                    done,
                } = &mut **st;
                let zeek_compat = self.zeek_compat;
                let limits = self.limits;
                let mut script = self.script.as_mut();
                let Sink { smb_counters, .. } = sink;
                let mut smb_c = std::mem::take(smb_counters);
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
            _ => {}
        }
    }

    fn gap(&mut self, dir: usize, len: u64) {
        match &mut self.state {
            AppState::Dce(d) => d.gap(dir),
            AppState::Smb(st) => {
                let mut sink = self.sink.borrow_mut();
                // A gap inside a skipped file transfer costs no pipe byte.
                if st.conn.gap_len(dir, len, &mut sink.smb_counters) {
                    return;
                }
                // The lost bytes may have belonged to any pipe: every pipe resynchronises.
                for (_, p) in st.pipes.iter_mut() {
                    p.stream.framers[dir].gap();
                }
            }
            _ => {}
        }
    }
}

/// For a connection picked up mid-stream: a header inside the first chunk whose PDU
/// ends exactly at the chunk end or at another plausible header.
fn confirm_midstream(data: &[u8]) -> bool {
    // SMB carries DCE-RPC inside its messages; it is not DCE-RPC over TCP.
    if data.len() >= 8 && matches!(&data[4..8], b"\xffSMB" | b"\xfeSMB" | b"\xfdSMB") {
        return false;
    }
    let mut off = 0;
    while off < data.len() {
        let Some(i) = dcerpc::stream::find_header(&data[off..]) else {
            return false;
        };
        let at = off + i;
        if let Some(h) = dcerpc::pdu::plausible_header(&data[at..]) {
            let end = at + h.frag_len as usize;
            if end == data.len()
                || (end < data.len() && dcerpc::pdu::plausible_header(&data[end..]).is_some())
            {
                return true;
            }
        }
        off = at + 1;
    }
    false
}

impl FlowApp for TcpApp {
    fn event(&mut self, meta: &ConnMeta, ev: FlowEvent<'_>) -> bool {
        match ev {
            FlowEvent::Data { dir, ts, data } => {
                if let AppState::Detect = self.state {
                    match self.detect(meta, dir, data) {
                        Some(Some(kind)) => {
                            self.attach(meta, kind);
                            for (d, t, bytes) in std::mem::take(&mut self.held) {
                                self.feed(d, t, &bytes);
                            }
                            self.held_bytes = 0;
                        }
                        Some(None) => {
                            self.state = AppState::Ignored;
                            self.held.clear();
                            return false;
                        }
                        None => {
                            self.held_bytes += data.len();
                            self.held.push((dir, ts, data.to_vec()));
                            return true;
                        }
                    }
                }
                match self.state {
                    AppState::Dce(_) | AppState::Smb(_) => {
                        self.feed(dir, ts, data);
                        true
                    }
                    AppState::Ignored => false,
                    AppState::Detect => true,
                }
            }
            FlowEvent::Gap { dir, len, .. } => {
                self.gap(dir, len);
                true
            }
            FlowEvent::Close { ts } => {
                self.close(meta, ts);
                false
            }
        }
    }
}

impl TcpApp {
    fn close(&mut self, meta: &ConnMeta, ts: capture::Timestamp) {
        let state = std::mem::replace(&mut self.state, AppState::Ignored);
        let mut sink = self.sink.borrow_mut();
        let uid = SmolStr::from(make_uid(&sink.label, meta));
        let file_index = sink.file_index;
        let label = sink.label.clone();
        let mut calls: Vec<((Call, args::Annotation), Via)> = Vec::new();
        match state {
            AppState::Dce(d) => {
                for c in d.finish(&mut sink.counters) {
                    let via = Via {
                        transport: "tcp",
                        ..Via::default()
                    };
                    calls.push((c, via));
                }
            }
            AppState::Smb(st) => {
                let SmbState {
                    pipes, done, conn, ..
                } = *st;
                let mut all = done;
                for (key, p) in pipes {
                    for c in p.stream.finish(&mut sink.counters) {
                        all.push((c, key, p.name.clone(), p.context.clone()));
                    }
                }
                let smb2 = if conn.is_smb3() { "smb3" } else { "smb2" };
                for (c, key, name, context) in all {
                    let transport = if key.smb2 { smb2 } else { "smb1" };
                    let via = Via {
                        transport,
                        pipe: Some(name),
                        context,
                    };
                    calls.push((c, via));
                }
            }
            _ => {}
        }
        calls.sort_by_key(|((c, _), _)| (c.ts, c.call_id));
        let mut texts = RecordTexts::default();
        for (n, (c, via)) in calls.iter().enumerate() {
            if self.zeek_ignore && is_ignored_call(&c.0) {
                continue;
            }
            let at = (file_index, n as u64);
            let r = accurate_record(c, meta, &uid, &label, at, via, &mut texts);
            sink.push(r);
        }
        if let Some(mut script) = self.script.take() {
            script.remove(ts.zeek_time());
            for (n, l) in script.lines.iter().enumerate() {
                sink.push(Record {
                    ts: l.ts,
                    uid: uid.clone(),
                    orig_h: meta.orig.0,
                    orig_p: meta.orig.1,
                    resp_h: meta.resp.0,
                    resp_p: meta.resp.1,
                    rtt: l.rtt,
                    named_pipe: l.named_pipe.clone(),
                    endpoint: l.endpoint.clone(),
                    operation: l.operation.clone(),
                    extra: None,
                    order: (l.written_at, file_index, meta.seq, n as u64),
                });
            }
        }
        sink.maybe_spill();
    }
}

impl Sink {
    /// A finished record: rendered into the batch when spilling is on, else kept (when the
    /// run's filter accepts it).
    fn push(&mut self, r: Record) {
        if let Some(keep) = &self.keep
            && !(keep.0)(&r)
        {
            self.counters.records_filtered += 1;
            return;
        }
        match &mut self.spill {
            Some((_, b)) => {
                if let Err(e) = b.push(&r) {
                    self.spill_error.get_or_insert(e.to_string());
                    self.records.push(r);
                }
            }
            None => self.records.push(r),
        }
    }

    /// Past the configured count, write the batch out as one sorted run. A failure is
    /// reported once and the records stay in memory (correct output, unbounded memory).
    fn maybe_spill(&mut self) {
        if let Some((cfg, b)) = &self.spill
            && b.len() >= cfg.max_records.max(1)
        {
            self.flush_batch(true);
        }
    }

    /// The batch as a sorted run: on disk (`to_disk`, unless an earlier write failed) or
    /// in memory.
    fn flush_batch(&mut self, to_disk: bool) {
        let Some((cfg, b)) = self.spill.as_mut().filter(|(_, b)| !b.is_empty()) else {
            return;
        };
        let disk = (to_disk && self.spill_error.is_none()).then_some(&*cfg);
        match b.flush(disk) {
            Ok(run) => self.runs.push(run),
            Err(e) => {
                self.spill_error = Some(e.to_string());
                // Keep the lines: an in-memory run cannot fail to be written.
                if let Ok(run) = b.flush(None) {
                    self.runs.push(run);
                }
            }
        }
    }
}

fn is_ignored_call(c: &Call) -> bool {
    match c.uuid {
        Some(u) => names::is_ignored(
            &names::endpoint_or_unknown(&u),
            &names::operation_or_unknown(&u, c.opnum),
        ),
        None => false,
    }
}

/// Text shared by a connection's records, built once: a connection's calls mostly use one
/// interface, so its UUID is formatted once rather than per call.
#[derive(Default)]
struct RecordTexts {
    uuid: Option<(names::Uuid, SmolStr)>,
}

impl RecordTexts {
    fn uuid(&mut self, u: names::Uuid) -> SmolStr {
        match &self.uuid {
            Some((k, t)) if *k == u => t.clone(),
            _ => {
                let t = SmolStr::from(u.to_string());
                self.uuid = Some((u, t.clone()));
                t
            }
        }
    }
}

fn accurate_record(
    (c, ann): &(Call, args::Annotation),
    meta: &ConnMeta,
    uid: &SmolStr,
    label: &SmolStr,
    (file_index, n): (u64, u64),
    via: &Via,
    texts: &mut RecordTexts,
) -> Record {
    let pipe = via.pipe.as_ref();
    let user = via.context.user.as_ref();
    let who = args::who::resolve(ann.dce_auth.as_ref(), user, via.context.kerberos);
    let (orig, resp) = if c.client_dir == 0 {
        (meta.orig, meta.resp)
    } else {
        (meta.resp, meta.orig)
    };
    let ts = c.ts.zeek_time();
    let rtt = c.resp_ts.map(|r| r.zeek_time() - ts);
    let (status, fault_code) = match c.status {
        CallStatus::Ok => ("ok", None),
        CallStatus::Fault(code) => ("fault", Some(format!("0x{code:08x}"))),
        CallStatus::NoResponse => ("no_response", None),
    };
    Record {
        ts,
        uid: uid.clone(),
        orig_h: orig.0,
        orig_p: orig.1,
        resp_h: resp.0,
        resp_p: resp.1,
        rtt,
        // Zeek's rule (the bind_ack's secondary address), falling back to the SMB pipe name.
        named_pipe: c
            .sec_addr
            .clone()
            .or_else(|| pipe.filter(|p| !p.is_empty()).cloned()),
        endpoint: c.uuid.map(|u| names::text(names::endpoint_or_unknown(&u))),
        operation: c
            .uuid
            .map(|u| names::text(names::operation_or_unknown(&u, c.opnum))),
        extra: Some(Box::new(Extra {
            uuid: c.uuid.map(|u| texts.uuid(u)),
            opnum: c.opnum,
            operation_spec: c.uuid.and_then(|u| names::operation_spec(&u, c.opnum)),
            if_version: c
                .if_version
                .map(|(a, b)| smol_str::format_smolstr!("{a}.{b}")),
            transport: via.transport,
            smb_pipe: pipe.cloned(),
            tree: via.context.tree.clone(),
            smb_user: user.map(|u| u.user.clone()),
            smb_domain: user.map(|u| u.domain.clone()),
            smb_workstation: user
                .map(|u| u.workstation.clone())
                .filter(|w| !w.is_empty()),
            sec_addr: c.sec_addr.clone(),
            auth_type: c.auth_type.map(|v| names::text(names::auth_type_name(v))),
            auth_level: c.auth_level.map(|v| names::text(names::auth_level_name(v))),
            status,
            fault_code,
            call_id: c.call_id,
            ctx_id: c.ctx_id,
            object_uuid: c.object.map(|u| u.to_string()),
            encrypted: c.encrypted,
            big_endian: c.big_endian,
            request_fragments: c.req_frags,
            request_stub_len: c.req_stub_len,
            response_stub_len: c.resp_stub_len,
            partial: c.partial,
            ts_response: c.resp_ts.map(|t| t.zeek_time()),
            capture: label.clone(),
            user: who.user,
            domain: who.domain,
            workstation: who.workstation,
            auth: who.auth,
            auth_source: who.source,
            what_ran: ann.args.as_deref().and_then(args::what_ran),
            args: ann.args.as_deref().cloned(),
            args_status: ann.status.as_str(),
        })),
        order: (ts, file_index, meta.seq, n),
    }
}

/// Deterministic Zeek-shaped uid: `C` + 17 base62 digits of a 128-bit FNV-1a hash of the
/// file and the connection's identity.
pub fn make_uid(label: &str, meta: &ConnMeta) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    let prime: u128 = 0x0000000001000000000000000000013B;
    let mut eat = |b: &[u8]| {
        for x in b {
            h ^= *x as u128;
            h = h.wrapping_mul(prime);
        }
    };
    eat(label.as_bytes());
    for (ip, port) in [meta.orig, meta.resp] {
        match ip {
            IpAddr::V4(a) => eat(&a.octets()),
            IpAddr::V6(a) => eat(&a.octets()),
        }
        eat(&port.to_be_bytes());
    }
    eat(&meta.first_ts.secs.to_be_bytes());
    eat(&meta.first_ts.nanos.to_be_bytes());
    eat(&meta.seq.to_be_bytes());
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::with_capacity(18);
    s.push('C');
    for _ in 0..17 {
        s.push(DIGITS[(h % 62) as usize] as char);
        h /= 62;
    }
    s
}

#[cfg(test)]
mod sort_tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(key: (u8, u8), tag: usize) -> Record {
        Record {
            ts: 0.0,
            uid: tag.to_string().into(),
            orig_h: IpAddr::from([10, 0, 0, 1]),
            orig_p: 1,
            resp_h: IpAddr::from([10, 0, 0, 2]),
            resp_p: 2,
            rtt: None,
            named_pipe: None,
            endpoint: None,
            operation: None,
            extra: None,
            order: (key.0 as f64, 0, key.1 as u64, 0),
        }
    }

    proptest! {
        /// The permutation sort equals a plain stable sort, ties in input order.
        #[test]
        fn sort_records_is_a_stable_sort(keys in prop::collection::vec((0u8..5, 0u8..3), 0..200)) {
            let mut got: Vec<Record> = keys.iter().enumerate().map(|(i, k)| rec(*k, i)).collect();
            let mut want = got.clone();
            want.sort_by(|a, b| a.order.0.total_cmp(&b.order.0).then(a.order.2.cmp(&b.order.2)));
            sort_records(&mut got);
            let tags = |v: &[Record]| v.iter().map(|r| r.uid.clone()).collect::<Vec<_>>();
            prop_assert_eq!(tags(&got), tags(&want));
        }
    }
}
