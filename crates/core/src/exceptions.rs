//! Exceptions as code: approved, owned, expiring suppressions of findings.
//!
//! ```toml
//! [[exception]]
//! id = "EXC-2026-014"
//! rules = ["drift.unmanaged"]                       # selector: at least one of rules, arn,
//! arn = "arn:aws:s3:::stmarys-ehr-export-tmp-*"     # address, state_key, account (all given
//! reason = "one-off export for the claims audit"    # parts must match)
//! ticket = "SEC-1234"
//! owner = { email = "data-eng@stmarys.example", sns_topic = "arn:aws:sns:us-east-1:123456789012:owners" }
//! approved_by = "ciso@stmarys.example"
//! compensating_control = "bucket has a deny-all policy except the export role"
//! created = 2026-11-18                              # RFC 3339 or a date (midnight UTC)
//! expires = "2026-12-18T00:00:00Z"
//! ```
//!
//! A syntax error makes the whole file unusable ([`ExceptionError`]). Any other problem makes
//! only that exception invalid: it suppresses nothing and becomes an `exception.invalid`
//! finding. An exception whose `expires` has passed suppresses nothing and becomes
//! `exception.expired`. Pure: the caller passes the text and `now`.

use crate::catalog::Catalog;
use crate::detect::{self, Draft};
use crate::finding::{self, Finding, ResourceRef, Rule, Status};
use crate::glob;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::policy::DEFAULT_MAX_DAYS;

/// Default notice thresholds, in days before expiry.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [14, 7, 1];

/// Resource type of exception findings.
pub const RESOURCE_TYPE: &str = "driftwatch::Exception";

/// The file cannot be used at all (TOML syntax, wrong types, unknown fields).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}: {message}")]
pub struct ExceptionError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// A problem with one exception: it is invalid and suppresses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// Who owns an exception and gets its notices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns_topic: Option<String>,
}

/// What an exception applies to. Every part given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub rules: Vec<Rule>,
    pub arn: Option<String>,
    pub address: Option<String>,
    pub state_key: Option<String>,
    pub account: Option<String>,
}

impl Selector {
    /// Does this selector match the finding? `exception.*` findings are never matched.
    pub fn matches(&self, f: &Finding) -> bool {
        if is_exception_rule(f.rule) {
            return false;
        }
        let glob_opt = |pat: &Option<String>, val: Option<&str>| pat.as_ref().is_none_or(|p| val.is_some_and(|v| glob::matches(p, v)));
        (self.rules.is_empty() || self.rules.contains(&f.rule))
            && glob_opt(&self.arn, f.resource.arn.as_deref())
            && glob_opt(&self.address, f.resource.address.as_deref())
            && glob_opt(&self.state_key, f.resource.state.as_ref().map(|s| s.key.as_str()))
            && self.account.as_ref().is_none_or(|a| account_of(f) == Some(a.as_str()))
    }
}

/// The account of a finding's resource: the one the finding names (from the event or item
/// for an S3 bucket, whose ARN has none), else the ARN's fifth field.
pub fn account_of(f: &Finding) -> Option<&str> {
    crate::asff::account_of(f).filter(|s| !s.is_empty())
}

fn is_exception_rule(r: Rule) -> bool {
    // Nothing excepts the watcher's own findings about exceptions and about itself.
    matches!(
        r,
        Rule::ExceptionExpiring
            | Rule::ExceptionExpired
            | Rule::ExceptionInvalid
            | Rule::ExceptionChanged
            | Rule::WatcherTampered
            | Rule::WatcherSilent
    )
}

/// One exception as loaded. `problems` empty = valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    pub id: String,
    /// Line of its `[[exception]]` header.
    pub line: usize,
    pub selector: Selector,
    pub reason: String,
    pub ticket: String,
    pub owner: Owner,
    pub approved_by: String,
    /// Who asked for it (empty when not given); never its approver.
    pub requested_by: String,
    pub compensating_control: String,
    /// Allowed by the policy but worth a look: a broad selector (`allow_broad`).
    pub flags: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    /// Line of `expires` (or of the header when it is missing).
    pub expires_line: usize,
    pub problems: Vec<Problem>,
}

impl Exception {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// Valid and not yet expired at `now`: it suppresses.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.is_valid() && self.expires.is_some_and(|e| now < e)
    }

    /// Valid and expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.is_valid() && self.expires.is_some_and(|e| now >= e)
    }

    fn owner_text(&self) -> String {
        [self.owner.email.as_deref(), self.owner.sns_topic.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ")
    }
}

/// An exceptions file, parsed and validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exceptions {
    pub exceptions: Vec<Exception>,
    pub max_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    exception: Vec<toml::Spanned<RawException>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    id: Option<String>,
    #[serde(default)]
    rules: Option<Vec<String>>,
    arn: Option<String>,
    address: Option<String>,
    state_key: Option<String>,
    account: Option<String>,
    reason: Option<String>,
    ticket: Option<String>,
    owner: Option<Owner>,
    approved_by: Option<String>,
    requested_by: Option<String>,
    compensating_control: Option<String>,
    created: Option<toml::Spanned<toml::Value>>,
    expires: Option<toml::Spanned<toml::Value>>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// Line of `field = ` inside the table whose header is at `start` and which ends at `end`,
/// else the header's line.
fn field_line(text: &str, start: usize, end: usize, field: &str) -> usize {
    let end = end.min(text.len());
    let start = start.min(end);
    let mut pos = start;
    for l in text[start..end].split_inclusive('\n') {
        let t = l.trim_start();
        if t.starts_with(field) && t[field.len()..].trim_start().starts_with('=') {
            return line_of(text, pos);
        }
        pos += l.len();
    }
    line_of(text, start)
}

fn parse_time(v: &toml::Value) -> Result<DateTime<Utc>, String> {
    let s = match v {
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::String(s) => s.clone(),
        other => return Err(format!("expected an RFC 3339 time or a date, got a {}", other.type_str())),
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(format!("expected an RFC 3339 time with offset (2026-11-22T12:00:00Z) or a date (2026-11-22), got {s:?}"))
}

fn field_of_toml_message(msg: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(i) = msg.find(marker) {
            let rest = &msg[i + marker.len()..];
            if let Some(j) = rest.find('`') {
                return Some(rest[..j].to_string());
            }
        }
    }
    None
}

/// The key of a `key = value` line.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (k, _) = l.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')).then(|| k.to_string())
}

impl Exceptions {
    /// Parse and validate. `max_days` is the longest allowed `expires - created`; broad
    /// selectors are refused and `requested_by` is optional (see [`Exceptions::parse_with`]).
    pub fn parse(text: &str, max_days: u32) -> Result<Exceptions, ExceptionError> {
        Exceptions::parse_with(text, &crate::policy::ExceptionPolicy { max_days, ..Default::default() })
    }

    /// Parse and validate under the policy's `[exceptions]`: `max_days`, whether broad
    /// selectors are allowed (else invalid), whether `requested_by` is required. An exception
    /// approved by its own requester is invalid.
    pub fn parse_with(text: &str, policy: &crate::policy::ExceptionPolicy) -> Result<Exceptions, ExceptionError> {
        let max_days = policy.max_days;
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            let message = e.message().replace('\n', " ").trim().to_string();
            let field = field_of_toml_message(&message).or_else(|| key_on_line(text, line)).unwrap_or_else(|| "syntax".into());
            ExceptionError { line, field, message }
        })?;
        let mut out = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (n, spanned) in raw.exception.into_iter().enumerate() {
            let table = spanned.span();
            let r = spanned.into_inner();
            // The table's span runs from its `[[exception]]` header to its last key.
            let (start, end) = (table.start.min(text.len()), table.end.min(text.len()));
            let line = line_of(text, start);
            let at = |field: &str| field_line(text, start, end, field);
            let mut problems = Vec::new();
            let need = |field: &str, v: &Option<String>, problems: &mut Vec<Problem>| -> String {
                match v.as_deref().map(str::trim) {
                    Some(s) if !s.is_empty() => s.to_string(),
                    _ => {
                        problems.push(Problem { line: at(field), field: field.into(), message: "is required".into() });
                        String::new()
                    }
                }
            };
            let id = need("id", &r.id, &mut problems);
            let id = if id.is_empty() { format!("exception#{}", n + 1) } else { id };
            if let Some(first) = seen.get(&id) {
                problems.push(Problem {
                    line: at("id"),
                    field: "id".into(),
                    message: format!("duplicate id {id:?} (first on line {first})"),
                });
            } else {
                seen.insert(id.clone(), line);
            }
            let reason = need("reason", &r.reason, &mut problems);
            let ticket = need("ticket", &r.ticket, &mut problems);
            let approved_by = need("approved_by", &r.approved_by, &mut problems);
            let compensating_control = need("compensating_control", &r.compensating_control, &mut problems);
            let owner = r.owner.unwrap_or_default();
            let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
            if blank(&owner.email) && blank(&owner.sns_topic) {
                problems.push(Problem { line: at("owner"), field: "owner".into(), message: "needs an email or an sns_topic".into() });
            }
            if let Some(e) = owner.email.as_deref().filter(|e| !e.trim().is_empty() && !e.contains('@')) {
                problems.push(Problem { line: at("owner"), field: "owner.email".into(), message: format!("not an email address: {e:?}") });
            }
            if let Some(t) = owner.sns_topic.as_deref().filter(|t| !t.trim().is_empty() && !t.starts_with("arn:")) {
                problems.push(Problem { line: at("owner"), field: "owner.sns_topic".into(), message: format!("not a topic ARN: {t:?}") });
            }
            let mut rules = Vec::new();
            for r_id in r.rules.iter().flatten() {
                match Rule::from_id(r_id) {
                    Some(rule) if is_exception_rule(rule) => {
                        problems.push(Problem { line: at("rules"), field: "rules".into(), message: format!("{r_id} cannot be excepted") })
                    }
                    Some(rule) => rules.push(rule),
                    None => {
                        problems.push(Problem { line: at("rules"), field: "rules".into(), message: format!("unknown rule id {r_id:?}") })
                    }
                }
            }
            if r.rules.as_ref().is_some_and(Vec::is_empty) {
                problems.push(Problem { line: at("rules"), field: "rules".into(), message: "is empty".into() });
            }
            let selector = Selector { rules, arn: r.arn, address: r.address, state_key: r.state_key, account: r.account };
            if r.rules.is_none()
                && selector.arn.is_none()
                && selector.address.is_none()
                && selector.state_key.is_none()
                && selector.account.is_none()
            {
                problems.push(Problem {
                    line,
                    field: "selector".into(),
                    message: "needs at least one of rules, arn, address, state_key, account".into(),
                });
            }
            for (field, v) in
                [("arn", &selector.arn), ("address", &selector.address), ("state_key", &selector.state_key), ("account", &selector.account)]
            {
                if v.as_deref().is_some_and(|s| s.trim().is_empty() || s.trim() == "*") {
                    problems.push(Problem {
                        line: at(field),
                        field: field.into(),
                        message: "must not be empty or match everything".into(),
                    });
                }
            }
            // Broad selectors: no resource scope, or an ARN that names no resource.
            let mut flags = Vec::new();
            let wildcard_arn = selector.arn.as_deref().is_some_and(|a| {
                let resource = a.splitn(6, ':').nth(5).unwrap_or("");
                a.splitn(6, ':').count() < 6 || resource.is_empty() || resource.starts_with('*')
            });
            let unscoped = selector.arn.is_none() && selector.address.is_none() && selector.state_key.is_none();
            let broad = if wildcard_arn {
                Some(("arn", "is a wildcard ARN that names no resource"))
            } else if unscoped && !problems.iter().any(|p: &Problem| p.field == "selector") {
                Some(("selector", "has no resource scope (no arn, address or state_key): it covers every resource of its rules or account"))
            } else {
                None
            };
            if let Some((field, what)) = broad {
                if policy.allow_broad {
                    flags.push(format!("broad: {field} {what}"));
                } else {
                    problems.push(Problem {
                        line: if field == "selector" { line } else { at(field) },
                        field: field.into(),
                        message: format!("{what}; the policy does not allow broad exceptions ([exceptions] allow_broad)"),
                    });
                }
            }
            let requested_by = r.requested_by.as_deref().map(str::trim).unwrap_or_default().to_string();
            if requested_by.is_empty() && policy.require_requester {
                problems.push(Problem {
                    line: at("requested_by"),
                    field: "requested_by".into(),
                    message: "is required (the policy's [exceptions] require_requester)".into(),
                });
            }
            if !requested_by.is_empty() && requested_by.eq_ignore_ascii_case(&approved_by) {
                problems.push(Problem {
                    line: at("approved_by"),
                    field: "approved_by".into(),
                    message: format!("{approved_by:?} requested it too: an exception is approved by someone other than its requester"),
                });
            }
            let time = |field: &str, v: Option<toml::Spanned<toml::Value>>, problems: &mut Vec<Problem>| match v {
                None => {
                    problems.push(Problem { line: at(field), field: field.into(), message: "is required".into() });
                    None
                }
                Some(s) => {
                    let l = line_of(text, s.span().start);
                    match parse_time(s.get_ref()) {
                        Ok(t) => Some(t),
                        Err(m) => {
                            problems.push(Problem { line: l, field: field.into(), message: m });
                            None
                        }
                    }
                }
            };
            let expires_line = r.expires.as_ref().map(|s| line_of(text, s.span().start)).unwrap_or(line);
            let created = time("created", r.created, &mut problems);
            let expires = time("expires", r.expires, &mut problems);
            if let (Some(c), Some(e)) = (created, expires) {
                if e <= c {
                    problems.push(Problem {
                        line: at("expires"),
                        field: "expires".into(),
                        message: format!("{e} is not after created {c}"),
                    });
                } else if e - c > Duration::days(i64::from(max_days)) {
                    let days = (e - c).num_hours() as f64 / 24.0;
                    problems.push(Problem {
                        line: at("expires"),
                        field: "expires".into(),
                        message: format!("lasts {days:.1} days, longer than the {max_days} days the policy allows"),
                    });
                }
            }
            problems.sort_by(|a, b| a.line.cmp(&b.line).then(a.field.cmp(&b.field)));
            out.push(Exception {
                id,
                line,
                selector,
                reason,
                ticket,
                owner,
                approved_by,
                requested_by,
                compensating_control,
                flags,
                created,
                expires,
                expires_line,
                problems,
            });
        }
        Ok(Exceptions { exceptions: out, max_days })
    }

    /// Every problem, with the exception's id, in line order.
    pub fn problems(&self) -> Vec<(&str, &Problem)> {
        let mut all: Vec<(&str, &Problem)> =
            self.exceptions.iter().flat_map(|e| e.problems.iter().map(move |p| (e.id.as_str(), p))).collect();
        all.sort_by_key(|(_, p)| p.line);
        all
    }

    /// The `exception.invalid` and `exception.expired` findings at `now`.
    pub fn findings(&self, catalog: &Catalog, now: DateTime<Utc>) -> Vec<Finding> {
        let mut out = Vec::new();
        for e in &self.exceptions {
            let resource = ResourceRef {
                arn: None,
                resource_type: RESOURCE_TYPE.into(),
                id: e.id.clone(),
                address: None,
                terraform_type: None,
                state: None,
                account: None,
                region: None,
            };
            if !e.is_valid() {
                let what: Vec<String> = e.problems.iter().map(|p| format!("line {}: {}: {}", p.line, p.field, p.message)).collect();
                out.push(detect::build(
                    Draft {
                        rule: Rule::ExceptionInvalid,
                        severity: None,
                        title: format!("exception {} is invalid and suppresses nothing: {}", e.id, what.join("; ")),
                        resource,
                        actor: None,
                        changes: Vec::new(),
                        extra_controls: Vec::new(),
                        fingerprint_parts: vec![e.id.clone(), what.join("\n")],
                        at: now,
                    },
                    catalog,
                ));
            } else if let (true, Some(expires)) = (e.is_expired(now), e.expires) {
                out.push(detect::build(
                    Draft {
                        rule: Rule::ExceptionExpired,
                        severity: None,
                        title: format!(
                            "exception {} expired {} (owner {}, ticket {}); the findings it suppressed are open again",
                            e.id,
                            expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            e.owner_text(),
                            e.ticket
                        ),
                        resource,
                        actor: None,
                        changes: Vec::new(),
                        extra_controls: Vec::new(),
                        fingerprint_parts: vec![e.id.clone(), expires.to_rfc3339()],
                        at: expires,
                    },
                    catalog,
                ));
            }
        }
        out
    }
}

/// Evaluate exceptions at `now`: each finding matched by an active exception (valid, not
/// expired) is marked `suppressed` with `suppressed_by` = the first such exception in file
/// order; findings already suppressed are left alone. The `exception.invalid` /
/// `exception.expired` findings are added (once: `apply` is idempotent), then the list is sorted.
pub fn apply(findings: &mut Vec<Finding>, exceptions: &Exceptions, catalog: &Catalog, now: DateTime<Utc>) {
    let active: Vec<&Exception> = exceptions.exceptions.iter().filter(|e| e.is_active(now)).collect();
    for f in findings.iter_mut() {
        if f.status == Status::Suppressed {
            continue;
        }
        if let Some(e) = active.iter().find(|e| e.selector.matches(f)) {
            f.status = Status::Suppressed;
            f.suppressed_by = Some(e.id.clone());
        }
    }
    let have: BTreeSet<String> = findings.iter().map(|f| f.fingerprint.clone()).collect();
    for f in exceptions.findings(catalog, now) {
        if !have.contains(&f.fingerprint) {
            findings.push(f);
        }
    }
    finding::sort(findings);
}

/// Is this finding still to be acted on (not suppressed)?
pub fn is_unsuppressed(f: &Finding) -> bool {
    f.status != Status::Suppressed
}

/// A notice threshold: so many days before expiry, or expiry itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Threshold {
    /// Expired. Sorts first: the tightest threshold.
    Expired,
    DaysBefore(u32),
}

impl Threshold {
    pub fn key(&self) -> String {
        match self {
            Threshold::Expired => "expired".into(),
            Threshold::DaysBefore(d) => format!("{d}d"),
        }
    }

    pub fn from_key(s: &str) -> Option<Threshold> {
        if s == "expired" {
            return Some(Threshold::Expired);
        }
        s.strip_suffix('d').and_then(|d| d.parse().ok()).map(Threshold::DaysBefore)
    }
}

impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Threshold::from_key(&s).ok_or_else(|| serde::de::Error::custom(format!("bad threshold {s:?}")))
    }
}

/// One notice to an exception's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub exception: String,
    pub threshold: Threshold,
    pub expires: DateTime<Utc>,
    /// Whole days left, rounded down (0 when expired).
    pub days_left: i64,
    pub owner: Owner,
    pub ticket: String,
    pub reason: String,
    pub message: String,
}

/// What was sent: exception id → expiry (RFC 3339) → thresholds. Keyed by expiry too, so a
/// renewed exception (same id, later `expires`) gets its notices again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeLedger {
    pub sent: BTreeMap<String, BTreeMap<String, BTreeSet<Threshold>>>,
}

impl NoticeLedger {
    fn thresholds(&self, id: &str, expires: DateTime<Utc>) -> Option<&BTreeSet<Threshold>> {
        self.sent.get(id).and_then(|m| m.get(&expires.to_rfc3339()))
    }

    /// Was this (exception, expiry, threshold) notice sent?
    pub fn was_sent(&self, id: &str, expires: DateTime<Utc>, t: Threshold) -> bool {
        self.thresholds(id, expires).is_some_and(|s| s.contains(&t))
    }

    /// Record sent notices.
    pub fn record(&mut self, notices: &[Notice]) {
        for n in notices {
            self.sent.entry(n.exception.clone()).or_default().entry(n.expires.to_rfc3339()).or_default().insert(n.threshold);
        }
    }
}

/// Plan the notices due at `now`. For each valid exception, the tightest threshold crossed
/// (expiry, else the smallest `d` with `now >= expires - d days`) is sent unless that threshold
/// or a tighter one was already sent: one notice per threshold, never twice, and a late run
/// does not send a burst of stale ones. Invalid exceptions get no notices (they are
/// `exception.invalid` findings).
pub fn notices(exceptions: &Exceptions, now: DateTime<Utc>, thresholds_days: &[u32], already_sent: &NoticeLedger) -> Vec<Notice> {
    let mut out = Vec::new();
    for e in exceptions.exceptions.iter().filter(|e| e.is_valid()) {
        let Some(expires) = e.expires else { continue };
        let due = if now >= expires {
            Some(Threshold::Expired)
        } else {
            thresholds_days.iter().copied().filter(|d| now >= expires - Duration::days(i64::from(*d))).min().map(Threshold::DaysBefore)
        };
        let Some(t) = due else { continue };
        let sent = already_sent.thresholds(&e.id, expires);
        if sent.is_some_and(|s| s.iter().any(|x| *x <= t)) {
            continue;
        }
        let days_left = if now >= expires { 0 } else { (expires - now).num_days() };
        let when = expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let message = match t {
            Threshold::Expired => format!(
                "exception {} expired {when}: it no longer suppresses anything and exception.expired is open; renew it (new approval) or fix the findings",
                e.id
            ),
            Threshold::DaysBefore(d) => format!(
                "exception {} expires {when} (in {days_left} day(s), {d}-day notice): renew it with a new approval or fix the findings before then",
                e.id
            ),
        };
        out.push(Notice {
            exception: e.id.clone(),
            threshold: t,
            expires,
            days_left,
            owner: e.owner.clone(),
            ticket: e.ticket.clone(),
            reason: e.reason.clone(),
            message,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_helpers() {
        let t = "a = 1\n[[exception]]\nid = \"x\"\n";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(field_line(t, 6, t.len(), "id"), 3);
        assert_eq!(Threshold::from_key("14d"), Some(Threshold::DaysBefore(14)));
        assert!(Threshold::Expired < Threshold::DaysBefore(1) && Threshold::DaysBefore(1) < Threshold::DaysBefore(7));
    }
}
