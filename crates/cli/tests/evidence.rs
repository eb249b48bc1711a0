//! Evidence end to end on the local store: `scan --evidence`, `evidence keygen`, `evidence seal`,
//! `verify` — and every kind of tampering detected, named, exit 1.

use crate::support;
use support::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn writable(p: &Path) {
    let mut perms = std::fs::metadata(p).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(p, perms).expect("chmod");
}

/// scan → evidence, keygen, seal; returns (evidence dir, key dir).
fn sealed(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch("ev", name);
    let ev = dir.join("evidence");
    let key = dir.join("signing.key");
    let o = scan_samples(&["--format", "json", "--allow-default-salt", "--evidence", ev.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = driftwatch(&["evidence", "keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = driftwatch(&["evidence", "seal", "--evidence", ev.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("sealed 11 record(s)"), "3 states + 1 live document + 6 findings + the scan's coverage: {}", text(&o));
    (ev, dir)
}

fn verify(ev: &Path, dir: &Path) -> Output {
    driftwatch(&["verify", "--evidence", ev.to_str().unwrap(), "--public-key", dir.join("signing.key.pub").to_str().unwrap()])
}

/// `verify` fails (exit 1) and names every one of `what`.
fn assert_detected(ev: &Path, dir: &Path, what: &[&str]) {
    let o = verify(ev, dir);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(what.iter().all(|w| t.contains(w)), "{t}");
}

fn records(ev: &Path) -> Vec<PathBuf> {
    files(ev).into_iter().filter(|p| !p.to_string_lossy().contains("/digests/")).collect()
}

fn digests(ev: &Path) -> Vec<PathBuf> {
    files(ev).into_iter().filter(|p| p.to_string_lossy().contains("/digests/")).collect()
}

#[test]
fn scan_records_inputs_and_findings_once() {
    let dir = scratch("ev", "scan-twice");
    let ev = dir.join("ev");
    let args = [
        "scan",
        "--state",
        "samples/states",
        "--live",
        "samples/live",
        "--format",
        "json",
        "--now",
        "2026-11-22T12:00:00Z",
        "--allow-default-salt",
        "--evidence",
        ev.to_str().unwrap(),
    ];
    let first = driftwatch(&args);
    let n = files(&ev).len();
    assert_eq!(n, 3 + 1 + 6 + 1, "3 state files + 1 live document + 6 findings + the scan's coverage");
    assert_eq!(files(&ev).iter().filter(|p| p.to_string_lossy().contains("/coverage/")).count(), 1);
    let second = driftwatch(&args);
    assert_eq!(files(&ev).len(), n, "writing the same records twice is a no-op");
    assert_eq!(first.stdout, second.stdout);
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&first.stdout).expect("json");
    for f in findings {
        let keys = f["evidence"].as_array().expect("evidence keys");
        assert!(!keys.is_empty(), "{f}");
        for k in keys {
            assert!(ev.join(k.as_str().unwrap()).is_file(), "evidence key {k} exists");
        }
    }
    // No secret, no state content in evidence: only hashes of inputs.
    for p in files(&ev) {
        let t = std::fs::read_to_string(&p).expect("read");
        assert!(!t.contains("S3cr3t-EHR-db-pa55word!") && !t.contains("\"resources\""), "{}", p.display());
    }
}

#[test]
fn untouched_store_verifies() {
    let (ev, dir) = sealed("ok");
    let o = verify(&ev, &dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.starts_with("OK: 1 digest(s), 11 record(s) verified") && t.contains("proven: "), "{t}");
}

#[test]
fn modified_record_is_detected() {
    let (ev, dir) = sealed("modified");
    let r = &records(&ev)[0];
    writable(r);
    let mut b = std::fs::read(r).unwrap();
    b[5] ^= 0x01;
    std::fs::write(r, b).unwrap();
    assert_detected(&ev, &dir, &["record modified"]);
}

#[test]
fn deleted_record_is_detected() {
    let (ev, dir) = sealed("deleted");
    std::fs::remove_file(&records(&ev)[1]).unwrap();
    assert_detected(&ev, &dir, &["record missing"]);
}

#[test]
fn added_record_is_detected() {
    let (ev, dir) = sealed("added");
    // A back-dated record slipped in after the seal.
    let body = br#"{"body":{"rule":"drift.changed","note":"forged"},"kind":"finding","time":"2026-01-01T00:00:00.000Z"}"#;
    let sha: String = {
        use std::io::Write;
        let mut c = Command::new("sha256sum").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
        c.stdin.take().unwrap().write_all(body).unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()[..64].to_string()
    };
    let p = ev.join(format!("2026/01/01/finding/{sha}.json"));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    assert_detected(&ev, &dir, &["not covered by any digest"]);
}

#[test]
fn deleted_digest_is_detected() {
    let (ev, dir) = sealed("digest-deleted");
    let key = dir.join("signing.key");
    // A second seal (an empty window still gets a digest), then the first digest is deleted.
    let o = driftwatch(&["evidence", "seal", "--evidence", ev.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(digests(&ev).len(), 2);
    std::fs::remove_file(&digests(&ev)[0]).unwrap();
    assert_detected(&ev, &dir, &["digest missing"]);
}

#[test]
fn altered_digest_is_detected() {
    let (ev, dir) = sealed("digest-altered");
    let d = &digests(&ev)[0];
    writable(d);
    let t = std::fs::read_to_string(d).unwrap();
    // Drop the first covered record from the digest's list (hide it), keep valid JSON.
    let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
    v["records"].as_array_mut().unwrap().remove(0);
    std::fs::write(d, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_detected(&ev, &dir, &["bad signature"]);
}

#[test]
fn chain_resigned_with_another_key_is_detected() {
    let (ev, dir) = sealed("resigned");
    for d in digests(&ev) {
        std::fs::remove_file(d).unwrap();
    }
    let other = dir.join("other.key");
    assert_eq!(driftwatch(&["evidence", "keygen", "--out", other.to_str().unwrap()]).status.code(), Some(0));
    let o = driftwatch(&["evidence", "seal", "--evidence", ev.to_str().unwrap(), "--key", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_detected(&ev, &dir, &["bad signature", "trusted key"]);
}

#[test]
fn overwriting_a_record_with_other_content_is_refused() {
    use driftwatch::evidence::LocalStore;
    use driftwatch_core::evidence::{EvidenceError, EvidenceStore, PutOutcome};
    let dir = scratch("ev", "write-once");
    let mut s = LocalStore::open(&dir).unwrap();
    assert_eq!(s.put_new("a/b.json", b"1").unwrap(), PutOutcome::Created);
    assert_eq!(s.put_new("a/b.json", b"1").unwrap(), PutOutcome::AlreadyPresent);
    assert!(matches!(s.put_new("a/b.json", b"2"), Err(EvidenceError::Conflict { .. })));
    assert!(s.put_new("../escape.json", b"x").is_err());
    assert!(std::fs::metadata(dir.join("a/b.json")).unwrap().permissions().readonly());
}

#[test]
fn verify_errors_are_one_line() {
    let o = driftwatch(&["verify", "--evidence", "/nonexistent/evidence"]);
    assert_eq!(o.status.code(), Some(2));
    let o = driftwatch(&["evidence", "seal", "--evidence", "/tmp", "--key", "/nonexistent.key"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1, "{}", text(&o));
}

#[test]
fn replay_records_event_files_and_findings() {
    let dir = scratch("ev", "replay");
    let ev = dir.join("ev");
    let o = driftwatch(&[
        "replay",
        "--state",
        "samples/states",
        "--events",
        "events/trail-watcher/console-edit",
        "--policy",
        "events/policy.toml",
        "--format",
        "json",
        "--allow-default-salt",
        "--evidence",
        ev.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("json");
    assert!(!findings.is_empty());
    for f in &findings {
        let keys: Vec<&str> = f["evidence"].as_array().unwrap().iter().filter_map(|k| k.as_str()).collect();
        assert!(keys.iter().any(|k| k.contains("/input/") && ev.join(k).is_file()), "{keys:?}");
    }
    assert_eq!(records(&ev).len(), 1 + findings.len(), "one event file + the findings");
}

/// Issue 13 item 2: evidence is kept for years, so `--evidence` refuses the public built-in
/// digest salt unless told explicitly; a salt from the environment is used as given.
#[test]
fn evidence_with_the_public_default_salt_is_refused_unless_allowed() {
    let dir = scratch("ev", "default-salt");
    let ev = dir.join("ev");
    let args = ["scan", "--state", "samples/states", "--live", "samples/live", "--evidence", ev.to_str().unwrap()];
    let o = support::driftwatch_env_removed(&args, &["DRIFTWATCH_DIGEST_SALT"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("refusing to write evidence with the public built-in digest salt"), "{}", text(&o));
    assert!(!ev.exists() || files(&ev).is_empty(), "nothing written");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(support::root())
        .env("DRIFTWATCH_DIGEST_SALT", "a-secret-salt-from-secrets-manager")
        .output()
        .expect("run driftwatch");
    assert_eq!(o.status.code(), Some(1), "findings, written with the given salt: {}", text(&o));
    assert!(!files(&ev).is_empty());
}
