//! The DynamoDB findings table against moto server, through the real AWS SDK: conditional
//! puts deduplicating at-least-once deliveries, optimistic concurrency on `version`, batch
//! writes of more than one chunk, the paginated query of open findings on the status index,
//! and no secret of the sample states in any stored item.
//!
//! Every scenario asserts on what is actually in moto's DynamoDB (a raw, paginated `Scan`),
//! not only on what the adapter reports. Each test starts its own moto server ([`Moto`]);
//! without `moto_server` the tests fail under `CI=true` and are skipped loudly elsewhere.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use driftwatch_aws::findings_table::STATUS_INDEX;
use driftwatch_aws::{dynamodb_client, DynamoError, FindingsTable, Inserted, TableOptions};
use driftwatch_core::drift::{self, ScanPolicy};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::lifecycle::{self, FindingRecord, LifecycleStatus, Resolution};
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::state::{self, StateLocation};
use driftwatch_core::{Catalog, Finding, Redactor};
use driftwatch_tests::{workspace_root, Moto};
use std::collections::{BTreeMap, HashMap};

const TABLE: &str = "driftwatch-findings";
const NOW: &str = "2026-11-22T12:00:00Z";
/// The CLI's default digest salt.
const SALT: &str = "driftwatch/v1/default-salt";
/// Every secret planted in the sample states (as in `crates/core/tests/support`).
const SECRETS: [&str; 4] = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];

/// A moto server with the findings table (and its status index), and the table adapter.
struct Lab {
    table: FindingsTable,
    _moto: Moto,
}

impl Lab {
    async fn start(name: &str, options: TableOptions) -> Option<Lab> {
        let moto = Moto::start(name)?;
        let sdk = moto.sdk_config();
        let table = FindingsTable::new(dynamodb_client(&sdk), TABLE, options);
        let lab = Lab { table, _moto: moto };
        lab.create_table().await;
        Some(lab)
    }

    fn client(&self) -> &Client {
        self.table.client()
    }

    async fn create_table(&self) {
        let attr = |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().expect("attr");
        let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().expect("key");
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(STATUS_INDEX)
            .key_schema(key("status", KeyType::Hash))
            .key_schema(key("last_seen", KeyType::Range))
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .expect("gsi");
        self.client()
            .create_table()
            .table_name(TABLE)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("fingerprint"))
            .attribute_definitions(attr("status"))
            .attribute_definitions(attr("last_seen"))
            .key_schema(key("fingerprint", KeyType::Hash))
            .global_secondary_indexes(gsi)
            .send()
            .await
            .expect("create the findings table");
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
}

/// `samples/sensitive` scanned as `driftwatch scan --now NOW` does.
fn sensitive_findings() -> Vec<Finding> {
    let root = workspace_root();
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(SALT.as_bytes());
    let mut index = ManagedIndex::default();
    let path = "samples/sensitive/secret.tfstate";
    let st = state::parse_state(&std::fs::read(root.join(path)).expect("state"), StateLocation::local(path), &catalog, &redactor)
        .expect("parse state");
    index.add_state(st, &catalog);
    let mut inv = LiveInventory::default();
    let (items, _) =
        live::parse_document(&std::fs::read(root.join("samples/sensitive/live.json")).expect("live"), &redactor).expect("live");
    for it in items {
        inv.insert(it);
    }
    let policy = ScanPolicy { regulated_tag: Some(("data-classification".into(), "phi".into())) };
    drift::scan(&index, &inv, &catalog, &redactor, &policy, now()).findings
}

fn now() -> DateTime<Utc> {
    NOW.parse().expect("now")
}

/// The record of a first observation of `f`.
fn record(f: &Finding) -> FindingRecord {
    lifecycle::observe(None, f, now(), Duration::minutes(15), &mut BTreeMap::new()).0
}

/// `n` distinct records (fingerprints `fp-000`…), seen a minute apart; every third resolved.
fn many(n: usize) -> Vec<FindingRecord> {
    let base = sensitive_findings().into_iter().next().expect("a finding");
    (0..n)
        .map(|i| {
            let mut f = base.clone();
            f.fingerprint = format!("fp-{i:03}");
            f.first_seen = now() + Duration::minutes(i as i64);
            f.last_seen = f.first_seen;
            let r = record(&f);
            if i % 3 == 2 {
                lifecycle::resolve(&r, f.last_seen, Resolution::LiveMatches)
            } else {
                r
            }
        })
        .collect()
}

fn attr<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_else(|| panic!("attribute {name} in {item:?}"))
}

#[tokio::test]
async fn the_same_fingerprint_twice_is_one_item() {
    let Some(lab) = Lab::start("dynamo-dedup", TableOptions::default()).await else { return };
    let first = record(&sensitive_findings()[0]);
    assert_eq!(lab.table.put_if_new(&first).await.expect("put"), Inserted::Created);
    let mut replay = first.clone();
    replay.occurrences = 2;
    assert_eq!(lab.table.put_if_new(&replay).await.expect("put again"), Inserted::AlreadyPresent);

    let items = lab.scan_items().await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(attr(item, "fingerprint"), first.finding.fingerprint);
    assert_eq!(attr(item, "status"), "open");
    assert_eq!(attr(item, "severity"), first.finding.severity.as_str());
    assert_eq!(attr(item, "rule"), first.finding.rule.id());
    assert_eq!(attr(item, "last_seen"), "2026-11-22T12:00:00.000Z");
    assert_eq!(item.get("version").and_then(|v| v.as_n().ok()).map(String::as_str), Some("1"));
    let stored = lab.table.get(&first.finding.fingerprint).await.expect("get").expect("present");
    assert_eq!((stored.record, stored.version), (first, 1), "the replay wrote nothing");
    assert_eq!(lab.table.get("no-such-fingerprint").await.expect("get"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_conflict_on_version() {
    let Some(lab) = Lab::start("dynamo-occ", TableOptions::default()).await else { return };
    let rec = record(&sensitive_findings()[0]);
    let fp = rec.finding.fingerprint.clone();
    lab.table.put_if_new(&rec).await.expect("put");
    let read = lab.table.get(&fp).await.expect("get").expect("present");
    assert_eq!(read.version, 1);

    // Two writers that both read version 1, in flight at the same time.
    let (mut a, mut b) = (read.record.clone(), read.record.clone());
    a.occurrences = 2;
    b.occurrences = 3;
    let (ta, tb) = (lab.table.clone(), lab.table.clone());
    let ha = tokio::spawn(async move { ta.update(&a, 1).await });
    let hb = tokio::spawn(async move { tb.update(&b, 1).await });
    let ra = ha.await.expect("task a");
    let rb = hb.await.expect("task b");
    let (won, lost) = match (&ra, &rb) {
        (Ok(2), Err(_)) => (2u64, &rb),
        (Err(_), Ok(2)) => (3u64, &ra),
        other => panic!("exactly one update must win: {other:?}"),
    };
    assert!(matches!(lost, Err(DynamoError::VersionConflict { expected: 1, .. })), "{lost:?}");
    let now = lab.table.get(&fp).await.expect("get").expect("present");
    assert_eq!((now.version, now.record.occurrences), (2, won), "the winner's write is stored");

    // A stale version stays refused; the current one is accepted.
    let mut c = now.record.clone();
    c.occurrences = 9;
    assert!(matches!(lab.table.update(&c, 1).await, Err(DynamoError::VersionConflict { .. })));
    assert_eq!(lab.table.update(&c, 2).await.expect("update at the current version"), 3);
    assert_eq!(lab.table.get(&fp).await.expect("get").expect("present").record.occurrences, 9);
    // Updating an absent item is a conflict too (nothing to be at that version).
    let mut ghost = c.clone();
    ghost.finding.fingerprint = "absent".into();
    assert!(matches!(lab.table.update(&ghost, 1).await, Err(DynamoError::VersionConflict { .. })));
    assert_eq!(lab.scan_items().await.len(), 1);
}

#[tokio::test]
async fn batch_of_sixty_is_written_and_open_ones_list_across_pages() {
    let Some(lab) = Lab::start("dynamo-batch", TableOptions { page_size: Some(7), ..TableOptions::default() }).await else { return };
    let records = many(60);
    assert_eq!(lab.table.put_batch(&records).await.expect("batch"), 60);
    let items = lab.scan_items().await;
    assert_eq!(items.len(), 60, "every record written");
    let mut fps: Vec<&str> = items.iter().map(|i| attr(i, "fingerprint")).collect();
    fps.sort();
    assert_eq!(fps, records.iter().map(|r| r.finding.fingerprint.as_str()).collect::<Vec<_>>());

    // The first page of the index query is short and says there is more.
    let first = lab
        .client()
        .query()
        .table_name(TABLE)
        .index_name(STATUS_INDEX)
        .key_condition_expression("#s = :open")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":open", AttributeValue::S("open".into()))
        .limit(7)
        .send()
        .await
        .expect("query");
    assert_eq!(first.items().len(), 7);
    assert!(first.last_evaluated_key().is_some(), "more than one page");

    let open = lab.table.list_open().await.expect("list open");
    let expected: Vec<&FindingRecord> = records.iter().filter(|r| r.status == LifecycleStatus::Open).collect();
    assert_eq!(open.len(), 40);
    assert_eq!(open.iter().map(|s| &s.record).collect::<Vec<_>>(), expected, "all open ones, oldest last_seen first");
    assert!(open.iter().all(|s| s.version == 1));

    // Duplicates in one batch: the last one wins, one item.
    let mut again = records[0].clone();
    again.occurrences = 5;
    assert_eq!(lab.table.put_batch(&[records[0].clone(), again.clone()]).await.expect("batch"), 1);
    assert_eq!(lab.table.get(&again.finding.fingerprint).await.expect("get").expect("present").record, again);
    assert_eq!(lab.scan_items().await.len(), 60);
}

#[tokio::test]
async fn no_secret_of_the_sample_states_is_stored() {
    let Some(lab) = Lab::start("dynamo-secrets", TableOptions::default()).await else { return };
    let findings = sensitive_findings();
    assert!(!findings.is_empty(), "the sensitive sample has findings");
    let (single, rest) = findings.split_at(1);
    assert_eq!(lab.table.put_if_new(&record(&single[0])).await.expect("put"), Inserted::Created);
    let records: Vec<FindingRecord> = rest.iter().map(record).collect();
    lab.table.put_batch(&records).await.expect("batch");
    let items = lab.scan_items().await;
    let mut distinct: Vec<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(items.len(), distinct.len());
    let text = format!("{items:?}");
    for s in SECRETS {
        assert!(!text.contains(s), "secret {s} stored in DynamoDB");
    }
    assert!(text.contains("sha256:"), "sensitive values are stored as digests");
}

#[tokio::test]
async fn a_missing_table_is_named() {
    let Some(lab) = Lab::start("dynamo-missing", TableOptions::default()).await else { return };
    let other = FindingsTable::new(lab.client().clone(), "no-such-table", TableOptions::default());
    let e = other.get("x").await.unwrap_err();
    assert!(matches!(e, DynamoError::NoSuchTable { .. }), "{e:?}");
    assert!(e.to_string().contains("\"no-such-table\" does not exist"), "{e}");
}

/// The quiet period's claim in the findings table (the ledger's `quiet` items): a conditional
/// `PutItem`, so of two instances claiming one resource's window, one wins; its owner may claim
/// again (a retry); anyone may once the window is over. Read back as written.
#[tokio::test]
async fn a_quiet_period_claim_is_won_once_per_window() {
    use driftwatch_core::ports::Ledger;
    let Some(lab) = Lab::start("ledger-claims", TableOptions::default()).await else { return };
    let ledger = driftwatch_aws::LedgerTable::new(lab.client().clone(), TABLE);
    let t: DateTime<Utc> = NOW.parse().unwrap();
    let window = Duration::minutes(15);
    let arn = "arn:aws:s3:::stmarys-ehr-prod-phi-imaging-123456789012";
    assert!(Ledger::claim(&ledger, "quiet", arn, "finding-a", t, window).await.expect("claim"), "the first claim wins");
    assert!(
        !Ledger::claim(&ledger, "quiet", arn, "finding-b", t + Duration::minutes(1), window).await.expect("claim"),
        "within the window, another loses"
    );
    assert!(
        Ledger::claim(&ledger, "quiet", arn, "finding-a", t + Duration::minutes(2), window).await.expect("claim"),
        "its owner may claim again"
    );
    assert_eq!(Ledger::claimed(&ledger, "quiet", arn).await.expect("read"), Some((t + Duration::minutes(2), "finding-a".to_string())));
    assert!(Ledger::claim(&ledger, "quiet", arn, "finding-b", t + Duration::minutes(17), window).await.expect("claim"), "after the window");
    // Two instances at once: exactly one wins.
    let (x, y) = tokio::join!(
        Ledger::claim(&ledger, "quiet", "other-resource", "finding-x", t, window),
        Ledger::claim(&ledger, "quiet", "other-resource", "finding-y", t, window)
    );
    assert_eq!(u8::from(x.expect("x")) + u8::from(y.expect("y")), 1, "one of two concurrent claims wins");
}

/// The order of a ledger item moves only forward on the real conditional `PutItem`: a lower
/// order is refused (nothing written), an equal (a retry) or higher one is written, and the
/// value reads back.
#[tokio::test]
async fn a_ledger_order_only_advances() {
    use driftwatch_core::ports::Ledger;
    let Some(lab) = Lab::start("ledger-advance", TableOptions::default()).await else { return };
    let ledger = driftwatch_aws::LedgerTable::new(lab.client().clone(), TABLE);
    let key = "AWS::S3::Bucket#phi";
    assert!(Ledger::advance(&ledger, "cfg", key, 6, &serde_json::json!(6)).await.expect("advance"), "the first order is written");
    assert!(!Ledger::advance(&ledger, "cfg", key, 5, &serde_json::json!(5)).await.expect("advance"), "a lower order is refused");
    assert!(
        Ledger::advance(&ledger, "cfg", key, 6, &serde_json::json!(6)).await.expect("advance"),
        "the same order again (a retry) is written"
    );
    assert_eq!(Ledger::get(&ledger, "cfg", key).await.expect("read"), Some(serde_json::json!(6)));
    assert!(Ledger::advance(&ledger, "cfg", key, 7, &serde_json::json!(7)).await.expect("advance"));
    assert_eq!(Ledger::get(&ledger, "cfg", key).await.expect("read"), Some(serde_json::json!(7)));
}

/// A finding too big for DynamoDB's 400 KB item (thousands of changed attributes) is stored
/// summarised — its first changes, and how many more its evidence record holds — instead of
/// failing on every retry.
#[tokio::test]
async fn a_finding_over_the_item_limit_is_stored_summarised() {
    let Some(lab) = Lab::start("findings-large", TableOptions::default()).await else { return };
    let mut f = sensitive_findings().into_iter().next().expect("a finding");
    f.fingerprint = "fp-large".into();
    for i in 0..6_000 {
        f.changes.push(driftwatch_core::finding::Change {
            path: format!("tags.generated_{i:05}"),
            desired: serde_json::Value::String("x".repeat(40)),
            actual: serde_json::Value::String("y".repeat(40)),
        });
    }
    let rec = record(&f);
    assert!(serde_json::to_vec(&rec).unwrap().len() > 400 * 1024, "the full record is over the limit");
    assert_eq!(lab.table.put_if_new(&rec).await.expect("stored"), Inserted::Created);
    let stored = lab.table.get("fp-large").await.expect("get").expect("stored");
    let changes = &stored.record.finding.changes;
    assert_eq!(changes.last().map(|c| c.path.as_str()), Some(driftwatch_core::alert::MORE_CHANGES));
    assert!(changes.len() > 100 && changes.len() < f.changes.len(), "{} of {} changes kept", changes.len(), f.changes.len());
    // Updates at the version read keep working on the summarised record.
    let mut again = stored.record.clone();
    again.occurrences += 1;
    assert_eq!(lab.table.update(&again, stored.version).await.expect("update"), stored.version + 1);
}
