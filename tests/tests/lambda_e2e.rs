//! The six functions end to end through the real Lambda runtime API: `cargo lambda watch`
//! (the runtime API emulator) builds and starts each function, `cargo lambda invoke` sends it
//! an `events/` payload, and the function talks to AWS on a moto server where the deployment it
//! needs exists (evidence bucket with Object Lock, findings / index / exceptions / lock tables,
//! alerts and notices topics each with an SQS queue subscribed, the signing-key secret).
//!
//! The functions get their configuration the way a developer's `cargo lambda watch` does:
//! the table, bucket and topic names from `[package.metadata.lambda.env]` in
//! `functions/<name>/Cargo.toml`; the moto endpoint, dummy credentials and the redaction salt
//! (a secret, never in a manifest) are added by the test.
//!
//! Tiers inside this file:
//! * the harness (the emulator starts, an invocation reaches each function's runtime loop, a
//!   function missing a variable fails its cold start naming it, the metadata matches the
//!   deployment);
//! * what each function leaves behind (findings, evidence, alerts, index entries, reports),
//!   asserted against the documented behaviour of the functions.
//!
//! Without `cargo-lambda` or `moto_server` the tests fail under `CI=true` and are skipped
//! loudly elsewhere (`bash .ci/test` installs both into `.venv`).

use driftwatch_tests::deployment::{self, Deployment};
use driftwatch_tests::{workspace_root, CargoLambdaWatch, Invoked, Moto};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const FUNCTIONS: [&str; 6] = ["state-watcher", "trail-watcher", "config-watcher", "lock-watcher", "sweeper", "reporter"];

/// One payload per function, all from `events/`.
fn payload(function: &str) -> PathBuf {
    let case = match function {
        "state-watcher" => "lineage-changed",
        "trail-watcher" => "console-edit",
        "config-watcher" => "drift-changed",
        "lock-watcher" => "force-unlock-overwritten",
        "sweeper" => "stale-lock",
        "reporter" => "scheduled",
        other => panic!("no payload for {other}"),
    };
    workspace_root().join("events").join(function).join(case).join("event.json")
}

/// The variables added to the functions' metadata: moto, dummy credentials, the salt.
fn aws_vars(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("DRIFTWATCH_REDACTION_SALT", deployment::REDACTION_SALT.to_string()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", Moto::ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", Moto::SECRET_KEY.to_string()),
        ("AWS_REGION", Moto::REGION.to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("DRIFTWATCH_LOG", "debug".to_string()),
    ]
}

struct Lab {
    watch: CargoLambdaWatch,
    deployed: Deployment,
    _moto: Moto,
}

impl Lab {
    /// moto, the deployment on it, and `cargo lambda watch` with `extra` variables; the
    /// variables named in `without` are left out.
    fn start(name: &str, extra: &[(&str, &str)], without: &[&str]) -> Option<Lab> {
        // Look for cargo-lambda before starting anything (fails under CI when missing).
        driftwatch_tests::cargo_lambda_or_skip(name)?;
        let moto = Moto::start(name)?;
        let deployed = Deployment::create(&moto);
        let vars = aws_vars(&moto);
        let mut flags: Vec<(&str, &str)> = vars.iter().filter(|(k, _)| !without.contains(k)).map(|(k, v)| (*k, v.as_str())).collect();
        flags.extend_from_slice(extra);
        let watch = CargoLambdaWatch::start(name, &flags)?;
        Some(Lab { watch, deployed, _moto: moto })
    }

    fn invoke(&self, function: &str, payload: &Path) -> Invoked {
        let got = self.watch.invoke(function, payload);
        eprintln!(
            "{function}: {:?} success={}\n  stdout: {}\n  stderr: {}",
            got.elapsed,
            got.success,
            got.stdout.trim(),
            got.stderr.trim()
        );
        got
    }

    /// The function's JSON log lines (what the emulator relays of the function's stdout).
    fn log_lines(&self, function: &str) -> Vec<Value> {
        self.watch
            .log_text()
            .lines()
            .filter_map(|l| l.find('{').and_then(|i| serde_json::from_str::<Value>(&l[i..]).ok()))
            .filter(|v| v["function"] == function || v["span"]["function"] == function)
            .collect()
    }

    fn ready(&self, function: &str) -> bool {
        self.log_lines(function).iter().any(|v| v["message"] == "ready" && v["ready_ms"].is_u64())
    }

    /// Findings table items of `rule`.
    fn findings(&self, rule: &str) -> Vec<Value> {
        self.deployed.items(deployment::FINDINGS_TABLE).into_iter().filter(|i| i["rule"] == rule).collect()
    }

    fn evidence_keys(&self) -> Vec<String> {
        self.deployed.keys(deployment::EVIDENCE_BUCKET, deployment::EVIDENCE_PREFIX)
    }

    fn context(&self) -> String {
        let log = self.watch.log_text();
        let tail: String = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        format!("--- last lines of cargo lambda watch ---\n{tail}")
    }
}

/// The one open finding of `rule` on `resource` (a Terraform address, or an id such as
/// `s3://bucket/key` for a state) in the findings table; returns the finding inside the
/// stored record (`record` holds the lifecycle record as JSON, its `finding` the finding).
fn assert_one_open_finding(lab: &Lab, rule: &str, resource: &str) -> Value {
    let found = lab.findings(rule);
    let on: Vec<&Value> = found.iter().filter(|i| i["record"].as_str().is_some_and(|r| r.contains(resource))).collect();
    assert_eq!(on.len(), 1, "one {rule} finding on {resource} in {}: {found:#?}\n{}", deployment::FINDINGS_TABLE, lab.context());
    let item = on[0].clone();
    assert_eq!(item["status"], "open", "{item:#}");
    let record: Value = serde_json::from_str(item["record"].as_str().unwrap_or_default()).expect("record is JSON");
    let finding = record["finding"].clone();
    assert_eq!(finding["rule"], rule, "{record:#}");
    assert_eq!(finding["fingerprint"], item["fingerprint"], "{record:#}");
    finding
}

/// Alerts in the alerts queue that mention `rule`.
fn alerts_about(lab: &Lab, rule: &str) -> Vec<Value> {
    lab.deployed.drain(&lab.deployed.alerts_queue).into_iter().filter(|m| m.to_string().contains(rule)).collect()
}

#[test]
fn function_metadata_sets_the_local_world_for_cargo_lambda_watch() {
    let world_vars: std::collections::BTreeMap<&str, String> = deployment::function_vars().into_iter().collect();
    for function in FUNCTIONS {
        let path = workspace_root().join("functions").join(function).join("Cargo.toml");
        let text = std::fs::read_to_string(&path).expect("function manifest");
        let env = metadata_table(&text, "[package.metadata.lambda.env]");
        assert!(!env.is_empty(), "{}: no [package.metadata.lambda.env]", path.display());
        for (k, v) in &env {
            let want = world_vars.get(k.as_str()).unwrap_or_else(|| panic!("{function}: {k} is not a variable of the local deployed"));
            assert_eq!(v, want, "{function}: {k}");
        }
        assert!(
            !env.iter().any(|(k, _)| k == "DRIFTWATCH_REDACTION_SALT"),
            "{function}: the redaction salt is a secret: not in a manifest"
        );
        for common in [
            "DRIFTWATCH_ENVIRONMENT",
            "DRIFTWATCH_INDEX_TABLE",
            "DRIFTWATCH_FINDINGS_TABLE",
            "DRIFTWATCH_EXCEPTIONS_TABLE",
            "DRIFTWATCH_EVIDENCE",
        ] {
            assert!(env.iter().any(|(k, _)| k == common), "{function}: {common} missing from its metadata");
        }
        let deploy = metadata_table(&text, "[package.metadata.lambda.deploy]");
        assert!(
            deploy.iter().any(|(k, _)| k == "timeout") && deploy.iter().any(|(k, _)| k == "memory"),
            "{function}: deploy metadata {deploy:?}"
        );
    }
}

/// `KEY = "value"` / `KEY = 60` lines of one TOML table (a flat table is all the manifests hold).
fn metadata_table(text: &str, header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_string(), v.trim().trim_matches('"').to_string()));
            }
        }
    }
    out
}

#[test]
fn watch_starts_every_function_and_an_invocation_reaches_its_runtime_loop() {
    let Some(lab) = Lab::start("lambda-reach", &[], &[]) else { return };
    for function in FUNCTIONS {
        let got = lab.invoke(function, &payload(function));
        assert!(!got.timed_out, "{function}: no answer\n{}", lab.context());
        // Whatever the handler answers, the invocation went through the runtime API: the
        // function started (configuration valid, clients built) and logged ready.
        assert!(lab.ready(function), "{function} never logged ready: {got:?}\n{}", lab.context());
        if !got.success {
            // An error response from the function, not a transport failure of the emulator.
            let all = format!("{}{}", got.stdout, got.stderr);
            assert!(!all.contains("Connection refused") && !all.contains("error sending request"), "{function}: {all}");
        }
    }
}

#[test]
fn a_function_missing_a_variable_fails_its_cold_start_naming_it() {
    // Everything but the salt (which no manifest carries).
    let Some(lab) = Lab::start("lambda-missing-var", &[], &["DRIFTWATCH_REDACTION_SALT"]) else { return };
    // The emulator never answers an invocation whose function died at cold start: the
    // invoke is given up after a while, and the function's own log says why.
    let got = lab.watch.invoke_within("trail-watcher", &payload("trail-watcher"), std::time::Duration::from_secs(20));
    assert!(!got.success, "the invocation must fail: {got:?}");
    // The emulator starts the function with `cargo run`, which waits while another test of the
    // suite holds cargo's build lock: give it time to start (bounded), then read its log.
    let expected = "trail-watcher: environment variable DRIFTWATCH_REDACTION_SALT_SECRET is not set";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !lab.watch.log_text().contains(expected) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let log = lab.watch.log_text();
    assert!(log.contains(expected), "the cold start error names the variable:\n{}", lab.context());
    assert!(!lab.ready("trail-watcher"), "a function without its configuration must not reach ready");
}

#[test]
fn trail_watcher_records_a_console_edit_with_evidence_and_one_alert() {
    let Some(lab) = Lab::start("lambda-trail", &[], &[]) else { return };
    assert!(lab.deployed.seed_index() > 0);
    let got = lab.invoke("trail-watcher", &payload("trail-watcher"));
    assert!(got.success, "{got:?}\n{}", lab.context());
    let record = assert_one_open_finding(&lab, "change.console", "aws_security_group.app");
    assert_eq!(record["resource"]["id"], "sg-0b553a59028de3b25", "{record:#}");
    assert!(record["evidence"].to_string().contains("cloudtrail:"), "the finding names its CloudTrail event: {record:#}");
    assert_eq!(record["actor"]["via_console"], true, "{record:#}");
    assert!(!lab.evidence_keys().is_empty(), "no evidence under s3://{}/{}", deployment::EVIDENCE_BUCKET, deployment::EVIDENCE_PREFIX);
    assert_eq!(alerts_about(&lab, "change.console").len(), 1, "one alert for the console edit");
    // A replayed delivery changes nothing: same finding, no second alert.
    let again = lab.invoke("trail-watcher", &payload("trail-watcher"));
    assert!(again.success, "{again:?}");
    assert_one_open_finding(&lab, "change.console", "aws_security_group.app");
    assert_eq!(alerts_about(&lab, "change.console").len(), 0, "a replay must not alert twice");
}

#[test]
fn config_watcher_records_drift_with_evidence_and_one_alert() {
    let Some(lab) = Lab::start("lambda-config", &[], &[]) else { return };
    assert!(lab.deployed.seed_index() > 0);
    let got = lab.invoke("config-watcher", &payload("config-watcher"));
    assert!(got.success, "{got:?}\n{}", lab.context());
    let record = assert_one_open_finding(&lab, "drift.changed", "aws_db_instance.ehr_primary");
    assert!(record["changes"].to_string().contains("publicly_accessible"), "{record:#}");
    assert!(!lab.evidence_keys().is_empty(), "no evidence");
    assert_eq!(alerts_about(&lab, "drift.changed").len(), 1, "one alert for the drift");
}

#[test]
fn state_watcher_indexes_a_new_state_version_and_flags_the_lineage_change() {
    let Some(lab) = Lab::start("lambda-state", &[], &[]) else { return };
    let case = workspace_root().join("events/state-watcher/lineage-changed");
    let key = "prod/network.tfstate";
    // The two versions of the case, written in order; the event names moto's version id.
    let _previous = lab.deployed.put_object(
        deployment::STATE_BUCKET,
        key,
        std::fs::read(case.join("Wq3Zx1b0c8Ndf5oPq7u9Kx2Ly4Mz6Nb8.tfstate")).expect("state"),
    );
    let new_bytes = std::fs::read(case.join("pL8mN2bV5cX7zA9sD1fG3hJ6kQ4wE0rT.tfstate")).expect("state");
    let new_state: Value = serde_json::from_slice(&new_bytes).expect("state JSON");
    let version = lab.deployed.put_object(deployment::STATE_BUCKET, key, new_bytes).expect("a version id");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(case.join("event.json")).expect("event")).expect("event JSON");
    event["detail"]["object"]["version-id"] = json!(version);
    let file = driftwatch_tests::scratch("lambda-state-event").join("event.json");
    std::fs::write(&file, event.to_string()).expect("write event");

    let got = lab.invoke("state-watcher", &file);
    assert!(got.success, "{got:?}\n{}", lab.context());
    assert_one_open_finding(&lab, "state.lineage_changed", &format!("s3://{}/{key}", deployment::STATE_BUCKET));
    let indexed: Vec<Value> = lab.deployed.items(deployment::INDEX_TABLE).into_iter().filter(|i| i["state_key"] == key).collect();
    assert!(!indexed.is_empty(), "the new version's resources are indexed");
    assert!(indexed.iter().all(|i| i["lineage"] == new_state["lineage"]), "index entries carry the new lineage: {indexed:#?}");
    assert!(!lab.evidence_keys().is_empty(), "no evidence");
    assert!(!alerts_about(&lab, "state.lineage_changed").is_empty(), "an alert for the lineage change");
}

#[test]
fn lock_watcher_reports_no_batch_failures_and_records_the_force_unlock() {
    let Some(lab) = Lab::start("lambda-lock", &[], &[]) else { return };
    let got = lab.invoke("lock-watcher", &payload("lock-watcher"));
    // The partial-batch response of a DynamoDB Streams trigger: no record to retry.
    assert_eq!(got.json()["batchItemFailures"], json!([]), "{}\n{}", got.stdout, lab.context());
    assert_one_open_finding(&lab, "lock.force_unlock", "s3://stmarys-ehr-tfstate/prod/data.tfstate");
    assert!(!lab.evidence_keys().is_empty(), "no evidence");
}

#[test]
fn sweeper_flags_a_stale_lock_held_in_the_lock_table() {
    let policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy");
    let Some(lab) = Lab::start("lambda-sweeper", &[("DRIFTWATCH_POLICY", policy.as_str())], &[]) else { return };
    // The lock the case's 00-given record took (an apply from 2026-11-20: long stale now).
    let given: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("events/sweeper/stale-lock/00-given-lock-held.json")).expect("given"),
    )
    .expect("given JSON");
    let image = &given["Records"][0]["dynamodb"]["NewImage"];
    let s = |k: &str| aws_sdk_dynamodb::types::AttributeValue::S(image[k]["S"].as_str().expect("string attribute").to_string());
    lab.deployed
        .block_on(
            lab.deployed.dynamodb.put_item().table_name(deployment::LOCK_TABLE).item("LockID", s("LockID")).item("Info", s("Info")).send(),
        )
        .expect("put the lock item");
    let got = lab.invoke("sweeper", &payload("sweeper"));
    assert!(got.success, "{got:?}\n{}", lab.context());
    assert_one_open_finding(&lab, "lock.stale", "s3://stmarys-ehr-tfstate/prod/data.tfstate");
}

#[test]
fn reporter_writes_the_report_of_what_the_watchers_recorded() {
    // The functions' clock is pinned (DRIFTWATCH_NOW): the watcher's evidence is written on
    // 2026-11-21, inside the 30 days before the scheduled event (2026-11-23), whatever day the
    // suite runs on.
    let Some(lab) = Lab::start("lambda-reporter", &[("DRIFTWATCH_NOW", "2026-11-21T09:30:00Z")], &[]) else { return };
    // A finding recorded by a watcher first (the console edit of 2026-11-20).
    assert!(lab.deployed.seed_index() > 0);
    assert!(lab.invoke("trail-watcher", &payload("trail-watcher")).success, "{}", lab.context());
    let got = lab.invoke("reporter", &payload("reporter"));
    assert!(got.success, "{got:?}\n{}", lab.context());
    // The scheduled event fired 2026-11-23: reports/<period end date>/report.{html,json,csv}.
    let dir = format!("{}/2026-11-23/", deployment::REPORTS_PREFIX);
    let keys = lab.deployed.keys(deployment::REPORTS_BUCKET, &dir);
    for name in ["report.html", "report.json", "report.csv"] {
        assert!(keys.contains(&format!("{dir}{name}")), "no {name} under s3://{}/{dir}: {keys:?}", deployment::REPORTS_BUCKET);
    }
    let json = lab.deployed.get_object(deployment::REPORTS_BUCKET, &format!("{dir}report.json"));
    let text = String::from_utf8_lossy(&json);
    assert!(text.contains("change.console") && text.contains("aws_security_group.app"), "the report covers the console edit: {text}");
    // The evidence was written on the pinned day, not the wall clock's.
    let evidence = lab.evidence_keys();
    assert!(
        evidence.iter().any(|k| k.contains("/2026/11/21/finding/")),
        "no finding evidence under the pinned day 2026/11/21: {evidence:?}"
    );
}

/// Logs are one JSON object per line with stable keys, and hold no secret of any state the
/// functions read — at the most verbose level, with a state full of secrets indexed.
#[test]
fn logs_are_json_with_stable_keys_and_hold_no_secret() {
    const SECRETS: [&str; 4] =
        ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];
    let Some(lab) = Lab::start("lambda-logs", &[("DRIFTWATCH_LOG", "trace")], &[]) else { return };
    let mut planted = 0;
    for (i, path) in ["samples/states/data.tfstate", "samples/sensitive/secret.tfstate"].iter().enumerate() {
        let bytes = std::fs::read(workspace_root().join(path)).expect("state");
        let text = String::from_utf8_lossy(&bytes);
        planted += SECRETS.iter().filter(|s| text.contains(*s)).count();
        let key = format!("prod/secrets-{i}.tfstate");
        let version = lab.deployed.put_object(deployment::STATE_BUCKET, &key, bytes).expect("a version id");
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(payload("state-watcher")).expect("event")).expect("event JSON");
        event["detail"]["object"]["key"] = json!(key);
        event["detail"]["object"]["version-id"] = json!(version);
        let file = driftwatch_tests::scratch(&format!("lambda-logs-{i}")).join("event.json");
        std::fs::write(&file, event.to_string()).expect("write event");
        let got = lab.invoke("state-watcher", &file);
        assert!(got.success, "{got:?}\n{}", lab.context());
        for s in SECRETS {
            assert!(!got.stdout.contains(s), "secret {s} in the response");
        }
    }
    assert!(planted >= 2, "the states no longer plant secrets: the test would prove nothing");
    let got = lab.invoke("trail-watcher", &payload("trail-watcher"));
    assert!(got.success, "{got:?}");

    let lines = lab.log_lines("state-watcher");
    assert!(lines.iter().any(|l| l["message"] == "state indexed"), "no 'state indexed' line:\n{}", lab.context());
    for l in lines.iter().chain(lab.log_lines("trail-watcher").iter()) {
        for key in ["timestamp", "level", "message"] {
            assert!(l.get(key).is_some_and(|v| v.is_string()), "log line without a string {key}: {l}");
        }
        if l["message"] != "ready" {
            assert!(l["span"]["request_id"].is_string(), "an invocation's line without its request id: {l}");
        }
    }
    let log = lab.watch.log_text();
    for s in SECRETS {
        assert!(!log.contains(s), "secret {s} in the functions' logs");
    }
}
