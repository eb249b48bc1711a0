//! The managed-resource index table against moto server, through the real AWS SDK: the
//! entries of the sample states (built by the core, as the state watcher does) written in
//! several batches, point lookups by identity (paginated `Query`) and by ARN (the `arn-index`
//! GSI) answering what the in-memory index answers, removal of the entries a new state
//! version no longer has, and no secret of the sample states in any stored item.
//!
//! Assertions are on what is actually in moto's DynamoDB (a raw, paginated `Scan`) as well as
//! on what the adapter returns. Each test starts its own moto server ([`Moto`]); without
//! `moto_server` the tests fail under `CI=true` and are skipped loudly elsewhere.

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode};
use aws_sdk_dynamodb::Client;
use driftwatch_aws::{dynamodb_client, IndexTable, IndexTableError, ItemKey, StateAt, TableOptions};
use driftwatch_core::catalog::Role;
use driftwatch_core::index::{IndexEntry, ManagedIndex};
use driftwatch_core::state::{self, StateLocation};
use driftwatch_core::{Catalog, Redactor};
use driftwatch_tests::{workspace_root, Moto};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const TABLE: &str = "driftwatch-index";
/// The CLI's default digest salt.
const SALT: &str = "driftwatch/v1/default-salt";
/// Every secret planted in the sample states (as in `crates/core/tests/support`).
const SECRETS: [&str; 4] = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];
const STATE_BUCKET: &str = "tfstate";
/// The sample states, where they are read from and the S3 key they are indexed under (one in
/// a workspace).
const STATES: [(&str, &str); 3] = [
    ("samples/states/network.tfstate", "network.tfstate"),
    ("samples/states/data.tfstate", "env:/prod/data.tfstate"),
    ("samples/states/app.tfstate", "app.tfstate"),
];

struct Lab {
    table: IndexTable,
    _moto: Moto,
}

impl Lab {
    async fn start(name: &str, options: TableOptions) -> Option<Lab> {
        let moto = Moto::start(name)?;
        let sdk = moto.sdk_config();
        let table = IndexTable::new(dynamodb_client(&sdk), TABLE, options);
        let lab = Lab { table, _moto: moto };
        lab.create_table().await;
        Some(lab)
    }

    fn client(&self) -> &Client {
        self.table.client()
    }

    async fn create_table(&self) {
        driftwatch_aws::index_table::define_table(self.client().create_table().table_name(TABLE).billing_mode(BillingMode::PayPerRequest))
            .send()
            .await
            .expect("create the index table");
    }

    /// Every item in the table: a raw `Scan`, every page (small pages, so paging is used).
    async fn scan_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut pages = self.client().scan().table_name(TABLE).limit(10).into_paginator().items().send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            out.push(item.expect("scan page"));
        }
        out
    }

    /// Index every sample state: each state's entries put as the state watcher does.
    async fn put_all(&self, index: &ManagedIndex) -> usize {
        let mut written = 0;
        for (_, key) in STATES {
            let entries: Vec<IndexEntry> = index.entries().iter().filter(|e| e.state.key == key).cloned().collect();
            assert!(!entries.is_empty(), "{key} has entries");
            written += self.table.put_state_entries(&entries[0].state.clone(), &entries, 0).await.expect("put state entries");
        }
        written
    }
}

/// The in-memory index of the sample states, as the state watcher builds it.
fn sample_index() -> ManagedIndex {
    let root = workspace_root();
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(SALT.as_bytes());
    let states = STATES.iter().map(|(path, key)| {
        state::parse_state(&std::fs::read(root.join(path)).expect("state"), StateLocation::s3(STATE_BUCKET, *key), &catalog, &redactor)
            .expect("parse state")
    });
    ManagedIndex::build(states, &catalog)
}

/// A sample state in the lab's state bucket.
fn at<'a>(key: &'a str, workspace: &'a str) -> StateAt<'a> {
    StateAt { bucket: Some(STATE_BUCKET), key, workspace }
}

/// Entries in a deterministic order, for comparisons.
fn sorted(mut v: Vec<IndexEntry>) -> Vec<IndexEntry> {
    v.sort_by_key(ItemKey::of);
    v
}

fn sorted_refs<'a>(v: impl Iterator<Item = &'a IndexEntry>) -> Vec<IndexEntry> {
    sorted(v.cloned().collect())
}

/// The identity with the most entries of a config type.
fn biggest_group<'a>(index: &'a ManagedIndex, config_type: &str) -> ((&'a str, &'a str), Vec<&'a IndexEntry>) {
    index
        .groups()
        .into_iter()
        .filter(|(k, _)| k.0 == config_type)
        .max_by_key(|(_, v)| v.len())
        .unwrap_or_else(|| panic!("no {config_type}"))
}

#[tokio::test]
async fn sample_states_are_indexed_and_looked_up_like_the_in_memory_index() {
    let Some(lab) = Lab::start("index-lookup", TableOptions { page_size: Some(2), ..TableOptions::default() }).await else { return };
    let index = sample_index();
    assert_eq!(index.len(), 119, "the sample states index 119 entries");
    assert_eq!(lab.put_all(&index).await, index.len());

    let items = lab.scan_items().await;
    assert_eq!(items.len(), index.len(), "one item per entry");
    let stored: BTreeSet<(String, String)> =
        items.iter().map(|i| (i["identity"].as_s().unwrap().clone(), i["address"].as_s().unwrap().clone())).collect();
    let expected: BTreeSet<(String, String)> = index.entries().iter().map(ItemKey::of).map(|k| (k.identity, k.address)).collect();
    assert_eq!(stored, expected);
    for e in index.entries().iter().filter(|e| e.state.key == "env:/prod/data.tfstate") {
        let k = ItemKey::of(e);
        assert_eq!(k.identity, format!("{}#{}", e.config_type, e.resource_id));
        assert_eq!(k.address, format!("tfstate/env:/prod/data.tfstate#prod#{}", e.address), "bucket/key#workspace#address");
    }

    // Every identity answers exactly what the in-memory index answers.
    for ((ct, id), entries) in index.groups() {
        let got = lab.table.lookup(ct, id).await.expect("lookup");
        assert_eq!(sorted(got), sorted_refs(entries.into_iter()), "{ct} {id}");
    }

    // An S3 bucket with its facets: several entries under one identity (several query pages).
    let ((ct, bucket), group) = biggest_group(&index, "AWS::S3::Bucket");
    assert!(group.len() >= 3, "the bucket has facets: {}", group.len());
    let got = lab.table.lookup(ct, bucket).await.expect("lookup bucket");
    assert_eq!(got.len(), group.len());
    assert_eq!(got.iter().filter(|e| e.role == Role::Primary).count(), 1);
    assert!(got.iter().any(|e| e.role == Role::Facet));
    for e in &got {
        assert_eq!((e.state.bucket.as_deref(), e.state.key.as_str()), (Some(STATE_BUCKET), group[0].state.key.as_str()));
    }

    // RDS by its DbiResourceId.
    let ((ct, dbi), db) = biggest_group(&index, "AWS::RDS::DBInstance");
    assert!(dbi.starts_with("db-"), "RDS instances are identified by DbiResourceId: {dbi}");
    let got = lab.table.lookup(ct, dbi).await.expect("lookup rds");
    assert_eq!(sorted(got.clone()), sorted_refs(db.into_iter()));
    let primary = got.iter().find(|e| e.terraform_type == "aws_db_instance").expect("the instance");
    assert_eq!(primary.state.workspace, "prod");
    assert!(primary.state.serial > 0 && !primary.state.lineage.is_empty());

    // An IAM role by ARN through the GSI; and every primary ARN.
    let role = index.entries().iter().find(|e| e.terraform_type == "aws_iam_role" && e.arn.is_some()).expect("an IAM role");
    let arn = role.arn.as_deref().unwrap();
    let got = lab.table.lookup_arn(arn).await.expect("lookup arn");
    assert_eq!(got, vec![index.lookup_arn(arn).expect("in memory").clone()]);
    assert_eq!((got[0].address.as_str(), got[0].config_type.as_str()), (role.address.as_str(), "AWS::IAM::Role"));
    for e in index.entries().iter().filter(|e| e.role == Role::Primary && e.arn.is_some()) {
        let arn = e.arn.as_deref().unwrap();
        assert_eq!(lab.table.lookup_arn(arn).await.expect("lookup arn"), vec![index.lookup_arn(arn).unwrap().clone()], "{arn}");
    }
    assert_eq!(lab.table.lookup_arn("arn:aws:iam::123456789012:role/nobody").await.expect("lookup"), vec![]);
    assert_eq!(lab.table.lookup("AWS::S3::Bucket", "no-such-bucket").await.expect("lookup"), vec![]);

    // Per state.
    for (_, key) in STATES {
        let ws = if key.starts_with("env:/prod/") { "prod" } else { "default" };
        let got = lab.table.entries_for_state(at(key, ws)).await.expect("entries for state");
        assert_eq!(sorted(got), sorted_refs(index.entries().iter().filter(|e| e.state.key == key)), "{key}");
    }
    assert_eq!(lab.table.entries_for_state(at("app.tfstate", "prod")).await.expect("other workspace"), vec![]);
}

#[tokio::test]
async fn entries_a_new_state_version_drops_are_removed() {
    let Some(lab) = Lab::start("index-remove", TableOptions { page_size: Some(4), ..TableOptions::default() }).await else { return };
    let index = sample_index();
    lab.put_all(&index).await;
    let ((ct, bucket), group) = biggest_group(&index, "AWS::S3::Bucket");
    let key = group[0].state.key.clone();
    let ws = group[0].state.workspace.clone();
    let dropped: BTreeSet<ItemKey> = group.iter().filter(|e| e.role != Role::Primary).map(|e| ItemKey::of(e)).collect();
    assert!(!dropped.is_empty());
    // The new version of the state: everything but the bucket's facets.
    let keep: Vec<ItemKey> =
        index.entries().iter().filter(|e| e.state.key == key).map(ItemKey::of).filter(|k| !dropped.contains(k)).collect();
    let before = lab.scan_items().await.len();
    assert_eq!(lab.table.remove_state_entries(at(&key, &ws), &keep, 0, false).await.expect("remove"), dropped.len());
    assert_eq!(lab.scan_items().await.len(), before - dropped.len());
    let got = lab.table.lookup(ct, bucket).await.expect("lookup");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].role, Role::Primary);
    assert_eq!(lab.table.entries_for_state(at(&key, &ws)).await.expect("entries").len(), keep.len());
    // Other states are untouched; removing again is a no-op.
    for (_, other) in STATES.iter().filter(|(_, k)| *k != key) {
        let ws = if other.starts_with("env:/prod/") { "prod" } else { "default" };
        let n = index.entries().iter().filter(|e| e.state.key == *other).count();
        assert_eq!(lab.table.entries_for_state(at(other, ws)).await.expect("entries").len(), n);
    }
    assert_eq!(lab.table.remove_state_entries(at(&key, &ws), &keep, 0, false).await.expect("remove again"), 0);

    // A state that is gone entirely: keep nothing (more than one batch of deletes).
    let (_, big) = STATES.iter().map(|(_, k)| (index.entries().iter().filter(|e| e.state.key == *k).count(), *k)).max().unwrap();
    let big_ws = if big.starts_with("env:/prod/") { "prod" } else { "default" };
    let n = lab.table.entries_for_state(at(big, big_ws)).await.expect("entries").len();
    assert!(n > 25, "more than one batch: {n}");
    assert_eq!(lab.table.remove_state_entries(at(big, big_ws), &[], 0, false).await.expect("remove all"), n);
    assert_eq!(lab.table.entries_for_state(at(big, big_ws)).await.expect("entries"), vec![]);
    assert!(lab.scan_items().await.iter().all(|i| i["state_key"].as_s().unwrap() != big));
}

#[tokio::test]
async fn no_secret_of_the_sample_states_is_stored() {
    let Some(lab) = Lab::start("index-secrets", TableOptions::default()).await else { return };
    let index = sample_index();
    lab.put_all(&index).await;
    let items = lab.scan_items().await;
    assert_eq!(items.len(), index.len());
    let text = format!("{items:?}");
    for s in SECRETS {
        assert!(!text.contains(s), "secret {s} stored in DynamoDB");
    }
    let digests_in_memory = index.entries().iter().any(|e| serde_json::to_string(&e.desired[..]).unwrap().contains("sha256:"));
    assert!(digests_in_memory && text.contains("sha256:"), "sensitive values are stored as digests");
    // Attributes as documented.
    let by_type: BTreeMap<&str, &HashMap<String, AttributeValue>> =
        items.iter().map(|i| (i["terraform_type"].as_s().unwrap().as_str(), i)).collect();
    let db = by_type["aws_db_instance"];
    assert_eq!(db["config_type"].as_s().unwrap(), "AWS::RDS::DBInstance");
    assert_eq!(db["state_bucket"].as_s().unwrap(), STATE_BUCKET);
    assert!(db["serial"].as_n().is_ok() && db["tainted"].as_bool().is_ok());
    assert!(serde_json::from_str::<Vec<serde_json::Value>>(db["desired"].as_s().unwrap()).is_ok());
}

#[tokio::test]
async fn entries_of_another_state_and_a_missing_table_are_refused() {
    let Some(lab) = Lab::start("index-errors", TableOptions::default()).await else { return };
    let index = sample_index();
    let a = &index.entries()[0];
    let other = index.entries().iter().find(|e| e.state.key != a.state.key).expect("another state");
    let e = lab.table.put_state_entries(&a.state.clone(), &[a.clone(), other.clone()], 0).await.unwrap_err();
    assert!(matches!(e, IndexTableError::Encode { .. }), "{e:?}");
    assert!(lab.scan_items().await.is_empty(), "nothing written");

    let missing = IndexTable::new(lab.client().clone(), "no-such-table", TableOptions::default());
    let e = missing.lookup("AWS::S3::Bucket", "x").await.unwrap_err();
    assert!(matches!(e, IndexTableError::NoSuchTable { .. }), "{e:?}");
    assert!(e.to_string().contains("\"no-such-table\" does not exist"), "{e}");
}

/// Two watched buckets may hold the same key (`app.tfstate` at the root of each): a new version
/// of one state removes its own stale entries, never the other bucket's.
#[tokio::test]
async fn states_of_two_buckets_with_the_same_key_keep_their_own_entries() {
    let Some(lab) = Lab::start("index-two-buckets", TableOptions::default()).await else { return };
    let root = workspace_root();
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(SALT.as_bytes());
    let bytes = std::fs::read(root.join("samples/states/app.tfstate")).expect("state");
    let mut counts = Vec::new();
    for bucket in ["tfstate-east", "tfstate-west"] {
        let st = state::parse_state(&bytes, StateLocation::s3(bucket, "app.tfstate"), &catalog, &redactor).expect("parse");
        let index = ManagedIndex::build([st], &catalog);
        let entries = index.entries().to_vec();
        lab.table.put_state_entries(&entries[0].state.clone(), &entries, 0).await.expect("put");
        counts.push(entries.len());
    }
    assert!(counts[0] > 0 && counts[0] == counts[1]);
    assert_eq!(lab.scan_items().await.len(), counts[0] + counts[1], "the same resources, indexed once per bucket");
    let east = StateAt { bucket: Some("tfstate-east"), key: "app.tfstate", workspace: "default" };
    let west = StateAt { bucket: Some("tfstate-west"), key: "app.tfstate", workspace: "default" };
    assert_eq!(lab.table.entries_for_state(east).await.expect("east").len(), counts[0]);
    // The east state is deleted: its entries go, the west state's stay.
    assert_eq!(lab.table.remove_state_entries(east, &[], 0, false).await.expect("remove east"), counts[0]);
    assert_eq!(lab.table.entries_for_state(east).await.expect("east").len(), 0);
    assert_eq!(lab.table.entries_for_state(west).await.expect("west").len(), counts[1], "the other bucket's state lost its entries");
    assert_eq!(lab.scan_items().await.len(), counts[1]);
}

/// Issue 12 item 4: an older state version written to the index after a newer one (a slow or
/// retried invocation that passed its "is it current?" check before the newer write was
/// indexed) changes nothing: the newer version's entries stand, and its removal of what the
/// older version lacks spares the newer version's entries.
#[tokio::test]
async fn an_older_state_version_written_last_does_not_replace_the_newer_one() {
    let Some(lab) = Lab::start("index-order", TableOptions::default()).await else { return };
    let index = sample_index();
    let key = "app.tfstate";
    let newer: Vec<IndexEntry> = index.entries().iter().filter(|e| e.state.key == key).cloned().collect();
    assert!(newer.len() > 3);
    // The older version: serial one lower, without the newer version's last two entries
    // (resources the newer one added).
    let old_ref =
        std::sync::Arc::new(driftwatch_core::finding::StateRef { serial: newer[0].state.serial - 1, ..(*newer[0].state).clone() });
    let older: Vec<IndexEntry> = newer[..newer.len() - 2].iter().map(|e| IndexEntry { state: old_ref.clone(), ..e.clone() }).collect();
    let (t_old, t_new) = (1_763_640_000_000_i64, 1_763_640_060_000_i64);
    let written = lab.table.put_state_entries(&newer[0].state.clone(), &newer, t_new).await.expect("the newer version");
    let keep_new: Vec<ItemKey> = newer.iter().map(ItemKey::of).collect();
    lab.table.remove_state_entries(at(key, "default"), &keep_new, t_new, false).await.expect("remove for the newer");
    // The older write's invocation finishes last.
    assert_eq!(lab.table.put_state_entries(&old_ref, &older, t_old).await.expect("the older version"), 0, "no older entry written");
    let keep_old: Vec<ItemKey> = older.iter().map(ItemKey::of).collect();
    assert_eq!(lab.table.remove_state_entries(at(key, "default"), &keep_old, t_old, false).await.expect("remove for the older"), 0);
    let stored = lab.table.entries_for_state(at(key, "default")).await.expect("entries");
    assert_eq!(stored.len(), written);
    assert!(stored.iter().all(|e| e.state.serial == newer[0].state.serial), "the index went back to the older serial");
    // A write newer still replaces them, and removes what it lacks.
    let t_next = t_new + 60_000;
    let next_ref =
        std::sync::Arc::new(driftwatch_core::finding::StateRef { serial: newer[0].state.serial + 1, ..(*newer[0].state).clone() });
    let next: Vec<IndexEntry> = newer[1..].iter().map(|e| IndexEntry { state: next_ref.clone(), ..e.clone() }).collect();
    assert_eq!(lab.table.put_state_entries(&next_ref, &next, t_next).await.expect("next"), next.len());
    let keep_next: Vec<ItemKey> = next.iter().map(ItemKey::of).collect();
    assert_eq!(lab.table.remove_state_entries(at(key, "default"), &keep_next, t_next, false).await.expect("remove"), 1);
}

/// Items an older build wrote have no `state_at`, so the state index does not list them: the
/// state watcher's first write after the upgrade finds them with a scan (`scan = true`).
#[tokio::test]
async fn items_written_before_the_state_index_are_found_by_a_scan() {
    let Some(lab) = Lab::start("index-legacy", TableOptions::default()).await else { return };
    let index = sample_index();
    let key = "app.tfstate";
    let entries: Vec<&IndexEntry> = index.entries().iter().filter(|e| e.state.key == key).collect();
    for e in &entries {
        let mut item = driftwatch_aws::index_table::encode(e).expect("encode");
        assert!(item.remove("state_at").is_some(), "today's items carry state_at");
        lab.client().put_item().table_name(TABLE).set_item(Some(item)).send().await.expect("put");
    }
    assert_eq!(lab.table.remove_state_entries(at(key, "default"), &[], 0, false).await.expect("by the state index"), 0);
    assert_eq!(lab.table.remove_state_entries(at(key, "default"), &[], 0, true).await.expect("by a scan"), entries.len());
    assert!(lab.scan_items().await.is_empty());
    // Today's items: the state index lists them.
    let today: Vec<IndexEntry> = entries.iter().map(|e| (*e).clone()).collect();
    lab.table.put_state_entries(&today[0].state.clone(), &today, 0).await.expect("put");
    assert_eq!(lab.table.remove_state_entries(at(key, "default"), &[], 0, false).await.expect("by the state index"), entries.len());
}
