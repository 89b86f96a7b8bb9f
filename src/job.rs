//! Job files (`jobs/*.toml`): what finance runs from cron, the pipeline's settings in one place.
//! Paths in a job file are relative to the file's own folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// A nightly job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// Data root (SPEC §2).
    pub data_root: PathBuf,
    /// Report root.
    pub report_root: PathBuf,
    /// Rules file (default: the built-in one).
    pub rules: Option<PathBuf>,
    /// Business time zone (IANA name, default UTC).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// How many dates before the one run are re-reconciled, so late charges are seen.
    #[serde(default = "three")]
    pub lookback_days: u32,
    /// Where the nightly state lives (default: `<report_root>/_state`).
    pub state_root: Option<PathBuf>,
    /// Mail settings (README "Mail").
    pub mail: Option<crate::notify::MailConfig>,
    /// The PostgreSQL ledger (README "PostgreSQL ledger"); the data root's files where absent.
    pub ledger: Option<JobLedger>,
}

/// The `[ledger]` table of a job file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobLedger {
    /// `postgres://user@host:port/database`, without password (it comes from the environment).
    pub url: String,
}

fn utc() -> String {
    "UTC".to_string()
}

fn three() -> u32 {
    3
}

impl JobFile {
    /// Reads a job file, resolving its paths against its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            what: path.display().to_string(),
            problem: format!("cannot read the job file: {e}"),
        })?;
        let mut job: JobFile = toml::from_str(&text)
            .map_err(|e| Error::Config { what: path.display().to_string(), problem: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        job.data_root = resolve(&job.data_root);
        job.report_root = resolve(&job.report_root);
        job.rules = job.rules.as_deref().map(resolve);
        job.state_root = job.state_root.as_deref().map(resolve);
        Ok(job)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_shipped_nightly_job_parses_with_paths_beside_it() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/nightly.toml");
        let job = JobFile::load(&path).unwrap();
        assert!(job.data_root.join("reference").is_dir(), "{}", job.data_root.display());
        assert_eq!(job.lookback_days, 3);
    }

    #[test]
    fn a_typo_in_a_job_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.toml");
        std::fs::write(&path, "data_root = \"d\"\nreport_root = \"r\"\nlookback = 2\n").unwrap();
        let err = JobFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("lookback"), "{err}");
    }
}
