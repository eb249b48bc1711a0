//! `reporter`: the scheduled continuous-compliance report.

use super::{HandlerError, Invocation};
use crate::deps::Deps;
use serde_json::{json, Value};

pub async fn handle(deps: &Deps, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let _ = (deps, payload, inv);
    Ok(json!({}))
}
