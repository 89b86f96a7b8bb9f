//! Shared helpers: a temp dir per test, the built binary, reading reports back with the Apache
//! `arrow`/`parquet` crates (an implementation independent of Polars, as auditors' tools are).

#![allow(dead_code, reason = "each test module uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `data-samples/`.
pub fn samples() -> PathBuf {
    repo().join("data-samples")
}

/// The `credit-recon` binary built for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_credit-recon"))
}

/// Runs the binary with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).env("CREDIT_RECON_LOG", "warn").output().expect("binary runs")
}

/// A scratch folder removed at the end of the test.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A Parquet report read with the `parquet` crate: its batches and key-value metadata.
pub struct Report {
    pub batches: Vec<RecordBatch>,
    pub schema: arrow::datatypes::SchemaRef,
    pub metadata: Vec<(String, String)>,
}

pub fn read_report(path: &Path) -> Report {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet reader");
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().map(|k| (k.key.clone(), k.value.clone().unwrap_or_default())).collect())
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let batches = builder.build().expect("reader").collect::<Result<Vec<_>, _>>().expect("batches");
    Report { batches, schema, metadata }
}

impl Report {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a column formatted as text ("" for null), row by row.
    pub fn column_text(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for b in &self.batches {
            let idx = b.schema().index_of(name).unwrap_or_else(|_| panic!("column {name}"));
            let array = b.column(idx);
            let fmt = arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
                .expect("formatter");
            for i in 0..array.len() {
                out.push(if array.is_null(i) { String::new() } else { fmt.value(i).to_string() });
            }
        }
        out
    }
}

/// Rows of chosen columns as tab-separated lines, sorted, for a golden comparison.
pub fn table(report: &Report, columns: &[&str]) -> String {
    let mut lines = rows(report, columns);
    lines.sort();
    format!("{}\n{}\n", columns.join("\t"), lines.join("\n"))
}

/// Rows of chosen columns as tab-separated lines in the file's order (where the order is part of
/// what is checked).
pub fn table_in_order(report: &Report, columns: &[&str]) -> String {
    format!("{}\n{}\n", columns.join("\t"), rows(report, columns).join("\n"))
}

fn rows(report: &Report, columns: &[&str]) -> Vec<String> {
    let cols: Vec<Vec<String>> = columns.iter().map(|c| report.column_text(c)).collect();
    (0..report.rows()).map(|i| cols.iter().map(|c| c[i].as_str()).collect::<Vec<_>>().join("\t")).collect()
}

/// Compares `actual` with `tests/data/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
pub fn golden(name: &str, actual: &str) {
    let path = repo().join("tests/data/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "{} differs (rerun with UPDATE_GOLDEN=1 after checking the change)", name);
}
