//! The simulated platform: plans, accounts, projects, uploads with their cells, and a day of
//! usage events (uploads, full and partial reruns, smart column runs, translations, deletions) as
//! customers produce them. Natural deletions are drawn so that they never look accidental
//! (see [`World::natural_day`]); accidental ones are built on purpose in [`super::faults`].

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::GenConfig;
use super::cells::{self, CellSpec};
use super::faults::Fault;
use super::write::CellWriter;
use crate::config::Rules;
use crate::error::Result;

/// Microseconds per minute.
pub const MINUTE: i64 = 60_000_000;
/// Microseconds per day.
pub const DAY: i64 = 24 * 60 * MINUTE;

/// The UTC start of a date, in microseconds.
pub fn day_start(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_micros()).unwrap_or_default()
}

/// A timestamp's UTC date.
pub fn date_of(micros: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(micros).map(|t| t.date_naive()).unwrap_or_default()
}

/// A timestamp's calendar month (`YYYY-MM`, UTC).
pub fn month_of(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros).map(|t| t.format("%Y-%m").to_string()).unwrap_or_default()
}

/// Event types of SPEC §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `upload`
    Upload,
    /// `rerun`
    Rerun,
    /// `smart_column_run`
    SmartColumnRun,
    /// `translation`
    Translation,
    /// `upload_deleted`
    UploadDeleted,
    /// `project_deleted`
    ProjectDeleted,
}

impl Kind {
    /// The `event_type` text.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Upload => "upload",
            Kind::Rerun => "rerun",
            Kind::SmartColumnRun => "smart_column_run",
            Kind::Translation => "translation",
            Kind::UploadDeleted => "upload_deleted",
            Kind::ProjectDeleted => "project_deleted",
        }
    }

    /// The ledger category of its charge; none for deletions.
    pub fn category(self) -> Option<&'static str> {
        match self {
            Kind::Upload => Some("import"),
            Kind::Rerun => Some("rerun"),
            Kind::SmartColumnRun => Some("smart_column"),
            Kind::Translation => Some("translation"),
            _ => None,
        }
    }
}

/// What the generator did with an event or upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// Untouched: a fault may still be put on it.
    Clean,
    /// Part of a built scenario (accidental or duplicate upload): no other fault.
    Scenario,
    /// Carries this fault.
    Fault(Fault),
}

/// A plan of the reference table.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `plan_id`
    pub id: &'static str,
    /// `free_reruns`
    pub free_reruns: Decimal,
    /// `free_smart_column_runs`
    pub free_smart: i64,
    /// `translation_credits_per_cell`
    pub translation_rate: Decimal,
}

/// An account.
#[derive(Debug, Clone)]
pub struct Account {
    /// `account_id`
    pub id: String,
    /// `name`
    pub name: String,
    /// Index of its plan.
    pub plan: usize,
    /// `support_email`
    pub email: Option<String>,
    /// Relative activity.
    pub weight: u64,
    /// Its projects that are not deleted.
    pub projects: Vec<usize>,
}

/// A project.
#[derive(Debug, Clone)]
pub struct Project {
    /// `project_id`
    pub id: String,
    /// Index of its account.
    pub account: usize,
    /// `name`
    pub name: String,
    /// `is_demo`
    pub is_demo: bool,
    /// `created_at`
    pub created_at: i64,
    /// When a `project_deleted` removed it.
    pub deleted_at: Option<i64>,
    /// Its uploads not removed yet.
    pub live: Vec<usize>,
    /// Times of its reruns and smart column runs, ascending.
    pub activity: Vec<i64>,
}

/// Where an upload's billable count comes from in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Its cells are in the cells log.
    Cells,
    /// No cells; `cells_reported` is set.
    Reported,
    /// Neither (`USAGE_DETAIL_MISSING`).
    Missing,
}

/// An upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// `upload_id`
    pub id: String,
    /// Its `upload` event's id.
    pub event_id: String,
    /// Index of its project.
    pub project: usize,
    /// `occurred_at` of its upload event.
    pub at: i64,
    /// Its cells.
    pub spec: CellSpec,
    /// `file_sha256`
    pub sha: String,
    /// Where the log's count comes from.
    pub basis: Basis,
    /// Billable cells in truth (what the platform charges).
    pub billable: u64,
    /// `cells_reported`
    pub reported: Option<i64>,
    /// Cells of the selected columns.
    pub tta_cells: u64,
    /// First removal (upload or project deletion).
    pub removed_at: Option<i64>,
    /// Last event that referenced it (translation).
    pub last_ref: i64,
    /// Fault or scenario it is part of.
    pub tag: Tag,
    /// Index of its import charge in the ledger.
    pub charge: Option<usize>,
    /// Expected credits of its upload event (set by pricing).
    pub expected: Option<Decimal>,
}

/// What pricing found for an event (the generator's own R0–R5).
#[derive(Debug, Clone, Default)]
pub struct Priced {
    /// Expected credits; `None` where unknown.
    pub expected: Option<Decimal>,
    /// What the event really costs (the platform knows every cell).
    pub real: Decimal,
    /// R5 applies: a paid rerun or smart column run the user did not confirm.
    pub unconfirmed: bool,
}

/// A usage event.
#[derive(Debug, Clone)]
pub struct Event {
    /// `event_id`
    pub id: String,
    /// Index of the account.
    pub account: usize,
    /// Index of the project.
    pub project: usize,
    /// `occurred_at`, UTC microseconds.
    pub at: i64,
    /// `event_type`
    pub kind: Kind,
    /// The upload (upload, translation, upload_deleted).
    pub upload: Option<usize>,
    /// `rerun_fraction`
    pub fraction: Option<Decimal>,
    /// `rows_computed`
    pub rows: Option<i64>,
    /// `cells_translated`
    pub translated: Option<i64>,
    /// `confirmed`
    pub confirmed: Option<bool>,
    /// Fault or scenario.
    pub tag: Tag,
    /// Pricing.
    pub priced: Priced,
    /// Index of its first charge in the ledger.
    pub charge: Option<usize>,
}

impl Event {
    fn new(id: String, account: usize, project: usize, at: i64, kind: Kind) -> Self {
        Event {
            id,
            account,
            project,
            at,
            kind,
            upload: None,
            fraction: None,
            rows: None,
            translated: None,
            confirmed: None,
            tag: Tag::Clean,
            priced: Priced::default(),
            charge: None,
        }
    }
}

/// Totals of the generated data.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Totals {
    /// Events written.
    pub events: u64,
    /// Uploads.
    pub uploads: u64,
    /// Rows of the cells log.
    pub cell_rows: u64,
    /// Cells of selected (TTA) columns.
    pub tta_cells: u64,
    /// Billable cells.
    pub billable_cells: u64,
}

/// The whole simulated platform.
#[derive(Debug)]
pub struct World {
    /// Plans.
    pub plans: Vec<Plan>,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Projects.
    pub projects: Vec<Project>,
    /// Uploads of every day.
    pub uploads: Vec<Upload>,
    /// Rates, quotas and windows.
    pub rules: Rules,
    /// Default dummies in compared form.
    pub default_dummies: Vec<String>,
    /// The one random stream of the simulation.
    pub rng: ChaCha8Rng,
    /// Projects with live uploads, for picking.
    live_projects: Vec<usize>,
    live_pos: HashMap<usize, usize>,
    /// Every event timestamp used (all distinct, so that the order is the time order).
    used_times: BTreeSet<i64>,
    /// Totals.
    pub totals: Totals,
    account_weights: Vec<u64>,
}

const NAMES_A: &[&str] =
    &["Northwind", "Blue Harbor", "Cedar", "Summit", "Lighthouse", "Granite", "Maple", "Atlas"];
const NAMES_B: &[&str] =
    &["Research", "Insights", "Labs", "Analytics", "Surveys", "Partners", "Group", "Retail"];
const PROJECT_NAMES: &[&str] = &[
    "Customer survey",
    "Employee pulse",
    "Product reviews",
    "Support tickets",
    "NPS follow-up",
    "Exit interviews",
    "Onboarding demo",
];

fn hex(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let _ = write!(s, "{:02x}", rng.random::<u8>());
    }
    s
}

impl World {
    /// Builds plans, accounts and the projects that exist before the first day.
    pub fn new(cfg: &GenConfig, rules: Rules) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let plans = vec![
            Plan {
                id: "basic",
                free_reruns: Decimal::new(1, 0),
                free_smart: 2,
                translation_rate: Decimal::new(1, 1),
            },
            Plan {
                id: "pro",
                free_reruns: Decimal::new(2, 0),
                free_smart: 3,
                translation_rate: Decimal::new(5, 2),
            },
            Plan {
                id: "enterprise",
                free_reruns: Decimal::new(25, 1),
                free_smart: 10,
                translation_rate: Decimal::new(25, 3),
            },
        ];
        let mut accounts = Vec::with_capacity(cfg.accounts);
        let mut account_weights = Vec::with_capacity(cfg.accounts);
        let mut total = 0u64;
        for i in 0..cfg.accounts.max(1) {
            let r: u64 = rng.random_range(1..40);
            let weight = 1 + r * r * r;
            total += weight;
            account_weights.push(total);
            let name = format!(
                "{} {} {}",
                NAMES_A[rng.random_range(0..NAMES_A.len())],
                NAMES_B[rng.random_range(0..NAMES_B.len())],
                i + 1
            );
            let email = rng.random_bool(0.8).then(|| format!("support+{}@customer{}.example", i + 1, i + 1));
            accounts.push(Account {
                id: format!("acc-{:05}", i + 1),
                name,
                plan: rng.random_range(0..plans.len()),
                email,
                weight,
                projects: Vec::new(),
            });
        }
        let defaults = cells::compared_dummies(None, &rules.upload.default_dummy_values);
        let mut world = World {
            plans,
            accounts,
            projects: Vec::new(),
            uploads: Vec::new(),
            rules,
            default_dummies: defaults,
            rng,
            live_projects: Vec::new(),
            live_pos: HashMap::new(),
            used_times: BTreeSet::new(),
            totals: Totals::default(),
            account_weights,
        };
        let before = day_start(cfg.start) - 30 * DAY;
        for a in 0..world.accounts.len() {
            world.new_project(a, before, false);
        }
        for _ in world.accounts.len()..cfg.projects {
            let a = world.pick_account();
            let demo = world.rng.random_bool(cfg.demo_share);
            world.new_project(a, before, demo);
        }
        world
    }

    fn pick_account(&mut self) -> usize {
        let total = self.account_weights.last().copied().unwrap_or(1);
        let x = self.rng.random_range(0..total);
        self.account_weights.partition_point(|&w| w <= x).min(self.accounts.len() - 1)
    }

    /// Creates a project of `account` created at or before `at`.
    pub fn new_project(&mut self, account: usize, at: i64, is_demo: bool) -> usize {
        let idx = self.projects.len();
        let name = format!(
            "{} {}",
            if is_demo {
                "Onboarding demo"
            } else {
                PROJECT_NAMES[self.rng.random_range(0..PROJECT_NAMES.len())]
            },
            idx + 1
        );
        let created_at = at - self.rng.random_range(MINUTE..30 * MINUTE);
        self.projects.push(Project {
            id: format!("prj-{:06}", idx + 1),
            account,
            name,
            is_demo,
            created_at,
            deleted_at: None,
            live: Vec::new(),
            activity: Vec::new(),
        });
        self.accounts[account].projects.push(idx);
        idx
    }

    fn set_live(&mut self, project: usize) {
        let live = self.projects[project].deleted_at.is_none() && !self.projects[project].live.is_empty();
        match (live, self.live_pos.get(&project).copied()) {
            (true, None) => {
                self.live_pos.insert(project, self.live_projects.len());
                self.live_projects.push(project);
            }
            (false, Some(pos)) => {
                self.live_projects.swap_remove(pos);
                self.live_pos.remove(&project);
                if let Some(&moved) = self.live_projects.get(pos) {
                    self.live_pos.insert(moved, pos);
                }
            }
            _ => {}
        }
    }

    /// Marks an upload removed at `at`.
    pub fn remove_upload(&mut self, upload: usize, at: i64) {
        let p = self.uploads[upload].project;
        if self.uploads[upload].removed_at.is_none() {
            self.uploads[upload].removed_at = Some(at);
        }
        self.projects[p].live.retain(|&u| u != upload);
        self.set_live(p);
    }

    /// Marks a project deleted at `at`, with its uploads.
    pub fn delete_project(&mut self, project: usize, at: i64) {
        for u in std::mem::take(&mut self.projects[project].live) {
            if self.uploads[u].removed_at.is_none() {
                self.uploads[u].removed_at = Some(at);
            }
        }
        self.projects[project].deleted_at = Some(at);
        let a = self.projects[project].account;
        self.accounts[a].projects.retain(|&p| p != project);
        self.set_live(project);
    }

    /// A timestamp not used by any event, at or after `at`.
    pub fn free_time(&mut self, at: i64) -> i64 {
        let mut t = at;
        while self.used_times.contains(&t) {
            t += 1;
        }
        self.used_times.insert(t);
        t
    }

    /// The next rerun or smart column run of `project` strictly after `at`, if any.
    pub fn next_activity(&self, project: usize, at: i64) -> Option<i64> {
        let a = &self.projects[project].activity;
        let i = a.partition_point(|&t| t <= at);
        a.get(i).copied()
    }

    /// A new upload of `project` at `at`, its cells written to `cells`. `copy_of` re-uploads the
    /// same file as an earlier upload.
    pub fn new_upload(
        &mut self,
        project: usize,
        at: i64,
        basis: Basis,
        cfg: &GenConfig,
        copy_of: Option<usize>,
        cells: &mut CellWriter,
    ) -> Result<usize> {
        let idx = self.uploads.len();
        let id = format!("up-{}-{:06}", date_of(at).format("%Y%m%d"), idx + 1);
        let (spec, sha) = match copy_of {
            Some(u) => (self.uploads[u].spec.clone(), self.uploads[u].sha.clone()),
            None => {
                let rows_lo = (cfg.rows_per_upload / 2).max(1);
                let rows = self.rng.random_range(rows_lo..=rows_lo + cfg.rows_per_upload) as u32;
                let mut pool: Vec<&str> = cells::TTA_POOL.to_vec();
                let mut tta = Vec::with_capacity(cfg.tta_columns);
                for _ in 0..cfg.tta_columns.min(pool.len()) {
                    tta.push(pool.swap_remove(self.rng.random_range(0..pool.len())).to_string());
                }
                let free = if self.rng.random_bool(cfg.free_column_share) {
                    vec![cells::FREE_POOL[self.rng.random_range(0..cells::FREE_POOL.len())].to_string()]
                } else {
                    Vec::new()
                };
                let dummies = self.rng.random_bool(0.35).then(|| {
                    cells::DUMMY_LISTS[self.rng.random_range(0..cells::DUMMY_LISTS.len())]
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                });
                let spec = CellSpec {
                    rows,
                    tta,
                    free,
                    dummies,
                    seed: self.rng.random(),
                    duplicate_key: self.rng.random_bool(0.01),
                };
                (spec, hex(&mut self.rng, 32))
            }
        };
        let dummies =
            cells::compared_dummies(spec.dummies.as_deref(), &self.rules.upload.default_dummy_values);
        let (billable, tta_cells, reported) = match basis {
            Basis::Cells => {
                let counts = cells::generate(&spec, &dummies, |c| cells.push(&id, &c));
                self.totals.cell_rows += counts.rows;
                self.totals.tta_cells += counts.tta_cells;
                self.totals.billable_cells += counts.billable;
                let reported = self.rng.random_bool(0.9).then_some(counts.billable as i64);
                (counts.billable, counts.tta_cells, reported)
            }
            Basis::Reported | Basis::Missing => {
                let tta_cells = u64::from(spec.rows) * spec.tta.len() as u64;
                let billable = self.rng.random_range(0..=tta_cells);
                (billable, tta_cells, (basis == Basis::Reported).then_some(billable as i64))
            }
        };
        let event_id = String::new();
        self.uploads.push(Upload {
            id,
            event_id,
            project,
            at,
            spec,
            sha,
            basis,
            billable,
            reported,
            tta_cells,
            removed_at: None,
            last_ref: at,
            tag: if basis == Basis::Missing { Tag::Fault(Fault::UsageDetailMissing) } else { Tag::Clean },
            charge: None,
            expected: None,
        });
        self.projects[project].live.push(idx);
        self.set_live(project);
        self.totals.uploads += 1;
        Ok(idx)
    }

    /// An upload event for upload `u`.
    pub fn upload_event(&mut self, id: String, u: usize) -> Event {
        self.uploads[u].event_id = id.clone();
        let p = self.uploads[u].project;
        let mut e = Event::new(id, self.projects[p].account, p, self.uploads[u].at, Kind::Upload);
        e.upload = Some(u);
        e.tag = self.uploads[u].tag;
        e
    }

    /// A deletion event of upload `u` (`upload_deleted`) at `at`, the upload marked removed.
    pub fn deletion_event(&mut self, id: String, u: usize, at: i64) -> Event {
        let p = self.uploads[u].project;
        let mut e = Event::new(id, self.projects[p].account, p, at, Kind::UploadDeleted);
        e.upload = Some(u);
        self.remove_upload(u, at);
        e
    }

    /// A `project_deleted` event at `at`, the project marked deleted.
    pub fn project_deletion_event(&mut self, id: String, p: usize, at: i64) -> Event {
        let e = Event::new(id, self.projects[p].account, p, at, Kind::ProjectDeleted);
        self.delete_project(p, at);
        e
    }

    fn confirmed(&mut self) -> Option<bool> {
        match self.rng.random_range(0..100) {
            0..88 => Some(true),
            88..96 => Some(false),
            _ => None,
        }
    }

    /// Whether removing upload `u` at `at` would not be an accidental upload: it is older than the
    /// refund window (with a margin of two minutes against rounding), or its project had a rerun
    /// or smart column run since.
    fn safe_to_remove(&self, u: usize, at: i64) -> bool {
        let up = &self.uploads[u];
        let window = self.rules.reconciliation.refund_window_hours * 60 * MINUTE;
        at - up.at >= window + 2 * MINUTE || self.next_activity(up.project, up.at).is_some_and(|t| t < at)
    }

    /// The natural events of one day, in time order: no fault, no deliberate scenario.
    /// `missing_detail` lists the ordinals (among the day's uploads) of uploads logged with neither
    /// cells nor `cells_reported`.
    pub fn natural_day(
        &mut self,
        date: NaiveDate,
        cfg: &GenConfig,
        missing_detail: &BTreeSet<usize>,
        cells: &mut CellWriter,
    ) -> Result<Vec<Event>> {
        let start = day_start(date);
        let n = cfg.events_per_day;
        let mut times: Vec<i64> =
            (0..n).map(|_| self.rng.random_range(start + 5 * MINUTE..start + DAY - 5 * MINUTE)).collect();
        times.sort_unstable();
        for i in 1..times.len() {
            if times[i] <= times[i - 1] {
                times[i] = times[i - 1] + 1;
            }
        }
        for &t in &times {
            self.used_times.insert(t);
        }
        // Which slots are uploads: exactly `uploads_per_day` of them.
        let mut slots: Vec<usize> = (0..n).collect();
        let uploads = cfg.uploads_per_day.min(n);
        for i in 0..uploads {
            let j = self.rng.random_range(i..n);
            slots.swap(i, j);
        }
        let mut is_upload = vec![false; n];
        for &s in &slots[..uploads] {
            is_upload[s] = true;
        }
        drop(slots);

        // Deletions follow the uploads (about a third of uploads is deleted some day); the other
        // events are reruns, smart column runs and translations.
        let others = (n - uploads).max(1) as u64;
        let per_million =
            |share_of_uploads: u64| (share_of_uploads * uploads as u64 / others).min(200_000) as u32;
        let deleted = per_million(300_000);
        let project_deleted = deleted + per_million(10_000);
        let rerun = project_deleted + (1_000_000 - project_deleted) * 30 / 100;
        let smart = project_deleted + (1_000_000 - project_deleted) * 63 / 100;

        let ymd = date.format("%Y%m%d").to_string();
        let mut events = Vec::with_capacity(n);
        let mut upload_ordinal = 0usize;
        for (i, &at) in times.iter().enumerate() {
            let id = format!("ev-{ymd}-{i:07}");
            let kind = if is_upload[i] || self.live_projects.is_empty() {
                Kind::Upload
            } else {
                match self.rng.random_range(0..1_000_000u32) {
                    x if x < deleted => Kind::UploadDeleted,
                    x if x < project_deleted => Kind::ProjectDeleted,
                    x if x < rerun => Kind::Rerun,
                    x if x < smart => Kind::SmartColumnRun,
                    _ => Kind::Translation,
                }
            };
            let event = match kind {
                Kind::Upload => {
                    let missing = missing_detail.contains(&upload_ordinal);
                    upload_ordinal += 1;
                    let p = self.pick_upload_project(at, missing);
                    let basis = if missing {
                        Basis::Missing
                    } else if self.rng.random_bool(0.05) {
                        Basis::Reported
                    } else {
                        Basis::Cells
                    };
                    let u = self.new_upload(p, at, basis, cfg, None, cells)?;
                    self.upload_event(id, u)
                }
                Kind::UploadDeleted => match self.pick_removable_upload(at) {
                    Some(u) => self.deletion_event(id, u, at),
                    None => self.activity_event(id, at, Kind::Translation),
                },
                Kind::ProjectDeleted => match self.pick_removable_project(at) {
                    Some(p) => self.project_deletion_event(id, p, at),
                    None => self.activity_event(id, at, Kind::Rerun),
                },
                other => self.activity_event(id, at, other),
            };
            events.push(event);
        }
        Ok(events)
    }

    fn pick_upload_project(&mut self, at: i64, non_demo: bool) -> usize {
        let a = self.pick_account();
        let candidates: Vec<usize> = self.accounts[a]
            .projects
            .iter()
            .copied()
            .filter(|&p| !(non_demo && self.projects[p].is_demo))
            .collect();
        if candidates.is_empty() || self.rng.random_bool(0.03) {
            let demo = !non_demo && self.rng.random_bool(0.05);
            return self.new_project(a, at, demo);
        }
        candidates[self.rng.random_range(0..candidates.len())]
    }

    fn random_live_project(&mut self) -> usize {
        self.live_projects[self.rng.random_range(0..self.live_projects.len())]
    }

    /// A rerun, smart column run or translation in a project with uploads.
    fn activity_event(&mut self, id: String, at: i64, kind: Kind) -> Event {
        let p = self.random_live_project();
        let mut e = Event::new(id, self.projects[p].account, p, at, kind);
        match kind {
            Kind::Rerun => {
                e.fraction = Some(if self.rng.random_bool(0.5) {
                    Decimal::ONE
                } else {
                    Decimal::new(self.rng.random_range(500..=9500), 4)
                });
                e.confirmed = self.confirmed();
                self.projects[p].activity.push(at);
            }
            Kind::SmartColumnRun => {
                e.rows = Some(self.rng.random_range(10..=2000));
                e.confirmed = self.confirmed();
                self.projects[p].activity.push(at);
            }
            _ => {
                let live = &self.projects[p].live;
                let u = live[self.rng.random_range(0..live.len())];
                let most = self.uploads[u].tta_cells.clamp(1, 5000);
                e.kind = Kind::Translation;
                e.upload = Some(u);
                e.translated = Some(self.rng.random_range(1..=most) as i64);
                self.uploads[u].last_ref = at;
            }
        }
        e
    }

    fn pick_removable_upload(&mut self, at: i64) -> Option<usize> {
        for _ in 0..4 {
            let p = self.random_live_project();
            let ok: Vec<usize> =
                self.projects[p].live.iter().copied().filter(|&u| self.safe_to_remove(u, at)).collect();
            if !ok.is_empty() {
                return Some(ok[self.rng.random_range(0..ok.len())]);
            }
        }
        None
    }

    fn pick_removable_project(&mut self, at: i64) -> Option<usize> {
        let p = self.random_live_project();
        let a = self.projects[p].account;
        let ok = self.accounts[a].projects.len() > 1
            && self.projects[p].live.iter().all(|&u| self.safe_to_remove(u, at));
        ok.then_some(p)
    }
}
