//! The text-to-analyze cells of one upload: survey-like answers of realistic lengths, with a
//! realistic share of null, white-space-only and dummy cells, generated from the upload's own seed
//! so that a re-upload of the same file yields the same cells. Also the generator's own R1 test of
//! a cell (independent of the job's Polars expressions).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Columns an upload may select as text-to-analyze.
pub const TTA_POOL: &[&str] = &[
    "comment",
    "suggestion",
    "feedback",
    "answer",
    "reason",
    "improvement",
    "q1_open",
    "q2_open",
    "other_specify",
    "ticket_text",
    "review",
    "notes",
];

/// Columns that appear in the cells log but are not selected (free).
pub const FREE_POOL: &[&str] = &["respondent_id", "segment", "store", "stars"];

/// Dummy lists an upload may define (null in most uploads: the rules' defaults apply).
pub const DUMMY_LISTS: &[&[&str]] =
    &[&["none"], &["N/A", "none"], &["-", "n.a."], &["no answer", "-"], &[" None "], &["n/a", "None "]];

/// Values that look like dummies: some are dummies of an upload, some are not (`--`, `n/a please`).
const DUMMY_LIKE: &[&str] = &[
    "N/A",
    "n/a",
    " n/a ",
    "-",
    " - ",
    "none",
    "NONE",
    "None ",
    "n.a.",
    "no answer",
    "--",
    "n/a please",
    "none of the above",
];

/// White space of several kinds (Unicode `White_Space`).
const BLANKS: &[&str] = &[" ", "  ", "\t", "\u{00A0}", "\u{2003}", " \t ", "\n", "\u{00A0}\u{00A0}"];

const WORDS: &[&str] = &[
    "the",
    "staff",
    "was",
    "very",
    "friendly",
    "and",
    "helpful",
    "but",
    "checkout",
    "took",
    "too",
    "long",
    "app",
    "crashed",
    "twice",
    "when",
    "I",
    "tried",
    "to",
    "pay",
    "prices",
    "went",
    "up",
    "again",
    "this",
    "month",
    "please",
    "add",
    "more",
    "vegan",
    "options",
    "opening",
    "hours",
    "should",
    "be",
    "longer",
    "on",
    "weekends",
    "delivery",
    "arrived",
    "late",
    "packaging",
    "damaged",
    "great",
    "product",
    "would",
    "recommend",
    "it",
    "to",
    "friends",
    "support",
    "answered",
    "quickly",
    "my",
    "question",
    "not",
    "resolved",
    "website",
    "is",
    "confusing",
    "cannot",
    "find",
    "the",
    "invoice",
    "manager",
    "was",
    "rude",
    "clean",
    "store",
    "parking",
    "is",
    "difficult",
    "loyalty",
    "card",
    "works",
    "well",
    "wifi",
    "slow",
    "in",
    "the",
    "office",
    "training",
    "useful",
    "for",
    "new",
    "colleagues",
    "onboarding",
    "could",
    "be",
    "shorter",
    "meetings",
    "are",
    "too",
    "many",
    "communication",
    "between",
    "teams",
    "needs",
    "work",
    "salary",
    "benefits",
    "fair",
    "workload",
    "high",
    "lately",
    "feature",
    "request",
    "export",
    "to",
    "excel",
    "dashboard",
    "loads",
    "slowly",
    "search",
    "results",
    "irrelevant",
    "love",
    "the",
    "new",
    "design",
    "battery",
    "drains",
    "fast",
    "screen",
    "quality",
    "excellent",
    "price",
    "performance",
    "ratio",
    "good",
    "customer",
    "service",
    "needs",
    "improvement",
    "waited",
    "twenty",
    "minutes",
    "on",
    "hold",
    "refund",
    "processed",
    "smoothly",
    "café",
    "Zürich",
    "naïve",
    "überall",
    "très",
    "bien",
];

/// What an upload's cells look like.
#[derive(Debug, Clone)]
pub struct CellSpec {
    /// Rows of the uploaded file.
    pub rows: u32,
    /// Selected text-to-analyze columns.
    pub tta: Vec<String>,
    /// Other columns present in the cells log (free).
    pub free: Vec<String>,
    /// The upload's own dummy values; `None` means the rules' defaults.
    pub dummies: Option<Vec<String>>,
    /// Seed of the upload's cells.
    pub seed: u64,
    /// Whether one cell key appears a second time (an input error the job counts once).
    pub duplicate_key: bool,
}

/// One cell of the log.
#[derive(Debug, Clone)]
pub struct Cell<'a> {
    /// Column name.
    pub column: &'a str,
    /// Row index in the file.
    pub row_index: i64,
    /// Value, `None` for a null.
    pub value: Option<&'a str>,
}

/// R1 as the SPEC states it: a value is billable when it is not null, not only white space
/// (`char::is_whitespace`), and, trimmed and lower-cased, not one of the dummies (given here
/// already trimmed and lower-cased).
pub fn is_billable(value: Option<&str>, dummies: &[String]) -> bool {
    let Some(v) = value else { return false };
    let t = v.trim_matches(char::is_whitespace);
    if t.is_empty() {
        return false;
    }
    let lower = t.to_lowercase();
    !dummies.contains(&lower)
}

/// The dummy list in compared form (trimmed, lower-cased, empty ones dropped).
pub fn compared_dummies(own: Option<&[String]>, defaults: &[String]) -> Vec<String> {
    let list: &[String] = own.unwrap_or(defaults);
    list.iter()
        .map(|d| d.trim_matches(char::is_whitespace).to_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// Counts of one upload's cells.
#[derive(Debug, Clone, Copy, Default)]
pub struct CellCounts {
    /// Rows written to the cells log (every column, duplicates included).
    pub rows: u64,
    /// Cells of the selected columns (distinct keys).
    pub tta_cells: u64,
    /// Billable cells (distinct keys, R1).
    pub billable: u64,
}

/// Generates every cell of an upload in log order and passes it to `sink`; returns the counts.
/// `dummies` is the compared dummy list that applies to the upload.
pub fn generate(spec: &CellSpec, dummies: &[String], mut sink: impl FnMut(Cell<'_>)) -> CellCounts {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut counts = CellCounts::default();
    let mut buf = String::with_capacity(1024);
    // The duplicated key, if any: (column position among the TTA columns, row).
    let dup = if spec.duplicate_key && spec.rows > 0 && !spec.tta.is_empty() {
        Some((rng.random_range(0..spec.tta.len()), rng.random_range(0..spec.rows) as i64))
    } else {
        None
    };
    let mut dup_billable = false;
    for row in 0..spec.rows as i64 {
        for (ci, column) in spec.tta.iter().enumerate() {
            let value = tta_value(&mut rng, &mut buf);
            let billable = is_billable(value.then_some(buf.as_str()), dummies);
            counts.tta_cells += 1;
            if Some((ci, row)) == dup {
                dup_billable = billable;
            }
            counts.billable += u64::from(billable);
            counts.rows += 1;
            sink(Cell { column, row_index: row, value: value.then_some(buf.as_str()) });
        }
        for column in &spec.free {
            free_value(&mut rng, &mut buf, column);
            counts.rows += 1;
            sink(Cell { column, row_index: row, value: Some(buf.as_str()) });
        }
    }
    if let Some((ci, row)) = dup {
        // The extra copy: billable exactly when the original is, blank, or billable where the
        // original was not (the key is billable when any copy is).
        let (value, adds) = match rng.random_range(0..3) {
            0 => (if dup_billable { Some("copy of a billable answer") } else { None }, false),
            1 => (Some(" "), false),
            _ => (Some("answer filled in on a second pass"), !dup_billable),
        };
        counts.billable += u64::from(adds);
        counts.rows += 1;
        sink(Cell { column: &spec.tta[ci], row_index: row, value });
    }
    counts
}

/// Writes a TTA value into `buf`; false means null.
fn tta_value(rng: &mut ChaCha8Rng, buf: &mut String) -> bool {
    buf.clear();
    let roll: u32 = rng.random_range(0..1000);
    if roll < 60 {
        return false; // 6 % null
    }
    if roll < 90 {
        buf.push_str(BLANKS[rng.random_range(0..BLANKS.len())]); // 3 % white space only
        return true;
    }
    if roll < 130 {
        buf.push_str(DUMMY_LIKE[rng.random_range(0..DUMMY_LIKE.len())]); // 4 % dummy-like
        return true;
    }
    // Text: mostly short answers, some paragraphs.
    let len_roll: u32 = rng.random_range(0..100);
    let target = if len_roll < 70 {
        rng.random_range(3..40)
    } else if len_roll < 95 {
        rng.random_range(40..200)
    } else {
        rng.random_range(200..1000)
    };
    if rng.random_bool(0.05) {
        buf.push(' ');
    }
    let mut first = true;
    while buf.len() < target {
        let w = WORDS[rng.random_range(0..WORDS.len())];
        if !first {
            buf.push(if rng.random_bool(0.08) { ',' } else { ' ' });
            if buf.ends_with(',') {
                buf.push(' ');
            }
        }
        if first {
            let mut cs = w.chars();
            if let Some(c) = cs.next() {
                buf.extend(c.to_uppercase());
                buf.push_str(cs.as_str());
            }
            first = false;
        } else {
            buf.push_str(w);
        }
    }
    if rng.random_bool(0.5) {
        buf.push('.');
    }
    if rng.random_bool(0.03) {
        buf.push_str("  ");
    }
    true
}

fn free_value(rng: &mut ChaCha8Rng, buf: &mut String, column: &str) {
    use std::fmt::Write as _;
    buf.clear();
    let _ = match column {
        "respondent_id" => write!(buf, "R-{:06}", rng.random_range(0..1_000_000)),
        "stars" => write!(buf, "{}", rng.random_range(1..=5)),
        "store" => write!(buf, "store {}", rng.random_range(1..=400)),
        _ => write!(buf, "{}", ["A", "B", "C", "N/A"][rng.random_range(0..4)]),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        vec!["N/A".into(), "-".into()]
    }

    #[test]
    fn billable_follows_r1() {
        let d = compared_dummies(None, &defaults());
        assert!(!is_billable(None, &d));
        assert!(!is_billable(Some(" \u{00A0}\t"), &d));
        assert!(!is_billable(Some(" n/a "), &d));
        assert!(is_billable(Some("--"), &d));
        assert!(is_billable(Some("n/a please"), &d));
        let own = compared_dummies(Some(&[" None ".to_string()]), &defaults());
        assert!(is_billable(Some("N/A"), &own));
        assert!(!is_billable(Some("NONE"), &own));
    }

    #[test]
    fn same_seed_same_cells() {
        let spec = CellSpec {
            rows: 50,
            tta: vec!["comment".into(), "reason".into()],
            free: vec!["stars".into()],
            dummies: None,
            seed: 7,
            duplicate_key: true,
        };
        let d = compared_dummies(None, &defaults());
        let mut a = Vec::new();
        let ca =
            generate(&spec, &d, |c| a.push((c.column.to_string(), c.row_index, c.value.map(String::from))));
        let mut b = Vec::new();
        let cb =
            generate(&spec, &d, |c| b.push((c.column.to_string(), c.row_index, c.value.map(String::from))));
        assert_eq!(a, b);
        assert_eq!(ca.tta_cells, 100);
        assert_eq!(ca.rows, 151);
        assert_eq!(ca.billable, cb.billable);
    }
}
