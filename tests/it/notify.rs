//! The mail of a run, end to end: the binary on `data-samples/` delivers over loopback to a real
//! SMTP server started in the test; what arrives is parsed with a MIME parser and checked against
//! the reports read with the `parquet` crate. Reruns, `--resend`, changed results, refusing and
//! vanishing servers, STARTTLS with a login, the file transport and quiet nights.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;

use mail_parser::MessageParser;
use rust_decimal::Decimal;

use crate::smtp::{self, Behaviour, Received, SmtpServer};
use crate::util::{self, read_report};

const DATE: &str = "2026-11-02";
const QUIET_DATE: &str = "2026-11-01";
const PASSWORD_ENV: &str = "CREDIT_RECON_SMTP_PASSWORD";

/// Runs the binary on `data` for `date`; mail variables of the caller's environment are cleared
/// so that only `envs` count.
fn run_on(data: &Path, out: &Path, date: &str, extra: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = util::bin();
    cmd.args(["run", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--date", date])
        .args(extra)
        .env("CREDIT_RECON_LOG", "warn");
    for v in [PASSWORD_ENV, "CREDIT_RECON_SMTP_URL", "CREDIT_RECON_SMTP_USER", "CREDIT_RECON_MAIL_CONFIG"] {
        cmd.env_remove(v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("binary runs")
}

fn run(out: &Path, extra: &[&str]) -> Output {
    run_on(&util::samples(), out, DATE, extra, &[])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `[mail]` table with fast retries (3 tries, 5 ms apart) and `extra` lines appended.
fn mail_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("mail.toml");
    std::fs::write(&path, format!("[mail]\nfrom = \"Recon <recon@test.example>\"\n{extra}\n[mail.retry]\nattempts = 3\nbackoff_ms = 5\n"))
        .unwrap();
    path
}

/// Flags that send to `server` with test recipients.
fn smtp_flags(server: &SmtpServer, config: &Path) -> Vec<String> {
    [
        "--mail-config",
        config.to_str().unwrap(),
        "--smtp-url",
        &server.plain_url(),
        "--finance-to",
        "finance@test.example",
        "--support-to",
        "support@test.example",
        "--support-to",
        "Help Desk <desk@test.example>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A received message, parsed.
struct Mail {
    envelope_from: String,
    envelope_to: Vec<String>,
    from: String,
    to: Vec<String>,
    subject: String,
    message_id: String,
    in_reply_to: Option<String>,
    run_id: String,
    has_date: bool,
    text: String,
    html: String,
    text_parts: usize,
    html_parts: usize,
}

fn parse(raw: &[u8], envelope_from: String, envelope_to: Vec<String>) -> Mail {
    let m = MessageParser::default().parse(raw).expect("a MIME message");
    let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| a.iter().filter_map(|x| x.address()).map(str::to_string).collect()).unwrap_or_default()
    };
    Mail {
        envelope_from,
        envelope_to,
        from: addresses(m.from()).join(","),
        to: addresses(m.to()),
        subject: m.subject().unwrap_or_default().to_string(),
        message_id: m.message_id().unwrap_or_default().to_string(),
        in_reply_to: m.in_reply_to().as_text().map(str::to_string),
        run_id: m.header_raw("X-Credit-Recon-Run-Id").unwrap_or_default().trim().to_string(),
        has_date: m.date().is_some(),
        text: m.body_text(0).map(|c| c.into_owned()).unwrap_or_default(),
        html: m.body_html(0).map(|c| c.into_owned()).unwrap_or_default(),
        text_parts: m.text_body_count(),
        html_parts: m.html_body_count(),
    }
}

fn parse_received(r: &Received) -> Mail {
    parse(&r.data, r.from.clone(), r.to.clone())
}

fn by_subject(mails: &[Mail], pred: impl Fn(&str) -> bool) -> &Mail {
    let found: Vec<&Mail> = mails.iter().filter(|m| pred(&m.subject)).collect();
    assert_eq!(found.len(), 1, "subjects: {:?}", mails.iter().map(|m| &m.subject).collect::<Vec<_>>());
    found[0]
}

fn is_finance(s: &str) -> bool {
    s.starts_with(&format!("credit-recon {DATE} summary"))
}
fn is_support(s: &str) -> bool {
    s.starts_with(&format!("credit-recon {DATE}: ")) && !s.contains("(acc-")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

/// What the reports of the date say, read with the `parquet` crate.
struct Figures {
    /// (account, refund credits, entry id), largest refund first.
    refunds: Vec<(String, String, String)>,
    refund_total: Decimal,
    severities: BTreeMap<String, usize>,
    /// Expected and charged credits summed over projects, per category.
    categories: Vec<(String, Decimal, Decimal)>,
    run_id: String,
}

fn figures(day: &Path) -> Figures {
    let cands = read_report(&day.join("refund_candidates.parquet"));
    let mut refunds: Vec<(String, String, String)> = cands
        .column_text("account_id")
        .into_iter()
        .zip(cands.column_text("refund_credits"))
        .zip(cands.column_text("entry_id"))
        .map(|((a, r), e)| (a, r, e))
        .collect();
    refunds.sort_by_key(|r| std::cmp::Reverse(dec(&r.1)));
    let refund_total = refunds.iter().map(|r| dec(&r.1)).sum();
    let mut severities = BTreeMap::new();
    for s in read_report(&day.join("findings.parquet")).column_text("severity") {
        *severities.entry(s).or_insert(0) += 1;
    }
    let summary = read_report(&day.join("project_summary.parquet"));
    let sum = |c: &str| summary.column_text(c).iter().map(|v| dec(v)).sum::<Decimal>();
    let categories = ["import", "rerun", "smart_column", "translation"]
        .iter()
        .map(|c| (c.to_string(), sum(&format!("expected_{c}")), sum(&format!("charged_{c}"))))
        .collect();
    let run_id = cands.meta("credit_recon.run_id").unwrap().to_string();
    Figures { refunds, refund_total, severities, categories, run_id }
}

/// The refund amounts of a discrepancy text, in the order listed.
fn listed_refunds(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            l.split_once(": refund ").map(|(_, rest)| rest.trim_end_matches(" credits").to_string())
        })
        .collect()
}

/// The sent-mail journal of the date, folded as the job reads it: the last line of each key.
fn sent_state(out: &Path) -> serde_json::Value {
    let path = out.join(format!(".mail-sent/date={DATE}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut messages = serde_json::Map::new();
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = v["key"].as_str().unwrap().to_string();
        assert_eq!(v["business_date"], DATE);
        v.as_object_mut().unwrap().remove("key");
        messages.insert(key, v);
    }
    serde_json::json!({ "business_date": DATE, "messages": messages })
}

fn reports_are_there(out: &Path) {
    let day = out.join(format!("date={DATE}"));
    assert!(day.join("manifest.json").is_file(), "manifest kept");
    assert_eq!(read_report(&day.join("refund_candidates.parquet")).rows(), 9, "reports kept");
}

#[test]
fn smtp_delivers_summary_and_discrepancies_that_match_the_reports() {
    let dir = util::tmp();
    let server = SmtpServer::start(Behaviour::Accept);
    let config = mail_config(dir.path(), "");
    let out_dir = dir.path().join("out");
    let out = run(&out_dir, &args(&smtp_flags(&server, &config)));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let f = figures(&out_dir.join(format!("date={DATE}")));
    let mails: Vec<Mail> = server.messages().iter().map(parse_received).collect();
    assert_eq!(mails.len(), 4, "finance, support, and the two accounts with a support_email");
    let state = sent_state(&out_dir);
    let high = f.severities["high"];
    for m in &mails {
        assert_eq!(m.from, "recon@test.example");
        assert_eq!(m.envelope_from, "recon@test.example");
        assert!(m.has_date, "{}", m.subject);
        assert_eq!(m.run_id, f.run_id);
        assert_eq!((m.text_parts, m.html_parts), (1, 1), "{}", m.subject);
        assert!(!m.text.contains("<td"), "the text part is text");
        assert!(m.html.contains("<table>"), "the HTML part is HTML");
        assert!(m.text.contains(&format!("date={DATE}/")), "says where the reports are");
        let recorded = state["messages"]
            .as_object()
            .unwrap()
            .values()
            .find(|r| r["subject"] == m.subject.as_str())
            .expect("recorded in the sent-state");
        assert_eq!(recorded["message_id"].as_str().unwrap(), format!("<{}>", m.message_id));
    }

    // Support: every candidate, largest first, and the high-severity findings.
    let support = by_subject(&mails, is_support);
    assert_eq!(
        support.subject,
        format!(
            "credit-recon {DATE}: {} refund candidates ({} credits), {high} high-severity findings",
            f.refunds.len(),
            f.refund_total
        )
    );
    assert_eq!(
        support.subject,
        "credit-recon 2026-11-02: 9 refund candidates (53.0000 credits), 8 high-severity findings"
    );
    assert_eq!(support.to, ["support@test.example", "desk@test.example"]);
    let mut envelope = support.envelope_to.clone();
    envelope.sort();
    assert_eq!(envelope, ["desk@test.example", "support@test.example"]);
    let amounts: Vec<String> = f.refunds.iter().map(|r| r.1.clone()).collect();
    assert_eq!(listed_refunds(&support.text), amounts, "{}", support.text);
    for (_, amount, entry) in &f.refunds {
        assert!(support.html.contains(&format!("<td class=\"n\">{amount}</td>")), "{amount} in HTML");
        assert!(support.html.contains(entry.as_str()), "{entry} in HTML");
    }
    assert!(support.text.contains("You were charged twice for the same action."));
    assert!(support.text.contains(&format!("High-severity findings: {high}, largest first")));
    assert!(support.html.contains(&format!("High-severity findings: {high}, largest first")));
    assert!(!support.text.contains("LATE_CHARGE"), "low severity is not listed");

    // Finance: totals by category, findings by severity, refund total.
    let finance = by_subject(&mails, is_finance);
    assert_eq!(finance.to, ["finance@test.example"]);
    let total: usize = f.severities.values().sum();
    assert_eq!(
        finance.subject,
        format!(
            "credit-recon {DATE} summary: {total} findings ({high} high), {} refund candidates ({} credits)",
            f.refunds.len(),
            f.refund_total
        )
    );
    let sev = format!(
        "Findings: {total} (high {high}, medium {}, low {})",
        f.severities["medium"], f.severities["low"]
    );
    assert!(finance.text.contains(&sev), "{}", finance.text);
    assert!(finance.html.contains(&sev));
    let refunds = format!("Refund candidates: {}, {} credits", f.refunds.len(), f.refund_total);
    assert!(finance.text.contains(&refunds) && finance.html.contains(&refunds));
    for (c, expected, charged) in &f.categories {
        let line = finance.text.lines().find(|l| l.trim_start().starts_with(&format!("{c} "))).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            [c.as_str(), &expected.to_string(), &charged.to_string(), &(charged - expected).to_string()]
        );
        assert!(
            finance.html.contains(&format!(
                "<td>{c}</td><td class=\"n\">{expected}</td><td class=\"n\">{charged}</td>"
            ))
        );
    }

    // Per-account copies go to the account's support_email, with its lines only.
    for (account, address) in [("acc-1", "support@northwind.example"), ("acc-3", "ops@cedarlabs.example")] {
        let m = by_subject(&mails, |s| s.contains(&format!("({account}):")));
        assert_eq!(m.envelope_to, [address]);
        let mine: Vec<String> = f.refunds.iter().filter(|r| r.0 == account).map(|r| r.1.clone()).collect();
        assert_eq!(listed_refunds(&m.text), mine);
    }
}

#[test]
fn a_rerun_does_not_mail_again_and_resend_does() {
    let dir = util::tmp();
    let server = SmtpServer::start(Behaviour::Accept);
    let config = mail_config(dir.path(), "");
    let out_dir = dir.path().join("out");
    let flags = smtp_flags(&server, &config);
    assert_eq!(run(&out_dir, &args(&flags)).status.code(), Some(3));
    assert_eq!(server.messages().len(), 4);
    let first = sent_state(&out_dir);

    let again = run(&out_dir, &args(&flags));
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert_eq!(server.messages().len(), 4, "same results: nothing mailed again");
    assert_eq!(sent_state(&out_dir), first);

    let mut resend = flags.clone();
    resend.push("--resend".into());
    assert_eq!(run(&out_dir, &args(&resend)).status.code(), Some(3));
    let mails: Vec<Mail> = server.messages().iter().map(parse_received).collect();
    assert_eq!(mails.len(), 8, "--resend sends every message again");
    assert!(mails[4..].iter().all(|m| !m.subject.contains("(updated)")));
}

#[test]
fn changed_results_are_mailed_again_marked_updated() {
    let dir = util::tmp();
    let data = dir.path().join("data");
    util::copy_tree(&util::samples(), &data);
    let server = SmtpServer::start(Behaviour::Accept);
    let config = mail_config(dir.path(), "");
    let out_dir = dir.path().join("out");
    let flags = smtp_flags(&server, &config);
    assert_eq!(run_on(&data, &out_dir, DATE, &args(&flags), &[]).status.code(), Some(3));
    let before = sent_state(&out_dir);

    // Support refunds the demo upload's charge (le-206, 15 credits): acc-1's candidates change.
    let ledger = data.join("ledger/date=2026-11-02/entries.csv");
    let mut text = std::fs::read_to_string(&ledger).unwrap();
    text.push_str("le-299,2026-11-02T23:00:00Z,acc-1,prj-2,refund,import,15.0000,le-206,\n");
    std::fs::write(&ledger, text).unwrap();
    let out = run_on(&data, &out_dir, DATE, &args(&flags), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    let mails: Vec<Mail> = server.messages().iter().map(parse_received).collect();
    let new = &mails[4..];
    assert_eq!(new.len(), 3, "finance, support and acc-1 changed; acc-3 did not");
    for m in new {
        assert!(m.subject.contains(" (updated): "), "{}", m.subject);
        assert!(m.text.starts_with("UPDATED:"), "{}", m.text);
        let key = if m.subject.contains(" summary ") {
            "finance"
        } else if m.subject.contains("(acc-1)") {
            "account:acc-1"
        } else {
            "support"
        };
        let previous = before["messages"][key]["message_id"].as_str().unwrap().to_string();
        assert_eq!(m.in_reply_to.as_deref().map(|id| format!("<{id}>")), Some(previous), "{}", m.subject);
    }
    let support = by_subject(new, |s| {
        s.starts_with(&format!("credit-recon {DATE} (updated): ")) && !s.contains("(acc-")
    });
    assert!(support.subject.contains("8 refund candidates (38.0000 credits)"), "{}", support.subject);
}

#[test]
fn a_refusing_server_fails_the_run_with_exit_4_and_keeps_the_reports() {
    let dir = util::tmp();
    let server = SmtpServer::start(Behaviour::RefuseRecipients);
    let config = mail_config(dir.path(), "");
    let out_dir = dir.path().join("out");
    let out = run(&out_dir, &args(&smtp_flags(&server, &config)));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not delivered") && err.contains("refused by the server"), "{err}");
    assert_eq!(server.connections(), 1, "a 5xx refusal is not retried");
    assert!(server.messages().is_empty());
    reports_are_there(&out_dir);
    assert!(!out_dir.join(format!(".mail-sent/date={DATE}.jsonl")).exists(), "nothing recorded as sent");
}

#[test]
fn a_dropped_connection_is_retried_then_fails_with_exit_4_and_keeps_the_reports() {
    let dir = util::tmp();
    let (port, accepted) = smtp::dropping_server();
    let config = mail_config(dir.path(), "");
    let out_dir = dir.path().join("out");
    let url = format!("smtp://127.0.0.1:{port}?tls=none");
    let out = run(&out_dir, &["--mail-config", config.to_str().unwrap(), "--smtp-url", &url]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("after 3 attempt(s)"), "{}", stderr(&out));
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "tried 3 times, as configured");
    reports_are_there(&out_dir);
}

#[test]
fn a_temporary_failure_is_retried_and_delivered_once() {
    let dir = util::tmp();
    let server = SmtpServer::start(Behaviour::FailFirst(1));
    let config = mail_config(dir.path(), "");
    let out_dir = dir.path().join("out");
    let out = run(&out_dir, &args(&smtp_flags(&server, &config)));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(server.messages().len(), 4);
    assert_eq!(server.data_ends(), 5, "the first message was tried twice");
}

#[test]
fn starttls_with_login_delivers_and_never_shows_the_password() {
    let dir = util::tmp();
    let server = SmtpServer::start_tls();
    let ca = util::repo().join("tests/data/tls/ca.pem");
    let config = mail_config(
        dir.path(),
        &format!(
            "[mail.smtp]\nurl = \"smtp://localhost:{}\"\nuser = \"{}\"\nca_file = \"{}\"\n",
            server.port,
            smtp::USER,
            ca.display()
        ),
    );
    let out_dir = dir.path().join("out");
    let flags = ["--mail-config", config.to_str().unwrap()];
    let out = run_on(
        &util::samples(),
        &out_dir,
        DATE,
        &flags,
        &[(PASSWORD_ENV, smtp::PASSWORD), ("CREDIT_RECON_LOG", "debug")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(server.messages().len(), 4);
    let logins = server.logins();
    assert!(!logins.is_empty(), "the server takes mail only after a login, and a login only over TLS");
    assert!(logins.iter().all(|l| l == &(smtp::USER.to_string(), smtp::PASSWORD.to_string())));
    assert!(!stderr(&out).contains(smtp::PASSWORD), "the password is never logged");
    assert!(
        !std::fs::read_to_string(out_dir.join(format!(".mail-sent/date={DATE}.jsonl")))
            .unwrap()
            .contains(smtp::PASSWORD)
    );

    // A wrong password is refused (535) and fails the run; the reports stay.
    let other = dir.path().join("other");
    let out = run_on(&util::samples(), &other, DATE, &flags, &[(PASSWORD_ENV, "wrong")]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong"), "{}", stderr(&out));
    assert!(other.join(format!("date={DATE}/manifest.json")).is_file());
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn file_transport_writes_parseable_eml_files() {
    let dir = util::tmp();
    let out_dir = dir.path().join("out");
    let mail_dir = dir.path().join("mail");
    let out = run(&out_dir, &["--mail-dir", mail_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let mails: Vec<Mail> = eml_files(&mail_dir)
        .iter()
        .map(|p| parse(&std::fs::read(p).unwrap(), String::new(), vec![]))
        .collect();
    assert_eq!(mails.len(), 4);
    let support = by_subject(&mails, is_support);
    assert_eq!(support.to, ["support@localhost"]);
    let f = figures(&out_dir.join(format!("date={DATE}")));
    assert_eq!(listed_refunds(&support.text), f.refunds.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    assert!(
        mails
            .iter()
            .all(|m| m.text_parts == 1 && m.html_parts == 1 && m.has_date && !m.message_id.is_empty())
    );
    assert!(!out_dir.join("outbox").exists(), "--mail-dir replaces the default outbox");

    // Without any mail flag, the README's command writes them into <out>/outbox/.
    let plain = dir.path().join("plain");
    assert_eq!(run(&plain, &[]).status.code(), Some(3));
    assert_eq!(eml_files(&plain.join("outbox")).len(), 4);
}

#[test]
fn a_quiet_night_sends_nothing_unless_asked() {
    let dir = util::tmp();
    let server = SmtpServer::start(Behaviour::Accept);
    let config = mail_config(dir.path(), "");
    let flags = smtp_flags(&server, &config);
    let out = run_on(&util::samples(), &dir.path().join("a"), QUIET_DATE, &args(&flags), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(server.messages().is_empty(), "nothing to report: nothing sent");

    let mut send_empty = flags.clone();
    send_empty.push("--send-empty".into());
    let out = run_on(&util::samples(), &dir.path().join("b"), QUIET_DATE, &args(&send_empty), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let subjects: Vec<String> = server.messages().iter().map(|r| parse_received(r).subject).collect();
    assert_eq!(
        subjects,
        [
            format!(
                "credit-recon {QUIET_DATE} summary: 0 findings (0 high), 0 refund candidates (0.0000 credits)"
            ),
            format!(
                "credit-recon {QUIET_DATE}: 0 refund candidates (0.0000 credits), 0 high-severity findings"
            ),
        ]
    );
}

#[test]
fn no_mail_sends_nothing_and_bad_mail_flags_are_usage_errors() {
    let dir = util::tmp();
    let out_dir = dir.path().join("out");
    let out = run(&out_dir, &["--no-mail"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!out_dir.join("outbox").exists() && !out_dir.join(".mail-sent").exists());

    // A login without the password in the environment: exit 2 before anything is read.
    let bad = dir.path().join("bad");
    let out = run(&bad, &["--smtp-url", "smtp://127.0.0.1:1", "--smtp-user", "recon"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(PASSWORD_ENV), "{}", stderr(&out));
    assert!(!bad.exists(), "nothing written");
    let out = run(&bad, &["--finance-to", "not an address"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
