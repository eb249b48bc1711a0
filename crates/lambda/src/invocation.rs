//! What every layer of a function shares: the invocation's clock and limits, and the one
//! error a handler returns (a failure the platform retries; the engine's `Retry` becomes one).

use chrono::{DateTime, Utc};

/// The invocation's clock and limits.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub now: DateTime<Utc>,
    /// When the platform stops the invocation (the sweeper stops starting work before it).
    pub deadline: Option<DateTime<Utc>>,
    pub request_id: String,
    /// The function's own account (from its ARN, or the scheduled event), when known.
    pub account: Option<String>,
}

impl Invocation {
    /// An invocation at `now` without a deadline (tests, local runs).
    pub fn at(now: DateTime<Utc>) -> Self {
        Invocation { now, deadline: None, request_id: String::new(), account: None }
    }
}

/// A failure the platform should retry (transient AWS error). Invalid input is never one.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Transient(String),
}

impl From<driftwatch_engine::Retry> for HandlerError {
    fn from(e: driftwatch_engine::Retry) -> Self {
        HandlerError::Transient(e.0)
    }
}

impl From<driftwatch_core::ports::PortError> for HandlerError {
    fn from(e: driftwatch_core::ports::PortError) -> Self {
        HandlerError::Transient(e.to_string())
    }
}

/// A transient failure (retried by the platform) described by `what`.
pub(crate) fn transient(what: impl std::fmt::Display) -> HandlerError {
    HandlerError::Transient(what.to_string())
}
