//! Continuous-compliance reports: aggregation of recorded findings over a period, rendered to
//! self-contained HTML (inline CSS and SVG drawn here, no script, no external asset), JSON and
//! CSV.
//!
//! Pure: the caller reads the `finding` records from the evidence store and hands them in as
//! [`FindingRecord`]s (record key, record time, finding); everything here is a function of
//! those and `now`. Every number carries the record keys behind it.

use crate::drift::Coverage;
use crate::finding::{Finding, Rule, Severity, Status};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use maud::{html, Markup, PreEscaped, Render};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Report format version.
pub const REPORT_VERSION: u32 = 1;
/// The most days the trend chart spans; a longer period shows its last days.
pub const MAX_TREND_DAYS: usize = 400;
/// Exceptions expiring within this many days of `now` are listed.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

/// One `finding` record read from the evidence store.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRecord {
    /// The record's key in the store.
    pub key: String,
    /// The record's `time` (the finding's `last_seen` when it was written).
    pub time: DateTime<Utc>,
    pub finding: Finding,
}

/// An exception that expires soon, from the exceptions file or an `exception.*` finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpiringException {
    pub id: String,
    pub owner: Option<String>,
    pub expires: Option<DateTime<Utc>>,
    /// What the source says about it (finding title, or the exception's reason).
    pub detail: String,
    pub evidence: Vec<String>,
}

/// The reporting period; open ends are unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Period {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t <= e)
    }
}

/// A number and the evidence keys behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub label: String,
    pub count: usize,
    pub evidence: Vec<String>,
}

/// Open findings per control, grouped by framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlCount {
    /// `HIPAA`, `NIST 800-53` or `other`.
    pub framework: String,
    pub control: String,
    pub count: usize,
    pub evidence: Vec<String>,
}

/// One resolved finding's time to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub fingerprint: String,
    pub rule: String,
    pub hours: Hours,
    pub evidence: Vec<String>,
}

/// A duration in tenths of an hour (rounded): exact to compare and sort, serialised as a JSON
/// number of hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hours(pub i64);

impl Hours {
    pub fn from_seconds(s: i64) -> Self {
        Hours((s + 180) / 360)
    }
    pub fn hours(&self) -> f64 {
        self.0 as f64 / 10.0
    }
}

impl Serialize for Hours {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.hours())
    }
}

/// Time to resolve over the resolved findings (resolved at − first seen; the resolution's
/// time is its evidence record's, else the finding's last sighting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeToResolve {
    pub resolved: usize,
    pub median_hours: Option<Hours>,
    pub max_hours: Option<Hours>,
    pub items: Vec<Resolved>,
}

/// One finding (latest state of a fingerprint in the period).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub fingerprint: String,
    pub severity: Severity,
    pub rule: String,
    pub status: Status,
    pub title: String,
    pub resource: String,
    pub address: Option<String>,
    pub state: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub controls: Vec<String>,
    pub suppressed_by: Option<String>,
    /// The account and region of the finding's resource, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The finding record key.
    pub record: String,
    /// The input records behind the finding.
    pub inputs: Vec<String>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub version: u32,
    pub generated_at: DateTime<Utc>,
    pub period: Period,
    /// `finding` records read in the period.
    pub records: usize,
    /// Distinct findings (fingerprints).
    pub findings: usize,
    /// open / suppressed / resolved.
    pub by_status: Vec<Count>,
    /// Open findings per severity, most severe first (every severity listed).
    pub open_by_severity: Vec<Count>,
    pub open_by_control: Vec<ControlCount>,
    /// Open findings per account (its id, or `name` and unit after [`name_accounts`]), most
    /// first; findings that name no account under `(account not known)`. Empty when no open
    /// finding names an account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_by_account: Vec<Count>,
    /// Open findings per organisational unit, from the policy's `[accounts]` ([`name_accounts`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_by_unit: Vec<Count>,
    /// Open findings per region (`global` for resources without one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_by_region: Vec<Count>,
    /// Findings first seen per day (UTC).
    pub trend: Vec<Count>,
    pub time_to_resolve: TimeToResolve,
    pub exceptions_expiring: Vec<ExpiringException>,
    /// Whether `exceptions_expiring` came from an exceptions file (else from findings).
    pub exceptions_source: String,
    pub rows: Vec<Row>,
    /// What the latest scans in the period compared and did not (`coverage` records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<ReportCoverage>,
    /// The accounts and regions heard from in the period against those the policy lists
    /// (`heard` records, [`crate::heard::coverage`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_coverage: Option<crate::heard::OrgCoverage>,
}

/// A `coverage` evidence record: a scan's [`Coverage`] (a `driftwatch scan`'s states, or one
/// state the sweeper reconciled), its time and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRecord {
    pub key: String,
    pub time: DateTime<Utc>,
    pub coverage: Coverage,
}

/// What the report shows: each state's latest coverage in the period, summed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportCoverage {
    /// The time of the latest record used.
    pub time: DateTime<Utc>,
    /// The records used (the evidence behind the numbers).
    pub evidence: Vec<String>,
    pub coverage: Coverage,
}

/// Each state's latest coverage among the `records` in `period` (by time, then key), summed;
/// `None` without a record in the period.
pub fn latest_coverage(records: Vec<CoverageRecord>, period: Period) -> Option<ReportCoverage> {
    let mut latest: BTreeMap<String, (DateTime<Utc>, String, crate::drift::StateCoverage)> = BTreeMap::new();
    for r in records.into_iter().filter(|r| period.contains(r.time)) {
        for s in r.coverage.states {
            let newer = latest.get(&s.state).is_none_or(|(t, k, _)| (r.time, &r.key) > (*t, k));
            if newer {
                latest.insert(s.state.clone(), (r.time, r.key.clone(), s));
            }
        }
    }
    let time = latest.values().map(|(t, _, _)| *t).max()?;
    let evidence: BTreeSet<String> = latest.values().map(|(_, k, _)| k.clone()).collect();
    let coverage = Coverage::of_states(latest.into_values().map(|(_, _, s)| s).collect());
    Some(ReportCoverage { time, evidence: evidence.into_iter().collect(), coverage })
}

fn status_str(s: Status) -> &'static str {
    match s {
        Status::Open => "open",
        Status::Suppressed => "suppressed",
        Status::Resolved => "resolved",
    }
}

fn framework(control: &str) -> &'static str {
    if control.starts_with("HIPAA") {
        "HIPAA"
    } else if control.starts_with("NIST") {
        "NIST 800-53"
    } else {
        "other"
    }
}

fn resource_label(f: &Finding) -> String {
    f.resource.address.clone().unwrap_or_else(|| format!("{} {}", f.resource.resource_type, f.resource.id))
}

/// Build the report: records outside `period` are dropped, then each fingerprint keeps its
/// latest record (by record time, then key). `exceptions` comes from an exceptions file when
/// given (those expiring within [`EXPIRING_WITHIN_DAYS`] of `now` are kept); otherwise expiring
/// exceptions are taken from `exception.expiring` / `exception.invalid` findings.
pub fn build(records: &[FindingRecord], period: Period, now: DateTime<Utc>, exceptions: Option<Vec<ExpiringException>>) -> Report {
    let in_period: Vec<&FindingRecord> = records.iter().filter(|r| period.contains(r.time)).collect();
    let mut latest: BTreeMap<&str, &FindingRecord> = BTreeMap::new();
    for r in &in_period {
        let e = latest.entry(r.finding.fingerprint.as_str()).or_insert(r);
        if (r.time, &r.key) > (e.time, &e.key) {
            *e = r;
        }
    }
    let mut chosen: Vec<&FindingRecord> = latest.into_values().collect();
    chosen.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then(a.finding.rule.cmp(&b.finding.rule))
            .then(resource_label(&a.finding).cmp(&resource_label(&b.finding)))
            .then(a.finding.fingerprint.cmp(&b.finding.fingerprint))
    });

    let keys = |pred: &dyn Fn(&FindingRecord) -> bool| -> Vec<String> {
        let mut k: Vec<String> = chosen.iter().filter(|r| pred(r)).map(|r| r.key.clone()).collect();
        k.sort();
        k
    };
    let count = |label: &str, evidence: Vec<String>| Count { label: label.to_string(), count: evidence.len(), evidence };

    let by_status = [Status::Open, Status::Suppressed, Status::Resolved]
        .into_iter()
        .map(|s| count(status_str(s), keys(&|r| r.finding.status == s)))
        .collect();
    let open_by_severity = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info]
        .into_iter()
        .map(|s| count(s.as_str(), keys(&|r| r.finding.status == Status::Open && r.finding.severity == s)))
        .collect();

    let mut controls: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in chosen.iter().filter(|r| r.finding.status == Status::Open) {
        for c in &r.finding.controls {
            controls.entry(c.as_str()).or_default().insert(r.key.clone());
        }
    }
    let mut open_by_control: Vec<ControlCount> = controls
        .into_iter()
        .map(|(c, k)| ControlCount { framework: framework(c).into(), control: c.into(), count: k.len(), evidence: k.into_iter().collect() })
        .collect();
    open_by_control.sort_by(|a, b| a.framework.cmp(&b.framework).then(b.count.cmp(&a.count)).then(a.control.cmp(&b.control)));

    let trend = trend(&chosen, period);
    let open: Vec<&&FindingRecord> = chosen.iter().filter(|r| r.finding.status == Status::Open).collect();
    let (open_by_account, open_by_region) = if open.iter().any(|r| r.finding.resource.account.is_some()) {
        (
            group_counts(&open, |r| r.finding.resource.account.clone().unwrap_or_else(|| NO_ACCOUNT.to_string())),
            group_counts(&open, |r| r.finding.resource.region.clone().unwrap_or_else(|| "global".to_string())),
        )
    } else {
        (Vec::new(), Vec::new())
    };

    let mut items: Vec<Resolved> = chosen
        .iter()
        .filter(|r| r.finding.status == Status::Resolved)
        .map(|r| Resolved {
            fingerprint: r.finding.fingerprint.clone(),
            rule: r.finding.rule.id().into(),
            // Resolved when its record was written (the resolution's time), else last seen.
            hours: Hours::from_seconds((r.time.max(r.finding.last_seen) - r.finding.first_seen).num_seconds().max(0)),
            evidence: vec![r.key.clone()],
        })
        .collect();
    items.sort_by(|a, b| b.hours.cmp(&a.hours).then(a.fingerprint.cmp(&b.fingerprint)));
    let mut hours: Vec<Hours> = items.iter().map(|i| i.hours).collect();
    hours.sort();
    let time_to_resolve =
        TimeToResolve { resolved: items.len(), median_hours: hours.get(hours.len() / 2).copied(), max_hours: hours.last().copied(), items };

    let (exceptions_expiring, exceptions_source) = match exceptions {
        Some(mut list) => {
            list.retain(|e| e.expires.is_some_and(|x| x >= now && x <= now + Duration::days(EXPIRING_WITHIN_DAYS)));
            list.sort_by(|a, b| a.expires.cmp(&b.expires).then(a.id.cmp(&b.id)));
            (list, "exceptions file".to_string())
        }
        None => {
            let list = chosen
                .iter()
                .filter(|r| {
                    matches!(r.finding.rule, Rule::ExceptionExpiring | Rule::ExceptionInvalid) && r.finding.status != Status::Resolved
                })
                .map(|r| ExpiringException {
                    id: r.finding.resource.id.clone(),
                    owner: None,
                    expires: None,
                    detail: format!("{}: {}", r.finding.rule.id(), r.finding.title),
                    evidence: vec![r.key.clone()],
                })
                .collect();
            (list, "exception.expiring / exception.invalid findings in the period (no exceptions file read)".to_string())
        }
    };

    let rows = chosen
        .iter()
        .map(|r| {
            let f = &r.finding;
            Row {
                fingerprint: f.fingerprint.clone(),
                severity: f.severity,
                rule: f.rule.id().into(),
                status: f.status,
                title: f.title.clone(),
                resource: format!("{} {}", f.resource.resource_type, f.resource.id),
                address: f.resource.address.clone(),
                state: f.resource.state.as_ref().map(|s| format!("{} ({})", s.key, s.workspace)),
                first_seen: f.first_seen,
                last_seen: f.last_seen,
                controls: f.controls.clone(),
                suppressed_by: f.suppressed_by.clone(),
                account: f.resource.account.clone(),
                region: f.resource.region.clone(),
                record: r.key.clone(),
                inputs: f.evidence.clone(),
            }
        })
        .collect();

    Report {
        version: REPORT_VERSION,
        generated_at: now,
        period,
        records: in_period.len(),
        findings: chosen.len(),
        by_status,
        open_by_severity,
        open_by_control,
        open_by_account,
        open_by_unit: Vec::new(),
        open_by_region,
        trend,
        time_to_resolve,
        exceptions_expiring,
        exceptions_source,
        rows,
        coverage: None,
        org_coverage: None,
    }
}

/// The label of open findings that name no account.
pub const NO_ACCOUNT: &str = "(account not known)";

/// Counts of `records` by `key`, most first, then by label.
fn group_counts(records: &[&&FindingRecord], key: impl Fn(&FindingRecord) -> String) -> Vec<Count> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        groups.entry(key(r)).or_default().push(r.key.clone());
    }
    most_first(groups)
}

/// Each group's count, with its evidence keys sorted; most first, then by label.
fn most_first(groups: BTreeMap<String, Vec<String>>) -> Vec<Count> {
    let mut out: Vec<Count> = groups
        .into_iter()
        .map(|(label, mut evidence)| {
            evidence.sort();
            Count { label, count: evidence.len(), evidence }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    out
}

/// Name the accounts of `report.open_by_account` as the policy's `[accounts]` does
/// (`111122223333 (ehr-prod, OU Workloads/Prod)`), and count the open findings per unit.
pub fn name_accounts(report: &mut Report, accounts: &BTreeMap<String, crate::policy::AccountPolicy>) {
    if accounts.is_empty() {
        return;
    }
    let mut units: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &mut report.open_by_account {
        let known = accounts.get(&c.label);
        units.entry(known.and_then(|a| a.ou.clone()).unwrap_or_else(|| "(no unit)".into())).or_default().extend(c.evidence.iter().cloned());
        c.label = crate::policy::account_label(&c.label, known);
    }
    report.open_by_unit = most_first(units);
}

fn trend(chosen: &[&FindingRecord], period: Period) -> Vec<Count> {
    let mut per_day: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for r in chosen {
        per_day.entry(r.finding.first_seen.date_naive()).or_default().push(r.key.clone());
    }
    let first = period.from.map(|t| t.date_naive()).or_else(|| per_day.keys().next().copied());
    let last = period.to.map(|t| t.date_naive()).or_else(|| per_day.keys().next_back().copied());
    let (Some(first), Some(mut day)) = (first, last) else { return Vec::new() };
    // Walk back from the last day so a long period keeps its most recent days.
    let mut out = Vec::new();
    while day >= first && out.len() < MAX_TREND_DAYS {
        let mut evidence = per_day.get(&day).cloned().unwrap_or_default();
        evidence.sort();
        out.push(Count { label: day.to_string(), count: evidence.len(), evidence });
        match day.pred_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out.reverse();
    out
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------- JSON

/// The report as JSON (what goes to `report.json` and into the evidence store).
pub fn to_json(report: &Report) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or(serde_json::Value::Null)
}

// ---------------------------------------------------------------- CSV

/// One CSV field, quoted per RFC 4180 when it holds a comma, quote, CR or LF (quotes doubled).
/// A field that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is prefixed with
/// `'`.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// CSV header columns.
pub const CSV_HEADER: [&str; 16] = [
    "fingerprint",
    "severity",
    "rule",
    "status",
    "title",
    "resource",
    "address",
    "state",
    "first_seen",
    "last_seen",
    "controls",
    "suppressed_by",
    "record",
    "inputs",
    "account",
    "region",
];

/// One row per finding, CRLF line ends (RFC 4180); lists are joined with `; `.
pub fn to_csv(report: &Report) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push_str("\r\n");
    for r in &report.rows {
        let fields = [
            r.fingerprint.clone(),
            r.severity.as_str().into(),
            r.rule.clone(),
            status_str(r.status).into(),
            r.title.clone(),
            r.resource.clone(),
            r.address.clone().unwrap_or_default(),
            r.state.clone().unwrap_or_default(),
            time(r.first_seen),
            time(r.last_seen),
            r.controls.join("; "),
            r.suppressed_by.clone().unwrap_or_default(),
            r.record.clone(),
            r.inputs.join("; "),
            r.account.clone().unwrap_or_default(),
            r.region.clone().unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

// ---------------------------------------------------------------- HTML
//
// The page is a maud template (`html!`): the markup below reads as the page, top to bottom. The
// charts' geometry (bar lengths, positions, which day labels to print) is computed in plain
// functions (`hbar_layout`, `trend_layout`); the template only places what they computed.
//
// Every value from the report goes into the page through `Text`, which escapes with
// [`html_escape`] (maud's own escaping would leave `'` and `://` alone). Numbers and the
// template's own literals need no escaping.

/// Escape text for HTML text and attribute values. `://` is written `&#58;//`, so a URL in user
/// data never appears as a URL in the markup.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for (i, c) in s.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            ':' if s[i + 1..].starts_with("//") => out.push_str("&#58;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// A value from the report, written into the page escaped by [`html_escape`].
struct Text<'a>(&'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        escape_into(buffer, self.0);
    }
}

/// A coordinate with one decimal.
fn f1(x: f64) -> String {
    format!("{x:.1}")
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2330;background:#fff;max-width:1200px}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d5de;padding-bottom:.3rem}\
.meta{color:#5a6272}.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d5de;border-radius:6px;padding:.6rem 1rem;min-width:8rem}\
.card b{display:block;font-size:1.6rem}table{border-collapse:collapse;width:100%;font-size:.85rem}\
th,td{border:1px solid #d0d5de;padding:.3rem .4rem;text-align:left;vertical-align:top}th{background:#f1f3f7}\
code{font-size:.8rem;word-break:break-all}details summary{cursor:pointer;color:#3a4a8a}.empty{color:#5a6272;font-style:italic}\
.sev-critical{color:#a4161a;font-weight:bold}.sev-high{color:#d9480f;font-weight:bold}.sev-medium{color:#b08900}\
svg{max-width:100%;height:auto}td{overflow-wrap:anywhere}td.nw{white-space:nowrap;overflow-wrap:normal}svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#1d2330}";

fn sev_colour(label: &str) -> &'static str {
    match label {
        "critical" => "#a4161a",
        "high" => "#e8590c",
        "medium" => "#f0b400",
        "low" => "#4c8bf5",
        _ => "#8a94a6",
    }
}

/// The framework headings of the control section, with the id suffix of their chart.
const FRAMEWORKS: [(&str, &str, &str); 3] = [
    ("HIPAA", "hipaa", "HIPAA Security Rule (§164.308 administrative, §164.312 technical safeguards)"),
    ("NIST 800-53", "nist", "NIST SP 800-53"),
    ("other", "other", "Other"),
];

// ------------------------------------------------ chart geometry (no markup)

/// Width of the label column of a horizontal bar chart.
const HBAR_LABEL_W: f64 = 260.0;
/// Length of the longest bar.
const HBAR_MAX: f64 = 560.0;
/// Height of one row (bar and gap).
const HBAR_ROW_H: f64 = 26.0;

/// A horizontal bar chart, laid out.
struct HBarLayout<'a> {
    width: f64,
    height: f64,
    /// x of the right-aligned labels.
    label_x: f64,
    /// x where the bars start.
    bar_x: f64,
    bar_h: f64,
    rows: Vec<HBar<'a>>,
}

/// One bar: its label, count and colour, the tooltip listing the evidence keys, and where it is.
struct HBar<'a> {
    label: &'a str,
    count: usize,
    colour: &'a str,
    tip: String,
    y: f64,
    text_y: f64,
    width: f64,
    count_x: f64,
}

/// One bar per (label, count, colour), scaled to the largest count; a non-zero count gets at
/// least 2 px.
fn hbar_layout<'a>(bars: &[(&'a str, &'a Count, &'a str)]) -> HBarLayout<'a> {
    let max = bars.iter().map(|b| b.1.count).max().unwrap_or(0).max(1) as f64;
    let rows = bars
        .iter()
        .enumerate()
        .map(|(i, &(label, c, colour))| {
            let y = i as f64 * HBAR_ROW_H + 5.0;
            let width = (c.count as f64 / max * HBAR_MAX).max(if c.count > 0 { 2.0 } else { 0.0 });
            HBar {
                label,
                count: c.count,
                colour,
                tip: format!("{label}: {}\n{}", c.count, c.evidence.join("\n")),
                y,
                text_y: y + 14.0,
                width,
                count_x: HBAR_LABEL_W + width + 6.0,
            }
        })
        .collect();
    HBarLayout {
        width: HBAR_LABEL_W + HBAR_MAX + 60.0,
        height: HBAR_ROW_H * bars.len() as f64 + 10.0,
        label_x: HBAR_LABEL_W - 8.0,
        bar_x: HBAR_LABEL_W,
        bar_h: HBAR_ROW_H - 8.0,
        rows,
    }
}

/// The trend chart (vertical bars per day), laid out.
struct TrendLayout<'a> {
    width: f64,
    height: f64,
    /// The plot area: left and right x, top and bottom (baseline) y.
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// x of the right-aligned y-axis labels, y of the top one.
    axis_label_x: f64,
    max_label_y: f64,
    /// The largest daily count (at least 1): the top of the y axis.
    max: usize,
    /// y of the day labels under the bars.
    day_label_y: f64,
    bars: Vec<TrendBar<'a>>,
}

struct TrendBar<'a> {
    tip: String,
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    /// The day label (`MM-DD`) and its centre x, on every n-th bar and the last (at most ~10).
    label: Option<(&'a str, f64)>,
}

fn trend_layout(trend: &[Count]) -> TrendLayout<'_> {
    let n = trend.len().max(1);
    let (plot_w, plot_h, left, top) = (900.0, 160.0, 40.0, 10.0);
    let max = trend.iter().map(|c| c.count).max().unwrap_or(0).max(1);
    let step = plot_w / n as f64;
    let bar_w = (step * 0.8).clamp(1.0, 40.0);
    let every = n.div_ceil(10);
    let bars = trend
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let height = c.count as f64 / max as f64 * plot_h;
            let x = left + i as f64 * step + (step - bar_w) / 2.0;
            let label = (i % every == 0 || i + 1 == n).then(|| (c.label.get(5..).unwrap_or(&c.label), x + bar_w / 2.0));
            TrendBar {
                tip: format!("{}: {} first seen\n{}", c.label, c.count, c.evidence.join("\n")),
                x,
                y: top + plot_h - height,
                width: bar_w,
                height,
                label,
            }
        })
        .collect();
    TrendLayout {
        width: left + plot_w + 10.0,
        height: top + plot_h + 40.0,
        left,
        right: left + plot_w,
        top,
        bottom: top + plot_h,
        axis_label_x: left - 6.0,
        max_label_y: top + 10.0,
        max,
        day_label_y: top + plot_h + 16.0,
        bars,
    }
}

// ------------------------------------------------ markup

/// The evidence keys behind a number, folded (nothing when there are none).
fn evidence_list(keys: &[String]) -> Markup {
    html! {
        @if !keys.is_empty() {
            details {
                summary { (keys.len()) " evidence key(s)" }
                ul { @for k in keys { li { code { (Text(k)) } } } }
            }
        }
    }
}

/// Horizontal bar chart: one bar per (label, count, colour); the `title` of each bar lists the
/// evidence keys. Inline `<svg>` in HTML needs no `xmlns` attribute (and so no URL).
fn hbar_chart(id: &str, title: &str, bars: &[(&str, &Count, &str)]) -> Markup {
    let c = hbar_layout(bars);
    html! {
        svg id=(id) role="img" aria-label=(Text(title)) width=(c.width) height=(c.height) viewBox={ "0 0 " (c.width) " " (c.height) } {
            @for b in &c.rows {
                g {
                    title { (Text(&b.tip)) }
                    text x=(c.label_x) y=(b.text_y) text-anchor="end" { (Text(b.label)) }
                    rect x=(c.bar_x) y=(b.y) width=(f1(b.width)) height=(c.bar_h) fill=(b.colour) {}
                    text x=(f1(b.count_x)) y=(b.text_y) { (b.count) }
                }
            }
        }
    }
}

/// Findings first seen per day: vertical bars over the period.
fn trend_chart(trend: &[Count]) -> Markup {
    let c = trend_layout(trend);
    html! {
        svg id="chart-trend" role="img" aria-label="findings first seen per day" width=(c.width) height=(c.height) viewBox={ "0 0 " (c.width) " " (c.height) } {
            line x1=(c.left) y1=(c.bottom) x2=(c.right) y2=(c.bottom) stroke="#8a94a6" {}
            line x1=(c.left) y1=(c.top) x2=(c.left) y2=(c.bottom) stroke="#8a94a6" {}
            text x=(c.axis_label_x) y=(c.max_label_y) text-anchor="end" { (c.max) }
            text x=(c.axis_label_x) y=(c.bottom) text-anchor="end" { "0" }
            @for b in &c.bars {
                g {
                    title { (Text(&b.tip)) }
                    rect x=(f1(b.x)) y=(f1(b.y)) width=(f1(b.width)) height=(f1(b.height)) fill="#3a5ba0" {}
                }
                @if let Some((label, x)) = b.label {
                    text x=(f1(x)) y=(c.day_label_y) text-anchor="middle" { (Text(label)) }
                }
            }
        }
    }
}

/// The coverage section: one bar per state (compared, catalogued but not compared, not in the
/// catalog), then the types not watched.
/// Open findings by account (with its name and unit), by unit and by region.
fn by_account_section(report: &Report) -> Markup {
    let bars = |counts: &[Count]| -> Vec<(String, Count)> { counts.iter().map(|c| (c.label.clone(), c.clone())).collect() };
    let table = |what: &str, counts: &[Count]| {
        html! {
            table {
                thead { tr { th { (Text(what)) } th { "open" } th { "evidence" } } }
                tbody {
                    @for c in counts {
                        tr { td { (Text(&c.label)) } td { (c.count) } td { (evidence_list(&c.evidence)) } }
                    }
                }
            }
        }
    };
    let accounts = bars(&report.open_by_account);
    let account_bars: Vec<(&str, &Count, &str)> = accounts.iter().map(|(l, c)| (l.as_str(), c, "#3a5ba0")).collect();
    html! {
        section id="by-account" {
            h2 { "Open findings by account" }
            (hbar_chart("chart-account", "open findings by account", &account_bars))
            (table("account", &report.open_by_account))
            @if !report.open_by_unit.is_empty() {
                h3 { "By organisational unit" }
                (table("unit", &report.open_by_unit))
            }
            h3 { "By region" }
            (table("region", &report.open_by_region))
        }
    }
}

/// The organisation's coverage: each account and region, the days an event came from it.
fn org_coverage_section(c: &crate::heard::OrgCoverage) -> Markup {
    html! {
        section id="org-coverage" {
            h2 { "Organisation coverage: accounts and regions heard from" }
            p {
                (c.accounts_heard) " of " (c.accounts) " account(s) heard from in the period's " (c.days) " day(s); "
                (c.expected_heard) " of " (c.expected) " expected account-region(s) heard from."
            }
            @if !c.silent.is_empty() {
                p class="warn" {
                    "Not heard from in the whole period (a member account not forwarding, or quiet): "
                    (Text(&c.silent.join(", ")))
                }
            }
            @if !c.undeclared.is_empty() {
                p { "Heard from, but not in the policy's [accounts]: " (Text(&c.undeclared.join(", "))) }
            }
            table {
                thead { tr { th { "account" } th { "region" } th { "days heard" } th { "last heard" } th { "expected" } } }
                tbody {
                    @for a in &c.by_account {
                        @for r in &a.regions {
                            tr class=[(r.expected && r.days_heard == 0).then_some("silent")] {
                                td { (Text(&a.account))
                                    @if let Some(n) = &a.name { " (" (Text(n)) @if let Some(ou) = &a.ou { ", OU " (Text(ou)) } ")" } }
                                td { (Text(&r.region)) }
                                td { (r.days_heard) " / " (c.days) }
                                td { @if let Some(d) = r.last_heard { (Text(&d.to_string())) } @else { "never" } }
                                td { @if r.expected { "yes" } @else { "no" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn coverage_section(c: &ReportCoverage) -> Markup {
    let cov = &c.coverage;
    let rows: Vec<(String, [usize; 3])> = cov
        .states
        .iter()
        .map(|s| {
            let compared = s.compared_instances;
            let not_compared = s.catalogued_instances.saturating_sub(compared);
            let outside = s.managed_instances.saturating_sub(s.catalogued_instances);
            (s.state.clone(), [compared, not_compared, outside])
        })
        .collect();
    const PARTS: [(&str, &str); 3] = [("compared", "#2b8a3e"), ("catalogued, no live item", "#f0b400"), ("not in the catalog", "#8a94a6")];
    let max = rows.iter().map(|(_, p)| p.iter().sum::<usize>()).max().unwrap_or(0).max(1) as f64;
    // (state, its tooltip, y, [(x, width, colour)])
    type Segment<'c> = (f64, f64, &'c str);
    let bars: Vec<(&str, String, f64, Vec<Segment>)> = rows
        .iter()
        .enumerate()
        .map(|(i, (state, parts))| {
            let mut x = HBAR_LABEL_W;
            let segs = parts
                .iter()
                .zip(PARTS)
                .map(|(n, (_, colour))| {
                    let w = *n as f64 / max * HBAR_MAX;
                    x += w;
                    (x - w, w, colour)
                })
                .collect();
            let tip =
                format!("{state}: {} compared, {} catalogued without a live item, {} not in the catalog", parts[0], parts[1], parts[2]);
            (state.as_str(), tip, i as f64 * HBAR_ROW_H + 5.0, segs)
        })
        .collect();
    let width = HBAR_LABEL_W + HBAR_MAX + 60.0;
    let height = HBAR_ROW_H * rows.len() as f64 + 30.0;
    let not_catalogued = cov.not_catalogued();
    html! {
        section id="coverage" {
            h2 { "Coverage: what was and was not watched" }
            p {
                "Latest coverage of each state, to " (Text(&time(c.time))) ": " (cov.compared_instances) " of " (cov.managed_instances)
                " managed resource instances compared (" (f1(cov.compared_share() * 100.0)) "%), "
                (cov.catalogued_instances) " of a catalogued type."
            }
            svg id="chart-coverage" role="img" aria-label="managed instances compared per state" width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } {
                @for (state, tip, y, segs) in &bars {
                    g {
                        title { (Text(tip)) }
                        text x=(HBAR_LABEL_W - 8.0) y=(f1(y + 14.0)) text-anchor="end" { (Text(state)) }
                        @for (x, w, colour) in segs {
                            rect x=(f1(*x)) y=(f1(*y)) width=(f1(*w)) height=(HBAR_ROW_H - 8.0) fill=(colour) {}
                        }
                    }
                }
                @for (k, (label, colour)) in PARTS.iter().enumerate() {
                    @let lx = HBAR_LABEL_W + k as f64 * 190.0;
                    @let ly = HBAR_ROW_H * rows.len() as f64 + 14.0;
                    rect x=(f1(lx)) y=(f1(ly)) width="10" height="10" fill=(colour) {}
                    text x=(f1(lx + 14.0)) y=(f1(ly + 10.0)) { (Text(label)) }
                }
            }
            table {
                thead { tr { th { "state" } th { "managed" } th { "catalogued" } th { "compared" } th { "Terraform types not in the catalog" } } }
                tbody {
                    @for s in &cov.states {
                        tr {
                            td { code { (Text(&s.state)) } }
                            td { (s.managed_instances) }
                            td { (s.catalogued_instances) }
                            td { (s.compared_instances) }
                            td { (Text(&s.not_catalogued.iter().map(|(t, n)| format!("{t} ({n})")).collect::<Vec<_>>().join(", "))) }
                        }
                    }
                }
            }
            @if !cov.not_recorded.is_empty() {
                p {
                    "AWS Config types with no live item (not recorded, or not read; drift.missing is not reported for them): "
                    (Text(&cov.not_recorded.iter().map(|(t, n)| format!("{t} ({n})")).collect::<Vec<_>>().join(", ")))
                }
            }
            @if not_catalogued.is_empty() && cov.not_recorded.is_empty() {
                p class="empty" { "Every managed instance is of a catalogued, recorded type." }
            }
            (evidence_list(&c.evidence))
        }
    }
}

/// The self-contained HTML report.
pub fn to_html(report: &Report) -> String {
    let period = match (report.period.from, report.period.to) {
        (None, None) => "all recorded findings".to_string(),
        (f, t) => format!("{} .. {}", f.map(time).unwrap_or_else(|| "beginning".into()), t.map(time).unwrap_or_else(|| "now".into())),
    };
    let severity_bars: Vec<(&str, &Count, &str)> =
        report.open_by_severity.iter().map(|c| (c.label.as_str(), c, sev_colour(&c.label))).collect();
    let controls = |fw: &str| -> Vec<Count> {
        let counts = report.open_by_control.iter().filter(|c| c.framework == fw);
        counts.map(|c| Count { label: c.control.clone(), count: c.count, evidence: c.evidence.clone() }).collect()
    };
    let t = &report.time_to_resolve;
    let resolve_counts: Vec<Count> = t
        .items
        .iter()
        .map(|i| Count {
            label: format!("{} {}", i.rule, &i.fingerprint[..i.fingerprint.len().min(8)]),
            count: ((i.hours.0 + 5) / 10) as usize,
            evidence: i.evidence.clone(),
        })
        .collect();
    let open: Vec<&Row> = report.rows.iter().filter(|r| r.status == Status::Open).collect();

    let page = html! {
        (PreEscaped("<!DOCTYPE html>\n"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "driftwatch compliance report" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "driftwatch compliance report" }
                p class="meta" {
                    "Period: " (Text(&period)) " · generated " (Text(&time(report.generated_at))) " · "
                    (report.records) " finding record(s), " (report.findings) " distinct finding(s) · "
                    "controls: HIPAA Security Rule §164.308 / §164.312 and NIST SP 800-53"
                }

                section id="summary" {
                    h2 { "Summary" }
                    div class="cards" {
                        @for c in &report.by_status {
                            div class="card" { b { (c.count) } (Text(&c.label)) (evidence_list(&c.evidence)) }
                        }
                    }
                }

                @if let Some(c) = &report.coverage {
                    (coverage_section(c))
                }
                @if let Some(c) = &report.org_coverage {
                    (org_coverage_section(c))
                }

                section id="by-severity" {
                    h2 { "Open findings by severity" }
                    (hbar_chart("chart-severity", "open findings by severity", &severity_bars))
                    table {
                        thead { tr { th { "severity" } th { "open" } th { "evidence" } } }
                        tbody {
                            @for c in &report.open_by_severity {
                                tr {
                                    td class={ "sev-" (Text(&c.label)) } { (Text(&c.label)) }
                                    td { (c.count) }
                                    td { (evidence_list(&c.evidence)) }
                                }
                            }
                        }
                    }
                }

                @if !report.open_by_account.is_empty() {
                    (by_account_section(report))
                }

                section id="by-control" {
                    h2 { "Open findings by control" }
                    @if report.open_by_control.is_empty() {
                        p class="empty" { "No open finding maps to a control." }
                    } @else {
                        @for (fw, id, heading) in FRAMEWORKS {
                            @let counts = controls(fw);
                            @if !counts.is_empty() {
                                @let bars: Vec<(&str, &Count, &str)> = counts.iter().map(|c| (c.label.as_str(), c, "#3a5ba0")).collect();
                                h3 { (heading) }
                                (hbar_chart(&format!("chart-control-{id}"), &format!("open findings by {fw} control"), &bars))
                            }
                        }
                        table {
                            thead { tr { th { "framework" } th { "control" } th { "open" } th { "evidence" } } }
                            tbody {
                                @for c in &report.open_by_control {
                                    tr {
                                        td { (Text(&c.framework)) }
                                        td { (Text(&c.control)) }
                                        td { (c.count) }
                                        td { (evidence_list(&c.evidence)) }
                                    }
                                }
                            }
                        }
                    }
                }

                section id="trend" {
                    h2 { "Trend: findings first seen per day (UTC)" }
                    @if report.trend.is_empty() {
                        p class="empty" { "No finding in the period." }
                    } @else {
                        (trend_chart(&report.trend))
                    }
                }

                section id="time-to-resolve" {
                    h2 { "Time to resolve" }
                    @if t.items.is_empty() {
                        p class="empty" { "No finding was resolved in the period." }
                    } @else {
                        p {
                            (t.resolved) " resolved · median " (f1(t.median_hours.map(|x| x.hours()).unwrap_or(0.0)))
                            " h · longest " (f1(t.max_hours.map(|x| x.hours()).unwrap_or(0.0))) " h"
                        }
                        @let bars: Vec<(&str, &Count, &str)> = resolve_counts.iter().map(|c| (c.label.as_str(), c, "#2b8a3e")).collect();
                        (hbar_chart("chart-resolve", "hours to resolve (rounded)", &bars))
                        table {
                            thead { tr { th { "rule" } th { "fingerprint" } th { "hours" } th { "evidence" } } }
                            tbody {
                                @for i in &t.items {
                                    tr {
                                        td { (Text(&i.rule)) }
                                        td { code { (Text(&i.fingerprint)) } }
                                        td { (f1(i.hours.hours())) }
                                        td { (evidence_list(&i.evidence)) }
                                    }
                                }
                            }
                        }
                    }
                }

                section id="exceptions" {
                    h2 { "Exceptions expiring in the next " (EXPIRING_WITHIN_DAYS) " days" }
                    p class="meta" { "Source: " (Text(&report.exceptions_source)) }
                    @if report.exceptions_expiring.is_empty() {
                        p class="empty" { "None." }
                    } @else {
                        table {
                            thead { tr { th { "exception" } th { "owner" } th { "expires" } th { "detail" } th { "evidence" } } }
                            tbody {
                                @for e in &report.exceptions_expiring {
                                    tr {
                                        td { (Text(&e.id)) }
                                        td { (Text(e.owner.as_deref().unwrap_or(""))) }
                                        td { (Text(&e.expires.map(time).unwrap_or_default())) }
                                        td { (Text(&e.detail)) }
                                        td { (evidence_list(&e.evidence)) }
                                    }
                                }
                            }
                        }
                    }
                }

                section id="open-findings" {
                    h2 { "Open findings" }
                    @if open.is_empty() {
                        p class="empty" { "No open finding." }
                    }
                    table id="findings" {
                        thead {
                            tr {
                                th { "severity" } th { "rule" } th { "resource / address" } th { "state" }
                                th { "first seen" } th { "last seen" } th { "controls" } th { "evidence" }
                            }
                        }
                        tbody {
                            @for r in &open {
                                @let keys: Vec<String> = std::iter::once(r.record.clone()).chain(r.inputs.iter().cloned()).collect();
                                tr {
                                    td class={ "sev-" (r.severity.as_str()) } { (r.severity.as_str()) }
                                    td class="nw" { (Text(&r.rule)) }
                                    td {
                                        (Text(r.address.as_deref().unwrap_or(&r.resource)))
                                        br; small { (Text(&r.title)) }
                                        @if r.address.is_some() { br; small { (Text(&r.resource)) } }
                                    }
                                    td { (Text(r.state.as_deref().unwrap_or(""))) }
                                    td class="nw" { (Text(&time(r.first_seen))) }
                                    td class="nw" { (Text(&time(r.last_seen))) }
                                    td { (Text(&r.controls.join(", "))) }
                                    td { (evidence_list(&keys)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut html = page.into_string();
    html.push('\n');
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(html_escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(html_escape("see https://evil.example/x"), "see https&#58;//evil.example/x");
        assert_eq!(html_escape("arn:aws:s3:::b"), "arn:aws:s3:::b");
    }

    /// Attacker-influenced text in every string a report can carry.
    const HOSTILE: &str = "<script>alert(1)</script>\"onload=alert(2) x='y' see https://evil.example/p\u{7}";

    fn hostile_report() -> Report {
        use crate::finding::{ResourceRef, StateRef};
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let finding = |fp: &str, status: Status, rule: Rule| Finding {
            rule,
            severity: Severity::Critical,
            title: format!("reason {HOSTILE}"),
            resource: ResourceRef {
                arn: None,
                resource_type: format!("AWS::S3::Bucket{HOSTILE}"),
                id: format!("bucket-{HOSTILE}"),
                address: Some(format!("module.m[\"{HOSTILE}\"].aws_s3_bucket.x")),
                terraform_type: None,
                state: Some(StateRef {
                    bucket: None,
                    key: format!("k{HOSTILE}"),
                    workspace: format!("w{HOSTILE}"),
                    serial: 1,
                    lineage: String::new(),
                }),
                account: None,
                region: None,
            },
            actor: None,
            changes: vec![],
            controls: vec![format!("HIPAA x{HOSTILE}"), format!("NIST y{HOSTILE}"), format!("z{HOSTILE}")],
            fingerprint: format!("{fp}{HOSTILE}"),
            first_seen: t("2026-11-01T00:00:00Z"),
            last_seen: t("2026-11-02T00:00:00Z"),
            status,
            suppressed_by: None,
            evidence: vec![format!("input{HOSTILE}")],
            import: None,
        };
        let records: Vec<FindingRecord> = [("a", Status::Open, Rule::DriftChanged), ("b", Status::Resolved, Rule::DriftMissing)]
            .into_iter()
            .map(|(fp, status, rule)| FindingRecord {
                key: format!("key-{fp}{HOSTILE}"),
                time: t("2026-11-02T00:00:00Z"),
                finding: finding(fp, status, rule),
            })
            .collect();
        let exceptions = vec![ExpiringException {
            id: format!("exc{HOSTILE}"),
            owner: Some(format!("owner{HOSTILE}")),
            expires: Some(t("2026-11-10T00:00:00Z")),
            detail: format!("reason {HOSTILE}"),
            evidence: vec![format!("ev{HOSTILE}")],
        }];
        let mut r = build(&records, Period { from: None, to: None }, t("2026-11-05T00:00:00Z"), Some(exceptions));
        r.exceptions_source = format!("source {HOSTILE}");
        r.open_by_account = vec![Count { label: "111122223333".into(), count: 1, evidence: vec![format!("ev{HOSTILE}")] }];
        r.open_by_unit = vec![Count { label: "Workloads".into(), count: 1, evidence: vec![format!("ev{HOSTILE}")] }];
        r.open_by_region = vec![Count { label: "us-east-1".into(), count: 1, evidence: vec![format!("ev{HOSTILE}")] }];
        r.org_coverage = Some(crate::heard::OrgCoverage {
            days: 2,
            accounts_heard: 1,
            accounts: 2,
            expected_heard: 0,
            expected: 1,
            silent: vec![format!("111122223333 r{HOSTILE}")],
            undeclared: vec![format!("u{HOSTILE}")],
            by_account: vec![crate::heard::AccountReach {
                account: format!("a{HOSTILE}"),
                name: Some(format!("n{HOSTILE}")),
                ou: Some(format!("o{HOSTILE}")),
                declared: true,
                regions: vec![crate::heard::RegionReach { region: format!("r{HOSTILE}"), days_heard: 0, last_heard: None, expected: true }],
            }],
        });
        for c in r
            .by_status
            .iter_mut()
            .chain(&mut r.open_by_severity)
            .chain(&mut r.trend)
            .chain(&mut r.open_by_account)
            .chain(&mut r.open_by_unit)
            .chain(&mut r.open_by_region)
        {
            c.label.push_str(HOSTILE);
        }
        for i in &mut r.time_to_resolve.items {
            i.rule.push_str(HOSTILE);
        }
        r.coverage = Some(ReportCoverage {
            time: t("2026-11-05T00:00:00Z"),
            evidence: vec![format!("2026/11/05/coverage/{HOSTILE}.json")],
            coverage: Coverage::of_states(vec![crate::drift::StateCoverage {
                state: format!("s3://b/k{HOSTILE}"),
                managed_instances: 10,
                catalogued_instances: 8,
                compared_instances: 6,
                not_catalogued: [(format!("aws_x{HOSTILE}"), 2)].into_iter().collect(),
                not_recorded: [(format!("AWS::X::Y{HOSTILE}"), 2)].into_iter().collect(),
            }]),
        });
        r
    }

    #[test]
    fn the_organisations_coverage_is_shown_and_in_the_json() {
        let r = hostile_report();
        let html = to_html(&r);
        assert!(html.contains("<section id=\"org-coverage\">"), "the organisation coverage section");
        assert!(html.contains("<tr class=\"silent\">"), "an expected region not heard from is marked");
        assert!(html.contains("1 of 2 account(s) heard from"), "the summary line");
        let json = to_json(&r);
        assert_eq!(json["org_coverage"]["silent"][0].as_str().map(|s| s.starts_with("111122223333 r")), Some(true));
        assert_eq!(json["org_coverage"]["by_account"][0]["regions"][0]["days_heard"], 0);
        let mut plain = r.clone();
        plain.org_coverage = None;
        assert!(to_json(&plain).get("org_coverage").is_none());
        assert!(!to_html(&plain).contains("id=\"org-coverage\""));
    }

    #[test]
    fn the_coverage_of_the_latest_scan_is_shown_and_in_the_json() {
        let r = hostile_report();
        let html = to_html(&r);
        assert!(html.contains("<section id=\"coverage\">"), "the coverage section");
        assert!(html.contains("<svg id=\"chart-coverage\""), "its chart");
        assert!(html.contains("6 of 10 managed resource instances compared (60.0%)"), "{html}");
        let json = to_json(&r);
        assert_eq!(json["coverage"]["coverage"]["compared_instances"], 6);
        assert_eq!(json["coverage"]["coverage"]["states"][0]["not_catalogued"].as_object().map(|m| m.len()), Some(1));
        assert_eq!(json["coverage"]["coverage"]["not_recorded"].as_object().map(|m| m.len()), Some(1));
        // a report without a coverage record has no coverage key (the report's JSON is unchanged)
        let mut plain = r.clone();
        plain.coverage = None;
        assert!(to_json(&plain).get("coverage").is_none());
        assert!(!to_html(&plain).contains("id=\"coverage\""));
        // each state's latest record in the period counts, summed
        let state = |name: &str, n: usize| crate::drift::StateCoverage {
            state: name.into(),
            managed_instances: 10,
            catalogued_instances: 10,
            compared_instances: n,
            ..Default::default()
        };
        let rec = |t: &str, states: Vec<crate::drift::StateCoverage>| CoverageRecord {
            key: format!("{}/coverage/x.json", &t[..10]),
            time: t.parse().expect("time"),
            coverage: Coverage::of_states(states),
        };
        let all = vec![
            rec("2026-11-01T00:00:00Z", vec![state("a", 1), state("b", 1)]),
            rec("2026-11-03T00:00:00Z", vec![state("a", 3)]),
            rec("2026-11-09T00:00:00Z", vec![state("a", 9), state("b", 9)]),
        ];
        let period = Period { from: None, to: Some("2026-11-05T00:00:00Z".parse().expect("time")) };
        let got = latest_coverage(all, period).expect("records in the period");
        assert_eq!(got.coverage.compared_instances, 3 + 1, "a from the 3rd, b from the 1st");
        assert_eq!(got.coverage.managed_instances, 20);
        assert_eq!(got.evidence, vec!["2026-11-01/coverage/x.json".to_string(), "2026-11-03/coverage/x.json".to_string()]);
        assert_eq!(got.time, "2026-11-03T00:00:00Z".parse::<DateTime<Utc>>().expect("time"));
        let before = Period { from: None, to: Some("2026-10-01T00:00:00Z".parse().expect("time")) };
        assert!(latest_coverage(vec![rec("2026-11-01T00:00:00Z", vec![state("a", 1)])], before).is_none());
    }

    #[test]
    fn hostile_text_is_escaped_everywhere_in_the_html() {
        let html = to_html(&hostile_report());
        // Every section with data is there, so every place a value goes was rendered.
        for id in [
            "chart-severity",
            "chart-control-hipaa",
            "chart-control-nist",
            "chart-control-other",
            "chart-trend",
            "chart-resolve",
            "chart-coverage",
        ] {
            assert!(html.contains(&format!("<svg id=\"{id}\"")), "{id}");
        }
        assert!(html.contains("<td>owner"), "the exceptions table");
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload=alert(2) x=&#39;y&#39; see https&#58;//evil.example/p\u{fffd}";
        assert!(html.contains(&format!("module.m[&quot;{escaped}&quot;].aws_s3_bucket.x")), "the address, escaped");
        assert!(html.contains(&format!("<small>reason {escaped}</small>")), "the finding's reason, escaped");
        assert!(html.contains(&format!("<td>reason {escaped}</td>")), "the exception's reason, escaped");
        // Every value went through `html_escape`: none is left raw or escaped another way.
        assert_eq!(html.matches(escaped).count(), html.matches("alert(1)").count());
        for raw in ["<script", "\"onload=", "onload=alert(2) x='y'", "://", "\u{7}"] {
            assert!(!html.contains(raw), "{raw:?} in the HTML");
        }
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
