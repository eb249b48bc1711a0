//! Backfill (`driftwatch backfill`): a trail bucket's log files listed, and their S3
//! notifications sent to the trail watcher's backfill queue, whose event source mapping
//! hands them to the trail watcher as if S3 had just delivered them.

use crate::iam::Action;
use crate::sdk_error::describe;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use chrono::{DateTime, Utc};

/// A failed call: one line naming the operation and what it was on.
#[derive(Debug, thiserror::Error)]
#[error("{op} on {on}: {message}")]
pub struct BackfillError {
    pub op: &'static str,
    pub on: String,
    pub message: String,
}

/// One object listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: i64,
    pub modified: DateTime<Utc>,
}

/// The trail bucket (read: listed) and the backfill queue (written).
#[derive(Debug, Clone)]
pub struct TrailBackfill {
    s3: aws_sdk_s3::Client,
    client: aws_sdk_sqs::Client,
}

/// Most messages one `SendMessageBatch` takes.
pub const BATCH: usize = 10;

impl TrailBackfill {
    /// [`folders`](Self::folders) and [`objects`](Self::objects).
    pub const LIST: &'static [Action] = &[Action::new("s3:ListBucket", "list_objects_v2")];
    /// [`depth`](Self::depth): the queue exists and may be used, before anything is listed.
    pub const CHECK: &'static [Action] = &[Action::new("sqs:GetQueueAttributes", "get_queue_attributes")];
    /// [`send`](Self::send) (`SendMessageBatch` needs `sqs:SendMessage`; with the queue's KMS
    /// key, `kms:GenerateDataKey` on it too).
    pub const ENQUEUE: &'static [Action] = &[Action::new("sqs:SendMessage", "send_message_batch")];

    pub fn new(s3: aws_sdk_s3::Client, sqs: aws_sdk_sqs::Client) -> Self {
        TrailBackfill { s3, client: sqs }
    }

    /// The "folders" directly under `prefix` (keys up to the next `/`).
    pub async fn folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, BackfillError> {
        let mut out = Vec::new();
        let mut pages = self.s3.list_objects_v2().bucket(bucket).prefix(prefix).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| BackfillError { op: "ListObjectsV2", on: format!("s3://{bucket}/{prefix}"), message: describe(&e) })?;
            out.extend(page.common_prefixes().iter().filter_map(|p| p.prefix()).map(str::to_string));
        }
        Ok(out)
    }

    /// Every object under `prefix`.
    pub async fn objects(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, BackfillError> {
        let mut out = Vec::new();
        let mut pages = self.s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| BackfillError { op: "ListObjectsV2", on: format!("s3://{bucket}/{prefix}"), message: describe(&e) })?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                let modified = o
                    .last_modified()
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
                    .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
                out.push(Listed { key: key.to_string(), size: o.size().unwrap_or_default(), modified });
            }
        }
        Ok(out)
    }

    /// Messages waiting in the queue (approximate): proves the queue is there and usable.
    pub async fn depth(&self, queue_url: &str) -> Result<u64, BackfillError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| BackfillError { op: "GetQueueAttributes", on: queue_url.to_string(), message: describe(&e) })?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse().ok())
            .unwrap_or_default())
    }

    /// Send up to [`BATCH`] message bodies in one call. Returns the indexes (into `bodies`)
    /// the queue did not take, with its reason: the caller retries them.
    pub async fn send(&self, queue_url: &str, bodies: &[String]) -> Result<Vec<(usize, String)>, BackfillError> {
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(b).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackfillError { op: "SendMessageBatch", on: queue_url.to_string(), message: e.to_string() })?;
        let out =
            self.client.send_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await.map_err(|e| BackfillError {
                op: "SendMessageBatch",
                on: queue_url.to_string(),
                message: describe(&e),
            })?;
        Ok(out
            .failed()
            .iter()
            .filter_map(|f| Some((f.id().parse::<usize>().ok()?, format!("{}: {}", f.code(), f.message().unwrap_or_default()))))
            .collect())
    }
}

/// An SQS client on the shared configuration.
pub fn sqs_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}
