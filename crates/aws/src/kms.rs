//! Signing evidence digests inside AWS KMS: an asymmetric `ECC_NIST_P256` key with usage
//! `SIGN_VERIFY`, whose private half never leaves KMS. Only the sealer's role may call `Sign`
//! (the key policy, `infra/kms.tf`); anyone may verify offline with the public key
//! (`driftwatch verify --public-key`), so an admin who can read every secret still cannot
//! re-sign a chain.
//!
//! The digest's signed bytes can exceed KMS's 4 KB message limit, so what is signed is their
//! hex SHA-256 (`driftwatch_core::evidence::p256_signed_message`), as a `RAW` message with
//! `ECDSA_SHA_256` — which the core verifies offline.

use crate::iam::Action;
use crate::sdk_error::describe;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use driftwatch_core::evidence::{DigestSigner, EvidenceError, PublicKey};
use std::sync::Arc;

/// Errors of KMS signing: one line naming the key.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("KMS key {key}: {message}")]
    Call { key: String, message: String },
    #[error("KMS key {key}: {message}")]
    Unusable { key: String, message: String },
}

/// The KMS client.
pub fn kms_client(sdk: &crate::SdkConfig) -> Client {
    Client::new(sdk)
}

/// A digest signer whose key lives in KMS.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: Client,
    key_id: String,
    public: PublicKey,
}

impl KmsSigner {
    /// [`connect`](Self::connect) and [`sign`](Self::sign).
    pub const ACTIONS: &'static [Action] = &[Action::new("kms:GetPublicKey", "get_public_key"), Action::new("kms:Sign", "sign")];

    /// Read the key's public half (`GetPublicKey`), checking it is a P-256 signing key.
    pub async fn connect(client: Client, key_id: &str) -> Result<KmsSigner, KmsError> {
        let out = client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| KmsError::Call { key: key_id.to_string(), message: describe(&e) })?;
        let unusable = |message: String| KmsError::Unusable { key: key_id.to_string(), message };
        // (Some emulators leave these out; the public key must be P-256 in any case.)
        if let Some(spec) = out.key_spec().filter(|s| **s != KeySpec::EccNistP256) {
            return Err(unusable(format!("key spec {spec}: an ECC_NIST_P256 key is needed")));
        }
        if let Some(usage) = out.key_usage().filter(|u| **u != KeyUsageType::SignVerify) {
            return Err(unusable(format!("key usage {usage}: SIGN_VERIFY is needed")));
        }
        let der = out.public_key().ok_or_else(|| unusable("no public key returned".into()))?;
        let public = PublicKey::from_der(der.as_ref()).map_err(|e| unusable(e.to_string()))?;
        Ok(KmsSigner { client, key_id: key_id.to_string(), public })
    }

    /// The key's public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The ECDSA P-256 signature (DER, hex) of a digest's signed bytes `message`: over its hex
    /// SHA-256 (`p256_signed_message`), a `RAW` message.
    pub async fn sign(&self, message: &[u8]) -> Result<String, KmsError> {
        let signed = driftwatch_core::evidence::p256_signed_message(message);
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(signed.into_bytes()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| KmsError::Call { key: self.key_id.clone(), message: describe(&e) })?;
        let sig =
            out.signature().ok_or_else(|| KmsError::Unusable { key: self.key_id.clone(), message: "no signature returned".into() })?;
        Ok(driftwatch_core::redact::hex(sig.as_ref()))
    }
}

/// [`KmsSigner`] as the core's synchronous [`DigestSigner`], on a runtime of its own (the
/// sealing runs on a blocking thread, like [`crate::BlockingS3EvidenceStore`]).
pub struct BlockingKmsSigner {
    inner: KmsSigner,
    rt: Arc<tokio::runtime::Runtime>,
}

impl BlockingKmsSigner {
    pub fn new(inner: KmsSigner, rt: Arc<tokio::runtime::Runtime>) -> Self {
        BlockingKmsSigner { inner, rt }
    }
}

impl DigestSigner for BlockingKmsSigner {
    fn public(&self) -> PublicKey {
        self.inner.public.clone()
    }
    fn sign(&self, message: &[u8]) -> Result<String, EvidenceError> {
        self.rt.block_on(self.inner.sign(message)).map_err(|e| EvidenceError::Store(e.to_string()))
    }
}
