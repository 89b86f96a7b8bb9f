//! R3 smart column runs.

use polars::prelude::*;

use super::{dec_lit, round_credits, text, to_expected, work};
use crate::config::Rules;
use crate::schema::{col, money};

/// R3: the first `free_smart_column_runs` non-demo runs of an account in a calendar month of the
/// business time zone are free; each later run costs `credits_per_row` x `rows_computed`.
pub fn price(runs: LazyFrame, rules: &Rules) -> PolarsResult<LazyFrame> {
    let rate = rules.smart_column.credits_per_row;
    // A row carried from the state stands for the month's earlier runs (its weight).
    let nth = col(crate::state::WEIGHT).cum_sum(false).over([col(col::ACCOUNT_ID), col(col::MONTH)])?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use crate::testkit::{Ev, cells, expected_of, price};

    fn run(id: &'static str, at: &'static str, project: &'static str) -> Ev {
        Ev { rows: Some(10), confirmed: Some(true), project, ..Ev::new(id, "smart_column_run", at) }
    }

    #[test]
    fn free_runs_reset_at_the_month_boundary_of_the_business_time_zone() {
        // 2026-11-30T23:30Z is already December in Berlin (UTC+1): the second run opens a new month.
        let evs = vec![
            run("s1", "2026-11-30T12:00:00Z", "p1"),
            run("s2", "2026-11-30T23:30:00Z", "p1"),
            run("s3", "2026-12-01T08:00:00Z", "p1"),
        ];
        let berlin = price(&evs, cells(&[]), "0", 1, chrono_tz::Europe::Berlin);
        assert_eq!(expected_of(&berlin, "s1"), "0.0000");
        assert_eq!(expected_of(&berlin, "s2"), "0.0000");
        assert_eq!(expected_of(&berlin, "s3"), "2.5000");
        let utc = price(&evs, cells(&[]), "0", 1, chrono_tz::UTC);
        assert_eq!(expected_of(&utc, "s2"), "2.5000");
        assert_eq!(expected_of(&utc, "s3"), "0.0000");
    }

    #[test]
    fn demo_runs_are_free_and_use_no_quota_and_the_quota_is_per_account() {
        let evs = vec![
            run("d1", "2026-11-02T08:00:00Z", "demo"),
            run("s1", "2026-11-02T09:00:00Z", "p1"),
            run("s2", "2026-11-02T10:00:00Z", "p2"), // other project, same account: quota used up
        ];
        let e = price(&evs, cells(&[]), "0", 1, chrono_tz::UTC);
        assert_eq!(expected_of(&e, "d1"), "0.0000");
        assert_eq!(expected_of(&e, "s1"), "0.0000");
        assert_eq!(expected_of(&e, "s2"), "2.5000");
    }
}
