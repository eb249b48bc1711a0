//! Real Terraform writes its state to the S3 backend on moto server (versioned bucket,
//! DynamoDB lock table), and driftwatch's S3 state reader reads it back: the current version,
//! the version before it (`ListObjectVersions`, every page), both parsed with addresses equal
//! to `terraform state list`, a non-default workspace under `env:/<ws>/`, and the lock table's
//! `-md5` digest item matching the bytes read.
//!
//! Without `terraform` or `moto_server` the tests fail under `CI=true` and are skipped loudly
//! elsewhere.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use driftwatch_aws::{s3_client, PathStyle, S3StateReader, StateReadError};
use driftwatch_core::{Catalog, Redactor};
use driftwatch_tests::{scratch, terraform, Moto};
use md5::{Digest, Md5};
use std::collections::BTreeSet;
use std::path::Path;

const BUCKET: &str = "tf-state";
const TABLE: &str = "tf-locks";
const KEY: &str = "net/terraform.tfstate";

/// Moto with a versioned state bucket; the reader.
async fn lab(name: &str) -> Option<(Moto, SdkConfig, S3StateReader)> {
    let moto = Moto::start(name)?;
    let sdk = moto.sdk_config();
    let reader = S3StateReader::new(s3_client(&sdk, PathStyle::Auto));
    let s3 = reader.client();
    s3.create_bucket().bucket(BUCKET).send().await.expect("create bucket");
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("enable versioning");
    Some((moto, sdk, reader))
}

fn main_tf(endpoint: &str, count: u32) -> String {
    format!(
        r#"
terraform {{
  backend "s3" {{
    bucket                      = "{BUCKET}"
    key                         = "{KEY}"
    region                      = "us-east-1"
    dynamodb_table              = "{TABLE}"
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    endpoints = {{
      s3       = "{endpoint}"
      dynamodb = "{endpoint}"
    }}
  }}
}}

resource "terraform_data" "counted" {{
  count = {count}
  input = count.index
}}

resource "terraform_data" "keyed" {{
  for_each = toset(["alpha", "beta gamma"])
  input    = each.key
}}
"#
    )
}

fn tf(moto: &Moto, dir: &Path, args: &[&str]) -> String {
    let Some(exe) = terraform() else { unreachable!("checked before") };
    // No AWS_ENDPOINT_URL: the backend block's `endpoints` is what points Terraform at moto.
    let out = Moto::bare_aws_command(exe)
        .args(args)
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", Moto::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", Moto::SECRET_KEY)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("run terraform");
    assert!(
        out.status.success(),
        "terraform {args:?} failed (moto at {}):\n{}\n{}",
        moto.endpoint,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn state_list(moto: &Moto, dir: &Path) -> BTreeSet<String> {
    tf(moto, dir, &["state", "list"]).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Digest` of the S3 backend's `-md5` item for `key` in the lock table.
async fn digest_of(ddb: &aws_sdk_dynamodb::Client, key: &str) -> String {
    let item = ddb
        .get_item()
        .table_name(TABLE)
        .key("LockID", AttributeValue::S(format!("{BUCKET}/{key}-md5")))
        .send()
        .await
        .expect("get digest item")
        .item
        .unwrap_or_else(|| panic!("no {BUCKET}/{key}-md5 item in the lock table"));
    item.get("Digest").and_then(|d| d.as_s().ok()).cloned().expect("Digest attribute")
}

/// Put an object; its version id.
async fn put(s3: &aws_sdk_s3::Client, key: &str, body: &str) -> String {
    let out = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    out.version_id().expect("version id").to_string()
}

#[tokio::test]
async fn terraform_apply_to_s3_backend_is_read_by_version() {
    if terraform().is_none() {
        return;
    }
    let Some((moto, sdk, reader)) = lab("state-s3-terraform").await else { return };
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    ddb.create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("LockID").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("LockID").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create lock table");

    let dir = scratch("state-s3-terraform");
    std::fs::write(dir.join("main.tf"), main_tf(&moto.endpoint, 2)).expect("write main.tf");
    tf(&moto, &dir, &["init", "-input=false", "-no-color"]);
    tf(&moto, &dir, &["apply", "-auto-approve", "-input=false", "-no-color"]);
    let first = reader.get_version(BUCKET, KEY, None).await.expect("first state");
    let first_version = first.version_id.clone().expect("versioned bucket gives a version id");
    let first_list = state_list(&moto, &dir);

    std::fs::write(dir.join("main.tf"), main_tf(&moto.endpoint, 3)).expect("write main.tf");
    tf(&moto, &dir, &["apply", "-auto-approve", "-input=false", "-no-color"]);
    let listed = state_list(&moto, &dir);
    assert_eq!(listed.len(), 5, "{listed:?}");

    let (catalog, redactor) = (Catalog::builtin(), Redactor::new(b"t"));
    let latest = reader.get_version(BUCKET, KEY, None).await.expect("latest state");
    let latest_version = latest.version_id.clone().expect("version id");
    assert_ne!(latest_version, first_version);
    assert!(latest.etag.is_some());
    // Fetching the latest version by id gives the same bytes.
    assert_eq!(reader.get_version(BUCKET, KEY, Some(&latest_version)).await.expect("by id").bytes, latest.bytes);

    let previous = reader.previous_version(BUCKET, KEY, &latest_version).await.expect("list versions");
    assert_eq!(previous.as_deref(), Some(first_version.as_str()), "previous of the second apply is the first apply");
    assert_eq!(reader.previous_version(BUCKET, KEY, &first_version).await.expect("list"), None, "the first apply is the first version");

    let new = reader.read_state(BUCKET, KEY, Some(&latest_version), &catalog, &redactor).await.expect("parse latest");
    let old = reader.read_state(BUCKET, KEY, Some(&first_version), &catalog, &redactor).await.expect("parse previous");
    assert!(new.serial > old.serial, "serial {} then {}", old.serial, new.serial);
    assert_eq!(new.lineage, old.lineage);
    assert_eq!(new.location.workspace(), "default");
    assert_eq!(new.instances.iter().map(|i| i.address.clone()).collect::<BTreeSet<_>>(), listed);
    assert_eq!(old.instances.iter().map(|i| i.address.clone()).collect::<BTreeSet<_>>(), first_list);

    // The S3 backend's digest item in the lock table holds the MD5 of the latest state.
    assert_eq!(digest_of(&ddb, KEY).await, md5_hex(&latest.bytes));

    // A non-default workspace lives under env:/<ws>/<key>.
    tf(&moto, &dir, &["workspace", "new", "-no-color", "staging"]);
    tf(&moto, &dir, &["apply", "-auto-approve", "-input=false", "-no-color"]);
    let staging_list = state_list(&moto, &dir);
    let staging_key = format!("env:/staging/{KEY}");
    let staging_obj = reader.get_version(BUCKET, &staging_key, None).await.expect("staging state");
    let staging = reader.read_state(BUCKET, &staging_key, None, &catalog, &redactor).await.expect("parse staging");
    assert_eq!(staging.location.workspace(), "staging");
    assert_eq!(staging.location.bucket.as_deref(), Some(BUCKET));
    assert_ne!(staging.lineage, new.lineage, "a workspace has its own lineage");
    assert_eq!(staging.instances.iter().map(|i| i.address.clone()).collect::<BTreeSet<_>>(), staging_list);
    assert_eq!(digest_of(&ddb, &staging_key).await, md5_hex(&staging_obj.bytes));
    // The default workspace's history is untouched by the staging writes.
    assert_eq!(reader.previous_version(BUCKET, KEY, &latest_version).await.expect("list").as_deref(), Some(first_version.as_str()));
}

/// Without Terraform: pagination through many pages, exact key match, delete markers skipped,
/// and the errors for a missing key or version.
#[tokio::test]
async fn versions_pagination_and_errors_on_moto() {
    let Some((_moto, _sdk, reader)) = lab("state-s3-versions").await else { return };
    let s3 = reader.client();
    let mut ids = Vec::new();
    for serial in 1..=5 {
        ids.push(
            put(
                s3,
                KEY,
                &format!(r#"{{"version":4,"terraform_version":"1.11.4","serial":{serial},"lineage":"l","outputs":{{}},"resources":[]}}"#),
            )
            .await,
        );
        // Keys sharing the prefix, interleaved, must not count.
        put(s3, &format!("{KEY}.backup"), "x").await;
        put(s3, &format!("{KEY}-md5"), "y").await;
    }
    // A delete marker on the key: not a version of a state.
    s3.delete_object().bucket(BUCKET).key(KEY).send().await.expect("delete marker");

    let small = reader.clone().with_page_size(2);
    let listed = small.versions(BUCKET, KEY).await.expect("versions");
    assert_eq!(listed.len(), 5, "{listed:?}");
    for (i, id) in ids.iter().enumerate() {
        let want = if i == 0 { None } else { Some(ids[i - 1].clone()) };
        assert_eq!(small.previous_version(BUCKET, KEY, id).await.expect("previous"), want, "previous of version {i}");
    }
    let parsed = small.read_state(BUCKET, KEY, Some(&ids[3]), &Catalog::builtin(), &Redactor::new(b"t")).await.expect("parse");
    assert_eq!(parsed.serial, 4);

    match reader.get_version(BUCKET, KEY, None).await {
        Err(StateReadError::NoSuchKey { .. }) => {}
        other => panic!("current version is a delete marker: {other:?}"),
    }
    match reader.get_version(BUCKET, "nope/terraform.tfstate", None).await {
        Err(e @ StateReadError::NoSuchKey { .. }) => assert!(e.to_string().contains("s3://tf-state/nope/terraform.tfstate"), "{e}"),
        other => panic!("missing key: {other:?}"),
    }
    match reader.get_version(BUCKET, KEY, Some("not-a-version")).await {
        Err(StateReadError::NoSuchVersion { version, .. }) => assert_eq!(version, "not-a-version"),
        other => panic!("missing version: {other:?}"),
    }
    match reader.previous_version(BUCKET, KEY, "not-a-version").await {
        Err(StateReadError::VersionNotListed { .. }) => {}
        other => panic!("unlisted version: {other:?}"),
    }
    match reader.get_version("no-such-bucket", KEY, None).await {
        Err(StateReadError::NoSuchBucket { .. }) => {}
        other => panic!("missing bucket: {other:?}"),
    }
}

/// A workload account keeps its own state: the watcher reads it through a role there
/// (`[[state.roles]]`, `sts:AssumeRole` with an external id). moto switches to the role's
/// account for the assumed credentials, so the bucket made with them is that account's: the
/// watcher's own account does not list it. Buckets the role's globs match are read with the
/// role's client, the others with the watcher's own.
#[tokio::test]
async fn a_state_bucket_of_another_account_is_read_through_a_role_there() {
    const WORKLOAD: &str = "workload-tfstate";
    let Some((_moto, sdk, _)) = lab("state-role").await else { return };
    let role = "arn:aws:iam::444455556666:role/driftwatch-state-read";
    let member = driftwatch_aws::assume_role_config(&sdk, role, Some("driftwatch-test")).await;
    let as_member = s3_client(&member, PathStyle::Auto);
    as_member.create_bucket().bucket(WORKLOAD).send().await.expect("the member's bucket");
    let body = std::fs::read(driftwatch_tests::workspace_root().join("samples/states/network.tfstate")).expect("sample");
    as_member.put_object().bucket(WORKLOAD).key(KEY).body(body.clone().into()).send().await.expect("put state");
    let listed = |c: aws_sdk_s3::Client| async move {
        c.list_buckets()
            .send()
            .await
            .expect("list buckets")
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(listed(as_member.clone()).await.contains(&WORKLOAD.to_string()), "made in the role's account");
    assert!(!listed(s3_client(&sdk, PathStyle::Auto)).await.contains(&WORKLOAD.to_string()), "not the watcher's");

    let own = s3_client(&sdk, PathStyle::Auto);
    let reader = S3StateReader::new(own.clone()).with_role(&["workload-*".to_string()], as_member.clone());
    let got = reader.get_version(WORKLOAD, KEY, None).await.expect("read through the role");
    assert_eq!(got.bytes, body);
    let keys = reader.state_keys(WORKLOAD, "", |k| k.ends_with(".tfstate")).await.expect("list through the role");
    assert_eq!(keys, [KEY]);
    // The watcher's own bucket is still read with its own client; a role client that cannot
    // reach anything shows which client reads which bucket.
    let dead = s3_client(&sdk.to_builder().endpoint_url("http://127.0.0.1:9").build(), PathStyle::Always);
    let routed = S3StateReader::new(own).with_role(&["workload-*".to_string()], dead);
    assert!(routed.get_version(WORKLOAD, KEY, None).await.is_err(), "workload-* goes through the role's client");
    routed.state_keys(BUCKET, "", |_| true).await.expect("the watcher's own bucket, with its own client");
}
