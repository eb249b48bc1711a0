//! The CloudTrail API table (`catalog/cloudtrail.toml` and the `[resource.cloudtrail]` calls of
//! the rows in `catalog/resources/*.toml`, embedded): which write APIs the CloudTrail detector
//! understands, how each names its resource, what kind of change it is, and
//! which encryption checks apply. The table is data; [`super::cloudtrail`] is generic over it.
//! The format is documented in the header of the TOML file.

use crate::catalog::{AttrSpec, Catalog, Role};
use crate::normalize;
use crate::path::{AttrPath, Step};
use crate::signal::ApiCall;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

/// The table shipped with driftwatch.
pub const BUILTIN: &str = include_str!("../../catalog/cloudtrail.toml");

/// Table load errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiTableError {
    #[error("CloudTrail API table is not valid TOML: {0}")]
    Toml(String),
    #[error("CloudTrail API table, {event_source} {name}: {message}")]
    Row { event_source: String, name: String, message: String },
    #[error("CloudTrail API table, check {check}: {message}")]
    Check { check: String, message: String },
}

/// What a call does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Create,
    Modify,
    Delete,
}

/// How a check reads its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Compare a value with the desired one / the weak values.
    #[default]
    Value,
    /// The value is a policy that must not allow `Principal: "*"` without a `Condition`.
    PolicyOpen,
}

/// Where a template placeholder takes its value.
#[derive(Debug, Clone, PartialEq)]
enum Var {
    Partition,
    Region,
    Account,
    Resources,
    Path(AttrPath),
}

/// Transform applied to a placeholder value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    None,
    ArnName,
    KmsKey,
    LastSegment,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Var(Var, Transform),
}

/// A string template over an API call: `arn:{partition}:rds:{region}:{account}:db:{requestParameters.dBInstanceIdentifier}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

/// A condition on the call.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub param: Vec<AttrPath>,
    pub equals: Option<Value>,
    pub present: bool,
}

/// Where a check's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Candidate paths into the call; the first present wins.
    Param(Vec<AttrPath>),
    /// A value the call implies (`DisableKey` sets `is_enabled = false`).
    Set(Value),
}

/// One encryption check of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub kind: CheckKind,
    pub source: Source,
    pub absent: Option<Value>,
    /// Terraform type whose catalog attribute `attr` is meant; `None`: the row's.
    pub tf: Option<String>,
    pub attr: Option<String>,
    pub weak: Vec<Value>,
    pub when: Option<Cond>,
    pub unless: Option<Cond>,
    pub path: Option<String>,
    pub expect: Option<Value>,
}

/// One row: an (eventSource, eventName) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRow {
    pub source: String,
    pub name: String,
    pub kind: Kind,
    /// AWS Config resource type.
    pub config_type: String,
    pub id: Vec<Template>,
    pub arn: Vec<Template>,
    /// Terraform type owning the setting (a facet), when not the primary row.
    pub terraform_type: Option<String>,
    pub by_name: bool,
    pub account_level: bool,
    /// Top-level request parameters digested wholesale.
    pub redact: Vec<String>,
    /// Name of the check set, and its entries.
    pub check: Option<String>,
    pub checks: Vec<Check>,
}

/// The loaded table.
#[derive(Debug, Clone)]
pub struct ApiTable {
    rows: Vec<ApiRow>,
    by_name: HashMap<String, Vec<usize>>,
}

// ---------------------------------------------------------------- raw TOML

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    check: BTreeMap<String, Vec<RawCheck>>,
    group: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    source: String,
    #[serde(rename = "type")]
    config_type: String,
    #[serde(default)]
    id: Vec<String>,
    #[serde(default)]
    arn: Vec<String>,
    tf: Option<String>,
    #[serde(default)]
    by_name: bool,
    #[serde(default)]
    account_level: bool,
    #[serde(default)]
    redact: Vec<String>,
    calls: Vec<RawCall>,
}

/// A resource file (`catalog/resources/*.toml`) as the table reads it: each row's type and
/// its CloudTrail calls; the catalog reads the rest.
#[derive(Debug, Deserialize)]
struct RawResourceFile {
    #[serde(default)]
    resource: Vec<RawResourceCalls>,
}

#[derive(Debug, Deserialize)]
struct RawResourceCalls {
    terraform_type: String,
    config_type: String,
    cloudtrail: Option<RawRowCalls>,
}

/// `[resource.cloudtrail]`: a group whose type and `tf` are the row's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRowCalls {
    source: String,
    #[serde(default)]
    id: Vec<String>,
    #[serde(default)]
    arn: Vec<String>,
    #[serde(default)]
    by_name: bool,
    #[serde(default)]
    redact: Vec<String>,
    calls: Vec<RawCall>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    name: String,
    kind: Kind,
    #[serde(rename = "type")]
    config_type: Option<String>,
    id: Option<Vec<String>>,
    arn: Option<Vec<String>>,
    tf: Option<String>,
    by_name: Option<bool>,
    redact: Option<Vec<String>>,
    check: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    #[serde(default)]
    kind: CheckKind,
    param: Option<Vec<String>>,
    set: Option<Value>,
    absent: Option<Value>,
    tf: Option<String>,
    attr: Option<String>,
    #[serde(default)]
    weak: Vec<Value>,
    when: Option<RawCond>,
    unless: Option<RawCond>,
    path: Option<String>,
    expect: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCond {
    param: Vec<String>,
    equals: Option<Value>,
    #[serde(default)]
    present: bool,
}

const ROOTS: &[&str] = &["requestParameters", "responseElements", "additionalEventData"];

fn call_path(s: &str) -> Result<AttrPath, String> {
    let p = AttrPath::parse(s).map_err(|e| e.to_string())?;
    match p.head() {
        Some(h) if ROOTS.contains(&h) => Ok(p),
        _ => Err(format!("path {s:?} must start with one of {ROOTS:?}")),
    }
}

impl Template {
    /// Parse a template.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Lit(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').ok_or_else(|| format!("template {text:?}: unclosed {{"))? + open;
            let inner = &rest[open + 1..close];
            let (var, transform) = match inner.split_once('|') {
                Some((v, t)) => (v, t),
                None => (inner, ""),
            };
            let transform = match transform {
                "" => Transform::None,
                "arn_name" => Transform::ArnName,
                "kms_key" => Transform::KmsKey,
                "last_segment" => Transform::LastSegment,
                other => return Err(format!("template {text:?}: unknown transform {other:?}")),
            };
            let var = match var {
                "partition" => Var::Partition,
                "region" => Var::Region,
                "account" => Var::Account,
                "resources" => Var::Resources,
                path => Var::Path(call_path(path).map_err(|e| format!("template {text:?}: {e}"))?),
            };
            parts.push(Part::Var(var, transform));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        if rest.contains('}') {
            return Err(format!("template {text:?}: stray }}"));
        }
        Ok(Template { text: text.to_string(), parts })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The call paths its placeholders read.
    pub fn paths(&self) -> impl Iterator<Item = &AttrPath> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(Var::Path(path), _) => Some(path),
            _ => None,
        })
    }

    /// Render for a call; `None` when a placeholder has no (non-empty) value.
    pub fn render(&self, call: &ApiCall, config_type: &str) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v, t) => {
                    let raw: String = match v {
                        Var::Partition => partition(call).to_string(),
                        Var::Region => call.region.clone()?,
                        Var::Account => account(call)?.to_string(),
                        Var::Resources => call
                            .resources
                            .iter()
                            .find(|r| r.resource_type.as_deref() == Some(config_type) && r.arn.is_some())
                            .or_else(|| call.resources.iter().find(|r| r.arn.is_some()))
                            .and_then(|r| r.arn.clone())?,
                        Var::Path(p) => scalar(lookup(call, p)?)?,
                    };
                    let v = match t {
                        Transform::None => raw,
                        Transform::ArnName => arn_name(&raw).to_string(),
                        Transform::KmsKey => normalize::kms_key_ref(&raw),
                        Transform::LastSegment => raw.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string(),
                    };
                    if v.is_empty() {
                        return None;
                    }
                    out.push_str(&v);
                }
            }
        }
        Some(out)
    }
}

/// The partition of the call: from the region, else from the caller's ARN, else `aws`.
pub fn partition(call: &ApiCall) -> &str {
    match call.region.as_deref() {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => call
            .principal
            .arn
            .as_deref()
            .and_then(|a| a.strip_prefix("arn:"))
            .and_then(|a| a.split(':').next())
            .filter(|p| !p.is_empty())
            .unwrap_or("aws"),
    }
}

/// The account the call acted in: `recipientAccountId`, else the caller's.
pub fn account(call: &ApiCall) -> Option<&str> {
    call.account.as_deref().or(call.principal.account.as_deref()).filter(|a| !a.is_empty())
}

/// The resource name in an ARN: `arn:aws:iam::1:role/path/NAME` → `NAME`,
/// `arn:aws:lambda:r:1:function:NAME:QUALIFIER` → `NAME`, `arn:aws:rds:r:1:db:NAME` → `NAME`,
/// `arn:aws:sqs:r:1:NAME` → `NAME`. Anything that is not an ARN is returned unchanged.
pub fn arn_name(s: &str) -> &str {
    if !s.starts_with("arn:") {
        return s;
    }
    let Some(resource) = s.splitn(6, ':').nth(5) else { return s };
    if let Some((_, tail)) = resource.rsplit_once('/') {
        return tail;
    }
    match resource.split_once(':') {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => resource,
    }
}

/// Look a path up in a call. A key step into a list looks into its first element (XML bodies
/// of one element become objects, of several become lists).
pub fn lookup<'a>(call: &'a ApiCall, path: &AttrPath) -> Option<&'a Value> {
    let mut steps = path.0.iter();
    let root = match steps.next()? {
        Step::Key(k) if k == "requestParameters" => &call.request_parameters,
        Step::Key(k) if k == "responseElements" => &call.response_elements,
        Step::Key(k) if k == "additionalEventData" => &call.additional_event_data,
        _ => return None,
    };
    let mut cur = root;
    for step in steps {
        cur = match (step, cur) {
            (Step::Key(k), Value::Object(m)) => m.get(k)?,
            (Step::Key(k), Value::Array(a)) => a.first()?.get(k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            (Step::Index(0), other @ Value::Object(_)) => other,
            _ => return None,
        };
    }
    (!cur.is_null()).then_some(cur)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Cond {
    /// Does the call satisfy the condition?
    pub fn holds(&self, call: &ApiCall) -> bool {
        let v = self.param.iter().find_map(|p| lookup(call, p));
        if self.present {
            return v.is_some_and(|v| !matches!(v, Value::String(s) if s.is_empty()));
        }
        match (&self.equals, v) {
            (Some(want), Some(got)) => loose(got) == loose(want),
            (Some(_), None) => false,
            (None, got) => got.is_some(),
        }
    }
}

/// Lenient form of a scalar for comparisons: `"true"`/`"false"` (any case) are booleans.
pub fn loose(v: &Value) -> Value {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        other => other.clone(),
    }
}

impl Check {
    /// The catalog row and attribute this check corresponds to (the attribute with an
    /// encryption order when several compare the same Terraform path).
    pub fn attr_spec<'c>(&self, row: &ApiRow, catalog: &'c Catalog) -> Option<(&'c str, usize, &'c AttrSpec)> {
        let attr = self.attr.as_deref()?;
        let tf = self.tf.as_deref().or(row.terraform_type.as_deref());
        let spec = match tf {
            Some(t) => catalog.get(t)?,
            None => catalog.primary_for_config_type(&row.config_type)?,
        };
        let mut found: Option<(usize, &AttrSpec)> = None;
        for (i, a) in spec.attrs.iter().enumerate() {
            if a.tf.to_string() == attr && (found.is_none() || a.encryption.is_some()) {
                found = Some((i, a));
            }
        }
        found.map(|(i, a)| (spec.terraform_type.as_str(), i, a))
    }
}

impl ApiRow {
    /// Rendered id candidates.
    pub fn ids(&self, call: &ApiCall) -> Vec<String> {
        self.id.iter().filter_map(|t| t.render(call, &self.config_type)).collect()
    }

    /// Rendered ARN candidates (values that are not ARNs are dropped).
    pub fn arns(&self, call: &ApiCall) -> Vec<String> {
        self.arn.iter().filter_map(|t| t.render(call, &self.config_type)).filter(|a| a.starts_with("arn:")).collect()
    }
}

/// Is this call read-only? `readOnly: true`, or a `Get*`/`List*`/`Describe*`/`Head*` name.
pub fn is_read_only(call: &ApiCall) -> bool {
    call.read_only == Some(true) || ["Get", "List", "Describe", "Head"].iter().any(|p| call.event_name.starts_with(p))
}

impl ApiTable {
    /// The table shipped with driftwatch, loaded once.
    pub fn builtin() -> &'static ApiTable {
        static TABLE: OnceLock<ApiTable> = OnceLock::new();
        TABLE.get_or_init(|| match ApiTable::from_sources(BUILTIN, crate::catalog::RESOURCE_FILES) {
            Ok(t) => t,
            // The embedded table is checked by the test suite; failing here is a build defect.
            Err(e) => panic!("embedded CloudTrail API table is invalid: {e}"),
        })
    }

    /// Load a table from TOML text (syntax and structure; see [`ApiTable::validate`] for the
    /// checks against the resource catalog).
    pub fn from_toml(text: &str) -> Result<Self, ApiTableError> {
        Self::from_sources(text, [])
    }

    /// Load the table from its TOML text and the catalog's resource files `(name, text)`,
    /// whose rows' `[resource.cloudtrail]` tables are groups of the row's type.
    pub fn from_sources<'a>(text: &str, resource_files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ApiTableError> {
        let toml_error = |e: toml::de::Error| e.to_string().replace('\n', " ").trim().to_string();
        let mut raw: RawTable = toml::from_str(text).map_err(|e| ApiTableError::Toml(toml_error(e)))?;
        for (file, text) in resource_files {
            let f: RawResourceFile = toml::from_str(text).map_err(|e| ApiTableError::Toml(format!("{file}: {}", toml_error(e))))?;
            for r in f.resource {
                if let Some(c) = r.cloudtrail {
                    raw.group.push(RawGroup {
                        source: c.source,
                        config_type: r.config_type,
                        id: c.id,
                        arn: c.arn,
                        tf: Some(r.terraform_type),
                        by_name: c.by_name,
                        account_level: false,
                        redact: c.redact,
                        calls: c.calls,
                    });
                }
            }
        }
        let mut checks: BTreeMap<String, Vec<Check>> = BTreeMap::new();
        for (name, entries) in raw.check {
            let err = |message: String| ApiTableError::Check { check: name.clone(), message };
            let mut list = Vec::new();
            for c in entries {
                let source = match (c.param, c.set) {
                    (Some(ps), None) if !ps.is_empty() => {
                        Source::Param(ps.iter().map(|p| call_path(p)).collect::<Result<_, _>>().map_err(err)?)
                    }
                    (None, Some(v)) => Source::Set(v),
                    _ => return Err(err("exactly one of `param` (non-empty) and `set` is required".into())),
                };
                if c.kind == CheckKind::Value && c.attr.is_none() && c.weak.is_empty() {
                    return Err(err("a value check needs `attr` or `weak`".into()));
                }
                let cond = |r: Option<RawCond>| -> Result<Option<Cond>, ApiTableError> {
                    r.map(|r| {
                        Ok(Cond {
                            param: r.param.iter().map(|p| call_path(p)).collect::<Result<_, _>>().map_err(err)?,
                            equals: r.equals,
                            present: r.present,
                        })
                    })
                    .transpose()
                };
                list.push(Check {
                    kind: c.kind,
                    source,
                    absent: c.absent,
                    tf: c.tf,
                    attr: c.attr,
                    weak: c.weak,
                    when: cond(c.when)?,
                    unless: cond(c.unless)?,
                    path: c.path,
                    expect: c.expect,
                });
            }
            checks.insert(name, list);
        }
        let mut rows = Vec::new();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut seen = HashSet::new();
        for g in raw.group {
            for c in g.calls {
                let err = |message: String| ApiTableError::Row { event_source: g.source.clone(), name: c.name.clone(), message };
                if !seen.insert((g.source.clone(), c.name.clone())) {
                    return Err(err("listed twice".into()));
                }
                let templates = |list: &[String]| list.iter().map(|t| Template::parse(t)).collect::<Result<Vec<_>, _>>();
                let id = templates(c.id.as_deref().unwrap_or(&g.id)).map_err(err)?;
                let arn = templates(c.arn.as_deref().unwrap_or(&g.arn)).map_err(err)?;
                if id.is_empty() && arn.is_empty() {
                    return Err(err("no id or arn template".into()));
                }
                let row_checks = match &c.check {
                    Some(name) => checks.get(name).cloned().ok_or_else(|| err(format!("unknown check {name:?}")))?,
                    None => Vec::new(),
                };
                by_name.entry(c.name.clone()).or_default().push(rows.len());
                rows.push(ApiRow {
                    source: g.source.clone(),
                    name: c.name,
                    kind: c.kind,
                    config_type: c.config_type.unwrap_or_else(|| g.config_type.clone()),
                    id,
                    arn,
                    terraform_type: c.tf.or_else(|| g.tf.clone()),
                    by_name: c.by_name.unwrap_or(g.by_name),
                    account_level: g.account_level,
                    redact: c.redact.unwrap_or_else(|| g.redact.clone()),
                    check: c.check,
                    checks: row_checks,
                });
            }
        }
        Ok(ApiTable { rows, by_name })
    }

    /// Check the rows against the resource catalog: every type is tracked (or account-level),
    /// every `tf` is a catalog row of that type, every check attribute exists.
    pub fn validate(&self, catalog: &Catalog) -> Vec<String> {
        let mut problems = Vec::new();
        for r in &self.rows {
            let at = format!("{} {}", r.source, r.name);
            if r.account_level {
                if catalog.tracks_config_type(&r.config_type) {
                    problems.push(format!("{at}: account_level, but {} is a catalog type", r.config_type));
                }
            } else if !catalog.tracks_config_type(&r.config_type) {
                problems.push(format!("{at}: {} is not tracked by the resource catalog", r.config_type));
            }
            if let Some(tf) = &r.terraform_type {
                match catalog.get(tf) {
                    Some(spec) if spec.config_type == r.config_type && spec.role != Role::Contributor => {}
                    Some(spec) => {
                        problems.push(format!("{at}: tf {tf} is a {:?} row of {}, not of {}", spec.role, spec.config_type, r.config_type))
                    }
                    None => problems.push(format!("{at}: tf {tf} is not in the resource catalog")),
                }
            }
            for c in &r.checks {
                if let Some(attr) = &c.attr {
                    if c.attr_spec(r, catalog).is_none() {
                        problems.push(format!("{at}: check {:?}: no catalog attribute {attr:?}", r.check.as_deref().unwrap_or("")));
                    }
                }
            }
        }
        problems
    }

    /// The row for a call.
    pub fn get(&self, source: &str, name: &str) -> Option<&ApiRow> {
        self.by_name.get(name)?.iter().map(|&i| &self.rows[i]).find(|r| r.source == source)
    }

    /// All rows, in table order.
    pub fn rows(&self) -> &[ApiRow] {
        &self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_names() {
        for (arn, name) in [
            ("arn:aws:iam::1:role/path/to/NAME", "NAME"),
            ("arn:aws:lambda:us-east-1:1:function:fn:PROD", "fn"),
            ("arn:aws:rds:us-east-1:1:db:ehr-primary", "ehr-primary"),
            ("arn:aws:sqs:us-east-1:1:queue", "queue"),
            ("arn:aws:cloudtrail:us-east-1:1:trail/main", "main"),
            ("plain-name", "plain-name"),
        ] {
            assert_eq!(arn_name(arn), name, "{arn}");
        }
    }

    #[test]
    fn templates_parse_and_reject() {
        assert!(Template::parse("arn:{partition}:s3:::{requestParameters.bucketName}").is_ok());
        assert!(Template::parse("{requestParameters.keyId|kms_key}").is_ok());
        assert!(Template::parse("{requestParameters.x|nope}").is_err());
        assert!(Template::parse("{userIdentity.arn}").is_err(), "only call payload roots");
        assert!(Template::parse("{requestParameters.x").is_err());
    }

    #[test]
    fn builtin_loads() {
        let t = ApiTable::builtin();
        assert!(t.get("s3.amazonaws.com", "PutBucketEncryption").is_some());
        assert!(t.get("kms.amazonaws.com", "TagResource").is_some() && t.get("sns.amazonaws.com", "TagResource").is_some());
        assert!(t.get("s3.amazonaws.com", "TagResource").is_none());
    }
}
