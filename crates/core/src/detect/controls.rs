//! The control catalog: every weakened safeguard, as data (`catalog/controls/*.toml`, one file
//! per family), detected from CloudTrail calls and AWS Config items, on managed and unmanaged
//! resources alike.
//!
//! A row names the safeguard (`id`, `family`, `title`, `severity`, its HIPAA / NIST 800-53 /
//! CIS AWS controls), the AWS Config type of what it guards, and the signals that show it
//! weakened:
//!
//! * `[[control.call]]` — CloudTrail calls (`source`, `names`) whose request satisfies every
//!   `when` condition (and no `unless` one); `id` / `arn` templates (as in `cloudtrail.toml`)
//!   name the resource;
//! * `[[control.config]]` — a configuration item of the row's type whose document satisfies
//!   every `when` condition; an item of that type that does not is the control restored, and
//!   resolves the finding. `deleted = true`: the item records the resource deleted;
//! * `[[control.terraform]]` — a written state whose object of this Terraform `type` satisfies
//!   every `when` condition on its attributes (and the previous object at that address did
//!   not): an apply that weakens a control is a finding even though the pipeline made it.
//!
//! A condition is `{ path = "a.b.c", <test> }`; a path fans out over lists at every step, and a
//! test holds when any value found passes it: `equals = V` (booleans also as text), `in = [..]`,
//! `present = true|false`, `below = N` (a number under N), `contains = "s"`, `wildcard_principal
//! = true` (a policy, as text or JSON, with an `Allow` for `*` and no `Condition`),
//! `public_ingress = [ports]` (a permission open to `0.0.0.0/0` or `::/0` on one of the ports, or
//! on all), `outside_accounts = true` (an account id, or `all`, the policy's
//! `[controls] trusted_accounts` does not list).
//!
//! The finding is `control.<family>`; one per (control, resource): fingerprinted by the
//! control id, the resource type and id, so the CloudTrail call, the Config item and the state
//! write that show the same weakening are one finding and one alert. A managed resource is named
//! by its Terraform address. AWS services acting on their own are not reported; the pipeline
//! is (an apply that weakens a control is a finding too).

use super::actor::{self, classify};
use super::cloudtrail_calls::{self, Template};
use super::{actor_of, build, resource_of, Context, Draft};
use crate::finding::{ActorKind, Change, Finding, ResourceRef, Rule, Severity};
use crate::live::ConfigItem;
use crate::place::Place;
use crate::signal::ApiCall;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// The six families, each its own rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    AuditWeakened,
    PublicExposure,
    IntegrityWeakened,
    NetworkExposure,
    DetectionDisabled,
    IdentityRisk,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::AuditWeakened,
        Family::PublicExposure,
        Family::IntegrityWeakened,
        Family::NetworkExposure,
        Family::DetectionDisabled,
        Family::IdentityRisk,
    ];

    pub fn rule(self) -> Rule {
        match self {
            Family::AuditWeakened => Rule::ControlAuditWeakened,
            Family::PublicExposure => Rule::ControlPublicExposure,
            Family::IntegrityWeakened => Rule::ControlIntegrityWeakened,
            Family::NetworkExposure => Rule::ControlNetworkExposure,
            Family::DetectionDisabled => Rule::ControlDetectionDisabled,
            Family::IdentityRisk => Rule::ControlIdentityRisk,
        }
    }
}

/// What the conditions read besides the document: the accounts trusted (the policy's and the
/// resource's own), and the buckets that hold audit logs.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    pub trusted: Vec<String>,
    pub audit_log_buckets: &'a [String],
}

impl<'a> Scope<'a> {
    /// The policy's scope, with `own` (the resource's or the call's account) trusted too.
    pub fn of(policy: &'a crate::policy::Policy, own: Option<&str>) -> Scope<'a> {
        let mut trusted = policy.controls.trusted_accounts.clone();
        trusted.extend(own.filter(|a| !a.is_empty()).map(str::to_string));
        Scope { trusted, audit_log_buckets: &policy.controls.audit_log_buckets }
    }
}

/// A test on the values found at a path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cond {
    pub path: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Value>>,
    #[serde(default)]
    pub present: Option<bool>,
    #[serde(default)]
    pub below: Option<f64>,
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub wildcard_principal: Option<bool>,
    #[serde(default)]
    pub public_ingress: Option<Vec<u16>>,
    #[serde(default)]
    pub outside_accounts: Option<bool>,
    /// An object with all these keys at these values (`{ key = "deletion_protection.enabled",
    /// value = "false" }` in a list of attributes).
    #[serde(default)]
    pub has: Option<serde_json::Map<String, Value>>,
    /// A policy (text or JSON) with an `Allow` of every action on every resource.
    #[serde(default)]
    pub admin_policy: Option<bool>,
    /// A policy (text or JSON) allowing a principal outside the call's own account and the
    /// trusted accounts (or `*`) without a condition.
    #[serde(default)]
    pub principal_outside: Option<bool>,
    /// A bucket name (or ARN) that the policy's `[controls] audit_log_buckets` names.
    #[serde(default)]
    pub audit_log_bucket: Option<bool>,
}

/// CloudTrail calls that weaken the control.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSignal {
    pub source: String,
    pub names: Vec<String>,
    /// Resource id template (as in `cloudtrail.toml`).
    pub id: String,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub when: Vec<Cond>,
    #[serde(default)]
    pub unless: Vec<Cond>,
    /// Any call of the root user (then `source` and `names` are `"*"`).
    #[serde(default)]
    pub root: bool,
    #[serde(skip)]
    id_t: Option<Template>,
    #[serde(skip)]
    arn_t: Option<Template>,
}

/// A configuration item that shows the control weakened.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSignal {
    #[serde(default)]
    pub when: Vec<Cond>,
    #[serde(default)]
    pub unless: Vec<Cond>,
    /// The item records the resource deleted (`ResourceDeleted`): deleting it is the weakening.
    #[serde(default)]
    pub deleted: bool,
    /// Only when the notification's `configurationItemDiff.changedProperties` names a property
    /// under this prefix (case-insensitive, e.g. `SupplementaryConfiguration.BucketLoggingConfiguration`):
    /// for settings whose weak form is everyday posture (no access logging), the change alone
    /// is reported.
    #[serde(default)]
    pub changed: Option<String>,
}

impl ConfigSignal {
    fn touched(&self, changed_properties: &Value) -> bool {
        let Some(prefix) = &self.changed else { return true };
        let prefix = prefix.to_ascii_lowercase();
        changed_properties.as_object().is_some_and(|m| m.keys().any(|k| k.to_ascii_lowercase().starts_with(&prefix)))
    }
}

/// A Terraform resource type whose attributes in a written state show the control weakened.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformSignal {
    /// The Terraform type (a catalog row: the state parser keeps only catalog attributes).
    #[serde(rename = "type")]
    pub terraform_type: String,
    /// The attribute that names the resource the control guards (default: the catalog's
    /// identity for a catalog type, else `id`): `role` of an `aws_iam_role_policy_attachment`.
    #[serde(default)]
    pub id_attr: Option<String>,
    /// Attributes to keep besides those the conditions name (a condition on the whole object,
    /// `path = ""`, reads these).
    #[serde(default)]
    pub keep: Vec<String>,
    pub when: Vec<Cond>,
    #[serde(default)]
    pub unless: Vec<Cond>,
}

/// One safeguard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub family: Family,
    pub title: String,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// AWS Config type of the resource it guards (`AWS::Account` for account-level settings).
    #[serde(rename = "type")]
    pub config_type: String,
    #[serde(default)]
    pub hipaa: Vec<String>,
    #[serde(default)]
    pub nist: Vec<String>,
    #[serde(default)]
    pub cis: Vec<String>,
    #[serde(default)]
    pub call: Vec<CallSignal>,
    #[serde(default)]
    pub config: Vec<ConfigSignal>,
    #[serde(default)]
    pub terraform: Vec<TerraformSignal>,
}

impl Control {
    pub fn rule(&self) -> Rule {
        self.family.rule()
    }

    /// `HIPAA …`, `NIST …`, `CIS AWS …`.
    pub fn frameworks(&self) -> Vec<String> {
        let mut out: Vec<String> = self.hipaa.iter().map(|c| format!("HIPAA {c}")).collect();
        out.extend(self.nist.iter().map(|c| format!("NIST {c}")));
        out.extend(self.cis.iter().map(|c| format!("CIS AWS {c}")));
        out
    }

    /// Which signals cover it: `cloudtrail`, `config`.
    pub fn signals(&self) -> Vec<&'static str> {
        let mut s = Vec::new();
        if !self.call.is_empty() {
            s.push("cloudtrail");
        }
        if !self.config.is_empty() {
            s.push("config");
        }
        if !self.terraform.is_empty() {
            s.push("state");
        }
        s
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    control: Vec<Control>,
}

/// The control catalog, indexed by call and by Config type.
#[derive(Debug, Default)]
pub struct Controls {
    rows: Vec<Control>,
    /// Rows by call: source, then event name (looked up without allocating: the replay asks
    /// for every write it reads).
    by_call: HashMap<String, HashMap<String, Vec<(usize, usize)>>>,
    /// Rows about any call of the root user.
    by_root: Vec<(usize, usize)>,
    by_tf: HashMap<String, Vec<(usize, usize)>, foldhash::fast::RandomState>,
    by_type: HashMap<String, Vec<usize>>,
}

impl Controls {
    /// How many control rows look at resources of this AWS Config type.
    pub fn rows_of_type(&self, config_type: &str) -> usize {
        self.by_type.get(config_type).map_or(0, Vec::len)
    }
}

/// The built-in files, one per family.
pub const FILES: [(&str, &str); 6] = [
    ("audit.toml", include_str!("../../catalog/controls/audit.toml")),
    ("public.toml", include_str!("../../catalog/controls/public.toml")),
    ("integrity.toml", include_str!("../../catalog/controls/integrity.toml")),
    ("network.toml", include_str!("../../catalog/controls/network.toml")),
    ("detection.toml", include_str!("../../catalog/controls/detection.toml")),
    ("identity.toml", include_str!("../../catalog/controls/identity.toml")),
];

impl Controls {
    /// The built-in catalog (parsed once; a broken file is a bug, caught by the tests).
    pub fn builtin() -> &'static Controls {
        static C: OnceLock<Controls> = OnceLock::new();
        C.get_or_init(|| Controls::parse(FILES.iter().copied()).unwrap_or_else(|e| panic!("control catalog: {e}")))
    }

    /// Parse files `(name, text)`: unknown fields, a row without a signal, a duplicate id, a
    /// bad template or a condition without a test are errors naming the file and row.
    pub fn parse<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Controls, String> {
        let mut c = Controls::default();
        let mut ids = BTreeSet::new();
        for (name, text) in files {
            let f: File = toml::from_str(text).map_err(|e| format!("{name}: {e}"))?;
            for mut row in f.control {
                let at = format!("{name}: control {:?}", row.id);
                if !ids.insert(row.id.clone()) {
                    return Err(format!("{at}: duplicate id"));
                }
                if row.call.is_empty() && row.config.is_empty() && row.terraform.is_empty() {
                    return Err(format!("{at}: no signal (call, config or terraform)"));
                }
                let conds = row
                    .call
                    .iter()
                    .flat_map(|s| s.when.iter().chain(&s.unless))
                    .chain(row.config.iter().flat_map(|s| s.when.iter().chain(&s.unless)))
                    .chain(row.terraform.iter().flat_map(|s| s.when.iter().chain(&s.unless)));
                if row.config.iter().any(|s| s.when.is_empty() && !s.deleted) {
                    return Err(format!("{at}: a config signal needs `when` conditions or `deleted = true`"));
                }
                for cond in conds {
                    if !cond.has_test() {
                        return Err(format!("{at}: condition on {:?} has no test", cond.path));
                    }
                }
                let i = c.rows.len();
                for (j, s) in row.call.iter_mut().enumerate() {
                    s.id_t = Some(Template::parse(&s.id).map_err(|e| format!("{at}: {e}"))?);
                    s.arn_t = s.arn.as_deref().map(Template::parse).transpose().map_err(|e| format!("{at}: {e}"))?;
                    if s.root {
                        c.by_root.push((i, j));
                        continue;
                    }
                    for n in &s.names {
                        c.by_call.entry(s.source.clone()).or_default().entry(n.clone()).or_default().push((i, j));
                    }
                }
                if !row.config.is_empty() {
                    c.by_type.entry(row.config_type.clone()).or_default().push(i);
                }
                for (j, t) in row.terraform.iter().enumerate() {
                    c.by_tf.entry(t.terraform_type.clone()).or_default().push((i, j));
                }
                c.rows.push(row);
            }
        }
        Ok(c)
    }

    pub fn rows(&self) -> &[Control] {
        &self.rows
    }

    /// The (row, call signal) pairs that watch a call.
    fn calls(&self, source: &str, name: &str) -> Option<&Vec<(usize, usize)>> {
        self.by_call.get(source)?.get(name)
    }

    /// The Terraform types some row reads in a written state.
    pub fn terraform_types(&self) -> impl Iterator<Item = &str> {
        self.by_tf.keys().map(String::as_str)
    }

    /// The top-level attributes each Terraform type's signals read (for the state parser).
    pub fn retained(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for row in &self.rows {
            for t in &row.terraform {
                let heads = t
                    .when
                    .iter()
                    .chain(&t.unless)
                    .map(|c| c.path.as_str())
                    .chain(t.id_attr.as_deref())
                    .chain(t.keep.iter().map(String::as_str));
                let heads: Vec<String> = heads.filter_map(|p| p.split('.').next()).filter(|h| !h.is_empty()).map(str::to_string).collect();
                match out.iter_mut().find(|(ty, _)| *ty == t.terraform_type) {
                    Some((_, v)) => v.extend(heads),
                    None => out.push((t.terraform_type.clone(), heads)),
                }
            }
        }
        for (_, v) in &mut out {
            v.sort();
            v.dedup();
        }
        out
    }

    /// The rows a written object of `terraform_type` weakens: its attributes (`current`)
    /// satisfy a Terraform signal that the previous object of the address (if any) did not.
    /// A new object weak from the start weakens them too.
    pub fn weakened_in_state(
        &self,
        terraform_type: &str,
        current: &Value,
        previous: Option<&Value>,
        scope: &Scope<'_>,
    ) -> Vec<(&Control, &TerraformSignal)> {
        let Some(hits) = self.by_tf.get(terraform_type) else { return Vec::new() };
        let mut out: Vec<(&Control, &TerraformSignal)> = Vec::new();
        for &(i, j) in hits {
            let (row, t) = (&self.rows[i], &self.rows[i].terraform[j]);
            if out.iter().any(|(r, _)| r.id == row.id) {
                continue;
            }
            let weak = |attrs: &Value| row.terraform.iter().any(|t| holds_all(&t.when, &t.unless, attrs, scope));
            if holds_all(&t.when, &t.unless, current, scope) && !previous.is_some_and(weak) {
                out.push((row, t));
            }
        }
        out
    }

    /// Does any row watch this call?
    pub fn watches(&self, source: &str, name: &str) -> bool {
        self.calls(source, name).is_some()
    }

    /// The identities and ARNs the rows watching `call` name (for the index slice).
    pub fn names(&self, call: &ApiCall) -> (Vec<(String, String)>, Vec<String>) {
        let (mut ids, mut arns) = (Vec::new(), Vec::new());
        for &(i, j) in self.calls(&call.event_source, &call.event_name).into_iter().flatten() {
            let (row, s) = (&self.rows[i], &self.rows[i].call[j]);
            ids.extend(s.id_t.as_ref().and_then(|t| t.render(call, &row.config_type)).map(|id| (row.config_type.clone(), id)));
            arns.extend(s.arn_t.as_ref().and_then(|t| t.render(call, &row.config_type)).filter(|a| a.starts_with("arn:")));
        }
        (ids, arns)
    }
}

impl Cond {
    fn has_test(&self) -> bool {
        self.equals.is_some()
            || self.one_of.is_some()
            || self.present.is_some()
            || self.below.is_some()
            || self.contains.is_some()
            || self.wildcard_principal.is_some()
            || self.public_ingress.is_some()
            || self.outside_accounts.is_some()
            || self.has.is_some()
            || self.admin_policy.is_some()
            || self.principal_outside.is_some()
            || self.audit_log_bucket.is_some()
    }

    /// Does the document satisfy the condition?
    pub fn holds(&self, doc: &Value, scope: &Scope<'_>) -> bool {
        let found = values(doc, &self.path);
        if let Some(want) = self.present {
            let present = found.iter().any(|v| !matches!(v, Value::String(s) if s.is_empty()));
            return present == want;
        }
        found.iter().any(|v| self.passes(v, scope))
    }

    fn passes(&self, v: &Value, scope: &Scope<'_>) -> bool {
        let trusted = scope.trusted.as_slice();
        let loose = cloudtrail_calls::loose;
        if let Some(want) = &self.equals {
            return loose(v) == loose(want) || number(v).is_some_and(|n| number(want) == Some(n));
        }
        if let Some(list) = &self.one_of {
            return list.iter().any(|w| loose(v) == loose(w));
        }
        if let Some(limit) = self.below {
            return number(v).is_some_and(|n| n < limit);
        }
        if let Some(s) = &self.contains {
            return match v {
                Value::String(t) => t.contains(s.as_str()),
                other => other.to_string().contains(s.as_str()),
            };
        }
        if self.wildcard_principal == Some(true) {
            return wildcard_principal(v);
        }
        if let Some(ports) = &self.public_ingress {
            return public_ingress(v, ports);
        }
        if self.outside_accounts == Some(true) {
            return outside_accounts(v, trusted);
        }
        if let Some(want) = &self.has {
            return want.iter().all(|(k, w)| v.get(k).is_some_and(|got| loose(got) == loose(w)));
        }
        if self.admin_policy == Some(true) {
            return statements(v).iter().any(|s| {
                let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
                let all = |k: &str| match s.get(k) {
                    Some(Value::String(a)) => a == "*",
                    Some(Value::Array(a)) => a.iter().any(|a| a.as_str() == Some("*")),
                    _ => false,
                };
                allow && all("Action") && all("Resource")
            });
        }
        if self.principal_outside == Some(true) {
            return principal_outside(v, trusted);
        }
        if self.audit_log_bucket == Some(true) {
            return v.as_str().is_some_and(|b| {
                let name = b.strip_prefix("arn:aws:s3:::").unwrap_or(b);
                scope.audit_log_buckets.iter().any(|g| crate::glob::matches(g, name))
            });
        }
        false
    }
}

/// Every value at a dotted path; lists fan out at every step (and at the end).
pub fn values<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur = vec![doc];
    for key in path.split('.').filter(|k| !k.is_empty()) {
        let mut next = Vec::new();
        for v in cur {
            match v {
                Value::Object(m) => next.extend(m.get(key)),
                Value::Array(a) => next.extend(a.iter().filter_map(|e| e.get(key))),
                _ => {}
            }
        }
        cur = next;
    }
    cur.into_iter().flat_map(|v| if let Value::Array(a) = v { a.iter().collect() } else { vec![v] }).filter(|v| !v.is_null()).collect()
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The statements of a policy document, as text or JSON.
fn statements(v: &Value) -> Vec<Value> {
    let doc = match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(d) => d,
            Err(_) => return Vec::new(),
        },
        other => other.clone(),
    };
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// The principals an `Allow` statement without a `Condition` grants to (`*` for
/// `"Principal": "*"`).
fn unconditioned_principals(s: &Value) -> Vec<String> {
    let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
    let conditioned = s.get("Condition").is_some_and(|c| c.as_object().is_some_and(|m| !m.is_empty()));
    if !allow || conditioned {
        return Vec::new();
    }
    match s.get("Principal") {
        Some(Value::String(p)) => vec![p.clone()],
        Some(Value::Object(m)) => m
            .values()
            .flat_map(|p| match p {
                Value::String(p) => vec![p.clone()],
                Value::Array(a) => a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A policy document (text or JSON) with an `Allow` statement for any principal and no
/// `Condition`.
pub fn wildcard_principal(v: &Value) -> bool {
    statements(v).iter().any(|s| unconditioned_principals(s).iter().any(|p| p == "*"))
}

/// A policy allowing, without a condition, `*` or an account (`123456789012`,
/// `arn:aws:iam::123456789012:root`, a role or user ARN of it) that is not trusted.
pub fn principal_outside(v: &Value, trusted: &[String]) -> bool {
    statements(v).iter().any(|s| {
        unconditioned_principals(s).iter().any(|p| {
            if p == "*" {
                return true;
            }
            let account = if p.starts_with("arn:") { p.split(':').nth(4).unwrap_or_default() } else { p.as_str() };
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !trusted.iter().any(|t| t == account)
        })
    })
}

fn first_number(v: &Value, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| v.get(*k).and_then(number))
}

fn public_cidrs(v: &Value) -> bool {
    match v {
        Value::String(s) => s == "0.0.0.0/0" || s == "::/0",
        Value::Array(a) => a.iter().any(public_cidrs),
        Value::Object(m) => m.values().any(public_cidrs),
        _ => false,
    }
}

/// An ingress permission (CloudTrail `ipPermissions.items[]`, a Config item's
/// `ipPermissions[]`, a rule's request) open to the internet on one of `ports` (or on all
/// ports: protocol `-1`, or no port range on a TCP/UDP rule).
pub fn public_ingress(v: &Value, ports: &[u16]) -> bool {
    if !v.is_object() || !public_cidrs(v) {
        return false;
    }
    // A network ACL entry that denies, or an egress entry, opens nothing.
    if v.get("ruleAction").and_then(Value::as_str).is_some_and(|a| a != "allow")
        || v.get("egress").is_some_and(|e| cloudtrail_calls::loose(e) == Value::Bool(true))
    {
        return false;
    }
    let protocol = ["ipProtocol", "IpProtocol", "protocol", "ip_protocol"]
        .iter()
        .find_map(|k| v.get(*k))
        .map(|p| p.as_str().map(str::to_string).unwrap_or_else(|| p.to_string()));
    if matches!(protocol.as_deref(), Some("-1" | "all")) {
        return true;
    }
    let range = v.get("portRange").unwrap_or(v);
    let from = first_number(range, &["fromPort", "FromPort", "from_port", "from"]);
    let to = first_number(range, &["toPort", "ToPort", "to_port", "to"]).or(from);
    match (from, to) {
        (Some(f), Some(t)) if f >= 0.0 => ports.iter().any(|p| f64::from(*p) >= f && f64::from(*p) <= t),
        (Some(_), _) => true, // -1: all ports (ICMP aside)
        (None, _) => true,
    }
}

/// An account (or `all`) outside the trusted list.
pub fn outside_accounts(v: &Value, trusted: &[String]) -> bool {
    let s = match v {
        Value::String(s) => s.as_str(),
        Value::Object(m) => {
            return m.values().any(|x| outside_accounts(x, trusted));
        }
        _ => return false,
    };
    s.eq_ignore_ascii_case("all") || (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) && !trusted.iter().any(|t| t == s))
}

/// The CloudTrail document conditions are read in.
fn call_doc(call: &ApiCall) -> Value {
    json!({
        "eventName": call.event_name,
        "requestParameters": call.request_parameters,
        "responseElements": call.response_elements,
        "additionalEventData": call.additional_event_data,
        "userIdentity": {"type": call.principal.principal_type, "arn": call.principal.arn},
    })
}

fn holds_all(s: &[Cond], u: &[Cond], doc: &Value, scope: &Scope<'_>) -> bool {
    s.iter().all(|c| c.holds(doc, scope)) && !u.iter().any(|c| c.holds(doc, scope))
}

/// The resource a control finding names: the managed entry when the index has it.
fn subject(ctx: &Context<'_>, config_type: &str, id: &str, arn: Option<&str>, place: Place<'_>) -> ResourceRef {
    let entry = ctx.index.lookup_at(config_type, id, place).next().or_else(|| arn.and_then(|a| ctx.index.lookup_arn(a)));
    match entry {
        Some(e) => resource_of(e),
        None => ResourceRef {
            arn: arn.map(str::to_string),
            resource_type: config_type.to_string(),
            id: id.to_string(),
            address: None,
            terraform_type: None,
            state: None,
            account: None,
            region: None,
        },
    }
}

fn name_of(r: &ResourceRef) -> String {
    r.address.clone().unwrap_or_else(|| format!("{} {}", r.resource_type, r.id))
}

/// The values the conditions looked at, redacted: what the finding shows.
fn shown(conds: &[Cond], doc: &Value, ctx: &Context<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for c in conds {
        if !seen.insert(c.path.clone()) {
            continue;
        }
        let found = values(doc, &c.path);
        if found.is_empty() {
            continue;
        }
        let mut v = if found.len() == 1 { found[0].clone() } else { Value::Array(found.into_iter().cloned().collect()) };
        ctx.redactor.scrub(&mut v);
        out.push(Change { path: c.path.clone(), desired: Value::Null, actual: v });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn finding(
    row: &Control,
    resource: ResourceRef,
    account: &str,
    title: String,
    actor: Option<crate::finding::Actor>,
    changes: Vec<Change>,
    at: chrono::DateTime<chrono::Utc>,
    ctx: &Context<'_>,
) -> Finding {
    let parts = fingerprint_parts(row, &resource.resource_type, &resource.id, identity_account(&resource, account));
    let mut f = build(
        Draft {
            rule: row.rule(),
            severity: row.severity,
            title,
            resource,
            actor,
            changes,
            extra_controls: row.frameworks(),
            fingerprint_parts: parts,
            at,
        },
        ctx.catalog,
    );
    f.changes
        .insert(0, Change { path: "control".into(), desired: Value::String(row.id.clone()), actual: Value::String("weakened".into()) });
    f
}

/// The account that is part of a control finding's identity. The call, the item and the state
/// write of one weakening must give one finding, and a state write knows no account but its
/// resources' ARNs: so a managed resource's account is its ARN's (none for an S3 bucket, whose
/// name is unique across accounts anyway), and an unmanaged resource's is the account the
/// call or the item came from.
fn identity_account<'a>(resource: &'a ResourceRef, signal_account: &'a str) -> Option<&'a str> {
    if resource.address.is_some() {
        resource.arn.as_deref().and_then(|a| Place::of_arn(a).account)
    } else {
        Some(signal_account).filter(|a| !a.is_empty())
    }
}

fn fingerprint_parts(row: &Control, config_type: &str, id: &str, account: Option<&str>) -> Vec<String> {
    let mut parts = vec![row.id.clone(), config_type.to_string(), id.to_string()];
    parts.extend(account.map(str::to_string));
    parts
}

/// The fingerprint of a control's finding on a resource in `account` (`None`: no account is
/// part of its identity; findings made before ids had places have none either).
pub fn fingerprint(row: &Control, config_type: &str, id: &str, account: Option<&str>) -> String {
    let parts = fingerprint_parts(row, config_type, id, account);
    crate::finding::fingerprint(row.rule(), &parts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The finding of a state write that weakens a control (`resource` names the managed object).
pub fn on_state(
    row: &Control,
    t: &TerraformSignal,
    attrs: &Value,
    resource: ResourceRef,
    actor: Option<crate::finding::Actor>,
    at: chrono::DateTime<chrono::Utc>,
    ctx: &Context<'_>,
) -> Finding {
    let title = format!("{}: through Terraform, {}", row.title, name_of(&resource));
    let changes = shown(&t.when, attrs, ctx);
    finding(row, resource, "", title, actor, changes, at, ctx)
}

/// Findings of a CloudTrail call that weakens a control.
pub fn on_call(call: &ApiCall, ctx: &Context<'_>) -> Vec<Finding> {
    let c = Controls::builtin();
    let root = call.principal.principal_type.as_deref() == Some("Root");
    let hits: Vec<(usize, usize)> = match c.calls(&call.event_source, &call.event_name) {
        Some(h) if root => h.iter().chain(&c.by_root).copied().collect(),
        Some(h) => h.clone(),
        None if root => c.by_root.clone(),
        None => return Vec::new(),
    };
    let kind = classify(&call.principal, ctx.policy);
    if kind == ActorKind::AwsService {
        return Vec::new();
    }
    let doc = call_doc(call);
    let account = cloudtrail_calls::account(call).unwrap_or_default();
    // The call's own account is trusted too.
    let scope = &Scope::of(ctx.policy, Some(account));
    let mut out = Vec::new();
    for (i, j) in hits {
        let (row, s) = (&c.rows[i], &c.rows[i].call[j]);
        if !holds_all(&s.when, &s.unless, &doc, scope) {
            continue;
        }
        let id = s.id_t.as_ref().and_then(|t| t.render(call, &row.config_type)).unwrap_or_else(|| account.to_string());
        let arn = s.arn_t.as_ref().and_then(|t| t.render(call, &row.config_type)).filter(|a| a.starts_with("arn:"));
        let resource = subject(ctx, &row.config_type, &id, arn.as_deref(), Place::new(Some(account), call.region.as_deref()));
        let title = format!("{}: {} on {} by {}", row.title, call.event_name, name_of(&resource), actor::who(&call.principal));
        let mut changes = vec![Change { path: "eventName".into(), desired: Value::Null, actual: Value::String(call.event_name.clone()) }];
        changes.extend(shown(&s.when, &doc, ctx));
        out.push(finding(row, resource, account, title, Some(actor_of(&call.principal, kind)), changes, call.event_time, ctx));
    }
    out
}

fn item_account(item: &ConfigItem) -> &str {
    item.account_id.as_deref().unwrap_or_default()
}

/// Findings of a configuration item that shows a control weakened.
pub fn on_item(item: &ConfigItem, changed_properties: &Value, at: chrono::DateTime<chrono::Utc>, ctx: &Context<'_>) -> Vec<Finding> {
    let c = Controls::builtin();
    let Some(rows) = c.by_type.get(&item.resource_type) else { return Vec::new() };
    let deleted = item.is_deleted();
    let scope = &Scope::of(ctx.policy, item.account_id.as_deref());
    let mut out = Vec::new();
    for &i in rows {
        let row = &c.rows[i];
        let weak = |s: &&ConfigSignal| {
            if deleted {
                s.deleted
            } else {
                !s.deleted && s.touched(changed_properties) && holds_all(&s.when, &s.unless, &item.doc, scope)
            }
        };
        let Some(s) = row.config.iter().find(weak) else { continue };
        let resource = subject(ctx, &item.resource_type, &item.resource_id, item.arn.as_deref(), item.place());
        let seen = if deleted { "deleted, as AWS Config records" } else { "seen in AWS Config on" };
        let title = format!("{}: {seen} {}", row.title, name_of(&resource));
        let changes = shown(&s.when, &item.doc, ctx);
        out.push(finding(row, resource, item_account(item), title, None, changes, at, ctx));
    }
    out
}

/// The control findings a configuration item shows restored: the rows of its type with a
/// Config signal whose conditions it does not satisfy. Each row gives the fingerprints the
/// resource's finding can have: with the item's account (unmanaged), with its ARN's (managed),
/// and with none (a managed S3 bucket; findings recorded before ids had places).
pub fn restored(item: &ConfigItem, scope: &Scope<'_>) -> Vec<String> {
    let c = Controls::builtin();
    let Some(rows) = c.by_type.get(&item.resource_type) else { return Vec::new() };
    if item.is_deleted() {
        return Vec::new();
    }
    rows.iter()
        .map(|&i| &c.rows[i])
        .filter(|row| row.config.iter().any(|s| !s.deleted))
        .filter(|row| !row.config.iter().any(|s| !s.deleted && holds_all(&s.when, &s.unless, &item.doc, scope)))
        .flat_map(|row| {
            let arn_account = item.arn.as_deref().and_then(|a| Place::of_arn(a).account);
            let mut accounts = vec![None, item.account_id.as_deref().filter(|a| !a.is_empty()), arn_account];
            accounts.sort();
            accounts.dedup();
            accounts.into_iter().map(|a| fingerprint(row, &item.resource_type, &item.resource_id, a)).collect::<Vec<_>>()
        })
        .collect()
}

impl Family {
    /// The family's rule id (`control.audit_weakened`).
    pub fn id(self) -> &'static str {
        self.rule().id()
    }
}

/// Family × rows × signals, and each family's HIPAA / NIST / CIS controls (the README's table).
pub fn summary_markdown(c: &Controls) -> String {
    let mut out = String::from("| family (rule) | rows | CloudTrail | AWS Config | state write | HIPAA | NIST 800-53 | CIS AWS |\n|---|---|---|---|---|---|---|---|\n");
    let (mut rows, mut ct, mut cfg, mut st) = (0, 0, 0, 0);
    for f in Family::ALL {
        let of: Vec<&Control> = c.rows().iter().filter(|r| r.family == f).collect();
        let count = |s: &str| of.iter().filter(|r| r.signals().contains(&s)).count();
        let set = |pick: fn(&Control) -> &Vec<String>| {
            let mut v: Vec<&str> = of.iter().flat_map(|r| pick(r).iter().map(String::as_str)).collect();
            v.sort_by_key(|a| natural(a));
            v.dedup();
            v.join(", ")
        };
        let (a, b, d) = (count("cloudtrail"), count("config"), count("state"));
        rows += of.len();
        ct += a;
        cfg += b;
        st += d;
        out.push_str(&format!(
            "| `{}` | {} | {a} | {b} | {d} | {} | {} | {} |\n",
            f.id(),
            of.len(),
            set(|r| &r.hipaa),
            set(|r| &r.nist),
            set(|r| &r.cis)
        ));
    }
    out.push_str(&format!("| **all** | **{rows}** | **{ct}** | **{cfg}** | **{st}** | | | |\n"));
    out
}

/// Every row: its id, rule, what it means, severity, signals and controls.
pub fn rows_markdown(c: &Controls) -> String {
    let mut out = String::from(
        "| control | rule | weakened when | severity | signals | HIPAA | NIST | CIS AWS |\n|---|---|---|---|---|---|---|---|\n",
    );
    for f in Family::ALL {
        for r in c.rows().iter().filter(|r| r.family == f) {
            let severity = r.severity.unwrap_or(crate::finding::Rule::default_severity(&r.rule()));
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} | {} | {} | {} |\n",
                r.id,
                f.id(),
                r.title,
                severity,
                r.signals().join(", "),
                r.hipaa.join(", "),
                r.nist.join(", "),
                r.cis.join(", ")
            ));
        }
    }
    out
}

/// Sort key that orders `AU-2` before `AU-12` and `1.4` before `1.10`.
fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
        } else {
            if !num.is_empty() {
                out.push((std::mem::take(&mut text), num.parse().unwrap_or(0)));
                num.clear();
            }
            text.push(ch);
        }
    }
    out.push((text, num.parse().unwrap_or(0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_parses_and_every_family_has_rows() {
        let c = Controls::builtin();
        for f in Family::ALL {
            assert!(c.rows().iter().any(|r| r.family == f), "{f:?} has no row");
        }
    }

    #[test]
    fn paths_fan_out_over_lists() {
        let doc = json!({"a": {"items": [{"b": 1}, {"b": [2, 3]}]}});
        assert_eq!(values(&doc, "a.items.b"), [&json!(1), &json!(2), &json!(3)]);
        assert!(values(&doc, "a.nothing").is_empty());
    }

    #[test]
    fn wildcard_principals_without_a_condition_are_open() {
        let open = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}"#;
        let aws = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "sqs:*"}});
        let scoped = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}"#;
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*"}]}"#;
        assert!(wildcard_principal(&json!(open)) && wildcard_principal(&aws));
        assert!(!wildcard_principal(&json!(scoped)) && !wildcard_principal(&json!(deny)) && !wildcard_principal(&json!("not json")));
    }

    #[test]
    fn ingress_is_public_on_an_admin_port_or_all_ports() {
        let ssh = json!({"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}});
        let https = json!({"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}});
        let all = json!({"ipProtocol": "-1", "ipv6Ranges": [{"cidrIpv6": "::/0"}]});
        let private = json!({"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}});
        let range = json!({"ip_protocol": "tcp", "from_port": 1000, "to_port": 6000, "cidr_ipv4": "0.0.0.0/0"});
        let ports = [22, 3389, 5432];
        assert!(public_ingress(&ssh, &ports) && public_ingress(&all, &ports) && public_ingress(&range, &ports));
        assert!(!public_ingress(&https, &ports) && !public_ingress(&private, &ports));
    }

    #[test]
    fn accounts_outside_the_trusted_list_or_all_are_outside() {
        let trusted = vec!["111122223333".to_string()];
        assert!(outside_accounts(&json!("all"), &trusted));
        assert!(outside_accounts(&json!({"userId": "444455556666"}), &trusted));
        assert!(!outside_accounts(&json!("111122223333"), &trusted));
        assert!(!outside_accounts(&json!("not-an-account"), &trusted));
    }

    #[test]
    fn a_broken_row_is_refused_with_its_name() {
        let no_signal = "[[control]]\nid = \"x\"\nfamily = \"audit_weakened\"\ntitle = \"t\"\ntype = \"AWS::S3::Bucket\"\n";
        assert!(Controls::parse([("f.toml", no_signal)]).unwrap_err().contains("control \"x\": no signal"));
        let no_test = format!("{no_signal}[[control.config]]\nwhen = [{{ path = \"a\" }}]\n");
        assert!(Controls::parse([("f.toml", no_test.as_str())]).unwrap_err().contains("has no test"));
        let twice = format!("{no_signal}[[control.config]]\nwhen = [{{ path = \"a\", equals = 1 }}]\n");
        let both = format!("{twice}{twice}");
        assert!(Controls::parse([("f.toml", both.as_str())]).unwrap_err().contains("duplicate id"));
    }
}
