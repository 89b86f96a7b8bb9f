//! Who is mailed the night's results and when: senders, recipients, thresholds, per-account
//! routing, transport and retries, as the `[mail]` table of a job file; and the validated
//! [`Settings`] built once from that table and the command line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The `[mail]` table of a job file. Every key is optional; [`MailConfig::default`] is what the
/// README's first command uses (file transport into `<out>/outbox/`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Send mail after the reports are written (`--no-mail` turns it off).
    pub enabled: bool,
    /// Sender, `Name <address>` or a bare address.
    pub from: String,
    /// Recipients of the finance summary; none means no summary is sent.
    pub finance_to: Vec<String>,
    /// Recipients of the discrepancy email covering every account; none means it is not sent.
    pub support_to: Vec<String>,
    /// Send the finance summary and the discrepancy email even when there is nothing to report.
    pub send_empty: bool,
    /// Folder of the file transport (default `<out>/outbox/`); used when `[mail.smtp]` is absent.
    pub outbox: Option<PathBuf>,
    /// SMTP server; when absent, messages are written as `.eml` files into the outbox.
    pub smtp: Option<SmtpConfig>,
    /// What the discrepancy email lists.
    pub thresholds: Thresholds,
    /// Per-account messages.
    pub routing: Routing,
    /// Retries of a failed send.
    pub retry: RetryConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            from: "credit-recon <credit-recon@localhost>".into(),
            finance_to: vec!["finance@localhost".into()],
            support_to: vec!["support@localhost".into()],
            send_empty: false,
            outbox: None,
            smtp: None,
            thresholds: Thresholds::default(),
            routing: Routing::default(),
            retry: RetryConfig::default(),
        }
    }
}

/// `[mail.smtp]`: the server to submit to. The password never lives here: it comes from the
/// environment variable `CREDIT_RECON_SMTP_PASSWORD`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp://host[:port]` (STARTTLS, required; `?tls=none` for a plain local relay) or
    /// `smtps://host[:port]` (TLS from the first byte).
    pub url: String,
    /// User name to authenticate with (needs TLS).
    #[serde(default)]
    pub user: Option<String>,
    /// Extra root certificate (PEM) to trust, for a server with an internal CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the server on each step.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_timeout_secs() -> u64 {
    30
}

/// `[mail.thresholds]`: what goes into the discrepancy email.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Severities of the findings listed (default `["high"]`).
    pub support_severities: Vec<String>,
    /// Refund candidates below this many credits are counted but not listed one by one.
    pub min_refund_credits: Decimal,
    /// At most this many lines per list; the rest is counted and left to the reports.
    pub max_listed: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { support_severities: vec!["high".into()], min_refund_credits: Decimal::ZERO, max_listed: 200 }
    }
}

/// `[mail.routing]`: per-account copies of the discrepancy email.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// Send each account's lines to the account's `support_email` (accounts table) when it has one.
    pub account_support_email: bool,
    /// Account id → recipients of that account's lines; replaces its `support_email`.
    pub accounts: BTreeMap<String, Vec<String>>,
}

impl Default for Routing {
    fn default() -> Self {
        Self { account_support_email: true, accounts: BTreeMap::new() }
    }
}

/// `[mail.retry]`: a failed send is tried `attempts` times in all, waiting `backoff_ms`, then
/// twice as long after each further failure.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Tries per message, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the second try, in milliseconds; doubled before each later one.
    pub backoff_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { attempts: 4, backoff_ms: 2_000 }
    }
}

impl RetryConfig {
    /// The wait after failed try number `failed` (1-based): `backoff_ms * 2^(failed-1)`.
    pub fn backoff(&self, failed: u32) -> Duration {
        let factor = 1u64 << failed.saturating_sub(1).min(10);
        Duration::from_millis(self.backoff_ms.saturating_mul(factor))
    }
}

/// A job file as far as mail is concerned: its `[mail]` table. Other tables belong to other
/// parts of the job and are not read here.
#[derive(Debug, Deserialize)]
struct MailSection {
    #[serde(default)]
    mail: MailConfig,
}

impl MailConfig {
    /// Parses the `[mail]` table of a TOML document; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let section: MailSection = toml::from_str(text)
            .map_err(|e| Error::Config { what: origin.to_string(), problem: e.to_string() })?;
        Ok(section.mail)
    }

    /// Reads the `[mail]` table of a job file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }
}

/// How a connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// STARTTLS, required (`smtp://`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
    /// No encryption (`smtp://…?tls=none`): a relay on the same host, or a test.
    None,
}

/// A password that never shows in logs or debug output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The password itself, for the SMTP login only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A validated SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpSpec {
    /// Host name (also the name checked in its certificate).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Encryption.
    pub security: Security,
    /// User and password, when the server wants a login.
    pub credentials: Option<(String, Password)>,
    /// Extra root certificate, PEM.
    pub ca_pem: Option<Vec<u8>>,
    /// Timeout of each step.
    pub timeout: Duration,
}

impl SmtpSpec {
    /// `smtp://host:port` without user or password, for logs and the sent-state.
    pub fn display(&self) -> String {
        let scheme = if self.security == Security::Tls { "smtps" } else { "smtp" };
        let suffix = if self.security == Security::None { "?tls=none" } else { "" };
        format!("{scheme}://{}:{}{suffix}", self.host, self.port)
    }
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum TransportSpec {
    /// `.eml` files in a folder.
    Files(PathBuf),
    /// An SMTP server.
    Smtp(SmtpSpec),
}

impl TransportSpec {
    /// A short description without secrets, for logs and the sent-state.
    pub fn display(&self) -> String {
        match self {
            TransportSpec::Files(dir) => format!("file:{}", dir.display()),
            TransportSpec::Smtp(s) => s.display(),
        }
    }
}

/// What the command line says about mail, applied over the job file's `[mail]` table.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--no-mail`.
    pub no_mail: bool,
    /// `--mail-dir`.
    pub mail_dir: Option<PathBuf>,
    /// `--smtp-url`.
    pub smtp_url: Option<String>,
    /// `--smtp-user`.
    pub smtp_user: Option<String>,
    /// `--mail-from`.
    pub from: Option<String>,
    /// `--finance-to` (replaces the job file's list).
    pub finance_to: Vec<String>,
    /// `--support-to` (replaces the job file's list).
    pub support_to: Vec<String>,
    /// `--send-empty`.
    pub send_empty: bool,
    /// `--resend`.
    pub resend: bool,
}

/// Everything the mail step needs, validated before the run reads anything.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Sender.
    pub from: Mailbox,
    /// Recipients of the finance summary.
    pub finance_to: Vec<Mailbox>,
    /// Recipients of the discrepancy email.
    pub support_to: Vec<Mailbox>,
    /// Per-account recipients from the job file.
    pub account_routes: BTreeMap<String, Vec<Mailbox>>,
    /// Route each account's lines to its `support_email` as well.
    pub account_support_email: bool,
    /// Send the central messages even when empty.
    pub send_empty: bool,
    /// Send again even what was sent already for the date.
    pub resend: bool,
    /// What the discrepancy email lists.
    pub thresholds: Thresholds,
    /// Retries.
    pub retry: RetryConfig,
    /// Where messages go.
    pub transport: TransportSpec,
    /// Folder of the per-date sent-state files (`<out>/.mail-sent/`).
    pub state_dir: PathBuf,
}

/// The folder, under the report root, of the records of what was mailed for each date.
pub const STATE_DIR: &str = ".mail-sent";
/// The default outbox of the file transport, under the report root.
pub const OUTBOX_DIR: &str = "outbox";
/// The environment variable holding the SMTP password.
pub const PASSWORD_ENV: &str = "CREDIT_RECON_SMTP_PASSWORD";

fn config_error(what: &str, problem: impl Into<String>) -> Error {
    Error::Config { what: what.to_string(), problem: problem.into() }
}

/// Parses an address list entry, naming the key or flag it came from.
pub fn mailbox(value: &str, what: &str) -> Result<Mailbox> {
    value.trim().parse::<Mailbox>().map_err(|e| config_error(what, format!("bad address {value:?}: {e}")))
}

fn mailboxes(values: &[String], what: &str) -> Result<Vec<Mailbox>> {
    values.iter().map(|v| mailbox(v, what)).collect()
}

impl Settings {
    /// Applies the command line over `config` and validates the result; `None` when mail is off.
    /// `password` is the value of [`PASSWORD_ENV`], if set.
    pub fn new(
        config: MailConfig,
        cli: Overrides,
        report_root: &Path,
        password: Option<String>,
    ) -> Result<Option<Self>> {
        if cli.no_mail || !config.enabled {
            return Ok(None);
        }
        let from = mailbox(cli.from.as_deref().unwrap_or(&config.from), "--mail-from / mail.from")?;
        let finance_to = if cli.finance_to.is_empty() { &config.finance_to } else { &cli.finance_to };
        let support_to = if cli.support_to.is_empty() { &config.support_to } else { &cli.support_to };
        let finance_to = mailboxes(finance_to, "--finance-to / mail.finance_to")?;
        let support_to = mailboxes(support_to, "--support-to / mail.support_to")?;
        let mut account_routes = BTreeMap::new();
        for (account, to) in &config.routing.accounts {
            account_routes
                .insert(account.clone(), mailboxes(to, &format!("mail.routing.accounts.{account}"))?);
        }
        if config.retry.attempts == 0 {
            return Err(config_error("mail.retry.attempts", "must be at least 1"));
        }
        if config.thresholds.min_refund_credits.is_sign_negative() {
            return Err(config_error("mail.thresholds.min_refund_credits", "must not be negative"));
        }
        for s in &config.thresholds.support_severities {
            if !["high", "medium", "low"].contains(&s.as_str()) {
                return Err(config_error(
                    "mail.thresholds.support_severities",
                    format!("unknown severity {s:?} (high, medium, low)"),
                ));
            }
        }
        let smtp_url = cli.smtp_url.clone().or_else(|| config.smtp.as_ref().map(|s| s.url.clone()));
        if cli.mail_dir.is_some() && cli.smtp_url.is_some() {
            return Err(config_error("--mail-dir", "give either --mail-dir or --smtp-url, not both"));
        }
        let transport = match (&cli.mail_dir, smtp_url) {
            (Some(dir), _) => TransportSpec::Files(dir.clone()),
            (None, Some(url)) => {
                let smtp = config.smtp.clone();
                let user = cli.smtp_user.clone().or_else(|| smtp.as_ref().and_then(|s| s.user.clone()));
                let ca_file = smtp.as_ref().and_then(|s| s.ca_file.clone());
                let timeout = smtp.as_ref().map(|s| s.timeout_secs).unwrap_or_else(default_timeout_secs);
                TransportSpec::Smtp(smtp_spec(&url, user, password, ca_file.as_deref(), timeout)?)
            }
            (None, None) => {
                TransportSpec::Files(config.outbox.clone().unwrap_or_else(|| report_root.join(OUTBOX_DIR)))
            }
        };
        Ok(Some(Self {
            from,
            finance_to,
            support_to,
            account_routes,
            account_support_email: config.routing.account_support_email,
            send_empty: cli.send_empty || config.send_empty,
            resend: cli.resend,
            thresholds: config.thresholds,
            retry: config.retry,
            transport,
            state_dir: report_root.join(STATE_DIR),
        }))
    }
}

/// Validates an SMTP URL with its login.
fn smtp_spec(
    url: &str,
    user: Option<String>,
    password: Option<String>,
    ca_file: Option<&Path>,
    timeout_secs: u64,
) -> Result<SmtpSpec> {
    const WHAT: &str = "--smtp-url / mail.smtp.url";
    let parsed = url::Url::parse(url).map_err(|e| config_error(WHAT, format!("{url:?}: {e}")))?;
    if parsed.password().is_some() {
        return Err(config_error(WHAT, format!("put the password in {PASSWORD_ENV}, not in the URL")));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| config_error(WHAT, format!("{url:?} names no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
        ("smtp", None | Some("starttls" | "required")) => (Security::StartTls, 587),
        ("smtp", Some("none")) => (Security::None, 25),
        ("smtps", None) => (Security::Tls, 465),
        (scheme, tls) => {
            return Err(config_error(
                WHAT,
                format!(
                    "unsupported scheme {scheme:?} or tls={tls:?}: use smtp://host:port (STARTTLS), \
                     smtp://host:port?tls=none or smtps://host:port"
                ),
            ));
        }
    };
    let user = user.or_else(|| Some(parsed.username().to_string()).filter(|u| !u.is_empty()));
    let credentials = match (user, password) {
        (Some(user), Some(password)) => Some((user, Password::new(password))),
        (Some(user), None) => {
            return Err(config_error(
                "--smtp-user / mail.smtp.user",
                format!("user {user:?} given but {PASSWORD_ENV} is not set"),
            ));
        }
        (None, _) => None,
    };
    if credentials.is_some() && security == Security::None {
        return Err(config_error(
            WHAT,
            "a login needs TLS: use smtp:// (STARTTLS) or smtps://, not tls=none",
        ));
    }
    let ca_pem = match ca_file {
        Some(p) => Some(std::fs::read(p).map_err(|e| Error::io(p, e))?),
        None => None,
    };
    Ok(SmtpSpec {
        host,
        port: parsed.port().unwrap_or(default_port),
        security,
        credentials,
        ca_pem,
        timeout: Duration::from_secs(timeout_secs.max(1)),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn settings(config: MailConfig, cli: Overrides, password: Option<&str>) -> Result<Option<Settings>> {
        Settings::new(config, cli, Path::new("/reports"), password.map(str::to_string))
    }

    #[test]
    fn default_writes_eml_files_into_the_outbox() {
        let s = settings(MailConfig::default(), Overrides::default(), None).unwrap().unwrap();
        assert!(matches!(&s.transport, TransportSpec::Files(d) if d == Path::new("/reports/outbox")));
        assert_eq!(s.state_dir, Path::new("/reports/.mail-sent"));
        assert_eq!(s.finance_to.len(), 1);
        assert!(!s.resend && !s.send_empty);
    }

    #[test]
    fn no_mail_or_disabled_gives_none() {
        let cli = Overrides { no_mail: true, ..Overrides::default() };
        assert!(settings(MailConfig::default(), cli, None).unwrap().is_none());
        let config = MailConfig { enabled: false, ..MailConfig::default() };
        assert!(settings(config, Overrides::default(), None).unwrap().is_none());
    }

    #[test]
    fn mail_table_of_a_job_file_parses_and_ignores_other_tables() {
        let text = r#"
            [job]
            name = "nightly"

            [mail]
            from = "Recon <recon@example.com>"
            finance_to = ["finance@example.com"]
            support_to = ["a@example.com", "b@example.com"]
            [mail.smtp]
            url = "smtps://mail.example.com"
            user = "recon"
            [mail.thresholds]
            support_severities = ["high", "medium"]
            min_refund_credits = "1.5"
            [mail.routing.accounts]
            acc-2 = ["csm@example.com"]
            [mail.retry]
            attempts = 2
            backoff_ms = 10
        "#;
        let c = MailConfig::parse(text, "nightly.toml").unwrap();
        assert_eq!(c.support_to.len(), 2);
        assert_eq!(c.thresholds.min_refund_credits, Decimal::new(15, 1));
        assert!(c.routing.account_support_email, "default kept");
        let s = settings(c, Overrides::default(), Some("pw")).unwrap().unwrap();
        let TransportSpec::Smtp(smtp) = &s.transport else { panic!("smtp expected") };
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.security), ("mail.example.com", 465, Security::Tls));
        assert_eq!(smtp.credentials.as_ref().map(|(u, p)| (u.as_str(), p.expose())), Some(("recon", "pw")));
        assert!(!format!("{s:?}").contains("pw\""), "the password never shows in debug output");
        assert_eq!(s.account_routes["acc-2"][0].email.to_string(), "csm@example.com");
        assert_eq!(s.retry.backoff(1), Duration::from_millis(10));
        assert_eq!(s.retry.backoff(3), Duration::from_millis(40));
    }

    #[test]
    fn the_readme_mail_table_parses_and_shows_the_defaults() {
        let readme = include_str!("../../README.md");
        let start =
            readme.find("```toml\n[mail]").expect("README has the [mail] example") + "```toml\n".len();
        let block = &readme[start..start + readme[start..].find("```").unwrap()];
        let mut c = MailConfig::parse(block, "README.md").unwrap();
        assert_eq!(c.smtp.take().map(|s| s.timeout_secs), Some(30));
        assert_eq!(c, MailConfig::default(), "apart from [mail.smtp], the README shows the defaults");
    }

    #[test]
    fn a_typo_in_the_mail_table_is_an_error() {
        let err = MailConfig::parse("[mail]\nfinance_too = []\n", "job.toml").unwrap_err().to_string();
        assert!(err.contains("job.toml") && err.contains("finance_too"), "{err}");
    }

    #[test]
    fn flags_override_the_job_file() {
        let cli = Overrides {
            smtp_url: Some("smtp://127.0.0.1:2525?tls=none".into()),
            finance_to: vec!["cfo@example.com".into()],
            from: Some("night@example.com".into()),
            resend: true,
            send_empty: true,
            ..Overrides::default()
        };
        let s = settings(MailConfig::default(), cli, None).unwrap().unwrap();
        let TransportSpec::Smtp(smtp) = &s.transport else { panic!("smtp expected") };
        assert_eq!(smtp.display(), "smtp://127.0.0.1:2525?tls=none");
        assert_eq!(s.finance_to[0].email.to_string(), "cfo@example.com");
        assert_eq!(s.support_to[0].email.to_string(), "support@localhost");
        assert!(s.resend && s.send_empty);
    }

    #[test]
    fn bad_mail_settings_are_configuration_errors() {
        let cases: Vec<(Overrides, Option<&str>, &str)> = vec![
            (
                Overrides { smtp_url: Some("http://x".into()), ..Default::default() },
                None,
                "unsupported scheme",
            ),
            (
                Overrides { smtp_url: Some("smtp://u:secret@x".into()), ..Default::default() },
                None,
                "CREDIT_RECON_SMTP_PASSWORD",
            ),
            (
                Overrides {
                    smtp_url: Some("smtp://x".into()),
                    smtp_user: Some("u".into()),
                    ..Default::default()
                },
                None,
                "is not set",
            ),
            (
                Overrides {
                    smtp_url: Some("smtp://x?tls=none".into()),
                    smtp_user: Some("u".into()),
                    ..Default::default()
                },
                Some("pw"),
                "needs TLS",
            ),
            (
                Overrides { finance_to: vec!["not an address".into()], ..Default::default() },
                None,
                "bad address",
            ),
            (
                Overrides {
                    smtp_url: Some("smtp://x".into()),
                    mail_dir: Some("/tmp/o".into()),
                    ..Default::default()
                },
                None,
                "either",
            ),
        ];
        for (cli, pw, needle) in cases {
            let err = settings(MailConfig::default(), cli, pw).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{err}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }
}
