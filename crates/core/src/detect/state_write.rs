//! State-write detector (to be completed).

use super::Context;
use crate::finding::Finding;
use crate::signal::{Principal, StateObjectEvent};
use crate::state::State;

/// A state write with everything the adapter could gather about it.
#[derive(Debug, Clone)]
pub struct StateWrite<'a> {
    pub event: &'a StateObjectEvent,
    /// The version before this write, if any.
    pub previous: Option<&'a State>,
    /// The version written.
    pub current: &'a State,
    /// Hex MD5 of the written object's bytes.
    pub object_md5: Option<String>,
    /// `Digest` of the lock table's `<bucket>/<key>-md5` item after the write, when known.
    pub lock_table_digest: Option<String>,
    /// Was a lock held on this state when it was written? `None` when unknown.
    pub lock_held: Option<bool>,
    /// Who wrote it (from the CloudTrail `PutObject` data event), when known.
    pub writer: Option<Principal>,
}

/// What the apply changed, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiffSummary {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// Findings and the change summary for one state write.
pub fn detect(_w: &StateWrite<'_>, _ctx: &Context<'_>) -> (Vec<Finding>, StateDiffSummary) {
    (Vec::new(), StateDiffSummary::default())
}
