//! Real Terraform writes a state with nested modules, `count`, `for_each` (with awkward keys),
//! data sources and sensitive values; driftwatch's parser must render every address exactly as
//! `terraform state list` does, and must not keep the sensitive value in clear.

use driftwatch_core::state::{parse_state, Mode, StateLocation};
use driftwatch_core::{Catalog, Redactor};
use driftwatch_tests::{scratch, terraform};
use std::collections::BTreeSet;
use std::process::Command;

const MAIN_TF: &str = r#"
variable "db_password" {
  type      = string
  sensitive = true
  default   = "Tf-Sensitive-Value-7781"
}

resource "terraform_data" "plain" {}

resource "terraform_data" "counted" {
  count = 2
  input = count.index
}

resource "terraform_data" "keyed" {
  for_each = toset(["alpha", "with space", "quote\"d", "back\\slash", "dollar$${x}"])
  input    = each.key
}

resource "terraform_data" "secret" {
  input = { password = var.db_password, user = "app" }
}

data "terraform_remote_state" "none" {
  backend = "local"
  config  = { path = "does-not-matter.tfstate" }
  defaults = { x = 1 }
}

module "outer" {
  source   = "./outer"
  for_each = { "eu-west" = 1, "us/east" = 2 }
  n        = each.value
}
"#;

const OUTER_TF: &str = r#"
variable "n" { type = number }
resource "terraform_data" "o" { input = var.n }
module "inner" {
  source = "./inner"
  count  = 2
}
"#;

const INNER_TF: &str = r#"
resource "terraform_data" "i" {
  for_each = toset(["k1", "k2"])
  input    = each.key
}
"#;

#[test]
fn addresses_match_terraform_state_list() {
    let Some(tf) = terraform() else { return };
    let dir = scratch("tf-addresses");
    std::fs::write(dir.join("main.tf"), MAIN_TF).expect("write main.tf");
    std::fs::write(
        dir.join("does-not-matter.tfstate"),
        r#"{"version":4,"terraform_version":"1.11.4","serial":1,"lineage":"x","outputs":{},"resources":[]}"#,
    )
    .expect("write remote state");
    std::fs::create_dir_all(dir.join("outer/inner")).expect("mkdir");
    std::fs::write(dir.join("outer/main.tf"), OUTER_TF).expect("write outer");
    std::fs::write(dir.join("outer/inner/main.tf"), INNER_TF).expect("write inner");
    let run = |args: &[&str]| {
        let out = Command::new(&tf)
            .args(args)
            .current_dir(&dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("run terraform");
        assert!(
            out.status.success(),
            "terraform {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["init", "-input=false", "-no-color"]);
    run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let listed: BTreeSet<String> = run(&["state", "list"]).lines().map(str::to_string).filter(|l| !l.is_empty()).collect();
    assert!(listed.len() >= 19, "terraform listed {listed:?}");

    let bytes = std::fs::read(dir.join("terraform.tfstate")).expect("read state");
    assert!(String::from_utf8_lossy(&bytes).contains("Tf-Sensitive-Value-7781"), "terraform stores the secret in plaintext");
    let state = parse_state(&bytes, StateLocation::local("terraform.tfstate"), &Catalog::builtin(), &Redactor::new(b"t")).expect("parse");
    let ours: BTreeSet<String> = state.instances.iter().map(|i| i.address.clone()).collect();
    assert_eq!(ours, listed, "addresses differ from `terraform state list`");
    assert!(state.instances.iter().any(|i| i.mode == Mode::Data), "data source parsed");
    assert!(!format!("{state:?}").contains("Tf-Sensitive-Value-7781"), "sensitive value kept in clear");
}
