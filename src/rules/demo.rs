//! R0 demo projects, and the free deletion events.

use polars::prelude::*;

use super::{null_money, to_expected};
use crate::config::Rules;
use crate::schema::col;

/// R0: every event of a project with `is_demo = true` costs 0 and uses no quota (an upload without
/// cell detail included: its cost is known, 0).
pub fn price(demo_events: LazyFrame, rules: &Rules) -> LazyFrame {
    free(
        demo_events,
        rules,
        &rules.demo.rule_id,
        "demo",
        "R0: event of a demo project, costs 0 and uses no quota",
    )
}

/// `upload_deleted` and `project_deleted` cost 0 and have no category.
pub fn price_deletions(deletions: LazyFrame, rules: &Rules) -> LazyFrame {
    free(deletions, rules, &rules.deletion.rule_id, "free", "deletions cost 0")
}

fn free(events: LazyFrame, rules: &Rules, rule_id: &str, basis: &str, why: &str) -> LazyFrame {
    let zero = lit(0).cast(crate::schema::money());
    let priced = events.with_columns([
        null_money().alias(col::QUANTITY),
        null_money().alias(col::FREE_QUANTITY),
        zero.clone().alias(col::BILLABLE_QUANTITY),
        zero.clone().alias(col::UNIT_PRICE),
        zero.alias(col::EXPECTED_CREDITS),
        lit(rule_id.to_string()).alias(col::RULE_ID),
        lit(basis.to_string()).alias(col::BASIS),
        null_money().alias(col::BASIS_CREDITS),
        lit(false).alias(col::CONFIRMATION_REQUIRED),
        lit(why.to_string()).alias(col::EXPLANATION),
    ]);
    to_expected(priced, rules)
}
