//! The base every DynamoDB table adapter stands on: the client, the table's name, paging and
//! batch settings, and one classification of a failed call (a missing table, access denied,
//! anything else) naming the operation and the table.

use crate::sdk_error::describe;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::Client;
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

/// A failed call on a table, classified. Each adapter's error type has these three cases.
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
}

/// `From<CallError>` for an adapter error with the three cases of the same names.
macro_rules! from_call_error {
    ($t:ty) => {
        impl From<$crate::table::CallError> for $t {
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
pub(crate) use from_call_error;
