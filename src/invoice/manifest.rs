//! The month's `manifest.json`: what the invoicing run read and wrote (with SHA-256 and row
//! counts), its versions, its figures, each account's balance check and the conservation checks.

use std::collections::BTreeMap;

use serde::Serialize;

use super::statement::AccountStatement;
use crate::reports::manifest::Versions;
use crate::reports::{Check, OutputFile};
use crate::sources::InputFile;

/// One account's balance, checked two ways.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceCheck {
    /// Account.
    pub account_id: String,
    /// Opening balance, credits.
    pub opening: String,
    /// Sum of the month's movements, credits.
    pub movements: String,
    /// Closing balance summed from the ledger on its own, credits.
    pub closing: String,
    /// `opening + movements = closing`, exactly.
    pub reconciles: bool,
    /// The check against the ledger's `balance_after`: `agrees`, `disagrees` or `not_recorded`.
    pub ledger_balance_after: String,
    /// The last `balance_after` recorded before the month ends.
    pub recorded_balance: Option<String>,
    /// The entry that recorded it.
    pub recorded_at_entry: Option<String>,
    /// Recorded minus the ledger's sum up to that entry.
    pub balance_difference: Option<String>,
}

impl BalanceCheck {
    /// The check of one statement.
    pub fn of(s: &AccountStatement) -> Self {
        let balance = s.balance();
        let text = |c: Option<super::statement::Credits>| c.map(|c| c.to_string());
        BalanceCheck {
            account_id: s.account_id.clone(),
            opening: text(balance.map(|b| b.opening)).unwrap_or_default(),
            movements: text(balance.map(|b| b.movements)).unwrap_or_default(),
            closing: text(balance.map(|b| b.closing)).unwrap_or_default(),
            reconciles: balance.is_some_and(|b| b.reconciles()),
            ledger_balance_after: s.ledger.status.clone(),
            recorded_balance: text(s.ledger.recorded),
            recorded_at_entry: s.ledger.at_entry.clone(),
            balance_difference: text(s.ledger.difference),
        }
    }
}

/// The whole manifest of a month.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceManifest {
    /// Id of this run.
    pub run_id: String,
    /// Month invoiced, `YYYY-MM`.
    pub month: String,
    /// Business time zone of the month's calendar.
    pub time_zone: String,
    /// The instant the month starts (UTC, RFC 3339).
    pub period_start: String,
    /// The instant the next month starts (UTC, RFC 3339).
    pub period_end: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// When the statements were complete (UTC, RFC 3339).
    pub finished_at: String,
    /// Versions.
    pub versions: Versions,
    /// Data root read.
    pub data_root: String,
    /// Every input file.
    pub inputs: Vec<InputFile>,
    /// Every output file but this one.
    pub outputs: Vec<OutputFile>,
    /// Headline figures.
    pub counts: BTreeMap<String, u64>,
    /// Open findings per type (every type, 0 included).
    pub open_findings_by_type: BTreeMap<String, u64>,
    /// Open findings per severity.
    pub open_findings_by_severity: BTreeMap<String, u64>,
    /// Accounts whose ledger `balance_after` disagrees with the ledger's amounts.
    pub balance_disagreements: Vec<String>,
    /// Every account's balance check.
    pub balance_checks: Vec<BalanceCheck>,
    /// Conservation checks.
    pub conservation: Vec<Check>,
}
