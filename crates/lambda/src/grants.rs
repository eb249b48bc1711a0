//! What each function may call: the adapter capabilities it is wired with (each declares its
//! IAM actions in `crates/aws`, see [`driftwatch_aws::iam`]), on what, plus what the platform
//! does as the function's role. `tests/tests/infra.rs` (`every_role_grants_exactly_what_its_function_calls`) renders each role in `infra/` and checks
//! it grants exactly this: nothing missing (the function would fail on AccessDenied), nothing
//! spare (least privilege).

use crate::env::Function;
use driftwatch_aws::iam::{on, Action, Grant, Target};
use driftwatch_aws::{
    ConfigReader, ExceptionsTable, FindingsTable, IndexTable, LedgerTable, LockTables, ObjectReader, ObjectWriter, S3EvidenceStore,
    S3StateReader, SecretReader, SnsNotifier,
};
use std::collections::BTreeSet;

/// X-Ray active tracing (`tracing_config { mode = "Active" }`): the runtime sends segments.
pub const TRACING: &[Action] =
    &[Action::new("xray:PutTraceSegments", "(lambda runtime)"), Action::new("xray:PutTelemetryRecords", "(lambda runtime)")];
/// The watcher's KMS key: the tables, the evidence bucket and the topics are encrypted with it.
pub const WATCHER_KEY: &[Action] = &[Action::new("kms:Decrypt", "(SSE-KMS)"), Action::new("kms:GenerateDataKey", "(SSE-KMS)")];
/// State buckets encrypted with keys of their own (when the deployment names any).
pub const STATE_KEYS: &[Action] = &[Action::new("kms:Decrypt", "(SSE-KMS)")];
/// The roles of other accounts' state buckets (`[[state.roles]]`): the SDK's credentials
/// provider assumes them (`aws_config::sts::AssumeRoleProvider`, see
/// `driftwatch_aws::assume_role_config`) for the functions that read state.
pub const STATE_ROLES: &[Action] = &[Action::new("sts:AssumeRole", "(credentials provider)")];
/// Failed asynchronous invocations, sent to the function's dead-letter queue by Lambda.
pub const DEAD_LETTER: &[Action] = &[Action::new("sqs:SendMessage", "(lambda service)")];
/// The event source mapping of the lock tables' streams, which Lambda reads as the role.
pub const LOCK_STREAMS: &[Action] = &[
    Action::new("dynamodb:DescribeStream", "(event source mapping)"),
    Action::new("dynamodb:GetRecords", "(event source mapping)"),
    Action::new("dynamodb:GetShardIterator", "(event source mapping)"),
    Action::new("dynamodb:ListStreams", "(event source mapping)"),
];
/// The event source mapping of the backfill queue (`driftwatch backfill`), which Lambda
/// polls as the trail watcher's role.
pub const BACKFILL_QUEUE: &[Action] = &[
    Action::new("sqs:ReceiveMessage", "(event source mapping)"),
    Action::new("sqs:DeleteMessage", "(event source mapping)"),
    Action::new("sqs:GetQueueAttributes", "(event source mapping)"),
];

impl Function {
    /// The capabilities this function's handler calls, with their targets.
    pub fn wiring(self) -> Vec<(Target, &'static [Action])> {
        use Target::*;
        // What every watcher does with a finding (driftwatch_engine::record) and with a signal
        // (driftwatch_engine::on_signal): exceptions, the findings lifecycle, evidence, the
        // alert; the index slice and the ledger items the signal needs.
        let recording: [(Target, &'static [Action]); 8] = [
            (ExceptionsTable, driftwatch_aws::ExceptionsTable::READ),
            (FindingsTable, driftwatch_aws::FindingsTable::READ),
            (FindingsTable, driftwatch_aws::FindingsTable::WRITE),
            (FindingsTable, LedgerTable::READ),
            (FindingsTable, LedgerTable::WRITE),
            (Evidence, S3EvidenceStore::WRITE),
            (AlertsTopic, SnsNotifier::PUBLISH),
            (IndexTable, driftwatch_aws::IndexTable::READ),
        ];
        // Every function reads the redaction salt from Secrets Manager at cold start.
        let mut w: Vec<(Target, &'static [Action])> = vec![(RedactionSalt, SecretReader::ACTIONS)];
        match self {
            Function::StateWatcher => {
                w.extend(recording);
                w.extend([
                    (StateBuckets, S3StateReader::READ),
                    (IndexTable, driftwatch_aws::IndexTable::WRITE),
                    (LockTables, driftwatch_aws::LockTables::GET),
                ]);
            }
            Function::TrailWatcher => {
                w.extend(recording);
                w.push((TrailBucket, ObjectReader::ACTIONS));
            }
            Function::ConfigWatcher => {
                w.extend(recording);
                w.push((ConfigBucket, ConfigReader::OVERSIZED));
            }
            Function::LockWatcher => {
                w.extend(recording);
                // The `.tflock` objects of `use_lockfile` (S3 notifications): the body of the
                // version created.
                w.push((LockFiles, S3StateReader::LOCK_FILE));
            }
            Function::Sweeper => {
                // Stale locks, notices, sealing and reconcile record findings too, but look
                // nothing up in the index.
                w.extend(recording.into_iter().filter(|(t, _)| *t != IndexTable));
                // The alerts still due (held by a quiet period, or orphaned): open findings.
                w.push((FindingsTable, driftwatch_aws::FindingsTable::LIST_OPEN));
                w.extend([
                    (LockTables, driftwatch_aws::LockTables::LIST),
                    (StateBuckets, S3StateReader::LIST),
                    (LockFiles, S3StateReader::LOCK_FILES),
                    (ExceptionsTable, driftwatch_aws::ExceptionsTable::NOTICES),
                    (NoticesTopic, SnsNotifier::PUBLISH),
                    (HeartbeatTopic, SnsNotifier::TAG),
                    (Evidence, S3EvidenceStore::READ),
                    (SigningKey, SecretReader::ACTIONS),
                    (SigningKmsKey, driftwatch_aws::KmsSigner::ACTIONS),
                    (FindingsTable, LedgerTable::LIST),
                    (StateBuckets, S3StateReader::READ),
                    (Config, ConfigReader::READ),
                    // With DRIFTWATCH_CONFIG_AGGREGATOR: the reconcile reads through it.
                    (Config, ConfigReader::AGGREGATE),
                ]);
            }
            Function::Reporter => w.extend([
                (Evidence, S3EvidenceStore::READ),
                (Evidence, S3EvidenceStore::WRITE),
                (ExceptionsTable, driftwatch_aws::ExceptionsTable::READ),
                (Reports, ObjectWriter::ACTIONS),
            ]),
        }
        w
    }

    /// What the platform does as this function's role.
    pub fn platform(self) -> Vec<(Target, &'static [Action])> {
        let mut p = vec![(Target::Any, TRACING), (Target::WatcherKey, WATCHER_KEY), (Target::DeadLetterQueue, DEAD_LETTER)];
        match self {
            Function::StateWatcher | Function::Sweeper => {
                p.push((Target::StateKeys, STATE_KEYS));
                p.push((Target::StateRoles, STATE_ROLES));
            }
            Function::LockWatcher => {
                p.push((Target::StateKeys, STATE_KEYS));
                p.push((Target::StateRoles, STATE_ROLES));
                p.push((Target::LockStreams, LOCK_STREAMS));
                p.push((Target::LockStreamDeadLetterQueue, DEAD_LETTER));
            }
            Function::TrailWatcher => p.push((Target::BackfillQueue, BACKFILL_QUEUE)),
            _ => {}
        }
        p
    }

    /// Every grant the function's role needs: its wiring and the platform's.
    pub fn grants(self) -> BTreeSet<Grant> {
        self.wiring().into_iter().chain(self.platform()).flat_map(|(t, a)| on(t, a).collect::<Vec<_>>()).collect()
    }
}

// Keep the adapter types named here in use, so a renamed capability fails to compile here.
#[allow(dead_code)]
type Wired = (FindingsTable, IndexTable, ExceptionsTable, LockTables);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recording_function_may_write_and_delete_its_ledger_items() {
        for f in [Function::StateWatcher, Function::TrailWatcher, Function::ConfigWatcher, Function::LockWatcher, Function::Sweeper] {
            let g = f.grants();
            for action in ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"] {
                assert!(g.contains(&Grant { action, target: Target::FindingsTable }), "{f}: {action}");
            }
        }
        assert!(Function::Sweeper.grants().contains(&Grant { action: "dynamodb:Scan", target: Target::FindingsTable }));
        assert!(
            !Function::Reporter.grants().iter().any(|g| g.target == Target::FindingsTable),
            "the reporter reads evidence, not the table"
        );
    }

    #[test]
    fn the_state_watcher_may_scan_the_index_it_prunes() {
        let g = Function::StateWatcher.grants();
        assert!(g.contains(&Grant { action: "dynamodb:Scan", target: Target::IndexTable }));
        // Conditional single-item writes (ordered by the write's time), not batches.
        for action in ["dynamodb:PutItem", "dynamodb:DeleteItem"] {
            assert!(g.contains(&Grant { action, target: Target::IndexTable }), "{action}");
            assert!(!Function::TrailWatcher.grants().contains(&Grant { action, target: Target::IndexTable }), "{action}");
        }
        assert!(!g.contains(&Grant { action: "dynamodb:BatchWriteItem", target: Target::IndexTable }));
    }
}
