//! The `credit-recon` binary: parse the flags, run, mail the results, map the outcome to an exit code.

use credit_recon::cli::{Cli, Command, LedgerCommand, LogFormat, RunArgs};
use credit_recon::exit::ExitCode;
use credit_recon::nightly::{self, Lock, LockError};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = match Cli::parse_args() {
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
    match cli.command {
        Command::Run(args) => run(&args),
        Command::Ledger(LedgerCommand::Load(args)) => {
            match args.to_config().and_then(|cfg| credit_recon::ledger_load::load(&cfg)) {
                Ok(_) => ExitCode::Ok.into(),
                Err(e) => fail(&e),
            }
        }
        Command::Invoice(args) => match args.to_config().and_then(|cfg| credit_recon::invoice::run(&cfg)) {
            Ok(o) if o.needs_attention() => {
                tracing::warn!(
                    balance_disagreements = o.balance_disagreements,
                    high_open_findings = o.high_open_findings,
                    report_dir = %o.report_dir.display(),
                    "statements need attention"
                );
                ExitCode::HighSeverityFindings.into()
            }
            Ok(_) => ExitCode::Ok.into(),
            Err(e) => fail(&e),
        },
        Command::Generate(args) => match credit_recon::generate::generate(&args.out, &args.to_config()) {
            Ok(_) => ExitCode::Ok.into(),
            Err(e) => fail(&e),
        },
        Command::BenchScan(args) => match credit_recon::bench::scan_all(&args.data) {
            Ok(o) => {
                println!(
                    "bench-scan: {} files, {} rows, {} values, {:.3} s",
                    o.files, o.rows, o.values, o.seconds
                );
                ExitCode::Ok.into()
            }
            Err(e) => fail(&e),
        },
    }
}

fn run(args: &RunArgs) -> std::process::ExitCode {
    let invocation = match args.to_invocation() {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let _lock = match Lock::acquire(&invocation.config.report_root) {
        Ok(lock) => lock,
        Err(LockError::Held(holder)) => {
            tracing::error!(holder, "another run of this job is in progress");
            eprintln!("credit-recon: another run of this job is in progress ({holder})");
            return ExitCode::Locked.into();
        }
        Err(LockError::Io(e)) => return fail(&e),
    };
    match nightly::run_dates(&invocation.config, &invocation.dates, invocation.mail.as_ref()) {
        Ok(o) if o.high_findings() > 0 => {
            tracing::warn!(high_findings = o.high_findings(), "high-severity findings");
            ExitCode::HighSeverityFindings.into()
        }
        Ok(_) => ExitCode::Ok.into(),
        Err(e) => fail(&e),
    }
}

fn fail(e: &credit_recon::Error) -> std::process::ExitCode {
    let code = ExitCode::for_error(e);
    let what = if code == ExitCode::NotifyFailed { "mail not delivered; reports kept" } else { "run failed" };
    tracing::error!(error = %e, exit_code = code as u8, "{what}");
    eprintln!("credit-recon: {e}");
    code.into()
}
