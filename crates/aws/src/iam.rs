//! The IAM actions the adapters perform, declared beside the code that performs them.
//!
//! Each adapter lists, per capability (a group of its methods), the SDK operations those
//! methods call and the IAM action each needs ([`Action`]). A function's role must grant the
//! union over the capabilities it is wired with, on the resources they are pointed at
//! ([`Target`]): `driftwatch_lambda::Function::grants` is that wiring, and
//! `tests/tests/iam.rs` checks it against the roles in `infra/` both ways (nothing missing,
//! nothing spare), and checks every declaration here against the SDK calls in the adapter's
//! source (nothing called that is not declared, nothing declared that is not called).

use std::fmt;

/// One SDK operation and the IAM action it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Action {
    /// The IAM action, `service:Action` (`dynamodb:GetItem`, `s3:ListBucketVersions`).
    pub iam: &'static str,
    /// The SDK's fluent operation, as called in the adapter (`get_item`,
    /// `list_object_versions`).
    pub call: &'static str,
}

impl Action {
    pub const fn new(iam: &'static str, call: &'static str) -> Action {
        Action { iam, call }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.iam, self.call)
    }
}

/// What an adapter instance is pointed at: the resource its actions are granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// The findings table (findings and the detectors' ledger items).
    FindingsTable,
    /// The managed-resource index table (and its indexes).
    IndexTable,
    /// The exceptions table.
    ExceptionsTable,
    /// The Terraform lock tables the policy names.
    LockTables,
    /// The Terraform state buckets the policy names (objects, listing, versions).
    StateBuckets,
    /// `.tflock` objects in the state buckets.
    LockFiles,
    /// The evidence prefix of the evidence bucket.
    Evidence,
    /// The reports prefix of the evidence bucket.
    Reports,
    /// The alerts topic.
    AlertsTopic,
    /// The exception notices topic.
    NoticesTopic,
    /// The heartbeat topic (the sweeper tags it each run).
    HeartbeatTopic,
    /// The evidence signing key secret.
    SigningKey,
    /// The evidence signing key in KMS (asymmetric; only the sealer signs).
    SigningKmsKey,
    /// The redaction salt secret (every function, at cold start).
    RedactionSalt,
    /// AWS Config (no resource-level permissions for its reads).
    Config,
    /// The AWS Config delivery bucket (oversized configuration items).
    ConfigBucket,
    /// The CloudTrail log bucket (log files delivered as S3 events).
    TrailBucket,
    /// KMS keys the watcher's own tables, bucket and topics are encrypted with.
    WatcherKey,
    /// KMS keys of the state buckets.
    StateKeys,
    /// The function's dead-letter queue (the Lambda service sends to it as the role).
    DeadLetterQueue,
    /// The lock tables' DynamoDB streams (the event source mapping reads them as the role).
    LockStreams,
    /// The lock stream's dead-letter queue.
    LockStreamDeadLetterQueue,
    /// The trail watcher's backfill queue (`driftwatch backfill`; the event source mapping
    /// receives from it as the role).
    BackfillQueue,
    /// Roles in other accounts that read their state buckets (the policy's `[[state.roles]]`).
    StateRoles,
    /// Services without resource-level permissions (X-Ray).
    Any,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A grant a function needs: an IAM action on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub action: &'static str,
    pub target: Target,
}

/// The grants of `actions` on `target`.
pub fn on(target: Target, actions: &[Action]) -> impl Iterator<Item = Grant> + '_ {
    actions.iter().map(move |a| Grant { action: a.iam, target })
}

/// Every capability of every adapter: `(source file under crates/aws/src, adapter::CAPABILITY,
/// actions)`. The IAM test reads each file and checks its SDK calls are exactly the union of
/// its capabilities' calls.
pub fn declarations() -> Vec<(&'static str, &'static str, &'static [Action])> {
    use crate::*;
    vec![
        ("findings_table.rs", "FindingsTable::READ", FindingsTable::READ),
        ("findings_table.rs", "FindingsTable::LIST_OPEN", FindingsTable::LIST_OPEN),
        ("findings_table.rs", "FindingsTable::WRITE", FindingsTable::WRITE),
        ("findings_table.rs", "FindingsTable::BULK", FindingsTable::BULK),
        ("ledger.rs", "LedgerTable::READ", LedgerTable::READ),
        ("ledger.rs", "LedgerTable::WRITE", LedgerTable::WRITE),
        ("ledger.rs", "LedgerTable::LIST", LedgerTable::LIST),
        ("index_table.rs", "IndexTable::READ", IndexTable::READ),
        ("index_table.rs", "IndexTable::WRITE", IndexTable::WRITE),
        ("exceptions_table.rs", "ExceptionsTable::READ", ExceptionsTable::READ),
        ("exceptions_table.rs", "ExceptionsTable::NOTICES", ExceptionsTable::NOTICES),
        ("exceptions_table.rs", "ExceptionsTable::IMPORT", ExceptionsTable::IMPORT),
        ("locks.rs", "LockTables::GET", LockTables::GET),
        ("locks.rs", "LockTables::LIST", LockTables::LIST),
        ("state.rs", "S3StateReader::READ", S3StateReader::READ),
        ("state.rs", "S3StateReader::LIST", S3StateReader::LIST),
        ("state.rs", "S3StateReader::LOCK_FILES", S3StateReader::LOCK_FILES),
        ("state.rs", "S3StateReader::LOCK_FILE", S3StateReader::LOCK_FILE),
        ("evidence.rs", "S3EvidenceStore::WRITE", S3EvidenceStore::WRITE),
        ("evidence.rs", "S3EvidenceStore::READ", S3EvidenceStore::READ),
        ("evidence.rs", "S3EvidenceStore::CHECK", S3EvidenceStore::CHECK),
        ("evidence.rs", "S3EvidenceStore::VERSIONS", S3EvidenceStore::VERSIONS),
        ("objects.rs", "ObjectReader::ACTIONS", ObjectReader::ACTIONS),
        ("objects.rs", "ObjectWriter::ACTIONS", ObjectWriter::ACTIONS),
        ("notify.rs", "SnsNotifier::PUBLISH", SnsNotifier::PUBLISH),
        ("notify.rs", "SnsNotifier::CHECK", SnsNotifier::CHECK),
        ("notify.rs", "SnsNotifier::TAG", SnsNotifier::TAG),
        ("secrets.rs", "SecretReader::ACTIONS", SecretReader::ACTIONS),
        ("kms.rs", "KmsSigner::ACTIONS", KmsSigner::ACTIONS),
        ("live.rs", "ConfigReader::READ", ConfigReader::READ),
        ("live.rs", "ConfigReader::OVERSIZED", ConfigReader::OVERSIZED),
        ("live.rs", "ConfigReader::AGGREGATE", ConfigReader::AGGREGATE),
        ("backfill.rs", "TrailBackfill::LIST", TrailBackfill::LIST),
        ("backfill.rs", "TrailBackfill::CHECK", TrailBackfill::CHECK),
        ("backfill.rs", "TrailBackfill::ENQUEUE", TrailBackfill::ENQUEUE),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// The adapters' sources, as compiled.
    const SOURCES: &[(&str, &str)] = &[
        ("sdk.rs", include_str!("sdk.rs")),
        ("backfill.rs", include_str!("backfill.rs")),
        ("findings_table.rs", include_str!("findings_table.rs")),
        ("evidence.rs", include_str!("evidence.rs")),
        ("exceptions_table.rs", include_str!("exceptions_table.rs")),
        ("iam.rs", include_str!("iam.rs")),
        ("index_table.rs", include_str!("index_table.rs")),
        ("ledger.rs", include_str!("ledger.rs")),
        ("lib.rs", include_str!("lib.rs")),
        ("live.rs", include_str!("live.rs")),
        ("locks.rs", include_str!("locks.rs")),
        ("notify.rs", include_str!("notify.rs")),
        ("objects.rs", include_str!("objects.rs")),
        ("sdk_error.rs", include_str!("sdk_error.rs")),
        ("secrets.rs", include_str!("secrets.rs")),
        ("kms.rs", include_str!("kms.rs")),
        ("state.rs", include_str!("state.rs")),
    ];

    /// The SDK operations a source calls: `client.op()`, `self.client\n .op()`, `s3.op()`,
    /// `config.op()` (the adapters' client fields), outside comments and tests.
    fn sdk_calls(source: &str) -> BTreeSet<String> {
        let code: String = source
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut calls = BTreeSet::new();
        let bytes = code.as_bytes();
        for receiver in ["client", "s3", "config"] {
            for (i, _) in code.match_indices(receiver) {
                let before = code[..i].chars().last();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let mut j = i + receiver.len();
                if code[j..].starts_with("()") {
                    // `client()` is the accessor of a client; `config()` is the client's own
                    // configuration, not a call.
                    if receiver != "client" {
                        continue;
                    }
                    j += 2;
                }
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j >= bytes.len() || bytes[j] != b'.' {
                    continue;
                }
                let rest = code[j + 1..].trim_start();
                let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
                if !name.is_empty() && rest[name.len()..].starts_with("()") && !["clone", "config"].contains(&name.as_str()) {
                    calls.insert(name);
                }
            }
        }
        calls
    }

    #[test]
    fn the_call_finder_sees_calls_across_lines() {
        let calls = sdk_calls("let x = self\n    .client\n    .get_item()\n    .send();\nlet c = self.client.clone();\n// client.scan()\n");
        assert_eq!(calls, BTreeSet::from(["get_item".to_string()]));
    }

    /// Each adapter file calls exactly the SDK operations its capabilities declare: a call
    /// added without its IAM action, or a declaration whose call is gone, fails here.
    #[test]
    fn declarations_match_the_sdk_calls_in_each_adapter() {
        let mut declared: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (file, _, actions) in declarations() {
            assert!(SOURCES.iter().any(|(f, _)| *f == file), "{file} is declared but not read by this test");
            declared.entry(file).or_default().extend(actions.iter().map(|a| a.call.to_string()));
        }
        for (file, source) in SOURCES {
            let found = sdk_calls(source);
            let want = declared.get(file).cloned().unwrap_or_default();
            assert_eq!(found, want, "{file}: SDK calls in the source (left) and declared IAM actions (right) differ");
        }
        assert!(declared.values().map(BTreeSet::len).sum::<usize>() >= 15, "too few calls declared: {declared:?}");
    }

    #[test]
    fn every_action_names_its_service() {
        for (file, name, actions) in declarations() {
            assert!(!actions.is_empty(), "{file} {name} declares nothing");
            for a in actions {
                let (service, action) = a.iam.split_once(':').unwrap_or_else(|| panic!("{name}: {a}"));
                assert!(["dynamodb", "s3", "sns", "sqs", "config", "secretsmanager", "kms"].contains(&service), "{name}: {a}");
                assert!(action.chars().next().is_some_and(|c| c.is_ascii_uppercase()), "{name}: {a}");
            }
        }
    }
}
