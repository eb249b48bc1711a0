//! The sweeper's evidence digests: every record not yet covered is sealed into a signed,
//! chained digest (the key is the Secrets Manager secret
//! [`SIGNING_KEY_SECRET`](crate::env::SIGNING_KEY_SECRET)).

use super::super::{transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use serde_json::{json, Value};
use tracing::info;

/// The signing key, from Secrets Manager.
async fn signer(adapters: &Adapters) -> Result<driftwatch_core::evidence::Signer25519, HandlerError> {
    let id = adapters.env.signing_key_secret.clone().unwrap_or_default();
    let text = adapters.secrets.get_string(&id).await.map_err(|e| transient(format!("signing key {e}")))?;
    driftwatch_core::evidence::Signer25519::from_text(&text).map_err(|e| transient(format!("signing key secret {id}: {e}")))
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
    let sealed = tokio::task::spawn_blocking(move || {
        let runtime = driftwatch_aws::blocking_runtime().map_err(|e| e.to_string())?;
        let mut store = driftwatch_aws::BlockingS3EvidenceStore::new(store, std::sync::Arc::new(runtime));
        let sealed = driftwatch_engine::seal::seal_settled(&mut store, "", &signer, now).map_err(|e| e.to_string());
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
