//! Bounded memory for long runs: records leave memory as sorted runs of rendered output
//! lines on disk, and the runs are merged in record order at the end.
//!
//! A record's order key `(time, file, connection, sequence)` is total and does not depend
//! on how the work was shared out, so merging the runs gives exactly the order an
//! in-memory sort would. Each run file holds entries `key (4 x u64 LE) | length (u32 LE) |
//! line bytes`, written by one worker and read back once; the files are removed when the
//! merge is done (or when the run is dropped unmerged).

use super::{Format, Record, Writer};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

/// Where and when to spill.
#[derive(Debug, Clone)]
pub struct SpillConfig {
    /// The output format the lines are rendered in (the final writer's).
    pub format: Format,
    /// Directory for the run files (created if missing).
    pub dir: PathBuf,
    /// Records a worker keeps in memory before writing them out as a run.
    pub max_records: usize,
}

/// One sorted run on disk.
#[derive(Debug)]
pub struct Run {
    pub path: PathBuf,
    pub records: u64,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Order key of a record, comparable across runs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64, u64, u64, u64);

impl Key {
    fn of(r: &Record) -> Key {
        Key(r.order.0, r.order.1, r.order.2, r.order.3)
    }
    fn cmp(&self, o: &Key) -> Ordering {
        self.0
            .total_cmp(&o.0)
            .then(self.1.cmp(&o.1))
            .then(self.2.cmp(&o.2))
            .then(self.3.cmp(&o.3))
    }
}

static RUN_SEQ: AtomicU64 = AtomicU64::new(0);

/// Write `records` (already sorted by their order key) as one run and empty the vector.
pub fn write_run(cfg: &SpillConfig, records: &mut Vec<Record>) -> io::Result<Run> {
    std::fs::create_dir_all(&cfg.dir)?;
    let n = RUN_SEQ.fetch_add(1, AtomicOrdering::Relaxed);
    let path = cfg
        .dir
        .join(format!("rpcsift-{}-{n}.run", std::process::id()));
    let run = Run {
        path,
        records: records.len() as u64,
    };
    let mut out = BufWriter::new(File::create(&run.path)?);
    let mut render = Writer::new(Vec::new(), cfg.format, String::new());
    for r in records.iter() {
        let k = Key::of(r);
        let line = render.render(r)?;
        out.write_all(&k.0.to_bits().to_le_bytes())?;
        for v in [k.1, k.2, k.3] {
            out.write_all(&v.to_le_bytes())?;
        }
        let len = u32::try_from(line.len()).map_err(io::Error::other)?;
        out.write_all(&len.to_le_bytes())?;
        out.write_all(line)?;
    }
    out.flush()?;
    records.clear();
    Ok(run)
}

/// Reads one run back, entry by entry.
struct RunReader {
    input: BufReader<File>,
}

impl RunReader {
    fn next(&mut self) -> io::Result<Option<(Key, Vec<u8>)>> {
        let mut head = [0u8; 36];
        match self.input.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let u = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let key = Key(f64::from_bits(u(0)), u(8), u(16), u(24));
        let len = u32::from_le_bytes([head[32], head[33], head[34], head[35]]) as usize;
        let mut line = vec![0u8; len];
        self.input.read_exact(&mut line)?;
        Ok(Some((key, line)))
    }
}

/// Heap entry: smallest key first (BinaryHeap is a max-heap, so the order is reversed).
struct Head {
    key: Key,
    source: usize,
    line: Vec<u8>,
}

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    fn cmp(&self, o: &Self) -> Ordering {
        o.key.cmp(&self.key).then(o.source.cmp(&self.source))
    }
}

/// Write every record, from the runs and from `memory` (sorted), in record order. Returns
/// the number of records written.
pub fn merge<W: Write>(
    runs: Vec<Run>,
    memory: &[Record],
    writer: &mut Writer<W>,
) -> io::Result<u64> {
    let mut readers = Vec::with_capacity(runs.len());
    for r in &runs {
        readers.push(RunReader {
            input: BufReader::with_capacity(64 << 10, File::open(&r.path)?),
        });
    }
    let mem_source = readers.len();
    let mut render = Writer::new(Vec::new(), writer.format, String::new());
    let mut mem = memory.iter();
    let mut heap = BinaryHeap::new();
    for (i, rd) in readers.iter_mut().enumerate() {
        if let Some((key, line)) = rd.next()? {
            heap.push(Head {
                key,
                source: i,
                line,
            });
        }
    }
    if let Some(r) = mem.next() {
        heap.push(Head {
            key: Key::of(r),
            source: mem_source,
            line: render.render(r)?.to_vec(),
        });
    }
    let mut written = 0u64;
    while let Some(h) = heap.pop() {
        writer.write_line(&h.line)?;
        written += 1;
        let next = if h.source == mem_source {
            match mem.next() {
                Some(r) => Some((Key::of(r), render.render(r)?.to_vec())),
                None => None,
            }
        } else {
            readers[h.source].next()?
        };
        if let Some((key, line)) = next {
            heap.push(Head {
                key,
                source: h.source,
                line,
            });
        }
    }
    drop(runs);
    Ok(written)
}
