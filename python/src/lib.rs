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
use rpcsift::api::{self, ApiError, Source};
use rpcsift::detect::{LoadError, indicators::IndicatorSet, load_detector};
use rpcsift::engine::Options;
use rpcsift::output::arrow as tables;
use rpcsift::stats::Counters;
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
    let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), schema)?;
    if let Some(b) = batch {
        w.write(b)?;
    }
    w.finish()?;
    w.into_inner()
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
/// of capture files that could not be read).
type Answer<'py> = (Bound<'py, PyBytes>, Bound<'py, PyDict>, Vec<String>, u64);

fn answer<'py>(py: Python<'py>, t: api::Table) -> PyResult<Answer<'py>> {
    let bytes = py
        .detach(|| ipc(&t.batch.schema(), Some(&t.batch)))
        .map_err(rpcsift_err)?;
    Ok((
        PyBytes::new(py, &bytes),
        summary(py, &t.counters)?,
        t.notices,
        t.counters.files_failed,
    ))
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
        keys: api::key_ring(&keys.unwrap_or_default()).map_err(rpcsift_err)?,
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
#[pyo3(signature = (paths=None, data=None, *, name="<bytes>", indicators=None, sigma=None, merge=false, keys=None))]
#[allow(clippy::too_many_arguments)]
fn detect<'py>(
    py: Python<'py>,
    paths: Option<Vec<PathBuf>>,
    data: Option<Bound<'py, PyBytes>>,
    name: &str,
    indicators: Option<&str>,
    sigma: Option<Vec<PathBuf>>,
    merge: bool,
    keys: Option<Vec<PathBuf>>,
) -> PyResult<Answer<'py>> {
    let keys = api::key_ring(&keys.unwrap_or_default()).map_err(rpcsift_err)?;
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
    let detector = Arc::new(loaded.detector);
    let opts = Options {
        merge,
        keys,
        ..Options::default()
    };
    let t = with_source(py, paths, data.as_ref(), name, |s| {
        api::detect(s, detector, &opts)
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

/// Whether a file name looks like a capture (what a directory search picks up).
#[pyfunction]
fn is_capture_name(name: &str) -> bool {
    rpcsift::capture::files::is_capture_name(name)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(calls, m)?)?;
    m.add_function(wrap_pyfunction!(detect, m)?)?;
    m.add_function(wrap_pyfunction!(calls_schema, m)?)?;
    m.add_function(wrap_pyfunction!(hits_schema, m)?)?;
    m.add_function(wrap_pyfunction!(is_capture_name, m)?)?;
    m.add("RpcsiftError", m.py().get_type::<RpcsiftError>())?;
    m.add("RpcsiftWarning", m.py().get_type::<RpcsiftWarning>())?;
    m.add("SCHEMA_VERSION", tables::SCHEMA_VERSION)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
