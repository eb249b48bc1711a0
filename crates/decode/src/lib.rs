//! driftwatch-decode: every trigger payload decoded into [`Signal`]s.
//!
//! | payload | entry point | becomes |
//! |---|---|---|
//! | EventBridge `AWS API Call via CloudTrail` (and the other `… via CloudTrail` types) | [`Decoder::eventbridge`] | [`Signal::ApiCall`] |
//! | EventBridge `Config Configuration Item Change` (incl. `OversizedConfigurationItemChangeNotification`) | [`Decoder::eventbridge`] | [`Signal::ConfigChange`] |
//! | EventBridge S3 `Object Created` / `Object Deleted` | [`Decoder::eventbridge`] | [`Signal::StateObject`] (state keys), [`Signal::LockFile`] (`*.tflock`) |
//! | EventBridge `Scheduled Event` | [`Decoder::eventbridge`] | [`Signal::Tick`] |
//! | S3 event notification `{"Records":[{"eventSource":"aws:s3",…}]}` | [`Decoder::s3_notification`] | as the S3 events above |
//! | DynamoDB Streams batch of the lock table | [`Decoder::dynamodb_stream`] | [`Signal::LockRecord`] |
//! | one raw CloudTrail record | [`Decoder::cloudtrail_record`] | [`Signal::ApiCall`] |
//! | CloudTrail log file `{"Records":[…]}`, plain or gzip | [`Decoder::document`] | [`Signal::ApiCall`]s, streamed |
//! | `aws cloudtrail lookup-events` output (`{"Events":[{"CloudTrailEvent":"…"}]}`) | [`Decoder::document`] | [`Signal::ApiCall`]s |
//! | any of the above, auto-detected; a JSON array of them; JSON Lines | [`Decoder::document`], [`Decoder::json_lines`], [`decode_document`] | |
//!
//! A record that cannot be decoded becomes an [`InvalidInput`] naming the source and the
//! record's index, and the rest of the batch goes on. Read-only CloudTrail calls are counted
//! and dropped before anything but their `readOnly` member is looked at; objects outside the
//! state buckets and items of other tables are counted as ignored.
//!
//! CloudTrail log files are streamed: the `Records` array is visited one record at a time
//! (a `DeserializeSeed` over `SeqAccess`), each record borrowed from the input as raw member
//! slices ([`lenient::RawRecord`]), so memory does not grow with the number of records and the
//! request parameters of a skipped record are never built.
//!
//! Secret-looking values in request parameters, response elements and configuration items
//! are digested here with the caller's [`Redactor`], like the state parser does.

mod cloudtrail;
pub mod config;
pub mod dynamodb;
pub mod lenient;
pub mod s3;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use driftwatch_core::policy::Policy;
use driftwatch_core::redact::Redactor;
use driftwatch_core::signal::{InvalidInput, Signal, Tick};
use lenient::RawRecord;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::io::Read;

pub use aws_lambda_events;

/// One decoded item: a signal, or input that could not be decoded.
pub type Decoded = Result<Signal, InvalidInput>;

/// Largest decompressed document (matches the CLI's file limit).
pub const MAX_DOCUMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// What a decode did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStats {
    /// Records (CloudTrail records, stream records, S3 records, events) looked at.
    pub records: u64,
    /// Signals produced.
    pub signals: u64,
    /// Read-only CloudTrail calls skipped.
    pub read_only: u64,
    /// Records of no interest: objects outside the state buckets, items of other tables,
    /// S3 events that are not writes.
    pub ignored: u64,
    /// Records and documents that could not be decoded.
    pub invalid: u64,
}

impl std::ops::AddAssign for DecodeStats {
    fn add_assign(&mut self, o: Self) {
        self.records += o.records;
        self.signals += o.signals;
        self.read_only += o.read_only;
        self.ignored += o.ignored;
        self.invalid += o.invalid;
    }
}

/// What one record decoded to (errors aside). Short-lived: handed on at once.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum One {
    Signal(Signal),
    Ignored,
}

/// Decodes trigger payloads with a policy (state buckets, lock tables) and a redactor.
#[derive(Debug, Clone, Copy)]
pub struct Decoder<'a> {
    pub policy: &'a Policy,
    pub redactor: &'a Redactor,
}

/// Decode a document of any supported shape (see the crate docs), gzip included.
pub fn decode_document(bytes: &[u8], source: &str, policy: &Policy, redactor: &Redactor) -> Vec<Decoded> {
    let mut out = Vec::new();
    Decoder::new(policy, redactor).document(bytes, source, &mut |d| out.push(d));
    out
}

/// Gunzip `bytes`, refusing more than `limit` bytes of output.
pub fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(8).min(1 << 30));
    flate2::read::GzDecoder::new(bytes).take(limit + 1).read_to_end(&mut out).map_err(|e| format!("not a valid gzip file: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!("decompresses to more than {limit} bytes"));
    }
    Ok(out)
}

impl<'a> Decoder<'a> {
    pub fn new(policy: &'a Policy, redactor: &'a Redactor) -> Self {
        Decoder { policy, redactor }
    }

    /// Decode one document, detecting its shape: a CloudTrail log file or any `Records`
    /// batch (CloudTrail, S3 notification and DynamoDB Streams records, even mixed), an
    /// EventBridge event, a bare CloudTrail record, a Config change notification,
    /// `lookup-events` output, or a JSON array of any of these. Gzip is detected by its
    /// magic bytes. Each decoded item goes to `sink` as soon as it is decoded.
    pub fn document(&self, bytes: &[u8], source: &str, sink: &mut dyn FnMut(Decoded)) -> DecodeStats {
        let mut run = Run { dec: *self, source, sink, stats: DecodeStats::default(), at: None };
        run.document(bytes, None);
        run.stats
    }

    /// JSON Lines: one document per non-empty line. An undecodable line is reported with
    /// its 0-based line index.
    pub fn json_lines(&self, bytes: &[u8], source: &str, sink: &mut dyn FnMut(Decoded)) -> DecodeStats {
        let mut run = Run { dec: *self, source, sink, stats: DecodeStats::default(), at: None };
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = trim(line);
            if !line.is_empty() {
                run.document(line, Some(i));
            }
        }
        run.stats
    }

    /// A CloudTrail log file as delivered to S3 (`{"Records":[...]}`, plain or gzip).
    pub fn cloudtrail_log(&self, bytes: &[u8], source: &str, sink: &mut dyn FnMut(Decoded)) -> DecodeStats {
        self.document(bytes, source, sink)
    }

    /// One raw CloudTrail record (JSON text). `None` for a read-only call.
    pub fn cloudtrail_record(&self, json: &str, source: &str) -> Option<Decoded> {
        let mut out = None;
        let mut sink = |d| out = Some(d);
        let mut run = Run { dec: *self, source, sink: &mut sink, stats: DecodeStats::default(), at: None };
        match serde_json::from_str::<RawRecord>(json) {
            Ok(rec) => run.record(&rec, None, None, None),
            Err(e) => run.invalid(None, format!("not valid JSON: {e}")),
        }
        out
    }

    /// An EventBridge event (the trail, config, state and lock watchers' and the sweeper's
    /// trigger). Its `detail` stays raw until the detail-type says what it is.
    pub fn eventbridge(&self, ev: &EventBridgeEvent<Box<RawValue>>, source: &str) -> Vec<Decoded> {
        self.collect(source, |run| run.eventbridge(ev, None))
    }

    /// An S3 event notification batch.
    pub fn s3_notification(&self, ev: &aws_lambda_events::s3::S3Event, source: &str) -> Vec<Decoded> {
        self.collect(source, |run| run.each(&ev.records, |rec| s3::notification_record(rec, self.policy)))
    }

    /// A DynamoDB Streams batch (the lock table's).
    pub fn dynamodb_stream(&self, ev: &aws_lambda_events::dynamodb::Event, source: &str) -> Vec<Decoded> {
        self.collect(source, |run| run.each(&ev.records, |rec| dynamodb::record(rec, self.policy)))
    }

    /// What `f` emits on a fresh run over `source`.
    fn collect(&self, source: &str, f: impl FnOnce(&mut Run<'_, '_>)) -> Vec<Decoded> {
        let mut out = Vec::new();
        let mut sink = |d| out.push(d);
        let mut run = Run { dec: *self, source, sink: &mut sink, stats: DecodeStats::default(), at: None };
        f(&mut run);
        out
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end]
}

/// One decode in progress.
struct Run<'d, 's> {
    dec: Decoder<'d>,
    source: &'s str,
    sink: &'s mut dyn FnMut(Decoded),
    stats: DecodeStats,
    /// Index of the `Records` element being read, for syntax errors.
    at: Option<usize>,
}

/// What the top level of an object document held, besides a streamed `Records` array.
#[derive(Default)]
struct TopLevel {
    records: bool,
    events: bool,
    detail_type: bool,
    event_name: bool,
    config: bool,
}

impl Run<'_, '_> {
    fn invalid(&mut self, index: Option<usize>, message: String) {
        self.stats.invalid += 1;
        (self.sink)(Err(InvalidInput { source: self.source.to_string(), index, message }));
    }

    /// Each record of a batch, decoded by `one`, counted and emitted with its index.
    fn each<R>(&mut self, records: &[R], one: impl Fn(&R) -> Result<One, String>) {
        for (i, rec) in records.iter().enumerate() {
            self.stats.records += 1;
            self.emit(one(rec), Some(i));
        }
    }

    fn emit(&mut self, one: Result<One, String>, index: Option<usize>) {
        match one {
            Ok(One::Signal(s)) => {
                self.stats.signals += 1;
                (self.sink)(Ok(s));
            }
            Ok(One::Ignored) => self.stats.ignored += 1,
            Err(m) => self.invalid(index, m),
        }
    }

    /// A whole document; `index` is its position when it is one of many (array element,
    /// JSON Lines line).
    fn document(&mut self, bytes: &[u8], index: Option<usize>) {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            match gunzip(bytes, MAX_DOCUMENT_BYTES) {
                Ok(plain) => return self.document(&plain, index),
                Err(e) => return self.invalid(index, e),
            }
        }
        let bytes = trim(bytes);
        match bytes.first() {
            None => self.invalid(index, "empty document".into()),
            Some(b'{') => self.object(bytes, index),
            Some(b'[') => self.array(bytes, index),
            Some(_) => self.invalid(index, "not a JSON object or array".into()),
        }
    }

    fn json_error(&mut self, e: serde_json::Error, index: Option<usize>) {
        let msg = lenient::without_position(&e);
        match self.at.take() {
            Some(i) => self.invalid(
                Some(i),
                format!(
                    "malformed JSON in record #{i}: {msg} at line {} column {}; the rest of the document was not read",
                    e.line(),
                    e.column()
                ),
            ),
            None => self.invalid(index, format!("not valid JSON: {msg} at line {} column {}", e.line(), e.column())),
        }
    }

    fn array(&mut self, bytes: &[u8], index: Option<usize>) {
        if index.is_some() {
            return self.invalid(index, "nested arrays of events are not supported".into());
        }
        match serde_json::from_slice::<Vec<&RawValue>>(bytes) {
            Ok(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    self.document(item.get().as_bytes(), Some(i));
                }
            }
            Err(e) => self.json_error(e, index),
        }
    }

    fn object(&mut self, bytes: &[u8], index: Option<usize>) {
        // Validating UTF-8 once up front lets serde_json read from a `str`, which skips the
        // per-string and per-raw-value validation it does on bytes. Invalid UTF-8 falls back
        // to the byte reader, which reports the record it is in.
        let top = match std::str::from_utf8(bytes) {
            Ok(text) => {
                let mut de = serde_json::Deserializer::from_str(text);
                (&mut de).deserialize_map(TopSeed { run: self }).and_then(|t| de.end().map(|_| t))
            }
            Err(_) => {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                (&mut de).deserialize_map(TopSeed { run: self }).and_then(|t| de.end().map(|_| t))
            }
        };
        let top = match top {
            Ok(t) => t,
            Err(e) => return self.json_error(e, index),
        };
        if top.records || top.events {
            return;
        }
        if top.detail_type {
            match serde_json::from_slice::<EventBridgeEvent<Box<RawValue>>>(bytes) {
                Ok(ev) => self.eventbridge(&ev, index),
                Err(e) => {
                    self.stats.records += 1;
                    self.invalid(index, format!("EventBridge event: {}", lenient::without_position(&e)))
                }
            }
        } else if top.event_name {
            match serde_json::from_slice::<RawRecord>(bytes) {
                Ok(rec) => self.record(&rec, index, None, None),
                Err(e) => self.json_error(e, index),
            }
        } else if top.config {
            self.stats.records += 1;
            let one = serde_json::from_slice::<serde_json::Value>(bytes)
                .map_err(|e| lenient::without_position(&e))
                .and_then(|v| config::notification(v, self.dec.redactor, None))
                .map(|c| One::Signal(Signal::ConfigChange(Box::new(c))));
            self.emit(one, index);
        } else {
            self.stats.records += 1;
            self.invalid(
                index,
                "unknown document shape: expected a CloudTrail log file or Records batch, an EventBridge event, a CloudTrail record or a Config change notification"
                    .into(),
            );
        }
    }

    /// One record of a `Records` batch, or a bare record.
    fn record(&mut self, rec: &RawRecord<'_>, index: Option<usize>, account: Option<&str>, time: Option<DateTime<Utc>>) {
        self.stats.records += 1;
        if let Some(what) = rec.not_object {
            return self.invalid(index, format!("record is {what}, not an object"));
        }
        match rec.get(lenient::Slot::EventSource).map(RawValue::get) {
            Some("\"aws:s3\"") => {
                let one = serde_json::from_str::<aws_lambda_events::s3::S3EventRecord>(&rec.to_json())
                    .map_err(|e| format!("S3 event record: {}", lenient::without_position(&e)))
                    .and_then(|r| s3::notification_record(&r, self.dec.policy));
                self.emit(one, index)
            }
            Some("\"aws:dynamodb\"") => {
                let one = serde_json::from_str::<aws_lambda_events::dynamodb::EventRecord>(&rec.to_json())
                    .map_err(|e| format!("DynamoDB stream record: {}", lenient::without_position(&e)))
                    .and_then(|r| dynamodb::record(&r, self.dec.policy));
                self.emit(one, index)
            }
            _ if cloudtrail::looks_like(rec) => match cloudtrail::decode(rec, self.dec.redactor, account, time) {
                Ok(cloudtrail::Outcome::ReadOnly) => self.stats.read_only += 1,
                Ok(cloudtrail::Outcome::Call(c)) => self.emit(Ok(One::Signal(Signal::ApiCall(c))), index),
                Err(m) => self.invalid(index, format!("CloudTrail record: {m}")),
            },
            _ => self.invalid(index, "not a CloudTrail, S3 event notification or DynamoDB Streams record".into()),
        }
    }

    fn eventbridge(&mut self, ev: &EventBridgeEvent<Box<RawValue>>, index: Option<usize>) {
        let dt = ev.detail_type.as_str();
        if dt.ends_with("via CloudTrail") {
            match serde_json::from_str::<RawRecord>(ev.detail.get()) {
                Ok(rec) if rec.not_object.is_none() => self.record(&rec, index, ev.account.as_deref(), ev.time),
                Ok(rec) => {
                    self.stats.records += 1;
                    self.invalid(index, format!("{dt}: detail is {}", rec.not_object.unwrap_or("not an object")))
                }
                Err(e) => {
                    self.stats.records += 1;
                    self.invalid(index, format!("{dt}: detail: {}", lenient::without_position(&e)))
                }
            }
            return;
        }
        self.stats.records += 1;
        let one = match (ev.source.as_str(), dt) {
            (_, "Config Configuration Item Change") => serde_json::from_str::<serde_json::Value>(ev.detail.get())
                .map_err(|e| lenient::without_position(&e))
                .and_then(|v| config::notification(v, self.dec.redactor, ev.time))
                .map(|c| One::Signal(Signal::ConfigChange(Box::new(c))))
                .map_err(|m| format!("{dt}: {m}")),
            ("aws.s3", "Object Created" | "Object Deleted") => match (serde_json::from_str::<s3::S3Detail>(ev.detail.get()), ev.time) {
                (Ok(d), Some(t)) => Ok(s3::eventbridge_detail(dt, &d, t, self.dec.policy)),
                (Err(e), _) => Err(format!("S3 {dt} event: detail: {}", lenient::without_position(&e))),
                (_, None) => Err(format!("S3 {dt} event without time")),
            },
            (_, "Scheduled Event") => match ev.time {
                Some(time) => {
                    let rule = ev.resources.as_ref().and_then(|r| r.first()).map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string());
                    Ok(One::Signal(Signal::Tick(Tick { time, rule, account: ev.account.clone(), region: ev.region.clone() })))
                }
                None => Err("Scheduled Event without time".into()),
            },
            (src, _) => Err(format!("unsupported EventBridge event: source {src:?}, detail-type {dt:?}")),
        };
        self.emit(one, index);
    }
}

/// Visits an object document's top level, streaming `Records` / `Events` arrays.
struct TopSeed<'r, 'd, 's> {
    run: &'r mut Run<'d, 's>,
}

impl<'de> Visitor<'de> for TopSeed<'_, '_, '_> {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut top = TopLevel::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "Records" => {
                    map.next_value_seed(RecordsSeed { run: &mut *self.run })?;
                    top.records = true;
                }
                "Events" => {
                    map.next_value_seed(LookupEventsSeed { run: &mut *self.run })?;
                    top.events = true;
                }
                k => {
                    match k {
                        "detail-type" => top.detail_type = true,
                        "eventName" => top.event_name = true,
                        "configurationItem" | "configurationItemSummary" => top.config = true,
                        _ => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// `Records: [...]`, one record at a time.
struct RecordsSeed<'r, 'd, 's> {
    run: &'r mut Run<'d, 's>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            self.run.at = Some(i);
            match seq.next_element::<RawRecord<'de>>()? {
                Some(rec) => self.run.record(&rec, Some(i), None, None),
                None => break,
            }
            i += 1;
        }
        self.run.at = None;
        Ok(())
    }
}

/// `aws cloudtrail lookup-events` output: `Events: [{"CloudTrailEvent": "<record JSON>"}]`.
struct LookupEventsSeed<'r, 'd, 's> {
    run: &'r mut Run<'d, 's>,
}

impl<'de> DeserializeSeed<'de> for LookupEventsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

#[derive(serde::Deserialize)]
struct LookupEvent {
    #[serde(rename = "CloudTrailEvent")]
    cloudtrail_event: Option<String>,
}

impl<'de> Visitor<'de> for LookupEventsSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            self.run.at = Some(i);
            let Some(raw) = seq.next_element::<&'de RawValue>()? else { break };
            match serde_json::from_str::<LookupEvent>(raw.get()) {
                Ok(LookupEvent { cloudtrail_event: Some(text) }) => match serde_json::from_str::<RawRecord>(&text) {
                    Ok(rec) => self.run.record(&rec, Some(i), None, None),
                    Err(e) => {
                        self.run.stats.records += 1;
                        self.run.invalid(Some(i), format!("CloudTrailEvent is not valid JSON: {}", lenient::without_position(&e)))
                    }
                },
                _ => {
                    self.run.stats.records += 1;
                    self.run.invalid(Some(i), "lookup-events entry without a CloudTrailEvent string".into())
                }
            }
            i += 1;
        }
        self.run.at = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
