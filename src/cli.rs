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
    /// Write a synthetic data root with injected faults and its known truth (truth/).
    Generate(GenerateArgs),
    /// Benchmark baseline: read every input file of a data root whole with Polars, nothing else.
    BenchScan(BenchScanArgs),
}

/// `credit-recon bench-scan`.
#[derive(Debug, Args)]
pub struct BenchScanArgs {
    /// Data root whose Parquet and CSV files to read (truth/ is skipped).
    #[arg(long)]
    pub data: PathBuf,
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

/// `credit-recon generate`: sizes are per day.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write the data root into (reference/, usage/, ledger/, truth/); must not hold one.
    #[arg(long)]
    pub out: PathBuf,
    /// Consecutive days to generate.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Seed: the same seed and sizes give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First business date (UTC).
    #[arg(long, default_value = "2026-11-01")]
    pub start: NaiveDate,
    /// Accounts.
    #[arg(long, default_value_t = 20)]
    pub accounts: usize,
    /// Projects existing before the first day.
    #[arg(long, default_value_t = 60)]
    pub projects: usize,
    /// Usage events per day, uploads included.
    #[arg(long, default_value_t = 1000)]
    pub events: usize,
    /// Uploads per day.
    #[arg(long, default_value_t = 100)]
    pub uploads: usize,
    /// Mean rows per upload.
    #[arg(long, default_value_t = 100)]
    pub rows: usize,
    /// Text-to-analyze columns per upload (1 to 12).
    #[arg(long, default_value_t = 2)]
    pub tta_columns: usize,
    /// Ledger entries per day, at least (purchases, grants and adjustments fill up to it).
    #[arg(long, default_value_t = 0)]
    pub ledger_entries: usize,
    /// Share of events that get a fault, spread over every fault kind (at least one each per day).
    #[arg(long, default_value_t = 0.02)]
    pub fault_rate: f64,
    /// Share of the initial projects that are demo projects.
    #[arg(long, default_value_t = 0.1)]
    pub demo_share: f64,
    /// Share of uploads whose cells log also holds a column that is not text-to-analyze.
    #[arg(long, default_value_t = 0.25)]
    pub free_column_share: f64,
}

impl GenerateArgs {
    /// The generator's configuration.
    pub fn to_config(&self) -> crate::generate::GenConfig {
        crate::generate::GenConfig {
            seed: self.seed,
            start: self.start,
            days: self.days,
            accounts: self.accounts,
            projects: self.projects,
            demo_share: self.demo_share,
            events_per_day: self.events,
            uploads_per_day: self.uploads,
            rows_per_upload: self.rows,
            tta_columns: self.tta_columns,
            free_column_share: self.free_column_share,
            ledger_entries_per_day: self.ledger_entries,
            fault_rate: self.fault_rate,
        }
    }
}
