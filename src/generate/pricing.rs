//! The generator's own pricing: rules R0–R5 of SPEC §3 in plain Rust over the simulated platform's
//! structs, one event at a time in the order `(occurred_at, event_id)`, with exact decimals. It
//! shares no code with the job's Polars rules (only the rates of the rules file): that is what makes
//! the truth a check of the job.

use std::collections::HashMap;

use rust_decimal::{Decimal, RoundingStrategy};

use super::model::{Basis, Event, Kind, Priced, World, month_of};

/// SPEC §1: rounded once, half to even, to 4 digits.
pub fn round(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven)
}

/// What pricing remembers between events and days.
#[derive(Debug, Default)]
pub struct Pricer {
    /// Uploads of each project not removed yet, in upload order.
    present: HashMap<usize, Vec<usize>>,
    /// R2 `U`: fractions of the project's reruns so far.
    reruns_used: HashMap<usize, Decimal>,
    /// R3: non-demo smart column runs of an account in a month so far.
    smart_runs: HashMap<(usize, String), i64>,
}

impl Pricer {
    /// Prices `events` (one day, any order: they are sorted here) and records on each upload its
    /// expected import credits.
    pub fn price_day(&mut self, events: &mut [Event], world: &mut World) {
        events.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        for e in events.iter_mut() {
            e.priced = self.price(e, world);
            if e.kind == Kind::Upload
                && let Some(u) = e.upload
            {
                world.uploads[u].expected = e.priced.expected;
            }
        }
    }

    fn price(&mut self, e: &Event, world: &World) -> Priced {
        let project = &world.projects[e.project];
        let plan = &world.plans[world.accounts[e.account].plan];
        let rules = &world.rules;
        let demo = project.is_demo;
        let zero = Priced { expected: Some(Decimal::ZERO), real: Decimal::ZERO, unconfirmed: false };
        let priced = match e.kind {
            Kind::Upload => {
                let Some(u) = e.upload else { return zero };
                self.present.entry(e.project).or_default().push(u);
                if demo {
                    // R0: its cost is known, 0, even without cell detail.
                    zero
                } else {
                    let (logged, real) = upload_cost(world, u);
                    Priced { expected: logged, real, unconfirmed: false }
                }
            }
            Kind::UploadDeleted => {
                if let (Some(u), Some(list)) = (e.upload, self.present.get_mut(&e.project)) {
                    list.retain(|&x| x != u);
                }
                zero
            }
            Kind::ProjectDeleted => {
                self.present.remove(&e.project);
                zero
            }
            Kind::Rerun => {
                if demo {
                    return zero;
                }
                let f = e.fraction.unwrap_or(Decimal::ONE);
                let used = self.reruns_used.entry(e.project).or_default();
                let left = (plan.free_reruns - *used).max(Decimal::ZERO);
                let free = left.min(f);
                let paid = f - free;
                *used += f;
                let mut basis = Some(Decimal::ZERO);
                let mut real_basis = Decimal::ZERO;
                for &u in self.present.get(&e.project).map(Vec::as_slice).unwrap_or(&[]) {
                    let (logged, real) = upload_cost(world, u);
                    basis = basis.zip(logged).map(|(a, b)| a + b);
                    real_basis += real;
                }
                let rate = rules.rerun.rate;
                Priced {
                    expected: basis.map(|b| round(paid * rate * b)),
                    real: round(paid * rate * real_basis),
                    unconfirmed: false,
                }
            }
            Kind::SmartColumnRun => {
                if demo {
                    return zero;
                }
                let n = self.smart_runs.entry((e.account, month_of(e.at))).or_default();
                *n += 1;
                let cost = if *n <= plan.free_smart {
                    Decimal::ZERO
                } else {
                    round(rules.smart_column.credits_per_row * Decimal::from(e.rows.unwrap_or(0)))
                };
                Priced { expected: Some(cost), real: cost, unconfirmed: false }
            }
            Kind::Translation => {
                if demo {
                    return zero;
                }
                let cost = round(plan.translation_rate * Decimal::from(e.translated.unwrap_or(0)));
                Priced { expected: Some(cost), real: cost, unconfirmed: false }
            }
        };
        // R5: a paid rerun or smart column run needs confirmed = true (not where the cost is unknown).
        let needs_notice = matches!(e.kind, Kind::Rerun | Kind::SmartColumnRun);
        let unconfirmed =
            needs_notice && priced.expected.is_some_and(|x| x > Decimal::ZERO) && e.confirmed != Some(true);
        Priced { unconfirmed, ..priced }
    }
}

/// R1: an upload's import credits as the log shows them (`None` where it has neither cells nor
/// `cells_reported`) and as they really are.
fn upload_cost(world: &World, u: usize) -> (Option<Decimal>, Decimal) {
    let up = &world.uploads[u];
    if world.projects[up.project].is_demo {
        return (Some(Decimal::ZERO), Decimal::ZERO);
    }
    let rate = world.rules.upload.credits_per_cell;
    let real = round(rate * Decimal::from(up.billable));
    let logged = match up.basis {
        Basis::Cells => Some(real),
        Basis::Reported => up.reported.map(|r| round(rate * Decimal::from(r))),
        Basis::Missing => None,
    };
    (logged, real)
}

/// What the platform, working correctly, charges for an event: the expected credits where known
/// and above 0, nothing for an unconfirmed paid action; where the log lacks detail, the real cost
/// (still asking confirmation for paid reruns).
pub fn correct_charge(e: &Event) -> Option<Decimal> {
    let p = &e.priced;
    match p.expected {
        Some(x) => (x > Decimal::ZERO && !p.unconfirmed).then_some(x),
        None => {
            let needs_notice = matches!(e.kind, Kind::Rerun | Kind::SmartColumnRun);
            (p.real > Decimal::ZERO && (!needs_notice || e.confirmed == Some(true))).then_some(p.real)
        }
    }
}
