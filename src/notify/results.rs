//! The night's results as the mail tells them, read back from the reports just written (never
//! from the raw usage): totals by category, counts of findings and refunds, and the refund
//! candidates and findings with their account, largest amount first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::NotifyError;
use crate::expr::implode_lit;
use crate::reconcile::findings::finding;
use crate::reports::file;
use crate::schema::{category, col, money};

/// An account as the mail names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Account name (the id where the accounts table has none).
    pub name: String,
    /// `support_email` of the accounts table.
    pub support_email: Option<String>,
}

/// Expected and charged credits of one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryTotal {
    /// `import`, `rerun`, `smart_column`, `translation`.
    pub category: String,
    /// Expected under the rules (events of unknown cost left out).
    pub expected: Decimal,
    /// Charged in the ledger.
    pub charged: Decimal,
}

/// One row of `refund_candidates.parquet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `candidate_id`.
    pub candidate_id: String,
    /// Refund reason.
    pub reason: String,
    /// Account id.
    pub account_id: String,
    /// Project id, if any.
    pub project_id: Option<String>,
    /// The event charged, if any.
    pub event_id: Option<String>,
    /// The charge to refund.
    pub entry_id: Option<String>,
    /// Credits to refund.
    pub refund: Decimal,
    /// Credits the charge took.
    pub charged: Option<Decimal>,
    /// Credits refunded already.
    pub already_refunded: Option<Decimal>,
    /// Evidence, as the report words it.
    pub evidence: String,
}

/// One row of `findings.parquet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `finding_id`.
    pub finding_id: String,
    /// Finding type.
    pub finding_type: String,
    /// `high`, `medium`, `low`.
    pub severity: String,
    /// Account id.
    pub account_id: String,
    /// Project id, if any.
    pub project_id: Option<String>,
    /// Event, if any.
    pub event_id: Option<String>,
    /// Ledger entry, if any.
    pub entry_id: Option<String>,
    /// The credits at stake: the charge, the difference, or the missing charge (unknown: `None`).
    pub amount: Option<Decimal>,
    /// Explanation, as the report words it.
    pub explanation: String,
}

/// Everything the messages of one date say.
#[derive(Debug, Clone)]
pub struct Results {
    /// Business date.
    pub business_date: String,
    /// Business time zone.
    pub time_zone: String,
    /// Rule version.
    pub rule_version: String,
    /// Run id of the reports.
    pub run_id: String,
    /// The folder of the reports.
    pub report_dir: PathBuf,
    /// Credits by category, in the order of SPEC §2.
    pub categories: Vec<CategoryTotal>,
    /// Events whose cost is unknown (left out of the expected totals).
    pub expected_unknown: u64,
    /// Findings per type (manifest), with the type's severity.
    pub findings_by_type: Vec<(String, String, u64)>,
    /// Findings per severity (manifest).
    pub findings_by_severity: BTreeMap<String, u64>,
    /// Refund candidates and credits per reason, in the order of SPEC §4.
    pub refunds_by_reason: Vec<(String, u64, Decimal)>,
    /// Sum of the refund candidates.
    pub refund_total: Decimal,
    /// Every refund candidate, largest refund first.
    pub candidates: Vec<Candidate>,
    /// Every finding, largest amount first (unknown amounts last).
    pub findings: Vec<Finding>,
    /// Accounts by id.
    pub accounts: BTreeMap<String, Account>,
}

impl Results {
    /// Number of findings.
    pub fn findings_total(&self) -> u64 {
        self.findings_by_severity.values().sum()
    }

    /// The account's name, or its id where it has none.
    pub fn account_name(&self, id: &str) -> String {
        self.accounts.get(id).map(|a| a.name.clone()).unwrap_or_else(|| id.to_string())
    }
}

/// The part of `manifest.json` the mail uses.
#[derive(Debug, Deserialize)]
struct ManifestView {
    run_id: String,
    business_date: String,
    time_zone: String,
    versions: VersionsView,
    findings_by_type: BTreeMap<String, u64>,
    findings_by_severity: BTreeMap<String, u64>,
    refund_credits_total: String,
}

#[derive(Debug, Deserialize)]
struct VersionsView {
    rules: String,
}

const AMOUNT: &str = "_amount";

fn scan(dir: &Path, name: &str) -> Result<LazyFrame, NotifyError> {
    let path = dir.join(name);
    LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), ScanArgsParquet::default())
        .map_err(|source| NotifyError::Report { file: path, source })
}

fn collect(lf: LazyFrame, dir: &Path, name: &str) -> Result<DataFrame, NotifyError> {
    lf.collect().map_err(|source| NotifyError::Report { file: dir.join(name), source })
}

/// A column as text, row by row (amounts keep their 4 decimals).
fn strings(df: &DataFrame, name: &str, file: &Path) -> Result<Vec<Option<String>>, NotifyError> {
    let report = |source| NotifyError::Report { file: file.to_path_buf(), source };
    let c = df.column(name).and_then(|c| c.cast(&DataType::String)).map_err(report)?;
    Ok(c.str().map_err(report)?.iter().map(|v| v.map(str::to_string)).collect())
}

/// A money column, exactly: the decimal's text parsed by `rust_decimal`, never through f64.
fn amounts(df: &DataFrame, name: &str, file: &Path) -> Result<Vec<Option<Decimal>>, NotifyError> {
    strings(df, name, file)?.into_iter().map(|v| v.map(|s| parse_money(&s, name, file)).transpose()).collect()
}

fn parse_money(text: &str, column: &str, file: &Path) -> Result<Decimal, NotifyError> {
    let mut d = Decimal::from_str_exact(text).map_err(|_| NotifyError::Money {
        file: file.to_path_buf(),
        column: column.to_string(),
        value: text.to_string(),
    })?;
    d.rescale(crate::schema::MONEY_SCALE as u32);
    Ok(d)
}

fn required(values: Vec<Option<String>>) -> Vec<String> {
    values.into_iter().map(Option::unwrap_or_default).collect()
}

/// The credits at stake in a finding: the missing charge, the difference for an under- or
/// overcharge or a balance break, otherwise the charge itself.
fn amount_at_stake() -> Expr {
    let t = col(col::FINDING_TYPE);
    let zero = lit(0).cast(money());
    let delta_abs = when(col(col::DELTA_CREDITS).lt(zero.clone()))
        .then(zero - col(col::DELTA_CREDITS))
        .otherwise(col(col::DELTA_CREDITS));
    let by_difference =
        Series::new("t".into(), [finding::UNDERCHARGE, finding::OVERCHARGE, finding::BALANCE_BREAK]);
    when(t.clone().eq(lit(finding::MISSING_CHARGE)))
        .then(col(col::EXPECTED_CREDITS))
        .when(t.is_in(implode_lit(by_difference), false))
        .then(delta_abs)
        .otherwise(col(col::CHARGED_CREDITS))
        .cast(money())
        .alias(AMOUNT)
}

/// Reads the reports of `report_dir`; `accounts` holds `account_id`, `name`, `support_email`.
pub fn read(report_dir: &Path, accounts: &DataFrame) -> Result<Results, NotifyError> {
    let manifest_path = report_dir.join(file::MANIFEST);
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|source| NotifyError::Io { path: manifest_path.clone(), source })?;
    let manifest: ManifestView = serde_json::from_str(&text)
        .map_err(|e| NotifyError::Manifest { file: manifest_path.clone(), problem: e.to_string() })?;

    let accounts_by_id = read_accounts(accounts, report_dir)?;

    // Totals by category, from project_summary.
    let summary_path = report_dir.join(file::PROJECT_SUMMARY);
    let mut sums = vec![col("events_expected_unknown").sum().cast(DataType::Int64)];
    for c in category::ALL {
        sums.push(col(format!("expected_{c}").as_str()).sum().cast(money()));
        sums.push(col(format!("charged_{c}").as_str()).sum().cast(money()));
    }
    let totals =
        collect(scan(report_dir, file::PROJECT_SUMMARY)?.select(sums), report_dir, file::PROJECT_SUMMARY)?;
    let unknown = strings(&totals, "events_expected_unknown", &summary_path)?;
    let expected_unknown = unknown.first().cloned().flatten().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut categories = Vec::new();
    for c in category::ALL {
        let one = |name: String| -> Result<Decimal, NotifyError> {
            Ok(amounts(&totals, &name, &summary_path)?.first().copied().flatten().unwrap_or(Decimal::ZERO))
        };
        categories.push(CategoryTotal {
            category: c.to_string(),
            expected: one(format!("expected_{c}"))?,
            charged: one(format!("charged_{c}"))?,
        });
    }

    // Refund candidates, largest first, and their sums per reason.
    let cand_path = report_dir.join(file::REFUND_CANDIDATES);
    let cands = collect(
        scan(report_dir, file::REFUND_CANDIDATES)?.sort_by_exprs(
            [col(col::REFUND_CREDITS), col(col::ACCOUNT_ID), col(col::CANDIDATE_ID)],
            SortMultipleOptions::default()
                .with_order_descending_multi([true, false, false])
                .with_nulls_last(true),
        ),
        report_dir,
        file::REFUND_CANDIDATES,
    )?;
    let by_reason = collect(
        scan(report_dir, file::REFUND_CANDIDATES)?
            .group_by([col(col::REASON)])
            .agg([len().cast(DataType::Int64).alias("n"), col(col::REFUND_CREDITS).sum().cast(money())]),
        report_dir,
        file::REFUND_CANDIDATES,
    )?;
    let reason_counts: BTreeMap<String, (u64, Decimal)> =
        required(strings(&by_reason, col::REASON, &cand_path)?)
            .into_iter()
            .zip(strings(&by_reason, "n", &cand_path)?)
            .zip(amounts(&by_reason, col::REFUND_CREDITS, &cand_path)?)
            .map(|((r, n), c)| (r, (n.and_then(|n| n.parse().ok()).unwrap_or(0), c.unwrap_or(Decimal::ZERO))))
            .collect();
    let refunds_by_reason = crate::reconcile::refunds::reason::ORDER
        .iter()
        .map(|r| {
            let (n, c) = reason_counts.get(*r).copied().unwrap_or((0, Decimal::ZERO));
            (r.to_string(), n, c)
        })
        .collect();
    let candidates = candidates(&cands, &cand_path)?;
    let refund_total = parse_money(&manifest.refund_credits_total, "refund_credits_total", &manifest_path)
        .or_else(|_| Ok::<_, NotifyError>(candidates.iter().map(|c| c.refund).sum()))?;

    // Findings, largest amount at stake first.
    let find_path = report_dir.join(file::FINDINGS);
    let found = collect(
        scan(report_dir, file::FINDINGS)?.with_column(amount_at_stake()).sort_by_exprs(
            [col(AMOUNT), col(col::ACCOUNT_ID), col(col::FINDING_ID)],
            SortMultipleOptions::default()
                .with_order_descending_multi([true, false, false])
                .with_nulls_last(true),
        ),
        report_dir,
        file::FINDINGS,
    )?;
    let findings = findings(&found, &find_path)?;

    let findings_by_type = finding::SEVERITY
        .iter()
        .map(|(t, s)| (t.to_string(), s.to_string(), manifest.findings_by_type.get(*t).copied().unwrap_or(0)))
        .collect();
    Ok(Results {
        business_date: manifest.business_date,
        time_zone: manifest.time_zone,
        rule_version: manifest.versions.rules,
        run_id: manifest.run_id,
        report_dir: report_dir.to_path_buf(),
        categories,
        expected_unknown,
        findings_by_type,
        findings_by_severity: manifest.findings_by_severity,
        refunds_by_reason,
        refund_total,
        candidates,
        findings,
        accounts: accounts_by_id,
    })
}

fn read_accounts(accounts: &DataFrame, report_dir: &Path) -> Result<BTreeMap<String, Account>, NotifyError> {
    let origin = report_dir.join("(accounts)");
    let ids = strings(accounts, col::ACCOUNT_ID, &origin)?;
    let names = strings(accounts, col::NAME, &origin)?;
    let emails = strings(accounts, col::SUPPORT_EMAIL, &origin)?;
    Ok(ids
        .into_iter()
        .zip(names)
        .zip(emails)
        .filter_map(|((id, name), email)| {
            let id = id?;
            let name = name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.clone());
            let support_email = email.filter(|e| !e.trim().is_empty());
            Some((id, Account { name, support_email }))
        })
        .collect())
}

fn candidates(df: &DataFrame, path: &Path) -> Result<Vec<Candidate>, NotifyError> {
    let ids = required(strings(df, col::CANDIDATE_ID, path)?);
    let reasons = required(strings(df, col::REASON, path)?);
    let accounts = required(strings(df, col::ACCOUNT_ID, path)?);
    let projects = strings(df, col::PROJECT_ID, path)?;
    let events = strings(df, col::EVENT_ID, path)?;
    let entries = strings(df, col::ENTRY_ID, path)?;
    let refunds = amounts(df, col::REFUND_CREDITS, path)?;
    let charged = amounts(df, col::CHARGED_CREDITS, path)?;
    let refunded = amounts(df, col::REFUNDED_CREDITS, path)?;
    let evidence = required(strings(df, col::EVIDENCE, path)?);
    Ok((0..df.height())
        .map(|i| Candidate {
            candidate_id: ids[i].clone(),
            reason: reasons[i].clone(),
            account_id: accounts[i].clone(),
            project_id: projects[i].clone(),
            event_id: events[i].clone(),
            entry_id: entries[i].clone(),
            refund: refunds[i].unwrap_or(Decimal::ZERO),
            charged: charged[i],
            already_refunded: refunded[i],
            evidence: evidence[i].clone(),
        })
        .collect())
}

fn findings(df: &DataFrame, path: &Path) -> Result<Vec<Finding>, NotifyError> {
    let ids = required(strings(df, col::FINDING_ID, path)?);
    let types = required(strings(df, col::FINDING_TYPE, path)?);
    let severities = required(strings(df, col::SEVERITY, path)?);
    let accounts = required(strings(df, col::ACCOUNT_ID, path)?);
    let projects = strings(df, col::PROJECT_ID, path)?;
    let events = strings(df, col::EVENT_ID, path)?;
    let entries = strings(df, col::ENTRY_ID, path)?;
    let amount = amounts(df, AMOUNT, path)?;
    let explanations = required(strings(df, col::EXPLANATION, path)?);
    Ok((0..df.height())
        .map(|i| Finding {
            finding_id: ids[i].clone(),
            finding_type: types[i].clone(),
            severity: severities[i].clone(),
            account_id: accounts[i].clone(),
            project_id: projects[i].clone(),
            event_id: events[i].clone(),
            entry_id: entries[i].clone(),
            amount: amount[i],
            explanation: explanations[i].clone(),
        })
        .collect())
}
