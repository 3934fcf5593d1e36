//! `--format parquet`: the Arrow tables of [`super::arrow`] written as a Parquet file with
//! the `parquet` crate, a batch of rows at a time and in row groups of bounded size, so
//! memory does not grow with the output. The file's key-value metadata carries
//! `schema_version` and `rpcsift_table` (also in the embedded Arrow schema).

use super::arrow::{self as tables, TableBuilder};
use super::spill::{self, Run};
use super::{Format, Record};
use crate::detect::Hit;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Rows gathered before they are handed to the Parquet writer as one Arrow batch.
pub const BATCH_ROWS: usize = 8192;
/// Rows per Parquet row group: the writer holds one row group's encoded pages in memory.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Writes one table (`calls` or `hits`) as Parquet, row by row.
pub struct ParquetWriter<W: Write + Send, T: 'static> {
    writer: ArrowWriter<W>,
    rows: TableBuilder<T>,
    written: u64,
}

fn properties(table: tables::Table, row_group_rows: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_created_by(format!("rpcsift {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                tables::SCHEMA_VERSION_KEY.to_string(),
                tables::SCHEMA_VERSION.to_string(),
            ),
            KeyValue::new(tables::TABLE_KEY.to_string(), table.name().to_string()),
        ]))
        .build()
}

impl<W: Write + Send, T> ParquetWriter<W, T> {
    fn new(
        out: W,
        rows: TableBuilder<T>,
        table: tables::Table,
        row_group_rows: usize,
    ) -> Result<Self, ParquetError> {
        let props = properties(table, row_group_rows);
        let writer = ArrowWriter::try_new(out, rows.schema(), Some(props))?;
        Ok(ParquetWriter {
            writer,
            rows,
            written: 0,
        })
    }

    /// Append one row.
    pub fn push(&mut self, item: &T) -> Result<(), ParquetError> {
        self.rows.push(item)?;
        self.after_push()
    }

    /// Append one row encoded by [`tables::encode_row`] (records spilled to disk).
    pub fn push_encoded(&mut self, row: &[u8]) -> Result<(), ParquetError> {
        self.rows.push_encoded(row)?;
        self.after_push()
    }

    fn after_push(&mut self) -> Result<(), ParquetError> {
        self.written += 1;
        if self.rows.len() >= BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), ParquetError> {
        if !self.rows.is_empty() {
            let batch = self.rows.finish()?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }

    /// Write the last rows and the footer; returns the output and the number of rows.
    pub fn finish(mut self) -> Result<(W, u64), ParquetError> {
        self.write_batch()?;
        let mut out = self.writer.into_inner()?;
        out.flush()?;
        Ok((out, self.written))
    }
}

impl<W: Write + Send> ParquetWriter<W, Record> {
    /// A `calls` table (Zeek's columns only with `zeek_compat`).
    pub fn calls(out: W, zeek_compat: bool) -> Result<Self, ParquetError> {
        Self::new(
            out,
            tables::calls_builder(zeek_compat),
            tables::Table::Calls,
            ROW_GROUP_ROWS,
        )
    }
}

impl<W: Write + Send> ParquetWriter<W, Hit> {
    /// A `hits` table.
    pub fn hits(out: W) -> Result<Self, ParquetError> {
        Self::new(
            out,
            tables::hits_builder(),
            tables::Table::Hits,
            ROW_GROUP_ROWS,
        )
    }
}

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    let f = File::create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", path.display())))?;
    Ok(BufWriter::with_capacity(256 << 10, f))
}

/// Write a run's call records (spilled runs and those in memory, rendered in
/// [`Format::Parquet`]) to `path`, merged in record order as the other formats are.
/// Returns the number of records written.
pub fn write_calls(
    path: &Path,
    runs: Vec<Run>,
    memory: &[Record],
    zeek_compat: bool,
) -> Result<u64, ParquetError> {
    let mut w = ParquetWriter::calls(create(path)?, zeek_compat)?;
    spill::merge_lines(runs, memory, Format::Parquet, &mut |row| {
        w.push_encoded(row).map_err(io::Error::other)
    })?;
    Ok(w.finish()?.1)
}

/// Write hits to `path`.
pub fn write_hits(path: &Path, hits: &[Hit]) -> Result<u64, ParquetError> {
    let mut w = ParquetWriter::hits(create(path)?)?;
    for h in hits {
        w.push(h)?;
    }
    Ok(w.finish()?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Rows cross batches and row groups in order, and read back as written.
    #[test]
    fn rows_in_several_batches_and_row_groups() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/impacket");
        let files = crate::capture::collect_capture_paths(&[p]).expect("captures");
        let run = crate::engine::run(&files, &crate::engine::Options::default());
        assert!(run.records.len() > 50, "{}", run.records.len());
        // More rows than one batch, in row groups of 1000.
        let n = BATCH_ROWS + 1500;
        let mut w = ParquetWriter::new(
            Vec::new(),
            tables::calls_builder(false),
            tables::Table::Calls,
            1000,
        )
        .expect("writer");
        for r in run.records.iter().cycle().take(n) {
            w.push(r).expect("push");
        }
        let (bytes, written) = w.finish().expect("finish");
        assert_eq!(written, n as u64);
        let path = std::env::temp_dir().join(format!("rpcsift-rg-{}.parquet", std::process::id()));
        std::fs::write(&path, bytes).expect("write");
        let file = File::open(&path).expect("open");
        let _ = std::fs::remove_file(&path);
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("read");
        assert_eq!(reader.metadata().num_row_groups(), n.div_ceil(1000));
        let want: Vec<_> = run.records.iter().cycle().take(n).cloned().collect();
        let want = tables::calls_batch(&want, false).expect("batch");
        let mut at = 0;
        for got in reader.build().expect("reader") {
            let got = got.expect("batch");
            let w = want.slice(at, got.num_rows());
            assert_eq!(got.schema().fields(), w.schema().fields());
            assert_eq!(got.columns(), w.columns(), "rows from {at}");
            at += got.num_rows();
        }
        assert_eq!(at, n);
    }
}
