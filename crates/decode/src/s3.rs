//! S3 object events → [`StateObjectEvent`] (state keys) or [`LockFileEvent`] (`*.tflock`).
//!
//! Two shapes carry them: S3 event notifications (`{"Records":[{"eventSource":"aws:s3",…}]}`,
//! decoded with `aws_lambda_events::s3::S3EventRecord`; keys are URL-encoded) and EventBridge
//! `Object Created` / `Object Deleted` events (whose `detail` has no type in
//! `aws_lambda_events`, so [`S3Detail`] below; keys are plain).

use crate::One;
use aws_lambda_events::s3::S3EventRecord;
use chrono::{DateTime, Utc};
use driftwatch_core::glob;
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{LockFileEvent, ObjectChange, Signal, StateObjectEvent};
use serde::Deserialize;

/// `detail` of an EventBridge S3 `Object Created` / `Object Deleted` event.
#[derive(Debug, Deserialize)]
pub struct S3Detail {
    pub bucket: S3DetailBucket,
    pub object: S3DetailObject,
    #[serde(rename = "request-id", default)]
    pub request_id: Option<String>,
    /// Account id or service principal that made the request.
    #[serde(default)]
    pub requester: Option<String>,
    #[serde(rename = "source-ip-address", default)]
    pub source_ip_address: Option<String>,
    /// `PutObject`, `CopyObject`, `CompleteMultipartUpload`, `DeleteObject`, `Lifecycle Expiration`, …
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct S3DetailBucket {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct S3DetailObject {
    pub key: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(rename = "version-id", default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub sequencer: Option<String>,
}

/// The parts of an object event the signal needs.
struct ObjectEvent {
    bucket: String,
    key: String,
    version_id: Option<String>,
    etag: Option<String>,
    size: Option<u64>,
    change: ObjectChange,
    time: DateTime<Utc>,
    requester: Option<String>,
    source_ip: Option<String>,
    sequencer: Option<String>,
}

fn bucket_watched(policy: &Policy, bucket: &str) -> bool {
    policy.state.buckets.is_empty() || policy.state.buckets.iter().any(|b| glob::matches(b, bucket))
}

/// State object, lock file, or neither (ignored).
fn classify(ev: ObjectEvent, policy: &Policy) -> One {
    if policy.is_state_object(&ev.bucket, &ev.key) {
        return One::Signal(Signal::StateObject(StateObjectEvent {
            bucket: ev.bucket,
            key: ev.key,
            version_id: ev.version_id,
            etag: ev.etag.map(|e| e.trim_matches('"').to_string()),
            size: ev.size,
            change: ev.change,
            time: ev.time,
            requester: ev.requester,
            source_ip: ev.source_ip,
            sequencer: ev.sequencer,
        }));
    }
    if ev.key.ends_with(".tflock") && bucket_watched(policy, &ev.bucket) {
        return One::Signal(Signal::LockFile(LockFileEvent {
            bucket: ev.bucket,
            key: ev.key,
            change: ev.change,
            time: ev.time,
            version_id: ev.version_id,
            info: None,
        }));
    }
    One::Ignored
}

/// One S3 event notification record.
pub fn notification_record(rec: &S3EventRecord, policy: &Policy) -> Result<One, String> {
    let name = rec.event_name.as_deref().unwrap_or_default();
    let change = if name.starts_with("ObjectCreated:") {
        ObjectChange::Created
    } else if name.starts_with("ObjectRemoved:") {
        ObjectChange::Deleted
    } else if name.is_empty() {
        return Err("S3 event record without eventName".into());
    } else {
        // Restore, replication, lifecycle transition, tagging, ACL: not a write of the content.
        return Ok(One::Ignored);
    };
    let bucket = rec.s3.bucket.name.clone().ok_or("S3 event record without s3.bucket.name")?;
    let key = match (&rec.s3.object.url_decoded_key, &rec.s3.object.key) {
        (Some(k), _) => k.clone(),
        (None, Some(k)) => url_decode(k),
        (None, None) => return Err("S3 event record without s3.object.key".into()),
    };
    Ok(classify(
        ObjectEvent {
            bucket,
            key,
            version_id: rec.s3.object.version_id.clone(),
            etag: rec.s3.object.e_tag.clone(),
            size: rec.s3.object.size.and_then(|s| u64::try_from(s).ok()),
            change,
            time: rec.event_time,
            requester: rec.principal_id.principal_id.clone(),
            source_ip: rec.request_parameters.source_ip_address.clone(),
            sequencer: rec.s3.object.sequencer.clone(),
        },
        policy,
    ))
}

/// An EventBridge S3 event's detail, with the envelope's detail-type and time.
pub fn eventbridge_detail(detail_type: &str, detail: &S3Detail, time: DateTime<Utc>, policy: &Policy) -> One {
    let change = match detail_type {
        "Object Created" => ObjectChange::Created,
        "Object Deleted" => ObjectChange::Deleted,
        _ => return One::Ignored,
    };
    classify(
        ObjectEvent {
            bucket: detail.bucket.name.clone(),
            key: detail.object.key.clone(),
            version_id: detail.object.version_id.clone(),
            etag: detail.object.etag.clone(),
            size: detail.object.size,
            change,
            time,
            requester: detail.requester.clone(),
            source_ip: detail.source_ip_address.clone(),
            sequencer: detail.object.sequencer.clone(),
        },
        policy,
    )
}

/// S3 notification keys are URL-encoded (`+` for space, `%XX`).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_toml("[state]\nbuckets = [\"stmarys-ehr-tfstate\"]").unwrap()
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("env%3A/prod/network.tfstate"), "env:/prod/network.tfstate");
        assert_eq!(url_decode("Happy+Face%20.jpg"), "Happy Face .jpg");
        assert_eq!(url_decode("odd%2"), "odd%2");
        assert_eq!(url_decode("100%"), "100%");
    }

    /// What `driftwatch backfill` encodes (`driftwatch_core::backfill::notification_key`)
    /// decodes back to the key.
    #[test]
    fn backfill_keys_survive_the_notification_encoding() {
        for key in ["AWSLogs/o-x/1/CloudTrail/us-east-1/2026/11/20/a.json.gz", "a b+c/%41/ü/env:/x?y#z&=", "", "100%", "~_.-/"] {
            assert_eq!(url_decode(&driftwatch_core::backfill::notification_key(key)), key);
        }
    }

    #[test]
    fn notification_records_classify_state_lock_and_other_keys() {
        let mk = |name: &str, bucket: &str, key: &str| -> S3EventRecord {
            serde_json::from_value(serde_json::json!({
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-20T10:00:00.000Z",
                "eventName": name, "userIdentity": {"principalId": "AWS:AROAEXAMPLE:GitHubActions"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"}, "responseElements": {},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "c", "bucket": {"name": bucket, "arn": "arn:aws:s3:::b"},
                       "object": {"key": key, "size": 10, "eTag": "abc", "versionId": "v1", "sequencer": "1"}}
            }))
            .unwrap()
        };
        let p = policy();
        match notification_record(&mk("ObjectCreated:Put", "stmarys-ehr-tfstate", "env%3A/prod/network.tfstate"), &p).unwrap() {
            One::Signal(Signal::StateObject(s)) => {
                assert_eq!(s.key, "env:/prod/network.tfstate");
                assert_eq!(s.version_id.as_deref(), Some("v1"));
                assert_eq!(s.change, ObjectChange::Created);
                assert_eq!(s.requester.as_deref(), Some("AWS:AROAEXAMPLE:GitHubActions"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            notification_record(&mk("ObjectRemoved:Delete", "stmarys-ehr-tfstate", "prod/network.tfstate.tflock"), &p).unwrap(),
            One::Signal(Signal::LockFile(LockFileEvent { change: ObjectChange::Deleted, .. }))
        ));
        assert!(matches!(notification_record(&mk("ObjectCreated:Put", "other-bucket", "x.tfstate"), &p).unwrap(), One::Ignored));
        assert!(matches!(
            notification_record(&mk("ObjectRestore:Completed", "stmarys-ehr-tfstate", "x.tfstate"), &p).unwrap(),
            One::Ignored
        ));
    }
}
