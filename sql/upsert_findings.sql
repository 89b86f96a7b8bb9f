-- `credit-recon run --write-findings`: upserts the run's findings by finding_id.
-- $1 run id, $2 rule version. A finding already there with the same values (rule version
-- included) is left alone, so a rerun that finds the same changes nothing, not even run_id or
-- updated_at; a finding whose values changed takes the run's id and time.
INSERT INTO recon_findings AS f
    (finding_id, business_date, finding_type, severity, account_id, project_id, event_id, entry_id,
     expected_credits, charged_credits, delta_credits, explanation, run_id, rule_version, updated_at)
SELECT finding_id, business_date, finding_type, severity, account_id, project_id, event_id, entry_id,
       expected_credits, charged_credits, delta_credits, explanation, $1::text, $2::text, now()
FROM recon_findings_run
ON CONFLICT (finding_id) DO UPDATE SET
    business_date    = EXCLUDED.business_date,
    finding_type     = EXCLUDED.finding_type,
    severity         = EXCLUDED.severity,
    account_id       = EXCLUDED.account_id,
    project_id       = EXCLUDED.project_id,
    event_id         = EXCLUDED.event_id,
    entry_id         = EXCLUDED.entry_id,
    expected_credits = EXCLUDED.expected_credits,
    charged_credits  = EXCLUDED.charged_credits,
    delta_credits    = EXCLUDED.delta_credits,
    explanation      = EXCLUDED.explanation,
    run_id           = EXCLUDED.run_id,
    rule_version     = EXCLUDED.rule_version,
    updated_at       = EXCLUDED.updated_at
WHERE (f.business_date, f.finding_type, f.severity, f.account_id, f.project_id, f.event_id,
       f.entry_id, f.expected_credits, f.charged_credits, f.delta_credits, f.explanation,
       f.rule_version)
      IS DISTINCT FROM
      (EXCLUDED.business_date, EXCLUDED.finding_type, EXCLUDED.severity, EXCLUDED.account_id,
       EXCLUDED.project_id, EXCLUDED.event_id, EXCLUDED.entry_id, EXCLUDED.expected_credits,
       EXCLUDED.charged_credits, EXCLUDED.delta_credits, EXCLUDED.explanation,
       EXCLUDED.rule_version)
