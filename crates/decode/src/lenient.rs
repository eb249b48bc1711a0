//! Lenient, borrowing building blocks: a record's top-level members captured as raw JSON
//! slices in one pass, interpreted afterwards.
//!
//! A CloudTrail log file is one JSON object whose `Records` array can hold tens of thousands
//! of records. Deserializing each record straight into typed structs would make one bad
//! record (a number where a string belongs) abort the whole array, because serde_json cannot
//! resume inside a value after an error. So each record is first read into a [`RawRecord`]:
//! a fixed set of named slots, each a borrowed [`RawValue`] (validated but not built), with
//! every other member skipped. That read fails only on a JSON *syntax* error. Interpreting the
//! slots then fails per record, and the batch goes on. Slots that are never needed (the
//! request parameters of a read-only call) are never turned into `serde_json::Value`s.

use driftwatch_core::state::Key;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The members of a trigger record that any decoder here reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    EventVersion,
    EventSource,
    EventName,
    EventTime,
    EventId,
    AwsRegion,
    RecipientAccountId,
    ReadOnly,
    ErrorCode,
    ErrorMessage,
    EventCategory,
    UserIdentity,
    SourceIp,
    UserAgent,
    SessionCredentialFromConsole,
    RequestParameters,
    ResponseElements,
    AdditionalEventData,
    Resources,
    EventType,
    // S3 event notification records
    S3,
    GlacierEventData,
    // DynamoDB Streams records
    Dynamodb,
    EventSourceArn,
    RecordFormat,
    TableName,
}

pub(crate) const SLOTS: usize = 26;

impl Slot {
    /// JSON member name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Slot::EventVersion => "eventVersion",
            Slot::EventSource => "eventSource",
            Slot::EventName => "eventName",
            Slot::EventTime => "eventTime",
            Slot::EventId => "eventID",
            Slot::AwsRegion => "awsRegion",
            Slot::RecipientAccountId => "recipientAccountId",
            Slot::ReadOnly => "readOnly",
            Slot::ErrorCode => "errorCode",
            Slot::ErrorMessage => "errorMessage",
            Slot::EventCategory => "eventCategory",
            Slot::UserIdentity => "userIdentity",
            Slot::SourceIp => "sourceIPAddress",
            Slot::UserAgent => "userAgent",
            Slot::SessionCredentialFromConsole => "sessionCredentialFromConsole",
            Slot::RequestParameters => "requestParameters",
            Slot::ResponseElements => "responseElements",
            Slot::AdditionalEventData => "additionalEventData",
            Slot::Resources => "resources",
            Slot::EventType => "eventType",
            Slot::S3 => "s3",
            Slot::GlacierEventData => "glacierEventData",
            Slot::Dynamodb => "dynamodb",
            Slot::EventSourceArn => "eventSourceARN",
            Slot::RecordFormat => "recordFormat",
            Slot::TableName => "tableName",
        }
    }

    fn from_name(name: &str) -> Option<Slot> {
        // Most members of a record are not slots: reject by length and first byte before
        // comparing whole names.
        let b = name.as_bytes();
        if !(2..=28).contains(&b.len()) || !matches!(b[0], b'e' | b'a' | b'r' | b'u' | b's' | b'g' | b'd' | b't') {
            return None;
        }
        Some(match name {
            "eventVersion" => Slot::EventVersion,
            "eventSource" => Slot::EventSource,
            "eventName" => Slot::EventName,
            "eventTime" => Slot::EventTime,
            "eventID" => Slot::EventId,
            "awsRegion" => Slot::AwsRegion,
            "recipientAccountId" => Slot::RecipientAccountId,
            "readOnly" => Slot::ReadOnly,
            "errorCode" => Slot::ErrorCode,
            "errorMessage" => Slot::ErrorMessage,
            "eventCategory" => Slot::EventCategory,
            "userIdentity" => Slot::UserIdentity,
            "sourceIPAddress" => Slot::SourceIp,
            "userAgent" => Slot::UserAgent,
            "sessionCredentialFromConsole" => Slot::SessionCredentialFromConsole,
            "requestParameters" => Slot::RequestParameters,
            "responseElements" => Slot::ResponseElements,
            "additionalEventData" => Slot::AdditionalEventData,
            "resources" => Slot::Resources,
            "eventType" => Slot::EventType,
            "s3" => Slot::S3,
            "glacierEventData" => Slot::GlacierEventData,
            "dynamodb" => Slot::Dynamodb,
            "eventSourceARN" => Slot::EventSourceArn,
            "recordFormat" => Slot::RecordFormat,
            "tableName" => Slot::TableName,
            _ => return None,
        })
    }

    const ALL: [Slot; SLOTS] = [
        Slot::EventVersion,
        Slot::EventSource,
        Slot::EventName,
        Slot::EventTime,
        Slot::EventId,
        Slot::AwsRegion,
        Slot::RecipientAccountId,
        Slot::ReadOnly,
        Slot::ErrorCode,
        Slot::ErrorMessage,
        Slot::EventCategory,
        Slot::UserIdentity,
        Slot::SourceIp,
        Slot::UserAgent,
        Slot::SessionCredentialFromConsole,
        Slot::RequestParameters,
        Slot::ResponseElements,
        Slot::AdditionalEventData,
        Slot::Resources,
        Slot::EventType,
        Slot::S3,
        Slot::GlacierEventData,
        Slot::Dynamodb,
        Slot::EventSourceArn,
        Slot::RecordFormat,
        Slot::TableName,
    ];
}

/// One record (CloudTrail, S3 notification or DynamoDB Streams) as borrowed raw members.
///
/// Deserializing it never fails on the *content* of a value, only on JSON syntax: a value
/// that is not an object is recorded in [`RawRecord::not_object`]; duplicate members keep the
/// last one, as `serde_json::Value` does.
#[derive(Debug, Clone, Default)]
pub struct RawRecord<'a> {
    slots: [Option<&'a RawValue>; SLOTS],
    /// Set when the value was not a JSON object: what it was instead.
    pub not_object: Option<&'static str>,
}

impl<'a> RawRecord<'a> {
    pub(crate) fn get(&self, slot: Slot) -> Option<&'a RawValue> {
        self.slots[slot as usize].filter(|r| r.get() != "null")
    }

    /// The record rebuilt as a JSON object of the captured members (for the small S3 and
    /// DynamoDB records, handed to the `aws_lambda_events` types).
    pub(crate) fn to_json(&self) -> String {
        let mut s = String::with_capacity(256);
        s.push('{');
        for slot in Slot::ALL {
            if let Some(raw) = self.slots[slot as usize] {
                if s.len() > 1 {
                    s.push(',');
                }
                s.push('"');
                s.push_str(slot.name());
                s.push_str("\":");
                s.push_str(raw.get());
            }
        }
        s.push('}');
        s
    }
}

impl<'de> Deserialize<'de> for RawRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}

struct RecordVisitor;

fn not_object<'a>(what: &'static str) -> RawRecord<'a> {
    RawRecord { not_object: Some(what), ..RawRecord::default() }
}

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RawRecord<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rec = RawRecord::default();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match Slot::from_name(&k) {
                Some(slot) => rec.slots[slot as usize] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(rec)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_object("an array"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(not_object("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(not_object("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(not_object("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(not_object("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(not_object("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(not_object("null"))
    }
}

/// A string member, borrowed when it holds no escape.
pub(crate) fn string<'a>(raw: &'a RawValue, what: &str) -> Result<Cow<'a, str>, String> {
    let s = raw.get();
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        let inner = &s[1..s.len() - 1];
        if !inner.contains('\\') {
            return Ok(Cow::Borrowed(inner));
        }
        return serde_json::from_str::<String>(s).map(Cow::Owned).map_err(|e| format!("{what}: {}", without_position(&e)));
    }
    Err(format!("{what}: expected a string, found {}", kind(s)))
}

/// An optional string member (`null` or absent is `None`); numbers are accepted as text.
pub(crate) fn opt_string(raw: Option<&RawValue>, what: &str) -> Result<Option<String>, String> {
    match raw {
        None => Ok(None),
        Some(r) if r.get().starts_with(|c: char| c == '-' || c.is_ascii_digit()) => Ok(Some(r.get().to_string())),
        Some(r) => string(r, what).map(|c| Some(c.into_owned())),
    }
}

/// A boolean member that may be written as `true` or `"true"`.
pub(crate) fn flag(raw: Option<&RawValue>) -> Option<bool> {
    match raw.map(RawValue::get) {
        Some("true") | Some("\"true\"") => Some(true),
        Some("false") | Some("\"false\"") => Some(false),
        _ => None,
    }
}

/// What kind of JSON value a raw text is, for messages.
pub(crate) fn kind(s: &str) -> &'static str {
    match s.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A serde_json error without its position (positions inside a sub-value mislead).
pub(crate) fn without_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_known_members_and_skips_the_rest() {
        let text =
            r#"{"eventName":"PutObject","huge":{"a":[1,2,3]},"readOnly":false,"requestParameters":{"bucketName":"b"},"eventName":"X"}"#;
        let rec: RawRecord = serde_json::from_str(text).unwrap();
        assert_eq!(rec.get(Slot::EventName).unwrap().get(), "\"X\"", "last duplicate wins");
        assert_eq!(flag(rec.get(Slot::ReadOnly)), Some(false));
        assert!(rec.not_object.is_none());
        let json: serde_json::Value = serde_json::from_str(&rec.to_json()).unwrap();
        assert_eq!(json["requestParameters"]["bucketName"], "b");
        assert!(json.get("huge").is_none());
        for (t, what) in [("3", "a number"), ("\"x\"", "a string"), ("[1,{}]", "an array"), ("null", "null")] {
            let rec: RawRecord = serde_json::from_str(t).unwrap();
            assert_eq!(rec.not_object, Some(what));
        }
        assert!(serde_json::from_str::<RawRecord>("{\"a\":").is_err(), "syntax errors still fail");
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let raw: &RawValue = serde_json::from_str("\"abc\"").unwrap();
        assert!(matches!(string(raw, "x").unwrap(), Cow::Borrowed("abc")));
        let raw: &RawValue = serde_json::from_str(r#""a\"b""#).unwrap();
        assert_eq!(string(raw, "x").unwrap(), "a\"b");
        let raw: &RawValue = serde_json::from_str("12").unwrap();
        assert!(string(raw, "eventName").unwrap_err().contains("expected a string, found a number"));
        assert_eq!(opt_string(Some(raw), "n").unwrap().as_deref(), Some("12"));
        assert_eq!(flag(Some(serde_json::from_str("\"true\"").unwrap())), Some(true));
    }
}
