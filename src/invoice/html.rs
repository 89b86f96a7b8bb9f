//! Renders an account's monthly statement as a self-contained HTML page that reads on screen and
//! prints cleanly on A4. Every text that comes from data is escaped: markup can only be a
//! `&'static str` written here.

use super::statement::{AccountStatement, Credits, Finding, Line};
use crate::schema::{balance_check, invoice_line};

/// What every statement of a run shows besides the account's own figures.
#[derive(Debug, Clone)]
pub struct StatementMeta {
    /// `YYYY-MM`.
    pub month: String,
    /// The month for people: `November 2026`.
    pub month_label: String,
    /// First and last business date: `1 November 2026`, `30 November 2026`.
    pub first_day: String,
    /// Last business date.
    pub last_day: String,
    /// Business time zone.
    pub time_zone: String,
    /// Rule version that priced the expected credits.
    pub rule_version: String,
    /// Tool version.
    pub tool_version: String,
    /// Run id.
    pub run_id: String,
    /// When the statements were produced (UTC, RFC 3339).
    pub generated_at: String,
    /// Ledger rows of the data root rejected as unreadable: they are in no statement.
    pub rejected_ledger_rows: u64,
}

/// An HTML document being written: text is escaped, markup is static.
#[derive(Debug, Default)]
struct Html(String);

impl Html {
    /// Markup written by this module.
    fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Text from data, escaped for element content and quoted attributes.
    fn text(&mut self, text: &str) -> &mut Self {
        for ch in text.chars() {
            match ch {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&#39;"),
                other => self.0.push(other),
            }
        }
        self
    }

    /// `<tag class="...">text</tag>` with a static tag and class.
    fn cell(&mut self, open: &'static str, text: &str, close: &'static str) -> &mut Self {
        self.raw(open).text(text).raw(close)
    }
}

const STYLE: &str = r#"<style>
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
        @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 8pt sans-serif; color: #555; } }
@media print { body { padding: 0; } }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 10pt/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #111; margin: 0 auto;
       max-width: 186mm; padding: 8mm 0; }
h1 { font-size: 17pt; margin: 0 0 1mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; padding-bottom: 1mm; break-after: avoid; page-break-after: avoid; }
.period { margin: 0 0 4mm; color: #333; }
dl.account { display: grid; grid-template-columns: 28mm 1fr; gap: 1mm 4mm; margin: 0 0 4mm; }
dl.account dt { color: #555; }
dl.account dd { margin: 0; font-weight: bold; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; margin: 0 0 3mm; }
thead { display: table-header-group; }
tr, .finding { break-inside: avoid; page-break-inside: avoid; }
th { text-align: left; font-weight: bold; border-bottom: 1.5px solid #111; padding: 1.2mm 1.5mm; font-size: 8.5pt; }
td { border-bottom: 1px solid #ccc; padding: 1.2mm 1.5mm; vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.num { text-align: right; }
.projects { font-size: 8.5pt; color: #333; overflow-wrap: break-word; }
table.lines { table-layout: fixed; }
table.lines th:nth-child(1) { width: 25%; }
table.lines th:nth-child(2) { width: 17%; }
table.lines th:nth-child(3) { width: 9%; }
table.lines th:nth-child(4) { width: 15%; }
table.lines th:nth-child(5), table.lines th:nth-child(6) { width: 17%; }
th.num { white-space: normal; }
td.unknown { white-space: normal; font-size: 8.5pt; }
.date, .id { white-space: nowrap; }
tr.group td { font-weight: bold; border-bottom: none; padding-top: 2mm; }
tr.balance td { font-weight: bold; border-bottom: 1.5px solid #111; background: #f2f2f2; }
tr.sub td:first-child { padding-left: 5mm; }
.muted { color: #666; }
.warning { border: 2px solid #b00020; background: #fdecee; color: #5c0011; padding: 3mm 4mm; margin: 0 0 4mm; }
.warning strong { color: #b00020; }
.ok { border: 1px solid #2e7d32; background: #edf7ee; padding: 2mm 4mm; margin: 0 0 4mm; }
.note { border: 1px solid #999; background: #f6f6f6; padding: 2mm 4mm; margin: 0 0 4mm; }
.sev { display: inline-block; padding: 0 1.5mm; border-radius: 1mm; font-size: 8pt; font-weight: bold; border: 1px solid; }
.sev-high { color: #b00020; border-color: #b00020; }
.sev-medium { color: #8a5a00; border-color: #8a5a00; }
.sev-low { color: #555; border-color: #888; }
td.why { font-size: 8.5pt; color: #333; padding-top: 0; }
tr.head td { border-bottom: none; }
footer { margin-top: 8mm; font-size: 8pt; color: #555; border-top: 1px solid #999; padding-top: 2mm; }
footer p { margin: 0 0 1mm; }
</style>"#;

fn label(line: &str) -> &'static str {
    match line {
        invoice_line::OPENING_BALANCE => "Opening balance",
        invoice_line::PURCHASE => "Purchases",
        invoice_line::GRANT => "Grants",
        invoice_line::CHARGE_IMPORT => "Imports (uploads)",
        invoice_line::CHARGE_RERUN => "Reruns",
        invoice_line::CHARGE_SMART_COLUMN => "Smart column runs",
        invoice_line::CHARGE_TRANSLATION => "Translations",
        invoice_line::CHARGE_UNCATEGORIZED => "Charges without a category",
        invoice_line::REFUND => "Refunds",
        invoice_line::ADJUSTMENT => "Adjustments",
        invoice_line::CLOSING_BALANCE => "Closing balance",
        _ => "Other",
    }
}

fn severity_class(severity: &str) -> &'static str {
    match severity {
        "high" => "<span class=\"sev sev-high\">",
        "medium" => "<span class=\"sev sev-medium\">",
        _ => "<span class=\"sev sev-low\">",
    }
}

fn amount(c: Option<Credits>) -> String {
    c.map(Credits::grouped).unwrap_or_default()
}

fn line_row(h: &mut Html, line: &Line) {
    let balance = line.line == invoice_line::OPENING_BALANCE || line.line == invoice_line::CLOSING_BALANCE;
    let charge = line.line.starts_with(invoice_line::CHARGE_PREFIX);
    h.raw(if balance {
        "<tr class=\"balance\">"
    } else if charge {
        "<tr class=\"sub\">"
    } else {
        "<tr>"
    });
    h.cell("<td>", label(&line.line), "</td>");
    h.cell("<td class=\"projects\">", &line.projects.join(", "), "</td>");
    h.cell("<td class=\"num\">", &line.entries.to_string(), "</td>");
    h.cell("<td class=\"num\">", &line.credits.grouped(), "</td>");
    h.cell("<td class=\"num\">", &amount(line.expected), "</td>");
    match (line.delta, line.events_expected_unknown) {
        (Some(d), _) => h.cell("<td class=\"num\">", &d.grouped(), "</td>"),
        (None, Some(n)) if n > 0 => {
            h.cell("<td class=\"num muted unknown\">", &format!("{n} event(s) of unknown cost"), "</td>")
        }
        _ => h.raw("<td class=\"num\"></td>"),
    };
    h.raw("</tr>\n");
}

fn finding_rows(h: &mut Html, f: &Finding) {
    h.raw("<tbody class=\"finding\"><tr class=\"head\">");
    h.cell("<td class=\"date\">", &f.business_date, "</td>");
    h.raw("<td>")
        .text(&f.finding_type)
        .raw(" ")
        .raw(severity_class(&f.severity))
        .text(&f.severity)
        .raw("</span></td>");
    h.raw("<td class=\"projects\">");
    if let Some(event) = &f.event_id {
        h.cell("<div class=\"id\">event ", event, "</div>");
    }
    if let Some(entry) = &f.entry_id {
        h.cell("<div class=\"id\">entry ", entry, "</div>");
    }
    h.raw("</td>");
    h.cell("<td class=\"num\">", &amount(f.expected), "</td>");
    h.cell("<td class=\"num\">", &amount(f.charged), "</td>");
    h.cell("<td class=\"num\">", &amount(f.delta), "</td>");
    h.raw("</tr>\n<tr>");
    h.cell("<td></td><td class=\"why\" colspan=\"5\">", f.explanation.as_deref().unwrap_or(""), "</td>");
    h.raw("</tr></tbody>\n");
}

/// The statement of one account as an HTML document.
pub fn render(s: &AccountStatement, meta: &StatementMeta) -> String {
    let mut h = Html::default();
    let name = s.account_name.as_deref().unwrap_or(&s.account_id);
    h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    h.text(&format!("Credit statement {} – {name}", meta.month_label));
    h.raw("</title>\n").raw(STYLE).raw("\n</head>\n<body>\n<header>\n");
    h.cell("<h1>", &format!("Credit statement – {}", meta.month_label), "</h1>\n");
    h.cell(
        "<p class=\"period\">",
        &format!("{} to {} (business time zone {})", meta.first_day, meta.last_day, meta.time_zone),
        "</p>\n",
    );
    h.raw("<dl class=\"account\">");
    h.cell(
        "<dt>Account</dt><dd>",
        s.account_name.as_deref().unwrap_or("(not in the reference accounts)"),
        "</dd>",
    );
    h.cell("<dt>Account id</dt><dd>", &s.account_id, "</dd>");
    h.raw("</dl>\n</header>\n");

    // The balance checks come first: a disagreement must not be missed.
    let balance = s.balance();
    if s.ledger_disagrees() {
        h.raw("<section class=\"warning\" role=\"alert\"><strong>Warning: the ledger's recorded balance disagrees with its entries.</strong> ");
        h.text(&format!(
            "Entry {} records a balance_after of {} credits, but the account's entries up to and including it add up to {} credits (a difference of {}). The statement's balances are the sums of the entries; the ledger needs correcting.",
            s.ledger.at_entry.as_deref().unwrap_or("?"),
            amount(s.ledger.recorded),
            amount(s.ledger.recorded.zip(s.ledger.difference).map(|(r, d)| Credits(r.0 - d.0))),
            amount(s.ledger.difference),
        ));
        h.raw("</section>\n");
    }
    if balance.is_none_or(|b| !b.reconciles()) {
        h.raw("<section class=\"warning\" role=\"alert\"><strong>Warning: opening balance plus movements is not the closing balance.</strong></section>\n");
    }
    if meta.rejected_ledger_rows > 0 {
        h.raw("<section class=\"note\">");
        h.text(&format!(
            "{} ledger row(s) of the data root could not be read and are in no statement; see rejects.parquet of this month.",
            meta.rejected_ledger_rows
        ));
        h.raw("</section>\n");
    }

    h.raw("<h2>Credits</h2>\n<table class=\"lines\">\n<thead><tr><th>Line</th><th>Projects</th><th class=\"num\">Entries</th><th class=\"num\">Credits</th><th class=\"num\">Expected charge per rules</th><th class=\"num\">Charged − expected</th></tr></thead>\n<tbody>\n");
    let mut used_heading = false;
    for line in &s.lines {
        // A charge without a category is an anomaly: its line shows only where one occurred.
        if line.line == invoice_line::CHARGE_UNCATEGORIZED && line.entries == 0 {
            continue;
        }
        if line.line.starts_with(invoice_line::CHARGE_PREFIX) && !used_heading {
            h.raw("<tr class=\"group\"><td colspan=\"6\">Credits used</td></tr>\n");
            used_heading = true;
        }
        line_row(&mut h, line);
    }
    h.raw("</tbody>\n</table>\n");
    if let Some(b) = balance {
        h.raw(if !b.reconciles() {
            "<p class=\"warning\">"
        } else if s.ledger_disagrees() {
            "<p class=\"note\">"
        } else {
            "<p class=\"ok\">"
        });
        h.text(&format!(
            "Opening balance {} + movements {} = closing balance {}: {}.",
            b.opening.grouped(),
            b.movements.grouped(),
            b.closing.grouped(),
            if b.reconciles() { "reconciles" } else { "does NOT reconcile" }
        ));
        h.text(&match s.ledger.status.as_str() {
            balance_check::AGREES => format!(
                " The ledger's last recorded balance ({} credits, entry {}) agrees.",
                amount(s.ledger.recorded),
                s.ledger.at_entry.as_deref().unwrap_or("?")
            ),
            balance_check::DISAGREES => {
                " The ledger's last recorded balance disagrees (see the warning above).".to_string()
            }
            _ => " The ledger records no balance for this account.".to_string(),
        });
        h.raw("</p>\n");
    }

    h.cell("<h2>", &format!("Open findings ({})", s.findings.len()), "</h2>\n");
    if s.findings.is_empty() {
        h.raw("<p class=\"muted\">No finding of this month is open.</p>\n");
    } else {
        h.raw("<table class=\"findings\">\n<thead><tr><th>Date</th><th>Finding</th><th>Event / entry</th><th class=\"num\">Expected</th><th class=\"num\">Charged</th><th class=\"num\">Difference</th></tr></thead>\n");
        for f in &s.findings {
            finding_rows(&mut h, f);
        }
        h.raw("</table>\n");
    }

    if !s.projects.is_empty() {
        h.raw("<h2>Projects</h2>\n<table class=\"projects-list\">\n<thead><tr><th>Project id</th><th>Name</th><th>Kind</th></tr></thead>\n<tbody>\n");
        for p in &s.projects {
            h.raw("<tr>");
            h.cell("<td>", &p.project_id, "</td>");
            h.cell("<td>", p.name.as_deref().unwrap_or(""), "</td>");
            h.raw(if p.is_demo { "<td>demo (free)</td>" } else { "<td></td>" });
            h.raw("</tr>\n");
        }
        h.raw("</tbody>\n</table>\n");
    }

    h.raw("<footer>\n<p>Amounts are in credits, exact to four decimal places. Credits are the effect on the balance: charges are negative. Each movement counts the ledger entries posted in the month; expected credits are those of the month's events under the credit rules ");
    h.text(&meta.rule_version);
    h.raw(", so a charge posted after the month's end appears in the next statement.</p>\n<p class=\"run\">");
    h.text(&format!(
        "Month {} · run {} · credit-recon {} · produced {}",
        meta.month, meta.run_id, meta.tool_version, meta.generated_at
    ));
    h.raw("</p>\n</footer>\n</body>\n</html>\n");
    h.0
}

/// A file name for an account's statement that is safe on any file system: the id where it is
/// made of letters, digits, `-`, `_` and `.`, else a cleaned id with a hash of the real one.
pub fn file_name(account_id: &str) -> String {
    let clean: String = account_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean == account_id && !clean.is_empty() {
        format!("statements/{clean}.html")
    } else {
        let hash = crate::reports::manifest::sha256_hex(account_id.as_bytes());
        format!("statements/{clean}-{}.html", &hash[..12])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::invoice::statement::{LedgerCheck, Project};

    fn meta() -> StatementMeta {
        StatementMeta {
            month: "2026-11".into(),
            month_label: "November 2026".into(),
            first_day: "1 November 2026".into(),
            last_day: "30 November 2026".into(),
            time_zone: "UTC".into(),
            rule_version: "2026-11".into(),
            tool_version: "0.1.0".into(),
            run_id: "r1".into(),
            generated_at: "2026-12-01T03:00:00Z".into(),
            rejected_ledger_rows: 0,
        }
    }

    fn line(name: &str, credits: i128) -> Line {
        Line {
            line: name.into(),
            credits: Credits(credits),
            charged: None,
            expected: None,
            delta: None,
            projects: vec![],
            entries: 1,
            events: None,
            events_expected_unknown: None,
        }
    }

    fn statement() -> AccountStatement {
        AccountStatement {
            account_id: "acc-<1>".into(),
            account_name: Some("Tom & Jerry's <script>alert(1)</script>".into()),
            lines: vec![
                line("opening_balance", 10_0000),
                line("purchase", 5_0000),
                line("closing_balance", 15_0000),
            ],
            ledger: LedgerCheck {
                status: "disagrees".into(),
                recorded: Some(Credits(25_0000)),
                at_entry: Some("le-\"9\"".into()),
                difference: Some(Credits(10_0000)),
            },
            findings: vec![Finding {
                business_date: "2026-11-02".into(),
                finding_type: "ORPHAN_CHARGE".into(),
                severity: "high".into(),
                project_id: Some("p<1>".into()),
                event_id: None,
                entry_id: Some("le-1".into()),
                expected: None,
                charged: Some(Credits(2_0000)),
                delta: Some(Credits(2_0000)),
                explanation: Some("references <img src=x onerror=alert(1)>".into()),
            }],
            projects: vec![Project { project_id: "p<1>".into(), name: Some("A & B".into()), is_demo: true }],
        }
    }

    #[test]
    fn every_text_from_data_is_escaped() {
        let html = render(&statement(), &meta());
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("Tom &amp; Jerry&#39;s &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("acc-&lt;1&gt;"));
        assert!(html.contains("le-&quot;9&quot;"));
        assert!(html.contains("A &amp; B"));
        // The only script-like tag is none at all.
        assert_eq!(html.matches("<script").count(), 0);
    }

    #[test]
    fn a_disagreeing_ledger_shows_a_warning_with_the_figures() {
        let html = render(&statement(), &meta());
        assert!(html.contains("class=\"warning\" role=\"alert\""));
        assert!(html.contains("records a balance_after of 25.0000 credits"));
        assert!(html.contains("add up to 15.0000 credits (a difference of 10.0000)"));
        let mut fine = statement();
        fine.ledger.status = "agrees".into();
        assert!(!render(&fine, &meta()).contains("role=\"alert\""));
    }

    #[test]
    fn statement_file_names_are_safe_and_distinct() {
        assert_eq!(file_name("acc-1"), "statements/acc-1.html");
        let odd = file_name("../etc/passwd");
        assert!(odd.starts_with("statements/_etc_passwd-") && !odd.contains(".."), "{odd}");
        assert_ne!(file_name("a/b"), file_name("a_b"));
        assert_ne!(file_name("a/b"), file_name("a:b"));
    }
}
