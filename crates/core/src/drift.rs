//! The drift engine: desired (index) versus live (inventory) → findings.
//!
//! * `drift.changed` — comparable attributes differ after normalisation;
//! * `encryption.regression` — an encryption attribute moved to a weaker value, or away
//!   from its configured key;
//! * `drift.missing` — in state, but deleted live (or absent from an inventory that covers
//!   its type);
//! * `drift.unmanaged` — live, of a catalog type, in no state.

use crate::catalog::{AttrSpec, Catalog, Encryption, ResourceSpec, Role};
use crate::finding::{self, Change, Finding, ResourceRef, Rule, Severity, Status};
use crate::index::{IndexEntry, ManagedIndex};
use crate::lifecycle::{Resolution, Resolve};
use crate::live::{ConfigItem, LiveInventory};
use crate::normalize::Ctx;
use crate::place::Place;
use crate::redact::{Redactor, REDACTED_PREFIX};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Policy knobs of a scan.
#[derive(Debug, Clone)]
pub struct ScanPolicy {
    /// Resources tagged `key = value` hold regulated data: their encryption regressions are
    /// raised to `critical` and their other drift by one level.
    pub regulated_tag: Option<(String, String)>,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        ScanPolicy { regulated_tag: Some(("data-classification".into(), "phi".into())) }
    }
}

/// Result of a scan: findings plus notes for people (types not covered, …).
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
    /// The findings the live items show resolved, if they were open ([`resolutions`]).
    pub resolved: Vec<Resolve>,
    /// What was compared and what was not.
    pub coverage: Coverage,
}

/// What a scan looked at, and what it could not: the answer to an auditor's first question
/// about a finding-free scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Coverage {
    /// Managed, current resource instances in the states, catalogued or not.
    pub managed_instances: usize,
    /// Of those, instances of catalogued types (indexed).
    pub catalogued_instances: usize,
    /// Of those, compared with a live configuration item.
    pub compared_instances: usize,
    /// Each state's counts.
    pub states: Vec<StateCoverage>,
    /// AWS Config types of indexed instances for which the live inventory held no item at
    /// all (the recorder does not record them, or they were not read), with the instances
    /// not compared: `drift.missing` is suppressed for them.
    pub not_recorded: BTreeMap<String, usize>,
}

/// One state's share of a [`Coverage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct StateCoverage {
    /// `s3://bucket/key` or the local path.
    pub state: String,
    pub managed_instances: usize,
    pub catalogued_instances: usize,
    pub compared_instances: usize,
    /// Terraform types outside the catalog, with their instance counts.
    pub not_catalogued: BTreeMap<String, usize>,
    /// This state's share of [`Coverage::not_recorded`].
    #[serde(default)]
    pub not_recorded: BTreeMap<String, usize>,
}

impl Coverage {
    /// The coverage of some states: their counts summed.
    pub fn of_states(states: Vec<StateCoverage>) -> Coverage {
        let mut c = Coverage::default();
        for s in &states {
            c.managed_instances += s.managed_instances;
            c.catalogued_instances += s.catalogued_instances;
            c.compared_instances += s.compared_instances;
            for (t, n) in &s.not_recorded {
                *c.not_recorded.entry(t.clone()).or_default() += n;
            }
        }
        c.states = states;
        c
    }

    /// The share of managed instances compared, 0.0 to 1.0 (1.0 when there are none).
    pub fn compared_share(&self) -> f64 {
        if self.managed_instances == 0 {
            1.0
        } else {
            self.compared_instances as f64 / self.managed_instances as f64
        }
    }

    /// Instances of types outside the catalog, by type, over every state.
    pub fn not_catalogued(&self) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for s in &self.states {
            for (t, n) in &s.not_catalogued {
                *out.entry(t.as_str()).or_default() += n;
            }
        }
        out
    }

    /// One line for people: `412 of 450 managed instances compared (91.6%); …`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "coverage: {} of {} managed resource instances compared ({:.1}%), {} of a catalogued type",
            self.compared_instances,
            self.managed_instances,
            self.compared_share() * 100.0,
            self.catalogued_instances
        );
        let list = |m: &mut dyn Iterator<Item = (&str, usize)>| m.map(|(t, n)| format!("{t} ({n})")).collect::<Vec<_>>().join(", ");
        let types = self.not_catalogued();
        if !types.is_empty() {
            line.push_str(&format!("; not in the catalog: {}", list(&mut types.iter().map(|(t, n)| (*t, *n)))));
        }
        if !self.not_recorded.is_empty() {
            line.push_str(&format!(
                "; no live items (not recorded by AWS Config?): {}",
                list(&mut self.not_recorded.iter().map(|(t, n)| (t.as_str(), *n)))
            ));
        }
        line
    }
}

/// The rules of a managed resource's condition: what a compliant observation of it resolves.
pub const CONDITION_RULES: [Rule; 5] =
    [Rule::DriftChanged, Rule::EncryptionRegression, Rule::ChangeConsole, Rule::ChangeOutOfBand, Rule::DriftMissing];

/// What an observation of one managed identity (its index `entries`) at `at` resolves, given
/// the findings the same observation produced (`found`, unfiltered): with the resource live
/// (`live`), each entry's `drift.changed` and `encryption.regression` not found again, its
/// `change.*` when neither is (the edit is undone), and its `drift.missing`; with the resource
/// gone, its `drift.changed`, `encryption.regression` and `change.*` (`drift.missing` takes
/// over).
pub fn resolutions(entries: &[&IndexEntry], found: &[Finding], live: bool, at: DateTime<Utc>) -> Vec<Resolve> {
    let found: BTreeSet<&str> = found.iter().map(|f| f.fingerprint.as_str()).collect();
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| e.role != Role::Contributor) {
        let fp = |rule| managed_fingerprint(rule, e);
        let differs = found.contains(fp(Rule::DriftChanged).as_str()) || found.contains(fp(Rule::EncryptionRegression).as_str());
        for rule in CONDITION_RULES {
            let f = fp(rule);
            let (resolved, reason) = match (live, rule) {
                (true, Rule::ChangeConsole | Rule::ChangeOutOfBand) => (!differs, Resolution::LiveMatches),
                (true, _) => (!found.contains(f.as_str()), Resolution::LiveMatches),
                (false, Rule::DriftMissing) => (false, Resolution::ResourceGone),
                (false, _) => (true, Resolution::ResourceGone),
            };
            if resolved {
                out.push(Resolve { fingerprint: f, reason, at });
            }
        }
    }
    out
}

/// What a state write that removed `address` from the state `state` resolves: every condition
/// finding of that address (the resource is no longer Terraform's).
pub fn removed_from_state(state: &crate::finding::StateRef, address: &str, at: DateTime<Utc>) -> Vec<Resolve> {
    let anchor = if state.lineage.is_empty() { state.key.as_str() } else { state.lineage.as_str() };
    CONDITION_RULES
        .iter()
        .map(|rule| Resolve {
            fingerprint: finding::fingerprint(*rule, &[anchor, &state.workspace, address]),
            reason: Resolution::StateChanged,
            at,
        })
        .collect()
}

/// The fingerprints of `entry`'s `drift.changed` and `encryption.regression` findings: what a
/// state write that changed it may have absorbed ([`absorbed`]).
pub fn absorbable(entry: &IndexEntry) -> [String; 2] {
    [managed_fingerprint(Rule::DriftChanged, entry), managed_fingerprint(Rule::EncryptionRegression, entry)]
}

/// Did the new desired values of `entry` (a state write) absorb `finding`'s changes — is every
/// changed attribute now desired as the value it was found to have live? Then the state
/// changed to match the live configuration.
pub fn absorbed(finding: &Finding, entry: &IndexEntry, catalog: &Catalog) -> bool {
    let Some(spec) = catalog.get(&entry.terraform_type) else { return false };
    !finding.changes.is_empty()
        && finding.changes.iter().all(|c| {
            let Some(i) = spec.attrs.iter().position(|a| a.tf.to_string() == c.path) else { return false };
            let attr = &spec.attrs[i];
            let ctx = Ctx { self_id: Some(&entry.resource_id) };
            let desired = match entry.desired.get(i) {
                Some(v) if !v.is_null() => v.clone(),
                _ => match attr.default.as_ref() {
                    Some(d) => attr.normalize.apply(d, &ctx),
                    None => Value::Null,
                },
            };
            desired == c.actual
        })
}

/// Compare one live item with the index entries for it. Returns the `drift.changed` and
/// `encryption.regression` findings. Used by `scan` and by the config-change detector.
pub fn compare_item(
    entries: &[&IndexEntry],
    item: &ConfigItem,
    index: &ManagedIndex,
    catalog: &Catalog,
    redactor: &Redactor,
    policy: &ScanPolicy,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let regulated = entries.iter().any(|e| is_regulated(&e.tags, policy));
    for e in entries.iter().filter(|e| e.role != Role::Contributor) {
        let Some(spec) = catalog.get(&e.terraform_type) else { continue };
        let mut drift = Vec::new();
        let mut weaker = Vec::new();
        for (attr, desired) in spec.attrs.iter().zip(&e.desired) {
            if attr.sensitive || attr.live.is_empty() {
                continue;
            }
            let Some((desired, actual)) = compare_attr(attr, desired, e, item, index, redactor) else { continue };
            let change = Change { path: attr.tf.to_string(), desired: desired.clone(), actual: actual.clone() };
            if attr.encryption.as_ref().is_some_and(|enc| is_regression(enc, &desired, &actual)) {
                weaker.push((attr, change));
            } else {
                drift.push((attr, change));
            }
        }
        if !drift.is_empty() {
            out.push(make(Rule::DriftChanged, e, Some(item), spec, drift, catalog, regulated, now));
        }
        if !weaker.is_empty() {
            out.push(make(Rule::EncryptionRegression, e, Some(item), spec, weaker, catalog, regulated, now));
        }
    }
    out
}

/// Normalised (desired, actual) when they differ; `None` when equal or not comparable.
fn compare_attr(
    attr: &AttrSpec,
    desired: &Value,
    e: &IndexEntry,
    item: &ConfigItem,
    index: &ManagedIndex,
    redactor: &Redactor,
) -> Option<(Value, Value)> {
    let ctx = Ctx { self_id: Some(&e.resource_id) };
    let default = attr.default.as_ref().map(|d| attr.normalize.apply(d, &ctx));
    let mut desired = if desired.is_null() { default.clone()? } else { desired.clone() };
    // Members contributed by separate resources (security group rules).
    if let (Some(head), Value::Array(list)) = (attr.tf.head(), &mut desired) {
        let extra = index.contributions(&e.config_type, &e.resource_id, head);
        if !extra.is_empty() {
            list.extend(extra.iter().cloned());
            list.sort_by_key(|a| a.to_string());
            list.dedup();
        }
    }
    let raw_actual = attr.live.iter().find_map(|p| p.get_live(&item.doc).filter(|v| !v.is_null()));
    let mut actual = match raw_actual {
        Some(v) => attr.live_normalize.apply(v, &ctx),
        None => Value::Null,
    };
    if actual.is_null() {
        actual = default?;
    }
    // Secrets: anything secret-looking after normalisation (tags written as key/value lists
    // become maps here), and wherever the desired side holds a digest, the live side is
    // digested the same way before it is compared or shown.
    redactor.scrub(&mut desired);
    redactor.scrub(&mut actual);
    redact_like(&desired, &mut actual, redactor);
    if desired == actual {
        None
    } else {
        Some((desired, actual))
    }
}

fn is_redacted(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with(REDACTED_PREFIX))
}

/// Digest every leaf of `actual` whose counterpart in `desired` is a digest.
fn redact_like(desired: &Value, actual: &mut Value, redactor: &Redactor) {
    if is_redacted(desired) {
        if !is_redacted(actual) {
            *actual = redactor.redact(actual);
        }
        return;
    }
    match (desired, actual) {
        (Value::Object(d), Value::Object(a)) => {
            for (k, dv) in d {
                if let Some(av) = a.get_mut(k) {
                    redact_like(dv, av, redactor);
                }
            }
        }
        (Value::Array(d), Value::Array(a)) => {
            for (dv, av) in d.iter().zip(a.iter_mut()) {
                redact_like(dv, av, redactor);
            }
        }
        _ => {}
    }
}

/// Is `desired → actual` a weakening?
pub fn is_regression(enc: &Encryption, desired: &Value, actual: &Value) -> bool {
    match enc {
        Encryption::Ordered { order } => {
            let pos = |v: &Value| order.iter().position(|o| o == v);
            matches!((pos(desired), pos(actual)), (Some(d), Some(a)) if a < d)
        }
        Encryption::Key => desired.as_str().is_some_and(|s| !s.is_empty()) && desired != actual,
    }
}

fn is_regulated(tags: &Value, policy: &ScanPolicy) -> bool {
    match (&policy.regulated_tag, tags) {
        (Some((k, v)), Value::Object(m)) => m.get(k).and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(v)),
        _ => false,
    }
}

/// One severity step up (regulated resources); critical stays critical.
pub(crate) fn one_step_higher(s: Severity) -> Severity {
    match s {
        Severity::Info => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    }
}

fn resource_ref(e: &IndexEntry, item: Option<&ConfigItem>) -> ResourceRef {
    let mut r = ResourceRef {
        arn: e.arn.clone().or_else(|| item.and_then(|i| i.arn.clone())),
        resource_type: e.config_type.clone(),
        id: e.resource_id.clone(),
        address: Some(e.address.clone()),
        terraform_type: Some(e.terraform_type.clone()),
        state: Some((*e.state).clone()),
        account: None,
        region: None,
    };
    r.locate(item.map_or(crate::place::Place::ANYWHERE, ConfigItem::place));
    r
}

fn managed_fingerprint(rule: Rule, e: &IndexEntry) -> String {
    let anchor = if e.state.lineage.is_empty() { e.state.key.as_str() } else { e.state.lineage.as_str() };
    finding::fingerprint(rule, &[anchor, &e.state.workspace, &e.address])
}

/// A value for a one-line title: "(none)" for null or empty, cut to 60 characters.
pub(crate) fn title_value(v: &Value) -> String {
    let s = match v {
        Value::String(s) if s.is_empty() => "(none)".to_string(),
        Value::String(s) => s.clone(),
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

#[allow(clippy::too_many_arguments)]
fn make(
    rule: Rule,
    e: &IndexEntry,
    item: Option<&ConfigItem>,
    _spec: &ResourceSpec,
    changes: Vec<(&AttrSpec, Change)>,
    catalog: &Catalog,
    regulated: bool,
    now: DateTime<Utc>,
) -> Finding {
    let defaults = catalog.rule(rule);
    let mut severity = changes.iter().filter_map(|(a, _)| a.severity).max().unwrap_or(defaults.severity);
    if rule == Rule::EncryptionRegression {
        severity = severity.max(defaults.severity);
    }
    if regulated {
        severity = if rule == Rule::EncryptionRegression { Severity::Critical } else { one_step_higher(severity) };
    }
    let mut controls: BTreeSet<String> = defaults.controls.into_iter().collect();
    for (a, _) in &changes {
        controls.extend(a.controls.iter().cloned());
    }
    let title = match rule {
        Rule::EncryptionRegression => {
            let (_, c) = &changes[0];
            format!("encryption weakened outside Terraform: {} {} → {}", c.path, title_value(&c.desired), title_value(&c.actual))
        }
        _ => {
            let paths: Vec<&str> = changes.iter().map(|(_, c)| c.path.as_str()).collect();
            format!("changed outside Terraform: {}", paths.join(", "))
        }
    };
    Finding {
        rule,
        severity,
        title,
        resource: resource_ref(e, item),
        actor: None,
        changes: changes.into_iter().map(|(_, c)| c).collect(),
        controls: controls.into_iter().collect(),
        fingerprint: managed_fingerprint(rule, e),
        first_seen: now,
        last_seen: now,
        status: Status::Open,
        suppressed_by: None,
        evidence: Vec::new(),
        import: None,
    }
}

/// A `drift.missing` finding for a managed identity whose live resource is gone.
pub fn missing(entries: &[&IndexEntry], catalog: &Catalog, policy: &ScanPolicy, now: DateTime<Utc>) -> Option<Finding> {
    let e = entries.iter().find(|e| e.role == Role::Primary).or_else(|| entries.iter().find(|e| e.role == Role::Facet))?;
    let defaults = catalog.rule(Rule::DriftMissing);
    let regulated = entries.iter().any(|e| is_regulated(&e.tags, policy));
    Some(Finding {
        rule: Rule::DriftMissing,
        severity: if regulated { one_step_higher(defaults.severity) } else { defaults.severity },
        title: format!("in Terraform state but not found live ({} {})", e.config_type, e.resource_id),
        resource: resource_ref(e, None),
        actor: None,
        changes: Vec::new(),
        controls: defaults.controls,
        fingerprint: managed_fingerprint(Rule::DriftMissing, e),
        first_seen: now,
        last_seen: now,
        status: Status::Open,
        suppressed_by: None,
        evidence: Vec::new(),
        import: None,
    })
}

/// A `drift.unmanaged` finding for a live item no state manages, unless the catalog says
/// to ignore it (AWS-managed resources).
pub fn unmanaged(item: &ConfigItem, catalog: &Catalog, now: DateTime<Utc>) -> Option<Finding> {
    let spec = catalog.primary_for_config_type(&item.resource_type)?;
    if item.is_deleted() || ignored(spec, item) {
        return None;
    }
    let defaults = catalog.rule(Rule::DriftUnmanaged);
    let name = item.resource_name.clone().unwrap_or_else(|| item.resource_id.clone());
    Some(Finding {
        rule: Rule::DriftUnmanaged,
        severity: defaults.severity,
        title: format!("{} {} exists live but is in no Terraform state", item.resource_type, name),
        resource: {
            let mut r = ResourceRef {
                arn: item.arn.clone(),
                terraform_type: Some(spec.terraform_type.clone()),
                ..ResourceRef::named(&item.resource_type, &item.resource_id)
            };
            r.locate(item.place());
            r
        },
        actor: None,
        changes: Vec::new(),
        controls: defaults.controls,
        fingerprint: finding::fingerprint(
            Rule::DriftUnmanaged,
            &[item.account_id.as_deref().unwrap_or(""), &item.resource_type, &item.resource_id],
        ),
        first_seen: now,
        last_seen: now,
        status: Status::Open,
        suppressed_by: None,
        evidence: Vec::new(),
        import: crate::import::hint(item, spec),
    })
}

fn ignored(spec: &ResourceSpec, item: &ConfigItem) -> bool {
    spec.ignore_unmanaged.iter().any(|rule| {
        let Ok(p) = crate::path::AttrPath::parse(&rule.path) else { return false };
        let v = p.get(&item.doc).and_then(Value::as_str);
        match (v, &rule.equals, &rule.prefix) {
            (Some(v), Some(eq), _) => v == eq,
            (Some(v), None, Some(pre)) => v.starts_with(pre.as_str()),
            _ => false,
        }
    })
}

/// The entries of one identity, one group per place their ARNs name (an id reused in another
/// account or region is another resource); entries whose place is unknown (no ARN, or one
/// that names neither) go with the first group.
fn by_place(all: Vec<&IndexEntry>) -> Vec<Vec<&IndexEntry>> {
    let first = all.iter().map(|e| e.place()).find(|p| *p != Place::ANYWHERE);
    if all.iter().all(|e| e.place() == Place::ANYWHERE || Some(e.place()) == first) {
        return vec![all]; // one place (the usual case): the group as it is
    }
    let mut groups: Vec<(Place<'_>, Vec<&IndexEntry>)> = Vec::new();
    let mut unknown = Vec::new();
    for e in all {
        let place = e.place();
        if place == Place::ANYWHERE {
            unknown.push(e);
        } else if let Some((_, g)) = groups.iter_mut().find(|(p, _)| *p == place) {
            g.push(e);
        } else {
            groups.push((place, vec![e]));
        }
    }
    let mut groups: Vec<Vec<&IndexEntry>> = groups.into_iter().map(|(_, g)| g).collect();
    match groups.first_mut() {
        Some(first) => first.extend(unknown),
        None => groups.push(unknown),
    }
    groups
}

/// Full reconcile of an index against a live inventory.
pub fn scan(
    index: &ManagedIndex,
    live: &LiveInventory,
    catalog: &Catalog,
    redactor: &Redactor,
    policy: &ScanPolicy,
    now: DateTime<Utc>,
) -> ScanOutcome {
    let mut out = ScanOutcome::default();
    let mut uncovered: BTreeSet<String> = BTreeSet::new();
    // state name → (catalogued, compared, Config type → instances with no live item)
    let mut per_state: BTreeMap<String, (usize, usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for ((config_type, id), entries) in
        index.groups().into_iter().flat_map(|(identity, all)| by_place(all).into_iter().map(move |g| (identity, g)))
    {
        let place = entries.iter().map(|e| e.place()).find(|p| *p != Place::ANYWHERE).unwrap_or(Place::ANYWHERE);
        let item =
            live.get_at(config_type, id, place).or_else(|| entries.iter().find_map(|e| e.arn.as_deref().and_then(|a| live.by_arn(a))));
        let unrecorded = item.is_none() && !live.covers(config_type);
        for e in &entries {
            let counts = per_state.entry(crate::index::state_name(&e.state)).or_default();
            counts.0 += 1;
            counts.1 += usize::from(item.is_some());
            if unrecorded {
                *counts.2.entry(config_type.to_string()).or_default() += 1;
            }
        }
        if entries.iter().all(|e| e.role == Role::Contributor) {
            continue;
        }
        match item {
            Some(it) if !it.is_deleted() => {
                let found = compare_item(&entries, it, index, catalog, redactor, policy, now);
                out.resolved.extend(resolutions(&entries, &found, true, it.captured().unwrap_or(now)));
                out.findings.extend(found);
            }
            Some(it) => {
                out.resolved.extend(resolutions(&entries, &[], false, it.captured().unwrap_or(now)));
                out.findings.extend(missing(&entries, catalog, policy, now));
            }
            None if live.covers(config_type) => out.findings.extend(missing(&entries, catalog, policy, now)),
            None => {
                uncovered.insert(config_type.to_string());
            }
        }
    }
    for item in live.items() {
        if !index.manages(&item.resource_type, &item.resource_id, item.arn.as_deref(), item.place()) {
            out.findings.extend(unmanaged(item, catalog, now));
        }
    }
    for t in uncovered {
        out.notes.push(format!("no live configuration items of type {t}: its resources were not compared"));
    }
    if !index.uncovered_types.is_empty() {
        let list: Vec<String> = index.uncovered_types.iter().map(|(t, n)| format!("{t} ({n})")).collect();
        out.notes.push(format!("resource types not in the catalog, not compared: {}", list.join(", ")));
    }
    for p in &index.problems {
        out.notes.push(format!("{}: {}: {}", p.state_key, p.address, p.message));
    }
    let mut names: BTreeSet<&String> = index.by_state.keys().collect();
    names.extend(per_state.keys());
    let mut states = Vec::new();
    for name in names {
        let counts = index.by_state.get(name).cloned().unwrap_or_default();
        let (catalogued, compared, not_recorded) = per_state.get(name).cloned().unwrap_or_default();
        states.push(StateCoverage {
            state: name.clone(),
            // an index rebuilt from its entries (the Lambdas) knows only them
            managed_instances: counts.managed.max(catalogued),
            catalogued_instances: catalogued,
            compared_instances: compared,
            not_catalogued: counts.not_catalogued,
            not_recorded,
        });
    }
    out.coverage = Coverage::of_states(states);
    finding::sort(&mut out.findings);
    out
}
