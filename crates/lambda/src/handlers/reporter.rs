//! `reporter`: the scheduled continuous-compliance report.
//!
//! Reads the `finding` evidence records written during the period (one listing per day of
//! the evidence store's `<yyyy>/<mm>/<dd>/finding/` prefixes), builds the report with the
//! core (the same as `driftwatch report`), writes `report.html`, `report.json` and
//! `report.csv` under `<reports prefix>/<period end date>/`, and records the report JSON as a
//! `report` evidence record. The period is the scheduled event's `detail.from`/`detail.to`
//! when given, else the 30 days before the event's time. A record that cannot be read as a
//! finding is skipped and counted, never fatal. The `coverage` records give what the scans
//! compared, the `heard` records which accounts and regions events came from (the
//! organisation's coverage against the policy's `[accounts]` and `[organization] regions`).

use super::{transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use chrono::{DateTime, Duration, Utc};
use driftwatch_core::heard::{self, Heard};
use driftwatch_core::report::{self, ExpiringException, FindingRecord, Period};
use driftwatch_core::Finding;
use serde_json::{json, Value};
use tracing::{info, warn};

/// Default period length.
const DEFAULT_DAYS: i64 = 30;

fn time_at(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    v.pointer(pointer).and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let now = time_at(&payload, "/time").unwrap_or(inv.now);
    let to = time_at(&payload, "/detail/to").unwrap_or(now);
    let from = time_at(&payload, "/detail/from").unwrap_or(to - Duration::days(DEFAULT_DAYS));
    let (records, skipped) = read_findings(adapters, from, now.max(to)).await?;
    let exceptions = driftwatch_core::ports::ExceptionSource::load(&adapters.exceptions, &adapters.env.policy.exceptions).await?;
    let expiring: Vec<ExpiringException> = exceptions
        .exceptions
        .iter()
        .filter(|e| e.is_valid())
        .map(|e| ExpiringException {
            id: e.id.clone(),
            owner: [e.owner.email.as_deref(), e.owner.sns_topic.as_deref()].into_iter().flatten().next().map(str::to_string),
            expires: e.expires,
            detail: format!("{} (ticket {})", e.reason, e.ticket),
            evidence: vec![format!("exceptions table {}", adapters.env.exceptions_table)],
        })
        .collect();
    let period = Period { from: Some(from), to: Some(to) };
    let mut r = report::build(&records, period, now, Some(expiring));
    report::name_accounts(&mut r, &adapters.env.policy.accounts);
    r.coverage = report::latest_coverage(read_coverage(adapters, from, now.max(to)).await?, period);
    r.org_coverage = heard::coverage(&read_heard(adapters, from, to).await?, &adapters.env.policy, from, to);
    let report_json = report::to_json(&r);
    let reports = adapters.env.reports.clone().ok_or_else(|| transient("DRIFTWATCH_REPORTS is not set"))?;
    let dir =
        format!("{}{}", if reports.prefix.is_empty() { String::new() } else { format!("{}/", reports.prefix) }, to.format("%Y-%m-%d"));
    let mut written = Vec::new();
    let pretty = serde_json::to_vec_pretty(&report_json).map_err(transient)?;
    for (name, bytes, content_type) in [
        ("report.html", report::to_html(&r).into_bytes(), "text/html; charset=utf-8"),
        ("report.json", pretty, "application/json"),
        ("report.csv", report::to_csv(&r).into_bytes(), "text/csv; charset=utf-8"),
    ] {
        let key = format!("{dir}/{name}");
        adapters.report_files.put(&reports.bucket, &key, bytes, content_type).await.map_err(transient)?;
        written.push(format!("s3://{}/{key}", reports.bucket));
    }
    let record = driftwatch_core::evidence::Record { kind: "report".into(), time: to, body: report_json };
    driftwatch_engine::write_evidence(&adapters.evidence, &record, inv.now).await?;
    let open = r.by_status.iter().find(|c| c.label == "open").map(|c| c.count).unwrap_or(0);
    info!(records = r.records, findings = r.findings, open, skipped, "report written");
    Ok(json!({
        "period": {"from": from, "to": to},
        "records": r.records,
        "findings": r.findings,
        "open": open,
        "skipped": skipped,
        "written": written,
    }))
}

/// Every record of `kind` written from `from`'s day to `until`'s day: its key, time and body
/// (one listing per day). A record that cannot be read as one is logged and counted.
async fn records_of(
    adapters: &Adapters,
    kind: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(Vec<(String, DateTime<Utc>, Value)>, usize), HandlerError> {
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut day = from.date_naive();
    while day <= until.date_naive() {
        let prefix = format!("{}/{kind}/", day.format("%Y/%m/%d"));
        for listed in adapters.evidence.list(&prefix).await.map_err(transient)? {
            let Some(bytes) = adapters.evidence.get(&listed.key).await.map_err(transient)? else { continue };
            let parsed =
                serde_json::from_slice::<Value>(&bytes).ok().and_then(|mut v| Some((time_at(&v, "/time")?, v.get_mut("body")?.take())));
            match parsed {
                Some((time, body)) => out.push((listed.key, time, body)),
                None => {
                    warn!(key = %listed.key, kind, "skipping a record that cannot be read");
                    skipped += 1;
                }
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    Ok((out, skipped))
}

/// The `coverage` records (the sweeper's reconciles, `driftwatch scan --evidence`).
async fn read_coverage(
    adapters: &Adapters,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<report::CoverageRecord>, HandlerError> {
    let (records, _) = records_of(adapters, "coverage", from, until).await?;
    Ok(records
        .into_iter()
        .filter_map(|(key, time, body)| match serde_json::from_value(body) {
            Ok(coverage) => Some(report::CoverageRecord { key, time, coverage }),
            Err(e) => {
                warn!(key = %key, error = %e, "skipping a coverage record that cannot be read");
                None
            }
        })
        .collect())
}

/// The `heard` records: the accounts, regions and days events came from.
async fn read_heard(adapters: &Adapters, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<Heard>, HandlerError> {
    let (records, _) = records_of(adapters, heard::KIND, from, until).await?;
    Ok(records.iter().filter_map(|(_, _, body)| Heard::from_body(body)).collect())
}

/// The `finding` records; those that are not a finding are skipped and counted.
async fn read_findings(
    adapters: &Adapters,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(Vec<FindingRecord>, usize), HandlerError> {
    let (records, mut skipped) = records_of(adapters, "finding", from, until).await?;
    let mut out = Vec::new();
    for (key, time, body) in records {
        match serde_json::from_value::<Finding>(body) {
            Ok(finding) => out.push(FindingRecord { key, time, finding }),
            Err(_) => {
                warn!(key = %key, "skipping a record that is not a finding");
                skipped += 1;
            }
        }
    }
    Ok((out, skipped))
}
