//! The command line: flags parsed by clap, then validated once into a [`RunConfig`].

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::RunConfig;
use crate::error::Result;

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
