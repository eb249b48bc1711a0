//! The adapters a function uses, built once per process.

use crate::env::Env;
use driftwatch_core::{Catalog, Redactor};

/// Errors of building the clients at cold start.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error("{0}")]
    Setup(String),
}

/// Everything a handler needs. Built once per process; shared by every invocation.
pub struct Deps {
    pub env: Env,
    pub catalog: Catalog,
    pub redactor: Redactor,
}

impl Deps {
    /// Build the clients from the standard AWS configuration (credentials chain, region,
    /// `AWS_ENDPOINT_URL`).
    pub async fn connect(env: Env) -> Result<Deps, DepsError> {
        let redactor = Redactor::new(env.redaction_salt.as_bytes());
        Ok(Deps { env, catalog: Catalog::builtin(), redactor })
    }
}
