//! The `credit-recon` binary: parse the flags, run, mail the results, map the outcome to an exit code.

use clap::Parser;
use credit_recon::cli::{Cli, Command, LogFormat, RunArgs};
use credit_recon::exit::ExitCode;
use credit_recon::pipeline::RunOutcome;
use tracing_subscriber::EnvFilter;

/// Validates every flag (mail included) before reading anything, runs the date, then mails the
/// results; a mail failure comes after the reports are in place.
fn run(args: &RunArgs) -> credit_recon::Result<RunOutcome> {
    let cfg = args.to_config()?;
    let mail = args.mail.to_settings(&cfg.report_root)?;
    let outcome = credit_recon::pipeline::run(&cfg)?;
    credit_recon::notify::after_run(mail.as_ref(), &outcome, cfg.date)?;
    Ok(outcome)
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::Usage.into() } else { ExitCode::Ok.into() };
        }
    };
    let filter = EnvFilter::try_from_env("CREDIT_RECON_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    let outcome = match cli.command {
        Command::Run(args) => run(&args),
    };
    match outcome {
        Ok(o) if o.high_findings > 0 => {
            tracing::warn!(high_findings = o.high_findings, report_dir = %o.report_dir.display(), "high-severity findings");
            ExitCode::HighSeverityFindings.into()
        }
        Ok(_) => ExitCode::Ok.into(),
        Err(e) => {
            let code = ExitCode::for_error(&e);
            let what = if code == ExitCode::NotifyFailed {
                "mail not delivered; reports kept"
            } else {
                "run failed"
            };
            tracing::error!(error = %e, exit_code = code as u8, "{what}");
            eprintln!("credit-recon: {e}");
            code.into()
        }
    }
}
