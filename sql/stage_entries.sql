-- `credit-recon ledger load`: the session's staging table that the ledger files are copied into
-- (COPY recon_load_entries FROM STDIN WITH (FORMAT csv, HEADER true)) before load_entries.sql.
CREATE TEMP TABLE recon_load_entries (
    entry_id      text COLLATE "C" PRIMARY KEY,
    posted_at     timestamptz    NOT NULL,
    account_id    text COLLATE "C" NOT NULL,
    project_id    text COLLATE "C",
    entry_type    text           NOT NULL,
    category      text,
    amount        numeric(18, 4) NOT NULL,
    reference_id  text COLLATE "C",
    balance_after numeric(18, 4)
) ON COMMIT DROP;
