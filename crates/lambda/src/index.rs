//! The slice of the managed-resource index a signal needs, read from the index table.

use crate::invocation::HandlerError;
use driftwatch_aws::IndexTable;
use driftwatch_core::detect::Needs;
use driftwatch_core::index::{IndexEntry, ManagedIndex};
use std::collections::BTreeSet;

/// Look up every identity and ARN `needs` names (one `Query` each) and build an in-memory
/// index of what was found, for the detectors.
pub async fn load(table: &IndexTable, needs: &Needs) -> Result<ManagedIndex, HandlerError> {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut entries: Vec<IndexEntry> = Vec::new();
    let err = |e: driftwatch_aws::IndexTableError| HandlerError::Transient(format!("index table: {e}"));
    for (t, id) in &needs.identities {
        if seen.insert((t.clone(), id.clone())) {
            entries.extend(table.lookup(t, id).await.map_err(err)?);
        }
    }
    for arn in &needs.arns {
        for e in table.lookup_arn(arn).await.map_err(err)? {
            if seen.insert((e.config_type.clone(), e.resource_id.clone())) {
                entries.extend(table.lookup(&e.config_type, &e.resource_id).await.map_err(err)?);
            }
        }
    }
    Ok(ManagedIndex::from_entries(entries))
}
