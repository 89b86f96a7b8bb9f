//! Small Polars expression helpers shared by the stages.

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;

use crate::schema;

/// A date literal typed `Date` (a bare `lit(NaiveDate)` is a datetime).
pub fn date_lit(d: NaiveDate) -> Expr {
    lit(d).cast(DataType::Date)
}

/// An instant as a literal of the tables' timestamp type.
pub fn instant_lit(t: DateTime<Utc>) -> Expr {
    lit(t.naive_utc()).cast(schema::timestamp())
}

/// A set of values as one list literal, for `is_in`.
pub fn implode_lit(values: Series) -> Expr {
    lit(values).implode(false)
}
