-- `credit-recon run --write-findings`: removes the findings of the run's business date ($1,
-- YYYY-MM-DD) that the run no longer has, so that a rerun replaces the date's findings.
DELETE FROM recon_findings f
WHERE f.business_date = $1::text::date
  AND NOT EXISTS (SELECT 1 FROM recon_findings_run r WHERE r.finding_id = f.finding_id)
