//! Exceptions as code in DynamoDB: one item per exception, and the ledger of the expiry
//! notices sent to their owners.
//!
//! Item layout (partition key `id`, a string). The attributes are the fields of an
//! `[[exception]]` table of the TOML exceptions file (see `driftwatch_core::exceptions`),
//! under the same names and with the same meaning:
//!
//! | attribute              | type      | content                                              |
//! |------------------------|-----------|------------------------------------------------------|
//! | `id`                   | S         | the exception id (`EXC-2026-014`)                    |
//! | `rules`                | L of S (or SS) | rule ids                                        |
//! | `arn`, `address`, `state_key`, `account` | S | selector globs                            |
//! | `reason`, `ticket`, `approved_by`, `requested_by`, `compensating_control` | S | as in the file |
//! | `owner`                | M         | `email` (S), `sns_topic` (S)                         |
//! | `created`, `expires`   | S         | RFC 3339 time or a date (`2026-11-22`)               |
//! | `line`                 | N         | line of the `[[exception]]` header in the imported file: the order (the first matching exception suppresses) and the lines problems are reported at |
//! | `notices_sent`         | SS        | the notice ledger: `<expires RFC 3339>#<threshold>` (`2026-12-18T00:00:00Z#7d`) |
//!
//! * [`load`](ExceptionsTable::load) — `Scan`, every page. Each item is rendered as an
//!   `[[exception]]` block (at its `line` when it has one) and the document is parsed by the
//!   core's `Exceptions::parse`, so validation, problems and `exception.invalid` findings are
//!   exactly those of the same exceptions in a file. An item that could not be a TOML
//!   exception at all (an unknown attribute, a number where a string belongs…) does not hide
//!   the others: it becomes an invalid exception whose problem names the item.
//! * [`put_from_toml`](ExceptionsTable::put_from_toml) — import a TOML exceptions file: one
//!   `UpdateItem` per exception, setting its fields and removing the ones it no longer has,
//!   so the notice ledger of a re-imported exception is kept. Importing never deletes.
//! * [`sent_notices`](ExceptionsTable::sent_notices) / [`record_notices`](ExceptionsTable::record_notices)
//!   — the ledger. Recording is a conditional `UpdateItem` (`ADD notices_sent` unless it
//!   already holds the notice), so the same notice is recorded once however many runs
//!   (concurrent, replayed) try: the sweeper records first and sends only what was newly
//!   recorded.

use crate::iam::Action;
use crate::table::{table_accessors, table_error, Table, TableOptions};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use driftwatch_core::exceptions::{Exception, ExceptionError, Exceptions, Notice, NoticeLedger, Owner, Problem, Selector, Threshold};
use std::collections::{BTreeSet, HashMap};

type Item = HashMap<String, AttributeValue>;

/// The attribute holding the notice ledger.
pub const NOTICES_ATTR: &str = "notices_sent";
/// The attribute holding the header line in the imported file.
pub const LINE_ATTR: &str = "line";

/// The fields of an `[[exception]]` table, in the order they are rendered.
const FIELDS: [&str; 14] = [
    "id",
    "rules",
    "arn",
    "address",
    "state_key",
    "account",
    "reason",
    "ticket",
    "owner",
    "approved_by",
    "requested_by",
    "compensating_control",
    "created",
    "expires",
];

table_error! {
    /// Errors of the exceptions table, one line each: the three cases of a failed call
    /// (`NoSuchTable`, `AccessDenied`, `Request`: `table_error!`), and these.
    #[derive(Debug, thiserror::Error)]
    pub enum ExceptionsTableError {
        #[error("exceptions file: {0}")]
        File(#[from] ExceptionError),
        #[error("cannot import into table {table:?}: {message}")]
        Import { table: String, message: String },
    }
}

/// The exceptions table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ExceptionsTable {
    base: Table,
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// An attribute value as a TOML value, or why it cannot be one.
fn toml_value(v: &AttributeValue) -> Result<Option<String>, String> {
    Ok(Some(match v {
        AttributeValue::S(s) => toml_str(s),
        AttributeValue::N(n) => n.clone(),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null(_) => return Ok(None),
        AttributeValue::Ss(items) => format!("[{}]", items.iter().map(|s| toml_str(s)).collect::<Vec<_>>().join(", ")),
        AttributeValue::Ns(items) => format!("[{}]", items.join(", ")),
        AttributeValue::L(items) => {
            let parts: Vec<String> = items.iter().map(toml_value).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
            format!("[{}]", parts.join(", "))
        }
        AttributeValue::M(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut parts = Vec::new();
            for k in keys {
                if let Some(v) = toml_value(&m[k])? {
                    parts.push(format!("{} = {v}", toml_str(k)));
                }
            }
            format!("{{ {} }}", parts.join(", "))
        }
        AttributeValue::B(_) | AttributeValue::Bs(_) => return Err("binary values are not exception fields".into()),
        _ => return Err("unsupported attribute type".into()),
    }))
}

/// An item as an `[[exception]]` block: the header then one line per field (known fields in
/// file order, then any other attribute, which the core will reject as unknown).
fn render_item(item: &Item) -> Result<Vec<String>, (String, String)> {
    let mut lines = vec!["[[exception]]".to_string()];
    let mut others: Vec<&String> = item.keys().filter(|k| !FIELDS.contains(&k.as_str()) && *k != NOTICES_ATTR && *k != LINE_ATTR).collect();
    others.sort();
    for k in FIELDS.iter().copied().chain(others.iter().map(|s| s.as_str())) {
        let Some(v) = item.get(k) else { continue };
        match toml_value(v) {
            Ok(Some(t)) => {
                let key = if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') { k.to_string() } else { toml_str(k) };
                lines.push(format!("{key} = {t}"));
            }
            Ok(None) => {}
            Err(m) => return Err((k.to_string(), m)),
        }
    }
    Ok(lines)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A TOML value (from the imported file) as an attribute value.
fn attribute(v: &toml::Value) -> AttributeValue {
    match v {
        toml::Value::String(x) => s(x.clone()),
        toml::Value::Integer(i) => AttributeValue::N(i.to_string()),
        toml::Value::Float(f) => AttributeValue::N(f.to_string()),
        toml::Value::Boolean(b) => AttributeValue::Bool(*b),
        toml::Value::Datetime(d) => s(d.to_string()),
        toml::Value::Array(items) => AttributeValue::L(items.iter().map(attribute).collect()),
        toml::Value::Table(t) => AttributeValue::M(t.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()),
    }
}

/// The ledger entry of a notice: `<expires>#<threshold>`.
pub fn ledger_entry(expires: DateTime<Utc>, threshold: Threshold) -> String {
    format!("{}#{}", expires.to_rfc3339_opts(SecondsFormat::AutoSi, true), threshold.key())
}

/// Parse a ledger entry back.
pub fn parse_ledger_entry(entry: &str) -> Option<(DateTime<Utc>, Threshold)> {
    let (expires, threshold) = entry.rsplit_once('#')?;
    Some((DateTime::parse_from_rfc3339(expires).ok()?.with_timezone(&Utc), Threshold::from_key(threshold)?))
}

/// An exception that stands for an item that could not be read as one.
fn invalid_item(id: String, line: usize, field: String, message: String) -> Exception {
    Exception {
        id,
        line,
        selector: Selector::default(),
        reason: String::new(),
        ticket: String::new(),
        owner: Owner::default(),
        approved_by: String::new(),
        requested_by: String::new(),
        compensating_control: String::new(),
        flags: Vec::new(),
        created: None,
        expires: None,
        expires_line: line,
        problems: vec![Problem { line, field, message }],
    }
}

impl ExceptionsTable {
    /// [`load`](Self::load).
    pub const READ: &'static [Action] = &[Action::new("dynamodb:Scan", "scan")];
    /// [`sent_notices`](Self::sent_notices), [`record_notices`](Self::record_notices).
    pub const NOTICES: &'static [Action] = &[Action::new("dynamodb:Scan", "scan"), Action::new("dynamodb:UpdateItem", "update_item")];
    /// [`put_from_toml`](Self::put_from_toml) (the CLI's import).
    pub const IMPORT: &'static [Action] = &[Action::new("dynamodb:UpdateItem", "update_item")];

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        ExceptionsTable { base: Table::new(client, table, TableOptions::default()) }
    }

    table_accessors!();

    /// Every item, every page.
    async fn scan(&self, projection: Option<&str>) -> Result<Vec<Item>, ExceptionsTableError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self.base.client.scan().table_name(&self.base.name).set_exclusive_start_key(start.take());
            if let Some(p) = projection {
                req = req.projection_expression(p);
            }
            let page = req.send().await.map_err(|e| self.base.failed("Scan", &e))?;
            out.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Load every exception, validated as the core validates a file under the policy's `[exceptions]`.
    pub async fn load(&self, policy: &driftwatch_core::policy::ExceptionPolicy) -> Result<Exceptions, ExceptionsTableError> {
        let mut items = self.scan(None).await?;
        let line_of = |i: &Item| i.get(LINE_ATTR).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<usize>().ok());
        let id_of = |i: &Item| i.get("id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        // File order first (items with a line), then the rest by id.
        items.sort_by_key(|a| (line_of(a).is_none(), line_of(a), id_of(a)));
        let mut doc: Vec<String> = Vec::new();
        // For each item in order: Ok(()) rendered into `doc`, Err(exception) standing for it.
        let mut slots: Vec<Result<(), Exception>> = Vec::new();
        for item in &items {
            let id = id_of(item);
            // Put the header at the item's line when there is room, so problems are reported at
            // the lines of the imported file.
            if let Some(l) = line_of(item) {
                while doc.len() + 1 < l {
                    doc.push(String::new());
                }
            }
            if !doc.is_empty() && doc.last().is_some_and(|l| !l.is_empty()) {
                doc.push(String::new());
            }
            let header = doc.len() + 1;
            let whose = format!("item {id:?} of table {:?}", self.base.name);
            let block = match render_item(item) {
                Ok(b) => b,
                Err((field, message)) => {
                    slots.push(Err(invalid_item(id, header, field, format!("{message} ({whose})"))));
                    doc.push(String::new());
                    continue;
                }
            };
            // A block the core cannot read at all would make the whole document unusable: it
            // stands alone as an invalid exception instead (its lines left blank).
            if let Err(e) = Exceptions::parse_with(&block.join("\n"), policy) {
                slots.push(Err(invalid_item(id, header, e.field, format!("{} ({whose})", e.message))));
                doc.extend(block.iter().map(|_| String::new()));
                continue;
            }
            slots.push(Ok(()));
            doc.extend(block);
        }
        let mut text = doc.join("\n");
        text.push('\n');
        let parsed = Exceptions::parse_with(&text, policy)?;
        let mut good = parsed.exceptions.into_iter();
        let mut exceptions = Vec::with_capacity(slots.len());
        for slot in slots {
            match slot {
                Ok(()) => exceptions.extend(good.next()),
                Err(bad) => exceptions.push(bad),
            }
        }
        Ok(Exceptions { exceptions, max_days: policy.max_days })
    }

    /// Import a TOML exceptions file (it must parse: a syntax error is an error, invalid
    /// exceptions are imported as they are, to be reported as the file would report them).
    /// Every exception needs a distinct id — the table's key. Answers how many were written.
    pub async fn put_from_toml(&self, text: &str) -> Result<usize, ExceptionsTableError> {
        let parsed = Exceptions::parse(text, u32::MAX)?;
        let raw: toml::Table = toml::from_str(text)
            .map_err(|e| ExceptionsTableError::Import { table: self.base.name.clone(), message: e.message().replace('\n', " ") })?;
        let tables: Vec<toml::Table> = match raw.get("exception") {
            Some(toml::Value::Array(items)) => items.iter().filter_map(|v| v.as_table().cloned()).collect(),
            _ => Vec::new(),
        };
        let import_error = |message: String| ExceptionsTableError::Import { table: self.base.name.clone(), message };
        let mut seen = BTreeSet::new();
        let mut planned = Vec::new();
        for (n, (t, e)) in tables.iter().zip(&parsed.exceptions).enumerate() {
            let id = match t.get("id").and_then(toml::Value::as_str).map(str::trim) {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => return Err(import_error(format!("exception #{} (line {}) has no id, and the table is keyed by id", n + 1, e.line))),
            };
            if !seen.insert(id.clone()) {
                return Err(import_error(format!("id {id:?} (line {}) is used twice", e.line)));
            }
            planned.push((id, t, e.line));
        }
        for (id, t, line) in &planned {
            let mut sets = Vec::new();
            let mut removes = Vec::new();
            let mut names = HashMap::new();
            let mut values = HashMap::new();
            let mut fields: Vec<&str> = FIELDS.iter().copied().filter(|f| *f != "id").collect();
            fields.extend(t.keys().map(String::as_str).filter(|k| !FIELDS.contains(k)));
            for (i, f) in fields.iter().enumerate() {
                names.insert(format!("#f{i}"), f.to_string());
                match t.get(*f) {
                    Some(v) => {
                        sets.push(format!("#f{i} = :v{i}"));
                        values.insert(format!(":v{i}"), attribute(v));
                    }
                    None => removes.push(format!("#f{i}")),
                }
            }
            names.insert("#line".into(), LINE_ATTR.into());
            sets.push("#line = :line".into());
            values.insert(":line".into(), AttributeValue::N(line.to_string()));
            let mut update = format!("SET {}", sets.join(", "));
            if !removes.is_empty() {
                update.push_str(&format!(" REMOVE {}", removes.join(", ")));
            }
            self.base
                .client
                .update_item()
                .table_name(&self.base.name)
                .key("id", s(id.clone()))
                .update_expression(update)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .send()
                .await
                .map_err(|e| self.base.failed("UpdateItem", &e))?;
        }
        Ok(planned.len())
    }

    /// The notice ledger: every notice recorded on an exception item.
    pub async fn sent_notices(&self) -> Result<NoticeLedger, ExceptionsTableError> {
        let mut ledger = NoticeLedger::default();
        for item in self.scan(Some("id, notices_sent")).await? {
            let Some(id) = item.get("id").and_then(|v| v.as_s().ok()) else { continue };
            let Some(entries) = item.get(NOTICES_ATTR).and_then(|v| v.as_ss().ok()) else { continue };
            for entry in entries {
                match parse_ledger_entry(entry) {
                    Some((expires, threshold)) => {
                        ledger.sent.entry(id.clone()).or_default().entry(expires.to_rfc3339()).or_default().insert(threshold);
                    }
                    None => {
                        tracing::warn!(table = %self.base.name, exception = %id, entry = %entry, "unreadable notice ledger entry ignored")
                    }
                }
            }
        }
        Ok(ledger)
    }

    /// Record notices in the ledger, each at most once: answers the notices this call
    /// recorded — the ones to send. A notice already recorded (by this run or another) is
    /// not; neither is one whose exception is no longer in the table.
    pub async fn record_notices(&self, notices: &[Notice]) -> Result<Vec<Notice>, ExceptionsTableError> {
        let mut recorded = Vec::new();
        for n in notices {
            let entry = ledger_entry(n.expires, n.threshold);
            let out = self
                .base
                .client
                .update_item()
                .table_name(&self.base.name)
                .key("id", s(n.exception.clone()))
                .update_expression("ADD #n :set")
                .condition_expression("attribute_exists(id) AND NOT contains(#n, :entry)")
                .expression_attribute_names("#n", NOTICES_ATTR)
                .expression_attribute_values(":set", AttributeValue::Ss(vec![entry.clone()]))
                .expression_attribute_values(":entry", s(entry.clone()))
                .send()
                .await;
            match self.base.conditional("UpdateItem", out)? {
                Some(_) => recorded.push(n.clone()),
                None => {
                    tracing::debug!(table = %self.base.name, exception = %n.exception, entry = %entry, "notice already recorded");
                }
            }
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn ledger_entries_round_trip() {
        let t = DateTime::parse_from_rfc3339("2026-12-18T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(ledger_entry(t, Threshold::DaysBefore(7)), "2026-12-18T00:00:00Z#7d");
        assert_eq!(parse_ledger_entry("2026-12-18T00:00:00Z#7d"), Some((t, Threshold::DaysBefore(7))));
        assert_eq!(parse_ledger_entry("2026-12-18T00:00:00Z#expired"), Some((t, Threshold::Expired)));
        assert_eq!(parse_ledger_entry("garbage"), None);
    }

    #[test]
    fn items_render_as_toml_blocks() {
        let i = item(&[
            ("id", s("E-1")),
            ("rules", AttributeValue::Ss(vec!["drift.changed".into()])),
            ("reason", s("a \"quoted\"\nreason")),
            ("owner", AttributeValue::M([("email".to_string(), s("a@b.example"))].into())),
            ("notices_sent", AttributeValue::Ss(vec!["x#7d".into()])),
        ]);
        let block = render_item(&i).unwrap();
        assert_eq!(
            block,
            vec![
                "[[exception]]".to_string(),
                "id = \"E-1\"".into(),
                "rules = [\"drift.changed\"]".into(),
                "reason = \"a \\\"quoted\\\"\\nreason\"".into(),
                "owner = { \"email\" = \"a@b.example\" }".into(),
            ]
        );
        let parsed = Exceptions::parse(&block.join("\n"), 90).unwrap();
        assert_eq!(parsed.exceptions[0].reason, "a \"quoted\"\nreason");
        assert_eq!(parsed.exceptions[0].owner.email.as_deref(), Some("a@b.example"));
        assert!(render_item(&item(&[("id", s("E")), ("reason", AttributeValue::B(vec![1u8].into()))])).is_err());
    }
}
