//! The errors a run can end with, each naming the file, column, row or date it concerns.

use std::path::{Path, PathBuf};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rules file, job file or flag is wrong: nothing was read yet.
    #[error("configuration error in {what}: {problem}")]
    Config {
        /// The file or flag.
        what: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An input table has no file at all.
    #[error("missing input: no file for table {table} under {root}")]
    MissingInput {
        /// Table name.
        table: String,
        /// Where it was looked for.
        root: PathBuf,
    },
    /// An input file lacks a column, or carries it with a type that cannot be read as the SPEC's.
    #[error("schema mismatch in {file}: column {column}: {problem}")]
    Schema {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// Expected versus found.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Polars failed while reading a file.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: polars::error::PolarsError,
    },
    /// Polars failed in a stage of the pipeline.
    #[error("{stage} failed: {source}")]
    Compute {
        /// The stage.
        stage: &'static str,
        /// The cause.
        source: polars::error::PolarsError,
    },
    /// The PostgreSQL database failed (connect, query, lost connection): the run stops before it
    /// writes a report.
    #[error("database error on {database} while {doing}: {cause}")]
    Database {
        /// The database, without its password.
        database: String,
        /// What was being done.
        doing: String,
        /// The cause and its own causes, as one line.
        cause: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A conservation check of the run failed: the reports would lose or invent rows.
    #[error("conservation check failed for {date}: {check}")]
    Conservation {
        /// Business date.
        date: chrono::NaiveDate,
        /// The check and its figures.
        check: String,
    },
    /// The reports were written and stay in place, but their mail was not delivered.
    #[error("reports of {date} written to {report_dir}, but the mail was not delivered: {source}")]
    Notify {
        /// Business date.
        date: chrono::NaiveDate,
        /// Where the reports are.
        report_dir: PathBuf,
        /// What failed.
        source: crate::notify::NotifyError,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }
}

/// Attaches the stage name to a Polars error.
pub trait StageExt<T> {
    /// Maps a Polars error to [`Error::Compute`] of `stage`.
    fn stage(self, stage: &'static str) -> Result<T>;
}

impl<T> StageExt<T> for polars::error::PolarsResult<T> {
    fn stage(self, stage: &'static str) -> Result<T> {
        self.map_err(|source| Error::Compute { stage, source })
    }
}
