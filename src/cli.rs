//! The command line: flags parsed by clap, then validated once into a [`RunConfig`] with its
//! dates and mail [`Settings`] (or a [`LoadConfig`] for `ledger load`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::config::{LoadConfig, RunConfig};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::invoice::job::InvoiceJob;
use crate::invoice::{InvoiceConfig, Month};
use crate::job::JobFile;
use crate::nightly;
use crate::notify::config::PASSWORD_ENV;
use crate::notify::{MailConfig, Overrides, Settings};
use crate::sources::LedgerSource;

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

impl Cli {
    /// Parses the process's arguments, as [`Cli::parse_from_args`].
    pub fn parse_args() -> std::result::Result<Self, clap::Error> {
        Self::parse_from_args(std::env::args_os())
    }

    /// Parses `args` and notes whether `--ledger` was typed on the command line rather than
    /// taken from the environment: only the environment may carry a password.
    pub fn parse_from_args<I, T>(args: I) -> std::result::Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Self::command().try_get_matches_from(args)?;
        let mut cli = Self::from_arg_matches(&matches)?;
        let typed = |m: &ArgMatches| m.value_source("ledger") == Some(ValueSource::CommandLine);
        match (&mut cli.command, matches.subcommand()) {
            (Command::Run(args), Some((_, m))) => args.ledger_on_command_line = typed(m),
            (Command::Ledger(LedgerCommand::Load(args)), Some((_, m))) => {
                args.ledger_on_command_line = m.subcommand().is_some_and(|(_, m)| typed(m));
            }
            _ => {}
        }
        Ok(cli)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; boxing buys nothing")]
pub enum Command {
    /// Reconcile business dates (one, or a backfill, after the lookback dates) and write their reports.
    Run(RunArgs),
    /// Work with the credit ledger in PostgreSQL.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Write each account's statement of its credits for one month.
    Invoice(InvoiceArgs),
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

/// `credit-recon ledger ...`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Load a data root's ledger files into the PostgreSQL ledger (upsert by entry_id, one
    /// transaction).
    Load(LoadArgs),
}

/// Help shared by every `--ledger`.
const LEDGER_HELP: &str = "PostgreSQL ledger, postgres://user@host:5432/database (add \
    ?options=-c%20search_path%3Dschema for another schema). Never put the password in it on the \
    command line: it comes from CREDIT_RECON_LEDGER_PASSWORD or PGPASSWORD";

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
    /// Read the ledger from this PostgreSQL database instead of the data root's ledger files
    /// (default: the job's `[ledger] url`).
    #[arg(long, env = "CREDIT_RECON_LEDGER", hide_env_values = true, value_name = "URL", long_help = LEDGER_HELP)]
    pub ledger: Option<String>,
    /// After the reports are written, upsert the run's findings into recon_findings of the
    /// ledger database (one transaction; a rerun replaces the date's findings).
    #[arg(long)]
    pub write_findings: bool,
    /// Whether `--ledger` was typed on the command line (set by [`Cli::parse_from_args`]).
    #[arg(skip)]
    pub ledger_on_command_line: bool,
    /// Mail sent once the reports are written.
    #[command(flatten)]
    pub mail: MailArgs,
}

/// The mail flags of `credit-recon run` (README "Mail"); they override the `[mail]` table of
/// `--mail-config`. The SMTP password comes only from `CREDIT_RECON_SMTP_PASSWORD`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Mail")]
pub struct MailArgs {
    /// TOML file whose [mail] table sets senders, recipients, thresholds, routing, SMTP and retries
    /// (other tables are ignored, so this can be the job file).
    #[arg(long, value_name = "FILE", env = "CREDIT_RECON_MAIL_CONFIG")]
    pub mail_config: Option<PathBuf>,
    /// Write the messages as .eml files into DIR (the default transport, into <out>/outbox/).
    #[arg(long, value_name = "DIR")]
    pub mail_dir: Option<PathBuf>,
    /// Send over SMTP: smtp://host[:port] (STARTTLS), smtps://host[:port] (TLS), or
    /// smtp://host[:port]?tls=none (a local relay without encryption).
    #[arg(long, value_name = "URL", env = "CREDIT_RECON_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// SMTP user name; the password is read from CREDIT_RECON_SMTP_PASSWORD.
    #[arg(long, value_name = "USER", env = "CREDIT_RECON_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// Sender address.
    #[arg(long, value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// Recipient of the finance summary (repeatable; replaces the configured list).
    #[arg(long, value_name = "ADDRESS")]
    pub finance_to: Vec<String>,
    /// Recipient of the discrepancy email (repeatable; replaces the configured list).
    #[arg(long, value_name = "ADDRESS")]
    pub support_to: Vec<String>,
    /// Send again the messages already sent for this date with the same content.
    #[arg(long)]
    pub resend: bool,
    /// Send the finance summary and discrepancy email even when there is nothing to report.
    #[arg(long)]
    pub send_empty: bool,
    /// Send no mail at all.
    #[arg(long)]
    pub no_mail: bool,
}

/// A validated invocation: the configuration of its first date and the dates to run.
#[derive(Debug)]
pub struct Invocation {
    /// Configuration (its `date` is replaced for each date run).
    pub config: RunConfig,
    /// Dates in order, each marked whether it is the invocation's own (not a lookback date).
    pub dates: Vec<(NaiveDate, bool)>,
    /// Mail settings (None: no mail).
    pub mail: Option<Settings>,
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
        // A URL from the command line or the job file must not carry a password: it would be
        // visible in the process list or the file. The environment supplies it.
        let ledger = match (&self.ledger, job.as_ref().and_then(|j| j.ledger.as_ref())) {
            (Some(url), _) => Some(("--ledger", url.clone(), self.ledger_on_command_line)),
            (None, Some(l)) => Some(("the job's [ledger] url", l.url.clone(), true)),
            (None, None) => None,
        };
        let ledger = match ledger {
            None => LedgerSource::Files,
            Some((what, url, typed)) => {
                LedgerSource::Postgres(Box::new(Database::from_url(what, &url, typed, |v| {
                    std::env::var(v).ok()
                })?))
            }
        };
        let config = config.with_ledger(ledger, self.write_findings)?;
        let mail = self.mail.to_settings(&config.report_root, job.as_ref().and_then(|j| j.mail.clone()))?;
        Ok(Invocation { config, dates: nightly::plan(first, last, lookback), mail })
    }
}

impl MailArgs {
    /// Validates the mail flags and `--mail-config` into mail settings (`None`: no mail), before
    /// anything is read. The password is taken from `CREDIT_RECON_SMTP_PASSWORD`.
    /// `job_mail` is the job file's `[mail]` table, used where `--mail-config` is not given.
    pub fn to_settings(&self, report_root: &Path, job_mail: Option<MailConfig>) -> Result<Option<Settings>> {
        let config = match (&self.mail_config, job_mail) {
            (Some(path), _) => MailConfig::load(path)?,
            (None, Some(job)) => job,
            (None, None) => MailConfig::default(),
        };
        let overrides = Overrides {
            no_mail: self.no_mail,
            mail_dir: self.mail_dir.clone(),
            smtp_url: self.smtp_url.clone(),
            smtp_user: self.smtp_user.clone(),
            from: self.mail_from.clone(),
            finance_to: self.finance_to.clone(),
            support_to: self.support_to.clone(),
            send_empty: self.send_empty,
            resend: self.resend,
        };
        let password = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
        Settings::new(config, overrides, report_root, password)
    }
}
/// `credit-recon ledger load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Data root whose ledger/date=D/entries.* files are loaded.
    #[arg(long, env = "CREDIT_RECON_DATA")]
    pub data: PathBuf,
    /// The PostgreSQL ledger to load into.
    #[arg(long, env = "CREDIT_RECON_LEDGER", hide_env_values = true, value_name = "URL", long_help = LEDGER_HELP)]
    pub ledger: String,
    /// Create the tables and indexes of sql/schema.sql first, where they do not exist yet.
    #[arg(long)]
    pub create_schema: bool,
    /// Whether `--ledger` was typed on the command line (set by [`Cli::parse_from_args`]).
    #[arg(skip)]
    pub ledger_on_command_line: bool,
}

impl LoadArgs {
    /// Validates the flags into a load configuration.
    pub fn to_config(&self) -> Result<LoadConfig> {
        let db = Database::from_url("--ledger", &self.ledger, self.ledger_on_command_line, |v| {
            std::env::var(v).ok()
        })?;
        LoadConfig::new(self.data.clone(), db, self.create_schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn a_password_typed_on_the_command_line_is_refused_but_one_from_the_environment_is_not() {
        let url = "postgres://recon:s3cret@db:5432/ledger";
        let cli =
            Cli::parse_from_args(["credit-recon", "ledger", "load", "--data", ".", "--ledger", url]).unwrap();
        let Command::Ledger(LedgerCommand::Load(args)) = cli.command else { panic!("not a load") };
        assert!(args.ledger_on_command_line);
        let err = args.to_config().unwrap_err();
        assert!(matches!(err, Error::Config { .. }) && !err.to_string().contains("s3cret"), "{err}");

        let cli = Cli::parse_from_args([
            "credit-recon",
            "run",
            "--data",
            ".",
            "--out",
            "o",
            "--date",
            "2026-11-02",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else { panic!("not a run") };
        assert!(!args.ledger_on_command_line);
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
