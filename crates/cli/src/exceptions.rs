//! `driftwatch exceptions check|notices`, and loading `--exceptions FILE` for scan and replay.

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use driftwatch_core::exceptions::{self, Exceptions, NoticeLedger, DEFAULT_MAX_DAYS, DEFAULT_THRESHOLDS};
use driftwatch_core::finding::Finding;
use driftwatch_core::policy::ExceptionPolicy;
use driftwatch_core::Catalog;
use std::io::Write;
use std::path::{Path, PathBuf};
use tracing::info;

#[derive(Debug, Subcommand)]
pub enum ExceptionsCommand {
    /// Validate an exceptions file; problems are listed as FILE:LINE: field: message.
    /// Exit status: 0 valid, 1 problems, 2 unreadable
    Check(CheckArgs),
    /// Plan and record expiry notices to exception owners (one per threshold, never twice),
    /// keeping what was sent in a JSON ledger
    Notices(NoticesArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Exceptions file (TOML, [[exception]] tables)
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Longest allowed duration of an exception, in days
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DAYS)]
    max_days: u32,
    /// Check expiry as of this time (RFC 3339); default now
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Each valid exception gets one notice per threshold crossed (the tightest one due: a late run
does not send a burst of stale notices), and an `expired` notice once `--now` reaches `expires`.
The ledger (JSON) records (exception id, expiry, threshold) and is replaced atomically.

Example:
  driftwatch exceptions notices samples/exceptions/exceptions.toml --now 2026-11-22T12:00:00Z --ledger notices.json")]
pub struct NoticesArgs {
    /// Exceptions file (TOML, [[exception]] tables)
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// As of this time (RFC 3339); default now
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    /// Ledger of the notices already sent (JSON; created when missing)
    #[arg(long, value_name = "PATH")]
    ledger: PathBuf,
    /// Days before expiry at which owners are notified
    #[arg(long, value_name = "DAYS", value_delimiter = ',', default_values_t = DEFAULT_THRESHOLDS)]
    thresholds: Vec<u32>,
    /// Longest allowed duration of an exception, in days (longer ones are invalid: no notices)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DAYS)]
    max_days: u32,
    /// Output: a line per notice, or a JSON array of notices
    #[arg(long, value_enum, default_value_t = NoticeFormat::Table)]
    format: NoticeFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoticeFormat {
    /// One line per notice
    Table,
    /// JSON array of notices
    Json,
}

/// Run a subcommand; `Ok(true)` → exit 1.
pub fn run(cmd: ExceptionsCommand) -> Result<bool> {
    match cmd {
        ExceptionsCommand::Check(a) => check(a),
        ExceptionsCommand::Notices(a) => notices(a),
    }
}

/// Load and validate an exceptions file under the policy's `[exceptions]`. A syntax error is
/// an error naming FILE:LINE.
pub fn load(path: &Path, policy: &ExceptionPolicy) -> Result<Exceptions> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    Exceptions::parse_with(&text, policy).map_err(|e| anyhow!("{}:{}: {}: {}", path.display(), e.line, e.field, e.message))
}

/// `--exceptions` for scan and replay, loaded before the work starts so a bad file fails fast.
pub fn load_opt(path: Option<&PathBuf>, policy: &ExceptionPolicy) -> Result<Option<(PathBuf, Exceptions)>> {
    path.map(|p| load(p, policy).map(|ex| (p.clone(), ex))).transpose()
}

/// Suppress what active exceptions cover and add the exception.* findings.
pub fn apply(findings: &mut Vec<Finding>, loaded: &Option<(PathBuf, Exceptions)>, catalog: &Catalog, now: DateTime<Utc>) {
    let Some((path, ex)) = loaded else { return };
    for (id, p) in ex.problems() {
        tracing::warn!(file = %path.display(), line = p.line, field = %p.field, exception = id, "invalid exception: {}", p.message);
    }
    exceptions::apply(findings, ex, catalog, now);
    for f in findings.iter().filter(|f| f.suppressed_by.is_some()) {
        info!(rule = %f.rule, id = %f.resource.id, exception = f.suppressed_by.as_deref().unwrap_or(""), "finding suppressed");
    }
}

fn check(a: CheckArgs) -> Result<bool> {
    let file = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file).with_context(|| file.clone())?;
    let now = a.now.unwrap_or_else(Utc::now);
    let mut lines = Vec::new();
    let count = match Exceptions::parse(&text, a.max_days) {
        Err(e) => {
            lines.push(format!("{file}:{}: {}: {}", e.line, e.field, e.message));
            0
        }
        Ok(ex) => {
            for (id, p) in ex.problems() {
                lines.push(format!("{file}:{}: {}: {} (exception {id})", p.line, p.field, p.message));
            }
            for e in ex.exceptions.iter().filter(|e| e.is_expired(now)) {
                let when = e.expires.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default();
                lines.push(format!("{file}:{}: expires: expired {when} (exception {})", e.expires_line, e.id));
            }
            ex.exceptions.len()
        }
    };
    // In line order: FILE:LINE sorts by its number.
    lines.sort_by_key(|l| l[file.len() + 1..].split(':').next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0));
    let mut out = std::io::stdout().lock();
    if lines.is_empty() {
        writeln!(out, "{file}: {count} exception(s), all valid")?;
        return Ok(false);
    }
    for l in &lines {
        writeln!(out, "{l}")?;
    }
    Ok(true)
}

fn notices(a: NoticesArgs) -> Result<bool> {
    let ex = load(&a.file, &ExceptionPolicy { max_days: a.max_days, ..Default::default() })?;
    let now = a.now.unwrap_or_else(Utc::now);
    let mut ledger = read_ledger(&a.ledger)?;
    let due = exceptions::notices(&ex, now, &a.thresholds, &ledger);
    let mut out = std::io::stdout().lock();
    match a.format {
        NoticeFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &due)?;
            writeln!(out)?;
        }
        NoticeFormat::Table if due.is_empty() => writeln!(out, "No notices due.")?,
        NoticeFormat::Table => {
            for n in &due {
                let to = [n.owner.email.as_deref(), n.owner.sns_topic.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
                writeln!(out, "{:<8}  {}  to {to}: {}", n.threshold.key(), n.exception, n.message)?;
            }
        }
    }
    if !due.is_empty() {
        ledger.record(&due);
        write_ledger(&a.ledger, &ledger)?;
        info!(ledger = %a.ledger.display(), sent = due.len(), "notices recorded");
    }
    Ok(false)
}

fn read_ledger(path: &Path) -> Result<NoticeLedger> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{}: not a notice ledger", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NoticeLedger::default()),
        Err(e) => Err(e).with_context(|| path.display().to_string()),
    }
}

/// Write temp file next to the ledger, then rename over it: readers see the old or the new
/// ledger, never half of one.
fn write_ledger(path: &Path, ledger: &NoticeLedger) -> Result<()> {
    let mut text = serde_json::to_string_pretty(ledger)?;
    text.push('\n');
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ledger".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, path).with_context(|| path.display().to_string())
}
