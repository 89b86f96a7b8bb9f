-- `credit-recon ledger load`: upserts the staged entries into ledger_entries by entry_id, in the
-- load's transaction. Idempotent: a row that is already there with the same values is left alone,
-- one whose values differ is updated, and entries that are in the table but not in the files stay.
-- Returns how many rows were inserted and updated.
WITH upserted AS (
    INSERT INTO ledger_entries AS t
        (entry_id, posted_at, account_id, project_id, entry_type, category, amount, reference_id,
         balance_after)
    SELECT entry_id, posted_at, account_id, project_id, entry_type, category, amount, reference_id,
           balance_after
    FROM recon_load_entries
    ON CONFLICT (entry_id) DO UPDATE SET
        posted_at     = EXCLUDED.posted_at,
        account_id    = EXCLUDED.account_id,
        project_id    = EXCLUDED.project_id,
        entry_type    = EXCLUDED.entry_type,
        category      = EXCLUDED.category,
        amount        = EXCLUDED.amount,
        reference_id  = EXCLUDED.reference_id,
        balance_after = EXCLUDED.balance_after
    WHERE (t.posted_at, t.account_id, t.project_id, t.entry_type, t.category, t.amount,
           t.reference_id, t.balance_after)
          IS DISTINCT FROM
          (EXCLUDED.posted_at, EXCLUDED.account_id, EXCLUDED.project_id, EXCLUDED.entry_type,
           EXCLUDED.category, EXCLUDED.amount, EXCLUDED.reference_id, EXCLUDED.balance_after)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted)     AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
FROM upserted
