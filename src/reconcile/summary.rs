//! Per project: expected and charged credits by category, with counts, for finance and support.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::expr::date_lit;

use super::matching::status;
use crate::error::{Result, StageExt};
use crate::schema::{category, col, entry_type, money};

fn sum_where(value: &str, cond: Expr, name: &str) -> Expr {
    col(value).filter(cond).sum().cast(money()).fill_null(lit(0).cast(money())).alias(name)
}

/// One row per (account, project) with activity on the date: `expected_<category>` and
/// `charged_<category>` credits, totals, and counts of events, charges, findings and candidates.
pub fn project_summary(
    expected: &DataFrame,
    recon: &DataFrame,
    findings: &DataFrame,
    candidates: &DataFrame,
    date: NaiveDate,
) -> Result<DataFrame> {
    let keys = [col(col::ACCOUNT_ID), col(col::PROJECT_ID)];
    let mut exp_aggs = vec![
        len().cast(DataType::Int64).alias("events"),
        col(col::EXPECTED_CREDITS).is_null().sum().cast(DataType::Int64).alias("events_expected_unknown"),
    ];
    let mut chg_aggs = vec![len().cast(DataType::Int64).alias("charges")];
    for c in category::ALL {
        exp_aggs.push(sum_where(
            col::EXPECTED_CREDITS,
            col(col::CATEGORY).eq(lit(*c)),
            &format!("expected_{c}"),
        ));
        chg_aggs.push(sum_where(
            col::CHARGED_CREDITS,
            col(col::CHARGE_CATEGORY).eq(lit(*c)),
            &format!("charged_{c}"),
        ));
    }
    exp_aggs.push(
        col(col::EXPECTED_CREDITS)
            .sum()
            .cast(money())
            .fill_null(lit(0).cast(money()))
            .alias("expected_total"),
    );
    chg_aggs.push(
        col(col::CHARGED_CREDITS).sum().cast(money()).fill_null(lit(0).cast(money())).alias("charged_total"),
    );
    let exp = expected.clone().lazy().group_by(keys.clone()).agg(exp_aggs);
    // Charges in scope: the charges of the date's events and the orphans posted on the date.
    let chg = recon
        .clone()
        .lazy()
        .filter(
            col(col::ENTRY_TYPE)
                .eq(lit(entry_type::CHARGE))
                .and(col(col::STATUS).neq(lit(status::CHARGE_OF_OTHER_DATE)))
                .and(col(col::STATUS).neq(lit(status::CHARGE_OF_REJECTED_EVENT))),
        )
        .group_by(keys.clone())
        .agg(chg_aggs);
    let fnd = findings.clone().lazy().group_by(keys.clone()).agg([
        len().cast(DataType::Int64).alias("findings"),
        col(col::SEVERITY).eq(lit("high")).sum().cast(DataType::Int64).alias("high_findings"),
    ]);
    let cand = candidates.clone().lazy().group_by(keys.clone()).agg([
        len().cast(DataType::Int64).alias("refund_candidates"),
        col(col::REFUND_CREDITS).sum().cast(money()).alias("refund_credits"),
    ]);
    let full = JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns);
    let joined = exp
        .join(chg, keys.clone(), keys.clone(), full.clone())
        .join(fnd, keys.clone(), keys.clone(), full.clone())
        .join(cand, keys.clone(), keys.clone(), full)
        .filter(col(col::ACCOUNT_ID).is_not_null().or(col(col::PROJECT_ID).is_not_null()));
    let mut fills = vec![date_lit(date).alias(col::BUSINESS_DATE)];
    for name in
        ["events", "events_expected_unknown", "charges", "findings", "high_findings", "refund_candidates"]
    {
        fills.push(col(name).fill_null(lit(0i64)));
    }
    for name in category::ALL.iter().flat_map(|c| [format!("expected_{c}"), format!("charged_{c}")]).chain([
        "expected_total".to_string(),
        "charged_total".to_string(),
        "refund_credits".to_string(),
    ]) {
        fills.push(col(name.as_str()).fill_null(lit(0).cast(money())));
    }
    let mut order = vec![col(col::BUSINESS_DATE), col(col::ACCOUNT_ID), col(col::PROJECT_ID)];
    for c in category::ALL {
        order.push(col(format!("expected_{c}").as_str()));
        order.push(col(format!("charged_{c}").as_str()));
    }
    for name in [
        "expected_total",
        "charged_total",
        "events",
        "events_expected_unknown",
        "charges",
        "findings",
        "high_findings",
        "refund_candidates",
        "refund_credits",
    ] {
        order.push(col(name));
    }
    joined
        .with_columns(fills)
        .select(order)
        .sort([col::ACCOUNT_ID, col::PROJECT_ID], SortMultipleOptions::default().with_nulls_last(true))
        .collect()
        .stage("project summary")
}
