//! Configuration of the functions, from environment variables, validated at cold start.
//!
//! Every variable a function reads is listed in [`Function::required`] / [`Function::optional`]
//! (the infra test checks `infra/` sets each required one). A missing or malformed variable
//! stops the cold start with an error naming the variable ([`EnvError`]).

use driftwatch_core::policy::Policy;
use std::fmt;

/// Deployment name shown in alerts (`prod`, `staging`).
pub const ENVIRONMENT: &str = "DRIFTWATCH_ENVIRONMENT";
/// The policy (pipeline principals, state buckets, lock tables, thresholds) as TOML text.
/// Optional: empty means the built-in defaults.
pub const POLICY: &str = "DRIFTWATCH_POLICY";
/// Salt of the HMAC digests that replace secrets (so digests are comparable across runs but
/// not guessable), as a value: for local runs only (a Lambda's variables are readable by
/// anyone who may read its configuration). One of this and [`REDACTION_SALT_SECRET`] is
/// required.
pub const REDACTION_SALT: &str = "DRIFTWATCH_REDACTION_SALT";
/// Secrets Manager secret (id or ARN) holding the redaction salt: what a deployment sets
/// (`infra/secrets.tf`); read once at cold start.
pub const REDACTION_SALT_SECRET: &str = "DRIFTWATCH_REDACTION_SALT_SECRET";
/// DynamoDB table of the managed-resource index.
pub const INDEX_TABLE: &str = "DRIFTWATCH_INDEX_TABLE";
/// DynamoDB table of findings (and the detectors' ledger items).
pub const FINDINGS_TABLE: &str = "DRIFTWATCH_FINDINGS_TABLE";
/// DynamoDB table of exceptions.
pub const EXCEPTIONS_TABLE: &str = "DRIFTWATCH_EXCEPTIONS_TABLE";
/// Evidence store: `s3://bucket/prefix`.
pub const EVIDENCE: &str = "DRIFTWATCH_EVIDENCE";
/// SNS topic of security alerts.
pub const ALERTS_TOPIC_ARN: &str = "DRIFTWATCH_ALERTS_TOPIC_ARN";
/// SNS topic of exception expiry notices.
pub const NOTICES_TOPIC_ARN: &str = "DRIFTWATCH_NOTICES_TOPIC_ARN";
/// SNS topic the sweeper tags each run, the heartbeat (sweeper; required when the policy's
/// `[watcher] heartbeat_topic` is set).
pub const HEARTBEAT_TOPIC_ARN: &str = "DRIFTWATCH_HEARTBEAT_TOPIC_ARN";
/// Secrets Manager secret (id or ARN) holding an Ed25519 evidence signing key (sweeper): what
/// a local run uses; a deployment signs inside KMS ([`SIGNING_KMS_KEY`]). One of the two is
/// required.
pub const SIGNING_KEY_SECRET: &str = "DRIFTWATCH_SIGNING_KEY_SECRET";
/// AWS KMS key (id or ARN) of the evidence digests: an asymmetric `ECC_NIST_P256` signing key
/// that only the sweeper may use; the private key never leaves KMS (sweeper).
pub const SIGNING_KMS_KEY: &str = "DRIFTWATCH_SIGNING_KMS_KEY";
/// Where reports are written: `s3://bucket/prefix` (reporter).
pub const REPORTS: &str = "DRIFTWATCH_REPORTS";
/// Evidence retention days (Object Lock COMPLIANCE), see `driftwatch_aws::evidence`.
pub const EVIDENCE_RETENTION_DAYS: &str = driftwatch_aws::evidence::RETENTION_DAYS_ENV;
/// SSE-KMS key of evidence objects, see `driftwatch_aws::evidence`.
pub const EVIDENCE_KMS_KEY: &str = driftwatch_aws::evidence::KMS_KEY_ENV;
/// S3 addressing style: `auto` (default: path style for a custom endpoint), `true` / `path`
/// (path style), `false` / `virtual` (virtual-hosted).
pub const S3_PATH_STYLE: &str = "DRIFTWATCH_S3_PATH_STYLE";
/// Sweeper: how many indexed states one invocation reconciles before handing the rest to the
/// next invocation (default 25).
pub const RECONCILE_CHUNK: &str = "DRIFTWATCH_RECONCILE_CHUNK";
/// Sweeper: the AWS Config aggregator the reconcile reads the live configuration through (an
/// Organization's states, of many accounts and regions). Unset: the function's own account's
/// AWS Config, and states read through another account's role (`[[state.roles]]`) are not
/// reconciled.
pub const CONFIG_AGGREGATOR: &str = "DRIFTWATCH_CONFIG_AGGREGATOR";
/// Sweeper: stop starting new work when less than this many seconds remain (default 60).
pub const TIME_RESERVE_SECONDS: &str = "DRIFTWATCH_TIME_RESERVE_SECONDS";
/// Tests only: pin the functions' clock (evidence days, `input.invalid` times, sweeps without
/// an event time) to this RFC 3339 instant, as the CLI's `--now` does. Never set in `infra/`
/// (its test refuses it); a pinned clock is logged as a warning at cold start.
pub const NOW: &str = "DRIFTWATCH_NOW";

/// The functions' clock: the wall clock, or an instant pinned by [`NOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(chrono::DateTime<chrono::Utc>),
}

impl Clock {
    pub fn now(self) -> chrono::DateTime<chrono::Utc> {
        match self {
            Clock::System => chrono::Utc::now(),
            Clock::Fixed(t) => t,
        }
    }
}

/// The six functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    StateWatcher,
    TrailWatcher,
    ConfigWatcher,
    LockWatcher,
    Sweeper,
    Reporter,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::StateWatcher,
        Function::TrailWatcher,
        Function::ConfigWatcher,
        Function::LockWatcher,
        Function::Sweeper,
        Function::Reporter,
    ];

    /// The crate / binary / deployed function suffix: `state-watcher`, …
    pub fn name(self) -> &'static str {
        match self {
            Function::StateWatcher => "state-watcher",
            Function::TrailWatcher => "trail-watcher",
            Function::ConfigWatcher => "config-watcher",
            Function::LockWatcher => "lock-watcher",
            Function::Sweeper => "sweeper",
            Function::Reporter => "reporter",
        }
    }

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Variables the function refuses to start without.
    pub fn required(self) -> &'static [&'static str] {
        const COMMON: [&str; 6] = [ENVIRONMENT, REDACTION_SALT_SECRET, INDEX_TABLE, FINDINGS_TABLE, EXCEPTIONS_TABLE, EVIDENCE];
        match self {
            Function::StateWatcher | Function::TrailWatcher | Function::ConfigWatcher | Function::LockWatcher => {
                const V: [&str; 7] = [COMMON[0], COMMON[1], COMMON[2], COMMON[3], COMMON[4], COMMON[5], ALERTS_TOPIC_ARN];
                &V
            }
            Function::Sweeper => {
                const V: [&str; 9] = [
                    COMMON[0],
                    COMMON[1],
                    COMMON[2],
                    COMMON[3],
                    COMMON[4],
                    COMMON[5],
                    ALERTS_TOPIC_ARN,
                    NOTICES_TOPIC_ARN,
                    SIGNING_KMS_KEY,
                ];
                &V
            }
            Function::Reporter => {
                const V: [&str; 7] = [COMMON[0], COMMON[1], COMMON[2], COMMON[3], COMMON[4], COMMON[5], REPORTS];
                &V
            }
        }
    }

    /// Variables read when set.
    pub fn optional(self) -> &'static [&'static str] {
        match self {
            Function::Sweeper => &[
                POLICY,
                S3_PATH_STYLE,
                EVIDENCE_RETENTION_DAYS,
                EVIDENCE_KMS_KEY,
                RECONCILE_CHUNK,
                TIME_RESERVE_SECONDS,
                CONFIG_AGGREGATOR,
                REDACTION_SALT,
                SIGNING_KEY_SECRET,
                HEARTBEAT_TOPIC_ARN,
            ],
            _ => &[POLICY, S3_PATH_STYLE, EVIDENCE_RETENTION_DAYS, EVIDENCE_KMS_KEY, REDACTION_SALT],
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A configuration error: names the variable and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("{function}: environment variable {var} is not set (required: {hint})")]
    Missing { function: Function, var: &'static str, hint: &'static str },
    #[error("{function}: environment variable {var}={value:?} is invalid: {problem}")]
    Invalid { function: Function, var: &'static str, value: String, problem: String },
}

/// What each variable holds, for error messages.
pub fn hint(var: &str) -> &'static str {
    match var {
        ENVIRONMENT => "deployment name shown in alerts, e.g. prod",
        REDACTION_SALT => "random salt of the digests that replace secrets (local runs)",
        REDACTION_SALT_SECRET => {
            "Secrets Manager secret id of the salt of the digests that replace secrets (or DRIFTWATCH_REDACTION_SALT locally)"
        }
        INDEX_TABLE => "DynamoDB table name of the managed-resource index",
        FINDINGS_TABLE => "DynamoDB table name of findings",
        EXCEPTIONS_TABLE => "DynamoDB table name of exceptions",
        EVIDENCE => "evidence store, s3://BUCKET/PREFIX",
        ALERTS_TOPIC_ARN => "SNS topic ARN of security alerts",
        NOTICES_TOPIC_ARN => "SNS topic ARN of exception expiry notices",
        HEARTBEAT_TOPIC_ARN => "SNS topic ARN the sweeper tags each run (the heartbeat; the policy's [watcher] heartbeat_topic)",
        SIGNING_KEY_SECRET => "Secrets Manager secret id of the Ed25519 evidence signing key (local runs)",
        SIGNING_KMS_KEY => "KMS key id of the evidence signing key (ECC_NIST_P256; or DRIFTWATCH_SIGNING_KEY_SECRET locally)",
        REPORTS => "where reports are written, s3://BUCKET/PREFIX",
        _ => "see crates/lambda/src/env.rs",
    }
}

/// An `s3://bucket/prefix` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

/// Where the redaction salt comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Salt {
    /// The value itself (`DRIFTWATCH_REDACTION_SALT`, local runs).
    Value(String),
    /// A Secrets Manager secret, read at cold start (`DRIFTWATCH_REDACTION_SALT_SECRET`).
    Secret(String),
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Salt::Value(_) => f.write_str("Salt::Value(..)"),
            Salt::Secret(id) => write!(f, "Salt::Secret({id})"),
        }
    }
}

/// Validated configuration of one function.
#[derive(Debug, Clone)]
pub struct Env {
    pub function: Function,
    pub environment: String,
    pub policy: Policy,
    pub redaction_salt: Salt,
    pub index_table: String,
    pub findings_table: String,
    pub exceptions_table: String,
    pub evidence: S3Url,
    pub alerts_topic_arn: Option<String>,
    pub notices_topic_arn: Option<String>,
    /// The heartbeat topic (sweeper).
    pub heartbeat_topic_arn: Option<String>,
    pub signing_key_secret: Option<String>,
    /// The evidence signing key in KMS (sweeper); preferred over the secret when both are set.
    pub signing_kms_key: Option<String>,
    pub reports: Option<S3Url>,
    pub path_style: driftwatch_aws::PathStyle,
    pub store_options: driftwatch_aws::StoreOptions,
    pub reconcile_chunk: usize,
    pub time_reserve_seconds: u64,
    /// The Config aggregator of the reconcile ([`CONFIG_AGGREGATOR`]).
    pub config_aggregator: Option<String>,
    /// The clock every invocation reads "now" from ([`NOW`]).
    pub clock: Clock,
}

fn parse_s3_url(function: Function, var: &'static str, value: &str) -> Result<S3Url, EnvError> {
    let bad = |problem: &str| EnvError::Invalid { function, var, value: value.to_string(), problem: problem.to_string() };
    let rest = value.trim().strip_prefix("s3://").ok_or_else(|| bad("expected s3://BUCKET/PREFIX"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad("the bucket name is empty"));
    }
    Ok(S3Url { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() })
}

fn parse_number<T>(function: Function, var: &'static str, value: Option<String>, default: T, min: T) -> Result<T, EnvError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<T>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(EnvError::Invalid { function, var, value: v, problem: format!("expected a whole number ≥ {min}") }),
        },
    }
}

impl Env {
    /// Read and validate the configuration of `function`; `get` looks a variable up.
    pub fn from_vars(function: Function, get: impl Fn(&str) -> Option<String>) -> Result<Env, EnvError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        for var in function.required() {
            // The salt's value may stand in for its secret (local runs).
            if get(var).is_none()
                && !(*var == REDACTION_SALT_SECRET && get(REDACTION_SALT).is_some())
                && !(*var == SIGNING_KMS_KEY && get(SIGNING_KEY_SECRET).is_some())
            {
                return Err(EnvError::Missing { function, var, hint: hint(var) });
            }
        }
        let req = |k: &'static str| get(k).unwrap_or_default();
        let policy = match get(POLICY) {
            None => Policy::default(),
            Some(text) => Policy::from_toml(&text).map_err(|e| EnvError::Invalid {
                function,
                var: POLICY,
                value: "(policy TOML)".into(),
                problem: e.to_string(),
            })?,
        };
        let style = get(S3_PATH_STYLE).map(|v| match v.trim() {
            "path" => "true".to_string(),
            "virtual" => "false".to_string(),
            other => other.to_string(),
        });
        let path_style = driftwatch_aws::PathStyle::parse(style.as_deref()).map_err(|e| EnvError::Invalid {
            function,
            var: S3_PATH_STYLE,
            value: get(S3_PATH_STYLE).unwrap_or_default(),
            problem: e.to_string(),
        })?;
        let store_options = driftwatch_aws::StoreOptions::from_vars(|k| get(k)).map_err(|e| EnvError::Invalid {
            function,
            var: EVIDENCE_RETENTION_DAYS,
            value: get(EVIDENCE_RETENTION_DAYS).unwrap_or_default(),
            problem: e.to_string(),
        })?;
        let topic = |var: &'static str| -> Result<Option<String>, EnvError> {
            match get(var) {
                None => Ok(None),
                Some(arn) => driftwatch_aws::notify::check_topic_arn(&arn).map(|_| Some(arn.clone())).map_err(|e| EnvError::Invalid {
                    function,
                    var,
                    value: arn,
                    problem: e.to_string(),
                }),
            }
        };
        let heartbeat_topic_arn = match topic(HEARTBEAT_TOPIC_ARN)? {
            None if function == Function::Sweeper && !policy.watcher.heartbeat_topic.is_empty() => {
                return Err(EnvError::Missing { function, var: HEARTBEAT_TOPIC_ARN, hint: hint(HEARTBEAT_TOPIC_ARN) })
            }
            t => t,
        };
        Ok(Env {
            function,
            environment: req(ENVIRONMENT),
            policy,
            redaction_salt: match get(REDACTION_SALT_SECRET) {
                Some(id) => Salt::Secret(id),
                None => Salt::Value(req(REDACTION_SALT)),
            },
            index_table: req(INDEX_TABLE),
            findings_table: req(FINDINGS_TABLE),
            exceptions_table: req(EXCEPTIONS_TABLE),
            evidence: parse_s3_url(function, EVIDENCE, &req(EVIDENCE))?,
            alerts_topic_arn: topic(ALERTS_TOPIC_ARN)?,
            notices_topic_arn: topic(NOTICES_TOPIC_ARN)?,
            heartbeat_topic_arn,
            signing_key_secret: get(SIGNING_KEY_SECRET),
            signing_kms_key: get(SIGNING_KMS_KEY),
            reports: get(REPORTS).map(|v| parse_s3_url(function, REPORTS, &v)).transpose()?,
            path_style,
            store_options,
            reconcile_chunk: parse_number(function, RECONCILE_CHUNK, get(RECONCILE_CHUNK), 25usize, 1usize)?,
            time_reserve_seconds: parse_number(function, TIME_RESERVE_SECONDS, get(TIME_RESERVE_SECONDS), 60u64, 0u64)?,
            config_aggregator: get(CONFIG_AGGREGATOR).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()),
            clock: match get(NOW) {
                None => Clock::System,
                Some(v) => {
                    chrono::DateTime::parse_from_rfc3339(v.trim()).map(|t| Clock::Fixed(t.with_timezone(&chrono::Utc))).map_err(|e| {
                        EnvError::Invalid { function, var: NOW, value: v.clone(), problem: format!("expected an RFC 3339 time: {e}") }
                    })?
                }
            },
        })
    }

    /// From the process environment.
    pub fn from_env(function: Function) -> Result<Env, EnvError> {
        Env::from_vars(function, |k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> HashMap<&'static str, String> {
        let mut m = HashMap::new();
        for f in Function::ALL {
            for v in f.required() {
                m.insert(*v, format!("x-{v}"));
            }
        }
        m.insert(EVIDENCE, "s3://evidence-bucket/records".into());
        m.insert(REPORTS, "s3://reports-bucket".into());
        m.insert(ALERTS_TOPIC_ARN, "arn:aws:sns:eu-west-2:123456789012:alerts".into());
        m.insert(NOTICES_TOPIC_ARN, "arn:aws:sns:eu-west-2:123456789012:notices".into());
        m
    }

    #[test]
    fn every_function_starts_with_its_variables() {
        let vars = full();
        for f in Function::ALL {
            let env = Env::from_vars(f, |k| vars.get(k).cloned()).unwrap();
            assert_eq!(env.evidence, S3Url { bucket: "evidence-bucket".into(), prefix: "records".into() });
            assert_eq!(env.reconcile_chunk, 25);
            assert_eq!(Function::from_name(f.name()), Some(f));
            assert_eq!(env.clock, Clock::System);
        }
    }

    #[test]
    fn the_clock_can_be_pinned() {
        let mut vars = full();
        vars.insert(NOW, "2026-11-21T09:30:00+01:00".into());
        let env = Env::from_vars(Function::Reporter, |k| vars.get(k).cloned()).unwrap();
        let pinned = chrono::DateTime::parse_from_rfc3339("2026-11-21T08:30:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(env.clock, Clock::Fixed(pinned));
        assert_eq!(env.clock.now(), pinned);
    }

    /// The salt comes from Secrets Manager in a deployment; its value stands in locally.
    #[test]
    fn the_salt_is_a_secret_or_locally_a_value() {
        let mut vars = full();
        let env = Env::from_vars(Function::TrailWatcher, |k| vars.get(k).cloned()).unwrap();
        assert_eq!(env.redaction_salt, Salt::Secret(format!("x-{REDACTION_SALT_SECRET}")));
        vars.remove(REDACTION_SALT_SECRET);
        vars.insert(REDACTION_SALT, "local-salt".into());
        let env = Env::from_vars(Function::TrailWatcher, |k| vars.get(k).cloned()).unwrap();
        assert_eq!(env.redaction_salt, Salt::Value("local-salt".into()));
        assert!(!format!("{env:?}").contains("local-salt"), "the salt is never logged");
    }

    #[test]
    fn a_missing_variable_is_named() {
        for f in Function::ALL {
            for missing in f.required() {
                let mut vars = full();
                vars.remove(missing);
                let err = Env::from_vars(f, |k| vars.get(k).cloned()).unwrap_err().to_string();
                assert!(err.contains(missing), "{f}: {err}");
                assert!(err.starts_with(f.name()), "{err}");
            }
        }
    }

    #[test]
    fn malformed_values_are_named() {
        let cases: [(&str, &str); 6] = [
            (NOW, "yesterday"),
            (EVIDENCE, "evidence-bucket"),
            (ALERTS_TOPIC_ARN, "alerts"),
            (POLICY, "[locks\nstale"),
            (S3_PATH_STYLE, "sideways"),
            (RECONCILE_CHUNK, "0"),
        ];
        for (var, value) in cases {
            let mut vars = full();
            vars.insert(var, value.to_string());
            let err = Env::from_vars(Function::Sweeper, |k| vars.get(k).cloned()).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
    }
}
