//! R1 uploads: billable cells per upload, the import charge, and the timeline of uploads (when each
//! was removed) that the rerun basis and the upload refunds need.

use std::hash::BuildHasher;

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

/// The dummy forms of every upload (in compared form), ready for [`DummyForms::cell_form`]'s one
/// look at a value.
#[derive(Debug, Clone)]
pub struct DummyForms {
    forms: PlHashSet<String>,
    /// The length in characters of the longest form.
    longest: usize,
    /// `ascii_length[n]`: some form is ASCII and `n` characters long.
    ascii_length: Vec<bool>,
    /// `first[b]`: some form starts with the ASCII character `b`.
    first: [bool; 128],
}

impl DummyForms {
    /// The forms given, each already in compared form (see [`compared_form`]).
    pub fn new(forms: impl IntoIterator<Item = String>) -> Self {
        let forms: PlHashSet<String> = forms.into_iter().collect();
        let longest = forms.iter().map(|f| f.chars().count()).max().unwrap_or(0);
        let (mut ascii_length, mut first) = (vec![false; longest + 1], [false; 128]);
        for f in &forms {
            if f.is_ascii() {
                ascii_length[f.len()] = true;
            }
            if let Some(&b) = f.as_bytes().first().filter(|b| b.is_ascii()) {
                first[usize::from(b)] = true;
            }
        }
        Self { forms, longest, ascii_length, first }
    }

    /// True when a value that starts with byte `b` is filled whatever follows: `b` is a visible
    /// ASCII character (no white space: it stays first when the value is trimmed) that starts no
    /// form in either case. Most values are told apart this way, by their first byte alone.
    pub fn filled_by_first_byte(&self, b: u8) -> bool {
        b.is_ascii_graphic() && !self.first[usize::from(b.to_ascii_lowercase())]
    }

    /// What R1 needs of a cell's value, in one look: empty (empty or white space only: never
    /// billable), a dummy form when its compared form is one of the forms (the dummies of any
    /// upload: whether it is a dummy of the cell's own upload is decided on the grouped result),
    /// or filled.
    ///
    /// Most values are told filled before any character is lower-cased: a form has `longest`
    /// characters at most and a character 4 bytes at most; an ASCII value stays ASCII and keeps
    /// its length when lower-cased, so it can only be an ASCII form of its length and first letter.
    pub fn cell_form(&self, value: &str) -> CellForm {
        let trimmed = trim_white(value);
        if trimmed.is_empty() {
            return CellForm::Empty;
        }
        if trimmed.len() > 4 * self.longest {
            return CellForm::Filled;
        }
        let form = if trimmed.is_ascii() {
            let bytes = trimmed.as_bytes();
            let length_fits = self.ascii_length.get(bytes.len()).copied().unwrap_or(false);
            if !length_fits || !self.first[usize::from(bytes[0].to_ascii_lowercase())] {
                return CellForm::Filled;
            }
            trimmed.to_ascii_lowercase()
        } else {
            // Lower-casing never shortens a value in characters.
            if trimmed.chars().nth(self.longest).is_some() {
                return CellForm::Filled;
            }
            compared_form(trimmed)
        };
        if self.forms.contains(&form) { CellForm::Dummy(form) } else { CellForm::Filled }
    }
}

/// `value` trimmed as [`str::trim`] trims it. A value that starts and ends with a visible ASCII
/// character (most values) is returned as it is without a look at its characters: no such
/// character is white space, and neither can be part of a longer one.
fn trim_white(value: &str) -> &str {
    match value.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        [only] if only.is_ascii_graphic() => value,
        _ => value.trim(),
    }
}

/// See [`DummyForms::cell_form`].
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
/// dummy of some upload (see [`DummyForms::cell_form`]). A cell whose key hash is one of the suspected
/// duplicates' is tagged on its own, `"#"` then its `row_index`, file row, file and the class above
/// (`"~"` for filled) apart by NUL (which no path holds), so that its copies come out of the
/// grouping one by one and can be compared exactly.
struct CellTagger {
    forms: DummyForms,
    /// The key hashes of the suspected duplicates, sorted (see [`key_hash`]).
    suspect_keys: Vec<u64>,
    /// The same keys as a bitmap, the quick first look.
    suspects: KeyFilter,
}

/// The tag's prefix of a suspect's cell.
const SUSPECT: char = '#';
/// The class of a filled cell inside a suspect's tag (outside one, a filled cell's tag is null).
const FILLED: &str = "~";
/// The prefix of a dummy form in a tag.
const DUMMY: char = '=';

impl CellTagger {
    /// A tagger for the dummy forms `forms` and the suspects' key hashes `suspect_keys` (in any
    /// order).
    fn new(forms: DummyForms, mut suspect_keys: Vec<u64>) -> Self {
        suspect_keys.sort_unstable();
        suspect_keys.dedup();
        let suspects = KeyFilter::new(&suspect_keys);
        Self { forms, suspect_keys, suspects }
    }

    /// A cell's tag; `suspect` is where a suspected duplicate's cell is (see [`read_tag`]).
    fn tag(
        &self,
        value: Option<&str>,
        suspect: Option<Whereabouts<'_>>,
    ) -> Option<std::borrow::Cow<'static, str>> {
        use std::borrow::Cow;
        let class = match value.map(|v| self.forms.cell_form(v)) {
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

    /// The tags of one batch of cells: `c` holds the values and, when there are suspects, their
    /// key hashes, `row_index`, `src_row` and `src_file` (see [`CellTagger::expr`]). A plain loop
    /// over the values: this runs once for every cell of the log.
    fn tags(&self, c: &[Column]) -> PolarsResult<StringChunked> {
        let values = c[0].str()?;
        let mut out = StringChunkedBuilder::new("_tag".into(), values.len());
        let keys = match c.get(1) {
            Some(keys) => Some(keys.u64()?.rechunk()),
            None => None,
        };
        let keys = keys.as_ref().map(|k| k.cont_slice()).transpose()?;
        let mut row = 0;
        for arr in values.downcast_iter() {
            // The first bytes of a value are in its view (most values are decided by the first):
            // its text, elsewhere in memory, is read only when needed.
            for (value, view) in arr.iter().zip(arr.views().iter()) {
                let whereabouts = match keys {
                    Some(keys) => self.whereabouts(c, keys, row)?,
                    None => None,
                };
                row += 1;
                if value.is_some()
                    && whereabouts.is_none()
                    && view.length > 0
                    && self.forms.filled_by_first_byte(view.prefix.to_le_bytes()[0])
                {
                    out.append_null();
                } else {
                    out.append_option(self.tag(value, whereabouts));
                }
            }
        }
        Ok(out.finish())
    }

    /// Where the cell at `row` of the batch `c` is, when its key hash is a suspect's.
    fn whereabouts<'a>(
        &self,
        c: &'a [Column],
        keys: &[u64],
        row: usize,
    ) -> PolarsResult<Option<Whereabouts<'a>>> {
        let key = keys[row];
        if !self.suspects.might_hold(key) || self.suspect_keys.binary_search(&key).is_err() {
            return Ok(None);
        }
        let (index, rows, files) = (c[2].i64()?, c[3].i64()?, c[4].str()?);
        Ok(match (index.get(row), rows.get(row), files.get(row)) {
            (Some(i), Some(r), Some(file)) => Some((i, r, file)),
            _ => None,
        })
    }

    /// The tag expression over the cells log's `value` (and, when there are suspects, its key
    /// hash, `row_index`, `src_row` and `src_file`).
    fn expr(self) -> Expr {
        let field = |_: &Schema, _: &[Field]| Ok(Field::new("_tag".into(), DataType::String));
        let inputs = if self.suspect_keys.is_empty() {
            vec![]
        } else {
            vec![key_hash(), col(col::ROW_INDEX), col(col::SRC_ROW), col(col::SRC_FILE)]
        };
        col(col::VALUE)
            .map_many(move |c: &mut [Column]| Ok(self.tags(c)?.into_column()), &inputs, field)
            .alias("_tag")
    }
}

/// A bitmap of the suspects' key hashes by their low bits: most keys are told not to be a suspect's
/// by one bit, before the exact look in the sorted list.
#[derive(Debug, Clone)]
struct KeyFilter {
    bits: Vec<u64>,
}

impl KeyFilter {
    /// 2^16 bits: with a few thousand suspects, a key passes by chance a few times in a hundred.
    const BITS: u64 = 1 << 16;

    fn new(keys: &[u64]) -> Self {
        let mut bits = vec![0u64; (Self::BITS / 64) as usize];
        for k in keys {
            let b = k % Self::BITS;
            bits[(b / 64) as usize] |= 1 << (b % 64);
        }
        Self { bits }
    }

    /// False when `key` is none of the keys given; true when it may be.
    fn might_hold(&self, key: u64) -> bool {
        let b = key % Self::BITS;
        self.bits[(b / 64) as usize] & (1 << (b % 64)) != 0
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
///
/// One pass over the three key columns ([`key_hashes`]): a text's hash is remembered by its Arrow
/// view, so an upload id (the same for a whole upload) and the few column names are hashed once
/// per run of cells, not once per cell (Polars' hash of every string was a quarter of the duplicate
/// check and was paid again in R1's read).
fn key_hash() -> Expr {
    let field = |_: &Schema, _: &[Field]| Ok(Field::new("_key".into(), DataType::UInt64));
    col(col::UPLOAD_ID).map_many(
        |c: &mut [Column]| Ok(key_hashes(c[0].str()?, c[1].str()?, c[2].i64()?).into_column()),
        &[col(col::COLUMN), col(col::ROW_INDEX)],
        field,
    )
}

/// [`key_hash`] of each row: the wrapping sum of the three parts' hashes, each with its own seed
/// (fixed: the hashes only need to agree within a run).
fn key_hashes(uploads: &StringChunked, columns: &StringChunked, rows: &Int64Chunked) -> UInt64Chunked {
    let mut hashes = text_hashes(uploads, 0x5eed_0001);
    for (h, c) in hashes.iter_mut().zip(text_hashes(columns, 0x5eed_0011)) {
        *h = h.wrapping_add(c);
    }
    let state = foldhash::fast::FixedState::with_seed(0x5eed_0021);
    for (h, r) in hashes.iter_mut().zip(rows.iter()) {
        *h = h.wrapping_add(state.hash_one(r));
    }
    UInt64Chunked::from_vec("_key".into(), hashes)
}

/// The hash of each text of `ca` (foldhash of its bytes with `seed`; a null's is the hash of
/// `None`), each array's recent views remembered: within one array equal views hold equal text
/// (the same bytes inline, or the same place in the same buffer), so a remembered view's hash is
/// the text's. A view not remembered is hashed from its bytes: the result is the same either way.
fn text_hashes(ca: &StringChunked, seed: u64) -> Vec<u64> {
    const SLOTS: usize = 64;
    let state = foldhash::fast::FixedState::with_seed(seed);
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        // Direct-mapped by a mix of the view's bits: (view, hash).
        let mut seen: [Option<(u128, u64)>; SLOTS] = [None; SLOTS];
        for (text, view) in arr.iter().zip(arr.views().iter()) {
            let Some(text) = text else {
                out.push(state.hash_one(None::<&str>));
                continue;
            };
            let bits = view.as_u128();
            let slot =
                ((bits as u64 ^ (bits >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize;
            match seen[slot] {
                Some((v, h)) if v == bits => out.push(h),
                _ => {
                    let h = state.hash_one(text);
                    seen[slot] = Some((bits, h));
                    out.push(h);
                }
            }
        }
    }
    out
}

/// The values that occur more than once among `keys`, each once, in ascending order.
///
/// The keys are spread by their top bits into buckets small enough for the processor's cache
/// (one pass to count, one to place, each on every core), then each bucket is sorted and its
/// equal neighbours taken, the buckets shared between the cores. A plain sort of all 34.5 M key hashes of a
/// benchmark day was the duplicate check's longest part.
pub fn repeated_keys(keys: &UInt64Chunked) -> Vec<u64> {
    const BUCKET_BITS: u32 = 8;
    const BUCKETS: usize = 1 << BUCKET_BITS;
    let bucket = |k: u64| (k >> (u64::BITS - BUCKET_BITS)) as usize;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let per_core = keys.len().div_ceil(cores).max(1);
    // The chunks, dealt to one share per core.
    let shares =
        consecutive_groups(keys.downcast_iter().map(|arr| arr.values().as_slice()), |c| c.len(), per_core);
    let counted = |share: &[&[u64]]| {
        let mut counts = vec![0usize; BUCKETS];
        for k in share.iter().flat_map(|c| c.iter()) {
            counts[bucket(*k)] += 1;
        }
        counts
    };
    let counts: Vec<Vec<usize>> = std::thread::scope(|s| {
        let handles: Vec<_> = shares.iter().map(|share| s.spawn(move || counted(share))).collect();
        handles.into_iter().map(crate::par::joined).collect()
    });
    // Bucket b holds every share's keys of b, one share after the other: each share places its
    // keys into its own slices of the buckets, side by side with the others.
    let mut placed = vec![0u64; keys.len()];
    let mut slices: Vec<Vec<&mut [u64]>> = shares.iter().map(|_| Vec::with_capacity(BUCKETS)).collect();
    let lengths = (0..BUCKETS).flat_map(|b| counts.iter().map(move |c| c[b]));
    for (i, slice) in cut(&mut placed, lengths).into_iter().enumerate() {
        slices[i % shares.len()].push(slice);
    }
    std::thread::scope(|s| {
        for (share, mut slices) in shares.iter().zip(slices) {
            s.spawn(move || {
                let mut next = vec![0usize; BUCKETS];
                for k in share.iter().flat_map(|c| c.iter()) {
                    let b = bucket(*k);
                    slices[b][next[b]] = *k;
                    next[b] += 1;
                }
            });
        }
    });
    // Then each bucket is sorted and its equal neighbours taken, the buckets shared by the cores.
    let bucket_lengths = (0..BUCKETS).map(|b| counts.iter().map(|c| c[b]).sum());
    let groups = consecutive_groups(cut(&mut placed, bucket_lengths), |b| b.len(), per_core);
    let repeated: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|group| {
                s.spawn(move || {
                    let mut found = Vec::new();
                    for bucket in group {
                        bucket.sort_unstable();
                        for pair in bucket.windows(2) {
                            if pair[0] == pair[1] && found.last() != Some(&pair[0]) {
                                found.push(pair[0]);
                            }
                        }
                    }
                    found
                })
            })
            .collect();
        handles.into_iter().map(crate::par::joined).collect()
    });
    repeated.concat()
}

/// `items` in order, in groups of consecutive items each weighing about `per_group` (the last
/// may weigh less); no group is empty.
fn consecutive_groups<T>(
    items: impl IntoIterator<Item = T>,
    weight: impl Fn(&T) -> usize,
    per_group: usize,
) -> Vec<Vec<T>> {
    let (mut groups, mut group, mut size) = (Vec::new(), Vec::new(), 0);
    for item in items {
        size += weight(&item);
        group.push(item);
        if size >= per_group {
            groups.push(std::mem::take(&mut group));
            size = 0;
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

/// `all` cut into consecutive slices of the given lengths.
fn cut(mut all: &mut [u64], lengths: impl IntoIterator<Item = usize>) -> Vec<&mut [u64]> {
    lengths
        .into_iter()
        .map(|len| {
            let (head, tail) = std::mem::take(&mut all).split_at_mut(len);
            all = tail;
            head
        })
        .collect()
}

/// The dummy lists that apply to each upload, in compared form (`upload_id`, `_form`,
/// `_is_dummy`).
fn dummy_forms(uploads: &DataFrame, rules: &Rules) -> Result<DataFrame> {
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
    Ok(dummies)
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
///    or a dummy form of some upload: [`DummyForms::cell_form`], one look at each value); the exact
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
    let dummies = dummy_forms(&uploads, rules)?;
    let keys = [col(col::UPLOAD_ID), col(col::COLUMN)];
    let key3 = [col(col::UPLOAD_ID), col(col::COLUMN), col(col::ROW_INDEX)];
    // Every dummy form in use, of any upload.
    let all_forms = DummyForms::new(
        dummies
            .column("_form")
            .stage("R1 dummies")?
            .str()
            .stage("R1 dummies")?
            .iter()
            .flatten()
            .map(str::to_string),
    );

    // 1. The cheap duplicate check, on the keys alone: their hashes sorted; equal neighbours are
    //    suspects.
    let hashes = collect_big(cells.clone().select([key_hash().alias("_key")]), "R1 duplicate check")?;
    let suspect_keys =
        repeated_keys(hashes.column("_key").stage("R1 duplicates")?.u64().stage("R1 duplicates")?);
    drop(hashes);
    tracing::debug!(suspects = suspect_keys.len(), "R1 duplicate check: repeated key hashes");

    // 2. One read of every cell, grouped per (upload, column, tag), where the tag tells an empty
    //    cell, a filled one, and a dummy form of some upload (`cell_form`: one look at each
    //    value); a suspect's cell is tagged on its own (its row, file and file row), so that its
    //    copies can be compared exactly.
    let tagger = CellTagger::new(all_forms, suspect_keys);
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
            Some("NONE"),
            Some("nonx"),
            Some("mone"),
            Some("X"),
            Some(" x\t"),
            Some("\u{212a}"), // Kelvin sign: lower-cased, the ASCII "k"
            Some("K"),
            Some("\u{130}"), // capital I with dot: lower-cased, two characters
            Some("not applicable"),
            Some("Not Applicable "),
            Some("not applicablE!"),
        ];
        let forms: std::collections::HashSet<String> =
            ["-", "n/a", "none", "ééé", "x", "k", "i\u{307}", "not applicable"]
                .into_iter()
                .map(String::from)
                .collect();
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
        let dummies = super::DummyForms::new(forms.iter().cloned());
        for v in values.iter().flatten() {
            assert_eq!(dummies.cell_form(v), plain(Some(v)), "{v:?}");
        }
        let dummy_count = values.iter().filter(|v| matches!(plain(**v), CellForm::Dummy(_))).count();
        assert_eq!(dummy_count, 15, "the values hold dummies of every kind");
        // And the tag expression maps it to the grouping tag: "" empty, null filled, "=" and the
        // form a dummy.
        let df = df!("value" => values.clone()).unwrap();
        let tagger = super::CellTagger::new(dummies, vec![]);
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
        let tagger = super::CellTagger::new(super::DummyForms::new(["n/a".to_string()]), vec![]);
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
    fn a_key_hash_is_its_key_s_whatever_views_and_chunks_hold_it() {
        use polars::prelude::*;
        // Long upload ids (kept in buffers) and short ones (inline), 40 of them so that remembered
        // views collide in their slots; repeated by a gather, which repeats the views themselves
        // (as a dictionary page does), in runs and interleaved; then a second chunk.
        let ids: Vec<String> = (0..40)
            .map(|i| if i % 2 == 0 { format!("upload-with-a-long-id-{i:04}") } else { format!("u{i}") })
            .collect();
        let ids = StringChunked::from_iter_values("u".into(), ids.iter().map(String::as_str));
        let order: Vec<IdxSize> =
            (0..600u32).map(|i| if i < 300 { i / 10 % 40 } else { i * 7 % 40 }).collect();
        let mut uploads = ids.take(&IdxCa::from_vec("i".into(), order)).unwrap();
        uploads.append(&ids).unwrap();
        let n = uploads.len();
        assert_eq!(uploads.chunks().len(), 2);
        let columns = StringChunked::from_iter_values(
            "c".into(),
            (0..n).map(|i| ["text", "notes", "a-long-column-name"][i % 3]),
        );
        let rows = Int64Chunked::from_vec("r".into(), (0..n as i64).map(|i| i % 5).collect());
        let all = super::key_hashes(&uploads, &columns, &rows);
        // Each row's hash is the one of its key alone (a one-row array: nothing remembered).
        let mut by_key = std::collections::HashMap::new();
        for (i, h) in all.iter().enumerate() {
            let (u, c, r) = (uploads.get(i).unwrap(), columns.get(i).unwrap(), rows.get(i).unwrap());
            let alone = super::key_hashes(
                &StringChunked::from_slice("u".into(), &[u]),
                &StringChunked::from_slice("c".into(), &[c]),
                &Int64Chunked::from_slice("r".into(), &[r]),
            );
            assert_eq!(h, alone.get(0), "row {i}: ({u}, {c}, {r})");
            by_key.insert((u.to_string(), c.to_string(), r), h.unwrap());
        }
        // Different keys, different hashes (no collision among these).
        let distinct: std::collections::HashSet<u64> = by_key.values().copied().collect();
        assert_eq!(distinct.len(), by_key.len());
        assert!(by_key.len() > 200);
    }

    #[test]
    fn repeated_keys_are_every_value_seen_twice_or_more_whatever_its_bucket() {
        use polars::prelude::*;
        // Keys spread over every bucket (a multiplicative scramble), some repeated two or three
        // times, some next to each other in value, in three chunks.
        let spread = |i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut keys: Vec<u64> = (0..50_000).map(spread).collect();
        keys.extend((0..300).map(|i| spread(i * 97)));
        keys.extend((0..40).map(|i| spread(i * 97 * 3)));
        keys.extend([u64::MAX, u64::MAX, 0, 0, 1, u64::MAX - 1]);
        let mut ca = UInt64Chunked::from_vec("_key".into(), keys[..20_000].to_vec());
        ca.append(&UInt64Chunked::from_vec("_key".into(), keys[20_000..40_000].to_vec())).unwrap();
        ca.append(&UInt64Chunked::from_vec("_key".into(), keys[40_000..].to_vec())).unwrap();
        assert_eq!(ca.chunks().len(), 3);
        let mut counts = std::collections::HashMap::new();
        for k in &keys {
            *counts.entry(*k).or_insert(0) += 1;
        }
        let mut want: Vec<u64> = counts.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect();
        want.sort_unstable();
        assert_eq!(want.len(), 300 + 1, "the 300 multiples of 97 (0 among them) and u64::MAX");
        assert_eq!(super::repeated_keys(&ca), want);
        assert!(super::repeated_keys(&UInt64Chunked::from_vec("_key".into(), vec![])).is_empty());
    }

    #[test]
    fn the_quick_trim_trims_as_str_trim_does() {
        for v in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "ab",
            "a b",
            "\u{a0}a",
            "a\u{3000}",
            "é",
            "éa",
            "aé",
            "\u{85}x",
            "x\u{85}",
            "-",
            "\t-\n",
            "\u{1680}",
            "a\u{200b}",
        ] {
            assert_eq!(super::trim_white(v), v.trim(), "{v:?}");
        }
    }

    #[test]
    fn the_key_filter_passes_every_suspect() {
        let suspects: Vec<u64> = (0..2_000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect();
        let filter = super::KeyFilter::new(&suspects);
        assert!(suspects.iter().all(|k| filter.might_hold(*k)));
        let passed =
            (1..=100_000u64).filter(|i| filter.might_hold(i.wrapping_mul(0xd6e8_feb8_6659_fd93))).count();
        assert!(passed < 10_000, "{passed} of 100 000 other keys passed");
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
