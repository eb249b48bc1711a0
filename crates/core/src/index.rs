//! The managed-resource index: live identity → Terraform address, state and desired
//! comparable attributes. Built from one or more states; event handlers do one point lookup.

use crate::catalog::{Catalog, Role};
use crate::finding::StateRef;
use crate::normalize::Ctx;
use crate::state::State;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One managed resource instance, as the index keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub address: String,
    pub terraform_type: String,
    pub config_type: String,
    /// AWS Config resource id.
    pub resource_id: String,
    pub arn: Option<String>,
    pub role: Role,
    pub state: Arc<StateRef>,
    pub tainted: bool,
    /// Normalised (and redacted) desired values, indexed like the catalog row's `attrs`;
    /// `Null` where the state has no value.
    pub desired: Box<[Value]>,
    /// `tags_all`, for classification.
    pub tags: Value,
}

/// What indexing a state did.
#[derive(Debug, Clone)]
pub struct StateSummary {
    pub state: Arc<StateRef>,
    /// Instance objects in the state (data sources and deposed objects included).
    pub instances: usize,
    /// Managed, current instances.
    pub managed: usize,
    /// Of those, indexed (catalog types with an identity).
    pub indexed: usize,
}

/// Something in a state the index could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexProblem {
    pub state_key: String,
    pub address: String,
    pub message: String,
}

/// The index.
#[derive(Debug, Default, Clone)]
pub struct ManagedIndex {
    entries: Vec<IndexEntry>,
    by_identity: HashMap<(String, String), Vec<usize>>,
    by_arn: HashMap<String, usize>,
    /// (config type, resource name from the ARN) → primary entries, for events that name a
    /// resource rather than give its Config id (IAM roles under a path, RDS identifiers).
    by_name: HashMap<(String, String), Vec<usize>>,
    /// (config type, resource id, attribute) → members contributed by separate resources.
    contributions: HashMap<(String, String, String), Vec<Value>>,
    /// Terraform types seen that the catalog does not cover, with their instance counts.
    pub uncovered_types: BTreeMap<String, usize>,
    pub problems: Vec<IndexProblem>,
    /// Managed instances seen (catalog or not).
    pub managed_instances: usize,
}

impl ManagedIndex {
    /// Build from states (consumed: the index keeps only what it compares).
    pub fn build(states: impl IntoIterator<Item = State>, catalog: &Catalog) -> Self {
        let mut idx = ManagedIndex::default();
        for s in states {
            idx.add_state(s, catalog);
        }
        idx
    }

    /// Index every managed, current instance of a state. The state is consumed instance by
    /// instance so that a large state is never held twice.
    pub fn add_state(&mut self, state: State, catalog: &Catalog) -> StateSummary {
        let sref = Arc::new(state.state_ref());
        let key = state.location.key.clone();
        let mut summary = StateSummary { state: sref.clone(), instances: state.instances.len(), managed: 0, indexed: 0 };
        for mut inst in state.instances.into_iter().filter(|i| i.is_live_managed()) {
            self.managed_instances += 1;
            summary.managed += 1;
            let Some(spec) = catalog.get(&inst.resource_type) else {
                *self.uncovered_types.entry(inst.resource_type).or_default() += 1;
                continue;
            };
            let id = match spec.id_attr.get(&inst.attributes) {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    self.problems.push(IndexProblem {
                        state_key: key.clone(),
                        address: inst.address,
                        message: format!("no `{}` attribute: cannot identify the live resource", spec.id_attr),
                    });
                    continue;
                }
            };
            summary.indexed += 1;
            if spec.role == Role::Contributor {
                for c in &spec.contributes {
                    if let (Some(attr), Some(eq)) = (&c.when_attr, &c.when_equals) {
                        if inst.attributes.get(attr).and_then(Value::as_str) != Some(eq.as_str()) {
                            continue;
                        }
                    }
                    let members = c.normalize.apply(&inst.attributes, &Ctx { self_id: Some(&id) });
                    let list = self.contributions.entry((spec.config_type.clone(), id.clone(), c.to.clone())).or_default();
                    if let Value::Array(ms) = members {
                        list.extend(ms);
                    }
                }
            }
            let ctx = Ctx { self_id: Some(&id) };
            let desired: Box<[Value]> = spec
                .attrs
                .iter()
                .map(|a| match a.tf.get(&inst.attributes) {
                    Some(v) => a.normalize.apply(v, &ctx),
                    None => Value::Null,
                })
                .collect();
            let arn = spec
                .arn_attr
                .as_ref()
                .and_then(|p| p.get(&inst.attributes))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let tags = inst.attributes.as_object_mut().and_then(|m| m.remove("tags_all")).unwrap_or(Value::Null);
            let i = self.entries.len();
            if let Some(a) = &arn {
                if spec.role == Role::Primary {
                    self.by_arn.insert(a.clone(), i);
                    self.by_name.entry((spec.config_type.clone(), arn_resource_name(a).to_string())).or_default().push(i);
                }
            }
            self.by_identity.entry((spec.config_type.clone(), id.clone())).or_default().push(i);
            self.entries.push(IndexEntry {
                address: inst.address,
                terraform_type: inst.resource_type,
                config_type: spec.config_type.clone(),
                resource_id: id,
                arn,
                role: spec.role,
                state: sref.clone(),
                tainted: inst.tainted,
                desired,
                tags,
            });
        }
        summary
    }

    /// Entries for a live identity.
    pub fn lookup(&self, config_type: &str, resource_id: &str) -> impl Iterator<Item = &IndexEntry> {
        self.by_identity
            .get(&(config_type.to_string(), resource_id.to_string()))
            .into_iter()
            .flat_map(|v| v.iter().map(|&i| &self.entries[i]))
    }

    /// The primary entry for an ARN.
    pub fn lookup_arn(&self, arn: &str) -> Option<&IndexEntry> {
        self.by_arn.get(arn).map(|&i| &self.entries[i])
    }

    /// Primary entries of a type whose ARN names the resource `name` (last path segment).
    pub fn lookup_name(&self, config_type: &str, name: &str) -> impl Iterator<Item = &IndexEntry> {
        self.by_name.get(&(config_type.to_string(), name.to_string())).into_iter().flat_map(|v| v.iter().map(|&i| &self.entries[i]))
    }

    /// Is this live identity managed by any state?
    pub fn manages(&self, config_type: &str, resource_id: &str, arn: Option<&str>) -> bool {
        self.by_identity.contains_key(&(config_type.to_string(), resource_id.to_string()))
            || arn.is_some_and(|a| self.by_arn.contains_key(a))
    }

    /// Identities in a deterministic order, each with its entries.
    pub fn groups(&self) -> Vec<(&(String, String), Vec<&IndexEntry>)> {
        let mut g: Vec<_> = self.by_identity.iter().map(|(k, v)| (k, v.iter().map(|&i| &self.entries[i]).collect())).collect();
        g.sort_by(|a, b| a.0.cmp(b.0));
        g
    }

    /// Members contributed to a set attribute of a live identity by separate resources.
    pub fn contributions(&self, config_type: &str, resource_id: &str, attr: &str) -> &[Value] {
        self.contributions.get(&(config_type.to_string(), resource_id.to_string(), attr.to_string())).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The resource name in an ARN: the last `/` segment of its resource part, or what follows
/// the resource type (`arn:aws:rds:r:a:db:NAME` → `NAME`).
pub fn arn_resource_name(arn: &str) -> &str {
    let Some(resource) = arn.splitn(6, ':').nth(5) else { return arn };
    if let Some((_, tail)) = resource.rsplit_once('/') {
        return tail;
    }
    match resource.split_once(':') {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => resource,
    }
}
