//! `credit-recon bench-scan`: the benchmark's baseline, a bare Polars scan of a data root's input
//! files, every column of every file read once and nothing else. `bench/run.sh` compares the
//! nightly job's wall time with it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;

use crate::error::{Error, Result};

fn input_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        entries.push(e.map_err(|e| Error::io(dir, e))?.path());
    }
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // The generator's answers are no input of the job.
            if p.file_name().is_some_and(|n| n == "truth") {
                continue;
            }
            input_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "parquet" || e == "csv") {
            out.push(p);
        }
    }
    Ok(())
}

fn scan(path: &Path) -> PolarsResult<DataFrame> {
    let p = PlRefPath::new(path.to_string_lossy().as_ref());
    if path.extension().is_some_and(|e| e == "csv") {
        LazyCsvReader::new(p).with_has_header(true).with_infer_schema_length(Some(0)).finish()?.collect()
    } else {
        LazyFrame::scan_parquet(p, ScanArgsParquet::default())?.collect()
    }
}

/// What a scan read.
#[derive(Debug, Clone, Copy)]
pub struct ScanOutcome {
    /// Files read.
    pub files: usize,
    /// Rows read.
    pub rows: usize,
    /// Values read (rows x columns).
    pub values: usize,
    /// Seconds taken.
    pub seconds: f64,
}

/// Reads every Parquet and CSV file under `root` (but `truth/`) whole, one file after the other.
pub fn scan_all(root: &Path) -> Result<ScanOutcome> {
    let mut files = Vec::new();
    input_files(root, &mut files)?;
    let clock = Instant::now();
    let (mut rows, mut values) = (0usize, 0usize);
    for f in &files {
        let df = scan(f).map_err(|source| Error::Read { file: f.clone(), source })?;
        rows += df.height();
        values += df.height() * df.width();
    }
    Ok(ScanOutcome { files: files.len(), rows, values, seconds: clock.elapsed().as_secs_f64() })
}
