//! Month-end invoicing: each account's statement of its credits for one month (opening balance,
//! purchases and grants, credits used by category beside the credits the rules expect, refunds,
//! adjustments, closing balance, and the month's findings still open), as `invoices.parquet` and
//! one printable HTML statement per account, with every balance checked against the ledger.

pub mod html;
pub mod job;
pub mod lines;
pub mod manifest;
pub mod statement;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use chrono::{Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use tracing::{info, info_span};

use crate::config::{Rules, RunConfig};
use crate::error::{Error, Result, StageExt};
use crate::reconcile::findings::{finding, findings_schema};
use crate::reconcile::{self, ReconcileInput};
use crate::reports::{self, Check, Stamp, file};
use crate::rules;
use crate::schema::{self, col, invoice_line};
use crate::sources::{self, Window};
use lines::Period;
use manifest::{BalanceCheck, InvoiceManifest};
use statement::AccountStatement;

/// File names of the month's reports (the statements are `statements/<account>.html`).
pub mod invoice_file {
    #![allow(missing_docs, reason = "each name is the report of the same name in the README")]
    pub const INVOICES: &str = "invoices.parquet";
    pub const OPEN_FINDINGS: &str = "open_findings.parquet";
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    first_day: NaiveDate,
}

impl Month {
    /// The month of `year` and `month` (1 to 12).
    pub fn new(year: i32, month: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first_day| Month { first_day })
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    /// The month after it.
    pub fn next(self) -> Self {
        let (y, m) = (self.first_day.year(), self.first_day.month());
        let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        Month::new(y, m).unwrap_or(self)
    }

    /// Its last day.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day.pred_opt().unwrap_or(self.first_day)
    }

    /// The month in the business time zone: the instants it starts and ends.
    pub fn period(self, tz: Tz) -> Period {
        Period {
            month: self.to_string(),
            first_day: self.first_day,
            last_day: self.last_day(),
            start: crate::sources::start_of_day(self.first_day, tz),
            end: crate::sources::start_of_day(self.next().first_day, tz),
        }
    }
}

impl FromStr for Month {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a month: use YYYY-MM, e.g. 2026-11");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
            return Err(bad());
        }
        Month::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first_day.format("%Y-%m"))
    }
}

/// Everything an invoicing run of one month needs, validated.
#[derive(Debug, Clone)]
pub struct InvoiceConfig {
    /// The data root of SPEC §2.
    pub data_root: PathBuf,
    /// The report root; the run writes `month=YYYY-MM/` under it.
    pub report_root: PathBuf,
    /// Month invoiced.
    pub month: Month,
    /// Business time zone: the month's calendar.
    pub tz: Tz,
    /// Credit rules for the expected credits.
    pub rules: Rules,
    /// Where the rules came from, for the manifest.
    pub rules_origin: String,
    /// SHA-256 of the rules file's text, for the manifest.
    pub rules_sha256: String,
}

impl InvoiceConfig {
    /// Validates the time zone, the rules file and the data root as the nightly run does.
    pub fn new(
        data_root: PathBuf,
        report_root: PathBuf,
        month: Month,
        tz: &str,
        rules_file: Option<&Path>,
    ) -> Result<Self> {
        let run = RunConfig::new(data_root, report_root, month.first_day(), tz, rules_file)?;
        Ok(Self {
            data_root: run.data_root,
            report_root: run.report_root,
            month,
            tz: run.tz,
            rules: run.rules,
            rules_origin: run.rules_origin,
            rules_sha256: run.rules_sha256,
        })
    }
}

/// What a finished invoicing run tells its caller.
#[derive(Debug, Clone)]
pub struct InvoiceOutcome {
    /// Where the month's statements are.
    pub report_dir: PathBuf,
    /// The manifest written.
    pub manifest: InvoiceManifest,
    /// Accounts whose ledger `balance_after` disagrees with the ledger's amounts.
    pub balance_disagreements: usize,
    /// Open findings of high severity.
    pub high_open_findings: u64,
}

impl InvoiceOutcome {
    /// Whether cron should alert: a balance disagrees or a high-severity finding is open.
    pub fn needs_attention(&self) -> bool {
        self.balance_disagreements > 0 || self.high_open_findings > 0
    }
}

/// Invoices one month: reads the data root, prices the month's events, reconciles each business
/// date of the month against the ledger as read now, and writes the month's statements.
pub fn run(cfg: &InvoiceConfig) -> Result<InvoiceOutcome> {
    let started = Utc::now();
    let clock = Instant::now();
    let run_id = format!("{}-{}", started.format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    let period = cfg.month.period(cfg.tz);
    info!(month = %cfg.month, tz = %cfg.tz, run_id, rules = cfg.rules.version, "invoice run started");

    // 1. Sources: the history up to the end of the month, and the whole ledger.
    let window = Window {
        usage_from: None,
        usage_until: period.end.date_naive(),
        ledger_from: None,
        ledger_since: period.start,
    };
    let inputs = info_span!("sources")
        .in_scope(|| sources::load(&cfg.data_root, &sources::LedgerSource::Files, window))?;

    // 2. Rules: price the history up to the end of the month (quotas and rerun basis need it).
    let (priced, history, cell_rejects) = info_span!("rules").in_scope(|| -> Result<_> {
        let events = inputs
            .events
            .rows
            .clone()
            .lazy()
            .filter(col(col::OCCURRED_AT).lt(crate::expr::instant_lit(period.end)));
        let history = rules::prepare_events(
            crate::state::mark_real(events),
            inputs.projects.rows.clone().lazy(),
            inputs.accounts.rows.clone().lazy(),
            inputs.plans.rows.clone().lazy(),
            cfg.tz,
        )
        .collect()
        .stage("prepare events")?;
        let counts =
            rules::upload::count_cells(inputs.cells.rows.clone().lazy(), history.clone().lazy(), &cfg.rules)?;
        let priced = rules::price(history.clone().lazy(), counts.per_upload.lazy(), &cfg.rules)?;
        info!(events = history.height(), "priced the history");
        Ok((priced, history, counts.duplicate_rejects))
    })?;

    // 3. The findings still open: those a reconciliation of each date of the month gives now.
    let open_findings = info_span!("reconcile").in_scope(|| -> Result<DataFrame> {
        let known = inputs.events.rows.column(col::EVENT_ID).stage("scope")?.as_materialized_series().clone();
        let rejected =
            inputs.events.rejects.column(col::RECORD_ID).stage("scope")?.as_materialized_series().clone();
        let mut frames = Vec::new();
        for date in period.first_day.iter_days().take_while(|d| *d <= period.last_day) {
            let input = ReconcileInput {
                date,
                tz: cfg.tz,
                history: history.clone(),
                expected: priced.expected.clone(),
                timeline: priced.timeline.clone(),
                entries: inputs.entries.rows.clone(),
                known_event_ids: known.clone(),
                rejected_event_ids: rejected.clone(),
            };
            frames.push(reconcile::reconcile(&input, &cfg.rules)?.findings.lazy());
        }
        let open = concat(frames, UnionArgs::default())
            .stage("open findings")?
            .sort(
                [col::ACCOUNT_ID, col::BUSINESS_DATE, col::FINDING_TYPE, col::EVENT_ID, col::ENTRY_ID],
                SortMultipleOptions::default().with_nulls_last(true),
            )
            .collect()
            .stage("open findings")?;
        info!(open_findings = open.height(), dates = period.last_day.day(), "reconciled the month");
        Ok(open)
    })?;

    // 4. Statement lines, read back into one statement per account and checked.
    let span = info_span!("invoice").entered();
    let mut invoices = lines::statement_lines(
        inputs.entries.rows.clone().lazy(),
        priced.expected.clone().lazy(),
        inputs.accounts.rows.clone().lazy(),
        &period,
    )
    .and_then(|lf| lf.collect())
    .stage("invoice lines")?;
    let statements = statement::read(&invoices, &open_findings, &inputs.projects.rows)?;
    let ledger_entries_in_month = entries_in_month(&inputs, &period)?;
    let conservation =
        conservation_checks(&statements, &invoices, &open_findings, &inputs, ledger_entries_in_month)?;
    if let Some(bad) = conservation.iter().find(|c| !c.ok) {
        return Err(Error::Conservation {
            date: period.last_day,
            check: format!(
                "month {}: {}: {} in the inputs, {} in the statements",
                period.month, bad.name, bad.expected, bad.actual
            ),
        });
    }
    let balance_checks: Vec<BalanceCheck> = statements.iter().map(BalanceCheck::of).collect();
    if let Some(bad) = balance_checks.iter().find(|b| !b.reconciles) {
        return Err(Error::Conservation {
            date: period.last_day,
            check: format!(
                "month {}, account {}: opening {} + movements {} is not the closing balance {}",
                period.month, bad.account_id, bad.opening, bad.movements, bad.closing
            ),
        });
    }
    let disagreements: Vec<String> =
        statements.iter().filter(|s| s.ledger_disagrees()).map(|s| s.account_id.clone()).collect();
    info!(accounts = statements.len(), balance_disagreements = disagreements.len(), "built the statements");
    drop(span);

    // 5. Reports, written aside and moved into place together.
    let _span = info_span!("reports").entered();
    // The rejects of the month's partitions (UTC days it overlaps) and of the references.
    let (first, last) =
        (period.start.date_naive(), (period.end - chrono::Duration::microseconds(1)).date_naive());
    let in_month = |d: chrono::NaiveDate| d >= first && d <= last;
    let mut rejects = concat([inputs.rejects(&in_month)?.lazy(), cell_rejects.lazy()], UnionArgs::default())
        .and_then(|lf| lf.collect())
        .stage("rejects")?;
    let stamp = Stamp {
        run_id: run_id.clone(),
        rule_version: cfg.rules.version.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        business_date: period.last_day.to_string(),
    };
    let mut staging = reports::Staging::new(reports::month_dir(&cfg.report_root, &period.month), stamp)?;
    staging.add_metadata("credit_recon.month", &period.month);
    staging.add_metadata("credit_recon.time_zone", &cfg.tz.to_string());
    let mut open = open_findings;
    staging.write_parquet(invoice_file::INVOICES, &mut invoices, Some(&schema::invoices_schema()))?;
    staging.write_parquet(invoice_file::OPEN_FINDINGS, &mut open, Some(&findings_schema()))?;
    staging.write_parquet(file::REJECTS, &mut rejects, Some(&schema::rejects_schema()))?;
    let meta = html::StatementMeta {
        month: period.month.clone(),
        month_label: period.first_day.format("%B %Y").to_string(),
        first_day: period.first_day.format("%-d %B %Y").to_string(),
        last_day: period.last_day.format("%-d %B %Y").to_string(),
        time_zone: cfg.tz.to_string(),
        rule_version: cfg.rules.version.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: run_id.clone(),
        generated_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        rejected_ledger_rows: inputs.entries.rejects.height() as u64,
    };
    for s in &statements {
        let page = html::render(s, &meta);
        staging.write_file(&html::file_name(&s.account_id), page.as_bytes(), s.lines.len() as u64)?;
    }
    info!(statements = statements.len(), "wrote the statements");

    let high_open_findings = statements.iter().map(|s| s.high_findings() as u64).sum::<u64>();
    let manifest = InvoiceManifest {
        run_id: run_id.clone(),
        month: period.month.clone(),
        time_zone: cfg.tz.to_string(),
        period_start: period.start.to_rfc3339(),
        period_end: period.end.to_rfc3339(),
        started_at: started.to_rfc3339(),
        finished_at: Utc::now().to_rfc3339(),
        versions: reports::manifest::Versions::new(&cfg.rules, &cfg.rules_origin, &cfg.rules_sha256),
        data_root: cfg.data_root.display().to_string(),
        inputs: inputs.files(),
        outputs: staging.outputs().to_vec(),
        counts: BTreeMap::from([
            ("accounts".to_string(), statements.len() as u64),
            ("invoice_rows".to_string(), invoices.height() as u64),
            ("open_findings".to_string(), open.height() as u64),
            ("open_high_findings".to_string(), high_open_findings),
            ("rejects".to_string(), rejects.height() as u64),
            ("ledger_entries_in_month".to_string(), ledger_entries_in_month),
        ]),
        open_findings_by_type: tally(
            &open,
            col::FINDING_TYPE,
            &finding::SEVERITY.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        )?,
        open_findings_by_severity: tally(&open, col::SEVERITY, &["high", "medium", "low"])?,
        balance_disagreements: disagreements.clone(),
        balance_checks,
        conservation,
    };
    let report_dir = staging.commit(&manifest)?;
    info!(
        report_dir = %report_dir.display(),
        accounts = statements.len(),
        balance_disagreements = disagreements.len(),
        open_findings = open.height(),
        high_open_findings,
        rejects = rejects.height(),
        seconds = clock.elapsed().as_secs_f64(),
        "invoice run finished"
    );
    Ok(InvoiceOutcome {
        report_dir,
        manifest,
        balance_disagreements: disagreements.len(),
        high_open_findings,
    })
}

fn tally(df: &DataFrame, column: &str, keys: &[&str]) -> Result<BTreeMap<String, u64>> {
    let mut m: BTreeMap<String, u64> = keys.iter().map(|k| (k.to_string(), 0)).collect();
    let s = df.column(column).stage("manifest")?.str().stage("manifest")?.clone();
    for v in s.iter().flatten() {
        *m.entry(v.to_string()).or_default() += 1;
    }
    Ok(m)
}

/// Valid ledger entries posted within the month.
fn entries_in_month(inputs: &sources::Inputs, period: &Period) -> Result<u64> {
    let at = crate::expr::instant_lit;
    let n = inputs
        .entries
        .rows
        .clone()
        .lazy()
        .filter(col(col::POSTED_AT).gt_eq(at(period.start)).and(col(col::POSTED_AT).lt(at(period.end))))
        .select([len()])
        .collect()
        .stage("conservation")?;
    let n = n.column("len").stage("conservation")?.cast(&DataType::UInt64).stage("conservation")?;
    Ok(n.u64().stage("conservation")?.get(0).unwrap_or(0))
}

/// Every ledger entry of the month is in exactly one movement line; every account has every line
/// once; every open finding is on its account's statement; no input row is lost.
fn conservation_checks(
    statements: &[AccountStatement],
    invoices: &DataFrame,
    open_findings: &DataFrame,
    inputs: &sources::Inputs,
    ledger_entries_in_month: u64,
) -> Result<Vec<Check>> {
    let in_lines: i64 = statements
        .iter()
        .flat_map(|s| s.lines.iter())
        .filter(|l| l.line != invoice_line::OPENING_BALANCE && l.line != invoice_line::CLOSING_BALANCE)
        .map(|l| l.entries)
        .sum();
    let complete = statements
        .iter()
        .filter(|s| s.lines.iter().map(|l| l.line.as_str()).eq(invoice_line::ALL.iter().copied()))
        .count();
    let mut checks = vec![
        Check::equal(
            "ledger entries of the month appear once in the movement lines",
            ledger_entries_in_month,
            in_lines.max(0) as u64,
        ),
        Check::equal(
            "open findings appear on their account's statement",
            open_findings.height() as u64,
            statements.iter().map(|s| s.findings.len() as u64).sum(),
        ),
        Check::equal(
            "each account's statement has every line once, in order",
            statements.len() as u64,
            complete as u64,
        ),
        Check::equal(
            "each account appears in one statement",
            statements.len() as u64,
            invoices.column(col::ACCOUNT_ID).stage("conservation")?.n_unique().stage("conservation")? as u64,
        ),
    ];
    for (name, read, kept) in inputs.row_balance() {
        checks.push(Check::equal(&format!("{name} rows read are valid or rejected"), read, kept));
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn months_parse_strictly_and_know_their_days() {
        let m: Month = "2026-02".parse().unwrap();
        assert_eq!(m.last_day(), NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!("2028-02".parse::<Month>().unwrap().last_day().day(), 29);
        assert_eq!("2026-12".parse::<Month>().unwrap().next().to_string(), "2027-01");
        for bad in ["2026-13", "2026-1", "26-11", "2026-11-01", "2026/11", "", "２０２６-11"] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_month_is_a_calendar_month_of_the_business_time_zone() {
        let p = "2026-11".parse::<Month>().unwrap().period(chrono_tz::Europe::Berlin);
        assert_eq!(p.start.to_rfc3339(), "2026-10-31T23:00:00+00:00");
        assert_eq!(p.end.to_rfc3339(), "2026-11-30T23:00:00+00:00");
        // March 2026 in Berlin starts in winter time and ends in summer time.
        let p = "2026-03".parse::<Month>().unwrap().period(chrono_tz::Europe::Berlin);
        assert_eq!(p.start.to_rfc3339(), "2026-02-28T23:00:00+00:00");
        assert_eq!(p.end.to_rfc3339(), "2026-03-31T22:00:00+00:00");
    }
}
