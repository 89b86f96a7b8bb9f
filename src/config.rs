//! The versioned rules file (rates, quotas, dummy defaults, tolerances) and the validated run
//! configuration built once from the command line.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::db::Database;
use crate::error::{Error, Result};
use crate::sources::LedgerSource;

/// The rules file shipped with this version of the tool, used where `--rules` is not given.
pub const DEFAULT_RULES: &str = include_str!("../jobs/rules/2026-11.toml");
/// Where [`DEFAULT_RULES`] lives in the repository, for the manifest.
pub const DEFAULT_RULES_NAME: &str = "jobs/rules/2026-11.toml (built in)";

/// A rules file: SPEC §3 rates and quotas under one version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Rule version named on every expected charge.
    pub version: String,
    /// R1.
    pub upload: UploadRule,
    /// R2.
    pub rerun: RerunRule,
    /// R3.
    pub smart_column: SmartColumnRule,
    /// R4.
    pub translation: RuleId,
    /// R0.
    pub demo: RuleId,
    /// Deletions (free).
    pub deletion: RuleId,
    /// SPEC §4 knobs.
    pub reconciliation: ReconciliationRule,
}

/// A rule that has only an id: its prices come from the plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleId {
    /// Id written on each expected charge the rule prices.
    pub rule_id: String,
}

/// R1 upload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRule {
    /// Id written on each expected charge.
    pub rule_id: String,
    /// Credits per billable cell.
    pub credits_per_cell: Decimal,
    /// Dummy values where an upload's own list is null.
    pub default_dummy_values: Vec<String>,
}

/// R2 rerun.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerunRule {
    /// Id written on each expected charge.
    pub rule_id: String,
    /// Share of the import cost charged per paid full-run equivalent.
    pub rate: Decimal,
}

/// R3 smart column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmartColumnRule {
    /// Id written on each expected charge.
    pub rule_id: String,
    /// Credits per row computed, after the free runs.
    pub credits_per_row: Decimal,
}

/// SPEC §4 configurable values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationRule {
    /// A charge within this many credits of the expected is not a finding.
    pub tolerance: Decimal,
    /// A charge posted later than this after its event is a `LATE_CHARGE`.
    pub late_grace_minutes: i64,
    /// Window of `ACCIDENTAL_UPLOAD` and `DUPLICATE_UPLOAD`.
    pub refund_window_hours: i64,
}

impl Rules {
    /// Parses a rules file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let rules: Rules = toml::from_str(text)
            .map_err(|e| Error::Config { what: origin.to_string(), problem: e.to_string() })?;
        rules.validate(origin)?;
        Ok(rules)
    }

    /// Reads a rules file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let bad =
            |problem: &str| Err(Error::Config { what: origin.to_string(), problem: problem.to_string() });
        if self.version.trim().is_empty() {
            return bad("version is empty");
        }
        let r = &self.reconciliation;
        if self.upload.credits_per_cell.is_sign_negative()
            || self.rerun.rate.is_sign_negative()
            || self.smart_column.credits_per_row.is_sign_negative()
            || r.tolerance.is_sign_negative()
        {
            return bad("rates and the tolerance must not be negative");
        }
        if r.late_grace_minutes < 0 || r.refund_window_hours < 0 {
            return bad("late_grace_minutes and refund_window_hours must not be negative");
        }
        Ok(())
    }
}

/// Everything one run of one business date needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The data root of SPEC §2.
    pub data_root: PathBuf,
    /// The report root; the run writes `date=D/` under it.
    pub report_root: PathBuf,
    /// Business date reconciled.
    pub date: NaiveDate,
    /// Business time zone.
    pub tz: Tz,
    /// Credit rules.
    pub rules: Rules,
    /// Where the rules came from, for the manifest.
    pub rules_origin: String,
    /// SHA-256 of the rules file's text, for the manifest.
    pub rules_sha256: String,
    /// Where the nightly state lives (None: price from the whole history, keep no state).
    pub state_root: Option<PathBuf>,
    /// Ignore the previous state and price from the whole history (the state is written afresh).
    pub rebuild_state: bool,
    /// Where the ledger is read from (the data root's files unless `--ledger` names a database).
    pub ledger: LedgerSource,
    /// Whether to upsert the run's findings into `recon_findings` of the ledger database.
    pub write_findings: bool,
}

impl RunConfig {
    /// Builds a run configuration, reading the rules file (or the built-in one).
    pub fn new(
        data_root: PathBuf,
        report_root: PathBuf,
        date: NaiveDate,
        tz: &str,
        rules_file: Option<&Path>,
    ) -> Result<Self> {
        let tz: Tz = tz.parse().map_err(|_| Error::Config {
            what: "--tz".into(),
            problem: format!("unknown time zone {tz:?} (use an IANA name such as Europe/Berlin)"),
        })?;
        let (text, origin) = match rules_file {
            Some(p) => (std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?, p.display().to_string()),
            None => (DEFAULT_RULES.to_string(), DEFAULT_RULES_NAME.to_string()),
        };
        let rules = Rules::parse(&text, &origin)?;
        if !data_root.is_dir() {
            return Err(Error::Config {
                what: "--data".into(),
                problem: format!("{} is not a folder", data_root.display()),
            });
        }
        Ok(Self {
            data_root,
            report_root: report_root.clone(),
            date,
            tz,
            rules,
            rules_origin: origin,
            rules_sha256: crate::reports::manifest::sha256_hex(text.as_bytes()),
            state_root: Some(report_root.join("_state")),
            rebuild_state: false,
            ledger: LedgerSource::Files,
            write_findings: false,
        })
    }

    /// Reads the ledger from `ledger`; with `write_findings`, writes the run's findings back to
    /// the same database, which needs the ledger to be a database.
    pub fn with_ledger(mut self, ledger: LedgerSource, write_findings: bool) -> Result<Self> {
        if write_findings && matches!(ledger, LedgerSource::Files) {
            return Err(Error::Config {
                what: "--write-findings".into(),
                problem: "findings are written to the ledger's PostgreSQL database: give --ledger \
                          postgres://... (or CREDIT_RECON_LEDGER) as well"
                    .into(),
            });
        }
        self.ledger = ledger;
        self.write_findings = write_findings;
        Ok(self)
    }
}

/// Everything `credit-recon ledger load` needs, validated.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The data root whose ledger files are loaded.
    pub data_root: PathBuf,
    /// The ledger database.
    pub db: Database,
    /// Whether to create the tables of `sql/schema.sql` first.
    pub create_schema: bool,
}

impl LoadConfig {
    /// Builds a load configuration.
    pub fn new(data_root: PathBuf, db: Database, create_schema: bool) -> Result<Self> {
        if !data_root.is_dir() {
            return Err(Error::Config {
                what: "--data".into(),
                problem: format!("{} is not a folder", data_root.display()),
            });
        }
        Ok(Self { data_root, db, create_schema })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn built_in_rules_parse_with_spec_values() {
        let r = Rules::parse(DEFAULT_RULES, "built-in").unwrap();
        assert_eq!(r.version, "2026-11");
        assert_eq!(r.rerun.rate, Decimal::new(5, 1));
        assert_eq!(r.smart_column.credits_per_row, Decimal::new(25, 2));
        assert_eq!(r.upload.default_dummy_values, vec!["N/A", "-"]);
        assert_eq!(r.reconciliation.late_grace_minutes, 60);
    }

    #[test]
    fn unknown_key_is_an_error() {
        let text = DEFAULT_RULES.replace("rate = \"0.5\"", "rate = \"0.5\"\nrat = 1");
        let err = Rules::parse(&text, "typo.toml").unwrap_err().to_string();
        assert!(err.contains("typo.toml") && err.contains("rat"), "{err}");
    }
}
