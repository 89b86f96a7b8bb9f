//! R3 smart column runs.

use polars::prelude::*;

use super::{dec_lit, round_credits, text, to_expected, work};
use crate::config::Rules;
use crate::schema::{col, money};

/// R3: the first `free_smart_column_runs` non-demo runs of an account in a calendar month of the
/// business time zone are free; each later run costs `credits_per_row` x `rows_computed`.
pub fn price(runs: LazyFrame, rules: &Rules) -> PolarsResult<LazyFrame> {
    let rate = rules.smart_column.credits_per_row;
    let nth = col(col::SEQ).cum_count(false).over([col(col::ACCOUNT_ID), col(col::MONTH)])?;
    let is_free = col("_nth").lt_eq(col(col::FREE_SMART_COLUMN_RUNS));
    let rows = col(col::ROWS_COMPUTED).cast(money());
    let billable = when(is_free.clone()).then(lit(0).cast(money())).otherwise(rows.clone());
    let priced = runs
        .sort([col::SEQ], SortMultipleOptions::default())
        .with_column(nth.cast(DataType::Int64).alias("_nth"))
        .with_columns([
            rows.clone().alias(col::QUANTITY),
            when(is_free.clone()).then(rows).otherwise(lit(0).cast(money())).alias(col::FREE_QUANTITY),
            billable.clone().alias(col::BILLABLE_QUANTITY),
            dec_lit(rate).cast(money()).alias(col::UNIT_PRICE),
            round_credits(work(billable) * dec_lit(rate)).alias(col::EXPECTED_CREDITS),
            lit(rules.smart_column.rule_id.clone()).alias(col::RULE_ID),
            when(is_free.clone()).then(lit("monthly free quota")).otherwise(lit("rows")).alias(col::BASIS),
            lit(NULL).cast(money()).alias(col::BASIS_CREDITS),
            concat_str(
                [
                    lit("R3: run "),
                    text(col("_nth")),
                    lit(" of account "),
                    col(col::ACCOUNT_ID),
                    lit(" in "),
                    col(col::MONTH),
                    lit(" (free runs: "),
                    text(col(col::FREE_SMART_COLUMN_RUNS)),
                    lit("); "),
                    when(is_free).then(lit("free")).otherwise(concat_str(
                        [text(col(col::ROWS_COMPUTED)), lit(format!(" rows x {rate} credits per row"))],
                        "",
                        true,
                    )),
                ],
                "",
                true,
            )
            .alias(col::EXPLANATION),
        ]);
    Ok(to_expected(super::rerun::with_notice(priced), rules))
}
