//! Policy: what counts as the pipeline, which tag marks regulated data, lock thresholds,
//! which buckets and tables hold Terraform state and locks. Loaded from TOML
//! (`--policy FILE`, or the Lambdas' configuration); unknown keys are errors.
//!
//! ```toml
//! regulated_tag = "data-classification=phi"
//!
//! [pipeline]
//! # principal ARN globs (the caller's ARN or its session issuer's role ARN)
//! principals = ["arn:aws:iam::*:role/terraform-ci", "arn:aws:sts::*:assumed-role/gha-terraform-apply/*"]
//! # role session name globs
//! session_names = ["GitHubActions", "atlantis-*"]
//!
//! [state]
//! buckets = ["stmarys-tfstate"]
//! lock_tables = ["terraform-locks"]
//!
//! [locks]
//! stale_after_minutes = { default = 60, apply = 120, plan = 15 }
//!
//! # An Organization: each account's name and organisational unit, and what differs there
//! [units."Workloads/Prod"]
//! pipeline_only = true
//! [accounts."111122223333"]
//! name = "ehr-prod"
//! ou = "Workloads/Prod"
//! pipeline_principals = ["arn:aws:iam::111122223333:role/terraform-ci"]
//! [accounts."444455556666"]
//! name = "sandbox"
//! ou = "Sandbox"
//! regulated_tag = "none"
//! ```
//!
//! What a signal from an account is judged by is [`Policy::for_account`]: the top level, then
//! its unit's settings, then the account's own.

use crate::glob;
use crate::signal::Principal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Policy errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid policy: {0}")]
    Toml(String),
    #[error("invalid policy: {field}: {message}")]
    Field { field: &'static str, message: String },
}

/// The policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// `KEY=VALUE`; `none` disables.
    #[serde(default = "default_regulated_tag")]
    pub regulated_tag: String,
    #[serde(default)]
    pub pipeline: PipelinePolicy,
    #[serde(default)]
    pub state: StatePolicy,
    #[serde(default)]
    pub locks: LockPolicy,
    /// `[exceptions] max_days = 90`: the longest an exception may last.
    #[serde(default)]
    pub exceptions: ExceptionPolicy,
    /// `[alerts] quiet_minutes = 15`: at most one alert per resource in this many minutes.
    #[serde(default)]
    pub alerts: AlertPolicy,
    /// `[watcher]`: driftwatch's own resources, watched for tampering.
    #[serde(default)]
    pub watcher: WatcherPolicy,
    /// `[controls]`: what the control catalog needs to know about the organisation.
    #[serde(default)]
    pub controls: ControlsPolicy,
    /// `[accounts."ID"]`: an account's name, organisational unit and own settings.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountPolicy>,
    /// `[units."NAME"]`: the settings of an organisational unit's accounts.
    #[serde(default)]
    pub units: BTreeMap<String, Overrides>,
    /// `[organization]`: the regions the accounts are watched in.
    #[serde(default)]
    pub organization: OrganizationPolicy,
}

/// What an account or an organisational unit sets differently from the top level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// `pipeline.only` there: a production account takes changes from the pipeline only.
    #[serde(default)]
    pub pipeline_only: Option<bool>,
    /// The pipeline there: these replace `pipeline.principals` (each account's own deploy
    /// role, not every account's).
    #[serde(default)]
    pub pipeline_principals: Option<Vec<String>>,
    /// `regulated_tag` there (`KEY=VALUE` or `none`).
    #[serde(default)]
    pub regulated_tag: Option<String>,
}

/// `[accounts."ID"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPolicy {
    /// What people call it (`ehr-prod`): alerts and reports show it beside the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Its organisational unit: alerts and reports show it, and `[units."OU"]` applies.
    #[serde(default)]
    pub ou: Option<String>,
    /// As [`Overrides::pipeline_only`] (serde cannot flatten under `deny_unknown_fields`).
    #[serde(default)]
    pub pipeline_only: Option<bool>,
    #[serde(default)]
    pub pipeline_principals: Option<Vec<String>>,
    #[serde(default)]
    pub regulated_tag: Option<String>,
    /// The regions it is watched in, when not `[organization] regions` (the report's coverage).
    #[serde(default)]
    pub regions: Option<Vec<String>>,
}

/// `[organization]`: what the Organization is expected to look like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPolicy {
    /// The regions every account of `[accounts]` is watched in (the member module's regions):
    /// the report's coverage lists an account-region no event came from.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// A region's shape: lower-case letters and digits in dash-separated parts (`us-gov-west-1`).
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// `account` as people know it, with its name and unit when `known`:
/// `111122223333 (ehr-prod, OU Workloads/Prod)`.
pub fn account_label(account: &str, known: Option<&AccountPolicy>) -> String {
    match known.map(|k| (k.name.as_deref(), k.ou.as_deref())) {
        Some((Some(n), Some(ou))) => format!("{account} ({n}, OU {ou})"),
        Some((Some(n), None)) => format!("{account} ({n})"),
        Some((None, Some(ou))) => format!("{account} (OU {ou})"),
        _ => account.to_string(),
    }
}

impl AccountPolicy {
    /// What the account sets differently.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            pipeline_only: self.pipeline_only,
            pipeline_principals: self.pipeline_principals.clone(),
            regulated_tag: self.regulated_tag.clone(),
        }
    }
}

/// `[controls]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlsPolicy {
    /// Accounts a snapshot, an AMI or a resource may be shared with (the organisation's); any
    /// other account, or `all`, is `control.public_exposure`.
    #[serde(default)]
    pub trusted_accounts: Vec<String>,
    /// Buckets that hold audit logs (CloudTrail, access logs), as globs: a lifecycle rule that
    /// expires their objects within a year is `control.audit_weakened`.
    #[serde(default)]
    pub audit_log_buckets: Vec<String>,
}

/// driftwatch's own resources (names, ARNs or globs of them, as the calls that change them
/// name them): a
/// write to the exceptions table is `exception.changed`; anything else that disables or
/// changes one of them, by anyone but the pipeline, is `watcher.tampered`. Empty lists watch
/// nothing (`infra/` fills them in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatcherPolicy {
    /// The exceptions table (name).
    #[serde(default)]
    pub exceptions_table: String,
    /// EventBridge rules that deliver to the functions (names).
    #[serde(default)]
    pub rules: Vec<String>,
    /// SNS topics of alerts and notices (ARNs).
    #[serde(default)]
    pub topics: Vec<String>,
    /// The functions (names).
    #[serde(default)]
    pub functions: Vec<String>,
    /// KMS keys of the watcher's tables, bucket, topics and secrets (ARNs or key ids).
    #[serde(default)]
    pub keys: Vec<String>,
    /// The trail (name).
    #[serde(default)]
    pub trails: Vec<String>,
    /// The evidence bucket (name).
    #[serde(default)]
    pub buckets: Vec<String>,
    /// Stopping or deleting the account's AWS Config recorder or delivery channel blinds the
    /// watcher too.
    #[serde(default)]
    pub config_recorder: bool,
    /// The heartbeat topic (name or ARN): each sweeper run tags it `driftwatch:heartbeat` =
    /// the run's time in epoch seconds, a call that must reach the watchers through CloudTrail
    /// (and AWS Config) like any other. Empty: no heartbeat.
    #[serde(default)]
    pub heartbeat_topic: String,
    /// The watchers that must see each heartbeat: `trail-watcher` (through CloudTrail and
    /// EventBridge), `config-watcher` (through AWS Config; it must record `AWS::SNS::Topic`).
    /// Default: `trail-watcher`.
    #[serde(default)]
    pub heartbeat_observers: Vec<String>,
    /// A watcher that has seen no heartbeat for this long is `watcher.silent` (default 45;
    /// longer than the sweeper's period plus delivery delay).
    #[serde(default)]
    pub silent_after_minutes: Option<u32>,
}

impl WatcherPolicy {
    /// The watchers that must see each heartbeat (none without a heartbeat topic).
    pub fn observers(&self) -> Vec<String> {
        if self.heartbeat_topic.is_empty() {
            Vec::new()
        } else if self.heartbeat_observers.is_empty() {
            vec!["trail-watcher".to_string()]
        } else {
            self.heartbeat_observers.clone()
        }
    }

    /// How long a watcher may go without a heartbeat.
    pub fn silent_after(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.silent_after_minutes.unwrap_or(45)))
    }
}

/// How often a resource may alert.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertPolicy {
    /// One alert per resource (ARN, else Config type and id) in this many minutes, whatever the
    /// rule; an alert held back stays due and goes out at the first observation after it. `0`:
    /// no quiet period.
    #[serde(default = "default_quiet_minutes")]
    pub quiet_minutes: u32,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy { quiet_minutes: default_quiet_minutes() }
    }
}

/// The quiet period unless the policy says otherwise.
pub const DEFAULT_QUIET_MINUTES: u32 = 15;

fn default_quiet_minutes() -> u32 {
    DEFAULT_QUIET_MINUTES
}

impl AlertPolicy {
    pub fn quiet_period(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.quiet_minutes))
    }
}

/// Limits on exceptions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionPolicy {
    #[serde(default = "default_max_days")]
    pub max_days: u32,
    /// Allow exceptions with no resource scope (no `arn`, `address` or `state_key`: every
    /// resource of a rule or an account) or a wildcard ARN (`arn:aws:s3:::*`). Off: they are
    /// invalid. On: they suppress, and say they are broad.
    #[serde(default)]
    pub allow_broad: bool,
    /// Every exception names who asked for it (`requested_by`), and that is not its approver.
    /// (A `requested_by` given is always checked against `approved_by`.)
    #[serde(default)]
    pub require_requester: bool,
}

impl Default for ExceptionPolicy {
    fn default() -> Self {
        ExceptionPolicy { max_days: default_max_days(), allow_broad: false, require_requester: false }
    }
}

/// Longest allowed exception (`expires - created`) unless the policy says otherwise.
pub const DEFAULT_MAX_DAYS: u32 = 90;

fn default_max_days() -> u32 {
    DEFAULT_MAX_DAYS
}

/// Who the pipeline is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelinePolicy {
    #[serde(default)]
    pub principals: Vec<String>,
    #[serde(default)]
    pub session_names: Vec<String>,
    /// The account is pipeline-only (production): any successful write by anyone but the
    /// pipeline or an AWS service acting on its own is `change.console` / `change.out_of_band`,
    /// on resources in no state too.
    #[serde(default)]
    pub only: bool,
    /// Break-glass roles (principal or session-issuer ARN globs): their changes are still
    /// findings, at `low` severity, with the actor.
    #[serde(default)]
    pub break_glass: Vec<String>,
}

/// Where Terraform state and locks live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatePolicy {
    /// State buckets; empty = any bucket.
    #[serde(default)]
    pub buckets: Vec<String>,
    /// DynamoDB lock tables; empty = any table whose items look like Terraform locks.
    #[serde(default)]
    pub lock_tables: Vec<String>,
    /// Object key globs of state files.
    #[serde(default = "default_state_keys")]
    pub keys: Vec<String>,
    /// `[[state.roles]]`: state buckets in other accounts, read through a role there.
    #[serde(default)]
    pub roles: Vec<StateRole>,
}

/// A role the watcher assumes (`sts:AssumeRole`) to read the state buckets it names: the
/// state of a workload account, kept in that account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRole {
    /// Bucket name globs read through this role (the first role whose globs match wins).
    pub buckets: Vec<String>,
    /// `arn:aws:iam::ACCOUNT:role/NAME`.
    pub role_arn: String,
    /// The role's trust policy's `sts:ExternalId`, when it asks for one (empty: none).
    #[serde(default)]
    pub external_id: Option<String>,
}

impl StateRole {
    /// The external id to pass, if any.
    pub fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref().filter(|id| !id.is_empty())
    }
}

impl Default for StatePolicy {
    fn default() -> Self {
        StatePolicy { buckets: Vec::new(), lock_tables: Vec::new(), keys: default_state_keys(), roles: Vec::new() }
    }
}

impl StatePolicy {
    /// The role that reads `bucket`, if another account's.
    pub fn role_for(&self, bucket: &str) -> Option<&StateRole> {
        self.roles.iter().find(|r| r.buckets.iter().any(|g| glob::matches(g, bucket)))
    }
}

/// Lock thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockPolicy {
    /// Minutes a lock may be held, by Terraform operation (`OperationTypeApply` may be written
    /// `apply`); `default` for the rest.
    #[serde(default = "default_stale")]
    pub stale_after_minutes: BTreeMap<String, u64>,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy { stale_after_minutes: default_stale() }
    }
}

fn default_regulated_tag() -> String {
    "data-classification=phi".into()
}

fn default_state_keys() -> Vec<String> {
    vec!["*.tfstate".into(), "env:/*".into()]
}

fn default_stale() -> BTreeMap<String, u64> {
    [("default".to_string(), 60), ("apply".to_string(), 120), ("plan".to_string(), 30)].into_iter().collect()
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            regulated_tag: default_regulated_tag(),
            pipeline: PipelinePolicy::default(),
            state: StatePolicy::default(),
            locks: LockPolicy::default(),
            exceptions: ExceptionPolicy::default(),
            alerts: AlertPolicy::default(),
            watcher: WatcherPolicy::default(),
            controls: ControlsPolicy::default(),
            accounts: BTreeMap::new(),
            units: BTreeMap::new(),
            organization: OrganizationPolicy::default(),
        }
    }
}

impl Policy {
    /// Parse and validate TOML.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string().replace('\n', " ").trim().to_string()))?;
        if p.regulated_tag != "none" && !p.regulated_tag.is_empty() && !p.regulated_tag.contains('=') {
            return Err(PolicyError::Field {
                field: "regulated_tag",
                message: format!("expected KEY=VALUE or \"none\", got {:?}", p.regulated_tag),
            });
        }
        if !p.pipeline.session_names.is_empty() && p.pipeline.principals.is_empty() {
            return Err(PolicyError::Field {
                field: "pipeline.session_names",
                message: "session names narrow pipeline.principals and cannot stand alone: anyone may assume a role under any session \
                          name; list the pipeline's role ARNs in pipeline.principals"
                    .into(),
            });
        }
        if let Some(o) = p.watcher.heartbeat_observers.iter().find(|o| !matches!(o.as_str(), "trail-watcher" | "config-watcher")) {
            return Err(PolicyError::Field {
                field: "watcher.heartbeat_observers",
                message: format!("{o:?} sees no heartbeat: expected \"trail-watcher\" or \"config-watcher\""),
            });
        }
        if p.watcher.silent_after_minutes == Some(0) {
            return Err(PolicyError::Field { field: "watcher.silent_after_minutes", message: "must be at least 1 minute".into() });
        }
        if p.locks.stale_after_minutes.values().any(|m| *m == 0) {
            return Err(PolicyError::Field { field: "locks.stale_after_minutes", message: "thresholds must be at least 1 minute".into() });
        }
        for r in &p.state.roles {
            let account = r.role_arn.strip_prefix("arn:").and_then(|rest| rest.split(':').nth(3)).unwrap_or_default();
            let is_role = r.role_arn.starts_with("arn:")
                && r.role_arn.split(':').nth(2) == Some("iam")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && r.role_arn.split(':').nth(5).is_some_and(|res| res.starts_with("role/"));
            if !is_role {
                return Err(PolicyError::Field {
                    field: "state.roles",
                    message: format!("role_arn {:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", r.role_arn),
                });
            }
            if r.buckets.is_empty() {
                return Err(PolicyError::Field { field: "state.roles", message: format!("{}: names no bucket", r.role_arn) });
            }
        }
        let regions = p.organization.regions.iter().map(|r| ("organization.regions", r));
        let regions = regions.chain(p.accounts.values().flat_map(|a| a.regions.iter().flatten()).map(|r| ("accounts.regions", r)));
        for (field, r) in regions {
            if !is_region(r) {
                return Err(PolicyError::Field { field, message: format!("{r:?} is not an AWS region (like eu-west-1)") });
            }
        }
        for (id, a) in &p.accounts {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PolicyError::Field { field: "accounts", message: format!("{id:?} is not an AWS account id (12 digits)") });
            }
            if let Some(ou) = a.ou.as_deref().filter(|ou| !p.units.is_empty() && !p.units.contains_key(*ou)) {
                return Err(PolicyError::Field {
                    field: "accounts",
                    message: format!(
                        "account {id} is in unit {ou:?}, which [units] does not list (it lists {})",
                        p.units.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        let overrides = p
            .units
            .iter()
            .map(|(k, o)| (format!("units.{k:?}"), o.clone()))
            .chain(p.accounts.iter().map(|(k, a)| (format!("accounts.{k:?}"), a.overrides())));
        for (at, o) in overrides {
            if let Some(t) = o.regulated_tag.as_deref().filter(|t| *t != "none" && !t.is_empty() && !t.contains('=')) {
                return Err(PolicyError::Field {
                    field: "regulated_tag",
                    message: format!("{at}: expected KEY=VALUE or \"none\", got {t:?}"),
                });
            }
            if o.pipeline_principals.as_ref().is_some_and(Vec::is_empty) && !p.pipeline.session_names.is_empty() {
                return Err(PolicyError::Field {
                    field: "pipeline_principals",
                    message: format!("{at}: an empty list leaves pipeline.session_names standing alone"),
                });
            }
        }
        Ok(p)
    }

    /// The policy a signal from `account` is judged by: the top level, then the account's
    /// unit's overrides, then its own. Unknown or no account: the top level as it is.
    pub fn for_account(&self, account: Option<&str>) -> std::borrow::Cow<'_, Policy> {
        let Some(a) = account.and_then(|id| self.accounts.get(id)) else { return std::borrow::Cow::Borrowed(self) };
        let unit = a.ou.as_deref().and_then(|ou| self.units.get(ou));
        let mut p = self.clone();
        for o in unit.cloned().into_iter().chain([a.overrides()]) {
            if let Some(only) = o.pipeline_only {
                p.pipeline.only = only;
            }
            if let Some(principals) = &o.pipeline_principals {
                p.pipeline.principals = principals.clone();
            }
            if let Some(tag) = &o.regulated_tag {
                p.regulated_tag = tag.clone();
            }
        }
        std::borrow::Cow::Owned(p)
    }

    /// The regulated-data tag as (key, value).
    pub fn regulated(&self) -> Option<(String, String)> {
        self.regulated_tag.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))
    }

    /// The drift engine's view of this policy.
    pub fn scan_policy(&self) -> crate::drift::ScanPolicy {
        crate::drift::ScanPolicy { regulated_tag: self.regulated() }
    }

    /// Is this principal the pipeline? Its ARN or its session issuer's role ARN must match
    /// `pipeline.principals`; `pipeline.session_names`, when given, narrows that to those
    /// sessions. A session name is chosen by whoever assumes a role (`aws sts assume-role
    /// --role-session-name GitHubActions`): alone it identifies nobody.
    pub fn is_pipeline(&self, p: &Principal) -> bool {
        let arn_hit = |arn: &Option<String>| arn.as_deref().is_some_and(|a| self.pipeline.principals.iter().any(|g| glob::matches(g, a)));
        let session_ok = self.pipeline.session_names.is_empty()
            || p.session_name.as_deref().is_some_and(|s| self.pipeline.session_names.iter().any(|g| glob::matches(g, s)));
        (arn_hit(&p.arn) || arn_hit(&p.session_issuer_arn)) && session_ok
    }

    /// Is this one of the break-glass roles (by principal or session-issuer ARN)?
    pub fn is_break_glass(&self, p: &Principal) -> bool {
        let hit = |arn: &Option<String>| arn.as_deref().is_some_and(|a| self.pipeline.break_glass.iter().any(|g| glob::matches(g, a)));
        hit(&p.arn) || hit(&p.session_issuer_arn)
    }

    /// Is this S3 object a Terraform state file?
    pub fn is_state_object(&self, bucket: &str, key: &str) -> bool {
        (self.state.buckets.is_empty() || self.state.buckets.iter().any(|b| glob::matches(b, bucket)))
            && !key.ends_with(".tflock")
            && self.state.keys.iter().any(|g| glob::matches(g, key))
    }

    /// Is this DynamoDB table a lock table we watch?
    pub fn is_lock_table(&self, table: &str) -> bool {
        self.state.lock_tables.is_empty() || self.state.lock_tables.iter().any(|t| glob::matches(t, table))
    }

    /// Minutes a lock for `operation` may be held. Terraform writes operations as
    /// `OperationTypeApply`; both that and `apply` are looked up.
    pub fn stale_after_minutes(&self, operation: &str) -> u64 {
        let short = operation.strip_prefix("OperationType").unwrap_or(operation).to_ascii_lowercase();
        let m = &self.locks.stale_after_minutes;
        m.get(operation).or_else(|| m.get(&short)).or_else(|| m.get("default")).copied().unwrap_or(60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let p = Policy::from_toml(
            r#"
            [pipeline]
            principals = ["arn:aws:iam::*:role/terraform-ci"]
            session_names = ["GitHubActions*"]
            [locks]
            stale_after_minutes = { default = 45, apply = 90 }
            "#,
        )
        .unwrap();
        let role = |role: &str, session: &str| Principal {
            arn: Some(format!("arn:aws:sts::1:assumed-role/{role}/{session}")),
            session_issuer_arn: Some(format!("arn:aws:iam::1:role/{role}")),
            session_name: Some(session.into()),
            ..Default::default()
        };
        assert!(p.is_pipeline(&role("terraform-ci", "GitHubActions-42")), "the pipeline's role in its session");
        assert!(!p.is_pipeline(&role("terraform-ci", "jane@example.org")), "the pipeline's role, another session: narrowed out");
        assert!(!p.is_pipeline(&role("Admin", "jane@example.org")));
        // The spoof: any role, assumed under the pipeline's session name.
        assert!(!p.is_pipeline(&role("Admin", "GitHubActions")), "a session name alone made an admin the pipeline");
        let bare = Principal { session_name: Some("GitHubActions-42".into()), ..Default::default() };
        assert!(!p.is_pipeline(&bare));
        let any_session = Policy::from_toml("[pipeline]\nprincipals = [\"arn:aws:iam::*:role/terraform-ci\"]").unwrap();
        assert!(any_session.is_pipeline(&role("terraform-ci", "whatever")), "without session_names every session of the role");
        assert_eq!(p.stale_after_minutes("OperationTypeApply"), 90);
        assert_eq!(p.stale_after_minutes("OperationTypePlan"), 45);
        assert!(p.is_state_object("b", "env:/prod/net.tfstate") && p.is_state_object("b", "x/terraform.tfstate"));
        assert!(!p.is_state_object("b", "x/terraform.tfstate.tflock"));
    }

    #[test]
    fn rejects_unknown_and_bad_fields() {
        assert!(Policy::from_toml("[pipeline]\nprincipal = []").is_err(), "typo in a key");
        assert!(Policy::from_toml("regulated_tag = \"phi\"").is_err());
        assert!(Policy::from_toml("[locks]\nstale_after_minutes = { default = 0 }").is_err());
        let e = Policy::from_toml("[pipeline]\nsession_names = [\"GitHubActions\"]").unwrap_err().to_string();
        assert!(e.contains("pipeline.session_names") && e.contains("pipeline.principals"), "{e}");
        assert_eq!(Policy::from_toml("").unwrap(), Policy::default());
    }
}
