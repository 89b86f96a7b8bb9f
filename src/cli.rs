//! The command line: flags parsed by clap, then validated once into a [`RunConfig`] (or a
//! [`LoadConfig`] for `ledger load`).

use std::ffi::OsString;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::config::{LoadConfig, RunConfig};
use crate::db::Database;
use crate::error::Result;
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
pub enum Command {
    /// Reconcile one business date and write its reports.
    Run(RunArgs),
    /// Work with the credit ledger in PostgreSQL.
    #[command(subcommand)]
    Ledger(LedgerCommand),
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
    /// Read the ledger from this PostgreSQL database instead of the data root's ledger files.
    #[arg(long, env = "CREDIT_RECON_LEDGER", hide_env_values = true, value_name = "URL", long_help = LEDGER_HELP)]
    pub ledger: Option<String>,
    /// After the reports are written, upsert the run's findings into recon_findings of the
    /// --ledger database (one transaction; a rerun replaces the date's findings).
    #[arg(long)]
    pub write_findings: bool,
    /// Whether `--ledger` was typed on the command line (set by [`Cli::parse_from_args`]).
    #[arg(skip)]
    pub ledger_on_command_line: bool,
}

impl RunArgs {
    /// Validates the flags into a run configuration.
    pub fn to_config(&self) -> Result<RunConfig> {
        let ledger = match &self.ledger {
            None => LedgerSource::Files,
            Some(url) => LedgerSource::Postgres(Box::new(Database::from_url(
                "--ledger",
                url,
                self.ledger_on_command_line,
                |v| std::env::var(v).ok(),
            )?)),
        };
        RunConfig::new(self.data.clone(), self.out.clone(), self.date, &self.tz, self.rules.as_deref())?
            .with_ledger(ledger, self.write_findings)
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
