//! Shared by the alert, ASFF and lifecycle modules of the suite (`use crate::support;`): the
//! sample findings and a snapshot compare.
#![allow(dead_code)]

use driftwatch_core::drift::{self, ScanPolicy};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::state::{self, StateLocation};
use driftwatch_core::{Catalog, Finding, Redactor};
use std::path::{Path, PathBuf};

/// The CLI's default digest salt, so findings equal `driftwatch scan`'s.
pub const SALT: &str = "driftwatch/v1/default-salt";
pub const NOW: &str = "2026-11-22T12:00:00Z";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Scan `states` against `live` (paths relative to the workspace root), as
/// `driftwatch scan --now 2026-11-22T12:00:00Z` does.
pub fn scan(states: &[&str], live: &[&str]) -> Vec<Finding> {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(SALT.as_bytes());
    let mut index = ManagedIndex::default();
    for s in states {
        let bytes = std::fs::read(root().join(s)).expect("state");
        let st = state::parse_state(&bytes, StateLocation::local(*s), &catalog, &redactor).expect("parse");
        index.add_state(st, &catalog);
    }
    let mut inv = LiveInventory::default();
    for l in live {
        let bytes = std::fs::read(root().join(l)).expect("live");
        let (items, _) = live::parse_document(&bytes, &redactor).expect("live parse");
        for it in items {
            inv.insert(it);
        }
    }
    let policy = ScanPolicy { regulated_tag: Some(("data-classification".into(), "phi".into())) };
    drift::scan(&index, &inv, &catalog, &redactor, &policy, NOW.parse().expect("now")).findings
}

/// `samples/states` against `samples/live`.
pub fn sample_scan() -> Vec<Finding> {
    scan(
        &["samples/states/app.tfstate", "samples/states/data.tfstate", "samples/states/network.tfstate"],
        &["samples/live/config-snapshot.json"],
    )
}

/// `samples/sensitive`.
pub fn sensitive_scan() -> Vec<Finding> {
    scan(&["samples/sensitive/secret.tfstate"], &["samples/sensitive/live.json"])
}

/// A stored fixture of findings (`tests/fixtures/NAME.json`).
pub fn fixture(name: &str) -> Vec<Finding> {
    let path = here().join("fixtures").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text).expect("fixture findings")
}

/// Compare `actual` with `tests/snapshots/NAME`; `UPDATE_SNAPSHOTS=1` rewrites it.
pub fn snapshot(name: &str, actual: &str) {
    let path = here().join("snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("snapshot {} missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    if expected != actual {
        let first =
            expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "snapshot {} differs (first at line {}); run with UPDATE_SNAPSHOTS=1 to accept\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display(),
            first + 1
        );
    }
}

/// Every secret planted in the sample states.
pub const SECRETS: [&str; 4] =
    ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];

pub fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "secret {s} in {what}");
    }
}
