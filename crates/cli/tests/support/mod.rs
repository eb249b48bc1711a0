//! Helpers shared by the `driftwatch` CLI integration tests (modules of the suite, `main.rs`):
//! `use crate::support; use support::*;`.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root, where the binary runs and `samples/` and `events/` live.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// Run the binary in the workspace root with `args`, with the given environment variables removed.
pub fn driftwatch_env_removed(args: &[&str], remove: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_driftwatch"));
    cmd.args(args).current_dir(root());
    for var in remove {
        cmd.env_remove(var);
    }
    cmd.output().expect("run driftwatch")
}

/// Run the binary in the workspace root with `args`.
pub fn driftwatch(args: &[&str]) -> Output {
    driftwatch_env_removed(args, &[])
}

/// Run the binary in the workspace root with `args`, `NO_COLOR` removed from its environment.
pub fn driftwatch_without_no_color(args: &[&str]) -> Output {
    driftwatch_env_removed(args, &["NO_COLOR"])
}

/// What `text` shows: bytes as (lossy) UTF-8; an `Output` as its stdout then its stderr.
pub trait AsText {
    fn as_text(&self) -> String;
}

impl AsText for [u8] {
    fn as_text(&self) -> String {
        String::from_utf8_lossy(self).into_owned()
    }
}

impl AsText for Vec<u8> {
    fn as_text(&self) -> String {
        self.as_slice().as_text()
    }
}

impl AsText for Output {
    fn as_text(&self) -> String {
        format!("{}{}", self.stdout.as_text(), self.stderr.as_text())
    }
}

pub fn text<T: AsText + ?Sized>(x: &T) -> String {
    x.as_text()
}

/// A fresh, empty directory `driftwatch-<prefix>-<pid>-<name>` in the temp dir (made writable
/// first where a previous run left read-only evidence in it).
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("driftwatch-{prefix}-{}-{name}", std::process::id()));
    if d.exists() {
        let _ = Command::new("chmod").arg("-R").arg("u+w").arg(&d).status();
        let _ = std::fs::remove_dir_all(&d);
    }
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Every file below `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// stdout parsed as a JSON array of findings.
pub fn findings_json(out: &Output) -> Vec<Value> {
    serde_json::from_slice::<Vec<Value>>(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a JSON array of findings: {e}\n{}\n{}", text(&out.stdout), text(&out.stderr)))
}

/// A finding's Terraform address or, for unmanaged resources, "<type> <id>".
pub fn what(f: &Value) -> String {
    let r = &f["resource"];
    r["address"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{} {}", r["type"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or("")))
}

/// (rule, Terraform address or, for unmanaged resources, "<type> <id>")
pub fn keys(findings: &[Value]) -> BTreeSet<(String, String)> {
    findings.iter().map(|f| (f["rule"].as_str().unwrap_or("").to_string(), what(f))).collect()
}

/// `scan` of the sample states against the sample live inventory, before any further arguments.
pub const SCAN_SAMPLES: [&str; 5] = ["scan", "--state", "samples/states", "--live", "samples/live"];

/// Run `driftwatch scan` on the samples with `extra` arguments.
pub fn scan_samples(extra: &[&str]) -> Output {
    driftwatch(&[&SCAN_SAMPLES[..], extra].concat())
}
