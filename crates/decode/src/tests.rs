//! One test per shape, through the auto-detecting entry point (and the per-shape ones).

use super::*;
use driftwatch_core::signal::{ObjectChange, StreamEvent};
use serde_json::json;
use std::io::Write;

fn policy() -> Policy {
    Policy::from_toml(
        r#"
        [pipeline]
        principals = ["arn:aws:iam::123456789012:role/terraform-ci"]
        [state]
        buckets = ["stmarys-ehr-tfstate"]
        lock_tables = ["stmarys-terraform-locks"]
        "#,
    )
    .unwrap()
}

fn decode(doc: &serde_json::Value) -> (Vec<Decoded>, DecodeStats) {
    decode_bytes(doc.to_string().as_bytes())
}

fn decode_bytes(bytes: &[u8]) -> (Vec<Decoded>, DecodeStats) {
    let (p, r) = (policy(), Redactor::new(b"t"));
    let mut out = Vec::new();
    let stats = Decoder::new(&p, &r).document(bytes, "test.json", &mut |d| out.push(d));
    (out, stats)
}

fn ct(name: &str, read_only: bool) -> serde_json::Value {
    json!({"eventVersion": "1.08",
           "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:jane", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/jane",
                            "accountId": "123456789012", "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/Admin"}}},
           "eventTime": "2026-11-20T09:14:02Z", "eventSource": "s3.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
           "sourceIPAddress": "198.51.100.23", "userAgent": "aws-cli/2.15.0",
           "requestParameters": {"bucketName": "stmarys-ehr-prod-phi-imaging-123456789012", "Host": "s3.amazonaws.com"},
           "responseElements": null, "requestID": "R", "eventID": format!("id-{name}"), "readOnly": read_only, "eventType": "AwsApiCall",
           "managementEvent": true, "recipientAccountId": "123456789012", "eventCategory": "Management"})
}

fn calls(out: &[Decoded]) -> Vec<&str> {
    out.iter()
        .filter_map(|d| match d {
            Ok(Signal::ApiCall(c)) => Some(c.event_name.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn cloudtrail_log_file_streams_skips_read_only_and_reports_the_bad_record() {
    let log = json!({"Records": [ct("GetBucketEncryption", true), ct("DeleteBucketEncryption", false), 42,
                                 {"eventName": "PutBucketPolicy", "eventTime": "not a time", "eventSource": "s3.amazonaws.com", "eventID": "x"},
                                 ct("PutBucketTagging", false)]});
    let (out, stats) = decode(&log);
    assert_eq!(calls(&out), ["DeleteBucketEncryption", "PutBucketTagging"]);
    let bad: Vec<&InvalidInput> = out.iter().filter_map(|d| d.as_ref().err()).collect();
    assert_eq!(bad.len(), 2);
    assert_eq!((bad[0].source.as_str(), bad[0].index), ("test.json", Some(2)));
    assert!(bad[0].message.contains("not an object"), "{}", bad[0].message);
    assert_eq!(bad[1].index, Some(3));
    assert!(bad[1].message.contains("eventTime"), "{}", bad[1].message);
    assert_eq!(stats, DecodeStats { records: 5, signals: 2, read_only: 1, ignored: 0, invalid: 2 });
}

#[test]
fn gzip_log_files_decode_like_plain_ones() {
    let log = json!({"Records": [ct("DeleteBucketEncryption", false)]}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(log.as_bytes()).unwrap();
    let (out, _) = decode_bytes(&gz.finish().unwrap());
    assert_eq!(calls(&out), ["DeleteBucketEncryption"]);
    let (out, _) = decode_bytes(&[0x1f, 0x8b, 0, 1, 2]);
    assert!(out[0].as_ref().unwrap_err().message.contains("gzip"));
}

#[test]
fn a_syntax_error_keeps_the_records_before_it() {
    let good = ct("DeleteBucketEncryption", false).to_string();
    let text = format!("{{\"Records\":[{good},{good},{{\"eventName\": \"x\" \"oops\"}},{good}]}}");
    let (out, stats) = decode_bytes(text.as_bytes());
    assert_eq!(calls(&out).len(), 2);
    let bad = out.last().unwrap().as_ref().unwrap_err();
    assert_eq!(bad.index, Some(2));
    assert!(bad.message.contains("malformed JSON in record #2") && bad.message.contains("line 1"), "{}", bad.message);
    assert_eq!(stats.invalid, 1);
}

#[test]
fn eventbridge_cloudtrail_event() {
    let mut detail = ct("PutBucketEncryption", false);
    detail.as_object_mut().unwrap().remove("recipientAccountId");
    detail["errorCode"] = json!("AccessDenied");
    let ev = json!({"version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "account": "123456789012",
                    "time": "2026-11-20T09:14:05Z", "region": "us-east-1", "resources": [], "detail": detail});
    let (out, stats) = decode(&ev);
    let Ok(Signal::ApiCall(c)) = &out[0] else { panic!("{out:?}") };
    assert_eq!(c.account.as_deref(), Some("123456789012"), "falls back to the envelope account");
    assert_eq!(c.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(stats.records, 1);
    // and the typed entry point the trail watcher uses
    let typed: aws_lambda_events::eventbridge::EventBridgeEvent<Box<RawValue>> = serde_json::from_value(ev).unwrap();
    let (p, r) = (policy(), Redactor::new(b"t"));
    assert!(matches!(Decoder::new(&p, &r).eventbridge(&typed, "ev")[..], [Ok(Signal::ApiCall(_))]));
}

#[test]
fn eventbridge_config_change_and_oversized() {
    let ev = json!({"version": "0", "id": "c", "detail-type": "Config Configuration Item Change", "source": "aws.config", "account": "123456789012",
        "time": "2026-11-20T09:20:00Z", "region": "us-east-1", "resources": ["arn:aws:ec2:us-east-1:123456789012:volume/vol-1"],
        "detail": {"recordVersion": "1.3", "messageType": "ConfigurationItemChangeNotification",
                   "configurationItemDiff": {"changedProperties": {}, "changeType": "DELETE"},
                   "notificationCreationTime": "2026-11-20T09:20:00.000Z",
                   "configurationItem": {"resourceType": "AWS::EC2::Volume", "resourceId": "vol-1", "configurationItemStatus": "ResourceDeleted",
                                         "configurationStateId": 1795166400000_u64, "configuration": null}}});
    let (out, _) = decode(&ev);
    let Ok(Signal::ConfigChange(c)) = &out[0] else { panic!("{out:?}") };
    assert!(c.item.as_ref().unwrap().is_deleted());
    assert_eq!(c.change_type.as_deref(), Some("DELETE"));

    let ov = json!({"version": "0", "id": "o", "detail-type": "Config Configuration Item Change", "source": "aws.config", "account": "1",
        "time": "2026-11-20T09:20:00Z", "region": "us-east-1", "resources": [],
        "detail": {"configurationItemSummary": {"changeType": "UPDATE", "resourceType": "AWS::S3::Bucket", "resourceId": "b", "configurationStateId": 5},
                   "s3DeliverySummary": {"s3BucketLocation": "cfg/AWSLogs/x.json.gz", "errorCode": null, "errorMessage": null},
                   "notificationCreationTime": "2026-11-20T09:20:00.000Z", "messageType": "OversizedConfigurationItemChangeNotification", "recordVersion": "1.0"}});
    let (out, _) = decode(&ov);
    let Ok(Signal::ConfigChange(c)) = &out[0] else { panic!("{out:?}") };
    assert!(c.item.is_none() && c.oversized.as_ref().unwrap().s3_key == "AWSLogs/x.json.gz");
}

#[test]
fn eventbridge_s3_objects_and_schedule() {
    let s3 = |dt: &str, key: &str| {
        json!({"version": "0", "id": "s", "detail-type": dt, "source": "aws.s3", "account": "123456789012", "time": "2026-11-20T10:00:00Z",
               "region": "us-east-1", "resources": ["arn:aws:s3:::stmarys-ehr-tfstate"],
               "detail": {"version": "0", "bucket": {"name": "stmarys-ehr-tfstate"},
                          "object": {"key": key, "size": 5, "etag": "e", "version-id": "v2", "sequencer": "1"},
                          "request-id": "r", "requester": "123456789012", "source-ip-address": "203.0.113.10", "reason": "PutObject"}})
    };
    let (out, _) = decode(&s3("Object Created", "prod/network.tfstate"));
    let Ok(Signal::StateObject(s)) = &out[0] else { panic!("{out:?}") };
    assert_eq!((s.key.as_str(), s.version_id.as_deref(), s.change), ("prod/network.tfstate", Some("v2"), ObjectChange::Created));
    let (out, _) = decode(&s3("Object Deleted", "prod/network.tfstate.tflock"));
    assert!(matches!(&out[0], Ok(Signal::LockFile(l)) if l.change == ObjectChange::Deleted));
    let (out, stats) = decode(&s3("Object Created", "uploads/readme.txt"));
    assert!(out.is_empty() && stats.ignored == 1);

    let tick = json!({"version": "0", "id": "t", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
                      "time": "2026-11-20T12:00:00Z", "region": "us-east-1",
                      "resources": ["arn:aws:events:us-east-1:123456789012:rule/driftwatch-sweeper"], "detail": {}});
    let (out, _) = decode(&tick);
    assert!(matches!(&out[0], Ok(Signal::Tick(t)) if t.rule.as_deref() == Some("driftwatch-sweeper")));
    // A member account's heartbeat names where it comes from: its account and region are heard.
    let (out, _) = decode(&serde_json::from_str(include_str!("../../../events/trail-watcher/member-heartbeat/event.json")).unwrap());
    let place = out[0].as_ref().map(|s| s.place()).expect("a tick");
    assert_eq!((place.account, place.region), (Some("111122223333"), Some("eu-west-1")));

    let (out, _) = decode(&json!({"version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
                                  "time": "2026-11-20T12:00:00Z", "detail": {}}));
    assert!(out[0].as_ref().unwrap_err().message.contains("unsupported EventBridge event"));
}

#[test]
fn s3_notification_and_dynamodb_batches() {
    let n = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-20T10:00:00.000Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:AROAEXAMPLE:GitHubActions"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"}, "responseElements": {"x-amz-request-id": "r", "x-amz-id-2": "i"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "tfstate", "bucket": {"name": "stmarys-ehr-tfstate", "ownerIdentity": {"principalId": "A"}, "arn": "arn:aws:s3:::stmarys-ehr-tfstate"},
               "object": {"key": "env%3A/staging/network.tfstate", "size": 1024, "eTag": "abc", "versionId": "v1", "sequencer": "00"}}}]});
    let (out, _) = decode(&n);
    assert!(matches!(&out[0], Ok(Signal::StateObject(s)) if s.key == "env:/staging/network.tfstate"));
    let typed: aws_lambda_events::s3::S3Event = serde_json::from_value(n).unwrap();
    let (p, r) = (policy(), Redactor::new(b"t"));
    assert_eq!(Decoder::new(&p, &r).s3_notification(&typed, "n").len(), 1);

    let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/stmarys-terraform-locks/stream/2026-01-01T00:00:00.000";
    let d = json!({"Records": [
        {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
         "dynamodb": {"ApproximateCreationDateTime": 1795168800, "Keys": {"LockID": {"S": "stmarys-ehr-tfstate/prod/network.tfstate"}},
                      "NewImage": {"LockID": {"S": "stmarys-ehr-tfstate/prod/network.tfstate"},
                                   "Info": {"S": "{\"ID\":\"a\",\"Operation\":\"OperationTypeApply\",\"Who\":\"ci@runner\",\"Version\":\"1.11.4\",\"Created\":\"2026-11-20T10:00:00Z\",\"Path\":\"p\"}"}},
                      "SequenceNumber": "1", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}, "eventSourceARN": arn},
        {"eventID": "2", "eventName": "SOMETHING", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
         "dynamodb": {"ApproximateCreationDateTime": 1795168800, "Keys": {"LockID": {"S": "x"}}, "SizeBytes": 10}, "eventSourceARN": arn}]});
    let (out, stats) = decode(&d);
    assert!(
        matches!(&out[0], Ok(Signal::LockRecord(l)) if l.event == StreamEvent::Insert && l.new_info.as_ref().unwrap().who == "ci@runner")
    );
    assert_eq!(out[1].as_ref().unwrap_err().index, Some(1));
    assert_eq!((stats.signals, stats.invalid), (1, 1));
    let typed: aws_lambda_events::dynamodb::Event = serde_json::from_value(d).unwrap();
    assert_eq!(Decoder::new(&p, &r).dynamodb_stream(&typed, "d").len(), 2);
}

#[test]
fn bare_records_arrays_lines_lookup_events_and_unknown_shapes() {
    let (out, _) = decode(&ct("PutBucketTagging", false));
    assert_eq!(calls(&out), ["PutBucketTagging"]);
    let (out, _) = decode(&json!([ct("PutBucketTagging", false), {"hello": 1}]));
    assert_eq!(calls(&out), ["PutBucketTagging"]);
    assert_eq!(out[1].as_ref().unwrap_err().index, Some(1));
    let lookup = json!({"Events": [{"EventId": "x", "EventName": "PutBucketTagging", "CloudTrailEvent": ct("PutBucketTagging", false).to_string()}]});
    assert_eq!(calls(&decode(&lookup).0), ["PutBucketTagging"]);
    let lines = format!("{}\n\n{}\nnot json\n", ct("A", false), ct("B", true));
    let (p, r) = (policy(), Redactor::new(b"t"));
    let mut out = Vec::new();
    let stats = Decoder::new(&p, &r).json_lines(lines.as_bytes(), "x.jsonl", &mut |d| out.push(d));
    assert_eq!(calls(&out), ["A"]);
    assert_eq!(out[1].as_ref().unwrap_err().index, Some(3));
    assert_eq!((stats.read_only, stats.invalid), (1, 1));
    for (doc, says) in
        [("", "empty"), ("{\"foo\": 1}", "unknown document shape"), ("{\"Records\": [", "malformed JSON"), ("7", "not a JSON object")]
    {
        let (out, _) = decode_bytes(doc.as_bytes());
        assert!(out[0].as_ref().unwrap_err().message.contains(says), "{doc}: {out:?}");
    }
    assert!(Decoder::new(&p, &r).cloudtrail_record(&ct("A", true).to_string(), "x").is_none());
}
