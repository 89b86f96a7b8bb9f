//! R4 translation.

use polars::prelude::*;

use super::{round_credits, text, to_expected, work};
use crate::config::Rules;
use crate::schema::{col, money};

/// R4: a translation costs the plan's `translation_credits_per_cell` per cell translated.
pub fn price(translations: LazyFrame, rules: &Rules) -> LazyFrame {
    let cells = col(col::CELLS_TRANSLATED).cast(money());
    let rate = col(col::TRANSLATION_CREDITS_PER_CELL);
    let expected = round_credits(work(cells.clone()) * work(rate.clone()));
    let priced = translations.with_columns([
        cells.clone().alias(col::QUANTITY),
        lit(0).cast(money()).alias(col::FREE_QUANTITY),
        cells.alias(col::BILLABLE_QUANTITY),
        rate.alias(col::UNIT_PRICE),
        expected.alias(col::EXPECTED_CREDITS),
        lit(rules.translation.rule_id.clone()).alias(col::RULE_ID),
        lit("plan").alias(col::BASIS),
        lit(NULL).cast(money()).alias(col::BASIS_CREDITS),
        lit(false).alias(col::CONFIRMATION_REQUIRED),
        concat_str(
            [
                lit("R4: "),
                text(col(col::CELLS_TRANSLATED)),
                lit(" cells translated x "),
                text(col(col::TRANSLATION_CREDITS_PER_CELL)),
                lit(" credits per cell (plan "),
                text(col(col::PLAN_ID)),
                lit(")"),
            ],
            "",
            true,
        )
        .alias(col::EXPLANATION),
    ]);
    to_expected(priced, rules)
}

#[cfg(test)]
mod tests {
    use crate::testkit::{Ev, cells, expected_of, field_of, price};

    #[test]
    fn a_translation_costs_the_plans_rate_per_cell() {
        let evs = vec![Ev {
            upload: Some("u1"),
            translated: Some(37),
            ..Ev::new("t1", "translation", "2026-11-02T08:00:00Z")
        }];
        let e = price(&evs, cells(&[]), "0", 0, chrono_tz::UTC);
        assert_eq!(expected_of(&e, "t1"), "3.7000");
        assert_eq!(field_of(&e, "t1", "category"), "translation");
    }
}
