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
//! The heartbeat: each sweeper run tags the heartbeat topic (`driftwatch:heartbeat` = the run's
//! time); the call reaches the trail-watcher through CloudTrail and EventBridge, and the
//! config-watcher through AWS Config, like any other change ([`heartbeat`]). The sweeper
//! compares what it sent with what each watcher saw ([`hearing`]): a watcher that has seen
//! none for `silent_after_minutes` is `watcher.silent`, critical; it resolves when a heartbeat
//! gets through again.
//!
//! `watcher.tampered` is not raised for the pipeline (deploying driftwatch changes these), and
//! is critical otherwise. Neither rule can be excepted.

use super::actor::{self, classify};
use super::{actor_of, build, Context, Draft};
use crate::finding::{ActorKind, Change, Finding, ResourceRef, Rule};
use crate::policy::WatcherPolicy;
use crate::signal::{ApiCall, Signal};
use chrono::{DateTime, Utc};
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
                account: None,
                region: None,
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
                account: None,
                region: None,
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

/// The tag the sweeper sets on the heartbeat topic each run: its value is the run's time in
/// epoch seconds (a number, which redaction keeps).
pub const HEARTBEAT_TAG: &str = "driftwatch:heartbeat";
/// The watcher that sees heartbeats through CloudTrail and EventBridge.
pub const TRAIL_OBSERVER: &str = "trail-watcher";
/// The watcher that sees heartbeats through AWS Config.
pub const CONFIG_OBSERVER: &str = "config-watcher";

/// A heartbeat that reached a watcher: which watcher, and when the sweeper sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub observer: &'static str,
    pub sent: DateTime<Utc>,
    /// The signal is nothing but the heartbeat (the sweeper's `TagResource` of the heartbeat
    /// tag alone): no other detector need see it. A Config item is detected as usual.
    pub only: bool,
}

/// The heartbeat tag's value in `tags`: an object (`{"driftwatch:heartbeat": "…"}`) or a
/// list of `{key, value}` / `{Key, Value}` pairs.
fn heartbeat_tag(tags: &Value) -> Option<DateTime<Utc>> {
    let value = match tags {
        Value::Object(m) => m.get(HEARTBEAT_TAG).cloned(),
        Value::Array(pairs) => pairs.iter().find_map(|p| {
            let key = p.get("key").or_else(|| p.get("Key")).and_then(Value::as_str)?;
            (key == HEARTBEAT_TAG).then(|| p.get("value").or_else(|| p.get("Value")).cloned()).flatten()
        }),
        _ => None,
    }?;
    let secs = match &value {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp(secs, 0)
}

/// The heartbeat a signal carries, if it is one: the sweeper's `TagResource` of the heartbeat
/// topic seen in CloudTrail (the trail-watcher), or the topic's configuration item carrying
/// the tag (the config-watcher). Anyone may tag the topic: a heartbeat proves the path from
/// the call to the watcher works, which is all it claims.
pub fn heartbeat(signal: &Signal, w: &WatcherPolicy) -> Option<Heartbeat> {
    if w.heartbeat_topic.is_empty() {
        return None;
    }
    let topic = std::slice::from_ref(&w.heartbeat_topic);
    match signal {
        Signal::ApiCall(call) => {
            if call.error_code.is_some() || call.event_source != "sns.amazonaws.com" || call.event_name != "TagResource" {
                return None;
            }
            let arn = param(call, &["resourceArn", "ResourceArn"])?;
            if !names_one_of(arn, topic) {
                return None;
            }
            let tags = call.request_parameters.get("tags").or_else(|| call.request_parameters.get("Tags"))?;
            let sent = heartbeat_tag(tags)?;
            let only = tags.as_array().map_or(1, Vec::len) == 1 && tags.as_object().map_or(1, |m| m.len()) == 1;
            Some(Heartbeat { observer: TRAIL_OBSERVER, sent, only })
        }
        Signal::ConfigChange(change) => {
            let item = change.item.as_ref()?;
            if item.resource_type != "AWS::SNS::Topic" || item.is_deleted() {
                return None;
            }
            let name = item.arn.as_deref().unwrap_or(&item.resource_id);
            if !names_one_of(name, topic) {
                return None;
            }
            let sent = heartbeat_tag(item.doc.get("tags")?)?;
            Some(Heartbeat { observer: CONFIG_OBSERVER, sent, only: false })
        }
        _ => None,
    }
}

/// What the sweeper concludes about one observer from the heartbeats it sent and saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Hearing {
    /// Heartbeats have not been sent for long enough to tell.
    TooEarly,
    /// The newest heartbeat it saw is recent enough.
    Heard { fingerprint: String },
    /// None seen for longer than the policy allows.
    Silent(Box<Finding>),
}

/// Has `observer` seen a heartbeat recently enough? `first_sent` is when the sweeper sent its
/// first heartbeat, `last_seen` the send time of the newest one the observer saw. Silent
/// once both lie further back than `silent_after`. The finding is timed at the moment the
/// observer became silent (the newest heartbeat seen, or the first sent, plus `silent_after`),
/// and its fingerprint names only the observer: one open finding per silence, however many
/// sweeps see it, resolved when a heartbeat gets through again.
pub fn hearing(
    observer: &str,
    first_sent: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    w: &WatcherPolicy,
    catalog: &crate::catalog::Catalog,
) -> Hearing {
    let Some(first) = first_sent else { return Hearing::TooEarly };
    let after = w.silent_after();
    let since = last_seen.map_or(first, |s| s.max(first));
    let silent_at = since + after;
    let finding = build(
        Draft {
            rule: Rule::WatcherSilent,
            severity: None,
            title: match last_seen {
                Some(s) => format!(
                    "driftwatch's {observer} has seen no heartbeat since the one sent at {}",
                    s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                None => format!("driftwatch's {observer} has never seen a heartbeat"),
            },
            resource: ResourceRef {
                arn: None,
                resource_type: WATCHER.into(),
                id: observer.to_string(),
                address: None,
                terraform_type: None,
                state: None,
                account: None,
                region: None,
            },
            actor: None,
            changes: vec![Change {
                path: "last_heartbeat_seen".into(),
                desired: Value::String(format!("within {} minutes", after.num_minutes())),
                actual: last_seen.map_or(Value::Null, |s| Value::String(s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
            }],
            extra_controls: vec!["HIPAA 164.312(b)".into(), "NIST AU-5".into(), "NIST SI-4".into()],
            fingerprint_parts: vec!["silent".into(), observer.to_string()],
            at: silent_at,
        },
        catalog,
    );
    if now < silent_at {
        if last_seen.is_none() && now < first + after {
            return Hearing::TooEarly;
        }
        return Hearing::Heard { fingerprint: finding.fingerprint };
    }
    Hearing::Silent(Box::new(finding))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::policy::Policy;

    fn policy() -> WatcherPolicy {
        Policy::from_toml(
            "[watcher]\nheartbeat_topic = \"driftwatch-heartbeat\"\nheartbeat_observers = [\"trail-watcher\", \"config-watcher\"]\n",
        )
        .unwrap()
        .watcher
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn heartbeat_tags_are_read_from_either_shape_and_nothing_else_is_one() {
        assert_eq!(heartbeat_tag(&serde_json::json!({"driftwatch:heartbeat": "1795176000"})), Some(t("2026-11-20T12:00:00Z")));
        assert_eq!(
            heartbeat_tag(&serde_json::json!([{"Key": "driftwatch:heartbeat", "Value": "1795176000"}])),
            Some(t("2026-11-20T12:00:00Z"))
        );
        assert_eq!(heartbeat_tag(&serde_json::json!([{"key": "owner", "value": "1795176000"}])), None);
        assert_eq!(heartbeat_tag(&serde_json::json!({"driftwatch:heartbeat": "(sensitive sha256:ab)"})), None);
    }

    #[test]
    fn silence_is_counted_from_the_last_heartbeat_seen_or_the_first_sent() {
        let (w, c) = (policy(), Catalog::builtin());
        let first = Some(t("2026-11-20T12:00:00Z"));
        assert_eq!(hearing("trail-watcher", None, None, t("2026-11-21T00:00:00Z"), &w, &c), Hearing::TooEarly);
        assert_eq!(hearing("trail-watcher", first, None, t("2026-11-20T12:44:59Z"), &w, &c), Hearing::TooEarly);
        let Hearing::Silent(f) = hearing("trail-watcher", first, None, t("2026-11-20T12:45:00Z"), &w, &c) else { panic!("silent") };
        assert_eq!(
            (f.rule, f.severity, f.first_seen),
            (Rule::WatcherSilent, crate::finding::Severity::Critical, t("2026-11-20T12:45:00Z"))
        );
        let seen = Some(t("2026-11-20T13:00:00Z"));
        let Hearing::Heard { fingerprint } = hearing("trail-watcher", first, seen, t("2026-11-20T13:44:00Z"), &w, &c) else {
            panic!("heard")
        };
        assert_eq!(fingerprint, f.fingerprint, "one finding per observer: the heard run resolves it");
        let Hearing::Silent(g) = hearing("trail-watcher", first, seen, t("2026-11-20T14:00:00Z"), &w, &c) else { panic!("silent") };
        assert_eq!((g.fingerprint, g.first_seen), (f.fingerprint.clone(), t("2026-11-20T13:45:00Z")));
        let Hearing::Silent(h) = hearing("config-watcher", first, None, t("2026-11-20T14:00:00Z"), &w, &c) else { panic!("silent") };
        assert_ne!(h.fingerprint, f.fingerprint);
    }

    #[test]
    fn the_policy_refuses_an_observer_that_sees_no_heartbeat() {
        let e = Policy::from_toml("[watcher]\nheartbeat_topic = \"h\"\nheartbeat_observers = [\"sweeper\"]\n").unwrap_err();
        assert!(e.to_string().contains("heartbeat_observers"), "{e}");
        assert_eq!(policy().observers(), ["trail-watcher", "config-watcher"]);
        assert!(WatcherPolicy::default().observers().is_empty(), "no topic, no heartbeat");
    }
}
