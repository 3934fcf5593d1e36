//! Bounded memory for long runs: a worker renders each record into its output line as
//! soon as the record is made ([`Batch`]), writes full batches out as sorted runs on disk,
//! keeps its last batch as a run in memory, and the runs are merged in record order at
//! the end.
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
use std::io::{self, BufReader, Read, Write};
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

/// One sorted run of rendered lines: on disk, or (the last batch of a worker) in memory.
#[derive(Debug)]
pub struct Run {
    pub records: u64,
    store: Store,
}

#[derive(Debug)]
enum Store {
    Disk(PathBuf),
    /// A batch's own buffers, its keys sorted: (key, start, length) of each line.
    Memory(Vec<(Key, usize, usize)>, Vec<u8>),
}

impl Run {
    /// The run's file, when it was written to disk.
    pub fn path(&self) -> Option<&std::path::Path> {
        match &self.store {
            Store::Disk(p) => Some(p),
            Store::Memory(..) => None,
        }
    }

    fn open(&mut self) -> io::Result<RunReader> {
        Ok(match &mut self.store {
            Store::Disk(p) => RunReader::Disk {
                input: BufReader::with_capacity(64 << 10, File::open(p)?),
                line: Vec::new(),
            },
            Store::Memory(keys, bytes) => RunReader::Memory {
                keys: std::mem::take(keys).into_iter(),
                bytes: std::mem::take(bytes),
                current: (0, 0),
            },
        })
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Store::Disk(p) = &self.store {
            let _ = std::fs::remove_file(p);
        }
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

/// Records rendered as soon as they are made, waiting to be sorted into a run: a worker
/// keeps compact output lines, not records, and reuses the same buffers run after run.
pub struct Batch {
    render: Writer<Vec<u8>>,
    /// (key, start, length) of each line in `bytes`.
    keys: Vec<(Key, usize, usize)>,
    bytes: Vec<u8>,
    /// Run file output, in chunks (kept between runs).
    out: Vec<u8>,
}

impl Batch {
    pub fn new(format: Format) -> Batch {
        Batch {
            render: Writer::new(Vec::new(), format, String::new()),
            keys: Vec::new(),
            bytes: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Render `r` into the batch.
    pub fn push(&mut self, r: &Record) -> io::Result<()> {
        let start = self.bytes.len();
        if let Err(e) = self.render.render_into(r, &mut self.bytes) {
            self.bytes.truncate(start);
            return Err(e);
        }
        self.keys
            .push((Key::of(r), start, self.bytes.len() - start));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The batch's lines in record order as one run, written to a file in `cfg.dir`
    /// (`Some`) or kept in memory (`None`); the batch is emptied, its buffers kept. On an
    /// error the batch keeps its lines.
    pub fn flush(&mut self, to_disk: Option<&SpillConfig>) -> io::Result<Run> {
        self.keys.sort_by(|a, b| a.0.cmp(&b.0));
        let records = self.keys.len() as u64;
        let result = match to_disk {
            Some(cfg) => {
                std::fs::create_dir_all(&cfg.dir)?;
                let n = RUN_SEQ.fetch_add(1, AtomicOrdering::Relaxed);
                let path = cfg
                    .dir
                    .join(format!("rpcsift-{}-{n}.run", std::process::id()));
                // The run owns its file from here on: removed on drop, even on error.
                let run = Run {
                    records,
                    store: Store::Disk(path),
                };
                let mut file = File::create(run.path().unwrap_or(&cfg.dir))?;
                self.write_entries(&mut file)?;
                Ok(run)
            }
            // The batch's buffers become the run (this is a worker's last batch).
            None => Ok(Run {
                records,
                store: Store::Memory(
                    std::mem::take(&mut self.keys),
                    std::mem::take(&mut self.bytes),
                ),
            }),
        };
        if result.is_ok() {
            self.keys.clear();
            self.bytes.clear();
        }
        result
    }

    /// The sorted entries to `out`, through the batch's own reused output buffer.
    fn write_entries(&mut self, out: &mut impl Write) -> io::Result<()> {
        const CHUNK: usize = 256 << 10;
        let mut buf = std::mem::take(&mut self.out);
        buf.clear();
        let written = self.encode_entries(&mut buf, out, CHUNK);
        self.out = buf;
        written
    }

    fn encode_entries(
        &self,
        buf: &mut Vec<u8>,
        out: &mut impl Write,
        chunk: usize,
    ) -> io::Result<()> {
        for &(k, start, len) in &self.keys {
            let mut head = [0u8; 36];
            head[..8].copy_from_slice(&k.0.to_bits().to_le_bytes());
            for (i, v) in [k.1, k.2, k.3].into_iter().enumerate() {
                head[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
            }
            let n = u32::try_from(len).map_err(io::Error::other)?;
            head[32..].copy_from_slice(&n.to_le_bytes());
            buf.extend_from_slice(&head);
            buf.extend_from_slice(&self.bytes[start..start + len]);
            if buf.len() >= chunk {
                out.write_all(buf)?;
                buf.clear();
            }
        }
        out.write_all(buf)?;
        buf.clear();
        Ok(())
    }
}

/// Reads one run back, entry by entry: from its file into a reused line buffer, or
/// straight from the batch's buffers.
enum RunReader {
    Disk {
        input: BufReader<File>,
        line: Vec<u8>,
    },
    Memory {
        keys: std::vec::IntoIter<(Key, usize, usize)>,
        bytes: Vec<u8>,
        current: (usize, usize),
    },
}

impl RunReader {
    /// Move to the next entry; its line is then [`RunReader::line`].
    fn next(&mut self) -> io::Result<Option<Key>> {
        match self {
            RunReader::Disk { input, line } => {
                let mut head = [0u8; 36];
                match input.read_exact(&mut head) {
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
                line.resize(len, 0);
                input.read_exact(line)?;
                Ok(Some(key))
            }
            RunReader::Memory { keys, current, .. } => Ok(keys.next().map(|(k, start, len)| {
                *current = (start, len);
                k
            })),
        }
    }

    fn line(&self) -> &[u8] {
        match self {
            RunReader::Disk { line, .. } => line,
            RunReader::Memory { bytes, current, .. } => bytes
                .get(current.0..current.0 + current.1)
                .unwrap_or_default(),
        }
    }
}

/// Heap entry: smallest key first (BinaryHeap is a max-heap, so the order is reversed).
/// The line itself stays in its source's buffer.
struct Head {
    key: Key,
    source: usize,
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
    let format = writer.format;
    merge_lines(runs, memory, format, &mut |line| writer.write_line(line))
}

/// Every record's line, from the runs and from `memory` (sorted; rendered in `format`, the
/// runs' own), handed to `sink` in record order. Returns the number of records.
pub fn merge_lines(
    mut runs: Vec<Run>,
    memory: &[Record],
    format: Format,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut readers = Vec::with_capacity(runs.len());
    for r in &mut runs {
        readers.push(r.open()?);
    }
    let mem_source = readers.len();
    let mut render = Writer::new(Vec::new(), format, String::new());
    let mut mem = memory.iter().peekable();
    let mut heap = BinaryHeap::with_capacity(readers.len() + 1);
    for (i, rd) in readers.iter_mut().enumerate() {
        if let Some(key) = rd.next()? {
            heap.push(Head { key, source: i });
        }
    }
    if let Some(r) = mem.peek() {
        heap.push(Head {
            key: Key::of(r),
            source: mem_source,
        });
    }
    let mut written = 0u64;
    while let Some(h) = heap.pop() {
        written += 1;
        let next = if h.source == mem_source {
            if let Some(r) = mem.next() {
                sink(render.render(r)?)?;
            }
            mem.peek().map(|r| Key::of(r))
        } else {
            let rd = &mut readers[h.source];
            sink(rd.line())?;
            rd.next()?
        };
        if let Some(key) = next {
            heap.push(Head {
                key,
                source: h.source,
            });
        }
    }
    drop(runs);
    Ok(written)
}
