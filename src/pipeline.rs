//! One night's work for one business date, stage by stage: read the inputs, price every event,
//! reconcile with the ledger, write the reports. Reading this file top to bottom tells what a run does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use polars::prelude::*;

use crate::expr::{date_lit, instant_lit};
use tracing::{info, info_span};

use crate::config::RunConfig;
use crate::error::{Error, Result, StageExt};
use crate::reconcile::findings::finding;
use crate::reconcile::refunds::reason;
use crate::reconcile::{self, ReconcileInput, Reconciled};
use crate::reports::{self, Check, Manifest, Stamp, file};
use crate::rules;
use crate::schema::{self, col};
use crate::sources::{self, LedgerSource, Window, start_of_day};
use crate::state;

/// What a finished run tells its caller.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Where the reports are.
    pub report_dir: PathBuf,
    /// The manifest written.
    pub manifest: Manifest,
    /// Findings of high severity.
    pub high_findings: u64,
    /// The accounts (`account_id`, `name`, `support_email`), for the mail.
    pub accounts: DataFrame,
}

/// Reconciles one business date and writes its reports.
pub fn run(cfg: &RunConfig) -> Result<RunOutcome> {
    let started = Utc::now();
    let clock = Instant::now();
    let run_id = format!("{}-{}", started.format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    let date = cfg.date;
    let day_end = start_of_day(date + chrono::Days::new(1), cfg.tz);
    info!(%date, tz = %cfg.tz, run_id, rules = cfg.rules.version, "run started");

    let day_start = start_of_day(date, cfg.tz);

    // 0. State: the previous night's, if it is there and still matches the inputs.
    let previous = match &cfg.state_root {
        Some(root) if !cfg.rebuild_state => {
            state::load(root, &state_meta(cfg, date - chrono::Days::new(1))?)?
        }
        _ => None,
    };

    // 1. Sources: with the state, the date's partitions (and the ledger of the refund window);
    //    without it, every partition that can hold history up to the end of the date. The ledger
    //    from its files or its database (bounded: see sql/README.md).
    let ledger_since = day_start
        - chrono::Duration::hours(cfg.rules.reconciliation.refund_window_hours)
        - chrono::Duration::days(1);
    let window = match previous {
        Some(_) => Window {
            usage_from: Some(day_start.date_naive()),
            usage_until: day_end.date_naive(),
            ledger_from: Some(
                (day_start - chrono::Duration::hours(cfg.rules.reconciliation.refund_window_hours + 24))
                    .date_naive(),
            ),
            ledger_since,
        },
        None => {
            Window { usage_from: None, usage_until: day_end.date_naive(), ledger_from: None, ledger_since }
        }
    };
    let inputs = info_span!("sources").in_scope(|| sources::load(&cfg.data_root, &cfg.ledger, window))?;

    // 2. Rules: price the history (quotas and rerun basis need it), then keep the date.
    let (priced, history, cell_rejects) = info_span!("rules").in_scope(|| -> Result<_> {
        let mut in_run = col(col::OCCURRED_AT).lt(instant_lit(day_end));
        if previous.is_some() {
            in_run = in_run.and(col(col::OCCURRED_AT).gt_eq(instant_lit(day_start)));
        }
        // The run's events: R1 needs their uploads, the history all of them.
        let run_events = inputs.events.rows.clone().lazy().filter(in_run);
        let mut events = state::mark_real(run_events.clone());
        if let Some(prev) = &previous {
            events = concat([events, state::carried_events(prev, date, day_start)?], UnionArgs::default())
                .stage("state")?;
        }
        // R1 reads the cells log (the night's longest part) while the history is prepared beside
        // it: it needs only the uploads of the run.
        let span = tracing::Span::current();
        let (history, counts) = std::thread::scope(|s| {
            let r1 = s.spawn(|| {
                span.in_scope(|| {
                    let step = Instant::now();
                    let counts =
                        rules::upload::count_cells(inputs.cells.rows.clone(), run_events.clone(), &cfg.rules);
                    if let Ok(c) = &counts {
                        info!(
                            uploads = c.per_upload.height(),
                            seconds = step.elapsed().as_secs_f64(),
                            "counted the billable cells (R1)"
                        );
                    }
                    counts
                })
            });
            let history = rules::prepare_events(
                events,
                inputs.projects.rows.clone().lazy(),
                inputs.accounts.rows.clone().lazy(),
                inputs.plans.rows.clone().lazy(),
                cfg.tz,
            )
            .collect()
            .stage("prepare events");
            (history, crate::par::joined(r1))
        });
        let (history, counts) = (history?, counts?);
        let priced = rules::price(history.clone().lazy(), counts.per_upload.lazy(), &cfg.rules)?;
        info!(events = history.height(), "priced the history");
        Ok((priced, history, counts.duplicate_rejects))
    })?;

    // 3. Reconcile the date with the ledger.
    // Rejects of the partitions that hold the date (the UTC days it overlaps) and of the references.
    let first_partition = day_start.date_naive();
    let last_partition = (day_end - chrono::Duration::microseconds(1)).date_naive();
    let on_date = |d: chrono::NaiveDate| d >= first_partition && d <= last_partition;
    let cell_rejects = cell_rejects
        .lazy()
        .filter(col(col::FILE).is_in(crate::expr::implode_lit(inputs.files_in(&on_date)), false));
    let rejects = concat([inputs.rejects(&on_date)?.lazy(), cell_rejects], UnionArgs::default())
        .and_then(|lf| lf.collect())
        .stage("rejects")?;
    let rejected_events =
        inputs.events.rejects.column(col::RECORD_ID).stage("rejects")?.as_materialized_series().clone();
    let mut known_events =
        inputs.events.rows.column(col::EVENT_ID).stage("rejects")?.as_materialized_series().clone();
    let mut entries = inputs.entries.rows.clone();
    if let Some(prev) = &previous {
        // The ledger was read from the refund window on: the state brings each account's last
        // entry before it (for BALANCE_BREAK), and older events are looked up by id.
        entries = concat([prev.ledger_tail.clone().lazy(), entries.lazy()], UnionArgs::default())
            .and_then(|lf| lf.unique_stable(Some(cols([col::ENTRY_ID])), UniqueKeepStrategy::Last).collect())
            .stage("state")?;
        known_events = sources::resolve_older_events(&cfg.data_root, &entries, &known_events, window)?;
    }
    let input = ReconcileInput {
        date,
        tz: cfg.tz,
        history,
        expected: priced.expected,
        timeline: priced.timeline,
        entries,
        known_event_ids: known_events,
        rejected_event_ids: rejected_events,
    };
    // 3 and 4 run beside the next night's state, which reads the input, not the reports.
    let span = tracing::Span::current();
    let (staged, next_state) = std::thread::scope(|s| {
        let next = s.spawn(|| span.in_scope(|| next_state(cfg, date, day_end, &input)));
        (reconcile_and_stage(cfg, &input, rejects, &run_id), crate::par::joined(next))
    });
    let Staged { out, rejects, staging, events_in_scope } = staged?;
    let next_state = next_state?;
    let reports_span = info_span!("reports").entered();

    let conservation = conservation_checks(&out, events_in_scope, &inputs)?;
    if let Some(bad) = conservation.iter().find(|c| !c.ok) {
        return Err(Error::Conservation {
            date,
            check: format!("{}: {} in the inputs, {} in the reports", bad.name, bad.expected, bad.actual),
        });
    }
    let manifest = build_manifest(
        cfg,
        &run_id,
        started,
        &inputs,
        staging.outputs().to_vec(),
        &out,
        &rejects,
        conservation,
    )?;
    let high_findings = manifest.findings_by_severity.get("high").copied().unwrap_or(0);
    let report_dir = staging.commit(&manifest)?;
    drop(reports_span);
    if let (Some(root), Some(mut next)) = (&cfg.state_root, next_state) {
        let path = state::save(root, &mut next)?;
        info!(path = %path.display(), uploads = next.uploads.height(), "saved state");
    }

    // 5. With --write-findings, the findings go to the ledger database too, once the reports are in place.
    if let (true, LedgerSource::Postgres(db)) = (cfg.write_findings, &cfg.ledger) {
        info_span!("findings")
            .in_scope(|| {
                reports::findings_db::write_findings(db, &out.findings, date, &run_id, &cfg.rules.version)
            })
            .map_err(|e| match e {
                Error::Database { database, doing, cause, source } => Error::Database {
                    database,
                    doing: format!(
                        "{doing} (the reports of {date} are written; rerun to write the findings)"
                    ),
                    cause,
                    source,
                },
                other => other,
            })?;
    }
    info!(
        report_dir = %report_dir.display(),
        findings = out.findings.height(),
        high_findings,
        refund_candidates = out.refund_candidates.height(),
        rejects = rejects.height(),
        seconds = clock.elapsed().as_secs_f64(),
        "run finished"
    );
    let accounts =
        inputs.accounts.rows.select([col::ACCOUNT_ID, col::NAME, col::SUPPORT_EMAIL]).stage("accounts")?;
    Ok(RunOutcome { report_dir, manifest, high_findings, accounts })
}

/// What [`reconcile_and_stage`] leaves for the manifest and the commit.
struct Staged {
    out: Reconciled,
    rejects: DataFrame,
    staging: reports::Staging,
    events_in_scope: u64,
}

/// 3. Reconciles the date with the ledger; 4. writes the reports into a staging folder, side by side.
fn reconcile_and_stage(
    cfg: &RunConfig,
    input: &ReconcileInput,
    mut rejects: DataFrame,
    run_id: &str,
) -> Result<Staged> {
    let date = input.date;
    let mut out = info_span!("reconcile").in_scope(|| reconcile::reconcile(input, &cfg.rules))?;
    info!(
        events = out.expected.height(),
        rows = out.reconciliation.height(),
        findings = out.findings.height(),
        refund_candidates = out.refund_candidates.height(),
        "reconciled"
    );

    // 4. Reports, written aside and moved into place together.
    let events_in_scope = input
        .history
        .clone()
        .lazy()
        .filter(col(col::BUSINESS_DATE).eq(date_lit(date)))
        .collect()
        .stage("scope")?
        .height() as u64;
    let stamp = Stamp {
        run_id: run_id.to_string(),
        rule_version: cfg.rules.version.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        business_date: date.to_string(),
    };
    let mut staging = reports::Staging::new(reports::date_dir(&cfg.report_root, date), stamp)?;
    let _reports = info_span!("reports").entered();
    staging.write_parquets(vec![
        (file::EXPECTED_CHARGES, &mut out.expected, Some(rules::expected_schema())),
        (file::RECONCILIATION, &mut out.reconciliation, Some(reconcile::matching::reconciliation_schema())),
        (file::FINDINGS, &mut out.findings, Some(reconcile::findings::findings_schema())),
        (file::REFUND_CANDIDATES, &mut out.refund_candidates, Some(reconcile::refunds::candidates_schema())),
        (file::PROJECT_SUMMARY, &mut out.project_summary, None),
        (file::REJECTS, &mut rejects, Some(schema::rejects_schema())),
    ])?;
    Ok(Staged { out, rejects, staging, events_in_scope })
}

/// The state closing `date`, for the next night (when the run keeps one).
fn next_state(
    cfg: &RunConfig,
    date: chrono::NaiveDate,
    day_end: chrono::DateTime<Utc>,
    input: &ReconcileInput,
) -> Result<Option<state::State>> {
    let clock = Instant::now();
    let next = match &cfg.state_root {
        Some(_) => {
            let dups = reconcile::refunds::duplicate_uploads(
                input.timeline.clone().lazy(),
                cfg.rules.reconciliation.refund_window_hours,
            )
            .select([col(col::EVENT_ID), col("_first_event")])
            .collect()
            .stage("state")?;
            Some(state::snapshot(
                state_meta(cfg, date)?,
                day_end,
                &input.history,
                &input.timeline,
                &dups,
                &input.entries,
            )?)
        }
        None => None,
    };
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "computed the next state");
    Ok(next)
}

/// What the state closing `date` must have been computed from to be used.
fn state_meta(cfg: &RunConfig, date: chrono::NaiveDate) -> Result<state::Meta> {
    // The usage partitions whose UTC day is over when the business date ends.
    let last_complete = start_of_day(date + chrono::Days::new(1), cfg.tz).date_naive() - chrono::Days::new(1);
    Ok(state::Meta {
        date,
        time_zone: cfg.tz.to_string(),
        rules_sha256: cfg.rules_sha256.clone(),
        usage_fingerprint: state::usage_fingerprint(&cfg.data_root, last_complete)?,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// The distinct non-null values of a column, by a (parallel) grouping: a million ids in one hash
/// set on one core took ~0.7 s.
fn count_distinct(df: &DataFrame, column: &str) -> Result<u64> {
    let distinct = df
        .select([column])
        .stage("conservation")?
        .lazy()
        .drop_nulls(None)
        .unique(None, UniqueKeepStrategy::Any)
        .collect()
        .stage("conservation")?;
    Ok(distinct.height() as u64)
}

fn count_non_null(df: &DataFrame, column: &str) -> Result<u64> {
    let c = df.column(column).stage("conservation")?;
    Ok((c.len() - c.null_count()) as u64)
}

/// SPEC §5: every event in scope appears once in `expected_charges`; every ledger entry in scope
/// appears once in `reconciliation` or `rejects`.
fn conservation_checks(
    out: &Reconciled,
    events_in_scope: u64,
    inputs: &sources::Inputs,
) -> Result<Vec<Check>> {
    let rows = out.expected.height() as u64;
    let distinct_events = count_distinct(&out.expected, col::EVENT_ID)?;
    let entry_rows = count_non_null(&out.reconciliation, col::ENTRY_ID)?;
    let distinct_entries = count_distinct(&out.reconciliation, col::ENTRY_ID)?;
    let mut checks = vec![
        Check::equal("events in scope appear in expected_charges", events_in_scope, rows),
        Check::equal("each event appears once in expected_charges", rows, distinct_events),
        Check::equal(
            "ledger entries in scope appear in reconciliation",
            out.entries_in_scope as u64,
            distinct_entries,
        ),
        Check::equal("each ledger entry appears once in reconciliation", distinct_entries, entry_rows),
    ];
    // No row silently lost: every row read is either valid or in the rejects.
    for (name, read, kept) in inputs.row_balance() {
        checks.push(Check::equal(&format!("{name} rows read are valid or rejected"), read, kept));
    }
    Ok(checks)
}

#[allow(clippy::too_many_arguments, reason = "one call site; the manifest gathers the whole run")]
fn build_manifest(
    cfg: &RunConfig,
    run_id: &str,
    started: chrono::DateTime<Utc>,
    inputs: &sources::Inputs,
    outputs: Vec<reports::OutputFile>,
    out: &Reconciled,
    rejects: &DataFrame,
    conservation: Vec<Check>,
) -> Result<Manifest> {
    let tally = |df: &DataFrame, column: &str, keys: &[&str]| -> Result<BTreeMap<String, u64>> {
        let mut m: BTreeMap<String, u64> = keys.iter().map(|k| (k.to_string(), 0)).collect();
        let s = df.column(column).stage("manifest")?.str().stage("manifest")?.clone();
        for v in s.iter().flatten() {
            *m.entry(v.to_string()).or_default() += 1;
        }
        Ok(m)
    };
    let types: Vec<&str> = finding::SEVERITY.iter().map(|(t, _)| *t).collect();
    let refund_total = out
        .refund_candidates
        .column(col::REFUND_CREDITS)
        .stage("manifest")?
        .as_materialized_series()
        .sum_reduce()
        .stage("manifest")?
        .into_value()
        .cast(&schema::money())
        .to_string();
    let counts = BTreeMap::from([
        ("events_in_scope".to_string(), out.expected.height() as u64),
        ("reconciliation_rows".to_string(), out.reconciliation.height() as u64),
        ("findings".to_string(), out.findings.height() as u64),
        ("refund_candidates".to_string(), out.refund_candidates.height() as u64),
        ("rejects".to_string(), rejects.height() as u64),
        ("ledger_entries_in_scope".to_string(), out.entries_in_scope as u64),
    ]);
    Ok(Manifest {
        run_id: run_id.to_string(),
        business_date: cfg.date.to_string(),
        time_zone: cfg.tz.to_string(),
        started_at: started.to_rfc3339(),
        finished_at: Utc::now().to_rfc3339(),
        versions: reports::manifest::Versions::new(&cfg.rules, &cfg.rules_origin, &cfg.rules_sha256),
        data_root: cfg.data_root.display().to_string(),
        inputs: inputs.files(),
        outputs,
        counts,
        findings_by_type: tally(&out.findings, col::FINDING_TYPE, &types)?,
        findings_by_severity: tally(&out.findings, col::SEVERITY, &["high", "medium", "low"])?,
        refund_candidates_by_reason: tally(&out.refund_candidates, col::REASON, reason::ORDER)?,
        refund_credits_total: refund_total,
        conservation,
    })
}
