//! Who made a CloudTrail call: a person in the console, the pipeline, an AWS service, or anyone
//! else (CLI, SDK, scripts).
//!
//! The rule, first match wins:
//!
//! 1. `userIdentity.type == "AWSService"` → **AWS service** (the service itself called).
//! 2. `sessionCredentialFromConsole == "true"` → **console**. CloudTrail sets it only for console
//!    sessions, and it wins over the pipeline allowlist: a person who assumed the pipeline's role
//!    in the console is not the pipeline.
//! 3. The policy's pipeline allowlist (principal ARN, session issuer ARN, session name) →
//!    **pipeline**.
//! 4. `userIdentity.invokedBy` set → **AWS service** acting on the principal's behalf
//!    (CloudFormation, Auto Scaling, …).
//! 5. A console user agent → **console**: `console.amazonaws.com`, `signin.amazonaws.com`,
//!    `console.aws.amazon.com` and regional `*.console.aws.amazon.com`, or a browser
//!    (`Mozilla/…`).
//! 6. Anything else → **other**.
//!
//! `AWS Internal` is *not* proof of a console session: the console's own back end, AWS services
//! and internal retries all report it. On its own it classifies as **other** (a human or tool
//! outside the pipeline); it becomes console only with rule 2's flag. User agents are spoofable:
//! they only ever choose between `change.console` and `change.out_of_band`, never whether a
//! change is reported.

use crate::finding::ActorKind;
use crate::policy::Policy;
use crate::signal::Principal;

/// Classify the principal of a call.
pub fn classify(p: &Principal, policy: &Policy) -> ActorKind {
    if p.principal_type.as_deref() == Some("AWSService") {
        return ActorKind::AwsService;
    }
    if p.session_credential_from_console {
        return ActorKind::Console;
    }
    if policy.is_pipeline(p) {
        return ActorKind::Pipeline;
    }
    if p.invoked_by.as_deref().is_some_and(|s| !s.is_empty()) {
        return ActorKind::AwsService;
    }
    if p.user_agent.as_deref().is_some_and(is_console_user_agent) {
        return ActorKind::Console;
    }
    ActorKind::Other
}

/// User agents the AWS console (or a browser) sends. `AWS Internal` is not one of them.
pub fn is_console_user_agent(ua: &str) -> bool {
    let ua = ua.trim();
    let host = ua.to_ascii_lowercase();
    host == "console.amazonaws.com"
        || host == "signin.amazonaws.com"
        || host == "console.aws.amazon.com"
        || host.ends_with(".console.aws.amazon.com")
        || (host.starts_with("console.") && host.ends_with(".amazonaws.com"))
        || ua.starts_with("Mozilla/")
}

/// Are two principals the same caller? Same ARN when both have one (an assumed-role ARN names
/// the session), else same session issuer and session name.
pub fn same_principal(a: &Principal, b: &Principal) -> bool {
    match (&a.arn, &b.arn) {
        (Some(x), Some(y)) => x == y,
        _ => a.session_issuer_arn.is_some() && a.session_issuer_arn == b.session_issuer_arn && a.session_name == b.session_name,
    }
}

/// A short name of the principal for titles.
pub fn who(p: &Principal) -> String {
    p.arn.clone().or_else(|| p.session_name.clone()).or_else(|| p.invoked_by.clone()).unwrap_or_else(|| "an unknown principal".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(f: impl FnOnce(&mut Principal)) -> Principal {
        let mut p = Principal { arn: Some("arn:aws:sts::1:assumed-role/Admin/jane".into()), ..Default::default() };
        f(&mut p);
        p
    }

    #[test]
    fn rules_in_order() {
        let policy = Policy::from_toml("[pipeline]\nprincipals = [\"arn:aws:sts::*:assumed-role/terraform-ci/*\"]").unwrap();
        let cases = [
            (p(|p| p.session_credential_from_console = true), ActorKind::Console),
            (p(|p| p.user_agent = Some("console.amazonaws.com".into())), ActorKind::Console),
            (p(|p| p.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64)".into())), ActorKind::Console),
            (p(|p| p.user_agent = Some("us-east-1.console.aws.amazon.com".into())), ActorKind::Console),
            (p(|p| p.user_agent = Some("AWS Internal".into())), ActorKind::Other),
            (p(|p| p.user_agent = Some("aws-cli/2.15.0 Python/3.11".into())), ActorKind::Other),
            (p(|p| p.invoked_by = Some("cloudformation.amazonaws.com".into())), ActorKind::AwsService),
            (p(|p| p.principal_type = Some("AWSService".into())), ActorKind::AwsService),
            (p(|p| p.arn = Some("arn:aws:sts::1:assumed-role/terraform-ci/run-1".into())), ActorKind::Pipeline),
            (
                p(|p| {
                    p.arn = Some("arn:aws:sts::1:assumed-role/terraform-ci/run-1".into());
                    p.session_credential_from_console = true;
                }),
                ActorKind::Console,
            ),
        ];
        for (principal, want) in cases {
            assert_eq!(classify(&principal, &policy), want, "{principal:?}");
        }
    }
}
