//! Every row of `catalog/resources/*.toml` against its example pair, `tests/pairs/<type>.json`:
//! one Terraform v4 state instance with the attributes the AWS provider writes (computed ones
//! included, so they are shown to stay quiet) and the AWS Config item of the same resource,
//! written the way Config writes it. For each row:
//!
//! * the pair gives no finding, the instance is indexed under the item's `resourceId`, and every
//!   comparable attribute was compared (a value on both sides, or its catalog `default` where
//!   the pair lists it in `absent`);
//! * each comparable attribute changed on its own (a different tag, key, policy statement,
//!   number, flag, string; for an ordered encryption attribute another value of its order)
//!   gives exactly one finding on that resource naming exactly that attribute:
//!   `encryption.regression` when it weakens an encryption attribute, else `drift.changed`;
//! * its CloudTrail calls (`[resource.cloudtrail]`) load and name the row's type.
//!
//! The files are read from disk when the test runs, so an edited row or pair is checked
//! without rebuilding; `the_builtin_catalog_embeds_every_resource_file` checks that the
//! embedded catalog is the one on disk. While writing rows elsewhere, `DRIFTWATCH_PAIRS_ROOT=DIR`
//! reads the resource files from `DIR/resources/` and the pairs from `DIR/pairs/` instead
//! (the embedding check then fails, as it should). The hand-written cases of `catalog_rows.rs` cover the
//! rows of `catalog.toml`.

use chrono::{DateTime, Utc};
use driftwatch_core::catalog::{Catalog, Encryption, ResourceSpec, RESOURCE_FILES};
use driftwatch_core::detect::cloudtrail_calls::ApiTable;
use driftwatch_core::detect::controls::Controls;
use driftwatch_core::drift::{self, ScanOutcome, ScanPolicy};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::normalize::{Ctx, Normalizer};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Redactor, Rule};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ba0987654321";
const NAME: &str = "this";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T06:05:00Z").map(|t| t.with_timezone(&Utc)).expect("valid timestamp")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Where the resource files and the pairs are read from.
fn work_dirs() -> (PathBuf, PathBuf) {
    match std::env::var_os("DRIFTWATCH_PAIRS_ROOT") {
        Some(dir) => (Path::new(&dir).join("resources"), Path::new(&dir).join("pairs")),
        None => (root().join("catalog/resources"), root().join("tests/pairs")),
    }
}

/// `catalog/resources/*.toml` as it is on disk, by name.
fn disk_files() -> Vec<(String, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(work_dirs().0)
        .expect("catalog/resources")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, text)
        })
        .collect()
}

/// The catalog on disk, with the control catalog's retained attributes as `Catalog::builtin`.
fn disk_catalog(files: &[(String, String)]) -> Catalog {
    let main = std::fs::read_to_string(root().join("catalog/catalog.toml")).expect("catalog.toml");
    let mut c =
        Catalog::from_files(std::iter::once(("catalog.toml", main.as_str())).chain(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))))
            .unwrap_or_else(|e| panic!("the catalog on disk does not load: {e}"));
    c.retain_for_controls(Controls::builtin().retained());
    c
}

/// The Terraform types of the resource files' rows.
fn resource_file_types(files: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, text) in files {
        let doc: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for r in doc.get("resource").and_then(|r| r.as_array()).into_iter().flatten() {
            let t = r.get("terraform_type").and_then(|t| t.as_str()).unwrap_or_else(|| panic!("{file}: a row without terraform_type"));
            out.push((file.clone(), t.to_string()));
        }
    }
    out
}

#[test]
fn the_builtin_catalog_embeds_every_resource_file() {
    let disk = disk_files();
    let embedded: Vec<(String, String)> = RESOURCE_FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&embedded), names(&disk), "catalog::RESOURCE_FILES must list catalog/resources/*.toml, sorted");
    for ((name, a), (_, b)) in embedded.iter().zip(&disk) {
        assert!(a == b, "{name}: the embedded text differs from the file (rebuild)");
    }
    assert_eq!(Catalog::builtin().rows().len(), disk_catalog(&disk).rows().len());
    let main = std::fs::read_to_string(root().join("catalog/cloudtrail.toml")).expect("cloudtrail.toml");
    let table = ApiTable::from_sources(&main, disk.iter().map(|(n, t)| (n.as_str(), t.as_str()))).expect("loads");
    assert_eq!(ApiTable::builtin().rows().len(), table.rows().len(), "the embedded CloudTrail table differs from the files (rebuild)");
}

#[test]
fn the_catalog_holds_at_least_100_types() {
    let catalog = disk_catalog(&disk_files());
    let types: BTreeSet<&str> = catalog.rows().iter().map(|r| r.terraform_type.as_str()).collect();
    assert!(types.len() >= 100, "the catalog holds {} Terraform types", types.len());
}

#[test]
fn every_resource_row_names_its_service_and_its_cloudtrail_calls() {
    let files = disk_files();
    let catalog = disk_catalog(&files);
    let main = std::fs::read_to_string(root().join("catalog/cloudtrail.toml")).expect("cloudtrail.toml");
    let table = ApiTable::from_sources(&main, files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .unwrap_or_else(|e| panic!("the CloudTrail table on disk does not load: {e}"));
    let problems = table.validate(&catalog);
    assert!(problems.is_empty(), "CloudTrail table problems:\n{}", problems.join("\n"));
    let mut missing = Vec::new();
    for (file, t) in resource_file_types(&files) {
        let spec = catalog.get(&t).expect("loaded");
        if spec.service.as_deref().unwrap_or("").is_empty() {
            missing.push(format!("{file}: {t}: no `service`"));
        }
        let calls: Vec<_> = table.rows().iter().filter(|r| r.terraform_type.as_deref() == Some(t.as_str())).collect();
        // (A create or delete call may belong to another row of the same event source: classic
        // and v2 load balancers share CreateLoadBalancer.)
        if calls.is_empty() {
            missing.push(format!("{file}: {t}: no CloudTrail calls"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

// ------------------------------------------------------------------------------ the pairs

fn state_bytes(tf_type: &str, attributes: &Value, sensitive: &[Value]) -> Vec<u8> {
    let sensitive: Vec<Value> = sensitive.iter().map(|a| json!([{"type": "get_attr", "value": a}])).collect();
    let doc = json!({
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": 7,
        "lineage": "3b434c72-b76b-4317-a73a-370408f4de68",
        "outputs": {},
        "resources": [{
            "mode": "managed",
            "type": tf_type,
            "name": NAME,
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{"schema_version": 0, "attributes": attributes, "sensitive_attributes": sensitive, "private": "bnVsbA=="}]
        }],
        "check_results": null
    });
    serde_json::to_vec_pretty(&doc).expect("serialisable")
}

fn item(spec: &ResourceSpec, pair: &Value) -> Value {
    let mut it = json!({
        "relatedEvents": [],
        "relationships": [],
        "configuration": pair["configuration"],
        "supplementaryConfiguration": pair.get("supplementaryConfiguration").cloned().unwrap_or_else(|| json!({})),
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": "2026-11-20T06:00:00.766Z",
        "configurationStateId": "1795154400766",
        "awsAccountId": "123456789012",
        "configurationItemStatus": "OK",
        "resourceType": spec.config_type,
        "resourceId": pair["resource_id"],
        "resourceName": pair.get("resource_name").cloned().unwrap_or_else(|| pair["resource_id"].clone()),
        "ARN": pair.get("arn").cloned().unwrap_or(Value::Null),
        "awsRegion": "us-east-1",
        "availabilityZone": "Regional",
        "configurationStateMd5Hash": ""
    });
    if let Some(t) = pair.get("tags") {
        it["tags"] = t.clone();
    }
    it
}

struct Scanned {
    outcome: ScanOutcome,
    index: ManagedIndex,
    live: LiveInventory,
}

fn scan(catalog: &Catalog, spec: &ResourceSpec, attributes: &Value, pair: &Value) -> Result<Scanned, String> {
    let redactor = Redactor::new(b"t");
    let sensitive: Vec<Value> = pair.get("sensitive_attributes").and_then(Value::as_array).cloned().unwrap_or_default();
    let state =
        parse_state(&state_bytes(&spec.terraform_type, attributes, &sensitive), StateLocation::local("t.tfstate"), catalog, &redactor)
            .map_err(|e| format!("the state does not parse: {e}"))?;
    let index = ManagedIndex::build([state], catalog);
    let doc =
        json!({"fileVersion": "1.0", "configSnapshotId": "87ec1638-3427-42ce-a5cc-093404182296", "configurationItems": [item(spec, pair)]});
    let (parsed, errors) = live::parse_document(&serde_json::to_vec(&doc).expect("serialisable"), &redactor)
        .map_err(|e| format!("the Config item does not parse: {e}"))?;
    if !errors.is_empty() {
        return Err(format!("the Config item is rejected: {errors:?}"));
    }
    let live: LiveInventory = parsed.into_iter().collect();
    let outcome = drift::scan(&index, &live, catalog, &redactor, &ScanPolicy::default(), now());
    Ok(Scanned { outcome, index, live })
}

/// A value of `attr` different from `v` after normalisation, or why there is none.
fn mutate(attr: &driftwatch_core::catalog::AttrSpec, v: &Value) -> Result<Value, String> {
    let ctx = Ctx::default();
    let norm = |x: &Value| attr.normalize.apply(x, &ctx);
    if let Some(Encryption::Ordered { order }) = &attr.encryption {
        let here = norm(v);
        return order
            .iter()
            .find(|o| norm(o) != here)
            .map(|o| match (v, o) {
                // keep the state's own spelling of numbers
                (Value::String(_), Value::Number(n)) => Value::String(n.to_string()),
                _ => o.clone(),
            })
            .ok_or_else(|| "an ordered attribute with one value".to_string());
    }
    let changed = match attr.normalize {
        Normalizer::Tags => {
            let mut m = v.as_object().cloned().unwrap_or_default();
            m.insert("DriftProbe".into(), json!("changed-out-of-band"));
            Value::Object(m)
        }
        Normalizer::EnvVars => {
            let mut m = v.as_object().cloned().unwrap_or_default();
            m.insert("DRIFT_PROBE".into(), json!("1"));
            Value::Object(m)
        }
        Normalizer::Bool => match v {
            Value::Bool(b) => Value::Bool(!b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => json!("false"),
            Value::String(_) => json!("true"),
            _ => json!(true),
        },
        Normalizer::Number => match v {
            Value::Number(n) if n.is_i64() => json!(n.as_i64().unwrap_or(0) + 1),
            Value::Number(n) => json!(n.as_f64().unwrap_or(0.0) + 1.0),
            Value::String(s) => json!(format!("{}", s.parse::<f64>().map(|x| x + 1.0).unwrap_or(1.0))),
            _ => json!(1),
        },
        Normalizer::KmsKey => {
            if norm(v) == norm(&json!(OTHER_KEY_ARN)) {
                json!(KEY_ARN)
            } else {
                json!(OTHER_KEY_ARN)
            }
        }
        Normalizer::PolicyJson => {
            let mut p = normalize_text(v).ok_or_else(|| format!("the policy is not JSON: {v}"))?;
            let probe = json!({"Sid": "DriftProbe", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "*", "Resource": "*"});
            match p.get_mut("Statement") {
                Some(Value::Array(a)) => a.push(probe),
                Some(one) => *one = json!([one.clone(), probe]),
                None => p["Statement"] = json!([probe]),
            }
            Value::String(p.to_string())
        }
        Normalizer::Set => {
            let mut a = v.as_array().cloned().unwrap_or_default();
            a.push(json!("drift-probe"));
            Value::Array(a)
        }
        Normalizer::String | Normalizer::Lower => match v {
            Value::String(s) => json!(format!("{s}-drift")),
            Value::Number(n) => json!(n.as_i64().map(|i| i + 1).unwrap_or(1)),
            Value::Bool(b) => json!(!b),
            Value::Null => json!("drift"),
            other => return Err(format!("a {:?} value that is not a scalar: {other}", attr.normalize)),
        },
        other => return Err(format!("the pair test cannot change a {other:?} attribute")),
    };
    if norm(&changed) == norm(v) {
        return Err(format!("the change {changed} normalises to the same value as {v}"));
    }
    Ok(changed)
}

fn normalize_text(v: &Value) -> Option<Value> {
    driftwatch_core::normalize::parse_json_text(v).filter(Value::is_object)
}

/// Check one row against its pair; the number of attribute changes checked, or the problems.
fn check_pair(catalog: &Catalog, spec: &ResourceSpec, pair: &Value) -> Result<usize, Vec<String>> {
    let t = &spec.terraform_type;
    let mut problems = Vec::new();
    let attributes = pair.get("attributes").cloned().unwrap_or(Value::Null);
    if !attributes.is_object() || !pair["configuration"].is_object() || !pair["resource_id"].is_string() {
        return Err(vec![format!("{t}: a pair needs `attributes` and `configuration` objects and a `resource_id` string")]);
    }
    let absent: Vec<String> =
        pair.get("absent").and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
    let base = scan(catalog, spec, &attributes, pair).map_err(|e| vec![format!("{t}: {e}")])?;
    let address = format!("{t}.{NAME}");

    // (a) the pair is quiet, indexed under the item's id, and every attribute compared
    for f in &base.outcome.findings {
        let changes: Vec<String> = f.changes.iter().map(|c| format!("{}: state {} / live {}", c.path, c.desired, c.actual)).collect();
        problems.push(format!("{t}: the equal pair gives {} {}: {}", f.rule.id(), f.title, changes.join("; ")));
    }
    for n in &base.outcome.notes {
        problems.push(format!("{t}: the equal pair gives a note: {n}"));
    }
    let entries: Vec<_> = base.index.entries().iter().filter(|e| &e.terraform_type == t).collect();
    let Some(e) = entries.first() else {
        problems.push(format!("{t}: the instance was not indexed: {:?}", base.index.problems));
        return Err(problems);
    };
    if e.resource_id != pair["resource_id"].as_str().unwrap_or_default() {
        problems.push(format!(
            "{t}: indexed under id {:?} (id_attr {}), but the Config item's resourceId is {}",
            e.resource_id, spec.id_attr, pair["resource_id"]
        ));
        return Err(problems);
    }
    if let (Some(arn), Some(want)) = (&e.arn, pair.get("arn").and_then(Value::as_str)) {
        if arn != want {
            problems.push(format!("{t}: the state's ARN {arn} is not the Config item's {want}"));
        }
    }
    let Some(item) = base.live.get(&e.config_type, &e.resource_id) else {
        problems.push(format!("{t}: no live item {} {}", e.config_type, e.resource_id));
        return Err(problems);
    };
    for name in &absent {
        if !spec.attrs.iter().any(|a| a.tf.to_string() == *name && a.default.is_some()) {
            problems.push(format!("{t}: `absent` lists {name}, which is not an attribute with a default"));
        }
    }
    for a in &spec.attrs {
        let name = a.tf.to_string();
        if absent.contains(&name) {
            continue;
        }
        if a.tf.get(&attributes).is_none_or(Value::is_null) {
            problems.push(format!("{t}.{name}: no value in the pair's attributes (or list it in `absent` if it has a default)"));
        }
        if !a.sensitive && !a.live.iter().any(|p| p.get_live(&item.doc).is_some_and(|v| !v.is_null())) {
            problems.push(format!(
                "{t}.{name}: no value in the pair's Config item at any of {:?}",
                a.live.iter().map(ToString::to_string).collect::<Vec<_>>()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // (b) each attribute changed alone gives one finding naming exactly it
    let mut checked = 0;
    for a in &spec.attrs {
        let name = a.tf.to_string();
        let current = a.tf.get(&attributes).filter(|v| !v.is_null()).cloned().or_else(|| a.default.clone()).unwrap_or(Value::Null);
        let changed = match mutate(a, &current) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{t}.{name}: {e}"));
                continue;
            }
        };
        let mut attrs = attributes.clone();
        *a.tf.entry(&mut attrs) = changed.clone();
        let got = match scan(catalog, spec, &attrs, pair) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{t}.{name} changed to {changed}: {e}"));
                continue;
            }
        };
        let summary: Vec<(Rule, String, Vec<String>)> = got
            .outcome
            .findings
            .iter()
            .map(|f| (f.rule, f.resource.address.clone().unwrap_or_default(), f.changes.iter().map(|c| c.path.clone()).collect()))
            .collect();
        let want_rules: &[Rule] = match a.encryption {
            Some(Encryption::Key) => &[Rule::EncryptionRegression],
            Some(Encryption::Ordered { .. }) => &[Rule::EncryptionRegression, Rule::DriftChanged],
            None => &[Rule::DriftChanged],
        };
        let ok = summary.len() == 1 && want_rules.contains(&summary[0].0) && summary[0].1 == address && summary[0].2 == vec![name.clone()];
        if !ok {
            problems.push(format!(
                "{t}.{name} changed to {changed} in the state: expected one {want_rules:?} on {address} naming {name}, got {summary:?}"
            ));
        } else if got.outcome.findings[0].controls.is_empty() {
            problems.push(format!("{t}.{name}: a finding without controls"));
        } else {
            checked += 1;
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems)
    }
}

#[test]
fn every_resource_row_has_a_pair_that_is_quiet_and_sees_each_change() {
    let files = disk_files();
    let catalog = disk_catalog(&files);
    let pairs_dir = work_dirs().1;
    let mut problems = Vec::new();
    let mut types = 0;
    let mut changes = 0;
    let listed: BTreeSet<String> = resource_file_types(&files).into_iter().map(|(_, t)| t).collect();
    for t in &listed {
        let spec = catalog.get(t).expect("loaded");
        let path = pairs_dir.join(format!("{t}.json"));
        let pair: Value = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{t}: {}: {e}", path.display()));
                    continue;
                }
            },
            Err(_) => {
                problems.push(format!("{t}: no example pair at {}", path.display()));
                continue;
            }
        };
        match check_pair(&catalog, spec, &pair) {
            Ok(n) => {
                types += 1;
                changes += n;
            }
            Err(p) => problems.extend(p),
        }
    }
    for entry in std::fs::read_dir(&pairs_dir).expect("tests/pairs") {
        let p = entry.expect("dir entry").path();
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if !listed.contains(&stem) {
            problems.push(format!("{}: no row of catalog/resources/*.toml has this type", p.display()));
        }
    }
    eprintln!("catalog pairs: {types} types quiet on their equal pair, {changes} single-attribute changes each seen exactly");
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

// ------------------------------------------------------------------------------ the README

const TABLE_BEGIN: &str =
    "<!-- catalog table: generated from the catalog; catalog_pairs::the_readme_lists_every_catalogued_type prints it -->";
const TABLE_END: &str = "<!-- end of the catalog table -->";

/// The README's table of catalogued types, by service.
fn readme_table(catalog: &Catalog, table: &ApiTable) -> String {
    let mut rows: Vec<&ResourceSpec> = catalog.rows().iter().collect();
    rows.sort_by(|a, b| (a.service.as_deref(), &a.terraform_type).cmp(&(b.service.as_deref(), &b.terraform_type)));
    let services: BTreeSet<&str> = rows.iter().filter_map(|r| r.service.as_deref()).collect();
    let mut out = format!(
        "{TABLE_BEGIN}\n\n{} Terraform types of {} services. Every row is watched by all three signals: Terraform state \
         writes (the state-write detector), AWS Config items (compared attribute by attribute) and CloudTrail (the write \
         calls listed, attributed to their actor).\n\n| service | Terraform type | AWS Config type | attributes compared | CloudTrail write calls |\n|---|---|---|---|---|\n",
        rows.len(),
        services.len()
    );
    for r in rows {
        let attrs: Vec<String> = match r.role {
            driftwatch_core::catalog::Role::Contributor => r.contributes.iter().map(|c| format!("→ `{}`", c.to)).collect(),
            _ => r.attrs.iter().map(|a| format!("`{}`{}", a.tf, if a.encryption.is_some() { "🔒" } else { "" })).collect(),
        };
        let mut calls: Vec<&str> = table
            .rows()
            .iter()
            .filter(|c| {
                c.terraform_type.as_deref() == Some(r.terraform_type.as_str())
                    || (c.terraform_type.is_none() && c.config_type == r.config_type && r.role == driftwatch_core::catalog::Role::Primary)
            })
            .map(|c| c.name.as_str())
            .collect();
        calls.sort_unstable();
        calls.dedup();
        out.push_str(&format!(
            "| {} | `{}` | `{}` | {} | {} |\n",
            r.service.as_deref().unwrap_or("?"),
            r.terraform_type,
            r.config_type,
            attrs.join(", "),
            if calls.is_empty() { "—".to_string() } else { calls.join(", ") }
        ));
    }
    out.push_str("\n🔒 an encryption attribute: weakening it is `encryption.regression`.\n\n");
    out.push_str(TABLE_END);
    out
}

#[test]
fn the_readme_lists_every_catalogued_type() {
    let files = disk_files();
    let catalog = disk_catalog(&files);
    let main = std::fs::read_to_string(root().join("catalog/cloudtrail.toml")).expect("cloudtrail.toml");
    let table = ApiTable::from_sources(&main, files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).expect("loads");
    let want = readme_table(&catalog, &table);
    let readme = std::fs::read_to_string(root().join("../../README.md")).expect("README.md");
    let got = match (readme.find(TABLE_BEGIN), readme.find(TABLE_END)) {
        (Some(a), Some(b)) if a < b => &readme[a..b + TABLE_END.len()],
        _ => "",
    };
    assert!(got == want, "README.md's catalog table is not current; it should read:\n\n{want}\n");
}
