//! R2 reruns, and the R5 notice that reruns and smart column runs share.

use polars::prelude::*;

use super::{dec_lit, round_credits, text, to_expected, work};
use crate::config::Rules;
use crate::schema::{col, money};

/// R2 `B`: the import cost of the project at the time of the rerun, the sum of the R1 credits of
/// its uploads before it that were not deleted before it; unknown if one of them is unknown.
pub fn basis(reruns: LazyFrame, timeline: LazyFrame) -> LazyFrame {
    let pairs = reruns
        .clone()
        .select([col(col::EVENT_ID), col(col::PROJECT_ID), col(col::SEQ).alias("_rerun_seq")])
        .join(
            timeline.select([
                col(col::PROJECT_ID),
                col(col::SEQ).alias("_upload_seq"),
                col(col::EXPECTED_CREDITS).alias("_cost"),
                col("removed_seq"),
            ]),
            [col(col::PROJECT_ID)],
            [col(col::PROJECT_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col("_upload_seq")
                .lt(col("_rerun_seq"))
                .and(col("removed_seq").is_null().or(col("removed_seq").gt(col("_rerun_seq")))),
        )
        .group_by([col(col::EVENT_ID)])
        .agg([
            col("_cost").sum().alias("_basis"),
            col("_cost").is_null().any(true).alias("_basis_unknown"),
            len().cast(DataType::Int64).alias("_basis_uploads"),
        ]);
    reruns
        .join(pairs, [col(col::EVENT_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Left))
        .with_columns([
            when(col("_basis_unknown").fill_null(lit(false)))
                .then(lit(NULL).cast(money()))
                .otherwise(col("_basis").cast(money()).fill_null(lit(0).cast(money())))
                .alias(col::BASIS_CREDITS),
            col("_basis_uploads").fill_null(lit(0)),
        ])
}

/// R2: free part `min(max(Q - U, 0), f)` where `Q` is the plan's `free_reruns`, `U` the fractions
/// of the project's earlier non-demo reruns and `f` this rerun's fraction; credits are
/// `paid x rate x B`. A partial run thus uses the free quota in proportion to its fraction.
pub fn price(reruns: LazyFrame, timeline: LazyFrame, rules: &Rules) -> PolarsResult<LazyFrame> {
    let rate = rules.rerun.rate;
    let f = col(col::RERUN_FRACTION);
    let used_before = (f.clone().cum_sum(false).over([col(col::PROJECT_ID)])? - f.clone()).cast(money());
    let left = (col(col::FREE_RERUNS).cast(money()) - col("_used")).cast(money());
    let left = when(left.clone().lt(lit(0))).then(lit(0).cast(money())).otherwise(left);
    let free = when(left.clone().lt(f.clone())).then(left).otherwise(f.clone()).cast(money());
    let priced = basis(reruns.sort([col::SEQ], SortMultipleOptions::default()), timeline)
        .with_column(used_before.alias("_used"))
        .with_column(free.alias(col::FREE_QUANTITY))
        .with_columns([
            f.clone().alias(col::QUANTITY),
            (f - col(col::FREE_QUANTITY)).cast(money()).alias(col::BILLABLE_QUANTITY),
        ])
        .with_columns([
            round_credits(work(col(col::BASIS_CREDITS)) * dec_lit(rate)).alias(col::UNIT_PRICE),
            round_credits(work(col(col::BILLABLE_QUANTITY)) * dec_lit(rate) * work(col(col::BASIS_CREDITS)))
                .alias(col::EXPECTED_CREDITS),
            lit(rules.rerun.rule_id.clone()).alias(col::RULE_ID),
            when(col(col::BASIS_CREDITS).is_null())
                .then(lit("unknown"))
                .otherwise(lit("import cost"))
                .alias(col::BASIS),
            concat_str(
                [
                    lit("R2: fraction "),
                    text(col(col::QUANTITY)),
                    lit(", free reruns "),
                    text(col(col::FREE_RERUNS)),
                    lit(" of which "),
                    text(col("_used")),
                    lit(" used before, free "),
                    text(col(col::FREE_QUANTITY)),
                    lit(", paid "),
                    text(col(col::BILLABLE_QUANTITY)),
                    lit(format!(" x {rate} x import cost ")),
                    text(col(col::BASIS_CREDITS)),
                    lit(" of "),
                    text(col("_basis_uploads")),
                    lit(" upload(s)"),
                ],
                "",
                true,
            )
            .alias(col::EXPLANATION),
        ]);
    Ok(to_expected(with_notice(priced), rules))
}

/// R5: a rerun or smart column run that costs more than 0 needs `confirmed = true`; where it
/// is missing, charging it is an `UNCONFIRMED_CHARGE` (not where its cost is unknown).
pub fn with_notice(priced: LazyFrame) -> LazyFrame {
    let required = col(col::EXPECTED_CREDITS)
        .gt(lit(0))
        .and(col(col::CONFIRMED).fill_null(lit(false)).not())
        .fill_null(lit(false));
    priced.with_columns([
        required.clone().alias(col::CONFIRMATION_REQUIRED),
        when(required)
            .then(concat_str([col(col::EXPLANATION), lit("; R5: not confirmed by the user")], "", true))
            .otherwise(col(col::EXPLANATION))
            .alias(col::EXPLANATION),
    ])
}
