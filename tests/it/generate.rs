//! `credit-recon generate` against the job: on a few small generated days, the job's findings and
//! refund candidates must equal the generator's truth exactly (no miss, no false alarm), every
//! finding type and refund reason must occur, and the same seed must give the same bytes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::util::{self, read_report};

const DATES: [&str; 3] = ["2026-11-01", "2026-11-02", "2026-11-03"];

fn generate(out: &Path) {
    let o = util::run(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--days",
        "3",
        "--seed",
        "20261101",
        "--accounts",
        "6",
        "--projects",
        "15",
        "--events",
        "200",
        "--uploads",
        "30",
        "--rows",
        "20",
        "--fault-rate",
        "0.1",
    ]);
    assert_eq!(o.status.code(), Some(0), "generate failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// The rows of a truth CSV (ids hold no comma), without the header.
fn truth_rows(path: &Path) -> BTreeSet<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect()
}

/// The chosen columns of one report of every date, as rows.
fn report_rows(reports: &Path, file: &str, columns: &[&str]) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for d in DATES {
        let r = read_report(&reports.join(format!("date={d}")).join(file));
        let cols: Vec<Vec<String>> = columns.iter().map(|c| r.column_text(c)).collect();
        for i in 0..r.rows() {
            assert!(out.insert(cols.iter().map(|c| c[i].clone()).collect()), "{file}: a row twice");
        }
    }
    out
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

#[test]
fn the_job_finds_exactly_the_injected_findings_and_refund_candidates() {
    let dir = util::tmp();
    let data = dir.path().join("data");
    generate(&data);
    let reports = dir.path().join("reports");
    for d in DATES {
        let o = util::run(&[
            "run",
            "--data",
            data.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--date",
            d,
        ]);
        // The faults include high-severity findings: exit code 3.
        assert_eq!(o.status.code(), Some(3), "run {d}: {}", String::from_utf8_lossy(&o.stderr));
    }

    let truth = truth_rows(&data.join("truth/findings.csv"));
    let found =
        report_rows(&reports, "findings.parquet", &["business_date", "finding_type", "event_id", "entry_id"]);
    let missed: Vec<_> = truth.difference(&found).collect();
    let invented: Vec<_> = found.difference(&truth).collect();
    assert!(
        missed.is_empty() && invented.is_empty(),
        "findings: missed {missed:?}, false alarms {invented:?}"
    );

    let truth_refunds = truth_rows(&data.join("truth/refund_candidates.csv"));
    let found_refunds = report_rows(
        &reports,
        "refund_candidates.parquet",
        &["business_date", "reason", "event_id", "entry_id", "refund_credits"],
    );
    let missed: Vec<_> = truth_refunds.difference(&found_refunds).collect();
    let invented: Vec<_> = found_refunds.difference(&truth_refunds).collect();
    assert!(
        missed.is_empty() && invented.is_empty(),
        "refund candidates: missed {missed:?}, false alarms {invented:?}"
    );

    // Every finding type and refund reason of SPEC §4 is exercised.
    let types: BTreeSet<&str> = truth.iter().map(|r| r[1].as_str()).collect();
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
        assert!(types.contains(t), "no {t} in the truth");
    }
    let reasons: BTreeSet<&str> = truth_refunds.iter().map(|r| r[1].as_str()).collect();
    for r in [
        "DUPLICATE_CHARGE",
        "ORPHAN_CHARGE",
        "UNEXPECTED_CHARGE",
        "UNCONFIRMED_CHARGE",
        "ACCIDENTAL_UPLOAD",
        "DUPLICATE_UPLOAD",
        "OVERCHARGE",
    ] {
        assert!(reasons.contains(r), "no {r} refund candidate in the truth");
    }
    // The cross-date case of SPEC §4: an accidental upload whose charge was already an overcharge
    // candidate on its own date, so both candidates add up to no more than the charge.
    let mut by_entry = std::collections::BTreeMap::<&str, Vec<&str>>::new();
    for r in &truth_refunds {
        by_entry.entry(r[3].as_str()).or_default().push(r[1].as_str());
    }
    assert!(
        by_entry.values().any(|v| v.contains(&"ACCIDENTAL_UPLOAD") && v.contains(&"OVERCHARGE")),
        "no accidental upload reduced by an earlier overcharge candidate"
    );
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let dir = util::tmp();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    generate(&a);
    generate(&b);
    let (fa, fb) = (files(&a), files(&b));
    let rel = |root: &Path, fs: &[PathBuf]| -> Vec<PathBuf> {
        fs.iter().map(|f| f.strip_prefix(root).unwrap().to_path_buf()).collect()
    };
    assert_eq!(rel(&a, &fa), rel(&b, &fb));
    assert!(fa.iter().any(|f| f.ends_with("cells.parquet")));
    for (x, y) in fa.iter().zip(&fb) {
        assert!(std::fs::read(x).unwrap() == std::fs::read(y).unwrap(), "{} differs", x.display());
    }
}
