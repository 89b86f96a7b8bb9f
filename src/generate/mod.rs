//! `credit-recon generate`: a synthetic data root with known truth. It simulates the platform
//! (accounts, plans, projects, uploads with their cells, reruns, smart column runs, translations,
//! deletions, demo projects, purchases and grants), prices every event with its own implementation
//! of rules R0–R5, charges correctly, then injects faults of every finding type and refund reason
//! and writes `truth/` with each injected finding and refund candidate. Same seed, same bytes.
//!
//! The truth is for a run with the built-in rules and business time zone UTC.

pub mod cells;
pub mod faults;
pub mod ledger;
pub mod model;
pub mod pricing;
pub mod truth;
pub mod write;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use rand::Rng;
use tracing::info;

use crate::config::{DEFAULT_RULES, Rules};
use crate::error::{Error, Result};
use ledger::Ledger;
use model::{Kind, World, date_of};
use truth::Truth;
use write::CellWriter;

/// Sizes and knobs of a generation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenConfig {
    /// Seed of the one random stream.
    pub seed: u64,
    /// First business date.
    pub start: NaiveDate,
    /// Consecutive days.
    pub days: u32,
    /// Accounts.
    pub accounts: usize,
    /// Projects existing before the first day (more are created on the way).
    pub projects: usize,
    /// Share of those projects that are demo projects.
    pub demo_share: f64,
    /// Usage events per day, uploads included (scenarios add a few).
    pub events_per_day: usize,
    /// Uploads per day.
    pub uploads_per_day: usize,
    /// Mean rows per upload (drawn uniformly from half to one and a half times this).
    pub rows_per_upload: usize,
    /// Text-to-analyze columns per upload.
    pub tta_columns: usize,
    /// Share of uploads whose cells log also holds a column that is not selected (free).
    pub free_column_share: f64,
    /// Ledger entries per day at least (charges, refunds, purchases, grants, adjustments).
    pub ledger_entries_per_day: usize,
    /// Share of each day's events that get a fault, spread over the fault kinds (at least one
    /// of each kind per day).
    pub fault_rate: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            days: 1,
            accounts: 20,
            projects: 60,
            demo_share: 0.1,
            events_per_day: 1000,
            uploads_per_day: 100,
            rows_per_upload: 100,
            tta_columns: 2,
            free_column_share: 0.25,
            ledger_entries_per_day: 0,
            fault_rate: 0.02,
        }
    }
}

impl GenConfig {
    fn validate(&self) -> Result<()> {
        let bad = |problem: &str| Err(Error::Config { what: "generate".into(), problem: problem.into() });
        if self.days == 0 || self.accounts == 0 || self.events_per_day == 0 {
            return bad("--days, --accounts and --events must be at least 1");
        }
        if self.uploads_per_day == 0 || self.uploads_per_day > self.events_per_day {
            return bad("--uploads must be between 1 and --events");
        }
        if self.tta_columns == 0 || self.tta_columns > cells::TTA_POOL.len() || self.rows_per_upload == 0 {
            return bad("--tta-columns must be between 1 and 12, --rows at least 1");
        }
        for (name, p) in [
            ("--fault-rate", self.fault_rate),
            ("demo share", self.demo_share),
            ("free share", self.free_column_share),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(&format!("{name} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// What a generation wrote, also saved as `truth/summary.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// The configuration.
    pub config: GenConfig,
    /// Business dates generated.
    pub dates: Vec<String>,
    /// Sizes.
    pub totals: model::Totals,
    /// Ledger entries written.
    pub ledger_entries: u64,
    /// Truth counts.
    pub truth: truth::TruthCounts,
    /// Seconds taken (not saved: the files depend on the seed only).
    #[serde(skip)]
    pub seconds: f64,
}

fn partition(root: &Path, area: &str, date: NaiveDate, file: &str) -> PathBuf {
    root.join(area).join(format!("date={date}")).join(file)
}

/// Generates `cfg.days` days into `out` (which must not hold a data root yet).
pub fn generate(out: &Path, cfg: &GenConfig) -> Result<Summary> {
    cfg.validate()?;
    for area in ["reference", "usage", "ledger", "truth"] {
        if out.join(area).exists() {
            return Err(Error::Config {
                what: "--out".into(),
                problem: format!("{} already holds {area}/: choose an empty folder", out.display()),
            });
        }
    }
    let clock = Instant::now();
    let rules = Rules::parse(DEFAULT_RULES, "built-in")?;
    let mut world = World::new(cfg, rules);
    let mut pricer = pricing::Pricer::default();
    let mut ledger = Ledger::default();
    let mut truth = Truth::default();
    let mut dates = Vec::new();
    let k = faults::per_kind(cfg);

    for day in 0..cfg.days {
        let date = cfg.start + chrono::Days::new(u64::from(day));
        dates.push(date.to_string());
        let first_day = day == 0;
        let last_day = day + 1 == cfg.days;

        // 1. The customers' day, with its cells, and the scenarios built into it.
        let mut cells = CellWriter::create(partition(out, "usage", date, "cells.parquet"))?;
        let missing: BTreeSet<usize> =
            (0..k.min(cfg.uploads_per_day)).map(|_| world.rng.random_range(0..cfg.uploads_per_day)).collect();
        let (early, mut pending) = faults::morning(&mut world, date);
        let mut events = world.natural_day(date, cfg, &missing, &mut cells)?;
        events.extend(early);
        pending.extend(faults::scenarios(&mut world, &mut events, date, cfg, last_day, &mut cells)?);
        cells.finish()?;

        // 2. The generator's own pricing, and the platform charging correctly.
        pricer.price_day(&mut events, &mut world);
        let entries_before = ledger.entries.len();
        for e in events.iter_mut() {
            if let Some(credits) = pricing::correct_charge(e) {
                let posted = e.at + faults::charge_delay(&mut world);
                let c = ledger.charge(posted, e.account, e.project, e.kind.category(), credits, &e.id);
                e.charge = Some(c);
                if let (Kind::Upload, Some(u)) = (e.kind, e.upload) {
                    world.uploads[u].charge = Some(c);
                }
            }
            if let (Kind::Upload, Some(u)) = (e.kind, e.upload) {
                e.tag = world.uploads[u].tag;
            }
        }
        faults::resolve(&mut world, &mut ledger, &pending, &mut truth);

        // 3. Faults, each on its own event or entry, with their truth.
        faults::usage_detail_missing(&world, &events, date, &mut truth);
        faults::on_events(&mut world, &mut ledger, &mut events, date, cfg, last_day, &mut truth);
        faults::ledger_extras(&mut world, &mut ledger, date, cfg, first_day, entries_before, &mut truth);

        write::write_events(&partition(out, "usage", date, "events.parquet"), &events, &world)?;
        world.totals.events += events.len() as u64;
        info!(%date, events = events.len(), uploads = world.totals.uploads, "generated a day");
    }

    // 4. The ledger, by posting date, with its balances; the reference tables; the truth.
    ledger.settle();
    let mut order: Vec<usize> = (0..ledger.entries.len()).filter(|&i| !ledger.entries[i].void).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&ledger.entries[a], &ledger.entries[b]);
        (x.posted, &x.id).cmp(&(y.posted, &y.id))
    });
    let mut i = 0;
    while i < order.len() {
        let date = date_of(ledger.entries[order[i]].posted);
        let j = i + order[i..].partition_point(|&e| date_of(ledger.entries[e].posted) == date);
        write::write_entries(
            &partition(out, "ledger", date, "entries.parquet"),
            &ledger,
            &order[i..j],
            &world,
        )?;
        i = j;
    }
    write::write_reference(out, &world)?;
    let counts = truth.write(out, &ledger)?;
    let summary = Summary {
        config: cfg.clone(),
        dates,
        totals: world.totals,
        ledger_entries: order.len() as u64,
        truth: counts,
        seconds: clock.elapsed().as_secs_f64(),
    };
    let path = out.join("truth").join("summary.json");
    let mut text = serde_json::to_string_pretty(&summary).map_err(|e| Error::io(&path, e.into()))?;
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    info!(
        events = summary.totals.events,
        tta_cells = summary.totals.tta_cells,
        ledger_entries = summary.ledger_entries,
        seconds = summary.seconds,
        "generated"
    );
    Ok(summary)
}
