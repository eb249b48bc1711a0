//! Config change detector (to be completed).

use super::{Context, Memory};
use crate::finding::Finding;
use crate::signal::ConfigChange;

/// Findings for one configuration item change.
pub fn detect(_change: &ConfigChange, _ctx: &Context<'_>, _mem: &mut dyn Memory) -> Vec<Finding> {
    Vec::new()
}
