//! `credit-recon invoice` on the hand-made month of `tests/data/invoice-month/` (every statement
//! line occurs; see its README): statements against golden files, balances, the open findings
//! against the nightly runs of each date, the job file, exit codes, and a statement rendered in
//! headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::datatypes::DataType;

use crate::util::{self, golden, read_report, table, table_in_order};

const MONTH: &str = "2026-11";
const TZ: &str = "Europe/Berlin";

fn data() -> PathBuf {
    util::repo().join("tests/data/invoice-month")
}

/// The binary with no `CREDIT_RECON_*` setting inherited from the environment.
fn bin() -> Command {
    let mut cmd = util::bin();
    for var in ["CREDIT_RECON_DATA", "CREDIT_RECON_OUT", "CREDIT_RECON_RULES", "CREDIT_RECON_TZ"] {
        cmd.env_remove(var);
    }
    cmd.env("CREDIT_RECON_LOG", "warn");
    cmd
}

fn invoice(out: &Path, month: &str) -> Output {
    bin()
        .args(["invoice", "--data", data().to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--month", month, "--tz", TZ])
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

const INVOICE_COLUMNS: &[&str] = &[
    "month",
    "account_id",
    "account_name",
    "line_no",
    "line",
    "credits",
    "charged_credits",
    "expected_credits",
    "delta_credits",
    "projects",
    "entries",
    "events",
    "events_expected_unknown",
    "recorded_balance",
    "recorded_at_entry",
    "balance_difference",
    "balance_check",
];

/// The statement without what changes from run to run (the run id, version and time in its footer).
fn stable_html(html: &str) -> String {
    html.lines()
        .map(|l| if l.starts_with("<p class=\"run\">") { "<p class=\"run\">(run)</p>" } else { l })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_month_with_every_line_type_matches_golden_files() {
    let dir = util::tmp();
    let out = invoice(dir.path(), MONTH);
    // A balance disagrees and high-severity findings are open: cron is told to alert.
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let month = dir.path().join(format!("month={MONTH}"));

    let invoices = read_report(&month.join("invoices.parquet"));
    golden("invoice-2026-11.invoices.tsv", &table_in_order(&invoices, INVOICE_COLUMNS));
    // Every movement line has entries in some account (the fixture's purpose).
    let lines = invoices.column_text("line");
    let entries = invoices.column_text("entries");
    for line in [
        "purchase",
        "grant",
        "charge_import",
        "charge_rerun",
        "charge_smart_column",
        "charge_translation",
        "charge_uncategorized",
        "refund",
        "adjustment",
    ] {
        assert!(
            lines.iter().zip(&entries).any(|(l, n)| l == line && n != "0"),
            "no entry on the line {line} in the fixture"
        );
    }

    let findings = read_report(&month.join("open_findings.parquet"));
    golden(
        "invoice-2026-11.open_findings.tsv",
        &table(
            &findings,
            &[
                "account_id",
                "business_date",
                "finding_type",
                "severity",
                "event_id",
                "entry_id",
                "expected_credits",
                "charged_credits",
                "delta_credits",
            ],
        ),
    );
    let rejects = read_report(&month.join("rejects.parquet"));
    golden("invoice-2026-11.rejects.tsv", &table(&rejects, &["table", "file", "row", "record_id", "reason"]));

    for account in ["acc-a", "acc-b"] {
        let html = std::fs::read_to_string(month.join(format!("statements/{account}.html"))).unwrap();
        golden(&format!("invoice-2026-11.{account}.html"), &stable_html(&html));
    }
    let names: Vec<String> = std::fs::read_dir(month.join("statements"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        names,
        ["acc-a.html", "acc-b.html", "acc-c.html"],
        "one statement per account, quiet ones too"
    );
}

#[test]
fn balances_are_checked_and_a_disagreeing_ledger_is_flagged() {
    let dir = util::tmp();
    invoice(dir.path(), MONTH);
    let month = dir.path().join(format!("month={MONTH}"));
    let m = manifest(&month);
    assert_eq!(m["balance_disagreements"], serde_json::json!(["acc-b"]));
    let checks = m["balance_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    for c in checks {
        assert_eq!(c["reconciles"], true, "{c}");
    }
    let b = checks.iter().find(|c| c["account_id"] == "acc-b").unwrap();
    assert_eq!(b["ledger_balance_after"], "disagrees");
    assert_eq!(b["recorded_balance"], "40.0000");
    assert_eq!(b["balance_difference"], "10.0000");
    assert_eq!((b["opening"].as_str(), b["closing"].as_str()), (Some("40.0000"), Some("35.0000")));
    for c in m["conservation"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{c}");
    }
    assert_eq!(m["open_findings_by_severity"]["high"], 5);
    // The statement shows the disagreement; the agreeing ones do not.
    let b_html = std::fs::read_to_string(month.join("statements/acc-b.html")).unwrap();
    assert!(b_html.contains("role=\"alert\"") && b_html.contains("a difference of 10.0000"));
    let a_html = std::fs::read_to_string(month.join("statements/acc-a.html")).unwrap();
    assert!(!a_html.contains("role=\"alert\""));
    // The account name is data: escaped, never markup.
    assert!(a_html.contains("Alpha &amp; Omega &lt;Research&gt;"));
}

#[test]
fn reports_are_typed_stamped_and_listed_in_the_manifest() {
    let dir = util::tmp();
    invoice(dir.path(), MONTH);
    let month = dir.path().join(format!("month={MONTH}"));
    let m = manifest(&month);
    let run_id = m["run_id"].as_str().unwrap().to_string();
    let invoices = read_report(&month.join("invoices.parquet"));
    for c in ["credits", "charged_credits", "expected_credits", "delta_credits", "recorded_balance"] {
        let field = invoices.schema.field_with_name(c).unwrap();
        assert_eq!(field.data_type(), &DataType::Decimal128(18, 4), "invoices.{c}");
    }
    let projects = invoices.schema.field_with_name("projects").unwrap();
    assert!(
        matches!(projects.data_type(), DataType::List(f) | DataType::LargeList(f) if matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)),
        "projects is a list of strings: {:?}",
        projects.data_type()
    );
    for file in ["invoices.parquet", "open_findings.parquet", "rejects.parquet"] {
        let report = read_report(&month.join(file));
        assert_eq!(report.meta("credit_recon.run_id"), Some(run_id.as_str()), "{file}");
        assert_eq!(report.meta("credit_recon.month"), Some(MONTH), "{file}");
        assert_eq!(report.meta("credit_recon.rule_version"), Some("2026-11"), "{file}");
        assert_eq!(report.meta("credit_recon.time_zone"), Some(TZ), "{file}");
    }
    assert_eq!(m["month"], MONTH);
    assert_eq!(m["period_start"], "2026-10-31T23:00:00+00:00");
    assert_eq!(m["period_end"], "2026-11-30T23:00:00+00:00");
    let outputs = m["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 6, "three Parquet reports and three statements");
    for o in outputs {
        let bytes = std::fs::read(month.join(o["file"].as_str().unwrap())).unwrap();
        use sha2::Digest;
        assert_eq!(o["sha256"].as_str().unwrap(), hex::encode(sha2::Sha256::digest(&bytes)), "{o}");
    }
    assert!(m["inputs"].as_array().unwrap().len() >= 30);
}

#[test]
fn open_findings_are_the_nightly_findings_of_each_date_of_the_month() {
    let dir = util::tmp();
    invoice(dir.path(), MONTH);
    let columns =
        ["finding_id", "business_date", "finding_type", "account_id", "delta_credits", "explanation"];
    let open = read_report(&dir.path().join(format!("month={MONTH}/open_findings.parquet")));
    // The nightly job of each date, run in-process through the library (as the binary's `run` does).
    // Each night uses the state the night before left. Polars plans recurse deeply in a debug
    // build: run on a thread with the stack the binary's main thread has.
    let nightly_root = dir.path().join("nightly");
    let mut nightly = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let mut nightly = Vec::new();
            for day in 1..=30 {
                let date = chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
                let cfg = credit_recon::config::RunConfig::new(data(), nightly_root.clone(), date, TZ, None)
                    .unwrap();
                let outcome = credit_recon::pipeline::run(&cfg).unwrap();
                let findings = read_report(&outcome.report_dir.join("findings.parquet"));
                let t = table(&findings, &columns);
                nightly.extend(t.lines().skip(1).filter(|l| !l.is_empty()).map(str::to_string));
            }
            nightly
        })
        .unwrap()
        .join()
        .unwrap();
    nightly.sort();
    let expected = format!("{}\n{}\n", columns.join("\t"), nightly.join("\n"));
    assert_eq!(table(&open, &columns), expected);
}

#[test]
fn october_closes_where_november_opens_and_a_clean_month_exits_0() {
    let dir = util::tmp();
    let october = invoice(dir.path(), "2026-10");
    assert_eq!(october.status.code(), Some(0), "no finding and every balance agrees: {}", stderr(&october));
    invoice(dir.path(), MONTH);
    let balance = |month: &str, line: &str| -> Vec<(String, String)> {
        let r = read_report(&dir.path().join(format!("month={month}/invoices.parquet")));
        let (accounts, lines, credits) =
            (r.column_text("account_id"), r.column_text("line"), r.column_text("credits"));
        (0..r.rows())
            .filter(|&i| lines[i] == line)
            .map(|i| (accounts[i].clone(), credits[i].clone()))
            .collect()
    };
    let closing = balance("2026-10", "closing_balance");
    assert_eq!(closing, balance(MONTH, "opening_balance"));
    // The purchase posted at 23:30 UTC on 31 October is already November in Berlin.
    assert_eq!(closing[0], ("acc-a".to_string(), "90.0000".to_string()));
}

#[test]
fn the_job_file_supplies_the_paths_and_a_flag_wins_over_it() {
    let dir = util::tmp();
    let job = dir.path().join("monthly-invoice.toml");
    std::fs::write(
        &job,
        format!("data = {:?}\nout = \"statements\"\ntz = \"Europe/Berlin\"\n", data().to_str().unwrap()),
    )
    .unwrap();
    // The job file wins over the environment; `out` is relative to the job file's folder.
    let out = bin()
        .args(["invoice", "--job", job.to_str().unwrap(), "--month", MONTH])
        .env("CREDIT_RECON_TZ", "UTC")
        .env("CREDIT_RECON_OUT", dir.path().join("from-env"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let m = manifest(&dir.path().join(format!("statements/month={MONTH}")));
    assert_eq!(m["time_zone"], TZ);
    assert!(!dir.path().join("from-env").exists());

    let flagged = dir.path().join("flagged");
    let out = bin()
        .args(["invoice", "--job", job.to_str().unwrap(), "--month", MONTH, "--tz", "UTC"])
        .args(["--out", flagged.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    assert_eq!(manifest(&flagged.join(format!("month={MONTH}")))["time_zone"], "UTC");

    // Without a job file the environment supplies what the flags do not.
    let from_env = dir.path().join("from-env");
    let out = bin()
        .args(["invoice", "--month", MONTH])
        .env("CREDIT_RECON_DATA", data())
        .env("CREDIT_RECON_OUT", &from_env)
        .env("CREDIT_RECON_TZ", TZ)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(manifest(&from_env.join(format!("month={MONTH}")))["time_zone"], TZ);

    std::fs::write(&job, "data = \"x\"\nouts = \"y\"\n").unwrap();
    let typo = bin().args(["invoice", "--job", job.to_str().unwrap(), "--month", MONTH]).output().unwrap();
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("outs"), "{}", stderr(&typo));
}

#[test]
fn usage_errors_exit_with_code_2() {
    let dir = util::tmp();
    let bad_month = invoice(dir.path(), "2026-13");
    assert_eq!(bad_month.status.code(), Some(2));
    assert!(stderr(&bad_month).contains("2026-13"));
    let no_out =
        bin().args(["invoice", "--data", data().to_str().unwrap(), "--month", MONTH]).output().unwrap();
    assert_eq!(no_out.status.code(), Some(2));
    assert!(stderr(&no_out).contains("--out"), "{}", stderr(&no_out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn a_statement_renders_in_headless_chromium() {
    let found = Command::new("sh").args(["-c", "command -v chromium"]).output().unwrap();
    if !found.status.success() {
        eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
        return;
    }
    let dir = util::tmp();
    invoice(dir.path(), MONTH);
    let html = dir.path().join(format!("month={MONTH}/statements/acc-b.html"));
    let png = dir.path().join("acc-b.png");
    let pdf = dir.path().join("acc-b.pdf");
    let out = Command::new(util::repo().join("tests/render_statement.sh"))
        .args([html.to_str().unwrap(), png.to_str().unwrap(), pdf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "render: {}", stderr(&out));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), (1000, 1400));
    assert!(bytes.len() > 20_000, "the screenshot is not blank: {} bytes", bytes.len());
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "printed to PDF");
    let (width, height) = media_box(&pdf).expect("a page size in the PDF");
    assert!((width - 595.0).abs() < 1.5 && (height - 842.0).abs() < 1.5, "A4 pages: {width} x {height} pt");
}

/// Width and height in points of the first page of a PDF (its `/MediaBox [0 0 w h]`).
fn media_box(pdf: &[u8]) -> Option<(f64, f64)> {
    let key = b"/MediaBox [";
    let at = pdf.windows(key.len()).position(|w| w == key)? + key.len();
    let end = at + pdf[at..].iter().position(|&b| b == b']')?;
    let numbers: Vec<f64> =
        std::str::from_utf8(&pdf[at..end]).ok()?.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match numbers[..] {
        [x0, y0, x1, y1] => Some((x1 - x0, y1 - y0)),
        _ => None,
    }
}
