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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use chrono_tz::UTC;

    use crate::testkit::{Ev, cells, expected_of, field_of, price};

    /// Upload `u1` of 10 billable cells at 09:00.
    fn upload_u1() -> Vec<Ev> {
        vec![Ev {
            upload: Some("u1"),
            tta: Some(vec!["q"]),
            reported: Some(10),
            ..Ev::new("up1", "upload", "2026-11-02T09:00:00Z")
        }]
    }

    fn rerun(id: &'static str, at: &'static str, fraction: &'static str) -> Ev {
        Ev { fraction: Some(fraction), confirmed: Some(true), ..Ev::new(id, "rerun", at) }
    }

    #[test]
    fn a_partial_rerun_straddling_the_end_of_the_free_quota_pays_only_its_excess() {
        let mut evs = upload_u1();
        evs.push(rerun("r1", "2026-11-02T10:00:00Z", "0.6")); // free: 0.6 of 1 used
        evs.push(rerun("r2", "2026-11-02T11:00:00Z", "0.5")); // 0.4 free, 0.1 paid
        evs.push(rerun("r3", "2026-11-02T12:00:00Z", "1")); // all paid
        let e = price(&evs, cells(&[]), "1", 0, UTC);
        assert_eq!(expected_of(&e, "r1"), "0.0000");
        assert_eq!(field_of(&e, "r2", "free_quantity"), "0.4000");
        assert_eq!(field_of(&e, "r2", "billable_quantity"), "0.1000");
        assert_eq!(expected_of(&e, "r2"), "0.5000"); // 0.1 x 0.5 x 10
        assert_eq!(expected_of(&e, "r3"), "5.0000");
        assert_eq!(field_of(&e, "r3", "basis_credits"), "10.0000");
    }

    #[test]
    fn a_deleted_upload_drops_out_of_the_rerun_basis() {
        let mut evs = upload_u1();
        evs.push(Ev {
            upload: Some("u2"),
            tta: Some(vec!["q"]),
            reported: Some(4),
            ..Ev::new("up2", "upload", "2026-11-02T09:30:00Z")
        });
        evs.push(rerun("r1", "2026-11-02T10:00:00Z", "1")); // basis 14
        evs.push(Ev { upload: Some("u1"), ..Ev::new("del", "upload_deleted", "2026-11-02T11:00:00Z") });
        evs.push(rerun("r2", "2026-11-02T12:00:00Z", "1")); // basis 4
        evs.push(Ev::new("pdel", "project_deleted", "2026-11-02T13:00:00Z"));
        evs.push(rerun("r3", "2026-11-02T14:00:00Z", "1")); // basis 0
        let e = price(&evs, cells(&[]), "0", 0, UTC);
        assert_eq!(expected_of(&e, "r1"), "7.0000");
        assert_eq!(expected_of(&e, "r2"), "2.0000");
        assert_eq!(expected_of(&e, "r3"), "0.0000");
        assert_eq!(expected_of(&e, "del"), "0.0000");
        assert_eq!(field_of(&e, "del", "rule_id"), "R-DEL");
    }

    #[test]
    fn same_instant_orders_by_event_id() {
        // The upload and the rerun share a timestamp: "before" is by (occurred_at, event_id), so an
        // upload with a greater id is not in the basis.
        let evs = vec![
            Ev {
                upload: Some("u1"),
                tta: Some(vec!["q"]),
                reported: Some(10),
                ..Ev::new("z-up", "upload", "2026-11-02T09:00:00Z")
            },
            rerun("a-rerun", "2026-11-02T09:00:00Z", "1"),
        ];
        let e = price(&evs, cells(&[]), "0", 0, UTC);
        assert_eq!(expected_of(&e, "a-rerun"), "0.0000");
    }

    #[test]
    fn an_unknown_upload_makes_the_basis_unknown() {
        let evs = vec![
            Ev {
                upload: Some("u1"),
                tta: Some(vec!["q"]),
                ..Ev::new("up1", "upload", "2026-11-02T09:00:00Z")
            },
            rerun("r1", "2026-11-02T10:00:00Z", "1"),
        ];
        let e = price(&evs, cells(&[]), "0", 0, UTC);
        assert_eq!(expected_of(&e, "r1"), "null");
        assert_eq!(field_of(&e, "r1", "unconfirmed"), "false", "R5 does not apply where the cost is unknown");
    }

    #[test]
    fn the_charge_is_rounded_once_half_to_even() {
        // 3 x 0.0001 cells... basis 0.0003 is impossible with whole cells, so use a fraction:
        // paid 0.0001 x 0.5 x 1 = 0.00005 -> 0.0000 (half to even), 0.0003 x 0.5 x 1 = 0.00015 -> 0.0002.
        let evs = vec![
            Ev {
                upload: Some("u1"),
                tta: Some(vec!["q"]),
                reported: Some(1),
                ..Ev::new("up1", "upload", "2026-11-02T09:00:00Z")
            },
            rerun("r1", "2026-11-02T10:00:00Z", "0.0001"),
            rerun("r2", "2026-11-02T11:00:00Z", "0.0003"),
        ];
        let e = price(&evs, cells(&[]), "0", 0, UTC);
        assert_eq!(expected_of(&e, "r1"), "0.0000");
        assert_eq!(expected_of(&e, "r2"), "0.0002");
    }

    #[test]
    fn an_unconfirmed_paid_rerun_is_flagged() {
        let mut evs = upload_u1();
        evs.push(Ev { confirmed: Some(false), ..rerun("r1", "2026-11-02T10:00:00Z", "1") });
        evs.push(Ev { confirmed: None, ..rerun("r2", "2026-11-02T11:00:00Z", "1") });
        let e = price(&evs, cells(&[]), "1", 0, UTC);
        // r1 is within the free quota: costs 0, R5 does not apply.
        assert_eq!(field_of(&e, "r1", "unconfirmed"), "false");
        assert_eq!(expected_of(&e, "r2"), "5.0000");
        assert_eq!(field_of(&e, "r2", "unconfirmed"), "true");
    }
}
