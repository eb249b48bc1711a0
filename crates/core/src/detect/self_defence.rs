//! The watcher watches itself: CloudTrail calls on driftwatch's own resources
//! ([`WatcherPolicy`]).
//!
//! | call | on | finding |
//! |---|---|---|
//! | DynamoDB `PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem`, `TransactWriteItems` (data events) | the exceptions table | `exception.changed` — by anyone, the pipeline included: every change of an exception is on record with its actor |
//! | EventBridge `DisableRule`, `DeleteRule`, `RemoveTargets`, `PutTargets`, `PutRule` | its rules | `watcher.tampered` |
//! | SNS `Unsubscribe`, `SetSubscriptionAttributes`, `DeleteTopic`, `SetTopicAttributes`, `RemovePermission` | its topics | `watcher.tampered` |
//! | Lambda `UpdateFunctionCode`, `UpdateFunctionConfiguration`, `DeleteFunction`, `PutFunctionConcurrency`, `DeleteFunctionConcurrency`, `UpdateEventSourceMapping`, `DeleteEventSourceMapping`, `RemovePermission` | its functions | `watcher.tampered` |
//! | KMS `DisableKey`, `ScheduleKeyDeletion`, `PutKeyPolicy` | its keys | `watcher.tampered` |
//! | CloudTrail `StopLogging`, `DeleteTrail`, `UpdateTrail`, `PutEventSelectors` | its trail | `watcher.tampered` |
//! | Config `StopConfigurationRecorder`, `DeleteConfigurationRecorder`, `DeleteDeliveryChannel` | the account's recorder | `watcher.tampered` |
//! | S3 `PutBucketPolicy`, `DeleteBucketPolicy`, `PutBucketVersioning`, `PutObjectLockConfiguration`, `PutBucketLifecycle(Configuration)`, `DeleteBucket` | the evidence bucket | `watcher.tampered` |
//!
//! `watcher.tampered` is not raised for the pipeline (deploying driftwatch changes these), and
//! is critical otherwise. Neither rule can be excepted.

use super::actor::{self, classify};
use super::{actor_of, build, Context, Draft};
use crate::finding::{ActorKind, Change, Finding, ResourceRef, Rule};
use crate::policy::WatcherPolicy;
use crate::signal::ApiCall;
use serde_json::Value;

/// Resource type of `exception.changed` findings (as `exception.*`).
const EXCEPTION: &str = crate::exceptions::RESOURCE_TYPE;
/// Resource type of `watcher.tampered` findings.
pub const WATCHER: &str = "driftwatch::Watcher";

/// The finding of a call on the watcher's own resources, if it is one.
pub fn detect(call: &ApiCall, ctx: &Context<'_>) -> Option<Finding> {
    if call.error_code.is_some() {
        return None;
    }
    let w = &ctx.policy.watcher;
    exception_changed(call, w, ctx).or_else(|| tampered(call, w, ctx))
}

/// A request parameter (the first of `names` present) as text.
fn param<'a>(call: &'a ApiCall, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| call.request_parameters.get(*n).and_then(Value::as_str))
}

/// The last path segment of a name or ARN (`arn:…:function:f` → `f`, `…:rule/r` → `r`).
fn short(name: &str) -> &str {
    name.rsplit([':', '/']).next().unwrap_or(name)
}

/// Does `value` (a name or an ARN) name one of `watched` (names, ARNs or globs of either:
/// `driftwatch-evidence-*`)?
fn names_one_of(value: &str, watched: &[String]) -> bool {
    watched
        .iter()
        .filter(|w| !w.is_empty())
        .any(|w| w == value || short(w) == short(value) || crate::glob::matches(w, value) || crate::glob::matches(short(w), short(value)))
}

fn exception_changed(call: &ApiCall, w: &WatcherPolicy, ctx: &Context<'_>) -> Option<Finding> {
    if w.exceptions_table.is_empty() || call.event_source != "dynamodb.amazonaws.com" {
        return None;
    }
    let verb = match call.event_name.as_str() {
        "PutItem" => "created or replaced",
        "UpdateItem" => "updated",
        "DeleteItem" => "deleted",
        "BatchWriteItem" | "TransactWriteItems" => "written",
        _ => return None,
    };
    let table = param(call, &["tableName"])
        .map(str::to_string)
        .or_else(|| call.resources.iter().find_map(|r| r.arn.as_deref().map(|a| short(a).to_string())))
        .or_else(|| {
            // Batch and transactional writes name their tables inside the request.
            let text = call.request_parameters.to_string();
            text.contains(&format!("\"{}\"", w.exceptions_table)).then(|| w.exceptions_table.clone())
        })?;
    if short(&table) != short(&w.exceptions_table) {
        return None;
    }
    // The exception's id: the item's key (`{"id": {"S": "EXC-…"}}`), when the call names one.
    // CloudTrail records key attributes as plain values (`{"id": "EXC-…"}`); the typed form
    // (`{"id": {"S": "EXC-…"}}`) of the API is read too.
    let id = call
        .request_parameters
        .get("key")
        .and_then(|k| k.get("id"))
        .and_then(|v| v.as_str().or_else(|| v.get("S").and_then(Value::as_str)));
    let kind = classify(&call.principal, ctx.policy);
    let who = actor::who(&call.principal);
    let title = match id {
        Some(id) => format!("exception {id} {verb} in the exceptions table by {who}"),
        None => format!("exceptions {verb} in the exceptions table by {who} ({})", call.event_name),
    };
    let mut changes = vec![Change { path: "eventName".into(), desired: Value::Null, actual: Value::String(call.event_name.clone()) }];
    for field in ["item", "key", "updateExpression", "expressionAttributeValues"] {
        if let Some(v) = call.request_parameters.get(field) {
            changes.push(Change { path: field.into(), desired: Value::Null, actual: v.clone() });
        }
    }
    Some(build(
        Draft {
            rule: Rule::ExceptionChanged,
            severity: None,
            title,
            resource: ResourceRef {
                arn: call.resources.iter().find_map(|r| r.arn.clone()),
                resource_type: EXCEPTION.into(),
                id: id.unwrap_or(&table).to_string(),
                address: None,
                terraform_type: None,
                state: None,
            },
            actor: Some(actor_of(&call.principal, kind)),
            changes,
            extra_controls: vec!["HIPAA 164.312(b)".into(), "NIST AU-9".into(), "NIST CM-5".into()],
            // Every change is its own record: the call's id.
            fingerprint_parts: vec![table, id.unwrap_or_default().to_string(), call.event_id.clone()],
            at: call.event_time,
        },
        ctx.catalog,
    ))
}

/// Which watcher resource a call disables or changes: (what, its name).
fn tampered_target(call: &ApiCall, w: &WatcherPolicy) -> Option<(&'static str, String)> {
    let name = call.event_name.as_str();
    // Lambda's event names carry an API version suffix (`UpdateFunctionCode20150331v2`).
    let lambda = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'v');
    let hit = |what: &'static str, value: Option<&str>, watched: &[String]| {
        value.filter(|v| names_one_of(v, watched)).map(|v| (what, v.to_string()))
    };
    match call.event_source.as_str() {
        "events.amazonaws.com" if matches!(name, "DisableRule" | "DeleteRule" | "RemoveTargets" | "PutTargets" | "PutRule") => {
            hit("EventBridge rule", param(call, &["name", "rule"]), &w.rules)
        }
        "sns.amazonaws.com" => match name {
            "Unsubscribe" | "SetSubscriptionAttributes" => {
                // A subscription ARN is its topic's ARN and an id.
                let sub = param(call, &["subscriptionArn"])?;
                let topic = sub.rsplit_once(':').map(|(t, _)| t)?;
                hit("SNS subscription", Some(topic), &w.topics).map(|(what, _)| (what, sub.to_string()))
            }
            "DeleteTopic" | "SetTopicAttributes" | "RemovePermission" => hit("SNS topic", param(call, &["topicArn"]), &w.topics),
            _ => None,
        },
        "lambda.amazonaws.com" => match lambda {
            "UpdateFunctionCode"
            | "UpdateFunctionConfiguration"
            | "DeleteFunction"
            | "PutFunctionConcurrency"
            | "DeleteFunctionConcurrency"
            | "RemovePermission" => hit("Lambda function", param(call, &["functionName"]), &w.functions),
            "UpdateEventSourceMapping" | "DeleteEventSourceMapping" => {
                let f = param(call, &["functionName"]).or_else(|| call.response_elements.get("functionArn").and_then(Value::as_str));
                hit("event source mapping of", f, &w.functions)
            }
            _ => None,
        },
        "kms.amazonaws.com" if matches!(name, "DisableKey" | "ScheduleKeyDeletion" | "PutKeyPolicy") => {
            hit("KMS key", param(call, &["keyId"]), &w.keys)
        }
        "cloudtrail.amazonaws.com" if matches!(name, "StopLogging" | "DeleteTrail" | "UpdateTrail" | "PutEventSelectors") => {
            hit("trail", param(call, &["name", "trailName"]), &w.trails)
        }
        "config.amazonaws.com"
            if w.config_recorder
                && matches!(name, "StopConfigurationRecorder" | "DeleteConfigurationRecorder" | "DeleteDeliveryChannel") =>
        {
            let n = param(call, &["configurationRecorderName", "deliveryChannelName"]).unwrap_or("default");
            Some(("AWS Config recorder", n.to_string()))
        }
        "s3.amazonaws.com"
            if matches!(
                name,
                "PutBucketPolicy"
                    | "DeleteBucketPolicy"
                    | "PutBucketVersioning"
                    | "PutObjectLockConfiguration"
                    | "PutBucketLifecycle"
                    | "PutBucketLifecycleConfiguration"
                    | "DeleteBucket"
            ) =>
        {
            hit("evidence bucket", param(call, &["bucketName"]), &w.buckets)
        }
        _ => None,
    }
}

fn tampered(call: &ApiCall, w: &WatcherPolicy, ctx: &Context<'_>) -> Option<Finding> {
    let (what, name) = tampered_target(call, w)?;
    let kind = classify(&call.principal, ctx.policy);
    if kind == ActorKind::Pipeline {
        return None;
    }
    let who = actor::who(&call.principal);
    let mut changes = vec![Change { path: "eventName".into(), desired: Value::Null, actual: Value::String(call.event_name.clone()) }];
    if !call.request_parameters.is_null() {
        changes.push(Change { path: "requestParameters".into(), desired: Value::Null, actual: call.request_parameters.clone() });
    }
    Some(build(
        Draft {
            rule: Rule::WatcherTampered,
            severity: None,
            title: format!("{} on driftwatch's {what} {} by {who}", call.event_name, short(&name)),
            resource: ResourceRef {
                arn: name.starts_with("arn:").then(|| name.clone()),
                resource_type: WATCHER.into(),
                id: short(&name).to_string(),
                address: None,
                terraform_type: None,
                state: None,
            },
            actor: Some(actor_of(&call.principal, kind)),
            changes,
            extra_controls: vec!["HIPAA 164.312(b)".into(), "NIST AU-9".into(), "NIST SI-4".into()],
            fingerprint_parts: vec![what.into(), name, call.event_id.clone()],
            at: call.event_time,
        },
        ctx.catalog,
    ))
}
