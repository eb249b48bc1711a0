//! Architecture invariants (ARCHITECTURE.md): `crates/core` is pure; the AWS SDK stays in `crates/aws`.
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

/// Thin Lambda mains (STYLE.md habit 1): every `functions/<name>` is one `main` handing its
/// function to `driftwatch_lambda::runtime::run`, and names a function the handler crate knows.
#[test]
fn function_mains_are_thin() {
    let dir = workspace_root().join("functions");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("functions/") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("utf8").to_string();
        let main = std::fs::read_to_string(path.join("src/main.rs")).unwrap_or_else(|e| panic!("functions/{name}/src/main.rs: {e}"));
        let code: Vec<&str> = main.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("//")).collect();
        assert!(code.len() <= 5, "functions/{name}/src/main.rs is not thin:\n{main}");
        assert!(main.contains("driftwatch_lambda::runtime::run("), "functions/{name} does not run through driftwatch_lambda::runtime::run");
        let f = driftwatch_lambda::Function::from_name(&name)
            .unwrap_or_else(|| panic!("functions/{name}: no such function in driftwatch_lambda"));
        let variant = format!("{f:?}");
        assert!(main.contains(&format!("Function::{variant})")), "functions/{name} runs another function than {variant}");
        names.push(name);
    }
    names.sort();
    let mut all: Vec<String> = driftwatch_lambda::Function::ALL.iter().map(|f| f.name().to_string()).collect();
    all.sort();
    assert_eq!(names, all, "functions/ and driftwatch_lambda::Function::ALL disagree");
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The AWS boundary: the SDK (`aws_sdk_*`, `aws_config`, `aws_types`, `aws_smithy_*`) is named
/// only in `crates/aws`, in sources and manifests alike; every other crate of the product
/// (`crates/*`, `functions/*`) reaches AWS through its adapters. (`tests/` and `benches/` set
/// up moto with the SDK, so they may name it.)
#[test]
fn the_aws_sdk_is_named_only_in_crates_aws() {
    let root = workspace_root();
    let sdk_in_source = ["aws_sdk_", "aws_config", "aws_types", "aws_smithy_"];
    let sdk_in_manifest = ["aws-sdk-", "aws-config", "aws-types", "aws-smithy-"];
    let mut offences = Vec::new();
    let mut product: Vec<PathBuf> = Vec::new();
    for parent in ["crates", "functions"] {
        for entry in std::fs::read_dir(root.join(parent)).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() && path != root.join("crates/aws") {
                product.push(path);
            }
        }
    }
    assert!(product.len() >= 10, "found only {product:?}: is the walk broken?");
    for krate in &product {
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap_or_else(|e| panic!("{}: {e}", krate.display()));
        let in_deps = manifest.split("[dev-dependencies]").next().unwrap_or_default();
        for (n, line) in in_deps.lines().enumerate() {
            if sdk_in_manifest.iter().any(|s| line.trim_start().starts_with(s)) {
                offences.push(format!("{}/Cargo.toml:{}: {}", krate.display(), n + 1, line.trim()));
            }
        }
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                if !line.trim_start().starts_with("//") && sdk_in_source.iter().any(|s| line.contains(s)) {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "the AWS SDK outside crates/aws:\n{}", offences.join("\n"));
}

/// `crates/decode` (payloads → signals) and `crates/engine` (the use cases) are pure like the
/// core: no file system, network, process, environment or clock in their sources (the engine
/// is given its documents and its time), and no async runtime, AWS SDK or Lambda runtime
/// among the engine's dependencies.
#[test]
fn decode_and_engine_do_no_io() {
    let banned =
        ["std::fs", "std::net", "std::process", "std::env", "SystemTime", "Utc::now", "Instant::now", "tokio", "println!", "eprintln!"];
    let mut offences = Vec::new();
    for krate in ["crates/decode/src", "crates/engine/src"] {
        let mut files = Vec::new();
        rust_files(&workspace_root().join(krate), &mut files);
        assert!(!files.is_empty(), "{krate}: no sources");
        for path in files {
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
    assert!(offences.is_empty(), "I/O or clock in crates/decode or crates/engine:\n{}", offences.join("\n"));
    let manifest = std::fs::read_to_string(workspace_root().join("crates/engine/Cargo.toml")).expect("engine manifest");
    let deps = manifest.split("[dependencies]").nth(1).unwrap_or_default().split("\n[").next().unwrap_or_default();
    for line in deps.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default().trim();
        assert!(
            !forbidden(name) && !name.starts_with("driftwatch-aws") && !name.starts_with("driftwatch-local"),
            "crates/engine depends on {name}"
        );
    }
}

/// Handlers hold no business rule: a function's handler decodes its payload, reads and writes
/// through its adapters, calls the engine's use cases (`driftwatch_engine`) and encodes the
/// response. No detector, index slice, detector memory, exception rule, finding lifecycle or
/// drift scan is called from `crates/lambda/src/handlers` — those run in the engine, where the
/// CLI and the tests run them too.
#[test]
fn handlers_hold_no_business_rule() {
    let banned = [
        "detect::process",
        "detect::lock",
        "detect::invalid_input",
        "detect::needs",
        "state_write::detect",
        "StateWrite::new",
        "Context {",
        "InMemory",
        "LedgerMemory",
        "lifecycle::",
        "exceptions::apply",
        "drift::scan",
        "ManagedIndex::from_entries",
        "is_replay",
    ];
    let dir = workspace_root().join("crates/lambda/src/handlers");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() >= 7, "crates/lambda/src/handlers holds {} files: is the walk broken?", files.len());
    let mut offences = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read source");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for b in banned {
                if line.contains(b) {
                    offences.push(format!("{}:{}: {b}", path.display(), n + 1));
                }
            }
        }
        let is_dispatch = path.ends_with("mod.rs");
        assert!(
            is_dispatch || text.contains("driftwatch_engine"),
            "{} calls no use case of driftwatch_engine: where does its work happen?",
            path.display()
        );
    }
    assert!(offences.is_empty(), "business rules in the Lambda handlers (move them to crates/engine):\n{}", offences.join("\n"));
}
