//! Continuous-compliance reports: aggregation of recorded findings over a period, rendered to
//! self-contained HTML (inline CSS and SVG drawn here, no script, no external asset), JSON and
//! CSV.
//!
//! Pure: the caller reads the `finding` records from the evidence store and hands them in as
//! [`FindingRecord`]s (record key, record time, finding); everything here is a function of
//! those and `now`. Every number carries the record keys behind it.

use crate::finding::{Finding, Rule, Severity, Status};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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

/// Time to resolve over the resolved findings (`last_seen − first_seen`).
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
    /// Findings first seen per day (UTC).
    pub trend: Vec<Count>,
    pub time_to_resolve: TimeToResolve,
    pub exceptions_expiring: Vec<ExpiringException>,
    /// Whether `exceptions_expiring` came from an exceptions file (else from findings).
    pub exceptions_source: String,
    pub rows: Vec<Row>,
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

    let mut items: Vec<Resolved> = chosen
        .iter()
        .filter(|r| r.finding.status == Status::Resolved)
        .map(|r| Resolved {
            fingerprint: r.finding.fingerprint.clone(),
            rule: r.finding.rule.id().into(),
            hours: Hours::from_seconds((r.finding.last_seen - r.finding.first_seen).num_seconds().max(0)),
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
        trend,
        time_to_resolve,
        exceptions_expiring,
        exceptions_source,
        rows,
    }
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
pub const CSV_HEADER: [&str; 14] = [
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
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

// ---------------------------------------------------------------- HTML

/// Escape text for HTML text and attribute values. `://` is written `&#58;//`, so a URL in user
/// data never appears as a URL in the markup.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
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
    out
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

fn evidence_list(keys: &[String]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let mut s = format!("<details><summary>{} evidence key(s)</summary><ul>", keys.len());
    for k in keys {
        let _ = write!(s, "<li><code>{}</code></li>", html_escape(k));
    }
    s.push_str("</ul></details>");
    s
}

/// Horizontal bar chart: one bar per (label, count, colour); `title` on each bar lists the
/// evidence keys.
fn hbar_chart(id: &str, title: &str, bars: &[(&str, &Count, &str)]) -> String {
    let label_w = 260.0;
    let bar_max = 560.0;
    let row_h = 26.0;
    let max = bars.iter().map(|b| b.1.count).max().unwrap_or(0).max(1) as f64;
    let h = row_h * bars.len() as f64 + 10.0;
    // Inline <svg> in HTML needs no xmlns attribute (and so no URL).
    let mut s = format!(
        "<svg id=\"{id}\" role=\"img\" aria-label=\"{t}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        t = html_escape(title),
        w = label_w + bar_max + 60.0,
    );
    for (i, (label, c, colour)) in bars.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let w = (c.count as f64 / max * bar_max).max(if c.count > 0 { 2.0 } else { 0.0 });
        let tip = format!("{label}: {}\n{}", c.count, c.evidence.join("\n"));
        let _ = write!(
            s,
            "<g><title>{tip}</title><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\" fill=\"{colour}\"></rect>\
<text x=\"{cx:.1}\" y=\"{ty}\">{n}</text></g>",
            tip = html_escape(&tip),
            tx = label_w - 8.0,
            ty = y + 14.0,
            label = html_escape(label),
            bh = row_h - 8.0,
            cx = label_w + w + 6.0,
            n = c.count,
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical bars per day.
fn trend_chart(trend: &[Count]) -> String {
    let n = trend.len().max(1);
    let plot_w = 900.0;
    let plot_h = 160.0;
    let left = 40.0;
    let top = 10.0;
    let max = trend.iter().map(|c| c.count).max().unwrap_or(0).max(1) as f64;
    let step = plot_w / n as f64;
    let bar_w = (step * 0.8).clamp(1.0, 40.0);
    let mut s = format!(
        "<svg id=\"chart-trend\" role=\"img\" aria-label=\"findings first seen per day\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        w = left + plot_w + 10.0,
        h = top + plot_h + 40.0
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8a94a6\"></line><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#8a94a6\"></line>\
<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{m}</text><text x=\"{tx}\" y=\"{b}\" text-anchor=\"end\">0</text>",
        b = top + plot_h,
        r = left + plot_w,
        tx = left - 6.0,
        ty = top + 10.0,
        m = max as usize
    );
    let every = n.div_ceil(10);
    for (i, c) in trend.iter().enumerate() {
        let bh = c.count as f64 / max * plot_h;
        let x = left + i as f64 * step + (step - bar_w) / 2.0;
        let tip = format!("{}: {} first seen\n{}", c.label, c.count, c.evidence.join("\n"));
        let _ = write!(
            s,
            "<g><title>{tip}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{bh:.1}\" fill=\"#3a5ba0\"></rect></g>",
            tip = html_escape(&tip),
            y = top + plot_h - bh,
        );
        if i % every == 0 || i + 1 == n {
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\">{l}</text>",
                x = x + bar_w / 2.0,
                y = top + plot_h + 16.0,
                l = html_escape(c.label.get(5..).unwrap_or(&c.label))
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The self-contained HTML report.
pub fn to_html(report: &Report) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let period = match (report.period.from, report.period.to) {
        (None, None) => "all recorded findings".to_string(),
        (f, t) => format!("{} .. {}", f.map(time).unwrap_or_else(|| "beginning".into()), t.map(time).unwrap_or_else(|| "now".into())),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>driftwatch compliance report</title><style>{CSS}</style></head><body>\
<h1>driftwatch compliance report</h1><p class=\"meta\">Period: {period} · generated {gen} · {rec} finding record(s), {n} distinct finding(s) · \
controls: HIPAA Security Rule §164.308 / §164.312 and NIST SP 800-53</p>",
        period = html_escape(&period),
        gen = html_escape(&time(report.generated_at)),
        rec = report.records,
        n = report.findings,
    );

    h.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    for c in &report.by_status {
        let _ = write!(h, "<div class=\"card\"><b>{}</b>{}{}</div>", c.count, html_escape(&c.label), evidence_list(&c.evidence));
    }
    h.push_str("</div></section>");

    h.push_str("<section id=\"by-severity\"><h2>Open findings by severity</h2>");
    let bars: Vec<(&str, &Count, &str)> = report.open_by_severity.iter().map(|c| (c.label.as_str(), c, sev_colour(&c.label))).collect();
    h.push_str(&hbar_chart("chart-severity", "open findings by severity", &bars));
    h.push_str("<table><thead><tr><th>severity</th><th>open</th><th>evidence</th></tr></thead><tbody>");
    for c in &report.open_by_severity {
        let _ = write!(
            h,
            "<tr><td class=\"sev-{l}\">{l}</td><td>{n}</td><td>{e}</td></tr>",
            l = html_escape(&c.label),
            n = c.count,
            e = evidence_list(&c.evidence)
        );
    }
    h.push_str("</tbody></table></section>");

    h.push_str("<section id=\"by-control\"><h2>Open findings by control</h2>");
    if report.open_by_control.is_empty() {
        h.push_str("<p class=\"empty\">No open finding maps to a control.</p>");
    } else {
        for fw in ["HIPAA", "NIST 800-53", "other"] {
            let counts: Vec<&ControlCount> = report.open_by_control.iter().filter(|c| c.framework == fw).collect();
            if counts.is_empty() {
                continue;
            }
            let heading = match fw {
                "HIPAA" => "HIPAA Security Rule (§164.308 administrative, §164.312 technical safeguards)",
                "NIST 800-53" => "NIST SP 800-53",
                _ => "Other",
            };
            let _ = write!(h, "<h3>{}</h3>", html_escape(heading));
            let as_counts: Vec<Count> =
                counts.iter().map(|c| Count { label: c.control.clone(), count: c.count, evidence: c.evidence.clone() }).collect();
            let bars: Vec<(&str, &Count, &str)> = as_counts.iter().map(|c| (c.label.as_str(), c, "#3a5ba0")).collect();
            let id = format!(
                "chart-control-{}",
                if fw == "HIPAA" {
                    "hipaa"
                } else if fw == "other" {
                    "other"
                } else {
                    "nist"
                }
            );
            h.push_str(&hbar_chart(&id, &format!("open findings by {fw} control"), &bars));
        }
        h.push_str("<table><thead><tr><th>framework</th><th>control</th><th>open</th><th>evidence</th></tr></thead><tbody>");
        for c in &report.open_by_control {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html_escape(&c.framework),
                html_escape(&c.control),
                c.count,
                evidence_list(&c.evidence)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");

    h.push_str("<section id=\"trend\"><h2>Trend: findings first seen per day (UTC)</h2>");
    if report.trend.is_empty() {
        h.push_str("<p class=\"empty\">No finding in the period.</p>");
    } else {
        h.push_str(&trend_chart(&report.trend));
    }
    h.push_str("</section>");

    h.push_str("<section id=\"time-to-resolve\"><h2>Time to resolve</h2>");
    let t = &report.time_to_resolve;
    if t.items.is_empty() {
        h.push_str("<p class=\"empty\">No finding was resolved in the period.</p>");
    } else {
        let _ = write!(
            h,
            "<p>{} resolved · median {:.1} h · longest {:.1} h</p>",
            t.resolved,
            t.median_hours.map(|x| x.hours()).unwrap_or(0.0),
            t.max_hours.map(|x| x.hours()).unwrap_or(0.0)
        );
        let as_counts: Vec<Count> = t
            .items
            .iter()
            .map(|i| Count {
                label: format!("{} {}", i.rule, &i.fingerprint[..i.fingerprint.len().min(8)]),
                count: ((i.hours.0 + 5) / 10) as usize,
                evidence: i.evidence.clone(),
            })
            .collect();
        let bars: Vec<(&str, &Count, &str)> = as_counts.iter().map(|c| (c.label.as_str(), c, "#2b8a3e")).collect();
        h.push_str(&hbar_chart("chart-resolve", "hours to resolve (rounded)", &bars));
        h.push_str("<table><thead><tr><th>rule</th><th>fingerprint</th><th>hours</th><th>evidence</th></tr></thead><tbody>");
        for i in &t.items {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td>{:.1}</td><td>{}</td></tr>",
                html_escape(&i.rule),
                html_escape(&i.fingerprint),
                i.hours.hours(),
                evidence_list(&i.evidence)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");

    let _ = write!(
        h,
        "<section id=\"exceptions\"><h2>Exceptions expiring in the next {EXPIRING_WITHIN_DAYS} days</h2><p class=\"meta\">Source: {}</p>",
        html_escape(&report.exceptions_source)
    );
    if report.exceptions_expiring.is_empty() {
        h.push_str("<p class=\"empty\">None.</p>");
    } else {
        h.push_str(
            "<table><thead><tr><th>exception</th><th>owner</th><th>expires</th><th>detail</th><th>evidence</th></tr></thead><tbody>",
        );
        for e in &report.exceptions_expiring {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html_escape(&e.id),
                html_escape(e.owner.as_deref().unwrap_or("")),
                html_escape(&e.expires.map(time).unwrap_or_default()),
                html_escape(&e.detail),
                evidence_list(&e.evidence)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");

    h.push_str("<section id=\"open-findings\"><h2>Open findings</h2>");
    let open: Vec<&Row> = report.rows.iter().filter(|r| r.status == Status::Open).collect();
    if open.is_empty() {
        h.push_str("<p class=\"empty\">No open finding.</p>");
    }
    h.push_str(
        "<table id=\"findings\"><thead><tr><th>severity</th><th>rule</th><th>resource / address</th><th>state</th>\
<th>first seen</th><th>last seen</th><th>controls</th><th>evidence</th></tr></thead><tbody>",
    );
    for r in open {
        let mut keys = vec![r.record.clone()];
        keys.extend(r.inputs.iter().cloned());
        let _ = write!(
            h,
            "<tr><td class=\"sev-{sev}\">{sev}</td><td class=\"nw\">{rule}</td><td>{addr}<br><small>{title}</small>{res}</td>\
<td>{state}</td><td class=\"nw\">{fs}</td><td class=\"nw\">{ls}</td><td>{controls}</td><td>{ev}</td></tr>",
            sev = r.severity.as_str(),
            rule = html_escape(&r.rule),
            addr = html_escape(r.address.as_deref().unwrap_or(&r.resource)),
            title = html_escape(&r.title),
            res = if r.address.is_some() { format!("<br><small>{}</small>", html_escape(&r.resource)) } else { String::new() },
            state = html_escape(r.state.as_deref().unwrap_or("")),
            fs = html_escape(&time(r.first_seen)),
            ls = html_escape(&time(r.last_seen)),
            controls = html_escape(&r.controls.join(", ")),
            ev = evidence_list(&keys),
        );
    }
    h.push_str("</tbody></table></section></body></html>\n");
    h
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

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
