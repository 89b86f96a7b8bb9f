//! `--write-findings`: puts the findings of a run into `recon_findings` of the ledger database,
//! where support and finance query them, in one transaction: every finding upserted by its stable
//! `finding_id`, and the date's findings that the run no longer has removed, so that a rerun of a
//! date replaces its findings and never duplicates them.

use chrono::NaiveDate;
use polars::prelude::*;
use tracing::info;

use crate::db::{self, Database};
use crate::error::{Result, StageExt};

/// What writing the findings did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingsWritten {
    /// Findings new to the table, or whose values changed.
    pub written: u64,
    /// Findings of the run already in the table with the same values.
    pub unchanged: u64,
    /// Findings of the date in the table that the run no longer has, removed.
    pub removed: u64,
}

/// Upserts `findings` (the rows of `findings.parquet`) of business date `date` into
/// `recon_findings`, stamped with `run_id` and `rule_version` where they change.
pub fn write_findings(
    db: &Database,
    findings: &DataFrame,
    date: NaiveDate,
    run_id: &str,
    rule_version: &str,
) -> Result<FindingsWritten> {
    let names = crate::reconcile::findings::findings_schema();
    let mut rows = findings
        .clone()
        .lazy()
        .select(names.iter_names().map(|n| col(n.clone()).cast(DataType::String)).collect::<Vec<_>>())
        .collect()
        .stage("write findings")?;
    let columns: Vec<&str> = names.iter_names().map(|n| n.as_str()).collect();

    let mut client = db.connect("writing the findings")?;
    let mut tx = client.transaction().map_err(|e| db.error("starting the findings transaction", e))?;
    let schema = db::table_schema(&mut tx, db::FINDINGS_TABLE)
        .map_err(|e| db.error("looking up the findings table", e))?
        .ok_or_else(|| db.error("looking up the findings table", db::missing_table(db::FINDINGS_TABLE)))?;
    tx.batch_execute(db::STAGE_FINDINGS_SQL)
        .map_err(|e| db.error("creating the findings staging table", e))?;
    let doing = "copying the findings into the staging table (COPY FROM STDIN)";
    let mut writer = tx
        .copy_in(&format!(
            "COPY recon_findings_run ({}) FROM STDIN WITH (FORMAT csv, HEADER true)",
            columns.join(", ")
        ))
        .map_err(|e| db.error(doing, e))?;
    CsvWriter::new(&mut writer).include_header(true).finish(&mut rows).map_err(|e| db.error(doing, e))?;
    let staged = writer.finish().map_err(|e| db.error(doing, e))?;
    let written = tx
        .execute(db::UPSERT_FINDINGS_SQL, &[&run_id, &rule_version])
        .map_err(|e| db.error("upserting the findings (sql/upsert_findings.sql)", e))?;
    let removed = tx
        .execute(db::DELETE_STALE_FINDINGS_SQL, &[&date.to_string()])
        .map_err(|e| db.error("removing the date's stale findings (sql/delete_stale_findings.sql)", e))?;
    tx.commit().map_err(|e| db.error("committing the findings", e))?;
    let out = FindingsWritten { written, unchanged: staged.saturating_sub(written), removed };
    info!(
        table = %db.table_name(&schema, db::FINDINGS_TABLE),
        %date,
        written = out.written,
        unchanged = out.unchanged,
        removed = out.removed,
        "wrote the findings to the database"
    );
    Ok(out)
}
