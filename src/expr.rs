//! Small Polars expression helpers shared by the stages.

use chrono::NaiveDate;
use polars::prelude::*;

/// A date literal typed `Date` (a bare `lit(NaiveDate)` is a datetime).
pub fn date_lit(d: NaiveDate) -> Expr {
    lit(d).cast(DataType::Date)
}

/// A set of values as one list literal, for `is_in`.
pub fn implode_lit(values: Series) -> Expr {
    lit(values).implode(false)
}
