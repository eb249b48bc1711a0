//! Terraform's DynamoDB lock tables, read-only: the S3 backend's lock items
//! (`LockID = "<bucket>/<key>"`, `Info` = the lock's JSON) and digest items
//! (`LockID = "<bucket>/<key>-md5"`, `Digest` = hex MD5 of the state).
//!
//! One adapter for every reader of the lock tables: the state watcher looks one lock and one
//! digest up ([`LockTables::get`]); the sweeper lists every lock held ([`LockTables::held`]).

use crate::iam::Action;
use crate::sdk_error::describe;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// Errors of the lock tables: one line naming the table.
#[derive(Debug, thiserror::Error)]
pub enum LockTableError {
    #[error("lock table {table}: DynamoDB {op}: {message}")]
    Call { table: String, op: &'static str, message: String },
}

/// One item of a lock table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockItem {
    /// The table it was read from.
    pub table: String,
    /// `LockID`.
    pub lock_id: String,
    /// `Info`: the lock's JSON (a lock item; absent on digest items).
    pub info: Option<String>,
    /// `Digest`: hex MD5 of the state (a digest item).
    pub digest: Option<String>,
}

fn item(table: &str, item: &HashMap<String, AttributeValue>) -> Option<LockItem> {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(LockItem { table: table.to_string(), lock_id: s("LockID")?, info: s("Info"), digest: s("Digest") })
}

/// The lock tables the policy names, in order.
#[derive(Debug, Clone)]
pub struct LockTables {
    client: Client,
    tables: Vec<String>,
}

impl LockTables {
    /// [`get`](Self::get).
    pub const GET: &'static [Action] = &[Action::new("dynamodb:GetItem", "get_item")];
    /// [`held`](Self::held).
    pub const LIST: &'static [Action] = &[Action::new("dynamodb:Scan", "scan")];

    pub fn new(client: Client, tables: Vec<String>) -> Self {
        LockTables { client, tables }
    }

    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The item `lock_id` from the first table that has it (consistent reads).
    pub async fn get(&self, lock_id: &str) -> Result<Option<LockItem>, LockTableError> {
        for table in &self.tables {
            let out = self
                .client
                .get_item()
                .table_name(table)
                .key("LockID", AttributeValue::S(lock_id.to_string()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| LockTableError::Call { table: table.clone(), op: "GetItem", message: describe(&e) })?;
            if let Some(found) = out.item.as_ref().and_then(|i| item(table, i)) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every lock item (one with `Info`) of every table: a `Scan`, every page.
    pub async fn held(&self) -> Result<Vec<LockItem>, LockTableError> {
        let mut held = Vec::new();
        for table in &self.tables {
            let mut pages = self.client.scan().table_name(table).into_paginator().items().send();
            while let Some(i) = pages.next().await {
                let i = i.map_err(|e| LockTableError::Call { table: table.clone(), op: "Scan", message: describe(&e) })?;
                if let Some(found) = item(table, &i).filter(|l| l.info.is_some()) {
                    held.push(found);
                }
            }
        }
        Ok(held)
    }
}
