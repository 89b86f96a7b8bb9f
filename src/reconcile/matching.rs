//! Matches the ledger's charges with the events of the business date (SPEC §4 "Matching") and
//! gives every (event, charge) pair in scope its status.

use polars::prelude::*;

use crate::schema::{col, entry_type, money};

/// Reconciliation statuses. The first seven are also finding types.
pub mod status {
    #![allow(missing_docs, reason = "each status is described in the README's reconciliation table")]
    pub const MATCHED: &str = "MATCHED";
    pub const MISSING_CHARGE: &str = "MISSING_CHARGE";
    pub const UNDERCHARGE: &str = "UNDERCHARGE";
    pub const OVERCHARGE: &str = "OVERCHARGE";
    pub const UNEXPECTED_CHARGE: &str = "UNEXPECTED_CHARGE";
    pub const UNCONFIRMED_CHARGE: &str = "UNCONFIRMED_CHARGE";
    pub const DUPLICATE_CHARGE: &str = "DUPLICATE_CHARGE";
    pub const ORPHAN_CHARGE: &str = "ORPHAN_CHARGE";
    pub const NOT_CHARGED_FREE: &str = "NOT_CHARGED_FREE";
    pub const NOT_CHARGED_UNCONFIRMED: &str = "NOT_CHARGED_UNCONFIRMED";
    pub const EXPECTED_UNKNOWN: &str = "EXPECTED_UNKNOWN";
    pub const CHARGE_OF_OTHER_DATE: &str = "CHARGE_OF_OTHER_DATE";
    pub const CHARGE_OF_REJECTED_EVENT: &str = "CHARGE_OF_REJECTED_EVENT";
    pub const NOT_A_CHARGE: &str = "NOT_A_CHARGE";
}

/// The ledger's charges, with `charged_credits = -amount`.
pub fn charges(entries: LazyFrame) -> LazyFrame {
    entries
        .filter(col(col::ENTRY_TYPE).eq(lit(entry_type::CHARGE)))
        .with_column((lit(0).cast(money()) - col(col::AMOUNT)).cast(money()).alias(col::CHARGED_CREDITS))
}

/// The charges of `events` (by `reference_id`), each with its rank among the event's charges in
/// the order `(posted_at, entry_id)`: rank 1 is the event's charge, later ones are duplicates.
///
/// Sorted by event, then `(posted_at, entry_id)`, a charge's rank is its place in its event's
/// run of rows (computed on whole columns: a window per event costs a group each, ~1 M of them).
pub fn ranked_charges(charges: LazyFrame, event_ids: LazyFrame) -> PolarsResult<LazyFrame> {
    // The row's number (entry ids are never null).
    let row = col(col::ENTRY_ID).cum_count(false).cast(DataType::Int64);
    let first_of_event = col(col::REFERENCE_ID).neq_missing(col(col::REFERENCE_ID).shift(lit(1)));
    let run_start = when(first_of_event).then(row.clone()).otherwise(lit(0i64)).cum_max(false);
    Ok(charges
        .join(event_ids, [col(col::REFERENCE_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Semi))
        .sort([col::REFERENCE_ID, col::POSTED_AT, col::ENTRY_ID], SortMultipleOptions::default())
        .with_column((row - run_start + lit(1i64)).alias(col::CHARGE_RANK)))
}

/// The status of an event row joined with one of its charges (or none), SPEC §4's table.
/// `tolerance` is the configured tolerance in credits.
pub fn event_status(tolerance: Expr) -> Expr {
    let expected = col(col::EXPECTED_CREDITS);
    let charged = col(col::CHARGED_CREDITS);
    let unconfirmed = col(col::CONFIRMATION_REQUIRED).fill_null(lit(false));
    when(col(col::ENTRY_ID).is_null())
        .then(
            when(expected.clone().is_null())
                .then(lit(status::EXPECTED_UNKNOWN))
                .when(expected.clone().gt(lit(0)).and(unconfirmed.clone()))
                .then(lit(status::NOT_CHARGED_UNCONFIRMED))
                .when(expected.clone().gt(lit(0)))
                .then(lit(status::MISSING_CHARGE))
                .otherwise(lit(status::NOT_CHARGED_FREE)),
        )
        .when(col(col::CHARGE_RANK).gt(lit(1)))
        .then(lit(status::DUPLICATE_CHARGE))
        .when(expected.clone().is_null())
        .then(lit(status::EXPECTED_UNKNOWN))
        .when(expected.clone().eq(lit(0)))
        .then(lit(status::UNEXPECTED_CHARGE))
        .when(unconfirmed)
        .then(lit(status::UNCONFIRMED_CHARGE))
        .when(charged.clone().lt(expected.clone() - tolerance.clone()))
        .then(lit(status::UNDERCHARGE))
        .when(charged.gt(expected + tolerance))
        .then(lit(status::OVERCHARGE))
        .otherwise(lit(status::MATCHED))
}

/// The columns of `reconciliation.parquet`, in order, with their types.
pub fn reconciliation_schema() -> Schema {
    let m = money();
    Schema::from_iter([
        Field::new(col::BUSINESS_DATE.into(), DataType::Date),
        Field::new(col::EVENT_ID.into(), DataType::String),
        Field::new(col::ENTRY_ID.into(), DataType::String),
        Field::new(col::ACCOUNT_ID.into(), DataType::String),
        Field::new(col::PROJECT_ID.into(), DataType::String),
        Field::new(col::EVENT_TYPE.into(), DataType::String),
        Field::new(col::CATEGORY.into(), DataType::String),
        Field::new(col::ENTRY_TYPE.into(), DataType::String),
        Field::new(col::CHARGE_CATEGORY.into(), DataType::String),
        Field::new(col::OCCURRED_AT.into(), crate::schema::timestamp()),
        Field::new(col::POSTED_AT.into(), crate::schema::timestamp()),
        Field::new(col::EXPECTED_CREDITS.into(), m.clone()),
        Field::new(col::CHARGED_CREDITS.into(), m.clone()),
        Field::new(col::DELTA_CREDITS.into(), m.clone()),
        Field::new(col::AMOUNT.into(), m),
        Field::new(col::CHARGE_RANK.into(), DataType::Int64),
        Field::new(col::CONFIRMATION_REQUIRED.into(), DataType::Boolean),
        Field::new(col::STATUS.into(), DataType::String),
    ])
}

/// Selects `lf` in the shape of [`reconciliation_schema`], nulls for the columns it lacks.
pub fn to_reconciliation(lf: LazyFrame) -> PolarsResult<LazyFrame> {
    let mut lf = lf;
    let have = lf.collect_schema()?;
    let exprs: Vec<Expr> = reconciliation_schema()
        .iter()
        .map(|(name, dtype)| {
            let e = if have.contains(name) { col(name.clone()) } else { lit(NULL) };
            e.cast(dtype.clone()).alias(name.clone())
        })
        .collect();
    Ok(lf.select(exprs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_charge_ranks_by_posting_time_then_entry_id_within_its_event_whatever_the_input_order() {
        let charges = df!(
            col::ENTRY_ID => ["c9", "a2", "b1", "a1", "x1", "a3", "b2"],
            col::REFERENCE_ID => ["e1", "e1", "e2", "e1", "other", "e1", "e2"],
            col::POSTED_AT => [5i64, 3, 7, 3, 1, 1, 2],
        )
        .unwrap();
        let events = df!(col::EVENT_ID => ["e1", "e2"]).unwrap();
        let ranked = ranked_charges(charges.lazy(), events.lazy()).unwrap().collect().unwrap();
        let rows: Vec<(String, i64)> = ranked
            .column(col::ENTRY_ID)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .zip(ranked.column(col::CHARGE_RANK).unwrap().i64().unwrap().iter())
            .map(|(e, r)| (e.unwrap().to_string(), r.unwrap()))
            .collect();
        // e1: a3 (t1), then a1 and a2 (t3, by entry id), then c9 (t5); e2: b2 (t2), b1 (t7); the
        // charge of no event of the date is left out.
        let want = [("a3", 1), ("a1", 2), ("a2", 3), ("c9", 4), ("b2", 1), ("b1", 2)];
        assert_eq!(rows, want.map(|(e, r)| (e.to_string(), r)).to_vec());
    }
}
