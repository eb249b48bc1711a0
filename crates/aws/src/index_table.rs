//! The managed-resource index in DynamoDB: one item per indexed Terraform resource instance
//! (the core's [`IndexEntry`]), keyed by the live resource's identity so that an event
//! handler does one point lookup.
//!
//! Item layout (partition key `identity`, sort key `address`, both strings):
//!
//! | attribute        | type | content                                                       |
//! |------------------|------|---------------------------------------------------------------|
//! | `identity`       | S    | `<AWS Config type>#<resource id>`                              |
//! | `address`        | S    | `<bucket/key, or key>#<workspace>#<terraform address>`         |
//! | `config_type`    | S    | AWS Config resource type (`AWS::S3::Bucket`)                   |
//! | `resource_id`    | S    | AWS Config resource id                                         |
//! | `arn`            | S    | the resource's ARN, absent when the state has none (sparse [`ARN_INDEX`]) |
//! | `tf_address`     | S    | the Terraform address (`module.a["x"].aws_s3_bucket.b[0]`)     |
//! | `terraform_type` | S    | `aws_s3_bucket`                                                |
//! | `role`           | S    | `primary` / `facet` / `contributor`                            |
//! | `state_bucket`   | S    | S3 bucket of the backend, absent for a local state             |
//! | `state_key`      | S    | state key (or local path)                                      |
//! | `workspace`      | S    | Terraform workspace                                            |
//! | `serial`         | N    | the serial of the state version that last wrote the entry (a write that leaves it unchanged does not write it again) |
//! | `lineage`        | S    | the state's lineage                                            |
//! | `tainted`        | BOOL | the instance is tainted                                        |
//! | `desired`        | S    | desired comparable values as a JSON array (normalised and redacted by the core) |
//! | `tags`           | S    | `tags_all` as JSON                                             |
//! | `state_at`       | S    | `<bucket/key, or key>#<workspace>`: the state, for [`STATE_INDEX`] |
//! | `written_ms`     | N    | when the write that made this state version current happened (epoch ms); orders the writes |
//!
//! * [`lookup`](IndexTable::lookup) is a `Query` on one identity, every page.
//! * [`lookup_arn`](IndexTable::lookup_arn) queries the global secondary index [`ARN_INDEX`]
//!   (`arn` hash key, projection ALL), every page, and keeps primary entries (as the core's
//!   in-memory index does).
//! * [`put_state_entries`](IndexTable::put_state_entries) writes each entry with a conditional
//!   `PutItem` (16 in flight), stamped `written_ms` — when the write that made its version
//!   current happened — and replacing only an item stamped no later: two invocations racing
//!   on two writes of one state (or a retry of an old write) leave the newer write's entries.
//! * [`change_state_entries`](IndexTable::change_state_entries) applies what a state write
//!   changed (the entries it added or changed put, the ones it dropped deleted, each as
//!   below) to an index that holds the version before it — the state watcher's usual
//!   write: a few items, no scan.
//! * [`remove_state_entries`](IndexTable::remove_state_entries) deletes the entries of a
//!   state (bucket + key + workspace, [`StateAt`]) that its new version no longer has — the
//!   state watcher's job on each write, after putting the new version's entries — each with a
//!   conditional `DeleteItem` that spares an item stamped by a newer write.
//!   It finds them with a `Query` on the global secondary index [`STATE_INDEX`] (`state_at`
//!   hash, `address` range, keys only) — or, for a state whose items an older build wrote
//!   without `state_at`, once, with a `Scan` filtered on the state.
//! * [`entries_for_state`](IndexTable::entries_for_state) is a `Scan` with a filter on
//!   `state_bucket`, `state_key` and `workspace`, every page (for tools and tests; no function
//!   calls it).
//!
//! [`define_table`] puts this layout (keys, attributes, both indexes) on a `CreateTable`
//! request, as `infra/tables.tf` declares it.
//!
//! Sensitive values never reach this table in clear: the core replaces them by digests
//! before an entry exists.

use crate::findings_table::TableOptions;
use crate::iam::Action;
use crate::table::{table_accessors, table_error, CallError, Table};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use driftwatch_core::catalog::Role;
use driftwatch_core::finding::StateRef;
use driftwatch_core::index::IndexEntry;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The global secondary index [`IndexTable::lookup_arn`] queries: `arn` (hash), projection
/// ALL.
pub const ARN_INDEX: &str = "arn-index";

/// The global secondary index that lists a state's items: `state_at` (hash), `address`
/// (range), projection KEYS_ONLY.
pub const STATE_INDEX: &str = "state-index";

/// The table's keys, attributes and global secondary indexes on a `CreateTable` request (what
/// `infra/tables.tf` declares), for tests and local setups; the caller adds the name and
/// billing mode.
pub fn define_table(
    req: aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder,
) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    };
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().expect("a key names its attribute");
    let attr = |n: &str| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().expect("an attribute has a name")
    };
    let index = |name: &str, keys: Vec<KeySchemaElement>, projection: ProjectionType| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .set_key_schema(Some(keys))
            .projection(Projection::builder().projection_type(projection).build())
            .build()
            .expect("an index has a name and keys")
    };
    req.key_schema(key("identity", KeyType::Hash))
        .key_schema(key("address", KeyType::Range))
        .attribute_definitions(attr("identity"))
        .attribute_definitions(attr("address"))
        .attribute_definitions(attr("arn"))
        .attribute_definitions(attr(STATE_AT))
        .global_secondary_indexes(index(ARN_INDEX, vec![key("arn", KeyType::Hash)], ProjectionType::All))
        .global_secondary_indexes(index(
            STATE_INDEX,
            vec![key(STATE_AT, KeyType::Hash), key("address", KeyType::Range)],
            ProjectionType::KeysOnly,
        ))
}

/// The attribute [`STATE_INDEX`] is keyed on.
const STATE_AT: &str = "state_at";

type Item = HashMap<String, AttributeValue>;

table_error! {
    /// Errors of the index table. Each is one line that says what went wrong where: the three
    /// cases of a failed call (`NoSuchTable`, `AccessDenied`, `Request`: `table_error!`), and
    /// these.
    #[derive(Debug, thiserror::Error)]
    pub enum IndexTableError {
        #[error("index entry {address} ({identity}): {message}")]
        Encode { identity: String, address: String, message: String },
        #[error("item {identity:?}/{address:?} in table {table:?} is not an index entry: {message}")]
        Decode { table: String, identity: String, address: String, message: String },
    }
}

/// The primary key of one index item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    /// `<config type>#<resource id>`.
    pub identity: String,
    /// `<bucket/key or key>#<workspace>#<terraform address>`.
    pub address: String,
}

impl ItemKey {
    /// The key of an entry's item.
    pub fn of(entry: &IndexEntry) -> ItemKey {
        ItemKey { identity: identity(&entry.config_type, &entry.resource_id), address: sort_key(&entry.state, &entry.address) }
    }
}

/// Where a state lives: the backend's bucket (none for a local state), the key and the
/// workspace. Two buckets may hold the same key (`terraform.tfstate` at the root): a state is
/// all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateAt<'a> {
    pub bucket: Option<&'a str>,
    pub key: &'a str,
    pub workspace: &'a str,
}

impl<'a> StateAt<'a> {
    pub fn of(state: &'a StateRef) -> Self {
        StateAt { bucket: state.bucket.as_deref(), key: &state.key, workspace: &state.workspace }
    }

    /// `<bucket/key, or key>#<workspace>`: the `state_at` of its items, and the start of
    /// their sort keys.
    pub fn text(&self) -> String {
        match self.bucket {
            Some(b) => format!("{b}/{}#{}", self.key, self.workspace),
            None => format!("{}#{}", self.key, self.workspace),
        }
    }
}

/// The partition key of a live identity.
pub fn identity(config_type: &str, resource_id: &str) -> String {
    format!("{config_type}#{resource_id}")
}

/// The sort key of a Terraform address in a state.
pub fn sort_key(state: &StateRef, address: &str) -> String {
    format!("{}#{address}", StateAt::of(state).text())
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Primary => "primary",
        Role::Facet => "facet",
        Role::Contributor => "contributor",
    }
}

fn parse_role(s: &str) -> Option<Role> {
    match s {
        "primary" => Some(Role::Primary),
        "facet" => Some(Role::Facet),
        "contributor" => Some(Role::Contributor),
        _ => None,
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// The item of an entry.
pub fn encode(entry: &IndexEntry) -> Result<Item, IndexTableError> {
    let key = ItemKey::of(entry);
    let bad = |message: String| IndexTableError::Encode { identity: key.identity.clone(), address: entry.address.clone(), message };
    if entry.config_type.is_empty() || entry.resource_id.is_empty() {
        return Err(bad("empty config type or resource id".into()));
    }
    let desired = serde_json::to_string(&entry.desired[..]).map_err(|e| bad(format!("desired values: {e}")))?;
    let tags = serde_json::to_string(&entry.tags).map_err(|e| bad(format!("tags: {e}")))?;
    let mut item = Item::new();
    item.insert("identity".into(), s(key.identity.clone()));
    item.insert("address".into(), s(key.address.clone()));
    item.insert("config_type".into(), s(&entry.config_type));
    item.insert("resource_id".into(), s(&entry.resource_id));
    if let Some(arn) = entry.arn.as_deref().filter(|a| !a.is_empty()) {
        item.insert("arn".into(), s(arn));
    }
    item.insert("tf_address".into(), s(&entry.address));
    item.insert("terraform_type".into(), s(&entry.terraform_type));
    item.insert("role".into(), s(role_str(entry.role)));
    if let Some(b) = &entry.state.bucket {
        item.insert("state_bucket".into(), s(b));
    }
    item.insert("state_key".into(), s(&entry.state.key));
    item.insert("workspace".into(), s(&entry.state.workspace));
    item.insert(STATE_AT.into(), s(StateAt::of(&entry.state).text()));
    item.insert("serial".into(), AttributeValue::N(entry.state.serial.to_string()));
    item.insert("lineage".into(), s(&entry.state.lineage));
    item.insert("tainted".into(), AttributeValue::Bool(entry.tainted));
    item.insert("desired".into(), s(desired));
    item.insert("tags".into(), s(tags));
    Ok(item)
}

/// The entry of an item.
pub fn decode(table: &str, item: &Item) -> Result<IndexEntry, IndexTableError> {
    let get = |n: &str| item.get(n).and_then(|v| v.as_s().ok());
    let bad = |message: String| IndexTableError::Decode {
        table: table.to_string(),
        identity: get("identity").cloned().unwrap_or_default(),
        address: get("address").cloned().unwrap_or_default(),
        message,
    };
    let req = |n: &str| get(n).cloned().ok_or_else(|| bad(format!("no string attribute `{n}`")));
    let role = req("role")?;
    let role = parse_role(&role).ok_or_else(|| bad(format!("`role`: unknown role {role:?}")))?;
    let serial = item
        .get("serial")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| bad("no numeric attribute `serial`".into()))?;
    let tainted =
        item.get("tainted").and_then(|v| v.as_bool().ok()).copied().ok_or_else(|| bad("no boolean attribute `tainted`".into()))?;
    let desired: Vec<Value> = serde_json::from_str(&req("desired")?).map_err(|e| bad(format!("`desired`: {e}")))?;
    let tags: Value = serde_json::from_str(&req("tags")?).map_err(|e| bad(format!("`tags`: {e}")))?;
    let state = StateRef {
        bucket: get("state_bucket").cloned(),
        key: req("state_key")?,
        workspace: req("workspace")?,
        serial,
        lineage: req("lineage")?,
    };
    Ok(IndexEntry {
        address: req("tf_address")?,
        terraform_type: req("terraform_type")?,
        config_type: req("config_type")?,
        resource_id: req("resource_id")?,
        arn: get("arn").cloned(),
        role,
        state: Arc::new(state),
        tainted,
        desired: desired.into_boxed_slice(),
        tags,
    })
}

fn key_item(k: &ItemKey) -> Item {
    HashMap::from([("identity".to_string(), s(&k.identity)), ("address".to_string(), s(&k.address))])
}

/// The attribute of an item that orders writes: when the write that made its state version
/// current happened (epoch milliseconds).
const WRITTEN: &str = "written_ms";

/// The condition of the index's writes: the item is absent, or was written for a write no
/// newer than this one.
const NOT_NEWER: &str = "attribute_not_exists(#w) OR #w <= :w";

/// A conditional write of the index: put a whole item, or delete by key.
#[derive(Debug, Clone, Copy)]
enum Write {
    Put,
    Delete,
}

/// How many conditional writes are in flight at once.
const CONCURRENCY: usize = 16;

/// The async index table. Cheap to clone; build one per process.
#[derive(Debug, Clone)]
pub struct IndexTable {
    base: Table,
}

impl IndexTable {
    /// [`lookup`](Self::lookup), [`lookup_arn`](Self::lookup_arn),
    /// [`entries_for_state`](Self::entries_for_state) (a `Scan` filtered on the state).
    pub const READ: &'static [Action] = &[Action::new("dynamodb:Query", "query"), Action::new("dynamodb:Scan", "scan")];
    /// [`put_state_entries`](Self::put_state_entries), and
    /// [`remove_state_entries`](Self::remove_state_entries), which also reads the state's
    /// entries (so a writer needs [`READ`](Self::READ) too).
    pub const WRITE: &'static [Action] = &[Action::new("dynamodb:PutItem", "put_item"), Action::new("dynamodb:DeleteItem", "delete_item")];

    pub fn new(client: Client, table: impl Into<String>, options: TableOptions) -> Self {
        IndexTable { base: Table::new(client, table, options) }
    }

    table_accessors!();

    /// Write the entries of one state version, made current by a write at `written_ms` (epoch
    /// milliseconds: the S3 event's time; for a version that stands again after a deletion,
    /// the deletion's). Each is a conditional `PutItem` (attribute `written_ms`) that replaces
    /// only an item written for an older or equal write, so a late or slow invocation for an
    /// older version never overwrites a newer one's entries; a refused put is skipped. Of
    /// entries with the same key the last is written. `state` is the version they come from:
    /// entries of another state are refused. Returns how many items were written.
    pub async fn put_state_entries(&self, state: &StateRef, entries: &[IndexEntry], written_ms: i64) -> Result<usize, IndexTableError> {
        self.put_entries(state, &entries.iter().collect::<Vec<_>>(), written_ms).await
    }

    /// What a write changed, applied to an index that holds its version before's entries
    /// ([`driftwatch_core::index::entry_changes`]): `put` written as
    /// [`put_state_entries`](Self::put_state_entries) writes them, `removed` deleted as
    /// [`remove_state_entries`](Self::remove_state_entries) deletes them (each sparing an
    /// item of a newer write) — no scan of the table. Returns how many items were written and
    /// deleted.
    pub async fn change_state_entries(
        &self,
        state: &StateRef,
        put: &[&IndexEntry],
        removed: &[ItemKey],
        written_ms: i64,
    ) -> Result<(usize, usize), IndexTableError> {
        let put = self.put_entries(state, put, written_ms).await?;
        let removed =
            self.each_conditional(Box::new(removed.iter().map(|k| Ok(key_item(k)))), Write::Delete, NOT_NEWER, written_ms).await?;
        Ok((put, removed))
    }

    async fn put_entries(&self, state: &StateRef, entries: &[&IndexEntry], written_ms: i64) -> Result<usize, IndexTableError> {
        let mut last: HashMap<ItemKey, usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if e.state.key != state.key || e.state.workspace != state.workspace || e.state.bucket != state.bucket {
                return Err(IndexTableError::Encode {
                    identity: identity(&e.config_type, &e.resource_id),
                    address: e.address.clone(),
                    message: format!("entry of state {:?} (workspace {:?}), not of {:?}", e.state.key, e.state.workspace, state.key),
                });
            }
            last.insert(ItemKey::of(e), i);
        }
        // Encoded as they are sent, not all at once: a large state's items would weigh more
        // than its entries.
        let items = entries.iter().enumerate().filter(move |(i, e)| last.get(&ItemKey::of(e)) == Some(i)).map(move |(_, e)| {
            let mut item = encode(e)?;
            item.insert(WRITTEN.into(), AttributeValue::N(written_ms.to_string()));
            Ok(item)
        });
        self.each_conditional(Box::new(items), Write::Put, NOT_NEWER, written_ms).await
    }

    /// Delete the entries of the state `at` whose keys are not in `keep` (the keys of the
    /// version made current at `written_ms`), each with a conditional `DeleteItem` that spares
    /// an item written for a newer write. The state's items are listed by a `Query` on
    /// [`STATE_INDEX`]; `scan`: by a filtered `Scan` of the table instead (items an older build
    /// wrote have no `state_at`). Returns how many items were deleted.
    pub async fn remove_state_entries(
        &self,
        at: StateAt<'_>,
        keep: &[ItemKey],
        written_ms: i64,
        scan: bool,
    ) -> Result<usize, IndexTableError> {
        let keep: BTreeSet<&ItemKey> = keep.iter().collect();
        let items = if scan { self.state_items(at).await? } else { self.state_keys(at).await? };
        let stale: Vec<Item> = items.into_iter().filter(|k| !keep.contains(k)).map(|k| key_item(&k)).collect();
        self.each_conditional(Box::new(stale.into_iter().map(Ok)), Write::Delete, NOT_NEWER, written_ms).await
    }

    /// Take back the entries `keys` that the write at `written_ms` put (a conditional
    /// `DeleteItem` each, on the item still carrying that stamp): what an invocation does when
    /// it finds, after writing, that a newer write of the state was indexed meanwhile — its
    /// entries that the newer version lacks must not stay. Returns how many were deleted.
    pub async fn undo_state_entries(&self, keys: &[ItemKey], written_ms: i64) -> Result<usize, IndexTableError> {
        self.each_conditional(Box::new(keys.iter().map(|k| Ok(key_item(k)))), Write::Delete, "#w = :w", written_ms).await
    }

    /// Send one `write` per item (a whole item to put, or a key to delete) on `condition` over
    /// the item's `written_ms` (`#w`) and the write's (`:w`), [`CONCURRENCY`] at a time; how many
    /// were applied (a failed condition is a newer write's item: skipped). Items are taken
    /// from `items` (encoded) only when their turn comes, so a large state's items are never
    /// all held at once.
    async fn each_conditional(
        &self,
        items: Box<dyn Iterator<Item = Result<Item, IndexTableError>> + Send + '_>,
        write: Write,
        condition: &'static str,
        written_ms: i64,
    ) -> Result<usize, IndexTableError> {
        let mut applied = 0;
        let mut running = tokio::task::JoinSet::new();
        let mut items = items;
        loop {
            while running.len() < CONCURRENCY {
                let Some(item) = items.next() else { break };
                let item = item?;
                let base = self.base.clone();
                running.spawn(async move { write_one(&base, item, write, condition, written_ms).await });
            }
            let Some(joined) = running.join_next().await else { break };
            let outcome = joined.map_err(|e| CallError::Request {
                op: "PutItem/DeleteItem",
                table: self.base.name.clone(),
                message: e.to_string(),
            })?;
            if outcome? {
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// Every entry of a live identity (primary, facets, contributors; from every state): a
    /// `Query` on the partition, every page.
    pub async fn lookup(&self, config_type: &str, resource_id: &str) -> Result<Vec<IndexEntry>, IndexTableError> {
        let query = self
            .base
            .client
            .query()
            .key_condition_expression("#i = :i")
            .expression_attribute_names("#i", "identity")
            .expression_attribute_values(":i", s(identity(config_type, resource_id)));
        self.base.query_all(query, decode).await
    }

    /// The primary entries for an ARN (one per state that manages it; normally one): a
    /// `Query` on [`ARN_INDEX`], every page.
    pub async fn lookup_arn(&self, arn: &str) -> Result<Vec<IndexEntry>, IndexTableError> {
        let query = self
            .base
            .client
            .query()
            .index_name(ARN_INDEX)
            .key_condition_expression("#a = :a")
            .filter_expression("#r = :primary")
            .expression_attribute_names("#a", "arn")
            .expression_attribute_names("#r", "role")
            .expression_attribute_values(":a", s(arn))
            .expression_attribute_values(":primary", s(role_str(Role::Primary)));
        let mut out = self.base.query_all(query, decode).await?;
        out.sort_by(|a, b| (&a.state.key, &a.state.workspace, &a.address).cmp(&(&b.state.key, &b.state.workspace, &b.address)));
        Ok(out)
    }

    /// Every entry of a state (bucket + key + workspace): a filtered `Scan`, every page.
    pub async fn entries_for_state(&self, at: StateAt<'_>) -> Result<Vec<IndexEntry>, IndexTableError> {
        let mut out = Vec::new();
        self.scan_state(at, false, |item| {
            out.push(decode(&self.base.name, item)?);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// The keys of a state's items: a `Query` on [`STATE_INDEX`], every page (eventually
    /// consistent, as every index's reads are).
    async fn state_keys(&self, at: StateAt<'_>) -> Result<Vec<ItemKey>, IndexTableError> {
        let query = self
            .base
            .client
            .query()
            .index_name(STATE_INDEX)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", STATE_AT)
            .expression_attribute_values(":s", s(at.text()));
        self.base
            .query_all(query, |_, item| {
                let g = |n: &str| item.get(n).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                Ok(ItemKey { identity: g("identity"), address: g("address") })
            })
            .await
    }

    /// The keys of a state's items, by a filtered `Scan`.
    async fn state_items(&self, at: StateAt<'_>) -> Result<Vec<ItemKey>, IndexTableError> {
        let mut out = Vec::new();
        self.scan_state(at, true, |item| {
            let g = |n: &str| item.get(n).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            out.push(ItemKey { identity: g("identity"), address: g("address") });
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn scan_state(
        &self,
        at: StateAt<'_>,
        keys_only: bool,
        mut each: impl FnMut(&Item) -> Result<(), IndexTableError>,
    ) -> Result<(), IndexTableError> {
        let mut req = self
            .base
            .client
            .scan()
            .table_name(&self.base.name)
            .expression_attribute_names("#k", "state_key")
            .expression_attribute_names("#w", "workspace")
            .expression_attribute_names("#b", "state_bucket")
            .expression_attribute_values(":k", s(at.key))
            .expression_attribute_values(":w", s(at.workspace))
            .set_limit(self.base.options.page_size);
        req = match at.bucket {
            Some(b) => req.filter_expression("#k = :k AND #w = :w AND #b = :b").expression_attribute_values(":b", s(b)),
            None => req.filter_expression("#k = :k AND #w = :w AND attribute_not_exists(#b)"),
        };
        if keys_only {
            req = req
                .projection_expression("#i, #ad")
                .expression_attribute_names("#i", "identity")
                .expression_attribute_names("#ad", "address");
        }
        let mut pages = req.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.base.failed("Scan", &e))?;
            for item in page.items() {
                each(item)?;
            }
        }
        Ok(())
    }
}

/// One conditional write of the index: was it applied?
async fn write_one(base: &Table, item: Item, write: Write, condition: &'static str, written_ms: i64) -> Result<bool, CallError> {
    let w = AttributeValue::N(written_ms.to_string());
    match write {
        Write::Put => {
            let out = base
                .client
                .put_item()
                .table_name(&base.name)
                .set_item(Some(item))
                .condition_expression(condition)
                .expression_attribute_names("#w", WRITTEN)
                .expression_attribute_values(":w", w)
                .send()
                .await;
            base.conditional("PutItem", out).map(|o| o.is_some())
        }
        Write::Delete => {
            let out = base
                .client
                .delete_item()
                .table_name(&base.name)
                .set_key(Some(item))
                .condition_expression(condition)
                .expression_attribute_names("#w", WRITTEN)
                .expression_attribute_values(":w", w)
                .send()
                .await;
            base.conditional("DeleteItem", out).map(|o| o.is_some())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> IndexEntry {
        IndexEntry {
            address: "module.a[\"x\"].aws_s3_bucket.b[0]".into(),
            terraform_type: "aws_s3_bucket".into(),
            config_type: "AWS::S3::Bucket".into(),
            resource_id: "phi-bucket".into(),
            arn: Some("arn:aws:s3:::phi-bucket".into()),
            role: Role::Facet,
            state: Arc::new(StateRef {
                bucket: Some("tfstate".into()),
                key: "env:/prod/app.tfstate".into(),
                workspace: "prod".into(),
                serial: 7,
                lineage: "l-1".into(),
            }),
            tainted: true,
            desired: vec![json!("aws:kms"), Value::Null, json!(["a", 1])].into_boxed_slice(),
            tags: json!({"data-classification": "phi"}),
        }
    }

    #[test]
    fn an_entry_round_trips_through_its_item() {
        let e = entry();
        let item = encode(&e).expect("encode");
        assert_eq!(item["identity"].as_s().unwrap(), "AWS::S3::Bucket#phi-bucket");
        assert_eq!(item["address"].as_s().unwrap(), "tfstate/env:/prod/app.tfstate#prod#module.a[\"x\"].aws_s3_bucket.b[0]");
        assert_eq!(decode("t", &item).expect("decode"), e);
        let mut local = e.clone();
        local.arn = None;
        local.state = Arc::new(StateRef { bucket: None, ..(*e.state).clone() });
        let item = encode(&local).expect("encode");
        assert!(!item.contains_key("arn") && !item.contains_key("state_bucket"), "sparse: no empty GSI key");
        assert_eq!(decode("t", &item).expect("decode"), local);
    }
}
