//! Rendering findings for people (table) and machines (JSON).

use anyhow::Result;
use driftwatch_core::finding::{Finding, Severity};
use serde_json::Value;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table with one line per finding and one per change
    Table,
    /// JSON array of findings
    Json,
    /// AWS Security Finding Format for Security Hub: {"Findings":[...]}, the
    /// BatchImportFindings body (account and region from each ARN, else --account/--region)
    Asff,
}

/// What a run does with its findings (`scan`, `replay`): print them in a format, write them to
/// a directory, record them in the evidence store; and the exceptions that cover some of them.
#[derive(Debug, clap::Args)]
pub struct FindingsArgs {
    /// Output format on stdout: a table for people, a JSON array of findings, or ASFF for
    /// Security Hub
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the findings as JSON to DIR/findings.json
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Also record the inputs (hashes, never contents) and the findings in the evidence
    /// store: a directory DIR, or s3://BUCKET/PREFIX (write-once, content-addressed; seal
    /// with `driftwatch evidence seal`)
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub evidence: Option<driftwatch::evidence::EvidenceLocation>,
    #[command(flatten)]
    pub asff: AsffArgs,
    #[command(flatten)]
    pub salt: crate::salt::SaltArgs,
    /// Exceptions file (TOML): findings an active exception covers are still reported, as
    /// suppressed, and do not fail the run; invalid and expired exceptions, and ones longer
    /// than the policy's `[exceptions] max_days` (default 90), are findings
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<std::path::PathBuf>,
}

/// Where `--format asff` imports findings whose ARN names no account or region.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AsffArgs {
    /// --format asff: AWS account of findings whose ARN has none (S3 buckets); default: the
    /// account most findings' ARNs name
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// --format asff: region of findings whose ARN has none; default: the region most
    /// findings' ARNs name, else us-east-1
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// Print findings as a `BatchImportFindings` body, `UpdatedAt` = `now`.
pub fn print_asff(findings: &[Finding], args: &AsffArgs, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    use driftwatch_core::asff;
    let defaults = asff::AsffDefaults::infer(findings, args.account.as_deref(), args.region.as_deref());
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &asff::batch(findings, &defaults, now))?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// What was compared, for the table's closing line.
pub struct Summary {
    pub states: usize,
    pub managed: usize,
    pub indexed: usize,
    pub live_items: usize,
    /// The coverage line ([`driftwatch_core::drift::Coverage::line`]).
    pub coverage: String,
}

/// The table's closing line, and how each command shows a finding's changes.
pub enum Closing<'a> {
    /// `scan`: counts by severity, then what was compared; list changes split into
    /// added/missing items.
    Scan(&'a Summary),
    /// `replay`: the given text after the finding count; every change on one line.
    Replay(&'a str),
}

pub fn print(findings: &[Finding], format: Format, closing: Closing) -> Result<()> {
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = stdout.lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, findings)?;
            writeln!(out)?;
        }
        Format::Table => table(&mut out, findings, &closing, colour)?,
        Format::Asff => {
            drop(out);
            return print_asff(findings, &AsffArgs::default(), chrono::Utc::now());
        }
    }
    out.flush()?;
    Ok(())
}

fn paint(s: &str, sev: Severity, colour: bool) -> String {
    if !colour {
        return s.to_string();
    }
    let code = match sev {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "(none)".into(),
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

fn table(out: &mut impl Write, findings: &[Finding], closing: &Closing, colour: bool) -> Result<()> {
    if findings.is_empty() {
        match closing {
            Closing::Scan(s) => {
                writeln!(out, "No findings: {} managed resources in {} state(s) match {} live items.", s.indexed, s.states, s.live_items)?;
                writeln!(out, "{}", s.coverage)?
            }
            Closing::Replay(text) => writeln!(out, "No findings: {text}")?,
        }
        return Ok(());
    }
    let split_lists = matches!(closing, Closing::Scan(_));
    let rule_w = findings.iter().map(|f| f.rule.id().len()).max().unwrap_or(4).max(4);
    writeln!(out, "{:<8}  {:<rule_w$}  RESOURCE", "SEVERITY", "RULE")?;
    for f in findings {
        let what = match (&f.resource.address, &f.resource.state) {
            (Some(a), Some(st)) => format!("{a}  ({})", st.key),
            _ => format!("{} {}", f.resource.resource_type, f.resource.id),
        };
        let sev = format!("{:<8}", f.severity.as_str());
        writeln!(out, "{}  {:<rule_w$}  {what}", paint(&sev, f.severity, colour), f.rule.id())?;
        let pad = " ".repeat(12 + rule_w);
        writeln!(out, "{pad}{}", f.title)?;
        if let Some(id) = &f.suppressed_by {
            writeln!(out, "{pad}  suppressed by {id}")?;
        }
        if let Some(a) = &f.actor {
            let via = if a.via_console { "in the console" } else { "outside the console" };
            writeln!(out, "{pad}  actor {via}{}", a.source_ip.as_deref().map(|ip| format!(", from {ip}")).unwrap_or_default())?;
        }
        for c in &f.changes {
            match (&c.desired, &c.actual) {
                (Value::Array(d), Value::Array(a)) if split_lists => {
                    for x in a.iter().filter(|x| !d.contains(x)) {
                        writeln!(out, "{pad}  {}: + {} (live only)", c.path, show(x))?;
                    }
                    for x in d.iter().filter(|x| !a.contains(x)) {
                        writeln!(out, "{pad}  {}: - {} (missing live)", c.path, show(x))?;
                    }
                }
                _ => writeln!(out, "{pad}  {}: {} → {}", c.path, show(&c.desired), show(&c.actual))?,
            }
        }
    }
    match closing {
        Closing::Scan(s) => {
            let mut counts = std::collections::BTreeMap::new();
            for f in findings {
                *counts.entry(std::cmp::Reverse(f.severity)).or_insert(0usize) += 1;
            }
            let by: Vec<String> = counts.iter().map(|(sev, n)| format!("{n} {}", sev.0)).collect();
            writeln!(
                out,
                "\n{} finding(s) ({}) — {} state(s), {} managed resource instances ({} compared; -v lists the rest), {} live items.",
                findings.len(),
                by.join(", "),
                s.states,
                s.managed,
                s.indexed,
                s.live_items
            )?;
            writeln!(out, "{}", s.coverage)?;
        }
        Closing::Replay(text) => writeln!(out, "\n{} finding(s) — {text}", findings.len())?,
    }
    Ok(())
}
