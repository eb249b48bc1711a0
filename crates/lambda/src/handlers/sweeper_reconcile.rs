//! The sweeper's chunked reconcile (needs the AWS Config reader).

use super::{HandlerError, Invocation};
use crate::deps::Deps;
use serde_json::{json, Value};

pub async fn run(deps: &Deps, inv: &Invocation) -> Result<Value, HandlerError> {
    let _ = (deps, inv);
    Ok(json!({"states": 0}))
}
