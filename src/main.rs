//! The `credit-recon` binary: parse the flags, run, map the outcome to an exit code.

use clap::Parser;
use credit_recon::cli::{Cli, Command, LogFormat};
use credit_recon::exit::ExitCode;
use tracing_subscriber::EnvFilter;

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
        Command::Run(args) => args.to_config().and_then(|cfg| credit_recon::pipeline::run(&cfg)),
        Command::BenchScan(args) => {
            return match credit_recon::bench::scan_all(&args.data) {
                Ok(o) => {
                    println!(
                        "bench-scan: {} files, {} rows, {} values, {:.3} s",
                        o.files, o.rows, o.values, o.seconds
                    );
                    ExitCode::Ok.into()
                }
                Err(e) => {
                    eprintln!("credit-recon: {e}");
                    ExitCode::for_error(&e).into()
                }
            };
        }
        Command::Generate(args) => {
            return match credit_recon::generate::generate(&args.out, &args.to_config()) {
                Ok(_) => ExitCode::Ok.into(),
                Err(e) => {
                    tracing::error!(error = %e, "generate failed");
                    eprintln!("credit-recon: {e}");
                    ExitCode::for_error(&e).into()
                }
            };
        }
    };
    match outcome {
        Ok(o) if o.high_findings > 0 => {
            tracing::warn!(high_findings = o.high_findings, report_dir = %o.report_dir.display(), "high-severity findings");
            ExitCode::HighSeverityFindings.into()
        }
        Ok(_) => ExitCode::Ok.into(),
        Err(e) => {
            tracing::error!(error = %e, "run failed");
            eprintln!("credit-recon: {e}");
            ExitCode::for_error(&e).into()
        }
    }
}
