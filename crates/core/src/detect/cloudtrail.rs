//! CloudTrail detector (to be completed): API calls on managed resources.

use super::{Context, Memory};
use crate::finding::Finding;
use crate::signal::ApiCall;

/// Findings for one CloudTrail API call.
pub fn detect(_call: &ApiCall, _ctx: &Context<'_>, _mem: &mut dyn Memory) -> Vec<Finding> {
    Vec::new()
}
