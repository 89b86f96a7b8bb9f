//! The binary on `data-samples/`: exit code, every report read back with the `parquet` crate
//! (types, decimal scale, key-value metadata), and findings and refund candidates against golden files.

use std::path::Path;

use arrow::datatypes::DataType;

use crate::util::{self, golden, read_report, table};

const DATE: &str = "2026-11-02";

fn run_samples(out: &Path) -> std::process::Output {
    util::run(&[
        "run",
        "--data",
        util::samples().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--date",
        DATE,
    ])
}

#[test]
fn samples_findings_and_refunds_match_golden_files() {
    let dir = util::tmp();
    let out = run_samples(dir.path());
    // The samples hold high-severity findings on purpose: exit code 3.
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let day = dir.path().join(format!("date={DATE}"));
    let findings = read_report(&day.join("findings.parquet"));
    golden(
        "samples-2026-11-02.findings.tsv",
        &table(
            &findings,
            &[
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
    let refunds = read_report(&day.join("refund_candidates.parquet"));
    golden(
        "samples-2026-11-02.refund_candidates.tsv",
        &table(
            &refunds,
            &[
                "reason",
                "event_id",
                "entry_id",
                "refund_credits",
                "charged_credits",
                "already_refunded_credits",
            ],
        ),
    );
    let rejects = read_report(&day.join("rejects.parquet"));
    golden(
        "samples-2026-11-02.rejects.tsv",
        &table(&rejects, &["table", "file", "row", "record_id", "reason"]),
    );
}

#[test]
fn every_finding_type_and_refund_reason_occurs_in_the_samples() {
    let dir = util::tmp();
    run_samples(dir.path());
    let day = dir.path().join(format!("date={DATE}"));
    let types = read_report(&day.join("findings.parquet")).column_text("finding_type");
    for t in [
        "MISSING_CHARGE",
        "UNDERCHARGE",
        "OVERCHARGE",
        "UNEXPECTED_CHARGE",
        "ORPHAN_CHARGE",
        "DUPLICATE_CHARGE",
        "CATEGORY_MISMATCH",
        "UNCONFIRMED_CHARGE",
        "LATE_CHARGE",
        "BALANCE_BREAK",
        "USAGE_DETAIL_MISSING",
    ] {
        assert!(types.iter().any(|x| x == t), "no {t} in the samples' findings");
    }
    let reasons = read_report(&day.join("refund_candidates.parquet")).column_text("reason");
    for r in [
        "DUPLICATE_CHARGE",
        "ORPHAN_CHARGE",
        "UNEXPECTED_CHARGE",
        "UNCONFIRMED_CHARGE",
        "ACCIDENTAL_UPLOAD",
        "DUPLICATE_UPLOAD",
        "OVERCHARGE",
    ] {
        assert!(reasons.iter().any(|x| x == r), "no {r} in the samples' refund candidates");
    }
}

#[test]
fn reports_have_spec_types_decimal_scale_and_metadata() {
    let dir = util::tmp();
    run_samples(dir.path());
    let day = dir.path().join(format!("date={DATE}"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(day.join("manifest.json")).unwrap()).unwrap();
    let run_id = manifest["run_id"].as_str().unwrap().to_string();
    let money_columns: &[(&str, &[&str])] = &[
        (
            "expected_charges.parquet",
            &["quantity", "free_quantity", "billable_quantity", "unit_price", "expected_credits"],
        ),
        ("reconciliation.parquet", &["expected_credits", "charged_credits", "delta_credits"]),
        ("findings.parquet", &["expected_credits", "charged_credits", "delta_credits"]),
        ("refund_candidates.parquet", &["refund_credits"]),
        (
            "project_summary.parquet",
            &["expected_import", "charged_import", "expected_total", "charged_total"],
        ),
    ];
    for (file, columns) in money_columns {
        let report = read_report(&day.join(file));
        for c in *columns {
            let field = report.schema.field_with_name(c).unwrap_or_else(|_| panic!("{file} lacks {c}"));
            assert_eq!(field.data_type(), &DataType::Decimal128(18, 4), "{file}.{c}");
        }
        assert_eq!(report.meta("credit_recon.run_id"), Some(run_id.as_str()), "{file} run id");
        assert_eq!(report.meta("credit_recon.rule_version"), Some("2026-11"), "{file} rule version");
        assert_eq!(
            report.meta("credit_recon.tool_version"),
            Some(env!("CARGO_PKG_VERSION")),
            "{file} tool version"
        );
    }
    let expected = read_report(&day.join("expected_charges.parquet"));
    assert_eq!(expected.schema.field_with_name("business_date").unwrap().data_type(), &DataType::Date32);
    assert!(expected.column_text("rule_version").iter().all(|v| v == "2026-11"));
    assert!(expected.column_text("rule_id").iter().all(|v| !v.is_empty()));
    // Every output but the manifest is listed with its checksum, and every check passed.
    let outputs = manifest["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 6);
    for o in outputs {
        let path = day.join(o["file"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        let sha = sha2_hex(&bytes);
        assert_eq!(o["sha256"].as_str().unwrap(), sha, "{}", path.display());
    }
    for check in manifest["conservation"].as_array().unwrap() {
        assert_eq!(check["ok"], true, "{check}");
    }
    assert!(manifest["inputs"].as_array().unwrap().len() >= 9);
    assert_eq!(manifest["findings_by_type"]["ORPHAN_CHARGE"], 2);
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn rerun_replaces_reports_and_keeps_finding_ids() {
    let dir = util::tmp();
    run_samples(dir.path());
    let day = dir.path().join(format!("date={DATE}"));
    let first = read_report(&day.join("findings.parquet")).column_text("finding_id");
    let first_candidates = read_report(&day.join("refund_candidates.parquet")).column_text("candidate_id");
    let out = run_samples(dir.path());
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(read_report(&day.join("findings.parquet")).column_text("finding_id"), first);
    assert_eq!(
        read_report(&day.join("refund_candidates.parquet")).column_text("candidate_id"),
        first_candidates
    );
    // No staging or backup folder is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert!(names.contains(&format!("date={DATE}")), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with(".staging") || n.starts_with(".previous")), "{names:?}");
}

#[test]
fn failed_run_leaves_previous_reports_untouched() {
    let dir = util::tmp();
    let data = dir.path().join("data");
    util::copy_tree(&util::samples(), &data);
    let out_dir = dir.path().join("out");
    let ok = util::run(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--date",
        DATE,
    ]);
    assert_eq!(ok.status.code(), Some(3));
    let manifest = out_dir.join(format!("date={DATE}/manifest.json"));
    let before = std::fs::read(&manifest).unwrap();
    // Break the schema: the events file loses its event_type column.
    let events = data.join("usage/date=2026-11-02/events.csv");
    let text = std::fs::read_to_string(&events).unwrap().replacen("event_type", "kind", 1);
    std::fs::write(&events, text).unwrap();
    let failed = util::run(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--date",
        DATE,
    ]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("events.csv") && stderr.contains("event_type"), "{stderr}");
    assert_eq!(std::fs::read(&manifest).unwrap(), before, "previous reports must stay");
}

#[test]
fn usage_errors_exit_with_code_2() {
    let dir = util::tmp();
    let bad_tz = util::run(&[
        "run",
        "--data",
        util::samples().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--date",
        DATE,
        "--tz",
        "Mars/Olympus",
    ]);
    assert_eq!(bad_tz.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_tz.stderr).contains("Mars/Olympus"));
    let bad_date = util::run(&["run", "--data", "x", "--out", "y", "--date", "2026-13-40"]);
    assert_eq!(bad_date.status.code(), Some(2));
}
