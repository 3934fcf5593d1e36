//! `rpcsift._native`: the Python package's bindings over the `rpcsift` library.
//!
//! Each function runs [`rpcsift::api`] (the engine, detector and Arrow schema the CLI and
//! its Parquet writer use) without the GIL and hands the table to Python as Arrow IPC
//! stream bytes, which `pyarrow.ipc.open_stream` reads without copying. The pure-Python
//! layer (`rpcsift/__init__.py`) turns them into `pyarrow.Table`s and raises or warns.
//!
//! Why IPC bytes rather than the Arrow C data interface: no `unsafe` here, and no lock
//! between the `arrow` crate's pinned PyO3 version and this crate's; the cost is one copy
//! of the finished table, small next to decoding the capture.

#![forbid(unsafe_code)]

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use rpcsift::api::{self, ApiError, PacketsOptions, Source};
use rpcsift::detect::indicators::{IndicatorSet, Level};
use rpcsift::detect::{Detector, LoadError, Settings, load_detector};
use rpcsift::engine::Options;
use rpcsift::output::arrow as tables;
use rpcsift::stats::Counters;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

pyo3::create_exception!(
    _native,
    RpcsiftError,
    PyException,
    "An error rpcsift reports (the message is the command line's)."
);

pyo3::create_exception!(
    _native,
    RpcsiftWarning,
    pyo3::exceptions::PyUserWarning,
    "Something about the input that rpcsift prints as a `note:` (or `sigma:`) line."
);

/// The message `rpcsift` prints for `e` (after `rpcsift: `): the error and its sources,
/// joined by `: `, as anyhow's `{:#}` writes them.
fn cli_message(e: impl std::error::Error + Send + Sync + 'static) -> String {
    format!("{:#}", anyhow::Error::new(e))
}

fn rpcsift_err(e: impl std::error::Error + Send + Sync + 'static) -> PyErr {
    RpcsiftError::new_err(cli_message(e))
}

/// A batch as Arrow IPC stream bytes (schema, then the batch when there is one).
fn ipc(schema: &SchemaRef, batch: Option<&RecordBatch>) -> Result<Vec<u8>, ArrowError> {
    match batch {
        Some(b) => ipc_batches(schema, std::slice::from_ref(b)),
        None => ipc_batches(schema, &[]),
    }
}

/// Batches as Arrow IPC stream bytes.
fn ipc_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    w.into_inner()
}

/// The batches of Arrow IPC stream bytes.
fn from_ipc(bytes: &[u8]) -> Result<Vec<RecordBatch>, ArrowError> {
    arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?.collect()
}

/// The run's counters as the CLI's summary labels them, plus what SMB3 hid.
fn summary<'py>(py: Python<'py>, c: &Counters) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (label, v) in c.lines() {
        d.set_item(label, v)?;
    }
    d.set_item(
        "SMB3 sessions encrypted (calls invisible)",
        c.smb.smb3_encrypted_sessions,
    )?;
    d.set_item(
        "SMB3 connections compressed (calls invisible)",
        c.smb.smb3_compressed_connections,
    )?;
    for (lt, n) in &c.unknown_linktypes {
        d.set_item(format!("frames of unsupported link type {lt}"), n)?;
    }
    Ok(d)
}

/// What a native call returns: (Arrow IPC bytes, summary counters, `note:` lines, number
/// of capture files that could not be read, the run's DC evidence).
type Answer<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyDict>,
    Vec<String>,
    u64,
    Vec<String>,
);

fn answer<'py>(py: Python<'py>, t: api::Table) -> PyResult<Answer<'py>> {
    let bytes = py
        .detach(|| ipc(&t.batch.schema(), Some(&t.batch)))
        .map_err(rpcsift_err)?;
    Ok((
        PyBytes::new(py, &bytes),
        summary(py, &t.counters)?,
        t.notices,
        t.counters.files_failed,
        t.dc_evidence.iter().map(|a| a.to_string()).collect(),
    ))
}

/// How hits are judged: `min_level` (as `--min-level`), known DCs `dcs` (as `--dc`), or
/// `dc_evidence` gathered elsewhere (the other parts of a distributed run).
fn settings(
    min_level: Option<&str>,
    dcs: Option<Vec<String>>,
    dc_evidence: Option<Vec<String>>,
) -> PyResult<Settings> {
    let addrs = |v: Option<Vec<String>>| -> PyResult<Option<BTreeSet<IpAddr>>> {
        v.map(|v| {
            v.iter()
                .map(|a| {
                    a.trim()
                        .parse()
                        .map_err(|_| PyValueError::new_err(format!("not an IP address: {a:?}")))
                })
                .collect()
        })
        .transpose()
    };
    Ok(Settings {
        min_level: min_level
            .map(Level::from_str)
            .transpose()
            .map_err(PyValueError::new_err)?
            .unwrap_or_default(),
        dcs: addrs(dcs)?,
        evidence: addrs(dc_evidence)?,
    })
}

/// Run `f` on the source without the GIL: paths, or the bytes of one capture.
fn with_source<T: Send>(
    py: Python<'_>,
    paths: Option<Vec<PathBuf>>,
    data: Option<&Bound<'_, PyBytes>>,
    name: &str,
    f: impl FnOnce(Source<'_>) -> Result<T, ApiError> + Send,
) -> PyResult<T> {
    match (paths, data) {
        (Some(paths), None) => py.detach(|| f(Source::Paths(&paths))),
        (None, Some(data)) => {
            // Immutable bytes, kept alive by the caller for the whole call.
            let data = data.as_bytes();
            py.detach(|| f(Source::Bytes { data, name }))
        }
        _ => return Err(PyValueError::new_err("give either paths or data")),
    }
    .map_err(rpcsift_err)
}

/// Calls table of captures: `(ipc, summary, notes, files_failed)`.
#[pyfunction]
#[pyo3(signature = (paths=None, data=None, *, name="<bytes>", zeek_compat=false, zeek_ignore=false, verify_checksums=false, merge=false, keys=None))]
#[allow(clippy::too_many_arguments)]
fn calls<'py>(
    py: Python<'py>,
    paths: Option<Vec<PathBuf>>,
    data: Option<Bound<'py, PyBytes>>,
    name: &str,
    zeek_compat: bool,
    zeek_ignore: bool,
    verify_checksums: bool,
    merge: bool,
    keys: Option<Vec<PathBuf>>,
) -> PyResult<Answer<'py>> {
    let opts = Options {
        keys: key_ring(keys)?,
        zeek_compat,
        zeek_ignore: zeek_ignore || zeek_compat,
        verify_checksums,
        merge,
        ..Options::default()
    };
    let t = with_source(py, paths, data.as_ref(), name, |s| api::calls(s, &opts))?;
    answer(py, t)
}

/// Hits table of captures: `(ipc, summary, notes, files_failed)`; rejected Sigma rules
/// are `RpcsiftWarning`s.
#[pyfunction]
#[pyo3(signature = (paths=None, data=None, *, name="<bytes>", indicators=None, sigma=None, merge=false, min_level=None, dcs=None, dc_evidence=None, keys=None))]
#[allow(clippy::too_many_arguments)]
fn detect<'py>(
    py: Python<'py>,
    paths: Option<Vec<PathBuf>>,
    data: Option<Bound<'py, PyBytes>>,
    name: &str,
    indicators: Option<&str>,
    sigma: Option<Vec<PathBuf>>,
    merge: bool,
    min_level: Option<&str>,
    dcs: Option<Vec<String>>,
    dc_evidence: Option<Vec<String>>,
    keys: Option<Vec<PathBuf>>,
) -> PyResult<Answer<'py>> {
    let keys = key_ring(keys)?;
    let judge = settings(min_level, dcs, dc_evidence)?;
    let detector = detector(py, indicators, sigma)?;
    let opts = Options {
        merge,
        keys,
        ..Options::default()
    };
    let t = with_source(py, paths, data.as_ref(), name, |s| {
        api::detect(s, detector, &judge, &opts)
    })?;
    answer(py, t)
}

/// The key ring of `keys=` (key files, as `--keys` takes them); a bad file is an
/// `RpcsiftError` naming file and line.
fn key_ring(keys: Option<Vec<PathBuf>>) -> PyResult<Option<Arc<rpcsift::auth::keys::KeyRing>>> {
    api::key_ring(&keys.unwrap_or_default()).map_err(rpcsift_err)
}

/// The detector of an indicator set and Sigma rules, as `rpcsift detect` loads it; rejected
/// Sigma rules are `RpcsiftWarning`s.
fn detector(
    py: Python<'_>,
    indicators: Option<&str>,
    sigma: Option<Vec<PathBuf>>,
) -> PyResult<Arc<Detector>> {
    let set = indicators
        .map(IndicatorSet::from_str)
        .transpose()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let sigma = sigma.unwrap_or_default();
    // Rejected rules are warnings, as the CLI prints them (`rpcsift: sigma: ...`), also
    // when none is left and the error follows.
    let warn = |errors: &[String]| -> PyResult<()> {
        let category = py.get_type::<RpcsiftWarning>();
        for e in errors {
            PyErr::warn(
                py,
                category.as_any(),
                &std::ffi::CString::new(format!("sigma: {e}"))?,
                1,
            )?;
        }
        Ok(())
    };
    let loaded = match load_detector(set, &sigma) {
        Ok(l) => {
            warn(&l.rejected)?;
            l
        }
        Err(e) => {
            if let LoadError::NoUsableRule { errors, .. } = &e {
                warn(errors)?;
            }
            return Err(rpcsift_err(e));
        }
    };
    Ok(Arc::new(loaded.detector))
}

/// Packets table of captures: `(ipc, summary, notes, files_failed)`; the summary counts
/// the frames left out for want of an IP packet.
#[pyfunction]
#[pyo3(signature = (paths=None, data=None, *, name="<bytes>", partitions=1, merge=false, rank=0))]
#[allow(clippy::too_many_arguments)]
fn packets<'py>(
    py: Python<'py>,
    paths: Option<Vec<PathBuf>>,
    data: Option<Bound<'py, PyBytes>>,
    name: &str,
    partitions: u32,
    merge: bool,
    rank: u64,
) -> PyResult<Answer<'py>> {
    let o = PacketsOptions {
        partitions,
        merge,
        rank,
    };
    let t = with_source(py, paths, data.as_ref(), name, |s| api::packets(s, &o))?;
    let bytes = py
        .detach(|| ipc_batches(&t.schema, &t.batches))
        .map_err(rpcsift_err)?;
    // What was read: the decoder's counters are not (nothing is decoded here).
    let counts = PyDict::new(py);
    for (label, v) in t.counters.lines() {
        if v > 0 || READ_LABELS.contains(&label) {
            counts.set_item(label, v)?;
        }
    }
    counts.set_item(WITHOUT_IP, t.without_ip)?;
    Ok((
        PyBytes::new(py, &bytes),
        counts,
        t.notices,
        t.counters.files_failed,
        Vec::new(),
    ))
}

/// Summary labels `packets` always gives (other counters only when not zero).
const READ_LABELS: [&str; 4] = [
    "capture files",
    "capture files that could not be read",
    "packets",
    "bytes (captured)",
];

/// Summary label of the frames `packets` leaves out.
const WITHOUT_IP: &str = "frames without an IP packet (left out)";

/// Packets (Arrow IPC bytes of a packets table, or of any table with its columns) to
/// records, by `f`, without the GIL.
fn with_packets(
    py: Python<'_>,
    ipc: &Bound<'_, PyBytes>,
    f: impl FnOnce(Vec<rpcsift::engine::Packet>) -> Result<api::Table, ApiError> + Send,
) -> PyResult<api::Table> {
    let bytes = ipc.as_bytes();
    py.detach(|| {
        let batches = from_ipc(bytes)?;
        f(api::packets::packets_of_batches(&batches)?)
    })
    .map_err(rpcsift_err)
}

/// Calls table of packets: `(ipc, summary, notes, files_failed)`.
#[pyfunction]
#[pyo3(signature = (ipc, *, label, zeek_compat=false, zeek_ignore=false, verify_checksums=false, keys=None))]
fn decode<'py>(
    py: Python<'py>,
    ipc: Bound<'py, PyBytes>,
    label: &str,
    zeek_compat: bool,
    zeek_ignore: bool,
    verify_checksums: bool,
    keys: Option<Vec<PathBuf>>,
) -> PyResult<Answer<'py>> {
    let opts = Options {
        zeek_compat,
        zeek_ignore: zeek_ignore || zeek_compat,
        verify_checksums,
        keys: key_ring(keys)?,
        ..Options::default()
    };
    let t = with_packets(py, &ipc, |p| api::decode(p, label, &opts))?;
    answer(py, t)
}

/// Hits table of packets: `(ipc, summary, notes, files_failed)`.
#[pyfunction]
#[pyo3(signature = (ipc, *, label, indicators=None, sigma=None, min_level=None, dcs=None, dc_evidence=None, keys=None))]
#[allow(clippy::too_many_arguments)]
fn detect_packets<'py>(
    py: Python<'py>,
    ipc: Bound<'py, PyBytes>,
    label: &str,
    indicators: Option<&str>,
    sigma: Option<Vec<PathBuf>>,
    min_level: Option<&str>,
    dcs: Option<Vec<String>>,
    dc_evidence: Option<Vec<String>>,
    keys: Option<Vec<PathBuf>>,
) -> PyResult<Answer<'py>> {
    let keys = key_ring(keys)?;
    let judge = settings(min_level, dcs, dc_evidence)?;
    let detector = detector(py, indicators, sigma)?;
    let opts = Options {
        keys,
        ..Options::default()
    };
    let t = with_packets(py, &ipc, |p| {
        api::detect_packets(p, label, detector, &judge, &opts)
    })?;
    answer(py, t)
}

/// The `calls` schema as Arrow IPC bytes (no rows).
#[pyfunction]
#[pyo3(signature = (zeek_compat=false))]
fn calls_schema(py: Python<'_>, zeek_compat: bool) -> PyResult<Bound<'_, PyBytes>> {
    let b = ipc(&tables::calls_schema(zeek_compat), None).map_err(rpcsift_err)?;
    Ok(PyBytes::new(py, &b))
}

/// The `hits` schema as Arrow IPC bytes (no rows).
#[pyfunction]
fn hits_schema(py: Python<'_>) -> PyResult<Bound<'_, PyBytes>> {
    let b = ipc(&tables::hits_schema(), None).map_err(rpcsift_err)?;
    Ok(PyBytes::new(py, &b))
}

/// The `packets` schema as Arrow IPC bytes (no rows).
#[pyfunction]
fn packets_schema(py: Python<'_>) -> PyResult<Bound<'_, PyBytes>> {
    let b = ipc(&api::packets::packets_schema(), None).map_err(rpcsift_err)?;
    Ok(PyBytes::new(py, &b))
}

/// Whether a file name looks like a capture (what a directory search picks up).
#[pyfunction]
fn is_capture_name(name: &str) -> bool {
    rpcsift::capture::files::is_capture_name(name)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(calls, m)?)?;
    m.add_function(wrap_pyfunction!(detect, m)?)?;
    m.add_function(wrap_pyfunction!(packets, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(detect_packets, m)?)?;
    m.add_function(wrap_pyfunction!(packets_schema, m)?)?;
    m.add_function(wrap_pyfunction!(calls_schema, m)?)?;
    m.add_function(wrap_pyfunction!(hits_schema, m)?)?;
    m.add_function(wrap_pyfunction!(is_capture_name, m)?)?;
    m.add("RpcsiftError", m.py().get_type::<RpcsiftError>())?;
    m.add("RpcsiftWarning", m.py().get_type::<RpcsiftWarning>())?;
    m.add("SCHEMA_VERSION", tables::SCHEMA_VERSION)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
