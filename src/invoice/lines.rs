//! The lines of each account's monthly statement as one Polars lazy query: the opening balance, the
//! month's movements by entry type (charges by category, with the credits expected per the rules
//! beside them), the closing balance, and the check of that balance against the ledger's own
//! `balance_after`.

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;

use crate::expr::{date_lit, implode_lit, instant_lit};
use crate::schema::{self, balance_check, col, entry_type, invoice_line, money};

/// The month of a statement in the business time zone: its first and last business dates and the
/// UTC instants at which it starts and ends (end excluded).
#[derive(Debug, Clone)]
pub struct Period {
    /// `YYYY-MM`.
    pub month: String,
    /// First business date of the month.
    pub first_day: NaiveDate,
    /// Last business date of the month.
    pub last_day: NaiveDate,
    /// The instant the month starts in the business time zone.
    pub start: DateTime<Utc>,
    /// The instant the next month starts in the business time zone.
    pub end: DateTime<Utc>,
}

fn zero() -> Expr {
    lit(0).cast(money())
}

fn no_projects() -> Expr {
    implode_lit(Series::new_empty("p".into(), &DataType::String))
}

/// The statement line of a ledger entry: `charge_<category>` for a charge (`charge_uncategorized`
/// where its category is null), otherwise its entry type (`purchase`, `grant`, `refund`, `adjustment`).
pub fn line_of(entry_type: Expr, category: Expr) -> Expr {
    when(entry_type.clone().eq(lit(entry_type::CHARGE)))
        .then(
            when(category.clone().is_null())
                .then(lit(invoice_line::CHARGE_UNCATEGORIZED))
                .otherwise(concat_str([lit(invoice_line::CHARGE_PREFIX), category], "", false)),
        )
        .otherwise(entry_type)
}

/// `line_no` and `line` of the given lines, numbered by their place in the statement.
fn lines_frame(lines: &[&str]) -> PolarsResult<LazyFrame> {
    let position =
        |l: &str| invoice_line::ALL.iter().position(|x| *x == l).map(|i| i as i32 + 1).unwrap_or(0);
    let frame = df!(
        col::LINE_NO => lines.iter().map(|l| position(l)).collect::<Vec<i32>>(),
        col::LINE => lines.to_vec(),
    )?;
    Ok(frame.lazy())
}

/// Every line of every account's statement for `period`, in the shape of
/// [`schema::invoices_schema`], ordered by account and line.
///
/// - `entries`: the valid ledger entries of every date (the ledger as read now).
/// - `expected`: the expected charges of the events (see [`crate::rules::price`]).
/// - `accounts`: `account_id` and `name` of the reference accounts.
///
/// The opening balance is the sum of the amounts posted before the month starts; each movement line
/// sums the amounts posted within the month; the closing balance is the sum of the amounts posted
/// before the month ends, so that `opening + movements = closing` is a check, not a definition.
/// A charge line also carries `charged_credits` (`-credits`), the credits `expected` for the
/// month's events of its category and `delta_credits = charged - expected` (null where an event's
/// cost is unknown). The closing line carries the check against the ledger: the `balance_after` of
/// the account's last entry posted before the month ends that has one, compared with the sum of
/// the amounts up to and including that entry (`agrees`, `disagrees`, `not_recorded`).
pub fn statement_lines(
    entries: LazyFrame,
    expected: LazyFrame,
    accounts: LazyFrame,
    period: &Period,
) -> PolarsResult<LazyFrame> {
    let posted = col(col::POSTED_AT);
    let entries = entries
        .select([
            col(col::ENTRY_ID),
            col(col::POSTED_AT),
            col(col::ACCOUNT_ID),
            col(col::PROJECT_ID),
            col(col::AMOUNT),
            col(col::BALANCE_AFTER),
            line_of(col(col::ENTRY_TYPE), col(col::CATEGORY)).alias(col::LINE),
        ])
        .filter(posted.clone().lt(instant_lit(period.end)))
        .cache();
    let in_month = entries.clone().filter(posted.clone().gt_eq(instant_lit(period.start))).cache();

    // Every reference account, and every other account the ledger holds up to the end of the month.
    let names = accounts.select([col(col::ACCOUNT_ID), col(col::NAME).alias(col::ACCOUNT_NAME)]);
    let accounts = concat(
        [names.clone().select([col(col::ACCOUNT_ID)]), entries.clone().select([col(col::ACCOUNT_ID)])],
        UnionArgs::default(),
    )?
    .unique(None, UniqueKeepStrategy::Any)
    .join(names, [col(col::ACCOUNT_ID)], [col(col::ACCOUNT_ID)], JoinArgs::new(JoinType::Left))
    .cache();

    // Movements of the month.
    let moved = in_month.clone().group_by([col(col::ACCOUNT_ID), col(col::LINE)]).agg([
        col(col::AMOUNT).sum().cast(money()).alias(col::CREDITS),
        len().cast(DataType::Int64).alias(col::ENTRIES),
    ]);

    // Expected credits of the month's events, by category.
    let expected_m = expected
        .filter(
            col(col::BUSINESS_DATE)
                .gt_eq(date_lit(period.first_day))
                .and(col(col::BUSINESS_DATE).lt_eq(date_lit(period.last_day)))
                .and(col(col::CATEGORY).is_not_null()),
        )
        .select([
            col(col::ACCOUNT_ID),
            col(col::PROJECT_ID),
            col(col::EXPECTED_CREDITS),
            concat_str([lit(invoice_line::CHARGE_PREFIX), col(col::CATEGORY)], "", false).alias(col::LINE),
        ])
        .cache();
    let expected_by_line = expected_m.clone().group_by([col(col::ACCOUNT_ID), col(col::LINE)]).agg([
        col(col::EXPECTED_CREDITS).sum().cast(money()).alias("_expected"),
        len().cast(DataType::Int64).alias("_events"),
        col(col::EXPECTED_CREDITS).is_null().sum().cast(DataType::Int64).alias("_unknown"),
    ]);

    // The projects behind each figure: of the entries and of the expected events.
    let projects = concat(
        [
            in_month.clone().select([col(col::ACCOUNT_ID), col(col::LINE), col(col::PROJECT_ID)]),
            expected_m.select([col(col::ACCOUNT_ID), col(col::LINE), col(col::PROJECT_ID)]),
        ],
        UnionArgs::default(),
    )?
    .filter(col(col::PROJECT_ID).is_not_null())
    .unique(None, UniqueKeepStrategy::Any)
    .group_by([col(col::ACCOUNT_ID), col(col::LINE)])
    .agg([col(col::PROJECT_ID).sort(SortOptions::default()).alias(col::PROJECTS)]);

    let keys = [col(col::ACCOUNT_ID), col(col::LINE)];
    let left = || JoinArgs::new(JoinType::Left);
    let movement_lines = &invoice_line::ALL[1..invoice_line::ALL.len() - 1];
    let is_charge = col(col::LINE).str().starts_with(lit(invoice_line::CHARGE_PREFIX));
    let has_expected = is_charge.clone().and(col(col::LINE).neq(lit(invoice_line::CHARGE_UNCATEGORIZED)));
    let charged = (zero() - col(col::CREDITS)).cast(money());
    let expected_known = col("_expected").fill_null(zero());
    let movements = accounts
        .clone()
        .cross_join(lines_frame(movement_lines)?, None)
        .join(moved, keys.clone(), keys.clone(), left())
        .join(expected_by_line, keys.clone(), keys.clone(), left())
        .join(projects, keys.clone(), keys, left())
        .with_column(col(col::CREDITS).fill_null(zero()))
        .with_columns([
            col(col::ENTRIES).fill_null(lit(0i64)),
            when(is_charge.clone()).then(charged.clone()).otherwise(lit(NULL)).alias(col::CHARGED_CREDITS),
            when(has_expected.clone())
                .then(expected_known.clone())
                .otherwise(lit(NULL))
                .alias(col::EXPECTED_CREDITS),
            when(has_expected.clone().and(col("_unknown").fill_null(lit(0i64)).eq(lit(0i64))))
                .then(charged - expected_known)
                .otherwise(lit(NULL))
                .alias(col::DELTA_CREDITS),
            when(has_expected.clone())
                .then(col("_events").fill_null(lit(0i64)))
                .otherwise(lit(NULL))
                .alias(col::EVENTS),
            when(has_expected)
                .then(col("_unknown").fill_null(lit(0i64)))
                .otherwise(lit(NULL))
                .alias(col::EVENTS_EXPECTED_UNKNOWN),
        ]);

    // Opening balance: everything posted before the month.
    let opening =
        entries.clone().filter(posted.lt(instant_lit(period.start))).group_by([col(col::ACCOUNT_ID)]).agg([
            col(col::AMOUNT).sum().cast(money()).alias(col::CREDITS),
            len().cast(DataType::Int64).alias(col::ENTRIES),
        ]);
    let opening = accounts
        .clone()
        .cross_join(lines_frame(&[invoice_line::OPENING_BALANCE])?, None)
        .join(opening, [col(col::ACCOUNT_ID)], [col(col::ACCOUNT_ID)], left())
        .with_columns([col(col::CREDITS).fill_null(zero()), col(col::ENTRIES).fill_null(lit(0i64))]);

    // Closing balance, summed on its own, and the ledger's last recorded balance before the end.
    let closing = entries.clone().group_by([col(col::ACCOUNT_ID)]).agg([
        col(col::AMOUNT).sum().cast(money()).alias(col::CREDITS),
        len().cast(DataType::Int64).alias(col::ENTRIES),
    ]);
    let running = col(col::AMOUNT).cum_sum(false).over([col(col::ACCOUNT_ID)])?;
    let recorded = entries
        .sort([col::ACCOUNT_ID, col::POSTED_AT, col::ENTRY_ID], SortMultipleOptions::default())
        .with_column(running.alias("_running"))
        .filter(col(col::BALANCE_AFTER).is_not_null())
        .group_by([col(col::ACCOUNT_ID)])
        .agg([
            col(col::BALANCE_AFTER).last().cast(money()).alias(col::RECORDED_BALANCE),
            col(col::ENTRY_ID).last().alias(col::RECORDED_AT_ENTRY),
            col("_running").last().alias("_running"),
        ]);
    let difference = (col(col::RECORDED_BALANCE) - col("_running")).cast(money());
    let closing = accounts
        .cross_join(lines_frame(&[invoice_line::CLOSING_BALANCE])?, None)
        .join(closing, [col(col::ACCOUNT_ID)], [col(col::ACCOUNT_ID)], left())
        .join(recorded, [col(col::ACCOUNT_ID)], [col(col::ACCOUNT_ID)], left())
        .with_columns([
            col(col::CREDITS).fill_null(zero()),
            col(col::ENTRIES).fill_null(lit(0i64)),
            difference.clone().alias(col::BALANCE_DIFFERENCE),
            when(col(col::RECORDED_BALANCE).is_null())
                .then(lit(balance_check::NOT_RECORDED))
                .when(difference.eq(zero()))
                .then(lit(balance_check::AGREES))
                .otherwise(lit(balance_check::DISAGREES))
                .alias(col::BALANCE_CHECK),
        ]);

    let month = period.month.clone();
    let shape = move |mut lf: LazyFrame| -> PolarsResult<LazyFrame> {
        let have = lf.collect_schema()?;
        let exprs: Vec<Expr> = schema::invoices_schema()
            .iter()
            .map(|(name, dtype)| {
                let e = match name.as_str() {
                    col::INVOICE_MONTH => lit(month.clone()),
                    col::PROJECTS if have.contains(name) => col(name.clone()).fill_null(no_projects()),
                    col::PROJECTS => no_projects(),
                    other if have.contains(other) => col(other),
                    _ => lit(NULL),
                };
                e.cast(dtype.clone()).alias(name.clone())
            })
            .collect();
        Ok(lf.select(exprs))
    };
    Ok(concat([shape(opening)?, shape(movements)?, shape(closing)?], UnionArgs::default())?
        .sort([col::ACCOUNT_ID, col::LINE_NO], SortMultipleOptions::default()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::invoice::Month;
    use crate::testkit::{Le, entries};

    fn lines(ledger: DataFrame, expected: DataFrame, accounts: &[&str], tz: chrono_tz::Tz) -> DataFrame {
        let accounts = df!(col::ACCOUNT_ID => accounts, col::NAME => accounts).unwrap();
        let period = "2026-11".parse::<Month>().unwrap().period(tz);
        statement_lines(ledger.lazy(), expected.lazy(), accounts.lazy(), &period).unwrap().collect().unwrap()
    }

    fn no_expected() -> DataFrame {
        DataFrame::empty_with_schema(&crate::rules::expected_schema())
    }

    /// One cell as text (`""` for null).
    fn cell(df: &DataFrame, account: &str, line: &str, column: &str) -> String {
        let row = df
            .clone()
            .lazy()
            .filter(col(col::ACCOUNT_ID).eq(lit(account)).and(col(col::LINE).eq(lit(line))))
            .select([col(column)])
            .collect()
            .unwrap();
        assert_eq!(row.height(), 1, "{account} {line}");
        match row.column(column).unwrap().get(0).unwrap() {
            AnyValue::Null => String::new(),
            AnyValue::String(s) => s.to_string(),
            other => other.to_string(),
        }
    }

    /// A ledger of account `a2` (the test kit writes `a1`).
    fn of_a2(rows: &[Le]) -> DataFrame {
        entries(rows).lazy().with_column(lit("a2").alias(col::ACCOUNT_ID)).collect().unwrap()
    }

    fn ledger() -> DataFrame {
        entries(&[
            ("p0", "2026-10-31T22:59:00Z", "purchase", None, "100", None, Some("100")),
            ("p1", "2026-10-31T23:00:00Z", "purchase", None, "10", None, Some("110")),
            ("c1", "2026-11-15T10:00:00Z", "charge", Some("import"), "-2.5", Some("e1"), Some("107.5")),
            ("r1", "2026-11-16T10:00:00Z", "refund", Some("import"), "1", Some("c1"), Some("108.5")),
            ("x1", "2026-11-30T22:59:59Z", "adjustment", None, "-0.0001", None, Some("108.4999")),
            ("x2", "2026-11-30T23:00:00Z", "adjustment", None, "5", None, Some("113.4999")),
        ])
    }

    #[test]
    fn opening_movements_and_closing_follow_the_calendar_of_the_business_time_zone() {
        // In Berlin (UTC+1), p1 is 1 November 00:00 and x2 is 1 December 00:00.
        let berlin = lines(ledger(), no_expected(), &["a1"], chrono_tz::Europe::Berlin);
        assert_eq!(berlin.height(), invoice_line::ALL.len());
        assert_eq!(cell(&berlin, "a1", "opening_balance", col::CREDITS), "100.0000");
        assert_eq!(cell(&berlin, "a1", "opening_balance", col::ENTRIES), "1");
        assert_eq!(cell(&berlin, "a1", "purchase", col::CREDITS), "10.0000");
        assert_eq!(cell(&berlin, "a1", "charge_import", col::CREDITS), "-2.5000");
        assert_eq!(cell(&berlin, "a1", "charge_import", col::CHARGED_CREDITS), "2.5000");
        assert_eq!(cell(&berlin, "a1", "refund", col::CREDITS), "1.0000");
        assert_eq!(cell(&berlin, "a1", "adjustment", col::CREDITS), "-0.0001");
        assert_eq!(cell(&berlin, "a1", "closing_balance", col::CREDITS), "108.4999");
        assert_eq!(cell(&berlin, "a1", "closing_balance", col::RECORDED_AT_ENTRY), "x1");
        assert_eq!(cell(&berlin, "a1", "closing_balance", col::BALANCE_CHECK), "agrees");
        // In UTC the same entries fall in other months.
        let utc = lines(ledger(), no_expected(), &["a1"], chrono_tz::UTC);
        assert_eq!(cell(&utc, "a1", "opening_balance", col::CREDITS), "110.0000");
        assert_eq!(cell(&utc, "a1", "purchase", col::CREDITS), "0.0000");
        assert_eq!(cell(&utc, "a1", "adjustment", col::CREDITS), "4.9999");
        assert_eq!(cell(&utc, "a1", "adjustment", col::ENTRIES), "2");
        assert_eq!(cell(&utc, "a1", "closing_balance", col::CREDITS), "113.4999");
        assert_eq!(cell(&utc, "a1", "closing_balance", col::RECORDED_AT_ENTRY), "x2");
    }

    #[test]
    fn the_statement_lines_add_up_exactly_for_every_account() {
        let mut ledger = ledger();
        ledger
            .vstack_mut(&of_a2(&[
                ("g1", "2026-10-01T08:00:00Z", "grant", None, "0.0003", None, None),
                ("c2", "2026-11-02T08:00:00Z", "charge", None, "-0.0001", None, None),
            ]))
            .unwrap();
        let df = lines(ledger, no_expected(), &["a1", "a2", "a3"], chrono_tz::Europe::Berlin);
        let statements = crate::invoice::statement::read(
            &df,
            &DataFrame::empty_with_schema(&crate::reconcile::findings::findings_schema()),
            &df!(col::PROJECT_ID => Vec::<String>::new(), col::NAME => Vec::<String>::new(), col::IS_DEMO => Vec::<bool>::new()).unwrap(),
        )
        .unwrap();
        assert_eq!(statements.len(), 3, "a3 has no entry and still gets a statement");
        for s in &statements {
            let b = s.balance().unwrap();
            assert!(b.reconciles(), "{}: {b:?}", s.account_id);
        }
        assert_eq!(cell(&df, "a2", "charge_uncategorized", col::CREDITS), "-0.0001");
        assert_eq!(cell(&df, "a2", "closing_balance", col::CREDITS), "0.0002");
        assert_eq!(cell(&df, "a2", "closing_balance", col::BALANCE_CHECK), "not_recorded");
        assert_eq!(cell(&df, "a3", "closing_balance", col::CREDITS), "0.0000");
        assert_eq!(cell(&df, "a3", "closing_balance", col::BALANCE_CHECK), "not_recorded");
    }

    #[test]
    fn the_ledger_check_uses_the_last_recorded_balance_and_flags_a_disagreement() {
        let ledger = entries(&[
            ("g1", "2026-11-01T08:00:00Z", "grant", None, "10", None, Some("10")),
            ("g2", "2026-11-02T08:00:00Z", "grant", None, "10", None, Some("25")),
            ("g3", "2026-11-03T08:00:00Z", "grant", None, "10", None, None),
        ]);
        let df = lines(ledger, no_expected(), &["a1"], chrono_tz::UTC);
        assert_eq!(cell(&df, "a1", "closing_balance", col::CREDITS), "30.0000");
        assert_eq!(cell(&df, "a1", "closing_balance", col::RECORDED_BALANCE), "25.0000");
        assert_eq!(cell(&df, "a1", "closing_balance", col::RECORDED_AT_ENTRY), "g2");
        assert_eq!(cell(&df, "a1", "closing_balance", col::BALANCE_DIFFERENCE), "5.0000");
        assert_eq!(cell(&df, "a1", "closing_balance", col::BALANCE_CHECK), "disagrees");
    }

    #[test]
    fn expected_credits_of_the_months_events_stand_beside_the_charges() {
        let ledger = entries(&[
            ("c1", "2026-11-05T10:00:00Z", "charge", Some("import"), "-4", Some("e1"), None),
            ("c2", "2026-11-06T10:00:00Z", "charge", Some("rerun"), "-1", Some("e3"), None),
        ]);
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let december = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let money =
            |v: Vec<Option<&str>>| Column::new(col::EXPECTED_CREDITS.into(), v).cast(&money()).unwrap();
        let expected = DataFrame::new_infer_height(vec![
            Column::new(col::BUSINESS_DATE.into(), [day(5), day(6), december, day(7), day(6)]),
            Column::new(col::ACCOUNT_ID.into(), ["a1"; 5]),
            Column::new(col::PROJECT_ID.into(), ["p1", "p2", "p1", "p1", "p1"]),
            Column::new(
                col::CATEGORY.into(),
                [Some("import"), Some("import"), Some("import"), None, Some("rerun")],
            ),
            money(vec![Some("3"), None, Some("7"), Some("0"), Some("1.25")]),
        ])
        .unwrap();
        let df = lines(ledger, expected, &["a1"], chrono_tz::UTC);
        assert_eq!(cell(&df, "a1", "charge_import", col::CHARGED_CREDITS), "4.0000");
        assert_eq!(cell(&df, "a1", "charge_import", col::EXPECTED_CREDITS), "3.0000");
        assert_eq!(cell(&df, "a1", "charge_import", col::EVENTS), "2");
        assert_eq!(cell(&df, "a1", "charge_import", col::EVENTS_EXPECTED_UNKNOWN), "1");
        assert_eq!(cell(&df, "a1", "charge_import", col::DELTA_CREDITS), "", "unknown cost: no delta");
        assert_eq!(cell(&df, "a1", "charge_rerun", col::DELTA_CREDITS), "-0.2500");
        assert_eq!(cell(&df, "a1", "charge_translation", col::EXPECTED_CREDITS), "0.0000");
        assert_eq!(cell(&df, "a1", "purchase", col::EXPECTED_CREDITS), "");
        let projects = df
            .clone()
            .lazy()
            .filter(col(col::LINE).eq(lit("charge_import")))
            .select([col(col::PROJECTS).list().join(lit(","), true)])
            .collect()
            .unwrap();
        assert_eq!(projects.column(col::PROJECTS).unwrap().str().unwrap().get(0), Some("p1,p2"));
    }
}
