//! The sweeper's exception notices (needs the exceptions table).

use super::{HandlerError, Invocation};
use crate::deps::Deps;
use serde_json::{json, Value};

pub async fn run(deps: &Deps, inv: &Invocation) -> Result<Value, HandlerError> {
    let _ = (deps, inv);
    Ok(json!({"sent": 0}))
}
