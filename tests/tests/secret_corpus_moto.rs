//! Issue 13 item 2, on moto: the generated corpus of secret shapes (the core suite's
//! `secret_corpus` generator), planted under innocent names in a Lambda function's environment
//! variables, tags and description — in a Terraform state pushed to the state bucket, in the
//! live AWS Config item of the function (other values: drift), in a console user's CloudTrail
//! `UpdateFunctionConfiguration` and `TagResource` calls — goes through the state, config and
//! trail watchers and the reporter, in process, through the real AWS SDK; and no secret
//! appears in anything they leave: the findings, index and exceptions tables (raw `Scan`), the
//! evidence and reports buckets, the alerts and notices queues, the handlers' responses, and
//! every log event at TRACE (all targets, the AWS SDK's included) of the invocations.

use chrono::{DateTime, Utc};
use driftwatch_lambda::{handle, Adapters, Env, Function, Invocation};
use driftwatch_tests::deployment::{self, Deployment};
use driftwatch_tests::{workspace_root, Moto};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

#[path = "../../crates/core/tests/support/corpus.rs"]
mod corpus;
use corpus::{corpus, shaped, Gen};

const FUNCTION: &str = "ehr-api";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:ehr-api";
const STATE_KEY: &str = "prod/corpus.tfstate";

/// Every log event of the invocations, as text and as the functions' JSON lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(self.0.clone())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

fn adapters(moto: &Moto, function: Function) -> Adapters {
    let mut vars: Vec<(String, String)> = deployment::function_vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy");
    vars.push(("DRIFTWATCH_POLICY".into(), policy));
    vars.push(("DRIFTWATCH_REDACTION_SALT".into(), deployment::REDACTION_SALT.into()));
    let env = Env::from_vars(function, |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("env");
    Adapters::with_sdk(env, &moto.sdk_config()).expect("adapters")
}

fn event(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(workspace_root().join(path)).expect("event file")).expect("event JSON")
}

fn at(t: &str) -> DateTime<Utc> {
    t.parse().expect("time")
}

/// The corpus under innocent names: `SETTING_00`, `SETTING_01`, …
fn settings(c: &[(&str, String)]) -> Map<String, Value> {
    c.iter().enumerate().map(|(i, (_, v))| (format!("SETTING_{i:02}"), Value::String(v.clone()))).collect()
}

/// The shaped secrets (recognised anywhere, not only in opaque containers), as one text.
fn shaped_text(c: &[(&str, String)]) -> String {
    c.iter().filter(|(n, _)| shaped(n)).map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" ")
}

fn state(env: &Map<String, Value>, description: &str) -> Value {
    json!({"version": 4, "serial": 1, "lineage": "5d1f0c9e-corpus", "terraform_version": "1.11.0", "outputs": {}, "resources": [{
        "mode": "managed", "type": "aws_lambda_function", "name": "api", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
        "instances": [{"schema_version": 0, "attributes": {
            "function_name": FUNCTION, "arn": FUNCTION_ARN, "runtime": "python3.12", "handler": "app.handler",
            "role": "arn:aws:iam::123456789012:role/ehr-api", "description": description, "memory_size": 512, "timeout": 30,
            "environment": [{"variables": env}], "tags": env, "tags_all": env}}]}]})
}

/// The config watcher's event: `events/config-watcher/drift-changed` with the function's item
/// (the live values) and a diff naming every variable (old and new values: more secrets).
fn config_event(desired: &Map<String, Value>, live: &Map<String, Value>, description: &str) -> Value {
    let mut ev = event("events/config-watcher/drift-changed/event.json");
    ev["time"] = json!("2026-11-20T11:00:05Z");
    ev["resources"] = json!([FUNCTION_ARN]);
    let changed: Map<String, Value> = live
        .iter()
        .map(|(k, v)| {
            let diff = json!({"previousValue": desired[k], "updatedValue": v, "changeType": "UPDATE"});
            (format!("Configuration.Environment.Variables.{k}"), diff)
        })
        .collect();
    ev["detail"]["configurationItemDiff"] = json!({"changedProperties": changed, "changeType": "UPDATE"});
    ev["detail"]["notificationCreationTime"] = json!("2026-11-20T11:00:05.000Z");
    ev["detail"]["configurationItem"] = json!({
        "relatedEvents": [], "relationships": [],
        "configuration": {"functionName": FUNCTION, "functionArn": FUNCTION_ARN, "runtime": "python3.12", "handler": "app.handler",
                          "role": "arn:aws:iam::123456789012:role/ehr-api", "description": description, "memorySize": 512, "timeout": 30,
                          "environment": {"variables": live}},
        "supplementaryConfiguration": {"Tags": live},
        "tags": live,
        "configurationItemVersion": "1.3", "configurationItemCaptureTime": "2026-11-20T11:00:00.000Z",
        "configurationStateId": "1795172400000", "awsAccountId": deployment::ACCOUNT, "configurationItemStatus": "OK",
        "resourceType": "AWS::Lambda::Function", "resourceId": FUNCTION, "resourceName": FUNCTION, "ARN": FUNCTION_ARN,
        "awsRegion": "us-east-1", "configurationStateMd5Hash": "", "resourceCreationTime": "2025-12-29T05:33:28.000Z"});
    ev
}

/// A console user's Lambda call as EventBridge delivers it (`events/trail-watcher/console-edit`
/// with the call replaced).
fn trail_event(name: &str, time: &str, request: Value, response: Value) -> Value {
    let mut ev = event("events/trail-watcher/console-edit/event.json");
    ev["source"] = json!("aws.lambda");
    ev["time"] = json!(time);
    ev["id"] = json!(format!("corpus-{name}"));
    let d = &mut ev["detail"];
    d["eventTime"] = json!(time);
    d["eventSource"] = json!("lambda.amazonaws.com");
    d["eventName"] = json!(name);
    d["requestParameters"] = request;
    d["responseElements"] = response;
    d["eventID"] = json!(format!("0c1d2e3f-4a5b-6c7d-8e9f-{}", if name.starts_with("Tag") { "000000000002" } else { "000000000001" }));
    d["requestID"] = json!(format!("corpus-request-{name}"));
    ev
}

/// The texts a secret may appear in, however it was encoded on the way: as is, its longest
/// line (multi-line secrets in escaped JSON), JSON-escaped, `Debug`-escaped and HTML-escaped.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    out.push(secret.lines().max_by_key(|l| l.len()).unwrap_or(secret).to_string());
    let json = serde_json::to_string(secret).unwrap();
    out.push(json[1..json.len() - 1].to_string());
    let debug = format!("{secret:?}");
    out.push(debug[1..debug.len() - 1].to_string());
    out.push(secret.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;"));
    out.sort();
    out.dedup();
    out
}

/// Every item of a table as the raw `Scan` returns it (every attribute type, `Debug`).
fn raw_items(deployed: &Deployment, table: &str) -> Vec<String> {
    deployed.block_on(async {
        let mut pages = deployed.dynamodb.scan().table_name(table).into_paginator().items().send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.expect("scan page");
            let mut attrs: Vec<_> = item.iter().collect();
            attrs.sort_by(|a, b| a.0.cmp(b.0));
            out.push(format!("{attrs:?}"));
        }
        out
    })
}

#[test]
fn no_secret_of_the_corpus_leaves_the_functions_on_moto() {
    let Some(moto) = Moto::start("secret_corpus_moto") else { return };
    let deployed = Deployment::create(&moto);

    let mut g = Gen(0x5eed_2026_1120);
    let desired = corpus(&mut g);
    let live = corpus(&mut g);
    assert!(desired.len() >= 50, "{} shapes", desired.len());
    let (env_d, env_l) = (settings(&desired), settings(&live));
    let (text_d, text_l) = (shaped_text(&desired), shaped_text(&live));
    for (i, ((n, d), (_, l))) in desired.iter().zip(&live).enumerate() {
        assert_ne!(d, l, "SETTING_{i:02} ({n}): the two draws differ, so that drift is found");
    }

    // The state, written to the versioned backend (outside the log capture: the test's own
    // write is not the functions' output).
    let bytes = serde_json::to_vec_pretty(&state(&env_d, &text_d)).unwrap();
    let version = deployed.put_object(deployment::STATE_BUCKET, STATE_KEY, bytes).expect("version id");

    let state_watcher = adapters(&moto, Function::StateWatcher);
    let config_watcher = adapters(&moto, Function::ConfigWatcher);
    let trail_watcher = adapters(&moto, Function::TrailWatcher);
    let reporter = adapters(&moto, Function::Reporter);

    let mut state_ev = event("events/state-watcher/apply/event.json");
    state_ev["time"] = json!("2026-11-20T10:00:00Z");
    state_ev["detail"]["object"]["key"] = json!(STATE_KEY);
    state_ev["detail"]["object"]["version-id"] = json!(version);
    let config_ev = config_event(&env_d, &env_l, &text_l);
    let request = json!({"functionName": FUNCTION, "description": text_l, "environment": {"variables": env_l}});
    let response = json!({"functionName": FUNCTION, "functionArn": FUNCTION_ARN, "runtime": "python3.12",
                              "handler": "app.handler", "description": text_l, "environment": {"variables": env_l}});
    let update = trail_event("UpdateFunctionConfiguration20150331v2", "2026-11-20T11:30:00Z", request, response);
    let tag = trail_event("TagResource20170331v2", "2026-11-20T11:31:00Z", json!({"resource": FUNCTION_ARN, "tags": env_l}), Value::Null);
    let report_ev = event("events/reporter/scheduled/event.json");

    // Every invocation with every log event at TRACE, all targets, into the buffer: the text
    // format and the functions' own JSON lines. The deployment's runtime is current-thread, so
    // everything the invocations run (the SDK's connection tasks too) runs on this thread.
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().without_time().with_ansi(false).with_writer(logs.clone()))
        .with(tracing_subscriber::fmt::layer().json().without_time().with_current_span(true).with_span_list(true).with_writer(logs.clone()))
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let mut responses: Vec<(&str, Value)> = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let mut invoke = |what: &'static str, adapters: &Adapters, payload: &Value, now: &str| {
            let out =
                deployed.block_on(handle(adapters, payload.clone(), &Invocation::at(at(now)))).unwrap_or_else(|e| panic!("{what}: {e}"));
            responses.push((what, out));
        };
        invoke("state watcher", &state_watcher, &state_ev, "2026-11-20T10:00:01Z");
        invoke("config watcher", &config_watcher, &config_ev, "2026-11-20T11:00:06Z");
        invoke("trail watcher (environment)", &trail_watcher, &update, "2026-11-20T11:30:01Z");
        invoke("trail watcher (tags)", &trail_watcher, &tag, "2026-11-20T11:31:01Z");
        invoke("reporter", &reporter, &report_ev, "2026-11-23T06:00:01Z");
    });
    let log = logs.text();

    // Everything the functions left.
    let mut outputs: Vec<(String, String)> = Vec::new();
    for (what, out) in &responses {
        outputs.push((format!("{what} response"), out.to_string()));
    }
    for table in [deployment::FINDINGS_TABLE, deployment::INDEX_TABLE, deployment::EXCEPTIONS_TABLE] {
        for (i, item) in raw_items(&deployed, table).into_iter().enumerate() {
            outputs.push((format!("{table} item {i}"), item));
        }
    }
    let mut report_keys = Vec::new();
    for bucket in [deployment::EVIDENCE_BUCKET, deployment::REPORTS_BUCKET] {
        for key in deployed.keys(bucket, "") {
            let body = String::from_utf8_lossy(&deployed.get_object(bucket, &key)).into_owned();
            if bucket == deployment::REPORTS_BUCKET {
                report_keys.push(key.clone());
            }
            outputs.push((format!("s3://{bucket}/{key}"), body));
        }
    }
    let alerts = deployed.drain(&deployed.alerts_queue);
    for (i, a) in alerts.iter().enumerate() {
        outputs.push((format!("alert {i}"), a.to_string()));
    }
    for (i, n) in deployed.drain(&deployed.notices_queue).iter().enumerate() {
        outputs.push((format!("notice {i}"), n.to_string()));
    }
    outputs.push(("TRACE log".into(), log.clone()));

    // It all ran: the function indexed, its drift found and alerted, a report written, the
    // log full of the invocations.
    let index = deployed.items(deployment::INDEX_TABLE);
    assert!(index.iter().any(|i| i["arn"] == FUNCTION_ARN), "the state watcher indexed {FUNCTION_ARN}: {responses:#?}");
    let findings = deployed.items(deployment::FINDINGS_TABLE);
    let on_function =
        |rule: &str| findings.iter().any(|i| i["rule"] == rule && i["record"].as_str().is_some_and(|r| r.contains(FUNCTION_ARN)));
    assert!(on_function("drift.changed"), "a drift.changed on the function: {findings:#?}\n{responses:#?}");
    assert!(!alerts.is_empty(), "alerts were sent: {responses:#?}");
    assert!(alerts.iter().any(|a| a.to_string().contains(FUNCTION)), "an alert about the function: {alerts:#?}");
    for name in ["report.html", "report.json", "report.csv"] {
        assert!(report_keys.iter().any(|k| k.ends_with(name)), "{name} written: {report_keys:?}");
    }
    assert!(log.contains("finding recorded"), "the log has the invocations' events");
    assert!(log.contains("TRACE"), "the log is at TRACE");
    assert!(log.contains("aws_smithy") || log.contains("aws_sdk"), "the AWS SDK's events are in the log");
    assert!(log.len() > 100_000, "the log is {} bytes", log.len());

    let mut leaks = Vec::new();
    for (name, secret) in desired.iter().chain(&live) {
        let forms = forms(secret);
        for (what, text) in &outputs {
            if let Some(form) = forms.iter().find(|f| text.contains(f.as_str())) {
                let at = text.find(form.as_str()).unwrap();
                let around = &text[text.floor_char_boundary(at.saturating_sub(120))..text.ceil_char_boundary(at + form.len() + 40)];
                leaks.push(format!("{name} in {what}: …{around}…"));
            }
        }
    }
    let checked = outputs.iter().map(|(_, t)| t.len()).sum::<usize>();
    eprintln!(
        "secret_corpus_moto: {} secrets × {} outputs ({checked} bytes, TRACE log {} bytes); {} leaks",
        desired.len() + live.len(),
        outputs.len(),
        log.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{} secrets leaked:\n{}", leaks.len(), leaks.join("\n\n"));
}
