//! What every layer of a function shares: the invocation's clock and limits, and the one
//! error a handler returns (a failure the platform retries). Its own module, below the
//! handlers, the pipeline, the index slice and the exceptions, so none of them imports another
//! for it.

use chrono::{DateTime, Utc};

/// The invocation's clock and limits.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub now: DateTime<Utc>,
    /// When the platform stops the invocation (the sweeper stops starting work before it).
    pub deadline: Option<DateTime<Utc>>,
    pub request_id: String,
}

impl Invocation {
    /// An invocation at `now` without a deadline (tests, local runs).
    pub fn at(now: DateTime<Utc>) -> Self {
        Invocation { now, deadline: None, request_id: String::new() }
    }
}

/// A failure the platform should retry (transient AWS error). Invalid input is never one.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Transient(String),
}

/// A transient failure (retried by the platform) described by `what`.
pub(crate) fn transient(what: impl std::fmt::Display) -> HandlerError {
    HandlerError::Transient(what.to_string())
}
