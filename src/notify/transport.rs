//! Hands a message to the SMTP server (STARTTLS or TLS, with login) or writes it as an `.eml`
//! file, retrying a failed send with a growing wait.

use std::thread::sleep;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{FileTransport, Message, SmtpTransport, Transport as _};
use tracing::{info, warn};

use super::NotifyError;
use super::config::{RetryConfig, Security, SmtpSpec, TransportSpec};

/// A ready transport.
pub enum Transport {
    /// `.eml` files written into a folder.
    Files(FileTransport, std::path::PathBuf),
    /// An SMTP server.
    Smtp(Box<SmtpTransport>),
}

/// Why one try failed, and whether trying again can help.
#[derive(Debug)]
pub struct Failure {
    /// The server refused for good (a 5xx reply): retrying cannot help.
    pub permanent: bool,
    /// What went wrong.
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

fn tls_parameters(spec: &SmtpSpec) -> Result<TlsParameters, NotifyError> {
    let tls_error = |e: lettre::transport::smtp::Error| NotifyError::Transport {
        transport: spec.display(),
        problem: format!("TLS set-up: {e}"),
    };
    let mut builder = TlsParameters::builder(spec.host.clone());
    if let Some(pem) = &spec.ca_pem {
        builder = builder.add_root_certificate(Certificate::from_pem(pem).map_err(tls_error)?);
    }
    builder.build_rustls().map_err(tls_error)
}

impl Transport {
    /// Builds the transport; nothing is connected yet.
    pub fn new(spec: &TransportSpec) -> Result<Self, NotifyError> {
        match spec {
            TransportSpec::Files(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|source| NotifyError::Io { path: dir.clone(), source })?;
                Ok(Transport::Files(FileTransport::new(dir), dir.clone()))
            }
            TransportSpec::Smtp(s) => {
                let tls = match s.security {
                    Security::StartTls => Tls::Required(tls_parameters(s)?),
                    Security::Tls => Tls::Wrapper(tls_parameters(s)?),
                    Security::None => Tls::None,
                };
                let mut builder = SmtpTransport::builder_dangerous(s.host.clone())
                    .port(s.port)
                    .tls(tls)
                    .timeout(Some(s.timeout));
                if let Some((user, password)) = &s.credentials {
                    builder =
                        builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
                }
                Ok(Transport::Smtp(Box::new(builder.build())))
            }
        }
    }

    /// One try.
    fn send_once(&self, message: &Message) -> Result<String, Failure> {
        match self {
            Transport::Files(t, dir) => t
                .send(message)
                .map(|id| dir.join(format!("{id}.eml")).display().to_string())
                .map_err(|e| Failure { permanent: false, source: Box::new(e) }),
            Transport::Smtp(t) => t
                .send(message)
                .map(|r| r.message().collect::<Vec<_>>().join(" "))
                .map_err(|e| Failure { permanent: e.is_permanent(), source: Box::new(e) }),
        }
    }

    /// Sends `message`, trying again after `retry.backoff(n)` while a failure is not permanent,
    /// at most `retry.attempts` times in all. Returns what the transport answered (the server's
    /// reply or the file written).
    pub fn send(&self, key: &str, message: &Message, retry: &RetryConfig) -> Result<String, NotifyError> {
        let mut attempt = 1;
        loop {
            match self.send_once(message) {
                Ok(answer) => return Ok(answer),
                Err(failure) => {
                    let last = failure.permanent || attempt >= retry.attempts;
                    if last {
                        return Err(NotifyError::Send {
                            message: key.to_string(),
                            attempts: attempt,
                            permanent: failure.permanent,
                            source: failure.source,
                        });
                    }
                    let wait = retry.backoff(attempt);
                    warn!(message = key, attempt, wait_ms = wait.as_millis() as u64, error = %failure.source, "send failed; retrying");
                    sleep(wait);
                    attempt += 1;
                    info!(message = key, attempt, "sending again");
                }
            }
        }
    }
}
