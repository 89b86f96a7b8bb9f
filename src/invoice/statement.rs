//! One account's statement as plain values read back from the month's frames, with the exact
//! arithmetic that checks it: amounts are the integer mantissas of `Decimal(18,4)`, never floats.

use std::collections::BTreeMap;
use std::fmt;

use polars::prelude::*;

use crate::error::{Error, Result, StageExt};
use crate::schema::{self, balance_check, col, invoice_line};

/// An amount in credits, exact: the mantissa of a `Decimal(18,4)` (`12.2500` is `Credits(122500)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Credits(pub i128);

impl Credits {
    /// Fractional digits.
    pub const SCALE: u32 = schema::MONEY_SCALE as u32;
    const UNIT: i128 = 10i128.pow(Self::SCALE);

    /// Reads `"-12.25"` or `"3"` (at most 4 fractional digits); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 4 {
            return None;
        }
        let padded = format!("{fraction:0<4}");
        let m = whole.parse::<i128>().ok()?.checked_mul(Self::UNIT)?.checked_add(padded.parse().ok()?)?;
        Some(Credits(if negative { -m } else { m }))
    }

    /// The exact sum, `None` on overflow.
    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Credits)
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Whole credits and the four fractional digits, as text, of the absolute amount.
    fn parts(self) -> (String, String) {
        let abs = self.0.unsigned_abs();
        let unit = Self::UNIT as u128;
        (format!("{}", abs / unit), format!("{:04}", abs % unit))
    }

    /// For people: thousands grouped with commas, a real minus sign (`−1,234.5000`).
    pub fn grouped(self) -> String {
        let (whole, fraction) = self.parts();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if self.is_negative() { "\u{2212}" } else { "" };
        format!("{sign}{grouped}.{fraction}")
    }
}

/// Plain decimal text with four fractional digits, as in CSV: `-1234.5000`.
impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = self.parts();
        let sign = if self.is_negative() { "-" } else { "" };
        write!(f, "{sign}{whole}.{fraction}")
    }
}

/// One line of a statement, as in `invoices.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Line name (see [`invoice_line`]).
    pub line: String,
    /// The balance (opening, closing) or the movement's effect on it.
    pub credits: Credits,
    /// Charge lines: `-credits`.
    pub charged: Option<Credits>,
    /// Categorised charge lines: credits expected per the rules for the month's events.
    pub expected: Option<Credits>,
    /// `charged - expected`, where every event's cost is known.
    pub delta: Option<Credits>,
    /// Projects behind the figure.
    pub projects: Vec<String>,
    /// Ledger entries behind the figure.
    pub entries: i64,
    /// Events behind the expected credits.
    pub events: Option<i64>,
    /// Of which, events whose cost is unknown.
    pub events_expected_unknown: Option<i64>,
}

/// The check of the closing balance against the ledger's own `balance_after`.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerCheck {
    /// `agrees`, `disagrees` or `not_recorded` (see [`balance_check`]).
    pub status: String,
    /// The last `balance_after` recorded before the month ends.
    pub recorded: Option<Credits>,
    /// The entry that recorded it.
    pub at_entry: Option<String>,
    /// Recorded minus the sum of the amounts up to and including that entry.
    pub difference: Option<Credits>,
}

/// An open finding of the account, as in `open_findings.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Business date reconciled.
    pub business_date: String,
    /// Finding type.
    pub finding_type: String,
    /// `high`, `medium` or `low`.
    pub severity: String,
    /// Project, where known.
    pub project_id: Option<String>,
    /// Event, where one applies.
    pub event_id: Option<String>,
    /// Ledger entry, where one applies.
    pub entry_id: Option<String>,
    /// Expected credits.
    pub expected: Option<Credits>,
    /// Charged credits.
    pub charged: Option<Credits>,
    /// Difference.
    pub delta: Option<Credits>,
    /// A sentence a support agent can read.
    pub explanation: Option<String>,
}

/// A project named on a statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// Project id.
    pub project_id: String,
    /// Its name, where the reference holds it.
    pub name: Option<String>,
    /// Whether it is a demo project (R0: free).
    pub is_demo: bool,
}

/// Everything one account's statement shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountStatement {
    /// Account id.
    pub account_id: String,
    /// Account name, where the reference holds it.
    pub account_name: Option<String>,
    /// Every line, in statement order: opening balance, movements, closing balance.
    pub lines: Vec<Line>,
    /// The check against the ledger's `balance_after`.
    pub ledger: LedgerCheck,
    /// Open findings of the month.
    pub findings: Vec<Finding>,
    /// Projects named on the statement.
    pub projects: Vec<Project>,
}

/// `opening + movements = closing`, computed exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Opening balance.
    pub opening: Credits,
    /// Sum of the movement lines.
    pub movements: Credits,
    /// Closing balance as summed from the ledger on its own.
    pub closing: Credits,
}

impl Balance {
    /// Adds up a statement's lines: the first is the opening balance, the last the closing one.
    pub fn of(lines: &[Line]) -> Option<Balance> {
        let (first, rest) = lines.split_first()?;
        let (last, movements) = rest.split_last()?;
        if first.line != invoice_line::OPENING_BALANCE || last.line != invoice_line::CLOSING_BALANCE {
            return None;
        }
        let movements =
            movements.iter().try_fold(Credits::default(), |sum, line| sum.checked_add(line.credits))?;
        Some(Balance { opening: first.credits, movements, closing: last.credits })
    }

    /// Whether the opening balance plus the movements is the closing balance.
    pub fn reconciles(&self) -> bool {
        self.opening.checked_add(self.movements) == Some(self.closing)
    }
}

impl AccountStatement {
    /// The account's balance arithmetic.
    pub fn balance(&self) -> Option<Balance> {
        Balance::of(&self.lines)
    }

    /// Whether the ledger's recorded balance disagrees with the ledger's amounts.
    pub fn ledger_disagrees(&self) -> bool {
        self.ledger.status == balance_check::DISAGREES
    }

    /// Open findings of high severity.
    pub fn high_findings(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == "high").count()
    }
}

fn column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.column(name).stage("statements")
}

fn texts(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = column(df, name)?.cast(&DataType::String).stage("statements")?;
    Ok(c.str().stage("statements")?.iter().map(|v| v.map(str::to_string)).collect())
}

fn ints(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    let c = column(df, name)?.cast(&DataType::Int64).stage("statements")?;
    Ok(c.i64().stage("statements")?.iter().collect())
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    Ok(column(df, name)?.bool().stage("statements")?.iter().collect())
}

/// The amounts of a `Decimal(_, 4)` column as mantissas.
fn credits(df: &DataFrame, name: &str) -> Result<Vec<Option<Credits>>> {
    let c = column(df, name)?;
    match c.dtype() {
        DataType::Decimal(_, scale) if *scale == schema::MONEY_SCALE => {}
        other => {
            return Err(Error::Schema {
                file: "statements".into(),
                column: name.to_string(),
                problem: format!("found type {other}, expected {}", schema::money()),
            });
        }
    }
    Ok(c.decimal().stage("statements")?.physical().iter().map(|v| v.map(Credits)).collect())
}

fn lists(df: &DataFrame, name: &str) -> Result<Vec<Vec<String>>> {
    let c = column(df, name)?.list().stage("statements")?.clone();
    let mut out = Vec::with_capacity(c.len());
    for value in c.amortized_iter() {
        let mut items = Vec::new();
        if let Some(s) = value {
            items.extend(s.as_ref().str().stage("statements")?.iter().flatten().map(str::to_string));
        }
        out.push(items);
    }
    Ok(out)
}

/// Reads the month's frames back into one statement per account, in account order.
///
/// - `invoices`: in the shape of [`schema::invoices_schema`], ordered by account and line.
/// - `findings`: open findings in the shape of the findings report.
/// - `projects`: the reference projects (`project_id`, `name`, `is_demo`).
///
/// This is output formatting, after the one `collect` of each report: the figures are computed
/// by [`super::lines::statement_lines`], and only checked here.
pub fn read(
    invoices: &DataFrame,
    findings: &DataFrame,
    projects: &DataFrame,
) -> Result<Vec<AccountStatement>> {
    let project_ids = texts(projects, col::PROJECT_ID)?;
    let project_names = texts(projects, col::NAME)?;
    let demo = bools(projects, col::IS_DEMO)?;
    let mut known_projects = BTreeMap::new();
    for ((id, name), demo) in project_ids.into_iter().zip(project_names).zip(demo) {
        if let Some(id) = id {
            known_projects.insert(id, (name, demo.unwrap_or(false)));
        }
    }

    let mut open: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    let f_account = texts(findings, col::ACCOUNT_ID)?;
    let f_date = texts(findings, col::BUSINESS_DATE)?;
    let f_type = texts(findings, col::FINDING_TYPE)?;
    let f_severity = texts(findings, col::SEVERITY)?;
    let f_project = texts(findings, col::PROJECT_ID)?;
    let f_event = texts(findings, col::EVENT_ID)?;
    let f_entry = texts(findings, col::ENTRY_ID)?;
    let f_expected = credits(findings, col::EXPECTED_CREDITS)?;
    let f_charged = credits(findings, col::CHARGED_CREDITS)?;
    let f_delta = credits(findings, col::DELTA_CREDITS)?;
    let f_explanation = texts(findings, col::EXPLANATION)?;
    for i in 0..findings.height() {
        let Some(account) = f_account[i].clone() else { continue };
        open.entry(account).or_default().push(Finding {
            business_date: f_date[i].clone().unwrap_or_default(),
            finding_type: f_type[i].clone().unwrap_or_default(),
            severity: f_severity[i].clone().unwrap_or_default(),
            project_id: f_project[i].clone(),
            event_id: f_event[i].clone(),
            entry_id: f_entry[i].clone(),
            expected: f_expected[i],
            charged: f_charged[i],
            delta: f_delta[i],
            explanation: f_explanation[i].clone(),
        });
    }

    let account = texts(invoices, col::ACCOUNT_ID)?;
    let name = texts(invoices, col::ACCOUNT_NAME)?;
    let line = texts(invoices, col::LINE)?;
    let amount = credits(invoices, col::CREDITS)?;
    let charged = credits(invoices, col::CHARGED_CREDITS)?;
    let expected = credits(invoices, col::EXPECTED_CREDITS)?;
    let delta = credits(invoices, col::DELTA_CREDITS)?;
    let line_projects = lists(invoices, col::PROJECTS)?;
    let entries = ints(invoices, col::ENTRIES)?;
    let events = ints(invoices, col::EVENTS)?;
    let unknown = ints(invoices, col::EVENTS_EXPECTED_UNKNOWN)?;
    let recorded = credits(invoices, col::RECORDED_BALANCE)?;
    let at_entry = texts(invoices, col::RECORDED_AT_ENTRY)?;
    let difference = credits(invoices, col::BALANCE_DIFFERENCE)?;
    let check = texts(invoices, col::BALANCE_CHECK)?;

    let mut statements: Vec<AccountStatement> = Vec::new();
    for i in 0..invoices.height() {
        let id = account[i].clone().unwrap_or_default();
        if statements.last().is_none_or(|s| s.account_id != id) {
            statements.push(AccountStatement {
                account_name: name[i].clone(),
                lines: Vec::new(),
                ledger: LedgerCheck {
                    status: balance_check::NOT_RECORDED.to_string(),
                    recorded: None,
                    at_entry: None,
                    difference: None,
                },
                findings: open.remove(&id).unwrap_or_default(),
                projects: Vec::new(),
                account_id: id,
            });
        }
        let Some(statement) = statements.last_mut() else { continue };
        let this = line[i].clone().unwrap_or_default();
        if this == invoice_line::CLOSING_BALANCE {
            statement.ledger = LedgerCheck {
                status: check[i].clone().unwrap_or_else(|| balance_check::NOT_RECORDED.to_string()),
                recorded: recorded[i],
                at_entry: at_entry[i].clone(),
                difference: difference[i],
            };
        }
        statement.lines.push(Line {
            line: this,
            credits: amount[i].unwrap_or_default(),
            charged: charged[i],
            expected: expected[i],
            delta: delta[i],
            projects: line_projects[i].clone(),
            entries: entries[i].unwrap_or(0),
            events: events[i],
            events_expected_unknown: unknown[i],
        });
    }
    for statement in &mut statements {
        let mut named: Vec<&String> = statement
            .lines
            .iter()
            .flat_map(|l| l.projects.iter())
            .chain(statement.findings.iter().filter_map(|f| f.project_id.as_ref()))
            .collect();
        named.sort();
        named.dedup();
        statement.projects = named
            .into_iter()
            .map(|id| {
                let (name, is_demo) = known_projects.get(id).cloned().unwrap_or((None, false));
                Project { project_id: id.clone(), name, is_demo }
            })
            .collect();
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn line(name: &str, credits: &str) -> Line {
        Line {
            line: name.to_string(),
            credits: Credits::parse(credits).unwrap(),
            charged: None,
            expected: None,
            delta: None,
            projects: vec![],
            entries: 0,
            events: None,
            events_expected_unknown: None,
        }
    }

    #[test]
    fn credits_format_exactly_without_floats() {
        assert_eq!(Credits(12_345_678_901_234).to_string(), "1234567890.1234");
        assert_eq!(Credits(-5).to_string(), "-0.0005");
        assert_eq!(Credits(0).to_string(), "0.0000");
        assert_eq!(Credits(-123_456_789_000).grouped(), "\u{2212}12,345,678.9000");
        assert_eq!(Credits(999_0000).grouped(), "999.0000");
        assert_eq!(Credits(1000_0000).grouped(), "1,000.0000");
        // 0.1 + 0.2 is exactly 0.3 here, as it is not in binary floating point.
        let sum = Credits::parse("0.1").unwrap().checked_add(Credits::parse("0.2").unwrap()).unwrap();
        assert_eq!(sum, Credits::parse("0.3").unwrap());
        // The largest Decimal(18,4) survives the round trip.
        let max = Credits::parse("99999999999999.9999").unwrap();
        assert_eq!(max.to_string(), "99999999999999.9999");
        assert_eq!(Credits::parse("1.23456"), None);
        assert_eq!(Credits::parse("1e3"), None);
        assert_eq!(Credits::parse("-.5"), None);
    }

    #[test]
    fn opening_plus_movements_is_closing_to_the_last_digit() {
        let lines = vec![
            line("opening_balance", "90"),
            line("purchase", "50"),
            line("charge_import", "-9"),
            line("charge_rerun", "-3.5"),
            line("refund", "2"),
            line("adjustment", "0.0001"),
            line("closing_balance", "129.5001"),
        ];
        let b = Balance::of(&lines).unwrap();
        assert_eq!(b.movements, Credits::parse("39.5001").unwrap());
        assert!(b.reconciles());
        let mut off = lines.clone();
        off.last_mut().unwrap().credits = Credits::parse("129.5000").unwrap();
        assert!(!Balance::of(&off).unwrap().reconciles(), "one ten-thousandth of a credit is a break");
    }

    #[test]
    fn lines_without_an_opening_and_a_closing_balance_are_no_statement() {
        assert_eq!(Balance::of(&[line("purchase", "1"), line("closing_balance", "1")]), None);
        assert_eq!(Balance::of(&[line("opening_balance", "1")]), None);
    }
}
