//! The alerts topic: publishing a finding's alert to SNS.
//!
//! [`SnsNotifier::publish`] sends one `Publish` per alert, exactly as
//! [`Alert::sns_message`](driftwatch_core::alert::Alert::sns_message) renders it:
//!
//! * `MessageStructure=json`, the message a JSON object with one entry per protocol: `default`
//!   (the finding JSON: SQS, Lambda and anything not listed), `email` (the text body),
//!   `email-json` (the finding JSON) and `https` (the AWS Chatbot custom notification);
//! * `Subject` from the alert (ASCII, at most [`SUBJECT_MAX`] = 99 characters: SNS refuses
//!   100 or more);
//! * message attributes `severity`, `rule`, `account` and `environment`, each `DataType`
//!   `String`, so that subscriptions filter with a filter policy on the message attributes
//!   (`{"severity": ["critical", "high"]}`).
//!
//! The alert renders only what the finding holds, and findings are redacted when they are
//! read, so nothing here can publish a secret the finding does not have.
//!
//! **Retries.** Clients come from the shared SDK configuration ([`load_sdk_config`]), whose
//! behaviour version selects the SDK's *standard* retry mode: up to 3 attempts (override with
//! `AWS_MAX_ATTEMPTS` or `max_attempts` in the profile) with exponential backoff and jitter,
//! for throttling errors (`Throttling`, `ThrottlingException`, `ThrottledException`, …, the
//! codes SNS answers when the publish rate is exceeded), HTTP 500/502/503/504, timeouts and
//! connection errors. What is still failing after the last attempt is returned as an error,
//! never dropped: [`NotifyError::is_transient`] tells a Lambda to fail the invocation (or the
//! record) so the platform retries it. `KMSThrottling` (a topic encrypted with SSE-KMS) is
//! not on the SDK's throttling list; it comes back as a transient error too.
//!
//! [`load_sdk_config`]: crate::sdk::load_sdk_config

use crate::iam::Action;
use crate::sdk;
use crate::sdk_error::{describe, one_line};
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use aws_types::SdkConfig;
use driftwatch_core::alert::{Alert, SnsMessage, SUBJECT_MAX};
use driftwatch_core::Finding;

/// SNS's limit on one published message: the message, subject and attributes together.
pub const MAX_PUBLISH_BYTES: usize = 262_144;

/// Errors of the SNS notifier. Each is one line that says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{arn:?} is not an SNS topic ARN (expected arn:<partition>:sns:<region>:<account>:<name>)")]
    BadTopicArn { arn: String },
    #[error("no AWS credentials: the default chain (environment, shared config and credentials files, SSO, web identity, ECS, EC2 instance role) found none: {0}")]
    NoCredentials(String),
    #[error("no AWS region: set AWS_REGION or a region in the AWS profile")]
    NoRegion,
    #[error("SNS topic {topic} does not exist")]
    NoSuchTopic { topic: String },
    #[error("access denied: SNS {op} on {topic}: {message}")]
    AccessDenied { op: &'static str, topic: String, message: String },
    #[error("the alert for finding {fingerprint} is {bytes} bytes, over SNS's {MAX_PUBLISH_BYTES}-byte limit")]
    TooLarge { fingerprint: String, bytes: usize },
    #[error("SNS {op} on {topic} was throttled after the SDK's retries: {message}")]
    Throttled { op: &'static str, topic: String, message: String },
    #[error("SNS {op} on {topic}: {message}")]
    Request { op: &'static str, topic: String, message: String, transient: bool },
}

impl NotifyError {
    /// Worth retrying later (throttling, a server error, a timeout or a dropped connection):
    /// the caller fails the invocation or the record so that the platform retries it.
    pub fn is_transient(&self) -> bool {
        matches!(self, NotifyError::Throttled { .. } | NotifyError::Request { transient: true, .. })
    }
}

/// What SNS answered for one published alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    /// The finding's fingerprint.
    pub fingerprint: String,
}

/// Check the shape of a topic ARN (`arn:aws:sns:us-east-1:123456789012:alerts`).
pub fn check_topic_arn(arn: &str) -> Result<(), NotifyError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && !parts[5].is_empty();
    if ok {
        Ok(())
    } else {
        Err(NotifyError::BadTopicArn { arn: arn.to_string() })
    }
}

/// Build the SNS client. Clients are cheap to clone: build one per process.
pub fn sns_client(sdk: &SdkConfig) -> Client {
    Client::new(sdk)
}

/// The message attributes of a rendered alert, as the SDK takes them.
pub fn sdk_message_attributes(message: &SnsMessage) -> Vec<(String, MessageAttributeValue)> {
    message
        .message_attributes
        .iter()
        .map(|(name, a)| {
            let value = MessageAttributeValue::builder()
                .data_type(a.data_type)
                .string_value(&a.string_value)
                .build()
                .expect("data_type is always set");
            (name.clone(), value)
        })
        .collect()
}

/// The size SNS counts for a publish: message, subject, and each attribute's name, type and
/// value.
fn publish_size(message: &SnsMessage) -> usize {
    message.message.len()
        + message.subject.len()
        + message.message_attributes.iter().map(|(k, a)| k.len() + a.data_type.len() + a.string_value.len()).sum::<usize>()
}

/// The subject as SNS takes it: at most [`SUBJECT_MAX`] characters (the alert already keeps
/// it there; this guards the limit at the wire).
fn subject(message: &SnsMessage) -> String {
    message.subject.chars().take(SUBJECT_MAX).collect()
}

/// The async notifier: one topic, one environment name. Cheap to clone; build one per
/// process.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
    environment: String,
    account: Option<String>,
    /// The policy's `[accounts]`: alerts name each account and its unit.
    accounts: std::collections::BTreeMap<String, driftwatch_core::policy::AccountPolicy>,
}

impl SnsNotifier {
    /// A notifier over an existing client (the Lambdas build theirs at cold start).
    /// `environment` names where findings are (`prod`) in every alert.
    pub fn new(client: Client, topic_arn: &str, environment: &str) -> Result<Self, NotifyError> {
        check_topic_arn(topic_arn)?;
        Ok(SnsNotifier {
            client,
            topic_arn: topic_arn.to_string(),
            environment: environment.to_string(),
            account: None,
            accounts: Default::default(),
        })
    }

    /// The account to name when a finding's ARN has none (S3 bucket ARNs).
    pub fn with_account(mut self, account: Option<&str>) -> Self {
        self.account = account.map(str::to_string);
        self
    }

    /// The accounts to name (the policy's `[accounts]`: name and organisational unit).
    pub fn with_accounts(mut self, accounts: &std::collections::BTreeMap<String, driftwatch_core::policy::AccountPolicy>) -> Self {
        self.accounts = accounts.clone();
        self
    }

    /// Load the standard AWS configuration, build the client and [`check`](Self::check)
    /// that credentials and the topic are there.
    pub async fn connect(topic_arn: &str, environment: &str) -> Result<Self, NotifyError> {
        check_topic_arn(topic_arn)?;
        let sdk = sdk::load_sdk_config().await;
        if sdk.region().is_none() {
            return Err(NotifyError::NoRegion);
        }
        match sdk.credentials_provider() {
            None => return Err(NotifyError::NoCredentials("no credentials provider configured".into())),
            Some(p) => {
                use aws_sdk_sns::config::ProvideCredentials;
                p.provide_credentials().await.map_err(|e| NotifyError::NoCredentials(one_line(&e)))?;
            }
        }
        let notifier = SnsNotifier::new(sns_client(&sdk), topic_arn, environment)?;
        notifier.check().await?;
        Ok(notifier)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// [`publish`](Self::publish), [`notify`](Self::notify), [`publish_text`](Self::publish_text).
    pub const PUBLISH: &'static [Action] = &[Action::new("sns:Publish", "publish")];
    /// [`check`](Self::check).
    pub const CHECK: &'static [Action] = &[Action::new("sns:GetTopicAttributes", "get_topic_attributes")];
    /// [`tag`](Self::tag) (the sweeper's heartbeat).
    pub const TAG: &'static [Action] = &[Action::new("sns:TagResource", "tag_resource")];

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// `GetTopicAttributes`: the topic exists and these credentials may see it.
    pub async fn check(&self) -> Result<(), NotifyError> {
        match self.client.get_topic_attributes().topic_arn(&self.topic_arn).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed("GetTopicAttributes", &e)),
        }
    }

    /// The alert for `finding` in this notifier's environment.
    pub fn alert<'a>(&self, finding: &'a Finding, exception_status: Option<&str>) -> Alert<'a> {
        Alert::new(finding, &self.environment)
            .with_account(self.account.as_deref())
            .with_accounts(&self.accounts)
            .with_exception_status(exception_status)
    }

    /// Publish the alert for `finding` (see [`alert`](Self::alert)).
    pub async fn notify(&self, finding: &Finding, exception_status: Option<&str>) -> Result<Published, NotifyError> {
        self.publish(&self.alert(finding, exception_status)).await
    }

    /// Publish the alert for `finding`; an alert over SNS's size limit with every change goes
    /// out [summarised](driftwatch_core::alert::summarised) (its first changes, and how many
    /// more the finding's evidence record holds), rather than failing on every retry.
    pub async fn notify_fitting(&self, finding: &Finding, exception_status: Option<&str>) -> Result<Published, NotifyError> {
        let mut keep = finding.changes.len();
        loop {
            let shown = if keep == finding.changes.len() { finding.clone() } else { driftwatch_core::alert::summarised(finding, keep) };
            match self.publish(&self.alert(&shown, exception_status)).await {
                Err(NotifyError::TooLarge { .. }) if keep > 0 => keep /= 2,
                Err(NotifyError::TooLarge { fingerprint, bytes }) if keep == 0 => {
                    return Err(NotifyError::TooLarge { fingerprint, bytes });
                }
                other => return other,
            }
        }
    }

    /// Publish one alert: `MessageStructure=json`, its subject and message attributes.
    pub async fn publish(&self, alert: &Alert<'_>) -> Result<Published, NotifyError> {
        let fingerprint = alert.finding().fingerprint.clone();
        let message = alert.sns_message();
        let bytes = publish_size(&message);
        if bytes > MAX_PUBLISH_BYTES {
            return Err(NotifyError::TooLarge { fingerprint, bytes });
        }
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message_structure(message.message_structure)
            .subject(subject(&message))
            .message(&message.message);
        for (name, value) in sdk_message_attributes(&message) {
            req = req.message_attributes(name, value);
        }
        match req.send().await {
            Ok(out) => {
                let message_id = out.message_id().unwrap_or_default().to_string();
                tracing::info!(topic = %self.topic_arn, fingerprint = %fingerprint, message_id = %message_id, "alert published");
                Ok(Published { message_id, fingerprint })
            }
            Err(e) => Err(self.failed("Publish", &e)),
        }
    }

    /// `TagResource`: set one tag on the topic (the sweeper's heartbeat, a write that reaches
    /// the watchers through CloudTrail and AWS Config).
    pub async fn tag(&self, key: &str, value: &str) -> Result<(), NotifyError> {
        let tag = aws_sdk_sns::types::Tag::builder().key(key).value(value).build().map_err(|e| NotifyError::Request {
            op: "TagResource",
            topic: self.topic_arn.clone(),
            message: e.to_string(),
            transient: false,
        })?;
        match self.client.tag_resource().resource_arn(&self.topic_arn).tags(tag).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed("TagResource", &e)),
        }
    }

    /// Publish a plain-text message (exception notices): a subject (at most 100 characters)
    /// and string message attributes for subscription filters. The message id.
    pub async fn publish_text(&self, subject: &str, body: &str, attributes: &[(&str, &str)]) -> Result<String, NotifyError> {
        let mut req = self.client.publish().topic_arn(&self.topic_arn).subject(subject).message(body);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder().data_type("String").string_value(*value).build().map_err(|e| {
                NotifyError::Request { op: "Publish", topic: self.topic_arn.clone(), message: e.to_string(), transient: false }
            })?;
            req = req.message_attributes(*name, value);
        }
        match req.send().await {
            Ok(out) => Ok(out.message_id().unwrap_or_default().to_string()),
            Err(e) => Err(self.failed("Publish", &e)),
        }
    }

    fn failed<E>(&self, op: &'static str, e: &SdkError<E>) -> NotifyError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let topic = self.topic_arn.clone();
        let message = describe(e);
        let status = e.raw_response().map(|r| r.status().as_u16());
        match (e.code(), status) {
            (Some("NotFound" | "NotFoundException"), _) | (_, Some(404)) => NotifyError::NoSuchTopic { topic },
            (Some("AuthorizationError" | "AccessDenied" | "AccessDeniedException"), _) | (_, Some(403)) => {
                NotifyError::AccessDenied { op, topic, message }
            }
            (Some(c), _) if c.contains("Throttl") => NotifyError::Throttled { op, topic, message },
            (_, Some(429)) => NotifyError::Throttled { op, topic, message },
            _ => {
                let transient = match e {
                    SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
                    _ => status.is_some_and(|s| s >= 500) || e.code() == Some("InternalError"),
                };
                NotifyError::Request { op, topic, message, transient }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_arns() {
        check_topic_arn("arn:aws:sns:us-east-1:123456789012:alerts").unwrap();
        check_topic_arn("arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts.fifo").unwrap();
        for bad in ["alerts", "arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sns:us-east-1::alerts", "arn:aws:sns:us-east-1:1:a:b"] {
            let e = check_topic_arn(bad).unwrap_err().to_string();
            assert!(e.contains("is not an SNS topic ARN"), "{bad}: {e}");
        }
    }

    #[test]
    fn transient_errors() {
        let t = NotifyError::Throttled { op: "Publish", topic: "t".into(), message: "Throttling".into() };
        assert!(t.is_transient());
        assert!(!NotifyError::NoSuchTopic { topic: "t".into() }.is_transient());
        let r = |transient| NotifyError::Request { op: "Publish", topic: "t".into(), message: "m".into(), transient };
        assert!(r(true).is_transient() && !r(false).is_transient());
    }
}
