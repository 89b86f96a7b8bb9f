//! The command line: flags parsed by clap, then validated once into a [`RunConfig`] and the
//! mail [`Settings`].

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::RunConfig;
use crate::error::Result;
use crate::notify::config::PASSWORD_ENV;
use crate::notify::{MailConfig, Overrides, Settings};

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

impl RunArgs {
    /// Validates the flags into a run configuration.
    pub fn to_config(&self) -> Result<RunConfig> {
        RunConfig::new(self.data.clone(), self.out.clone(), self.date, &self.tz, self.rules.as_deref())
    }
}

impl MailArgs {
    /// Validates the mail flags and `--mail-config` into mail settings (`None`: no mail), before
    /// anything is read. The password is taken from `CREDIT_RECON_SMTP_PASSWORD`.
    pub fn to_settings(&self, report_root: &Path) -> Result<Option<Settings>> {
        let config = match &self.mail_config {
            Some(path) => MailConfig::load(path)?,
            None => MailConfig::default(),
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
