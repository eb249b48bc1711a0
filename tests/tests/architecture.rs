//! Architecture invariants (ARCHITECTURE.md): `crates/core` is pure.
//!
//! * its dependency graph (normal dependencies, transitively) holds no async runtime, no AWS
//!   SDK and no Lambda runtime;
//! * its sources touch no file system, network, process, environment or clock.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn forbidden(name: &str) -> bool {
    name == "tokio"
        || name.starts_with("tokio-")
        || name.starts_with("aws-")
        || name.starts_with("aws_")
        || name.starts_with("lambda_")
        || name.starts_with("lambda-")
        || ["hyper", "reqwest", "mio", "async-std", "smol"].contains(&name)
}

#[test]
fn core_depends_on_no_io_runtime_or_aws_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out =
        Command::new(cargo).args(["metadata", "--format-version", "1"]).current_dir(workspace_root()).output().expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or(""), p["name"].as_str().unwrap_or("")))
        .collect();
    let nodes: HashMap<&str, &Value> =
        meta["resolve"]["nodes"].as_array().expect("nodes").iter().map(|n| (n["id"].as_str().unwrap_or(""), n)).collect();
    let core = names.iter().find(|(_, n)| **n == "driftwatch-core").map(|(id, _)| *id).expect("driftwatch-core in workspace");
    // Walk normal (non-dev, non-build) dependencies transitively.
    let mut seen = BTreeSet::new();
    let mut stack = vec![core];
    while let Some(id) = stack.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].is_null());
            let pkg = dep["pkg"].as_str().unwrap_or("");
            if normal && seen.insert(pkg) {
                stack.push(pkg);
            }
        }
    }
    let dep_names: BTreeSet<&str> = seen.iter().filter_map(|id| names.get(id).copied()).collect();
    assert!(dep_names.contains("serde_json"), "walk found the core's dependencies: {dep_names:?}");
    let bad: Vec<&&str> = dep_names.iter().filter(|n| forbidden(n)).collect();
    assert!(bad.is_empty(), "crates/core must stay pure, but depends on {bad:?}");
}

#[test]
fn core_sources_do_no_io() {
    let src = workspace_root().join("crates/core/src");
    let banned =
        ["std::fs", "std::net", "std::process", "std::env", "SystemTime", "Utc::now", "Instant::now", "tokio", "println!", "eprintln!"];
    let mut offences = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read core src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                for (n, line) in text.lines().enumerate() {
                    for b in banned {
                        if line.contains(b) && !line.trim_start().starts_with("//") {
                            offences.push(format!("{}:{}: {b}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
    }
    assert!(offences.is_empty(), "I/O or clock in crates/core:\n{}", offences.join("\n"));
}
