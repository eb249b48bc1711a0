//! The S3 evidence store against moto server, through the real AWS SDK: write-once records
//! (`If-None-Match: *`), Object Lock COMPLIANCE retention and SSE-KMS headers, paginated
//! listing, seal and verify, every kind of tampering, Object Lock refusing to delete an
//! evidence version, and the `driftwatch` binary on `--evidence s3://…`.
//!
//! Every scenario asserts on what is actually in moto's S3 (objects, versions, delete
//! markers, retention, encryption), not only on what the store reports. Each test starts its
//! own moto server on a free loopback port ([`Moto`]); without `moto_server` the tests fail
//! under `CI=true` and are skipped loudly elsewhere.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{ByteStream, DateTime as SdkDateTime};
use aws_sdk_s3::types::{ObjectLockEnabled, ObjectLockMode, ServerSideEncryption};
use aws_sdk_s3::Client;
use chrono::{DateTime, Duration, TimeZone, Utc};
use driftwatch_aws::{blocking_runtime, s3_client, BlockingS3EvidenceStore, PathStyle, S3EvidenceStore, S3Location, StoreOptions};
use driftwatch_core::evidence::{
    self, canonical_bytes, DigestFile, EvidenceError, EvidenceStore, Problem, PutOutcome, Record, Signer25519,
};
use driftwatch_tests::{driftwatch_bin, scratch, workspace_root, Moto};
use ed25519_dalek::Signer as _;
use serde_json::{json, Value};
use std::future::Future;
use std::process::Output;
use std::sync::Arc;

const BUCKET: &str = "driftwatch-evidence";
const KMS_KEY: &str = "alias/driftwatch-evidence";

/// A moto server with an Object Lock bucket, and one client on one runtime for every call.
struct Lab {
    /// The store at the bucket's root; its client and runtime serve the raw calls too.
    root: BlockingS3EvidenceStore,
    moto: Moto,
}

impl Lab {
    fn start(name: &str) -> Option<Lab> {
        let moto = Moto::start(name)?;
        // Explicit configuration (no environment): the endpoint is custom, so PathStyle::Auto
        // must choose path-style addressing, which moto needs.
        let sdk = moto.sdk_config();
        let client = s3_client(&sdk, PathStyle::Auto);
        let runtime = Arc::new(blocking_runtime().expect("runtime"));
        let location = S3Location::parse(&format!("s3://{BUCKET}")).expect("location");
        let root = BlockingS3EvidenceStore::new(S3EvidenceStore::new(client, location, StoreOptions::default()), runtime);
        let lab = Lab { root, moto };
        lab.run(lab.client().create_bucket().bucket(BUCKET).object_lock_enabled_for_bucket(true).send()).expect("create the bucket");
        Some(lab)
    }

    fn client(&self) -> &Client {
        self.root.store().client()
    }

    fn run<F: Future>(&self, f: F) -> F::Output {
        self.root.block_on(f)
    }

    /// A store at `s3://BUCKET/<prefix>` on the same client and runtime.
    fn store(&self, prefix: &str, options: StoreOptions) -> BlockingS3EvidenceStore {
        let location = S3Location::parse(&format!("s3://{BUCKET}/{prefix}")).expect("location");
        BlockingS3EvidenceStore::new(S3EvidenceStore::new(self.client().clone(), location, options), self.root.runtime().clone())
    }

    /// Raw GetObject of the current version.
    fn get(&self, key: &str) -> Vec<u8> {
        let o = self.run(self.client().get_object().bucket(BUCKET).key(key).send()).unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        self.run(o.body.collect()).expect("body").into_bytes().to_vec()
    }

    /// Raw GetObject of one version.
    fn get_version(&self, key: &str, version: &str) -> Vec<u8> {
        let o = self
            .run(self.client().get_object().bucket(BUCKET).key(key).version_id(version).send())
            .unwrap_or_else(|e| panic!("get {key} version {version}: {e:?}"));
        self.run(o.body.collect()).expect("body").into_bytes().to_vec()
    }

    /// Raw, unconditional PutObject (what someone with s3:PutObject can do): on a versioned
    /// bucket it adds a new current version. Returns the version id.
    fn put(&self, key: &str, bytes: Vec<u8>) -> String {
        let o = self
            .run(self.client().put_object().bucket(BUCKET).key(key).body(ByteStream::from(bytes)).send())
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        o.version_id().expect("a versioned bucket returns a version id").to_string()
    }

    /// Raw DeleteObject without a version id: a delete marker on a versioned bucket.
    fn delete(&self, key: &str) {
        let o = self.run(self.client().delete_object().bucket(BUCKET).key(key).send()).unwrap_or_else(|e| panic!("delete {key}: {e:?}"));
        assert_eq!(o.delete_marker(), Some(true), "deleting {key} without a version id adds a delete marker");
    }

    /// (object version ids, newest first; delete-marker count) of exactly `key`.
    fn versions(&self, key: &str) -> (Vec<String>, usize) {
        let o = self.run(self.client().list_object_versions().bucket(BUCKET).prefix(key).send()).expect("list versions");
        let versions = o.versions().iter().filter(|v| v.key() == Some(key)).filter_map(|v| v.version_id().map(str::to_string)).collect();
        let markers = o.delete_markers().iter().filter(|m| m.key() == Some(key)).count();
        (versions, markers)
    }

    /// Every object key under `prefix`, read with the SDK's paginator.
    fn keys(&self, prefix: &str) -> Vec<String> {
        let mut pages = self.client().list_objects_v2().bucket(BUCKET).prefix(prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = self.run(pages.next()) {
            out.extend(page.expect("list").contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        out
    }

    /// The `driftwatch` binary, talking to this moto through the standard AWS environment.
    fn driftwatch(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut c = self.moto.command(driftwatch_bin());
        c.args(args).current_dir(workspace_root());
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.output().expect("run driftwatch")
    }
}

/// Day 20 + `h` hours.
fn t(h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + Duration::hours(h)
}

fn signer(n: u8) -> Signer25519 {
    Signer25519::from_seed([n; 32])
}

fn rec(i: u32) -> Record {
    Record { kind: "finding".into(), time: t(1), body: json!({"n": i, "rule": "drift.changed"}) }
}

/// Three records over two days and three digests (one for an empty window); returns the
/// record keys and the digest keys, relative to the store.
fn sealed(store: &mut BlockingS3EvidenceStore) -> (Vec<String>, Vec<String>) {
    let k = signer(7);
    let mut keys = Vec::new();
    for i in 0..2 {
        keys.push(evidence::write_record(store, "", &rec(i), t(2)).expect("write").0);
    }
    let mut digests = vec![evidence::seal(store, "", &k, t(3)).expect("seal").key];
    digests.push(evidence::seal(store, "", &k, t(4)).expect("seal an empty window").key);
    keys.push(evidence::write_record(store, "", &rec(9), t(25)).expect("write").0);
    digests.push(evidence::seal(store, "", &k, t(30)).expect("seal").key);
    (keys, digests)
}

fn problems(store: &BlockingS3EvidenceStore) -> Vec<Problem> {
    evidence::verify(store, "", Some(&signer(7).public()), None, None).expect("verify").problems
}

/// One byte of `bytes` flipped.
fn flipped(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes[10] ^= 1;
    bytes
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn s3_store_writes_once_with_object_lock_and_kms_lists_every_page_and_verifies() {
    let Some(lab) = Lab::start("roundtrip") else { return };
    // The bucket moto made: Object Lock on (and with it versioning: every object below has a
    // version id; GetBucketVersioning is not asserted because moto 5.2.5 answers it with a
    // root element the Rust SDK rejects).
    let lock = lab.run(lab.client().get_object_lock_configuration().bucket(BUCKET).send()).expect("lock configuration");
    assert_eq!(lock.object_lock_configuration().and_then(|c| c.object_lock_enabled()), Some(&ObjectLockEnabled::Enabled));

    let options = StoreOptions { retention_days: Some(1), kms_key_id: Some(KMS_KEY.into()), list_page_size: Some(2) };
    let mut store = lab.store("audit", options);
    let (keys, digests) = sealed(&mut store);
    let report = evidence::verify(&store, "", Some(&signer(7).public()), None, None).expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!((report.digests, report.records_verified, report.records_pending), (3, 3, 0));

    // What is in S3: 3 records and 3 digests under the prefix, and the store's listing (2
    // keys a page, so 3 pages) returns every one of them.
    let mut raw = lab.keys("audit/");
    raw.sort();
    let mut expected: Vec<String> = keys.iter().chain(&digests).map(|k| format!("audit/{k}")).collect();
    expected.sort();
    assert_eq!(raw, expected);
    let first = lab.run(lab.client().list_objects_v2().bucket(BUCKET).prefix("audit/").max_keys(2).send()).expect("one page");
    assert_eq!((first.contents().len(), first.is_truncated()), (2, Some(true)), "moto pages by MaxKeys");
    let listed = store.list("").expect("list");
    assert_eq!(listed.iter().map(|l| format!("audit/{}", l.key)).collect::<Vec<_>>(), expected, "all pages, in key order");
    assert!(listed.iter().all(|l| l.last_modified.is_some()), "{listed:?}");

    // Every object carries COMPLIANCE retention one day ahead, SSE-KMS under the key, JSON.
    let day_ahead = Utc::now() + Duration::days(1);
    for key in &expected {
        let h = lab.run(lab.client().head_object().bucket(BUCKET).key(key).send()).expect("head");
        assert_eq!(h.object_lock_mode(), Some(&ObjectLockMode::Compliance), "{key}");
        let until = h.object_lock_retain_until_date().expect("retain-until date");
        let until = DateTime::<Utc>::from_timestamp(until.secs(), 0).expect("date");
        assert!((until - day_ahead).num_minutes().abs() <= 10, "{key}: retained until {until}, expected about {day_ahead}");
        assert_eq!(h.server_side_encryption(), Some(&ServerSideEncryption::AwsKms), "{key}");
        assert_eq!(h.ssekms_key_id(), Some(KMS_KEY), "{key}");
        assert_eq!(h.content_type(), Some("application/json"), "{key}");
    }

    // The same record twice: a no-op, one version only.
    let (again, outcome) = evidence::write_record(&mut store, "", &rec(0), t(2)).expect("write again");
    assert_eq!((again.as_str(), outcome), (keys[0].as_str(), PutOutcome::AlreadyPresent));
    let (versions, markers) = lab.versions(&format!("audit/{}", keys[0]));
    assert_eq!((versions.len(), markers), (1, 0), "still one version");

    // Other content under an existing key: refused, and S3 still holds the original only.
    let original = lab.get(&format!("audit/{}", keys[1]));
    let err = store.put_new(&keys[1], b"{\"forged\":true}").expect_err("overwrite must be refused");
    assert!(matches!(&err, EvidenceError::Conflict { key } if key == &format!("s3://{BUCKET}/audit/{}", keys[1])), "{err}");
    assert_eq!(lab.get(&format!("audit/{}", keys[1])), original);
    assert_eq!(lab.versions(&format!("audit/{}", keys[1])).0.len(), 1);

    // The refusal is S3's own: a raw If-None-Match: * PutObject on that key gets 412.
    let e = lab
        .run(
            lab.client()
                .put_object()
                .bucket(BUCKET)
                .key(format!("audit/{}", keys[1]))
                .if_none_match("*")
                .body(ByteStream::from_static(b"other"))
                .send(),
        )
        .expect_err("If-None-Match: * on an existing key");
    assert_eq!(e.code(), Some("PreconditionFailed"), "{e:?}");
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(412));

    assert_eq!(store.get("2026/01/01/finding/absent.json").expect("get"), None);
}

#[test]
fn each_tampering_on_s3_is_detected_and_named() {
    let Some(lab) = Lab::start("tamper") else { return };
    let locked = || StoreOptions { retention_days: Some(1), ..StoreOptions::default() };

    // Untouched: verifies.
    let mut s = lab.store("untouched", locked());
    sealed(&mut s);
    assert_eq!(problems(&s), vec![]);

    // Modify one byte of a record: a plain PutObject makes a new current version; Object
    // Lock keeps the original version, which still holds the sealed bytes.
    let mut s = lab.store("modified", locked());
    let (keys, digests) = sealed(&mut s);
    let object = format!("modified/{}", keys[0]);
    let original = lab.get(&object);
    lab.put(&object, flipped(original.clone()));
    assert_eq!(problems(&s), vec![Problem::RecordModified { key: keys[0].clone(), digest: digests[0].clone() }]);
    let (versions, markers) = lab.versions(&object);
    assert_eq!((versions.len(), markers), (2, 0));
    assert_eq!(lab.get_version(&object, &versions[1]), original, "the sealed version is still there");

    // Delete a record: a delete marker hides it; the locked version stays.
    let mut s = lab.store("deleted", locked());
    let (keys, digests) = sealed(&mut s);
    let object = format!("deleted/{}", keys[1]);
    lab.delete(&object);
    assert_eq!(problems(&s), vec![Problem::RecordMissing { key: keys[1].clone(), digest: digests[0].clone() }]);
    assert_eq!(lab.versions(&object).0.len(), 1);
    assert_eq!(lab.versions(&object).1, 1);

    // Add a record under an earlier day than the last seal.
    let mut s = lab.store("added", locked());
    sealed(&mut s);
    let (added, _) = evidence::write_record(&mut s, "", &rec(42), t(2)).expect("write");
    assert!(lab.keys("added/").contains(&format!("added/{added}")));
    assert_eq!(problems(&s), vec![Problem::RecordNotCovered { key: added }]);

    // Delete a digest.
    let mut s = lab.store("digest-deleted", locked());
    let (_, digests) = sealed(&mut s);
    lab.delete(&format!("digest-deleted/{}", digests[1]));
    let p = problems(&s);
    assert!(p.iter().any(|p| matches!(p, Problem::DigestMissing { sequence: 1, .. })), "{p:?}");

    // Alter a digest: drop a record from its list.
    let mut s = lab.store("digest-altered", locked());
    let (keys, digests) = sealed(&mut s);
    let object = format!("digest-altered/{}", digests[0]);
    let mut d: DigestFile = serde_json::from_slice(&lab.get(&object)).expect("digest");
    d.records.retain(|r| r.key != keys[0]);
    lab.put(&object, canonical_bytes(&serde_json::to_value(&d).expect("json")));
    let p = problems(&s);
    assert!(p.iter().any(|p| matches!(p, Problem::BadSignature { key, .. } if key == &digests[0])), "{p:?}");
    assert!(p.iter().any(|p| matches!(p, Problem::DigestModified { key, .. } if key == &digests[0])), "{p:?}");

    // Re-sign every digest with another key.
    let mut s = lab.store("resigned", locked());
    let (_, digests) = sealed(&mut s);
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    for dk in &digests {
        let object = format!("resigned/{dk}");
        let mut d: DigestFile = serde_json::from_slice(&lab.get(&object)).expect("digest");
        d.public_key = signer(8).public().to_hex();
        d.public_key_fingerprint = signer(8).fingerprint();
        let mut unsigned = serde_json::to_value(&d).expect("json");
        if let Value::Object(m) = &mut unsigned {
            m.remove("signature");
        }
        d.signature = other.sign(&canonical_bytes(&unsigned)).to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        lab.put(&object, canonical_bytes(&serde_json::to_value(&d).expect("json")));
    }
    let p = problems(&s);
    assert_eq!(p.iter().filter(|p| matches!(p, Problem::BadSignature { .. })).count(), 3, "{p:?}");
    assert!(
        p.iter().all(|p| matches!(p, Problem::BadSignature { .. } | Problem::DigestModified { .. } | Problem::ChainBroken { .. })),
        "{p:?}"
    );
}

#[test]
fn object_lock_compliance_refuses_deleting_an_evidence_version() {
    let Some(lab) = Lab::start("objectlock") else { return };
    let mut s = lab.store("locked", StoreOptions { retention_days: Some(1), ..StoreOptions::default() });
    let (key, outcome) = evidence::write_record(&mut s, "", &rec(1), t(2)).expect("write");
    assert_eq!(outcome, PutOutcome::Created);
    let object = format!("locked/{key}");
    let original = lab.get(&object);
    let (versions, _) = lab.versions(&object);
    let [v1] = versions.as_slice() else { panic!("one version: {versions:?}") };
    let retained = |v: &str| {
        let h = lab.run(lab.client().head_object().bucket(BUCKET).key(&object).version_id(v).send()).expect("head");
        (h.object_lock_mode().cloned(), h.object_lock_retain_until_date().map(|d| d.secs()))
    };
    let before = retained(v1);
    assert_eq!(before.0, Some(ObjectLockMode::Compliance));

    // Deleting that version is refused, with or without BypassGovernanceRetention.
    for bypass in [false, true] {
        let e = lab
            .run(lab.client().delete_object().bucket(BUCKET).key(&object).version_id(v1).bypass_governance_retention(bypass).send())
            .expect_err("COMPLIANCE retention must refuse deleting the version");
        assert_eq!(e.code(), Some("AccessDenied"), "bypass={bypass}: {e:?}");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
    }
    assert_eq!(lab.get_version(&object, v1), original);

    // Overwriting with a shorter retention does not touch the locked version: S3 versions are
    // immutable, the write only adds a new version, and the original keeps its retention.
    let soon = SdkDateTime::from_secs(Utc::now().timestamp() + 1);
    let o = lab
        .run(
            lab.client()
                .put_object()
                .bucket(BUCKET)
                .key(&object)
                .object_lock_mode(ObjectLockMode::Compliance)
                .object_lock_retain_until_date(soon)
                .body(ByteStream::from(flipped(original.clone())))
                .send(),
        )
        .expect("a new version");
    assert_ne!(o.version_id(), Some(v1.as_str()));
    assert_eq!(lab.versions(&object).0.len(), 2);
    assert_eq!(lab.get_version(&object, v1), original);
    assert_eq!(retained(v1), before, "the original's retention is unchanged");
    let e = lab
        .run(lab.client().delete_object().bucket(BUCKET).key(&object).version_id(v1).bypass_governance_retention(true).send())
        .expect_err("still refused after the overwrite");
    assert_eq!(e.code(), Some("AccessDenied"));
    // The overwrite is what verify reports as a modified record once sealed; the locked
    // original is the proof of what was there.
}

#[test]
fn driftwatch_cli_records_seals_and_verifies_s3_evidence() {
    let Some(lab) = Lab::start("cli") else { return };
    let dir = scratch("evidence-s3-cli");
    let key = dir.join("signing.key");
    let key = key.to_str().expect("utf-8 path");
    let public = format!("{key}.pub");
    let url = format!("s3://{BUCKET}/cli");
    let retention = [("DRIFTWATCH_EVIDENCE_RETENTION_DAYS", "1")];

    let salted = [retention[0], ("DRIFTWATCH_DIGEST_SALT", "a-secret-salt-from-secrets-manager")];
    let o = lab.driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live", "--evidence", &url], &salted);
    assert_eq!(o.status.code(), Some(1), "findings: {}", text(&o));
    let objects = lab.keys("cli/");
    assert_eq!(objects.len(), 11, "3 states + 1 live document + 6 findings + the scan's coverage: {objects:?}");
    for object in &objects {
        let h = lab.run(lab.client().head_object().bucket(BUCKET).key(object).send()).expect("head");
        assert_eq!(h.object_lock_mode(), Some(&ObjectLockMode::Compliance), "{object}");
    }

    let o = lab.driftwatch(&["evidence", "keygen", "--out", key], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = lab.driftwatch(&["evidence", "seal", "--evidence", &url, "--key", key], &retention);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("sealed 11 record(s)"), "{}", text(&o));
    assert_eq!(lab.keys("cli/digests/").len(), 1);

    let o = lab.driftwatch(&["verify", "--evidence", &url, "--public-key", &public], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("OK: 1 digest(s), 11 record(s) verified"), "{}", text(&o));

    // Tamper with one finding record in S3: verify names it and exits 1.
    let victim = objects.iter().find(|k| k.contains("/finding/")).expect("a finding record");
    lab.put(victim, flipped(lab.get(victim)));
    let o = lab.driftwatch(&["verify", "--evidence", &url, "--public-key", &public], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let relative = victim.strip_prefix("cli/").expect("under the prefix");
    assert!(out.contains(&format!("FAIL  record modified: {relative}")), "{out}");
    assert!(out.contains("FAILED: 1 digest(s), 10 record(s) verified"), "{out}");

    // Set-up mistakes are one clear line and exit 2.
    let o = lab.driftwatch(&["verify", "--evidence", "s3://no-such-evidence-bucket/x"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("S3 bucket \"no-such-evidence-bucket\" does not exist") && err.trim().lines().count() == 1, "{err}");

    let o = Moto::bare_aws_command(driftwatch_bin())
        .args(["verify", "--evidence", &url])
        .env("AWS_REGION", Moto::REGION)
        .env("AWS_ENDPOINT_URL", &lab.moto.endpoint)
        .current_dir(workspace_root())
        .output()
        .expect("run driftwatch");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no AWS credentials") && err.trim().lines().count() == 1, "{err}");

    let o = lab.driftwatch(&["verify", "--evidence", "s3://Not_A_Bucket"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("expected s3://bucket[/prefix]"), "{}", text(&o));
}

// ------------------------------------------------------------------ adversarial: forging evidence

/// A record inserted under a day a digest already sealed (a made-up finding dated day 20,
/// written after the seal of day 21 06:00): verify reports it, and the next seal (the sweeper's
/// or the CLI's) does not launder it into its digest. (Before: the next seal covered it and
/// verify passed.)
#[test]
fn attack_a_record_inserted_into_a_sealed_window_is_reported_and_never_sealed() {
    let Some(lab) = Lab::start("attack-insert") else { return };
    let mut s = lab.store("insert", StoreOptions { retention_days: Some(1), ..StoreOptions::default() });
    sealed(&mut s);
    let forged = Record { kind: "finding".into(), time: t(1), body: json!({"n": 4242, "rule": "drift.changed", "forged": true}) };
    let (inserted, outcome) = evidence::write_record(&mut s, "", &forged, t(10)).expect("insert");
    assert_eq!(outcome, PutOutcome::Created);
    assert!(inserted.starts_with("2026/11/20/finding/"), "{inserted}");
    assert_eq!(problems(&s), vec![Problem::RecordNotCovered { key: inserted.clone() }]);
    let next = evidence::seal(&mut s, "", &signer(7), t(31)).expect("seal");
    assert_eq!(next.records, 0, "the next seal covered the inserted record");
    assert_eq!(problems(&s), vec![Problem::RecordNotCovered { key: inserted }]);
}

/// A record overwritten in S3 before it is sealed (a plain PutObject adds a current version
/// with other content under the same content-addressed key): the seal refuses it and verify
/// names it.
#[test]
fn attack_a_record_overwritten_before_sealing_is_refused_and_reported() {
    let Some(lab) = Lab::start("attack-overwrite") else { return };
    let mut s = lab.store("overwrite", StoreOptions { retention_days: Some(1), ..StoreOptions::default() });
    let (good, _) = evidence::write_record(&mut s, "", &rec(1), t(2)).expect("write");
    let (victim, _) = evidence::write_record(&mut s, "", &rec(2), t(2)).expect("write");
    lab.put(&format!("overwrite/{victim}"), rec(3).to_bytes());
    assert_eq!(lab.versions(&format!("overwrite/{victim}")).0.len(), 2);
    let sealed = evidence::seal(&mut s, "", &signer(7), t(3)).expect("seal");
    assert_eq!((sealed.records, sealed.refused.clone()), (1, vec![victim.clone()]));
    let p = problems(&s);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(matches!(&p[0], Problem::RecordNotContentAddressed { key } | Problem::RecordNotCovered { key } if key == &victim), "{p:?}");
    assert!(!p.iter().any(|p| format!("{p}").contains(&good)), "{p:?}");
}

/// Someone who can read the signing key (any admin of the secret) rewrites the newest digest
/// to vouch for a forged record, re-signed with the real key, and overwrites the record: a
/// second version of the digest object (Object Lock keeps versions, it does not stop a new
/// one). Verify reads the versions and reports the digest overwritten, and the record as not
/// named by its content. (Before: everything verified.)
#[test]
fn attack_an_overwritten_digest_is_reported_from_its_versions() {
    let Some(lab) = Lab::start("attack-digest") else { return };
    let mut s = lab.store("digest", StoreOptions { retention_days: Some(1), ..StoreOptions::default() });
    let (keys, digests) = sealed(&mut s);
    let victim = &keys[2];
    let last = digests.last().expect("a digest");
    let forged = rec(666).to_bytes();
    lab.put(&format!("digest/{victim}"), forged.clone());
    let mut d: DigestFile = serde_json::from_slice(&lab.get(&format!("digest/{last}"))).expect("digest");
    for r in &mut d.records {
        if &r.key == victim {
            r.sha256 = evidence::sha256_hex(&forged);
        }
    }
    let mut unsigned = serde_json::to_value(&d).expect("json");
    if let Value::Object(m) = &mut unsigned {
        m.remove("signature");
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    d.signature = key.sign(&canonical_bytes(&unsigned)).to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    lab.put(&format!("digest/{last}"), canonical_bytes(&serde_json::to_value(&d).expect("json")));
    assert_eq!(lab.versions(&format!("digest/{last}")).0.len(), 2);
    let p = problems(&s);
    assert!(
        p.iter().any(|p| matches!(p, Problem::DigestModified { key, detail } if key == last && detail == "overwritten: 2 versions")),
        "{p:?}"
    );
    assert!(p.iter().any(|p| matches!(p, Problem::RecordNotContentAddressed { key } if key == victim)), "{p:?}");
}

/// Two sealers (the CLI's `evidence seal` and the sweeper) seal one store at the same time,
/// each with its own client, round after round: one chain, every record sealed once, verify
/// passes. (Before: both wrote the same sequence number under two keys, forking the chain.)
#[test]
fn attack_two_racing_sealers_leave_one_chain() {
    let Some(lab) = Lab::start("attack-race") else { return };
    let location = S3Location::parse(&format!("s3://{BUCKET}/race")).expect("location");
    let sealer = || {
        let client = s3_client(&lab.moto.sdk_config(), PathStyle::Auto);
        let runtime = Arc::new(blocking_runtime().expect("runtime"));
        BlockingS3EvidenceStore::new(S3EvidenceStore::new(client, location.clone(), StoreOptions::default()), runtime)
    };
    let rounds = 4;
    let barrier = std::sync::Barrier::new(2);
    let sealed: Vec<Vec<Result<evidence::Sealed, String>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2u32)
            .map(|who| {
                let (barrier, mut store) = (&barrier, sealer());
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for round in 0..rounds {
                        evidence::write_record(&mut store, "", &rec(100 * round + who), t(round as i64)).expect("write");
                        barrier.wait();
                        // Different windows: each sealer's clock differs by a few seconds.
                        let end = t(round as i64) + Duration::minutes(30) + Duration::seconds(who as i64);
                        out.push(evidence::seal(&mut store, "", &signer(7), end).map_err(|e| e.to_string()));
                        barrier.wait();
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("sealer thread")).collect()
    });
    let reader = lab.store("race", StoreOptions::default());
    let report = evidence::verify(&reader, "", Some(&signer(7).public()), None, None).expect("verify");
    assert!(report.ok(), "{:?}\n{sealed:?}", report.problems);
    assert_eq!((report.records_verified, report.records_pending), (2 * rounds as usize, 0), "{sealed:?}");
    let digests = lab.keys("race/digests/");
    assert!(digests.len() <= 2 * rounds as usize, "{digests:?}");
}

/// Issue 13 item 5 with the CLI: `evidence seal --kms-key` signs inside KMS (moto's), and
/// `verify --public-key` with the key's public half as PEM (what `terraform output
/// signing_public_key_pem` gives a verifier) accepts the chain; the Ed25519 key of a secret
/// does not verify it.
#[test]
fn driftwatch_cli_seals_with_a_kms_key_and_verifies_with_its_public_key() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let Some(lab) = Lab::start("cli-kms") else { return };
    let dir = scratch("evidence-s3-cli-kms");
    let url = format!("s3://{BUCKET}/kms");
    let env = [("DRIFTWATCH_EVIDENCE_RETENTION_DAYS", "1"), ("DRIFTWATCH_DIGEST_SALT", "a-secret-salt")];
    let o = lab.driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live", "--evidence", &url], &env);
    assert_eq!(o.status.code(), Some(1), "findings: {}", text(&o));
    let kms = driftwatch_aws::kms_client(&lab.moto.sdk_config());
    let key = lab
        .run(kms.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify).send())
        .expect("create key")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_string();
    let der = lab.run(kms.get_public_key().key_id(&key).send()).expect("public key").public_key().expect("der").clone();
    let pem = driftwatch_core::evidence::PublicKey::from_der(der.as_ref()).expect("P-256").to_pem();
    let public = dir.join("signing.pub");
    std::fs::write(&public, pem).expect("write the public key");

    let o = lab.driftwatch(&["evidence", "seal", "--evidence", &url, "--kms-key", &key], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("sealed 11 record(s)"), "{}", text(&o));
    let o = lab.driftwatch(&["verify", "--evidence", &url, "--public-key", public.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Another key (an Ed25519 key from a secret) is not the one that signed.
    let other = dir.join("other.key");
    assert_eq!(lab.driftwatch(&["evidence", "keygen", "--out", other.to_str().unwrap()], &[]).status.code(), Some(0));
    let o = lab.driftwatch(&["verify", "--evidence", &url, "--public-key", &format!("{}.pub", other.display())], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}
