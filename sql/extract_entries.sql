-- The ledger entries that `credit-recon run` needs for business date D, in the columns and text
-- forms of a ledger CSV file. The job runs it as
--   COPY (<this query>) TO STDOUT WITH (FORMAT csv, HEADER true)
-- in a read-only transaction, after
--   SELECT set_config('credit_recon.ledger_from', '<bound, RFC 3339>', true)
-- where the bound is the start of D in the business time zone, less the refund window
-- (refund_window_hours of the rules file), less one day. See sql/README.md for why these entries
-- give the same reports as reading every ledger file.
WITH
-- Every entry posted at or after the bound: all entries posted on D, the charges of D's events and
-- of the uploads that an ACCIDENTAL_UPLOAD on D looks back to, and their refunds.
recent AS MATERIALIZED (
    SELECT e.*
    FROM ledger_entries e
    WHERE e.posted_at >= current_setting('credit_recon.ledger_from')::timestamptz
),
-- Refunds of those charges posted before the bound (that is, before the charge: only in a broken
-- ledger, but the job subtracts every refund of a charge, whenever posted).
early_refunds AS (
    SELECT r.*
    FROM ledger_entries r
    WHERE r.entry_type = 'refund'
      AND r.posted_at < current_setting('credit_recon.ledger_from')::timestamptz
      AND r.reference_id IN (SELECT c.entry_id FROM recent c WHERE c.entry_type = 'charge')
),
-- For BALANCE_BREAK: per account, the last entry before the bound that the job accepts (the job
-- rejects a charge whose amount is not below 0, and a refund, purchase or grant whose amount is
-- not above 0; keep this in step with `entry_checks` in src/sources/mod.rs).
previous AS (
    SELECT p.*
    FROM (SELECT DISTINCT account_id FROM recent) a
    CROSS JOIN LATERAL (
        SELECT e.*
        FROM ledger_entries e
        WHERE e.account_id = a.account_id
          AND e.posted_at < current_setting('credit_recon.ledger_from')::timestamptz
          AND NOT (e.entry_type = 'charge' AND e.amount >= 0)
          AND NOT (e.entry_type IN ('refund', 'purchase', 'grant') AND e.amount <= 0)
        ORDER BY e.posted_at DESC, e.entry_id COLLATE "C" DESC
        LIMIT 1
    ) p
),
wanted AS (
    SELECT entry_id, posted_at, account_id, project_id, entry_type, category, amount, reference_id,
           balance_after
    FROM recent
    UNION
    SELECT entry_id, posted_at, account_id, project_id, entry_type, category, amount, reference_id,
           balance_after
    FROM early_refunds
    UNION
    SELECT entry_id, posted_at, account_id, project_id, entry_type, category, amount, reference_id,
           balance_after
    FROM previous
)
SELECT
    w.entry_id,
    to_char(w.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS posted_at,
    w.account_id,
    w.project_id,
    w.entry_type,
    w.category,
    w.amount::text AS amount,
    w.reference_id,
    w.balance_after::text AS balance_after
FROM wanted w
ORDER BY w.posted_at, w.entry_id COLLATE "C"
