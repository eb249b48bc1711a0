//! `driftwatch` — the command-line interface.
//!
//! Exit codes (as driftctl): 0 no findings, 1 findings, 2 error.

/// The same allocator as the functions (`driftwatch-lambda`): the state path allocates per
/// attribute, and mimalloc reads a state about a sixth faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod alerts;
mod backfill;
mod controls;
mod exceptions;
mod import;
mod inputs;
mod render;
mod replay;
mod report;
mod salt;
mod scan;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Event-driven drift and compliance watcher for Terraform-managed AWS — local CLI.
///
/// Compares Terraform state with live AWS configuration and reports console edits,
/// drift, missing and unmanaged resources and encryption regressions, each with its
/// Terraform address, state file and HIPAA / NIST 800-53 controls.
///
/// Exit status: 0 no findings, 1 findings reported, 2 error.
#[derive(Debug, Parser)]
#[command(name = "driftwatch", version, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log format on stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare Terraform state with live AWS configuration (AWS Config items)
    Scan(scan::ScanArgs),
    /// Replay trigger events (CloudTrail, Config changes, state writes, locks, schedules)
    /// through the detectors against Terraform state
    Replay(replay::ReplayArgs),
    /// Evidence store maintenance: seal records into signed digests, create signing keys
    #[command(subcommand)]
    Evidence(driftwatch::evidence::EvidenceCommand),
    /// Verify an evidence store: every record hash, the digest chain and the signatures
    Verify(driftwatch::evidence::VerifyArgs),
    /// Exceptions as code: validate a file, send expiry notices to owners
    #[command(subcommand)]
    Exceptions(exceptions::ExceptionsCommand),
    /// Compliance report for a period from the evidence store: HTML (inline SVG charts), JSON, CSV
    Report(report::ReportArgs),
    /// Preview the alert (email, JSON, AWS Chatbot, SNS message) each finding of a scan or
    /// replay JSON file would send
    Alerts(alerts::AlertsArgs),
    /// The control catalog: every weakened safeguard driftwatch reports (control.*), the
    /// signals that show it (CloudTrail, AWS Config, state writes) and its HIPAA / NIST / CIS
    /// controls
    Controls(controls::ControlsArgs),
    /// Replay a period of a CloudTrail trail's log files (an Organization's too) through the
    /// deployed trail-watcher, in parallel, through its backfill queue
    Backfill(backfill::BackfillArgs),
    /// Terraform import blocks (with a minimal resource block from the live configuration,
    /// secrets left out) for the drift.unmanaged findings of a scan
    Import(import::ImportArgs),
}

fn init_logging(verbose: u8, format: LogFormat) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    // The AWS SDK and its HTTP stack log their own retries and fallbacks (e.g. "failed to load
    // region from IMDS"); their failures reach us as errors anyway. Quiet by default, -v shows
    // their warnings, -vv their info, -vvv everything.
    let sdk = match verbose {
        0 => LevelFilter::OFF,
        1 => LevelFilter::WARN,
        2 => LevelFilter::INFO,
        _ => LevelFilter::TRACE,
    };
    let filter = ["aws_", "hyper", "h2", "rustls", "tower"]
        .into_iter()
        .fold(Targets::new().with_default(level), |t, target| t.with_target(target, sdk));
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(LevelFilter::TRACE).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).finish().with(filter).try_init(),
        LogFormat::Text => builder.with_ansi(false).without_time().finish().with(filter).try_init(),
    };
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose, cli.log_format);
    let result = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Evidence(cmd) => driftwatch::evidence::run_evidence(cmd),
        Command::Verify(args) => driftwatch::evidence::run_verify(args),
        Command::Exceptions(cmd) => exceptions::run(cmd),
        Command::Report(args) => report::run(args),
        Command::Alerts(args) => alerts::run(args),
        Command::Controls(args) => controls::run(args),
        Command::Import(args) => import::run(args),
        Command::Backfill(args) => backfill::run(args),
    };
    match result {
        Ok(has_findings) => ExitCode::from(u8::from(has_findings)),
        Err(e) => {
            // One line: the chain joined, innermost last.
            let msg = e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ");
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}
