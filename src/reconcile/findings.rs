//! The findings of SPEC §4, each one a named expression over the reconciliation rows or the
//! ledger, with its severity and a sentence a support agent can read.

use polars::prelude::*;

use crate::expr::{date_lit, implode_lit};

use super::matching::status;
use super::{ReconcileInput, on_business_date, stable_id};
use crate::config::Rules;
use crate::error::{Result, StageExt};
use crate::rules::text;
use crate::schema::{col, event_type, money};

/// Finding types.
pub mod finding {
    #![allow(missing_docs, reason = "each finding type is the one of the same name in SPEC §4")]
    pub const MISSING_CHARGE: &str = "MISSING_CHARGE";
    pub const UNDERCHARGE: &str = "UNDERCHARGE";
    pub const OVERCHARGE: &str = "OVERCHARGE";
    pub const UNEXPECTED_CHARGE: &str = "UNEXPECTED_CHARGE";
    pub const ORPHAN_CHARGE: &str = "ORPHAN_CHARGE";
    pub const DUPLICATE_CHARGE: &str = "DUPLICATE_CHARGE";
    pub const CATEGORY_MISMATCH: &str = "CATEGORY_MISMATCH";
    pub const UNCONFIRMED_CHARGE: &str = "UNCONFIRMED_CHARGE";
    pub const LATE_CHARGE: &str = "LATE_CHARGE";
    pub const BALANCE_BREAK: &str = "BALANCE_BREAK";
    pub const USAGE_DETAIL_MISSING: &str = "USAGE_DETAIL_MISSING";
    /// Every finding type with its severity, in the order of SPEC §4.
    pub const SEVERITY: &[(&str, &str)] = &[
        (MISSING_CHARGE, "medium"),
        (UNDERCHARGE, "medium"),
        (OVERCHARGE, "high"),
        (UNEXPECTED_CHARGE, "high"),
        (ORPHAN_CHARGE, "high"),
        (DUPLICATE_CHARGE, "high"),
        (CATEGORY_MISMATCH, "low"),
        (UNCONFIRMED_CHARGE, "high"),
        (LATE_CHARGE, "low"),
        (BALANCE_BREAK, "high"),
        (USAGE_DETAIL_MISSING, "medium"),
    ];
}

/// The columns of `findings.parquet`, in order, with their types.
pub fn findings_schema() -> Schema {
    let m = money();
    Schema::from_iter([
        Field::new(col::FINDING_ID.into(), DataType::String),
        Field::new(col::BUSINESS_DATE.into(), DataType::Date),
        Field::new(col::FINDING_TYPE.into(), DataType::String),
        Field::new(col::SEVERITY.into(), DataType::String),
        Field::new(col::ACCOUNT_ID.into(), DataType::String),
        Field::new(col::PROJECT_ID.into(), DataType::String),
        Field::new(col::EVENT_ID.into(), DataType::String),
        Field::new(col::ENTRY_ID.into(), DataType::String),
        Field::new(col::EXPECTED_CREDITS.into(), m.clone()),
        Field::new(col::CHARGED_CREDITS.into(), m.clone()),
        Field::new(col::DELTA_CREDITS.into(), m),
        Field::new(col::EXPLANATION.into(), DataType::String),
    ])
}

fn severity_of(finding_type: Expr) -> Expr {
    let pairs: Vec<(Expr, Expr)> = finding::SEVERITY.iter().map(|(t, s)| (lit(*t), lit(*s))).collect();
    crate::rules::lookup(finding_type, &pairs, lit(NULL).cast(DataType::String))
}

/// The findings that are a status of a reconciliation row: missing, under-, over-, unexpected,
/// unconfirmed, duplicate and orphan charges.
fn status_findings(recon: LazyFrame) -> LazyFrame {
    let types = Series::new(
        "t".into(),
        [
            status::MISSING_CHARGE,
            status::UNDERCHARGE,
            status::OVERCHARGE,
            status::UNEXPECTED_CHARGE,
            status::UNCONFIRMED_CHARGE,
            status::DUPLICATE_CHARGE,
            status::ORPHAN_CHARGE,
        ],
    );
    let s = col(col::STATUS);
    let expected = text(col(col::EXPECTED_CREDITS));
    let charged = text(col(col::CHARGED_CREDITS));
    let explanation = when(s.clone().eq(lit(status::MISSING_CHARGE)))
        .then(concat_str(
            [lit("no charge in the ledger for this event; expected "), expected.clone(), lit(" credits")],
            "",
            true,
        ))
        .when(s.clone().eq(lit(status::UNDERCHARGE)))
        .then(concat_str(
            [lit("charged "), charged.clone(), lit(" credits, expected "), expected.clone()],
            "",
            true,
        ))
        .when(s.clone().eq(lit(status::OVERCHARGE)))
        .then(concat_str(
            [lit("charged "), charged.clone(), lit(" credits, expected "), expected.clone()],
            "",
            true,
        ))
        .when(s.clone().eq(lit(status::UNEXPECTED_CHARGE)))
        .then(concat_str(
            [lit("charged "), charged.clone(), lit(" credits for an event that costs 0")],
            "",
            true,
        ))
        .when(s.clone().eq(lit(status::UNCONFIRMED_CHARGE)))
        .then(concat_str(
            [lit("charged "), charged.clone(), lit(" credits for a paid action the user did not confirm")],
            "",
            true,
        ))
        .when(s.clone().eq(lit(status::DUPLICATE_CHARGE)))
        .then(concat_str(
            [
                lit("charge number "),
                text(col(col::CHARGE_RANK)),
                lit(" of the same event: "),
                charged.clone(),
                lit(" credits billed again"),
            ],
            "",
            true,
        ))
        .otherwise(concat_str(
            [
                lit("charge of "),
                charged,
                lit(" credits references no known event (reference_id: "),
                text(col(col::EVENT_ID)),
                lit(")"),
            ],
            "",
            true,
        ));
    recon.filter(s.clone().is_in(implode_lit(types), false)).with_columns([
        s.alias(col::FINDING_TYPE),
        // An orphan's reference is no event: the finding names no event.
        when(col(col::STATUS).eq(lit(status::ORPHAN_CHARGE)))
            .then(lit(NULL).cast(DataType::String))
            .otherwise(col(col::EVENT_ID))
            .alias(col::EVENT_ID),
        explanation.alias(col::EXPLANATION),
    ])
}

/// CATEGORY_MISMATCH: a charge of the event whose category is not the event's (where the event has one).
fn category_mismatch(recon: LazyFrame) -> LazyFrame {
    recon
        .filter(
            col(col::ENTRY_ID)
                .is_not_null()
                .and(col(col::OCCURRED_AT).is_not_null())
                .and(col(col::CATEGORY).is_not_null())
                .and(col(col::CHARGE_CATEGORY).neq_missing(col(col::CATEGORY))),
        )
        .with_columns([
            lit(finding::CATEGORY_MISMATCH).alias(col::FINDING_TYPE),
            concat_str(
                [
                    lit("charge booked as "),
                    text(col(col::CHARGE_CATEGORY)),
                    lit(", the event is "),
                    col(col::CATEGORY),
                ],
                "",
                true,
            )
            .alias(col::EXPLANATION),
        ])
}

/// LATE_CHARGE: a charge of the event posted more than the grace after it.
fn late_charge(recon: LazyFrame, grace_minutes: i64) -> LazyFrame {
    let delay = (col(col::POSTED_AT) - col(col::OCCURRED_AT)).dt().total_minutes(false);
    recon
        .filter(
            col(col::ENTRY_ID)
                .is_not_null()
                .and(col(col::OCCURRED_AT).is_not_null())
                .and(delay.clone().gt(lit(grace_minutes))),
        )
        .with_columns([
            lit(finding::LATE_CHARGE).alias(col::FINDING_TYPE),
            concat_str(
                [
                    lit("charge posted "),
                    text(delay),
                    lit(format!(" minutes after the event (grace {grace_minutes} minutes)")),
                ],
                "",
                true,
            )
            .alias(col::EXPLANATION),
        ])
}

/// USAGE_DETAIL_MISSING: R1, an upload with neither cells nor `cells_reported`.
fn usage_detail_missing(expected: LazyFrame) -> LazyFrame {
    expected
        .filter(col(col::EVENT_TYPE).eq(lit(event_type::UPLOAD)).and(col(col::EXPECTED_CREDITS).is_null()))
        .with_columns([
            lit(finding::USAGE_DETAIL_MISSING).alias(col::FINDING_TYPE),
            lit(NULL).cast(DataType::String).alias(col::ENTRY_ID),
            lit(NULL).cast(money()).alias(col::CHARGED_CREDITS),
            lit(NULL).cast(money()).alias(col::DELTA_CREDITS),
            lit("upload with no cells in the log and no cells_reported: its charge cannot be checked")
                .alias(col::EXPLANATION),
        ])
}

/// BALANCE_BREAK: an entry posted on the date whose `balance_after` differs from `balance_after +
/// amount` of the entry just before it in the same account (by `posted_at`, `entry_id`), both non-null.
fn balance_break(entries: LazyFrame, input: &ReconcileInput) -> PolarsResult<LazyFrame> {
    let previous = col(col::BALANCE_AFTER).shift(lit(1)).over([col(col::ACCOUNT_ID)])?;
    let should_be = (col("_previous") + col(col::AMOUNT)).cast(money());
    Ok(entries
        // In time order; the window keeps that order within each account.
        .sort([col::POSTED_AT, col::ENTRY_ID], SortMultipleOptions::default())
        .with_column(previous.alias("_previous"))
        .filter(
            on_business_date(col(col::POSTED_AT), input.date, input.tz)
                .and(col(col::BALANCE_AFTER).is_not_null())
                .and(col("_previous").is_not_null())
                .and(col(col::BALANCE_AFTER).neq(should_be.clone())),
        )
        .with_columns([
            lit(finding::BALANCE_BREAK).alias(col::FINDING_TYPE),
            lit(NULL).cast(DataType::String).alias(col::EVENT_ID),
            lit(NULL).cast(money()).alias(col::EXPECTED_CREDITS),
            lit(NULL).cast(money()).alias(col::CHARGED_CREDITS),
            (col(col::BALANCE_AFTER) - should_be.clone()).cast(money()).alias(col::DELTA_CREDITS),
            concat_str(
                [
                    lit("balance_after "),
                    text(col(col::BALANCE_AFTER)),
                    lit(" but the previous entry's balance "),
                    text(col("_previous")),
                    lit(" plus this amount "),
                    text(col(col::AMOUNT)),
                    lit(" is "),
                    text(should_be),
                ],
                "",
                true,
            )
            .alias(col::EXPLANATION),
        ]))
}

/// Every finding of the date, in the shape of [`findings_schema`], sorted by type and ids.
pub fn findings(
    recon: &DataFrame,
    expected_d: &DataFrame,
    entries: LazyFrame,
    input: &ReconcileInput,
    rules: &Rules,
) -> Result<DataFrame> {
    let recon = recon.clone().lazy();
    let schema = findings_schema();
    let shape = |lf: LazyFrame| {
        let exprs: Vec<Expr> = schema
            .iter()
            .map(|(name, dtype)| {
                let e = match name.as_str() {
                    col::FINDING_ID => {
                        stable_id(vec![col(col::FINDING_TYPE), col(col::EVENT_ID), col(col::ENTRY_ID)])
                    }
                    col::BUSINESS_DATE => date_lit(input.date),
                    col::SEVERITY => severity_of(col(col::FINDING_TYPE)),
                    other => col(other),
                };
                e.cast(dtype.clone()).alias(name.clone())
            })
            .collect::<Vec<_>>();
        lf.select(exprs)
    };
    let parts = [
        shape(status_findings(recon.clone())),
        shape(category_mismatch(recon.clone())),
        shape(late_charge(recon, rules.reconciliation.late_grace_minutes)),
        shape(usage_detail_missing(expected_d.clone().lazy())),
        shape(balance_break(entries, input).stage("findings")?),
    ];
    concat(parts, UnionArgs::default())
        .stage("findings")?
        .sort(
            [col::FINDING_TYPE, col::EVENT_ID, col::ENTRY_ID],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .collect()
        .stage("findings")
}
