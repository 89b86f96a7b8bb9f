//! The known truth of a generated data root: every finding and refund candidate the generator
//! injected (or built on purpose), written as `truth/findings.csv` and
//! `truth/refund_candidates.csv`. Never a cell's text.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::ledger::Ledger;
use crate::error::{Error, Result};

/// One expected finding: `(business_date, finding_type, event_id, entry_id)`.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Business date of the run that reports it.
    pub date: NaiveDate,
    /// `finding_type`
    pub kind: &'static str,
    /// `event_id`, where it applies.
    pub event: Option<String>,
    /// Ledger index of the entry, where it applies.
    pub entry: Option<usize>,
}

/// One expected refund candidate before the refunds already in the ledger are subtracted.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Business date of the run that reports it.
    pub date: NaiveDate,
    /// `reason`
    pub reason: &'static str,
    /// `event_id`, null for an orphan.
    pub event: Option<String>,
    /// Ledger index of the charge.
    pub entry: usize,
    /// The reason's refund (the charge, `charged - expected`, or for an accidental upload the
    /// charge less an earlier candidate).
    pub base: Decimal,
    /// `ACCIDENTAL_UPLOAD`: capped at the charge less refunds, rather than less refunds.
    pub capped: bool,
}

/// Every injected finding and candidate.
#[derive(Debug, Default)]
pub struct Truth {
    /// Findings.
    pub findings: Vec<Finding>,
    /// Candidates.
    pub candidates: Vec<Candidate>,
}

/// Counts written, for the summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TruthCounts {
    /// Findings per type.
    pub findings: std::collections::BTreeMap<String, u64>,
    /// Candidates per reason (after refunds in the ledger; dropped ones not counted).
    pub refund_candidates: std::collections::BTreeMap<String, u64>,
    /// Candidates that refunds already in the ledger brought to 0 (not listed).
    pub candidates_dropped: u64,
}

impl Truth {
    /// Adds a finding.
    pub fn finding(
        &mut self,
        date: NaiveDate,
        kind: &'static str,
        event: Option<&str>,
        entry: Option<usize>,
    ) {
        self.findings.push(Finding { date, kind, event: event.map(String::from), entry });
    }

    /// Adds a candidate.
    pub fn candidate(
        &mut self,
        date: NaiveDate,
        reason: &'static str,
        event: Option<&str>,
        entry: usize,
        base: Decimal,
    ) {
        self.candidates.push(Candidate {
            date,
            reason,
            event: event.map(String::from),
            entry,
            base,
            capped: reason == "ACCIDENTAL_UPLOAD",
        });
    }

    /// Writes `truth/findings.csv` and `truth/refund_candidates.csv` under `out`, sorted.
    pub fn write(&self, out: &Path, ledger: &Ledger) -> Result<TruthCounts> {
        let dir = out.join("truth");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut counts = TruthCounts::default();
        let id = |i: Option<usize>| i.map(|i| ledger.entries[i].id.clone()).unwrap_or_default();

        let mut rows: Vec<(String, &str, String, String)> = self
            .findings
            .iter()
            .map(|f| (f.date.to_string(), f.kind, f.event.clone().unwrap_or_default(), id(f.entry)))
            .collect();
        rows.sort();
        let mut text = String::from("business_date,finding_type,event_id,entry_id\n");
        for (d, k, ev, en) in &rows {
            text.push_str(&format!("{d},{k},{ev},{en}\n"));
            *counts.findings.entry(k.to_string()).or_default() += 1;
        }
        let path = dir.join("findings.csv");
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;

        let refunded: HashMap<&str, Decimal> = ledger.refunds_by_charge();
        let mut rows = Vec::new();
        for c in &self.candidates {
            let entry = &ledger.entries[c.entry];
            let charged = -entry.amount;
            let already = refunded.get(entry.id.as_str()).copied().unwrap_or_default();
            let credits = if c.capped { c.base.min(charged - already) } else { c.base - already };
            if credits <= Decimal::ZERO {
                counts.candidates_dropped += 1;
                continue;
            }
            rows.push((
                c.date.to_string(),
                c.reason,
                c.event.clone().unwrap_or_default(),
                entry.id.clone(),
                credits,
            ));
        }
        rows.sort();
        let mut text = String::from("business_date,reason,event_id,entry_id,refund_credits\n");
        for (d, r, ev, en, credits) in &rows {
            text.push_str(&format!("{d},{r},{ev},{en},{}\n", money(*credits)));
            *counts.refund_candidates.entry(r.to_string()).or_default() += 1;
        }
        let path = dir.join("refund_candidates.csv");
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        Ok(counts)
    }
}

/// An amount as the reports show it: 4 fractional digits.
pub fn money(d: Decimal) -> String {
    let mut v = d;
    v.rescale(4);
    v.to_string()
}
