//! Exceptions, from the exceptions table.

use crate::deps::Deps;
use crate::handlers::HandlerError;
use driftwatch_core::exceptions::Exceptions;

/// The exceptions in force (valid or not: invalid ones surface as `exception.invalid`).
pub async fn load(deps: &Deps) -> Result<Exceptions, HandlerError> {
    // Replaced by the exceptions table adapter.
    Exceptions::parse("", deps.env.policy.exceptions.max_days).map_err(|e| HandlerError::Transient(e.to_string()))
}
