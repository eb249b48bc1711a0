//! Terraform state (format version 4) model and parser.
//!
//! The parser reads the whole state but *keeps* only what driftwatch needs: for every
//! resource instance its address, mode, type, keys, status, and the attributes the catalog
//! compares (plus `id`, `arn`, tags). Everything else stays in the caller's byte buffer and is
//! never copied. Values marked in `sensitive_attributes`, declared sensitive in the catalog,
//! or that look like secrets are replaced by salted digests as they are read
//! ([`crate::redact`]).
//!
//! Reference: hashicorp/terraform `internal/states/statefile/version4.go`.

use crate::address::{self, IndexKey};
use crate::catalog::Catalog;
use crate::finding::StateRef;
use crate::path::{AttrPath, Step};
use crate::redact::Redactor;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

mod stream;
pub use stream::{Elements, StateHeader, StateReader};

/// Where a state was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateLocation {
    /// Backend bucket, for S3 states.
    pub bucket: Option<String>,
    /// Object key, or the local path.
    pub key: String,
}

impl StateLocation {
    pub fn local(path: impl Into<String>) -> Self {
        StateLocation { bucket: None, key: path.into() }
    }

    pub fn s3(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        StateLocation { bucket: Some(bucket.into()), key: key.into() }
    }

    /// The workspace: `env:/<ws>/<key>` on the S3 backend, `terraform.tfstate.d/<ws>/` locally,
    /// `default` otherwise.
    pub fn workspace(&self) -> String {
        if let Some(rest) = self.key.strip_prefix("env:/") {
            if let Some((ws, _)) = rest.split_once('/') {
                return ws.to_string();
            }
        }
        let parts: Vec<&str> = self.key.split('/').collect();
        if let Some(i) = parts.iter().position(|p| *p == "terraform.tfstate.d") {
            if let Some(ws) = parts.get(i + 1).filter(|_| i + 2 < parts.len()) {
                return ws.to_string();
            }
        }
        "default".to_string()
    }
}

/// Why a state could not be read. Messages are one line and name the position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("empty file (0 bytes): not a Terraform state")]
    Empty,
    #[error("not a valid Terraform state: {message} at line {line} column {column}")]
    Json { message: String, line: usize, column: usize },
    #[error("unsupported state format version {0}: driftwatch reads version 4 (Terraform 0.12 and later); upgrade it with `terraform state pull` from a current Terraform")]
    UnsupportedVersion(String),
    #[error(
        "resource {address} uses legacy `attributes_flat` (Terraform 0.11 and earlier); refresh the state with Terraform 0.12 or later"
    )]
    LegacyFlatAttributes { address: String },
}

/// `managed` or `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Managed,
    Data,
}

/// One resource instance object in state.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInstance {
    /// `module.a["x"].aws_s3_bucket.b[0]`.
    pub address: String,
    pub module: Option<String>,
    pub mode: Mode,
    pub resource_type: String,
    pub name: String,
    pub provider: String,
    pub index_key: Option<IndexKey>,
    /// `status: tainted`.
    pub tainted: bool,
    /// Deposed object key (create_before_destroy leftovers); `None` for the current object.
    pub deposed: Option<String>,
    /// Retained attributes, sensitive values digested.
    pub attributes: Value,
}

impl ResourceInstance {
    /// Compared against live configuration? (managed, current object)
    pub fn is_live_managed(&self) -> bool {
        self.mode == Mode::Managed && self.deposed.is_none()
    }
}

/// A parsed state.
#[derive(Debug, Clone)]
pub struct State {
    pub terraform_version: String,
    pub serial: u64,
    pub lineage: String,
    pub location: StateLocation,
    /// Shared, so that two versions of a state read one after the other hold the resources
    /// they have in common once ([`StateReader::reuse`]).
    pub instances: Vec<Arc<ResourceInstance>>,
}

impl State {
    /// A reference to this state for findings.
    pub fn state_ref(&self) -> StateRef {
        StateRef {
            bucket: self.location.bucket.clone(),
            key: self.location.key.clone(),
            workspace: self.location.workspace(),
            serial: self.serial,
            lineage: self.lineage.clone(),
        }
    }

    /// Managed, current instances.
    pub fn managed(&self) -> impl Iterator<Item = &ResourceInstance> {
        self.instances.iter().map(|i| &**i).filter(|i| i.is_live_managed())
    }
}

/// The live managed instances of two versions of a state that are not the same objects in
/// both (`previous`'s, `current`'s), in state order: all a comparison of the two has to look
/// at. A reader given the other version's elements ([`StateReader::reuse`]) makes an
/// unchanged resource one object in both, and a version holds one live managed object per
/// address, so an address whose object the two share is neither added, removed nor changed.
pub fn unshared<'s>(previous: &'s State, current: &'s State) -> (Vec<&'s ResourceInstance>, Vec<&'s ResourceInstance>) {
    type Objects = std::collections::HashSet<*const ResourceInstance, foldhash::fast::FixedState>;
    let objects = |s: &State| s.instances.iter().map(Arc::as_ptr).collect::<Objects>();
    let (in_previous, in_current) = (objects(previous), objects(current));
    let only = |s: &'s State, other: &Objects| {
        s.instances.iter().filter(|i| i.is_live_managed() && !other.contains(&Arc::as_ptr(i))).map(|i| &**i).collect::<Vec<_>>()
    };
    (only(previous, &in_current), only(current, &in_previous))
}

/// A resource as the one-pass parser produces it.
struct ParsedResource<'a> {
    module: Option<String>,
    mode: Mode,
    rtype: String,
    name: String,
    provider: String,
    instances: Vec<ParsedInstance<'a>>,
}

struct ParsedInstance<'a> {
    index_key: Option<Value>,
    status: Option<String>,
    deposed: Option<String>,
    attributes: Attrs<'a>,
    sensitive_attributes: Option<Value>,
}

/// Attributes: selected during the pass when the resource type was known before its
/// instances (the order Terraform writes), otherwise kept raw and selected afterwards.
enum Attrs<'a> {
    Selected(Map<String, Value>),
    Raw(&'a RawValue),
    Flat,
    None,
}

fn json_error(e: serde_json::Error) -> StateError {
    let msg = e.to_string();
    // serde_json appends " at line L column C"; we format it ourselves.
    let message = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let message = if e.is_eof() { format!("unexpected end of file (truncated?): {message}") } else { message };
    StateError::Json { message, line: e.line(), column: e.column() }
}

fn version_of(v: &Value) -> Result<(), StateError> {
    match v.as_u64() {
        Some(4) => Ok(()),
        _ => Err(StateError::UnsupportedVersion(v.to_string())),
    }
}

/// Parse a state file held in memory.
///
/// `bytes` is the whole file; nothing not needed is copied out of it. One pass: attributes
/// the catalog does not compare are skipped, not built. [`StateReader`] reads the same
/// format as it arrives, resource by resource.
pub fn parse_state(bytes: &[u8], location: StateLocation, catalog: &Catalog, redactor: &Redactor) -> Result<State, StateError> {
    let mut instances = Vec::new();
    let header = StateReader::new(location.clone(), catalog, redactor).read_all(bytes, &mut |i| instances.push(i))?;
    Ok(State::from_parts(header, location, instances))
}

impl State {
    /// A state from what a [`StateReader`] read.
    pub fn from_parts(header: StateHeader, location: StateLocation, instances: Vec<Arc<ResourceInstance>>) -> State {
        State { terraform_version: header.terraform_version, serial: header.serial, lineage: header.lineage, location, instances }
    }
}

/// The instances of one parsed resource, redacted, handed to `out`.
fn emit_resource(
    r: ParsedResource<'_>,
    catalog: &Catalog,
    redactor: &Redactor,
    out: &mut dyn FnMut(ResourceInstance),
) -> Result<(), StateError> {
    let mode = r.mode;
    let spec = catalog.get(&r.rtype);
    let keep = retained(catalog, mode, &r.rtype);
    for inst in r.instances {
        let index_key = match inst.index_key {
            Some(Value::Number(n)) => n.as_i64().map(IndexKey::Int),
            Some(Value::String(s)) => Some(IndexKey::Str(s)),
            _ => None,
        };
        let addr = address::render(r.module.as_deref(), mode == Mode::Data, &r.rtype, &r.name, index_key.as_ref());
        let mut attributes = match inst.attributes {
            Attrs::Selected(m) => Value::Object(m),
            Attrs::Raw(raw) => select(raw, keep).map_err(json_error)?,
            Attrs::Flat => return Err(StateError::LegacyFlatAttributes { address: addr }),
            Attrs::None => Value::Object(Map::new()),
        };
        // 1. anything that looks like a secret
        redactor.scrub(&mut attributes);
        // 2. paths the provider marked sensitive, and attributes the catalog declares
        //    sensitive. A value at a compared attribute is digested in its normalised form,
        //    so that the live side, normalised then digested, compares equal when equal.
        let mut sensitive: Vec<AttrPath> = inst.sensitive_attributes.as_ref().map(sensitive_paths).unwrap_or_default();
        if let Some(s) = spec {
            sensitive.extend(s.attrs.iter().filter(|a| a.sensitive).map(|a| a.tf.clone()));
        }
        for p in &sensitive {
            let norm = spec.and_then(|s| s.attrs.iter().find(|a| &a.tf == p)).map(|a| a.normalize);
            if let Some(v) = p.get_mut(&mut attributes) {
                *v = match norm {
                    Some(n) => redactor.redact(&n.apply(v, &Default::default())),
                    None => redactor.redact(v),
                };
            }
        }
        out(ResourceInstance {
            address: addr,
            module: r.module.clone(),
            mode,
            resource_type: r.rtype.clone(),
            name: r.name.clone(),
            provider: r.provider.clone(),
            index_key,
            tainted: inst.status.as_deref() == Some("tainted"),
            deposed: inst.deposed,
            attributes,
        });
    }
    Ok(())
}

/// Top-level attributes kept for a resource type.
fn retained<'c>(catalog: &'c Catalog, mode: Mode, rtype: &str) -> &'c [String] {
    const IDENTITY: &[String] = &[];
    match (mode, catalog.get(rtype)) {
        (Mode::Managed, Some(s)) => &s.retained,
        (Mode::Managed, None) => catalog.extra_retained(rtype).unwrap_or(IDENTITY),
        _ => IDENTITY,
    }
}

/// A JSON array read element by element with the seed `item` (no intermediate `Value`s).
struct SeqOf<S> {
    item: S,
    /// What the array is, for the error message.
    what: &'static str,
}

impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for SeqOf<S> {
    type Value = Vec<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for SeqOf<S> {
    type Value = Vec<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(x) = seq.next_element_seed(self.item)? {
            out.push(x);
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
struct ResourceSeed<'c> {
    catalog: &'c Catalog,
}

impl<'de> DeserializeSeed<'de> for ResourceSeed<'_> {
    type Value = ParsedResource<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResourceSeed<'_> {
    type Value = ParsedResource<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut module = None;
        let mut mode: Option<Mode> = None;
        let mut rtype: Option<String> = None;
        let mut name: Option<String> = None;
        let mut provider = String::new();
        let mut instances = Vec::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match &*k {
                "module" => module = map.next_value::<Option<String>>()?,
                "mode" => {
                    let m: String = map.next_value()?;
                    mode = Some(if m == "data" { Mode::Data } else { Mode::Managed });
                }
                "type" => rtype = Some(map.next_value()?),
                "name" => name = Some(map.next_value()?),
                "provider" => provider = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "instances" => {
                    // Terraform writes mode and type before instances: select in this pass.
                    let keep = match (&mode, &rtype) {
                        (Some(m), Some(t)) => Some(retained(self.catalog, *m, t)),
                        _ => None,
                    };
                    instances = map.next_value_seed(SeqOf { item: InstanceSeed { keep }, what: "a list of resource instances" })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let rtype = rtype.ok_or_else(|| serde::de::Error::missing_field("type"))?;
        let name = name.ok_or_else(|| serde::de::Error::missing_field("name"))?;
        Ok(ParsedResource { module, mode: mode.unwrap_or(Mode::Managed), rtype, name, provider, instances })
    }
}

#[derive(Clone, Copy)]
struct InstanceSeed<'c> {
    keep: Option<&'c [String]>,
}

impl<'de> DeserializeSeed<'de> for InstanceSeed<'_> {
    type Value = ParsedInstance<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InstanceSeed<'_> {
    type Value = ParsedInstance<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource instance object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut inst = ParsedInstance { index_key: None, status: None, deposed: None, attributes: Attrs::None, sensitive_attributes: None };
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match &*k {
                "index_key" => inst.index_key = map.next_value()?,
                "status" => inst.status = map.next_value()?,
                "deposed" => inst.deposed = map.next_value()?,
                "attributes" => {
                    inst.attributes = match self.keep {
                        Some(keep) => match map.next_value_seed(OptionalSelect { keep })? {
                            Some(m) => Attrs::Selected(m),
                            None => Attrs::None,
                        },
                        None => match map.next_value::<Option<&'de RawValue>>()? {
                            Some(r) => Attrs::Raw(r),
                            None => Attrs::None,
                        },
                    }
                }
                "attributes_flat" => {
                    if map.next_value::<Option<IgnoredAny>>()?.is_some() && matches!(inst.attributes, Attrs::None) {
                        inst.attributes = Attrs::Flat;
                    }
                }
                "sensitive_attributes" => inst.sensitive_attributes = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(inst)
    }
}

/// `null` or an attributes object, selected.
struct OptionalSelect<'k> {
    keep: &'k [String],
}

impl<'de> DeserializeSeed<'de> for OptionalSelect<'_> {
    type Value = Option<Map<String, Value>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalSelect<'_> {
    type Value = Option<Map<String, Value>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attributes object or null")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Select { keep: self.keep }.deserialize(d).map(Some)
    }
}

/// `sensitive_attributes`: a list of cty paths, each a list of steps
/// `{"type":"get_attr","value":"password"}` / `{"type":"index","value":{"value":0,"type":"number"}}`.
fn sensitive_paths(v: &Value) -> Vec<AttrPath> {
    let mut out = Vec::new();
    let Value::Array(paths) = v else { return out };
    for p in paths {
        match p {
            Value::Array(steps) => {
                let mut path = Vec::new();
                for s in steps {
                    let kind = s.get("type").and_then(Value::as_str);
                    let val = s.get("value");
                    match (kind, val) {
                        (Some("get_attr"), Some(Value::String(k))) => path.push(Step::Key(k.clone())),
                        (Some("index"), Some(iv)) => {
                            let inner = iv.get("value").unwrap_or(iv);
                            match inner {
                                Value::Number(n) => path.push(Step::Index(n.as_u64().unwrap_or(0) as usize)),
                                Value::String(k) => path.push(Step::Key(k.clone())),
                                _ => break,
                            }
                        }
                        _ => break,
                    }
                }
                if !path.is_empty() {
                    out.push(AttrPath(path));
                }
            }
            Value::String(s) => {
                if let Ok(p) = AttrPath::parse(s) {
                    out.push(p);
                }
            }
            _ => {}
        }
    }
    out
}

/// Deserialize only the wanted top-level keys of an attributes object.
fn select(raw: &RawValue, keep: &[String]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let map = Select { keep }.deserialize(&mut de)?;
    Ok(Value::Object(map))
}

/// Is `name` one of `keep`? (A few dozen names, asked for every attribute of every instance:
/// the length and first byte rule most out before the bytes are compared.)
#[inline]
fn kept(keep: &[String], name: &str) -> bool {
    let first = name.as_bytes().first();
    keep.iter().any(|w| w.len() == name.len() && w.as_bytes().first() == first && w.as_str() == name)
}

struct Select<'k> {
    keep: &'k [String],
}

/// A JSON member name, borrowed from the input when it holds no escapes (shared with
/// `driftwatch_decode`'s CloudTrail record reader).
pub struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> DeserializeSeed<'de> for Select<'_> {
    type Value = Map<String, Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Select<'_> {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attributes object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if kept(self.keep, &k) {
                out.insert(k.into_owned(), map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<State, StateError> {
        parse_state(text.as_bytes(), StateLocation::local("t.tfstate"), &Catalog::builtin(), &Redactor::new(b"test"))
    }

    #[test]
    fn workspaces() {
        assert_eq!(StateLocation::s3("b", "env:/prod/net/terraform.tfstate").workspace(), "prod");
        assert_eq!(StateLocation::s3("b", "net/terraform.tfstate").workspace(), "default");
        assert_eq!(StateLocation::local("x/terraform.tfstate.d/staging/terraform.tfstate").workspace(), "staging");
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(parse("").unwrap_err(), StateError::Empty);
        assert!(matches!(parse(r#"{"version":3,"modules":[]}"#).unwrap_err(), StateError::UnsupportedVersion(v) if v == "3"));
        assert!(matches!(parse(r#"{"version":5,"resources":[]}"#).unwrap_err(), StateError::UnsupportedVersion(v) if v == "5"));
        let e = parse("{\"version\":4,\n\"resources\":[").unwrap_err();
        assert!(matches!(e, StateError::Json { line: 2, .. }), "{e:?}");
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = parse(r#"{"version":4,"resources":[{"mode":"managed","type":"aws_s3_bucket","name":"b","instances":[{"attributes_flat":{"id":"x"}}]}]}"#).unwrap_err();
        assert_eq!(e, StateError::LegacyFlatAttributes { address: "aws_s3_bucket.b".into() });
    }

    const STREAMED: &str = r#"{
  "version": 4, "terraform_version": "1.11.4", "serial": 9, "lineage": "L-\"quoted\"",
  "outputs": {"db": {"value": "x]}{[", "sensitive": true}},
  "resources": [
    {"module": "module.a[\"k\\\"1\"]", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "provider": "p",
     "instances": [{"index_key": "é\u00e9", "attributes": {"bucket": "b-1", "arn": "arn:aws:s3:::b-1", "policy": "{\"a\":[1,2,{}]}",
       "tags_all": {"Name": "n\\"}, "grant": []}}]},
    {"mode": "managed", "type": "aws_db_instance", "name": "d",
     "instances": [{"attributes": {"resource_id": "db-1", "password": "hunter2", "publicly_accessible": false, "storage_encrypted": true}, "sensitive_attributes": []}]},
    {"instances": [{"attributes": {"id": "late"}}], "mode": "managed", "type": "aws_ebs_volume", "name": "v"}
  ],
  "check_results": null
}
"#;

    fn streamed(text: &[u8], chunk: usize) -> Result<State, StateError> {
        let catalog = Catalog::builtin();
        let redactor = Redactor::new(b"test");
        let loc = StateLocation::local("t.tfstate");
        let mut reader = StateReader::new(loc.clone(), &catalog, &redactor);
        let mut instances = Vec::new();
        for c in text.chunks(chunk.max(1)) {
            reader.feed(c, &mut |i| instances.push(i))?;
        }
        let header = reader.finish(&mut |i| instances.push(i))?;
        Ok(State::from_parts(header, loc, instances))
    }

    #[test]
    fn streaming_in_any_chunks_reads_what_the_whole_file_reads() {
        let whole = parse(STREAMED).unwrap();
        assert_eq!(whole.instances.len(), 3);
        assert_eq!(whole.lineage, "L-\"quoted\"");
        assert_eq!(whole.instances[0].address, "module.a[\"k\\\"1\"].aws_s3_bucket.b[\"éé\"]");
        assert_eq!(whole.instances[2].attributes["id"], "late", "instances before their type are selected afterwards");
        assert!(!format!("{whole:?}").contains("hunter2"));
        for chunk in (1..=64).chain([97, 1000, 1 << 20]) {
            let s = streamed(STREAMED.as_bytes(), chunk).unwrap_or_else(|e| panic!("chunks of {chunk}: {e}"));
            assert_eq!((s.serial, &s.lineage, &s.terraform_version), (whole.serial, &whole.lineage, &whole.terraform_version));
            assert_eq!(s.instances, whole.instances, "chunks of {chunk}");
        }
    }

    /// Elements found by Terraform's layout (each closing `}` on a line of its own, indented
    /// as its opening line) read exactly as the scan reads them, and a file laid out otherwise
    /// — compact, elements closing inline, a line indented like an element's inside one, an
    /// element cut off — is read (or refused) as the scan reads it.
    #[test]
    fn every_layout_of_the_resources_reads_as_the_scan_reads_it() {
        let value: Value = serde_json::from_str(STREAMED).unwrap();
        let compact = serde_json::to_string(&value).unwrap();
        let reference = streamed(compact.as_bytes(), 1 << 20).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        assert!(pretty.contains("\n    }"), "elements close on lines of their own");
        // An inner object closing on a line indented like an element's: still valid JSON.
        let resources = pretty.find("\"resources\"").unwrap();
        let misleading = format!("{}{}", &pretty[..resources], pretty[resources..].replacen("\n          }", "\n    }", 1));
        assert_ne!(misleading, pretty);
        assert_eq!(serde_json::from_str::<Value>(&misleading).unwrap(), value);
        // The first element laid out as Terraform does, the second not.
        let mixed = {
            let resources = pretty.find("\"resources\"").unwrap();
            let first_end = resources + pretty[resources..].find("\n    }").unwrap() + 6;
            let rest: Value = value["resources"].as_array().unwrap()[1..].to_vec().into();
            let rest = serde_json::to_string(&rest).unwrap();
            format!("{},{}],\n  \"serial\": 9, \"version\": 4}}", &pretty[..first_end], &rest[1..rest.len() - 1])
        };
        assert_eq!(serde_json::from_str::<Value>(&mixed).unwrap()["resources"], value["resources"], "{mixed}");
        // ... and one inside the second element, after the first confirmed the layout.
        let second = {
            let first_end = resources + pretty[resources..].find("\n    }").unwrap() + 6;
            format!("{}{}", &pretty[..first_end], pretty[first_end..].replacen("\n          }", "\n    }", 1))
        };
        assert_eq!(serde_json::from_str::<Value>(&second).unwrap(), value);
        let cases = [
            ("pretty", &pretty, true),
            ("misleading", &misleading, false),
            ("misleading second", &second, false),
            // Not disproved before the end: the rest is searched, then scanned.
            ("mixed", &mixed, true),
            ("as written", &STREAMED.to_string(), false),
            ("compact", &compact, false),
        ];
        for (name, text, by_lines) in cases {
            for chunk in [1, 2, 7, 64, 1 << 20] {
                let s = streamed(text.as_bytes(), chunk).unwrap_or_else(|e| panic!("{name} in chunks of {chunk}: {e}"));
                assert_eq!(s.instances, reference.instances, "{name} in chunks of {chunk}");
            }
            let catalog = Catalog::builtin();
            let redactor = Redactor::new(b"test");
            let mut reader = StateReader::new(StateLocation::local("t.tfstate"), &catalog, &redactor);
            reader.feed(text.as_bytes(), &mut |_| {}).unwrap();
            assert_eq!(reader.reads_by_lines(), by_lines, "{name}");
        }
        // Cut inside the last element: the same error as the scan gives.
        let cut = &pretty[..pretty.rfind("\n    }").unwrap()];
        for chunk in [3, 1 << 20] {
            let got = streamed(cut.as_bytes(), chunk).map(|_| ()).unwrap_err();
            let serde = serde_json::from_str::<Value>(cut).unwrap_err();
            match got {
                StateError::Json { line, column, .. } => assert_eq!((line, column), (serde.line(), serde.column()), "chunks of {chunk}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_version_read_after_another_shares_the_resources_they_have_in_common() {
        let catalog = Catalog::builtin();
        let redactor = Redactor::new(b"test");
        let loc = StateLocation::local("t.tfstate");
        let read = |text: &str, chunk: usize, reuse: Option<(Elements, Vec<Arc<ResourceInstance>>)>| {
            let mut reader = StateReader::new(loc.clone(), &catalog, &redactor);
            reader.record_elements();
            if let Some((e, i)) = reuse {
                reader.reuse(e, i);
            }
            let mut instances = Vec::new();
            for c in text.as_bytes().chunks(chunk) {
                reader.feed(c, &mut |i| instances.push(i)).unwrap();
            }
            let (_, elements) = reader.finish_with_elements(&mut |i| instances.push(i)).unwrap();
            (State::from_parts(StateHeader::default(), loc.clone(), instances), elements)
        };
        let (current, elements) = read(STREAMED, 1 << 20, None);
        assert_eq!(elements.len(), 3, "one digest per resource element");
        // The version before: another bucket name, the volume's resource not yet there.
        let before = STREAMED.replace("\"b-1\"", "\"b-0\"").replace(
            r#",
    {"instances": [{"attributes": {"id": "late"}}], "mode": "managed", "type": "aws_ebs_volume", "name": "v"}"#,
            "",
        );
        assert_ne!(before.len(), STREAMED.len());
        for chunk in [1, 5, 64, 1 << 20] {
            let (previous, _) = read(&before, chunk, Some((elements.clone(), current.instances.clone())));
            assert_eq!(previous.instances, parse(&before).unwrap().instances, "the same instances as a read of its own");
            assert_eq!(previous.instances.len(), 2);
            assert!(!Arc::ptr_eq(&previous.instances[0], &current.instances[0]), "the changed bucket is parsed");
            assert_eq!(previous.instances[0].attributes["bucket"], "b-0");
            assert!(Arc::ptr_eq(&previous.instances[1], &current.instances[1]), "the unchanged database is shared, not parsed");
        }
    }

    #[test]
    fn every_truncation_is_an_error_with_its_position() {
        let text = STREAMED.trim_end().as_bytes();
        for cut in 0..text.len() {
            for chunk in [3, 4096] {
                let e = streamed(&text[..cut], chunk).expect_err("a truncated state is an error");
                match &e {
                    StateError::Empty => assert!(text[..cut].iter().all(u8::is_ascii_whitespace)),
                    StateError::Json { line, .. } => {
                        let lines = text[..cut].iter().filter(|b| **b == b'\n').count() + 1;
                        assert!(*line <= lines, "cut {cut}: line {line} of {lines}: {e}");
                    }
                    other => panic!("cut {cut}: {other}"),
                }
            }
        }
        assert!(streamed(text, 5).is_ok());
    }

    #[test]
    fn errors_are_positioned_as_serde_positions_them_in_the_whole_file() {
        for (needle, broken) in [
            ("\"storage_encrypted\": true", "\"storage_encrypted\": tru"),
            ("\"bucket\": \"b-1\",", "\"bucket\": \"b-1\",,"),
            ("\"sensitive\": true}}", "\"sensitive\": tru}}"),
        ] {
            let text = STREAMED.replace(needle, broken);
            let want = serde_json::from_str::<Value>(&text).unwrap_err();
            for chunk in [1, 13, 1 << 20] {
                match streamed(text.as_bytes(), chunk) {
                    Err(StateError::Json { line, column, .. }) => {
                        assert_eq!((line, column), (want.line(), want.column()), "{broken:?} in chunks of {chunk}")
                    }
                    other => panic!("{broken:?}: {other:?}"),
                }
            }
        }
        let e = parse(&format!("{} x", STREAMED.trim_end())).unwrap_err();
        assert!(e.to_string().contains("trailing characters"), "{e}");
    }

    #[test]
    fn keeps_only_catalog_attributes_and_digests_secrets() {
        let s = parse(
            r#"{"version":4,"serial":3,"lineage":"L","resources":[
              {"module":"module.db[\"main\"]","mode":"managed","type":"aws_db_instance","name":"this","provider":"p",
               "instances":[{"index_key":0,"attributes":{"id":"db1","resource_id":"db-ABC","publicly_accessible":false,
                 "password":"hunter2","endpoint":"x.rds","engine":"postgres"},
                 "sensitive_attributes":[[{"type":"get_attr","value":"password"}]]}]},
              {"mode":"data","type":"aws_caller_identity","name":"me","instances":[{"attributes":{"id":"1","account_id":"1"}}]},
              {"mode":"managed","type":"terraform_data","name":"t","instances":[{"status":"tainted","attributes":{"id":"t1","input":{"value":{"password":"x"}}}},
                                                                      {"deposed":"abcd","attributes":{"id":"t0"}}]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(s.instances.len(), 4);
        let db = &s.instances[0];
        assert_eq!(db.address, "module.db[\"main\"].aws_db_instance.this[0]");
        assert!(db.attributes.get("endpoint").is_none(), "computed attribute not retained");
        assert_eq!(db.attributes["publicly_accessible"], false);
        let pw = db.attributes["password"].as_str().unwrap();
        assert!(pw.starts_with(crate::redact::REDACTED_PREFIX));
        assert_eq!(s.instances[1].address, "data.aws_caller_identity.me");
        assert_eq!(s.instances[1].mode, Mode::Data);
        assert!(s.instances[2].tainted);
        assert_eq!(s.instances[3].deposed.as_deref(), Some("abcd"));
        assert_eq!(s.managed().count(), 2);
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
