//! Live configuration: AWS Config configuration items, whatever shape they came in.
//!
//! Accepted documents (auto-detected):
//! * a Config snapshot / history file delivered to S3: `{"configurationItems": [...]}`
//! * `BatchGetResourceConfig` output: `{"baseConfigurationItems": [...]}` (its
//!   `configuration` and `supplementaryConfiguration` values are JSON *strings*)
//! * `SelectResourceConfig` output: `{"Results": ["<json>", ...]}`
//! * an EventBridge `Config Configuration Item Change` event: `{"detail": {"configurationItem": ...}}`
//! * an SNS-style notification `{"configurationItem": ...}`
//! * a bare item or a JSON array of items.
//!
//! JSON strings holding objects (in `configuration` and `supplementaryConfiguration`) are
//! decoded on load; secret-looking values are digested on load.

use crate::place::Place;
use crate::redact::Redactor;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// One configuration item, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigItem {
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// `OK`, `ResourceDiscovered`, `ResourceDeleted`, `ResourceNotRecorded`, …
    pub status: String,
    pub capture_time: Option<String>,
    /// `configurationStateId`, for ordering.
    pub state_id: Option<u64>,
    /// The whole item as an object with `configuration`, `supplementaryConfiguration` and
    /// `tags` decoded — the root that catalog `live` paths are looked up in.
    pub doc: Value,
}

impl ConfigItem {
    /// Deleted or otherwise not present.
    pub fn is_deleted(&self) -> bool {
        matches!(self.status.as_str(), "ResourceDeleted" | "ResourceDeletedNotRecorded")
    }

    /// The account and region the item is in.
    pub fn place(&self) -> Place<'_> {
        Place::new(self.account_id.as_deref(), self.region.as_deref())
    }

    /// When AWS Config captured the item (`configurationItemCaptureTime`), if it says.
    pub fn captured(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let t = self.capture_time.as_deref()?;
        chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&chrono::Utc))
    }
}

/// A document or item that could not be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LiveError {
    #[error("not valid JSON: {message} at line {line} column {column}")]
    Json { message: String, line: usize, column: usize },
    #[error("not an AWS Config document: expected configurationItems, baseConfigurationItems, Results, a configuration item change event or items")]
    UnknownShape,
    #[error("configuration item #{index}: {message}")]
    Item { index: usize, message: String },
}

/// Parse a document into items. Items that are malformed are returned as errors next to the
/// good ones (partial results); a document that is not JSON or of no known shape is an error.
pub fn parse_document(bytes: &[u8], redactor: &Redactor) -> Result<(Vec<ConfigItem>, Vec<LiveError>), LiveError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        let message = msg.rfind(" at line ").map(|i| msg[..i].to_string()).unwrap_or(msg);
        LiveError::Json { message, line: e.line(), column: e.column() }
    })?;
    let raw_items: Vec<Value> = match doc {
        Value::Array(items) => items,
        Value::Object(mut m) => {
            if let Some(Value::Array(items)) = m.remove("configurationItems") {
                items
            } else if let Some(Value::Array(items)) = m.remove("baseConfigurationItems") {
                items
            } else if let Some(Value::Array(results)) = m.remove("Results") {
                results
                    .into_iter()
                    .map(|r| match r {
                        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
                        other => other,
                    })
                    .collect()
            } else if let Some(item) = m.get_mut("detail").and_then(|d| d.get_mut("configurationItem")).map(Value::take) {
                vec![item]
            } else if let Some(item) = m.remove("configurationItem") {
                vec![item]
            } else if m.contains_key("resourceType") {
                vec![Value::Object(m)]
            } else {
                return Err(LiveError::UnknownShape);
            }
        }
        _ => return Err(LiveError::UnknownShape),
    };
    let mut items = Vec::with_capacity(raw_items.len());
    let mut errors = Vec::new();
    for (index, raw) in raw_items.into_iter().enumerate() {
        match item_from_value(raw, redactor) {
            Ok(it) => items.push(it),
            Err(message) => errors.push(LiveError::Item { index, message }),
        }
    }
    Ok((items, errors))
}

fn decode_json_string(v: &mut Value) {
    if let Value::String(s) = v {
        let t = s.trim_start();
        if t.starts_with('{') || t.starts_with('[') {
            if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                *v = parsed;
            }
        }
    }
}

fn str_field(m: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match m.get(*n) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Normalise one configuration item.
pub fn item_from_value(v: Value, redactor: &Redactor) -> Result<ConfigItem, String> {
    let Value::Object(mut m) = v else { return Err("not a JSON object".into()) };
    let resource_type = str_field(&m, &["resourceType", "ResourceType"]).ok_or("missing resourceType")?;
    let resource_id = str_field(&m, &["resourceId", "ResourceId"]).ok_or("missing resourceId")?;
    if let Some(c) = m.get_mut("configuration") {
        decode_json_string(c);
    }
    if let Some(sup) = m.get_mut("supplementaryConfiguration") {
        decode_json_string(sup);
        if let Value::Object(sup) = sup {
            for (_, val) in sup.iter_mut() {
                decode_json_string(val);
            }
        }
    }
    if let Some(t) = m.get_mut("tags") {
        decode_json_string(t);
    }
    let status = str_field(&m, &["configurationItemStatus", "ConfigurationItemStatus"]).unwrap_or_else(|| "OK".into());
    let state_id = str_field(&m, &["configurationStateId"]).and_then(|s| s.parse().ok());
    let item = ConfigItem {
        resource_type,
        resource_id,
        resource_name: str_field(&m, &["resourceName"]),
        arn: str_field(&m, &["ARN", "arn"]),
        account_id: str_field(&m, &["awsAccountId", "accountId"]),
        region: str_field(&m, &["awsRegion"]),
        status,
        capture_time: str_field(&m, &["configurationItemCaptureTime"]),
        state_id,
        doc: {
            let mut doc = Value::Object(std::mem::take(&mut m));
            redactor.scrub(&mut doc);
            doc
        },
    };
    Ok(item)
}

/// Every live item we know, by identity.
#[derive(Debug, Default, Clone)]
pub struct LiveInventory {
    items: Vec<ConfigItem>,
    /// (type, id) → the items of that identity, one per place (an aggregator's accounts and
    /// regions may reuse an id).
    by_id: HashMap<(String, String), Vec<usize>>,
    by_arn: HashMap<String, usize>,
    types: BTreeSet<String>,
}

impl LiveInventory {
    /// Add an item. A later item for the same resource (type, id, account and region) replaces
    /// an earlier one only if its `configurationStateId` is not older.
    pub fn insert(&mut self, item: ConfigItem) {
        self.types.insert(item.resource_type.clone());
        let key = (item.resource_type.clone(), item.resource_id.clone());
        let same = self.by_id.get(&key).and_then(|is| is.iter().copied().find(|&i| self.items[i].place() == item.place()));
        if let Some(i) = same {
            let newer = match (item.state_id, self.items[i].state_id) {
                (Some(a), Some(b)) => a >= b,
                _ => true,
            };
            if newer {
                if let Some(a) = &item.arn {
                    self.by_arn.insert(a.clone(), i);
                }
                self.items[i] = item;
            }
            return;
        }
        let i = self.items.len();
        if let Some(a) = &item.arn {
            self.by_arn.insert(a.clone(), i);
        }
        self.by_id.entry(key).or_default().push(i);
        self.items.push(item);
    }

    /// The item of an identity (the first inserted, where several places have one).
    pub fn get(&self, resource_type: &str, resource_id: &str) -> Option<&ConfigItem> {
        self.get_at(resource_type, resource_id, Place::ANYWHERE)
    }

    /// The item of an identity in a place (the first inserted that can be there).
    pub fn get_at(&self, resource_type: &str, resource_id: &str, place: Place<'_>) -> Option<&ConfigItem> {
        let is = self.by_id.get(&(resource_type.to_string(), resource_id.to_string()))?;
        is.iter().map(|&i| &self.items[i]).find(|item| item.place().agrees(place))
    }

    pub fn by_arn(&self, arn: &str) -> Option<&ConfigItem> {
        self.by_arn.get(arn).map(|&i| &self.items[i])
    }

    /// Resource types for which the inventory holds at least one item: only for these can
    /// an absent item mean a deleted resource.
    pub fn covers(&self, resource_type: &str) -> bool {
        self.types.contains(resource_type)
    }

    pub fn items(&self) -> &[ConfigItem] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl FromIterator<ConfigItem> for LiveInventory {
    fn from_iter<T: IntoIterator<Item = ConfigItem>>(iter: T) -> Self {
        let mut inv = LiveInventory::default();
        for it in iter {
            inv.insert(it);
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r() -> Redactor {
        Redactor::new(b"t")
    }

    fn one(doc: Value) -> ConfigItem {
        let (items, errs) = parse_document(doc.to_string().as_bytes(), &r()).unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(items.len(), 1);
        items.into_iter().next().unwrap()
    }

    #[test]
    fn all_shapes_decode_to_the_same_item() {
        let item = json!({"resourceType": "AWS::S3::Bucket", "resourceId": "b", "configurationStateId": "17",
                          "configuration": {"name": "b"},
                          "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Enabled"}}});
        let batch = json!({"baseConfigurationItems": [{"resourceType": "AWS::S3::Bucket", "resourceId": "b", "configurationStateId": "17",
                          "configuration": "{\"name\":\"b\"}",
                          "supplementaryConfiguration": {"BucketVersioningConfiguration": "{\"status\":\"Enabled\"}"}}]});
        let select = json!({"Results": [item.to_string()]});
        let event = json!({"source": "aws.config", "detail-type": "Config Configuration Item Change", "detail": {"configurationItem": item.clone()}});
        let snapshot = json!({"fileVersion": "1.0", "configurationItems": [item.clone()]});
        let want = one(item.clone());
        assert_eq!(want.doc["supplementaryConfiguration"]["BucketVersioningConfiguration"]["status"], "Enabled");
        assert_eq!(want.state_id, Some(17));
        for d in [batch, select, event, snapshot, json!([item])] {
            assert_eq!(one(d), want);
        }
    }

    #[test]
    fn bad_items_are_reported_and_the_rest_kept() {
        let doc = json!({"configurationItems": [{"resourceType": "AWS::S3::Bucket", "resourceId": "a"}, {"resourceId": "x"}, 3]});
        let (items, errs) = parse_document(doc.to_string().as_bytes(), &r()).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(errs.len(), 2);
        assert!(matches!(&errs[0], LiveError::Item { index: 1, .. }));
        assert_eq!(parse_document(b"{\"foo\":1}", &r()).unwrap_err(), LiveError::UnknownShape);
        assert!(matches!(parse_document(b"{", &r()).unwrap_err(), LiveError::Json { .. }));
    }

    #[test]
    fn older_state_ids_do_not_replace_newer() {
        let mk = |sid: u64, v: &str| {
            item_from_value(
                json!({"resourceType": "T", "resourceId": "i", "configurationStateId": sid.to_string(), "configuration": {"v": v}}),
                &r(),
            )
            .unwrap()
        };
        let inv: LiveInventory = [mk(2, "new"), mk(1, "old")].into_iter().collect();
        assert_eq!(inv.get("T", "i").unwrap().doc["configuration"]["v"], "new");
    }
}
