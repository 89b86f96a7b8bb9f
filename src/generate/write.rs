//! Writes the generated data root: Parquet for the big tables (cells streamed in row groups,
//! events per day, ledger entries per posting date), CSV for the reference tables.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rust_decimal::Decimal;

use super::cells::Cell;
use super::ledger::Ledger;
use super::model::{Event, Kind, World};
use crate::error::{Error, Result, StageExt};
use crate::schema::{self, col};

/// Rows per row group of the cells file.
const CELL_BATCH: usize = 512 * 1024;

fn create(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    File::create(path).map_err(|e| Error::io(path, e))
}

fn decimal_column(name: &str, values: impl Iterator<Item = Option<Decimal>>) -> Result<Column> {
    let mantissas: Int128Chunked = values
        .map(|v| {
            v.map(|mut d| {
                d.rescale(schema::MONEY_SCALE as u32);
                d.mantissa()
            })
        })
        .collect();
    Ok(mantissas
        .with_name(name.into())
        .into_decimal(schema::MONEY_PRECISION, schema::MONEY_SCALE)
        .stage("generate: decimal column")?
        .into_column())
}

fn timestamp_column(name: &str, values: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), values)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    let mut f = create(path)?;
    ParquetWriter::new(&mut f)
        .with_row_group_size(Some(CELL_BATCH))
        .finish(df)
        .map_err(|source| Error::Compute { stage: "generate: write parquet", source })?;
    Ok(())
}

/// Streams one day's cells log into `usage/date=D/cells.parquet`, a row group at a time.
pub struct CellWriter {
    path: PathBuf,
    writer: polars::io::parquet::write::BatchedWriter<File>,
    upload: StringChunkedBuilder,
    column: StringChunkedBuilder,
    row: PrimitiveChunkedBuilder<Int64Type>,
    value: StringChunkedBuilder,
    len: usize,
    failed: Option<Error>,
}

impl std::fmt::Debug for CellWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CellWriter").field("path", &self.path).field("buffered", &self.len).finish()
    }
}

fn cell_schema() -> Schema {
    Schema::from_iter([
        Field::new(col::UPLOAD_ID.into(), DataType::String),
        Field::new(col::COLUMN.into(), DataType::String),
        Field::new(col::ROW_INDEX.into(), DataType::Int64),
        Field::new(col::VALUE.into(), DataType::String),
    ])
}

impl CellWriter {
    /// Opens the cells file of a day.
    pub fn create(path: PathBuf) -> Result<Self> {
        let f = create(&path)?;
        let writer = ParquetWriter::new(f)
            .batched(&cell_schema())
            .map_err(|source| Error::Compute { stage: "generate: cells", source })?;
        Ok(Self {
            path,
            writer,
            upload: StringChunkedBuilder::new(col::UPLOAD_ID.into(), CELL_BATCH),
            column: StringChunkedBuilder::new(col::COLUMN.into(), CELL_BATCH),
            row: PrimitiveChunkedBuilder::new(col::ROW_INDEX.into(), CELL_BATCH),
            value: StringChunkedBuilder::new(col::VALUE.into(), CELL_BATCH),
            len: 0,
            failed: None,
        })
    }

    /// Adds one cell of upload `upload`; writes a row group when the buffer is full.
    pub fn push(&mut self, upload: &str, cell: &Cell<'_>) {
        self.upload.append_value(upload);
        self.column.append_value(cell.column);
        self.row.append_value(cell.row_index);
        self.value.append_option(cell.value);
        self.len += 1;
        if self.len >= CELL_BATCH
            && let Err(e) = self.flush()
        {
            // Reported by `finish`.
            self.failed.get_or_insert(e);
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let take = |b: &mut StringChunkedBuilder, name: &str| {
            std::mem::replace(b, StringChunkedBuilder::new(name.into(), CELL_BATCH)).finish().into_column()
        };
        let upload = take(&mut self.upload, col::UPLOAD_ID);
        let column = take(&mut self.column, col::COLUMN);
        let value = take(&mut self.value, col::VALUE);
        let row =
            std::mem::replace(&mut self.row, PrimitiveChunkedBuilder::new(col::ROW_INDEX.into(), CELL_BATCH))
                .finish()
                .into_column();
        let df = DataFrame::new(self.len, vec![upload, column, row, value]).stage("generate: cells")?;
        self.len = 0;
        self.writer.write_batch(&df).map_err(|source| Error::Compute { stage: "generate: cells", source })
    }

    /// Writes what is buffered and the file's footer.
    pub fn finish(mut self) -> Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.flush()?;
        self.writer.finish().map_err(|source| Error::Compute { stage: "generate: cells", source })?;
        Ok(())
    }
}

/// Writes one day's events (in the order given) to `path`.
pub fn write_events(path: &Path, events: &[Event], world: &World) -> Result<()> {
    let n = events.len();
    let s = |name: &str, f: &dyn Fn(&Event) -> Option<String>| -> Column {
        let mut b = StringChunkedBuilder::new(name.into(), n);
        for e in events {
            b.append_option(f(e));
        }
        b.finish().into_column()
    };
    let i = |name: &str, f: &dyn Fn(&Event) -> Option<i64>| -> Column {
        Int64Chunked::from_iter_options(name.into(), events.iter().map(f)).into_column()
    };
    let list = |name: &str, f: &dyn Fn(&Event) -> Option<Vec<String>>| -> Column {
        let mut b = ListStringChunkedBuilder::new(name.into(), n, n * 2);
        for e in events {
            match f(e) {
                Some(v) => b.append_values_iter(v.iter().map(String::as_str)),
                None => b.append_null(),
            }
        }
        b.finish().into_column()
    };
    let upload = |e: &Event| e.upload.map(|u| &world.uploads[u]);
    let is_upload = |e: &Event| e.kind == Kind::Upload;
    let columns = vec![
        s(col::EVENT_ID, &|e| Some(e.id.clone())),
        s(col::ACCOUNT_ID, &|e| Some(world.accounts[e.account].id.clone())),
        s(col::PROJECT_ID, &|e| Some(world.projects[e.project].id.clone())),
        timestamp_column(col::OCCURRED_AT, events.iter().map(|e| e.at).collect()),
        s(col::EVENT_TYPE, &|e| Some(e.kind.name().to_string())),
        s(col::UPLOAD_ID, &|e| upload(e).map(|u| u.id.clone())),
        list(col::TTA_COLUMNS, &|e| upload(e).filter(|_| is_upload(e)).map(|u| u.spec.tta.clone())),
        list(col::DUMMY_VALUES, &|e| upload(e).filter(|_| is_upload(e)).and_then(|u| u.spec.dummies.clone())),
        s(col::FILE_SHA256, &|e| upload(e).filter(|_| is_upload(e)).map(|u| u.sha.clone())),
        i(col::CELLS_REPORTED, &|e| upload(e).filter(|_| is_upload(e)).and_then(|u| u.reported)),
        s(col::RERUN_SCOPE, &|e| {
            e.fraction.map(|f| if f == Decimal::ONE { "full" } else { "partial" }.to_string())
        }),
        decimal_column(col::RERUN_FRACTION, events.iter().map(|e| e.fraction))?,
        i(col::ROWS_COMPUTED, &|e| e.rows),
        i(col::CELLS_TRANSLATED, &|e| e.translated),
        BooleanChunked::from_iter_options(col::CONFIRMED.into(), events.iter().map(|e| e.confirmed))
            .into_column(),
    ];
    let mut df = DataFrame::new(n, columns).stage("generate: events")?;
    write_parquet(path, &mut df)
}

/// Writes ledger entries (the indices given, in that order) to `path`.
pub fn write_entries(path: &Path, ledger: &Ledger, order: &[usize], world: &World) -> Result<()> {
    let n = order.len();
    let entries = || order.iter().map(|&i| &ledger.entries[i]);
    let s = |name: &str, f: &dyn Fn(&super::ledger::Entry) -> Option<String>| -> Column {
        let mut b = StringChunkedBuilder::new(name.into(), n);
        for e in entries() {
            b.append_option(f(e));
        }
        b.finish().into_column()
    };
    let columns = vec![
        s(col::ENTRY_ID, &|e| Some(e.id.clone())),
        timestamp_column(col::POSTED_AT, entries().map(|e| e.posted).collect()),
        s(col::ACCOUNT_ID, &|e| Some(world.accounts[e.account].id.clone())),
        s(col::PROJECT_ID, &|e| e.project.map(|p| world.projects[p].id.clone())),
        s(col::ENTRY_TYPE, &|e| Some(e.kind.name().to_string())),
        s(col::CATEGORY, &|e| e.category.map(String::from)),
        decimal_column(col::AMOUNT, entries().map(|e| Some(e.amount)))?,
        s(col::REFERENCE_ID, &|e| e.reference.clone()),
        decimal_column(col::BALANCE_AFTER, entries().map(|e| e.balance_after))?,
    ];
    let mut df = DataFrame::new(n, columns).stage("generate: ledger")?;
    write_parquet(path, &mut df)
}

/// One CSV field (RFC 4180): quoted where it holds a separator, quote, line break or edge space;
/// an empty field is a null.
fn csv_field(v: Option<&str>) -> String {
    match v {
        None => String::new(),
        Some(s) if s.contains([',', '"', '\n', '\r']) || s.trim() != s || s.is_empty() => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        Some(s) => s.to_string(),
    }
}

fn write_csv(path: &Path, header: &[&str], rows: Vec<Vec<Option<String>>>) -> Result<()> {
    let mut text = header.join(",");
    text.push('\n');
    for r in rows {
        let fields: Vec<String> = r.iter().map(|v| csv_field(v.as_deref())).collect();
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// Writes `reference/plans.csv`, `accounts.csv` and `projects.csv`.
pub fn write_reference(root: &Path, world: &World) -> Result<()> {
    let dir = root.join("reference");
    let money = |d: Decimal| Some(super::truth::money(d));
    write_csv(
        &dir.join("plans.csv"),
        &[col::PLAN_ID, col::FREE_RERUNS, col::FREE_SMART_COLUMN_RUNS, col::TRANSLATION_CREDITS_PER_CELL],
        world
            .plans
            .iter()
            .map(|p| {
                vec![
                    Some(p.id.to_string()),
                    money(p.free_reruns),
                    Some(p.free_smart.to_string()),
                    money(p.translation_rate),
                ]
            })
            .collect(),
    )?;
    write_csv(
        &dir.join("accounts.csv"),
        &[col::ACCOUNT_ID, col::NAME, col::PLAN_ID, col::SUPPORT_EMAIL],
        world
            .accounts
            .iter()
            .map(|a| {
                vec![
                    Some(a.id.clone()),
                    Some(a.name.clone()),
                    Some(world.plans[a.plan].id.to_string()),
                    a.email.clone(),
                ]
            })
            .collect(),
    )?;
    write_csv(
        &dir.join("projects.csv"),
        &[col::PROJECT_ID, col::ACCOUNT_ID, col::NAME, col::IS_DEMO, col::CREATED_AT],
        world
            .projects
            .iter()
            .map(|p| {
                vec![
                    Some(p.id.clone()),
                    Some(world.accounts[p.account].id.clone()),
                    Some(p.name.clone()),
                    Some(p.is_demo.to_string()),
                    Some(rfc3339(p.created_at)),
                ]
            })
            .collect(),
    )
}
