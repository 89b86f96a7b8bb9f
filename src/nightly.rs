//! One invocation of `credit-recon run`: which business dates to reconcile (the date, or a
//! backfill range, plus the lookback dates before it), in order, under a lock so that two runs of
//! the same job never overlap.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate, Utc};
use tracing::{info, info_span, warn};

use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::pipeline::{self, RunOutcome};

/// The dates of one invocation, oldest first: `lookback` dates before `first`, then `first..=last`.
/// Only the latter are the invocation's own (their high-severity findings set the exit code).
pub fn plan(first: NaiveDate, last: NaiveDate, lookback: u32) -> Vec<(NaiveDate, bool)> {
    let mut dates = Vec::new();
    for back in (1..=u64::from(lookback)).rev() {
        dates.push((first - Days::new(back), false));
    }
    let mut d = first;
    while d <= last {
        dates.push((d, true));
        d = d + Days::new(1);
    }
    dates
}

/// Parses `yesterday`, `today` or `YYYY-MM-DD`, today being the business time zone's.
pub fn parse_date(text: &str, tz: chrono_tz::Tz) -> Result<NaiveDate> {
    let today = Utc::now().with_timezone(&tz).date_naive();
    match text {
        "today" => Ok(today),
        "yesterday" => Ok(today - Days::new(1)),
        other => NaiveDate::parse_from_str(other, "%Y-%m-%d").map_err(|e| Error::Config {
            what: "--date".into(),
            problem: format!("{other:?} is not yesterday, today or YYYY-MM-DD ({e})"),
        }),
    }
}

/// A held lock on a report root; released when dropped or when the process dies.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

/// Why a lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another live process holds it.
    Held(String),
    /// The lock file could not be opened.
    Io(Error),
}

impl Lock {
    /// Takes the lock of `report_root` without waiting. The operating system releases the lock of a
    /// process that died, so a stale lock file is simply taken over.
    pub fn acquire(report_root: &Path) -> std::result::Result<Lock, LockError> {
        std::fs::create_dir_all(report_root).map_err(|e| LockError::Io(Error::io(report_root, e)))?;
        let path = report_root.join(".credit-recon.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LockError::Io(Error::io(&path, e)))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(LockError::Held(holder.trim().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(Error::io(&path, e))),
        }
        let previous = std::fs::read_to_string(&path).unwrap_or_default();
        if !previous.trim().is_empty() {
            warn!(previous = previous.trim(), "took over the lock of a run that is no longer alive");
        }
        let _ = file.set_len(0);
        let _ = writeln!(file, "pid {} since {}", std::process::id(), Utc::now().to_rfc3339());
        Ok(Lock { _file: file, path })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Empty the file so the next run does not report a take-over.
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&self.path) {
            let _ = f.set_len(0);
        }
    }
}

/// What an invocation did.
#[derive(Debug)]
pub struct Outcome {
    /// Each date run, with whether it is one of the invocation's own dates.
    pub runs: Vec<(NaiveDate, bool, RunOutcome)>,
}

impl Outcome {
    /// High-severity findings on the invocation's own dates.
    pub fn high_findings(&self) -> u64 {
        self.runs.iter().filter(|(_, own, _)| *own).map(|(_, _, o)| o.high_findings).sum()
    }
}

/// Runs `dates` in order with `base` (its date replaced each time); stops at the first failure.
/// After each date its results are mailed with `mail` (nothing where it is None); a mail failure
/// stops the invocation with the reports of that date in place.
pub fn run_dates(
    base: &RunConfig,
    dates: &[(NaiveDate, bool)],
    mail: Option<&crate::notify::Settings>,
) -> Result<Outcome> {
    let progress = if std::io::stderr().is_terminal() && dates.len() > 1 {
        indicatif::ProgressBar::new(dates.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} dates {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut runs = Vec::with_capacity(dates.len());
    for (date, own) in dates {
        progress.set_message(date.to_string());
        let cfg = RunConfig { date: *date, ..base.clone() };
        let outcome = info_span!("date", %date, lookback = !own).in_scope(|| -> Result<RunOutcome> {
            let outcome = pipeline::run(&cfg)?;
            crate::notify::after_run(mail, &outcome, *date)?;
            Ok(outcome)
        })?;
        runs.push((*date, *own, outcome));
        progress.inc(1);
    }
    progress.finish_and_clear();
    info!(dates = runs.len(), "all dates reconciled");
    Ok(Outcome { runs })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn plan_puts_lookback_dates_first_and_marks_only_the_own_ones() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let p = plan(d("2026-11-02"), d("2026-11-03"), 2);
        assert_eq!(
            p,
            vec![
                (d("2026-10-31"), false),
                (d("2026-11-01"), false),
                (d("2026-11-02"), true),
                (d("2026-11-03"), true)
            ]
        );
    }

    #[test]
    fn yesterday_is_the_business_time_zones() {
        let tz = chrono_tz::Pacific::Kiritimati;
        let today = Utc::now().with_timezone(&tz).date_naive();
        assert_eq!(parse_date("yesterday", tz).unwrap(), today - Days::new(1));
        assert!(parse_date("2026-02-30", tz).is_err());
    }

    #[test]
    fn a_second_lock_on_the_same_root_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = Lock::acquire(dir.path()).unwrap();
        match Lock::acquire(dir.path()) {
            Err(LockError::Held(holder)) => assert!(holder.contains(&std::process::id().to_string())),
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(first);
        assert!(Lock::acquire(dir.path()).is_ok());
    }
}
