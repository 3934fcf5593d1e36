//! One call from captures to an Arrow table, for programs that embed rpcsift (the Python
//! package in `python/`): the same engine run, detector and Arrow schema
//! ([`crate::output::arrow`]) as `rpcsift calls` / `rpcsift detect --format parquet`, with
//! the CLI's error messages.
//!
//! For engines that spread a capture over machines (Spark): [`packets`] gives a
//! capture's frames with their connection partition as Arrow batches ([`packets`] module),
//! and [`decode`] / [`detect_packets`] turn the packets of some connections back into the
//! same tables, through the engine's packet-stream seam ([`engine::MemoryPackets`],
//! [`engine::analyze_source`]): the records are the ones the whole run gives for those
//! connections, uids included.

pub mod packets;

use crate::capture::{self, CaptureError, Frame};
use crate::detect::{Detector, Hit, LoadError, Settings};
use crate::engine::source::{CaptureFile, CaptureReader, FRAME_BITS, label_of, merged_ordinal};
use crate::engine::{self, MemoryPackets, Options, Packet, PacketSource, RecordFilter};
use crate::output::{Record, arrow as tables};
use crate::stats::{Counters, Notice};
use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What to read.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Capture files and directories (searched as the CLI does).
    Paths(&'a [PathBuf]),
    /// One capture held in memory (gzip or not); `name` stands for its file name in the
    /// records' `capture` field (and so in their `uid`s).
    Bytes { data: &'a [u8], name: &'a str },
}

/// Errors, worded as `rpcsift` words them (their `source()` chain included).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("listing captures")]
    Listing(#[source] CaptureError),
    #[error("no capture files found in the given paths")]
    NoCaptures,
    #[error(transparent)]
    Detector(#[from] LoadError),
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// A packets table that cannot be decoded (a column missing, of the wrong type, null;
    /// packets of two captures mixed), or [`packets`] options out of range.
    #[error("packets: {0}")]
    Packets(String),
    /// A key file that cannot be read or parsed (`FILE:LINE: what`, never a key).
    #[error(transparent)]
    Keys(#[from] crate::auth::keys::KeyError),
}

/// The key ring of key files (`--keys FILE` each), for [`Options::keys`]; None when they
/// hold no key.
pub fn key_ring(files: &[PathBuf]) -> Result<Option<Arc<crate::auth::keys::KeyRing>>, ApiError> {
    let mut ring = crate::auth::keys::KeyRing::new();
    for f in files {
        ring.load_file(f)?;
    }
    Ok((!ring.is_empty()).then(|| Arc::new(ring)))
}

/// A table and what the run has to say about it.
#[derive(Debug)]
pub struct Table {
    pub batch: RecordBatch,
    /// The run's counters (what was read, what could not be decoded and why).
    pub counters: Counters,
    /// Notices about the input, in the CLI's `note:` wording ([`note_line`]).
    pub notices: Vec<String>,
    /// The run's evidence of domain controllers ([`crate::detect::dc_evidence`]: servers
    /// of drsuapi and netlogon calls, from every call decoded; and hosts answering
    /// Kerberos on port 88). None in Zeek's mode, whose records do not carry the
    /// interface. A distributed engine unites it over
    /// its tasks and judges every task's hits with the union
    /// ([`Settings::evidence`]), as one run would.
    pub dc_evidence: BTreeSet<IpAddr>,
}

/// `file at offset N: message` or `file: message`, as `rpcsift` prints after `note: `.
pub fn note_line(n: &Notice) -> String {
    let prefix = if n.error {
        "rpcsift: error: "
    } else {
        "note: "
    };
    match n.offset {
        Some(o) => format!("{prefix}{} at offset {o}: {}", n.file, n.message),
        None => format!("{prefix}{}: {}", n.file, n.message),
    }
}

/// What a table is made from: captures, or packets already read (and partitioned).
enum Input<'a> {
    Source(Source<'a>),
    /// Packets in ordinal order, and the capture's name (the records' `capture`, and so
    /// their uids).
    Packets(Vec<Packet>, &'a str),
}

/// The run's records, sorted, from any kind of input.
fn run_input(input: Input<'_>, opts: &Options) -> Result<engine::RunOutput, ApiError> {
    let source = match input {
        Input::Source(s) => s,
        Input::Packets(packets, label) => {
            let workers = if opts.workers > 0 {
                opts.workers
            } else {
                rayon::current_num_threads()
            };
            let mut source = MemoryPackets { packets };
            let out = engine::analyze_source(&mut source, label, 0, opts, workers.min(64));
            return Ok(sorted(out));
        }
    };
    match source {
        Source::Paths(paths) => {
            let files = capture::collect_capture_paths(paths).map_err(ApiError::Listing)?;
            if files.is_empty() {
                return Err(ApiError::NoCaptures);
            }
            Ok(engine::run(&files, opts))
        }
        Source::Bytes { data, name } => Ok(sorted(engine::analyze_reader(
            name,
            capture::open_bytes(data),
            0,
            opts,
        ))),
    }
}

/// One input's output as a run, its records sorted.
fn sorted(out: engine::FileOutput) -> engine::RunOutput {
    let mut run = engine::RunOutput {
        records: out.records,
        counters: out.counters,
        notices: out.notices,
        runs: out.runs,
        kdcs: out.kdcs,
    };
    engine::sort_records(&mut run.records);
    run
}

fn table(batch: RecordBatch, run: &engine::RunOutput, dc_evidence: BTreeSet<IpAddr>) -> Table {
    Table {
        batch,
        counters: run.counters.clone(),
        notices: run.notices.iter().map(note_line).collect(),
        dc_evidence,
    }
}

/// Every call, as `rpcsift calls --format json` would write it, as one `calls` batch.
/// `opts.zeek_compat` selects Zeek's columns; `opts.spill` must be unset (the table is
/// built in memory).
pub fn calls(source: Source<'_>, opts: &Options) -> Result<Table, ApiError> {
    calls_of(Input::Source(source), opts)
}

/// The calls of `packets` (all packets of some connections, any order: they are sorted
/// by ordinal, see [`packets::packets_of_batches`]), as [`calls`] gives them for the
/// whole capture named `label`: same rows for those connections, uids included.
pub fn decode(mut packets: Vec<Packet>, label: &str, opts: &Options) -> Result<Table, ApiError> {
    packets.sort_by_key(|p| p.ordinal);
    calls_of(Input::Packets(packets, label), opts)
}

/// The hits of `detector` on the calls of `packets` (as [`decode`]), as [`detect`] gives
/// them for the whole capture named `label` (when the packets are a part of it, give
/// `settings` the DC evidence of the whole: [`Table::dc_evidence`] of every part).
pub fn detect_packets(
    mut packets: Vec<Packet>,
    label: &str,
    detector: Arc<Detector>,
    settings: &Settings,
    opts: &Options,
) -> Result<Table, ApiError> {
    packets.sort_by_key(|p| p.ordinal);
    detect_of(Input::Packets(packets, label), detector, settings, opts)
}

fn calls_of(input: Input<'_>, opts: &Options) -> Result<Table, ApiError> {
    let mut opts = opts.clone();
    opts.spill = None;
    let run = run_input(input, &opts)?;
    let batch = tables::calls_batch(&run.records, opts.zeek_compat)?;
    let mut evidence = crate::detect::infer_dcs(&run.records);
    if !opts.zeek_compat {
        evidence.extend(run.kdcs.iter().copied());
    }
    Ok(table(batch, &run, evidence))
}

/// The hits of `detector` on every call, as `rpcsift detect --format json` would write
/// them (judged with `settings`: level, known DCs), as one `hits` batch. Only the calls
/// some row or rule names are kept in memory, as in the CLI ([`DetectRun`]).
pub fn detect(
    source: Source<'_>,
    detector: Arc<Detector>,
    settings: &Settings,
    opts: &Options,
) -> Result<Table, ApiError> {
    detect_of(Input::Source(source), detector, settings, opts)
}

fn detect_of(
    input: Input<'_>,
    detector: Arc<Detector>,
    settings: &Settings,
    opts: &Options,
) -> Result<Table, ApiError> {
    let detect = DetectRun::new(detector);
    let opts = Options {
        spill: None,
        ..detect.options(opts)
    };
    let run = run_input(input, &opts)?;
    detect.add_evidence(&run.kdcs);
    let hits = detect.hits(&run.records, settings);
    let batch = tables::hits_batch(&hits)?;
    Ok(table(batch, &run, detect.evidence()))
}

/// How a detect run keeps calls and learns the domain controllers, for `rpcsift detect`
/// and [`detect`] alike: only the calls some indicator row or Sigma rule names are kept
/// (judged at the end, when the DCs are known: memory follows the hits, not the capture),
/// and the DC evidence ([`crate::detect::dc_evidence`]) is collected from every call on
/// the way.
pub struct DetectRun {
    detector: Arc<Detector>,
    evidence: Arc<Mutex<BTreeSet<IpAddr>>>,
}

impl DetectRun {
    pub fn new(detector: Arc<Detector>) -> Self {
        DetectRun {
            detector,
            evidence: Arc::default(),
        }
    }

    /// `base` with the record filter of a detect run (and accurate records: the
    /// detector reads the interface and arguments Zeek's mode does not keep).
    pub fn options(&self, base: &Options) -> Options {
        let filter = Arc::clone(&self.detector);
        let seen = Arc::clone(&self.evidence);
        Options {
            zeek_compat: false,
            keep: Some(RecordFilter(Arc::new(move |r: &Record| {
                if let Some(dc) = crate::detect::dc_evidence(r)
                    && let Ok(mut s) = seen.lock()
                {
                    s.insert(dc);
                }
                filter.could_hit(r)
            }))),
            ..base.clone()
        }
    }

    /// Add DC evidence the records do not carry: the hosts the run saw answering Kerberos
    /// (`RunOutput::kdcs`). Call it when the run is done, before [`DetectRun::hits`].
    pub fn add_evidence(&self, kdcs: &BTreeSet<IpAddr>) {
        if let Ok(mut s) = self.evidence.lock() {
            s.extend(kdcs.iter().copied());
        }
    }

    /// The DC evidence collected so far.
    pub fn evidence(&self) -> BTreeSet<IpAddr> {
        self.evidence.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The hits on the records the run kept, judged with `settings`; when it names no
    /// DCs and brings no evidence, with the evidence of every call of the run.
    pub fn hits(&self, records: &[Record], settings: &Settings) -> Vec<Hit> {
        let mut settings = settings.clone();
        if settings.dcs.is_none() && settings.evidence.is_none() {
            settings.evidence = Some(self.evidence());
        }
        self.detector.run_with(records, &settings)
    }
}

/// How [`packets`] numbers and partitions frames.
#[derive(Debug, Clone, Copy)]
pub struct PacketsOptions {
    /// Number of connection partitions (`1..=i32::MAX`): a frame's `partition` is
    /// [`engine::frame_partition`] modulo this.
    pub partitions: u32,
    /// The files are rotated parts of one capture (the command line's `--merge`): the
    /// `n`th file in path order has rank `rank + n`.
    pub merge: bool,
    /// Rank of the (first) file: a frame's ordinal is
    /// [`merged_ordinal`]`(rank, frame number)`; 0 gives plain frame numbers. For one part
    /// of a rotated capture read alone (a distributed engine reads one file per task).
    pub rank: u64,
}

impl Default for PacketsOptions {
    fn default() -> Self {
        PacketsOptions {
            partitions: 1,
            merge: false,
            rank: 0,
        }
    }
}

/// A packets table ([`packets::packets_schema`]) and what reading the captures had to say.
#[derive(Debug)]
pub struct PacketsTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// What was read (files, packets, bytes, frames cut by snaplen, files unreadable).
    pub counters: Counters,
    /// Notices about the input, as [`note_line`] renders them.
    pub notices: Vec<String>,
    /// Frames that carry no IP packet (ARP, spanning tree, unsupported link types, frames
    /// too short): left out of the table, as no decoder wants them; counted here.
    pub without_ip: u64,
}

/// Every frame of `source` that carries an IP packet, with its connection partition and
/// ordinal (see [`PacketsOptions`]), as a packets table ([`packets`] module).
pub fn packets(source: Source<'_>, o: &PacketsOptions) -> Result<PacketsTable, ApiError> {
    let partitions = o.partitions;
    if partitions == 0 || i32::try_from(partitions).is_err() {
        return Err(ApiError::Packets(format!(
            "partitions must be between 1 and {}, not {partitions}",
            i32::MAX
        )));
    }
    let mut inputs: Vec<(Box<dyn PacketSource + '_>, String)> = match source {
        Source::Paths(paths) => {
            let files = capture::collect_capture_paths(paths).map_err(ApiError::Listing)?;
            if files.is_empty() {
                return Err(ApiError::NoCaptures);
            }
            files
                .into_iter()
                .map(|path| {
                    let label = label_of(&path);
                    let file: Box<dyn PacketSource> = Box::new(CaptureFile {
                        path,
                        progress: None,
                    });
                    (file, label)
                })
                .collect()
        }
        Source::Bytes { data, name } => vec![(
            Box::new(CaptureReader {
                label: name.to_string(),
                input: Some(capture::open_bytes(data)),
            }),
            name.to_string(),
        )],
    };
    let last_rank = if o.merge {
        o.rank.checked_add(inputs.len() as u64 - 1)
    } else {
        Some(o.rank)
    };
    let max_rank = (1u64 << (64 - FRAME_BITS)) - 1;
    if last_rank.is_none_or(|r| r > max_rank) {
        return Err(ApiError::Packets(format!(
            "file ranks must stay below {}: rank {} with {} file(s)",
            max_rank + 1,
            o.rank,
            inputs.len()
        )));
    }
    let mut builder = packets::PacketsBuilder::default();
    let mut counters = Counters::default();
    let mut notices = Vec::new();
    let mut without_ip = 0u64;
    let mut failed: Option<ArrowError> = None;
    for (n, (input, label)) in inputs.iter_mut().enumerate() {
        let rank = if o.merge { o.rank + n as u64 } else { o.rank };
        input.frames(&mut counters, &mut notices, &mut |f: &Frame<'_>| {
            if failed.is_some() {
                return;
            }
            let Some(part) = engine::frame_partition(f.linktype, f.data, partitions) else {
                without_ip += 1;
                return;
            };
            // `partitions` fits in i32 (checked above), so does `part`.
            let part = i32::try_from(part).unwrap_or(i32::MAX);
            if let Err(e) = builder.push(part, f, merged_ordinal(rank as usize, f.index), label) {
                failed = Some(e);
            }
        });
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    let (schema, batches) = builder.finish()?;
    Ok(PacketsTable {
        schema,
        batches,
        counters,
        notices: notices.iter().map(note_line).collect(),
        without_ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::indicators::IndicatorSet;

    fn capture(rel: &str) -> PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }

    /// Bytes and a path give the same table when the bytes are named like the path.
    #[test]
    fn bytes_equal_path() {
        let p = capture("captures/atsvc_schtask.pcap");
        let data = std::fs::read(&p).expect("capture");
        let name = p.display().to_string();
        let opts = Options::default();
        let a = calls(Source::Paths(std::slice::from_ref(&p)), &opts).expect("path");
        let b = calls(
            Source::Bytes {
                data: &data,
                name: &name,
            },
            &opts,
        )
        .expect("bytes");
        assert_eq!(a.batch.num_rows(), 3);
        assert_eq!(a.batch, b.batch);
        assert_eq!(a.counters.files, 1);
        // Gzip in memory too.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let c = calls(
            Source::Bytes {
                data: &gz,
                name: &name,
            },
            &opts,
        )
        .expect("gz");
        assert_eq!(a.batch, c.batch);
        // Zeek's columns only.
        let z = Options {
            zeek_compat: true,
            zeek_ignore: true,
            ..Options::default()
        };
        let z = calls(Source::Paths(std::slice::from_ref(&p)), &z).expect("zeek");
        assert_eq!(z.batch.num_columns(), 10);
    }

    #[test]
    fn detect_hits() {
        let p = [capture("captures/atsvc_schtask.pcap")];
        let det = Arc::new(Detector {
            set: Some(IndicatorSet::All),
            rules: vec![],
        });
        let t = detect(
            Source::Paths(&p),
            det,
            &Settings::default(),
            &Options::default(),
        )
        .expect("detect");
        // NetrJobAdd, SchRpcRegisterTask and SchRpcRun, each in the five sets that cover
        // them (the three execution sets, BZAR's latest rows and the attack set).
        let text = |name: &str| -> Vec<String> {
            let c = t.batch.column_by_name(name).expect(name);
            let c = arrow_array::cast::AsArray::as_string::<i32>(c.as_ref());
            c.iter().map(|v| v.unwrap_or("-").to_string()).collect()
        };
        assert_eq!(
            text("matched_by"),
            ["improved", "bzar-2020", "bzar-2019", "bzar", "attack"].repeat(3)
        );
        let ops: Vec<&str> = ["NetrJobAdd", "SchRpcRegisterTask", "SchRpcRun"]
            .iter()
            .flat_map(|o| [*o; 5])
            .collect();
        assert_eq!(text("operation"), ops);
        assert_eq!(t.counters.files, 1);
    }

    #[test]
    fn errors_read_as_the_cli_writes_them() {
        let chain = |e: &dyn std::error::Error| {
            let mut s = e.to_string();
            let mut cur = e.source();
            while let Some(c) = cur {
                s.push_str(": ");
                s.push_str(&c.to_string());
                cur = c.source();
            }
            s
        };
        let missing = [PathBuf::from("/nonexistent/rpcsift")];
        let e = calls(Source::Paths(&missing), &Options::default()).expect_err("missing");
        assert!(
            chain(&e).starts_with("listing captures: /nonexistent/rpcsift: "),
            "{}",
            chain(&e)
        );
        let empty = std::env::temp_dir().join(format!("rpcsift-api-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("dir");
        let e = calls(
            Source::Paths(std::slice::from_ref(&empty)),
            &Options::default(),
        )
        .expect_err("empty");
        let _ = std::fs::remove_dir(&empty);
        assert_eq!(e.to_string(), "no capture files found in the given paths");
        // Not a capture: a table without rows, the failure counted and noted.
        let t = calls(
            Source::Bytes {
                data: b"{\"ts\":1}",
                name: "x.json",
            },
            &Options::default(),
        )
        .expect("run");
        assert_eq!(t.batch.num_rows(), 0);
        assert_eq!(t.counters.files_failed, 1);
        assert_eq!(
            t.notices,
            [
                "rpcsift: error: x.json at offset 0: not a PCAP or PCAPNG capture: unknown magic 7b227473"
            ]
        );
    }

    /// A classic pcap (microseconds, Ethernet) of the given frames, one per second.
    fn pcap(frames: &[&[u8]]) -> Vec<u8> {
        let mut v = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        for x in [0u32, 0, 65535, 1] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        for (i, f) in frames.iter().enumerate() {
            for x in [1_700_000_000 + i as u32, 7, f.len() as u32, f.len() as u32] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            v.extend_from_slice(f);
        }
        v
    }

    /// The table's one batch (the test captures are far below a batch).
    fn whole(t: &PacketsTable) -> RecordBatch {
        assert_eq!(t.batches.len(), 1);
        t.batches[0].clone()
    }

    fn column<T: arrow_array::ArrowPrimitiveType>(b: &RecordBatch, name: &str) -> Vec<T::Native> {
        let c = b.column_by_name(name).expect(name);
        arrow_array::cast::AsArray::as_primitive::<T>(c.as_ref())
            .values()
            .to_vec()
    }

    /// packets then decode gives the table `calls` gives, in any packet order, and by
    /// partition the same rows; hits too.
    #[test]
    fn packets_then_decode_equal_calls() {
        use arrow_array::types::{Int32Type, UInt64Type};
        let p = capture("captures/impacket/psexec_smb2.pcap");
        let label = p.display().to_string();
        let paths = [p.clone()];
        let want = calls(Source::Paths(&paths), &Options::default()).expect("calls");
        assert!(want.batch.num_rows() > 5);
        let o = PacketsOptions {
            partitions: 4,
            ..PacketsOptions::default()
        };
        let t = packets(Source::Paths(&paths), &o).expect("packets");
        let b = whole(&t);
        assert_eq!(b.schema(), packets::packets_schema());
        assert_eq!(b.num_rows() as u64, t.counters.packets - t.without_ip);
        assert_eq!(t.without_ip, 0);
        let ordinals = column::<UInt64Type>(&b, "ordinal");
        assert_eq!(ordinals, (1..=b.num_rows() as u64).collect::<Vec<_>>());
        let parts = column::<Int32Type>(&b, "partition");
        assert!(parts.iter().all(|k| (0..4).contains(k)));
        // Packets in reverse: sorted back by ordinal.
        let mut pk = packets::packets_of_batches(&t.batches).expect("read");
        pk.reverse();
        let got = decode(pk, &label, &Options::default()).expect("decode");
        assert_eq!(got.batch, want.batch);
        // Decoded partition by partition: every row once, uids included.
        let mut rows = Vec::new();
        for k in 0..4 {
            let mine: Vec<Packet> = packets::packets_of_batches(&t.batches)
                .expect("read")
                .into_iter()
                .filter(|x| engine::frame_partition(x.linktype, &x.data, 4) == Some(k))
                .collect();
            let part = decode(mine, &label, &Options::default()).expect("decode");
            rows.extend(uid_and_call(&part.batch));
        }
        rows.sort();
        let mut all = uid_and_call(&want.batch);
        all.sort();
        assert_eq!(rows, all);
        // Hits over packets are detect's.
        let det = || {
            Arc::new(Detector {
                set: Some(IndicatorSet::All),
                rules: vec![],
            })
        };
        let no = Settings::default();
        let want = detect(Source::Paths(&paths), det(), &no, &Options::default()).expect("detect");
        let pk = packets::packets_of_batches(&t.batches).expect("read");
        let got = detect_packets(pk, &label, det(), &no, &Options::default()).expect("hits");
        assert!(want.batch.num_rows() > 0);
        assert_eq!(got.batch, want.batch);
    }

    /// (uid, ts, operation) of every row.
    fn uid_and_call(b: &RecordBatch) -> Vec<(String, i64, String)> {
        use arrow_array::cast::AsArray;
        let s = |n: &str| -> Vec<String> {
            let c = b.column_by_name(n).expect(n);
            c.as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or("-").to_string())
                .collect()
        };
        let ts = column::<arrow_array::types::TimestampMicrosecondType>(b, "ts");
        s("uid")
            .into_iter()
            .zip(ts)
            .zip(s("operation"))
            .map(|((u, t), o)| (u, t, o))
            .collect()
    }

    /// Two files as one capture: ranks in the ordinals' high bits; a rank given for one
    /// file alone numbers it the same way.
    #[test]
    fn merged_files_and_ranks() {
        use arrow_array::types::UInt64Type;
        let a = capture("captures/atsvc_schtask.pcap");
        let b = capture("captures/tcp135_epmapper.pcap");
        let both = [b.clone(), a.clone()];
        let o = PacketsOptions {
            partitions: 2,
            merge: true,
            rank: 0,
        };
        let t = whole(&packets(Source::Paths(&both), &o).expect("merged"));
        let first = whole(&packets(Source::Paths(std::slice::from_ref(&a)), &o).expect("a"));
        let second = PacketsOptions { rank: 1, ..o };
        let second = whole(&packets(Source::Paths(std::slice::from_ref(&b)), &second).expect("b"));
        // Paths are taken in order (as the command line sorts directory listings, not
        // the arguments): a then b is the order given here, b then a.
        let ords = column::<UInt64Type>(&t, "ordinal");
        let na = first.num_rows();
        let nb = second.num_rows();
        assert_eq!(ords.len(), na + nb);
        assert_eq!(ords[0], 1);
        assert_eq!(ords[nb - 1], nb as u64);
        assert_eq!(ords[nb], (1 << FRAME_BITS) + 1);
        assert_eq!(
            column::<UInt64Type>(&second, "ordinal"),
            (1..=nb as u64)
                .map(|i| (1 << FRAME_BITS) + i)
                .collect::<Vec<_>>()
        );
        let files = t.column_by_name("file").expect("file");
        let files = arrow_array::cast::AsArray::as_string::<i32>(files.as_ref());
        assert_eq!(files.value(0), b.display().to_string());
        assert_eq!(files.value(nb), a.display().to_string());
        // The command line's --merge of the same files notes that they overlap in time,
        // in one line.
        let run = calls(
            Source::Paths(&[a.clone(), b.clone()]),
            &Options {
                merge: true,
                ..Options::default()
            },
        )
        .expect("merge");
        assert_eq!(
            run.notices,
            [format!(
                "note: {}: starts before the end of the previous file: --merge reads files \
                 one after the other, it does not interleave them",
                b.display()
            )]
        );
        // Ranks out of range, partitions out of range.
        let far = PacketsOptions {
            rank: (1 << 24) - 1,
            ..o
        };
        let e = packets(Source::Paths(&both), &far).expect_err("rank");
        assert_eq!(
            e.to_string(),
            "packets: file ranks must stay below 16777216: rank 16777215 with 2 file(s)"
        );
        for partitions in [0, 1 << 31] {
            let e = packets(Source::Paths(&both), &PacketsOptions { partitions, ..o })
                .expect_err("partitions");
            assert!(
                e.to_string()
                    .starts_with("packets: partitions must be between 1 and 2147483647")
            );
        }
    }

    /// Frames without IP are left out and counted; nanoseconds and times out of the
    /// microsecond range survive.
    #[test]
    fn frames_without_ip_are_counted() {
        // Ethernet ARP, then Ethernet IPv4 (a bare TCP header, no payload).
        let mut arp = vec![0xffu8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        let mut ip = vec![0u8; 12];
        ip.extend_from_slice(&[0x08, 0x00]);
        ip.extend_from_slice(&[
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ]);
        ip.extend_from_slice(&[
            0xc0, 0x00, 0, 135, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        let data = pcap(&[&arp, &ip, &arp]);
        let t = packets(
            Source::Bytes {
                data: &data,
                name: "x.pcap",
            },
            &PacketsOptions::default(),
        )
        .expect("packets");
        assert_eq!(t.without_ip, 2);
        assert_eq!(t.counters.packets, 3);
        let b = whole(&t);
        assert_eq!(b.num_rows(), 1);
        assert_eq!(column::<arrow_array::types::UInt64Type>(&b, "ordinal"), [2]);
        assert_eq!(
            column::<arrow_array::types::Int64Type>(&b, "ts_sec"),
            [1_700_000_001]
        );
        assert_eq!(
            column::<arrow_array::types::UInt32Type>(&b, "ts_nsec"),
            [7_000]
        );
        assert_eq!(
            column::<arrow_array::types::TimestampMicrosecondType>(&b, "ts"),
            [1_700_000_001_000_007]
        );
        let pk = packets::packets_of_batches(&t.batches).expect("read");
        assert_eq!(pk.len(), 1);
        assert_eq!(
            pk[0].ts,
            crate::capture::Timestamp::new(1_700_000_001, 7_000)
        );
        assert_eq!(pk[0].data, ip);
        assert_eq!(pk[0].linktype, 1);
        // Nothing to partition: an empty table with its schema.
        let only_arp = pcap(&[&arp]);
        let t = packets(
            Source::Bytes {
                data: &only_arp,
                name: "a.pcap",
            },
            &PacketsOptions::default(),
        )
        .expect("packets");
        assert!(t.batches.is_empty());
        assert_eq!((t.without_ip, t.counters.packets), (1, 1));
    }

    /// Tables from elsewhere: any integer widths, a timestamp column instead of the
    /// exact pair, no ordinals (sorted by time); what cannot be decoded is an error.
    #[test]
    fn packets_from_other_tables() {
        use arrow_array::{BinaryArray, Int64Array, TimestampNanosecondArray, UInt8Array};
        use arrow_schema::{DataType, Field, Schema, TimeUnit};
        let p = capture("captures/atsvc_schtask.pcap");
        let t = packets(
            Source::Paths(std::slice::from_ref(&p)),
            &PacketsOptions::default(),
        )
        .expect("packets");
        let want = packets::packets_of_batches(&t.batches).expect("read");
        let frames: Vec<&[u8]> = want.iter().map(|x| x.data.as_slice()).collect();
        let ns: Vec<i64> = want
            .iter()
            .map(|x| x.ts.secs * 1_000_000_000 + i64::from(x.ts.nanos))
            .collect();
        let n = want.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("frame", DataType::Binary, false),
            Field::new("link_type", DataType::UInt8, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
        ]));
        let batch = |order: &[usize], ordinal: bool| {
            let mut s = (*schema).clone();
            let mut cols: Vec<arrow_array::ArrayRef> = vec![
                Arc::new(BinaryArray::from_iter_values(
                    order.iter().map(|&i| frames[i]),
                )),
                Arc::new(UInt8Array::from(vec![1u8; order.len()])),
                Arc::new(TimestampNanosecondArray::from(
                    order.iter().map(|&i| ns[i]).collect::<Vec<_>>(),
                )),
            ];
            if ordinal {
                let mut f = s.fields().to_vec();
                f.push(Arc::new(Field::new("ordinal", DataType::Int64, false)));
                s = Schema::new(f);
                cols.push(Arc::new(Int64Array::from(
                    order.iter().map(|&i| i as i64 + 1).collect::<Vec<_>>(),
                )));
            }
            RecordBatch::try_new(Arc::new(s), cols).expect("batch")
        };
        let rev: Vec<usize> = (0..n).rev().collect();
        let fwd: Vec<usize> = (0..n).collect();
        // Signed ordinals, a nanosecond timestamp: the same packets.
        assert_eq!(
            packets::packets_of_batches(&[batch(&rev, true)]).expect("ordinal"),
            want
        );
        // No ordinal: sorted by time (this capture's times grow), numbered from 1.
        assert_eq!(
            packets::packets_of_batches(&[batch(&rev, false)]).expect("time"),
            want
        );
        // Mixed batches, repeated ordinals, missing or null columns: errors.
        let err = |b: &[RecordBatch]| packets::packets_of_batches(b).expect_err("bad").to_string();
        assert_eq!(
            err(&[batch(&fwd, true), batch(&fwd, false)]),
            "packets: some batches have an `ordinal` column and others not"
        );
        assert!(
            err(&[batch(&fwd, true), batch(&fwd[..1], true)])
                .starts_with("packets: ordinal 1 appears twice")
        );
        let no_frame = batch(&fwd, true).project(&[1, 2, 3]).expect("project");
        assert_eq!(err(&[no_frame]), "packets: no `frame` column");
        let no_time = batch(&fwd, true).project(&[0, 1, 3]).expect("project");
        assert_eq!(
            err(&[no_time]),
            "packets: no time column (`ts_sec` and `ts_nsec`, or `ts`)"
        );
        let text = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "frame",
                DataType::Utf8,
                false,
            )])),
            vec![Arc::new(arrow_array::StringArray::from(vec!["x"]))],
        )
        .expect("batch");
        assert_eq!(
            err(&[text]),
            "packets: column `frame` must be binary, not Utf8"
        );
        let nulls = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("frame", DataType::Binary, true),
                Field::new("link_type", DataType::Int64, true),
                Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), true),
            ])),
            vec![
                Arc::new(BinaryArray::from(vec![Some(&b"x"[..]), Some(b"y")])),
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(arrow_array::TimestampSecondArray::from(vec![1, 2])),
            ],
        )
        .expect("batch");
        assert_eq!(
            err(&[nulls]),
            "packets: column `link_type` is null in row 1"
        );
        let negative = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("frame", DataType::Binary, false),
                Field::new("link_type", DataType::Int64, false),
                Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), false),
            ])),
            vec![
                Arc::new(BinaryArray::from(vec![&b"x"[..]])),
                Arc::new(Int64Array::from(vec![-1])),
                Arc::new(arrow_array::TimestampSecondArray::from(vec![-1])),
            ],
        )
        .expect("batch");
        assert_eq!(
            err(&[negative]),
            "packets: column `link_type`: value -1 out of range"
        );
    }
}
