//! What was mailed for a date, so that a rerun does not mail the same results twice:
//! `<out>/.mail-sent/date=D.jsonl`, a journal with one line per message sent (its key, Message-ID
//! and a digest of what it said); the last line of a key is what counts. It lives outside the
//! date's report folder, which a rerun replaces as a whole. A line is appended as soon as its
//! message is accepted, so a failure later in the night never sends that message again, and
//! recording costs the same for the 2000th message as for the first.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, Write as _};
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

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    /// Business date.
    business_date: String,
    /// Message key (`finance`, `support`, `account:<id>`).
    key: String,
    #[serde(flatten)]
    record: SentRecord,
}

/// The whole-file record of earlier versions (`date=D.json`), still read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Earlier {
    #[allow(dead_code, reason = "part of the format")]
    business_date: String,
    messages: BTreeMap<String, SentRecord>,
}

/// Every message sent for one date, by message key (`finance`, `support`, `account:<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentState {
    /// Business date.
    pub business_date: String,
    /// Messages by key: the last one sent.
    pub messages: BTreeMap<String, SentRecord>,
}

/// The journal of a date.
pub fn path(state_dir: &Path, date: &str) -> PathBuf {
    state_dir.join(format!("date={date}.jsonl"))
}

impl SentState {
    /// Reads the journal of a date; none sent yet when the file does not exist. A last line cut
    /// short (the process died while writing it) is not counted: its message may go out again.
    pub fn load(path: &Path, date: &str) -> Result<Self, NotifyError> {
        let mut state = Self { business_date: date.to_string(), messages: BTreeMap::new() };
        // What an earlier version recorded in `date=D.json`, under the journal's lines.
        let before = path.with_extension("json");
        match std::fs::read_to_string(&before) {
            Ok(text) => {
                let old: Earlier = serde_json::from_str(&text).map_err(|e| NotifyError::State {
                    path: before.clone(),
                    problem: format!("{e} (fix or remove the file; removing it may send its messages again)"),
                })?;
                state.messages = old.messages;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(NotifyError::Io { path: before, source }),
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(state),
            Err(source) => return Err(NotifyError::Io { path: path.to_path_buf(), source }),
        };
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        for (i, raw) in lines.iter().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(raw) {
                Ok(line) => {
                    state.messages.insert(line.key, line.record);
                }
                Err(e) if i + 1 == lines.len() && !complete => {
                    tracing::warn!(
                        path = %path.display(),
                        line = i + 1,
                        error = %e,
                        "the journal's last line was cut short; its message counts as not sent"
                    );
                }
                Err(e) => {
                    return Err(NotifyError::State {
                        path: path.to_path_buf(),
                        problem: format!(
                            "line {}: {e} (fix or remove the line; removing the file sends every message again)",
                            i + 1
                        ),
                    });
                }
            }
        }
        Ok(state)
    }

    /// Records a message as sent: one line appended to the journal.
    pub fn record(&mut self, path: &Path, key: &str, record: SentRecord) -> Result<(), NotifyError> {
        let io = |source| NotifyError::Io { path: path.to_path_buf(), source };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let line = Line { business_date: self.business_date.clone(), key: key.to_string(), record };
        let mut text = serde_json::to_string(&line).map_err(|e| io(e.into()))?;
        text.push('\n');
        let mut file =
            std::fs::OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io)?;
        // A last line cut short by an earlier crash (its message counts as not sent) is dropped
        // first, so that the journal holds whole lines only. (A write appends wherever the read
        // left the position.)
        let len = file.metadata().map_err(io)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(std::io::SeekFrom::Start(len - 1)).map_err(io)?;
            file.read_exact(&mut last).map_err(io)?;
            if last[0] != b'\n' {
                let bytes = std::fs::read(path).map_err(io)?;
                let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                file.set_len(keep as u64).map_err(io)?;
            }
        }
        // One write of a whole line: in the kernel's hands when it returns, like the message file
        // or the server's answer before it.
        file.write_all(text.as_bytes()).map_err(io)?;
        self.messages.insert(line.key, line.record);
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
        let record = |id: &str| SentRecord {
            message_id: id.into(),
            digest: "d".into(),
            subject: "s".into(),
            recipients: vec!["f@x".into()],
            sent_at: "t".into(),
            run_id: "r".into(),
            transport: "file:/o".into(),
        };
        s.record(&p, "finance", record("<a@b>")).unwrap();
        s.record(&p, "support", record("<c@d>")).unwrap();
        s.record(&p, "finance", record("<e@f>")).unwrap();
        let back = SentState::load(&p, "2026-11-02").unwrap();
        assert_eq!(back, s);
        assert_eq!(back.messages["finance"].message_id, "<e@f>", "the last line of a key counts");
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 3, "a journal: one line each");

        // A last line cut short is not counted, and the next record replaces it.
        let whole = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{whole}{{\"business_date\":\"2026-11-02\",\"key\":\"acc")).unwrap();
        let mut cut = SentState::load(&p, "2026-11-02").unwrap();
        assert_eq!(cut, s);
        cut.record(&p, "account:acc-1", record("<g@h>")).unwrap();
        assert_eq!(SentState::load(&p, "2026-11-02").unwrap().messages.len(), 3);
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 4, "the cut line is gone");

        // The whole-file record of an earlier version is read under the journal.
        let dir2 = tempfile::tempdir().unwrap();
        let p2 = path(dir2.path(), "2026-11-02");
        std::fs::write(
            p2.with_extension("json"),
            serde_json::json!({"business_date": "2026-11-02", "messages": {"support": record("<old@x>")}})
                .to_string(),
        )
        .unwrap();
        let mut upgraded = SentState::load(&p2, "2026-11-02").unwrap();
        assert_eq!(upgraded.messages["support"].message_id, "<old@x>");
        upgraded.record(&p2, "support", record("<new@x>")).unwrap();
        assert_eq!(SentState::load(&p2, "2026-11-02").unwrap().messages["support"].message_id, "<new@x>");

        // Any other line that does not read is an error naming the line.
        std::fs::write(&p, format!("{{\n{whole}")).unwrap();
        let err = SentState::load(&p, "2026-11-02").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("remove the line"), "{err}");
    }
}
