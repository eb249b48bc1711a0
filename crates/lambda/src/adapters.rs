//! The adapters a function uses, built once per process.

use crate::env::{Env, S3Url, Salt, REDACTION_SALT_SECRET};
use driftwatch_aws::{
    ConfigReader, ExceptionsTable, FindingsTable, IndexTable, LedgerTable, LockTables, ObjectReader, ObjectWriter, S3EvidenceStore,
    S3Location, S3StateReader, SdkConfig, SecretReader, SnsNotifier, TableOptions,
};
use driftwatch_core::{Catalog, Redactor};

/// Errors of building the clients at cold start.
#[derive(Debug, thiserror::Error)]
pub enum AdaptersError {
    #[error("{0}")]
    Setup(String),
}

/// Everything a handler needs. Built once per process; shared by every invocation. Every AWS
/// call goes through one of these adapters (`crates/aws`); what each function may call is
/// [`Function::grants`](crate::env::Function::grants).
pub struct Adapters {
    pub env: Env,
    pub catalog: Catalog,
    pub redactor: Redactor,
    pub index: IndexTable,
    pub findings: FindingsTable,
    pub ledger: LedgerTable,
    pub exceptions: ExceptionsTable,
    pub live: ConfigReader,
    pub evidence: S3EvidenceStore,
    pub states: S3StateReader,
    /// The policy's lock tables.
    pub locks: LockTables,
    /// CloudTrail log files delivered to S3.
    pub log_files: ObjectReader,
    /// Report files.
    pub report_files: ObjectWriter,
    pub alerts: Option<SnsNotifier>,
    pub notices: Option<SnsNotifier>,
    /// The heartbeat topic (the sweeper tags it each run).
    pub heartbeat: Option<SnsNotifier>,
    pub secrets: SecretReader,
    /// The SDK configuration the clients were built from (for clients that must live on
    /// another runtime, such as the sweeper's sealing).
    pub sdk: SdkConfig,
    /// The state version this process read last (the state-watcher's): the next write of the
    /// same key finds its previous version here instead of reading and parsing it again.
    pub last_state: std::sync::Mutex<Option<LastState>>,
    /// The places and days this process recorded as heard (`heard` evidence written once).
    pub heard: std::sync::Mutex<std::collections::HashSet<driftwatch_core::heard::Heard>>,
    /// [`Adapters::index_basis`], once computed.
    index_basis: std::sync::OnceLock<String>,
}

/// A state version as read, kept between invocations of one process.
#[derive(Debug)]
pub struct LastState {
    pub bucket: String,
    pub key: String,
    /// The S3 version id it was read as.
    pub version_id: String,
    pub state: driftwatch_core::state::State,
    pub elements: driftwatch_core::state::Elements,
    pub md5: String,
}

fn location(url: &S3Url) -> S3Location {
    let prefix = if url.prefix.is_empty() { String::new() } else { format!("{}/", url.prefix) };
    S3Location { bucket: url.bucket.clone(), prefix }
}

impl Adapters {
    /// Build the clients from the standard AWS configuration (credentials chain, region,
    /// `AWS_ENDPOINT_URL`). Nothing is called yet: a cold start costs no AWS round trip.
    pub async fn connect(env: Env) -> Result<Adapters, AdaptersError> {
        let sdk = driftwatch_aws::load_sdk_config().await;
        Adapters::connect_with(env, &sdk).await
    }

    /// [`connect`](Self::connect) with an SDK configuration already loaded: reads the
    /// redaction salt from Secrets Manager when the configuration names its secret (the one
    /// call of a cold start), then builds the clients.
    pub async fn connect_with(mut env: Env, sdk: &SdkConfig) -> Result<Adapters, AdaptersError> {
        if let Salt::Secret(id) = &env.redaction_salt {
            let salt = SecretReader::new(driftwatch_aws::secrets_client(sdk))
                .get_string(id)
                .await
                .map_err(|e| AdaptersError::Setup(format!("redaction salt ({REDACTION_SALT_SECRET}={id}): {e}")))?;
            if salt.trim().is_empty() {
                return Err(AdaptersError::Setup(format!("redaction salt ({REDACTION_SALT_SECRET}={id}): the secret is empty")));
            }
            env.redaction_salt = Salt::Value(salt);
        }
        Ok(Adapters::with_sdk(env, sdk)?.assume_state_roles().await)
    }

    /// Read the state buckets of the policy's `[[state.roles]]` through their roles
    /// (`sts:AssumeRole`, with the external id when given): the state of a workload account,
    /// kept in that account. No call yet: the credentials are fetched when a bucket is first
    /// read, and refreshed before they expire.
    pub async fn assume_state_roles(mut self) -> Adapters {
        for r in self.env.policy.state.roles.clone() {
            let conf = driftwatch_aws::assume_role_config(&self.sdk, &r.role_arn, r.external_id()).await;
            let client = driftwatch_aws::s3_client(&conf, self.env.path_style);
            self.states = self.states.with_role(&r.buckets, client);
        }
        self
    }

    /// Build the clients from an SDK configuration already loaded (tests pass moto's).
    pub fn with_sdk(env: Env, sdk: &SdkConfig) -> Result<Adapters, AdaptersError> {
        let sdk = sdk.clone();
        let s3 = driftwatch_aws::s3_client(&sdk, env.path_style);
        let dynamodb = driftwatch_aws::dynamodb_client(&sdk);
        let sns = driftwatch_aws::sns_client(&sdk);
        let notifier = |arn: &Option<String>| -> Result<Option<SnsNotifier>, AdaptersError> {
            arn.as_deref()
                .map(|a| {
                    SnsNotifier::new(sns.clone(), a, &env.environment)
                        .map(|n| n.with_accounts(&env.policy.accounts))
                        .map_err(|e| AdaptersError::Setup(e.to_string()))
                })
                .transpose()
        };
        let alerts = notifier(&env.alerts_topic_arn)?;
        let notices = notifier(&env.notices_topic_arn)?;
        let heartbeat = notifier(&env.heartbeat_topic_arn)?;
        Ok(Adapters {
            redactor: match &env.redaction_salt {
                Salt::Value(v) => Redactor::new(v.as_bytes()),
                Salt::Secret(id) => {
                    return Err(AdaptersError::Setup(format!("the redaction salt is in secret {id}: build the adapters with connect_with")))
                }
            },
            catalog: Catalog::builtin(),
            index: IndexTable::new(dynamodb.clone(), env.index_table.clone(), TableOptions::default()),
            findings: FindingsTable::new(dynamodb.clone(), env.findings_table.clone(), TableOptions::default()),
            ledger: LedgerTable::new(dynamodb.clone(), env.findings_table.clone()),
            exceptions: ExceptionsTable::new(dynamodb.clone(), env.exceptions_table.clone()),
            locks: LockTables::new(dynamodb, env.policy.state.lock_tables.clone()),
            live: ConfigReader::new(driftwatch_aws::config_client(&sdk), s3.clone()),
            evidence: S3EvidenceStore::new(s3.clone(), location(&env.evidence), env.store_options.clone()),
            states: S3StateReader::new(s3.clone()),
            log_files: ObjectReader::new(s3.clone()),
            report_files: ObjectWriter::new(s3),
            secrets: SecretReader::new(driftwatch_aws::secrets_client(&sdk)),
            sdk,
            alerts,
            notices,
            heartbeat,
            env,
            last_state: std::sync::Mutex::new(None),
            heard: std::sync::Mutex::new(std::collections::HashSet::new()),
            index_basis: std::sync::OnceLock::new(),
        })
    }

    /// What this process makes index entries from: the catalog, the redaction salt (as a
    /// salted digest, never the salt) and the build's version. An index written by a process
    /// with another basis may hold entries this one would make differently, so a state write
    /// changes only the entries it changed when the index was written on this basis.
    pub fn index_basis(&self) -> &str {
        self.index_basis.get_or_init(|| {
            let salted = self.redactor.digest_hex(b"driftwatch index entries");
            let text = format!("{}\n{}\n{}", env!("CARGO_PKG_VERSION"), self.catalog.digest(), salted);
            driftwatch_core::evidence::sha256_hex(text.as_bytes())[..32].to_string()
        })
    }
}

/// The engine's ports are the AWS adapters.
impl driftwatch_engine::Ports for Adapters {
    type Index = IndexTable;
    type Ledger = LedgerTable;
    type Exceptions = ExceptionsTable;
    type Findings = FindingsTable;
    type Evidence = S3EvidenceStore;
    type Alerts = SnsNotifier;

    fn index(&self) -> &IndexTable {
        &self.index
    }
    fn ledger(&self) -> &LedgerTable {
        &self.ledger
    }
    fn exceptions(&self) -> &ExceptionsTable {
        &self.exceptions
    }
    fn findings(&self) -> &FindingsTable {
        &self.findings
    }
    fn evidence(&self) -> &S3EvidenceStore {
        &self.evidence
    }
    fn alerts(&self) -> Option<&SnsNotifier> {
        self.alerts.as_ref()
    }
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    fn policy(&self) -> &driftwatch_core::policy::Policy {
        &self.env.policy
    }
    fn redactor(&self) -> &Redactor {
        &self.redactor
    }
    fn heard(&self) -> Option<&std::sync::Mutex<std::collections::HashSet<driftwatch_core::heard::Heard>>> {
        Some(&self.heard)
    }
}
