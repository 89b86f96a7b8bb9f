-- `credit-recon run --write-findings`: the session's staging table that the run's findings are
-- copied into (COPY recon_findings_run FROM STDIN WITH (FORMAT csv, HEADER true)) before
-- upsert_findings.sql and delete_stale_findings.sql.
CREATE TEMP TABLE recon_findings_run (
    finding_id       text COLLATE "C" PRIMARY KEY,
    business_date    date NOT NULL,
    finding_type     text NOT NULL,
    severity         text NOT NULL,
    account_id       text COLLATE "C",
    project_id       text COLLATE "C",
    event_id         text COLLATE "C",
    entry_id         text COLLATE "C",
    expected_credits numeric(18, 4),
    charged_credits  numeric(18, 4),
    delta_credits    numeric(18, 4),
    explanation      text NOT NULL
) ON COMMIT DROP;
