//! CloudTrail records → [`ApiCall`].
//!
//! Why our own type rather than `aws_lambda_events::cloudwatch_events::cloudtrail::AWSAPICall`:
//! that struct has no `errorCode`/`errorMessage` (lock contention *is* a failed call), no
//! `readOnly` (the cheapest filter there is), no `resources[]`, no
//! `sessionCredentialFromConsole` (the console marker), no `recipientAccountId` and no
//! `eventCategory` (management vs data events); it also requires members that real records
//! omit (`responseElements` on failures, `userAgent` on some service events) and copies every
//! value into owned `serde_json::Value`s. [`RawRecord`] borrows each member as a raw slice,
//! so a read-only record costs one syntax pass and nothing else.

use crate::lenient::{self, RawRecord, Slot};
use chrono::{DateTime, Utc};
use driftwatch_core::redact::Redactor;
use driftwatch_core::signal::{ApiCall, ApiResource, Principal};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// `userIdentity` (the members we use).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity {
    #[serde(rename = "type")]
    kind: Option<String>,
    arn: Option<String>,
    account_id: Option<String>,
    principal_id: Option<String>,
    invoked_by: Option<String>,
    session_context: Option<SessionContext>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext {
    session_issuer: Option<SessionIssuer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer {
    arn: Option<String>,
}

/// One entry of `resources[]`.
#[derive(Debug, Deserialize)]
struct ResourceDto {
    #[serde(rename = "ARN", alias = "arn")]
    arn: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
}

/// What became of one CloudTrail record.
#[derive(Debug)]
pub(crate) enum Outcome {
    Call(Box<ApiCall>),
    /// `readOnly: true`: counted, not decoded further.
    ReadOnly,
}

/// Does this raw record look like a CloudTrail record?
pub(crate) fn looks_like(rec: &RawRecord<'_>) -> bool {
    rec.get(Slot::EventName).is_some()
        && rec.get(Slot::EventTime).is_some()
        && rec.get(Slot::S3).is_none()
        && rec.get(Slot::Dynamodb).is_none()
}

/// Decode one CloudTrail record. `fallback_account` / `fallback_time` come from an
/// EventBridge envelope, when there is one.
pub(crate) fn decode(
    rec: &RawRecord<'_>,
    redactor: &Redactor,
    fallback_account: Option<&str>,
    fallback_time: Option<DateTime<Utc>>,
) -> Result<Outcome, String> {
    if lenient::flag(rec.get(Slot::ReadOnly)) == Some(true) {
        return Ok(Outcome::ReadOnly);
    }
    let event_name = lenient::string(rec.get(Slot::EventName).ok_or("missing eventName")?, "eventName")?.into_owned();
    let event_source = lenient::string(rec.get(Slot::EventSource).ok_or("missing eventSource")?, "eventSource")?.into_owned();
    let event_time = match rec.get(Slot::EventTime) {
        Some(r) => {
            let s = lenient::string(r, "eventTime")?;
            DateTime::parse_from_rfc3339(&s).map_err(|e| format!("eventTime {s:?}: {e}"))?.with_timezone(&Utc)
        }
        None => fallback_time.ok_or("missing eventTime")?,
    };
    let event_id = match lenient::opt_string(rec.get(Slot::EventId), "eventID")? {
        Some(id) => id,
        None => return Err("missing eventID".into()),
    };
    let identity: UserIdentity = match rec.get(Slot::UserIdentity) {
        Some(r) if r.get().starts_with('{') => {
            serde_json::from_str(r.get()).map_err(|e| format!("userIdentity: {}", lenient::without_position(&e)))?
        }
        Some(r) => return Err(format!("userIdentity: expected an object, found {}", lenient::kind(r.get()))),
        None => UserIdentity::default(),
    };
    let resources: Vec<ApiResource> = match rec.get(Slot::Resources) {
        Some(r) => serde_json::from_str::<Vec<ResourceDto>>(r.get())
            .map_err(|e| format!("resources: {}", lenient::without_position(&e)))?
            .into_iter()
            .map(|d| ApiResource { arn: d.arn, resource_type: d.kind, account: d.account_id })
            .collect(),
        None => Vec::new(),
    };
    let session_name = session_name(&identity);
    let principal = Principal {
        session_issuer_arn: identity.session_context.and_then(|c| c.session_issuer).and_then(|i| i.arn),
        session_name,
        arn: identity.arn,
        principal_type: identity.kind,
        account: identity.account_id,
        invoked_by: identity.invoked_by,
        source_ip: lenient::opt_string(rec.get(Slot::SourceIp), "sourceIPAddress")?,
        user_agent: lenient::opt_string(rec.get(Slot::UserAgent), "userAgent")?,
        session_credential_from_console: lenient::flag(rec.get(Slot::SessionCredentialFromConsole)) == Some(true),
    };
    let account = match lenient::opt_string(rec.get(Slot::RecipientAccountId), "recipientAccountId")? {
        Some(a) => Some(a),
        None => fallback_account.map(str::to_string).or_else(|| principal.account.clone()),
    };
    Ok(Outcome::Call(Box::new(ApiCall {
        event_id,
        event_time,
        event_source,
        event_name,
        region: lenient::opt_string(rec.get(Slot::AwsRegion), "awsRegion")?,
        account,
        read_only: lenient::flag(rec.get(Slot::ReadOnly)),
        error_code: lenient::opt_string(rec.get(Slot::ErrorCode), "errorCode")?,
        error_message: lenient::opt_string(rec.get(Slot::ErrorMessage), "errorMessage")?,
        event_category: lenient::opt_string(rec.get(Slot::EventCategory), "eventCategory")?,
        principal,
        request_parameters: value(rec.get(Slot::RequestParameters), "requestParameters", redactor)?,
        response_elements: value(rec.get(Slot::ResponseElements), "responseElements", redactor)?,
        additional_event_data: value(rec.get(Slot::AdditionalEventData), "additionalEventData", redactor)?,
        resources,
    })))
}

/// A member as a `Value`, with secret-looking values digested (request parameters can hold
/// passwords and tokens; they must not leave the decoder in clear).
fn value(raw: Option<&RawValue>, what: &str, redactor: &Redactor) -> Result<Value, String> {
    match raw {
        None => Ok(Value::Null),
        Some(r) => {
            let mut v: Value = serde_json::from_str(r.get()).map_err(|e| format!("{what}: {}", lenient::without_position(&e)))?;
            redactor.scrub(&mut v);
            Ok(v)
        }
    }
}

/// Role session name: the last part of an assumed-role ARN
/// (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`), else after the `:` of the principal id
/// (`AROA…:SESSION`) for assumed roles.
fn session_name(id: &UserIdentity) -> Option<String> {
    if let Some(arn) = &id.arn {
        if let Some((_, rest)) = arn.split_once(":assumed-role/") {
            return rest.split_once('/').map(|(_, s)| s.to_string());
        }
    }
    if id.kind.as_deref() == Some("AssumedRole") {
        return id.principal_id.as_deref().and_then(|p| p.split_once(':')).map(|(_, s)| s.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Result<Outcome, String> {
        let rec: RawRecord = serde_json::from_str(text).unwrap();
        decode(&rec, &Redactor::new(b"t"), None, None)
    }

    #[test]
    fn a_console_call_keeps_what_detectors_need() {
        let text = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:jane@stmarys.org",
          "arn":"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_1/jane@stmarys.org","accountId":"123456789012",
          "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1"},
          "attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"true"}}},
          "eventTime":"2026-11-20T09:14:02Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress",
          "awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"AWS Internal",
          "requestParameters":{"groupId":"sg-1","ipPermissions":{"items":[]},"masterUserPassword":"hunter2-hunter2"},
          "responseElements":null,"eventID":"e-1","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"123456789012",
          "eventCategory":"Management","sessionCredentialFromConsole":"true",
          "resources":[{"accountId":"123456789012","type":"AWS::EC2::SecurityGroup","ARN":"arn:aws:ec2:us-east-1:123456789012:security-group/sg-1"}]}"#;
        let Outcome::Call(c) = dec(text).unwrap() else { panic!("not a call") };
        assert_eq!(c.event_name, "AuthorizeSecurityGroupIngress");
        assert_eq!(c.principal.session_name.as_deref(), Some("jane@stmarys.org"));
        assert!(c.principal.session_credential_from_console);
        assert_eq!(
            c.principal.session_issuer_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1")
        );
        assert_eq!(c.read_only, Some(false));
        assert_eq!(c.account.as_deref(), Some("123456789012"));
        assert_eq!(c.request_parameters["groupId"], "sg-1");
        assert!(c.request_parameters["masterUserPassword"].as_str().unwrap().starts_with("(sensitive sha256:"));
        assert_eq!(c.response_elements, Value::Null);
        assert_eq!(c.resources[0].resource_type.as_deref(), Some("AWS::EC2::SecurityGroup"));
    }

    #[test]
    fn read_only_is_skipped_and_bad_members_are_errors() {
        assert!(matches!(dec(r#"{"eventName":"Describe","eventTime":3,"readOnly":true}"#).unwrap(), Outcome::ReadOnly));
        let base = r#""eventSource":"s3.amazonaws.com","eventID":"x","readOnly":false"#;
        assert!(dec(&format!(r#"{{"eventName":"PutObject","eventTime":"yesterday",{base}}}"#)).unwrap_err().contains("eventTime"));
        assert!(dec(&format!(r#"{{"eventName":7,"eventTime":"2026-11-20T09:14:02Z",{base}}}"#)).unwrap_err().contains("eventName"));
        assert!(dec(&format!(r#"{{"eventName":"P","eventTime":"2026-11-20T09:14:02Z","userIdentity":"me",{base}}}"#))
            .unwrap_err()
            .contains("userIdentity"));
        assert!(dec(r#"{"eventName":"P","eventTime":"2026-11-20T09:14:02Z","eventSource":"s3.amazonaws.com"}"#)
            .unwrap_err()
            .contains("eventID"));
    }
}
