//! Turns a data root (and, where the ledger lives in PostgreSQL, the ledger database) into typed
//! tables of SPEC §2 plus a `rejects` table. The only stage that knows file formats, the database
//! and the contract's checks; everything after it sees one schema per table.

pub mod files;
pub mod postgres;

use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use polars::prelude::*;

use crate::expr::implode_lit;
use tracing::{debug, info};

use crate::db::Database;
use crate::error::{Error, Result, StageExt};
use crate::schema::{self, TableSpec, col, entry_type, event_type};
pub use files::{Format, TableFile};
use files::{REJECT_REASON, reason_of};

/// An input file as the manifest lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputFile {
    /// Table it belongs to.
    pub table: &'static str,
    /// Path relative to the data root.
    pub path: String,
    /// Its format.
    pub format: Format,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows read from it (valid and rejected).
    pub rows: u64,
    /// The `date=` partition it lies in (None for the reference tables).
    pub partition: Option<NaiveDate>,
}

/// The valid rows of one table and where they came from.
#[derive(Debug, Clone)]
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// Valid rows, typed, with `_file` and `_row`.
    pub rows: DataFrame,
    /// Rejected rows in the shape of [`schema::rejects_schema`].
    pub rejects: DataFrame,
    /// The files read.
    pub files: Vec<InputFile>,
}

/// Where the credit ledger is read from.
#[derive(Debug, Clone, Default)]
pub enum LedgerSource {
    /// The data root's `ledger/date=D/entries.*` files, every partition.
    #[default]
    Files,
    /// The `ledger_entries` table of a PostgreSQL database: only the entries the date needs
    /// (see [`Window::ledger_from`]), streamed with `COPY ... TO STDOUT`.
    Postgres(Box<Database>),
}

/// A table too large to hold in memory, the cells log: its valid rows stay a lazy scan of its
/// files (read again by each query that needs them), and only the rows that break the contract
/// are collected.
#[derive(Clone)]
pub struct LazyTable {
    /// Table name.
    pub name: &'static str,
    /// Valid rows, typed, with `_file` and `_row`, not read yet.
    pub rows: LazyFrame,
    /// How many rows are valid.
    pub valid_rows: u64,
    /// Rejected rows in the shape of [`schema::rejects_schema`].
    pub rejects: DataFrame,
    /// The files read.
    pub files: Vec<InputFile>,
}

impl std::fmt::Debug for LazyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyTable")
            .field("name", &self.name)
            .field("valid_rows", &self.valid_rows)
            .field("rejects", &self.rejects.height())
            .field("files", &self.files)
            .finish()
    }
}

/// Which partitions of the partitioned tables (and which rows of the ledger database) a run reads.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Usage partitions from this UTC date on (None: all history).
    pub usage_from: Option<NaiveDate>,
    /// Usage partitions up to and including this UTC date (events after it are not needed).
    pub usage_until: NaiveDate,
    /// Ledger partitions from this UTC date on (None: the whole ledger).
    pub ledger_from: Option<NaiveDate>,
    /// The database ledger's bound: entries posted at or after it, the refunds of its charges and,
    /// per account, the last entry before it are all the run needs (see `sql/README.md`). Ledger
    /// files are pruned by `ledger_from` instead.
    pub ledger_since: DateTime<Utc>,
}

/// The UTC instant at which business date `d` starts in `tz`: its first instant whose local date
/// is `d`. Where the clocks skip midnight (a daylight-saving gap), the day starts when the gap
/// ends.
pub fn start_of_day(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = d.and_time(NaiveTime::MIN);
    (0..=24 * 60)
        .map(|m| midnight + chrono::Duration::minutes(m))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .unwrap_or_else(|| tz.from_utc_datetime(&midnight))
        .with_timezone(&Utc)
}

/// Every input of a run.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `reference/plans`.
    pub plans: Table,
    /// `reference/accounts`.
    pub accounts: Table,
    /// `reference/projects`.
    pub projects: Table,
    /// `usage/*/events`, the valid events of the history.
    pub events: Table,
    /// `usage/*/cells`, lazy.
    pub cells: LazyTable,
    /// `ledger/*/entries`.
    pub entries: Table,
}

impl Inputs {
    /// The tables held in memory, in the order of SPEC §2 (the cells log is [`Inputs::cells`]).
    pub fn tables(&self) -> [&Table; 5] {
        [&self.plans, &self.accounts, &self.projects, &self.events, &self.entries]
    }

    /// Every input file, table by table, in the order of SPEC §2.
    pub fn files(&self) -> Vec<InputFile> {
        let t = self.tables();
        t[..4]
            .iter()
            .flat_map(|t| t.files.iter())
            .chain(self.cells.files.iter())
            .chain(self.entries.files.iter())
            .cloned()
            .collect()
    }

    /// The rejected rows of the reference tables and of the partitions `keep` accepts: each reject
    /// is reported once, on the date of its partition.
    pub fn rejects(&self, keep: &dyn Fn(NaiveDate) -> bool) -> Result<DataFrame> {
        let files = self.files_in(keep);
        let t = self.tables();
        let mut frames: Vec<LazyFrame> = t[..4].iter().map(|t| t.rejects.clone().lazy()).collect();
        frames.push(self.cells.rejects.clone().lazy());
        frames.push(self.entries.rejects.clone().lazy());
        let frames: Vec<LazyFrame> = frames
            .into_iter()
            .map(|lf| lf.filter(col(col::FILE).is_in(implode_lit(files.clone()), false)))
            .collect();
        concat(frames, UnionArgs::default()).and_then(|lf| lf.collect()).stage("rejects")
    }

    /// The paths (as the reports show them) of the reference files and of the partitions `keep`
    /// accepts.
    pub fn files_in(&self, keep: &dyn Fn(NaiveDate) -> bool) -> Series {
        let files: Vec<String> =
            self.files().into_iter().filter(|f| f.partition.is_none_or(keep)).map(|f| f.path).collect();
        Series::new("files".into(), files)
    }

    /// Per table: rows read from its files, and valid plus rejected rows (equal when no row is lost).
    pub fn row_balance(&self) -> Vec<(&'static str, u64, u64)> {
        let read = |files: &[InputFile]| files.iter().map(|f| f.rows).sum::<u64>();
        let mut out: Vec<(&'static str, u64, u64)> = self
            .tables()
            .iter()
            .map(|t| (t.name, read(&t.files), (t.rows.height() + t.rejects.height()) as u64))
            .collect();
        let c = &self.cells;
        out.insert(4, (c.name, read(&c.files), c.valid_rows + c.rejects.height() as u64));
        out
    }
}

/// Reads every table of the data root that the run of `window` needs, the ledger from `ledger`.
pub fn load(root: &Path, ledger: &LedgerSource, window: Window) -> Result<Inputs> {
    let all = |_: NaiveDate| true;
    let usage = |d: NaiveDate| d <= window.usage_until && window.usage_from.is_none_or(|f| d >= f);
    let ledger_partition = |d: NaiveDate| window.ledger_from.is_none_or(|f| d >= f);
    let plans = read_table(root, &schema::PLANS, &all, plan_checks(), true)?;
    let accounts = read_table(root, &schema::ACCOUNTS, &all, vec![], true)?;
    let projects = read_table(root, &schema::PROJECTS, &all, vec![], true)?;
    // The three big tables side by side: reading one is mostly one core's work (decoding, the
    // checks, the files' SHA-256), and the machine has more. The first error in this order wins.
    let span = tracing::Span::current();
    let (events, cells, entries) = std::thread::scope(|s| {
        let cells = s.spawn(|| span.in_scope(|| read_lazy_table(root, &schema::CELLS, &usage)));
        let entries = s.spawn(|| {
            span.in_scope(|| match ledger {
                LedgerSource::Files => {
                    read_table(root, &schema::ENTRIES, &ledger_partition, entry_checks(), true)
                }
                LedgerSource::Postgres(db) => postgres::read_entries(db, window.ledger_since, entry_checks()),
            })
        });
        let events = read_table(root, &schema::EVENTS, &usage, event_checks(), true);
        (events, crate::par::joined(cells), crate::par::joined(entries))
    });
    let mut inputs = Inputs { plans, accounts, projects, events: events?, cells: cells?, entries: entries? };
    check_references(&mut inputs)?;
    Ok(inputs)
}

fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

fn fail_if(cond: Expr, reason: &str) -> Expr {
    when(cond).then(lit(reason.to_string())).otherwise(null_str())
}

fn plan_checks() -> Vec<Expr> {
    vec![
        fail_if(col(col::FREE_RERUNS).lt(lit(0)), "free_reruns: negative"),
        fail_if(col(col::FREE_SMART_COLUMN_RUNS).lt(lit(0)), "free_smart_column_runs: negative"),
        fail_if(col(col::TRANSLATION_CREDITS_PER_CELL).lt(lit(0)), "translation_credits_per_cell: negative"),
    ]
}

/// The per-type requirements of SPEC §2's events table.
fn event_checks() -> Vec<Expr> {
    let is = |t: &str| col(col::EVENT_TYPE).eq(lit(t.to_string()));
    let missing = |c: &str| col(c).is_null();
    let fraction = col(col::RERUN_FRACTION);
    let needs_upload =
        is(event_type::UPLOAD).or(is(event_type::TRANSLATION)).or(is(event_type::UPLOAD_DELETED));
    let rerun = is(event_type::RERUN);
    vec![
        fail_if(needs_upload.and(missing(col::UPLOAD_ID)), "upload_id: missing for this event_type"),
        fail_if(is(event_type::UPLOAD).and(missing(col::TTA_COLUMNS)), "tta_columns: missing for an upload"),
        fail_if(is(event_type::UPLOAD).and(col(col::CELLS_REPORTED).lt(lit(0))), "cells_reported: negative"),
        fail_if(rerun.clone().and(missing(col::RERUN_FRACTION)), "rerun_fraction: missing for a rerun"),
        fail_if(
            rerun.clone().and(fraction.clone().lt_eq(lit(0)).or(fraction.clone().gt(lit(1)))),
            "rerun_fraction: not in (0, 1]",
        ),
        fail_if(
            rerun.and(col(col::RERUN_SCOPE).eq(lit("full"))).and(fraction.neq(lit(1))),
            "rerun_fraction: a full rerun must have fraction 1",
        ),
        fail_if(
            is(event_type::SMART_COLUMN_RUN)
                .and(missing(col::ROWS_COMPUTED).or(col(col::ROWS_COMPUTED).lt(lit(0)))),
            "rows_computed: missing or negative for a smart_column_run",
        ),
        fail_if(
            is(event_type::TRANSLATION)
                .and(missing(col::CELLS_TRANSLATED).or(col(col::CELLS_TRANSLATED).lt(lit(0)))),
            "cells_translated: missing or negative for a translation",
        ),
    ]
}

/// SPEC §4: a charge is below 0; a refund, purchase or grant above 0; an adjustment either.
fn entry_checks() -> Vec<Expr> {
    let t = col(col::ENTRY_TYPE);
    let amount = col(col::AMOUNT);
    vec![
        fail_if(
            t.clone().eq(lit(entry_type::CHARGE)).and(amount.clone().gt_eq(lit(0))),
            "amount: a charge must be below 0",
        ),
        fail_if(
            t.is_in(
                implode_lit(Series::new(
                    "t".into(),
                    [entry_type::REFUND, entry_type::PURCHASE, entry_type::GRANT],
                )),
                false,
            )
            .and(amount.lt_eq(lit(0))),
            "amount: a refund, purchase or grant must be above 0",
        ),
    ]
}

/// The data root's ledger files as `credit-recon ledger load` stores them: every row the
/// database can hold (the checks of the reader: ids, enumerations, timestamps, amounts), the sign
/// rule of SPEC §4 left to the run that reads them back, as it is for a ledger file.
pub fn read_ledger_files(root: &Path) -> Result<Table> {
    read_table(root, &schema::ENTRIES, &|_| true, vec![], false)
}

/// Reads all files of one table under the data root, checks every row and splits valid rows
/// from rejects. `unique_key` rejects the second and later rows of the table's record id.
fn read_table(
    root: &Path,
    spec: &TableSpec,
    keep: &dyn Fn(NaiveDate) -> bool,
    checks: Vec<Expr>,
    unique_key: bool,
) -> Result<Table> {
    let found = files::discover(root, spec, keep)?;
    if found.is_empty() && !spec.partitioned {
        return Err(Error::MissingInput { table: spec.name.into(), root: root.join(spec.area) });
    }
    read_files(&found, spec, &root.join(spec.area).join(spec.name), checks, unique_key)
}

/// Reads the files of one table (of the data root, or extracted from a database), checks every
/// row and splits valid rows from rejects; `origin` names the table in errors.
fn read_files(
    found: &[TableFile],
    spec: &TableSpec,
    origin: &Path,
    checks: Vec<Expr>,
    unique_key: bool,
) -> Result<Table> {
    let mut frames = Vec::with_capacity(found.len());
    let mut listed = Vec::with_capacity(found.len());
    for f in found {
        frames.push(files::read_file(f, spec)?);
        let (sha256, bytes) = crate::reports::manifest::sha256_file(&f.path)?;
        listed.push(InputFile {
            table: spec.name,
            path: f.shown_as.clone(),
            format: f.format,
            sha256,
            bytes,
            rows: 0,
            partition: f.partition,
        });
    }
    let mut schema_full = spec.schema();
    schema_full.with_column(col::SRC_FILE.into(), DataType::String);
    schema_full.with_column(col::SRC_ROW.into(), DataType::Int64);
    schema_full.with_column(REJECT_REASON.into(), DataType::String);
    let lf = if frames.is_empty() {
        DataFrame::empty_with_schema(&schema_full).lazy()
    } else {
        concat(frames, UnionArgs { rechunk: false, parallel: true, ..Default::default() }).stage("read")?
    };
    let mut parts = vec![col(REJECT_REASON)];
    parts.extend(checks);
    if unique_key {
        parts.push(fail_if(
            record_id_of(spec).is_first_distinct().not().and(col(REJECT_REASON).is_null()),
            &format!("{}: duplicate, an earlier row has the same id", spec.record_id.join("|")),
        ));
    }
    let checked = lf
        .with_column(reason_of(parts).alias(REJECT_REASON))
        .collect()
        .map_err(|source| Error::Read { file: origin.to_path_buf(), source })?;

    // Row counts per file for the manifest.
    let counts = checked
        .clone()
        .lazy()
        .group_by([col(col::SRC_FILE)])
        .agg([len().alias("n")])
        .collect()
        .stage("read")?;
    let names = counts.column(col::SRC_FILE).stage("read")?.str().stage("read")?.clone();
    let ns = counts.column("n").stage("read")?.cast(&DataType::UInt64).stage("read")?;
    let ns = ns.u64().stage("read")?;
    for (name, n) in names.iter().zip(ns.iter()) {
        if let Some(f) = listed.iter_mut().find(|f| Some(f.path.as_str()) == name) {
            f.rows = n.unwrap_or(0);
        }
    }

    let rejects = reject_rows(checked.clone().lazy(), spec, col(REJECT_REASON).is_not_null())
        .collect()
        .stage("read")?;
    let rows = checked
        .lazy()
        .filter(col(REJECT_REASON).is_null())
        .drop(cols([REJECT_REASON]))
        .collect()
        .stage("read")?;
    info!(
        table = spec.name,
        files = listed.len(),
        rows = rows.height(),
        rejects = rejects.height(),
        "read table"
    );
    Ok(Table { name: spec.name, rows, rejects, files: listed })
}

/// Adds to `known` the ids referenced by `entries` that are no event of the run's partitions but
/// are an event of an older partition (a charge posted late for an old event is no orphan). Reads
/// only the `event_id` column of the older files, and only when such a reference exists.
pub fn resolve_older_events(
    root: &Path,
    entries: &DataFrame,
    known: &Series,
    window: Window,
) -> Result<Series> {
    let unresolved = entries
        .clone()
        .lazy()
        .filter(
            col(col::REFERENCE_ID)
                .is_not_null()
                .and(col(col::REFERENCE_ID).is_in(implode_lit(known.clone()), false).not()),
        )
        .select([col(col::REFERENCE_ID).alias(col::EVENT_ID)])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()
        .stage("older events")?;
    if unresolved.height() == 0 {
        return Ok(known.clone());
    }
    let before = window.usage_from;
    let older = files::discover(root, &schema::EVENTS, &|d| before.is_some_and(|f| d < f))?;
    let mut frames = Vec::new();
    for f in &older {
        frames.push(files::read_file(f, &schema::EVENTS)?.select([col(col::EVENT_ID)]));
    }
    if frames.is_empty() {
        return Ok(known.clone());
    }
    let found = concat(frames, UnionArgs::default())
        .stage("older events")?
        .join(unresolved.lazy(), [col(col::EVENT_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Semi))
        .collect()
        .stage("older events")?;
    let mut all = known.clone();
    all.append(found.column(col::EVENT_ID).stage("older events")?.as_materialized_series())
        .stage("older events")?;
    Ok(all)
}

/// Reads a large table lazily (see [`LazyTable`]): per file, one pass over the columns the
/// contract checks counts its rows and its bad rows; only where there are bad rows are they
/// collected as rejects. The valid rows are never materialised here.
fn read_lazy_table(root: &Path, spec: &TableSpec, keep: &dyn Fn(NaiveDate) -> bool) -> Result<LazyTable> {
    let found = files::discover(root, spec, keep)?;
    let mut frames = Vec::with_capacity(found.len());
    let mut listed = Vec::with_capacity(found.len());
    let mut rejects = Vec::new();
    let mut valid_rows = 0u64;
    let required: Vec<&str> = spec.columns.iter().filter(|c| c.required).map(|c| c.name).collect();
    for f in &found {
        let (frame, null_checks_only) = files::read_file_flagged(f, spec)?;
        let read_err = |source| Error::Read { file: f.path.clone(), source };
        // A Parquet file whose footer shows no null in a required column has no bad row when
        // that is all there is to check: no pass over it is needed.
        let clean_rows = if null_checks_only && f.format == files::Format::Parquet {
            files::parquet_rows_without_nulls(&f.path, &required)?
        } else {
            None
        };
        let (n, bad) = match clean_rows {
            Some(n) => (n, 0),
            None => {
                let stats = frame
                    .clone()
                    .select([
                        len().cast(DataType::UInt64).alias("n"),
                        col(files::REJECT_FLAG).sum().cast(DataType::UInt64).alias("bad"),
                    ])
                    .collect()
                    .map_err(read_err)?;
                let get = |c: &str| -> Result<u64> {
                    Ok(stats.column(c).stage("read")?.u64().stage("read")?.get(0).unwrap_or(0))
                };
                (get("n")?, get("bad")?)
            }
        };
        debug!(file = %f.shown_as, rows = n, bad, from_footer = clean_rows.is_some(), "checked");
        valid_rows += n - bad;
        let (sha256, bytes) = crate::reports::manifest::sha256_file(&f.path)?;
        listed.push(InputFile {
            table: spec.name,
            path: f.shown_as.clone(),
            format: f.format,
            sha256,
            bytes,
            rows: n,
            partition: f.partition,
        });
        let frame = if bad > 0 {
            rejects.push(
                reject_rows(frame.clone(), spec, col(files::REJECT_FLAG)).collect().map_err(read_err)?.lazy(),
            );
            frame.filter(col(files::REJECT_FLAG).not())
        } else {
            frame
        };
        frames.push(frame.drop(cols([REJECT_REASON, files::REJECT_FLAG])));
    }
    let rows = if frames.is_empty() {
        let mut schema = spec.schema();
        schema.with_column(col::SRC_FILE.into(), DataType::String);
        schema.with_column(col::SRC_ROW.into(), DataType::Int64);
        DataFrame::empty_with_schema(&schema).lazy()
    } else {
        concat(frames, UnionArgs { rechunk: false, parallel: true, ..Default::default() }).stage("read")?
    };
    let rejects = if rejects.is_empty() {
        DataFrame::empty_with_schema(&schema::rejects_schema())
    } else {
        concat(rejects, UnionArgs::default()).and_then(|lf| lf.collect()).stage("read")?
    };
    info!(
        table = spec.name,
        files = listed.len(),
        rows = valid_rows,
        rejects = rejects.height(),
        "read table"
    );
    Ok(LazyTable { name: spec.name, rows, valid_rows, rejects, files: listed })
}

/// Events whose account, project or plan is unknown, and accounts whose plan is unknown, cannot be
/// priced: they become rejects.
fn check_references(inputs: &mut Inputs) -> Result<()> {
    let plan_ids =
        inputs.plans.rows.column(col::PLAN_ID).stage("references")?.as_materialized_series().clone();
    let account_ids =
        inputs.accounts.rows.column(col::ACCOUNT_ID).stage("references")?.as_materialized_series().clone();
    let project_ids =
        inputs.projects.rows.column(col::PROJECT_ID).stage("references")?.as_materialized_series().clone();
    split_more(
        &mut inputs.accounts,
        &schema::ACCOUNTS,
        fail_if(col(col::PLAN_ID).is_in(implode_lit(plan_ids), false).not(), "plan_id: unknown plan"),
    )?;
    split_more(
        &mut inputs.events,
        &schema::EVENTS,
        reason_of(vec![
            fail_if(
                col(col::ACCOUNT_ID).is_in(implode_lit(account_ids), false).not(),
                "account_id: unknown account",
            ),
            fail_if(
                col(col::PROJECT_ID).is_in(implode_lit(project_ids), false).not(),
                "project_id: unknown project",
            ),
        ]),
    )
}

/// Moves the rows of `table` for which `reason` is not null to its rejects.
/// The id of a row as the rejects report names it: its record-id columns joined with `|`.
fn record_id_of(spec: &TableSpec) -> Expr {
    concat_str(spec.record_id.iter().map(|c| col(*c).cast(DataType::String)).collect::<Vec<_>>(), "|", true)
}

/// The rows of `lf` selected by `keep`, in the shape of [`schema::rejects_schema`].
fn reject_rows(lf: LazyFrame, spec: &TableSpec, keep: Expr) -> LazyFrame {
    lf.filter(keep).select([
        lit(spec.name).alias(col::TABLE),
        col(col::SRC_FILE).alias(col::FILE),
        col(col::SRC_ROW).alias(col::ROW),
        record_id_of(spec).alias(col::RECORD_ID),
        col(REJECT_REASON).alias(col::REASON),
    ])
}

fn split_more(table: &mut Table, spec: &TableSpec, reason: Expr) -> Result<()> {
    let marked =
        table.rows.clone().lazy().with_column(reason.alias(REJECT_REASON)).collect().stage("references")?;
    let more = reject_rows(marked.clone().lazy(), spec, col(REJECT_REASON).is_not_null());
    table.rejects = concat([table.rejects.clone().lazy(), more], UnionArgs::default())
        .and_then(|lf| lf.collect())
        .stage("references")?;
    table.rows = marked
        .lazy()
        .filter(col(REJECT_REASON).is_null())
        .drop(cols([REJECT_REASON]))
        .collect()
        .stage("references")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_day_starts_at_its_first_instant_even_where_midnight_is_skipped() {
        use chrono::TimeZone as _;
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Santiago skipped from 00:00 to 01:00 on 2022-09-11 (UTC-4 to UTC-3).
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let start = start_of_day(d("2022-09-11"), santiago);
        assert_eq!(start, utc("2022-09-11T04:00:00Z"));
        assert_eq!(santiago.from_utc_datetime(&start.naive_utc()).date_naive(), d("2022-09-11"));
        let before = start - chrono::Duration::microseconds(1);
        assert_eq!(santiago.from_utc_datetime(&before.naive_utc()).date_naive(), d("2022-09-10"));
        // Ordinary days.
        assert_eq!(start_of_day(d("2026-11-02"), chrono_tz::UTC), utc("2026-11-02T00:00:00Z"));
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(start_of_day(d("2026-11-02"), ny), utc("2026-11-02T05:00:00Z"));
    }

    #[test]
    fn a_rows_reasons_are_joined_in_order_and_a_row_without_one_has_none() {
        let df = df!(
            "a" => [Some("a: missing"), None, None, Some("")],
            "b" => [Some("b: unknown value 'x'"), Some("b: negative"), None, None],
        )
        .unwrap();
        let out = df
            .lazy()
            .select([
                reason_of(vec![col("a"), lit(NULL), col("b")]).alias("reason"),
                reason_of(vec![col("b"), lit("always")]).alias("with_literal"),
                reason_of(vec![]).alias("none"),
            ])
            .collect()
            .unwrap();
        let strings = |c: &str| -> Vec<Option<String>> {
            out.column(c).unwrap().str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
        };
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            strings("reason"),
            vec![s("a: missing; b: unknown value 'x'"), s("b: negative"), None, None]
        );
        assert_eq!(
            strings("with_literal"),
            vec![s("b: unknown value 'x'; always"), s("b: negative; always"), s("always"), s("always")]
        );
        assert_eq!(out.column("none").unwrap().null_count(), 4);
    }

    fn write_cells(path: &Path, uploads: &[Option<&str>]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let n = uploads.len();
        let mut df = df!(
            col::UPLOAD_ID => uploads.to_vec(),
            col::COLUMN => vec!["q1"; n],
            col::ROW_INDEX => (0..n as i64).collect::<Vec<_>>(),
            col::VALUE => vec![Some("yes"); n],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut df).unwrap();
    }

    #[test]
    fn a_parquet_files_footer_vouches_for_it_only_when_it_shows_no_null_key() {
        let dir = tempfile::tempdir().unwrap();
        let clean = dir.path().join("usage/date=2026-11-01/cells.parquet");
        let dirty = dir.path().join("usage/date=2026-11-02/cells.parquet");
        write_cells(&clean, &[Some("u1"), Some("u1"), Some("u2")]);
        write_cells(&dirty, &[Some("u3"), None, Some("u3"), Some("u4")]);
        let keys = [col::UPLOAD_ID, col::COLUMN, col::ROW_INDEX];
        assert_eq!(files::parquet_rows_without_nulls(&clean, &keys).unwrap(), Some(3));
        assert_eq!(files::parquet_rows_without_nulls(&dirty, &keys).unwrap(), None);

        // Either way the table counts the same: the null key of the second file is a reject.
        let cells = read_lazy_table(dir.path(), &schema::CELLS, &|_| true).unwrap();
        assert_eq!(cells.valid_rows, 6);
        assert_eq!(cells.rejects.height(), 1);
        let reason = cells.rejects.column(col::REASON).unwrap().str().unwrap().get(0).unwrap().to_string();
        assert!(reason.contains("upload_id: missing"), "{reason}");
        assert_eq!(cells.rows.collect().unwrap().height(), 6);
    }
}
