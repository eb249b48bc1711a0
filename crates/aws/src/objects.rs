//! Plain S3 objects the functions read or write whole: CloudTrail log files delivered to S3
//! ([`ObjectReader`], the trail watcher) and the report files ([`ObjectWriter`], the reporter).

use crate::iam::Action;
use crate::sdk_error::{describe, is_permanent, one_line};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

/// Errors of reading or writing an object: one line naming it.
#[derive(Debug, thiserror::Error)]
#[error("S3 {op} on s3://{bucket}/{key}: {message}")]
pub struct ObjectError {
    pub op: &'static str,
    pub bucket: String,
    pub key: String,
    pub message: String,
    /// Retrying cannot help: the object or bucket is not there, or this role may not read it.
    pub permanent: bool,
}

/// Reads whole objects.
#[derive(Debug, Clone)]
pub struct ObjectReader {
    client: Client,
}

impl ObjectReader {
    /// [`get`](Self::get).
    pub const ACTIONS: &'static [Action] = &[Action::new("s3:GetObject", "get_object")];

    pub fn new(client: Client) -> Self {
        ObjectReader { client }
    }

    /// The current version's bytes.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        let err = |message: String, permanent| ObjectError {
            op: "GetObject",
            bucket: bucket.to_string(),
            key: key.to_string(),
            message,
            permanent,
        };
        let out = self.client.get_object().bucket(bucket).key(key).send().await.map_err(|e| err(describe(&e), is_permanent(&e)))?;
        let body = out.body.collect().await.map_err(|e| err(format!("reading the body: {}", one_line(&e)), false))?;
        Ok(body.into_bytes().to_vec())
    }
}

/// Writes whole objects (last writer wins).
#[derive(Debug, Clone)]
pub struct ObjectWriter {
    client: Client,
}

impl ObjectWriter {
    /// [`put`](Self::put).
    pub const ACTIONS: &'static [Action] = &[Action::new("s3:PutObject", "put_object")];

    pub fn new(client: Client) -> Self {
        ObjectWriter { client }
    }

    /// Write `bytes` with a content type.
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ObjectError> {
        self.client.put_object().bucket(bucket).key(key).content_type(content_type).body(ByteStream::from(bytes)).send().await.map_err(
            |e| ObjectError {
                op: "PutObject",
                bucket: bucket.to_string(),
                key: key.to_string(),
                message: describe(&e),
                permanent: is_permanent(&e),
            },
        )?;
        Ok(())
    }
}
