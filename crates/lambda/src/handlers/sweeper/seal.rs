//! The sweeper's evidence digests: every record not yet covered is sealed into a signed,
//! chained digest. The key is an asymmetric KMS key
//! ([`SIGNING_KMS_KEY`](crate::env::SIGNING_KMS_KEY): the private key never leaves KMS), or
//! locally an Ed25519 key in a secret ([`SIGNING_KEY_SECRET`](crate::env::SIGNING_KEY_SECRET)).

use super::super::{transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use serde_json::{json, Value};
use tracing::info;

/// Where the digests are signed.
enum Signing {
    /// The KMS key's id: its client is built on the sealing thread's runtime.
    Kms(String),
    Secret(driftwatch_core::evidence::Signer25519),
}

/// The signing key: the KMS key (connected on the sealing thread), or the Ed25519 key from
/// Secrets Manager.
async fn signer(adapters: &Adapters) -> Result<Signing, HandlerError> {
    if let Some(key) = &adapters.env.signing_kms_key {
        return Ok(Signing::Kms(key.clone()));
    }
    let id = adapters.env.signing_key_secret.clone().unwrap_or_default();
    let text = adapters.secrets.get_string(&id).await.map_err(|e| transient(format!("signing key {e}")))?;
    driftwatch_core::evidence::Signer25519::from_text(&text)
        .map(Signing::Secret)
        .map_err(|e| transient(format!("signing key secret {id}: {e}")))
}

/// Seal what is not yet covered (`driftwatch_engine::seal`: up to a minute ago; records being
/// written now wait for the next run). A `driftwatch evidence seal` running at the same time
/// cannot fork the chain: digests are keyed by sequence number and written once, and the
/// sealer that loses re-reads the chain and seals on top (or reports the race lost, and the
/// next run continues). The core's sealing is synchronous: it runs on a blocking thread with its own
/// client and runtime.
pub async fn run(adapters: &Adapters, inv: &Invocation) -> Result<Value, HandlerError> {
    let signer = signer(adapters).await?;
    // A client of its own (same configuration) for the blocking runtime: connections of one
    // runtime are not used from another.
    let client = driftwatch_aws::s3_client(&adapters.sdk, adapters.env.path_style);
    let store = driftwatch_aws::S3EvidenceStore::new(client, adapters.evidence.location().clone(), adapters.env.store_options.clone());
    let now = inv.now;
    let sdk = adapters.sdk.clone();
    let sealed = tokio::task::spawn_blocking(move || {
        let runtime = std::sync::Arc::new(driftwatch_aws::blocking_runtime().map_err(|e| e.to_string())?);
        let mut store = driftwatch_aws::BlockingS3EvidenceStore::new(store, runtime.clone());
        let sealed = match signer {
            Signing::Kms(key) => {
                // The key's public half, checked to be a P-256 signing key.
                let kms = runtime
                    .block_on(driftwatch_aws::KmsSigner::connect(driftwatch_aws::kms_client(&sdk), &key))
                    .map_err(|e| format!("signing key {e}"))?;
                let signer = driftwatch_aws::BlockingKmsSigner::new(kms, runtime);
                driftwatch_engine::seal::seal_settled(&mut store, "", &signer, now)
            }
            Signing::Secret(key) => driftwatch_engine::seal::seal_settled(&mut store, "", &key, now),
        }
        .map_err(|e| e.to_string());
        // Drop the store (and its runtime) here, on the blocking thread: a runtime may not be
        // dropped from async code.
        drop(store);
        sealed
    })
    .await
    .map_err(transient)?
    .map_err(transient)?;
    info!(digest = %sealed.key, records = sealed.records, refused = sealed.refused.len(), "evidence sealed");
    for key in &sealed.refused {
        tracing::warn!(record = %key, "evidence record not sealed: its content's SHA-256 is not its name");
    }
    for key in &sealed.inserted {
        tracing::warn!(record = %key, "evidence record not sealed: a digest already sealed its day (inserted into a sealed window)");
    }
    Ok(json!({
        "digest": sealed.key,
        "sequence": sealed.sequence,
        "records": sealed.records,
        "written": sealed.written,
        "refused": sealed.refused,
        "inserted": sealed.inserted,
    }))
}
