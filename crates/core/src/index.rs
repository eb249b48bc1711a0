//! The managed-resource index: live identity → Terraform address, state and desired
//! comparable attributes. Built from one or more states; event handlers do one point lookup.

use crate::catalog::{Catalog, Role};
use crate::finding::StateRef;
use crate::normalize::Ctx;
use crate::place::Place;
use crate::state::{ResourceInstance, State, StateHeader, StateLocation};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
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

impl IndexEntry {
    /// Where the resource lives, as far as its ARN says ([`Place::of_arn`]).
    pub fn place(&self) -> Place<'_> {
        self.arn.as_deref().map_or(Place::ANYWHERE, Place::of_arn)
    }
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

/// Indexes one state as its instances arrive ([`ManagedIndex::indexer`]).
pub struct StateIndexer<'i> {
    index: &'i mut ManagedIndex,
    catalog: &'i Catalog,
    key: String,
    /// [`state_name`] of the state.
    name: String,
    summary: StateSummary,
    /// The state's first entry in the index.
    first: usize,
}

impl StateIndexer<'_> {
    /// Index one instance: its strings are moved into the entry when nothing else holds it,
    /// copied otherwise.
    pub fn add(&mut self, inst: Arc<ResourceInstance>) {
        self.index.add_instance(inst, self.catalog, (&self.key, &self.name), &mut self.summary);
    }

    /// The state's header, read: its entries name its serial and lineage.
    pub fn finish(mut self, header: &StateHeader) -> StateSummary {
        let sref = Arc::new(StateRef { serial: header.serial, lineage: header.lineage.clone(), ..(*self.summary.state).clone() });
        for e in &mut self.index.entries[self.first..] {
            e.state = sref.clone();
        }
        self.summary.state = sref;
        self.summary
    }
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
    /// (config type, resource id) → entries.
    by_identity: Chains,
    /// ARN → primary entries (the last one answers).
    by_arn: Chains,
    /// (config type, resource name from the ARN) → primary entries, for events that name a
    /// resource rather than give its Config id (IAM roles under a path, RDS identifiers).
    by_name: Chains,
    /// (config type, resource id, attribute) → members contributed by separate resources.
    contributions: HashMap<u64, Vec<Contribution>, Hasher>,
    /// Terraform types seen that the catalog does not cover, with their instance counts.
    pub uncovered_types: BTreeMap<String, usize>,
    pub problems: Vec<IndexProblem>,
    /// Managed instances seen (catalog or not).
    pub managed_instances: usize,
    /// The same counts by state ([`state_name`]), for the coverage of a scan.
    pub by_state: BTreeMap<String, StateCounts>,
}

/// What one state holds, as far as the catalog goes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StateCounts {
    /// Managed, current instances.
    pub managed: usize,
    /// Instances of Terraform types outside the catalog, by type.
    pub not_catalogued: BTreeMap<String, usize>,
}

/// A state as coverage and notes name it: `s3://bucket/key`, or its local path.
pub fn state_name(s: &StateRef) -> String {
    match &s.bucket {
        Some(b) => format!("s3://{b}/{}", s.key),
        None => s.key.clone(),
    }
}

/// Members contributed to (config type, resource id, attribute).
#[derive(Debug, Clone)]
struct Contribution {
    config_type: String,
    resource_id: String,
    attr: String,
    members: Vec<Value>,
}

/// The index's hasher: its keys come from states (resource ids, ARNs), not from whoever sends
/// an event, so a fast unkeyed hash is safe; fixed, so that a key hashes the same in every
/// lookup.
type Hasher = foldhash::fast::FixedState;

fn hash_of(key: impl Hash) -> u64 {
    Hasher::with_seed(0x5eed_d21f_7a7c_0001).hash_one(key)
}

/// A lookup from a key to the entries that have it, in the order they were added, that does
/// not copy the key: it keeps the key's hash and the entries are chained through `next`;
/// entries whose keys share a hash share a chain and are told apart by comparing the key.
#[derive(Debug, Default, Clone)]
struct Chains {
    /// Key hash → (first, last) entry of its chain.
    ends: HashMap<u64, (u32, u32), Hasher>,
    /// Per entry: the next entry of its chain, or `NONE` (entries in no chain too).
    next: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Chains {
    /// Entry `i` (the newest) has key hash `h`, or no key (`None`).
    fn push(&mut self, i: usize, h: Option<u64>) {
        let i = i as u32;
        debug_assert_eq!(self.next.len(), i as usize);
        self.next.push(NONE);
        let Some(h) = h else { return };
        match self.ends.entry(h) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let (_, last) = *o.get();
                self.next[last as usize] = i;
                o.get_mut().1 = i;
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((i, i));
            }
        }
    }

    /// The entries chained under hash `h`, in order (keys to be compared by the caller).
    fn chain(&self, h: u64) -> impl Iterator<Item = usize> + '_ {
        let mut i = self.ends.get(&h).map_or(NONE, |e| e.0);
        std::iter::from_fn(move || {
            (i != NONE).then(|| {
                let here = i;
                i = self.next[here as usize];
                here as usize
            })
        })
    }
}

fn identity_hash(config_type: &str, resource_id: &str) -> u64 {
    hash_of((config_type, resource_id))
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
        let header = StateHeader { terraform_version: state.terraform_version, serial: state.serial, lineage: state.lineage };
        let mut indexer = self.indexer(state.location, catalog);
        for inst in state.instances {
            indexer.add(inst);
        }
        indexer.finish(&header)
    }

    /// Index a state as it is read ([`crate::state::StateReader`]): instance by instance, the
    /// header at the end.
    pub fn indexer<'i>(&'i mut self, location: StateLocation, catalog: &'i Catalog) -> StateIndexer<'i> {
        let sref = Arc::new(StateRef {
            bucket: location.bucket.clone(),
            key: location.key.clone(),
            workspace: location.workspace(),
            serial: 0,
            lineage: String::new(),
        });
        let first = self.entries.len();
        StateIndexer {
            index: self,
            catalog,
            key: location.key,
            name: state_name(&sref),
            summary: StateSummary { state: sref, instances: 0, managed: 0, indexed: 0 },
            first,
        }
    }

    /// Index one instance of a state.
    fn add_instance(&mut self, inst: Arc<ResourceInstance>, catalog: &Catalog, (key, name): (&str, &str), summary: &mut StateSummary) {
        summary.instances += 1;
        if !inst.is_live_managed() {
            return;
        }
        self.managed_instances += 1;
        summary.managed += 1;
        let counts = match self.by_state.get_mut(name) {
            Some(c) => c,
            None => self.by_state.entry(name.to_string()).or_default(),
        };
        counts.managed += 1;
        let Some(spec) = catalog.get(&inst.resource_type) else {
            *self.uncovered_types.entry(inst.resource_type.clone()).or_default() += 1;
            *counts.not_catalogued.entry(inst.resource_type.clone()).or_default() += 1;
            return;
        };
        let id = match spec.id_attr.get(&inst.attributes) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                self.problems.push(IndexProblem {
                    state_key: key.to_string(),
                    address: inst.address.clone(),
                    message: format!("no `{}` attribute: cannot identify the live resource", spec.id_attr),
                });
                return;
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
        let tainted = inst.tainted;
        let (address, terraform_type, tags) = match Arc::try_unwrap(inst) {
            Ok(mut owned) => {
                let tags = owned.attributes.as_object_mut().and_then(|m| m.remove("tags_all"));
                (owned.address, owned.resource_type, tags.unwrap_or(Value::Null))
            }
            Err(shared) => {
                (shared.address.clone(), shared.resource_type.clone(), shared.attributes.get("tags_all").cloned().unwrap_or(Value::Null))
            }
        };
        self.insert(IndexEntry {
            address,
            terraform_type,
            config_type: spec.config_type.clone(),
            resource_id: id,
            arn,
            role: spec.role,
            state: summary.state.clone(),
            tainted,
            desired,
            tags,
        });
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
        let (mut arn, mut name) = (None, None);
        if entry.role == Role::Primary {
            if let Some(a) = &entry.arn {
                arn = Some(hash_of(a.as_str()));
                name = Some(hash_of((entry.config_type.as_str(), arn_resource_name(a))));
            }
        }
        if entry.role == Role::Contributor {
            for c in entry.desired.iter() {
                if let (Some(Value::String(to)), Some(Value::Array(members))) = (c.get(CONTRIBUTES_TO), c.get(CONTRIBUTES_MEMBERS)) {
                    let same = self
                        .contributions
                        .entry(hash_of((entry.config_type.as_str(), entry.resource_id.as_str(), to.as_str())))
                        .or_default();
                    match same
                        .iter_mut()
                        .find(|c| c.attr == *to && c.resource_id == entry.resource_id && c.config_type == entry.config_type)
                    {
                        Some(c) => c.members.extend(members.iter().cloned()),
                        None => same.push(Contribution {
                            config_type: entry.config_type.clone(),
                            resource_id: entry.resource_id.clone(),
                            attr: to.clone(),
                            members: members.clone(),
                        }),
                    }
                }
            }
        }
        self.by_arn.push(i, arn);
        self.by_name.push(i, name);
        self.by_identity.push(i, Some(identity_hash(&entry.config_type, &entry.resource_id)));
        self.entries.push(entry);
    }

    /// Entries for a live identity.
    pub fn lookup(&self, config_type: &str, resource_id: &str) -> std::vec::IntoIter<&IndexEntry> {
        self.by_identity
            .chain(identity_hash(config_type, resource_id))
            .map(|i| &self.entries[i])
            .filter(|e| e.resource_id == resource_id && e.config_type == config_type)
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Entries for a live identity in a place: those whose own place can be it (an account's
    /// security group `sg-1` is not another account's `sg-1`).
    pub fn lookup_at(&self, config_type: &str, resource_id: &str, place: Place<'_>) -> std::vec::IntoIter<&IndexEntry> {
        self.lookup(config_type, resource_id).filter(|e| e.place().agrees(place)).collect::<Vec<_>>().into_iter()
    }

    /// The primary entry for an ARN.
    pub fn lookup_arn(&self, arn: &str) -> Option<&IndexEntry> {
        self.by_arn.chain(hash_of(arn)).map(|i| &self.entries[i]).filter(|e| e.arn.as_deref() == Some(arn)).last()
    }

    /// Primary entries of a type whose ARN names the resource `name` (last path segment).
    pub fn lookup_name(&self, config_type: &str, name: &str) -> std::vec::IntoIter<&IndexEntry> {
        self.by_name
            .chain(hash_of((config_type, name)))
            .map(|i| &self.entries[i])
            .filter(|e| e.config_type == config_type && e.arn.as_deref().map(arn_resource_name) == Some(name))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Is this live identity, in this place, managed by any state?
    pub fn manages(&self, config_type: &str, resource_id: &str, arn: Option<&str>, place: Place<'_>) -> bool {
        self.by_identity.chain(identity_hash(config_type, resource_id)).any(|i| {
            let e = &self.entries[i];
            e.resource_id == resource_id && e.config_type == config_type && e.place().agrees(place)
        }) || arn.is_some_and(|a| self.lookup_arn(a).is_some())
    }

    /// Identities (config type, resource id) in order, each with its entries.
    pub fn groups(&self) -> Vec<((&str, &str), Vec<&IndexEntry>)> {
        let mut g: std::collections::BTreeMap<(&str, &str), Vec<&IndexEntry>> = std::collections::BTreeMap::new();
        for e in &self.entries {
            g.entry((e.config_type.as_str(), e.resource_id.as_str())).or_default().push(e);
        }
        g.into_iter().collect()
    }

    /// Members contributed to a set attribute of a live identity by separate resources.
    pub fn contributions(&self, config_type: &str, resource_id: &str, attr: &str) -> &[Value] {
        self.contributions
            .get(&hash_of((config_type, resource_id, attr)))
            .and_then(|same| same.iter().find(|c| c.attr == attr && c.resource_id == resource_id && c.config_type == config_type))
            .map(|c| c.members.as_slice())
            .unwrap_or(&[])
    }

    /// The entries, the lookups dropped.
    pub fn into_entries(self) -> Vec<IndexEntry> {
        self.entries
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

/// What an index holding one version's entries must change to hold the next version's
/// ([`entry_changes`]).
#[derive(Debug, Default)]
pub struct EntryChanges<'a> {
    /// Entries of the new version that the old one lacks or holds differently (anything but
    /// the state version they name).
    pub put: Vec<&'a IndexEntry>,
    /// Entries of the old version whose key (identity and address) the new one lacks.
    pub removed: Vec<IndexEntry>,
}

impl IndexEntry {
    /// The same entry, whatever version of its state it was indexed from: every field equal,
    /// and the same state (bucket, key, workspace and lineage) but perhaps not the same serial.
    pub fn same_but_serial(&self, other: &IndexEntry) -> bool {
        let (a, b) = (&*self.state, &*other.state);
        self.address == other.address
            && self.config_type == other.config_type
            && self.resource_id == other.resource_id
            && self.terraform_type == other.terraform_type
            && self.arn == other.arn
            && self.role == other.role
            && self.tainted == other.tainted
            && self.desired == other.desired
            && self.tags == other.tags
            && (&a.bucket, &a.key, &a.workspace, &a.lineage) == (&b.bucket, &b.key, &b.workspace, &b.lineage)
    }

    /// The entry's key: one item per live identity and address.
    fn key(&self) -> (&str, &str, &str) {
        (&self.config_type, &self.resource_id, &self.address)
    }
}

/// The index writes that take an index holding exactly `previous`'s entries to `current`'s
/// (`current_entries`: its entries, as [`ManagedIndex::add_state`] made them with the same
/// catalog). Only the instances the two versions do not share are looked at: a reader given
/// the other version's elements ([`crate::state::StateReader::reuse`]) makes an unchanged
/// resource the same object in both, so a write that changed a few resources costs a few
/// entries. An instance parsed again but equal gives no write either.
pub fn entry_changes<'a>(previous: &State, current: &State, current_entries: &'a [IndexEntry], catalog: &Catalog) -> EntryChanges<'a> {
    let (gone_objects, new_objects) = crate::state::unshared(previous, current);
    let touched: std::collections::HashSet<&str, Hasher> = new_objects.iter().map(|i| i.address.as_str()).collect();
    let mut gone = ManagedIndex::default();
    let mut indexer = gone.indexer(previous.location.clone(), catalog);
    for inst in gone_objects {
        indexer.add(Arc::new(inst.clone()));
    }
    let header =
        StateHeader { terraform_version: previous.terraform_version.clone(), serial: previous.serial, lineage: previous.lineage.clone() };
    indexer.finish(&header);
    let gone = gone.into_entries();
    let before: HashMap<_, &IndexEntry, Hasher> = gone.iter().map(|e| (e.key(), e)).collect();
    let put = current_entries
        .iter()
        .filter(|e| touched.contains(e.address.as_str()) && !before.get(&e.key()).is_some_and(|b| b.same_but_serial(e)))
        .collect();
    let now: std::collections::HashSet<_, Hasher> = current_entries.iter().map(IndexEntry::key).collect();
    let removed_at: Vec<bool> = gone.iter().map(|e| !now.contains(&e.key())).collect();
    let removed = gone.into_iter().zip(removed_at).filter_map(|(e, r)| r.then_some(e)).collect();
    EntryChanges { put, removed }
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
            i.groups().into_iter().map(|(k, v)| (k.0.to_string(), k.1.to_string(), v.iter().map(|e| e.address.clone()).collect())).collect()
        };
        assert_eq!(groups(&rebuilt), groups(&built));
    }
}
