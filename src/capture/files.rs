//! Finding capture files on disk and opening them, gzip-compressed or not.

use super::reader::CaptureError;
use flate2::read::MultiGzDecoder;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Name endings taken as captures when a directory is searched (case-insensitive), each
/// also with ".gz" appended.
pub const CAPTURE_EXTENSIONS: &[&str] = &[".pcap", ".pcapng", ".cap", ".dmp"];
/// Directory depth searched below a directory given by the user.
pub const MAX_DIR_DEPTH: usize = 64;
const READ_BUFFER: usize = 256 * 1024;

fn path_error(path: &Path, source: io::Error) -> CaptureError {
    CaptureError::Path {
        path: path.to_path_buf(),
        error: source,
    }
}

/// Does `name` look like a capture file (by its ending)?
pub fn is_capture_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
    CAPTURE_EXTENSIONS
        .iter()
        .any(|ext| stem.len() > ext.len() && stem.ends_with(ext))
}

/// Expand user paths: files are kept as given (whatever their name); directories are
/// searched recursively, in sorted order, for files whose name ends in .pcap .pcapng .cap
/// .dmp, optionally followed by .gz (case-insensitive). Symbolic links to directories are
/// not followed inside a search (no loops); a path that cannot be read is an error naming it.
pub fn collect_capture_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut out = Vec::new();
    for p in paths {
        if is_stdin(p) {
            out.push(p.clone());
            continue;
        }
        let meta = fs::metadata(p).map_err(|e| path_error(p, e))?;
        if meta.is_dir() {
            walk(p, 0, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// `-` stands for standard input (a capture streamed from tcpdump, zcat, ...).
pub fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// Standard input as a capture stream, gzip recognised by its magic bytes (no seeking:
/// the peeked bytes are put back in front of the stream).
pub fn open_stdin(counter: Option<ByteCounter>) -> Box<dyn Read + Send> {
    let stdin = io::stdin();
    let mut head = [0u8; 2];
    let mut got = 0;
    let mut lock = stdin.lock();
    while got < head.len() {
        match lock.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    drop(lock);
    let raw: Box<dyn Read + Send> = Box::new(io::Cursor::new(head[..got].to_vec()).chain(stdin));
    let raw: Box<dyn Read + Send> = match counter {
        Some(counter) => Box::new(Counted {
            inner: raw,
            counter,
        }),
        None => raw,
    };
    if got == 2 && head == [0x1f, 0x8b] {
        let gz = MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, raw));
        Box::new(BufReader::with_capacity(READ_BUFFER, gz))
    } else {
        Box::new(BufReader::with_capacity(READ_BUFFER, raw))
    }
}

/// A capture held in memory (e.g. bytes handed over by Python), gzip recognised by its
/// magic bytes as for files.
pub fn open_bytes(data: &[u8]) -> Box<dyn Read + Send + '_> {
    if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(data),
        ))
    } else {
        Box::new(data)
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), CaptureError> {
    if depth > MAX_DIR_DEPTH {
        return Err(path_error(
            dir,
            io::Error::other(format!("directories nested deeper than {MAX_DIR_DEPTH}")),
        ));
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| path_error(dir, e))? {
        let entry = entry.map_err(|e| path_error(dir, e))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let link_meta = fs::symlink_metadata(&path).map_err(|e| path_error(&path, e))?;
        if link_meta.is_dir() {
            walk(&path, depth + 1, out)?;
            continue;
        }
        let wanted = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_capture_name);
        if !wanted {
            continue;
        }
        // A symbolic link is taken when it leads to a file; a dangling one is an error.
        let is_file = if link_meta.file_type().is_symlink() {
            fs::metadata(&path)
                .map_err(|e| path_error(&path, e))?
                .is_file()
        } else {
            link_meta.is_file()
        };
        if is_file {
            out.push(path);
        }
    }
    Ok(())
}

/// Open a capture for reading, transparently gunzipping when the file starts with the gzip
/// magic (1f 8b), whatever its name. Concatenated gzip members are read as one stream.
pub fn open_capture(path: &Path) -> Result<Box<dyn Read + Send>, CaptureError> {
    open_capture_counted(path, None)
}

/// Bytes of the file read so far, shared with a progress display.
pub type ByteCounter = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// A reader that adds what it reads to a shared counter (file bytes, before gzip).
struct Counted<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// [`open_capture`], counting the file's bytes as they are read into `counter`.
pub fn open_capture_counted(
    path: &Path,
    counter: Option<ByteCounter>,
) -> Result<Box<dyn Read + Send>, CaptureError> {
    let file = File::open(path).map_err(|e| path_error(path, e))?;
    match counter {
        Some(counter) => open_stream(
            path,
            Counted {
                inner: file,
                counter,
            },
        ),
        None => open_stream(path, file),
    }
}

fn open_stream<F: Read + Seek + Send + 'static>(
    path: &Path,
    mut file: F,
) -> Result<Box<dyn Read + Send>, CaptureError> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(path_error(path, e)),
        }
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| path_error(path, e))?;
    if got == 2 && magic == [0x1f, 0x8b] {
        let gz = MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, file));
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, gz)))
    } else {
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, file)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::reader::read_frames;
    use crate::capture::reader::tests::simple_pcap;
    use crate::stats::Counters;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "rpcsift-capture-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn frames_of(path: &Path) -> (Result<(), CaptureError>, Vec<Vec<u8>>, Counters) {
        let input = open_capture(path).unwrap();
        let mut c = Counters::default();
        let mut n = Vec::new();
        let mut got = Vec::new();
        let r = read_frames("f", input, &mut c, &mut n, |f| got.push(f.data.to_vec()));
        (r, got, c)
    }

    #[test]
    fn bytes_plain_or_gzip() {
        let pcap = simple_pcap(&[b"abc", b"defg"]);
        for data in [pcap.clone(), gzip(&pcap)] {
            let mut c = Counters::default();
            let mut got = Vec::new();
            read_frames("b", open_bytes(&data), &mut c, &mut Vec::new(), |f| {
                got.push(f.data.to_vec())
            })
            .unwrap();
            assert_eq!(got, [b"abc".to_vec(), b"defg".to_vec()]);
        }
        let mut out = Vec::new();
        open_bytes(b"\x1f").read_to_end(&mut out).unwrap();
        assert_eq!(out, b"\x1f");
    }

    #[test]
    fn capture_names() {
        for yes in [
            "a.pcap",
            "A.PCAPNG",
            "x.cap",
            "y.dmp",
            "z.pcap.gz",
            "w.PcapNg.GZ",
        ] {
            assert!(is_capture_name(yes), "{yes}");
        }
        for no in [
            "a.txt",
            "pcap",
            ".pcap",
            "a.gz",
            "a.pcap.zip",
            "a.pcapx",
            "a.tar.gz",
        ] {
            assert!(!is_capture_name(no), "{no}");
        }
    }

    #[test]
    fn collect_sorted_recursive() {
        let t = TempDir::new("collect");
        let d = &t.0;
        fs::create_dir_all(d.join("b/inner")).unwrap();
        fs::create_dir_all(d.join("a")).unwrap();
        for f in [
            "z.pcap",
            "notes.txt",
            "b/inner/deep.PCAPNG",
            "b/one.cap.gz",
            "a/x.dmp",
            "a/x.tshark.tsv",
            "m.pcap.gz",
        ] {
            fs::write(d.join(f), b"x").unwrap();
        }
        let explicit = d.join("notes.txt");
        let got = collect_capture_paths(&[d.clone(), explicit.clone()]).unwrap();
        let want: Vec<PathBuf> = [
            "a/x.dmp",
            "b/inner/deep.PCAPNG",
            "b/one.cap.gz",
            "m.pcap.gz",
            "z.pcap",
        ]
        .iter()
        .map(|f| d.join(f))
        .chain([explicit])
        .collect();
        assert_eq!(got, want);

        let missing = d.join("nope.pcap");
        match collect_capture_paths(std::slice::from_ref(&missing)) {
            Err(CaptureError::Path { path, .. }) => assert_eq!(path, missing),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_round_trip_by_magic_not_name() {
        let t = TempDir::new("gzip");
        let a = vec![0xaa; 70];
        let b = vec![0xbb; 33];
        let pcap = simple_pcap(&[&a, &b]);
        // plain, gzip with .gz, gzip without .gz, two concatenated gzip members
        let half = pcap.len() / 2;
        let mut two = gzip(&pcap[..half]);
        two.extend(gzip(&pcap[half..]));
        for (name, bytes) in [
            ("plain.pcap", pcap.clone()),
            ("c.pcap.gz", gzip(&pcap)),
            ("sneaky.pcap", gzip(&pcap)),
            ("multi.pcap.gz", two),
        ] {
            let p = t.0.join(name);
            fs::write(&p, bytes).unwrap();
            let (r, got, c) = frames_of(&p);
            r.unwrap();
            assert_eq!(got, vec![a.clone(), b.clone()], "{name}");
            assert_eq!(c.packets, 2);
        }
    }

    #[test]
    fn truncated_gzip_keeps_frames() {
        let t = TempDir::new("gzcut");
        let frames: Vec<Vec<u8>> = (0..200u32)
            .map(|i| i.to_be_bytes().iter().cycle().take(400).copied().collect())
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let gz = gzip(&simple_pcap(&refs));
        let p = t.0.join("cut.pcap.gz");
        fs::write(&p, &gz[..gz.len() * 2 / 3]).unwrap();
        let (r, got, c) = frames_of(&p);
        r.unwrap();
        assert!(!got.is_empty() && got.len() < 200, "{}", got.len());
        assert_eq!(got[..], frames[..got.len()]);
        assert_eq!(c.truncated_records + c.garbage_after_prefix, 1);
    }

    #[test]
    fn tiny_and_missing_files() {
        let t = TempDir::new("tiny");
        let p = t.0.join("one.pcap");
        fs::write(&p, [0x1f]).unwrap();
        let (r, _, _) = frames_of(&p);
        assert!(matches!(r, Err(CaptureError::NotACapture { .. })), "{r:?}");
        let missing = t.0.join("missing.pcap");
        assert!(matches!(
            open_capture(&missing),
            Err(CaptureError::Path { .. })
        ));
    }
}
