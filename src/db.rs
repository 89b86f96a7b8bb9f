//! The PostgreSQL database that holds the credit ledger and `recon_findings`: where it is (shown
//! without its password in every log, error and report), how the job connects to it, and the SQL
//! of `sql/`, built into the binary.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, NoTls};
use tracing::debug;

use crate::error::{Error, Result};

/// `sql/schema.sql`: the ledger and `recon_findings` tables, idempotent.
pub const SCHEMA_SQL: &str = include_str!("../sql/schema.sql");
/// `sql/extract_entries.sql`: the ledger entries a business date needs.
pub const EXTRACT_ENTRIES_SQL: &str = include_str!("../sql/extract_entries.sql");
/// `sql/stage_entries.sql`: the staging table of `ledger load`.
pub const STAGE_ENTRIES_SQL: &str = include_str!("../sql/stage_entries.sql");
/// `sql/load_entries.sql`: the upsert of `ledger load`.
pub const LOAD_ENTRIES_SQL: &str = include_str!("../sql/load_entries.sql");
/// `sql/stage_findings.sql`: the staging table of `--write-findings`.
pub const STAGE_FINDINGS_SQL: &str = include_str!("../sql/stage_findings.sql");
/// `sql/upsert_findings.sql`: the upsert of `--write-findings`.
pub const UPSERT_FINDINGS_SQL: &str = include_str!("../sql/upsert_findings.sql");
/// `sql/delete_stale_findings.sql`: removes the findings a rerun no longer has.
pub const DELETE_STALE_FINDINGS_SQL: &str = include_str!("../sql/delete_stale_findings.sql");

/// The ledger table.
pub const LEDGER_TABLE: &str = "ledger_entries";
/// The findings table.
pub const FINDINGS_TABLE: &str = "recon_findings";

/// Environment variables the password is taken from, in this order, where the URL has none.
pub const PASSWORD_VARS: [&str; 2] = ["CREDIT_RECON_LEDGER_PASSWORD", "PGPASSWORD"];

/// How long connecting may take where the URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A PostgreSQL database, as given by a `postgres://` URL. Its `Display` and `Debug` never show
/// the password.
#[derive(Clone)]
pub struct Database {
    config: postgres::Config,
    shown: String,
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Database").field(&self.shown).finish()
    }
}

impl Database {
    /// Reads a `postgres://user@host:port/database` URL given by `flag`. A password in the URL is a
    /// usage error when the URL was typed on the command line (`on_command_line`): every user of
    /// the machine can read a command line. Where the URL has no password, it is taken from the
    /// first of [`PASSWORD_VARS`] that `env` knows.
    pub fn from_url(
        flag: &str,
        url: &str,
        on_command_line: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let bad = |problem: String| Error::Config { what: flag.to_string(), problem };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad(
                "expected a PostgreSQL URL such as postgres://user@host:5432/database".to_string()
            ));
        }
        // The parser's messages name the option, never the URL, so they cannot leak a password.
        let mut config =
            postgres::Config::from_str(url).map_err(|e| bad(format!("not a valid PostgreSQL URL: {e}")))?;
        if config.get_password().is_some() {
            if on_command_line {
                return Err(bad(format!(
                    "the URL carries a password, and a command line is visible to every user of this \
                     machine; leave the password out of the URL and set {} (or {}) instead",
                    PASSWORD_VARS[0], PASSWORD_VARS[1]
                )));
            }
        } else if let Some(password) = PASSWORD_VARS.iter().find_map(|v| env(v)) {
            config.password(password);
        }
        if config.get_dbname().is_none() {
            return Err(bad("the URL names no database (postgres://user@host:5432/database)".to_string()));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("credit-recon");
        }
        // NOTICEs ("relation already exists, skipping") are for a person at psql, not for the log.
        config.notice_callback(|notice| debug!(notice = notice.message(), "database notice"));
        let shown = shown(&config);
        Ok(Self { config, shown })
    }

    /// Connects, naming `doing` (what the connection is for) in the error.
    pub fn connect(&self, doing: &str) -> Result<Client> {
        self.config.connect(NoTls).map_err(|e| self.error(&format!("connecting for {doing}"), e))
    }

    /// A database error of this database while `doing` something: the server's answer, a lost
    /// connection, or a failure while streaming to or from it.
    pub fn error(&self, doing: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        let source = source.into();
        let cause = cause_chain(source.as_ref());
        Error::Database { database: self.shown.clone(), doing: doing.to_string(), cause, source }
    }

    /// The name of a table of this database as reports and the manifest show it:
    /// `postgres://user@host:port/database#schema.table`.
    pub fn table_name(&self, schema: &str, table: &str) -> String {
        format!("{}#{schema}.{table}", self.shown)
    }
}

/// The schema in which `table` resolves on the search path, or `None` where there is no such table.
pub fn table_schema(
    client: &mut impl postgres::GenericClient,
    table: &str,
) -> std::result::Result<Option<String>, postgres::Error> {
    let row = client.query_opt(
        "SELECT n.nspname::text FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid = to_regclass($1::text)",
        &[&table],
    )?;
    row.map(|r| r.try_get(0)).transpose()
}

/// An error and its causes as one line ("error communicating with the server: unexpected end of
/// file"), each cause once.
fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        next = cause.source();
    }
    line
}

/// The cause of an error about a table that is not on the search path.
pub fn missing_table(table: &str) -> String {
    format!(
        "no table {table} on the search path (create it with `credit-recon ledger load --create-schema` \
         or sql/schema.sql)"
    )
}

/// `postgres://user@host:port/database`, without password or options.
fn shown(config: &postgres::Config) -> String {
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            let port = ports.get(i).or_else(|| ports.first()).copied().unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    let hosts = if hosts.is_empty() { "localhost:5432".to_string() } else { hosts.join(",") };
    format!("postgres://{user}{hosts}/{}", config.get_dbname().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn shows_the_database_without_password_or_options() {
        let db = Database::from_url(
            "--ledger",
            "postgres://recon:s3cret@db.internal:6432/ledger?options=-c%20search_path%3Dx",
            false,
            no_env,
        )
        .unwrap();
        assert_eq!(db.to_string(), "postgres://recon@db.internal:6432/ledger");
        let debug = format!("{db:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert_eq!(db.table_name("public", "ledger_entries"), format!("{db}#public.ledger_entries"));
    }

    #[test]
    fn password_on_the_command_line_is_a_usage_error_that_does_not_repeat_it() {
        let err = Database::from_url("--ledger", "postgres://recon:s3cret@db:5432/ledger", true, no_env)
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config { .. }));
        assert!(text.contains("CREDIT_RECON_LEDGER_PASSWORD") && !text.contains("s3cret"), "{text}");
    }

    #[test]
    fn password_comes_from_the_environment() {
        let env = |v: &str| (v == "PGPASSWORD").then(|| "from-env".to_string());
        let db = Database::from_url("--ledger", "postgres://recon@db:5432/ledger", true, env).unwrap();
        assert_eq!(db.config.get_password(), Some(&b"from-env"[..]));
        assert!(!format!("{db} {db:?}").contains("from-env"));
        let both = |v: &str| Some(format!("value of {v}"));
        let db = Database::from_url("--ledger", "postgres://recon@db/ledger", true, both).unwrap();
        assert_eq!(db.config.get_password(), Some(&b"value of CREDIT_RECON_LEDGER_PASSWORD"[..]));
    }

    #[test]
    fn not_a_postgres_url_is_a_usage_error() {
        for url in ["/data/ledger", "host=db dbname=ledger", "mysql://db/ledger", "postgres://db:5432"] {
            let err = Database::from_url("--ledger", url, true, no_env).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{url}: {err}");
        }
    }
}
