//! Prices every event with the credit rules of SPEC §3 (R0 to R5). Pure: frames in, an
//! expected-charges frame out, every rate and quota taken from the versioned rules file.

pub mod demo;
pub mod rerun;
pub mod smart_column;
pub mod translation;
pub mod upload;

use chrono_tz::Tz;
use polars::prelude::*;

use crate::expr::implode_lit;
use rust_decimal::Decimal;

use crate::config::Rules;
use crate::error::{Result, StageExt};
use crate::schema::{self, category, col, event_type};

/// A decimal literal at the working scale, so that products stay exact until the final rounding.
pub fn dec_lit(value: Decimal) -> Expr {
    let mut v = value;
    v.rescale(schema::WORK_SCALE as u32);
    lit(Scalar::new_decimal(v.mantissa(), schema::WORK_PRECISION, schema::WORK_SCALE))
}

/// Lifts an amount or quantity to the working scale.
pub fn work(e: Expr) -> Expr {
    e.cast(DataType::Decimal(schema::WORK_PRECISION, schema::WORK_SCALE))
}

/// SPEC §1: a computed charge is rounded once, at the end of its computation, half to even, to 4 digits.
pub fn round_credits(e: Expr) -> Expr {
    e.round(schema::MONEY_SCALE as u32, RoundMode::HalfToEven).cast(schema::money())
}

/// `key` looked up in `(value, result)` pairs, `default` where none matches.
pub fn lookup(key: Expr, pairs: &[(Expr, Expr)], default: Expr) -> Expr {
    let Some(((v0, r0), rest)) = pairs.split_first() else { return default };
    let first = when(key.clone().eq(v0.clone())).then(r0.clone());
    let Some(((v1, r1), rest)) = rest.split_first() else { return first.otherwise(default) };
    let mut chain = first.when(key.clone().eq(v1.clone())).then(r1.clone());
    for (v, r) in rest {
        chain = chain.when(key.clone().eq(v.clone())).then(r.clone());
    }
    chain.otherwise(default)
}

/// A null of the money type.
pub fn null_money() -> Expr {
    lit(NULL).cast(schema::money())
}

/// The ledger category of an event type; null for deletions, which are free.
pub fn category_of(event_type: Expr) -> Expr {
    when(event_type.clone().eq(lit(event_type::UPLOAD)))
        .then(lit(category::IMPORT))
        .when(event_type.clone().eq(lit(event_type::RERUN)))
        .then(lit(category::RERUN))
        .when(event_type.clone().eq(lit(event_type::SMART_COLUMN_RUN)))
        .then(lit(category::SMART_COLUMN))
        .when(event_type.eq(lit(event_type::TRANSLATION)))
        .then(lit(category::TRANSLATION))
        .otherwise(lit(NULL).cast(DataType::String))
}

/// Text of a money or integer expression, for explanations.
pub fn text(e: Expr) -> Expr {
    e.cast(DataType::String).fill_null(lit("unknown"))
}

/// Events of the history with what every rule needs beside them: `seq` (the order of SPEC §3,
/// `(occurred_at, event_id)`), business date and month in the business time zone, the project's
/// demo flag and the account's plan.
pub fn prepare_events(
    events: LazyFrame,
    projects: LazyFrame,
    accounts: LazyFrame,
    plans: LazyFrame,
    tz: Tz,
) -> LazyFrame {
    let local = col(col::OCCURRED_AT).dt().convert_time_zone(TimeZone::from_chrono(&tz));
    events
        .sort([col::OCCURRED_AT, col::EVENT_ID], SortMultipleOptions::default())
        .with_row_index(col::SEQ, None)
        .with_columns([
            col(col::SEQ).cast(DataType::Int64),
            local.clone().dt().date().alias(col::BUSINESS_DATE),
            local.dt().strftime("%Y-%m").alias(col::MONTH),
        ])
        .join(
            projects.select([col(col::PROJECT_ID), col(col::IS_DEMO)]),
            [col(col::PROJECT_ID)],
            [col(col::PROJECT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            accounts.select([col(col::ACCOUNT_ID), col(col::PLAN_ID)]),
            [col(col::ACCOUNT_ID)],
            [col(col::ACCOUNT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            plans.select([
                col(col::PLAN_ID),
                col(col::FREE_RERUNS),
                col(col::FREE_SMART_COLUMN_RUNS),
                col(col::TRANSLATION_CREDITS_PER_CELL),
            ]),
            [col(col::PLAN_ID)],
            [col(col::PLAN_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col(col::IS_DEMO).fill_null(lit(false)))
}

/// The columns of `expected_charges.parquet`, in order, with their types.
pub fn expected_schema() -> Schema {
    let m = schema::money();
    Schema::from_iter([
        Field::new(col::EVENT_ID.into(), DataType::String),
        Field::new(col::BUSINESS_DATE.into(), DataType::Date),
        Field::new(col::ACCOUNT_ID.into(), DataType::String),
        Field::new(col::PROJECT_ID.into(), DataType::String),
        Field::new(col::EVENT_TYPE.into(), DataType::String),
        Field::new(col::CATEGORY.into(), DataType::String),
        Field::new(col::QUANTITY.into(), m.clone()),
        Field::new(col::FREE_QUANTITY.into(), m.clone()),
        Field::new(col::BILLABLE_QUANTITY.into(), m.clone()),
        Field::new(col::UNIT_PRICE.into(), m.clone()),
        Field::new(col::EXPECTED_CREDITS.into(), m.clone()),
        Field::new(col::RULE_ID.into(), DataType::String),
        Field::new(col::RULE_VERSION.into(), DataType::String),
        Field::new(col::BASIS.into(), DataType::String),
        Field::new(col::BASIS_CREDITS.into(), m),
        Field::new(col::CONFIRMATION_REQUIRED.into(), DataType::Boolean),
        Field::new(col::EXPLANATION.into(), DataType::String),
    ])
}

/// Selects a rule's output in the shape of [`expected_schema`]; `priced` must hold the columns
/// named there except the event's own ones and the rule version.
pub fn to_expected(priced: LazyFrame, rules: &Rules) -> LazyFrame {
    let schema = expected_schema();
    let exprs: Vec<Expr> = schema
        .iter()
        .map(|(name, dtype)| {
            let e = match name.as_str() {
                col::RULE_VERSION => lit(rules.version.clone()),
                col::CATEGORY => category_of(col(col::EVENT_TYPE)),
                other => col(other),
            };
            e.cast(dtype.clone()).alias(name.clone())
        })
        .collect();
    priced.select(exprs)
}

/// Prices every event of the prepared history (see [`prepare_events`]) with R0 to R5.
/// `cells_per_upload` holds `upload_id`, `cell_rows` and `billable_cells` (see [`upload::count_cells`]).
/// Returns the expected charge of every event, and the upload timeline R2 and the refunds need.
pub fn price(history: LazyFrame, cells_per_upload: LazyFrame, rules: &Rules) -> Result<Priced> {
    let history = history.cache();
    let is_upload = col(col::EVENT_TYPE).eq(lit(event_type::UPLOAD));
    let carried = col(crate::state::CARRIED);
    let paying = history.clone().filter(col(col::IS_DEMO).not());
    let uploads = upload::price(
        paying.clone().filter(is_upload.clone().and(carried.clone().not())),
        cells_per_upload,
        rules,
    )
    .cache();
    let carried_uploads =
        upload::price_carried(history.clone().filter(is_upload.and(carried.clone())), rules);
    let demo = demo::price(history.clone().filter(col(col::IS_DEMO).and(carried.clone().not())), rules);
    let deletions = demo::price_deletions(
        paying.clone().filter(col(col::EVENT_TYPE).is_in(
            implode_lit(Series::new("t".into(), [event_type::UPLOAD_DELETED, event_type::PROJECT_DELETED])),
            false,
        )),
        rules,
    );
    let all_uploads = concat(
        [
            uploads.clone(),
            carried_uploads.clone(),
            demo.clone().filter(col(col::EVENT_TYPE).eq(lit(event_type::UPLOAD))),
        ],
        UnionArgs::default(),
    )
    .stage("pricing")?;
    // Rows carried from the state stand for earlier quota use; they are no events of their own.
    let own_events = history.clone().filter(carried.not()).select([col(col::EVENT_ID)]);
    let timeline =
        upload::timeline(history.clone(), all_uploads).and_then(|t| t.collect()).stage("pricing")?;
    let reruns = rerun::price(
        paying.clone().filter(col(col::EVENT_TYPE).eq(lit(event_type::RERUN))),
        timeline.clone().lazy(),
        rules,
    )
    .stage("R2")?
    .join(own_events.clone(), [col(col::EVENT_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Semi));
    let smart = smart_column::price(
        paying.clone().filter(col(col::EVENT_TYPE).eq(lit(event_type::SMART_COLUMN_RUN))),
        rules,
    )
    .stage("R3")?
    .join(own_events, [col(col::EVENT_ID)], [col(col::EVENT_ID)], JoinArgs::new(JoinType::Semi));
    let translations =
        translation::price(paying.filter(col(col::EVENT_TYPE).eq(lit(event_type::TRANSLATION))), rules);
    let expected = concat(
        [uploads, carried_uploads, reruns, smart, translations, deletions, demo],
        UnionArgs::default(),
    )
    .stage("pricing")?
    .sort([col::EVENT_ID], SortMultipleOptions::default())
    .collect()
    .stage("pricing")?;
    Ok(Priced { expected, timeline })
}

/// What pricing produces.
#[derive(Debug, Clone)]
pub struct Priced {
    /// One row per event of the history, in the shape of [`expected_schema`] (uploads carried
    /// from the state included, with their carried cost).
    pub expected: DataFrame,
    /// One row per upload: see [`upload::timeline`].
    pub timeline: DataFrame,
}
