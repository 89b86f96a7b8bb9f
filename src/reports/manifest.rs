//! `manifest.json`: what a run read and wrote (with SHA-256 and row counts), its versions, its
//! figures and its conservation checks.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sources::InputFile;

/// SHA-256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 (hex) and size of a file, read in blocks.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// A report file of the run.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    /// File name within the date folder.
    pub file: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows it holds.
    pub rows: u64,
}

/// One conservation check: two counts that must agree.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// The count from the inputs.
    pub expected: u64,
    /// The count in the reports.
    pub actual: u64,
    /// Whether they agree.
    pub ok: bool,
}

impl Check {
    /// A check that `actual` equals `expected`.
    pub fn equal(name: &str, expected: u64, actual: u64) -> Self {
        Check { name: name.to_string(), expected, actual, ok: expected == actual }
    }
}

/// Versions of what priced the run.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    /// `credit-recon` version.
    pub tool: String,
    /// Rule version of the rules file.
    pub rules: String,
    /// Where the rules file came from.
    pub rules_file: String,
    /// SHA-256 of the rules file.
    pub rules_sha256: String,
}

impl Versions {
    /// This tool's version and the rules file's version, origin and SHA-256.
    pub fn new(rules: &crate::config::Rules, origin: &str, sha256: &str) -> Self {
        Versions {
            tool: env!("CARGO_PKG_VERSION").to_string(),
            rules: rules.version.clone(),
            rules_file: origin.to_string(),
            rules_sha256: sha256.to_string(),
        }
    }
}

/// The whole manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Id of this run.
    pub run_id: String,
    /// Business date reconciled.
    pub business_date: String,
    /// Business time zone.
    pub time_zone: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// When the reports were complete (UTC, RFC 3339).
    pub finished_at: String,
    /// Versions.
    pub versions: Versions,
    /// Data root read.
    pub data_root: String,
    /// Every input file.
    pub inputs: Vec<InputFile>,
    /// Every report file but this one.
    pub outputs: Vec<OutputFile>,
    /// Headline figures.
    pub counts: BTreeMap<String, u64>,
    /// Findings per type (every type, 0 included).
    pub findings_by_type: BTreeMap<String, u64>,
    /// Findings per severity.
    pub findings_by_severity: BTreeMap<String, u64>,
    /// Refund candidates per reason (every reason, 0 included).
    pub refund_candidates_by_reason: BTreeMap<String, u64>,
    /// Sum of the refund candidates, in credits.
    pub refund_credits_total: String,
    /// Conservation checks.
    pub conservation: Vec<Check>,
}
