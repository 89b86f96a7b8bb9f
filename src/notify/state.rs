//! What was mailed for a date, so that a rerun does not mail the same results twice:
//! `<out>/.mail-sent/date=D.json`, one record per message with its Message-ID and a digest of
//! what it said. It lives outside the date's report folder, which a rerun replaces as a whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::NotifyError;

/// One message sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentRecord {
    /// Message-ID header, with its angle brackets.
    pub message_id: String,
    /// SHA-256 of the recipients, subject and text of the message as first composed.
    pub digest: String,
    /// Subject as sent.
    pub subject: String,
    /// Recipients.
    pub recipients: Vec<String>,
    /// When it was accepted (UTC, RFC 3339).
    pub sent_at: String,
    /// Run id of the reports it told.
    pub run_id: String,
    /// Transport, without secrets.
    pub transport: String,
}

/// Every message sent for one date, by message key (`finance`, `support`, `account:<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentState {
    /// Business date.
    pub business_date: String,
    /// Messages by key.
    pub messages: BTreeMap<String, SentRecord>,
}

/// The state file of a date.
pub fn path(state_dir: &Path, date: &str) -> PathBuf {
    state_dir.join(format!("date={date}.json"))
}

impl SentState {
    /// Reads the state of a date; none sent yet when the file does not exist.
    pub fn load(path: &Path, date: &str) -> Result<Self, NotifyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| NotifyError::State {
                path: path.to_path_buf(),
                problem: format!("{e} (fix or remove the file; removing it sends every message again)"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self { business_date: date.to_string(), messages: BTreeMap::new() })
            }
            Err(source) => Err(NotifyError::Io { path: path.to_path_buf(), source }),
        }
    }

    /// Writes the state atomically (a temporary file renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<(), NotifyError> {
        let io = |source| NotifyError::Io { path: path.to_path_buf(), source };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = serde_json::to_string_pretty(self).map_err(|e| io(e.into()))?;
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::fs::write(tmp.path(), text).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn state_round_trips_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "2026-11-02");
        let empty = SentState::load(&p, "2026-11-02").unwrap();
        assert!(empty.messages.is_empty());
        let mut s = empty.clone();
        s.messages.insert(
            "finance".into(),
            SentRecord {
                message_id: "<a@b>".into(),
                digest: "d".into(),
                subject: "s".into(),
                recipients: vec!["f@x".into()],
                sent_at: "t".into(),
                run_id: "r".into(),
                transport: "file:/o".into(),
            },
        );
        s.save(&p).unwrap();
        assert_eq!(SentState::load(&p, "2026-11-02").unwrap(), s);
        std::fs::write(&p, "{").unwrap();
        assert!(SentState::load(&p, "2026-11-02").unwrap_err().to_string().contains("remove the file"));
    }
}
