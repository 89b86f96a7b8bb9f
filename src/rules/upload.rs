//! R1 uploads: billable cells per upload, the import charge, and the timeline of uploads (when each
//! was removed) that the rerun basis and the upload refunds need.

use polars::prelude::*;

use super::{dec_lit, round_credits, text, to_expected, work};
use crate::config::Rules;
use crate::error::{Result, StageExt};
use crate::schema::{col, event_type, money};

/// A value as compared with the dummies: trimmed of white space (Unicode `White_Space`, as
/// Rust's `str::trim`) and lower-cased. The one definition, for the dummy lists and the cells alike.
pub fn compared_form(value: &str) -> String {
    value.trim().to_lowercase()
}

/// A text column in compared form (see [`compared_form`]).
fn dummy_form(value: Expr) -> Expr {
    value.map(
        |c| Ok(c.str()?.apply_values(|v| std::borrow::Cow::Owned(compared_form(v))).into_column()),
        |_, field| Ok(field.clone()),
    )
}

/// What R1 needs of a cell's value, in one look: empty (empty or white space only: never
/// billable), a dummy form when its compared form is one of `forms` (the dummies of any upload:
/// whether it is a dummy of the cell's own upload is decided on the grouped result), or filled.
/// `longest` is at least the length in characters of the longest form.
pub fn cell_form(value: &str, forms: &std::collections::HashSet<String>, longest: usize) -> CellForm {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return CellForm::Empty;
    }
    // A form has `longest` characters at most, and a character at most 4 bytes: the length in
    // bytes sets most values aside before their characters are counted or lower-cased.
    if trimmed.len() > 4 * longest || trimmed.chars().nth(longest).is_some() {
        return CellForm::Filled;
    }
    let form = compared_form(trimmed);
    if forms.contains(&form) { CellForm::Dummy(form) } else { CellForm::Filled }
}

/// See [`cell_form`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellForm {
    /// Null, empty or white space only.
    Empty,
    /// Filled, and not a dummy of any upload.
    Filled,
    /// Filled, and this compared form is a dummy of some upload.
    Dummy(String),
}

/// How R1's one read groups a cell, per `(upload_id, column)`: its tag is `""` when the cell is
/// empty, null when it is filled and no upload's dummy, and `"="` and the form when its form is a
/// dummy of some upload (see [`cell_form`]). A cell whose key hash is one of the suspected
/// duplicates' is tagged on its own, `"#"` then its `row_index`, file row, file and the class above
/// (`"~"` for filled) apart by NUL (which no path holds), so that its copies come out of the
/// grouping one by one and can be compared exactly.
struct CellTagger {
    forms: std::collections::HashSet<String>,
    longest: usize,
    /// The key hashes of the suspected duplicates, sorted (see [`key_hash`]).
    suspect_keys: Vec<u64>,
}

/// The tag's prefix of a suspect's cell.
const SUSPECT: char = '#';
/// The class of a filled cell inside a suspect's tag (outside one, a filled cell's tag is null).
const FILLED: &str = "~";
/// The prefix of a dummy form in a tag.
const DUMMY: char = '=';

impl CellTagger {
    /// A cell's tag; `suspect` is where a suspected duplicate's cell is (see [`read_tag`]).
    fn tag(
        &self,
        value: Option<&str>,
        suspect: Option<Whereabouts<'_>>,
    ) -> Option<std::borrow::Cow<'static, str>> {
        use std::borrow::Cow;
        let class = match value.map(|v| cell_form(v, &self.forms, self.longest)) {
            None | Some(CellForm::Empty) => Some(Cow::Borrowed("")),
            Some(CellForm::Filled) => None,
            Some(CellForm::Dummy(form)) => Some(Cow::Owned(format!("{DUMMY}{form}"))),
        };
        match suspect {
            None => class,
            Some((i, row, file)) => {
                let class = class.as_deref().unwrap_or(FILLED);
                Some(Cow::Owned(format!("{SUSPECT}{i}\0{row}\0{file}\0{class}")))
            }
        }
    }

    /// The tag expression over the cells log's `value` (and, when there are suspects, its key
    /// hash, `row_index`, `src_row` and `src_file`).
    fn expr(self) -> Expr {
        let field = |_: &Schema, _: &[Field]| Ok(Field::new("_tag".into(), DataType::String));
        let tag = if self.suspect_keys.is_empty() {
            col(col::VALUE).map_many(
                move |c: &mut [Column]| {
                    let out: StringChunked = c[0].str()?.iter().map(|v| self.tag(v, None)).collect();
                    Ok(out.with_name("_tag".into()).into_column())
                },
                &[],
                field,
            )
        } else {
            col(col::VALUE).map_many(
                move |c: &mut [Column]| {
                    let (values, keys) = (c[0].str()?, c[1].u64()?);
                    let (index, rows, files) = (c[2].i64()?, c[3].i64()?, c[4].str()?);
                    let out: StringChunked = values
                        .iter()
                        .zip(keys.iter())
                        .zip(index.iter().zip(rows.iter().zip(files.iter())))
                        .map(|((v, key), (i, (row, file)))| match (key, i, row, file) {
                            (Some(key), Some(i), Some(row), Some(file))
                                if self.suspect_keys.binary_search(&key).is_ok() =>
                            {
                                self.tag(v, Some((i, row, file)))
                            }
                            _ => self.tag(v, None),
                        })
                        .collect();
                    Ok(out.with_name("_tag".into()).into_column())
                },
                &[key_hash(), col(col::ROW_INDEX), col(col::SRC_ROW), col(col::SRC_FILE)],
                field,
            )
        };
        tag.alias("_tag")
    }
}

/// Where a suspect's cell is, as its tag tells: `(row_index, src_row, src_file)`.
type Whereabouts<'a> = (i64, i64, &'a str);

/// A tag's class (as outside a suspect's tag) and, for a suspect's, where its cell is.
fn read_tag(tag: Option<&str>) -> PolarsResult<(Option<&str>, Option<Whereabouts<'_>>)> {
    let Some(rest) = tag.and_then(|t| t.strip_prefix(SUSPECT)) else { return Ok((tag, None)) };
    let bad = || polars_err!(ComputeError: "R1: cannot read the grouping tag {rest:?}");
    let mut parts = rest.splitn(4, '\0');
    let mut next = || parts.next().ok_or_else(bad);
    let (i, r, f, class) = (next()?, next()?, next()?, next()?);
    let (i, r) = (i.parse().map_err(|_| bad())?, r.parse().map_err(|_| bad())?);
    Ok(((class != FILLED).then_some(class), Some((i, r, f))))
}

/// The grouped tags back as columns: `_form` (the dummy form, else null), `_filled`, and for a
/// suspect's cell its `row_index`, `src_file` and `src_row` (see [`suspect_col`]; null for others).
fn decode_tags(grouped: DataFrame) -> Result<DataFrame> {
    let tags = grouped.column("_tag").stage("R1 cells")?.str().stage("R1 cells")?;
    let n = tags.len();
    let (mut form, mut filled) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut index, mut row, mut file) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for tag in tags.iter() {
        let (class, suspect) = read_tag(tag).stage("R1 cells")?;
        let (i, r, f) = match suspect {
            Some((i, r, f)) => (Some(i), Some(r), Some(f.to_string())),
            None => (None, None, None),
        };
        index.push(i);
        row.push(r);
        file.push(f);
        filled.push(class != Some(""));
        form.push(class.and_then(|c| c.strip_prefix(DUMMY)).map(str::to_string));
    }
    let mut out = grouped.drop("_tag").stage("R1 cells")?;
    for c in [
        Column::new("_form".into(), form),
        Column::new("_filled".into(), filled),
        Column::new(suspect_col(col::ROW_INDEX).into(), index),
        Column::new(suspect_col(col::SRC_FILE).into(), file),
        Column::new(suspect_col(col::SRC_ROW).into(), row),
    ] {
        out.with_column(c).stage("R1 cells")?;
    }
    Ok(out)
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

/// Collects a query over the cells log with the streaming engine, so that the log's text passes
/// through in batches and is never held in memory whole.
fn collect_big(lf: LazyFrame, stage: &'static str) -> Result<DataFrame> {
    let clock = std::time::Instant::now();
    // A query without sinks has a single result.
    let out = lf.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single()).stage(stage);
    tracing::debug!(stage, seconds = clock.elapsed().as_secs_f64(), "collected");
    out
}

/// The column, decoded from the grouping tags, that holds `c` for a suspect's cell only (null for
/// every other cell).
fn suspect_col(c: &str) -> String {
    format!("_{c}")
}

/// A 64-bit hash of a cell's key `(upload_id, column, row_index)`: equal keys have equal hashes,
/// so two copies of a key always share one; two different keys share one only by a rare collision,
/// which costs an exact look and nothing else.
fn key_hash() -> Expr {
    // Fixed seeds: the hashes only need to agree within a run.
    col(col::UPLOAD_ID).hash(0x5eed_0001, 0x5eed_0002, 0x5eed_0003, 0x5eed_0004)
        + col(col::COLUMN).hash(0x5eed_0011, 0x5eed_0012, 0x5eed_0013, 0x5eed_0014)
        + col(col::ROW_INDEX).hash(0x5eed_0021, 0x5eed_0022, 0x5eed_0023, 0x5eed_0024)
}

/// The dummy lists that apply to each upload, in compared form (`upload_id`, `_form`,
/// `_is_dummy`), and the length in characters of the longest form.
fn dummy_forms(uploads: &DataFrame, rules: &Rules) -> Result<(DataFrame, i64)> {
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
    let longest = dummies
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
    Ok((dummies, longest))
}

/// R1: a cell is billable when its column is in the upload's `tta_columns`, its value is not empty,
/// and it is not a dummy (its trimmed value equals one of the upload's `dummy_values`, trimmed,
/// ignoring case; the rules' default list where the upload's is null). A duplicated key counts
/// once, billable when any copy is.
///
/// `cells` is a lazy scan of the cells log, streamed and never held whole:
/// 1. the cheap duplicate check: the hashes of the keys, sorted; equal neighbours are suspects
///    (equal keys always have equal hashes; a collision only costs an exact look);
/// 2. one read of every cell counts the cells per `(upload_id, column)` and form (empty, filled,
///    or a dummy form of some upload: [`cell_form`], one look at each value); the exact
///    per-upload dummy test then runs on that small table. A suspect's cell is a
///    group of its own, so its copies come out of the same read and are de-duplicated exactly:
///    each extra copy is a reject, and a key counts once, billable when any copy is.
pub fn count_cells(cells: LazyFrame, uploads: LazyFrame, rules: &Rules) -> Result<CellCounts> {
    // An upload id used twice: its first event in the order of SPEC §3 decides.
    let uploads = uploads
        .filter(col(col::EVENT_TYPE).eq(lit(event_type::UPLOAD)))
        .sort([col::OCCURRED_AT, col::EVENT_ID], SortMultipleOptions::default())
        .select([col(col::UPLOAD_ID), col(col::TTA_COLUMNS), col(col::DUMMY_VALUES)])
        .unique_stable(Some(cols([col::UPLOAD_ID])), UniqueKeepStrategy::First)
        .collect()
        .stage("R1 uploads")?;
    let (dummies, longest) = dummy_forms(&uploads, rules)?;
    let keys = [col(col::UPLOAD_ID), col(col::COLUMN)];
    let key3 = [col(col::UPLOAD_ID), col(col::COLUMN), col(col::ROW_INDEX)];
    // Every dummy form in use, of any upload.
    let all_forms: std::collections::HashSet<String> = dummies
        .column("_form")
        .stage("R1 dummies")?
        .str()
        .stage("R1 dummies")?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();

    // 1. The cheap duplicate check, on the keys alone: their hashes sorted; equal neighbours are
    //    suspects.
    let suspects = collect_big(
        cells
            .clone()
            .select([key_hash().alias("_key")])
            .sort(["_key"], SortMultipleOptions::default())
            .filter(col("_key").eq(col("_key").shift(lit(1))))
            .unique(None, UniqueKeepStrategy::Any),
        "R1 duplicate check",
    )?;
    let mut suspect_keys: Vec<u64> = suspects
        .column("_key")
        .stage("R1 duplicates")?
        .u64()
        .stage("R1 duplicates")?
        .iter()
        .flatten()
        .collect();
    suspect_keys.sort_unstable();

    // 2. One read of every cell, grouped per (upload, column, tag), where the tag tells an empty
    //    cell, a filled one, and a dummy form of some upload (`cell_form`: one look at each
    //    value); a suspect's cell is tagged on its own (its row, file and file row), so that its
    //    copies can be compared exactly.
    let tagger =
        CellTagger { forms: all_forms, longest: usize::try_from(longest).unwrap_or(0), suspect_keys };
    let any_suspect = !tagger.suspect_keys.is_empty();
    let grouped = collect_big(
        cells
            .group_by([col(col::UPLOAD_ID), col(col::COLUMN), tagger.expr()])
            .agg([len().cast(DataType::Int64).alias("_n")]),
        "R1 cells",
    )?;
    let per_form = decode_tags(grouped)?
        .lazy()
        .join(
            dummies.clone().lazy(),
            [col(col::UPLOAD_ID), col("_form")],
            [col(col::UPLOAD_ID), col("_form")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col("_is_dummy").fill_null(lit(false)))
        .cache();

    // The suspects' copies, exactly: a hash collision between different keys is no duplicate.
    let dup_copies = if !any_suspect {
        None
    } else {
        let copies = per_form
            .clone()
            .filter(col(suspect_col(col::ROW_INDEX)).is_not_null())
            .select([
                col(col::UPLOAD_ID),
                col(col::COLUMN),
                col(suspect_col(col::ROW_INDEX)).alias(col::ROW_INDEX),
                col(suspect_col(col::SRC_FILE)).alias(col::SRC_FILE),
                col(suspect_col(col::SRC_ROW)).alias(col::SRC_ROW),
                col("_filled").and(col("_is_dummy").not()).alias("_billable"),
            ])
            .with_column(len().over(key3.clone()).stage("R1 duplicates")?.alias("_copies"))
            .filter(col("_copies").gt(lit(1)))
            .collect()
            .stage("R1 duplicates")?;
        (copies.height() > 0).then_some(copies)
    };

    // Billable = filled and not a dummy of the upload, per (upload, column), less what the extra
    // copies of a duplicated key added (counted once, billable when any copy is); summed over the
    // selected columns of each upload.
    let per_column = per_form.group_by(keys.clone()).agg([
        col("_n").sum(),
        col("_n").filter(col("_filled").and(col("_is_dummy").not())).sum().alias("_billable"),
    ]);
    let per_column = match &dup_copies {
        None => per_column,
        Some(copies) => {
            let surplus = copies
                .clone()
                .lazy()
                .group_by(key3.clone())
                .agg([(col("_billable").cast(DataType::Int64).sum()
                    - col("_billable").any(true).cast(DataType::Int64))
                .alias("_surplus")])
                .group_by(keys.clone())
                .agg([col("_surplus").sum()]);
            per_column
                .join(surplus, keys.clone(), keys.clone(), JoinArgs::new(JoinType::Left))
                .with_column((col("_billable") - col("_surplus").fill_null(lit(0))).alias("_billable"))
                .drop(cols(["_surplus"]))
        }
    };
    let tta_pairs = uploads
        .clone()
        .lazy()
        .select([col(col::UPLOAD_ID), col(col::TTA_COLUMNS).alias(col::COLUMN)])
        .explode(cols([col::COLUMN]), ExplodeOptions { empty_as_null: false, keep_nulls: false })
        .unique(None, UniqueKeepStrategy::Any);
    let per_column = per_column
        .join(
            uploads.lazy().select([col(col::UPLOAD_ID)]),
            [col(col::UPLOAD_ID)],
            [col(col::UPLOAD_ID)],
            JoinArgs::new(JoinType::Semi),
        )
        .cache();
    let billable_per_upload = per_column
        .clone()
        .join(tta_pairs, keys.clone(), keys.clone(), JoinArgs::new(JoinType::Semi))
        .group_by([col(col::UPLOAD_ID)])
        .agg([col("_billable").sum().alias("billable_cells")]);
    let cell_rows = per_column.group_by([col(col::UPLOAD_ID)]).agg([col("_n").sum().alias("cell_rows")]);
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

    let duplicate_rejects = match dup_copies {
        None => DataFrame::empty_with_schema(&crate::schema::rejects_schema()),
        Some(copies) => copies
            .lazy()
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
            .stage("R1 duplicates")?,
    };
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
    fn a_cells_form_agrees_with_the_plain_definition() {
        use super::CellForm;
        use polars::prelude::*;
        let values: Vec<Option<&str>> = vec![
            None,
            Some(""),
            Some("   "),
            Some("\u{2003}\t\n"),
            Some("-"),
            Some(" n/a "),
            Some("N/A"),
            Some("none"),
            Some("nonE\u{3000}"),
            Some("a\nb"),
            Some("a b"),
            Some("  abc\u{3000}"),
            Some("abcd"),
            Some("\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}x\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}"),
            Some("ÉÉÉ"),
            Some("ÉÉÉÉ"),
            Some("n/a, really"),
        ];
        let forms: std::collections::HashSet<String> =
            ["-", "n/a", "none", "ééé", "x"].into_iter().map(String::from).collect();
        let longest = forms.iter().map(|f| f.chars().count()).max().unwrap();
        // The plain definition: trimmed of Unicode white space; empty, else lower-cased and
        // looked up.
        let plain = |v: Option<&str>| {
            let t = v.map(|s| s.trim_matches(char::is_whitespace)).unwrap_or("");
            if t.is_empty() {
                CellForm::Empty
            } else if forms.contains(&t.to_lowercase()) {
                CellForm::Dummy(t.to_lowercase())
            } else {
                CellForm::Filled
            }
        };
        // Any bound at least as long as the longest form gives the same answer.
        for bound in [longest, longest + 1, longest + 7] {
            for v in values.iter().flatten() {
                assert_eq!(super::cell_form(v, &forms, bound), plain(Some(v)), "{v:?}, bound {bound}");
            }
        }
        // And the tag expression maps it to the grouping tag: "" empty, null filled, "=" and the
        // form a dummy.
        let df = df!("value" => values.clone()).unwrap();
        let tagger = super::CellTagger { forms: forms.clone(), longest, suspect_keys: vec![] };
        let out = df.lazy().select([tagger.expr()]).collect().unwrap();
        let got: Vec<Option<String>> =
            out.column("_tag").unwrap().str().unwrap().iter().map(|v| v.map(String::from)).collect();
        let want: Vec<Option<String>> = values
            .iter()
            .map(|v| match plain(*v) {
                CellForm::Empty => Some(String::new()),
                CellForm::Filled => None,
                CellForm::Dummy(f) => Some(format!("={f}")),
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_suspects_tag_reads_back_whatever_its_form_and_file_hold() {
        let tagger =
            super::CellTagger { forms: ["n/a".to_string()].into(), longest: 3, suspect_keys: vec![] };
        let file = "usage/date=2026-11-02/cells #1.parquet";
        for (value, class) in
            [(Some(" N/A "), Some("=n/a")), (Some("yes"), None), (Some(" "), Some("")), (None, Some(""))]
        {
            let tag = tagger.tag(value, Some((7, 12, file))).unwrap();
            assert_eq!(super::read_tag(Some(&tag)).unwrap(), (class, Some((7, 12, file))), "{value:?}");
            assert_eq!(tagger.tag(value, None).as_deref(), class, "{value:?} outside a suspect's tag");
        }
        let tag = "#7\u{0}12\u{0}usage/date=2026-11-02/cells #1.parquet\u{0}=n/a\u{0}#x";
        let (class, suspect) = super::read_tag(Some(tag)).unwrap();
        assert_eq!(class, Some("=n/a\u{0}#x"));
        assert_eq!(suspect, Some((7, 12, "usage/date=2026-11-02/cells #1.parquet")));
        assert_eq!(super::read_tag(Some("#7\u{0}12\u{0}f\u{0}~")).unwrap().0, None, "filled");
        assert_eq!(super::read_tag(Some("#7\u{0}12\u{0}f\u{0}")).unwrap().0, Some(""), "empty");
        assert!(super::read_tag(Some("#x")).is_err());
        assert_eq!(super::read_tag(Some("=-")).unwrap(), (Some("=-"), None));
        assert_eq!(super::read_tag(None).unwrap(), (None, None));
    }

    #[test]
    fn a_dummy_padded_with_much_white_space_is_still_a_dummy() {
        let padded = format!("{}N/A{}", " ".repeat(40), "\u{2003}".repeat(30));
        let c = cells(&[
            ("u1", "q1", 0, Some(padded.as_str())),
            ("u1", "q1", 1, Some("n/a, really")), // longer than every dummy: billable
            ("u1", "q2", 0, Some("yes")),
        ]);
        let e = price(&[upload("e1", "u1", None)], c, "1", 1, UTC);
        assert_eq!(expected_of(&e, "e1"), "2.0000");
    }

    #[test]
    fn several_duplicated_keys_in_one_column_each_count_once() {
        let c = cells(&[
            ("u1", "q1", 0, Some("a")),
            ("u1", "q1", 1, Some("-")),
            ("u1", "q1", 0, Some("a")),
            ("u1", "q1", 2, Some("x")),
            ("u1", "q1", 1, Some(" - ")), // a dummy copy of a dummy: the key stays a dummy
            ("u1", "q1", 0, Some("a again")), // a third copy
        ]);
        let rules = crate::testkit::rules();
        let evs = crate::testkit::events(&[upload("e1", "u1", None)]);
        let counts = super::count_cells(c.clone().lazy(), evs.lazy(), &rules).unwrap();
        assert_eq!(counts.duplicate_rejects.height(), 3, "two extra copies of row 0, one of row 1");
        let mut rows: Vec<i64> =
            counts.duplicate_rejects.column("row").unwrap().i64().unwrap().into_no_null_iter().collect();
        rows.sort_unstable();
        assert_eq!(rows, vec![3, 5, 6], "the later copies, by file row");
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
