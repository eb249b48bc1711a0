//! The salt of the digests that replace secrets (`DRIFTWATCH_DIGEST_SALT`).
//!
//! Without it the CLI uses a built-in salt, which is public: anyone can compute the digest of a
//! guessed value and compare. That is fine for output a person reads on their own machine, not
//! for evidence kept for years (Object Lock: it can never be deleted). So a command that writes
//! evidence refuses the built-in salt unless `--allow-default-salt` says so explicitly.

use anyhow::{bail, Result};
use clap::Args;

/// The environment variable that holds the salt.
pub const SALT_ENV: &str = "DRIFTWATCH_DIGEST_SALT";

/// The built-in salt, used when [`SALT_ENV`] is unset (public: see the module documentation).
pub const DEFAULT_SALT: &str = "driftwatch/v1/default-salt";

/// `--allow-default-salt`.
#[derive(Debug, Clone, Copy, Args)]
pub struct SaltArgs {
    /// Write evidence even though DRIFTWATCH_DIGEST_SALT is unset: the digests of secrets in
    /// it then use the public built-in salt, so a guessed secret can be confirmed against them.
    /// Without this flag, --evidence with the built-in salt is refused.
    #[arg(long)]
    pub allow_default_salt: bool,
}

/// The salt to digest secrets with: [`SALT_ENV`], else the built-in one — refused when the
/// run writes evidence, unless allowed.
pub fn digest_salt(writes_evidence: bool, args: SaltArgs) -> Result<String> {
    match std::env::var(SALT_ENV) {
        Ok(s) if !s.is_empty() => Ok(s),
        _ if writes_evidence && !args.allow_default_salt => bail!(
            "refusing to write evidence with the public built-in digest salt: set {SALT_ENV} to a secret salt (the same one \
             the deployment's functions use, from Secrets Manager), or pass --allow-default-salt to accept digests anyone can check \
             guesses against"
        ),
        _ => Ok(DEFAULT_SALT.to_string()),
    }
}
