//! Faults injected into a correct day, each on its own event (or on a fresh entry), chosen so that
//! no two interact and each has exactly the findings and refund candidates recorded in the truth:
//! ledger faults on clean events, orphan charges with fresh references, balance breaks on
//! purchases, and deliberately built accidental and duplicate uploads.

use chrono::NaiveDate;
use rand::Rng;
use rust_decimal::Decimal;

use super::GenConfig;
use super::ledger::{EntryType, Ledger};
use super::model::{Basis, DAY, Event, Kind, MINUTE, Tag, World, date_of, day_start};
use super::pricing::round;
use super::truth::Truth;
use super::write::CellWriter;
use crate::error::Result;

/// Every kind of fault the generator injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The event's charge is left out.
    MissingCharge,
    /// Charged below the expected credits.
    Undercharge,
    /// Charged above the expected credits.
    Overcharge,
    /// Charged for an event that costs 0.
    UnexpectedCharge,
    /// A charge referencing no event (null or a fresh id).
    OrphanCharge,
    /// The event charged twice.
    DuplicateCharge,
    /// Charged under the wrong category.
    CategoryMismatch,
    /// A paid action charged without the user's confirmation.
    UnconfirmedCharge,
    /// Charged after the grace.
    LateCharge,
    /// A purchase with a wrong `balance_after`.
    BalanceBreak,
    /// An upload logged with neither cells nor `cells_reported`.
    UsageDetailMissing,
    /// An upload deleted within the window with no rerun or smart column run in between.
    AccidentalUpload,
    /// A fresh project deleted within the window of its uploads.
    AccidentalProject,
    /// A re-upload of the same file within the window.
    DuplicateUpload,
}

/// Faults put on an event's charge, in the order they are drawn.
const ON_EVENTS: &[Fault] = &[
    Fault::Overcharge,
    Fault::MissingCharge,
    Fault::Undercharge,
    Fault::UnexpectedCharge,
    Fault::DuplicateCharge,
    Fault::CategoryMismatch,
    Fault::UnconfirmedCharge,
    Fault::LateCharge,
];

/// How many faults of each kind a day gets: the fault rate spread evenly over the 14 kinds, at
/// least one of each.
pub fn per_kind(cfg: &GenConfig) -> usize {
    ((cfg.fault_rate * cfg.events_per_day as f64 / 14.0).round() as usize).max(1)
}

/// A scenario whose candidate is known once the platform has charged the day.
#[derive(Debug, Clone, Copy)]
pub enum Pending {
    /// The upload's import charge is an `ACCIDENTAL_UPLOAD` candidate on the date.
    Accidental(usize, NaiveDate),
    /// The upload's import charge is a `DUPLICATE_UPLOAD` candidate on the date.
    DuplicateUpload(usize, NaiveDate),
}

fn in_range(world: &mut World, lo: i64, hi: i64) -> Option<i64> {
    (lo < hi).then(|| world.rng.random_range(lo..hi))
}

/// Builds the day's duplicate uploads, accidental uploads and accidental projects (events added to
/// `events`, cells to `cells`) and returns what becomes a candidate once charged.
pub fn scenarios(
    world: &mut World,
    events: &mut Vec<Event>,
    date: NaiveDate,
    cfg: &GenConfig,
    last_day: bool,
    cells: &mut CellWriter,
) -> Result<Vec<Pending>> {
    let k = per_kind(cfg);
    let start = day_start(date);
    let end = start + DAY;
    let window = world.rules.reconciliation.refund_window_hours * 60 * MINUTE;
    let ymd = date.format("%Y%m%d").to_string();
    let mut n = 0usize;
    let next_id = |n: &mut usize| {
        *n += 1;
        format!("ev-{ymd}-s{:05}", *n)
    };
    let mut pending = Vec::new();
    let earliest = start - window + 5 * MINUTE;

    // DUPLICATE_UPLOAD: the same file again in the same project within the window.
    let firsts: Vec<usize> = (0..world.uploads.len())
        .filter(|&u| {
            let up = &world.uploads[u];
            up.tag == Tag::Clean
                && up.basis == Basis::Cells
                && up.billable > 0
                && up.removed_at.is_none()
                && up.at >= earliest
                && !world.projects[up.project].is_demo
                && world.projects[up.project].deleted_at.is_none()
        })
        .collect();
    for u1 in pick(world, &firsts, k) {
        let at1 = world.uploads[u1].at;
        let Some(t) = in_range(world, at1.max(start) + MINUTE, (at1 + window - 2 * MINUTE).min(end - MINUTE))
        else {
            continue;
        };
        let t = world.free_time(t);
        let p = world.uploads[u1].project;
        let u2 = world.new_upload(p, t, Basis::Cells, cfg, Some(u1), cells)?;
        world.uploads[u1].tag = Tag::Scenario;
        world.uploads[u2].tag = Tag::Scenario;
        let id = next_id(&mut n);
        events.push(world.upload_event(id, u2));
        pending.push(Pending::DuplicateUpload(u2, date));
    }

    // ACCIDENTAL_UPLOAD by upload_deleted: a clean upload deleted before any rerun or smart
    // column run of its project.
    let eligible = |world: &World, u: usize| {
        let up = &world.uploads[u];
        up.tag == Tag::Clean
            && up.removed_at.is_none()
            && up.at >= earliest
            && up.at < end - 5 * MINUTE
            && !world.projects[up.project].is_demo
            && world.projects[up.project].deleted_at.is_none()
            && match up.basis {
                Basis::Cells => up.billable > 0,
                Basis::Reported => up.reported.unwrap_or(0) > 0,
                Basis::Missing => false,
            }
    };
    let clean: Vec<usize> = (0..world.uploads.len()).filter(|&u| eligible(world, u)).collect();
    let targets = pick(world, &clean, k);
    for u in targets {
        let (at, last_ref, p) = (world.uploads[u].at, world.uploads[u].last_ref, world.uploads[u].project);
        let lo = at.max(last_ref).max(start) + MINUTE;
        let hi =
            world.next_activity(p, at).unwrap_or(i64::MAX).min(at + window - 2 * MINUTE).min(end - MINUTE);
        let Some(t) = in_range(world, lo, hi) else { continue };
        let t = world.free_time(t);
        if world.uploads[u].tag == Tag::Clean {
            world.uploads[u].tag = Tag::Scenario;
        }
        let id = next_id(&mut n);
        events.push(world.deletion_event(id, u, t));
        pending.push(Pending::Accidental(u, date));
    }

    // ACCIDENTAL_UPLOAD by project_deleted: a new project, one or two uploads, deleted soon after.
    for _ in 0..k {
        let a = world.rng.random_range(0..world.accounts.len());
        let t0 = world.rng.random_range(start + 30 * MINUTE..end - 4 * 60 * MINUTE);
        let p = world.new_project(a, t0, false);
        let mut last = t0;
        let mut made = Vec::new();
        for _ in 0..world.rng.random_range(1..=2) {
            let gap = world.rng.random_range(MINUTE..30 * MINUTE);
            last = world.free_time(last + gap);
            let u = world.new_upload(p, last, Basis::Cells, cfg, None, cells)?;
            world.uploads[u].tag = Tag::Scenario;
            let id = next_id(&mut n);
            events.push(world.upload_event(id, u));
            made.push(u);
        }
        let gap = world.rng.random_range(5 * MINUTE..180 * MINUTE);
        let t = world.free_time(last + gap);
        let id = next_id(&mut n);
        events.push(world.project_deletion_event(id, p, t));
        pending.extend(made.into_iter().map(|u| Pending::Accidental(u, date)));
    }

    // A late upload in a new project with nothing after it: a candidate for an overcharge today
    // that is deleted by accident tomorrow morning (see [`morning`]).
    if !last_day {
        let a = world.rng.random_range(0..world.accounts.len());
        let at = world.rng.random_range(end - 120 * MINUTE..end - 30 * MINUTE);
        let p = world.new_project(a, at, false);
        let at = world.free_time(at);
        let u = world.new_upload(p, at, Basis::Cells, cfg, None, cells)?;
        let id = next_id(&mut n);
        events.push(world.upload_event(id, u));
    }
    Ok(pending)
}

/// Before the customers' day: an upload overcharged late yesterday, with no rerun or smart column
/// run since, deleted by accident in the first minutes of the day. Its `ACCIDENTAL_UPLOAD` refund
/// is the charge less yesterday's `OVERCHARGE` candidate (SPEC §4).
pub fn morning(world: &mut World, date: NaiveDate) -> (Vec<Event>, Vec<Pending>) {
    let start = day_start(date);
    let yesterday = date.pred_opt();
    let found = (0..world.uploads.len()).find(|&u| {
        let up = &world.uploads[u];
        up.tag == Tag::Fault(Fault::Overcharge)
            && Some(date_of(up.at)) == yesterday
            && up.removed_at.is_none()
            && world.projects[up.project].deleted_at.is_none()
            && world.next_activity(up.project, up.at).is_none()
            && up.charge.is_some()
    });
    let Some(u) = found else { return (Vec::new(), Vec::new()) };
    let window = world.rules.reconciliation.refund_window_hours * 60 * MINUTE;
    let t = world.rng.random_range(start + MINUTE..start + 4 * MINUTE);
    if t - world.uploads[u].at > window - 2 * MINUTE {
        return (Vec::new(), Vec::new());
    }
    let t = world.free_time(t);
    let id = format!("ev-{}-m00001", date.format("%Y%m%d"));
    let e = world.deletion_event(id, u, t);
    (vec![e], vec![Pending::Accidental(u, date)])
}

/// Up to `k` distinct random items of `from`.
fn pick(world: &mut World, from: &[usize], k: usize) -> Vec<usize> {
    let mut pool = from.to_vec();
    let mut out = Vec::with_capacity(k);
    while out.len() < k && !pool.is_empty() {
        let i = world.rng.random_range(0..pool.len());
        out.push(pool.swap_remove(i));
    }
    out
}

fn random_credits(world: &mut World) -> Decimal {
    Decimal::new(world.rng.random_range(50..=20_000), 2)
}

/// With some chance, support already refunded part (or all) of a candidate's `base` on charge
/// `entry`: a `refund` entry posted later.
fn maybe_support_refund(world: &mut World, ledger: &mut Ledger, entry: usize, base: Decimal) {
    if !world.rng.random_bool(0.2) || base <= Decimal::ZERO {
        return;
    }
    let half = round(base / Decimal::TWO);
    let credits = if world.rng.random_bool(0.2) || half <= Decimal::ZERO { base } else { half };
    let posted = ledger.entries[entry].posted + world.rng.random_range(30 * MINUTE..20 * 60 * MINUTE);
    ledger.refund(posted, entry, credits);
}

/// The platform's charge delay: always well within the grace.
pub fn charge_delay(world: &mut World) -> i64 {
    world.rng.random_range(5_000_000..10 * MINUTE)
}

/// Records the candidates of the day's scenarios, now that the platform has charged their uploads.
pub fn resolve(world: &mut World, ledger: &mut Ledger, pending: &[Pending], truth: &mut Truth) {
    for p in pending {
        match *p {
            Pending::DuplicateUpload(u, date) => {
                let up = &world.uploads[u];
                if let Some(c) = up.charge {
                    truth.candidate(date, "DUPLICATE_UPLOAD", Some(&up.event_id), c, ledger.charged(c));
                }
            }
            Pending::Accidental(u, date) => {
                let Some(c) = world.uploads[u].charge else { continue };
                let charged = ledger.charged(c);
                // An upload overcharged on its own (earlier) date: that candidate comes off.
                let earlier = match (world.uploads[u].tag, world.uploads[u].expected) {
                    (Tag::Fault(Fault::Overcharge), Some(expected)) => charged - expected,
                    _ => Decimal::ZERO,
                };
                let event = world.uploads[u].event_id.clone();
                truth.candidate(date, "ACCIDENTAL_UPLOAD", Some(&event), c, charged - earlier);
                if earlier == Decimal::ZERO {
                    maybe_support_refund(world, ledger, c, charged);
                }
            }
        }
    }
}

fn expected_positive(e: &Event) -> bool {
    e.charge.is_some() && e.priced.expected.is_some_and(|x| x > Decimal::ZERO)
}

fn eligible(f: Fault, e: &Event) -> bool {
    if e.tag != Tag::Clean {
        return false;
    }
    match f {
        Fault::MissingCharge
        | Fault::Overcharge
        | Fault::DuplicateCharge
        | Fault::CategoryMismatch
        | Fault::LateCharge => expected_positive(e),
        Fault::Undercharge => {
            expected_positive(e) && e.priced.expected.unwrap_or_default() >= Decimal::new(2, 4)
        }
        Fault::UnexpectedCharge => e.charge.is_none() && e.priced.expected == Some(Decimal::ZERO),
        Fault::UnconfirmedCharge => e.charge.is_none() && e.priced.unconfirmed,
        _ => false,
    }
}

/// Puts the day's ledger faults on clean events of `events` (already priced and charged).
pub fn on_events(
    world: &mut World,
    ledger: &mut Ledger,
    events: &mut [Event],
    date: NaiveDate,
    cfg: &GenConfig,
    last_day: bool,
    truth: &mut Truth,
) {
    let k = per_kind(cfg);
    let end = day_start(date) + DAY;
    for &fault in ON_EVENTS {
        let pool: Vec<usize> = (0..events.len()).filter(|&i| eligible(fault, &events[i])).collect();
        let mut chosen = Vec::new();
        if fault == Fault::Overcharge && !last_day {
            // One late upload, so that tomorrow it can be deleted by accident with this
            // overcharge already a candidate of its own date.
            let late: Vec<usize> = pool
                .iter()
                .copied()
                .filter(|&i| {
                    let e = &events[i];
                    e.kind == Kind::Upload
                        && e.at > end - 6 * 60 * MINUTE
                        && world.next_activity(e.project, e.at).is_none()
                })
                .collect();
            chosen.extend(pick(world, &late, 1));
        }
        let rest: Vec<usize> = pool.into_iter().filter(|i| !chosen.contains(i)).collect();
        let more = k.saturating_sub(chosen.len());
        chosen.extend(pick(world, &rest, more));
        for i in chosen {
            apply(world, ledger, &mut events[i], fault, date, truth);
        }
    }
}

fn apply(
    world: &mut World,
    ledger: &mut Ledger,
    e: &mut Event,
    fault: Fault,
    date: NaiveDate,
    truth: &mut Truth,
) {
    e.tag = Tag::Fault(fault);
    if let (Kind::Upload, Some(u)) = (e.kind, e.upload) {
        world.uploads[u].tag = Tag::Fault(fault);
    }
    let expected = e.priced.expected.unwrap_or_default();
    let ev = Some(e.id.as_str());
    match fault {
        Fault::MissingCharge => {
            if let Some(c) = e.charge.take() {
                ledger.entries[c].void = true;
            }
            if let Some(u) = e.upload.filter(|_| e.kind == Kind::Upload) {
                world.uploads[u].charge = None;
            }
            truth.finding(date, "MISSING_CHARGE", ev, None);
        }
        Fault::Undercharge => {
            let c = e.charge.unwrap_or_default();
            let pct = Decimal::new(world.rng.random_range(10..=90), 2);
            let less = round(expected * pct).clamp(Decimal::new(1, 4), expected - Decimal::new(1, 4));
            ledger.entries[c].amount = -less;
            truth.finding(date, "UNDERCHARGE", ev, Some(c));
        }
        Fault::Overcharge => {
            let c = e.charge.unwrap_or_default();
            let pct = Decimal::new(world.rng.random_range(5..=100), 2);
            let delta = round(expected * pct).max(Decimal::new(1, 4));
            ledger.entries[c].amount = -(expected + delta);
            truth.finding(date, "OVERCHARGE", ev, Some(c));
            truth.candidate(date, "OVERCHARGE", ev, c, delta);
            maybe_support_refund(world, ledger, c, delta);
        }
        Fault::UnexpectedCharge => {
            let credits = random_credits(world);
            let posted = e.at + charge_delay(world);
            let c = ledger.charge(posted, e.account, e.project, e.kind.category(), credits, &e.id);
            e.charge = Some(c);
            if let Some(u) = e.upload.filter(|_| e.kind == Kind::Upload) {
                world.uploads[u].charge = Some(c);
            }
            truth.finding(date, "UNEXPECTED_CHARGE", ev, Some(c));
            truth.candidate(date, "UNEXPECTED_CHARGE", ev, c, credits);
            maybe_support_refund(world, ledger, c, credits);
        }
        Fault::DuplicateCharge => {
            let first = e.charge.unwrap_or_default();
            let posted = ledger.entries[first].posted + world.rng.random_range(1_000_000..5 * MINUTE);
            let d = ledger.charge(posted, e.account, e.project, e.kind.category(), expected, &e.id);
            truth.finding(date, "DUPLICATE_CHARGE", ev, Some(d));
            truth.candidate(date, "DUPLICATE_CHARGE", ev, d, expected);
            maybe_support_refund(world, ledger, d, expected);
        }
        Fault::CategoryMismatch => {
            let c = e.charge.unwrap_or_default();
            let own = e.kind.category();
            let others: Vec<&'static str> = ["import", "rerun", "smart_column", "translation"]
                .into_iter()
                .filter(|x| Some(*x) != own)
                .collect();
            ledger.entries[c].category = Some(others[world.rng.random_range(0..others.len())]);
            truth.finding(date, "CATEGORY_MISMATCH", ev, Some(c));
        }
        Fault::UnconfirmedCharge => {
            let posted = e.at + charge_delay(world);
            let c = ledger.charge(posted, e.account, e.project, e.kind.category(), expected, &e.id);
            e.charge = Some(c);
            truth.finding(date, "UNCONFIRMED_CHARGE", ev, Some(c));
            truth.candidate(date, "UNCONFIRMED_CHARGE", ev, c, expected);
            maybe_support_refund(world, ledger, c, expected);
        }
        Fault::LateCharge => {
            let c = e.charge.unwrap_or_default();
            ledger.entries[c].posted = e.at + world.rng.random_range(62 * MINUTE..40 * 60 * MINUTE);
            truth.finding(date, "LATE_CHARGE", ev, Some(c));
        }
        _ => {}
    }
}

/// The day's other ledger entries: top-up purchases, goodwill grants, adjustments, orphan
/// charges and balance breaks, and filler entries up to the configured ledger size.
pub fn ledger_extras(
    world: &mut World,
    ledger: &mut Ledger,
    date: NaiveDate,
    cfg: &GenConfig,
    first_day: bool,
    entries_before: usize,
    truth: &mut Truth,
) {
    let k = per_kind(cfg);
    let start = day_start(date);
    let accounts = world.accounts.len();
    // What each account spent today, to size its top-up at the start of the day.
    let mut spent = vec![Decimal::ZERO; accounts];
    for e in &ledger.entries[entries_before..] {
        if e.kind == EntryType::Charge && !e.void {
            spent[e.account] -= e.amount;
        }
    }
    for (a, s) in spent.iter().enumerate() {
        if first_day || *s > Decimal::ZERO {
            let hundreds = (*s * Decimal::new(12, 1) / Decimal::ONE_HUNDRED).ceil().max(Decimal::ONE);
            // Just after midnight, before any event of the day (events start at 00:05).
            ledger.add(
                start + 1 + a as i64,
                a,
                None,
                EntryType::Purchase,
                None,
                hundreds * Decimal::ONE_HUNDRED,
                None,
            );
        }
    }
    let ymd = date.format("%Y%m%d");
    for i in 0..k {
        // ORPHAN_CHARGE: a null reference or one no event has.
        let a = world.rng.random_range(0..accounts);
        let posted = world.rng.random_range(start + 30 * MINUTE..start + DAY - 30 * MINUTE);
        let reference = world.rng.random_bool(0.5).then(|| format!("ghost-{ymd}-{i}"));
        let credits = random_credits(world);
        let category = ["import", "rerun", "smart_column", "translation"][world.rng.random_range(0..4)];
        let project = world.accounts[a].projects.first().copied();
        let c = ledger.add(posted, a, project, EntryType::Charge, Some(category), -credits, reference);
        truth.finding(date, "ORPHAN_CHARGE", None, Some(c));
        truth.candidate(date, "ORPHAN_CHARGE", None, c, credits);
        maybe_support_refund(world, ledger, c, credits);

        // BALANCE_BREAK: a purchase whose balance_after is off (every account has an earlier entry:
        // the first day's purchase just after midnight).
        let a = world.rng.random_range(0..accounts);
        let posted = world.rng.random_range(start + 60 * MINUTE..start + DAY - 60 * MINUTE);
        let p = ledger.add(posted, a, None, EntryType::Purchase, None, random_credits(world), None);
        let off = Decimal::new(world.rng.random_range(1..=10_000), 2);
        ledger.entries[p].break_by = Some(if world.rng.random_bool(0.5) { off } else { -off });
        truth.finding(date, "BALANCE_BREAK", None, Some(p));
    }
    // Goodwill grants, adjustments, and filler purchases up to the ledger size asked for.
    let target = cfg.ledger_entries_per_day;
    let grants = (accounts / 50).max(1);
    let made = ledger.entries.len() - entries_before;
    for _ in 0..grants.max(target.saturating_sub(made)) {
        let a = world.rng.random_range(0..accounts);
        let posted = world.rng.random_range(start + 10 * MINUTE..start + DAY);
        let (kind, amount) = match world.rng.random_range(0..10) {
            0..3 => (EntryType::Grant, random_credits(world)),
            3 => {
                let x = random_credits(world);
                (EntryType::Adjustment, if world.rng.random_bool(0.5) { x } else { -x })
            }
            _ => (EntryType::Purchase, random_credits(world) * Decimal::TEN),
        };
        ledger.add(posted, a, None, kind, None, amount, None);
    }
}

/// Records `USAGE_DETAIL_MISSING` for the day's uploads logged without detail.
pub fn usage_detail_missing(world: &World, events: &[Event], date: NaiveDate, truth: &mut Truth) {
    for e in events {
        if let (Kind::Upload, Some(u)) = (e.kind, e.upload)
            && world.uploads[u].basis == Basis::Missing
            && !world.projects[e.project].is_demo
        {
            truth.finding(date, "USAGE_DETAIL_MISSING", Some(&e.id), None);
        }
    }
}
