//! Running it every night: backfills, lookback, the incremental state, the lock, interrupted runs.

use std::path::Path;

use crate::util::{self, read_report};

const REPORTS: &[&str] = &[
    "expected_charges.parquet",
    "reconciliation.parquet",
    "findings.parquet",
    "refund_candidates.parquet",
    "project_summary.parquet",
    "rejects.parquet",
];

/// A report's columns as text, by name.
type Columns = Vec<(String, Vec<String>)>;

/// Every column of every report of `date` as text, for comparing two runs (run ids aside).
fn contents(out: &Path, date: &str) -> Vec<(String, Columns)> {
    REPORTS
        .iter()
        .map(|file| {
            let r = read_report(&out.join(format!("date={date}")).join(file));
            let cols =
                r.schema.fields().iter().map(|f| (f.name().clone(), r.column_text(f.name()))).collect();
            (file.to_string(), cols)
        })
        .collect()
}

fn run(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    util::run(&args)
}

#[test]
fn a_backfill_equals_the_same_days_run_one_by_one() {
    let dir = util::tmp();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let data = util::samples();
    let out = run(&data, &a, &["--from", "2026-11-01", "--to", "2026-11-04"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    for date in ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"] {
        run(&data, &b, &["--date", date]);
    }
    for date in ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"] {
        assert_eq!(contents(&a, date), contents(&b, date), "{date}");
    }
}

#[test]
fn state_based_and_from_history_runs_give_identical_reports() {
    let dir = util::tmp();
    let (with_state, from_history) = (dir.path().join("state"), dir.path().join("history"));
    let data = util::samples();
    run(&data, &with_state, &["--date", "2026-11-01"]);
    run(&data, &with_state, &["--date", "2026-11-02"]);
    run(&data, &from_history, &["--date", "2026-11-02", "--rebuild-state"]);
    assert_eq!(contents(&with_state, "2026-11-02"), contents(&from_history, "2026-11-02"));
    // The state-based run read only the date's usage partition; the other read all history.
    let usage_files = |out: &Path| -> Vec<String> {
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("date=2026-11-02/manifest.json")).unwrap(),
        )
        .unwrap();
        m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .filter(|p| p.starts_with("usage/"))
            .collect()
    };
    assert!(
        usage_files(&with_state).iter().all(|p| p.contains("date=2026-11-02")),
        "{:?}",
        usage_files(&with_state)
    );
    assert!(usage_files(&from_history).iter().any(|p| p.contains("date=2026-11-01")));
    // And both left the same state for the next night.
    for f in ["uploads.parquet", "projects.parquet", "accounts.parquet"] {
        let s = read_report(&with_state.join("_state/date=2026-11-02").join(f));
        let h = read_report(&from_history.join("_state/date=2026-11-02").join(f));
        for field in s.schema.fields() {
            assert_eq!(s.column_text(field.name()), h.column_text(field.name()), "{f}.{}", field.name());
        }
    }
}

#[test]
fn a_late_charge_stops_being_missing_once_the_lookback_sees_it() {
    let dir = util::tmp();
    let data = dir.path().join("data");
    util::copy_tree(&util::samples(), &data);
    let late = data.join("ledger/date=2026-11-04");
    let held = dir.path().join("held");
    std::fs::rename(&late, &held).unwrap();
    let out = dir.path().join("out");
    run(&data, &out, &["--date", "2026-11-02"]);
    let findings = |out: &Path| {
        let r = read_report(&out.join("date=2026-11-02/findings.parquet"));
        let (t, e) = (r.column_text("finding_type"), r.column_text("event_id"));
        t.into_iter().zip(e).filter(|(_, e)| e == "ev-225").map(|(t, _)| t).collect::<Vec<_>>()
    };
    assert_eq!(findings(&out), vec!["MISSING_CHARGE"]);
    // The charge arrives two days late; the night of 11-04 re-reconciles 11-01..11-03.
    std::fs::rename(&held, &late).unwrap();
    let night = run(&data, &out, &["--date", "2026-11-04", "--lookback", "3"]);
    assert!(night.status.success() || night.status.code() == Some(3));
    assert_eq!(findings(&out), vec!["LATE_CHARGE"]);
}

#[test]
fn an_interrupted_run_leaves_reports_and_state_intact_and_the_next_run_succeeds() {
    let dir = util::tmp();
    let data = util::samples();
    let out = dir.path().join("out");
    run(&data, &out, &["--date", "2026-11-01"]);
    run(&data, &out, &["--date", "2026-11-02"]);
    let before = contents(&out, "2026-11-02");
    let state_before = std::fs::read(out.join("_state/date=2026-11-02/meta.json")).unwrap();
    let killed = util::bin()
        .args([
            "run",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--date",
            "2026-11-02",
        ])
        .env("CREDIT_RECON_ABORT_AFTER", "findings.parquet")
        .env("CREDIT_RECON_LOG", "warn")
        .output()
        .unwrap();
    assert!(!killed.status.success() && killed.status.code().is_none(), "the run must have died: {killed:?}");
    assert_eq!(contents(&out, "2026-11-02"), before);
    assert_eq!(std::fs::read(out.join("_state/date=2026-11-02/meta.json")).unwrap(), state_before);
    let again = run(&data, &out, &["--date", "2026-11-02"]);
    assert_eq!(again.status.code(), Some(3), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(contents(&out, "2026-11-02"), before);
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .filter(|n: &String| n.starts_with(".staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn two_runs_of_the_same_job_never_overlap() {
    let dir = util::tmp();
    let out = dir.path().join("out");
    let held = credit_recon::nightly::Lock::acquire(&out).unwrap();
    let second = run(&util::samples(), &out, &["--date", "2026-11-02"]);
    assert_eq!(second.status.code(), Some(5), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(!out.join("date=2026-11-02").exists());
    drop(held);
    // A lock file left by a dead process is no obstacle: the OS released its lock.
    let third = run(&util::samples(), &out, &["--date", "2026-11-02"]);
    assert_eq!(third.status.code(), Some(3));
}

#[test]
fn the_job_file_runs_yesterday_style_dates_with_its_lookback() {
    let dir = util::tmp();
    let job = dir.path().join("nightly.toml");
    let data = util::samples();
    std::fs::write(
        &job,
        format!(
            "data_root = {:?}\nreport_root = \"reports\"\ntime_zone = \"UTC\"\nlookback_days = 2\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = util::run(&["run", "--job", job.to_str().unwrap(), "--date", "2026-11-02"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    for d in ["2026-10-31", "2026-11-01", "2026-11-02"] {
        assert!(dir.path().join(format!("reports/date={d}/manifest.json")).exists(), "{d}");
    }
    let bad = util::run(&["run", "--job", job.to_str().unwrap(), "--date", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn json_logs_are_one_object_per_line_with_the_stage_figures() {
    let dir = util::tmp();
    let out = util::bin()
        .args(["--log-format", "json", "run", "--data", util::samples().to_str().unwrap()])
        .args(["--out", dir.path().to_str().unwrap(), "--date", "2026-11-02", "--no-mail"])
        .env("CREDIT_RECON_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let read = lines
        .iter()
        .find(|l| l["fields"]["message"] == "read table" && l["fields"]["table"] == "events")
        .unwrap();
    assert_eq!(read["fields"]["rejects"], 1);
    let done = lines.iter().find(|l| l["fields"]["message"] == "run finished").unwrap();
    assert_eq!(done["fields"]["findings"], 14);
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "wrote report" && l["fields"]["file"] == "findings.parquet")
    );
}
