//! The AWS Config live reader through the real AWS SDK.
//!
//! * Against moto server: moto derives `AWS::S3::Bucket` configuration items from its real S3
//!   backend, so buckets created here (tags, public access block) come back from
//!   `BatchGetResourceConfig` — more than one call's worth (moto, like AWS, refuses more than
//!   100 keys in one call, so the chunking is exercised), missing ones absent. Oversized items
//!   are read back from a moto S3 object.
//! * Against a scripted AWS Config endpoint on loopback: moto's `SelectResourceConfig` only
//!   answers results seeded inside its own process (there is no moto-api route for them, they
//!   are not the JSON strings AWS answers, and they have no pages), and its
//!   `BatchGetResourceConfig` never leaves keys unprocessed. A small HTTP server speaking the
//!   AWS JSON 1.1 protocol answers those calls instead, so pagination (`NextToken`) and the
//!   retry of `UnprocessedResourceKeys` are tested through the SDK's real wire handling.
//!
//! Without `moto_server` the moto tests fail under `CI=true` and are skipped loudly elsewhere.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};
use driftwatch_aws::{blocking_runtime, config_client, s3_client, ConfigReader, LiveReadError, PathStyle, RetryOptions};
use driftwatch_core::live::ConfigItem;
use driftwatch_core::redact::REDACTED_PREFIX;
use driftwatch_core::signal::OversizedRef;
use driftwatch_core::Redactor;
use driftwatch_tests::Moto;

use crate::config_proxy::{moto_config_proxy, Answer, Request, Stub};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const BUCKET: &str = "AWS::S3::Bucket";
const TAG_SECRET: &str = "Hunter2-Tag-Secret-7781";

fn redactor() -> Redactor {
    Redactor::new(b"driftwatch/v1/default-salt")
}

fn ids(items: &[ConfigItem]) -> BTreeSet<String> {
    items.iter().map(|i| i.resource_id.clone()).collect()
}

#[test]
fn batch_get_reads_moto_buckets_in_chunks_and_leaves_missing_ones_out() {
    let Some(moto) = Moto::start("config-batch-get") else { return };
    let sdk = moto.sdk_config();
    let rt = blocking_runtime().expect("runtime");
    let s3 = s3_client(&sdk, PathStyle::Auto);
    // AWS Config through the proxy that makes moto's timestamps readable (see config_proxy).
    let proxy = moto_config_proxy(&moto.endpoint);
    let reader = ConfigReader::new(config_client(&sdk_at(&sdk, &proxy.endpoint)), s3.clone());

    let names: Vec<String> = (0..120).map(|i| format!("dw-live-{i:03}")).collect();
    rt.block_on(async {
        for n in &names {
            s3.create_bucket().bucket(n).send().await.expect("create bucket");
        }
        let tagged = &names[7];
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().expect("tag");
        s3.put_bucket_tagging()
            .bucket(tagged)
            .tagging(Tagging::builder().tag_set(tag("env", "prod")).tag_set(tag("db_password", TAG_SECRET)).build().expect("tagging"))
            .send()
            .await
            .expect("tag bucket");
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            .build()
            .expect("sse default");
        let sse = ServerSideEncryptionConfiguration::builder()
            .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build())
            .build()
            .expect("sse");
        s3.put_bucket_encryption().bucket(tagged).server_side_encryption_configuration(sse).send().await.expect("encryption");
        let pab = PublicAccessBlockConfiguration::builder().block_public_acls(true).restrict_public_buckets(false).build();
        s3.put_public_access_block().bucket(tagged).public_access_block_configuration(pab).send().await.expect("public access block");
    });

    // 120 existing buckets, 6 that do not exist, interleaved: 126 keys, two calls.
    let mut keys: Vec<(String, String)> = names.iter().map(|n| (BUCKET.to_string(), n.clone())).collect();
    for i in 0..6 {
        keys.insert(i * 20, (BUCKET.to_string(), format!("dw-gone-{i}")));
    }
    assert!(keys.len() > 100, "more keys than one BatchGetResourceConfig call takes");
    let items = rt.block_on(reader.batch_get(&keys, &redactor())).expect("batch get");
    let calls: Vec<usize> = proxy.requests("BatchGetResourceConfig").iter().map(|r| r["resourceKeys"].as_array().unwrap().len()).collect();
    assert_eq!(calls, vec![100, 26], "two calls: 100 keys, then the rest");
    assert_eq!(items.len(), 120, "every existing bucket, once");
    assert_eq!(ids(&items), names.iter().cloned().collect::<BTreeSet<_>>(), "the missing buckets are absent");

    let item = items.iter().find(|i| i.resource_id == names[7]).expect("the tagged bucket");
    assert_eq!(item.resource_type, BUCKET);
    assert_eq!(item.arn.as_deref(), Some(format!("arn:aws:s3:::{}", names[7]).as_str()));
    assert_eq!(item.resource_name.as_deref(), Some(names[7].as_str()));
    assert_eq!(item.status, "ResourceDiscovered");
    assert!(item.state_id.is_some(), "configurationStateId parsed");
    // configuration and supplementaryConfiguration arrive as JSON strings: decoded to objects.
    assert_eq!(item.doc["configuration"]["name"], names[7].as_str());
    let sup = &item.doc["supplementaryConfiguration"];
    assert_eq!(sup["PublicAccessBlockConfiguration"]["blockPublicAcls"], true, "{sup}");
    assert_eq!(sup["PublicAccessBlockConfiguration"]["restrictPublicBuckets"], false);
    // Tags come from the bucket's tagging configuration; the secret-looking one is digested.
    assert_eq!(item.doc["tags"]["env"], "prod");
    let tag = item.doc["tags"]["db_password"].as_str().expect("digested tag");
    assert!(tag.starts_with(REDACTED_PREFIX), "{tag}");
    let all = serde_json::to_string(&items.iter().map(|i| &i.doc).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains(TAG_SECRET), "a secret tag value left the reader in clear");
    // An untouched bucket has no tags and no public access block.
    let plain = items.iter().find(|i| i.resource_id == names[0]).unwrap();
    assert!(plain.doc.get("tags").is_none() && plain.doc["supplementaryConfiguration"].get("PublicAccessBlockConfiguration").is_none());

    // Only missing keys: an empty answer, not an error.
    let gone = [(BUCKET.to_string(), "dw-gone-x".to_string())];
    assert!(rt.block_on(reader.batch_get(&gone, &redactor())).expect("batch get").is_empty());
    assert!(rt.block_on(reader.batch_get(&[], &redactor())).expect("no keys").is_empty());
    // moto's SelectResourceConfig, with nothing seeded, answers no results.
    assert!(rt.block_on(reader.select(&[BUCKET], &redactor())).expect("select on moto").is_empty());
}

#[test]
fn oversized_items_are_read_from_s3_plain_or_in_a_notification() {
    let Some(moto) = Moto::start("config-oversized") else { return };
    let sdk = moto.sdk_config();
    let rt = blocking_runtime().expect("runtime");
    let s3 = s3_client(&sdk, PathStyle::Auto);
    let reader = ConfigReader::new(config_client(&sdk), s3.clone());
    let item = json!({
        "resourceType": "AWS::IAM::Role", "resourceId": "AROAEXAMPLE", "resourceName": "ehr-app",
        "ARN": "arn:aws:iam::123456789012:role/ehr-app", "configurationItemStatus": "OK", "configurationStateId": "1700000000123",
        "configuration": "{\"roleName\":\"ehr-app\",\"assumeRolePolicyDocument\":\"%7B%7D\"}",
        "supplementaryConfiguration": {}, "tags": {"team": "ehr"}
    });
    let notification =
        json!({"messageType": "ConfigurationItemChangeNotification", "configurationItemDiff": null, "configurationItem": item});
    rt.block_on(async {
        s3.create_bucket().bucket("config-delivery").send().await.expect("bucket");
        for (key, body) in [("oversized/item.json", item.to_string()), ("oversized/notification.json", notification.to_string())] {
            s3.put_object().bucket("config-delivery").key(key).body(ByteStream::from(body.into_bytes())).send().await.expect("put");
        }
    });
    let at = |key: &str, id: Option<&str>| OversizedRef {
        s3_bucket: "config-delivery".into(),
        s3_key: key.into(),
        resource_type: id.map(|_| "AWS::IAM::Role".to_string()),
        resource_id: id.map(str::to_string),
        state_id: None,
    };
    for key in ["oversized/item.json", "oversized/notification.json"] {
        let got = rt.block_on(reader.oversized(&at(key, Some("AROAEXAMPLE")), &redactor())).expect("oversized");
        assert_eq!((got.resource_type.as_str(), got.resource_id.as_str()), ("AWS::IAM::Role", "AROAEXAMPLE"), "{key}");
        assert_eq!(got.state_id, Some(1_700_000_000_123));
        assert_eq!(got.doc["configuration"]["roleName"], "ehr-app", "{key}");
        assert_eq!(got.arn.as_deref(), Some("arn:aws:iam::123456789012:role/ehr-app"));
    }
    // A reference that names another resource, a missing object: one-line errors naming it.
    let e = rt.block_on(reader.oversized(&at("oversized/item.json", Some("AROAOTHER")), &redactor())).unwrap_err().to_string();
    assert!(e.contains("s3://config-delivery/oversized/item.json") && e.contains("AWS::IAM::Role/AROAOTHER"), "{e}");
    let e = rt.block_on(reader.oversized(&at("oversized/none.json", None), &redactor())).unwrap_err().to_string();
    assert!(e.contains("s3://config-delivery/oversized/none.json") && e.contains("NoSuchKey") && !e.contains('\n'), "{e}");
}

/// The SDK configuration of moto's, pointed at another endpoint.
fn sdk_at(moto_sdk: &aws_config::SdkConfig, endpoint: &str) -> aws_config::SdkConfig {
    moto_sdk.to_builder().endpoint_url(endpoint).build()
}

fn stub_sdk(stub: &Stub) -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&stub.endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("testing", "testing", None, None, "stub")))
        .build()
}

fn stub_reader(stub: &Stub) -> ConfigReader {
    let sdk = stub_sdk(stub);
    let fast = RetryOptions { attempts: 3, base_delay: Duration::from_millis(5), max_delay: Duration::from_millis(20) };
    ConfigReader::new(config_client(&sdk), s3_client(&sdk, PathStyle::Auto)).with_retry(fast)
}

fn select_result(id: &str, secret: Option<&str>) -> String {
    let mut configuration = json!({"name": id});
    if let Some(s) = secret {
        configuration["password"] = json!(s);
    }
    json!({"resourceId": id, "resourceType": BUCKET, "arn": format!("arn:aws:s3:::{id}"), "configurationItemStatus": "OK",
           "configuration": configuration, "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Enabled"}},
           "tags": [{"key": "env", "value": "prod"}]})
    .to_string()
}

#[test]
fn select_reads_every_page_of_results() {
    let answer: Answer = Arc::new(|r: &Request| {
        assert!(r.target.ends_with("SelectResourceConfig"), "{}", r.target);
        match r.body.get("NextToken").and_then(Value::as_str) {
            None => json!({"Results": [select_result("b-1", None), select_result("b-2", Some("pw-Secret-991"))], "NextToken": "page-2"}),
            Some("page-2") => json!({"Results": [select_result("b-3", None)], "NextToken": "page-3"}),
            Some("page-3") => json!({"Results": [select_result("b-4", None)]}),
            Some(other) => panic!("unexpected token {other}"),
        }
    });
    let stub = Stub::start(answer);
    let rt = blocking_runtime().expect("runtime");
    let reader = stub_reader(&stub);
    let items = rt.block_on(reader.select(&[BUCKET, "AWS::KMS::Key"], &redactor())).expect("select");
    assert_eq!(ids(&items), ["b-1", "b-2", "b-3", "b-4"].map(String::from).into_iter().collect());
    let requests = stub.requests("SelectResourceConfig");
    assert_eq!(requests.len(), 3, "three pages");
    let expression = requests[0]["Expression"].as_str().expect("expression");
    assert!(expression.starts_with("SELECT resourceId, resourceType"), "{expression}");
    assert!(expression.ends_with("WHERE resourceType IN ('AWS::S3::Bucket', 'AWS::KMS::Key')"), "{expression}");
    assert!(requests.iter().all(|r| r["Expression"] == requests[0]["Expression"]), "the same query on every page");
    let b2 = items.iter().find(|i| i.resource_id == "b-2").unwrap();
    assert_eq!(b2.doc["supplementaryConfiguration"]["BucketVersioningConfiguration"]["status"], "Enabled");
    assert_eq!(b2.doc["tags"][0]["key"], "env");
    assert!(b2.doc["configuration"]["password"].as_str().unwrap().starts_with(REDACTED_PREFIX));
    assert!(!serde_json::to_string(&b2.doc).unwrap().contains("pw-Secret-991"));
    // No types: no call.
    assert!(rt.block_on(reader.select(&[], &redactor())).expect("no types").is_empty());
    assert_eq!(stub.requests("SelectResourceConfig").len(), 3);
}

fn base_item(id: &str) -> Value {
    json!({"resourceType": BUCKET, "resourceId": id, "configurationItemStatus": "OK", "configurationStateId": "5",
           "configuration": format!("{{\"name\":\"{id}\"}}"), "supplementaryConfiguration": {}})
}

#[test]
fn unprocessed_keys_are_retried_and_reported_when_they_stay_unprocessed() {
    // "stuck-*" keys are never processed; the others are left unprocessed once, then answered.
    let answer: Answer = Arc::new(|r: &Request| {
        assert!(r.target.ends_with("BatchGetResourceConfig"), "{}", r.target);
        let req = &r.body;
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let first = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        let keys = req["resourceKeys"].as_array().cloned().unwrap_or_default();
        assert!(keys.len() <= 100, "at most 100 keys per call");
        let (mut items, mut unprocessed) = (Vec::new(), Vec::new());
        for (n, k) in keys.iter().enumerate() {
            let id = k["resourceId"].as_str().unwrap();
            if id.starts_with("stuck-") || (first && n % 2 == 1) {
                unprocessed.push(k.clone());
            } else if !id.starts_with("gone-") {
                items.push(base_item(id));
            }
        }
        json!({"baseConfigurationItems": items, "unprocessedResourceKeys": unprocessed})
    });
    let stub = Stub::start(answer);
    let rt = blocking_runtime().expect("runtime");
    let reader = stub_reader(&stub);
    let key = |id: &str| (BUCKET.to_string(), id.to_string());
    let keys: Vec<(String, String)> = (0..10).map(|i| key(&format!("b-{i}"))).chain([key("gone-1")]).collect();
    let items = rt.block_on(reader.batch_get(&keys, &redactor())).expect("batch get");
    assert_eq!(ids(&items), (0..10).map(|i| format!("b-{i}")).collect(), "every key answered after a retry, the gone one absent");
    let calls = stub.requests("BatchGetResourceConfig");
    assert_eq!(calls.len(), 2, "one retry");
    assert_eq!(calls[1]["resourceKeys"].as_array().unwrap().len(), 5, "only the unprocessed keys are sent again: {}", calls[1]);

    let keys = vec![key("b-20"), key("stuck-a"), key("stuck-b")];
    let err = rt.block_on(reader.batch_get(&keys, &redactor())).unwrap_err();
    assert!(matches!(&err, LiveReadError::Unprocessed { attempts: 3, keys, .. } if keys.len() == 2), "{err:?}");
    let line = err.to_string();
    assert!(line.contains("AWS::S3::Bucket/stuck-a") && line.contains("AWS::S3::Bucket/stuck-b") && !line.contains('\n'), "{line}");
    assert_eq!(stub.requests("BatchGetResourceConfig").len(), 2 + 3, "three attempts for the stuck keys");
}

/// An S3 endpoint on loopback that answers every request with `status` and an S3 error
/// document of `code` (moto enforces no IAM: this is how a 403 reaches the reader).
fn s3_answering(status: u16, code: &'static str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>stub says {code}</Message><RequestId>stub</RequestId></Error>");
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status} {code}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    endpoint
}

/// Reading an oversized item fails for good when the object or its bucket is not there or the
/// role may not read it (a deployment without the Config delivery bucket's grant): such a
/// failure says so (`is_permanent`), so the config watcher records it once instead of retrying
/// it into the dead-letter queue. Throttling and 5xx are retried.
#[test]
fn a_denied_or_missing_oversized_item_is_permanent_a_throttled_one_is_not() {
    let Some(moto) = Moto::start("config-oversized-errors") else { return };
    let sdk = moto.sdk_config();
    let rt = blocking_runtime().expect("runtime");
    let r = OversizedRef {
        s3_bucket: "config-delivery".into(),
        s3_key: "oversized/item.json".into(),
        resource_type: Some("AWS::IAM::Role".into()),
        resource_id: Some("AROAEXAMPLE".into()),
        state_id: None,
    };
    let read = |sdk: &aws_config::SdkConfig| {
        let reader = ConfigReader::new(config_client(sdk), s3_client(sdk, PathStyle::Auto));
        rt.block_on(reader.oversized(&r, &redactor())).expect_err("no item there")
    };
    // On moto: no such bucket.
    let missing = read(&sdk);
    assert!(missing.is_permanent() && missing.to_string().contains("NoSuchBucket"), "{missing}");
    // Denied by IAM (a stub answering 403 AccessDenied).
    let denied = read(&sdk_at(&sdk, &s3_answering(403, "AccessDenied")));
    assert!(denied.is_permanent() && denied.to_string().contains("AccessDenied"), "{denied}");
    // Throttled: worth retrying.
    let slow = read(&sdk_at(&sdk, &s3_answering(503, "SlowDown")));
    assert!(!slow.is_permanent() && slow.to_string().contains("SlowDown"), "{slow}");
}

/// `aggregate` on moto: buckets of two regions, more than one page of
/// `ListAggregateDiscoveredResources` (moto, like AWS, answers 100 at most) and more than one
/// `BatchGetAggregateResourceConfig`, each item naming its account and region; a type moto
/// holds none of is empty, not an error; an aggregator that does not exist is an error.
#[test]
fn aggregate_reads_every_region_of_a_moto_aggregator() {
    let Some(moto) = Moto::start("config-aggregate") else { return };
    let sdk = moto.sdk_config();
    let rt = blocking_runtime().expect("runtime");
    let proxy = moto_config_proxy(&moto.endpoint);
    let reader = ConfigReader::new(config_client(&sdk_at(&sdk, &proxy.endpoint)), s3_client(&sdk, PathStyle::Auto));
    let eu_sdk = sdk.to_builder().region(aws_config::Region::new("eu-west-1")).build();
    let (us, eu) = (s3_client(&sdk, PathStyle::Auto), s3_client(&eu_sdk, PathStyle::Auto));
    let names: Vec<String> = (0..104).map(|i| format!("dw-agg-{i:03}")).collect();
    rt.block_on(async {
        crate::config_proxy::put_aggregator(&sdk, "org").await;
        for (i, n) in names.iter().enumerate() {
            if i.is_multiple_of(2) {
                us.create_bucket().bucket(n).send().await.expect("bucket");
            } else {
                let c = aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build();
                eu.create_bucket().bucket(n).create_bucket_configuration(c).send().await.expect("bucket");
            }
        }
    });
    let read = rt.block_on(reader.aggregate("org", &[BUCKET, "AWS::EC2::Volume"], &redactor())).expect("aggregate");
    assert!(read.failed.is_empty(), "{:?}", read.failed);
    assert_eq!(ids(&read.items), names.iter().cloned().collect::<BTreeSet<_>>());
    for item in &read.items {
        let n: usize = item.resource_id["dw-agg-".len()..].parse().expect("number");
        let region = if n.is_multiple_of(2) { "us-east-1" } else { "eu-west-1" };
        assert_eq!((item.account_id.as_deref(), item.region.as_deref()), (Some("123456789012"), Some(region)), "{}", item.resource_id);
    }
    let e = rt.block_on(reader.aggregate("nope", &[BUCKET], &redactor())).unwrap_err().to_string();
    assert!(e.contains("aggregator nope") && e.contains("NoSuchConfigurationAggregator") && !e.contains('\n'), "{e}");
}
