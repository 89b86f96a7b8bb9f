//! The ledger in PostgreSQL (issue 4), against the real server of `DATABASE_URL` (skipped without
//! it): `ledger load`, the same reports from the database as from the files, `--write-findings`
//! reruns, and a connection lost in the middle of a run. Each test works in a fresh schema of its
//! own (`recon_test_<unique>`, the binary reaches it through the URL's search path), dropped at the end.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, Report, read_report};

const DATE: &str = "2026-11-02";

/// The reports that must be the same whether the ledger comes from files or from the database.
const SAME_REPORTS: &[&str] = &[
    "expected_charges.parquet",
    "reconciliation.parquet",
    "findings.parquet",
    "refund_candidates.parquet",
    "project_summary.parquet",
];

/// A schema of its own in the `DATABASE_URL` database, dropped when the test ends (even by a panic).
struct TestDb {
    client: postgres::Client,
    schema: String,
    host: String,
    port: u16,
    user: String,
    dbname: String,
    password: Option<String>,
}

impl TestDb {
    /// `None` (and a line saying the test is skipped) where `DATABASE_URL` is not set.
    fn new(test: &str) -> Option<TestDb> {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            eprintln!(
                "{test}: skipped, DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            return None;
        };
        let config = postgres::Config::from_str(&url).expect("DATABASE_URL is a PostgreSQL URL");
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_string(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("postgres").to_string();
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        let password = config.get_password().map(|p| String::from_utf8_lossy(p).to_string());
        let mut client = config.connect(postgres::NoTls).expect("connect to DATABASE_URL");
        let schema = format!("recon_test_{}", unique());
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        Some(TestDb { client, schema, host, port, user, dbname, password })
    }

    /// The URL the binary gets, through `port` (the server's, or a proxy's): no password (that goes
    /// in the environment, never on a command line), the test's schema as the search path.
    fn url_via(&self, port: u16) -> String {
        format!(
            "postgres://{}@{}:{port}/{}?options=-c%20search_path%3D{}",
            self.user, self.host, self.dbname, self.schema
        )
    }

    fn url(&self) -> String {
        self.url_via(self.port)
    }

    /// The binary, with the password (if `DATABASE_URL` has one) in the environment.
    fn bin(&self) -> Command {
        let mut cmd = util::bin();
        cmd.env("CREDIT_RECON_LOG", "warn");
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        cmd
    }

    fn load(&self) -> Output {
        let data = util::samples();
        let out = run(self.bin().args([
            "ledger",
            "load",
            "--data",
            data.to_str().unwrap(),
            "--ledger",
            &self.url(),
            "--create-schema",
        ]));
        assert_eq!(out.status.code(), Some(0), "ledger load: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn run_date(&self, out: &Path, ledger: Option<&str>, extra: &[&str]) -> Output {
        let mut cmd = self.bin();
        let data = util::samples();
        cmd.args(["run", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--date", DATE]);
        if let Some(url) = ledger {
            cmd.args(["--ledger", url]);
        }
        run(cmd.args(extra))
    }

    fn count(&mut self, table: &str) -> i64 {
        self.client.query_one(&format!("SELECT count(*) FROM {}.{table}", self.schema), &[]).unwrap().get(0)
    }

    /// Every row of `recon_findings`, every column, as JSON text, in `finding_id` order.
    fn findings_rows(&mut self) -> Vec<String> {
        self.client
            .query(
                &format!(
                    "SELECT row_to_json(f)::text FROM {}.recon_findings f ORDER BY finding_id",
                    self.schema
                ),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = self.client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}

/// A name no other test (of this run or another) has.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!(
        "{:x}_{:x}_{}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `cmd` to the end, killing it after two minutes: a hung run fails the test, not CI.
fn run(cmd: &mut Command) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("binary runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("credit-recon did not finish within 2 minutes");
        }
        thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every value of a column as text, row by row ("" for null), as [`Report::column_text`] gives
/// it; a timestamp with a time zone (which the test build of `arrow` cannot format) as its UTC
/// wall time with a `Z`.
fn values(report: &Report, name: &str) -> Vec<String> {
    use arrow::datatypes::DataType;
    let field = report.schema.field_with_name(name).unwrap();
    let DataType::Timestamp(unit, Some(_)) = field.data_type() else { return report.column_text(name) };
    let mut out = Vec::new();
    for b in &report.batches {
        let array = b.column(b.schema().index_of(name).unwrap());
        let naive = arrow::compute::cast(array, &DataType::Timestamp(*unit, None)).unwrap();
        let fmt = arrow::util::display::ArrayFormatter::try_new(naive.as_ref(), &Default::default()).unwrap();
        for i in 0..naive.len() {
            out.push(if naive.is_null(i) { String::new() } else { format!("{}Z", fmt.value(i)) });
        }
    }
    out
}

/// Rows of `columns` as tab-separated lines, sorted.
fn lines(report: &Report, columns: &[&str]) -> Vec<String> {
    let cols: Vec<Vec<String>> = columns.iter().map(|c| report.column_text(c)).collect();
    let mut out: Vec<String> = (0..report.rows())
        .map(|i| cols.iter().map(|c| c[i].as_str()).collect::<Vec<_>>().join("\t"))
        .collect();
    out.sort();
    out
}

#[test]
fn ledger_load_stores_what_the_database_can_hold_and_is_idempotent() {
    let Some(mut db) = TestDb::new("ledger_load") else { return };
    let first = db.load();
    // data-samples/ledger has 30 rows; le-208's amount "1O0.0000" cannot be stored in a numeric
    // column: it is reported, not loaded. le-221 (a charge with a positive amount) is stored: the
    // job rejects it when it reads the ledger, as it does from the file.
    let log = stderr(&first);
    assert!(log.contains("le-208") && log.contains("1O0.0000"), "{log}");
    assert_eq!(db.count("ledger_entries"), 29);
    let le_221: String = db
        .client
        .query_one(
            &format!("SELECT amount::text FROM {}.ledger_entries WHERE entry_id = 'le-221'", db.schema),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(le_221, "1.0000");

    // A second load changes nothing; a row changed in the database is put back as the files have it.
    db.client
        .batch_execute(&format!(
            "UPDATE {}.ledger_entries SET amount = -99 WHERE entry_id = 'le-201'",
            db.schema
        ))
        .unwrap();
    let before = db.count("ledger_entries");
    db.load();
    assert_eq!(db.count("ledger_entries"), before);
    let le_201: String = db
        .client
        .query_one(
            &format!(
                "SELECT amount::text || ' ' || to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
                 FROM {}.ledger_entries WHERE entry_id = 'le-201'",
                db.schema
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(le_201, "-10.0000 2026-11-02 08:02:00");
}

#[test]
fn reports_from_the_database_equal_reports_from_the_files() {
    let Some(db) = TestDb::new("same_reports") else { return };
    db.load();
    let dir = util::tmp();
    let (files_out, db_out) = (dir.path().join("files"), dir.path().join("db"));
    let from_files = db.run_date(&files_out, None, &[]);
    let from_db = db.run_date(&db_out, Some(&db.url()), &[]);
    assert_eq!(from_files.status.code(), Some(3), "{}", stderr(&from_files));
    assert_eq!(from_db.status.code(), Some(3), "{}", stderr(&from_db));
    let (files_day, db_day) = (files_out.join(format!("date={DATE}")), db_out.join(format!("date={DATE}")));

    for name in SAME_REPORTS {
        let (a, b) = (read_report(&files_day.join(name)), read_report(&db_day.join(name)));
        // The schemas' metadata differ by the run id only; the columns must not differ at all.
        assert_eq!(a.schema.fields(), b.schema.fields(), "{name}: columns differ");
        assert!(a.rows() > 0, "{name} is empty: the comparison would prove nothing");
        for field in a.schema.fields() {
            assert_eq!(
                values(&a, field.name()),
                values(&b, field.name()),
                "{name}.{}: files and database differ",
                field.name()
            );
        }
    }

    // Rejects differ only by the ledger rows that `ledger load` could not store (le-208, its
    // amount unparsable); `file` and `row` name the database stream instead of the CSV file.
    let columns = ["table", "record_id", "reason"];
    let files_rejects = lines(&read_report(&files_day.join("rejects.parquet")), &columns);
    let db_rejects = lines(&read_report(&db_day.join("rejects.parquet")), &columns);
    let not_stored: Vec<String> = files_rejects.iter().filter(|l| !db_rejects.contains(l)).cloned().collect();
    assert_eq!(not_stored.len(), 1, "{not_stored:?}");
    assert!(not_stored[0].starts_with("entries\tle-208\tamount: cannot read"), "{not_stored:?}");
    assert!(db_rejects.iter().all(|l| files_rejects.contains(l)), "{db_rejects:?}");
    let db_files = read_report(&db_day.join("rejects.parquet")).column_text("file");
    let stream = format!("{}#{}.ledger_entries", db.url().split('?').next().unwrap(), db.schema);
    assert!(db_files.contains(&stream), "{db_files:?}");

    // The manifest lists the stream as an input, with its SHA-256 and row count.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(db_day.join("manifest.json")).unwrap()).unwrap();
    let inputs = manifest["inputs"].as_array().unwrap();
    let ledger: Vec<&serde_json::Value> = inputs.iter().filter(|i| i["table"] == "entries").collect();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0]["path"], stream.as_str());
    assert_eq!(ledger[0]["sha256"].as_str().unwrap().len(), 64);
    // Entries posted since the bound (2026-10-31T00:00Z: the date less the 24 h refund window less a day).
    assert_eq!(ledger[0]["rows"], 29);
    for check in manifest["conservation"].as_array().unwrap() {
        assert_eq!(check["ok"], true, "{check}");
    }
}

#[test]
fn the_database_bound_keeps_every_entry_the_date_needs() {
    let Some(db) = TestDb::new("bound") else { return };
    // The samples plus ledger entries of later days. For 2026-11-10 the bound is 2026-11-08T00:00Z
    // (the date less the 24 h refund window less a day), so the database sends:
    // - le-1001 and le-1003, posted on the date;
    // - le-222 (2026-11-02), acc-3's last entry before the bound that the job accepts: le-1001's
    //   balance_after must follow from it (38 + 10 = 48, not 50: a BALANCE_BREAK). le-1000, posted
    //   later but a charge with a positive amount, is what the job rejects, so it is not "the
    //   entry just before" in the files either;
    // - le-1004 (2026-11-06), acc-1's last entry before the bound (its balance is null: no check);
    // - le-1002, a refund of le-1003 posted before the bound (and before the charge): the orphan
    //   charge's refund candidate is 5 less the 1 already refunded.
    let dir = util::tmp();
    let data = dir.path().join("data");
    util::copy_tree(&util::samples(), &data);
    let header =
        "entry_id,posted_at,account_id,project_id,entry_type,category,amount,reference_id,balance_after\n";
    for (day, rows) in [
        (
            "2026-11-05",
            "le-1002,2026-11-05T00:00:00Z,acc-1,prj-1,refund,import,1.0000,le-1003,\n\
             le-1004,2026-11-06T00:00:00Z,acc-1,,purchase,,10.0000,,\n",
        ),
        ("2026-11-07", "le-1000,2026-11-07T12:00:00Z,acc-3,prj-5,charge,rerun,2.0000,ev-241,99.0000\n"),
        (
            "2026-11-10",
            "le-1001,2026-11-10T09:00:00Z,acc-3,,grant,,10.0000,,50.0000\n\
             le-1003,2026-11-10T10:00:00Z,acc-1,prj-1,charge,import,-5.0000,,\n",
        ),
    ] {
        let folder = data.join(format!("ledger/date={day}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("entries.csv"), format!("{header}{rows}")).unwrap();
    }
    let load = run(db.bin().args(["ledger", "load", "--data", data.to_str().unwrap()]).args([
        "--ledger",
        &db.url(),
        "--create-schema",
    ]));
    assert_eq!(load.status.code(), Some(0), "{}", stderr(&load));

    let date = "2026-11-10";
    let run_on = |out: &Path, ledger: Option<&str>| {
        let mut cmd = db.bin();
        cmd.args(["run", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--date", date]);
        if let Some(url) = ledger {
            cmd.args(["--ledger", url]);
        }
        let out = run(&mut cmd);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    };
    let (files_out, db_out) = (dir.path().join("files"), dir.path().join("db"));
    run_on(&files_out, None);
    run_on(&db_out, Some(&db.url()));
    let (files_day, db_day) = (files_out.join(format!("date={date}")), db_out.join(format!("date={date}")));
    for name in SAME_REPORTS {
        let (a, b) = (read_report(&files_day.join(name)), read_report(&db_day.join(name)));
        assert_eq!(a.schema.fields(), b.schema.fields(), "{name}: columns differ");
        for field in a.schema.fields() {
            assert_eq!(values(&a, field.name()), values(&b, field.name()), "{name}.{}", field.name());
        }
    }
    let findings =
        lines(&read_report(&db_day.join("findings.parquet")), &["finding_type", "entry_id", "delta_credits"]);
    assert_eq!(findings, ["BALANCE_BREAK\tle-1001\t2.0000", "ORPHAN_CHARGE\tle-1003\t5.0000"]);
    let candidates = lines(
        &read_report(&db_day.join("refund_candidates.parquet")),
        &["reason", "entry_id", "refund_credits", "already_refunded_credits"],
    );
    assert_eq!(candidates, ["ORPHAN_CHARGE\tle-1003\t4.0000\t1.0000"]);
    // Five entries, not the whole ledger: le-1001, le-1003, le-222, le-1004 and le-1002.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(db_day.join("manifest.json")).unwrap()).unwrap();
    let ledger = manifest["inputs"].as_array().unwrap().iter().find(|i| i["table"] == "entries").unwrap();
    assert_eq!(ledger["rows"], 5, "{ledger}");
}

#[test]
fn write_findings_rerun_leaves_recon_findings_unchanged_and_replaces_the_date() {
    let Some(mut db) = TestDb::new("write_findings") else { return };
    db.load();
    let dir = util::tmp();
    let url = db.url();
    let first = db.run_date(dir.path(), Some(&url), &["--write-findings"]);
    assert_eq!(first.status.code(), Some(3), "{}", stderr(&first));
    let rows = db.findings_rows();
    assert_eq!(rows.len(), 14);
    let mut ids =
        read_report(&dir.path().join(format!("date={DATE}/findings.parquet"))).column_text("finding_id");
    ids.sort();
    let stored: Vec<String> = db
        .client
        .query(&format!("SELECT finding_id FROM {}.recon_findings ORDER BY finding_id", db.schema), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, ids);

    // The same run again: not a row changes, not even run_id or updated_at.
    let second = db.run_date(dir.path(), Some(&url), &["--write-findings"]);
    assert_eq!(second.status.code(), Some(3), "{}", stderr(&second));
    assert_eq!(db.findings_rows(), rows);

    // A finding of the date that a rerun no longer finds goes; another date's stays.
    db.client
        .batch_execute(&format!(
            "INSERT INTO {s}.recon_findings (finding_id, business_date, finding_type, severity, explanation, run_id, rule_version)
             VALUES ('stale', DATE '{DATE}', 'LATE_CHARGE', 'low', 'fixed since', 'old-run', '2026-11'),
                    ('other-date', DATE '2026-11-01', 'LATE_CHARGE', 'low', 'another date', 'old-run', '2026-11')",
            s = db.schema
        ))
        .unwrap();
    let third = db.run_date(dir.path(), Some(&url), &["--write-findings"]);
    assert_eq!(third.status.code(), Some(3), "{}", stderr(&third));
    let after = db.findings_rows();
    assert_eq!(after.len(), rows.len() + 1);
    assert!(after.iter().any(|r| r.contains("\"other-date\"")));
    assert!(!after.iter().any(|r| r.contains("\"stale\"")));
}

/// A TCP proxy on 127.0.0.1 to the database that, once the client has sent a message containing
/// `marker`, forwards `then_bytes` more bytes of the server's answer and closes both sides.
struct CuttingProxy {
    port: u16,
    cut: Arc<AtomicBool>,
}

fn cutting_proxy(upstream: (String, u16), marker: &'static [u8], then_bytes: usize) -> CuttingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let cut_flag = cut.clone();
    // Bounded: a few connections, two minutes at most.
    thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut accepted = 0;
        while Instant::now() < deadline && accepted < 4 {
            match listener.accept() {
                Ok((client, _)) => {
                    accepted += 1;
                    client.set_nonblocking(false).unwrap();
                    let server = TcpStream::connect((upstream.0.as_str(), upstream.1)).unwrap();
                    pipe(client, server, marker, then_bytes, cut_flag.clone());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(10))
                }
                Err(_) => break,
            }
        }
    });
    CuttingProxy { port, cut }
}

fn pipe(
    client: TcpStream,
    server: TcpStream,
    marker: &'static [u8],
    then_bytes: usize,
    cut: Arc<AtomicBool>,
) {
    let armed = Arc::new(AtomicBool::new(false));
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let armed_up = armed.clone();
    thread::spawn(move || {
        let (mut buf, mut seen) = (vec![0u8; 8192], Vec::new());
        while let Ok(n) = c_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(marker.len()).any(|w| w == marker) {
                armed_up.store(true, Ordering::SeqCst);
            }
            if s_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_out.shutdown(Shutdown::Write);
    });
    let (mut s_in, mut c_out) = (server, client);
    thread::spawn(move || {
        let (mut buf, mut budget) = (vec![0u8; 8192], then_bytes);
        while let Ok(n) = s_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            // Read once per chunk: the other direction may arm the cut at any moment, and a chunk
            // sent whole before that must not count against the budget.
            let counted = armed.load(Ordering::SeqCst);
            let send = if counted { n.min(budget) } else { n };
            if c_out.write_all(&buf[..send]).is_err() {
                break;
            }
            if counted {
                budget -= send;
                if budget == 0 {
                    cut.store(true, Ordering::SeqCst);
                    let _ = c_out.shutdown(Shutdown::Both);
                    let _ = s_in.shutdown(Shutdown::Both);
                    break;
                }
            }
        }
    });
}

#[test]
fn a_connection_lost_mid_run_fails_the_run_and_writes_no_report() {
    let Some(db) = TestDb::new("lost_connection") else { return };
    db.load();
    // Cut in the middle of the COPY stream (after its first 600 bytes; the samples' extraction is
    // about 2,600), and right after the startup exchange, when the first query about the ledger
    // goes out.
    for (marker, then_bytes, doing) in [
        (&b"TO STDOUT"[..], 600, "extracting the ledger entries"),
        (&b"to_regclass"[..], 0, "looking up the ledger table"),
    ] {
        let proxy = cutting_proxy((db.host.clone(), db.port), marker, then_bytes);
        let dir = util::tmp();
        let out = db.run_date(dir.path(), Some(&db.url_via(proxy.port)), &[]);
        let log = stderr(&out);
        assert!(proxy.cut.load(Ordering::SeqCst), "the proxy never cut: {log}");
        assert_eq!(out.status.code(), Some(1), "{log}");
        let named =
            format!("database error on postgres://{}@{}:{}/{}", db.user, db.host, proxy.port, db.dbname);
        assert!(log.contains(&named) && log.contains(doing), "{log}");
        assert!(!dir.path().join(format!("date={DATE}")).exists(), "a report folder was written");
    }
}

#[test]
fn a_lost_connection_leaves_the_previous_reports_untouched() {
    let Some(db) = TestDb::new("lost_connection_rerun") else { return };
    db.load();
    let dir = util::tmp();
    let ok = db.run_date(dir.path(), Some(&db.url()), &[]);
    assert_eq!(ok.status.code(), Some(3), "{}", stderr(&ok));
    let manifest = dir.path().join(format!("date={DATE}/manifest.json"));
    let before = std::fs::read(&manifest).unwrap();
    let proxy = cutting_proxy((db.host.clone(), db.port), b"TO STDOUT", 600);
    let failed = db.run_date(dir.path(), Some(&db.url_via(proxy.port)), &[]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(std::fs::read(&manifest).unwrap(), before, "previous reports must stay");
}

#[test]
fn passwords_never_reach_the_command_line_a_log_or_a_report() {
    let Some(db) = TestDb::new("passwords") else { return };
    db.load();
    let dir = util::tmp();
    // On the command line: refused (exit 2), and not repeated.
    let with_password =
        db.url().replacen(&format!("{}@", db.user), &format!("{}:cmdline-s3cret@", db.user), 1);
    let refused = db.run_date(dir.path(), Some(&with_password), &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let log = stderr(&refused);
    assert!(log.contains("CREDIT_RECON_LEDGER_PASSWORD") && !log.contains("cmdline-s3cret"), "{log}");
    assert!(!dir.path().join(format!("date={DATE}")).exists());

    // From the environment: used (the server of this machine trusts local connections and never
    // asks for it), and found in no log line and no report.
    let out = run(db
        .bin()
        .env("CREDIT_RECON_LOG", "debug")
        .env("CREDIT_RECON_LEDGER_PASSWORD", "env-s3cret")
        .args(["run", "--data", util::samples().to_str().unwrap(), "--out", dir.path().to_str().unwrap()])
        .args(["--date", DATE, "--ledger", &db.url(), "--write-findings"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stderr(&out).contains("env-s3cret"));
    for entry in std::fs::read_dir(dir.path().join(format!("date={DATE}"))).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"env-s3cret"));
    }
}

#[test]
fn a_database_without_the_ledger_table_fails_the_run_with_a_clear_error() {
    let Some(db) = TestDb::new("missing_table") else { return };
    let dir = util::tmp();
    let out = db.run_date(dir.path(), Some(&db.url()), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(log.contains("no table ledger_entries") && log.contains("--create-schema"), "{log}");
    assert!(!dir.path().join(format!("date={DATE}")).exists());
}

#[test]
fn write_findings_needs_a_database_ledger() {
    let dir = util::tmp();
    let out = util::run(&[
        "run",
        "--data",
        util::samples().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--date",
        DATE,
        "--write-findings",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--ledger"));
}
