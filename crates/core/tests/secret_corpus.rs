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

/// A small deterministic generator (no wall clock, no OS randomness).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        (0..n).map(|_| a[(self.next() as usize) % a.len()]).collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n)
    }
    fn upper(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n)
    }
    fn hex(&mut self, n: usize) -> String {
        self.pick("0123456789abcdef", n)
    }
    fn b64(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n)
    }
    fn b64url(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", n)
    }
}

/// One secret of each shape (name, value), from the generator's stream.
fn corpus(g: &mut Gen) -> Vec<(&'static str, String)> {
    let uuid = |g: &mut Gen| format!("{}-{}-{}-{}-{}", g.hex(8), g.hex(4), g.hex(4), g.hex(4), g.hex(12));
    vec![
        ("aws access key id", format!("AKIA{}", g.upper(16))),
        ("aws temporary key id", format!("ASIA{}", g.upper(16))),
        ("aws secret access key", format!("{}/{}+{}", g.alnum(12), g.alnum(13), g.alnum(13))),
        ("github classic token", format!("ghp_{}", g.alnum(36))),
        ("github oauth token", format!("gho_{}", g.alnum(36))),
        ("github user-to-server token", format!("ghu_{}", g.alnum(36))),
        ("github server-to-server token", format!("ghs_{}", g.alnum(36))),
        ("github fine-grained token", format!("github_pat_{}_{}", g.alnum(22), g.alnum(59))),
        ("gitlab token", format!("glpat-{}", g.b64url(20))),
        ("slack bot token", format!("xoxb-{}-{}-{}", g.pick("0123456789", 12), g.pick("0123456789", 13), g.alnum(24))),
        (
            "slack user token",
            format!("xoxp-{}-{}-{}-{}", g.pick("0123456789", 12), g.pick("0123456789", 12), g.pick("0123456789", 13), g.hex(32)),
        ),
        ("slack app token", format!("xapp-1-{}-{}-{}", g.upper(11), g.pick("0123456789", 13), g.hex(64))),
        ("slack webhook", format!("https://hooks.slack.com/services/T{}/B{}/{}", g.upper(8), g.upper(10), g.alnum(24))),
        ("stripe secret key", format!("sk_live_{}", g.alnum(24))),
        ("stripe restricted key", format!("rk_live_{}", g.alnum(24))),
        ("stripe webhook secret", format!("whsec_{}", g.alnum(32))),
        ("google api key", format!("AIza{}", g.b64url(35))),
        ("google oauth token", format!("ya29.{}", g.b64url(60))),
        ("npm token", format!("npm_{}", g.alnum(36))),
        ("pypi token", format!("pypi-AgEIcHlwaS5vcmc{}", g.b64url(50))),
        ("sendgrid key", format!("SG.{}.{}", g.b64url(22), g.b64url(43))),
        ("twilio api key", format!("SK{}", g.hex(32))),
        ("shopify token", format!("shpat_{}", g.hex(32))),
        ("digitalocean token", format!("dop_v1_{}", g.hex(64))),
        ("square token", format!("sq0atp-{}", g.b64url(22))),
        ("vault token", format!("hvs.{}", g.alnum(24))),
        ("doppler token", format!("dp.st.prd.{}", g.alnum(40))),
        ("new relic key", format!("NRAK-{}", g.upper(27))),
        ("linear key", format!("lin_api_{}", g.alnum(40))),
        ("anthropic key", format!("sk-ant-api03-{}", g.b64url(90))),
        ("openai key", format!("sk-proj-{}", g.b64url(60))),
        ("atlassian token", format!("ATATT3x{}", g.b64url(60))),
        ("databricks token", format!("dapi{}", g.hex(32))),
        ("hubspot token", format!("pat-na1-{}", uuid(g))),
        ("terraform cloud token", format!("{}.atlasv1.{}", g.alnum(14), g.alnum(60))),
        ("grafana service account token", format!("glsa_{}_{}", g.alnum(32), g.hex(8))),
        ("sentry auth token", format!("sntrys_{}", g.b64url(60))),
        ("mailgun key", format!("key-{}", g.hex(32))),
        ("brevo key", format!("xkeysib-{}-{}", g.hex(64), g.alnum(16))),
        ("age secret key", format!("AGE-SECRET-KEY-1{}", g.upper(58))),
        ("jwt", format!("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}", g.b64url(60), g.b64url(43))),
        ("pem rsa private key", format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----", g.b64(64))),
        ("openssh private key", format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----", g.b64(70))),
        ("pgp private key", format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}\n-----END PGP PRIVATE KEY BLOCK-----", g.b64(64))),
        ("postgres url", format!("postgres://ehr_app:{}@db.internal:5432/ehr", g.alnum(18))),
        ("mysql url", format!("mysql://admin:{}@mysql.internal/billing", g.alnum(16))),
        ("redis url", format!("redis://:{}@cache.internal:6379/0", g.alnum(20))),
        ("mongodb url", format!("mongodb+srv://svc:{}@cluster0.mongodb.net/phi", g.alnum(16))),
        ("amqp url", format!("amqps://queue:{}@mq.internal:5671/", g.alnum(16))),
        ("sentry dsn", format!("https://{}@o{}.ingest.sentry.io/{}", g.hex(32), g.pick("0123456789", 6), g.pick("0123456789", 7))),
        (
            "azure storage connection string",
            format!("DefaultEndpointsProtocol=https;AccountName=ehr;AccountKey={};EndpointSuffix=core.windows.net", g.b64(86)),
        ),
        ("azure sas url", format!("https://ehr.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig={}", g.b64url(43))),
        ("discord webhook", format!("https://discord.com/api/webhooks/{}/{}", g.pick("0123456789", 18), g.b64url(68))),
        ("teams webhook", format!("https://acme.webhook.office.com/webhookb2/{}@{}/IncomingWebhook/{}", uuid(g), uuid(g), g.hex(32))),
        ("bearer header", format!("Bearer {}", g.b64url(40))),
        ("basic auth header", format!("Basic {}", g.b64(24))),
        // No shape of its own: caught where secrets hide (environment, tags), by not being plain.
        ("password with symbols", format!("{}!{}#{}$", g.alnum(5), g.alnum(4), g.alnum(5))),
        ("random alphanumeric", g.alnum(24)),
        ("hex api key", g.hex(32)),
        ("base64 key", format!("{}==", g.b64(42))),
        ("mixed password", format!("S3cr3t-{}-pa55word!", g.alnum(4))),
    ]
}

/// The secrets that have a shape of their own (detected anywhere, not only in opaque
/// containers).
fn shaped(name: &str) -> bool {
    !matches!(name, "password with symbols" | "random alphanumeric" | "hex api key" | "base64 key" | "mixed password")
}

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
