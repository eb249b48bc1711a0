//! Secrets Manager, read-only: the evidence signing key.

use crate::iam::Action;
use crate::sdk_error::describe;
use aws_sdk_secretsmanager::Client;

/// Errors of reading a secret: one line naming it (never its value).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {id}: {message}")]
    Call { id: String, message: String },
    #[error("secret {id}: it holds no string value")]
    NotAString { id: String },
}

/// Reads secret strings.
#[derive(Debug, Clone)]
pub struct SecretReader {
    client: Client,
}

impl SecretReader {
    /// [`get_string`](Self::get_string).
    pub const ACTIONS: &'static [Action] = &[Action::new("secretsmanager:GetSecretValue", "get_secret_value")];

    pub fn new(client: Client) -> Self {
        SecretReader { client }
    }

    /// The secret's current string value.
    pub async fn get_string(&self, id: &str) -> Result<String, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| SecretError::Call { id: id.to_string(), message: describe(&e) })?;
        out.secret_string().map(str::to_string).ok_or_else(|| SecretError::NotAString { id: id.to_string() })
    }
}
