//! The command line: flags parsed by clap, then validated once into a [`RunConfig`].

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::job::JobFile;
use crate::nightly;

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
    /// Job file (jobs/nightly.toml): data root, report root, rules, time zone, lookback. Flags
    /// given beside it win.
    #[arg(long, env = "CREDIT_RECON_JOB")]
    pub job: Option<PathBuf>,
    /// Data root (SPEC §2): reference/, usage/date=D/, ledger/date=D/.
    #[arg(long, env = "CREDIT_RECON_DATA")]
    pub data: Option<PathBuf>,
    /// Report root: each date is written to date=D/ under it.
    #[arg(long, env = "CREDIT_RECON_OUT")]
    pub out: Option<PathBuf>,
    /// Business date to reconcile: YYYY-MM-DD, `yesterday` or `today` (business time zone).
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    pub date: Option<String>,
    /// First date of a backfill (with --to).
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last date of a backfill (with --from).
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Also re-reconcile this many dates before the first (default: the job's `lookback_days`,
    /// 0 without a job).
    #[arg(long)]
    pub lookback: Option<u32>,
    /// Rules file (default: the job's, else the built-in jobs/rules/2026-11.toml).
    #[arg(long, env = "CREDIT_RECON_RULES")]
    pub rules: Option<PathBuf>,
    /// Business time zone (IANA name; default: the job's, else UTC).
    #[arg(long, env = "CREDIT_RECON_TZ")]
    pub tz: Option<String>,
    /// Price from the whole history instead of the previous night's state (and write it afresh).
    #[arg(long)]
    pub rebuild_state: bool,
}

/// A validated invocation: the configuration of its first date and the dates to run.
#[derive(Debug)]
pub struct Invocation {
    /// Configuration (its `date` is replaced for each date run).
    pub config: RunConfig,
    /// Dates in order, each marked whether it is the invocation's own (not a lookback date).
    pub dates: Vec<(NaiveDate, bool)>,
}

impl RunArgs {
    /// Validates the flags (and the job file) into an invocation.
    pub fn to_invocation(&self) -> Result<Invocation> {
        let job = self.job.as_deref().map(JobFile::load).transpose()?;
        let missing = |flag: &str| Error::Config {
            what: flag.to_string(),
            problem: "required (give the flag or a --job file)".to_string(),
        };
        let data = self
            .data
            .clone()
            .or_else(|| job.as_ref().map(|j| j.data_root.clone()))
            .ok_or_else(|| missing("--data"))?;
        let out = self
            .out
            .clone()
            .or_else(|| job.as_ref().map(|j| j.report_root.clone()))
            .ok_or_else(|| missing("--out"))?;
        let tz = self
            .tz
            .clone()
            .or_else(|| job.as_ref().map(|j| j.time_zone.clone()))
            .unwrap_or_else(|| "UTC".into());
        let rules = self.rules.clone().or_else(|| job.as_ref().and_then(|j| j.rules.clone()));
        let lookback = self.lookback.or_else(|| job.as_ref().map(|j| j.lookback_days)).unwrap_or(0);
        let parsed_tz: chrono_tz::Tz = tz.parse().map_err(|_| Error::Config {
            what: "--tz".into(),
            problem: format!("unknown time zone {tz:?} (use an IANA name such as Europe/Berlin)"),
        })?;
        let (first, last) = match (&self.date, self.from, self.to) {
            (Some(d), _, _) => {
                let d = nightly::parse_date(d, parsed_tz)?;
                (d, d)
            }
            (None, Some(f), Some(t)) if f <= t => (f, t),
            (None, Some(f), Some(t)) => {
                return Err(Error::Config {
                    what: "--from/--to".into(),
                    problem: format!("{f} is after {t}"),
                });
            }
            _ => return Err(missing("--date")),
        };
        let mut config = RunConfig::new(data, out, first, &tz, rules.as_deref())?;
        if let Some(root) = job.as_ref().and_then(|j| j.state_root.clone()) {
            config.state_root = Some(root);
        }
        config.rebuild_state = self.rebuild_state;
        Ok(Invocation { config, dates: nightly::plan(first, last, lookback) })
    }
}
