//! The SNS notifier against moto server, through the real AWS SDK: alerts for two findings
//! of the samples (one critical, one medium) published to a topic with two SQS subscribers,
//! one without a filter and one with an attribute filter policy
//! (`{"severity": ["critical", "high"]}`, `FilterPolicyScope` `MessageAttributes`), raw
//! delivery off. Asserts on what is actually in the queues: the SNS envelope's `Subject`,
//! `Message` (the `default` entry of the `MessageStructure=json` message: the finding JSON)
//! and `MessageAttributes`, that the filtered queue gets only the critical alert, and that no
//! secret of the sample states is in any received message.
//!
//! Each test starts its own moto server on a free loopback port ([`Moto`]); without
//! `moto_server` the tests fail under `CI=true` and are skipped loudly elsewhere.

use aws_sdk_sqs::types::QueueAttributeName;
use driftwatch_aws::{sns_client, NotifyError, SnsNotifier};
use driftwatch_core::alert::{Alert, SUBJECT_MAX};
use driftwatch_core::drift::{self, ScanPolicy};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::state::{self, StateLocation};
use driftwatch_core::{Catalog, Finding, Redactor, Rule};
use driftwatch_tests::{workspace_root, Moto};
use serde_json::Value;

const ENVIRONMENT: &str = "prod";
const ACCOUNT: &str = "123456789012";
/// Every secret planted in the sample states (`samples/states`, `samples/sensitive`).
const SECRETS: [&str; 4] = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];
const FILTER_POLICY: &str = r#"{"severity": ["critical", "high"]}"#;

/// `samples/states` against `samples/live`, through the library as `driftwatch scan` does.
fn sample_findings() -> Vec<Finding> {
    let root = workspace_root();
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"driftwatch/v1/default-salt");
    let mut index = ManagedIndex::default();
    for s in ["samples/states/app.tfstate", "samples/states/data.tfstate", "samples/states/network.tfstate"] {
        let bytes = std::fs::read(root.join(s)).expect("state");
        // The raw state does hold the planted secret: the test below is meaningful.
        if s.ends_with("data.tfstate") {
            assert!(String::from_utf8_lossy(&bytes).contains(SECRETS[0]), "{s} no longer plants {}", SECRETS[0]);
        }
        let st = state::parse_state(&bytes, StateLocation::local(s), &catalog, &redactor).expect("parse state");
        index.add_state(st, &catalog);
    }
    let mut inv = LiveInventory::default();
    let bytes = std::fs::read(root.join("samples/live/config-snapshot.json")).expect("live");
    let (items, _) = live::parse_document(&bytes, &redactor).expect("parse live");
    for it in items {
        inv.insert(it);
    }
    let policy = ScanPolicy { regulated_tag: Some(("data-classification".into(), "phi".into())) };
    drift::scan(&index, &inv, &catalog, &redactor, &policy, "2026-11-22T12:00:00Z".parse().expect("now")).findings
}

/// A moto server, an SNS and an SQS client.
struct Lab {
    notifier: SnsNotifier,
    sqs: aws_sdk_sqs::Client,
    _moto: Moto,
}

impl Lab {
    /// Moto and a topic named `topic`; the notifier publishes to it.
    async fn start(name: &str, topic: &str) -> Option<Lab> {
        let moto = Moto::start(name)?;
        let sdk = moto.sdk_config();
        let sns = sns_client(&sdk);
        let arn = sns.create_topic().name(topic).send().await.expect("create topic").topic_arn().expect("topic arn").to_string();
        let notifier = SnsNotifier::new(sns, &arn, ENVIRONMENT).expect("topic arn").with_account(Some(ACCOUNT));
        Some(Lab { notifier, sqs: aws_sdk_sqs::Client::new(&sdk), _moto: moto })
    }

    fn sns(&self) -> &aws_sdk_sns::Client {
        self.notifier.client()
    }

    fn topic(&self) -> &str {
        self.notifier.topic_arn()
    }

    /// A queue subscribed to the topic (raw delivery off), optionally with an attribute
    /// filter policy. Returns (queue URL, subscription ARN).
    async fn subscribe_queue(&self, name: &str, filter: Option<&str>) -> (String, String) {
        let url = self.sqs.create_queue().queue_name(name).send().await.expect("create queue").queue_url().expect("url").to_string();
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let queue_arn = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).expect("queue arn").clone();
        let mut req =
            self.sns().subscribe().topic_arn(self.topic()).protocol("sqs").endpoint(&queue_arn).attributes("RawMessageDelivery", "false");
        if let Some(policy) = filter {
            req = req.attributes("FilterPolicy", policy).attributes("FilterPolicyScope", "MessageAttributes");
        }
        let sub = req.send().await.expect("subscribe").subscription_arn().expect("subscription arn").to_string();
        (url, sub)
    }

    /// Every message in the queue (envelopes parsed), read until the queue is empty.
    async fn drain(&self, url: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let o =
                self.sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(0).send().await.expect("receive");
            let messages = o.messages();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let body = m.body().expect("body");
                for s in SECRETS {
                    assert!(!body.contains(s), "secret {s} in a message received on {url}: {body}");
                }
                out.push(serde_json::from_str(body).unwrap_or_else(|e| panic!("SNS envelope is JSON ({e}): {body}")));
                let handle = m.receipt_handle().expect("receipt handle");
                self.sqs.delete_message().queue_url(url).receipt_handle(handle).send().await.expect("delete message");
            }
        }
        out
    }
}

fn pick<'a>(fs: &'a [Finding], rule: Rule, address_or_id: &str) -> &'a Finding {
    fs.iter()
        .find(|f| f.rule == rule && (f.resource.address.as_deref() == Some(address_or_id) || f.resource.id == address_or_id))
        .unwrap_or_else(|| panic!("no {rule} finding for {address_or_id} in the samples"))
}

/// The envelope carries the alert: notification, topic, subject, the `default` message (the
/// finding JSON) and the four String message attributes.
fn assert_envelope(envelope: &Value, topic: &str, finding: &Finding, message_id: &str) {
    let alert = Alert::new(finding, ENVIRONMENT).with_account(Some(ACCOUNT));
    assert_eq!(envelope["Type"], "Notification", "{envelope:#}");
    assert_eq!(envelope["TopicArn"], topic);
    assert_eq!(envelope["MessageId"], message_id);
    let subject = envelope["Subject"].as_str().expect("Subject");
    assert_eq!(subject, alert.subject());
    assert!(subject.len() <= SUBJECT_MAX && subject.is_ascii(), "{subject}");
    let message = envelope["Message"].as_str().expect("Message");
    assert_eq!(message, serde_json::to_string(finding).expect("finding json"), "SQS gets the `default` entry: the finding JSON");
    let back: Finding = serde_json::from_str(message).expect("the message is a finding");
    assert_eq!(&back, finding);
    let attrs = envelope["MessageAttributes"].as_object().expect("MessageAttributes");
    let mut expected = vec![
        ("severity", finding.severity.as_str().to_string()),
        ("rule", finding.rule.id().to_string()),
        ("account", ACCOUNT.to_string()),
        ("environment", ENVIRONMENT.to_string()),
    ];
    // The region, when the finding names one (an S3 bucket's does not).
    expected.extend(finding.resource.region.clone().map(|r| ("region", r)));
    assert_eq!(attrs.len(), expected.len(), "{attrs:#?}");
    for (name, value) in expected {
        assert_eq!(attrs[name], serde_json::json!({"Type": "String", "Value": value}), "attribute {name}");
    }
}

#[tokio::test]
async fn alerts_reach_sqs_subscribers_and_filter_policies_select_on_severity() {
    let Some(lab) = Lab::start("notify-sns", "driftwatch-alerts").await else { return };
    let findings = sample_findings();
    let critical = pick(&findings, Rule::DriftChanged, "aws_db_instance.ehr_primary");
    let medium = pick(&findings, Rule::DriftUnmanaged, "stmarys-ehr-export-tmp-20261118");
    assert_eq!((critical.severity.as_str(), medium.severity.as_str()), ("critical", "medium"));
    assert!(medium.resource.arn.as_deref().is_some_and(|a| !a.contains(ACCOUNT)), "an S3 bucket ARN names no account");

    let (all_url, _) = lab.subscribe_queue("alerts-all", None).await;
    let (severe_url, severe_sub) = lab.subscribe_queue("alerts-severe", Some(FILTER_POLICY)).await;
    let attrs = lab.sns().get_subscription_attributes().subscription_arn(&severe_sub).send().await.expect("subscription attributes");
    let attrs = attrs.attributes().expect("attributes");
    assert_eq!(attrs.get("FilterPolicyScope").map(String::as_str), Some("MessageAttributes"));
    assert_eq!(attrs.get("RawMessageDelivery").map(String::as_str), Some("false"));
    let policy: Value = serde_json::from_str(attrs.get("FilterPolicy").expect("FilterPolicy")).expect("policy JSON");
    assert_eq!(policy, serde_json::json!({"severity": ["critical", "high"]}));

    lab.notifier.check().await.expect("the topic exists");
    let p_critical = lab.notifier.notify(critical, None).await.expect("publish the critical alert");
    let p_medium = lab.notifier.notify(medium, None).await.expect("publish the medium alert");
    assert!(!p_critical.message_id.is_empty() && p_critical.message_id != p_medium.message_id);
    assert_eq!(p_critical.fingerprint, critical.fingerprint);

    // The unfiltered queue gets both alerts.
    let mut all = lab.drain(&all_url).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    all.sort_by_key(|e| e["MessageId"] != p_critical.message_id.as_str());
    assert_envelope(&all[0], lab.topic(), critical, &p_critical.message_id);
    assert_envelope(&all[1], lab.topic(), medium, &p_medium.message_id);

    // The filtered queue gets only the critical one.
    let severe = lab.drain(&severe_url).await;
    assert_eq!(severe.len(), 1, "{severe:#?}");
    assert_envelope(&severe[0], lab.topic(), critical, &p_critical.message_id);
}

#[tokio::test]
async fn publishing_to_a_missing_topic_is_one_clear_error() {
    let Some(lab) = Lab::start("notify-sns-missing", "driftwatch-alerts-missing").await else { return };
    let gone = format!("arn:aws:sns:{}:{}:no-such-topic", Moto::REGION, lab.topic().split(':').nth(4).expect("account"));
    let notifier = SnsNotifier::new(lab.sns().clone(), &gone, ENVIRONMENT).expect("well-formed ARN");
    let findings = sample_findings();
    let e = notifier.check().await.expect_err("no such topic");
    assert!(matches!(&e, NotifyError::NoSuchTopic { topic } if topic == &gone), "{e:?}");
    let e = notifier.notify(&findings[0], None).await.expect_err("no such topic");
    assert!(matches!(&e, NotifyError::NoSuchTopic { .. }), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(e.to_string(), format!("SNS topic {gone} does not exist"));

    assert!(matches!(SnsNotifier::new(lab.sns().clone(), "alerts", ENVIRONMENT), Err(NotifyError::BadTopicArn { .. })));
}

/// An alert over SNS's 256 KB with every change (a finding with thousands of changes) goes out
/// summarised — its first changes and how many more the evidence record holds — instead of
/// failing on every retry into the dead-letter queue.
#[tokio::test]
async fn an_alert_over_the_size_limit_goes_out_summarised() {
    use driftwatch_core::ports::AlertSink;
    let Some(lab) = Lab::start("notify-sns-large", "driftwatch-alerts").await else { return };
    let (url, _) = lab.subscribe_queue("alerts-large", None).await;
    let mut big = pick(&sample_findings(), Rule::DriftChanged, "aws_db_instance.ehr_primary").clone();
    let base = big.changes.len();
    for i in 0..4_000 {
        big.changes.push(driftwatch_core::finding::Change {
            path: format!("tags.generated_{i:05}"),
            desired: Value::String("x".repeat(60)),
            actual: Value::String("y".repeat(60)),
        });
    }
    assert!(serde_json::to_vec(&big).unwrap().len() > driftwatch_aws::notify::MAX_PUBLISH_BYTES, "the full alert is over the limit");
    assert!(matches!(lab.notifier.notify(&big, None).await, Err(NotifyError::TooLarge { .. })), "the full alert is refused");
    let id = AlertSink::alert(&lab.notifier, &big).await.expect("the alert goes out summarised");
    assert!(!id.is_empty());
    let got = lab.drain(&url).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let sent: Finding = serde_json::from_str(got[0]["Message"].as_str().expect("Message")).expect("finding JSON");
    assert_eq!(sent.fingerprint, big.fingerprint);
    let more = sent.changes.last().expect("changes");
    assert_eq!(more.path, driftwatch_core::alert::MORE_CHANGES, "{more:?}");
    let shown = sent.changes.len() - 1;
    assert!(shown > base && shown < big.changes.len(), "{shown} of {} changes shown", big.changes.len());
    assert!(more.actual.as_str().unwrap_or_default().starts_with(&format!("{} more changes", big.changes.len() - shown)), "{more:?}");
}
