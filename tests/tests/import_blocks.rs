//! `driftwatch import` and the `import` field of `drift.unmanaged` findings: for every primary
//! row of the catalog, the import and resource blocks written from a live item of the type
//! (its example pair's item where it has one, else an item holding a value at each compared
//! attribute) are what `terraform fmt -check` accepts unchanged; a secret in the live item is a
//! `# set me` comment, never the value; and the CLI writes the blocks for the sample estate's
//! unmanaged bucket.

use driftwatch_core::catalog::{Catalog, Role};
use driftwatch_core::import;
use driftwatch_core::live::{self, ConfigItem};
use driftwatch_core::normalize::Normalizer;
use driftwatch_core::Redactor;
use driftwatch_tests::{driftwatch_bin, scratch, terraform, workspace_root};
use serde_json::{json, Value};
use std::process::Command;

const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The configuration item of a row: its pair's, or one with a value at each attribute.
fn item_of(spec: &driftwatch_core::catalog::ResourceSpec) -> Value {
    let pair = workspace_root().join(format!("crates/core/tests/pairs/{}.json", spec.terraform_type));
    let (id, name, arn, mut doc) = match std::fs::read_to_string(&pair) {
        Ok(text) => {
            let p: Value = serde_json::from_str(&text).unwrap();
            let doc = json!({
                "configuration": p["configuration"],
                "supplementaryConfiguration": p.get("supplementaryConfiguration").cloned().unwrap_or(json!({})),
                "tags": p.get("tags").cloned().unwrap_or(json!({})),
            });
            (
                p["resource_id"].clone(),
                p.get("resource_name").cloned().unwrap_or(p["resource_id"].clone()),
                p.get("arn").cloned().unwrap_or(Value::Null),
                doc,
            )
        }
        Err(_) => {
            let mut doc = json!({"configuration": {}, "supplementaryConfiguration": {}});
            for a in &spec.attrs {
                let Some(p) = a.live.first() else { continue };
                let v = match a.normalize {
                    Normalizer::Bool => json!(true),
                    Normalizer::Number => json!(7),
                    Normalizer::Tags => json!({"Owner": "ehr-platform", "data-classification": "phi"}),
                    Normalizer::Set => json!(["a", "b"]),
                    Normalizer::PolicyJson => {
                        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "*"}]})
                    }
                    Normalizer::KmsKey => json!(KEY_ARN),
                    Normalizer::String | Normalizer::Lower => json!("example-value"),
                    _ => continue,
                };
                *p.entry(&mut doc) = v;
            }
            let arn = format!("arn:aws:example:us-east-1:123456789012:{}/example", spec.terraform_type);
            (json!("example-id"), json!("example-name"), json!(arn), doc)
        }
    };
    doc["resourceType"] = json!(spec.config_type);
    doc["resourceId"] = id;
    doc["resourceName"] = name;
    doc["ARN"] = arn;
    doc["awsAccountId"] = json!("123456789012");
    doc["awsRegion"] = json!("us-east-1");
    doc["configurationItemStatus"] = json!("OK");
    doc["configurationItemCaptureTime"] = json!("2026-11-20T06:00:00.766Z");
    doc
}

fn parse(items: Vec<Value>) -> Vec<ConfigItem> {
    let doc = json!({"configurationItems": items});
    let (items, errors) = live::parse_document(&serde_json::to_vec(&doc).unwrap(), &Redactor::new(b"t")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    items
}

fn fmt_check(tf: &std::path::Path, dir: &std::path::Path, file: &str) {
    let out = Command::new(tf)
        .args(["fmt", "-check", "-diff", file])
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("run terraform fmt");
    assert!(
        out.status.success(),
        "terraform fmt -check rejects {file}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_primary_type_gets_import_blocks_terraform_fmt_accepts() {
    let Some(tf) = terraform() else { return };
    let catalog = Catalog::builtin();
    // rows with `import_id = ""` say the import id is not in a Config item (API Gateway stages)
    let primaries: Vec<_> = catalog.rows().iter().filter(|r| r.role == Role::Primary && r.import_id.as_deref() != Some("")).collect();
    let without = catalog.rows().iter().filter(|r| r.import_id.as_deref() == Some("")).count();
    assert!(without <= 2, "{without} types without an import id");
    let items = parse(primaries.iter().map(|s| item_of(s)).collect());
    assert_eq!(items.len(), primaries.len());
    let mut hints = Vec::new();
    for (spec, item) in primaries.iter().zip(&items) {
        let h = import::hint(item, spec).unwrap_or_else(|| panic!("{}: no import id from {:?}", spec.terraform_type, spec.import_id));
        assert!(h.to.starts_with(&format!("{}.", spec.terraform_type)), "{h:?}");
        assert!(!h.id.is_empty());
        hints.push(h);
    }
    // the same address twice would not be valid Terraform: make the names unique
    for (i, h) in hints.iter_mut().enumerate() {
        h.to = format!("{}_{i}", h.to);
    }
    let text = import::file(hints.iter().zip(&primaries).zip(&items).map(|((h, s), it)| (h, *s, Some(it))));
    assert_eq!(text.matches("\nimport {\n").count(), primaries.len());
    assert_eq!(text.matches("\nresource \"").count(), primaries.len());
    let dir = scratch("import-blocks");
    std::fs::write(dir.join("imports.tf"), &text).unwrap();
    fmt_check(&tf, &dir, "imports.tf");
    eprintln!("import blocks for {} primary types pass terraform fmt -check", primaries.len());
}

#[test]
fn a_secret_in_the_live_item_is_a_set_me_comment() {
    let Some(tf) = terraform() else { return };
    let catalog = Catalog::builtin();
    let spec = catalog.get("aws_sns_topic").unwrap();
    let secret = "AKIAIOSFODNN7EXAMPLE";
    let items = parse(vec![json!({
        "resourceType": "AWS::SNS::Topic",
        "resourceId": "arn:aws:sns:us-east-1:123456789012:ehr-alerts",
        "resourceName": "ehr-alerts",
        "ARN": "arn:aws:sns:us-east-1:123456789012:ehr-alerts",
        "configurationItemStatus": "OK",
        "configuration": {"DisplayName": secret, "KmsMasterKeyId": KEY_ARN},
        "tags": {"Owner": "ehr"}
    })]);
    let h = import::hint(&items[0], spec).unwrap();
    assert_eq!(h.to, "aws_sns_topic.ehr-alerts");
    assert_eq!(h.id, "arn:aws:sns:us-east-1:123456789012:ehr-alerts");
    let text = import::file([(&h, spec, Some(&items[0]))]);
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("# display_name = \"set me\""), "{text}");
    assert!(text.contains("kms_master_key_id = \"1234abcd-12ab-34cd-56ef-1234567890ab\""), "{text}");
    let dir = scratch("import-secret");
    std::fs::write(dir.join("imports.tf"), &text).unwrap();
    fmt_check(&tf, &dir, "imports.tf");
}

#[test]
fn the_cli_writes_import_blocks_for_the_sample_estates_unmanaged_bucket() {
    let Some(tf) = terraform() else { return };
    let bin = driftwatch_bin();
    let dir = scratch("import-cli");
    let root = workspace_root();
    let scan = Command::new(&bin)
        .args(["scan", "--state", "samples/states", "--live", "samples/live", "--now", "2026-11-22T12:00:00Z", "--out"])
        .arg(&dir)
        .current_dir(&root)
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1), "{}", String::from_utf8_lossy(&scan.stderr));
    let stdout = String::from_utf8_lossy(&scan.stdout);
    assert!(stdout.contains("coverage: "), "scan prints its coverage line:\n{stdout}");
    let coverage: Value = serde_json::from_slice(&std::fs::read(dir.join("coverage.json")).unwrap()).unwrap();
    assert!(coverage["managed_instances"].as_u64().unwrap() >= coverage["compared_instances"].as_u64().unwrap());
    assert_eq!(coverage["states"].as_array().unwrap().len(), 3);
    let findings: Value = serde_json::from_slice(&std::fs::read(dir.join("findings.json")).unwrap()).unwrap();
    let unmanaged: Vec<&Value> = findings.as_array().unwrap().iter().filter(|f| f["rule"] == "drift.unmanaged").collect();
    assert!(!unmanaged.is_empty());
    for f in &unmanaged {
        assert!(f["import"]["to"].as_str().is_some_and(|t| t.starts_with(f["resource"]["terraform_type"].as_str().unwrap())), "{f}");
    }
    let out = Command::new(&bin)
        .args(["import", "--findings"])
        .arg(dir.join("findings.json"))
        .args(["--live", "samples/live", "--out"])
        .arg(dir.join("imports.tf"))
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.join("imports.tf")).unwrap();
    assert!(text.contains("to = aws_s3_bucket.stmarys-ehr-export-tmp-20261118"), "{text}");
    assert!(text.contains("id = \"stmarys-ehr-export-tmp-20261118\""), "{text}");
    fmt_check(&tf, &dir, "imports.tf");
    // bad input: a file that is not findings is a clear error, exit 2
    std::fs::write(dir.join("bad.json"), "{\"not\": \"findings\"}").unwrap();
    let bad = Command::new(&bin).args(["import", "--findings"]).arg(dir.join("bad.json")).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a JSON array of findings"), "{}", String::from_utf8_lossy(&bad.stderr));
}
