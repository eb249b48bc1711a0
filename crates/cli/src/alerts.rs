//! `driftwatch alerts`: preview the alert each finding of a scan or replay would send.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use driftwatch_core::alert::Alert;
use driftwatch_core::Finding;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlertFormat {
    /// Subject line and plain-text body, as an email subscriber reads them
    Email,
    /// The finding JSON (the SNS `default` key: SQS, Lambda, HTTP subscribers)
    Json,
    /// The AWS Chatbot custom notification (Slack, Microsoft Teams)
    Chatbot,
    /// The whole SNS Publish: Subject, Message (MessageStructure json), MessageAttributes
    Sns,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Suppressed findings (suppressed_by set) raise no alert and are skipped.

Examples:
  driftwatch scan --state samples/states --live samples/live --format json > findings.json
  driftwatch alerts findings.json --environment prod
  driftwatch alerts findings.json --format chatbot")]
pub struct AlertsArgs {
    /// JSON array of findings, as `scan`/`replay --format json` print or `--out` writes
    #[arg(value_name = "FINDINGS.json")]
    findings: PathBuf,
    /// Alert rendering
    #[arg(long, value_enum, default_value_t = AlertFormat::Email)]
    format: AlertFormat,
    /// Environment name shown in the subject and sent as the `environment` attribute
    #[arg(long, default_value = "prod")]
    environment: String,
    /// Account named when a finding names none (its ARN has none and no event or item told it)
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Policy TOML whose `[accounts]` name each account and its organisational unit
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

/// Run; `Ok(false)`: a preview is not a finding.
pub fn run(args: AlertsArgs) -> Result<bool> {
    let bytes = std::fs::read(&args.findings).with_context(|| args.findings.display().to_string())?;
    let findings: Vec<Finding> =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not a JSON array of findings", args.findings.display()))?;
    let policy = crate::replay::load_policy(args.policy.as_ref())?;
    let mut out = std::io::stdout().lock();
    let mut json = Vec::new();
    let mut first = true;
    for f in findings.iter().filter(|f| f.suppressed_by.is_none()) {
        let a = Alert::new(f, &args.environment).with_account(args.account.as_deref()).with_accounts(&policy.accounts);
        match args.format {
            AlertFormat::Email => {
                if !first {
                    writeln!(out, "\n{}\n", "=".repeat(78))?;
                }
                write!(out, "Subject: {}\n\n{}", a.subject(), a.email_body())?;
            }
            AlertFormat::Json => json.push(a.json()),
            AlertFormat::Chatbot => json.push(a.chatbot()),
            AlertFormat::Sns => json.push(serde_json::to_value(a.sns_message())?),
        }
        first = false;
    }
    if args.format != AlertFormat::Email {
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
    }
    let skipped = findings.iter().filter(|f| f.suppressed_by.is_some()).count();
    if skipped > 0 {
        eprintln!("{skipped} suppressed finding(s) skipped: they raise no alert");
    }
    out.flush()?;
    Ok(false)
}
