//! One handler per function, dispatched by [`Deps::env`]'s function.

use crate::deps::Deps;
use crate::env::Function;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The invocation's clock and limits.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub now: DateTime<Utc>,
    /// When the platform stops the invocation (the sweeper stops starting work before it).
    pub deadline: Option<DateTime<Utc>>,
    pub request_id: String,
}

/// A failure the platform should retry (transient AWS error). Invalid input is never one.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Transient(String),
}

/// Handle one invocation of the configured function.
pub async fn handle(deps: &Deps, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let _ = (payload, inv);
    match deps.env.function {
        Function::StateWatcher
        | Function::TrailWatcher
        | Function::ConfigWatcher
        | Function::LockWatcher
        | Function::Sweeper
        | Function::Reporter => Err(HandlerError::Transient(format!("{}: handler not built yet", deps.env.function))),
    }
}
