//! Finds the files of a table under the data root (Hive `date=` partitions, split files, Spark
//! folders) and reads each one, whatever its format, into the table's declared schema, keeping
//! every row that breaks the contract aside with its file, row and reason.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::schema::{ColumnSpec, Kind, TableSpec, col};

/// The formats a table file may be in, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// CSV, UTF-8, header row, RFC 4180.
    Csv,
    /// Newline-delimited JSON.
    Ndjson,
}

impl Format {
    fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "parquet" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// One file of a table.
#[derive(Debug, Clone)]
pub struct TableFile {
    /// Path on disk.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The `date=` partition it lies in, if any.
    pub partition: Option<NaiveDate>,
    /// How the rejects report and the manifest name it: the path relative to the data root, or
    /// for rows extracted from a database, the table (`postgres://user@host:port/db#schema.table`).
    pub shown_as: String,
    /// What an error about its content names: the file, or the database table it came from.
    pub origin: PathBuf,
}

impl TableFile {
    /// A file of the data root.
    pub fn in_data_root(root: &Path, path: PathBuf, format: Format, partition: Option<NaiveDate>) -> Self {
        let shown_as = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().to_string();
        Self { origin: path.clone(), path, format, partition, shown_as }
    }
}

/// Lists the files of `table` under `root`, in a stable order. `keep` prunes partitions by date.
pub fn discover(root: &Path, table: &TableSpec, keep: &dyn Fn(NaiveDate) -> bool) -> Result<Vec<TableFile>> {
    let area = root.join(table.area);
    let mut files = Vec::new();
    if table.partitioned {
        for dir in sorted_entries(&area)? {
            let Some(date) = partition_date(&dir) else { continue };
            if dir.is_dir() && keep(date) {
                files.extend(table_files_in(root, &dir, table.name, Some(date))?);
            }
        }
    } else {
        files = table_files_in(root, &area, table.name, None)?;
    }
    Ok(files)
}

fn partition_date(dir: &Path) -> Option<NaiveDate> {
    let name = dir.file_name()?.to_str()?;
    NaiveDate::parse_from_str(name.strip_prefix("date=")?, "%Y-%m-%d").ok()
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        out.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

/// `name.EXT`, `name.*.EXT` and every data file in a folder `name/`.
fn table_files_in(
    root: &Path,
    dir: &Path,
    name: &str,
    partition: Option<NaiveDate>,
) -> Result<Vec<TableFile>> {
    let mut files = Vec::new();
    for path in sorted_entries(dir)? {
        if is_hidden(&path) {
            continue;
        }
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if path.is_dir() && file_name == name {
            for inner in sorted_entries(&path)? {
                if inner.is_file()
                    && !is_hidden(&inner)
                    && let Some(format) = Format::from_path(&inner)
                {
                    files.push(TableFile::in_data_root(root, inner, format, partition));
                }
            }
        } else if path.is_file()
            && (file_name.split('.').next() == Some(name))
            && let Some(format) = Format::from_path(&path)
        {
            files.push(TableFile::in_data_root(root, path, format, partition));
        }
    }
    Ok(files)
}

/// Name of the column that holds the reason a row is rejected (null when it is valid).
pub const REJECT_REASON: &str = "_reason";

/// Name of the boolean column [`read_file_flagged`] adds: the row breaks the contract.
pub const REJECT_FLAG: &str = "_bad";

/// Reads one file as a lazy frame with the table's typed columns, `_file`, `_row` (1-based row
/// number within the file) and `_reason` (why the row breaks the contract, or null). `_file` is
/// the file's [`TableFile::shown_as`].
pub fn read_file(file: &TableFile, table: &TableSpec) -> Result<LazyFrame> {
    read_file_with(file, table, false, &mut true)
}

/// As [`read_file`], plus `_bad`: whether the row breaks the contract, the cheap form of `_reason`
/// for a large table, where counting the bad rows must not build a text per row. The flag is
/// whether the only checks of the file are required columns being present (no text to parse, no
/// list of allowed values), which a Parquet file's footer statistics can answer without a read.
pub fn read_file_flagged(file: &TableFile, table: &TableSpec) -> Result<(LazyFrame, bool)> {
    let mut null_checks_only = true;
    let lf = read_file_with(file, table, true, &mut null_checks_only)?;
    Ok((lf, null_checks_only))
}

/// The rows of a Parquet file, from its footer, when its statistics show no null in any of
/// `columns` (every row group has null counts for them); `None` when they do not say so.
pub fn parquet_rows_without_nulls(path: &Path, columns: &[&str]) -> Result<Option<u64>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if f.metadata().map_err(|e| Error::io(path, e))?.len() == 0 {
        return Ok(None);
    }
    let mut reader = ParquetReader::new(f);
    let md = reader.get_metadata().map_err(|source| Error::Read { file: path.to_path_buf(), source })?;
    for rg in &md.row_groups {
        for name in columns {
            let Some(chunks) = rg.columns_under_root_iter(name) else { return Ok(None) };
            for chunk in chunks {
                let nulls =
                    chunk.statistics(&md.footer_buf).and_then(|s| s.ok()).and_then(|s| s.null_count());
                if nulls != Some(0) {
                    return Ok(None);
                }
            }
        }
    }
    Ok(Some(md.num_rows as u64))
}

fn read_file_with(
    file: &TableFile,
    table: &TableSpec,
    flag: bool,
    null_checks_only: &mut bool,
) -> Result<LazyFrame> {
    let path_str = file.path.to_string_lossy().to_string();
    let read_err = |source| Error::Read { file: file.origin.clone(), source };
    let is_empty = std::fs::metadata(&file.path).map_err(|e| Error::io(&file.path, e))?.len() == 0;
    let row_index = Some(RowIndex { name: col::SRC_ROW.into(), offset: 1 });
    let raw: LazyFrame = if is_empty {
        let schema: Schema =
            table.columns.iter().map(|c| Field::new(c.name.into(), c.kind.ndjson_dtype())).collect();
        DataFrame::empty_with_schema(&schema).lazy().with_row_index(col::SRC_ROW, Some(1))
    } else {
        match file.format {
            Format::Csv => LazyCsvReader::new(PlRefPath::new(&path_str))
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_row_index(row_index)
                .finish()
                .map_err(read_err)?,
            Format::Ndjson => {
                let schema: Schema =
                    table.columns.iter().map(|c| Field::new(c.name.into(), c.kind.ndjson_dtype())).collect();
                LazyJsonLineReader::new(PlRefPath::new(&path_str))
                    .with_schema(Some(Arc::new(schema)))
                    .with_row_index(row_index)
                    .finish()
                    .map_err(read_err)?
            }
            Format::Parquet => {
                let args = ScanArgsParquet { row_index, ..Default::default() };
                LazyFrame::scan_parquet(PlRefPath::new(&path_str), args).map_err(read_err)?
            }
        }
    };
    let mut raw = raw;
    let found = raw.collect_schema().map_err(read_err)?;

    let mut typed = Vec::with_capacity(table.columns.len() + 3);
    let mut problems = Vec::new();
    let mut conditions = Vec::new();
    for spec in table.columns {
        let Some(src) = found.get(spec.name) else {
            return Err(Error::Schema {
                file: file.origin.clone(),
                column: spec.name.to_string(),
                problem: format!("missing (the table {} needs it)", table.name),
            });
        };
        let (value, parse_failed) = convert(spec, src, &file.origin)?;
        let present = col(spec.name).is_not_null();
        *null_checks_only &= parse_failed.is_none() && spec.allowed.is_empty();
        if let Some(failed) = parse_failed {
            conditions.push(present.clone().and(failed.clone()));
            let shown = match src {
                DataType::String => col(spec.name),
                _ => col(spec.name).cast(DataType::String),
            };
            problems.push(
                when(present.clone().and(failed))
                    .then(concat_str(
                        [
                            lit(format!("{}: cannot read '", spec.name)),
                            shown.str().slice(lit(0), lit(40)),
                            lit(format!("' as {:?}", spec.kind).to_lowercase()),
                        ],
                        "",
                        true,
                    ))
                    .otherwise(lit(NULL).cast(DataType::String)),
            );
        }
        if !spec.allowed.is_empty() {
            let allowed = Series::new("allowed".into(), spec.allowed);
            conditions.push(
                col(spec.name)
                    .is_not_null()
                    .and(col(spec.name).is_in(lit(allowed.clone()).implode(false), false).not()),
            );
            problems.push(
                when(
                    col(spec.name)
                        .is_not_null()
                        .and(col(spec.name).is_in(lit(allowed).implode(false), false).not()),
                )
                .then(concat_str(
                    [
                        lit(format!("{}: unknown value '", spec.name)),
                        col(spec.name).str().slice(lit(0), lit(40)),
                        lit(format!("' (allowed: {})", spec.allowed.join(", "))),
                    ],
                    "",
                    true,
                ))
                .otherwise(lit(NULL).cast(DataType::String)),
            );
        }
        if spec.required {
            conditions.push(col(spec.name).is_null());
            problems.push(
                when(col(spec.name).is_null())
                    .then(lit(format!("{}: missing", spec.name)))
                    .otherwise(lit(NULL).cast(DataType::String)),
            );
        }
        typed.push(value.alias(spec.name));
    }
    typed.push(lit(file.shown_as.clone()).alias(col::SRC_FILE));
    typed.push(col(col::SRC_ROW).cast(DataType::Int64));
    typed.push(reason_of(problems).alias(REJECT_REASON));
    if flag {
        let bad = conditions.into_iter().reduce(|a, b| a.or(b)).unwrap_or(lit(false));
        typed.push(bad.fill_null(lit(false)).alias(REJECT_FLAG));
    }
    Ok(raw.select(typed))
}

/// Joins non-null reasons with "; ", null when there is none (or all are empty).
///
/// Row by row, so that a row without a problem (nearly all of them) costs a look at each part and
/// no string: `concat_str` built an empty string for every row of the million-row tables first.
pub fn reason_of(parts: Vec<Expr>) -> Expr {
    let mut parts = parts.into_iter().map(|p| p.cast(DataType::String));
    let Some(first) = parts.next() else { return lit(NULL).cast(DataType::String) };
    let rest: Vec<Expr> = parts.collect();
    first.map_many(
        |c: &mut [Column]| {
            let cols = c.iter().map(|c| c.str()).collect::<PolarsResult<Vec<_>>>()?;
            let height = cols.iter().map(|ca| ca.len()).max().unwrap_or(0);
            // A literal part comes as one value: it stands for every row.
            let mut parts: Vec<Box<dyn Iterator<Item = Option<&str>>>> = cols
                .iter()
                .map(|ca| -> Box<dyn Iterator<Item = Option<&str>>> {
                    if ca.len() == 1 { Box::new(std::iter::repeat(ca.get(0))) } else { Box::new(ca.iter()) }
                })
                .collect();
            let out: StringChunked = (0..height)
                .map(|_| {
                    let mut joined: Option<String> = None;
                    for part in parts.iter_mut().filter_map(|p| p.next().flatten()) {
                        match joined.as_mut() {
                            None => joined = Some(part.to_string()),
                            Some(j) => {
                                j.push_str("; ");
                                j.push_str(part);
                            }
                        }
                    }
                    joined.filter(|j| !j.is_empty())
                })
                .collect();
            Ok(out.with_name(c[0].name().clone()).into_column())
        },
        &rest,
        |_, fields| Ok(Field::new(fields[0].name().clone(), DataType::String)),
    )
}

/// The typed value of a column and, where reading it can fail, the condition of a failure
/// (evaluated where the raw value is not null).
fn convert(spec: &ColumnSpec, src: &DataType, file: &Path) -> Result<(Expr, Option<Expr>)> {
    let c = col(spec.name);
    let mismatch = || Error::Schema {
        file: file.to_path_buf(),
        column: spec.name.to_string(),
        problem: format!("found type {src}, expected {}", spec.kind.dtype()),
    };
    let out = match (spec.kind, src) {
        (_, DataType::Null) => (lit(NULL).cast(spec.kind.dtype()), None),
        (Kind::Str, DataType::String) => (c, None),
        (Kind::Str, s) if s.is_primitive_numeric() || s.is_bool() => (c.cast(DataType::String), None),
        (Kind::Int, DataType::String) => {
            let v = c.str().strip_chars(lit(NULL)).cast(DataType::Int64);
            (v.clone(), Some(v.is_null()))
        }
        (Kind::Int, s) if s.is_integer() => (c.cast(DataType::Int64), None),
        (Kind::Bool, DataType::String) => {
            let t = c.str().strip_chars(lit(NULL)).str().to_lowercase();
            let v = when(t.clone().eq(lit("true")))
                .then(lit(true))
                .when(t.eq(lit("false")))
                .then(lit(false))
                .otherwise(lit(NULL).cast(DataType::Boolean));
            (v.clone(), Some(v.is_null()))
        }
        (Kind::Bool, DataType::Boolean) => (c, None),
        (Kind::Money, DataType::String) => {
            let t = c.str().strip_chars(lit(NULL));
            let well_formed = t.clone().str().contains(lit(r"^[+-]?[0-9]+(\.[0-9]{1,4})?$"), true);
            let v = when(well_formed)
                .then(t.cast(crate::schema::money()))
                .otherwise(lit(NULL).cast(crate::schema::money()));
            (v.clone(), Some(v.is_null()))
        }
        (Kind::Money, DataType::Decimal(_, s)) if *s <= crate::schema::MONEY_SCALE => {
            let v = c.cast(crate::schema::money());
            (v.clone(), Some(v.is_null()))
        }
        (Kind::Money, s) if s.is_integer() => {
            let v = c.cast(crate::schema::money());
            (v.clone(), Some(v.is_null()))
        }
        (Kind::Timestamp, DataType::String) => {
            let v = c.map(parse_rfc3339, |_, f| Ok(Field::new(f.name().clone(), crate::schema::timestamp())));
            (v.clone(), Some(v.is_null()))
        }
        (Kind::Timestamp, DataType::Datetime(_, tz)) => {
            let utc = match tz {
                None => c.dt().replace_time_zone(Some(TimeZone::UTC), lit("raise"), NonExistent::Raise),
                Some(_) => c.dt().convert_time_zone(TimeZone::UTC),
            };
            (utc.dt().cast_time_unit(TimeUnit::Microseconds), None)
        }
        (Kind::StrList, DataType::String) => (c.str().split(lit("|")), None),
        (Kind::StrList, DataType::List(inner)) if inner.is_string() || inner.is_null() => {
            (c.cast(spec.kind.dtype()), None)
        }
        _ => return Err(mismatch()),
    };
    Ok(out)
}

/// Parses RFC 3339 timestamps (any offset) to UTC microseconds; null where the text is not one.
fn parse_rfc3339(c: Column) -> PolarsResult<Column> {
    let ca = c.str()?;
    let micros: Int64Chunked = ca
        .iter()
        .map(|v| v.and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok()).map(|d| d.timestamp_micros()))
        .collect();
    Ok(micros
        .with_name(ca.name().clone())
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column())
}
