//! Reconciles the expected charges of one business date with the ledger (SPEC §4): one row per
//! (event, charge) pair, the findings and the refund candidates. Knows no files, mail or flags.

pub mod findings;
pub mod matching;
pub mod refunds;
pub mod summary;

use chrono::NaiveDate;
use chrono_tz::Tz;
use polars::prelude::*;

use crate::expr::{date_lit, implode_lit, instant_lit};

use crate::config::Rules;
use crate::error::{Result, StageExt};
use crate::rules::{dec_lit, round_credits};
use crate::schema::{col, entry_type, money};
use matching::status;

/// Everything reconciliation reads.
#[derive(Debug, Clone)]
pub struct ReconcileInput {
    /// Business date reconciled.
    pub date: NaiveDate,
    /// Business time zone.
    pub tz: Tz,
    /// Prepared events of the history (see [`crate::rules::prepare_events`]).
    pub history: DataFrame,
    /// Expected charges of every event of the history.
    pub expected: DataFrame,
    /// Upload timeline (see [`crate::rules::upload::timeline`]).
    pub timeline: DataFrame,
    /// Valid ledger entries, all dates.
    pub entries: DataFrame,
    /// Ids of every valid event of the data root (any date).
    pub known_event_ids: Series,
    /// Ids of rejected events: their charges are neither compared nor orphans.
    pub rejected_event_ids: Series,
}

/// What reconciliation produces for one business date.
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// Expected charges of the events of the date.
    pub expected: DataFrame,
    /// One row per (event, charge) pair in scope, and per other ledger entry posted on the date.
    pub reconciliation: DataFrame,
    /// `findings.parquet`.
    pub findings: DataFrame,
    /// `refund_candidates.parquet`.
    pub refund_candidates: DataFrame,
    /// `project_summary.parquet`.
    pub project_summary: DataFrame,
    /// Ledger entries in scope, counted from the ledger itself (for the conservation check).
    pub entries_in_scope: usize,
}

/// True where the instant `ts` falls on business `date` in `tz`: from the date's first instant
/// to the next date's, two comparisons instead of a time-zone conversion per row.
pub fn on_business_date(ts: Expr, date: NaiveDate, tz: Tz) -> Expr {
    let start = |d: NaiveDate| instant_lit(crate::sources::start_of_day(d, tz));
    ts.clone().gt_eq(start(date)).and(ts.lt(start(date + chrono::Days::new(1))))
}

/// Runs SPEC §4 for `input.date`.
pub fn reconcile(input: &ReconcileInput, rules: &Rules) -> Result<Reconciled> {
    let clock = std::time::Instant::now();
    let date = input.date;
    let on_date = |ts: &str| on_business_date(col(ts), date, input.tz);
    let tolerance = round_credits(dec_lit(rules.reconciliation.tolerance));

    let expected_d = input
        .expected
        .clone()
        .lazy()
        .filter(col(col::BUSINESS_DATE).eq(date_lit(date)))
        .sort([col::EVENT_ID], SortMultipleOptions::default())
        .collect()
        .stage("reconcile scope")?;
    let events_d = expected_d
        .clone()
        .lazy()
        .join(
            input.history.clone().lazy().select([
                col(col::EVENT_ID),
                col(col::OCCURRED_AT),
                col(col::SEQ),
                col(col::UPLOAD_ID),
            ]),
            [col(col::EVENT_ID)],
            [col(col::EVENT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        // Collected once: every query below reads them (a lazy cache lives for one query only).
        .collect()
        .stage("reconcile scope")?
        .lazy();

    let entries = input
        .entries
        .clone()
        .lazy()
        .with_column(on_date(col::POSTED_AT).alias("_posted_on_date"))
        .collect()
        .stage("reconcile scope")?
        .lazy();
    let charges = matching::charges(entries.clone()).collect().stage("reconcile scope")?.lazy();
    let event_charges =
        matching::ranked_charges(charges.clone(), events_d.clone().select([col(col::EVENT_ID)]))
            .stage("matching")?
            .collect()
            .stage("matching")?;
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "charges matched to events");

    // Event rows: each event of the date with each of its charges, or none.
    let event_rows = events_d
        .clone()
        .join(
            event_charges.clone().lazy().select([
                col(col::REFERENCE_ID),
                col(col::ENTRY_ID),
                col(col::ENTRY_TYPE),
                col(col::CATEGORY).alias(col::CHARGE_CATEGORY),
                col(col::POSTED_AT),
                col(col::AMOUNT),
                col(col::CHARGED_CREDITS),
                col(col::CHARGE_RANK),
            ]),
            [col(col::EVENT_ID)],
            [col(col::REFERENCE_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(matching::event_status(tolerance.clone()).alias(col::STATUS))
        .with_column(
            when(col(col::STATUS).eq(lit(status::MISSING_CHARGE)))
                .then(lit(0).cast(money()) - col(col::EXPECTED_CREDITS))
                .otherwise(col(col::CHARGED_CREDITS) - col(col::EXPECTED_CREDITS))
                .cast(money())
                .alias(col::DELTA_CREDITS),
        );

    // Orphans: charges posted on the date whose reference is null or no event of the data root.
    // (Anti-joins on the ids: a null reference matches no id and stays.)
    let ids = |ids: &Series| ids.clone().with_name(col::EVENT_ID.into()).into_frame().lazy();
    let (known, rejected) = (ids(&input.known_event_ids), ids(&input.rejected_event_ids));
    let not_an_event_id = |lf: LazyFrame, ids: LazyFrame| {
        lf.join(ids, [col(col::REFERENCE_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Anti))
    };
    let orphan_rows =
        not_an_event_id(not_an_event_id(charges.clone().filter(col("_posted_on_date")), known), rejected)
            .with_columns([
                col(col::CATEGORY).alias(col::CHARGE_CATEGORY),
                col(col::CHARGED_CREDITS).alias(col::DELTA_CREDITS),
                lit(status::ORPHAN_CHARGE).alias(col::STATUS),
                // The id the charge references, though no event has it.
                col(col::REFERENCE_ID).alias(col::EVENT_ID),
            ])
            .drop(cols([col::CATEGORY]));

    // Every other entry posted on the date, so that each entry in scope appears once.
    let placed = concat(
        [
            event_charges.clone().lazy().select([col(col::ENTRY_ID)]),
            orphan_rows.clone().select([col(col::ENTRY_ID)]),
        ],
        UnionArgs::default(),
    )
    .stage("matching")?;
    let other_rows = entries
        .clone()
        .filter(col("_posted_on_date"))
        .join(placed, [col(col::ENTRY_ID)], [col(col::ENTRY_ID)], JoinArgs::new(JoinType::Anti))
        .with_columns([
            col(col::CATEGORY).alias(col::CHARGE_CATEGORY),
            when(col(col::ENTRY_TYPE).neq(lit(entry_type::CHARGE)))
                .then(lit(status::NOT_A_CHARGE))
                .when(col(col::REFERENCE_ID).is_in(implode_lit(input.rejected_event_ids.clone()), false))
                .then(lit(status::CHARGE_OF_REJECTED_EVENT))
                .otherwise(lit(status::CHARGE_OF_OTHER_DATE))
                .alias(col::STATUS),
            when(col(col::ENTRY_TYPE).eq(lit(entry_type::CHARGE)))
                .then(lit(0).cast(money()) - col(col::AMOUNT))
                .otherwise(lit(NULL).cast(money()))
                .alias(col::CHARGED_CREDITS),
            col(col::REFERENCE_ID).alias(col::EVENT_ID),
        ])
        .drop(cols([col::CATEGORY]));

    let reconciliation = concat(
        [
            matching::to_reconciliation(event_rows).stage("matching")?,
            matching::to_reconciliation(orphan_rows).stage("matching")?,
            matching::to_reconciliation(other_rows).stage("matching")?,
        ],
        UnionArgs::default(),
    )
    .stage("matching")?
    .with_column(date_lit(date).alias(col::BUSINESS_DATE))
    // One order whatever the order of the inputs (ledger files or a database stream): by event,
    // then entry; an entry appears once, an event without an entry once.
    .sort(
        [col::EVENT_ID, col::ENTRY_ID],
        SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true),
    )
    .collect()
    .stage("matching")?;

    // The entries posted on the date and the charges of the date's events posted on other dates:
    // entry ids are unique (a repeated one is a reject), so no set of ids is needed.
    let posted_on_date =
        entries.clone().filter(col("_posted_on_date")).select([len()]).collect().stage("scope")?;
    let charged_elsewhere = event_charges
        .clone()
        .lazy()
        .filter(col("_posted_on_date").not())
        .select([len()])
        .collect()
        .stage("scope")?;
    let count = |df: &DataFrame| -> Result<usize> {
        Ok(df.column("len").stage("scope")?.idx().stage("scope")?.get(0).unwrap_or(0) as usize)
    };
    let entries_in_scope = count(&posted_on_date)? + count(&charged_elsewhere)?;

    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "reconciliation rows");
    let findings = findings::findings(&reconciliation, &expected_d, entries, input, rules)?;
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "findings");
    let refund_candidates = refunds::candidates(&reconciliation, charges, input, rules)?;
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "refund candidates");
    let project_summary =
        summary::project_summary(&expected_d, &reconciliation, &findings, &refund_candidates, date)?;
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "project summary");

    Ok(Reconciled {
        expected: expected_d,
        reconciliation,
        findings,
        refund_candidates,
        project_summary,
        entries_in_scope,
    })
}

/// A stable id: the first 32 hex digits of the SHA-256 of the parts joined with `|` (a null part
/// as the empty string).
pub fn stable_id(parts: Vec<Expr>) -> Expr {
    let joined = concat_str(parts.into_iter().map(|p| p.fill_null(lit(""))).collect::<Vec<_>>(), "|", false);
    joined.map(
        |c: Column| {
            let ca = c.str()?;
            let out: StringChunked = ca
                .iter()
                .map(|v| v.map(|s| crate::reports::manifest::sha256_hex(s.as_bytes())[..32].to_string()))
                .collect();
            Ok(out.with_name(ca.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::String)),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use crate::testkit::{Ev, Le, cells, keys, reconcile, reconcile_with_rejected, refund_of};

    fn k(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.to_string(), b.to_string(), c.to_string())
    }

    fn upload(id: &'static str, upload: &'static str, at: &'static str, cells: i64, sha: &'static str) -> Ev {
        Ev {
            upload: Some(upload),
            tta: Some(vec!["q"]),
            reported: Some(cells),
            sha: Some(sha),
            ..Ev::new(id, "upload", at)
        }
    }

    fn charge(
        id: &'static str,
        at: &'static str,
        cat: &'static str,
        amount: &'static str,
        reference: &'static str,
    ) -> Le {
        (id, at, "charge", Some(cat), amount, Some(reference), None)
    }

    #[test]
    fn a_matching_charge_is_no_finding_and_a_late_one_is_late_but_not_missing() {
        let evs = [
            upload("e1", "u1", "2026-11-02T09:00:00Z", 5, "a"),
            upload("e2", "u2", "2026-11-02T10:00:00Z", 3, "b"),
        ];
        let ledger = [
            charge("c1", "2026-11-02T09:10:00Z", "import", "-5.0000", "e1"),
            // Posted two days later: matched, only LATE_CHARGE.
            charge("c2", "2026-11-04T10:00:00Z", "import", "-3.0000", "e2"),
        ];
        let r = reconcile(&evs, cells(&[]), &ledger, "2026-11-02");
        assert_eq!(keys(&r.findings, "finding_type"), vec![k("LATE_CHARGE", "e2", "c2")]);
        assert_eq!(r.refund_candidates.height(), 0);
    }

    #[test]
    fn amount_findings_follow_the_expected_credits() {
        let evs = [
            upload("e1", "u1", "2026-11-02T09:00:00Z", 5, "a"),
            upload("e2", "u2", "2026-11-02T09:01:00Z", 5, "b"),
            upload("e3", "u3", "2026-11-02T09:02:00Z", 5, "c"),
            upload("e4", "u4", "2026-11-02T09:03:00Z", 0, "d"),
            Ev {
                translated: Some(10),
                upload: Some("u1"),
                ..Ev::new("e5", "translation", "2026-11-02T09:04:00Z")
            },
        ];
        let ledger = [
            charge("c2", "2026-11-02T09:05:00Z", "import", "-4.0000", "e2"),
            charge("c3", "2026-11-02T09:05:00Z", "import", "-6.5000", "e3"),
            charge("c4", "2026-11-02T09:05:00Z", "import", "-1.0000", "e4"),
            charge("c4b", "2026-11-02T09:06:00Z", "import", "-1.0000", "e4"),
            charge("c5", "2026-11-02T09:05:00Z", "import", "-1.0000", "e5"),
            ("c6", "2026-11-02T09:05:00Z", "charge", Some("rerun"), "-2.0000", None, None),
            charge("c7", "2026-11-02T09:05:00Z", "rerun", "-2.0000", "nope"),
        ];
        let r = reconcile(&evs, cells(&[]), &ledger, "2026-11-02");
        assert_eq!(
            keys(&r.findings, "finding_type"),
            vec![
                k("CATEGORY_MISMATCH", "e5", "c5"),
                k("DUPLICATE_CHARGE", "e4", "c4b"),
                k("MISSING_CHARGE", "e1", ""),
                k("ORPHAN_CHARGE", "", "c6"),
                k("ORPHAN_CHARGE", "", "c7"),
                k("OVERCHARGE", "e3", "c3"),
                k("UNDERCHARGE", "e2", "c2"),
                k("UNEXPECTED_CHARGE", "e4", "c4"),
            ]
        );
        assert_eq!(refund_of(&r.refund_candidates, "OVERCHARGE", "c3"), "1.5000");
        // A charge gets one candidate: the duplicate of a free event is a DUPLICATE_CHARGE.
        assert_eq!(refund_of(&r.refund_candidates, "DUPLICATE_CHARGE", "c4b"), "1.0000");
        assert_eq!(refund_of(&r.refund_candidates, "UNEXPECTED_CHARGE", "c4"), "1.0000");
    }

    #[test]
    fn a_charge_of_a_rejected_event_is_no_orphan_and_a_charge_of_no_event_is_one() {
        let evs = [upload("e1", "u1", "2026-11-02T09:00:00Z", 2, "a")];
        let ledger = [
            charge("c1", "2026-11-02T09:01:00Z", "import", "-2.0000", "e1"),
            charge("c2", "2026-11-02T09:02:00Z", "import", "-3.0000", "rejected-ev"),
            charge("c3", "2026-11-02T09:03:00Z", "import", "-4.0000", "no-such-ev"),
            ("c4", "2026-11-02T09:04:00Z", "charge", Some("rerun"), "-5.0000", None, None),
        ];
        let r = reconcile_with_rejected(&evs, cells(&[]), &ledger, "2026-11-02", &["rejected-ev"]);
        assert_eq!(
            keys(&r.findings, "finding_type"),
            vec![k("ORPHAN_CHARGE", "", "c3"), k("ORPHAN_CHARGE", "", "c4")]
        );
        assert_eq!(
            keys(&r.reconciliation, "status"),
            vec![
                k("CHARGE_OF_REJECTED_EVENT", "rejected-ev", "c2"),
                k("MATCHED", "e1", "c1"),
                k("ORPHAN_CHARGE", "", "c4"),
                k("ORPHAN_CHARGE", "no-such-ev", "c3"),
            ]
        );
    }

    #[test]
    fn balance_break_compares_with_the_previous_entry_of_the_account() {
        let ledger = [
            ("p1", "2026-11-01T08:00:00Z", "purchase", None, "100.0000", None, Some("100.0000")),
            ("g1", "2026-11-02T08:00:00Z", "grant", None, "10.0000", None, Some("110.0000")),
            ("g2", "2026-11-02T09:00:00Z", "grant", None, "10.0000", None, Some("125.0000")),
            ("g3", "2026-11-02T10:00:00Z", "grant", None, "10.0000", None, None),
        ];
        let r = reconcile(&[], cells(&[]), &ledger, "2026-11-02");
        assert_eq!(keys(&r.findings, "finding_type"), vec![k("BALANCE_BREAK", "", "g2")]);
    }

    #[test]
    fn accidental_upload_refund_is_reduced_by_the_earlier_candidate_and_ledger_refunds() {
        // u1 on 11-01 overcharged by 2 (a candidate of 2 there), deleted on 11-02 within 24 h.
        let evs = [
            upload("e1", "u1", "2026-11-01T20:00:00Z", 5, "a"),
            Ev { upload: Some("u1"), ..Ev::new("d1", "upload_deleted", "2026-11-02T08:00:00Z") },
            // u2 deleted after a rerun in between: no candidate.
            upload("e2", "u2", "2026-11-02T09:00:00Z", 4, "b"),
            Ev {
                fraction: Some("1"),
                confirmed: Some(true),
                ..Ev::new("r1", "rerun", "2026-11-02T09:30:00Z")
            },
            Ev { upload: Some("u2"), ..Ev::new("d2", "upload_deleted", "2026-11-02T10:00:00Z") },
        ];
        let ledger = [
            charge("c1", "2026-11-01T20:01:00Z", "import", "-7.0000", "e1"),
            charge("c2", "2026-11-02T09:01:00Z", "import", "-4.0000", "e2"),
            charge("c3", "2026-11-02T09:31:00Z", "rerun", "-2.0000", "r1"),
            ("rf", "2026-11-02T12:00:00Z", "refund", Some("import"), "1.0000", Some("c1"), None),
        ];
        let r = reconcile(&evs, cells(&[]), &ledger, "2026-11-02");
        // 7 - max(C = 2, refunded = 1) = 5.
        assert_eq!(keys(&r.refund_candidates, "reason"), vec![k("ACCIDENTAL_UPLOAD", "e1", "c1")]);
        assert_eq!(refund_of(&r.refund_candidates, "ACCIDENTAL_UPLOAD", "c1"), "5.0000");
        // On 11-01 the same charge is an OVERCHARGE candidate of 2 - 1 refunded = 1.
        let day1 = reconcile(&evs, cells(&[]), &ledger, "2026-11-01");
        assert_eq!(refund_of(&day1.refund_candidates, "OVERCHARGE", "c1"), "1.0000");
    }

    #[test]
    fn duplicate_upload_within_the_window_and_a_candidate_left_at_zero_is_dropped() {
        let evs = [
            upload("e1", "u1", "2026-11-02T01:00:00Z", 2, "same"),
            upload("e2", "u2", "2026-11-02T05:00:00Z", 2, "same"),
            upload("e3", "u3", "2026-11-02T06:00:00Z", 2, "same"),
        ];
        let ledger = [
            charge("c1", "2026-11-02T01:01:00Z", "import", "-2.0000", "e1"),
            charge("c2", "2026-11-02T05:01:00Z", "import", "-2.0000", "e2"),
            charge("c3", "2026-11-02T06:01:00Z", "import", "-2.0000", "e3"),
            ("rf", "2026-11-02T07:00:00Z", "refund", Some("import"), "2.0000", Some("c3"), None),
        ];
        let r = reconcile(&evs, cells(&[]), &ledger, "2026-11-02");
        assert_eq!(keys(&r.refund_candidates, "reason"), vec![k("DUPLICATE_UPLOAD", "e2", "c2")]);
    }
}
