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
    /// `Null` where the state has no value. A contributor's row has no `attrs`: its entry
    /// holds instead one `{"to": attr, "members": [...]}` object per `contributes` row that
    /// applies, from which [`ManagedIndex::from_entries`] rebuilds the contributions.
    pub desired: Box<[Value]>,
    /// `tags_all`, for classification.
    pub tags: Value,
}

/// Key of the attribute a contributor's `desired` object contributes to.
const CONTRIBUTES_TO: &str = "to";
/// Key of the contributed members in a contributor's `desired` object.
const CONTRIBUTES_MEMBERS: &str = "members";

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
            let ctx = Ctx { self_id: Some(&id) };
            let desired: Box<[Value]> = if spec.role == Role::Contributor {
                // A contributor compares nothing itself (its row has no attrs): its `desired`
                // holds what it contributes, so that the entry alone rebuilds the index.
                spec.contributes
                    .iter()
                    .filter(|c| match (&c.when_attr, &c.when_equals) {
                        (Some(attr), Some(eq)) => inst.attributes.get(attr).and_then(Value::as_str) == Some(eq.as_str()),
                        _ => true,
                    })
                    .filter_map(|c| match c.normalize.apply(&inst.attributes, &ctx) {
                        members @ Value::Array(_) => Some(serde_json::json!({ CONTRIBUTES_TO: c.to, CONTRIBUTES_MEMBERS: members })),
                        _ => None,
                    })
                    .collect()
            } else {
                spec.attrs
                    .iter()
                    .map(|a| match a.tf.get(&inst.attributes) {
                        Some(v) => a.normalize.apply(v, &ctx),
                        None => Value::Null,
                    })
                    .collect()
            };
            let arn = spec
                .arn_attr
                .as_ref()
                .and_then(|p| p.get(&inst.attributes))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let tags = inst.attributes.as_object_mut().and_then(|m| m.remove("tags_all")).unwrap_or(Value::Null);
            self.insert(IndexEntry {
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

    /// Rebuild an index from entries (as loaded back from the index table): the identity,
    /// ARN, name and contribution lookups are exactly those [`add_state`](Self::add_state)
    /// builds. The per-state counts (`managed_instances`, `uncovered_types`, `problems`) are
    /// not in entries and stay empty.
    pub fn from_entries(entries: impl IntoIterator<Item = IndexEntry>) -> ManagedIndex {
        let mut idx = ManagedIndex::default();
        for e in entries {
            idx.insert(e);
        }
        idx
    }

    /// Add one entry to every lookup: the one place entries enter the index.
    fn insert(&mut self, entry: IndexEntry) {
        let i = self.entries.len();
        if entry.role == Role::Primary {
            if let Some(a) = &entry.arn {
                self.by_arn.insert(a.clone(), i);
                self.by_name.entry((entry.config_type.clone(), arn_resource_name(a).to_string())).or_default().push(i);
            }
        }
        if entry.role == Role::Contributor {
            for c in entry.desired.iter() {
                if let (Some(Value::String(to)), Some(Value::Array(members))) = (c.get(CONTRIBUTES_TO), c.get(CONTRIBUTES_MEMBERS)) {
                    let key = (entry.config_type.clone(), entry.resource_id.clone(), to.clone());
                    self.contributions.entry(key).or_default().extend(members.iter().cloned());
                }
            }
        }
        self.by_identity.entry((entry.config_type.clone(), entry.resource_id.clone())).or_default().push(i);
        self.entries.push(entry);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redactor;
    use crate::state::{parse_state, StateLocation};

    fn sample_index() -> ManagedIndex {
        let catalog = Catalog::builtin();
        let redactor = Redactor::new(b"driftwatch/v1/default-salt");
        let files: [(&str, &[u8]); 3] = [
            ("network.tfstate", include_bytes!("../../../samples/states/network.tfstate")),
            ("data.tfstate", include_bytes!("../../../samples/states/data.tfstate")),
            ("app.tfstate", include_bytes!("../../../samples/states/app.tfstate")),
        ];
        let states =
            files.map(|(name, bytes)| parse_state(bytes, StateLocation::local(name), &catalog, &redactor).expect("parse sample state"));
        ManagedIndex::build(states, &catalog)
    }

    fn addresses<'a>(entries: impl Iterator<Item = &'a IndexEntry>) -> Vec<&'a str> {
        entries.map(|e| e.address.as_str()).collect()
    }

    #[test]
    fn from_entries_answers_like_the_built_index() {
        let built = sample_index();
        let rebuilt = ManagedIndex::from_entries(built.entries().to_vec());
        assert_eq!(rebuilt.entries(), built.entries());
        assert!(built.len() > 50, "the sample states index many resources");
        let catalog = Catalog::builtin();
        let mut contributed = 0;
        for e in built.entries() {
            assert_eq!(
                addresses(rebuilt.lookup(&e.config_type, &e.resource_id)),
                addresses(built.lookup(&e.config_type, &e.resource_id)),
                "{}",
                e.address
            );
            if let Some(arn) = &e.arn {
                assert_eq!(rebuilt.lookup_arn(arn).map(|x| &x.address), built.lookup_arn(arn).map(|x| &x.address), "{arn}");
                let name = arn_resource_name(arn);
                assert_eq!(addresses(rebuilt.lookup_name(&e.config_type, name)), addresses(built.lookup_name(&e.config_type, name)));
            }
            for spec in catalog.rows().iter().filter(|s| s.config_type == e.config_type) {
                for c in &spec.contributes {
                    let want = built.contributions(&e.config_type, &e.resource_id, &c.to);
                    contributed += want.len();
                    assert_eq!(rebuilt.contributions(&e.config_type, &e.resource_id, &c.to), want, "{} {}", e.address, c.to);
                }
            }
        }
        assert!(contributed > 0, "the sample states have security group rules contributing members");
        let groups = |i: &ManagedIndex| -> Vec<(String, String, Vec<String>)> {
            i.groups().into_iter().map(|(k, v)| (k.0.clone(), k.1.clone(), v.iter().map(|e| e.address.clone()).collect())).collect()
        };
        assert_eq!(groups(&rebuilt), groups(&built));
    }
}
