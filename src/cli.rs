//! The command line: flags parsed by clap, then validated once into a [`RunConfig`].

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::invoice::job::InvoiceJob;
use crate::invoice::{InvoiceConfig, Month};

/// credit-recon: recompute what every project should have been charged, reconcile it with the
/// credit ledger, and report discrepancies and refund candidates.
#[derive(Debug, Parser)]
#[command(name = "credit-recon", version, about, long_about = None)]
pub struct Cli {
    /// Log format on standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, env = "CREDIT_RECON_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile one business date and write its reports.
    Run(RunArgs),
    /// Write each account's statement of its credits for one month.
    Invoice(InvoiceArgs),
}

/// `credit-recon run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Data root (SPEC §2): reference/, usage/date=D/, ledger/date=D/.
    #[arg(long, env = "CREDIT_RECON_DATA")]
    pub data: PathBuf,
    /// Report root: the run writes date=D/ under it.
    #[arg(long, env = "CREDIT_RECON_OUT")]
    pub out: PathBuf,
    /// Business date to reconcile, YYYY-MM-DD.
    #[arg(long)]
    pub date: NaiveDate,
    /// Rules file (default: the built-in jobs/rules/2026-11.toml).
    #[arg(long, env = "CREDIT_RECON_RULES")]
    pub rules: Option<PathBuf>,
    /// Business time zone (IANA name).
    #[arg(long, default_value = "UTC", env = "CREDIT_RECON_TZ")]
    pub tz: String,
}

impl RunArgs {
    /// Validates the flags into a run configuration.
    pub fn to_config(&self) -> Result<RunConfig> {
        RunConfig::new(self.data.clone(), self.out.clone(), self.date, &self.tz, self.rules.as_deref())
    }
}

/// `credit-recon invoice`. Each of `--data`, `--out`, `--rules` and `--tz` comes from the flag, else
/// the `--job` file, else its `CREDIT_RECON_*` environment variable, else its default: a job file
/// named on the command line is more specific than the environment cron runs in.
#[derive(Debug, Args)]
pub struct InvoiceArgs {
    /// Job file (TOML with `data`, `out`, `tz`, `rules`), e.g. jobs/monthly-invoice.toml.
    #[arg(long)]
    pub job: Option<PathBuf>,
    /// Data root (SPEC §2) [else the job file, else CREDIT_RECON_DATA].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Report root: the run writes month=YYYY-MM/ under it [else the job file, else CREDIT_RECON_OUT].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Month to invoice, YYYY-MM, a calendar month of the business time zone.
    #[arg(long)]
    pub month: Month,
    /// Rules file [else the job file, else CREDIT_RECON_RULES, else the built-in jobs/rules/2026-11.toml].
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Business time zone, IANA name [else the job file, else CREDIT_RECON_TZ, else UTC].
    #[arg(long)]
    pub tz: Option<String>,
}

/// A `CREDIT_RECON_*` environment variable, where it is set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl InvoiceArgs {
    /// Merges the flags, the job file and the environment, and validates them into an invoicing
    /// configuration.
    pub fn to_config(&self) -> Result<InvoiceConfig> {
        let job = match &self.job {
            Some(path) => InvoiceJob::load(path)?,
            None => InvoiceJob::default(),
        };
        let missing = |flag: &str| Error::Config {
            what: format!("--{flag}"),
            problem: format!(
                "missing: give --{flag}, `{flag}` in the --job file, or CREDIT_RECON_{}",
                flag.to_uppercase()
            ),
        };
        let path = |flag: &Option<PathBuf>, job: Option<PathBuf>, var: &str| {
            flag.clone().or(job).or_else(|| env(var).map(PathBuf::from))
        };
        let data = path(&self.data, job.data, "CREDIT_RECON_DATA").ok_or_else(|| missing("data"))?;
        let out = path(&self.out, job.out, "CREDIT_RECON_OUT").ok_or_else(|| missing("out"))?;
        let rules = path(&self.rules, job.rules, "CREDIT_RECON_RULES");
        let tz =
            self.tz.clone().or(job.tz).or_else(|| env("CREDIT_RECON_TZ")).unwrap_or_else(|| "UTC".into());
        InvoiceConfig::new(data, out, self.month, &tz, rules.as_deref())
    }
}
