//! `credit-recon ledger load`: copies a data root's ledger files into the PostgreSQL ledger, so
//! that the job (and its tests) can run against the database. Every row the database can hold is
//! upserted by `entry_id` in one transaction; the rows it cannot hold are reported and counted.

use polars::prelude::*;
use tracing::{info, info_span, warn};

use crate::config::LoadConfig;
use crate::db;
use crate::error::{Result, StageExt};
use crate::schema::col;
use crate::sources;

/// How many rejected or duplicate rows are logged one by one; the rest are only counted.
const LOGGED_ROWS: usize = 100;

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOutcome {
    /// Ledger files read.
    pub files: usize,
    /// Rows read from them.
    pub rows_read: u64,
    /// Rows the database cannot hold (unparsable amount or timestamp, unknown entry type or
    /// category, missing id): not loaded.
    pub rejected: u64,
    /// Rows whose `entry_id` an earlier row of the files already had: not loaded.
    pub duplicates: u64,
    /// Rows new to the database.
    pub inserted: u64,
    /// Rows already in the database with other values, now updated.
    pub updated: u64,
    /// Rows already in the database with the same values.
    pub unchanged: u64,
}

/// Loads the ledger files of `cfg.data_root` into `cfg.db`.
pub fn load(cfg: &LoadConfig) -> Result<LoadOutcome> {
    let table = info_span!("sources").in_scope(|| sources::read_ledger_files(&cfg.data_root))?;
    let rows_read: u64 = table.files.iter().map(|f| f.rows).sum();
    log_rows(&table.rejects, "ledger row not loaded: the database cannot hold it");

    // The first row of an entry_id is loaded, as the files' order has it; later ones are reported.
    let marked = table
        .rows
        .clone()
        .lazy()
        .with_column(col(col::ENTRY_ID).is_first_distinct().alias("_first"))
        .collect()
        .stage("load")?;
    let duplicates = marked
        .clone()
        .lazy()
        .filter(col("_first").not())
        .select([
            col(col::SRC_FILE).alias(col::FILE),
            col(col::SRC_ROW).alias(col::ROW),
            col(col::ENTRY_ID).alias(col::RECORD_ID),
            lit("entry_id: duplicate, an earlier row has the same id").alias(col::REASON),
        ])
        .collect()
        .stage("load")?;
    log_rows(&duplicates, "ledger row not loaded: duplicate entry_id");
    let mut rows = marked.lazy().filter(col("_first")).select(text_columns()).collect().stage("load")?;

    let db = &cfg.db;
    let _span = info_span!("load", database = %db).entered();
    let mut client = db.connect("loading the ledger")?;
    let mut tx = client.transaction().map_err(|e| db.error("starting the load transaction", e))?;
    if cfg.create_schema {
        tx.batch_execute(db::SCHEMA_SQL).map_err(|e| db.error("creating the schema (sql/schema.sql)", e))?;
    }
    let schema = db::table_schema(&mut tx, db::LEDGER_TABLE)
        .map_err(|e| db.error("looking up the ledger table", e))?
        .ok_or_else(|| db.error("looking up the ledger table", db::missing_table(db::LEDGER_TABLE)))?;
    tx.batch_execute(db::STAGE_ENTRIES_SQL).map_err(|e| db.error("creating the staging table", e))?;
    let doing = "copying the ledger rows into the staging table (COPY FROM STDIN)";
    let mut writer = tx
        .copy_in(
            "COPY recon_load_entries (entry_id, posted_at, account_id, project_id, entry_type, category, \
             amount, reference_id, balance_after) FROM STDIN WITH (FORMAT csv, HEADER true)",
        )
        .map_err(|e| db.error(doing, e))?;
    CsvWriter::new(&mut writer).include_header(true).finish(&mut rows).map_err(|e| db.error(doing, e))?;
    let copied = writer.finish().map_err(|e| db.error(doing, e))?;
    let counts = tx
        .query_one(db::LOAD_ENTRIES_SQL, &[])
        .map_err(|e| db.error("upserting into the ledger table (sql/load_entries.sql)", e))?;
    let count = |i: usize| -> Result<u64> {
        let n: i64 = counts.try_get(i).map_err(|e| db.error("reading the load's counts", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let (inserted, updated) = (count(0)?, count(1)?);
    tx.commit().map_err(|e| db.error("committing the load", e))?;

    let outcome = LoadOutcome {
        files: table.files.len(),
        rows_read,
        rejected: table.rejects.height() as u64,
        duplicates: duplicates.height() as u64,
        inserted,
        updated,
        unchanged: copied.saturating_sub(inserted + updated),
    };
    info!(
        table = %db.table_name(&schema, db::LEDGER_TABLE),
        files = outcome.files,
        rows_read = outcome.rows_read,
        inserted = outcome.inserted,
        updated = outcome.updated,
        unchanged = outcome.unchanged,
        not_loaded_rejected = outcome.rejected,
        not_loaded_duplicates = outcome.duplicates,
        "loaded the ledger"
    );
    if outcome.rejected + outcome.duplicates > 0 {
        warn!(
            rejected = outcome.rejected,
            duplicates = outcome.duplicates,
            "some ledger rows were not loaded (listed above); fix them in the files and load again"
        );
    }
    Ok(outcome)
}

/// The columns of `ledger_entries` as the text COPY reads: timestamps in RFC 3339 UTC with
/// microseconds, amounts as plain decimals with 4 digits.
fn text_columns() -> Vec<Expr> {
    let money = |c: &str| col(c).cast(DataType::String).alias(c);
    vec![
        col(col::ENTRY_ID),
        col(col::POSTED_AT).dt().to_string("%Y-%m-%dT%H:%M:%S%.6fZ").alias(col::POSTED_AT),
        col(col::ACCOUNT_ID),
        col(col::PROJECT_ID),
        col(col::ENTRY_TYPE),
        col(col::CATEGORY),
        money(col::AMOUNT),
        col(col::REFERENCE_ID),
        money(col::BALANCE_AFTER),
    ]
}

/// Logs the rows of a rejects-shaped frame (`file`, `row`, `record_id`, `reason`), the first
/// [`LOGGED_ROWS`] of them.
fn log_rows(rows: &DataFrame, message: &str) {
    let text = |name: &str| -> Vec<String> {
        rows.column(name)
            .ok()
            .and_then(|c| c.cast(&DataType::String).ok())
            .and_then(|c| c.str().ok().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
            .unwrap_or_default()
    };
    let (files, lines, ids, reasons) =
        (text(col::FILE), text(col::ROW), text(col::RECORD_ID), text(col::REASON));
    for i in 0..rows.height().min(LOGGED_ROWS) {
        let at = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
        warn!(file = at(&files), row = at(&lines), entry_id = at(&ids), reason = at(&reasons), "{message}");
    }
    if rows.height() > LOGGED_ROWS {
        warn!(more = rows.height() - LOGGED_ROWS, "{message} (more rows, not listed)");
    }
}
