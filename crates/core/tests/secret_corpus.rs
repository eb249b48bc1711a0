//! Issue 13 item 2: a generated corpus of secret shapes, planted where secrets hide in real
//! estates — a Lambda's environment variables under innocent names, tags, a description —
//! on both sides (the Terraform state and the live AWS Config item, with different values so
//! that drift is found), never appears in any output: the parsed state, the index, the live
//! items, findings (JSON), the table-ready titles, ASFF, alerts (subject, email, JSON, Chatbot,
//! SNS message), the report (JSON, CSV, HTML) and the evidence records.

use chrono::{TimeZone, Utc};
use driftwatch_core::alert::Alert;
use driftwatch_core::asff::{batch, AsffDefaults};
use driftwatch_core::drift::{scan, ScanPolicy};
use driftwatch_core::evidence::Record;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{item_from_value, LiveInventory};
use driftwatch_core::redact::{harmless, value_looks_secret};
use driftwatch_core::report::{self, FindingRecord, Period};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Catalog, Redactor};
use serde_json::{json, Map, Value};

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{corpus, shaped, Gen};

fn lambda_state(env: &Map<String, Value>, tags: &Map<String, Value>, description: &str) -> Value {
    json!({"version": 4, "serial": 3, "lineage": "corpus", "terraform_version": "1.11.0", "resources": [{
        "mode": "managed", "type": "aws_lambda_function", "name": "api", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
        "instances": [{"schema_version": 0, "attributes": {
            "function_name": "ehr-api", "arn": "arn:aws:lambda:us-east-1:123456789012:function:ehr-api", "runtime": "python3.12",
            "handler": "app.handler", "role": "arn:aws:iam::123456789012:role/ehr-api", "description": description,
            "environment": [{"variables": env}], "tags": tags, "tags_all": tags}}]}]})
}

fn lambda_item(env: &Map<String, Value>, tags: &Map<String, Value>, description: &str) -> Value {
    json!({"resourceType": "AWS::Lambda::Function", "resourceId": "ehr-api", "awsAccountId": "123456789012", "awsRegion": "us-east-1",
           "ARN": "arn:aws:lambda:us-east-1:123456789012:function:ehr-api", "configurationItemStatus": "OK",
           "configurationItemCaptureTime": "2026-11-22T00:00:00.000Z",
           "configuration": {"functionName": "ehr-api", "runtime": "python3.12", "handler": "app.handler",
                             "role": "arn:aws:iam::123456789012:role/ehr-api", "description": description,
                             "environment": {"variables": env}},
           "tags": tags})
}

#[test]
fn no_secret_of_the_corpus_reaches_any_output() {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"corpus-salt");
    let mut g = Gen(0x5eed_2026_1205);
    let desired = corpus(&mut g);
    let live = corpus(&mut g);
    assert!(desired.len() >= 50, "{} shapes", desired.len());
    // Innocent names: only the values give them away.
    let map = |c: &[(&str, String)]| -> Map<String, Value> {
        c.iter().enumerate().map(|(i, (_, v))| (format!("SETTING_{i:02}"), Value::String(v.clone()))).collect()
    };
    let (env_d, env_l) = (map(&desired), map(&live));
    let shaped_text = |c: &[(&str, String)]| c.iter().filter(|(n, _)| shaped(n)).map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" ");
    let state = lambda_state(&env_d, &env_d, &shaped_text(&desired));
    let item = lambda_item(&env_l, &env_l, &shaped_text(&live));

    let st =
        parse_state(state.to_string().as_bytes(), StateLocation::s3("tfstate", "prod/api.tfstate"), &catalog, &redactor).expect("state");
    let index = ManagedIndex::build([st.clone()], &catalog);
    let it = item_from_value(item, &redactor).expect("item");
    let inv: LiveInventory = [it.clone()].into_iter().collect();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    let findings = scan(&index, &inv, &catalog, &redactor, &ScanPolicy::default(), now).findings;
    assert!(findings.iter().any(|f| f.rule.id() == "drift.changed"), "the changed environment is still found: {findings:#?}");

    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut add = |what: &str, text: String| outputs.push((what.to_string(), text));
    add("parsed state", format!("{:?}", st.instances));
    add("index", format!("{:?}", index.entries()));
    add("live item", it.doc.to_string());
    add("findings JSON", serde_json::to_string(&findings).unwrap());
    add("titles", findings.iter().map(|f| f.title.clone()).collect::<Vec<_>>().join("\n"));
    let defaults = AsffDefaults { account: "123456789012".into(), region: "us-east-1".into(), partition: "aws".into() };
    add("ASFF", batch(&findings, &defaults, now).to_string());
    for f in &findings {
        let a = Alert::new(f, "prod");
        add("alert", format!("{}\n{}\n{}\n{}\n{:?}", a.subject(), a.email_body(), a.json(), a.chatbot(), a.sns_message()));
        let rec = Record { kind: "finding".into(), time: f.last_seen, body: serde_json::to_value(f).unwrap() };
        add("evidence", String::from_utf8(rec.to_bytes()).unwrap());
    }
    let records: Vec<FindingRecord> =
        findings.iter().map(|f| FindingRecord { key: format!("k/{}", f.fingerprint), time: f.last_seen, finding: f.clone() }).collect();
    let r = report::build(&records, Period { from: None, to: None }, now, None);
    add("report", format!("{}\n{}\n{}", report::to_json(&r), report::to_csv(&r), report::to_html(&r)));

    let mut leaks = Vec::new();
    for (name, secret) in desired.iter().chain(&live) {
        for (what, text) in &outputs {
            // JSON escapes newlines (PEM blocks): look for the secret's longest line too.
            let line = secret.lines().max_by_key(|l| l.len()).unwrap_or(secret);
            if text.contains(secret.as_str()) || text.contains(line) {
                leaks.push(format!("{name} in {what}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
}

/// Every shaped secret is recognised on its own, wherever it appears; every secret of the corpus
/// is not harmless in an opaque container; and the plain values real estates keep there stay
/// readable (and comparable in clear).
#[test]
fn the_shapes_are_recognised_and_plain_values_are_not() {
    let mut g = Gen(7);
    for (name, secret) in corpus(&mut g) {
        assert!(!harmless(&secret), "{name}: {secret}");
        if shaped(name) {
            assert!(value_looks_secret(&secret), "{name}: {secret}");
        }
    }
    for plain in [
        "production",
        "us-east-1",
        "INFO",
        "ehr-1042",
        "platform-team",
        "Patient portal and FHIR API",
        "phi",
        "stmarys-ehr-prod-phi-clinical-notes-123456789012",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "https://api.example.com/v1/patients",
        "8080",
        "true",
        "python3.12",
        "sg-0a5c66cbda00f555b",
        "app.handler",
    ] {
        assert!(harmless(plain), "{plain}");
        assert!(!value_looks_secret(plain), "{plain}");
    }
}
