//! Shared helpers of the integration tests.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Is this a CI run (`CI=true`)? There, missing tools fail tests instead of skipping them.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `terraform` on PATH, or `None` after saying loudly why the test is skipped.
/// Under CI a missing terraform is a failure.
pub fn terraform() -> Option<PathBuf> {
    let ok = Command::new("terraform").arg("version").output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(PathBuf::from("terraform"));
    }
    assert!(!under_ci(), "terraform is not on PATH but CI=true: install Terraform (>= 1.10) before running the suite");
    eprintln!("\n*** SKIPPED: terraform is not on PATH; install Terraform >= 1.10 to run this test ***\n");
    None
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let d = workspace_root().join("target/test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}
