//! The exit codes a caller (cron) can see, each documented in the README.

use crate::error::Error;

/// Every exit code of `credit-recon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// The run succeeded and found nothing of high severity.
    Ok = 0,
    /// The run failed (unreadable input, schema mismatch, I/O, conservation check): no report
    /// of the date was changed.
    RunFailed = 1,
    /// Usage or configuration error (bad flag, rules file, time zone): nothing was read.
    Usage = 2,
    /// The run succeeded and wrote its reports, with findings of high severity (`run`), or with
    /// an account whose ledger balance disagrees or a high-severity finding still open
    /// (`invoice`): alert.
    HighSeverityFindings = 3,
    /// The run wrote its reports (they stay), but the mail was not delivered after its retries:
    /// fix the mail server or settings and rerun the date (only unsent messages are sent).
    NotifyFailed = 4,
    /// Another run of the same job (same report root) is in progress: nothing was done.
    Locked = 5,
}

impl ExitCode {
    /// The exit code for a failed run.
    pub fn for_error(e: &Error) -> Self {
        match e {
            Error::Config { .. } => ExitCode::Usage,
            Error::Notify { .. } => ExitCode::NotifyFailed,
            _ => ExitCode::RunFailed,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}
