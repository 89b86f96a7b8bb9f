//! Refund candidates of SPEC §4: each reason one function, the first reason that applies wins,
//! refunds already in the ledger are subtracted.

use polars::prelude::*;

use crate::expr::date_lit;

use super::matching;
use super::{ReconcileInput, on_business_date, stable_id};
use crate::config::Rules;
use crate::error::{Result, StageExt};
use crate::rules::text;
use crate::schema::{category, col, entry_type, event_type, money};

/// Refund reasons, in the order of SPEC §4's table: a charge gets the first that applies.
pub mod reason {
    #![allow(missing_docs, reason = "each reason is the one of the same name in SPEC §4")]
    pub const DUPLICATE_CHARGE: &str = "DUPLICATE_CHARGE";
    pub const ORPHAN_CHARGE: &str = "ORPHAN_CHARGE";
    pub const UNEXPECTED_CHARGE: &str = "UNEXPECTED_CHARGE";
    pub const UNCONFIRMED_CHARGE: &str = "UNCONFIRMED_CHARGE";
    pub const ACCIDENTAL_UPLOAD: &str = "ACCIDENTAL_UPLOAD";
    pub const DUPLICATE_UPLOAD: &str = "DUPLICATE_UPLOAD";
    pub const OVERCHARGE: &str = "OVERCHARGE";
    pub const ORDER: &[&str] = &[
        DUPLICATE_CHARGE,
        ORPHAN_CHARGE,
        UNEXPECTED_CHARGE,
        UNCONFIRMED_CHARGE,
        ACCIDENTAL_UPLOAD,
        DUPLICATE_UPLOAD,
        OVERCHARGE,
    ];
}

/// The columns of `refund_candidates.parquet`, in order, with their types.
pub fn candidates_schema() -> Schema {
    let m = money();
    Schema::from_iter([
        Field::new(col::CANDIDATE_ID.into(), DataType::String),
        Field::new(col::BUSINESS_DATE.into(), DataType::Date),
        Field::new(col::REASON.into(), DataType::String),
        Field::new(col::ACCOUNT_ID.into(), DataType::String),
        Field::new(col::PROJECT_ID.into(), DataType::String),
        Field::new(col::EVENT_ID.into(), DataType::String),
        Field::new(col::ENTRY_ID.into(), DataType::String),
        Field::new(col::REFUND_CREDITS.into(), m.clone()),
        Field::new(col::CHARGED_CREDITS.into(), m.clone()),
        Field::new(col::REFUNDED_CREDITS.into(), m),
        Field::new(col::EVIDENCE.into(), DataType::String),
    ])
}

/// A candidate before refunds are subtracted: `entry_id`, `event_id`, `account_id`, `project_id`,
/// `charged_credits`, `_base` (the reason's refund) and `evidence`.
fn candidate(lf: LazyFrame, why: &str, base: Expr, evidence: Expr) -> LazyFrame {
    lf.select([
        col(col::ENTRY_ID),
        col(col::EVENT_ID),
        col(col::ACCOUNT_ID),
        col(col::PROJECT_ID),
        col(col::CHARGED_CREDITS),
        base.cast(money()).alias("_base"),
        lit(why).alias(col::REASON),
        evidence.alias(col::EVIDENCE),
    ])
}

/// The candidates that follow from a reconciliation status (duplicate, orphan, unexpected,
/// unconfirmed, overcharge): the charge, or for an overcharge `charged - expected`.
fn from_status(recon: &LazyFrame, why: &str) -> LazyFrame {
    let rows = recon.clone().filter(col(col::STATUS).eq(lit(why)));
    let (base, evidence) = match why {
        reason::OVERCHARGE => (
            col(col::CHARGED_CREDITS) - col(col::EXPECTED_CREDITS),
            concat_str(
                [
                    lit("charged "),
                    text(col(col::CHARGED_CREDITS)),
                    lit(", expected "),
                    text(col(col::EXPECTED_CREDITS)),
                ],
                "",
                true,
            ),
        ),
        reason::DUPLICATE_CHARGE => (
            col(col::CHARGED_CREDITS),
            concat_str(
                [lit("charge number "), text(col(col::CHARGE_RANK)), lit(" of event "), col(col::EVENT_ID)],
                "",
                true,
            ),
        ),
        reason::ORPHAN_CHARGE => (
            col(col::CHARGED_CREDITS),
            concat_str([lit("references no known event: "), text(col(col::EVENT_ID))], "", true),
        ),
        reason::UNEXPECTED_CHARGE => (col(col::CHARGED_CREDITS), lit("the event costs 0 under the rules")),
        _ => (col(col::CHARGED_CREDITS), lit("paid action charged without the user's confirmation")),
    };
    let rows = if why == reason::ORPHAN_CHARGE {
        rows.with_column(lit(NULL).cast(DataType::String).alias("_no_event"))
            .with_column(col(col::EVENT_ID).alias("_reference"))
            .with_column(col("_no_event").alias(col::EVENT_ID))
    } else {
        rows
    };
    let evidence = if why == reason::ORPHAN_CHARGE {
        concat_str([lit("references no known event: "), text(col("_reference"))], "", true)
    } else {
        evidence
    };
    candidate(rows, why, base, evidence)
}

/// The first charge of every upload event of the history: `event_id`, `entry_id`,
/// `account_id`, `charged_credits`, charge `category`.
fn upload_charges(charges: LazyFrame, timeline: LazyFrame) -> PolarsResult<LazyFrame> {
    Ok(matching::ranked_charges(charges, timeline.select([col(col::EVENT_ID)]))?
        .filter(col(col::CHARGE_RANK).eq(lit(1)))
        .select([
            col(col::REFERENCE_ID).alias(col::EVENT_ID),
            col(col::ENTRY_ID),
            col(col::ACCOUNT_ID),
            col(col::CHARGED_CREDITS),
            col(col::CATEGORY).alias(col::CHARGE_CATEGORY),
        ]))
}

/// Uploads whose `file_sha256` an earlier upload of the same project, not deleted before it, had
/// within the window: `event_id` of the later upload and `_first_event` of the earlier one.
pub fn duplicate_uploads(timeline: LazyFrame, window_hours: i64) -> LazyFrame {
    let earlier = timeline.clone().select([
        col(col::PROJECT_ID),
        col(col::FILE_SHA256),
        col(col::EVENT_ID).alias("_first_event"),
        col(col::SEQ).alias("_first_seq"),
        col(col::OCCURRED_AT).alias("_first_at"),
        col("removed_seq").alias("_first_removed"),
    ]);
    let gap = (col(col::OCCURRED_AT) - col("_first_at")).dt().total_minutes(false);
    timeline
        .filter(col(col::FILE_SHA256).is_not_null())
        .join(
            earlier,
            [col(col::PROJECT_ID), col(col::FILE_SHA256)],
            [col(col::PROJECT_ID), col(col::FILE_SHA256)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col("_first_seq")
                .lt(col(col::SEQ))
                .and(gap.lt_eq(lit(window_hours * 60)))
                .and(col("_first_removed").is_null().or(col("_first_removed").gt(col(col::SEQ)))),
        )
        .sort(["_first_seq"], SortMultipleOptions::default())
        .group_by_stable([col(col::EVENT_ID)])
        .agg([col("_first_event").first(), col("_first_at").first()])
}

/// The candidate amount `C` a charge of an upload had on its own business date, for a reason
/// other than an accidental upload: the charge where the upload cost 0 or duplicated an earlier
/// one, `charged - expected` where it was overcharged, else 0.
fn own_date_amount(tolerance: Expr) -> Expr {
    let expected = col(col::EXPECTED_CREDITS);
    let charged = col(col::CHARGED_CREDITS);
    when(expected.clone().eq(lit(0)))
        .then(charged.clone())
        .when(col("_first_event").is_not_null())
        .then(charged.clone())
        .when(expected.clone().gt(lit(0)).and(charged.clone().gt(expected.clone() + tolerance)))
        .then(charged - expected)
        .otherwise(lit(0).cast(money()))
        .cast(money())
}

/// Every refund candidate of the date.
pub fn candidates(
    recon: &DataFrame,
    charges: LazyFrame,
    input: &ReconcileInput,
    rules: &Rules,
) -> Result<DataFrame> {
    let recon = recon.clone().lazy();
    let window = rules.reconciliation.refund_window_hours;
    let tolerance = crate::rules::round_credits(crate::rules::dec_lit(rules.reconciliation.tolerance));
    let timeline = input.timeline.clone().lazy().cache();
    let dups = duplicate_uploads(timeline.clone(), window).cache();
    let uploads = timeline
        .clone()
        .join(
            upload_charges(charges.clone(), timeline.clone()).stage("refunds")?,
            [col(col::EVENT_ID)],
            [col(col::EVENT_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            input.expected.clone().lazy().select([col(col::EVENT_ID), col(col::BUSINESS_DATE)]),
            [col(col::EVENT_ID)],
            [col(col::EVENT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .join(dups.clone(), [col(col::EVENT_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Left))
        // A carried upload's duplicate status was decided on its own date.
        .with_column(
            when(col(crate::state::CARRIED))
                .then(col(crate::state::CARRIED_DUPLICATE_OF))
                .otherwise(col("_first_event"))
                .alias("_first_event"),
        )
        .cache();

    // ACCIDENTAL_UPLOAD: removed on the date within the window, no rerun or smart column run of
    // the project in between; translation charges never qualify.
    let activity = input
        .history
        .clone()
        .lazy()
        .filter(col(col::EVENT_TYPE).eq(lit(event_type::RERUN)).or(
            col(col::EVENT_TYPE).eq(lit(event_type::SMART_COLUMN_RUN)).and(col(crate::state::CARRIED).not()),
        ))
        .select([col(col::PROJECT_ID), col(col::SEQ).alias("_activity_seq")]);
    let removed_within = uploads.clone().filter(
        col("removed_at")
            .is_not_null()
            .and(on_business_date(col("removed_at"), input.date, input.tz))
            .and(
                (col("removed_at") - col(col::OCCURRED_AT)).dt().total_minutes(false).lt_eq(lit(window * 60)),
            )
            .and(col(col::CHARGE_CATEGORY).neq_missing(lit(category::TRANSLATION))),
    );
    let busy = removed_within
        .clone()
        .select([col(col::EVENT_ID), col(col::PROJECT_ID), col(col::SEQ), col("removed_seq")])
        .join(activity, [col(col::PROJECT_ID)], [col(col::PROJECT_ID)], JoinArgs::new(JoinType::Inner))
        .filter(col("_activity_seq").gt(col(col::SEQ)).and(col("_activity_seq").lt(col("removed_seq"))))
        .select([col(col::EVENT_ID)]);
    let accidental = removed_within
        .join(busy, [col(col::EVENT_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Anti))
        .join(
            input.expected.clone().lazy().select([col(col::EVENT_ID), col(col::EXPECTED_CREDITS)]),
            [col(col::EVENT_ID)],
            [col(col::EVENT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(col(col::BUSINESS_DATE).lt(date_lit(input.date)))
                .then(own_date_amount(tolerance))
                .otherwise(lit(0).cast(money()))
                .alias("_earlier"),
        );
    let accidental = candidate(
        accidental,
        reason::ACCIDENTAL_UPLOAD,
        col(col::CHARGED_CREDITS) - col("_earlier"),
        concat_str(
            [
                lit("upload "),
                col(col::UPLOAD_ID),
                lit(" removed by "),
                col("removed_by"),
                lit(" "),
                text((col("removed_at") - col(col::OCCURRED_AT)).dt().total_minutes(false)),
                lit(" minutes after it was uploaded, with no rerun or smart column run in between"),
                when(col("_earlier").gt(lit(0)))
                    .then(concat_str(
                        [
                            lit("; less "),
                            text(col("_earlier")),
                            lit(" already a candidate on the upload's date"),
                        ],
                        "",
                        true,
                    ))
                    .otherwise(lit("")),
            ],
            "",
            true,
        ),
    );

    // DUPLICATE_UPLOAD: uploads of the date that repeat an earlier file of the project.
    let duplicate_upload = candidate(
        uploads
            .filter(col(col::BUSINESS_DATE).eq(date_lit(input.date)).and(col("_first_event").is_not_null())),
        reason::DUPLICATE_UPLOAD,
        col(col::CHARGED_CREDITS),
        concat_str(
            [
                lit("same file_sha256 as upload event "),
                col("_first_event"),
                lit(" of "),
                text(col("_first_at")),
            ],
            "",
            true,
        ),
    );

    let mut parts = Vec::new();
    for why in reason::ORDER {
        parts.push(match *why {
            reason::ACCIDENTAL_UPLOAD => accidental.clone(),
            reason::DUPLICATE_UPLOAD => duplicate_upload.clone(),
            other => from_status(&recon, other),
        });
    }
    let priority = {
        let pairs: Vec<(Expr, Expr)> =
            reason::ORDER.iter().enumerate().map(|(i, why)| (lit(*why), lit(i as i32))).collect();
        crate::rules::lookup(col(col::REASON), &pairs, lit(NULL).cast(DataType::Int32))
    };
    let refunded = input
        .entries
        .clone()
        .lazy()
        .filter(col(col::ENTRY_TYPE).eq(lit(entry_type::REFUND)).and(col(col::REFERENCE_ID).is_not_null()))
        .group_by([col(col::REFERENCE_ID)])
        .agg([col(col::AMOUNT).sum().cast(money()).alias(col::REFUNDED_CREDITS)]);
    let left_after_refunds = (col(col::CHARGED_CREDITS) - col(col::REFUNDED_CREDITS)).cast(money());
    let refund = when(col(col::REASON).eq(lit(reason::ACCIDENTAL_UPLOAD)))
        .then(
            when(col("_base").lt(left_after_refunds.clone()))
                .then(col("_base"))
                .otherwise(left_after_refunds),
        )
        .otherwise(col("_base") - col(col::REFUNDED_CREDITS))
        .cast(money());
    let schema = candidates_schema();
    let shape: Vec<Expr> = schema
        .iter()
        .map(|(name, dtype)| {
            let e = match name.as_str() {
                col::CANDIDATE_ID => {
                    stable_id(vec![col(col::REASON), col(col::EVENT_ID), col(col::ENTRY_ID)])
                }
                col::BUSINESS_DATE => date_lit(input.date),
                other => col(other),
            };
            e.cast(dtype.clone()).alias(name.clone())
        })
        .collect();
    concat(parts, UnionArgs::default())
        .stage("refunds")?
        .with_column(priority.alias("_priority"))
        .sort(["_priority"], SortMultipleOptions::default())
        .group_by_stable([col(col::ENTRY_ID)])
        .agg([all().exclude_cols([col::ENTRY_ID]).as_expr().first()])
        .join(refunded, [col(col::ENTRY_ID)], [col(col::REFERENCE_ID)], JoinArgs::new(JoinType::Left))
        .with_column(col(col::REFUNDED_CREDITS).fill_null(lit(0).cast(money())))
        .with_column(refund.alias(col::REFUND_CREDITS))
        .filter(col(col::REFUND_CREDITS).gt(lit(0)))
        .select(shape)
        .sort(
            [col::REASON, col::EVENT_ID, col::ENTRY_ID],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .collect()
        .stage("refunds")
}
