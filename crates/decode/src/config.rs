//! AWS Config `Config Configuration Item Change` notifications → [`ConfigChange`].
//!
//! The notification (EventBridge `detail`, or the SNS message body) is
//! `{configurationItem, configurationItemDiff: {changedProperties, changeType},
//! notificationCreationTime, messageType: "ConfigurationItemChangeNotification"}`. Items too
//! large for the channel arrive as `OversizedConfigurationItemChangeNotification` with a
//! `configurationItemSummary` and `s3DeliverySummary.s3BucketLocation = "bucket/key"`: the
//! adapter fetches the item from S3; here it becomes a change whose `item` is `None`.
//! (`aws_lambda_events::config` models Config *rule* invocations, not these notifications.)

use chrono::{DateTime, Utc};
use driftwatch_core::live;
use driftwatch_core::redact::Redactor;
use driftwatch_core::signal::{ConfigChange, OversizedRef};
use serde_json::Value;

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn time_of(v: &Value, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match str_of(v, key) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s).map(|t| Some(t.with_timezone(&Utc))).map_err(|e| format!("{key} {s:?}: {e}")),
    }
}

fn state_id(v: &Value) -> Option<u64> {
    match v.get("configurationStateId") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// Is this object a configuration item change notification?
pub fn looks_like(v: &Value) -> bool {
    v.get("configurationItem").is_some()
        || v.get("configurationItemSummary").is_some()
        || matches!(str_of(v, "messageType"), Some("ConfigurationItemChangeNotification" | "OversizedConfigurationItemChangeNotification"))
}

/// Decode a notification body. `fallback_time` is the EventBridge envelope's time.
pub fn notification(mut v: Value, redactor: &Redactor, fallback_time: Option<DateTime<Utc>>) -> Result<ConfigChange, String> {
    if !v.is_object() {
        return Err("configuration item change: expected an object".into());
    }
    let notification_time = time_of(&v, "notificationCreationTime")?.or(fallback_time);
    let message_type = str_of(&v, "messageType").unwrap_or("ConfigurationItemChangeNotification").to_string();
    if message_type == "OversizedConfigurationItemChangeNotification" || v.get("configurationItemSummary").is_some() {
        let summary = v.get("configurationItemSummary").cloned().unwrap_or(Value::Null);
        let location = v
            .get("s3DeliverySummary")
            .and_then(|s| str_of(s, "s3BucketLocation"))
            .ok_or("oversized configuration item notification without s3DeliverySummary.s3BucketLocation")?;
        let (bucket, key) = location.split_once('/').ok_or_else(|| format!("s3BucketLocation {location:?} is not bucket/key"))?;
        return Ok(ConfigChange {
            item: None,
            changed_properties: Value::Null,
            change_type: str_of(&summary, "changeType").map(str::to_string),
            notification_time,
            oversized: Some(OversizedRef {
                s3_bucket: bucket.to_string(),
                s3_key: key.to_string(),
                resource_type: str_of(&summary, "resourceType").map(str::to_string),
                resource_id: str_of(&summary, "resourceId").map(str::to_string),
                state_id: state_id(&summary),
            }),
        });
    }
    let item = v.get_mut("configurationItem").map(Value::take).ok_or("configuration item change without configurationItem")?;
    let item = live::item_from_value(item, redactor).map_err(|e| format!("configurationItem: {e}"))?;
    let mut diff = v.get_mut("configurationItemDiff").map(Value::take).unwrap_or(Value::Null);
    let change_type = str_of(&diff, "changeType").map(str::to_string);
    let mut changed_properties = diff.get_mut("changedProperties").map(Value::take).unwrap_or(Value::Null);
    redactor.scrub(&mut changed_properties);
    Ok(ConfigChange { item: Some(item), changed_properties, change_type, notification_time, oversized: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn change_and_oversized() {
        let r = Redactor::new(b"t");
        let c = notification(
            json!({"configurationItemDiff": {"changedProperties": {"Configuration.KeyRotationStatus": {"previousValue": true, "updatedValue": false, "changeType": "UPDATE"}}, "changeType": "UPDATE"},
                   "configurationItem": {"resourceType": "AWS::KMS::Key", "resourceId": "k-1", "configurationStateId": 1795168800123_u64, "configurationItemStatus": "OK", "configuration": {"keyId": "k-1"}},
                   "notificationCreationTime": "2026-11-20T10:00:00.000Z", "messageType": "ConfigurationItemChangeNotification", "recordVersion": "1.3"}),
            &r,
            None,
        )
        .unwrap();
        let item = c.item.unwrap();
        assert_eq!((item.resource_type.as_str(), item.resource_id.as_str(), item.state_id), ("AWS::KMS::Key", "k-1", Some(1795168800123)));
        assert_eq!(c.change_type.as_deref(), Some("UPDATE"));
        assert!(c.changed_properties.get("Configuration.KeyRotationStatus").is_some());

        let o = notification(
            json!({"configurationItemSummary": {"changeType": "UPDATE", "configurationStateId": 7, "resourceType": "AWS::S3::Bucket", "resourceId": "b"},
                   "s3DeliverySummary": {"s3BucketLocation": "cfg-bucket/AWSLogs/1/Config/x.json.gz"},
                   "notificationCreationTime": "2026-11-20T10:00:00Z", "messageType": "OversizedConfigurationItemChangeNotification"}),
            &r,
            None,
        )
        .unwrap();
        assert!(o.item.is_none());
        let oref = o.oversized.unwrap();
        assert_eq!((oref.s3_bucket.as_str(), oref.s3_key.as_str(), oref.state_id), ("cfg-bucket", "AWSLogs/1/Config/x.json.gz", Some(7)));

        assert!(notification(json!({"messageType": "ConfigurationItemChangeNotification"}), &r, None)
            .unwrap_err()
            .contains("configurationItem"));
        assert!(notification(json!({"configurationItem": {"resourceId": "x"}}), &r, None).unwrap_err().contains("resourceType"));
    }
}
