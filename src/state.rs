//! The small state a night leaves for the next one, so that a run reads one day of usage instead of
//! all history: the uploads still in place with their import cost, each project's rerun quota used
//! and last paid activity, each account's smart-column runs this month, and each account's last
//! ledger entry. A run for D reads the state of D-1 and writes the state of D; where the state is
//! missing or stale the run prices the whole history instead and writes the state afresh.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::error::{Error, Result, StageExt};
use crate::schema::{self, col, event_type, money};

/// Marks a run's own events: not carried, weight 1 (see [`carried_events`]).
pub fn mark_real(events: LazyFrame) -> LazyFrame {
    events.with_columns([
        lit(false).alias(CARRIED),
        lit(NULL).cast(money()).alias(CARRIED_COST),
        lit(NULL).cast(DataType::String).alias(CARRIED_DUPLICATE_OF),
        lit(1i64).cast(DataType::Int64).alias(WEIGHT),
    ])
}

/// True on the rows made from the state (they are not events of the run).
pub const CARRIED: &str = "_carried";
/// Import cost of a carried upload.
pub const CARRIED_COST: &str = "_carried_cost";
/// The earlier upload a carried upload duplicated on its own date.
pub const CARRIED_DUPLICATE_OF: &str = "_carried_duplicate_of";
/// How many smart-column runs a row stands for (1, or the month's count on a carried row).
pub const WEIGHT: &str = "_weight";

const UPLOADS: &str = "uploads.parquet";
const PROJECTS: &str = "projects.parquet";
const ACCOUNTS: &str = "accounts.parquet";
const LEDGER_TAIL: &str = "ledger_tail.parquet";
const META: &str = "meta.json";

/// What a state was computed from: a state whose meta differs from the current one is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The business date the state closes.
    pub date: NaiveDate,
    /// Business time zone.
    pub time_zone: String,
    /// SHA-256 of the rules file.
    pub rules_sha256: String,
    /// Fingerprint (names, sizes, modification times) of the usage files up to the date.
    pub usage_fingerprint: String,
    /// Tool version that wrote it.
    pub tool_version: String,
}

/// The state at the end of a business date.
#[derive(Debug, Clone)]
pub struct State {
    /// Provenance.
    pub meta: Meta,
    /// Uploads not removed: `upload_id, project_id, account_id, event_id, occurred_at, file_sha256,
    /// expected_credits, duplicate_of`.
    pub uploads: DataFrame,
    /// Per project: `project_id, account_id, reruns_used, last_activity_at, last_activity_id`.
    pub projects: DataFrame,
    /// Per account for the date's month: `account_id, business_month, smart_runs`.
    pub accounts: DataFrame,
    /// Per account, its last ledger entry (a full entries row).
    pub ledger_tail: DataFrame,
}

/// Folder of the state of `date` under the state root.
pub fn dir(root: &Path, date: NaiveDate) -> PathBuf {
    root.join(format!("date={date}"))
}

/// Fingerprint of the usage files in partitions up to `until` (UTC date): listing and sizes only.
pub fn usage_fingerprint(data_root: &Path, until: NaiveDate) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut lines = Vec::new();
    for table in [&schema::EVENTS, &schema::CELLS] {
        for f in crate::sources::files::discover(data_root, table, &|d| d <= until)? {
            let meta = std::fs::metadata(&f.path).map_err(|e| Error::io(&f.path, e))?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let rel = f.path.strip_prefix(data_root).unwrap_or(&f.path).display().to_string();
            lines.push(format!("{rel}\t{}\t{mtime}", meta.len()));
        }
    }
    lines.sort();
    for l in lines {
        hasher.update(l.as_bytes());
        hasher.update(b"\n");
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Reads the state of `date` if it exists and was computed from what `expected` says; None (with
/// the reason logged) where it is missing or stale.
pub fn load(root: &Path, expected: &Meta) -> Result<Option<State>> {
    let d = dir(root, expected.date);
    let meta_path = d.join(META);
    if !meta_path.exists() {
        info!(date = %expected.date, "no state of the previous date: pricing from the whole history");
        return Ok(None);
    }
    let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
    let meta: Meta = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            warn!(path = %meta_path.display(), error = %e, "unreadable state: pricing from the whole history");
            return Ok(None);
        }
    };
    if &meta != expected {
        info!(date = %expected.date, "state of the previous date is stale (inputs, rules or version changed): pricing from the whole history");
        return Ok(None);
    }
    let read = |name: &str| -> Result<DataFrame> {
        let path = d.join(name);
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        ParquetReader::new(file).finish().map_err(|source| Error::Read { file: path, source })
    };
    Ok(Some(State {
        meta,
        uploads: read(UPLOADS)?,
        projects: read(PROJECTS)?,
        accounts: read(ACCOUNTS)?,
        ledger_tail: read(LEDGER_TAIL)?,
    }))
}

/// Writes the state into a staging folder and renames it into place.
pub fn save(root: &Path, state: &mut State) -> Result<PathBuf> {
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    crate::reports::remove_stale_staging(root, ".staging-state-")?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-state-")
        .tempdir_in(root)
        .map_err(|e| Error::io(root, e))?;
    for (name, df) in [
        (UPLOADS, &mut state.uploads),
        (PROJECTS, &mut state.projects),
        (ACCOUNTS, &mut state.accounts),
        (LEDGER_TAIL, &mut state.ledger_tail),
    ] {
        let path = staging.path().join(name);
        let mut f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        ParquetWriter::new(&mut f)
            .finish(df)
            .map_err(|source| Error::Compute { stage: "write state", source })?;
        f.sync_all().map_err(|e| Error::io(&path, e))?;
    }
    let meta_path = staging.path().join(META);
    let text = serde_json::to_string_pretty(&state.meta).map_err(|e| Error::io(&meta_path, e.into()))?;
    std::fs::write(&meta_path, text).map_err(|e| Error::io(&meta_path, e))?;
    let target = dir(root, state.meta.date);
    let staged = staging.keep();
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| Error::io(&target, e))?;
    }
    std::fs::rename(&staged, &target).map_err(|e| Error::io(&target, e))?;
    Ok(target)
}

fn null_of(dtype: DataType) -> Expr {
    lit(NULL).cast(dtype)
}

/// The state as rows in the events schema (plus the markers of [`mark_real`]): one upload per
/// upload still in place (its cost carried), one rerun per project standing for the quota used and
/// placed at its last paid activity, and one smart-column run per account standing for the month's
/// runs (placed at `month_start_marker`, just before the date, and only where the month continues).
pub fn carried_events(state: &State, date: NaiveDate, day_start: chrono::DateTime<Utc>) -> Result<LazyFrame> {
    let ev = &schema::EVENTS;
    let shape = |lf: LazyFrame, fixed: Vec<(&str, Expr)>| -> LazyFrame {
        let mut exprs: Vec<Expr> = ev
            .columns
            .iter()
            .map(|c| {
                let e = fixed
                    .iter()
                    .find(|(n, _)| *n == c.name)
                    .map(|(_, e)| e.clone())
                    .unwrap_or_else(|| null_of(c.kind.dtype()));
                e.cast(c.kind.dtype()).alias(c.name)
            })
            .collect();
        for (name, default) in [
            (col::SRC_FILE, lit("state")),
            (col::SRC_ROW, null_of(DataType::Int64)),
            (CARRIED, lit(true)),
            (CARRIED_COST, null_of(money())),
            (CARRIED_DUPLICATE_OF, null_of(DataType::String)),
            (WEIGHT, lit(1i64)),
        ] {
            let e = fixed.iter().find(|(n, _)| *n == name).map(|(_, e)| e.clone()).unwrap_or(default);
            exprs.push(if name == WEIGHT { e.cast(DataType::Int64) } else { e }.alias(name));
        }
        lf.select(exprs)
    };
    let uploads = shape(
        state.uploads.clone().lazy(),
        vec![
            (col::EVENT_ID, col(col::EVENT_ID)),
            (col::ACCOUNT_ID, col(col::ACCOUNT_ID)),
            (col::PROJECT_ID, col(col::PROJECT_ID)),
            (col::OCCURRED_AT, col(col::OCCURRED_AT)),
            (col::EVENT_TYPE, lit(event_type::UPLOAD)),
            (col::UPLOAD_ID, col(col::UPLOAD_ID)),
            (col::FILE_SHA256, col(col::FILE_SHA256)),
            (CARRIED_COST, col(col::EXPECTED_CREDITS)),
            (CARRIED_DUPLICATE_OF, col("duplicate_of")),
        ],
    );
    let reruns = shape(
        state.projects.clone().lazy().filter(col("last_activity_at").is_not_null()),
        vec![
            (col::EVENT_ID, col("last_activity_id")),
            (col::ACCOUNT_ID, col(col::ACCOUNT_ID)),
            (col::PROJECT_ID, col(col::PROJECT_ID)),
            (col::OCCURRED_AT, col("last_activity_at")),
            (col::EVENT_TYPE, lit(event_type::RERUN)),
            (col::RERUN_FRACTION, col("reruns_used")),
            (col::CONFIRMED, lit(true)),
        ],
    );
    let month = date.format("%Y-%m").to_string();
    let marker = day_start - chrono::Duration::microseconds(1);
    let smart = shape(
        state.accounts.clone().lazy().filter(col(col::MONTH).eq(lit(month))),
        vec![
            (col::EVENT_ID, concat_str([lit("state:smart_column_runs:"), col(col::ACCOUNT_ID)], "", true)),
            (col::ACCOUNT_ID, col(col::ACCOUNT_ID)),
            (col::PROJECT_ID, lit("")),
            (col::OCCURRED_AT, crate::expr::instant_lit(marker)),
            (col::EVENT_TYPE, lit(event_type::SMART_COLUMN_RUN)),
            (col::ROWS_COMPUTED, lit(0i64)),
            (col::CONFIRMED, lit(true)),
            (WEIGHT, col("smart_runs")),
        ],
    );
    concat([uploads, reruns, smart], UnionArgs::default()).stage("state")
}

/// The state at the end of `meta.date` (which ends at `day_end`) from the run's history (carried rows included), its upload
/// timeline, duplicate uploads and ledger entries.
pub fn snapshot(
    meta: Meta,
    day_end: chrono::DateTime<Utc>,
    history: &DataFrame,
    timeline: &DataFrame,
    duplicates: &DataFrame,
    entries: &DataFrame,
) -> Result<State> {
    let alive = timeline
        .clone()
        .lazy()
        .filter(col("removed_seq").is_null())
        .join(
            history.clone().lazy().select([
                col(col::EVENT_ID),
                col(col::ACCOUNT_ID),
                col(CARRIED),
                col(CARRIED_DUPLICATE_OF),
            ]),
            [col(col::EVENT_ID)],
            [col(col::EVENT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            duplicates.clone().lazy(),
            [col(col::EVENT_ID)],
            [col(col::EVENT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col(col::UPLOAD_ID),
            col(col::PROJECT_ID),
            col(col::ACCOUNT_ID),
            col(col::EVENT_ID),
            col(col::OCCURRED_AT),
            col(col::FILE_SHA256),
            col(col::EXPECTED_CREDITS).cast(money()),
            when(col(CARRIED))
                .then(col(CARRIED_DUPLICATE_OF))
                .otherwise(col("_first_event"))
                .alias("duplicate_of"),
        ])
        .sort([col::EVENT_ID], SortMultipleOptions::default())
        .collect()
        .stage("state")?;
    let paying = history.clone().lazy().filter(col(col::IS_DEMO).not());
    let activity = paying
        .clone()
        .filter(
            col(col::EVENT_TYPE)
                .eq(lit(event_type::RERUN))
                .or(col(col::EVENT_TYPE).eq(lit(event_type::SMART_COLUMN_RUN)).and(col(CARRIED).not())),
        )
        .sort([col::SEQ], SortMultipleOptions::default())
        .group_by([col(col::PROJECT_ID)])
        .agg([
            col(col::ACCOUNT_ID).last(),
            col(col::RERUN_FRACTION)
                .filter(col(col::EVENT_TYPE).eq(lit(event_type::RERUN)))
                .sum()
                .cast(money())
                .fill_null(lit(0).cast(money()))
                .alias("reruns_used"),
            col(col::OCCURRED_AT).last().alias("last_activity_at"),
            col(col::EVENT_ID).last().alias("last_activity_id"),
        ])
        .sort([col::PROJECT_ID], SortMultipleOptions::default())
        .collect()
        .stage("state")?;
    let month = meta.date.format("%Y-%m").to_string();
    let accounts = paying
        .filter(
            col(col::EVENT_TYPE)
                .eq(lit(event_type::SMART_COLUMN_RUN))
                .and(col(col::MONTH).eq(lit(month.clone()))),
        )
        .group_by([col(col::ACCOUNT_ID)])
        .agg([col(WEIGHT).sum().cast(DataType::Int64).alias("smart_runs")])
        .with_column(lit(month).alias(col::MONTH))
        .select([col(col::ACCOUNT_ID), col(col::MONTH), col("smart_runs")])
        .sort([col::ACCOUNT_ID], SortMultipleOptions::default())
        .collect()
        .stage("state")?;
    let ledger_tail = ledger_tail(entries, day_end)?;
    Ok(State { meta, uploads: alive, projects: activity, accounts, ledger_tail })
}

/// Each account's last entry posted before `day_end`, by `(posted_at, entry_id)`: its latest
/// time, then the greatest id at that time (two group maxima: a sort of the whole ledger by three
/// keys cost ~1 s a night).
fn ledger_tail(entries: &DataFrame, day_end: DateTime<Utc>) -> Result<DataFrame> {
    let latest = |c: &str| -> Result<Expr> {
        Ok(col(c).eq(col(c).max().over([col(col::ACCOUNT_ID)]).stage("state")?))
    };
    entries
        .clone()
        .lazy()
        .filter(col(col::POSTED_AT).lt(crate::expr::instant_lit(day_end)))
        .filter(latest(col::POSTED_AT)?)
        .filter(latest(col::ENTRY_ID)?)
        .unique_stable(Some(cols([col::ACCOUNT_ID])), UniqueKeepStrategy::First)
        .sort([col::ACCOUNT_ID], SortMultipleOptions::default())
        .select(
            schema::ENTRIES
                .columns
                .iter()
                .map(|c| col(c.name))
                .chain([col(col::SRC_FILE), col(col::SRC_ROW)])
                .collect::<Vec<_>>(),
        )
        .collect()
        .stage("state")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_ledger_tail_is_each_accounts_last_entry_by_time_then_id_before_the_day_ends() {
        let le = |id, at| (id, at, "charge", Some("import"), "-1.0000", Some("e1"), Some("10.0000"));
        let mut entries = crate::testkit::entries(&[
            le("a-3", "2026-11-02T09:00:00Z"),
            le("a-9", "2026-11-02T08:00:00Z"), // greater id, earlier
            le("a-5", "2026-11-02T09:00:00Z"), // same time as a-3, greater id: the last
            le("a-7", "2026-11-03T00:00:00Z"), // at the day's end: the next day's
            le("b-1", "2026-11-01T23:00:00Z"),
            le("b-0", "2026-11-01T22:00:00Z"),
        ]);
        let accounts = Column::new(col::ACCOUNT_ID.into(), ["a", "a", "a", "a", "b", "b"]);
        entries.with_column(accounts).unwrap();
        entries.with_column(Column::new(col::SRC_FILE.into(), ["f"; 6])).unwrap();
        entries.with_column(Column::new(col::SRC_ROW.into(), [1i64, 2, 3, 4, 5, 6])).unwrap();
        let day_end = "2026-11-03T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let tail = ledger_tail(&entries, day_end).unwrap();
        let ids: Vec<&str> = tail.column(col::ENTRY_ID).unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(ids, ["a-5", "b-1"]);
        assert_eq!(tail.column(col::SRC_ROW).unwrap().i64().unwrap().get(0), Some(3));
    }
}
