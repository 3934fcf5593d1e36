//! Arrow tables of call records and of detection hits: the one typed view of what the
//! JSON writers print, shared by `--format parquet` ([`super::parquet`]) and the Python
//! package (`python/`).
//!
//! Each table is a list of [`Column`]s: a name (the JSON key), an Arrow type ([`Kind`])
//! and a getter from the record or hit to a [`Value`]. [`CALL_COLUMNS`] and
//! [`HIT_COLUMNS`] are the only places the fields are listed: adding a field to a table is
//! one line there. Unit tests compare both lists with the keys `serde_json` gives for a
//! fully populated [`Extra`] and [`Hit`], so a field added to either type without a column
//! fails the tests instead of silently missing from Parquet.
//!
//! Types: `ts` and `ts_response` are `timestamp[us, UTC]`; `rtt` stays `float64` seconds
//! (Zeek's `interval` is a double, and the JSON value survives exactly); ports, opnums and
//! counters are unsigned integers of their wire width; `args` is its JSON text (the same
//! bytes the JSON writer prints); lists (`tags`, `techniques`) are Arrow lists. The
//! schema's metadata carries [`SCHEMA_VERSION_KEY`] = [`SCHEMA_VERSION`] and
//! [`TABLE_KEY`] (`calls` or `hits`).

use super::{Extra, Record};
use crate::detect::{Hit, Technique};
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, ListBuilder, StringBuilder, StructBuilder,
    TimestampMicrosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;

/// Version of the call and hit schemas, in the schema (and Parquet file) metadata. Bumped
/// when a column changes type or meaning, or is removed; adding a column does not.
pub const SCHEMA_VERSION: &str = "1";
/// Metadata key holding [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "schema_version";
/// Metadata key naming the table: `calls` or `hits`.
pub const TABLE_KEY: &str = "rpcsift_table";

/// A column's Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Utf8,
    UInt16,
    UInt32,
    UInt64,
    Float64,
    Bool,
    /// `timestamp[us, UTC]`, from seconds since the epoch.
    TimeUs,
    /// `list<utf8>`.
    StrList,
    /// `list<struct<id: utf8, tactic: utf8, name: utf8>>` (ATT&CK techniques of a hit).
    Techniques,
}

impl Kind {
    fn data_type(self) -> DataType {
        match self {
            Kind::Utf8 => DataType::Utf8,
            Kind::UInt16 => DataType::UInt16,
            Kind::UInt32 => DataType::UInt32,
            Kind::UInt64 => DataType::UInt64,
            Kind::Float64 => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::TimeUs => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::StrList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            Kind::Techniques => DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(technique_fields()),
                true,
            ))),
        }
    }
}

fn technique_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("tactic", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
    ])
}

/// One field's value, as a getter reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(&'a str),
    /// Text made for the column (e.g. `args` as JSON).
    String(String),
    U16(u16),
    U32(u32),
    U64(u64),
    F64(f64),
    Bool(bool),
    /// Seconds since the epoch, for a [`Kind::TimeUs`] column.
    Time(f64),
    StrList(&'a [String]),
    Techniques(&'a [Technique]),
}

/// One column of a table of `T`.
pub struct Column<T> {
    /// The JSON key (Zeek's dotted names included: `id.orig_h`).
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    pub get: for<'a> fn(&'a T) -> Value<'a>,
}

const fn col<T>(
    name: &'static str,
    kind: Kind,
    nullable: bool,
    get: for<'a> fn(&'a T) -> Value<'a>,
) -> Column<T> {
    Column {
        name,
        kind,
        nullable,
        get,
    }
}

fn opt_str<S: AsRef<str>>(v: &Option<S>) -> Value<'_> {
    v.as_ref().map_or(Value::Null, |s| Value::Str(s.as_ref()))
}

fn opt_static(v: Option<&'static str>) -> Value<'static> {
    v.map_or(Value::Null, Value::Str)
}

/// A value as JSON text (what the JSON writers print for it), null when absent.
fn json<S: serde::Serialize>(v: &Option<S>) -> Value<'static> {
    match v {
        // Serialising plain data into a string does not fail; should it, the column gets
        // null rather than a made-up value.
        Some(v) => serde_json::to_string(v).map_or(Value::Null, Value::String),
        None => Value::Null,
    }
}

/// An rpcsift field of a call record: null for records without them (`--zeek-compat`).
fn extra<'a>(r: &'a Record, f: impl FnOnce(&'a Extra) -> Value<'a>) -> Value<'a> {
    r.extra.as_deref().map_or(Value::Null, f)
}

/// Columns of the `calls` table, in the JSON writer's order: Zeek's ten `dce_rpc.log`
/// fields (all a `--zeek-compat` table has), then rpcsift's ([`Extra`]).
pub const CALL_COLUMNS: &[Column<Record>] = {
    use Kind::*;
    use Value as V;
    &[
        col("ts", TimeUs, false, |r| V::Time(r.ts)),
        col("uid", Utf8, false, |r| V::Str(&r.uid)),
        col("id.orig_h", Utf8, false, |r| {
            V::String(r.orig_h.to_string())
        }),
        col("id.orig_p", UInt16, false, |r| V::U16(r.orig_p)),
        col("id.resp_h", Utf8, false, |r| {
            V::String(r.resp_h.to_string())
        }),
        col("id.resp_p", UInt16, false, |r| V::U16(r.resp_p)),
        col("rtt", Float64, true, |r| r.rtt.map_or(V::Null, V::F64)),
        col("named_pipe", Utf8, true, |r| opt_str(&r.named_pipe)),
        col("endpoint", Utf8, true, |r| opt_str(&r.endpoint)),
        col("operation", Utf8, true, |r| opt_str(&r.operation)),
        // rpcsift's fields.
        col("uuid", Utf8, true, |r| extra(r, |e| opt_str(&e.uuid))),
        col("opnum", UInt16, false, |r| extra(r, |e| V::U16(e.opnum))),
        col("operation_spec", Utf8, true, |r| {
            extra(r, |e| opt_static(e.operation_spec))
        }),
        col("if_version", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.if_version))
        }),
        col("transport", Utf8, false, |r| {
            extra(r, |e| V::Str(e.transport))
        }),
        col("smb_pipe", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.smb_pipe))
        }),
        col("tree", Utf8, true, |r| extra(r, |e| opt_str(&e.tree))),
        col("smb_user", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.smb_user))
        }),
        col("smb_domain", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.smb_domain))
        }),
        col("smb_workstation", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.smb_workstation))
        }),
        col("sec_addr", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.sec_addr))
        }),
        col("auth_type", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.auth_type))
        }),
        col("auth_level", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.auth_level))
        }),
        col("status", Utf8, false, |r| extra(r, |e| V::Str(e.status))),
        col("fault_code", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.fault_code))
        }),
        col("call_id", UInt32, false, |r| {
            extra(r, |e| V::U32(e.call_id))
        }),
        col("ctx_id", UInt16, false, |r| extra(r, |e| V::U16(e.ctx_id))),
        col("object_uuid", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.object_uuid))
        }),
        col("encrypted", Bool, false, |r| {
            extra(r, |e| V::Bool(e.encrypted))
        }),
        col("decrypted", Bool, true, |r| {
            extra(r, |e| e.decrypted.map_or(V::Null, V::Bool))
        }),
        col("decrypted_with", Utf8, true, |r| {
            extra(r, |e| opt_static(e.decrypted_with))
        }),
        col("big_endian", Bool, false, |r| {
            extra(r, |e| V::Bool(e.big_endian))
        }),
        col("request_fragments", UInt32, false, |r| {
            extra(r, |e| V::U32(e.request_fragments))
        }),
        col("request_stub_len", UInt64, false, |r| {
            extra(r, |e| V::U64(e.request_stub_len))
        }),
        col("response_stub_len", UInt64, false, |r| {
            extra(r, |e| V::U64(e.response_stub_len))
        }),
        col("partial", Bool, false, |r| extra(r, |e| V::Bool(e.partial))),
        col("ts_response", TimeUs, true, |r| {
            extra(r, |e| e.ts_response.map_or(V::Null, V::Time))
        }),
        col("capture", Utf8, false, |r| extra(r, |e| V::Str(&e.capture))),
        col("user", Utf8, true, |r| extra(r, |e| opt_str(&e.user))),
        col("domain", Utf8, true, |r| extra(r, |e| opt_str(&e.domain))),
        col("workstation", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.workstation))
        }),
        col("auth", Utf8, true, |r| extra(r, |e| opt_static(e.auth))),
        col("auth_source", Utf8, true, |r| {
            extra(r, |e| opt_static(e.auth_source))
        }),
        col("args", Utf8, true, |r| extra(r, |e| json(&e.args))),
        col("args_status", Utf8, false, |r| {
            extra(r, |e| V::Str(e.args_status))
        }),
        col("what_ran", Utf8, true, |r| {
            extra(r, |e| opt_str(&e.what_ran))
        }),
    ]
};

/// How many of [`CALL_COLUMNS`] Zeek's log has (the `--zeek-compat` table).
pub const ZEEK_COLUMNS: usize = 10;

/// Columns of the `hits` table, in the JSON writer's order (`detect --format json`).
pub const HIT_COLUMNS: &[Column<Hit>] = {
    use Kind::*;
    use Value as V;
    &[
        col("ts", TimeUs, false, |h| V::Time(h.ts)),
        col("uid", Utf8, false, |h| V::Str(&h.uid)),
        col("id.orig_h", Utf8, false, |h| {
            V::String(h.orig_h.to_string())
        }),
        col("id.orig_p", UInt16, false, |h| V::U16(h.orig_p)),
        col("id.resp_h", Utf8, false, |h| {
            V::String(h.resp_h.to_string())
        }),
        col("id.resp_p", UInt16, false, |h| V::U16(h.resp_p)),
        col("transport", Utf8, true, |h| opt_static(h.transport)),
        col("named_pipe", Utf8, true, |h| opt_str(&h.named_pipe)),
        col("smb_pipe", Utf8, true, |h| opt_str(&h.smb_pipe)),
        col("endpoint", Utf8, true, |h| opt_str(&h.endpoint)),
        col("operation", Utf8, true, |h| opt_str(&h.operation)),
        col("operation_spec", Utf8, true, |h| {
            opt_static(h.operation_spec)
        }),
        col("uuid", Utf8, true, |h| opt_str(&h.uuid)),
        col("opnum", UInt16, true, |h| h.opnum.map_or(V::Null, V::U16)),
        col("status", Utf8, true, |h| opt_static(h.status)),
        col("responded", Bool, false, |h| V::Bool(h.responded)),
        col("techniques", Techniques, false, |h| {
            V::Techniques(&h.techniques)
        }),
        col("matched_by", Utf8, false, |h| V::Str(&h.matched_by)),
        col("set", Utf8, true, |h| opt_static(h.set)),
        col("rule_id", Utf8, true, |h| opt_str(&h.rule_id)),
        col("title", Utf8, true, |h| opt_str(&h.title)),
        col("level", Utf8, true, |h| opt_str(&h.level)),
        col("tags", StrList, false, |h| V::StrList(&h.tags)),
        col("would_match_in_zeek", Bool, true, |h| {
            h.would_match_in_zeek.map_or(V::Null, V::Bool)
        }),
        col("capture", Utf8, true, |h| opt_str(&h.capture)),
        col("user", Utf8, true, |h| opt_str(&h.user)),
        col("domain", Utf8, true, |h| opt_str(&h.domain)),
        col("workstation", Utf8, true, |h| opt_str(&h.workstation)),
        col("auth", Utf8, true, |h| opt_static(h.auth)),
        col("args", Utf8, true, |h| json(&h.args)),
        col("args_status", Utf8, true, |h| opt_static(h.args_status)),
        col("decrypted", Bool, true, |h| {
            h.decrypted.map_or(V::Null, V::Bool)
        }),
        col("decrypted_with", Utf8, true, |h| {
            opt_static(h.decrypted_with)
        }),
        col("what_ran", Utf8, true, |h| opt_str(&h.what_ran)),
        col("what", Utf8, true, |h| opt_str(&h.what)),
        col("context", Utf8, true, |h| opt_static(h.context)),
        col("reason", Utf8, true, |h| opt_str(&h.reason)),
        col("client_is_dc", Bool, true, |h| {
            h.client_is_dc.map_or(V::Null, V::Bool)
        }),
        col("server_is_dc", Bool, true, |h| {
            h.server_is_dc.map_or(V::Null, V::Bool)
        }),
        col("dc_source", Utf8, true, |h| opt_static(h.dc_source)),
    ]
};

/// Which table, for the schema metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Calls,
    Hits,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Calls => "calls",
            Table::Hits => "hits",
        }
    }
}

fn schema_of<T>(columns: &[Column<T>], table: Table) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(c.name, c.kind.data_type(), c.nullable))
        .collect();
    let metadata = HashMap::from([
        (SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string()),
        (TABLE_KEY.to_string(), table.name().to_string()),
    ]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// The columns of a `calls` table: Zeek's ten with `zeek_compat`, all of them otherwise.
pub fn call_columns(zeek_compat: bool) -> &'static [Column<Record>] {
    if zeek_compat {
        &CALL_COLUMNS[..ZEEK_COLUMNS]
    } else {
        CALL_COLUMNS
    }
}

/// Schema of the `calls` table (see [`call_columns`]).
pub fn calls_schema(zeek_compat: bool) -> SchemaRef {
    schema_of(call_columns(zeek_compat), Table::Calls)
}

/// Schema of the `hits` table.
pub fn hits_schema() -> SchemaRef {
    schema_of(HIT_COLUMNS, Table::Hits)
}

/// One column being filled.
enum Builder {
    Utf8(StringBuilder),
    UInt16(UInt16Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    TimeUs(TimestampMicrosecondBuilder),
    StrList(ListBuilder<StringBuilder>),
    Techniques(ListBuilder<StructBuilder>),
}

/// Seconds since the epoch as whole microseconds (rounded to the nearest), or `None` when
/// out of range.
pub fn micros(secs: f64) -> Option<i64> {
    let us = (secs * 1e6).round();
    // i64::MAX as f64 rounds up to 2^63, itself out of range.
    (us.is_finite() && us >= i64::MIN as f64 && us < i64::MAX as f64).then_some(us as i64)
}

/// Whether `v` can go into a column of `kind` (null always can: non-nullable columns are
/// checked when the batch is made).
fn fits(kind: Kind, v: &Value<'_>) -> bool {
    matches!(
        (kind, v),
        (_, Value::Null)
            | (Kind::Utf8, Value::Str(_) | Value::String(_))
            | (Kind::UInt16, Value::U16(_))
            | (Kind::UInt32, Value::U32(_))
            | (Kind::UInt64, Value::U64(_))
            | (Kind::Float64, Value::F64(_))
            | (Kind::Bool, Value::Bool(_))
            | (Kind::TimeUs, Value::Time(_))
            | (Kind::StrList, Value::StrList(_))
            | (Kind::Techniques, Value::Techniques(_))
    )
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Utf8 => Builder::Utf8(StringBuilder::new()),
            Kind::UInt16 => Builder::UInt16(UInt16Builder::new()),
            Kind::UInt32 => Builder::UInt32(UInt32Builder::new()),
            Kind::UInt64 => Builder::UInt64(UInt64Builder::new()),
            Kind::Float64 => Builder::Float64(Float64Builder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::TimeUs => {
                Builder::TimeUs(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            Kind::StrList => Builder::StrList(
                ListBuilder::new(StringBuilder::new()).with_field(Field::new(
                    "item",
                    DataType::Utf8,
                    true,
                )),
            ),
            Kind::Techniques => {
                let fields = technique_fields();
                let inner = StructBuilder::from_fields(fields.clone(), 0);
                Builder::Techniques(ListBuilder::new(inner).with_field(Field::new(
                    "item",
                    DataType::Struct(fields),
                    true,
                )))
            }
        }
    }

    /// Append `v`; a value of the wrong type for the column is an error.
    fn push(&mut self, v: &Value<'_>) -> Result<(), String> {
        match (self, v) {
            (Builder::Utf8(b), Value::Null) => b.append_null(),
            (Builder::Utf8(b), Value::Str(s)) => b.append_value(s),
            (Builder::Utf8(b), Value::String(s)) => b.append_value(s),
            (Builder::UInt16(b), Value::Null) => b.append_null(),
            (Builder::UInt16(b), Value::U16(x)) => b.append_value(*x),
            (Builder::UInt32(b), Value::Null) => b.append_null(),
            (Builder::UInt32(b), Value::U32(x)) => b.append_value(*x),
            (Builder::UInt64(b), Value::Null) => b.append_null(),
            (Builder::UInt64(b), Value::U64(x)) => b.append_value(*x),
            (Builder::Float64(b), Value::Null) => b.append_null(),
            (Builder::Float64(b), Value::F64(x)) => b.append_value(*x),
            (Builder::Bool(b), Value::Null) => b.append_null(),
            (Builder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Builder::TimeUs(b), Value::Null) => b.append_null(),
            (Builder::TimeUs(b), Value::Time(t)) => b.append_option(micros(*t)),
            (Builder::StrList(b), Value::Null) => b.append_null(),
            (Builder::StrList(b), Value::StrList(items)) => {
                for s in *items {
                    b.values().append_value(s);
                }
                b.append(true);
            }
            (Builder::Techniques(b), Value::Null) => b.append_null(),
            (Builder::Techniques(b), Value::Techniques(items)) => {
                let s = b.values();
                for t in *items {
                    let field = |s: &mut StructBuilder, i: usize, v: Option<&str>| {
                        if let Some(f) = s.field_builder::<StringBuilder>(i) {
                            f.append_option(v);
                        }
                    };
                    field(s, 0, Some(&t.id));
                    field(s, 1, t.tactic.as_deref());
                    field(s, 2, t.name.as_deref());
                    s.append(true);
                }
                b.append(true);
            }
            (_, v) => return Err(format!("value {v:?} does not fit the column's type")),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Utf8(b) => Arc::new(b.finish()),
            Builder::UInt16(b) => Arc::new(b.finish()),
            Builder::UInt32(b) => Arc::new(b.finish()),
            Builder::UInt64(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::TimeUs(b) => Arc::new(b.finish()),
            Builder::StrList(b) => Arc::new(b.finish()),
            Builder::Techniques(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows of one table gathered into Arrow arrays, a batch at a time.
pub struct TableBuilder<T: 'static> {
    columns: &'static [Column<T>],
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
}

impl<T> TableBuilder<T> {
    pub fn new(columns: &'static [Column<T>], table: Table) -> Self {
        TableBuilder {
            columns,
            schema: schema_of(columns, table),
            builders: columns.iter().map(|c| Builder::new(c.kind)).collect(),
            rows: 0,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows gathered since the last [`TableBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append one row.
    pub fn push(&mut self, item: &T) -> Result<(), ArrowError> {
        let values = self.columns.iter().map(|c| (c.get)(item));
        self.push_values(values)
    }

    /// Append one row given as its column values, in column order (extra values past the
    /// table's columns are ignored).
    /// All or nothing: a row with a value of the wrong type, or too few values, appends
    /// nothing (the columns stay the same length).
    fn push_values<'a>(
        &mut self,
        values: impl IntoIterator<Item = Value<'a>>,
    ) -> Result<(), ArrowError> {
        let values: Vec<Value<'a>> = values.into_iter().take(self.columns.len()).collect();
        if values.len() != self.columns.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "row has {} values for {} columns",
                values.len(),
                self.columns.len()
            )));
        }
        for (c, v) in self.columns.iter().zip(&values) {
            if !fits(c.kind, v) {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "column {}: value {v:?} does not fit its type",
                    c.name
                )));
            }
        }
        for ((b, c), v) in self.builders.iter_mut().zip(self.columns).zip(&values) {
            b.push(v)
                .map_err(|e| ArrowError::InvalidArgumentError(format!("column {}: {e}", c.name)))?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Append one row encoded by [`encode_row`] with the same or a longer column list.
    pub fn push_encoded(&mut self, mut row: &[u8]) -> Result<(), ArrowError> {
        let mut values = Vec::with_capacity(self.columns.len());
        for _ in self.columns {
            values.push(decode_value(&mut row).map_err(ArrowError::InvalidArgumentError)?);
        }
        self.push_values(values)
    }

    /// The rows gathered so far as one batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}

/// A builder for a `calls` table (see [`call_columns`]).
pub fn calls_builder(zeek_compat: bool) -> TableBuilder<Record> {
    TableBuilder::new(call_columns(zeek_compat), Table::Calls)
}

/// A builder for a `hits` table.
pub fn hits_builder() -> TableBuilder<Hit> {
    TableBuilder::new(HIT_COLUMNS, Table::Hits)
}

/// Records as one `calls` batch.
pub fn calls_batch(records: &[Record], zeek_compat: bool) -> Result<RecordBatch, ArrowError> {
    let mut b = calls_builder(zeek_compat);
    for r in records {
        b.push(r)?;
    }
    b.finish()
}

/// Hits as one `hits` batch.
pub fn hits_batch(hits: &[Hit]) -> Result<RecordBatch, ArrowError> {
    let mut b = hits_builder();
    for h in hits {
        b.push(h)?;
    }
    b.finish()
}

// Compact encoding of one row's scalar values, for records spilled to disk on the way to
// a Parquet file (`output::spill` stores each record as bytes until the merge). Arrow's
// own formats (IPC, row format) encode whole batches or sort keys, not one record among
// lines of other runs; this is the values of `Column::get`, tagged.
const T_NULL: u8 = 0;
const T_STR: u8 = 1;
const T_U16: u8 = 2;
const T_U32: u8 = 3;
const T_U64: u8 = 4;
const T_F64: u8 = 5;
const T_FALSE: u8 = 6;
const T_TRUE: u8 = 7;
const T_TIME: u8 = 8;

/// Append `item`'s values for `columns` to `out` (read back by
/// [`TableBuilder::push_encoded`]). Only scalar columns can be encoded (calls have no
/// list column).
pub fn encode_row<T>(columns: &[Column<T>], item: &T, out: &mut Vec<u8>) -> Result<(), String> {
    for c in columns {
        match (c.get)(item) {
            Value::Null => out.push(T_NULL),
            Value::Str(s) => encode_str(out, s)?,
            Value::String(s) => encode_str(out, &s)?,
            Value::U16(x) => {
                out.push(T_U16);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::U32(x) => {
                out.push(T_U32);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::U64(x) => {
                out.push(T_U64);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::F64(x) => {
                out.push(T_F64);
                out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Value::Time(x) => {
                out.push(T_TIME);
                out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Value::Bool(b) => out.push(if b { T_TRUE } else { T_FALSE }),
            Value::StrList(_) | Value::Techniques(_) => {
                return Err(format!("column {}: lists are not row-encoded", c.name));
            }
        }
    }
    Ok(())
}

fn encode_str(out: &mut Vec<u8>, s: &str) -> Result<(), String> {
    let n = u32::try_from(s.len()).map_err(|_| "string longer than 4 GiB".to_string())?;
    out.push(T_STR);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn take<const N: usize>(row: &mut &[u8]) -> Result<[u8; N], String> {
    let (head, rest) = row
        .split_first_chunk::<N>()
        .ok_or_else(|| "encoded row ends early".to_string())?;
    *row = rest;
    Ok(*head)
}

fn decode_value<'a>(row: &mut &'a [u8]) -> Result<Value<'a>, String> {
    let [tag] = take::<1>(row)?;
    Ok(match tag {
        T_NULL => Value::Null,
        T_STR => {
            let n = u32::from_le_bytes(take::<4>(row)?) as usize;
            if row.len() < n {
                return Err("encoded row ends early".into());
            }
            let (s, rest) = row.split_at(n);
            *row = rest;
            Value::Str(std::str::from_utf8(s).map_err(|e| e.to_string())?)
        }
        T_U16 => Value::U16(u16::from_le_bytes(take::<2>(row)?)),
        T_U32 => Value::U32(u32::from_le_bytes(take::<4>(row)?)),
        T_U64 => Value::U64(u64::from_le_bytes(take::<8>(row)?)),
        T_F64 => Value::F64(f64::from_bits(u64::from_le_bytes(take::<8>(row)?))),
        T_TIME => Value::Time(f64::from_bits(u64::from_le_bytes(take::<8>(row)?))),
        T_FALSE => Value::Bool(false),
        T_TRUE => Value::Bool(true),
        t => return Err(format!("unknown value tag {t} in encoded row")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{TimestampMicrosecondType, UInt16Type, UInt64Type};
    use arrow_array::{Array, ListArray, StructArray};

    fn all_some_extra() -> Extra {
        Extra {
            uuid: Some("367abb81-9844-35f1-ad32-98f038001003".into()),
            opnum: 12,
            operation_spec: Some("CreateServiceW"),
            if_version: Some("2.0".into()),
            transport: "smb2",
            smb_pipe: Some("svcctl".into()),
            tree: Some("\\\\10.0.0.1\\IPC$".into()),
            smb_user: Some("u".into()),
            smb_domain: Some("d".into()),
            smb_workstation: Some("w".into()),
            sec_addr: Some("\\PIPE\\svcctl".into()),
            auth_type: Some("NTLMSSP".into()),
            auth_level: Some("PKT_INTEGRITY".into()),
            status: "fault",
            fault_code: Some("0x00000005".into()),
            call_id: 7,
            ctx_id: 1,
            object_uuid: Some("00000000-0000-0000-0000-000000000001".into()),
            encrypted: false,
            decrypted: Some(true),
            decrypted_with: Some("keytab"),
            big_endian: true,
            request_fragments: 2,
            request_stub_len: 300,
            response_stub_len: u64::MAX,
            partial: false,
            ts_response: Some(1_700_000_000.25),
            capture: "a.pcap".into(),
            user: Some("bob".into()),
            domain: Some("CORP".into()),
            workstation: Some("WS1".into()),
            auth: Some("ntlm"),
            auth_source: Some("dcerpc"),
            args: None,
            args_status: "no_decoder",
            what_ran: Some("service x: cmd.exe".into()),
        }
    }

    fn record(extra: Option<Extra>) -> Record {
        Record {
            ts: 1347446180.330312,
            uid: "CabC".into(),
            orig_h: "192.168.122.145".parse().expect("ip"),
            orig_p: 55614,
            resp_h: "fe80::1".parse().expect("ip"),
            resp_p: 1024,
            rtt: Some(0.005543947219848633),
            named_pipe: Some("\\PIPE\\drsuapi".into()),
            endpoint: None,
            operation: Some("DRSBind".into()),
            extra: extra.map(Box::new),
            order: (0.0, 0, 0, 0),
        }
    }

    /// The top-level keys of `v`'s JSON object, in the order `serde` writes them.
    fn json_keys(v: &impl serde::Serialize) -> Vec<String> {
        let text = serde_json::to_string(v).expect("json");
        let obj = serde_json::to_value(v).expect("json");
        let obj = obj.as_object().expect("object");
        let mut keys: Vec<(usize, String)> = obj
            .keys()
            .map(|k| {
                let at = text.find(&format!("\"{k}\":")).expect("key in text");
                (at, k.clone())
            })
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    fn names<T>(cols: &[Column<T>]) -> Vec<&'static str> {
        cols.iter().map(|c| c.name).collect()
    }

    /// Every field `serde` writes for a fully populated `Extra` has a column, in order
    /// (so a field added to `Extra` without a column fails here).
    #[test]
    fn call_columns_cover_every_json_field() {
        let keys = json_keys(&all_some_extra());
        let mut want: Vec<&str> = crate::output::ZEEK_FIELDS.to_vec();
        want.extend(keys.iter().map(String::as_str));
        assert_eq!(names(CALL_COLUMNS), want);
        assert_eq!(names(call_columns(true)), crate::output::ZEEK_FIELDS);
    }

    /// The same for hits: one column per JSON key of `detect --format json`.
    #[test]
    fn hit_columns_cover_every_json_field() {
        let r = record(Some(all_some_extra()));
        let mut h = crate::detect::Detector {
            set: Some(crate::detect::indicators::IndicatorSet::Improved),
            rules: vec![],
        }
        .hits(&r)
        .pop()
        .expect("svcctl CreateServiceW is an improved indicator");
        h.rule_id = Some("r".into());
        h.title = Some("t".into());
        h.level = Some("high".into());
        h.tags = vec!["attack.t1569.002".into()];
        assert_eq!(names(HIT_COLUMNS), json_keys(&h));
        let batch = hits_batch(&[h]).expect("batch");
        assert_eq!(batch.num_rows(), 1);
        let tags: &ListArray = batch.column_by_name("tags").expect("tags").as_list::<i32>();
        assert_eq!(
            tags.value(0).as_string::<i32>().value(0),
            "attack.t1569.002"
        );
        let techs: &ListArray = batch
            .column_by_name("techniques")
            .expect("techniques")
            .as_list::<i32>();
        let first = techs.value(0);
        let t: &StructArray = first.as_struct();
        assert_eq!(t.column(0).as_string::<i32>().value(0), "T1569.002");
        assert_eq!(t.column(1).as_string::<i32>().value(0), "execution");
        assert_eq!(
            t.column(2).as_string::<i32>().value(0),
            "System Services: Service Execution"
        );
    }

    #[test]
    fn calls_batch_types_and_values() {
        let mut e = all_some_extra();
        e.args = Some(crate::args::Args::Scm(Default::default()));
        let recs = [record(Some(e.clone())), record(Some(all_some_extra()))];
        let b = calls_batch(&recs, false).expect("batch");
        assert_eq!(b.num_rows(), 2);
        assert_eq!(
            b.schema()
                .metadata()
                .get(SCHEMA_VERSION_KEY)
                .map(String::as_str),
            Some(SCHEMA_VERSION)
        );
        let ts = b.column(0).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_347_446_180_330_312);
        assert_eq!(ts.timezone(), Some("UTC"));
        assert_eq!(b.column(2).as_string::<i32>().value(0), "192.168.122.145");
        assert_eq!(b.column(4).as_string::<i32>().value(0), "fe80::1");
        assert_eq!(b.column(3).as_primitive::<UInt16Type>().value(0), 55614);
        assert!(b.column(8).is_null(0), "endpoint absent");
        let col = |n: &str| b.column_by_name(n).expect(n).clone();
        assert_eq!(
            col("response_stub_len")
                .as_primitive::<UInt64Type>()
                .value(0),
            u64::MAX
        );
        let args = col("args");
        let args = args.as_string::<i32>();
        assert_eq!(args.value(0), serde_json::to_string(&e.args).expect("json"));
        assert!(args.is_null(1));
        assert_eq!(
            col("ts_response")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            1_700_000_000_250_000
        );
        // A Zeek-compat table: Zeek's columns only.
        let z = calls_batch(&[record(None)], true).expect("batch");
        assert_eq!(z.num_columns(), 10);
        // A record without rpcsift's fields cannot fill the full table's required columns.
        assert!(calls_batch(&[record(None)], false).is_err());
    }

    #[test]
    fn encoded_rows_round_trip() {
        let mut e = all_some_extra();
        e.args = Some(crate::args::Args::Scm(Default::default()));
        let recs = [record(Some(e)), record(Some(all_some_extra()))];
        let direct = calls_batch(&recs, false).expect("batch");
        let mut b = calls_builder(false);
        for r in &recs {
            let mut row = Vec::new();
            encode_row(CALL_COLUMNS, r, &mut row).expect("encode");
            b.push_encoded(&row).expect("decode");
        }
        assert_eq!(b.finish().expect("batch"), direct);
        // A full row read into the Zeek-compat table: its first ten values.
        let mut row = Vec::new();
        encode_row(CALL_COLUMNS, &recs[0], &mut row).expect("encode");
        let mut z = calls_builder(true);
        z.push_encoded(&row).expect("decode");
        assert_eq!(
            z.finish().expect("batch"),
            calls_batch(&recs[..1], true).expect("batch")
        );
    }

    #[test]
    fn damaged_rows_are_errors() {
        let mut row = Vec::new();
        encode_row(CALL_COLUMNS, &record(Some(all_some_extra())), &mut row).expect("encode");
        for cut in [0, 1, 5, row.len() / 2, row.len() - 1] {
            let mut b = calls_builder(false);
            assert!(b.push_encoded(&row[..cut]).is_err(), "cut at {cut}");
        }
        let mut b = calls_builder(false);
        assert!(b.push_encoded(&[99]).is_err());
        // A valid value of the wrong type for its column, after good ones: nothing of the
        // row is kept, and the builder goes on.
        let rec = record(Some(all_some_extra()));
        let at = CALL_COLUMNS
            .iter()
            .position(|c| c.name == "encrypted")
            .expect("column");
        let mut bad = Vec::new();
        encode_row(&CALL_COLUMNS[..at], &rec, &mut bad).expect("encode");
        bad.extend_from_slice(&[T_U16, 1, 0]);
        encode_row(&CALL_COLUMNS[at + 1..], &rec, &mut bad).expect("encode");
        let mut b = calls_builder(false);
        let err = b.push_encoded(&bad).expect_err("u16 in a bool column");
        assert!(err.to_string().contains("column encrypted"), "{err}");
        assert!(b.is_empty());
        b.push_encoded(&row).expect("good row");
        assert_eq!(b.finish().expect("batch").num_rows(), 1);
        let mut b = calls_builder(true);
        assert!(b.push_encoded(&[T_TRUE; 10]).is_err());
    }

    #[test]
    fn micros_rounding_and_range() {
        assert_eq!(micros(1347446180.330312), Some(1_347_446_180_330_312));
        assert_eq!(micros(0.0000004), Some(0));
        assert_eq!(micros(-1.5), Some(-1_500_000));
        assert_eq!(micros(f64::NAN), None);
        assert_eq!(micros(1e300), None);
    }
}
