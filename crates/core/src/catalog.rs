//! The resource catalog: which Terraform types we understand, how they map to AWS Config
//! types and identities, which attributes are compared and how, and which of them are
//! encryption attributes with an order of strength.
//!
//! The catalog is data, embedded at build time: `catalog/catalog.toml` (the rules' defaults and
//! the first rows; its header documents the format) and one file per service family in
//! `catalog/resources/*.toml` ([`RESOURCE_FILES`]), whose rows also carry their CloudTrail write
//! calls (`[resource.cloudtrail]`, read by [`crate::detect::cloudtrail_calls`]): adding a type is
//! adding one row there (and its example pair in `tests/pairs/`).

use crate::finding::{Rule, Severity};
use crate::normalize::Normalizer;
use crate::path::{AttrPath, PathError};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The catalog shipped with driftwatch: the rules and the first rows.
pub const BUILTIN: &str = include_str!("../catalog/catalog.toml");

/// The rest of the shipped catalog, one file per service family (`catalog/resources/`).
pub const RESOURCE_FILES: [(&str, &str); 8] = [
    ("analytics.toml", include_str!("../catalog/resources/analytics.toml")),
    ("compute.toml", include_str!("../catalog/resources/compute.toml")),
    ("data_services.toml", include_str!("../catalog/resources/data_services.toml")),
    ("databases.toml", include_str!("../catalog/resources/databases.toml")),
    ("edge.toml", include_str!("../catalog/resources/edge.toml")),
    ("governance.toml", include_str!("../catalog/resources/governance.toml")),
    ("network.toml", include_str!("../catalog/resources/network.toml")),
    ("secrets.toml", include_str!("../catalog/resources/secrets.toml")),
];

/// Catalog load errors.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("catalog file {file} is not valid TOML: {source}")]
    FileToml { file: String, source: toml::de::Error },
    #[error("catalog row {terraform_type}: {source}")]
    Path { terraform_type: String, source: PathError },
    #[error("catalog row {terraform_type}: {message}")]
    Invalid { terraform_type: String, message: String },
}

/// Role of a row with respect to its live item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Primary,
    Facet,
    Contributor,
}

/// How an encryption attribute regresses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Encryption {
    /// Values ordered weakest → strongest; moving down the list is a regression.
    Ordered { order: Vec<Value> },
    /// A configured key; any change away from it is a regression.
    Key,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    rules: BTreeMap<String, RawRule>,
    #[serde(default)]
    resource: Vec<RawResource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    severity: Severity,
    #[serde(default)]
    controls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    terraform_type: String,
    config_type: String,
    role: Role,
    id_attr: String,
    arn_attr: Option<String>,
    /// The service it belongs to, as the README's coverage table and the report name it.
    service: Option<String>,
    /// The provider's import id of a live item ([`crate::import::render_id`]).
    import_id: Option<String>,
    #[serde(default)]
    ignore_unmanaged: Vec<IgnoreRule>,
    #[serde(default)]
    attr: Vec<RawAttr>,
    /// The type's CloudTrail write calls (read by the API table, not here).
    #[allow(dead_code)]
    cloudtrail: Option<toml::Table>,
    #[serde(default)]
    contributes: Vec<RawContribution>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttr {
    tf: String,
    live: Vec<String>,
    normalize: Normalizer,
    live_normalize: Option<Normalizer>,
    default: Option<toml::Value>,
    severity: Option<Severity>,
    #[serde(default)]
    controls: Vec<String>,
    #[serde(default)]
    sensitive: bool,
    encryption: Option<Encryption>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContribution {
    to: String,
    when_attr: Option<String>,
    when_equals: Option<String>,
    normalize: Normalizer,
}

/// A live item matching one of these is never reported as unmanaged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    pub path: String,
    pub equals: Option<String>,
    pub prefix: Option<String>,
}

/// One comparable attribute.
#[derive(Debug, Clone)]
pub struct AttrSpec {
    pub tf: AttrPath,
    pub live: Vec<AttrPath>,
    pub normalize: Normalizer,
    pub live_normalize: Normalizer,
    pub default: Option<Value>,
    pub severity: Option<Severity>,
    pub controls: Vec<String>,
    pub sensitive: bool,
    pub encryption: Option<Encryption>,
}

/// Members a contributor row adds to its parent's set attribute.
#[derive(Debug, Clone)]
pub struct Contribution {
    pub to: String,
    pub when_attr: Option<String>,
    pub when_equals: Option<String>,
    pub normalize: Normalizer,
}

/// One catalog row.
#[derive(Debug, Clone)]
pub struct ResourceSpec {
    pub terraform_type: String,
    pub config_type: String,
    pub role: Role,
    pub id_attr: AttrPath,
    pub arn_attr: Option<AttrPath>,
    /// The service (`Amazon RDS`), when the row names it.
    pub service: Option<String>,
    /// Template of the provider's import id (`{resourceId}` when absent).
    pub import_id: Option<String>,
    pub ignore_unmanaged: Vec<IgnoreRule>,
    pub attrs: Vec<AttrSpec>,
    pub contributes: Vec<Contribution>,
    /// Top-level Terraform attribute names the state parser keeps for this type.
    pub retained: Vec<String>,
}

/// Defaults of a rule.
#[derive(Debug, Clone)]
pub struct RuleDefaults {
    pub severity: Severity,
    pub controls: Vec<String>,
}

/// The loaded catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    rows: Vec<ResourceSpec>,
    by_tf: HashMap<String, usize, foldhash::fast::RandomState>,
    /// AWS Config type → its first primary row.
    primary_by_config: HashMap<String, usize, foldhash::fast::RandomState>,
    rules: BTreeMap<String, RuleDefaults>,
    /// Attributes kept for Terraform types outside the catalog that the control catalog reads
    /// in state writes (`[[control.terraform]]`).
    extra_retained: HashMap<String, Vec<String>, foldhash::fast::RandomState>,
}

/// Attributes every resource keeps, whatever its type, for identity.
const ALWAYS_RETAINED: &[&str] = &["id", "arn"];

impl Catalog {
    /// The catalog shipped with driftwatch.
    pub fn builtin() -> Self {
        // The embedded catalog is checked by the test suite; failing here is a build defect.
        let mut c = match Self::from_files(std::iter::once(("catalog.toml", BUILTIN)).chain(RESOURCE_FILES)) {
            Ok(c) => c,
            Err(e) => panic!("embedded catalog is invalid: {e}"),
        };
        c.retain_for_controls(crate::detect::controls::Controls::builtin().retained());
        c
    }

    /// Keep, in parsed states, the attributes the control catalog reads: on catalog rows, in
    /// addition to theirs; on other types, with `id` and `arn`.
    pub fn retain_for_controls(&mut self, wanted: Vec<(String, Vec<String>)>) {
        for (terraform_type, attrs) in wanted {
            let list = match self.by_tf.get(&terraform_type) {
                Some(&i) => &mut self.rows[i].retained,
                None => {
                    self.extra_retained.entry(terraform_type).or_insert_with(|| ALWAYS_RETAINED.iter().map(|s| s.to_string()).collect())
                }
            };
            for a in attrs {
                if !list.contains(&a) {
                    list.push(a);
                }
            }
        }
    }

    /// Attributes kept for a Terraform type outside the catalog (what the control catalog
    /// reads), if any.
    pub fn extra_retained(&self, terraform_type: &str) -> Option<&[String]> {
        self.extra_retained.get(terraform_type).map(Vec::as_slice)
    }

    /// A digest of the rows (hex SHA-256 of their debug form): what an index entry is made
    /// of. Two processes with the same catalog give the same digest; a catalog that changed
    /// gives another.
    pub fn digest(&self) -> String {
        crate::evidence::sha256_hex(format!("{:?}", self.rows).as_bytes())
    }

    /// Load a catalog from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        Self::from_raw(toml::from_str(text)?)
    }

    /// Load a catalog from several files `(name, text)`: their rows in order, their rules
    /// merged (a rule defined twice is an error).
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, CatalogError> {
        let mut all = RawCatalog { rules: BTreeMap::new(), resource: Vec::new() };
        for (file, text) in files {
            let raw: RawCatalog = toml::from_str(text).map_err(|source| CatalogError::FileToml { file: file.to_string(), source })?;
            for (name, rule) in raw.rules {
                if all.rules.insert(name.clone(), rule).is_some() {
                    return Err(CatalogError::Invalid {
                        terraform_type: format!("[rules] in {file}"),
                        message: format!("rule {name} defined twice"),
                    });
                }
            }
            all.resource.extend(raw.resource);
        }
        Self::from_raw(all)
    }

    fn from_raw(raw: RawCatalog) -> Result<Self, CatalogError> {
        let mut rows = Vec::with_capacity(raw.resource.len());
        let mut by_tf = HashMap::default();
        for r in raw.resource {
            let tt = r.terraform_type.clone();
            let path = |p: &str| AttrPath::parse(p).map_err(|source| CatalogError::Path { terraform_type: tt.clone(), source });
            let invalid = |message: String| CatalogError::Invalid { terraform_type: tt.clone(), message };
            let mut attrs = Vec::new();
            for a in r.attr {
                let default = a.default.map(toml_to_json);
                if let (Some(Encryption::Ordered { order }), false) = (&a.encryption, a.sensitive) {
                    if order.is_empty() {
                        return Err(invalid(format!("{}: empty encryption order", a.tf)));
                    }
                }
                attrs.push(AttrSpec {
                    tf: path(&a.tf)?,
                    live: a.live.iter().map(|p| path(p)).collect::<Result<_, _>>()?,
                    live_normalize: a.live_normalize.unwrap_or(a.normalize),
                    normalize: a.normalize,
                    default,
                    severity: a.severity,
                    controls: a.controls,
                    sensitive: a.sensitive,
                    encryption: a.encryption,
                });
            }
            if r.role == Role::Contributor && r.contributes.is_empty() {
                return Err(invalid("contributor row without [[resource.contributes]]".into()));
            }
            let contributes = r
                .contributes
                .into_iter()
                .map(|c| Contribution { to: c.to, when_attr: c.when_attr, when_equals: c.when_equals, normalize: c.normalize })
                .collect::<Vec<_>>();
            let id_attr = path(&r.id_attr)?;
            let arn_attr = r.arn_attr.as_deref().map(path).transpose()?;
            let mut retained: Vec<String> = ALWAYS_RETAINED.iter().map(|s| s.to_string()).collect();
            let mut keep = |p: &AttrPath| {
                if let Some(h) = p.head() {
                    if !retained.iter().any(|r| r == h) {
                        retained.push(h.to_string());
                    }
                }
            };
            keep(&id_attr);
            if let Some(a) = &arn_attr {
                keep(a);
            }
            for a in &attrs {
                keep(&a.tf);
            }
            for c in &contributes {
                if let Some(w) = &c.when_attr {
                    keep(&AttrPath::parse(w).map_err(|source| CatalogError::Path { terraform_type: tt.clone(), source })?);
                }
                for k in c.normalize.reads() {
                    keep(&AttrPath(vec![crate::path::Step::Key((*k).to_string())]));
                }
            }
            // `tags_all` (own tags + provider default_tags) is kept for classification
            // (regulated-data tag) even where not compared.
            if !retained.iter().any(|r| r == "tags_all") {
                retained.push("tags_all".to_string());
            }
            if by_tf.insert(r.terraform_type.clone(), rows.len()).is_some() {
                return Err(invalid("duplicate row".into()));
            }
            rows.push(ResourceSpec {
                terraform_type: r.terraform_type,
                config_type: r.config_type,
                role: r.role,
                id_attr,
                arn_attr,
                service: r.service,
                import_id: r.import_id,
                ignore_unmanaged: r.ignore_unmanaged,
                attrs,
                contributes,
                retained,
            });
        }
        // Contributors need a primary row with the target attribute.
        for row in rows.iter().filter(|r| r.role == Role::Contributor) {
            for c in &row.contributes {
                let ok = rows.iter().any(|p| {
                    p.role == Role::Primary
                        && p.config_type == row.config_type
                        && p.attrs.iter().any(|a| a.tf.head() == Some(c.to.as_str()))
                });
                if !ok {
                    return Err(CatalogError::Invalid {
                        terraform_type: row.terraform_type.clone(),
                        message: format!("contributes to `{}` but no primary {} row has that attribute", c.to, row.config_type),
                    });
                }
            }
        }
        let mut rules = BTreeMap::new();
        for (name, r) in raw.rules {
            if Rule::from_id(&name).is_none() {
                return Err(CatalogError::Invalid { terraform_type: "[rules]".into(), message: format!("unknown rule id {name}") });
            }
            rules.insert(name, RuleDefaults { severity: r.severity, controls: r.controls });
        }
        let mut primary_by_config = HashMap::default();
        for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.role == Role::Primary) {
            primary_by_config.entry(r.config_type.clone()).or_insert(i);
        }
        Ok(Catalog { rows, by_tf, primary_by_config, rules, extra_retained: HashMap::default() })
    }

    /// The row for a Terraform type.
    pub fn get(&self, terraform_type: &str) -> Option<&ResourceSpec> {
        self.by_tf.get(terraform_type).map(|&i| &self.rows[i])
    }

    /// All rows, in catalog order.
    pub fn rows(&self) -> &[ResourceSpec] {
        &self.rows
    }

    /// The primary row for an AWS Config type.
    pub fn primary_for_config_type(&self, config_type: &str) -> Option<&ResourceSpec> {
        self.primary_by_config.get(config_type).map(|&i| &self.rows[i])
    }

    /// Is this AWS Config type one we track?
    pub fn tracks_config_type(&self, config_type: &str) -> bool {
        self.primary_for_config_type(config_type).is_some()
    }

    /// Default severity and controls of a rule.
    pub fn rule(&self, rule: Rule) -> RuleDefaults {
        self.rules.get(rule.id()).cloned().unwrap_or(RuleDefaults { severity: rule.default_severity(), controls: Vec::new() })
    }
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}
