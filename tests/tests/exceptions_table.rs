//! The exceptions table against moto server, through the real AWS SDK: the sample exceptions
//! file imported and loaded back is exactly what the core parses from the file (ids, lines,
//! validity, problems), a malformed item becomes an invalid exception without hiding the
//! others, and the notice ledger records each notice once — also when several runs record
//! the same notices at the same time, and across a re-import.
//!
//! Each test starts its own moto server ([`Moto`]); without `moto_server` the tests fail under
//! `CI=true` and are skipped loudly elsewhere.

use aws_sdk_dynamodb::types::{AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use chrono::{DateTime, Utc};
use driftwatch_aws::exceptions_table::NOTICES_ATTR;
use driftwatch_aws::{dynamodb_client, ExceptionsTable, ExceptionsTableError};
use driftwatch_core::exceptions::{notices, Exceptions, NoticeLedger, Threshold, DEFAULT_MAX_DAYS, DEFAULT_THRESHOLDS};
use driftwatch_core::policy::ExceptionPolicy;
use driftwatch_tests::{workspace_root, Moto};

const TABLE: &str = "driftwatch-exceptions";

struct Lab {
    table: ExceptionsTable,
    _moto: Moto,
}

impl Lab {
    async fn start(name: &str) -> Option<Lab> {
        let moto = Moto::start(name)?;
        let sdk = moto.sdk_config();
        let table = ExceptionsTable::new(dynamodb_client(&sdk), TABLE);
        table
            .client()
            .create_table()
            .table_name(TABLE)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
            )
            .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
            .send()
            .await
            .expect("create the exceptions table");
        Some(Lab { table, _moto: moto })
    }

    async fn put_raw(&self, item: &[(&str, AttributeValue)]) {
        let mut req = self.table.client().put_item().table_name(TABLE);
        for (k, v) in item {
            req = req.item(*k, v.clone());
        }
        req.send().await.expect("put item");
    }
}

fn sample() -> String {
    std::fs::read_to_string(workspace_root().join("samples/exceptions/exceptions.toml")).expect("sample exceptions")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The time samples/README.md evaluates the sample exceptions at.
fn now() -> DateTime<Utc> {
    at("2026-11-22T12:00:00Z")
}

#[tokio::test]
async fn imported_sample_loads_exactly_as_the_file_parses() {
    let Some(lab) = Lab::start("exceptions-load").await else { return };
    let text = sample();
    let file = Exceptions::parse(&text, DEFAULT_MAX_DAYS).expect("sample parses");
    assert_eq!(lab.table.put_from_toml(&text).await.expect("import"), file.exceptions.len());
    let loaded = lab.table.load(&ExceptionPolicy { max_days: DEFAULT_MAX_DAYS, ..Default::default() }).await.expect("load");
    assert_eq!(loaded, file, "same exceptions, order, lines, validity and problems as the file");
    // The sample has valid and invalid exceptions: the comparison covers both.
    assert!(loaded.exceptions.iter().any(|e| e.is_valid()) && loaded.exceptions.iter().any(|e| !e.is_valid()));
    let over_long = loaded.exceptions.iter().find(|e| e.id == "EXC-2026-040").expect("EXC-2026-040");
    assert!(over_long.problems.iter().any(|p| p.field == "expires" && p.message.contains("longer than the 90 days")), "{over_long:?}");
    // A stricter policy is applied at load time, as it would be to the file.
    assert_eq!(
        lab.table.load(&ExceptionPolicy { max_days: 30, ..Default::default() }).await.expect("load"),
        Exceptions::parse(&text, 30).unwrap()
    );

    // A file that does not parse is refused with its line; duplicate ids cannot be keyed.
    let e = lab.table.put_from_toml("[[exception]]\nid = 3\n").await.unwrap_err();
    assert!(matches!(e, ExceptionsTableError::File(_)) && e.to_string().starts_with("exceptions file: line 2: id:"), "{e}");
    let dup = "[[exception]]\nid = \"X\"\n\n[[exception]]\nid = \"X\"\n";
    let e = lab.table.put_from_toml(dup).await.unwrap_err().to_string();
    assert!(e.contains("\"X\" (line 4) is used twice"), "{e}");
    assert_eq!(
        lab.table.load(&ExceptionPolicy { max_days: DEFAULT_MAX_DAYS, ..Default::default() }).await.expect("load"),
        file,
        "refused imports wrote nothing"
    );
}

#[tokio::test]
async fn a_malformed_item_is_an_invalid_exception_and_hides_nothing() {
    let Some(lab) = Lab::start("exceptions-malformed").await else { return };
    let text = sample();
    lab.table.put_from_toml(&text).await.expect("import");
    let s = |v: &str| AttributeValue::S(v.into());
    // Written by hand: `rules` a number, an attribute the file format does not have, no line.
    lab.put_raw(&[("id", s("HAND-1")), ("rules", AttributeValue::N("7".into())), ("reason", s("r"))]).await;
    lab.put_raw(&[("id", s("HAND-2")), ("colour", s("blue")), ("reason", s("r"))]).await;
    let loaded = lab
        .table
        .load(&ExceptionPolicy { max_days: DEFAULT_MAX_DAYS, ..Default::default() })
        .await
        .expect("one bad item does not fail the load");
    let file = Exceptions::parse(&text, DEFAULT_MAX_DAYS).unwrap();
    assert_eq!(loaded.exceptions.len(), file.exceptions.len() + 2);
    assert_eq!(&loaded.exceptions[..file.exceptions.len()], &file.exceptions[..], "the imported ones first, unchanged");
    let hand: Vec<_> = loaded.exceptions[file.exceptions.len()..].iter().collect();
    assert_eq!(hand.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["HAND-1", "HAND-2"]);
    for e in &hand {
        assert!(!e.is_valid() && !e.is_active(now()), "{e:?}");
        assert!(e.problems[0].message.contains(&format!("item \"{}\" of table \"{TABLE}\"", e.id)), "{:?}", e.problems);
    }
    assert_eq!(hand[0].problems[0].field, "rules");
    assert_eq!(hand[1].problems[0].field, "colour");
    // They are reported as exception.invalid findings like any invalid exception.
    let findings = loaded.findings(&driftwatch_core::Catalog::builtin(), now());
    for id in ["HAND-1", "HAND-2"] {
        assert!(findings.iter().any(|f| f.rule == driftwatch_core::Rule::ExceptionInvalid && f.resource.id == id), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_notice_is_recorded_once_across_runs() {
    let Some(lab) = Lab::start("exceptions-notices").await else { return };
    let text = sample();
    lab.table.put_from_toml(&text).await.expect("import");
    let exceptions = lab.table.load(&ExceptionPolicy { max_days: DEFAULT_MAX_DAYS, ..Default::default() }).await.expect("load");
    assert_eq!(lab.table.sent_notices().await.expect("ledger"), NoticeLedger::default(), "nothing sent yet");
    let due = notices(&exceptions, now(), &DEFAULT_THRESHOLDS, &NoticeLedger::default());
    assert!(due.len() >= 2, "the sample has an expiring and an expired exception: {due:?}");
    assert!(due.iter().any(|n| n.threshold == Threshold::Expired) && due.iter().any(|n| n.threshold != Threshold::Expired));

    // Several runs record the same notices at once: each notice is newly recorded by one.
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (table, due) = (lab.table.clone(), due.clone());
            tokio::spawn(async move { table.record_notices(&due).await.expect("record").len() })
        })
        .collect();
    let mut recorded: Vec<usize> = Vec::new();
    for run in runs {
        recorded.push(run.await.expect("run"));
    }
    assert_eq!(recorded.iter().sum::<usize>(), due.len(), "each notice recorded exactly once: {recorded:?}");
    // A replay records nothing.
    assert!(lab.table.record_notices(&due).await.expect("record again").is_empty());

    let mut expected = NoticeLedger::default();
    expected.record(&due);
    let ledger = lab.table.sent_notices().await.expect("ledger");
    assert_eq!(ledger, expected);
    for n in &due {
        assert!(ledger.was_sent(&n.exception, n.expires, n.threshold), "{}", n.exception);
    }
    assert!(notices(&exceptions, now(), &DEFAULT_THRESHOLDS, &ledger).is_empty(), "nothing is due again");

    // Re-importing the file keeps the ledger; a later threshold is still recorded once.
    lab.table.put_from_toml(&text).await.expect("re-import");
    assert_eq!(lab.table.sent_notices().await.expect("ledger"), expected);
    let later = notices(&exceptions, at("2026-12-31T00:00:00Z"), &DEFAULT_THRESHOLDS, &ledger);
    assert!(!later.is_empty() && later.iter().all(|n| n.threshold == Threshold::Expired));
    assert_eq!(lab.table.record_notices(&later).await.expect("record").len(), later.len());
    assert!(lab.table.record_notices(&later).await.expect("record").is_empty());
    // The ledger lives on the exception item, as a string set.
    let item = lab
        .table
        .client()
        .get_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S(later[0].exception.clone()))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert!(item[NOTICES_ATTR].as_ss().expect("a string set").iter().any(|e| e.ends_with("#expired")));

    // A notice for an exception that is not in the table is not recorded (and no item appears).
    let mut ghost = due[0].clone();
    ghost.exception = "EXC-NOT-THERE".into();
    assert!(lab.table.record_notices(&[ghost]).await.expect("record").is_empty());
    assert_eq!(
        lab.table.load(&ExceptionPolicy { max_days: DEFAULT_MAX_DAYS, ..Default::default() }).await.expect("load").exceptions.len(),
        exceptions.exceptions.len()
    );
}

#[tokio::test]
async fn a_missing_table_is_a_one_line_error() {
    let Some(moto) = Moto::start("exceptions-missing") else { return };
    let table = ExceptionsTable::new(dynamodb_client(&moto.sdk_config()), "no-such-table");
    let e = table.load(&ExceptionPolicy::default()).await.unwrap_err();
    assert!(matches!(e, ExceptionsTableError::NoSuchTable { .. }), "{e:?}");
    assert_eq!(e.to_string(), "DynamoDB table \"no-such-table\" does not exist (or is not in this region/account)");
}
