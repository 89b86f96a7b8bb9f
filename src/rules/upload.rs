//! R1 uploads: billable cells per upload, the import charge, and the timeline of uploads (when each
//! was removed) that the rerun basis and the upload refunds need.

use polars::prelude::*;

use super::{dec_lit, round_credits, text, to_expected, work};
use crate::config::Rules;
use crate::error::{Result, StageExt};
use crate::schema::{col, event_type, money};

/// Cells whose value is empty: null, or only white space (Unicode `White_Space`, as Rust's
/// `char::is_whitespace`).
pub fn is_blank(value: Expr) -> Expr {
    value.str().strip_chars(lit(NULL)).str().len_bytes().eq(lit(0)).fill_null(lit(true))
}

/// A value as compared with the dummies: trimmed and lower-cased.
pub fn dummy_form(value: Expr) -> Expr {
    value.str().strip_chars(lit(NULL)).str().to_lowercase()
}

/// Billable cells per upload, and the extra copies of duplicated cells (rejects).
#[derive(Debug, Clone)]
pub struct CellCounts {
    /// `upload_id`, `cell_rows` (rows of the upload in the cells log, any column) and
    /// `billable_cells` (R1), for every upload that has cells.
    pub per_upload: DataFrame,
    /// One reject per extra copy of a `(upload_id, column, row_index)`.
    pub duplicate_rejects: DataFrame,
}

/// Cells per slice of the duplicate-key check: bounds its hash table (about 100 bytes a key).
const DUPLICATE_CHECK_ROWS: i64 = 8_000_000;

/// Ranges `[lo, hi)` of upload ids (the last open-ended) that each hold about `rows` cells, from
/// the cells per (upload, column).
fn upload_slices(per_column: &DataFrame, rows: i64) -> Result<Vec<(String, Option<String>)>> {
    let per_upload = per_column
        .clone()
        .lazy()
        .group_by([col(col::UPLOAD_ID)])
        .agg([col("_n").sum()])
        .sort([col::UPLOAD_ID], SortMultipleOptions::default())
        .collect()
        .stage("R1 duplicates")?;
    let ids = per_upload.column(col::UPLOAD_ID).stage("R1 duplicates")?.str().stage("R1 duplicates")?.clone();
    let ns = per_upload.column("_n").stage("R1 duplicates")?.i64().stage("R1 duplicates")?.clone();
    let mut starts: Vec<String> = Vec::new();
    let mut in_slice = 0i64;
    for (id, n) in ids.iter().zip(ns.iter()) {
        let (Some(id), n) = (id, n.unwrap_or(0)) else { continue };
        if starts.is_empty() || in_slice + n > rows {
            starts.push(id.to_string());
            in_slice = 0;
        }
        in_slice += n;
    }
    let ends = starts.iter().skip(1).cloned().map(Some).chain(std::iter::once(None));
    Ok(starts.iter().cloned().zip(ends).collect())
}

/// Collects a query over the cells log with the streaming engine, so that the log's text passes
/// through in batches and is never held in memory whole.
fn collect_big(lf: LazyFrame, stage: &'static str) -> Result<DataFrame> {
    let clock = std::time::Instant::now();
    // A query without sinks has a single result.
    // A query without sinks has a single result.
    let out = lf.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single()).stage(stage);
    tracing::debug!(stage, seconds = clock.elapsed().as_secs_f64(), "collected");
    out
}

/// R1: a cell is billable when its column is in the upload's `tta_columns`, its value is not empty,
/// and it is not a dummy (its trimmed value equals one of the upload's `dummy_values`, trimmed,
/// ignoring case; the rules' default list where the upload's is null). A duplicated key counts
/// once, billable when any copy is.
///
/// `cells` is a lazy scan of the cells log: it is read a few times (the keys, then the text of the
/// selected columns), each pass streamed, and no cell text is ever materialised.
pub fn count_cells(cells: LazyFrame, uploads: LazyFrame, rules: &Rules) -> Result<CellCounts> {
    let uploads = uploads
        .filter(col(col::EVENT_TYPE).eq(lit(event_type::UPLOAD)))
        .select([col(col::UPLOAD_ID), col(col::TTA_COLUMNS), col(col::DUMMY_VALUES)])
        .unique_stable(Some(cols([col::UPLOAD_ID])), UniqueKeepStrategy::First)
        .collect()
        .stage("R1 uploads")?;
    let cells = cells
        .join(
            uploads.clone().lazy().select([col(col::UPLOAD_ID)]),
            [col(col::UPLOAD_ID)],
            [col(col::UPLOAD_ID)],
            JoinArgs::new(JoinType::Semi),
        )
        .select([
            col(col::UPLOAD_ID),
            col(col::COLUMN),
            col(col::ROW_INDEX),
            col(col::VALUE),
            col(col::SRC_FILE),
            col(col::SRC_ROW),
        ]);

    // The dummy list of each upload, in compared form.
    let defaults = DataFrame::new_infer_height(vec![Column::new(
        "_dummy".into(),
        rules.upload.default_dummy_values.clone(),
    )])
    .stage("R1 dummies")?;
    let own = uploads
        .clone()
        .lazy()
        .filter(col(col::DUMMY_VALUES).is_not_null())
        .select([col(col::UPLOAD_ID), col(col::DUMMY_VALUES).alias("_dummy")])
        .explode(cols(["_dummy"]), ExplodeOptions { empty_as_null: true, keep_nulls: false });
    let default_for = uploads
        .clone()
        .lazy()
        .filter(col(col::DUMMY_VALUES).is_null())
        .select([col(col::UPLOAD_ID)])
        .cross_join(defaults.lazy(), None);
    let dummies = concat([own, default_for], UnionArgs::default())
        .stage("R1 dummies")?
        .select([col(col::UPLOAD_ID), dummy_form(col("_dummy")).alias("_form")])
        .filter(col("_form").str().len_bytes().gt(lit(0)))
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(true).alias("_is_dummy"))
        .collect()
        .stage("R1 dummies")?;
    let longest_dummy = dummies
        .clone()
        .lazy()
        .select([col("_form").str().len_chars().max().fill_null(lit(0)).cast(DataType::Int64)])
        .collect()
        .stage("R1 dummies")?
        .column("_form")
        .stage("R1 dummies")?
        .i64()
        .stage("R1 dummies")?
        .get(0)
        .unwrap_or(0);

    // Pass 1, every cell: per (upload, column) the rows and the filled cells (not null, not only
    // white space).
    let keys = [col(col::UPLOAD_ID), col(col::COLUMN)];
    let trimmed = col(col::VALUE).str().strip_chars(lit(NULL));
    let filled = trimmed.clone().str().len_bytes().gt(lit(0)).fill_null(lit(false));
    let per_column = collect_big(
        cells.clone().group_by(keys.clone()).agg([
            len().cast(DataType::Int64).alias("_n"),
            filled.clone().cast(DataType::Int64).sum().alias("_filled"),
        ]),
        "R1 cells",
    )?;

    // Pass 2, the keys: the (upload, column) groups where a (upload, column, row_index) repeats
    // (rare: only those groups pay for exact de-duplication below). Finding them needs every
    // distinct key in a hash table, so the uploads are taken in slices of about
    // `DUPLICATE_CHECK_ROWS` cells, each slice a range of upload ids (which the scan prunes by row
    // group statistics where the log is written upload after upload).
    let key3 = [col(col::UPLOAD_ID), col(col::COLUMN), col(col::ROW_INDEX)];
    let mut slices = Vec::new();
    for (lo, hi) in upload_slices(&per_column, DUPLICATE_CHECK_ROWS)? {
        let mut in_slice = col(col::UPLOAD_ID).gt_eq(lit(lo));
        if let Some(hi) = hi {
            in_slice = in_slice.and(col(col::UPLOAD_ID).lt(lit(hi)));
        }
        slices.push(collect_big(
            cells
                .clone()
                .select(key3.clone())
                .filter(in_slice)
                .group_by(key3.clone())
                .agg([len().alias("_copies")])
                .filter(col("_copies").gt(lit(1)))
                .select(keys.clone())
                .unique(None, UniqueKeepStrategy::Any),
            "R1 duplicates",
        )?);
    }
    let dup_groups = if slices.is_empty() {
        DataFrame::empty_with_schema(&Schema::from_iter([
            Field::new(col::UPLOAD_ID.into(), DataType::String),
            Field::new(col::COLUMN.into(), DataType::String),
        ]))
    } else {
        concat(slices.into_iter().map(IntoLazy::lazy).collect::<Vec<_>>(), UnionArgs::default())
            .and_then(|lf| lf.collect())
            .stage("R1 duplicates")?
    };

    let dup_uploads =
        dup_groups.column(col::UPLOAD_ID).stage("R1 duplicates")?.as_materialized_series().clone();
    let in_dup_upload = col(col::UPLOAD_ID).is_in(lit(dup_uploads.clone()).implode(false), false);

    // Pass 3, the filled cells no longer than the longest dummy (the cheap test first: a longer
    // value cannot be a dummy): how often each compared form occurs per (upload, column). In the
    // rare uploads with a duplicated key every cell comes too, one group per row, so that those
    // keys count once, billable when any copy is.
    let short = filled.clone().and(trimmed.str().len_chars().lt_eq(lit(longest_dummy)));
    let (wanted, row) = if dup_uploads.is_empty() {
        (short.clone(), lit(NULL).cast(DataType::Int64))
    } else {
        (
            short.clone().or(in_dup_upload.clone()),
            when(in_dup_upload.clone()).then(col(col::ROW_INDEX)).otherwise(lit(NULL).cast(DataType::Int64)),
        )
    };
    let forms = collect_big(
        cells
            .clone()
            .filter(wanted)
            .select([
                col(col::UPLOAD_ID),
                col(col::COLUMN),
                row.alias("_row_index"),
                when(short)
                    .then(dummy_form(col(col::VALUE)))
                    .otherwise(lit(NULL).cast(DataType::String))
                    .alias("_form"),
                filled.alias("_filled"),
            ])
            .group_by([
                col(col::UPLOAD_ID),
                col(col::COLUMN),
                col("_row_index"),
                col("_form"),
                col("_filled"),
            ])
            .agg([len().cast(DataType::Int64).alias("_times")]),
        "R1 dummies",
    )?
    .lazy()
    .join(
        dummies.lazy(),
        [col(col::UPLOAD_ID), col("_form")],
        [col(col::UPLOAD_ID), col("_form")],
        JoinArgs::new(JoinType::Left),
    )
    .with_column(col("_is_dummy").fill_null(lit(false)))
    .cache();

    // The rest works on those small tables: billable = filled - dummies per selected column, or
    // per distinct key in the uploads with a duplicated key; summed over the selected columns.
    let tta_pairs = uploads
        .lazy()
        .select([col(col::UPLOAD_ID), col(col::TTA_COLUMNS).alias(col::COLUMN)])
        .explode(cols([col::COLUMN]), ExplodeOptions { empty_as_null: false, keep_nulls: false })
        .unique(None, UniqueKeepStrategy::Any);
    let dummy_cells = forms
        .clone()
        .filter(col("_row_index").is_null().and(col("_is_dummy")))
        .group_by(keys.clone())
        .agg([col("_times").sum().alias("_dummies")]);
    let counted = per_column
        .clone()
        .lazy()
        .filter(in_dup_upload.clone().not())
        .join(dummy_cells, keys.clone(), keys.clone(), JoinArgs::new(JoinType::Left))
        .select([
            col(col::UPLOAD_ID),
            col(col::COLUMN),
            (col("_filled") - col("_dummies").fill_null(lit(0))).alias("_billable"),
        ]);
    let per_key = forms
        .filter(col("_row_index").is_not_null())
        .group_by([col(col::UPLOAD_ID), col(col::COLUMN), col("_row_index")])
        .agg([col("_filled").and(col("_is_dummy").not()).any(true).alias("_billable")])
        .group_by(keys.clone())
        .agg([col("_billable").cast(DataType::Int64).sum()]);
    let selected = concat([counted, per_key], UnionArgs::default()).stage("R1 count")?.join(
        tta_pairs,
        keys.clone(),
        keys.clone(),
        JoinArgs::new(JoinType::Semi),
    );
    let billable_per_upload =
        selected.group_by([col(col::UPLOAD_ID)]).agg([col("_billable").sum().alias("billable_cells")]);
    let cell_rows =
        per_column.lazy().group_by([col(col::UPLOAD_ID)]).agg([col("_n").sum().alias("cell_rows")]);
    let per_upload = cell_rows
        .join(
            billable_per_upload,
            [col(col::UPLOAD_ID)],
            [col(col::UPLOAD_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col(col::UPLOAD_ID),
            col("cell_rows").cast(DataType::Int64),
            col("billable_cells").fill_null(lit(0)).cast(DataType::Int64),
        ])
        .collect()
        .stage("R1 count")?;

    let clock = std::time::Instant::now();
    let duplicate_rejects = if dup_groups.height() == 0 {
        DataFrame::empty_with_schema(&crate::schema::rejects_schema())
    } else {
        cells
            .select([
                col(col::UPLOAD_ID),
                col(col::COLUMN),
                col(col::ROW_INDEX),
                col(col::SRC_FILE),
                col(col::SRC_ROW),
            ])
            .filter(in_dup_upload)
            .join(dup_groups.lazy(), keys.clone(), keys, JoinArgs::new(JoinType::Semi))
            .sort([col::SRC_FILE, col::SRC_ROW], SortMultipleOptions::default())
            .filter(col(col::ROW_INDEX).cum_count(false).over(key3).stage("R1 duplicates")?.gt(lit(1)))
            .select([
                lit(crate::schema::CELLS.name).alias(col::TABLE),
                col(col::SRC_FILE).alias(col::FILE),
                col(col::SRC_ROW).alias(col::ROW),
                concat_str(
                    [col(col::UPLOAD_ID), col(col::COLUMN), col(col::ROW_INDEX).cast(DataType::String)],
                    "|",
                    true,
                )
                .alias(col::RECORD_ID),
                lit("duplicate cell (upload_id, column, row_index): counted once, this copy is extra")
                    .alias(col::REASON),
            ])
            .collect()
            .stage("R1 duplicates")?
    };
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "duplicate rejects");
    Ok(CellCounts { per_upload, duplicate_rejects })
}

/// R1: an upload costs `credits_per_cell` per billable cell. Where the upload has no cells in the
/// log, its `cells_reported` is the basis (`basis = reported`); where it has neither, its charge is
/// unknown (`basis = unknown`, a `USAGE_DETAIL_MISSING` finding).
pub fn price(uploads: LazyFrame, cells_per_upload: LazyFrame, rules: &Rules) -> LazyFrame {
    let rate = rules.upload.credits_per_cell;
    let has_cells = col("cell_rows").fill_null(lit(0)).gt(lit(0));
    let quantity =
        when(has_cells.clone()).then(col("billable_cells")).otherwise(col(col::CELLS_REPORTED)).cast(money());
    let basis = when(has_cells.clone())
        .then(lit("cells"))
        .when(col(col::CELLS_REPORTED).is_not_null())
        .then(lit("reported"))
        .otherwise(lit("unknown"));
    let priced = uploads
        .join(cells_per_upload, [col(col::UPLOAD_ID)], [col(col::UPLOAD_ID)], JoinArgs::new(JoinType::Left))
        .with_columns([
            quantity.clone().alias(col::QUANTITY),
            lit(0).cast(money()).alias(col::FREE_QUANTITY),
            quantity.clone().alias(col::BILLABLE_QUANTITY),
            dec_lit(rate).cast(money()).alias(col::UNIT_PRICE),
            round_credits(work(quantity) * dec_lit(rate)).alias(col::EXPECTED_CREDITS),
            lit(rules.upload.rule_id.clone()).alias(col::RULE_ID),
            basis.alias(col::BASIS),
            lit(NULL).cast(money()).alias(col::BASIS_CREDITS),
            lit(false).alias(col::CONFIRMATION_REQUIRED),
            when(has_cells)
                .then(concat_str(
                    [
                        lit("R1: "),
                        text(col("billable_cells")),
                        lit(" billable cells of "),
                        text(col("cell_rows")),
                        lit(format!(" cells in the log x {rate} credits per cell")),
                    ],
                    "",
                    true,
                ))
                .when(col(col::CELLS_REPORTED).is_not_null())
                .then(concat_str(
                    [
                        lit("R1: no cells in the log; platform reported "),
                        text(col(col::CELLS_REPORTED)),
                        lit(format!(" billable cells x {rate} credits per cell")),
                    ],
                    "",
                    true,
                ))
                .otherwise(lit("R1: no cells in the log and no cells_reported: cost unknown"))
                .alias(col::EXPLANATION),
        ]);
    to_expected(priced, rules)
}

/// An upload carried from the state keeps the import cost it was priced at on its own date.
pub fn price_carried(uploads: LazyFrame, rules: &Rules) -> LazyFrame {
    let cost = col(crate::state::CARRIED_COST);
    let priced = uploads.with_columns([
        lit(NULL).cast(money()).alias(col::QUANTITY),
        lit(NULL).cast(money()).alias(col::FREE_QUANTITY),
        lit(NULL).cast(money()).alias(col::BILLABLE_QUANTITY),
        dec_lit(rules.upload.credits_per_cell).cast(money()).alias(col::UNIT_PRICE),
        cost.alias(col::EXPECTED_CREDITS),
        lit(rules.upload.rule_id.clone()).alias(col::RULE_ID),
        lit("carried").alias(col::BASIS),
        lit(NULL).cast(money()).alias(col::BASIS_CREDITS),
        lit(false).alias(col::CONFIRMATION_REQUIRED),
        lit("R1: priced on its own date, carried by the state").alias(col::EXPLANATION),
    ]);
    to_expected(priced, rules)
}

/// One row per upload of the history: `upload_id`, `project_id`, `event_id`, `seq`, `occurred_at`,
/// `file_sha256`, its import cost (`expected_credits`, null where unknown), and its first removal
/// after it: `removed_seq`, `removed_at`, `removed_by` (the `upload_deleted` of the upload or the
/// `project_deleted` of its project), null where it is still there.
pub fn timeline(history: LazyFrame, priced_uploads: LazyFrame) -> PolarsResult<LazyFrame> {
    let uploads = history
        .clone()
        .filter(col(col::EVENT_TYPE).eq(lit(event_type::UPLOAD)))
        .select([
            col(col::UPLOAD_ID),
            col(col::PROJECT_ID),
            col(col::EVENT_ID),
            col(col::SEQ),
            col(col::OCCURRED_AT),
            col(col::FILE_SHA256),
            col(crate::state::CARRIED),
            col(crate::state::CARRIED_DUPLICATE_OF),
        ])
        .join(
            priced_uploads.select([col(col::EVENT_ID), col(col::EXPECTED_CREDITS)]),
            [col(col::EVENT_ID)],
            [col(col::EVENT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .cache();
    let removal = |kind: &str| {
        history.clone().filter(col(col::EVENT_TYPE).eq(lit(kind.to_string()))).select([
            col(col::UPLOAD_ID),
            col(col::PROJECT_ID),
            col(col::SEQ).alias("removed_seq"),
            col(col::OCCURRED_AT).alias("removed_at"),
            col(col::EVENT_ID).alias("removed_by"),
        ])
    };
    let by_upload = uploads.clone().select([col(col::UPLOAD_ID), col(col::SEQ)]).join(
        removal(event_type::UPLOAD_DELETED).drop(cols([col::PROJECT_ID])),
        [col(col::UPLOAD_ID)],
        [col(col::UPLOAD_ID)],
        JoinArgs::new(JoinType::Inner),
    );
    let by_project = uploads
        .clone()
        .select([col(col::UPLOAD_ID), col(col::PROJECT_ID), col(col::SEQ)])
        .join(
            removal(event_type::PROJECT_DELETED).drop(cols([col::UPLOAD_ID])),
            [col(col::PROJECT_ID)],
            [col(col::PROJECT_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .drop(cols([col::PROJECT_ID]));
    let first_removal = concat([by_upload, by_project], UnionArgs::default())?
        .filter(col("removed_seq").gt(col(col::SEQ)))
        .sort(["removed_seq"], SortMultipleOptions::default())
        .group_by_stable([col(col::UPLOAD_ID)])
        .agg([col("removed_seq").first(), col("removed_at").first(), col("removed_by").first()]);
    Ok(uploads.join(
        first_removal,
        [col(col::UPLOAD_ID)],
        [col(col::UPLOAD_ID)],
        JoinArgs::new(JoinType::Left),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use chrono_tz::UTC;
    use polars::prelude::IntoLazy;

    use crate::testkit::{Ev, cells, expected_of, field_of, price};

    fn upload(id: &'static str, upload: &'static str, dummies: Option<Vec<&'static str>>) -> Ev {
        Ev {
            upload: Some(upload),
            tta: Some(vec!["q1", "q2"]),
            dummies,
            sha: Some("f"),
            ..Ev::new(id, "upload", "2026-11-02T10:00:00Z")
        }
    }

    #[test]
    fn only_tta_cells_that_are_not_empty_or_dummies_are_billable() {
        let c = cells(&[
            ("u1", "q1", 0, Some("great product")),
            ("u1", "q1", 1, Some("   ")),        // white space only
            ("u1", "q1", 2, Some("\u{2003}\t")), // Unicode white space only (em space, tab)
            ("u1", "q1", 3, None),               // null
            ("u1", "q2", 0, Some(" n/a ")),      // default dummy, trimmed, other case
            ("u1", "q2", 1, Some("-")),          // default dummy
            ("u1", "q2", 2, Some("N/A please")), // longer than any dummy: billable
            ("u1", "other", 0, Some("free")),    // not a TTA column
        ]);
        let e = price(&[upload("e1", "u1", None)], c, "1", 1, UTC);
        assert_eq!(expected_of(&e, "e1"), "2.0000");
        assert_eq!(field_of(&e, "e1", "basis"), "cells");
    }

    #[test]
    fn an_uploads_own_dummies_replace_the_defaults_and_compare_trimmed_ignoring_case() {
        let c = cells(&[
            ("u1", "q1", 0, Some("NONE")),
            ("u1", "q1", 1, Some(" n/a")),
            ("u1", "q1", 2, Some("-")), // a default dummy, but this upload has its own list
        ]);
        let e = price(&[upload("e1", "u1", Some(vec![" None ", "N/A"]))], c, "1", 1, UTC);
        assert_eq!(expected_of(&e, "e1"), "1.0000");
    }

    #[test]
    fn a_duplicated_cell_counts_once_billable_when_any_copy_is() {
        let c = cells(&[
            ("u1", "q1", 0, Some("a")),
            ("u1", "q1", 0, Some("a")),  // exact copy: counted once
            ("u1", "q1", 1, Some("  ")), // first copy blank ...
            ("u1", "q1", 1, Some("b")),  // ... second billable: the cell is billable
        ]);
        let rules = crate::testkit::rules();
        let evs = crate::testkit::events(&[upload("e1", "u1", None)]);
        let counts = super::count_cells(c.clone().lazy(), evs.lazy(), &rules).unwrap();
        assert_eq!(counts.duplicate_rejects.height(), 2, "each extra copy is a reject");
        let e = price(&[upload("e1", "u1", None)], c, "1", 1, UTC);
        assert_eq!(expected_of(&e, "e1"), "2.0000");
    }

    #[test]
    fn reported_cells_are_the_basis_without_detail_and_unknown_without_either() {
        let evs = [
            Ev { reported: Some(7), ..upload("e1", "u1", None) },
            upload("e2", "u2", None),
            Ev { project: "demo", ..upload("e3", "u3", None) },
        ];
        let e = price(&evs, cells(&[]), "1", 1, UTC);
        assert_eq!(expected_of(&e, "e1"), "7.0000");
        assert_eq!(field_of(&e, "e1", "basis"), "reported");
        assert_eq!(expected_of(&e, "e2"), "null");
        assert_eq!(field_of(&e, "e2", "basis"), "unknown");
        // R0: a demo upload without detail costs 0, known.
        assert_eq!(expected_of(&e, "e3"), "0.0000");
        assert_eq!(field_of(&e, "e3", "rule_id"), "R0");
    }
}
