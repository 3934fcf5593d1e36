//! The `packets` table: a capture's frames as Arrow batches, each with its connection
//! partition, and back (issue 20, the packet-stream seam for distributed engines).
//!
//! A table of packets is what a distributed engine shuffles: every frame carries the
//! partition of its connection ([`engine::frame_partition`], the host-pair hash the
//! one-machine engine routes by), so that all packets of a connection, from whichever
//! file, meet in one task, which turns them back into [`Packet`]s and decodes them through
//! [`engine::MemoryPackets`] and [`engine::analyze_source`].
//!
//! Columns (schema version [`tables::SCHEMA_VERSION`], `rpcsift_table` = `packets`):
//!
//! | column      | type                  | what                                              |
//! |-------------|-----------------------|---------------------------------------------------|
//! | `partition` | int32                 | connection partition, `0..partitions`             |
//! | `ts`        | timestamp[us, UTC]    | capture time cut to the microsecond (null if out of range) |
//! | `link_type` | uint32                | LINKTYPE_* of the frame                           |
//! | `frame`     | binary                | the captured bytes (link layer included)          |
//! | `ordinal`   | uint64                | frame number in its file, file rank in the high bits |
//! | `ts_sec`    | int64                 | capture time: whole seconds since the epoch       |
//! | `ts_nsec`   | uint32                | capture time: nanoseconds within that second      |
//! | `orig_len`  | uint32                | length of the packet on the wire                  |
//! | `file`      | utf8                  | the capture file, named as the records name it    |
//!
//! `ts` is for people and SQL; `ts_sec` and `ts_nsec` keep the capture's full resolution
//! (nanosecond pcap and pcapng) for the decoder, whose connection uids hash the first
//! packet's exact time.

use super::ApiError;
use crate::capture::{Frame, Timestamp};
use crate::engine::Packet;
use crate::output::arrow as tables;
use arrow_array::builder::{
    BinaryBuilder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;

/// Value of the `rpcsift_table` metadata key of a packets table.
pub const TABLE_NAME: &str = "packets";
/// Rows per batch at most.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Frame bytes per batch at most (well below the 2 GiB a `binary` column can hold).
pub const BATCH_BYTES: usize = 64 << 20;

/// Schema of the `packets` table (see the module documentation).
pub fn packets_schema() -> SchemaRef {
    let fields = vec![
        Field::new("partition", DataType::Int32, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("link_type", DataType::UInt32, false),
        Field::new("frame", DataType::Binary, false),
        Field::new("ordinal", DataType::UInt64, false),
        Field::new("ts_sec", DataType::Int64, false),
        Field::new("ts_nsec", DataType::UInt32, false),
        Field::new("orig_len", DataType::UInt32, false),
        Field::new("file", DataType::Utf8, false),
    ];
    let metadata = HashMap::from([
        (
            tables::SCHEMA_VERSION_KEY.to_string(),
            tables::SCHEMA_VERSION.to_string(),
        ),
        (tables::TABLE_KEY.to_string(), TABLE_NAME.to_string()),
    ]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// Microseconds since the epoch, cut (not rounded) as libpcap cuts; `None` out of range.
fn micros(ts: Timestamp) -> Option<i64> {
    ts.secs
        .checked_mul(1_000_000)?
        .checked_add(i64::from(ts.nanos / 1000))
}

/// Fills a packets table, batch after batch.
pub struct PacketsBuilder {
    schema: SchemaRef,
    partition: Int32Builder,
    ts: TimestampMicrosecondBuilder,
    link_type: UInt32Builder,
    frame: BinaryBuilder,
    ordinal: UInt64Builder,
    ts_sec: Int64Builder,
    ts_nsec: UInt32Builder,
    orig_len: UInt32Builder,
    file: StringBuilder,
    rows: usize,
    bytes: usize,
    batches: Vec<RecordBatch>,
}

impl Default for PacketsBuilder {
    fn default() -> Self {
        PacketsBuilder {
            schema: packets_schema(),
            partition: Int32Builder::new(),
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            link_type: UInt32Builder::new(),
            frame: BinaryBuilder::new(),
            ordinal: UInt64Builder::new(),
            ts_sec: Int64Builder::new(),
            ts_nsec: UInt32Builder::new(),
            orig_len: UInt32Builder::new(),
            file: StringBuilder::new(),
            rows: 0,
            bytes: 0,
            batches: Vec::new(),
        }
    }
}

impl PacketsBuilder {
    /// One frame of `file`, in partition `partition`, numbered `ordinal`.
    pub fn push(
        &mut self,
        partition: i32,
        frame: &Frame<'_>,
        ordinal: u64,
        file: &str,
    ) -> Result<(), ArrowError> {
        self.partition.append_value(partition);
        self.ts.append_option(micros(frame.ts));
        self.link_type.append_value(frame.linktype);
        self.frame.append_value(frame.data);
        self.ordinal.append_value(ordinal);
        self.ts_sec.append_value(frame.ts.secs);
        self.ts_nsec.append_value(frame.ts.nanos);
        self.orig_len.append_value(frame.orig_len);
        self.file.append_value(file);
        self.rows += 1;
        self.bytes += frame.data.len();
        if self.rows >= BATCH_ROWS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ArrowError> {
        if self.rows == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.partition.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.link_type.finish()),
            Arc::new(self.frame.finish()),
            Arc::new(self.ordinal.finish()),
            Arc::new(self.ts_sec.finish()),
            Arc::new(self.ts_nsec.finish()),
            Arc::new(self.orig_len.finish()),
            Arc::new(self.file.finish()),
        ];
        self.batches
            .push(RecordBatch::try_new(self.schema.clone(), columns)?);
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// The batches (none when no frame was pushed) and their schema.
    pub fn finish(mut self) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
        self.flush()?;
        Ok((self.schema, self.batches))
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::Packets(msg.into())
}

/// The integers of a column of any integer type, widened (nulls refused).
fn integers(col: &dyn Array, name: &str) -> Result<Vec<i128>, ApiError> {
    fn widen<T: ArrowPrimitiveType>(col: &dyn Array) -> Option<Vec<Option<i128>>>
    where
        T::Native: Into<i128>,
    {
        col.as_primitive_opt::<T>()
            .map(|a| a.iter().map(|v| v.map(Into::into)).collect())
    }
    let values = match col.data_type() {
        DataType::Int8 => widen::<Int8Type>(col),
        DataType::Int16 => widen::<Int16Type>(col),
        DataType::Int32 => widen::<Int32Type>(col),
        DataType::Int64 => widen::<Int64Type>(col),
        DataType::UInt8 => widen::<UInt8Type>(col),
        DataType::UInt16 => widen::<UInt16Type>(col),
        DataType::UInt32 => widen::<UInt32Type>(col),
        DataType::UInt64 => widen::<UInt64Type>(col),
        other => {
            return Err(bad(format!(
                "column `{name}` must hold integers, not {other}"
            )));
        }
    };
    let values = values.ok_or_else(|| bad(format!("column `{name}`: unreadable integers")))?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| bad(format!("column `{name}` is null in row {i}"))))
        .collect()
}

/// An integer column's values as `T`, each checked.
fn integers_as<T: TryFrom<i128>>(col: &dyn Array, name: &str) -> Result<Vec<T>, ApiError> {
    integers(col, name)?
        .into_iter()
        .map(|v| {
            T::try_from(v).map_err(|_| bad(format!("column `{name}`: value {v} out of range")))
        })
        .collect()
}

/// Times of a `timestamp` column of any unit, exact.
fn timestamps(col: &dyn Array, name: &str) -> Result<Vec<Timestamp>, ApiError> {
    fn split<T: ArrowPrimitiveType<Native = i64>>(
        col: &dyn Array,
        per_sec: i64,
    ) -> Option<Vec<Option<Timestamp>>> {
        let nanos_per_unit = 1_000_000_000 / per_sec;
        col.as_primitive_opt::<T>().map(|a| {
            a.iter()
                .map(|v| {
                    v.map(|v| {
                        let nanos = v.rem_euclid(per_sec) * nanos_per_unit;
                        Timestamp::new(v.div_euclid(per_sec), nanos as u32)
                    })
                })
                .collect()
        })
    }
    let values = match col.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => split::<TimestampSecondType>(col, 1),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            split::<TimestampMillisecondType>(col, 1_000)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            split::<TimestampMicrosecondType>(col, 1_000_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            split::<TimestampNanosecondType>(col, 1_000_000_000)
        }
        other => {
            return Err(bad(format!(
                "column `{name}` must be a timestamp, not {other}"
            )));
        }
    };
    let values = values.ok_or_else(|| bad(format!("column `{name}`: unreadable timestamps")))?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| bad(format!("column `{name}` is null in row {i}"))))
        .collect()
}

/// The bytes of a binary column (`binary`, `large_binary` or `binary_view`).
fn frames(col: &dyn Array, name: &str) -> Result<Vec<Vec<u8>>, ApiError> {
    let values: Vec<Option<&[u8]>> = match col.data_type() {
        DataType::Binary => col.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => col.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => col.as_binary_view().iter().collect(),
        other => {
            return Err(bad(format!("column `{name}` must be binary, not {other}")));
        }
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(<[u8]>::to_vec)
                .ok_or_else(|| bad(format!("column `{name}` is null in row {i}")))
        })
        .collect()
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a dyn Array> {
    batch.column_by_name(name).map(|c| c.as_ref())
}

fn required<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, ApiError> {
    column(batch, name).ok_or_else(|| bad(format!("no `{name}` column")))
}

/// The capture times of a batch: `ts_sec` and `ts_nsec` when both are there (exact),
/// else `ts`.
fn times(batch: &RecordBatch) -> Result<Vec<Timestamp>, ApiError> {
    match (column(batch, "ts_sec"), column(batch, "ts_nsec")) {
        (Some(s), Some(n)) => {
            let secs = integers_as::<i64>(s, "ts_sec")?;
            let nanos = integers_as::<u32>(n, "ts_nsec")?;
            secs.into_iter()
                .zip(nanos)
                .map(|(s, n)| {
                    if n < 1_000_000_000 {
                        Ok(Timestamp::new(s, n))
                    } else {
                        Err(bad(format!(
                            "column `ts_nsec`: {n} is not below one second"
                        )))
                    }
                })
                .collect()
        }
        _ => match column(batch, "ts") {
            Some(ts) => timestamps(ts, "ts"),
            None => Err(bad("no time column (`ts_sec` and `ts_nsec`, or `ts`)")),
        },
    }
}

/// The packets of Arrow batches (a packets table, or any table with its columns: `frame`,
/// `link_type`, the time as `ts_sec` and `ts_nsec` or as `ts`, and `ordinal`), in the
/// order a capture file would deliver them: sorted by `ordinal`. Without an `ordinal`
/// column they are sorted by time (ties keep their order) and numbered from 1.
///
/// Why the ordinal and not the time: the engine numbers connections, reassembles and
/// expires them in capture order, which times do not always give (clocks step back,
/// pcapng interfaces interleave, many packets share a microsecond); sorted by ordinal,
/// any subset of a capture's connections is replayed exactly as the whole capture
/// delivered them, so the records (uids included) are the command line's. A repeated
/// ordinal means packets of two captures were mixed: an error.
pub fn packets_of_batches(batches: &[RecordBatch]) -> Result<Vec<Packet>, ApiError> {
    let mut packets = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    let mut numbered: Option<bool> = None;
    for batch in batches {
        let data = frames(required(batch, "frame")?, "frame")?;
        let links = integers_as::<u32>(required(batch, "link_type")?, "link_type")?;
        let ts = times(batch)?;
        let ordinals = match column(batch, "ordinal") {
            Some(c) => Some(integers_as::<u64>(c, "ordinal")?),
            None => None,
        };
        if *numbered.get_or_insert(ordinals.is_some()) != ordinals.is_some() {
            return Err(bad("some batches have an `ordinal` column and others not"));
        }
        let ordinals = ordinals.unwrap_or_else(|| vec![0; data.len()]);
        for (((data, linktype), ts), ordinal) in data.into_iter().zip(links).zip(ts).zip(ordinals) {
            packets.push(Packet {
                ordinal,
                ts,
                linktype,
                data,
            });
        }
    }
    if numbered == Some(true) {
        packets.sort_by_key(|p| p.ordinal);
        if let Some(w) = packets.windows(2).find(|w| w[0].ordinal == w[1].ordinal) {
            return Err(bad(format!(
                "ordinal {} appears twice: packets of different captures are mixed (decode \
                 each capture's packets apart, or number rotated files as one capture with \
                 `merge` or `rank`)",
                w[0].ordinal
            )));
        }
    } else {
        packets.sort_by_key(|p| p.ts);
        for (i, p) in packets.iter_mut().enumerate() {
            p.ordinal = i as u64 + 1;
        }
    }
    Ok(packets)
}
