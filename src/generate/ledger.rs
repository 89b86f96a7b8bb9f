//! The simulated credit ledger: charges posted by the platform, refunds by support, purchases,
//! grants and adjustments, and the running `balance_after` of each account in the order the SPEC
//! checks it, `(posted_at, entry_id)`.

use std::collections::HashMap;

use rust_decimal::Decimal;

/// `entry_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// `charge`
    Charge,
    /// `refund`
    Refund,
    /// `purchase`
    Purchase,
    /// `grant`
    Grant,
    /// `adjustment`
    Adjustment,
}

impl EntryType {
    /// The text of the column.
    pub fn name(self) -> &'static str {
        match self {
            EntryType::Charge => "charge",
            EntryType::Refund => "refund",
            EntryType::Purchase => "purchase",
            EntryType::Grant => "grant",
            EntryType::Adjustment => "adjustment",
        }
    }
}

/// One ledger entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `entry_id`
    pub id: String,
    /// `posted_at`, UTC microseconds.
    pub posted: i64,
    /// Index of the account.
    pub account: usize,
    /// Index of the project, if any.
    pub project: Option<usize>,
    /// `entry_type`
    pub kind: EntryType,
    /// `category`
    pub category: Option<&'static str>,
    /// `amount`, signed.
    pub amount: Decimal,
    /// `reference_id`
    pub reference: Option<String>,
    /// `balance_after`, set by [`Ledger::settle`].
    pub balance_after: Option<Decimal>,
    /// A deliberate error added to `balance_after` (a `BALANCE_BREAK`).
    pub break_by: Option<Decimal>,
    /// Taken back before it was written (a `MISSING_CHARGE`): not in the ledger.
    pub void: bool,
}

/// Every entry of every day.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Entries in creation order.
    pub entries: Vec<Entry>,
    seq: u64,
}

impl Ledger {
    /// Adds an entry with a fresh id; returns its index.
    #[allow(clippy::too_many_arguments, reason = "one entry has that many fields")]
    pub fn add(
        &mut self,
        posted: i64,
        account: usize,
        project: Option<usize>,
        kind: EntryType,
        category: Option<&'static str>,
        amount: Decimal,
        reference: Option<String>,
    ) -> usize {
        self.seq += 1;
        let id = format!("le-{:09}", self.seq);
        self.entries.push(Entry {
            id,
            posted,
            account,
            project,
            kind,
            category,
            amount,
            reference,
            balance_after: None,
            break_by: None,
            void: false,
        });
        self.entries.len() - 1
    }

    /// A charge of `credits` (amount `-credits`).
    pub fn charge(
        &mut self,
        posted: i64,
        account: usize,
        project: usize,
        category: Option<&'static str>,
        credits: Decimal,
        event_id: &str,
    ) -> usize {
        self.add(
            posted,
            account,
            Some(project),
            EntryType::Charge,
            category,
            -credits,
            Some(event_id.to_string()),
        )
    }

    /// A refund by support of `credits` of charge `of`.
    pub fn refund(&mut self, posted: i64, of: usize, credits: Decimal) -> usize {
        let c = self.entries[of].clone();
        self.add(posted, c.account, c.project, EntryType::Refund, c.category, credits, Some(c.id))
    }

    /// Credits charged by entry `i` (`-amount`).
    pub fn charged(&self, i: usize) -> Decimal {
        -self.entries[i].amount
    }

    /// Refunds in the ledger per charge id they reference.
    pub fn refunds_by_charge(&self) -> HashMap<&str, Decimal> {
        let mut out: HashMap<&str, Decimal> = HashMap::new();
        for e in self.entries.iter().filter(|e| e.kind == EntryType::Refund && !e.void) {
            if let Some(r) = e.reference.as_deref() {
                *out.entry(r).or_default() += e.amount;
            }
        }
        out
    }

    /// Sets every `balance_after`: per account, in the order `(posted_at, entry_id)`, the previous
    /// recorded balance plus the amount, plus the deliberate error of a balance break (after which
    /// the chain continues from the recorded, wrong, balance, as a real ledger would).
    pub fn settle(&mut self) {
        let mut order: Vec<usize> = (0..self.entries.len()).filter(|&i| !self.entries[i].void).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&self.entries[a], &self.entries[b]);
            (x.account, x.posted, &x.id).cmp(&(y.account, y.posted, &y.id))
        });
        let mut account = usize::MAX;
        let mut balance = Decimal::ZERO;
        for i in order {
            let e = &mut self.entries[i];
            if e.account != account {
                account = e.account;
                balance = Decimal::ZERO;
            }
            balance += e.amount + e.break_by.unwrap_or(Decimal::ZERO);
            e.balance_after = Some(balance);
        }
    }
}
