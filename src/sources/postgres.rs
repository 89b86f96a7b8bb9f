//! Reads the ledger entries a business date needs straight from the PostgreSQL ledger, as one CSV
//! stream (`COPY ... TO STDOUT`) that goes through the same reader and checks as a ledger file,
//! so that rejects, row numbers and the manifest work the same.

use std::io::{Read, Write};
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use polars::prelude::Expr;
use tracing::info;

use super::files::{Format, TableFile};
use super::{Table, read_files};
use crate::db::{self, Database};
use crate::error::{Error, Result};
use crate::schema;

/// Reads the entries that a run whose ledger bound is `ledger_from` needs (see
/// `sql/extract_entries.sql`) and checks them with `checks`, as [`super::load`] does a ledger file.
/// Any database error, a lost connection included, fails the read: no partial ledger is ever used.
pub fn read_entries(db: &Database, ledger_from: DateTime<Utc>, checks: Vec<Expr>) -> Result<Table> {
    let dir = tempfile::Builder::new()
        .prefix("credit-recon-ledger-")
        .tempdir()
        .map_err(|e| Error::io(&std::env::temp_dir(), e))?;
    let path = dir.path().join("ledger_entries.csv");
    let shown_as = extract(db, ledger_from, &path)?;
    let file = TableFile {
        path,
        format: Format::Csv,
        partition: None,
        origin: PathBuf::from(&shown_as),
        shown_as: shown_as.clone(),
    };
    // The reader collects the rows before it returns, so the stream's file may go with `dir`.
    read_files(&[file], &schema::ENTRIES, &PathBuf::from(shown_as), checks, false)
}

/// Streams the extraction into `path` as CSV with a header row; returns the name of the table read.
fn extract(db: &Database, ledger_from: DateTime<Utc>, path: &std::path::Path) -> Result<String> {
    let bound = ledger_from.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut client = db.connect("reading the ledger")?;
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .map_err(|e| db.error("starting a read-only transaction", e))?;
    let schema = db::table_schema(&mut tx, db::LEDGER_TABLE)
        .map_err(|e| db.error("looking up the ledger table", e))?
        .ok_or_else(|| db.error("looking up the ledger table", db::missing_table(db::LEDGER_TABLE)))?;
    let shown_as = db.table_name(&schema, db::LEDGER_TABLE);
    tx.execute("SELECT set_config('credit_recon.ledger_from', $1::text, true)", &[&bound])
        .map_err(|e| db.error("setting the ledger bound", e))?;

    let doing = format!("extracting the ledger entries posted since {bound} (COPY TO STDOUT)");
    let copy = format!(
        "COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)",
        db::EXTRACT_ENTRIES_SQL.trim().trim_end_matches(';')
    );
    let mut reader = tx.copy_out(copy.as_str()).map_err(|e| db.error(&doing, e))?;
    let mut out = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        // A read error is the connection's (the server's or the network's), not the disk's.
        let n = reader.read(&mut buf).map_err(|e| db.error(&doing, e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| Error::io(path, e))?;
        bytes += n as u64;
    }
    drop(reader);
    out.sync_all().map_err(|e| Error::io(path, e))?;
    tx.commit().map_err(|e| db.error("ending the read-only transaction", e))?;
    info!(database = %db, table = %shown_as, ledger_from = %bound, bytes, "extracted the ledger entries");
    Ok(shown_as)
}
