//! The base every DynamoDB table adapter stands on: the client, the table's name, paging and
//! batch settings, and one classification of a failed call (a missing table, access denied,
//! anything else) naming the operation and the table.

use crate::findings_table::{write_all_by, DynamoError};
use crate::sdk_error::describe;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemError, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// Paging and batch-retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// `Limit` of each `Query` page; `None`: DynamoDB's (1 MB pages). Every page is read.
    pub page_size: Option<i32>,
    /// How many `BatchWriteItem` calls one chunk gets (the first included) while items come
    /// back unprocessed.
    pub batch_attempts: u32,
    /// Backoff before the first retry of unprocessed items; doubles each time.
    pub batch_base_delay: Duration,
    /// Upper bound of one backoff.
    pub batch_max_delay: Duration,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            page_size: None,
            batch_attempts: 8,
            batch_base_delay: Duration::from_millis(50),
            batch_max_delay: Duration::from_secs(2),
        }
    }
}

/// A failed call on a table, classified. Each adapter's error type has these three cases
/// (`table_error!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    NoSuchTable { table: String },
    AccessDenied { op: &'static str, table: String, message: String },
    Request { op: &'static str, table: String, message: String },
}

/// A DynamoDB table: client, name and options. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Table {
    pub(crate) client: Client,
    pub(crate) name: String,
    pub(crate) options: TableOptions,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>, options: TableOptions) -> Self {
        Table { client, name: name.into(), options }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn options(&self) -> &TableOptions {
        &self.options
    }

    /// Classify a failed call of `op` on this table.
    pub(crate) fn failed<E>(&self, op: &'static str, e: &SdkError<E>) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let table = self.name.clone();
        match e.code() {
            Some("ResourceNotFoundException") => CallError::NoSuchTable { table },
            Some("AccessDeniedException" | "UnrecognizedClientException") => CallError::AccessDenied { op, table, message: describe(e) },
            _ => CallError::Request { op, table, message: describe(e) },
        }
    }

    /// Every item `query` answers on this table (the configured page size, every page), each
    /// decoded by `decode` (given the table's name).
    pub(crate) async fn query_all<T, E: From<CallError>>(
        &self,
        query: QueryFluentBuilder,
        decode: fn(&str, &HashMap<String, AttributeValue>) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        let mut pages = query.table_name(&self.name).set_limit(self.options.page_size).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("Query", &e))?;
            for item in page.items() {
                out.push(decode(&self.name, item)?);
            }
        }
        Ok(out)
    }

    /// The outcome of a conditional write of `op`: its output, `None` when the condition
    /// failed (`ConditionalCheckFailedException`), any other failure classified.
    pub(crate) fn conditional<T, E>(&self, op: &'static str, out: Result<T, SdkError<E>>) -> Result<Option<T>, CallError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match out {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(e) => Err(self.failed(op, &e)),
        }
    }

    /// Write `requests` to this table in `BatchWriteItem` calls of 25, retrying what comes back
    /// unprocessed with bounded exponential backoff ([`write_all_by`]; `request_key` names the
    /// item of a request). `send` is the call itself, made by the adapter, so that the adapter's
    /// source names the operation its IAM actions declare.
    pub(crate) async fn batch_write<F, Fut>(
        &self,
        requests: Vec<WriteRequest>,
        request_key: fn(&WriteRequest) -> String,
        send: F,
    ) -> Result<usize, DynamoError>
    where
        F: Fn(Vec<WriteRequest>) -> Fut,
        Fut: Future<Output = Result<BatchWriteItemOutput, SdkError<BatchWriteItemError>>>,
    {
        write_all_by(&self.name, requests, &self.options, request_key, |chunk| {
            let call = send(chunk);
            async move {
                match call.await {
                    Ok(o) => Ok(o.unprocessed_items.and_then(|mut m| m.remove(&self.name)).unwrap_or_default()),
                    Err(e) => Err(describe(&e)),
                }
            }
        })
        .await
    }
}

/// The accessors of a table adapter (a struct with `base: Table`): its client and its
/// table's name.
macro_rules! table_accessors {
    () => {
        pub fn client(&self) -> &aws_sdk_dynamodb::Client {
            self.base.client()
        }

        pub fn table(&self) -> &str {
            self.base.name()
        }
    };
}
pub(crate) use table_accessors;

/// A table adapter's error enum: the three cases of a failed call ([`CallError`]), said as
/// every table says them, then the adapter's own cases; and `From<CallError>`. The caller
/// writes the `#[derive(Debug, thiserror::Error)]`: thiserror's `#[error(transparent)]` needs
/// the derive to come from where the variant does (macro hygiene).
macro_rules! table_error {
    ($(#[$attr:meta])* $vis:vis enum $name:ident { $($cases:tt)* }) => {
        $(#[$attr])*
        $vis enum $name {
            #[error("DynamoDB table {table:?} does not exist (or is not in this region/account)")]
            NoSuchTable { table: String },
            #[error("access denied: DynamoDB {op} on table {table:?}: {message}")]
            AccessDenied { op: &'static str, table: String, message: String },
            #[error("DynamoDB {op} on table {table:?}: {message}")]
            Request { op: &'static str, table: String, message: String },
            $($cases)*
        }

        impl From<$crate::table::CallError> for $name {
            fn from(e: $crate::table::CallError) -> Self {
                match e {
                    $crate::table::CallError::NoSuchTable { table } => Self::NoSuchTable { table },
                    $crate::table::CallError::AccessDenied { op, table, message } => Self::AccessDenied { op, table, message },
                    $crate::table::CallError::Request { op, table, message } => Self::Request { op, table, message },
                }
            }
        }
    };
}
pub(crate) use table_error;
