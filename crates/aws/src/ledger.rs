//! The detectors' ledger: small JSON items kept in the findings table beside the findings.
//!
//! Items are keyed `fingerprint = "ledger#<kind>#<key>"` and hold one JSON `value`; they have no
//! `status` attribute, so the open-findings index never sees them. What each kind holds is the
//! engine's business (`driftwatch_engine::memory`); this adapter only stores, lists and deletes.

use crate::iam::Action;
use crate::sdk_error::describe;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde_json::Value;

/// Errors of the ledger: one line naming the item.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger item {key} in table {table}: {message}")]
    Call { table: String, key: String, message: String },
}

/// The ledger in the findings table.
#[derive(Debug, Clone)]
pub struct LedgerTable {
    client: Client,
    table: String,
}

fn item_key(kind: &str, key: &str) -> String {
    format!("ledger#{kind}#{key}")
}

impl LedgerTable {
    /// [`get`](Self::get).
    pub const READ: &'static [Action] = &[Action::new("dynamodb:GetItem", "get_item")];
    /// [`put`](Self::put), [`delete`](Self::delete).
    pub const WRITE: &'static [Action] = &[Action::new("dynamodb:PutItem", "put_item"), Action::new("dynamodb:DeleteItem", "delete_item")];
    /// [`list`](Self::list).
    pub const LIST: &'static [Action] = &[Action::new("dynamodb:Scan", "scan")];
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        LedgerTable { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn err(&self, key: &str, message: impl std::fmt::Display) -> LedgerError {
        LedgerError::Call { table: self.table.clone(), key: key.to_string(), message: message.to_string() }
    }

    /// The value of an item (consistent read).
    pub async fn get(&self, kind: &str, key: &str) -> Result<Option<Value>, LedgerError> {
        let k = item_key(kind, key);
        match self.get_text(kind, key).await? {
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| self.err(&k, format!("value is not JSON: {e}"))),
            None => Ok(None),
        }
    }

    /// The value of an item as stored (its JSON text; consistent read), for
    /// [`advance_from`](Self::advance_from).
    pub async fn get_text(&self, kind: &str, key: &str) -> Result<Option<String>, LedgerError> {
        let k = item_key(kind, key);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("fingerprint", AttributeValue::S(k.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err(&k, describe(&e)))?;
        let Some(mut item) = out.item else { return Ok(None) };
        match item.remove("value") {
            Some(AttributeValue::S(s)) => Ok(Some(s)),
            _ => Err(self.err(&k, "item has no string value")),
        }
    }

    /// Write an item (last writer wins).
    pub async fn put(&self, kind: &str, key: &str, value: &Value) -> Result<(), LedgerError> {
        let k = item_key(kind, key);
        self.put_item(&k, value.to_string()).send().await.map_err(|e| self.err(&k, describe(&e)))?;
        Ok(())
    }

    /// Every item of a kind: `(key, value)`, sorted by key (a `Scan` filtered on the key
    /// prefix, every page).
    pub async fn list(&self, kind: &str) -> Result<Vec<(String, Value)>, LedgerError> {
        let prefix = item_key(kind, "");
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(fingerprint, :p)")
            .expression_attribute_values(":p", AttributeValue::S(prefix.clone()))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.err(&prefix, describe(&e)))?;
            let (Some(AttributeValue::S(k)), Some(AttributeValue::S(v))) = (item.get("fingerprint"), item.get("value")) else { continue };
            if let (Some(key), Ok(value)) = (k.strip_prefix(&prefix), serde_json::from_str(v)) {
                out.push((key.to_string(), value));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Claim the window `[at, at + window)` of `key` for `owner`: a `PutItem` that records
    /// `at` (epoch milliseconds, attribute `claimed_ms`) and the owner, on condition that no
    /// other owner's claim stands from less than `window` before `at`. `Ok(false)`: one does
    /// (nothing written). The item's `value` is `[at_ms, owner]`.
    pub async fn claim(&self, kind: &str, key: &str, owner: &str, at_ms: i64, window_ms: i64) -> Result<bool, LedgerError> {
        let k = item_key(kind, key);
        let out = self
            .put_item(&k, serde_json::json!([at_ms, owner]).to_string())
            .item("claimed_ms", AttributeValue::N(at_ms.to_string()))
            .item("owner", AttributeValue::S(owner.to_string()))
            .condition_expression("attribute_not_exists(fingerprint) OR claimed_ms <= :since OR #o = :owner")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":since", AttributeValue::N((at_ms - window_ms).to_string()))
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()));
        self.put_if(&k, out).await
    }

    /// Write an item as of `order`: a `PutItem` of `value` and `order` (attribute `order_n`) on
    /// condition that the item holds no order or one no higher (the same order again: a retry).
    /// `Ok(false)`: it holds a higher one (nothing written).
    pub async fn advance(&self, kind: &str, key: &str, order: u64, value: &Value) -> Result<bool, LedgerError> {
        let k = item_key(kind, key);
        let out = self
            .put_item(&k, value.to_string())
            .item("order_n", AttributeValue::N(order.to_string()))
            .condition_expression("attribute_not_exists(order_n) OR order_n <= :n")
            .expression_attribute_values(":n", AttributeValue::N(order.to_string()));
        self.put_if(&k, out).await
    }

    /// [`advance`](Self::advance), on the further condition that the item still holds
    /// `from` (its text as [`get_text`](Self::get_text) read it): what a writer that decided
    /// from the item's value uses, so that the decision and the write are one step. `Ok(false)`:
    /// the item changed (or holds a higher order) meanwhile; nothing written.
    pub async fn advance_from(&self, kind: &str, key: &str, order: u64, value: &Value, from: &str) -> Result<bool, LedgerError> {
        let k = item_key(kind, key);
        let out = self
            .put_item(&k, value.to_string())
            .item("order_n", AttributeValue::N(order.to_string()))
            .condition_expression("(attribute_not_exists(order_n) OR order_n <= :n) AND #v = :from")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":n", AttributeValue::N(order.to_string()))
            .expression_attribute_values(":from", AttributeValue::S(from.to_string()));
        self.put_if(&k, out).await
    }

    /// A `PutItem` of item `k` holding `value` (JSON text), to be sent.
    fn put_item(&self, k: &str, value: String) -> PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("fingerprint", AttributeValue::S(k.to_string()))
            .item("value", AttributeValue::S(value))
    }

    /// Send a conditional `PutItem` of item `k`: `Ok(false)` when its condition failed.
    async fn put_if(&self, k: &str, put: PutItemFluentBuilder) -> Result<bool, LedgerError> {
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(self.err(k, describe(&e))),
        }
    }

    /// Delete an item (absent is fine).
    pub async fn delete(&self, kind: &str, key: &str) -> Result<(), LedgerError> {
        let k = item_key(kind, key);
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("fingerprint", AttributeValue::S(k.clone()))
            .send()
            .await
            .map_err(|e| self.err(&k, describe(&e)))?;
        Ok(())
    }
}
