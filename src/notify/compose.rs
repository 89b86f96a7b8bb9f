//! The messages of a night, written from its results: the finance summary, the discrepancy email
//! to support (refund candidates and serious findings in plain words, largest first) and its
//! per-account copies; each in plain text and HTML, with a subject that says the date and the counts.

use std::fmt::Write as _;

use lettre::message::Mailbox;
use rust_decimal::Decimal;

use super::config::{Settings, Thresholds};
use super::results::{Candidate, Finding, Results};
use crate::reports::file;

/// A message before it is sent: who gets it, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Stable name of the message within a date: `finance`, `support`, `account:<id>`.
    pub key: String,
    /// Recipients.
    pub to: Vec<Mailbox>,
    /// Subject.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// Whether it reports anything (a message without is sent only when asked).
    pub has_content: bool,
}

/// A sentence a support agent can paste to a customer, for a finding type or refund reason.
pub fn plain_words(code: &str) -> &'static str {
    match code {
        "DUPLICATE_CHARGE" => "You were charged twice for the same action.",
        "ORPHAN_CHARGE" => "You were charged for an action we have no record of.",
        "UNEXPECTED_CHARGE" => {
            "You were charged for an action that is free (a demo project, your free quota, or nothing billable)."
        }
        "UNCONFIRMED_CHARGE" => "You were charged for a paid action that you had not confirmed.",
        "ACCIDENTAL_UPLOAD" => {
            "You were charged for an upload that you deleted soon after, without using it."
        }
        "DUPLICATE_UPLOAD" => "You were charged again for uploading the same file to the same project.",
        "OVERCHARGE" => "You were charged more than the price of the action.",
        "UNDERCHARGE" => "You were charged less than the price of the action.",
        "MISSING_CHARGE" => "A paid action was not charged.",
        "CATEGORY_MISMATCH" => "A charge was booked under the wrong category; its amount is right.",
        "LATE_CHARGE" => "A charge was posted later than usual after the action.",
        "BALANCE_BREAK" => "The credit balance shown after this ledger entry does not add up.",
        "USAGE_DETAIL_MISSING" => {
            "The cost of an upload could not be checked: its cell count was not recorded."
        }
        _ => "See the reports for this case.",
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An amount with its 4 decimals, exactly as in the reports.
pub fn money(d: Decimal) -> String {
    let mut d = d;
    d.rescale(crate::schema::MONEY_SCALE as u32);
    d.to_string()
}

fn opt_money(d: Option<Decimal>) -> String {
    d.map(money).unwrap_or_else(|| "unknown".into())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn severities_label(t: &Thresholds) -> String {
    format!("{}-severity", t.support_severities.join("/"))
}

const REPORT_FILES: [&str; 5] =
    [file::REFUND_CANDIDATES, file::FINDINGS, file::PROJECT_SUMMARY, file::EXPECTED_CHARGES, file::MANIFEST];

fn report_dir(r: &Results) -> String {
    let dir = std::path::absolute(&r.report_dir).unwrap_or_else(|_| r.report_dir.clone());
    format!("{}/", dir.display())
}

fn text_footer(r: &Results, out: &mut String) {
    let _ = writeln!(out, "\nReports: {}", report_dir(r));
    let _ = writeln!(out, "  {}", REPORT_FILES.join(", "));
    let _ = writeln!(out, "Rules {}, business time zone {}.", r.rule_version, r.time_zone);
}

fn html_footer(r: &Results, out: &mut String) {
    let _ = writeln!(
        out,
        "<p>Reports: <code>{}</code><br>{}</p><p>Rules {}, business time zone {}.</p></body></html>",
        esc(&report_dir(r)),
        REPORT_FILES.iter().map(|f| format!("<code>{}</code>", esc(f))).collect::<Vec<_>>().join(", "),
        esc(&r.rule_version),
        esc(&r.time_zone),
    );
}

const HTML_HEAD: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>\
    body{font-family:sans-serif}table{border-collapse:collapse}\
    td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}td.n{text-align:right}\
    </style></head><body>\n";

/// The finance summary: credits expected and charged by category, findings by type and
/// severity, refund candidates by reason and their total.
pub fn finance(r: &Results, settings: &Settings) -> Option<Draft> {
    if settings.finance_to.is_empty() {
        return None;
    }
    let findings = r.findings_total();
    let high = r.findings_by_severity.get("high").copied().unwrap_or(0);
    let candidates = r.candidates.len();
    let subject = format!(
        "credit-recon {} summary: {} ({} high), {} ({} credits)",
        r.business_date,
        plural(findings as usize, "finding", "findings"),
        high,
        plural(candidates, "refund candidate", "refund candidates"),
        money(r.refund_total),
    );
    let (mut text, mut html) = (String::new(), String::from(HTML_HEAD));
    let _ = writeln!(text, "credit-recon nightly summary for business date {}\n", r.business_date);
    let _ =
        writeln!(html, "<h2>credit-recon nightly summary for business date {}</h2>", esc(&r.business_date));

    // Credits by category.
    let _ = writeln!(text, "Credits by category (expected under the rules, charged in the ledger):");
    let _ = writeln!(text, "  {:<14}{:>14}{:>14}{:>14}", "category", "expected", "charged", "difference");
    let _ = writeln!(
        html,
        "<h3>Credits by category</h3><table><tr><th>category</th><th>expected</th><th>charged</th>\
         <th>difference (charged - expected)</th></tr>"
    );
    let (mut exp_total, mut chg_total) = (Decimal::ZERO, Decimal::ZERO);
    let row = |name: &str, e: Decimal, c: Decimal, text: &mut String, html: &mut String| {
        let _ = writeln!(text, "  {:<14}{:>14}{:>14}{:>14}", name, money(e), money(c), money(c - e));
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(name),
            money(e),
            money(c),
            money(c - e)
        );
    };
    for c in &r.categories {
        row(&c.category, c.expected, c.charged, &mut text, &mut html);
        exp_total += c.expected;
        chg_total += c.charged;
    }
    row("total", exp_total, chg_total, &mut text, &mut html);
    let _ = writeln!(html, "</table>");
    if r.expected_unknown > 0 {
        let note = format!(
            "{} of unknown cost (no usage detail) left out of the expected credits.",
            plural(r.expected_unknown as usize, "event", "events")
        );
        let _ = writeln!(text, "  {note}");
        let _ = writeln!(html, "<p>{}</p>", esc(&note));
    }

    // Findings.
    let sev = ["high", "medium", "low"]
        .iter()
        .map(|s| format!("{s} {}", r.findings_by_severity.get(*s).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(text, "\nFindings: {findings} ({sev})");
    let _ = writeln!(html, "<h3>Findings: {findings} ({})</h3>", esc(&sev));
    let listed: Vec<_> = r.findings_by_type.iter().filter(|(_, _, n)| *n > 0).collect();
    if !listed.is_empty() {
        let _ = writeln!(text, "  {:<22}{:<10}{:>6}  meaning", "type", "severity", "count");
        let _ =
            writeln!(html, "<table><tr><th>type</th><th>severity</th><th>count</th><th>meaning</th></tr>");
    }
    for (t, s, n) in &listed {
        let _ = writeln!(text, "  {:<22}{:<10}{:>6}  {}", t, s, n, plain_words(t));
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(t),
            esc(s),
            n,
            esc(plain_words(t))
        );
    }
    if !listed.is_empty() {
        let _ = writeln!(html, "</table>");
    }

    // Refunds.
    let head = format!("Refund candidates: {candidates}, {} credits", money(r.refund_total));
    let _ = writeln!(text, "\n{head}");
    let _ = writeln!(html, "<h3>{}</h3>", esc(&head));
    let reasons: Vec<_> = r.refunds_by_reason.iter().filter(|(_, n, _)| *n > 0).collect();
    if !reasons.is_empty() {
        let _ = writeln!(text, "  {:<22}{:>6}{:>14}", "reason", "count", "credits");
        let _ = writeln!(html, "<table><tr><th>reason</th><th>count</th><th>credits</th></tr>");
    }
    for (reason, n, credits) in &reasons {
        let _ = writeln!(text, "  {:<22}{:>6}{:>14}", reason, n, money(*credits));
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(reason),
            n,
            money(*credits)
        );
    }
    if !reasons.is_empty() {
        let _ = writeln!(html, "</table>");
    }
    text_footer(r, &mut text);
    html_footer(r, &mut html);
    Some(Draft {
        key: "finance".into(),
        to: settings.finance_to.clone(),
        subject,
        text,
        html,
        has_content: findings > 0 || candidates > 0,
    })
}

/// What a discrepancy email lists: candidates at or above the threshold and findings of the
/// listed severities, each largest first.
struct Selection<'a> {
    candidates: Vec<&'a Candidate>,
    /// Candidates left out by the threshold.
    small: Vec<&'a Candidate>,
    findings: Vec<&'a Finding>,
}

fn select<'a>(r: &'a Results, t: &Thresholds, account: Option<&str>) -> Selection<'a> {
    let mine = |a: &str| account.is_none_or(|x| x == a);
    selection(
        t,
        r.candidates.iter().filter(|c| mine(&c.account_id)),
        r.findings.iter().filter(|f| mine(&f.account_id)),
    )
}

/// What of `candidates` and `findings` (in their order) a message lists, by the thresholds.
fn selection<'a>(
    t: &Thresholds,
    candidates: impl Iterator<Item = &'a Candidate>,
    findings: impl Iterator<Item = &'a Finding>,
) -> Selection<'a> {
    let (candidates, small) = candidates.partition(|c| c.refund >= t.min_refund_credits);
    let findings = findings.filter(|f| t.support_severities.contains(&f.severity)).collect();
    Selection { candidates, small, findings }
}

fn who(r: &Results, account_id: &str, project_id: Option<&str>) -> String {
    let project = project_id.map(|p| format!("project {p}")).unwrap_or_else(|| "no project".into());
    format!("{} ({}), {}", r.account_name(account_id), account_id, project)
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

fn discrepancy_body(r: &Results, t: &Thresholds, sel: &Selection<'_>, title: &str) -> (String, String) {
    let (mut text, mut html) = (String::new(), String::from(HTML_HEAD));
    let _ = writeln!(text, "{title}\n");
    let _ = writeln!(html, "<h2>{}</h2>", esc(title));
    let listed_total: Decimal = sel.candidates.iter().map(|c| c.refund).sum();

    // Refund candidates.
    let head = format!(
        "Refund candidates: {}, {} credits, largest first",
        sel.candidates.len(),
        money(listed_total)
    );
    let _ = writeln!(text, "{head}");
    let _ = writeln!(html, "<h3>{}</h3>", esc(&head));
    if sel.candidates.is_empty() {
        let _ = writeln!(text, "  none");
        let _ = writeln!(html, "<p>none</p>");
    } else {
        let _ = writeln!(
            html,
            "<table><tr><th>#</th><th>account</th><th>project</th><th>refund (credits)</th><th>reason</th>\
             <th>charge</th><th>action</th><th>details</th></tr>"
        );
    }
    for (i, c) in sel.candidates.iter().take(t.max_listed).enumerate() {
        let _ = writeln!(
            text,
            "{:>3}. {}: refund {} credits\n     {}\n     Charge {} of {} credits (already refunded {}) {}. [{}] {}",
            i + 1,
            who(r, &c.account_id, c.project_id.as_deref()),
            money(c.refund),
            plain_words(&c.reason),
            or_none(&c.entry_id),
            opt_money(c.charged),
            opt_money(c.already_refunded),
            c.event_id
                .as_deref()
                .map(|e| format!("for action {e}"))
                .unwrap_or_else(|| "for no recorded action".into()),
            c.reason,
            c.evidence,
        );
        let _ = writeln!(
            html,
            "<tr><td class=\"n\">{}</td><td>{} ({})</td><td>{}</td><td class=\"n\">{}</td><td>{}</td>\
             <td>{} ({} credits, already refunded {})</td><td>{}</td><td>{}: {}</td></tr>",
            i + 1,
            esc(&r.account_name(&c.account_id)),
            esc(&c.account_id),
            esc(or_none(&c.project_id)),
            money(c.refund),
            esc(plain_words(&c.reason)),
            esc(or_none(&c.entry_id)),
            opt_money(c.charged),
            opt_money(c.already_refunded),
            esc(or_none(&c.event_id)),
            esc(&c.reason),
            esc(&c.evidence),
        );
    }
    if !sel.candidates.is_empty() {
        let _ = writeln!(html, "</table>");
    }
    let mut notes = Vec::new();
    if sel.candidates.len() > t.max_listed {
        notes.push(format!(
            "{} more refund candidates are in {}.",
            sel.candidates.len() - t.max_listed,
            file::REFUND_CANDIDATES
        ));
    }
    if !sel.small.is_empty() {
        let small: Decimal = sel.small.iter().map(|c| c.refund).sum();
        notes.push(format!(
            "{} below {} credits ({} credits in all) are not listed; see {}.",
            plural(sel.small.len(), "refund candidate", "refund candidates"),
            money(t.min_refund_credits),
            money(small),
            file::REFUND_CANDIDATES
        ));
    }
    for n in &notes {
        let _ = writeln!(text, "  {n}");
        let _ = writeln!(html, "<p>{}</p>", esc(n));
    }

    // Findings.
    let head =
        format!("{} findings: {}, largest first", capitalize(&severities_label(t)), sel.findings.len());
    let _ = writeln!(text, "\n{head}");
    let _ = writeln!(html, "<h3>{}</h3>", esc(&head));
    if sel.findings.is_empty() {
        let _ = writeln!(text, "  none");
        let _ = writeln!(html, "<p>none</p>");
    } else {
        let _ = writeln!(
            html,
            "<table><tr><th>#</th><th>account</th><th>project</th><th>credits at stake</th><th>what happened</th>\
             <th>type</th><th>severity</th><th>details</th></tr>"
        );
    }
    for (i, f) in sel.findings.iter().take(t.max_listed).enumerate() {
        let refs = [
            f.event_id.as_deref().map(|e| format!("action {e}")),
            f.entry_id.as_deref().map(|e| format!("ledger entry {e}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let _ = writeln!(
            text,
            "{:>3}. {}: {} credits at stake\n     {}\n     [{}, {}] {} ({refs})",
            i + 1,
            who(r, &f.account_id, f.project_id.as_deref()),
            opt_money(f.amount),
            plain_words(&f.finding_type),
            f.finding_type,
            f.severity,
            f.explanation,
        );
        let _ = writeln!(
            html,
            "<tr><td class=\"n\">{}</td><td>{} ({})</td><td>{}</td><td class=\"n\">{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{} ({})</td></tr>",
            i + 1,
            esc(&r.account_name(&f.account_id)),
            esc(&f.account_id),
            esc(or_none(&f.project_id)),
            opt_money(f.amount),
            esc(plain_words(&f.finding_type)),
            esc(&f.finding_type),
            esc(&f.severity),
            esc(&f.explanation),
            esc(&refs),
        );
    }
    if !sel.findings.is_empty() {
        let _ = writeln!(html, "</table>");
    }
    if sel.findings.len() > t.max_listed {
        let n = format!("{} more findings are in {}.", sel.findings.len() - t.max_listed, file::FINDINGS);
        let _ = writeln!(text, "  {n}");
        let _ = writeln!(html, "<p>{}</p>", esc(&n));
    }
    text_footer(r, &mut text);
    html_footer(r, &mut html);
    (text, html)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn counts(sel: &Selection<'_>, t: &Thresholds) -> String {
    let total: Decimal = sel.candidates.iter().map(|c| c.refund).sum();
    format!(
        "{} ({} credits), {} {}",
        plural(sel.candidates.len(), "refund candidate", "refund candidates"),
        money(total),
        sel.findings.len(),
        if sel.findings.len() == 1 {
            format!("{} finding", severities_label(t))
        } else {
            format!("{} findings", severities_label(t))
        },
    )
}

/// The discrepancy email to support: every account's refund candidates and serious findings.
pub fn support(r: &Results, settings: &Settings) -> Option<Draft> {
    if settings.support_to.is_empty() {
        return None;
    }
    let t = &settings.thresholds;
    let sel = select(r, t, None);
    let subject = format!("credit-recon {}: {}", r.business_date, counts(&sel, t));
    let title = format!("credit-recon discrepancies for business date {}", r.business_date);
    let (text, html) = discrepancy_body(r, t, &sel, &title);
    Some(Draft {
        key: "support".into(),
        to: settings.support_to.clone(),
        subject,
        text,
        html,
        has_content: !sel.candidates.is_empty() || !sel.findings.is_empty(),
    })
}

/// Recipients of an account's own copy: the job file's route, else its `support_email` where
/// routing to it is on. An address that does not parse is skipped with a warning.
fn account_recipients(r: &Results, settings: &Settings, account_id: &str) -> Vec<Mailbox> {
    if let Some(to) = settings.account_routes.get(account_id) {
        return to.clone();
    }
    if !settings.account_support_email {
        return Vec::new();
    }
    let Some(email) = r.accounts.get(account_id).and_then(|a| a.support_email.as_deref()) else {
        return Vec::new();
    };
    match email.trim().parse::<Mailbox>() {
        Ok(m) => vec![m],
        Err(e) => {
            tracing::warn!(account = account_id, error = %e, "support_email is not an address; no account copy");
            Vec::new()
        }
    }
}

/// One discrepancy email per routed account that has something to report.
pub fn accounts(r: &Results, settings: &Settings) -> Vec<Draft> {
    let t = &settings.thresholds;
    // Each account's candidates and findings, in their order, gathered in one pass (not one pass
    // over all of them per account: 1 500 accounts took 0.4 s that way).
    let mut by_account: std::collections::BTreeMap<&str, (Vec<&Candidate>, Vec<&Finding>)> =
        std::collections::BTreeMap::new();
    for c in &r.candidates {
        by_account.entry(c.account_id.as_str()).or_default().0.push(c);
    }
    for f in &r.findings {
        by_account.entry(f.account_id.as_str()).or_default().1.push(f);
    }
    let mut drafts = Vec::new();
    for (id, (candidates, findings)) in by_account {
        let to = account_recipients(r, settings, id);
        if to.is_empty() {
            continue;
        }
        let sel = selection(t, candidates.into_iter(), findings.into_iter());
        if sel.candidates.is_empty() && sel.findings.is_empty() {
            continue;
        }
        let name = r.account_name(id);
        let subject = format!("credit-recon {}: {name} ({id}): {}", r.business_date, counts(&sel, t));
        let title =
            format!("credit-recon discrepancies of {name} ({id}) for business date {}", r.business_date);
        let (text, html) = discrepancy_body(r, t, &sel, &title);
        drafts.push(Draft { key: format!("account:{id}"), to, subject, text, html, has_content: true });
    }
    drafts
}

/// Every message of the night, central ones first.
pub fn all(r: &Results, settings: &Settings) -> Vec<Draft> {
    finance(r, settings).into_iter().chain(support(r, settings)).chain(accounts(r, settings)).collect()
}

impl Draft {
    /// Marks the message as replacing one sent earlier for the same date, whose results changed.
    pub fn mark_updated(&mut self, previous_sent_at: &str) {
        self.subject = match self.subject.split_once(": ") {
            Some((head, rest)) => format!("{head} (updated): {rest}"),
            None => format!("{} (updated)", self.subject),
        };
        let note = format!(
            "UPDATED: the results of this date changed since the message sent at {previous_sent_at}; \
             this one replaces it."
        );
        self.text = format!("{note}\n\n{}", self.text);
        self.html =
            self.html.replacen("<body>\n", &format!("<body>\n<p><strong>{}</strong></p>\n", esc(&note)), 1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::notify::config::{MailConfig, Overrides};
    use crate::notify::results::{Account, CategoryTotal};

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn results() -> Results {
        let cand = |id: &str, reason: &str, account: &str, refund: &str| Candidate {
            candidate_id: id.into(),
            reason: reason.into(),
            account_id: account.into(),
            project_id: Some("prj-1".into()),
            event_id: Some(format!("ev-{id}")),
            entry_id: Some(format!("le-{id}")),
            refund: d(refund),
            charged: Some(d(refund)),
            already_refunded: Some(d("0.0000")),
            evidence: "evidence <b>".into(),
        };
        let finding = |id: &str, t: &str, sev: &str, account: &str, amount: &str| Finding {
            finding_id: id.into(),
            finding_type: t.into(),
            severity: sev.into(),
            account_id: account.into(),
            project_id: None,
            event_id: None,
            entry_id: Some(format!("le-{id}")),
            amount: Some(d(amount)),
            explanation: "explained".into(),
        };
        Results {
            business_date: "2026-11-02".into(),
            time_zone: "UTC".into(),
            rule_version: "2026-11".into(),
            run_id: "run-1".into(),
            report_dir: PathBuf::from("/reports/date=2026-11-02"),
            categories: vec![CategoryTotal {
                category: "import".into(),
                expected: d("45.0000"),
                charged: d("58"),
            }],
            expected_unknown: 1,
            findings_by_type: vec![("DUPLICATE_CHARGE".into(), "high".into(), 1)],
            findings_by_severity: BTreeMap::from([("high".into(), 2), ("low".into(), 1)]),
            refunds_by_reason: vec![("DUPLICATE_CHARGE".into(), 2, d("17.5000"))],
            refund_total: d("17.6000"),
            candidates: vec![
                cand("1", "DUPLICATE_CHARGE", "acc-1", "15.0000"),
                cand("2", "OVERCHARGE", "acc-2", "2.5000"),
                cand("3", "OVERCHARGE", "acc-2", "0.1000"),
            ],
            findings: vec![
                finding("f1", "DUPLICATE_CHARGE", "high", "acc-1", "15.0000"),
                finding("f2", "LATE_CHARGE", "low", "acc-2", "3.0000"),
            ],
            accounts: BTreeMap::from([
                (
                    "acc-1".into(),
                    Account { name: "North & Co".into(), support_email: Some("n@x.example".into()) },
                ),
                (
                    "acc-2".into(),
                    Account { name: "Blue".into(), support_email: Some("not an address".into()) },
                ),
            ]),
        }
    }

    fn settings(config: MailConfig) -> Settings {
        Settings::new(config, Overrides::default(), Path::new("/reports"), None).unwrap().unwrap()
    }

    #[test]
    fn support_lists_largest_first_with_plain_words_and_subject_counts() {
        let mut config = MailConfig::default();
        config.thresholds.min_refund_credits = d("1");
        let draft = support(&results(), &settings(config)).unwrap();
        assert_eq!(
            draft.subject,
            "credit-recon 2026-11-02: 2 refund candidates (17.5000 credits), 1 high-severity finding"
        );
        let first = draft.text.find("refund 15.0000").unwrap();
        let second = draft.text.find("refund 2.5000").unwrap();
        assert!(first < second, "{}", draft.text);
        assert!(draft.text.contains("You were charged twice for the same action."));
        assert!(draft.text.contains("1 refund candidate below 1.0000 credits (0.1000 credits in all)"));
        assert!(!draft.text.contains("LATE_CHARGE"), "low severity is not listed");
        assert!(draft.text.contains("/reports/date=2026-11-02/"));
        assert!(draft.html.contains("North &amp; Co") && draft.html.contains("evidence &lt;b&gt;"));
        assert!(draft.has_content);
    }

    #[test]
    fn finance_has_totals_by_category_and_counts() {
        let draft = finance(&results(), &settings(MailConfig::default())).unwrap();
        assert_eq!(
            draft.subject,
            "credit-recon 2026-11-02 summary: 3 findings (2 high), 3 refund candidates (17.6000 credits)"
        );
        assert!(
            draft.text.contains("import               45.0000       58.0000       13.0000"),
            "{}",
            draft.text
        );
        assert!(draft.text.contains("high 2, medium 0, low 1"));
        assert!(draft.text.contains("1 event of unknown cost"));
        assert!(draft.html.contains("<td class=\"n\">13.0000</td>"));
    }

    #[test]
    fn accounts_are_routed_by_support_email_or_the_job_file() {
        let r = results();
        let drafts = accounts(&r, &settings(MailConfig::default()));
        // acc-2's support_email is not an address: no copy; acc-1 gets its own lines only.
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].key, "account:acc-1");
        assert_eq!(drafts[0].to[0].email.to_string(), "n@x.example");
        assert!(drafts[0].subject.contains("North & Co (acc-1)"));
        assert!(!drafts[0].text.contains("acc-2"));

        let mut config = MailConfig::default();
        config.routing.account_support_email = false;
        config.routing.accounts.insert("acc-2".into(), vec!["csm@ours.example".into()]);
        let drafts = accounts(&r, &settings(config));
        assert_eq!(drafts.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), ["account:acc-2"]);
    }

    #[test]
    fn an_empty_night_has_no_content() {
        let mut r = results();
        r.candidates.clear();
        r.findings.clear();
        r.findings_by_severity.clear();
        let s = settings(MailConfig::default());
        assert!(all(&r, &s).iter().all(|d| !d.has_content));
        assert!(accounts(&r, &s).is_empty());
    }

    #[test]
    fn updated_messages_say_so() {
        let mut draft = support(&results(), &settings(MailConfig::default())).unwrap();
        draft.mark_updated("2026-11-03T02:30:00Z");
        assert!(draft.subject.starts_with("credit-recon 2026-11-02 (updated): "), "{}", draft.subject);
        assert!(draft.text.starts_with("UPDATED:"));
        assert!(draft.html.contains("<strong>UPDATED:"));
    }

    #[test]
    fn every_finding_type_and_reason_has_plain_words() {
        for (t, _) in crate::reconcile::findings::finding::SEVERITY {
            assert!(!plain_words(t).starts_with("See the reports"), "{t}");
        }
        for r in crate::reconcile::refunds::reason::ORDER {
            assert!(!plain_words(r).starts_with("See the reports"), "{r}");
        }
    }
}
