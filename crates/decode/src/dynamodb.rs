//! DynamoDB Streams records of the Terraform lock table → [`LockRecord`].
//!
//! Terraform's S3 backend keeps two kinds of items: the lock, `LockID = "<bucket>/<key>"`
//! with `Info` = a JSON string (`{ID, Operation, Info, Who, Version, Created, Path}`), and the
//! state digest, `LockID = "<bucket>/<key>-md5"` with `Digest` = hex MD5 of the state bytes.
//! TTL deletions carry `userIdentity = {type: Service, principalId: dynamodb.amazonaws.com}`.

use crate::One;
use aws_lambda_events::dynamodb::EventRecord;
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{LockInfo, LockRecord, Signal, StreamEvent};
use serde_dynamo::AttributeValue;

/// Table name from a stream ARN (`arn:aws:dynamodb:REGION:ACCT:table/NAME/stream/LABEL`).
pub fn table_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.split_once(":table/")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

fn s<'a>(item: &'a serde_dynamo::Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

fn info(item: &serde_dynamo::Item, image: &str) -> Result<Option<LockInfo>, String> {
    match s(item, "Info") {
        None => Ok(None),
        Some("") => Ok(None),
        Some(text) => serde_json::from_str::<LockInfo>(text)
            .map(Some)
            .map_err(|e| format!("{image}.Info is not Terraform lock info: {}", crate::lenient::without_position(&e))),
    }
}

/// One stream record.
pub fn record(rec: &EventRecord, policy: &Policy) -> Result<One, String> {
    let table = rec.table_name.as_deref().or_else(|| rec.event_source_arn.as_deref().and_then(table_from_arn));
    if let Some(t) = table {
        if !policy.is_lock_table(t) {
            return Ok(One::Ignored);
        }
    }
    let event = match rec.event_name.as_str() {
        "INSERT" => StreamEvent::Insert,
        "MODIFY" => StreamEvent::Modify,
        "REMOVE" => StreamEvent::Remove,
        other => return Err(format!("DynamoDB stream record with eventName {other:?}")),
    };
    let change = &rec.change;
    let lock_id = s(&change.keys, "LockID")
        .or_else(|| s(&change.new_image, "LockID"))
        .or_else(|| s(&change.old_image, "LockID"))
        .ok_or("lock table record without a LockID string key")?
        .to_string();
    let ts = change.approximate_creation_date_time;
    if ts.timestamp() == 0 {
        return Err("DynamoDB stream record without dynamodb.ApproximateCreationDateTime".into());
    }
    let removed_by_service = rec.user_identity.as_ref().is_some_and(|u| u.principal_id == "dynamodb.amazonaws.com");
    Ok(One::Signal(Signal::LockRecord(LockRecord {
        event,
        lock_id,
        table: table.map(str::to_string),
        new_info: info(&change.new_image, "NewImage")?,
        old_info: info(&change.old_image, "OldImage")?,
        digest: s(&change.new_image, "Digest").map(str::to_string),
        time: ts,
        sequence_number: change.sequence_number.clone(),
        removed_by_service,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: serde_json::Value) -> EventRecord {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn lock_insert_digest_and_ttl_remove() {
        let p = Policy::from_toml("[state]\nlock_tables = [\"stmarys-terraform-locks\"]").unwrap();
        let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/stmarys-terraform-locks/stream/2026-01-01T00:00:00.000";
        let info = r#"{"ID":"5b0c","Operation":"OperationTypeApply","Info":"","Who":"runner@gha","Version":"1.11.4","Created":"2026-11-20T10:00:00.123456789Z","Path":"stmarys-ehr-tfstate/prod/network.tfstate"}"#;
        let insert = rec(
            json!({"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": {"ApproximateCreationDateTime": 1795168800.0, "Keys": {"LockID": {"S": "stmarys-ehr-tfstate/prod/network.tfstate"}},
                         "NewImage": {"LockID": {"S": "stmarys-ehr-tfstate/prod/network.tfstate"}, "Info": {"S": info}},
                         "SequenceNumber": "100", "SizeBytes": 300, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "eventSourceARN": arn}),
        );
        let One::Signal(Signal::LockRecord(r)) = record(&insert, &p).unwrap() else { panic!() };
        assert_eq!(r.event, StreamEvent::Insert);
        assert_eq!(r.table.as_deref(), Some("stmarys-terraform-locks"));
        let i = r.new_info.unwrap();
        assert_eq!(i.operation, "OperationTypeApply");
        assert!(i.created.is_some());
        assert!(!r.removed_by_service);

        let md5 = rec(json!({"eventID": "2", "eventName": "MODIFY", "awsRegion": "us-east-1",
            "dynamodb": {"ApproximateCreationDateTime": 1795168801, "Keys": {"LockID": {"S": "stmarys-ehr-tfstate/prod/network.tfstate-md5"}},
                         "NewImage": {"LockID": {"S": "stmarys-ehr-tfstate/prod/network.tfstate-md5"}, "Digest": {"S": "0123abcd"}}, "SizeBytes": 1},
            "eventSourceARN": arn}));
        let One::Signal(Signal::LockRecord(r)) = record(&md5, &p).unwrap() else { panic!() };
        assert_eq!(r.digest.as_deref(), Some("0123abcd"));

        let ttl = rec(json!({"eventID": "3", "eventName": "REMOVE", "awsRegion": "us-east-1",
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "dynamodb": {"ApproximateCreationDateTime": 1795168802, "Keys": {"LockID": {"S": "x"}}, "OldImage": {"LockID": {"S": "x"}, "Info": {"S": info}}, "SizeBytes": 1},
            "eventSourceARN": arn}));
        let One::Signal(Signal::LockRecord(r)) = record(&ttl, &p).unwrap() else { panic!() };
        assert!(r.removed_by_service && r.old_info.is_some() && r.new_info.is_none());

        let other = rec(json!({"eventID": "4", "eventName": "INSERT", "awsRegion": "us-east-1",
            "dynamodb": {"ApproximateCreationDateTime": 1795168802, "Keys": {"pk": {"S": "x"}}, "SizeBytes": 1},
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/patients/stream/x"}));
        assert!(matches!(record(&other, &p).unwrap(), One::Ignored));

        let bad = rec(json!({"eventID": "5", "eventName": "INSERT", "awsRegion": "us-east-1",
            "dynamodb": {"ApproximateCreationDateTime": 1795168802, "Keys": {"LockID": {"S": "x"}}, "NewImage": {"Info": {"S": "{not json"}}, "SizeBytes": 1},
            "eventSourceARN": arn}));
        assert!(record(&bad, &p).unwrap_err().contains("NewImage.Info"));
    }
}
