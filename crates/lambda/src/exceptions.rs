//! Exceptions, from the exceptions table.

use crate::deps::Deps;
use crate::invocation::HandlerError;
use driftwatch_core::exceptions::Exceptions;

/// The exceptions in force (valid or not: invalid ones surface as `exception.invalid`). A
/// table that cannot be read fails the invocation (retried): recording findings without the
/// exceptions would alert on excepted resources.
pub async fn load(deps: &Deps) -> Result<Exceptions, HandlerError> {
    deps.exceptions.load(deps.env.policy.exceptions.max_days).await.map_err(|e| HandlerError::Transient(format!("exceptions table: {e}")))
}
