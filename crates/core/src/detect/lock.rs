//! Lock detector (to be completed).

use super::{Context, Memory};
use crate::finding::Finding;
use crate::signal::{LockFileEvent, LockRecord};
use chrono::{DateTime, Utc};

/// Findings for one lock table stream record.
pub fn on_record(_rec: &LockRecord, _ctx: &Context<'_>, _mem: &mut dyn Memory) -> Vec<Finding> {
    Vec::new()
}

/// Findings for one `.tflock` object event.
pub fn on_file(_ev: &LockFileEvent, _ctx: &Context<'_>, _mem: &mut dyn Memory) -> Vec<Finding> {
    Vec::new()
}

/// Stale locks as of `now`.
pub fn sweep(_now: DateTime<Utc>, _ctx: &Context<'_>, _mem: &mut dyn Memory) -> Vec<Finding> {
    Vec::new()
}
