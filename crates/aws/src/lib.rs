//! driftwatch adapters over the official AWS SDK, implementing the core's ports.
//!
//! * [`findings_table`]: the findings table in DynamoDB — [`FindingsTable`].
//! * [`evidence`]: the evidence bucket — [`S3EvidenceStore`] (async, for the Lambdas) and
//!   [`BlockingS3EvidenceStore`], the synchronous `EvidenceStore` port the core's `seal` and
//!   `verify` take (for the CLI).
//! * [`exceptions_table`]: exceptions as code in DynamoDB — [`ExceptionsTable`] loads them
//!   into the core's `Exceptions` (validated exactly as the TOML file is) and keeps the
//!   ledger of expiry notices sent, each recorded once by a conditional update.
//! * [`index_table`]: the managed-resource index in DynamoDB — [`IndexTable`].
//! * [`live`]: live configuration from AWS Config — [`ConfigReader`] (`BatchGetResourceConfig`,
//!   `SelectResourceConfig`, oversized items from S3) into the core's `ConfigItem`s.
//! * [`notify`]: the alerts topic — [`SnsNotifier`] publishes a finding's alert (SNS `Publish`,
//!   `MessageStructure=json`, message attributes for filter policies).
//! * [`ledger`]: the detectors' ledger items in the findings table — [`LedgerTable`].
//! * [`locks`]: Terraform's DynamoDB lock tables, read-only — [`LockTables`].
//! * [`objects`]: whole S3 objects — CloudTrail log files read ([`ObjectReader`]) and report
//!   files written ([`ObjectWriter`]).
//! * [`ports`]: the core's ports (`driftwatch_core::ports`) over these adapters, for the engine.
//! * [`secrets`]: the evidence signing key from Secrets Manager — [`SecretReader`].
//! * [`iam`]: the IAM actions each adapter's capabilities perform ([`Action`]), what they
//!   are pointed at ([`Target`]); every function's role is checked against them.
//! * [`state`]: Terraform states in the S3 backend — [`S3StateReader`] reads a state by object
//!   version and finds the version before it.
//!
//! Clients are built once per process from the standard AWS configuration: the default
//! credential chain, `AWS_REGION` / profile region, and `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT_URL_S3`), which is how the tests point everything at moto server. See
//! [`sdk`].

pub mod backfill;
pub mod evidence;
pub mod exceptions_table;
pub mod findings_table;
pub mod iam;
pub mod index_table;
pub mod kms;
pub mod ledger;
pub mod live;
pub mod locks;
pub mod notify;
pub mod objects;
pub mod ports;
pub mod sdk;
mod sdk_error;
pub mod secrets;
pub mod state;
pub mod table;

/// The SDK configuration every client is built from (re-exported so that callers need not
/// name the SDK crates).
pub use aws_config::SdkConfig;

pub use backfill::{sqs_client, BackfillError, Listed, TrailBackfill};
pub use evidence::{blocking_runtime, BlockingS3EvidenceStore, S3EvidenceStore, S3Location, S3StoreError, StoreOptions};
pub use exceptions_table::{ExceptionsTable, ExceptionsTableError};
pub use findings_table::{dynamodb_client, DynamoError, FindingsTable, Inserted, Stored, TableOptions};
pub use iam::{Action, Grant, Target};
pub use index_table::{IndexTable, IndexTableError, ItemKey, StateAt};
pub use kms::{kms_client, BlockingKmsSigner, KmsError, KmsSigner};
pub use ledger::{LedgerError, LedgerTable};
pub use live::{config_client, AggregateIdentity, ConfigReader, LiveReadError, RetryOptions};
pub use locks::{LockItem, LockTableError, LockTables};
pub use notify::{sns_client, NotifyError, Published, SnsNotifier};
pub use objects::{ObjectError, ObjectReader, ObjectWriter};
pub use sdk::{assume_role_config, load_sdk_config, s3_client, EnvVarError, PathStyle};
pub use secrets::{SecretError, SecretReader};
pub use state::{Current, ListedVersion, OpenVersion, ReadVersion, S3StateReader, StateObject, StateReadError};

/// The Secrets Manager client, from the shared SDK configuration.
pub fn secrets_client(sdk: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(sdk)
}
