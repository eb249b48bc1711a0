//! `driftwatch replay`: event files through decode → detectors, locally.
//!
//! The engine and its conventions (state versions next to the event file, the digest and lock
//! rules, the final sweep) are `driftwatch_decode::replay`, which the events/ tests run too.

use crate::inputs;
use crate::render;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::policy::Policy;
use driftwatch_core::state::{self, StateLocation};
use driftwatch_core::{Catalog, Redactor};
use driftwatch_engine::replay::Replay;
use driftwatch_local::events;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use tracing::info;

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Args)]
#[command(after_help = "\
Event files: *.json, *.json.gz, *.jsonl, *.jsonl.gz (JSON Lines: one event per line), any mix of
  EventBridge events (CloudTrail API calls, Config changes, S3 Object Created/Deleted, schedules),
  S3 event notifications, DynamoDB Streams batches of the lock table, CloudTrail records and
  CloudTrail log files ({\"Records\":[...]}, as delivered to S3). Directories are searched
  recursively and replayed in path order; files named expected*.json are skipped.

State writes: an S3 Object Created event on a state key with version id V is checked against the
  previous write of the same key when V.tfstate lies next to the event file; a .tflock event with
  version id V reads its lock info from V.tflock. See events/README.md.

Examples:
  driftwatch replay --state samples/states --events events/ --policy events/policy.toml
  driftwatch replay --state samples/states --events events/trail-watcher/console-edit --format json
  driftwatch replay --state prod/ --events AWSLogs/123456789012/CloudTrail/ --now 2026-11-22T12:00:00Z --out findings/

Exit status: 0 no findings, 1 findings reported, 2 error.")]
pub struct ReplayArgs {
    /// Terraform state file (v4 JSON) or a directory searched for *.tfstate: the managed
    /// world the events are checked against; repeatable
    #[arg(long = "state", value_name = "FILE|DIR", required = true)]
    states: Vec<PathBuf>,
    /// Event file or directory of event files; repeatable
    #[arg(long = "events", value_name = "FILE|DIR", required = true)]
    events: Vec<PathBuf>,
    /// Policy (TOML): pipeline principals and session names, state buckets, lock tables,
    /// lock thresholds, regulated-data tag. Default: nothing is the pipeline
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Replay clock (RFC 3339): dates input.invalid findings, and a final sweep at this time
    /// reports locks still held too long. Default: now, without the final sweep
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    #[command(flatten)]
    findings: render::FindingsArgs,
}

/// Load `--policy`.
pub fn load_policy(path: Option<&PathBuf>) -> Result<Policy> {
    let Some(path) = path else { return Ok(Policy::default()) };
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    Policy::from_toml(&text).with_context(|| path.display().to_string())
}

/// Run; `Ok(true)` when there are findings that no exception suppresses.
pub fn run(args: ReplayArgs) -> Result<bool> {
    let catalog = Catalog::builtin();
    let salt = crate::salt::digest_salt(args.findings.evidence.is_some(), args.findings.salt)?;
    let redactor = Redactor::new(salt.as_bytes());
    let policy = load_policy(args.policy.as_ref())?;
    let exceptions = crate::exceptions::load_opt(args.findings.exceptions.as_ref(), &policy.exceptions)?;

    let mut index = ManagedIndex::default();
    let mut state_count = 0usize;
    for arg in &args.states {
        for path in inputs::expand(arg, inputs::is_state_file, "Terraform state files (*.tfstate)")? {
            let bytes = inputs::read(&path)?;
            let st = state::parse_state(&bytes, StateLocation::local(path.display().to_string()), &catalog, &redactor)
                .with_context(|| path.display().to_string())?;
            drop(bytes);
            let s = index.add_state(st, &catalog);
            info!(state = %path.display(), serial = s.state.serial, indexed = s.indexed, "state indexed");
            state_count += 1;
        }
    }

    let mut files = Vec::new();
    for arg in &args.events {
        files.extend(inputs::expand(arg, events::is_event_file, "event files (*.json, *.json.gz, *.jsonl)")?);
    }
    let sizes: Vec<u64> = files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).collect();
    let total: u64 = sizes.iter().sum();
    let bar = replay_bar(total);

    let clock = args.now.unwrap_or_else(Utc::now);
    let mut rep = Replay::new(
        driftwatch_core::detect::Context { index: &index, catalog: &catalog, policy: &policy, redactor: &redactor, now: clock },
        args.now,
    );
    let mut done_bytes = 0u64;
    for (i, (path, size)) in files.iter().zip(&sizes).enumerate() {
        let before = rep.stats.decode.records;
        let result = events::feed_file(&mut rep, path, &mut |n| replay_progress(&bar, done_bytes, i, files.len(), before + n));
        if let Err(e) = result {
            bar.finish_and_clear();
            bail!("{}: {e}", path.display());
        }
        done_bytes += size;
        replay_progress(&bar, done_bytes, i + 1, files.len(), rep.stats.decode.records);
    }
    bar.finish_and_clear();
    let (mut findings, stats, summaries) = rep.finish();
    crate::exceptions::apply(&mut findings, &exceptions, &catalog, clock);
    if let Some(dir) = &args.findings.evidence {
        let mut inputs = Vec::new();
        for path in &files {
            let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
            inputs.push(driftwatch::evidence::InputEvidence::new("event-file", path, &bytes, serde_json::Value::Null));
        }
        let w = driftwatch::evidence::record_run(dir, &inputs, &mut findings, |_, _| true, clock, Utc::now())?;
        info!(store = %dir, created = w.created, already_present = w.already_present, "evidence recorded");
    }
    for s in &summaries {
        info!(summary = %s, "state write");
    }
    info!(
        files = stats.files,
        records = stats.decode.records,
        signals = stats.decode.signals,
        read_only = stats.decode.read_only,
        ignored = stats.decode.ignored,
        invalid = stats.decode.invalid,
        state_writes_checked = stats.state_writes_checked,
        state_writes_unchecked = stats.state_writes_unchecked,
        findings = findings.len(),
        "replay done"
    );
    for f in &findings {
        info!(rule = %f.rule, severity = %f.severity, address = f.resource.address.as_deref().unwrap_or(""), id = %f.resource.id, fingerprint = %f.fingerprint, "finding");
    }
    if let Some(dir) = &args.findings.out {
        std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
        let path = dir.join("findings.json");
        let mut text = serde_json::to_string_pretty(&findings)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
    }
    let closing = format!(
        "{} event file(s), {} records ({} read-only, {} ignored, {} invalid), {} state(s) with {} managed resources.",
        stats.files,
        stats.decode.records,
        stats.decode.read_only,
        stats.decode.ignored,
        stats.decode.invalid,
        state_count,
        index.len()
    );
    if args.findings.format == render::Format::Asff {
        render::print_asff(&findings, &args.findings.asff, clock)?;
    } else {
        render::print(&findings, args.findings.format, render::Closing::Replay(&closing))?;
    }
    Ok(findings.iter().any(driftwatch_core::exceptions::is_unsuppressed))
}

// ---------------------------------------------------------------- progress on stderr

/// Progress is drawn on stderr, and only when stderr is a terminal: a redirected or captured
/// stderr (scripts, CI, tests) gets nothing from it.
fn progress_target() -> Option<ProgressDrawTarget> {
    std::io::stderr().is_terminal().then(|| ProgressDrawTarget::stderr_with_hz(10))
}

/// `replay`'s bar over the bytes of the event files, for inputs of at least
/// [`PROGRESS_MIN_BYTES`]; its message says files, records and records per second.
fn replay_bar(total: u64) -> ProgressBar {
    let Some(target) = progress_target().filter(|_| total >= PROGRESS_MIN_BYTES) else { return ProgressBar::hidden() };
    let style = ProgressStyle::with_template("[{bar:30}] {percent:>3}%  {msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(Some(total), target).with_style(style.progress_chars("#-")).with_finish(ProgressFinish::AndClear)
}

/// Set `bar` to `done` bytes, with files and records read so far.
fn replay_progress(bar: &ProgressBar, done: u64, files_done: usize, files: usize, records: u64) {
    if bar.is_hidden() {
        return;
    }
    bar.set_position(done);
    let secs = bar.elapsed().as_secs_f64().max(1e-3);
    bar.set_message(format!("{files_done}/{files} files  {records} records  {:.0} records/s", records as f64 / secs));
}

/// A spinner counting what `unit` names (`scan`: "state(s) read"); its message says what is
/// being read. Cleared when finished or dropped (an error leaves no half-drawn line).
pub(crate) fn spinner(unit: &str) -> ProgressBar {
    let Some(target) = progress_target() else { return ProgressBar::hidden() };
    let style =
        ProgressStyle::with_template(&format!("{{spinner}} {{pos}} {unit}  {{msg}}")).unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::with_draw_target(None, target).with_style(style).with_finish(ProgressFinish::AndClear);
    // Ticks between updates, so a slow S3 or AWS Config read still shows that it is alive.
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
