//! Alerts: what a security channel receives for a finding.
//!
//! One [`Alert`] renders a finding for every kind of subscriber of the alerts SNS topic:
//!
//! * [`Alert::subject`]: the SNS `Subject` (email subject line), ASCII, under 100 characters,
//!   saying what and where: `[CRITICAL] encryption.regression: module.x.aws_kms_key.this (prod)`.
//! * [`Alert::email_body`]: plain text readable in an email client: what changed, who, when,
//!   the Terraform address and state, the exception status, the controls, what to do, evidence.
//! * [`Alert::json`]: the finding itself, for machines.
//! * [`Alert::chatbot`]: the AWS Chatbot (Amazon Q Developer in chat applications) custom
//!   notification, for Slack and Teams channels.
//! * [`Alert::message_attributes`]: `severity`, `rule`, `account`, `environment` (String), for
//!   subscription filter policies.
//!
//! [`Alert::sns_message`] puts them together as one `Publish` with `MessageStructure=json`:
//! `default` is the finding JSON (SQS, Lambda, HTTP and anything not listed get it), `email`
//! is the text body, `email-json` the finding JSON, and `https` the Chatbot notification (AWS
//! Chatbot subscribes to a topic over HTTPS). A plain-HTTPS webhook subscriber therefore gets
//! the Chatbot shape, which carries the fingerprint, rule and resource in `metadata`.
//!
//! Everything shown comes from the finding, whose values are redacted when they are read
//! (ARCHITECTURE.md, invariant 2), so no alert can carry a secret the finding does not have.

use crate::asff;
use crate::finding::Finding;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// SNS subjects must be shorter than 100 characters.
pub const SUBJECT_MAX: usize = 99;

/// The path of the change that stands for the changes [`summarised`] left out.
pub const MORE_CHANGES: &str = "(more changes)";

/// `f` with only its first `keep` changes, and one more change saying how many were left out
/// and where they are (the finding's evidence record holds them all): for an alert that would
/// be over the topic's size limit with every change.
pub fn summarised(f: &Finding, keep: usize) -> Finding {
    let mut g = f.clone();
    if g.changes.len() > keep {
        let left = g.changes.len() - keep;
        g.changes.truncate(keep);
        g.changes.push(crate::finding::Change {
            path: MORE_CHANGES.into(),
            desired: serde_json::Value::Null,
            actual: serde_json::Value::String(format!("{left} more changes: the finding's evidence record holds them all")),
        });
    }
    g
}
/// Longest rendering of one changed value in the email body.
const VALUE_MAX: usize = 300;

pub use crate::finding::what_to_do;

/// One SNS message attribute (`DataType` String).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageAttribute {
    #[serde(rename = "DataType")]
    pub data_type: &'static str,
    #[serde(rename = "StringValue")]
    pub string_value: String,
}

/// What an adapter passes to SNS `Publish`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnsMessage {
    #[serde(rename = "Subject")]
    pub subject: String,
    /// JSON object with `default`, `email`, `email-json` and `https`.
    #[serde(rename = "Message")]
    pub message: String,
    /// Always `json`.
    #[serde(rename = "MessageStructure")]
    pub message_structure: &'static str,
    #[serde(rename = "MessageAttributes")]
    pub message_attributes: BTreeMap<String, MessageAttribute>,
}

/// A finding as an alert in an environment.
#[derive(Debug, Clone)]
pub struct Alert<'a> {
    finding: &'a Finding,
    environment: String,
    exception_status: Option<String>,
    account: Option<String>,
    /// The account's name and unit, from the policy's `[accounts]`.
    known: Option<crate::policy::AccountPolicy>,
}

impl<'a> Alert<'a> {
    /// `environment` names where the finding is (`prod`), as the alert's readers call it.
    pub fn new(finding: &'a Finding, environment: &str) -> Self {
        Alert { finding, environment: environment.to_string(), exception_status: None, account: None, known: None }
    }

    /// The exception status to show (e.g. `expires in 3 days (EXC-0042, owner a@b)`).
    pub fn with_exception_status(mut self, status: Option<&str>) -> Self {
        self.exception_status = status.map(str::to_string);
        self
    }

    /// The account to name when the resource's ARN has none (S3 bucket ARNs): the adapter
    /// knows it from the event or its own identity.
    pub fn with_account(mut self, account: Option<&str>) -> Self {
        self.account = account.map(str::to_string);
        self
    }

    /// Name the account and its organisational unit as the policy's `[accounts]` does.
    pub fn with_accounts(mut self, accounts: &std::collections::BTreeMap<String, crate::policy::AccountPolicy>) -> Self {
        self.known = accounts.get(&self.account()).cloned();
        self
    }

    pub fn finding(&self) -> &Finding {
        self.finding
    }

    /// The account as people know it: `111122223333 (ehr-prod, OU Workloads/Prod)`.
    fn account_label(&self) -> String {
        crate::policy::account_label(&self.account(), self.known.as_ref())
    }

    /// What the finding is about, as short as it can be said: the Terraform address, or the
    /// Config type and id.
    fn what(&self) -> String {
        let r = &self.finding.resource;
        match &r.address {
            Some(a) => a.clone(),
            None => format!("{} {}", r.resource_type, r.id),
        }
    }

    fn account(&self) -> String {
        asff::account_of(self.finding).or(self.account.as_deref()).unwrap_or("unknown").to_string()
    }

    /// SNS subject: ASCII, under 100 characters. The middle of a long address is elided so
    /// its start (module) and end (resource) stay.
    pub fn subject(&self) -> String {
        let f = self.finding;
        let head = format!("[{}] {}: ", f.severity.as_str().to_uppercase(), f.rule.id());
        // A long environment name gives way to the address.
        let env = ascii(&self.environment);
        let env = if env.len() > 24 { format!("{}...", &env[..21]) } else { env };
        let tail = format!(" ({env})");
        let what = ascii(&self.what());
        let room = SUBJECT_MAX.saturating_sub(head.len() + tail.len());
        let what = if what.len() <= room {
            what
        } else if room > 8 {
            let keep = room - 3;
            let front = keep / 3;
            let back = keep - front;
            format!("{}...{}", &what[..front], &what[what.len() - back..])
        } else {
            String::new()
        };
        let mut s = format!("{head}{what}{tail}");
        s.truncate(SUBJECT_MAX);
        s
    }

    /// Plain-text email body.
    pub fn email_body(&self) -> String {
        let f = self.finding;
        let r = &f.resource;
        let mut b = String::new();
        let _ = writeln!(b, "{} {} in {}", f.severity.as_str().to_uppercase(), f.rule.id(), self.environment);
        let _ = writeln!(b);
        let _ = writeln!(b, "{}", f.title);
        let _ = writeln!(b);

        let _ = writeln!(b, "WHERE");
        if let Some(a) = &r.address {
            let _ = writeln!(b, "  Terraform address: {a}");
        }
        let _ = writeln!(b, "  AWS resource:      {} {}", r.resource_type, r.id);
        if let Some(arn) = &r.arn {
            let _ = writeln!(b, "  ARN:               {arn}");
        }
        let _ = writeln!(b, "  Account:           {}", self.account_label());
        if let Some(region) = asff::region_of(f) {
            let _ = writeln!(b, "  Region:            {region}");
        }
        match &r.state {
            Some(st) => {
                let bucket = st.bucket.as_deref().map(|b| format!("s3://{b}/")).unwrap_or_default();
                let _ = writeln!(b, "  State:             {bucket}{}", st.key);
                let _ = writeln!(b, "                     workspace {}, serial {}, lineage {}", st.workspace, st.serial, st.lineage);
            }
            None => {
                let _ = writeln!(b, "  State:             not in any Terraform state");
            }
        }
        let _ = writeln!(b);

        let _ = writeln!(b, "WHAT CHANGED");
        if f.changes.is_empty() {
            let _ = writeln!(b, "  (no attribute changes: see the summary above)");
        }
        for c in &f.changes {
            let _ = writeln!(b, "  {}", c.path);
            match (&c.desired, &c.actual) {
                (Value::Array(d), Value::Array(a)) => {
                    for x in a.iter().filter(|x| !d.contains(x)) {
                        let _ = writeln!(b, "    + {} (live only)", show(x));
                    }
                    for x in d.iter().filter(|x| !a.contains(x)) {
                        let _ = writeln!(b, "    - {} (in Terraform, missing live)", show(x));
                    }
                }
                (d, a) => {
                    let _ = writeln!(b, "    Terraform: {}", show(d));
                    let _ = writeln!(b, "    Live:      {}", show(a));
                }
            }
        }
        let _ = writeln!(b);

        let _ = writeln!(b, "WHO");
        match &f.actor {
            Some(a) => {
                let _ = writeln!(b, "  Principal:  {}", a.principal_arn.as_deref().unwrap_or("unknown"));
                if let Some(s) = &a.session_name {
                    let _ = writeln!(b, "  Session:    {s}");
                }
                let how = match a.kind {
                    Some(crate::finding::ActorKind::Console) => "AWS console",
                    Some(crate::finding::ActorKind::Pipeline) => "the deployment pipeline",
                    Some(crate::finding::ActorKind::AwsService) => "an AWS service on someone's behalf",
                    Some(crate::finding::ActorKind::Other) => "CLI, SDK or script",
                    None if a.via_console => "AWS console",
                    None => "outside the console",
                };
                let _ = writeln!(b, "  Via:        {how}");
                if let Some(ip) = &a.source_ip {
                    let _ = writeln!(b, "  Source IP:  {ip}");
                }
                if let Some(ua) = &a.user_agent {
                    let _ = writeln!(b, "  User agent: {}", clip(ua, 200));
                }
            }
            None => {
                let _ = writeln!(b, "  Not known: found by comparing live configuration with Terraform state.");
                let _ = writeln!(b, "  CloudTrail for the resource shows who changed it.");
            }
        }
        let _ = writeln!(b);

        let _ = writeln!(b, "WHEN");
        let _ = writeln!(b, "  First seen: {}", f.first_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let _ = writeln!(b, "  Last seen:  {}", f.last_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let _ = writeln!(b);

        let _ = writeln!(b, "EXCEPTION");
        let _ = writeln!(b, "  {}", self.exception_line());
        let _ = writeln!(b);

        let _ = writeln!(b, "CONTROLS");
        if f.controls.is_empty() {
            let _ = writeln!(b, "  none mapped");
        } else {
            let _ = writeln!(b, "  {}", f.controls.join(", "));
        }
        let _ = writeln!(b);

        let _ = writeln!(b, "WHAT TO DO");
        for line in wrap(what_to_do(f.rule), 76) {
            let _ = writeln!(b, "  {line}");
        }
        let _ = writeln!(b);

        let _ = writeln!(b, "EVIDENCE");
        if f.evidence.is_empty() {
            let _ = writeln!(b, "  not recorded (run with --evidence to record it)");
        }
        for k in &f.evidence {
            let _ = writeln!(b, "  {k}");
        }
        let _ = writeln!(b);
        let _ = writeln!(b, "Fingerprint {} (the same problem keeps it across runs)", f.fingerprint);
        b
    }

    fn exception_line(&self) -> String {
        match (&self.exception_status, &self.finding.suppressed_by) {
            (Some(s), _) => s.clone(),
            (None, Some(id)) => format!("suppressed by exception {id}"),
            (None, None) => "none: no exception covers this finding".into(),
        }
    }

    /// The finding, for machines.
    pub fn json(&self) -> Value {
        serde_json::to_value(self.finding).unwrap_or(Value::Null)
    }

    /// AWS Chatbot custom notification (`version` 1.0, `source` custom, client-markdown).
    pub fn chatbot(&self) -> Value {
        let f = self.finding;
        let r = &f.resource;
        let mut d = format!("{}\n", md_escape(&f.title));
        if let Some(a) = &r.address {
            let _ = write!(d, "\n*Terraform address:* `{a}`");
        }
        let _ = write!(d, "\n*Resource:* {} `{}`", r.resource_type, r.id);
        let _ = write!(d, "\n*Account:* {}", md_escape(&self.account_label()));
        if let Some(region) = asff::region_of(f) {
            let _ = write!(d, " · *Region:* {region}");
        }
        if let Some(st) = &r.state {
            let _ = write!(d, "\n*State:* `{}` (workspace {}, serial {})", st.key, st.workspace, st.serial);
        }
        if let Some(a) = &f.actor {
            let via = if a.via_console { " in the console" } else { "" };
            let _ = write!(d, "\n*Who:* `{}`{via}", a.principal_arn.as_deref().unwrap_or("unknown"));
        }
        let _ = write!(d, "\n*When:* {}", f.last_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        for c in f.changes.iter().take(5) {
            let _ = write!(d, "\n• `{}`: {} → {}", c.path, clip(&show(&c.desired), 80), clip(&show(&c.actual), 80));
        }
        if f.changes.len() > 5 {
            let _ = write!(d, "\n• … and {} more", f.changes.len() - 5);
        }
        let _ = write!(d, "\n*Exception:* {}", self.exception_line());
        let mut keywords = vec![f.severity.as_str().to_string(), f.rule.id().to_string(), self.environment.clone()];
        keywords.extend(f.controls.iter().take(2).cloned());
        let mut related = Vec::new();
        if let Some(arn) = &r.arn {
            related.push(arn.clone());
        }
        let mut context = json!({
            "severity": f.severity.as_str(),
            "account": self.account(),
            "environment": self.environment,
            "fingerprint": f.fingerprint,
        });
        for (k, v) in [
            ("accountName", self.known.as_ref().and_then(|k| k.name.clone())),
            ("ou", self.known.as_ref().and_then(|k| k.ou.clone())),
            ("region", asff::region_of(f).map(str::to_string)),
        ] {
            if let Some(v) = v {
                context[k] = Value::String(v);
            }
        }
        json!({
            "version": "1.0",
            "source": "custom",
            "id": f.fingerprint,
            "content": {
                "textType": "client-markdown",
                "title": clip(&format!(":rotating_light: [{}] {} ({})", f.severity.as_str().to_uppercase(), f.rule.id(), self.environment), 250),
                "description": clip(&d, 8000),
                "nextSteps": [what_to_do(f.rule)],
                "keywords": keywords,
            },
            "metadata": {
                "threadId": f.fingerprint,
                "summary": clip(&self.subject(), 250),
                "eventType": f.rule.id(),
                "relatedResources": related,
                "additionalContext": context,
            },
        })
    }

    /// SNS message attributes for subscription filter policies.
    pub fn message_attributes(&self) -> BTreeMap<String, MessageAttribute> {
        let f = self.finding;
        let known = self.known.as_ref();
        [
            ("severity", f.severity.as_str().to_string()),
            ("rule", f.rule.id().to_string()),
            ("account", self.account()),
            ("environment", self.environment.clone()),
        ]
        .into_iter()
        // Subscription filter policies can route by unit (`{"ou": ["Workloads/Prod"]}`).
        .chain(known.and_then(|k| k.name.clone()).map(|n| ("account_name", n)))
        .chain(known.and_then(|k| k.ou.clone()).map(|ou| ("ou", ou)))
        .chain(asff::region_of(f).map(|r| ("region", r.to_string())))
        .map(|(k, v)| (k.to_string(), MessageAttribute { data_type: "String", string_value: v }))
        .collect()
    }

    /// The whole SNS `Publish` (see the module documentation for the protocol keys).
    pub fn sns_message(&self) -> SnsMessage {
        // The finding's own field order (a `Value` would sort the keys).
        let finding = serde_json::to_string(self.finding).unwrap_or_default();
        let message = json!({
            "default": finding,
            "email": self.email_body(),
            "email-json": finding,
            "https": self.chatbot().to_string(),
        });
        SnsMessage {
            subject: self.subject(),
            message: message.to_string(),
            message_structure: "json",
            message_attributes: self.message_attributes(),
        }
    }
}

/// ASCII only, without control characters: other characters become `?`.
fn ascii(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect()
}

fn show(v: &Value) -> String {
    let s = match v {
        Value::String(s) if s.is_empty() => "(none)".into(),
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    };
    clip(&s, VALUE_MAX)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn md_escape(s: &str) -> String {
    s.replace('`', "'")
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Rule;

    #[test]
    fn every_rule_says_what_to_do() {
        for r in Rule::ALL {
            assert!(what_to_do(r).len() > 20, "{r}");
        }
    }

    #[test]
    fn wrap_keeps_words() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
    }
}
