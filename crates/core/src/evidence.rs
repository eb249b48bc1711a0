//! Tamper-evident evidence: content-addressed records and hash-chained, signed digests.
//!
//! The model is CloudTrail log-file integrity validation:
//!
//! * every **record** (an input signal behind a finding, a finding state change, a notice, an
//!   alert, a report) is canonical JSON (sorted keys, no insignificant white space, no secrets)
//!   stored write-once under `<prefix>/<yyyy>/<mm>/<dd>/<kind>/<sha256>.json`, where the date is
//!   the day it is written; writing the same record twice is a no-op because the key *is* the
//!   content hash;
//! * a sealer periodically writes a **digest** listing the key and SHA-256 of every record not
//!   yet covered by a digest, the previous digest's key, hash and signature, its own time window
//!   and sequence number, and an Ed25519 signature over all of that, with the public key's
//!   fingerprint; an empty window still gets a digest, so a gap is visible. A digest's key is
//!   its sequence number alone (`digests/<sequence / 1000 :07>/<sequence:010>.json`) and it is
//!   written write-once (`If-None-Match: *` on S3), so two sealers racing for the same number
//!   cannot fork the chain: one wins, the other re-reads the chain and continues it;
//! * the **verifier** recomputes every hash, walks the chain and checks every signature, and
//!   names each problem: record modified, record missing, record not named by its content's
//!   hash, record not covered by any digest (inserted), digest missing, digest modified
//!   (including a digest key with more than one object version: overwritten), chain broken,
//!   bad signature. A record's key carries the day it was written; a record written that day
//!   is stored by the next midnight plus [`LATE_WRITE_GRACE`]. So an uncovered record whose day
//!   ended more than the grace before the last digest's window end was there when that digest
//!   was sealed: it is *inserted* into a sealed window, and no later seal covers it either.
//!   Other uncovered records are *pending* the next seal.
//!
//! Storage is behind the [`EvidenceStore`] port (a local directory in the CLI, S3 with Object
//! Lock in AWS). Everything here is computation over what the port returns.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Digest format version.
pub const DIGEST_VERSION: u32 = 1;

/// Errors of the evidence layer.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence store: {0}")]
    Store(String),
    #[error("refusing to overwrite evidence object {key}: it exists with different content")]
    Conflict { key: String },
    #[error("invalid record kind {0:?}: use lower-case letters, digits, '.', '_' or '-'")]
    BadKind(String),
    #[error("invalid signing key: {0}")]
    Key(String),
    #[error("digest {key} cannot be read: {message}")]
    BadDigest { key: String, message: String },
    #[error("sealing lost the race {attempts} times: another sealer wrote {key} first each time; the next run continues the chain")]
    SealLost { key: String, attempts: u32 },
}

/// What a write-once put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// The object exists with identical content: nothing written.
    AlreadyPresent,
}

/// A listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub last_modified: Option<DateTime<Utc>>,
}

/// One stored version of an object (S3 keeps every version in a versioned bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: Option<String>,
    /// A delete marker (a deletion without a version id), not content.
    pub delete_marker: bool,
    pub last_modified: Option<DateTime<Utc>>,
}

/// Port: write-once object storage for evidence.
pub trait EvidenceStore {
    /// Write `bytes` under `key` unless it exists. Identical content → `AlreadyPresent`;
    /// different content → [`EvidenceError::Conflict`] (on S3: `If-None-Match: *`, so of two
    /// concurrent writers of one key exactly one creates it).
    fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError>;
    /// Read an object; `None` if absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError>;
    /// Every key under `prefix`, in lexicographic order.
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError>;
    /// The "directories" right under `prefix` (which ends in `/`): each `<prefix><name>/` that
    /// has an object below it, in lexicographic order. S3 answers it in one delimited listing;
    /// the default derives it from [`list`](Self::list).
    fn prefixes(&self, prefix: &str) -> Result<Vec<String>, EvidenceError> {
        let mut out: Vec<String> = self
            .list(prefix)?
            .into_iter()
            .filter_map(|l| l.key.strip_prefix(prefix).and_then(|r| r.split_once('/')).map(|(dir, _)| format!("{prefix}{dir}/")))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
    /// Every stored version of every object under `prefix`, delete markers included. A store
    /// that keeps no versions (a directory, memory) has one version per object: the default.
    fn versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>, EvidenceError> {
        Ok(self
            .list(prefix)?
            .into_iter()
            .map(|l| ObjectVersion { key: l.key, version_id: None, delete_marker: false, last_modified: l.last_modified })
            .collect())
    }
}

/// In-memory store, for unit tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    pub objects: BTreeMap<String, Vec<u8>>,
}

impl EvidenceStore for MemoryStore {
    fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError> {
        match self.objects.get(key) {
            Some(existing) if existing == bytes => Ok(PutOutcome::AlreadyPresent),
            Some(_) => Err(EvidenceError::Conflict { key: key.to_string() }),
            None => {
                self.objects.insert(key.to_string(), bytes.to_vec());
                Ok(PutOutcome::Created)
            }
        }
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
        Ok(self.objects.get(key).cloned())
    }
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError> {
        Ok(self
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| Listed { key: k.clone(), last_modified: None })
            .collect())
    }
}

/// SHA-256, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::redact::hex(&Sha256::digest(bytes))
}

/// Canonical JSON bytes: keys sorted (serde_json's map is ordered), compact.
pub fn canonical_bytes(v: &Value) -> Vec<u8> {
    // serde_json::Map is a BTreeMap (no `preserve_order`), so to_vec sorts keys.
    serde_json::to_vec(v).unwrap_or_default()
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// One evidence record before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: String,
    /// When the evidenced thing happened (event time, finding change time, send time).
    pub time: DateTime<Utc>,
    /// Content; must hold no secret (callers pass redacted values).
    pub body: Value,
}

impl Record {
    /// The canonical bytes of the record: the same record always gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = serde_json::json!({
            "kind": self.kind,
            "time": self.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            "body": self.body,
        });
        canonical_bytes(&v)
    }

    /// `<prefix>/<yyyy>/<mm>/<dd>/<kind>/<sha256>.json` for these bytes written on `written`.
    pub fn key(&self, prefix: &str, bytes: &[u8], written: DateTime<Utc>) -> String {
        format!("{}{}/{}/{}.json", norm_prefix(prefix), day_path(written), self.kind, sha256_hex(bytes))
    }
}

fn day_path(t: DateTime<Utc>) -> String {
    format!("{:04}/{:02}/{:02}", t.year(), t.month(), t.day())
}

/// How long after its write time (the day in its key) a record may still be stored: a slow
/// writer's delay. A Lambda runs at most 15 minutes, so a record dated by its invocation's
/// clock is stored within that. A record not covered by any digest whose day ended more than
/// this before a digest's window end was already there when that digest was sealed, so it was
/// inserted afterwards.
pub const LATE_WRITE_GRACE: chrono::Duration = chrono::Duration::minutes(15);

/// The latest time a record with this key can have been written: the end of the day in its
/// key (`<yyyy>/<mm>/<dd>/…`), if it has one.
fn key_written_by(prefix: &str, key: &str) -> Option<DateTime<Utc>> {
    let rest = key.strip_prefix(&norm_prefix(prefix))?;
    let day = chrono::NaiveDate::parse_from_str(rest.get(..10)?, "%Y/%m/%d").ok()?;
    Some(day.succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Was a record with this key necessarily stored by `sealed_until` (a digest's window end)?
fn sealed_before(prefix: &str, key: &str, sealed_until: DateTime<Utc>) -> bool {
    key_written_by(prefix, key).is_none_or(|by| by + LATE_WRITE_GRACE <= sealed_until)
}

fn norm_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// Write a record (write-once) on day `written` (the writer's clock). Returns its key and
/// whether it was new.
pub fn write_record(
    store: &mut dyn EvidenceStore,
    prefix: &str,
    record: &Record,
    written: DateTime<Utc>,
) -> Result<(String, PutOutcome), EvidenceError> {
    if !valid_kind(&record.kind) {
        return Err(EvidenceError::BadKind(record.kind.clone()));
    }
    let bytes = record.to_bytes();
    let key = record.key(prefix, &bytes, written);
    let outcome = store.put_new(&key, &bytes)?;
    Ok((key, outcome))
}

/// Signing key for digests.
pub struct Signer25519 {
    key: SigningKey,
}

impl std::fmt::Debug for Signer25519 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer25519({})", self.fingerprint())
    }
}

impl Signer25519 {
    /// From a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Signer25519 { key: SigningKey::from_bytes(&seed) }
    }

    /// From key text: a PKCS#8 PEM (`openssl genpkey -algorithm ed25519`) or 64 hex
    /// characters of seed.
    pub fn from_text(text: &str) -> Result<Self, EvidenceError> {
        let t = text.trim();
        if t.starts_with("-----BEGIN") {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            return SigningKey::from_pkcs8_pem(t).map(|key| Signer25519 { key }).map_err(|e| EvidenceError::Key(e.to_string()));
        }
        Ok(Self::from_seed(parse_hex32(t)?))
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey { key: Key::Ed25519(self.key.verifying_key()) }
    }

    /// Fingerprint of the public key.
    pub fn fingerprint(&self) -> String {
        self.public().fingerprint()
    }
}

/// What signs digests: an Ed25519 key ([`Signer25519`], from a file or a secret), or a key that
/// never leaves AWS KMS (`driftwatch_aws::KmsSigner`).
pub trait DigestSigner {
    /// The key that verifies what this signs.
    fn public(&self) -> PublicKey;
    /// The signature of `message` (hex), in the form [`PublicKey`] verifies.
    fn sign(&self, message: &[u8]) -> Result<String, EvidenceError>;
}

impl DigestSigner for Signer25519 {
    fn public(&self) -> PublicKey {
        Signer25519::public(self)
    }
    fn sign(&self, message: &[u8]) -> Result<String, EvidenceError> {
        Ok(crate::redact::hex(&self.key.sign(message).to_bytes()))
    }
}

/// The algorithm name of ECDSA P-256 signatures over SHA-256 (as AWS KMS names it).
pub const ECDSA_SHA_256: &str = "ECDSA_SHA_256";

/// A verification key: Ed25519, or ECDSA P-256 (an AWS KMS `ECC_NIST_P256` signing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: Key,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Ed25519(VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// From key text: a SPKI PEM (`openssl pkey -pubout`, or AWS KMS's public key as PEM) of an
    /// Ed25519 or P-256 key; 64 hex characters (Ed25519); or the hex of a DER SPKI (what
    /// `aws kms get-public-key` returns, in hex: a P-256 key).
    pub fn from_text(text: &str) -> Result<Self, EvidenceError> {
        let t = text.trim();
        if t.starts_with("-----BEGIN") {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            if let Ok(key) = VerifyingKey::from_public_key_pem(t) {
                return Ok(PublicKey { key: Key::Ed25519(key) });
            }
            return p256::ecdsa::VerifyingKey::from_public_key_pem(t)
                .map(|key| PublicKey { key: Key::P256(key) })
                .map_err(|e| EvidenceError::Key(format!("neither an Ed25519 nor a P-256 public key: {e}")));
        }
        if t.len() == 64 {
            return VerifyingKey::from_bytes(&parse_hex32(t)?)
                .map(|key| PublicKey { key: Key::Ed25519(key) })
                .map_err(|e| EvidenceError::Key(e.to_string()));
        }
        PublicKey::from_der(&parse_hex_vec(t)?)
    }

    /// From the DER SPKI of a P-256 key (AWS KMS `GetPublicKey`).
    pub fn from_der(der: &[u8]) -> Result<Self, EvidenceError> {
        use p256::pkcs8::DecodePublicKey as _;
        p256::ecdsa::VerifyingKey::from_public_key_der(der)
            .map(|key| PublicKey { key: Key::P256(key) })
            .map_err(|e| EvidenceError::Key(format!("not a P-256 public key: {e}")))
    }

    /// The key as a digest records it: 64 hex characters (Ed25519), or the hex of its DER
    /// SPKI (P-256).
    pub fn to_hex(&self) -> String {
        crate::redact::hex(&self.bytes())
    }

    /// A SPKI PEM of the key (what `driftwatch verify --public-key` reads).
    pub fn to_pem(&self) -> String {
        match &self.key {
            Key::Ed25519(k) => {
                use ed25519_dalek::pkcs8::EncodePublicKey;
                k.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap_or_default()
            }
            Key::P256(k) => {
                use p256::pkcs8::EncodePublicKey as _;
                k.to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap_or_default()
            }
        }
    }

    /// The algorithm a digest signed by this key names (`""` for Ed25519).
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Ed25519(_) => "",
            Key::P256(_) => ECDSA_SHA_256,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match &self.key {
            Key::Ed25519(k) => k.as_bytes().to_vec(),
            Key::P256(k) => {
                use p256::pkcs8::EncodePublicKey as _;
                k.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
            }
        }
    }

    /// `SHA256:<first 32 hex of sha256(public key bytes)>` (the raw key for Ed25519, the DER
    /// SPKI for P-256).
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", &sha256_hex(&self.bytes())[..32])
    }

    fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        match &self.key {
            Key::Ed25519(k) => {
                let Ok(bytes) = parse_hex64(signature_hex) else { return false };
                k.verify(message, &ed25519_dalek::Signature::from_bytes(&bytes)).is_ok()
            }
            Key::P256(k) => {
                let Ok(der) = parse_hex_vec(signature_hex) else { return false };
                let Ok(sig) = p256::ecdsa::Signature::from_der(&der) else { return false };
                p256::ecdsa::signature::Verifier::verify(k, p256_signed_message(message).as_bytes(), &sig).is_ok()
            }
        }
    }
}

/// What an ECDSA P-256 digest signature covers: the hex SHA-256 of the digest's signed bytes
/// (64 ASCII characters, signed with `ECDSA_SHA_256` as a `RAW` message). KMS signs raw
/// messages of at most 4 KB and a digest listing many records is longer; its hash is not.
pub fn p256_signed_message(message: &[u8]) -> String {
    sha256_hex(message)
}

/// Hex of any even length.
fn parse_hex_vec(t: &str) -> Result<Vec<u8>, EvidenceError> {
    let t = t.trim();
    if t.is_empty() || t.len() % 2 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EvidenceError::Key("expected hex characters or a PEM key".into()));
    }
    (0..t.len()).step_by(2).map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(|e| EvidenceError::Key(e.to_string()))).collect()
}

fn parse_hex<const N: usize>(t: &str) -> Result<[u8; N], EvidenceError> {
    let t = t.trim();
    if t.len() != 2 * N || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EvidenceError::Key(format!("expected {} hex characters or a PEM key", 2 * N)));
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|e| EvidenceError::Key(e.to_string()))?;
    }
    Ok(out)
}

fn parse_hex32(t: &str) -> Result<[u8; 32], EvidenceError> {
    parse_hex::<32>(t)
}

fn parse_hex64(t: &str) -> Result<[u8; 64], EvidenceError> {
    parse_hex::<64>(t)
}

/// A covered record in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub key: String,
    pub sha256: String,
}

/// Link to the previous digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousDigest {
    pub key: String,
    pub sha256: String,
    pub signature: String,
}

/// A digest file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestFile {
    pub version: u32,
    pub sequence: u64,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub previous: Option<PreviousDigest>,
    pub records: Vec<DigestEntry>,
    pub public_key: String,
    pub public_key_fingerprint: String,
    /// How the digest is signed: absent for Ed25519 (every digest before KMS signing, so
    /// their signed bytes are unchanged), `ECDSA_SHA_256` for a P-256 key inside AWS KMS.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature_algorithm: String,
    /// Signature (hex) over the canonical JSON of every other field: Ed25519's 64 bytes, or an
    /// ECDSA signature in DER.
    #[serde(default)]
    pub signature: String,
}

impl DigestFile {
    fn signed_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("signature");
        }
        canonical_bytes(&v)
    }

    fn to_bytes(&self) -> Vec<u8> {
        canonical_bytes(&serde_json::to_value(self).unwrap_or(Value::Null))
    }
}

/// How many digests share a partition of the digest keys.
pub const DIGEST_PARTITION: u64 = 1_000;

/// Key of a digest: `<prefix>/digests/<sequence / 1000 :07>/<sequence:010>.json`. The sequence
/// number alone decides it, so two sealers that both write sequence N write the same key and
/// the store's write-once put lets exactly one of them win: the chain cannot fork. The
/// partition keeps finding the newest digest cheap: one delimited listing of `digests/` (one
/// name per thousand digests) and one listing of the newest partition (at most a thousand
/// keys).
///
/// Stores sealed before this layout hold `<prefix>/digests/<yyyy>/<mm>/<dd>/<sequence:010>-
/// <yyyymmddThhmmssZ>.json`: the verifier reads both (it orders digests by the sequence inside
/// them), and the sealer finds the newest of those by day when no partition exists yet.
pub fn digest_key(prefix: &str, sequence: u64) -> String {
    format!("{}digests/{:07}/{:010}.json", norm_prefix(prefix), sequence / DIGEST_PARTITION, sequence)
}

/// `Some(partition)` for a `<root><7 digits>/` directory of the sequence layout.
fn partition_dir<'a>(root: &str, dir: &'a str) -> Option<&'a str> {
    let name = dir.strip_prefix(root)?.strip_suffix('/')?;
    (name.len() == 7 && name.bytes().all(|b| b.is_ascii_digit())).then_some(name)
}

/// Is this a `<root><yyyy>/` directory of the layout before sequence keys?
fn legacy_year_dir(root: &str, dir: &str) -> bool {
    dir.strip_prefix(root).and_then(|d| d.strip_suffix('/')).is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
}

fn is_digest_key(prefix: &str, key: &str) -> bool {
    key.starts_with(&format!("{}digests/", norm_prefix(prefix)))
}

/// A stored digest: key, bytes, parsed.
type StoredDigest = (String, Vec<u8>, DigestFile);

/// Read every digest under `prefix`, parsed, in sequence order. Unparseable digests are
/// returned as (key, error) next to the good ones.
#[allow(clippy::type_complexity)]
fn load_digests(store: &dyn EvidenceStore, prefix: &str) -> Result<(Vec<StoredDigest>, Vec<(String, String)>), EvidenceError> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for l in store.list(&format!("{}digests/", norm_prefix(prefix)))? {
        let Some(bytes) = store.get(&l.key)? else { continue };
        match serde_json::from_slice::<DigestFile>(&bytes) {
            Ok(d) => good.push((l.key, bytes, d)),
            Err(e) => bad.push((l.key, e.to_string())),
        }
    }
    good.sort_by_key(|(_, _, d)| d.sequence);
    Ok((good, bad))
}

/// Outcome of sealing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key: String,
    pub sequence: u64,
    pub records: usize,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// A new digest was written (`false`: nothing new since the last digest, which already
    /// ends at or after the requested window end).
    pub written: bool,
    /// Records not sealed because their content's SHA-256 is not their name (overwritten
    /// before sealing, or inserted under a made-up name): left uncovered, which the verifier
    /// reports.
    pub refused: Vec<String>,
    /// Records not sealed because a digest had already sealed their day (they were stored
    /// after that seal, later than [`LATE_WRITE_GRACE`] after their day): inserted into a sealed
    /// window. Left uncovered, which the verifier reports.
    pub inserted: Vec<String>,
}

/// The SHA-256 a record's key names (`…/<sha256>.json`).
fn named_hash(key: &str) -> Option<&str> {
    key.rsplit('/').next()?.strip_suffix(".json").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How many days back [`seal`] looks for the last digest before it reads the whole history.
pub const SEAL_LOOKBACK_DAYS: i64 = 400;

/// Records and digests of the days [`seal`] reads: from the day before the last digest's day
/// up to the new window's day (`None`: everything, when there is no recent digest).
fn recent_days(last_end: DateTime<Utc>, window_end: DateTime<Utc>) -> Option<Vec<String>> {
    let first = (last_end - chrono::Duration::days(1)).date_naive();
    let last = window_end.max(last_end).date_naive();
    if (last - first).num_days() > SEAL_LOOKBACK_DAYS {
        return None;
    }
    Some(first.iter_days().take_while(|d| *d <= last).map(|d| d.format("%Y/%m/%d").to_string()).collect())
}

fn read_digest(store: &dyn EvidenceStore, key: &str) -> Result<Option<StoredDigest>, EvidenceError> {
    let Some(bytes) = store.get(key)? else { return Ok(None) };
    let d = serde_json::from_slice::<DigestFile>(&bytes)
        .map_err(|e| EvidenceError::BadDigest { key: key.to_string(), message: e.to_string() })?;
    Ok(Some((key.to_string(), bytes, d)))
}

/// The newest digest: the highest key of the newest partition (one delimited listing and one
/// listing of at most [`DIGEST_PARTITION`] keys). A store sealed only in the layout before
/// sequence keys is looked up day by day instead, from two days after `until` back at most
/// [`SEAL_LOOKBACK_DAYS`] (one listing a day). `None` when there is no digest (or none that
/// recent in the old layout).
fn latest_digest(store: &dyn EvidenceStore, prefix: &str, until: DateTime<Utc>) -> Result<Option<StoredDigest>, EvidenceError> {
    let root = format!("{}digests/", norm_prefix(prefix));
    let dirs = store.prefixes(&root)?;
    if let Some(part) = dirs.iter().filter_map(|d| partition_dir(&root, d)).max() {
        let listed = store.list(&format!("{root}{part}/"))?;
        if let Some(l) = listed.iter().filter(|l| l.key.ends_with(".json")).max_by(|a, b| a.key.cmp(&b.key)) {
            return read_digest(store, &l.key)?
                .ok_or_else(|| EvidenceError::BadDigest { key: l.key.clone(), message: "listed but gone".into() })
                .map(Some);
        }
    }
    if !dirs.iter().any(|d| legacy_year_dir(&root, d)) {
        return Ok(None);
    }
    // Two days ahead too: a digest sealed with a later clock (another sealer's skew, or a
    // `--now` in the past) must still be the one chained to.
    let today = until.date_naive() + chrono::Duration::days(2);
    for back in 0..=SEAL_LOOKBACK_DAYS + 2 {
        let day = today - chrono::Duration::days(back);
        let listed = store.list(&format!("{root}{}/", day.format("%Y/%m/%d")))?;
        if let Some(l) = listed.iter().max_by(|a, b| a.key.cmp(&b.key)) {
            return read_digest(store, &l.key)?
                .ok_or_else(|| EvidenceError::BadDigest { key: l.key.clone(), message: "listed but gone".into() })
                .map(Some);
        }
    }
    Ok(None)
}

/// The digests that may cover records of the days [`seal`] reads: the newest, then back along
/// the chain's links while they end on or after the first of those days.
fn recent_digests(store: &dyn EvidenceStore, head: StoredDigest, since: DateTime<Utc>) -> Result<Vec<StoredDigest>, EvidenceError> {
    let mut out = vec![head];
    while let Some((_, _, d)) = out.last() {
        if d.window_end < since {
            break;
        }
        let Some(link) = d.previous.clone() else { break };
        match read_digest(store, &link.key)? {
            Some(prev) => out.push(prev),
            // A predecessor gone: the verifier reports it; seal with what is left.
            None => break,
        }
    }
    out.reverse();
    Ok(out)
}

/// How many times [`seal`] tries when another sealer writes the same sequence number first.
pub const SEAL_ATTEMPTS: u32 = 3;

/// Seal every record not covered by an earlier digest into a new digest ending at
/// `window_end`, chained to the last one and signed.
///
/// Several sealers may run at once (the sweeper, and `driftwatch evidence seal`): the digest's
/// key is its sequence number and the write is write-once, so when another sealer wrote that
/// sequence number first, this one re-reads the chain and seals again on top of it (nothing
/// left to seal is the usual outcome), at most [`SEAL_ATTEMPTS`] times, then reports
/// [`EvidenceError::SealLost`]; the next run continues the chain.
///
/// The cost is proportional to what is recent, not to the history: it finds the last digest
/// from the newest key partition, then reads the records of the days from the day before the
/// last digest's up to the new window's (a record written just before midnight and stored
/// after a seal is still found the next day) and the digests that end in those days. Records of
/// older days are covered by then — the verifier reports an uncovered one as inserted. Without
/// a digest in the last [`SEAL_LOOKBACK_DAYS`] days, it reads everything.
///
/// A record whose day a digest already sealed ([`LATE_WRITE_GRACE`]) is never sealed: it was
/// inserted afterwards ([`Sealed::inserted`]), and stays uncovered for the verifier to report.
pub fn seal(
    store: &mut dyn EvidenceStore,
    prefix: &str,
    signer: &dyn DigestSigner,
    window_end: DateTime<Utc>,
) -> Result<Sealed, EvidenceError> {
    let mut lost = String::new();
    for _ in 0..SEAL_ATTEMPTS {
        let recent = match latest_digest(store, prefix, window_end)? {
            None => None,
            Some(head) => match recent_days(head.2.window_end, window_end) {
                None => None,
                Some(days) => {
                    let since =
                        (head.2.window_end - chrono::Duration::days(1)).date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
                    Some((days, recent_digests(store, head, since)?))
                }
            },
        };
        match seal_days(store, prefix, signer, window_end, recent) {
            Err(EvidenceError::Conflict { key }) if is_digest_key(prefix, &key) || key.contains("/digests/") => lost = key,
            other => return other,
        }
    }
    Err(EvidenceError::SealLost { key: lost, attempts: SEAL_ATTEMPTS })
}

/// [`seal`] reading the whole history (every digest and every record), as the first seal of
/// a store does. For comparison in the benchmark and the tests.
pub fn seal_reading_everything(
    store: &mut dyn EvidenceStore,
    prefix: &str,
    signer: &dyn DigestSigner,
    window_end: DateTime<Utc>,
) -> Result<Sealed, EvidenceError> {
    seal_days(store, prefix, signer, window_end, None)
}

fn seal_days(
    store: &mut dyn EvidenceStore,
    prefix: &str,
    signer: &dyn DigestSigner,
    window_end: DateTime<Utc>,
    recent: Option<(Vec<String>, Vec<StoredDigest>)>,
) -> Result<Sealed, EvidenceError> {
    let p = norm_prefix(prefix);
    // The digests that may cover the records read, and the records.
    let (digests, listed) = match recent {
        None => {
            let (digests, bad) = load_digests(store, prefix)?;
            if let Some((key, message)) = bad.into_iter().next() {
                return Err(EvidenceError::BadDigest { key, message });
            }
            (digests, store.list(&p)?)
        }
        Some((days, digests)) => {
            let mut listed = Vec::new();
            for day in days {
                listed.extend(store.list(&format!("{p}{day}/"))?);
            }
            (digests, listed)
        }
    };
    let covered: BTreeSet<String> = digests.iter().flat_map(|(_, _, d)| d.records.iter().map(|r| r.key.clone())).collect();
    let last = digests.last();
    let window_start = last.map(|(_, _, d)| d.window_end).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let window_end = window_end.max(window_start);
    let mut entries = Vec::new();
    let mut refused = Vec::new();
    let mut inserted = Vec::new();
    for l in listed {
        if is_digest_key(prefix, &l.key) || covered.contains(&l.key) || !l.key.ends_with(".json") {
            continue;
        }
        // A record of a day the last digest already sealed was stored after that seal: it
        // was inserted into a sealed window, and vouching for it now would launder it.
        if last.is_some() && sealed_before(prefix, &l.key, window_start) {
            inserted.push(l.key);
            continue;
        }
        let Some(bytes) = store.get(&l.key)? else { continue };
        let sha256 = sha256_hex(&bytes);
        // A record is named by its content's hash: one whose content is not what its name
        // says was overwritten or made up, and is not vouched for.
        if named_hash(&l.key) != Some(sha256.as_str()) {
            refused.push(l.key);
            continue;
        }
        entries.push(DigestEntry { key: l.key, sha256 });
    }
    if let Some((key, _, d)) = last.filter(|(_, _, d)| entries.is_empty() && d.window_end >= window_end) {
        // Nothing new and the window already sealed (a rerun, a redelivered schedule, or
        // another sealer that just sealed it): the last digest stands; writing another would
        // only add an empty link.
        return Ok(Sealed {
            key: key.clone(),
            sequence: d.sequence,
            records: 0,
            window_start: d.window_start,
            window_end: d.window_end,
            written: false,
            refused,
            inserted,
        });
    }
    let sequence = last.map(|(_, _, d)| d.sequence + 1).unwrap_or(0);
    let previous =
        last.map(|(key, bytes, d)| PreviousDigest { key: key.clone(), sha256: sha256_hex(bytes), signature: d.signature.clone() });
    let public = signer.public();
    let mut d = DigestFile {
        version: DIGEST_VERSION,
        sequence,
        window_start,
        window_end,
        previous,
        records: entries,
        public_key: public.to_hex(),
        public_key_fingerprint: public.fingerprint(),
        signature_algorithm: public.algorithm().to_string(),
        signature: String::new(),
    };
    d.signature = signer.sign(&d.signed_bytes())?;
    let key = digest_key(prefix, sequence);
    store.put_new(&key, &d.to_bytes())?;
    Ok(Sealed { key, sequence, records: d.records.len(), window_start, window_end, written: true, refused, inserted })
}

/// A problem the verifier found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// A record's content no longer matches the hash its digest recorded.
    RecordModified { key: String, digest: String },
    /// A record a digest lists is gone.
    RecordMissing { key: String, digest: String },
    /// A record no digest covers although the day in its key was sealed (it ended more than
    /// [`LATE_WRITE_GRACE`] before the last digest's window end): inserted into a sealed window.
    RecordNotCovered { key: String },
    /// A record whose content's SHA-256 is not its name: overwritten before it was sealed, or
    /// inserted under a made-up name.
    RecordNotContentAddressed { key: String },
    /// A digest is unreadable, its content no longer matches the hash the next digest
    /// recorded, or its key holds more than one object version (overwritten).
    DigestModified { key: String, detail: String },
    /// A sequence number is absent from the chain.
    DigestMissing { sequence: u64, expected_key: Option<String> },
    /// A digest's link to its predecessor does not match the predecessor.
    ChainBroken { key: String, detail: String },
    /// A digest's signature does not verify with the trusted key.
    BadSignature { key: String, detail: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::RecordModified { key, digest } => write!(f, "record modified: {key} (hash differs from digest {digest})"),
            Problem::RecordMissing { key, digest } => write!(f, "record missing: {key} (listed in digest {digest})"),
            Problem::RecordNotCovered { key } => {
                write!(f, "record not covered by any digest although its day was sealed (inserted into a sealed window): {key}")
            }
            Problem::RecordNotContentAddressed { key } => {
                write!(f, "record not named by its content's hash (overwritten before sealing, or inserted under a made-up name): {key}")
            }
            Problem::DigestModified { key, detail } => write!(f, "digest modified: {key}: {detail}"),
            Problem::DigestMissing { sequence, expected_key } => match expected_key {
                Some(k) => write!(f, "digest missing: sequence {sequence} ({k})"),
                None => write!(f, "digest missing: sequence {sequence} (the chain stops before the end of the period)"),
            },
            Problem::ChainBroken { key, detail } => write!(f, "chain broken at {key}: {detail}"),
            Problem::BadSignature { key, detail } => write!(f, "bad signature: {key}: {detail}"),
        }
    }
}

/// What verification proved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub digests: usize,
    pub records_verified: usize,
    /// Records written after the last digest's window: not yet sealed, not a problem.
    pub records_pending: usize,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    /// Fingerprint of the key the signatures were checked against.
    pub key_fingerprint: Option<String>,
    /// True when no trusted key was given and the digests' own key was used.
    pub key_from_digests: bool,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verify a store. `trusted`: the public key to check signatures with; without it the key
/// recorded in the first digest is used (and reported, so it can be compared out of band).
/// `from`/`to` restrict the check to digests whose window overlaps that range.
pub fn verify(
    store: &dyn EvidenceStore,
    prefix: &str,
    trusted: Option<&PublicKey>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Report, EvidenceError> {
    let mut report = Report::default();
    let (digests, bad) = load_digests(store, prefix)?;
    for (key, message) in bad {
        report.problems.push(Problem::DigestModified { key, detail: format!("not a valid digest: {message}") });
    }
    // A digest is written once: a key with a second version was overwritten (where Object Lock
    // is not in force, or around it), whatever the current version says.
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for v in store.versions(&format!("{}digests/", norm_prefix(prefix)))? {
        if !v.delete_marker {
            *versions.entry(v.key).or_default() += 1;
        }
    }
    for (key, n) in versions.into_iter().filter(|(_, n)| *n > 1) {
        report.problems.push(Problem::DigestModified { key, detail: format!("overwritten: {n} versions") });
    }
    let key_owned;
    let key: Option<&PublicKey> = match trusted {
        Some(k) => Some(k),
        None => {
            report.key_from_digests = true;
            key_owned = digests.first().and_then(|(_, _, d)| PublicKey::from_text(&d.public_key).ok());
            key_owned.as_ref()
        }
    };
    report.key_fingerprint = key.map(PublicKey::fingerprint);

    // The chain, in sequence order.
    let mut expected_seq = 0u64;
    let mut prev: Option<&StoredDigest> = None;
    let mut covered: BTreeMap<String, (String, String)> = BTreeMap::new(); // record key -> (sha, digest key)
    for entry in &digests {
        let (dkey, _, d) = entry;
        while d.sequence > expected_seq {
            // The digest right before this one is named by this one's link.
            let expected_key = d.previous.as_ref().filter(|_| expected_seq + 1 == d.sequence).map(|l| l.key.clone());
            report.problems.push(Problem::DigestMissing { sequence: expected_seq, expected_key });
            expected_seq += 1;
        }
        if d.sequence < expected_seq {
            report.problems.push(Problem::ChainBroken { key: dkey.clone(), detail: format!("duplicate sequence {}", d.sequence) });
            continue;
        }
        expected_seq = d.sequence + 1;
        // Signature.
        match key {
            Some(k) => {
                if d.public_key_fingerprint != k.fingerprint() {
                    report.problems.push(Problem::BadSignature {
                        key: dkey.clone(),
                        detail: format!("signed by key {} but the trusted key is {}", d.public_key_fingerprint, k.fingerprint()),
                    });
                } else if d.signature_algorithm != k.algorithm() {
                    report.problems.push(Problem::BadSignature {
                        key: dkey.clone(),
                        detail: format!("signature algorithm {:?} is not the trusted key's", d.signature_algorithm),
                    });
                } else if !k.verify(&d.signed_bytes(), &d.signature) {
                    report.problems.push(Problem::BadSignature {
                        key: dkey.clone(),
                        detail: "signature does not verify (content altered after signing?)".into(),
                    });
                }
            }
            None => report.problems.push(Problem::BadSignature { key: dkey.clone(), detail: "no usable public key".into() }),
        }
        // Link to the previous digest (which must be the one with sequence - 1).
        match (&d.previous, prev) {
            (None, None) if d.sequence == 0 => {}
            (None, _) => report.problems.push(Problem::ChainBroken { key: dkey.clone(), detail: "no link to a previous digest".into() }),
            (Some(link), Some((pkey, pbytes, pd))) if pd.sequence + 1 == d.sequence => {
                if &link.key != pkey {
                    report.problems.push(Problem::ChainBroken {
                        key: dkey.clone(),
                        detail: format!("links to {} but the previous digest is {pkey}", link.key),
                    });
                } else if link.sha256 != sha256_hex(pbytes) {
                    report.problems.push(Problem::DigestModified {
                        key: pkey.clone(),
                        detail: format!("its hash differs from the one recorded in {dkey}"),
                    });
                } else if link.signature != pd.signature {
                    report.problems.push(Problem::ChainBroken {
                        key: dkey.clone(),
                        detail: "recorded signature of the previous digest differs".into(),
                    });
                }
                if d.window_start != pd.window_end {
                    report.problems.push(Problem::ChainBroken {
                        key: dkey.clone(),
                        detail: "window does not start where the previous one ended".into(),
                    });
                }
            }
            // The predecessor is missing: reported above as a gap in the sequence.
            (Some(_), _) => {}
        }
        let in_range = from.is_none_or(|f| d.window_end >= f) && to.is_none_or(|t| d.window_start <= t);
        for r in &d.records {
            covered.insert(r.key.clone(), (r.sha256.clone(), dkey.clone()));
        }
        if in_range {
            report.digests += 1;
            report.window_start = Some(report.window_start.map_or(d.window_start, |w| w.min(d.window_start)));
            report.window_end = Some(report.window_end.map_or(d.window_end, |w| w.max(d.window_end)));
            for r in &d.records {
                match store.get(&r.key)?.map(|bytes| sha256_hex(&bytes)) {
                    None => report.problems.push(Problem::RecordMissing { key: r.key.clone(), digest: dkey.clone() }),
                    Some(sha) if sha != r.sha256 => {
                        report.problems.push(Problem::RecordModified { key: r.key.clone(), digest: dkey.clone() })
                    }
                    // Vouched for by a digest, yet not what its name says: the digest was
                    // rewritten to match an overwritten record.
                    Some(sha) if named_hash(&r.key).is_some_and(|h| h != sha) => {
                        report.problems.push(Problem::RecordNotContentAddressed { key: r.key.clone() })
                    }
                    Some(_) => report.records_verified += 1,
                }
            }
        }
        prev = Some(entry);
    }
    // The newest digests deleted: the chain ends before the period asked about.
    let last_end = digests.last().map(|(_, _, d)| d.window_end);
    if let (Some(t), Some(end)) = (to, last_end) {
        if end < t {
            report.problems.push(Problem::DigestMissing { sequence: expected_seq, expected_key: None });
        }
    }
    // Records no digest covers: inserted if the last digest sealed their day (see
    // `LATE_WRITE_GRACE`), else pending the next seal.
    let mut uncovered = 0usize;
    for l in store.list(&norm_prefix(prefix))? {
        if is_digest_key(prefix, &l.key) || covered.contains_key(&l.key) {
            continue;
        }
        uncovered += 1;
        match last_end {
            Some(sealed_until) if !sealed_before(prefix, &l.key, sealed_until) => {
                // Pending the next seal — if it is what its name says.
                let named = store.get(&l.key)?.is_some_and(|bytes| named_hash(&l.key) == Some(sha256_hex(&bytes).as_str()));
                if named {
                    report.records_pending += 1;
                } else {
                    report.problems.push(Problem::RecordNotContentAddressed { key: l.key });
                }
            }
            _ => report.problems.push(Problem::RecordNotCovered { key: l.key }),
        }
    }
    if digests.is_empty() && uncovered > 0 {
        report.problems.push(Problem::DigestMissing { sequence: 0, expected_key: None });
    }
    report.problems.sort();
    report.problems.dedup();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    /// Day 20 + `h` hours.
    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + chrono::Duration::hours(h as i64)
    }

    fn signer(n: u8) -> Signer25519 {
        Signer25519::from_seed([n; 32])
    }

    fn rec(i: u32) -> Record {
        Record { kind: "finding".into(), time: t(1), body: json!({"n": i, "rule": "drift.changed"}) }
    }

    /// Three records over two days, three digests (an empty window gets a digest too).
    fn sealed_store() -> (MemoryStore, Vec<String>) {
        let mut s = MemoryStore::default();
        let k = signer(7);
        let mut keys = Vec::new();
        for i in 0..2 {
            keys.push(write_record(&mut s, "ev", &rec(i), t(2)).unwrap().0);
        }
        seal(&mut s, "ev", &k, t(3)).unwrap();
        seal(&mut s, "ev", &k, t(4)).unwrap(); // empty window
        keys.push(write_record(&mut s, "ev", &rec(9), t(25)).unwrap().0);
        seal(&mut s, "ev", &k, t(30)).unwrap();
        (s, keys)
    }

    fn problems(s: &MemoryStore, key: Option<&PublicKey>) -> Vec<Problem> {
        verify(s, "ev", key, None, None).unwrap().problems
    }

    #[test]
    fn records_are_content_addressed_and_write_once() {
        let mut s = MemoryStore::default();
        let (k1, o1) = write_record(&mut s, "ev/", &rec(1), t(1)).unwrap();
        let (k2, o2) = write_record(&mut s, "ev", &rec(1), t(1)).unwrap();
        assert_eq!((k1.clone(), o1, o2), (k2, PutOutcome::Created, PutOutcome::AlreadyPresent));
        assert!(k1.starts_with("ev/2026/11/20/finding/") && k1.ends_with(".json"), "{k1}");
        assert_eq!(&k1["ev/2026/11/20/finding/".len()..k1.len() - 5], sha256_hex(&s.objects[&k1]));
        s.objects.insert("x".into(), b"1".to_vec());
        assert!(matches!(s.put_new("x", b"2"), Err(EvidenceError::Conflict { .. })));
        assert!(write_record(&mut s, "ev", &Record { kind: "Bad Kind".into(), ..rec(1) }, t(1)).is_err());
    }

    /// A store that counts the calls made to it (S3 requests in AWS).
    #[derive(Default)]
    struct Counting {
        inner: MemoryStore,
        gets: std::cell::Cell<usize>,
        lists: std::cell::Cell<usize>,
    }

    impl EvidenceStore for Counting {
        fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError> {
            self.inner.put_new(key, bytes)
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
            self.gets.set(self.gets.get() + 1);
            self.inner.get(key)
        }
        fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError> {
            self.lists.set(self.lists.get() + 1);
            self.inner.list(prefix)
        }
    }

    /// 400 digests over 100 days (one every 6 hours), a record before each.
    fn long_history() -> (Counting, DateTime<Utc>) {
        let mut s = Counting::default();
        let k = signer(7);
        let mut now = t(0);
        for i in 0..400 {
            write_record(&mut s, "ev", &rec(1000 + i), now).unwrap();
            now += chrono::Duration::hours(6);
            seal(&mut s, "ev", &k, now).unwrap();
        }
        (s, now)
    }

    #[test]
    fn sealing_costs_what_is_recent_not_the_whole_history() {
        let (mut s, now) = long_history();
        for i in 0..10 {
            write_record(&mut s, "ev", &rec(i), now).unwrap();
        }
        let mut everything = Counting { inner: s.inner.clone(), ..Default::default() };
        s.gets.set(0);
        s.lists.set(0);
        let sealed = seal(&mut s, "ev", &signer(7), now + chrono::Duration::hours(1)).unwrap();
        assert_eq!((sealed.sequence, sealed.records), (400, 10));
        let (gets, lists) = (s.gets.get(), s.lists.get());
        let full = seal_reading_everything(&mut everything, "ev", &signer(7), now + chrono::Duration::hours(1)).unwrap();
        assert_eq!(everything.inner.objects[&full.key], s.inner.objects[&sealed.key], "both ways seal the same digest");
        assert!(gets <= 10 + 3 * 4 + 1, "{gets} reads for 10 new records after 400 digests");
        assert!(lists <= 3 * 2 + 3, "{lists} listings");
        assert!(everything.gets.get() >= 400 + 10, "reading everything reads every digest: {}", everything.gets.get());
    }

    /// A writer dated its record 23:58 on day 20 (its clock) and stored it at 00:07, after a
    /// seal at 00:05 on day 21: a late write within [`LATE_WRITE_GRACE`], pending until the
    /// next seal covers it. (Before: reported as inserted until then, because its day was
    /// before the last seal's day.)
    #[test]
    fn a_late_write_within_the_grace_stays_pending_and_is_sealed_next() {
        let mut s = MemoryStore::default();
        let k = signer(7);
        write_record(&mut s, "ev", &rec(1), t(20)).unwrap();
        seal(&mut s, "ev", &k, t(23)).unwrap();
        seal(&mut s, "ev", &k, t(24) + chrono::Duration::minutes(5)).unwrap();
        let (late, _) = write_record(&mut s, "ev", &rec(2), t(23) + chrono::Duration::minutes(58)).unwrap();
        assert!(late.starts_with("ev/2026/11/20/"), "{late}");
        let r = verify(&s, "ev", Some(&k.public()), None, None).unwrap();
        assert!(r.ok() && r.records_pending == 1, "{r:?}");
        let next = seal(&mut s, "ev", &k, t(25)).unwrap();
        assert_eq!(next.records, 1);
        let r = verify(&s, "ev", Some(&k.public()), None, None).unwrap();
        assert!(r.ok() && r.records_pending == 0, "{:?}", r.problems);
    }

    /// A record inserted under a day a digest had already sealed (day 20, stored after the
    /// seal of day 21 06:00): reported as inserted, and a later seal does not launder it into
    /// its digest. (Before: the next seal covered it and verify passed.)
    #[test]
    fn a_record_inserted_into_a_sealed_day_is_never_sealed_and_stays_reported() {
        let k = signer(7);
        let (mut s, _) = sealed_store();
        let (inserted, _) = write_record(&mut s, "ev", &rec(77), t(10)).unwrap();
        assert!(inserted.starts_with("ev/2026/11/20/"), "{inserted}");
        assert_eq!(problems(&s, Some(&k.public())), vec![Problem::RecordNotCovered { key: inserted.clone() }]);
        let next = seal(&mut s, "ev", &k, t(31)).unwrap();
        assert_eq!(next.records, 0, "the insertion was sealed");
        assert_eq!(next.inserted, vec![inserted.clone()]);
        assert_eq!(problems(&s, Some(&k.public())), vec![Problem::RecordNotCovered { key: inserted.clone() }]);
        // Sealing everything from scratch refuses it too.
        let again = seal_reading_everything(&mut s, "ev", &k, t(32)).unwrap();
        assert_eq!(again.records, 0, "the insertion was sealed");
        assert_eq!(again.inserted, vec![inserted]);
    }

    /// The key of a digest before sequence keys.
    fn legacy_digest_key(prefix: &str, sequence: u64, window_end: DateTime<Utc>) -> String {
        format!("{}digests/{}/{:010}-{}.json", norm_prefix(prefix), day_path(window_end), sequence, window_end.format("%Y%m%dT%H%M%SZ"))
    }

    /// `s` as the sealer before sequence keys left it: the same chain, each digest under its
    /// dated key, linked and signed again.
    fn in_legacy_layout(s: &MemoryStore, k: &Signer25519) -> MemoryStore {
        let mut out = s.clone();
        out.objects.retain(|key, _| !key.contains("/digests/"));
        let mut ds: Vec<DigestFile> =
            s.objects.iter().filter(|(key, _)| key.contains("/digests/")).map(|(_, b)| serde_json::from_slice(b).unwrap()).collect();
        ds.sort_by_key(|d| d.sequence);
        let mut prev: Option<PreviousDigest> = None;
        for mut d in ds {
            d.previous = prev.take();
            d.signature = crate::redact::hex(&k.key.sign(&d.signed_bytes()).to_bytes());
            let key = legacy_digest_key("ev", d.sequence, d.window_end);
            let bytes = d.to_bytes();
            prev = Some(PreviousDigest { key: key.clone(), sha256: sha256_hex(&bytes), signature: d.signature.clone() });
            out.objects.insert(key, bytes);
        }
        out
    }

    #[test]
    fn digests_are_keyed_by_sequence_alone_and_the_old_layout_still_verifies_and_continues() {
        assert_eq!(digest_key("ev", 0), "ev/digests/0000000/0000000000.json");
        assert_eq!(digest_key("", 1_234_567), "digests/0001234/0001234567.json");
        let k = signer(7);
        let (s, _) = sealed_store();
        let keys: Vec<&String> = s.objects.keys().filter(|key| key.contains("/digests/")).collect();
        assert_eq!(keys, [&digest_key("ev", 0), &digest_key("ev", 1), &digest_key("ev", 2)]);
        // A store sealed by the code before sequence keys.
        let mut old = in_legacy_layout(&s, &k);
        assert!(old.objects.contains_key("ev/digests/2026/11/21/0000000002-20261121T060000Z.json"));
        let r = verify(&old, "ev", Some(&k.public()), None, None).unwrap();
        assert!(r.ok() && r.digests == 3 && r.records_verified == 3, "{r:?}");
        // The next seal finds the head in the old layout and chains to it in the new one.
        write_record(&mut old, "ev", &rec(60), t(31)).unwrap();
        let next = seal(&mut old, "ev", &k, t(32)).unwrap();
        assert_eq!((next.key.as_str(), next.sequence, next.records), ("ev/digests/0000000/0000000003.json", 3, 1));
        let d: DigestFile = serde_json::from_slice(&old.objects[&next.key]).unwrap();
        assert_eq!(d.previous.unwrap().key, "ev/digests/2026/11/21/0000000002-20261121T060000Z.json");
        let after = seal(&mut old, "ev", &k, t(33)).unwrap();
        assert_eq!(after.sequence, 4, "the head is now found in the new layout");
        let r = verify(&old, "ev", Some(&k.public()), None, None).unwrap();
        assert!(r.ok() && r.digests == 5 && r.records_verified == 4, "{r:?}");
    }

    /// A store that keeps object versions, where some keys were written more than once.
    struct Versioned {
        inner: MemoryStore,
        versions: BTreeMap<String, usize>,
    }

    impl EvidenceStore for Versioned {
        fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError> {
            self.inner.put_new(key, bytes)
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
            self.inner.get(key)
        }
        fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError> {
            self.inner.list(prefix)
        }
        fn versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>, EvidenceError> {
            let mut out = Vec::new();
            for l in self.inner.list(prefix)? {
                for n in 0..*self.versions.get(&l.key).unwrap_or(&1) {
                    out.push(ObjectVersion {
                        key: l.key.clone(),
                        version_id: Some(n.to_string()),
                        delete_marker: false,
                        last_modified: None,
                    });
                }
                out.push(ObjectVersion { key: l.key.clone(), version_id: None, delete_marker: true, last_modified: None });
            }
            Ok(out)
        }
    }

    /// The newest digest rewritten with the real key (read from the secret) to vouch for an
    /// overwritten record: signature, links and hashes all check out, but the digest's key has
    /// two versions and the record is not what its name says.
    #[test]
    fn an_overwritten_digest_is_reported_from_its_versions() {
        let k = signer(7);
        let (mut s, keys) = sealed_store();
        let last = digest_key("ev", 2);
        let forged = rec(666).to_bytes();
        s.objects.insert(keys[2].clone(), forged.clone());
        let mut d: DigestFile = serde_json::from_slice(&s.objects[&last]).unwrap();
        d.records[0].sha256 = sha256_hex(&forged);
        d.signature = crate::redact::hex(&k.key.sign(&d.signed_bytes()).to_bytes());
        s.objects.insert(last.clone(), d.to_bytes());
        let store = Versioned { inner: s, versions: BTreeMap::from([(last.clone(), 2)]) };
        let p = verify(&store, "ev", Some(&k.public()), None, None).unwrap().problems;
        assert_eq!(
            p,
            vec![
                Problem::RecordNotContentAddressed { key: keys[2].clone() },
                Problem::DigestModified { key: last.clone(), detail: "overwritten: 2 versions".into() },
            ]
        );
        assert_eq!(p[1].to_string(), format!("digest modified: {last}: overwritten: 2 versions"));
        // One version each (and delete markers): nothing to report.
        let (s, _) = sealed_store();
        let r = verify(&Versioned { inner: s, versions: BTreeMap::new() }, "ev", Some(&k.public()), None, None).unwrap();
        assert!(r.ok(), "{:?}", r.problems);
    }

    /// A store on which another sealer seals (up to `other`) between this sealer's reads and
    /// its digest write: the race of the CLI's `evidence seal` with the sweeper.
    struct Racing {
        inner: MemoryStore,
        other: Option<DateTime<Utc>>,
    }

    impl EvidenceStore for Racing {
        fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError> {
            if key.contains("/digests/") {
                if let Some(end) = self.other.take() {
                    seal(&mut self.inner, "ev", &signer(7), end).unwrap();
                }
            }
            self.inner.put_new(key, bytes)
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
            self.inner.get(key)
        }
        fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError> {
            self.inner.list(prefix)
        }
    }

    /// Two sealers read the same head and both write the next sequence number: one wins, the
    /// other re-reads the chain and continues it (or finds nothing left to seal). One chain.
    /// (Before: both digests were written under two keys — a permanent fork.)
    #[test]
    fn racing_sealers_cannot_fork_the_chain() {
        let k = signer(7);
        for (ours, theirs) in [(t(2), t(3)), (t(3), t(2)), (t(3), t(3))] {
            let mut s = Racing { inner: MemoryStore::default(), other: Some(theirs) };
            for i in 0..3 {
                write_record(&mut s, "ev", &rec(i), t(1)).unwrap();
            }
            seal(&mut s, "ev", &k, ours).unwrap();
            let r = verify(&s.inner, "ev", Some(&k.public()), None, None).unwrap();
            assert!(r.ok(), "{ours} vs {theirs}: {:?}", r.problems);
            assert_eq!(r.records_verified, 3);
            let digests = s.inner.objects.keys().filter(|k| k.contains("/digests/")).count();
            assert_eq!(digests, if ours > theirs { 2 } else { 1 }, "{ours} vs {theirs}");
        }
    }

    /// A record overwritten before it is sealed, and a copy inserted under a made-up name among
    /// today's pending records: neither is sealed, both are reported (before, the first was
    /// sealed with its new content and the second passed as pending).
    #[test]
    fn records_not_named_by_their_content_are_neither_sealed_nor_passed() {
        let k = signer(7);
        let mut s = MemoryStore::default();
        let (good, _) = write_record(&mut s, "ev", &rec(1), t(1)).unwrap();
        let (victim, _) = write_record(&mut s, "ev", &rec(2), t(1)).unwrap();
        s.objects.insert(victim.clone(), rec(3).to_bytes()); // overwritten before the seal
        let sealed = seal(&mut s, "ev", &k, t(2)).unwrap();
        assert_eq!(sealed.records, 1);
        assert_eq!(sealed.refused, vec![victim.clone()]);
        let made_up = good.replace(named_hash(&good).unwrap(), &"0".repeat(64));
        s.objects.insert(made_up.clone(), s.objects[&good].clone()); // a copy under a made-up name
        let problems = problems(&s, Some(&k.public()));
        assert!(problems.contains(&Problem::RecordNotContentAddressed { key: made_up.clone() }), "{problems:?}");
        assert!(
            problems.contains(&Problem::RecordNotCovered { key: victim.clone() })
                || problems.contains(&Problem::RecordNotContentAddressed { key: victim.clone() }),
            "{problems:?}"
        );
        assert!(!problems.iter().any(|p| matches!(p, Problem::RecordModified { key, .. } if key == &good)), "{problems:?}");
    }

    #[test]
    fn sealing_again_with_nothing_new_writes_nothing() {
        let (mut s, _) = sealed_store();
        let before = s.list("").unwrap().len();
        let again = seal(&mut s, "ev", &signer(7), t(30)).unwrap();
        assert!(!again.written);
        assert_eq!((again.sequence, again.records), (2, 0));
        assert_eq!(s.list("").unwrap().len(), before, "a rerun added a digest");
        let later = seal(&mut s, "ev", &signer(7), t(31)).unwrap();
        assert!(later.written, "a later empty window still gets its digest");
        assert_eq!(later.sequence, 3);
    }

    #[test]
    fn untouched_store_verifies() {
        let (s, _) = sealed_store();
        let pk = signer(7).public();
        let r = verify(&s, "ev", Some(&pk), None, None).unwrap();
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!((r.digests, r.records_verified, r.records_pending), (3, 3, 0));
        assert_eq!((r.window_start, r.window_end), (Some(DateTime::<Utc>::UNIX_EPOCH), Some(t(30))));
    }

    #[test]
    fn each_tampering_is_detected_and_named() {
        let pk = signer(7).public();
        // modify one byte of a record
        let (mut s, keys) = sealed_store();
        s.objects.get_mut(&keys[0]).unwrap()[10] ^= 1;
        assert!(matches!(problems(&s, Some(&pk)).as_slice(), [Problem::RecordModified { key, .. }] if key == &keys[0]));
        // delete a record
        let (mut s, keys) = sealed_store();
        s.objects.remove(&keys[1]);
        assert!(matches!(problems(&s, Some(&pk)).as_slice(), [Problem::RecordMissing { key, .. }] if key == &keys[1]));
        // add a (back-dated) record
        let (mut s, _) = sealed_store();
        let (added, _) = write_record(&mut s, "ev", &rec(42), t(2)).unwrap();
        assert!(matches!(problems(&s, Some(&pk)).as_slice(), [Problem::RecordNotCovered { key }] if key == &added));
        // delete a digest
        let (mut s, _) = sealed_store();
        let dk: Vec<String> = s.objects.keys().filter(|k| k.contains("/digests/")).cloned().collect();
        s.objects.remove(&dk[1]);
        let p = problems(&s, Some(&pk));
        assert!(p.iter().any(|p| matches!(p, Problem::DigestMissing { sequence: 1, .. })), "{p:?}");
        // alter a digest (drop a record from its list)
        let (mut s, keys) = sealed_store();
        let mut d: DigestFile = serde_json::from_slice(&s.objects[&dk[0]]).unwrap();
        d.records.retain(|r| r.key != keys[0]);
        s.objects.insert(dk[0].clone(), d.to_bytes());
        let p = problems(&s, Some(&pk));
        assert!(p.iter().any(|p| matches!(p, Problem::BadSignature { key, .. } if key == &dk[0])), "{p:?}");
        assert!(p.iter().any(|p| matches!(p, Problem::DigestModified { key, .. } if key == &dk[0])), "{p:?}");
        // re-sign everything with another key
        let (mut s, _) = sealed_store();
        let other = signer(8);
        for k in &dk {
            let mut d: DigestFile = serde_json::from_slice(&s.objects[k]).unwrap();
            d.public_key = other.public().to_hex();
            d.public_key_fingerprint = other.fingerprint();
            d.signature = crate::redact::hex(&other.key.sign(&d.signed_bytes()).to_bytes());
            s.objects.insert(k.clone(), d.to_bytes());
        }
        let p = problems(&s, Some(&pk));
        assert!(
            p.iter().all(|p| matches!(p, Problem::BadSignature { .. } | Problem::DigestModified { .. } | Problem::ChainBroken { .. })),
            "{p:?}"
        );
        assert!(p.iter().filter(|p| matches!(p, Problem::BadSignature { .. })).count() == 3, "{p:?}");
    }

    #[test]
    fn pending_records_are_not_problems() {
        let (mut s, _) = sealed_store();
        write_record(&mut s, "ev", &rec(50), t(31)).unwrap();
        let r = verify(&s, "ev", None, None, None).unwrap();
        assert!(r.ok() && r.records_pending == 1 && r.key_from_digests, "{r:?}");
        // Every digest deleted: nothing proves anything.
        let (mut s, _) = sealed_store();
        s.objects.retain(|k, _| !k.contains("/digests/"));
        assert!(problems(&s, None).contains(&Problem::DigestMissing { sequence: 0, expected_key: None }));
        // The newest digest deleted: the chain stops before `to`.
        let (mut s, _) = sealed_store();
        let last = s.objects.keys().rfind(|k| k.contains("/digests/")).cloned().unwrap();
        s.objects.remove(&last);
        let r = verify(&s, "ev", None, None, Some(t(30))).unwrap();
        assert!(r.problems.iter().any(|p| matches!(p, Problem::DigestMissing { sequence: 2, .. })), "{:?}", r.problems);
    }

    #[test]
    fn keys_parse_from_hex_and_pem() {
        let s = signer(3);
        let hex_seed = crate::redact::hex(&[3u8; 32]);
        assert_eq!(Signer25519::from_text(&hex_seed).unwrap().fingerprint(), s.fingerprint());
        assert_eq!(PublicKey::from_text(&s.public().to_hex()).unwrap(), s.public());
        assert!(Signer25519::from_text("nope").is_err());
        // openssl genpkey -algorithm ed25519 (RFC 8410 test key)
        let pem =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let k = Signer25519::from_text(pem).unwrap();
        let pub_pem =
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        assert_eq!(PublicKey::from_text(pub_pem).unwrap(), k.public());
    }

    /// A P-256 signer as AWS KMS signs (`ECDSA_SHA_256`, DER signatures), in process.
    struct P256Signer(p256::ecdsa::SigningKey);

    impl DigestSigner for P256Signer {
        fn public(&self) -> PublicKey {
            PublicKey { key: Key::P256(*self.0.verifying_key()) }
        }
        fn sign(&self, message: &[u8]) -> Result<String, EvidenceError> {
            let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&self.0, p256_signed_message(message).as_bytes());
            Ok(crate::redact::hex(sig.to_der().as_bytes()))
        }
    }

    /// Issue 13 item 5: digests signed with a P-256 key (as inside AWS KMS) verify with its
    /// public key — given as the digests carry it, as PEM, or as the hex of KMS's DER — and
    /// not with another key; an Ed25519 chain does not verify against the P-256 key; and an
    /// Ed25519-signed digest keeps its exact bytes (no algorithm field).
    #[test]
    fn digests_signed_with_a_p256_key_verify_with_its_public_key_only() {
        let kms = P256Signer(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("scalar"));
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let mut s = MemoryStore::default();
        write_record(&mut s, "ev", &Record { kind: "finding".into(), time: now, body: serde_json::json!({"a": 1}) }, now).unwrap();
        let sealed = seal(&mut s, "ev", &kms, now + chrono::Duration::hours(1)).unwrap();
        assert!(sealed.written);
        let bytes = s.get(&sealed.key).unwrap().unwrap();
        let d: DigestFile = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(d.signature_algorithm, ECDSA_SHA_256);
        let public = kms.public();
        for given in [public.clone(), PublicKey::from_text(&public.to_pem()).unwrap(), PublicKey::from_text(&public.to_hex()).unwrap()] {
            let r = verify(&s, "ev", Some(&given), None, None).unwrap();
            assert!(r.ok(), "{:?}", r.problems);
        }
        assert!(verify(&s, "ev", None, None, None).unwrap().ok(), "the digests' own key");
        // Re-signed by someone holding another key (P-256 or Ed25519): not the trusted key.
        let other = P256Signer(p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).expect("scalar"));
        let mut forged = MemoryStore::default();
        write_record(&mut forged, "ev", &Record { kind: "finding".into(), time: now, body: serde_json::json!({"a": 1}) }, now).unwrap();
        seal(&mut forged, "ev", &other, now + chrono::Duration::hours(1)).unwrap();
        let r = verify(&forged, "ev", Some(&public), None, None).unwrap();
        assert!(r.problems.iter().any(|p| matches!(p, Problem::BadSignature { .. })), "{:?}", r.problems);
        let mut ed = MemoryStore::default();
        write_record(&mut ed, "ev", &Record { kind: "finding".into(), time: now, body: serde_json::json!({"a": 1}) }, now).unwrap();
        let e = seal(&mut ed, "ev", &signer(7), now + chrono::Duration::hours(1)).unwrap();
        assert!(!String::from_utf8(ed.get(&e.key).unwrap().unwrap()).unwrap().contains("signature_algorithm"));
        assert!(!verify(&ed, "ev", Some(&public), None, None).unwrap().ok());
        // A signature altered after signing.
        let mut d2 = d.clone();
        d2.records.clear();
        let mut tampered = MemoryStore::default();
        tampered.put_new(&sealed.key, &d2.to_bytes()).unwrap();
        let r = verify(&tampered, "ev", Some(&public), None, None).unwrap();
        assert!(
            r.problems.iter().any(|p| matches!(p, Problem::BadSignature { detail, .. } if detail.contains("does not verify"))),
            "{:?}",
            r.problems
        );
    }
}
