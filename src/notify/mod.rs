//! Tells finance and support what the night found, once the reports are written: a summary to
//! finance, a discrepancy email to support (and each routed account), each message sent once per
//! date and content. A message that cannot be delivered fails the run with exit code 4; the
//! reports stay in place.

pub mod compose;
pub mod config;
pub mod results;
pub mod state;
pub mod transport;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use lettre::Message;
use lettre::message::MultiPart;
use lettre::message::header::{HeaderName, HeaderValue};
use polars::prelude::DataFrame;
use tracing::{info, info_span};

pub use compose::Draft;
pub use config::{MailConfig, Overrides, Settings};
use state::{SentRecord, SentState};
use transport::Transport;

use crate::error::Error;
use crate::pipeline::RunOutcome;

/// Why the mail of a run was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A report could not be read back.
    #[error("cannot read report {file}: {source}")]
    Report {
        /// The report.
        file: PathBuf,
        /// The cause.
        source: polars::error::PolarsError,
    },
    /// `manifest.json` is not what this version writes.
    #[error("cannot read manifest {file}: {problem}")]
    Manifest {
        /// The manifest.
        file: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An amount in a report is not a decimal.
    #[error("amount {value:?} in column {column} of {file} is not a decimal")]
    Money {
        /// The report.
        file: PathBuf,
        /// The column.
        column: String,
        /// The text found.
        value: String,
    },
    /// A file could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The sent-state file of the date is unreadable.
    #[error("sent-state {path}: {problem}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// A message could not be built.
    #[error("cannot build the {message} message: {problem}")]
    Compose {
        /// Message key.
        message: String,
        /// The cause.
        problem: String,
    },
    /// The transport could not be set up.
    #[error("mail transport {transport}: {problem}")]
    Transport {
        /// The transport, without secrets.
        transport: String,
        /// The cause.
        problem: String,
    },
    /// A message was not accepted, after every try.
    #[error("the {message} message was not delivered after {attempts} attempt(s){}: {source}", refused(.permanent))]
    Send {
        /// Message key.
        message: String,
        /// Tries made.
        attempts: u32,
        /// The server refused it for good (5xx), so it was not retried.
        permanent: bool,
        /// The last failure.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn refused(permanent: &bool) -> &'static str {
    if *permanent { " (refused by the server, not retried)" } else { "" }
}

/// What the mail step did, message key by message key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Sent now.
    pub sent: Vec<String>,
    /// Sent before with the same content; not sent again.
    pub unchanged: Vec<String>,
    /// Nothing to report; not sent.
    pub empty: Vec<String>,
}

/// Mails the results of a finished run (nothing when `settings` is `None`, i.e. `--no-mail`).
/// Any failure is [`Error::Notify`], which leaves the reports as they are.
pub fn after_run(
    settings: Option<&Settings>,
    outcome: &RunOutcome,
    date: NaiveDate,
) -> crate::Result<Delivery> {
    let Some(settings) = settings else {
        info!(%date, "mail is off; nothing sent");
        return Ok(Delivery::default());
    };
    let _span = info_span!("notify").entered();
    let delivery = deliver(settings, &outcome.report_dir, &outcome.accounts)
        .map_err(|source| Error::Notify { date, report_dir: outcome.report_dir.clone(), source })?;
    info!(
        sent = delivery.sent.len(),
        unchanged = delivery.unchanged.len(),
        empty = delivery.empty.len(),
        transport = %settings.transport.display(),
        "mail done"
    );
    Ok(delivery)
}

/// The digest that tells whether a message says the same as the one sent before.
pub fn digest(draft: &Draft) -> String {
    let to: Vec<String> = draft.to.iter().map(|m| m.to_string()).collect();
    let text = format!("{}\n{}\n{}\n{}", draft.key, to.join(", "), draft.subject, draft.text);
    crate::reports::manifest::sha256_hex(text.as_bytes())
}

/// `<credit-recon.D.KEY.DIGEST.MILLIS@DOMAIN>`, the domain being the sender's.
fn message_id(settings: &Settings, date: &str, key: &str, digest: &str) -> String {
    let key: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    let domain = settings.from.email.domain();
    format!("<credit-recon.{date}.{key}.{}.{}@{domain}>", &digest[..12], Utc::now().timestamp_millis())
}

fn build(
    draft: &Draft,
    settings: &Settings,
    results: &results::Results,
    message_id: &str,
    replaces: Option<&str>,
) -> Result<Message, NotifyError> {
    let compose_error = |e: &dyn std::fmt::Display| NotifyError::Compose {
        message: draft.key.clone(),
        problem: e.to_string(),
    };
    let mut b = Message::builder()
        .from(settings.from.clone())
        .subject(draft.subject.clone())
        .message_id(Some(message_id.to_string()))
        .date_now()
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Credit-Recon-Date"),
            results.business_date.clone(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Credit-Recon-Run-Id"),
            results.run_id.clone(),
        ));
    for to in &draft.to {
        b = b.to(to.clone());
    }
    if let Some(previous) = replaces {
        b = b.in_reply_to(previous.to_string()).references(previous.to_string());
    }
    b.multipart(MultiPart::alternative_plain_html(draft.text.clone(), draft.html.clone()))
        .map_err(|e| compose_error(&e))
}

/// Reads the reports of `report_dir`, writes the night's messages and sends those not sent yet.
pub fn deliver(
    settings: &Settings,
    report_dir: &Path,
    accounts: &DataFrame,
) -> Result<Delivery, NotifyError> {
    let clock = std::time::Instant::now();
    let results = results::read(report_dir, accounts)?;
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "read the reports for the mail");
    let drafts = compose::all(&results, settings);
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), drafts = drafts.len(), "composed");
    let state_path = state::path(&settings.state_dir, &results.business_date);
    let mut state = SentState::load(&state_path, &results.business_date)?;
    // Built on the first message to send, so that a quiet night touches no server or folder.
    let mut transport: Option<Transport> = None;
    let mut delivery = Delivery::default();
    for mut draft in drafts {
        let digest = digest(&draft);
        let previous = state.messages.get(&draft.key).cloned();
        let same = previous.as_ref().is_some_and(|p| p.digest == digest);
        if same && !settings.resend {
            info!(
                message = %draft.key,
                message_id = previous.as_ref().map(|p| p.message_id.as_str()).unwrap_or(""),
                "already sent with the same content; not sent again (--resend sends it)"
            );
            delivery.unchanged.push(draft.key);
            continue;
        }
        let changed = previous.is_some() && !same;
        if !draft.has_content && !settings.send_empty && !changed {
            info!(message = %draft.key, "nothing to report; not sent (--send-empty sends it)");
            delivery.empty.push(draft.key);
            continue;
        }
        let replaces = previous.as_ref().filter(|_| changed);
        if let Some(p) = replaces {
            draft.mark_updated(&p.sent_at);
        }
        let id = message_id(settings, &results.business_date, &draft.key, &digest);
        let message = build(&draft, settings, &results, &id, replaces.map(|p| p.message_id.as_str()))?;
        let transport = match transport.as_mut() {
            Some(t) => t,
            None => transport.insert(Transport::new(&settings.transport)?),
        };
        let answer = transport.send(&draft.key, &message, &settings.retry)?;
        let recipients: Vec<String> = draft.to.iter().map(|m| m.email.to_string()).collect();
        info!(
            message = %draft.key,
            to = %recipients.join(", "),
            message_id = %id,
            updated = changed,
            answer = %answer,
            "sent"
        );
        // Recorded after each message, so that a failure later on does not send this one again.
        state.record(
            &state_path,
            &draft.key,
            SentRecord {
                message_id: id,
                digest,
                subject: draft.subject.clone(),
                recipients,
                sent_at: Utc::now().to_rfc3339(),
                run_id: results.run_id.clone(),
                transport: settings.transport.display(),
            },
        )?;
        delivery.sent.push(draft.key);
    }
    Ok(delivery)
}
