//! Writes the reports of one business date (SPEC §5) into a temporary folder and moves it into
//! place, so that a date's reports are all the new ones or all the old ones, never a mix.

pub mod findings_db;
pub mod manifest;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
pub use manifest::{Check, Manifest, OutputFile};

/// File names of the reports.
pub mod file {
    #![allow(missing_docs, reason = "each name is the report of the same name in SPEC §5")]
    pub const EXPECTED_CHARGES: &str = "expected_charges.parquet";
    pub const RECONCILIATION: &str = "reconciliation.parquet";
    pub const FINDINGS: &str = "findings.parquet";
    pub const REFUND_CANDIDATES: &str = "refund_candidates.parquet";
    pub const PROJECT_SUMMARY: &str = "project_summary.parquet";
    pub const REJECTS: &str = "rejects.parquet";
    pub const MANIFEST: &str = "manifest.json";
}

/// The key-value metadata every report carries.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// Run id.
    pub run_id: String,
    /// Rule version.
    pub rule_version: String,
    /// Tool version.
    pub tool_version: String,
    /// Business date.
    pub business_date: String,
}

/// The folder of a date's reports under the report root.
pub fn date_dir(report_root: &Path, date: chrono::NaiveDate) -> PathBuf {
    report_root.join(format!("date={date}"))
}

/// The folder of a month's statements under the report root (`month` as `YYYY-MM`).
pub fn month_dir(report_root: &Path, month: &str) -> PathBuf {
    report_root.join(format!("month={month}"))
}

/// A folder being filled with one run's reports; [`Staging::commit`] moves it into place.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
    target: PathBuf,
    stamp: Stamp,
    extra_metadata: Vec<(String, String)>,
    outputs: Vec<OutputFile>,
}

impl Staging {
    /// Starts a staging folder beside `target` (same file system, so the final rename is atomic).
    pub fn new(target: PathBuf, stamp: Stamp) -> Result<Self> {
        let parent = target.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        recover_interrupted(&target)?;
        let prefix =
            format!(".staging-{}-", target.file_name().and_then(|n| n.to_str()).unwrap_or("reports"));
        remove_stale_staging(&parent, &prefix)?;
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(&parent)
            .map_err(|e| Error::io(&parent, e))?;
        Ok(Self { dir, target, stamp, extra_metadata: Vec::new(), outputs: Vec::new() })
    }

    /// Adds a key-value pair to the metadata of every Parquet file written after this call.
    pub fn add_metadata(&mut self, key: &str, value: &str) {
        self.extra_metadata.push((key.to_string(), value.to_string()));
    }

    /// Writes `df` as Parquet with the run's key-value metadata, after checking its schema.
    pub fn write_parquet(&mut self, name: &str, df: &mut DataFrame, expected: Option<&Schema>) -> Result<()> {
        let output = self.write_one(name, df, expected)?;
        self.outputs.push(output);
        Ok(())
    }

    /// Writes several reports as [`Staging::write_parquet`] does, side by side (each file's
    /// encoding, compression and SHA-256 is mostly one core's work); the manifest lists them in
    /// the order given. The first error in that order is returned.
    pub fn write_parquets(&mut self, reports: Vec<(&str, &mut DataFrame, Option<Schema>)>) -> Result<()> {
        let span = tracing::Span::current();
        let this = &*self;
        let written: Vec<Result<OutputFile>> = std::thread::scope(|s| {
            let handles: Vec<_> = reports
                .into_iter()
                .map(|(name, df, schema)| {
                    let span = &span;
                    s.spawn(move || span.in_scope(|| this.write_one(name, df, schema.as_ref())))
                })
                .collect();
            handles.into_iter().map(crate::par::joined).collect()
        });
        for output in written {
            self.outputs.push(output?);
        }
        Ok(())
    }

    fn write_one(&self, name: &str, df: &mut DataFrame, expected: Option<&Schema>) -> Result<OutputFile> {
        let path = self.dir.path().join(name);
        if let Some(schema) = expected {
            let found = df.schema();
            if found.as_ref() != schema {
                return Err(Error::Schema {
                    file: path,
                    column: "*".into(),
                    problem: format!("report schema {found:?} differs from the declared {schema:?}"),
                });
            }
        }
        let mut pairs = vec![
            ("credit_recon.run_id".to_string(), self.stamp.run_id.clone()),
            ("credit_recon.rule_version".to_string(), self.stamp.rule_version.clone()),
            ("credit_recon.tool_version".to_string(), self.stamp.tool_version.clone()),
            ("credit_recon.business_date".to_string(), self.stamp.business_date.clone()),
            ("credit_recon.report".to_string(), name.trim_end_matches(".parquet").to_string()),
        ];
        pairs.extend(self.extra_metadata.iter().cloned());
        let kv = KeyValueMetadata::from_static(pairs);
        let mut f = fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        ParquetWriter::new(&mut f)
            .with_compression(ParquetCompression::Zstd(None))
            .with_key_value_metadata(Some(kv))
            .finish(df)
            .map_err(|source| Error::Compute { stage: "write report", source })?;
        f.sync_all().map_err(|e| Error::io(&path, e))?;
        let (sha256, bytes) = manifest::sha256_file(&path)?;
        info!(file = name, rows = df.height(), bytes, "wrote report");
        let output = OutputFile { file: name.to_string(), sha256, bytes, rows: df.height() as u64 };
        // Fault injection for the tests of an interrupted run: die as a killed process would.
        if std::env::var("CREDIT_RECON_ABORT_AFTER").is_ok_and(|v| v == name) {
            std::process::abort();
        }
        Ok(output)
    }

    /// Writes a file that is not Parquet (a statement), `name` relative to the folder (it may name
    /// a sub-folder); `rows` is what the manifest lists as its row count.
    pub fn write_file(&mut self, name: &str, bytes: &[u8], rows: u64) -> Result<()> {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut f = fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&path, e))?;
        f.sync_all().map_err(|e| Error::io(&path, e))?;
        let (sha256, size) = manifest::sha256_file(&path)?;
        debug!(file = name, bytes = size, "wrote file");
        self.outputs.push(OutputFile { file: name.to_string(), sha256, bytes: size, rows });
        Ok(())
    }

    /// The report files written so far.
    pub fn outputs(&self) -> &[OutputFile] {
        &self.outputs
    }

    /// Writes the manifest and moves the folder into place, replacing the previous reports.
    pub fn commit<M: serde::Serialize>(self, manifest: &M) -> Result<PathBuf> {
        let path = self.dir.path().join(file::MANIFEST);
        let text = serde_json::to_string_pretty(manifest).map_err(|e| Error::io(&path, e.into()))?;
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        let staged = self.dir.keep();
        let old = backup_name(&self.target);
        if self.target.exists() {
            fs::rename(&self.target, &old).map_err(|e| Error::io(&self.target, e))?;
        }
        if let Err(e) = fs::rename(&staged, &self.target) {
            // Put the previous reports back before failing.
            if old.exists() {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(Error::io(&self.target, e));
        }
        if old.exists()
            && let Err(e) = fs::remove_dir_all(&old)
        {
            warn!(path = %old.display(), error = %e, "could not remove the previous reports");
        }
        Ok(self.target)
    }
}

/// Removes the staging folders an interrupted run left (the caller holds the job's lock, so no
/// other run is filling them).
pub fn remove_stale_staging(parent: &Path, prefix: &str) -> Result<()> {
    for entry in fs::read_dir(parent).map_err(|e| Error::io(parent, e))? {
        let path = entry.map_err(|e| Error::io(parent, e))?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)) {
            warn!(path = %path.display(), "removing the staging folder of an interrupted run");
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

fn backup_name(target: &Path) -> PathBuf {
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("reports");
    target.with_file_name(format!(".previous-{name}"))
}

/// A run killed between moving the previous reports aside and moving the new ones in leaves
/// `.previous-date=D` and no `date=D`: put the previous reports back.
fn recover_interrupted(target: &Path) -> Result<()> {
    let old = backup_name(target);
    if old.exists() {
        if target.exists() {
            fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        } else {
            warn!(path = %target.display(), "restoring the reports of an interrupted run");
            fs::rename(&old, target).map_err(|e| Error::io(&old, e))?;
        }
    }
    Ok(())
}
