//! Every table's column names and types, declared once: the inputs of SPEC §2 and the reports of §5.

use polars::prelude::*;

/// Precision of every amount in credits (Parquet `Decimal(18,4)`).
pub const MONEY_PRECISION: usize = 18;
/// Fractional digits of every amount in credits.
pub const MONEY_SCALE: usize = 4;
/// Scale used inside a computation so that a charge is rounded once, at its end.
pub const WORK_SCALE: usize = 12;
/// Precision used inside a computation.
pub const WORK_PRECISION: usize = 38;

/// The dtype of an amount in credits.
pub fn money() -> DataType {
    DataType::Decimal(MONEY_PRECISION, MONEY_SCALE)
}

/// The dtype of a timestamp: microseconds, UTC.
pub fn timestamp() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

/// Column names, as `const`s so a typo is a compile error.
pub mod col {
    #![allow(missing_docs, reason = "each constant is the column of the same name in SPEC §2 and §5")]
    // reference tables
    pub const PLAN_ID: &str = "plan_id";
    pub const FREE_RERUNS: &str = "free_reruns";
    pub const FREE_SMART_COLUMN_RUNS: &str = "free_smart_column_runs";
    pub const TRANSLATION_CREDITS_PER_CELL: &str = "translation_credits_per_cell";
    pub const ACCOUNT_ID: &str = "account_id";
    pub const NAME: &str = "name";
    pub const SUPPORT_EMAIL: &str = "support_email";
    pub const PROJECT_ID: &str = "project_id";
    pub const IS_DEMO: &str = "is_demo";
    pub const CREATED_AT: &str = "created_at";
    // events
    pub const EVENT_ID: &str = "event_id";
    pub const OCCURRED_AT: &str = "occurred_at";
    pub const EVENT_TYPE: &str = "event_type";
    pub const UPLOAD_ID: &str = "upload_id";
    pub const TTA_COLUMNS: &str = "tta_columns";
    pub const DUMMY_VALUES: &str = "dummy_values";
    pub const FILE_SHA256: &str = "file_sha256";
    pub const CELLS_REPORTED: &str = "cells_reported";
    pub const RERUN_SCOPE: &str = "rerun_scope";
    pub const RERUN_FRACTION: &str = "rerun_fraction";
    pub const ROWS_COMPUTED: &str = "rows_computed";
    pub const CELLS_TRANSLATED: &str = "cells_translated";
    pub const CONFIRMED: &str = "confirmed";
    // cells
    pub const COLUMN: &str = "column";
    pub const ROW_INDEX: &str = "row_index";
    pub const VALUE: &str = "value";
    // ledger
    pub const ENTRY_ID: &str = "entry_id";
    pub const POSTED_AT: &str = "posted_at";
    pub const ENTRY_TYPE: &str = "entry_type";
    pub const CATEGORY: &str = "category";
    pub const AMOUNT: &str = "amount";
    pub const REFERENCE_ID: &str = "reference_id";
    pub const BALANCE_AFTER: &str = "balance_after";
    // provenance of an input row, kept for the rejects report
    pub const SRC_FILE: &str = "_file";
    pub const SRC_ROW: &str = "_row";
    // derived
    pub const SEQ: &str = "seq";
    pub const BUSINESS_DATE: &str = "business_date";
    pub const MONTH: &str = "business_month";
    // expected_charges
    pub const QUANTITY: &str = "quantity";
    pub const FREE_QUANTITY: &str = "free_quantity";
    pub const BILLABLE_QUANTITY: &str = "billable_quantity";
    pub const UNIT_PRICE: &str = "unit_price";
    pub const EXPECTED_CREDITS: &str = "expected_credits";
    pub const RULE_ID: &str = "rule_id";
    pub const RULE_VERSION: &str = "rule_version";
    pub const BASIS: &str = "basis";
    pub const BASIS_CREDITS: &str = "basis_credits";
    pub const EXPLANATION: &str = "explanation";
    pub const CONFIRMATION_REQUIRED: &str = "unconfirmed";
    // reconciliation, findings, refunds
    pub const CHARGED_CREDITS: &str = "charged_credits";
    pub const DELTA_CREDITS: &str = "delta_credits";
    pub const CHARGE_RANK: &str = "charge_rank";
    pub const STATUS: &str = "status";
    pub const CHARGE_CATEGORY: &str = "charge_category";
    pub const FINDING_ID: &str = "finding_id";
    pub const FINDING_TYPE: &str = "finding_type";
    pub const SEVERITY: &str = "severity";
    pub const CANDIDATE_ID: &str = "candidate_id";
    pub const REASON: &str = "reason";
    pub const REFUND_CREDITS: &str = "refund_credits";
    pub const REFUNDED_CREDITS: &str = "already_refunded_credits";
    pub const EVIDENCE: &str = "evidence";
    // rejects
    pub const TABLE: &str = "table";
    pub const FILE: &str = "file";
    pub const ROW: &str = "row";
    pub const RECORD_ID: &str = "record_id";
    // invoices (monthly statements)
    pub const INVOICE_MONTH: &str = "month";
    pub const ACCOUNT_NAME: &str = "account_name";
    pub const LINE_NO: &str = "line_no";
    pub const LINE: &str = "line";
    pub const CREDITS: &str = "credits";
    pub const PROJECTS: &str = "projects";
    pub const ENTRIES: &str = "entries";
    pub const EVENTS: &str = "events";
    pub const EVENTS_EXPECTED_UNKNOWN: &str = "events_expected_unknown";
    pub const RECORDED_BALANCE: &str = "recorded_balance";
    pub const RECORDED_AT_ENTRY: &str = "recorded_at_entry";
    pub const BALANCE_DIFFERENCE: &str = "balance_difference";
    pub const BALANCE_CHECK: &str = "balance_check";
}

/// How a column is typed and checked when it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 string.
    Str,
    /// 64-bit integer.
    Int,
    /// Boolean (`true`/`false` in CSV).
    Bool,
    /// Exact decimal in credits, `Decimal(18,4)`.
    Money,
    /// RFC 3339 timestamp, stored as UTC microseconds.
    Timestamp,
    /// List of strings (`|`-separated in CSV).
    StrList,
}

impl Kind {
    /// The Polars dtype of a column of this kind once read.
    pub fn dtype(self) -> DataType {
        match self {
            Kind::Str => DataType::String,
            Kind::Int => DataType::Int64,
            Kind::Bool => DataType::Boolean,
            Kind::Money => money(),
            Kind::Timestamp => timestamp(),
            Kind::StrList => DataType::List(Box::new(DataType::String)),
        }
    }

    /// The dtype a text format (CSV, NDJSON) carries this kind in before it is parsed.
    pub fn ndjson_dtype(self) -> DataType {
        match self {
            Kind::Str | Kind::Money | Kind::Timestamp => DataType::String,
            other => other.dtype(),
        }
    }
}

/// One column of an input table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Column name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// A null here makes the row a reject.
    pub required: bool,
    /// Allowed values, where the column is an enumeration.
    pub allowed: &'static [&'static str],
}

const fn c(name: &'static str, kind: Kind, required: bool) -> ColumnSpec {
    ColumnSpec { name, kind, required, allowed: &[] }
}

const fn e(name: &'static str, required: bool, allowed: &'static [&'static str]) -> ColumnSpec {
    ColumnSpec { name, kind: Kind::Str, required, allowed }
}

/// One input table of SPEC §2.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// Table name, which is also the file stem (`events.csv`, `events/part-0.parquet`).
    pub name: &'static str,
    /// Folder under the data root (`reference`, `usage`, `ledger`).
    pub area: &'static str,
    /// Whether the folder is split in `date=YYYY-MM-DD` partitions.
    pub partitioned: bool,
    /// Columns, in the order of the SPEC.
    pub columns: &'static [ColumnSpec],
    /// Columns that identify a row in the rejects report.
    pub record_id: &'static [&'static str],
}

impl TableSpec {
    /// The typed schema of the table once read.
    pub fn schema(&self) -> Schema {
        self.columns.iter().map(|c| Field::new(c.name.into(), c.kind.dtype())).collect()
    }
}

/// The event types of SPEC §2.
pub mod event_type {
    #![allow(missing_docs, reason = "each constant is the event type of the same name in SPEC §2")]
    pub const UPLOAD: &str = "upload";
    pub const RERUN: &str = "rerun";
    pub const SMART_COLUMN_RUN: &str = "smart_column_run";
    pub const TRANSLATION: &str = "translation";
    pub const UPLOAD_DELETED: &str = "upload_deleted";
    pub const PROJECT_DELETED: &str = "project_deleted";
    pub const ALL: &[&str] = &[UPLOAD, RERUN, SMART_COLUMN_RUN, TRANSLATION, UPLOAD_DELETED, PROJECT_DELETED];
}

/// The ledger entry types of SPEC §2.
pub mod entry_type {
    #![allow(missing_docs, reason = "each constant is the entry type of the same name in SPEC §2")]
    pub const CHARGE: &str = "charge";
    pub const REFUND: &str = "refund";
    pub const PURCHASE: &str = "purchase";
    pub const GRANT: &str = "grant";
    pub const ADJUSTMENT: &str = "adjustment";
    pub const ALL: &[&str] = &[CHARGE, REFUND, PURCHASE, GRANT, ADJUSTMENT];
}

/// The charge categories of SPEC §2.
pub mod category {
    #![allow(missing_docs, reason = "each constant is the category of the same name in SPEC §2")]
    pub const IMPORT: &str = "import";
    pub const RERUN: &str = "rerun";
    pub const SMART_COLUMN: &str = "smart_column";
    pub const TRANSLATION: &str = "translation";
    pub const ALL: &[&str] = &[IMPORT, RERUN, SMART_COLUMN, TRANSLATION];
}

/// The lines of a monthly statement (`invoices.parquet`), in statement order: the opening balance,
/// the movements of the month by entry type (charges by category), the closing balance.
pub mod invoice_line {
    #![allow(missing_docs, reason = "each line is described in the README's invoices table")]
    pub const OPENING_BALANCE: &str = "opening_balance";
    pub const PURCHASE: &str = "purchase";
    pub const GRANT: &str = "grant";
    pub const CHARGE_IMPORT: &str = "charge_import";
    pub const CHARGE_RERUN: &str = "charge_rerun";
    pub const CHARGE_SMART_COLUMN: &str = "charge_smart_column";
    pub const CHARGE_TRANSLATION: &str = "charge_translation";
    /// A charge whose ledger category is null: it has no expected credits beside it.
    pub const CHARGE_UNCATEGORIZED: &str = "charge_uncategorized";
    pub const REFUND: &str = "refund";
    pub const ADJUSTMENT: &str = "adjustment";
    pub const CLOSING_BALANCE: &str = "closing_balance";
    /// Prefix of a charge line; the rest is the charge's category.
    pub const CHARGE_PREFIX: &str = "charge_";
    /// Every line, in statement order (`line_no` is the position, from 1).
    pub const ALL: &[&str] = &[
        OPENING_BALANCE,
        PURCHASE,
        GRANT,
        CHARGE_IMPORT,
        CHARGE_RERUN,
        CHARGE_SMART_COLUMN,
        CHARGE_TRANSLATION,
        CHARGE_UNCATEGORIZED,
        REFUND,
        ADJUSTMENT,
        CLOSING_BALANCE,
    ];
}

/// The results of checking an account's closing balance against the ledger's own `balance_after`.
pub mod balance_check {
    #![allow(missing_docs, reason = "each value is described in the README's invoices table")]
    pub const AGREES: &str = "agrees";
    pub const DISAGREES: &str = "disagrees";
    pub const NOT_RECORDED: &str = "not_recorded";
}

use Kind::*;

/// `reference/plans.*`
pub const PLANS: TableSpec = TableSpec {
    name: "plans",
    area: "reference",
    partitioned: false,
    columns: &[
        c(col::PLAN_ID, Str, true),
        c(col::FREE_RERUNS, Money, true),
        c(col::FREE_SMART_COLUMN_RUNS, Int, true),
        c(col::TRANSLATION_CREDITS_PER_CELL, Money, true),
    ],
    record_id: &[col::PLAN_ID],
};

/// `reference/accounts.*`
pub const ACCOUNTS: TableSpec = TableSpec {
    name: "accounts",
    area: "reference",
    partitioned: false,
    columns: &[
        c(col::ACCOUNT_ID, Str, true),
        c(col::NAME, Str, false),
        c(col::PLAN_ID, Str, true),
        c(col::SUPPORT_EMAIL, Str, false),
    ],
    record_id: &[col::ACCOUNT_ID],
};

/// `reference/projects.*`
pub const PROJECTS: TableSpec = TableSpec {
    name: "projects",
    area: "reference",
    partitioned: false,
    columns: &[
        c(col::PROJECT_ID, Str, true),
        c(col::ACCOUNT_ID, Str, true),
        c(col::NAME, Str, false),
        c(col::IS_DEMO, Bool, true),
        c(col::CREATED_AT, Timestamp, false),
    ],
    record_id: &[col::PROJECT_ID],
};

/// `usage/date=D/events.*`: the usage log, one row per action.
pub const EVENTS: TableSpec = TableSpec {
    name: "events",
    area: "usage",
    partitioned: true,
    columns: &[
        c(col::EVENT_ID, Str, true),
        c(col::ACCOUNT_ID, Str, true),
        c(col::PROJECT_ID, Str, true),
        c(col::OCCURRED_AT, Timestamp, true),
        e(col::EVENT_TYPE, true, event_type::ALL),
        c(col::UPLOAD_ID, Str, false),
        c(col::TTA_COLUMNS, StrList, false),
        c(col::DUMMY_VALUES, StrList, false),
        c(col::FILE_SHA256, Str, false),
        c(col::CELLS_REPORTED, Int, false),
        e(col::RERUN_SCOPE, false, &["full", "partial"]),
        c(col::RERUN_FRACTION, Money, false),
        c(col::ROWS_COMPUTED, Int, false),
        c(col::CELLS_TRANSLATED, Int, false),
        c(col::CONFIRMED, Bool, false),
    ],
    record_id: &[col::EVENT_ID],
};

/// `usage/date=D/cells.*`: the uploaded text-to-analyze cells.
pub const CELLS: TableSpec = TableSpec {
    name: "cells",
    area: "usage",
    partitioned: true,
    columns: &[
        c(col::UPLOAD_ID, Str, true),
        c(col::COLUMN, Str, true),
        c(col::ROW_INDEX, Int, true),
        c(col::VALUE, Str, false),
    ],
    record_id: &[col::UPLOAD_ID, col::COLUMN, col::ROW_INDEX],
};

/// `ledger/date=D/entries.*`: the credit ledger.
pub const ENTRIES: TableSpec = TableSpec {
    name: "entries",
    area: "ledger",
    partitioned: true,
    columns: &[
        c(col::ENTRY_ID, Str, true),
        c(col::POSTED_AT, Timestamp, true),
        c(col::ACCOUNT_ID, Str, true),
        c(col::PROJECT_ID, Str, false),
        e(col::ENTRY_TYPE, true, entry_type::ALL),
        e(col::CATEGORY, false, category::ALL),
        c(col::AMOUNT, Money, true),
        c(col::REFERENCE_ID, Str, false),
        c(col::BALANCE_AFTER, Money, false),
    ],
    record_id: &[col::ENTRY_ID],
};

/// The schema of `rejects.parquet`.
pub fn rejects_schema() -> Schema {
    Schema::from_iter([
        Field::new(col::TABLE.into(), DataType::String),
        Field::new(col::FILE.into(), DataType::String),
        Field::new(col::ROW.into(), DataType::Int64),
        Field::new(col::RECORD_ID.into(), DataType::String),
        Field::new(col::REASON.into(), DataType::String),
    ])
}

/// The schema of `invoices.parquet`: one row per (account, statement line) of a month.
pub fn invoices_schema() -> Schema {
    let m = money();
    Schema::from_iter([
        Field::new(col::INVOICE_MONTH.into(), DataType::String),
        Field::new(col::ACCOUNT_ID.into(), DataType::String),
        Field::new(col::ACCOUNT_NAME.into(), DataType::String),
        Field::new(col::LINE_NO.into(), DataType::Int32),
        Field::new(col::LINE.into(), DataType::String),
        Field::new(col::CREDITS.into(), m.clone()),
        Field::new(col::CHARGED_CREDITS.into(), m.clone()),
        Field::new(col::EXPECTED_CREDITS.into(), m.clone()),
        Field::new(col::DELTA_CREDITS.into(), m.clone()),
        Field::new(col::PROJECTS.into(), DataType::List(Box::new(DataType::String))),
        Field::new(col::ENTRIES.into(), DataType::Int64),
        Field::new(col::EVENTS.into(), DataType::Int64),
        Field::new(col::EVENTS_EXPECTED_UNKNOWN.into(), DataType::Int64),
        Field::new(col::RECORDED_BALANCE.into(), m.clone()),
        Field::new(col::RECORDED_AT_ENTRY.into(), DataType::String),
        Field::new(col::BALANCE_DIFFERENCE.into(), m),
        Field::new(col::BALANCE_CHECK.into(), DataType::String),
    ])
}
