//! `driftwatch report`: read the `finding` records of an evidence store, aggregate a period
//! (`driftwatch_core::report`), write `report.html`, `report.json` and `report.csv`, and record
//! the report JSON in the store as a `report` record.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use driftwatch::evidence::{open_store, EvidenceLocation};
use driftwatch_core::evidence::{self, EvidenceStore, PutOutcome, Record};
use driftwatch_core::exceptions::{self, Exceptions};
use driftwatch_core::heard::{self, Heard};
use driftwatch_core::report::{self, ExpiringException, FindingRecord, Period};
use driftwatch_core::Finding;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// `driftwatch report`
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  driftwatch report --evidence ./evidence --out ./report --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z\n\nExit status: 0 report written, 2 error."
)]
pub struct ReportArgs {
    /// Evidence store to read findings from and record the report in: a directory, or
    /// s3://BUCKET/PREFIX
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    evidence: EvidenceLocation,
    /// Directory for report.html, report.json and report.csv (created if missing)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Start of the period (RFC 3339): finding records timed before it are left out
    #[arg(long, value_name = "TIME")]
    from: Option<DateTime<Utc>>,
    /// End of the period (RFC 3339): finding records timed after it are left out
    #[arg(long, value_name = "TIME")]
    to: Option<DateTime<Utc>>,
    /// Report time (RFC 3339); default now. Exceptions expiring within 30 days of it are listed
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    /// Exceptions file (TOML): its valid exceptions expiring within 30 days of --now are listed.
    /// Without it, exception.expiring / exception.invalid findings in the period are listed
    #[arg(long, value_name = "FILE")]
    exceptions: Option<PathBuf>,
    /// Longest allowed exception duration in days (as for scan --exceptions)
    #[arg(long, value_name = "DAYS", default_value_t = exceptions::DEFAULT_MAX_DAYS)]
    max_exception_days: u32,
    /// Key prefix inside the store
    #[arg(long, default_value = "")]
    prefix: String,
    /// Policy TOML whose `[accounts]` name each account and its organisational unit in the
    /// breakdown of open findings by account, unit and region
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawRecord {
    kind: String,
    time: DateTime<Utc>,
    body: serde_json::Value,
}

/// Is `key` a `finding` record key: `[prefix/]yyyy/mm/dd/finding/<sha256>.json`?
fn is_finding_key(prefix: &str, key: &str) -> bool {
    is_kind_key(prefix, key, "finding")
}

/// Is `key` a record key of `kind`: `[prefix/]yyyy/mm/dd/<kind>/<sha256>.json`?
fn is_kind_key(prefix: &str, key: &str, kind: &str) -> bool {
    let p = prefix.trim_matches('/');
    let rest = if p.is_empty() { Some(key) } else { key.strip_prefix(p).and_then(|r| r.strip_prefix('/')) };
    let Some(rest) = rest else { return false };
    let parts: Vec<&str> = rest.split('/').collect();
    parts.len() == 5 && parts[3] == kind && parts[4].ends_with(".json") && parts[0] != "digests"
}

/// Every `coverage` record (what a scan compared and did not); unreadable ones are logged and
/// skipped.
pub fn read_coverage(store: &dyn EvidenceStore, prefix: &str) -> Result<Vec<report::CoverageRecord>> {
    let mut out = Vec::new();
    for listed in store.list(&prefix_for_list(prefix))? {
        if !is_kind_key(prefix, &listed.key, "coverage") {
            continue;
        }
        let Some(bytes) = store.get(&listed.key)? else { continue };
        let parsed = serde_json::from_slice::<RawRecord>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|r| serde_json::from_value(r.body).map(|c| (r.time, c)).map_err(|e| e.to_string()));
        match parsed {
            Ok((time, coverage)) => out.push(report::CoverageRecord { key: listed.key, time, coverage }),
            Err(e) => warn!(key = %listed.key, error = %e, "skipping a coverage record that cannot be read"),
        }
    }
    Ok(out)
}

/// Every `heard` record (the accounts, regions and days events came from).
pub fn read_heard(store: &dyn EvidenceStore, prefix: &str) -> Result<Vec<Heard>> {
    let mut out = Vec::new();
    for listed in store.list(&prefix_for_list(prefix))? {
        if !is_kind_key(prefix, &listed.key, heard::KIND) {
            continue;
        }
        let Some(bytes) = store.get(&listed.key)? else { continue };
        match serde_json::from_slice::<RawRecord>(&bytes).ok().and_then(|r| Heard::from_body(&r.body)) {
            Some(h) => out.push(h),
            None => warn!(key = %listed.key, "skipping a heard record that cannot be read"),
        }
    }
    Ok(out)
}

/// Every `finding` record in the store; a record that cannot be read as a finding is logged and
/// skipped (partial results over failure). Returns the records and the number skipped.
pub fn read_findings(store: &dyn EvidenceStore, prefix: &str) -> Result<(Vec<FindingRecord>, usize)> {
    let mut out = Vec::new();
    let mut skipped = 0;
    for listed in store.list(&prefix_for_list(prefix))? {
        if !is_finding_key(prefix, &listed.key) {
            continue;
        }
        let Some(bytes) = store.get(&listed.key)? else {
            warn!(key = %listed.key, "finding record listed but missing");
            skipped += 1;
            continue;
        };
        let parsed = serde_json::from_slice::<RawRecord>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|r| if r.kind == "finding" { Ok(r) } else { Err(format!("kind {:?}", r.kind)) })
            .and_then(|r| serde_json::from_value::<Finding>(r.body).map(|f| (r.time, f)).map_err(|e| e.to_string()));
        match parsed {
            Ok((time, finding)) => out.push(FindingRecord { key: listed.key, time, finding }),
            Err(e) => {
                warn!(key = %listed.key, error = %e, "skipping a record that is not a finding");
                skipped += 1;
            }
        }
    }
    Ok((out, skipped))
}

fn prefix_for_list(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// The valid exceptions of an exceptions file, for the report (which keeps those expiring
/// soon). Their evidence is the file's SHA-256: the file is not an evidence record.
fn exceptions_from(path: &Path, max_days: u32) -> Result<Vec<ExpiringException>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--exceptions {}", path.display()))?;
    let parsed = Exceptions::parse(&text, max_days).map_err(|e| anyhow::anyhow!("--exceptions {}: {e}", path.display()))?;
    let digest = format!("{} sha256:{}", path.display(), evidence::sha256_hex(text.as_bytes()));
    Ok(parsed
        .exceptions
        .into_iter()
        .filter(|e| e.is_valid())
        .map(|e| ExpiringException {
            owner: [e.owner.email.as_deref(), e.owner.sns_topic.as_deref()].into_iter().flatten().next().map(str::to_string),
            expires: e.expires,
            detail: format!("{} (ticket {})", e.reason, e.ticket),
            evidence: vec![format!("{digest} line {}", e.line)],
            id: e.id,
        })
        .collect())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| path.display().to_string())
}

/// Run `report`. Never reports "findings" through the exit status: `Ok(false)`.
pub fn run(a: ReportArgs) -> Result<bool> {
    if let EvidenceLocation::Dir(d) = &a.evidence {
        if !d.is_dir() {
            bail!("{}: not an evidence directory", d.display());
        }
    }
    if let (Some(f), Some(t)) = (a.from, a.to) {
        if f > t {
            bail!("--from {} is after --to {}", f.to_rfc3339(), t.to_rfc3339());
        }
    }
    let now = a.now.unwrap_or_else(Utc::now);
    let policy = crate::replay::load_policy(a.policy.as_ref()).context("--policy")?;
    let mut store = open_store(&a.evidence)?;
    let (records, skipped) = read_findings(store.as_ref(), &a.prefix).with_context(|| a.evidence.to_string())?;
    let expiring = a.exceptions.as_deref().map(|p| exceptions_from(p, a.max_exception_days)).transpose()?;
    let period = Period { from: a.from, to: a.to };
    let mut r = report::build(&records, period, now, expiring);
    report::name_accounts(&mut r, &policy.accounts);
    r.coverage = report::latest_coverage(read_coverage(store.as_ref(), &a.prefix).with_context(|| a.evidence.to_string())?, period);
    let heard = read_heard(store.as_ref(), &a.prefix).with_context(|| a.evidence.to_string())?;
    // Without --from, the period starts on the first day heard from.
    let from = a.from.or_else(|| heard.iter().map(Heard::time).min()).unwrap_or(now);
    r.org_coverage = heard::coverage(&heard, &policy, from, a.to.unwrap_or(now));
    let json = report::to_json(&r);

    std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}", a.out.display()))?;
    write(&a.out, "report.html", report::to_html(&r).as_bytes())?;
    let mut pretty = serde_json::to_vec_pretty(&json).context("serialising the report")?;
    pretty.push(b'\n');
    write(&a.out, "report.json", &pretty)?;
    write(&a.out, "report.csv", report::to_csv(&r).as_bytes())?;

    let record = Record { kind: "report".into(), time: now, body: json };
    let (key, outcome) = evidence::write_record(store.as_mut(), &a.prefix, &record, Utc::now()).with_context(|| a.evidence.to_string())?;
    info!(key = %key, findings = r.findings, records = r.records, skipped, "report written");
    let open = r.by_status.iter().find(|c| c.label == "open").map(|c| c.count).unwrap_or(0);
    println!(
        "report: {} finding record(s), {} distinct finding(s), {} open; wrote {}/report.{{html,json,csv}}; evidence {} ({}){}",
        r.records,
        r.findings,
        open,
        a.out.display(),
        key,
        if outcome == PutOutcome::Created { "new" } else { "already present" },
        if skipped > 0 { format!("; {skipped} unreadable record(s) skipped (see -v)") } else { String::new() }
    );
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_keys() {
        assert!(is_finding_key("", "2026/11/22/finding/abc.json"));
        assert!(!is_finding_key("", "2026/11/22/input/abc.json"));
        assert!(!is_finding_key("", "digests/2026/11/22/1-x.json"));
        assert!(is_finding_key("prod/", "prod/2026/11/22/finding/abc.json"));
        assert!(!is_finding_key("prod", "2026/11/22/finding/abc.json"));
    }
}
