-- credit-recon: the credit ledger in PostgreSQL (SPEC §2 "ledger entries") and the findings the
-- job writes back (`credit-recon run --write-findings`). Idempotent: every statement may run again
-- on a database that has it already (`credit-recon ledger load --create-schema` runs this file).
-- Tables go into the first schema of the search_path.
--
-- Identifiers use the "C" collation so that the database orders them byte by byte, as the job
-- does: the entry "just before" another in BALANCE_BREAK is the same on both sides.

CREATE TABLE IF NOT EXISTS ledger_entries (
    entry_id      text COLLATE "C" PRIMARY KEY,
    posted_at     timestamptz      NOT NULL,
    account_id    text COLLATE "C" NOT NULL,
    project_id    text COLLATE "C",
    entry_type    text             NOT NULL
        CONSTRAINT ledger_entries_entry_type_check
        CHECK (entry_type IN ('charge', 'refund', 'purchase', 'grant', 'adjustment')),
    category      text
        CONSTRAINT ledger_entries_category_check
        CHECK (category IN ('import', 'rerun', 'smart_column', 'translation')),
    -- Signed: the effect on the account's credit balance (charges negative). The sign rule of
    -- SPEC §4 is deliberately not a constraint here: an entry that breaks it is stored, and the
    -- job reports it as a reject, as it does for a ledger file.
    amount        numeric(18, 4)   NOT NULL,
    -- A charge: the event_id it bills; a refund: the entry_id of the charge it refunds.
    reference_id  text COLLATE "C",
    balance_after numeric(18, 4)
);

COMMENT ON TABLE ledger_entries IS
    'Credit ledger (SPEC §2). amount is signed: the effect on the account''s credit balance.';

-- The extraction (extract_entries.sql): entries posted since a bound ...
CREATE INDEX IF NOT EXISTS ledger_entries_posted_at_idx ON ledger_entries (posted_at);
-- ... the refunds of a charge ...
CREATE INDEX IF NOT EXISTS ledger_entries_reference_id_idx ON ledger_entries (reference_id);
-- ... and, per account, the last entry before the bound (BALANCE_BREAK).
CREATE INDEX IF NOT EXISTS ledger_entries_account_posted_idx
    ON ledger_entries (account_id, posted_at, entry_id);

-- The findings of every run with --write-findings, one row per finding_id (stable across
-- reruns): the columns of findings.parquet, plus the run, the rule version and the time of the run
-- that last changed the row. A rerun of a date replaces that date's rows.
CREATE TABLE IF NOT EXISTS recon_findings (
    finding_id       text COLLATE "C" PRIMARY KEY,
    business_date    date             NOT NULL,
    finding_type     text             NOT NULL
        CONSTRAINT recon_findings_finding_type_check
        CHECK (finding_type IN ('MISSING_CHARGE', 'UNDERCHARGE', 'OVERCHARGE', 'UNEXPECTED_CHARGE',
                                'ORPHAN_CHARGE', 'DUPLICATE_CHARGE', 'CATEGORY_MISMATCH',
                                'UNCONFIRMED_CHARGE', 'LATE_CHARGE', 'BALANCE_BREAK',
                                'USAGE_DETAIL_MISSING')),
    severity         text             NOT NULL
        CONSTRAINT recon_findings_severity_check CHECK (severity IN ('high', 'medium', 'low')),
    account_id       text COLLATE "C",
    project_id       text COLLATE "C",
    event_id         text COLLATE "C",
    entry_id         text COLLATE "C",
    expected_credits numeric(18, 4),
    charged_credits  numeric(18, 4),
    delta_credits    numeric(18, 4),
    explanation      text             NOT NULL,
    run_id           text             NOT NULL,
    rule_version     text             NOT NULL,
    updated_at       timestamptz      NOT NULL DEFAULT now()
);

COMMENT ON TABLE recon_findings IS
    'Findings of credit-recon runs (SPEC §4), upserted by finding_id; run_id and updated_at are '
    'those of the run that last changed the row.';

CREATE INDEX IF NOT EXISTS recon_findings_business_date_idx ON recon_findings (business_date);
