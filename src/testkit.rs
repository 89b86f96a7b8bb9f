//! Builders of small input frames for the unit tests: an event is a line of text, a day of the
//! rules is one call.

#![allow(clippy::unwrap_used, reason = "test support")]

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use polars::prelude::*;

use crate::config::{DEFAULT_RULES, Rules};
use crate::schema::{self, col};

/// The built-in rules.
pub fn rules() -> Rules {
    Rules::parse(DEFAULT_RULES, "built-in").unwrap()
}

/// One event; fields not given are null.
#[derive(Debug, Clone, Default)]
pub struct Ev {
    pub id: &'static str,
    pub account: &'static str,
    pub project: &'static str,
    pub at: &'static str,
    pub kind: &'static str,
    pub upload: Option<&'static str>,
    pub tta: Option<Vec<&'static str>>,
    pub dummies: Option<Vec<&'static str>>,
    pub sha: Option<&'static str>,
    pub reported: Option<i64>,
    pub fraction: Option<&'static str>,
    pub rows: Option<i64>,
    pub translated: Option<i64>,
    pub confirmed: Option<bool>,
}

impl Ev {
    /// An event of `kind` at `at` (RFC 3339) in project `p1` of account `a1`.
    pub fn new(id: &'static str, kind: &'static str, at: &'static str) -> Self {
        Ev { id, kind, at, account: "a1", project: "p1", ..Default::default() }
    }
}

fn ts(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc).timestamp_micros()
}

fn money_col(name: &str, values: Vec<Option<&str>>) -> Column {
    Column::new(name.into(), values).cast(&schema::money()).unwrap()
}

fn list_col(name: &str, values: Vec<Option<Vec<&'static str>>>) -> Column {
    let series: Vec<Option<Series>> =
        values.into_iter().map(|v| v.map(|l| Series::new("".into(), l))).collect();
    let mut ca: ListChunked = series.into_iter().collect();
    ca.rename(name.into());
    ca.into_column().cast(&DataType::List(Box::new(DataType::String))).unwrap()
}

/// The events table.
pub fn events(evs: &[Ev]) -> DataFrame {
    let s = |f: fn(&Ev) -> Option<&'static str>| evs.iter().map(f).collect::<Vec<_>>();
    let at: Vec<i64> = evs.iter().map(|e| ts(e.at)).collect();
    let at = Int64Chunked::new(col::OCCURRED_AT.into(), at)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column();
    DataFrame::new_infer_height(vec![
        Column::new(col::EVENT_ID.into(), s(|e| Some(e.id))),
        Column::new(col::ACCOUNT_ID.into(), s(|e| Some(e.account))),
        Column::new(col::PROJECT_ID.into(), s(|e| Some(e.project))),
        at,
        Column::new(col::EVENT_TYPE.into(), s(|e| Some(e.kind))),
        Column::new(col::UPLOAD_ID.into(), s(|e| e.upload)),
        list_col(col::TTA_COLUMNS, evs.iter().map(|e| e.tta.clone()).collect()),
        list_col(col::DUMMY_VALUES, evs.iter().map(|e| e.dummies.clone()).collect()),
        Column::new(col::FILE_SHA256.into(), s(|e| e.sha)),
        Column::new(col::CELLS_REPORTED.into(), evs.iter().map(|e| e.reported).collect::<Vec<_>>()),
        Column::new(
            col::RERUN_SCOPE.into(),
            s(|e| e.fraction.map(|f| if f == "1" { "full" } else { "partial" })),
        ),
        money_col(col::RERUN_FRACTION, s(|e| e.fraction)),
        Column::new(col::ROWS_COMPUTED.into(), evs.iter().map(|e| e.rows).collect::<Vec<_>>()),
        Column::new(col::CELLS_TRANSLATED.into(), evs.iter().map(|e| e.translated).collect::<Vec<_>>()),
        Column::new(col::CONFIRMED.into(), evs.iter().map(|e| e.confirmed).collect::<Vec<_>>()),
    ])
    .unwrap()
}

/// Cells: `(upload_id, column, row_index, value)`.
pub fn cells(rows: &[(&str, &str, i64, Option<&str>)]) -> DataFrame {
    df!(
        col::UPLOAD_ID => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        col::COLUMN => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        col::ROW_INDEX => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        col::VALUE => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        col::SRC_FILE => rows.iter().map(|_| "cells.csv").collect::<Vec<_>>(),
        col::SRC_ROW => (1..=rows.len() as i64).collect::<Vec<_>>(),
    )
    .unwrap()
}

/// Projects `p1` (paying) and `demo` (demo) of account `a1`; plan `basic` with the given free reruns
/// and free smart column runs, translation 0.1 per cell.
pub fn reference(free_reruns: &str, free_smart: i64) -> (DataFrame, DataFrame, DataFrame) {
    let projects = df!(
        col::PROJECT_ID => ["p1", "p2", "demo"],
        col::ACCOUNT_ID => ["a1", "a1", "a1"],
        col::IS_DEMO => [false, false, true],
    )
    .unwrap();
    let accounts = df!(col::ACCOUNT_ID => ["a1"], col::PLAN_ID => ["basic"]).unwrap();
    let plans = DataFrame::new_infer_height(vec![
        Column::new(col::PLAN_ID.into(), ["basic"]),
        money_col(col::FREE_RERUNS, vec![Some(free_reruns)]),
        Column::new(col::FREE_SMART_COLUMN_RUNS.into(), [free_smart]),
        money_col(col::TRANSLATION_CREDITS_PER_CELL, vec![Some("0.1")]),
    ])
    .unwrap();
    (projects, accounts, plans)
}

/// Prices `evs` with `cells` under the built-in rules in `tz`, returning expected charges.
pub fn price(evs: &[Ev], cells_df: DataFrame, free_reruns: &str, free_smart: i64, tz: Tz) -> DataFrame {
    let rules = rules();
    let (projects, accounts, plans) = reference(free_reruns, free_smart);
    let history = crate::rules::prepare_events(
        crate::state::mark_real(events(evs).lazy()),
        projects.lazy(),
        accounts.lazy(),
        plans.lazy(),
        tz,
    )
    .collect()
    .unwrap();
    let counts = crate::rules::upload::count_cells(cells_df.lazy(), history.clone().lazy(), &rules).unwrap();
    crate::rules::price(history.lazy(), counts.per_upload.lazy(), &rules).unwrap().expected
}

/// The expected credits of one event as text (`"12.5000"`, or `"null"`).
pub fn expected_of(expected: &DataFrame, event_id: &str) -> String {
    let row = expected.clone().lazy().filter(col(col::EVENT_ID).eq(lit(event_id))).collect().unwrap();
    assert_eq!(row.height(), 1, "one expected row for {event_id}");
    let v = row.column(col::EXPECTED_CREDITS).unwrap().get(0).unwrap();
    match v {
        AnyValue::Null => "null".to_string(),
        other => other.to_string(),
    }
}

/// A text column of one event's expected row.
pub fn field_of(expected: &DataFrame, event_id: &str, column: &str) -> String {
    let row = expected.clone().lazy().filter(col(col::EVENT_ID).eq(lit(event_id))).collect().unwrap();
    row.column(column)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap_or("null")
        .to_string()
}

/// One ledger entry: `(entry_id, posted_at, entry_type, category, amount, reference_id, balance_after)`.
pub type Le = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// The ledger table (account `a1`, project `p1`).
pub fn entries(rows: &[Le]) -> DataFrame {
    let at: Vec<i64> = rows.iter().map(|r| ts(r.1)).collect();
    let at = Int64Chunked::new(col::POSTED_AT.into(), at)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column();
    DataFrame::new_infer_height(vec![
        Column::new(col::ENTRY_ID.into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
        at,
        Column::new(col::ACCOUNT_ID.into(), rows.iter().map(|_| "a1").collect::<Vec<_>>()),
        Column::new(col::PROJECT_ID.into(), rows.iter().map(|_| Some("p1")).collect::<Vec<_>>()),
        Column::new(col::ENTRY_TYPE.into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
        Column::new(col::CATEGORY.into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
        money_col(col::AMOUNT, rows.iter().map(|r| Some(r.4)).collect()),
        Column::new(col::REFERENCE_ID.into(), rows.iter().map(|r| r.5).collect::<Vec<_>>()),
        money_col(col::BALANCE_AFTER, rows.iter().map(|r| r.6).collect()),
    ])
    .unwrap()
}

/// Prices `evs` (with `cells_df`) and reconciles `date` against `ledger` in UTC.
pub fn reconcile(evs: &[Ev], cells_df: DataFrame, ledger: &[Le], date: &str) -> crate::reconcile::Reconciled {
    reconcile_with_rejected(evs, cells_df, ledger, date, &[])
}

/// As [`reconcile`], with `rejected` the ids of events the run rejected.
pub fn reconcile_with_rejected(
    evs: &[Ev],
    cells_df: DataFrame,
    ledger: &[Le],
    date: &str,
    rejected: &[&str],
) -> crate::reconcile::Reconciled {
    let rules = rules();
    let (projects, accounts, plans) = reference("0", 0);
    let history = crate::rules::prepare_events(
        crate::state::mark_real(events(evs).lazy()),
        projects.lazy(),
        accounts.lazy(),
        plans.lazy(),
        chrono_tz::UTC,
    )
    .collect()
    .unwrap();
    let counts = crate::rules::upload::count_cells(cells_df.lazy(), history.clone().lazy(), &rules).unwrap();
    let priced = crate::rules::price(history.clone().lazy(), counts.per_upload.lazy(), &rules).unwrap();
    let known = history.column(col::EVENT_ID).unwrap().as_materialized_series().clone();
    let input = crate::reconcile::ReconcileInput {
        date: date.parse().unwrap(),
        tz: chrono_tz::UTC,
        history,
        expected: priced.expected,
        timeline: priced.timeline,
        entries: entries(ledger),
        known_event_ids: known,
        rejected_event_ids: Series::new("r".into(), rejected),
    };
    crate::reconcile::reconcile(&input, &rules).unwrap()
}

/// `(type, event_id, entry_id)` of every row of a findings or candidates frame, sorted, with
/// `kind_column` the type or reason column.
pub fn keys(df: &DataFrame, kind_column: &str) -> Vec<(String, String, String)> {
    let text = |c: &str| -> Vec<String> {
        let s = df.column(c).unwrap().cast(&DataType::String).unwrap();
        s.str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect()
    };
    let (k, e, n) = (text(kind_column), text(col::EVENT_ID), text(col::ENTRY_ID));
    let mut out: Vec<_> = (0..df.height()).map(|i| (k[i].clone(), e[i].clone(), n[i].clone())).collect();
    out.sort();
    out
}

/// The refund of the candidate with `reason` for `entry_id`.
pub fn refund_of(df: &DataFrame, reason: &str, entry_id: &str) -> String {
    let row = df
        .clone()
        .lazy()
        .filter(col(col::REASON).eq(lit(reason)).and(col(col::ENTRY_ID).eq(lit(entry_id))))
        .collect()
        .unwrap();
    assert_eq!(row.height(), 1, "{reason} for {entry_id}");
    row.column(col::REFUND_CREDITS).unwrap().get(0).unwrap().to_string()
}
