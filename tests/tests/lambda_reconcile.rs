//! The sweeper's reconcile, in process, on moto: states indexed by the state watcher are
//! compared with AWS Config a chunk per run (`DRIFTWATCH_RECONCILE_CHUNK=1`), the cursor in
//! the ledger carrying each run on where the last stopped, until a pass is complete and the
//! next starts over; a run whose deadline is too near starts nothing; drift found by the
//! reconcile is recorded once and alerted once, whatever the number of passes.
//!
//! AWS Config is reached through the proxy that makes moto's timestamps readable by the SDK
//! (see `config_proxy`).

use crate::config_proxy;
use aws_sdk_s3::types::{Tag, Tagging};
use chrono::{DateTime, Duration, Utc};
use driftwatch_lambda::{handle, Adapters, Env, Function, Invocation};
use driftwatch_tests::deployment::{self, Deployment};
use driftwatch_tests::{workspace_root, Moto};
use serde_json::{json, Value};

const NOTES: &str = "stmarys-ehr-prod-phi-clinical-notes-123456789012";
const NOTES_ADDRESS: &str = "module.phi_storage[\"clinical-notes\"].module.bucket.aws_s3_bucket.this";

fn adapters(moto: &Moto, function: Function, extra: &[(&str, &str)]) -> Adapters {
    let mut vars: Vec<(String, String)> = deployment::function_vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy");
    vars.push(("DRIFTWATCH_POLICY".into(), policy));
    vars.push(("DRIFTWATCH_REDACTION_SALT".into(), deployment::REDACTION_SALT.into()));
    for (k, v) in extra {
        vars.retain(|(n, _)| n != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let env = Env::from_vars(function, |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("env");
    Adapters::with_sdk(env, &moto.sdk_config()).expect("adapters")
}

fn event(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(workspace_root().join(path)).expect("event")).expect("event JSON")
}

/// The Terraform address of a findings-table item's finding.
fn address_of_record(item: &Value) -> Option<String> {
    let rec: Value = serde_json::from_str(item["record"].as_str()?).ok()?;
    rec["finding"]["resource"]["address"].as_str().map(str::to_string)
}

/// The Terraform address an alert (an SNS envelope whose `Message` is the finding JSON) is about.
/// The ARN of the resource an alert is about.
fn alert_arn(envelope: &Value) -> Option<String> {
    let f: Value = serde_json::from_str(envelope["Message"].as_str()?).ok()?;
    f["resource"]["arn"].as_str().map(str::to_string)
}

/// The clinical-notes bucket: [`NOTES_ADDRESS`] and its facets are one resource.
const NOTES_ARN: &str = "arn:aws:s3:::stmarys-ehr-prod-phi-clinical-notes-123456789012";

fn sweep_at() -> DateTime<Utc> {
    "2026-11-20T09:00:00Z".parse().unwrap()
}

#[test]
fn reconcile_covers_every_indexed_state_a_chunk_per_run_and_resumes() {
    let Some(moto) = Moto::start("lambda_reconcile") else { return };
    let w = Deployment::create(&moto);

    // Three sample states written to the backend and indexed by the state watcher.
    let state_watcher = adapters(&moto, Function::StateWatcher, &[]);
    for name in ["app", "data", "network"] {
        let key = format!("prod/{name}.tfstate");
        let bytes = std::fs::read(workspace_root().join(format!("samples/states/{name}.tfstate"))).expect("sample state");
        let version = w.put_object(deployment::STATE_BUCKET, &key, bytes).expect("version id");
        let mut ev = event("events/state-watcher/apply/event.json");
        ev["detail"]["object"]["key"] = json!(key);
        ev["detail"]["object"]["version-id"] = json!(version);
        let out = w.block_on(handle(&state_watcher, ev, &Invocation::at(sweep_at()))).expect("state watcher");
        assert_eq!(out["states"][0]["state"], format!("s3://{}/{key}", deployment::STATE_BUCKET), "{out}");
    }

    // One managed bucket exists live, its Environment tag changed by hand.
    w.block_on(async { w.s3.create_bucket().bucket(NOTES).send().await.expect("bucket") });
    notes_tagged(&w, "staging");

    let proxy = config_proxy::moto_config_proxy(&moto.endpoint);
    let mut sweeper = adapters(&moto, Function::Sweeper, &[("DRIFTWATCH_RECONCILE_CHUNK", "1")]);
    let sdk = moto.sdk_config().to_builder().endpoint_url(&proxy.endpoint).build();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&moto.sdk_config()).force_path_style(true).build());
    sweeper.live = driftwatch_aws::ConfigReader::new(driftwatch_aws::config_client(&sdk), s3);
    let schedule = event("events/sweeper/stale-lock/event.json");

    // A run whose deadline is already within the reserve starts no state.
    let hurried = Invocation { deadline: Some(Utc::now() + Duration::seconds(5)), ..Invocation::at(sweep_at()) };
    let out = w.block_on(handle(&sweeper, schedule.clone(), &hurried)).expect("sweeper");
    assert_eq!((out["reconcile"]["done"].as_u64(), out["reconcile"]["remaining"].as_u64()), (Some(0), Some(3)), "{out}");

    // One state per run, in key order, resuming from the cursor.
    let mut seen = Vec::new();
    for run in 1..=3u64 {
        let out = w.block_on(handle(&sweeper, schedule.clone(), &Invocation::at(sweep_at()))).expect("sweeper");
        let r = &out["reconcile"];
        assert_eq!(
            (r["states"].as_u64(), r["done"].as_u64(), r["remaining"].as_u64()),
            (Some(3), Some(1), Some(3 - run)),
            "run {run}: {out}"
        );
        assert_eq!(r["complete"], json!(run == 3), "run {run}: {out}");
        assert_eq!(r["skipped"], json!([]), "{out}");
        seen.push(r["last"].as_str().expect("last").to_string());
    }
    let names: Vec<&str> = seen.iter().map(|s| s.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["app.tfstate", "data.tfstate", "network.tfstate"]);

    // Each state's coverage is recorded for the report: one `coverage` record per state (timed
    // at the start of the day, so another pass the same day with the same coverage adds none).
    let coverage_keys = || -> Vec<String> {
        w.keys(deployment::EVIDENCE_BUCKET, deployment::EVIDENCE_PREFIX).into_iter().filter(|k| k.contains("/coverage/")).collect()
    };
    let keys = coverage_keys();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let mut covered = Vec::new();
    for k in &keys {
        let record: Value = serde_json::from_slice(&w.get_object(deployment::EVIDENCE_BUCKET, k)).expect("a coverage record");
        assert_eq!(record["kind"], "coverage");
        let c = &record["body"];
        assert_eq!(c["states"].as_array().map(Vec::len), Some(1), "{c}");
        assert!(c["compared_instances"].as_u64() <= c["catalogued_instances"].as_u64(), "{c}");
        assert!(c["catalogued_instances"].as_u64() <= c["managed_instances"].as_u64(), "{c}");
        covered.push(c["states"][0]["state"].as_str().unwrap().to_string());
    }
    covered.sort();
    assert_eq!(covered, seen.iter().map(|s| format!("s3://{s}")).collect::<Vec<_>>(), "one record per reconciled state");
    // the app state holds types outside the catalog, named with their counts
    let app = keys
        .iter()
        .map(|k| serde_json::from_slice::<Value>(&w.get_object(deployment::EVIDENCE_BUCKET, k)).unwrap())
        .find(|r| r["body"]["states"][0]["state"].as_str().unwrap().ends_with("app.tfstate"))
        .expect("the app state's record");
    assert_eq!(app["body"]["states"][0]["not_catalogued"]["aws_iam_role_policy_attachment"], 5, "{app}");
    // The scheduled report shows them: each state's latest coverage, with the records behind it.
    let reporter = adapters(&moto, Function::Reporter, &[]);
    let report_at = sweep_at() + Duration::hours(1);
    let mut scheduled_report = event("events/reporter/scheduled/event.json");
    scheduled_report["time"] = json!(report_at.to_rfc3339());
    let out = w.block_on(handle(&reporter, scheduled_report, &Invocation::at(report_at))).expect("reporter");
    let url =
        out["written"].as_array().unwrap().iter().filter_map(Value::as_str).find(|u| u.ends_with("report.json")).expect("report.json");
    let key = url.trim_start_matches(&format!("s3://{}/", deployment::REPORTS_BUCKET));
    let report: Value = serde_json::from_slice(&w.get_object(deployment::REPORTS_BUCKET, key)).expect("report.json");
    let cov = &report["coverage"];
    assert_eq!(cov["coverage"]["states"].as_array().map(Vec::len), Some(3), "{cov}");
    assert_eq!(cov["evidence"].as_array().map(Vec::len), Some(3), "{cov}");
    assert_eq!(cov["coverage"]["managed_instances"], 124, "{cov}");

    // The drift the reconcile found: recorded with its address, alerted once.
    let findings: Vec<Value> = w
        .items(deployment::FINDINGS_TABLE)
        .into_iter()
        .filter(|i| i["rule"] == "drift.changed")
        .filter(|i| address_of_record(i) == Some(NOTES_ADDRESS.to_string()))
        .collect();
    assert_eq!(findings.len(), 1, "one drift.changed on {NOTES_ADDRESS}");
    assert!(findings[0]["record"].as_str().unwrap().contains("staging"), "{}", findings[0]);
    // One alert per resource per quiet period: the bucket's drift and its policy facet's are
    // one resource, alerted once (the most severe first); the other stays due.
    let alerts = w.drain(&w.alerts_queue);
    let about: Vec<&Value> = alerts.iter().filter(|a| alert_arn(a).as_deref() == Some(NOTES_ARN)).collect();
    assert_eq!(about.len(), 1, "one alert about the bucket {NOTES_ARN}: {alerts:#?}");

    // The next pass starts over, and finds the same drift: nothing new is alerted.
    let out = w.block_on(handle(&sweeper, schedule.clone(), &Invocation::at(sweep_at()))).expect("sweeper");
    assert!(out["reconcile"]["last"].as_str().unwrap().ends_with("app.tfstate"), "{out}");
    assert_eq!(coverage_keys().len(), 3, "the same coverage the same day is no new record");
    let again = w.drain(&w.alerts_queue);
    assert!(again.iter().all(|a| alert_arn(a).as_deref() != Some(NOTES_ARN)), "re-alerted: {again:#?}");

    // Issue 12 item 1: the tag is put back (as `terraform apply` would); the next pass over the
    // data state finds the bucket compliant and resolves its drift.changed.
    notes_tagged(&w, "prod");
    let later = sweep_at() + Duration::hours(1);
    let mut resolved = 0;
    let mut scheduled = schedule.clone();
    scheduled["time"] = json!(later.to_rfc3339());
    for _ in 0..3 {
        let out = w.block_on(handle(&sweeper, scheduled.clone(), &Invocation::at(later))).expect("sweeper");
        resolved += out["reconcile"]["recorded"]["resolved"].as_u64().unwrap_or(0);
    }
    let drift = notes_drift(&w);
    assert_eq!(drift["status"], "resolved", "the reconcile pass resolves the drift: {drift}");
    assert!(resolved >= 1, "resolutions counted: {resolved}");
    // Changed by hand again: the finding reopens and alerts again.
    notes_tagged(&w, "staging-again");
    w.drain(&w.alerts_queue);
    let much_later = later + Duration::days(30);
    let mut scheduled = schedule.clone();
    scheduled["time"] = json!(much_later.to_rfc3339());
    for _ in 0..3 {
        w.block_on(handle(&sweeper, scheduled.clone(), &Invocation::at(much_later))).expect("sweeper");
    }
    assert_eq!(notes_drift(&w)["status"], "open", "reopened");
    let alerts = w.drain(&w.alerts_queue);
    assert_eq!(alerts.iter().filter(|a| alert_arn(a).as_deref() == Some(NOTES_ARN)).count(), 1, "the recurrence alerts once: {alerts:#?}");
}

/// Tag the clinical-notes bucket as the data state has it, with `environment` for `Environment`.
fn notes_tagged(w: &Deployment, environment: &str) {
    w.block_on(async {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().expect("tag");
        let tags = Tagging::builder()
            .tag_set(tag("CostCenter", "ehr-1042"))
            .tag_set(tag("Environment", environment))
            .tag_set(tag("Name", NOTES))
            .tag_set(tag("Owner", "platform-team"))
            .tag_set(tag("data-classification", "phi"))
            .tag_set(tag("phi-dataset", "clinical-notes"))
            .build()
            .expect("tagging");
        w.s3.put_bucket_tagging().bucket(NOTES).tagging(tags).send().await.expect("tag bucket");
    });
}

/// The findings-table item of the clinical-notes bucket's drift.changed.
fn notes_drift(w: &Deployment) -> Value {
    let mut found: Vec<Value> = w
        .items(deployment::FINDINGS_TABLE)
        .into_iter()
        .filter(|i| i["rule"] == "drift.changed")
        .filter(|i| address_of_record(i) == Some(NOTES_ADDRESS.to_string()))
        .collect();
    assert_eq!(found.len(), 1, "one drift.changed on {NOTES_ADDRESS}");
    found.remove(0)
}

/// Issue 16: the reconcile of an Organization's states reads through the Config aggregator
/// (`DRIFTWATCH_CONFIG_AGGREGATOR`). The data state's buckets have ARNs without an account or
/// region, so the aggregator is asked where each is: the bucket changed by hand is found and
/// its drift recorded, the others are missing. Without an aggregator, a state read through
/// another account's role is not reconciled (this account's AWS Config does not have its
/// resources: everything would be missing) and the run says why.
#[test]
fn reconcile_reads_an_organizations_states_through_the_aggregator() {
    let Some(moto) = Moto::start("lambda_reconcile_aggregator") else { return };
    let w = Deployment::create(&moto);
    let state_watcher = adapters(&moto, Function::StateWatcher, &[]);
    let key = "prod/data.tfstate";
    let bytes = std::fs::read(workspace_root().join("samples/states/data.tfstate")).expect("sample state");
    let version = w.put_object(deployment::STATE_BUCKET, key, bytes).expect("version id");
    let mut ev = event("events/state-watcher/apply/event.json");
    ev["detail"]["object"]["key"] = json!(key);
    ev["detail"]["object"]["version-id"] = json!(version);
    w.block_on(handle(&state_watcher, ev, &Invocation::at(sweep_at()))).expect("state watcher");
    w.block_on(async { w.s3.create_bucket().bucket(NOTES).send().await.expect("bucket") });
    notes_tagged(&w, "staging");
    let proxy = config_proxy::moto_config_proxy(&moto.endpoint);
    w.block_on(async {
        config_proxy::put_aggregator(&moto.sdk_config(), "org").await;
    });
    let through_proxy = |mut a: Adapters| {
        let sdk = moto.sdk_config().to_builder().endpoint_url(&proxy.endpoint).build();
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&moto.sdk_config()).force_path_style(true).build());
        a.live = driftwatch_aws::ConfigReader::new(driftwatch_aws::config_client(&sdk), s3);
        a
    };
    let schedule = event("events/sweeper/stale-lock/event.json");

    // The state is another account's (read through a role): without an aggregator, skipped.
    let mut policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy");
    policy.push_str(&format!(
        "\n[[state.roles]]\nbuckets = [\"{}\"]\nrole_arn = \"arn:aws:iam::444455556666:role/driftwatch-state-read\"\n",
        deployment::STATE_BUCKET
    ));
    let sweeper = through_proxy(adapters(&moto, Function::Sweeper, &[("DRIFTWATCH_POLICY", policy.as_str())]));
    let out = w.block_on(handle(&sweeper, schedule.clone(), &Invocation::at(sweep_at()))).expect("sweeper");
    assert_eq!(out["reconcile"]["skipped"], json!([format!("{}/{key}", deployment::STATE_BUCKET)]), "{out}");
    assert!(w.items(deployment::FINDINGS_TABLE).iter().all(|i| i["rule"] != "drift.missing"), "nothing reported missing");

    // Through the aggregator: the drift, and the buckets that are not there.
    let sweeper = through_proxy(adapters(&moto, Function::Sweeper, &[("DRIFTWATCH_CONFIG_AGGREGATOR", "org")]));
    let out = w.block_on(handle(&sweeper, schedule, &Invocation::at(sweep_at()))).expect("sweeper");
    assert_eq!(out["reconcile"]["skipped"], json!([]), "{out}");
    let drift = notes_drift(&w);
    assert_eq!(drift["status"], "open", "{drift}");
    assert!(drift["record"].as_str().unwrap_or("").contains("staging"), "{drift}");
    let missing = w.items(deployment::FINDINGS_TABLE).into_iter().filter(|i| i["rule"] == "drift.missing").count();
    assert!(missing > 0, "the sample buckets not made on moto are missing");
}

/// A state kept in this account's bucket may hold another account's resources (a provider with
/// `assume_role`). Without an aggregator this account's AWS Config cannot have them: the sweeper
/// leaves them out of the comparison (the watcher's account: the schedule's, else the
/// function's own ARN's) instead of reporting them missing. (moto's AWS Config
/// records none of the types whose ARNs name an account, so which findings that spares is
/// shown in `driftwatch-engine`'s `a_reconcile_in_one_account_leaves_other_accounts_resources_out`.)
#[test]
fn without_an_aggregator_another_accounts_resources_in_a_central_state_are_left_out() {
    let Some(moto) = Moto::start("lambda_reconcile_other_account") else { return };
    let w = Deployment::create(&moto);
    let state_watcher = adapters(&moto, Function::StateWatcher, &[]);
    let text = std::fs::read_to_string(workspace_root().join("samples/states/data.tfstate")).expect("sample state");
    let other = text.replace(":123456789012:", ":444455556666:");
    let naming = |t: &str, account: &str| {
        let state: Value = serde_json::from_str(t).unwrap();
        state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["instances"].as_array().unwrap().clone())
            .filter(|i| i["attributes"]["arn"].as_str().is_some_and(|a| a.contains(account)))
            .count()
    };
    assert!(naming(&other, ":444455556666:") > 0);
    let version = w.put_object(deployment::STATE_BUCKET, "shared/data.tfstate", other.into_bytes()).expect("version id");
    let mut ev = event("events/state-watcher/apply/event.json");
    ev["detail"]["object"]["key"] = json!("shared/data.tfstate");
    ev["detail"]["object"]["version-id"] = json!(version);
    w.block_on(handle(&state_watcher, ev, &Invocation::at(sweep_at()))).expect("state watcher");
    let proxy = config_proxy::moto_config_proxy(&moto.endpoint);
    let mut sweeper = adapters(&moto, Function::Sweeper, &[]);
    let sdk = moto.sdk_config().to_builder().endpoint_url(&proxy.endpoint).build();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&moto.sdk_config()).force_path_style(true).build());
    sweeper.live = driftwatch_aws::ConfigReader::new(driftwatch_aws::config_client(&sdk), s3);
    let schedule = event("events/sweeper/stale-lock/event.json");
    let out = w.block_on(handle(&sweeper, schedule.clone(), &Invocation::at(sweep_at()))).expect("sweeper");
    let left_out = out["reconcile"]["left_out"].as_u64().unwrap_or(0);
    assert!(left_out > 0, "the other account's resources are left out: {out}");
    let missing_elsewhere = w
        .items(deployment::FINDINGS_TABLE)
        .iter()
        .filter(|i| i["rule"] == "drift.missing" && i["record"].as_str().unwrap_or("").contains(":444455556666:"))
        .count();
    assert_eq!(missing_elsewhere, 0);
    // The watcher's account not known (no schedule account, no function ARN): nothing is left out.
    let mut anonymous = schedule;
    anonymous.as_object_mut().unwrap().remove("account");
    let sweeper = adapters(&moto, Function::Sweeper, &[]);
    let out = w.block_on(handle(&sweeper, anonymous, &Invocation::at(sweep_at() + Duration::hours(1)))).expect("sweeper");
    assert_eq!(out["reconcile"]["left_out"], 0, "{out}");
}
