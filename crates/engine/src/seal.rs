//! `seal`: every evidence record not covered by an earlier digest, sealed into a new digest —
//! signed and chained to the last one (the core's `evidence::seal`). The store is the core's
//! synchronous `EvidenceStore` port; the caller runs this where blocking is allowed.

use chrono::{DateTime, Duration, Utc};
use driftwatch_core::evidence::{self, DigestSigner, EvidenceError, EvidenceStore, Sealed};

/// How far behind `now` a scheduled seal ends: records being written right now wait for the
/// next run, so a digest never races a write it would miss.
pub const SETTLE: Duration = Duration::minutes(1);

/// Seal what is not yet covered, up to [`SETTLE`] before `now` (the sweeper's scheduled seal).
pub fn seal_settled(
    store: &mut dyn EvidenceStore,
    prefix: &str,
    signer: &dyn DigestSigner,
    now: DateTime<Utc>,
) -> Result<Sealed, EvidenceError> {
    evidence::seal(store, prefix, signer, now - SETTLE)
}
