//! The monthly invoicing job file (`jobs/monthly-invoice.toml`): where the data and the statements
//! live, the business time zone and the rules file, so that cron only passes `--month`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// A monthly invoicing job. Every key is optional; a flag (or its environment variable) given on
/// the command line wins over the file. Relative paths are relative to the job file's folder.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceJob {
    /// Data root of SPEC §2.
    pub data: Option<PathBuf>,
    /// Report root; the run writes `month=YYYY-MM/` under it.
    pub out: Option<PathBuf>,
    /// Business time zone (IANA name).
    pub tz: Option<String>,
    /// Rules file.
    pub rules: Option<PathBuf>,
}

impl InvoiceJob {
    /// Parses a job file's text; `path` names it in errors and anchors its relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let job: InvoiceJob = toml::from_str(text)
            .map_err(|e| Error::Config { what: path.display().to_string(), problem: e.to_string() })?;
        let base = path.parent().unwrap_or_else(|| Path::new(""));
        let anchor = |p: Option<PathBuf>| p.map(|p| if p.is_absolute() { p } else { base.join(p) });
        Ok(InvoiceJob { data: anchor(job.data), out: anchor(job.out), tz: job.tz, rules: anchor(job.rules) })
    }

    /// Reads a job file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            what: path.display().to_string(),
            problem: format!("cannot read the job file: {e}"),
        })?;
        Self::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn relative_paths_are_relative_to_the_job_file() {
        let job = InvoiceJob::parse(
            "data = \"../data\"\nout = \"/srv/out\"\ntz = \"Europe/Berlin\"\n",
            Path::new("/etc/credit/jobs/monthly.toml"),
        )
        .unwrap();
        assert_eq!(job.data, Some(PathBuf::from("/etc/credit/jobs/../data")));
        assert_eq!(job.out, Some(PathBuf::from("/srv/out")));
        assert_eq!(job.tz.as_deref(), Some("Europe/Berlin"));
        assert_eq!(job.rules, None);
    }

    #[test]
    fn the_shipped_job_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/monthly-invoice.toml");
        let job = InvoiceJob::load(&path).unwrap();
        assert!(job.data.is_some() && job.out.is_some() && job.tz.is_some());
        assert!(job.rules.unwrap().is_file(), "the job's rules file exists in the repository");
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_file() {
        let err = InvoiceJob::parse("data = \"d\"\nmonth = \"2026-11\"\n", Path::new("job.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("job.toml") && err.contains("month"), "{err}");
    }
}
