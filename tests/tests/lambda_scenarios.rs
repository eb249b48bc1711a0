//! The functions' handlers, in process, against moto server through the real AWS SDK: each
//! scenario of the Lambdas issue, asserting on what lands in S3 (evidence), DynamoDB (index,
//! findings) and the SQS queue subscribed to the alerts topic. Every event is delivered twice:
//! no duplicate finding, evidence record or alert.
//!
//! The same handlers run behind the real Lambda runtime API in `lambda_e2e.rs`.

use chrono::{DateTime, Utc};
use driftwatch_lambda::{handle, Adapters, Env, Function, Invocation};
use driftwatch_tests::deployment::{self, Deployment};
use driftwatch_tests::{workspace_root, Moto};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every secret planted in the sample states.
const SECRETS: [&str; 4] = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];

struct Lab {
    deployed: Deployment,
    moto: Moto,
}

impl Lab {
    fn start(name: &str) -> Option<Lab> {
        let moto = Moto::start(name)?;
        let deployed = Deployment::create(&moto);
        Some(Lab { deployed, moto })
    }

    fn adapters(&self, function: Function, extra: &[(&str, &str)]) -> Adapters {
        let mut vars: Vec<(String, String)> = deployment::function_vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy");
        vars.push(("DRIFTWATCH_POLICY".into(), policy));
        vars.push(("DRIFTWATCH_REDACTION_SALT".into(), deployment::REDACTION_SALT.into()));
        for (k, v) in extra {
            vars.retain(|(n, _)| n != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let env = Env::from_vars(function, |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("env");
        Adapters::with_sdk(env, &self.moto.sdk_config()).expect("adapters")
    }

    fn invoke(&self, adapters: &Adapters, payload: &Value, now: DateTime<Utc>) -> Value {
        self.deployed
            .block_on(handle(adapters, payload.clone(), &Invocation::at(now)))
            .unwrap_or_else(|e| panic!("{}: {e}", adapters.env.function))
    }

    fn findings(&self) -> Vec<Value> {
        self.deployed
            .items(deployment::FINDINGS_TABLE)
            .into_iter()
            .filter(|i| !i["fingerprint"].as_str().unwrap_or("").starts_with("ledger#"))
            .collect()
    }

    fn evidence_keys(&self) -> BTreeSet<String> {
        self.deployed.keys(deployment::EVIDENCE_BUCKET, "").into_iter().collect()
    }

    /// Everything the functions wrote, as text, to look for secrets in.
    fn everything(&self) -> String {
        let mut all = String::new();
        for t in [deployment::FINDINGS_TABLE, deployment::INDEX_TABLE] {
            all.push_str(&serde_json::to_string(&self.deployed.items(t)).unwrap());
        }
        for k in self.evidence_keys() {
            let o = self
                .deployed
                .block_on(self.deployed.s3.get_object().bucket(deployment::EVIDENCE_BUCKET).key(&k).send())
                .expect("get evidence");
            let b = self.deployed.block_on(o.body.collect()).expect("body").into_bytes();
            all.push_str(&String::from_utf8_lossy(&b));
        }
        all
    }
}

fn event(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(workspace_root().join(path)).expect("event file")).expect("event JSON")
}

fn rules(findings: &[Value]) -> BTreeSet<(String, String)> {
    findings
        .iter()
        .map(|i| {
            let rec: Value = serde_json::from_str(i["record"].as_str().unwrap()).unwrap();
            let f = &rec["finding"];
            let res = f["resource"]["address"].as_str().map(str::to_string).unwrap_or_else(|| {
                format!("{} {}", f["resource"]["type"].as_str().unwrap_or("?"), f["resource"]["id"].as_str().unwrap_or("?"))
            });
            (f["rule"].as_str().unwrap().to_string(), res)
        })
        .collect()
}

fn now() -> DateTime<Utc> {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

#[test]
fn trail_watcher_console_edit_once_for_two_deliveries() {
    let Some(lab) = Lab::start("trail_watcher_console_edit") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let adapters = lab.adapters(Function::TrailWatcher, &[]);
    let ev = event("events/trail-watcher/console-edit/event.json");
    let first = lab.invoke(&adapters, &ev, now());
    // The console edit opens SSH to the internet: change.console and control.network_exposure,
    // one alert (the resource's quiet period holds the second back).
    assert_eq!(first["recorded"]["changed"], 2, "{first}");
    assert_eq!(first["recorded"]["alerts"], 1, "{first}");
    let findings = lab.findings();
    assert_eq!(
        rules(&findings),
        BTreeSet::from([
            ("change.console".to_string(), "aws_security_group.app".to_string()),
            ("control.network_exposure".to_string(), "aws_security_group.app".to_string())
        ])
    );
    let evidence = lab.evidence_keys();
    assert!(evidence.iter().any(|k| k.contains("/finding/")), "{evidence:?}");
    // Redelivered two days later: the console edit is unchanged; the control finding's alert,
    // held by the group's quiet period, goes out with this first observation after it (the
    // held finding is recorded again the day its alert went out; nothing else).
    let second = lab.invoke(&adapters, &ev, now() + chrono::Duration::days(2));
    assert_eq!(second["recorded"]["unchanged"], 1, "{second}");
    assert_eq!((second["recorded"]["changed"].as_u64(), second["recorded"]["alerts"].as_u64()), (Some(1), Some(1)), "{second}");
    assert_eq!(lab.findings().len(), findings.len());
    assert_eq!(lab.evidence_keys().difference(&evidence).count(), 1, "only the held finding's record of the day");
    let evidence = lab.evidence_keys();
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 2, "one alert per finding: {alerts:?}");
    for rule in ["change.console", "control.network_exposure"] {
        assert_eq!(
            alerts.iter().filter(|a| a["Message"].as_str().unwrap_or("").contains(&format!("\"rule\":\"{rule}\""))).count(),
            1,
            "{rule}: {alerts:?}"
        );
    }
    assert!(alerts[0]["Subject"].as_str().unwrap_or("").contains("aws_security_group.app"), "{}", alerts[0]);
    // A third delivery: nothing at all.
    let third = lab.invoke(&adapters, &ev, now() + chrono::Duration::days(3));
    assert_eq!((third["recorded"]["changed"].as_u64(), third["recorded"]["alerts"].as_u64()), (Some(0), Some(0)), "{third}");
    assert_eq!(lab.evidence_keys(), evidence, "a redelivery wrote evidence");
    assert!(lab.deployed.drain(&lab.deployed.alerts_queue).is_empty());
    let all = lab.everything();
    for s in SECRETS {
        assert!(!all.contains(s), "secret {s} stored");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers of the scenarios below: the lab's S3 and DynamoDB as the functions left them, real
// Terraform against moto's S3 backend, and the lock table's stream read through moto's
// DynamoDB Streams API.

use driftwatch_tests::{scratch, terraform};
use serde_json::json;
use std::path::Path;

/// The Terraform addresses of the findings.
fn addresses_of(findings: &[Value], rule: &str) -> BTreeSet<String> {
    rules(findings).into_iter().filter(|(r, _)| r == rule).map(|(_, a)| a).collect()
}

/// What a stored finding record holds.
fn finding_of(item: &Value) -> Value {
    let rec: Value = serde_json::from_str(item["record"].as_str().expect("record")).expect("record JSON");
    rec["finding"].clone()
}

/// Wrong behaviour seen in a scenario, asserted at its end so that one run shows all of it
/// (and the rest of the scenario still runs).
#[derive(Default)]
struct Bugs(Vec<String>);

impl Bugs {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let w = what();
            eprintln!("WRONG: {w}");
            self.0.push(w);
        }
    }

    fn done(self) {
        assert!(self.0.is_empty(), "wrong behaviour:\n- {}", self.0.join("\n- "));
    }
}

/// A child process killed if the test ends before waiting for it.
struct Running(Option<std::process::Child>);

impl Running {
    fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("running")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The current version of a state object: (version id, size, etag).
struct ObjectVersion {
    version: String,
    size: i64,
    etag: String,
}

impl Lab {
    fn try_invoke(&self, adapters: &Adapters, payload: &Value, now: DateTime<Utc>) -> Result<Value, String> {
        self.deployed
            .block_on(handle(adapters, payload.clone(), &Invocation::at(now)))
            .map_err(|e| format!("{}: {e}", adapters.env.function))
    }

    fn head(&self, bucket: &str, key: &str) -> ObjectVersion {
        let h = self
            .deployed
            .block_on(self.deployed.s3.head_object().bucket(bucket).key(key).send())
            .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
        ObjectVersion {
            version: h.version_id().expect("versioned bucket").to_string(),
            size: h.content_length().unwrap_or_default(),
            etag: h.e_tag().unwrap_or_default().trim_matches('"').to_string(),
        }
    }

    fn object(&self, bucket: &str, key: &str, version: Option<&str>) -> Vec<u8> {
        let o = self
            .deployed
            .block_on(self.deployed.s3.get_object().bucket(bucket).key(key).set_version_id(version.map(str::to_string)).send())
            .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        self.deployed.block_on(o.body.collect()).expect("body").into_bytes().to_vec()
    }

    /// The evidence records of one kind: key → record JSON.
    fn evidence_of(&self, kind: &str) -> Vec<(String, Value)> {
        self.evidence_keys()
            .into_iter()
            .filter(|k| k.contains(&format!("/{kind}/")))
            .map(|k| {
                let v: Value = serde_json::from_slice(&self.object(deployment::EVIDENCE_BUCKET, &k, None)).expect("evidence JSON");
                (k, v)
            })
            .collect()
    }

    /// Index entries of one state key: their addresses.
    fn indexed(&self, state_key: &str) -> BTreeSet<String> {
        self.deployed
            .items(deployment::INDEX_TABLE)
            .into_iter()
            .filter(|i| i["state_key"].as_str() == Some(state_key))
            .filter_map(|i| i["tf_address"].as_str().map(str::to_string))
            .collect()
    }

    fn assert_no_secrets(&self) {
        let all = self.everything();
        for s in SECRETS {
            assert!(!all.contains(s), "secret {s} stored");
        }
    }

    /// `terraform <args>` in `dir` against this moto (the backend block names the endpoint).
    fn tf_command(&self, dir: &Path, args: &[&str]) -> std::process::Command {
        let mut c = Moto::bare_aws_command("terraform");
        c.args(args)
            .current_dir(dir)
            .env("AWS_ACCESS_KEY_ID", Moto::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", Moto::SECRET_KEY)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1");
        c
    }

    fn tf(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.tf_command(dir, args).output().expect("run terraform");
        assert!(
            out.status.success(),
            "terraform {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A Terraform configuration in `dir` whose S3 backend is the lab's state bucket (with
    /// DynamoDB locking in the lab's lock table) at `key`, plus `resources`; initialised.
    fn tf_init(&self, dir: &Path, key: &str, resources: &str) {
        self.tf_init_locking(dir, key, resources, &format!("dynamodb_table = \"{}\"", deployment::LOCK_TABLE));
    }

    /// [`tf_init`](Self::tf_init) with `locking` as the backend's locking setting
    /// (`use_lockfile = true` for S3 lock files).
    fn tf_init_locking(&self, dir: &Path, key: &str, resources: &str, locking: &str) {
        let endpoint = &self.moto.endpoint;
        let bucket = deployment::STATE_BUCKET;
        let main = format!(
            r#"
terraform {{
  backend "s3" {{
    bucket                      = "{bucket}"
    key                         = "{key}"
    region                      = "us-east-1"
    {locking}
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
{resources}
"#
        );
        std::fs::write(dir.join("main.tf"), main).expect("main.tf");
        self.tf(dir, &["init", "-input=false", "-no-color"]);
    }

    /// `terraform state push` of `state` (JSON) from `dir`.
    fn tf_push(&self, dir: &Path, name: &str, state: &Value) {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(state).unwrap()).expect("state file");
        self.tf(dir, &["state", "push", name]);
    }

    /// One call of moto's DynamoDB Streams JSON API (the tests have no Streams SDK).
    fn streams(&self, target: &str, body: Value) -> Value {
        use std::io::{Read, Write};
        let body = body.to_string();
        let host = self.moto.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(host).expect("connect to moto");
        let request = format!(
            "POST / HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDBStreams_20120810.{target}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={}/20260101/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            Moto::ACCESS_KEY,
            Moto::REGION,
            body.len()
        );
        s.write_all(request.as_bytes()).expect("send");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("read answer");
        let (head, payload) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{target}: {answer}");
        serde_json::from_str(payload).unwrap_or_else(|e| panic!("{target} answer is not JSON ({e}): {payload}"))
    }

    /// Turn on the lock table's stream (new and old images); returns the stream ARN.
    fn enable_lock_stream(&self) -> String {
        use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
        let spec =
            StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewAndOldImages).build().expect("spec");
        let out = self
            .deployed
            .block_on(self.deployed.dynamodb.update_table().table_name(deployment::LOCK_TABLE).stream_specification(spec).send())
            .expect("enable the lock table's stream");
        out.table_description().and_then(|d| d.latest_stream_arn()).expect("stream ARN").to_string()
    }

    /// Every record of the stream so far, as the Lambda DynamoDB Streams event records them.
    fn stream_records(&self, arn: &str) -> Vec<Value> {
        let desc = self.streams("DescribeStream", json!({"StreamArn": arn}));
        let mut out = Vec::new();
        for shard in desc["StreamDescription"]["Shards"].as_array().cloned().unwrap_or_default() {
            let it = self
                .streams("GetShardIterator", json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}));
            let got = self.streams("GetRecords", json!({"ShardIterator": it["ShardIterator"]}));
            for r in got["Records"].as_array().cloned().unwrap_or_default() {
                out.push(lambda_record(&r, arn));
            }
        }
        out
    }
}

/// A stream record as Lambda hands it to a function: `ApproximateCreationDateTime` in epoch
/// seconds, the stream's ARN as `eventSourceARN`.
fn lambda_record(r: &Value, arn: &str) -> Value {
    let d = &r["dynamodb"];
    let created = match &d["ApproximateCreationDateTime"] {
        Value::Number(n) => n.as_f64().unwrap_or_default().floor() as i64,
        Value::String(s) => s
            .parse::<DateTime<Utc>>()
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()))
            .unwrap_or_else(|e| panic!("ApproximateCreationDateTime {s}: {e}"))
            .timestamp(),
        other => panic!("ApproximateCreationDateTime {other}"),
    };
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": created,
        "Keys": d["Keys"],
        "SequenceNumber": d["SequenceNumber"],
        "SizeBytes": d["SizeBytes"],
        "StreamViewType": d["StreamViewType"],
    });
    for image in ["NewImage", "OldImage"] {
        if let Some(i) = d.get(image).filter(|i| i.as_object().is_some_and(|o| !o.is_empty())) {
            dynamodb[image] = i.clone();
        }
    }
    json!({
        "eventID": r["eventID"],
        "eventName": r["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": r["awsRegion"].as_str().unwrap_or(Moto::REGION),
        "dynamodb": dynamodb,
        "eventSourceARN": arn,
    })
}

/// The EventBridge S3 `Object Created` event of a state write (shaped like
/// `events/state-watcher/apply/event.json`).
fn object_created(key: &str, v: &ObjectVersion, time: DateTime<Utc>) -> Value {
    let mut ev = event("events/state-watcher/apply/event.json");
    ev["time"] = json!(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    ev["id"] = json!(format!("state-write-{}", v.version));
    ev["detail"]["object"]["key"] = json!(key);
    ev["detail"]["object"]["version-id"] = json!(v.version);
    ev["detail"]["object"]["size"] = json!(v.size);
    ev["detail"]["object"]["etag"] = json!(v.etag);
    ev
}

fn sample_state(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(workspace_root().join("samples/states").join(name)).expect("sample state")).expect("state JSON")
}

/// `state` without the resource `type.name` of the root module.
fn without_resource(state: &Value, rtype: &str, name: &str) -> Value {
    let mut s = state.clone();
    let rs = s["resources"].as_array_mut().expect("resources");
    let before = rs.len();
    rs.retain(|r| !(r.get("module").is_none() && r["type"] == rtype && r["name"] == name));
    assert_eq!(rs.len(), before - 1, "{rtype}.{name} in the sample");
    s
}

fn at(t: &str) -> DateTime<Utc> {
    t.parse().expect("time")
}

// ---------------------------------------------------------------------------------------------
// 1. Real Terraform writes its state; the state watcher indexes each version.

#[test]
fn state_watcher_indexes_real_terraform_writes() {
    if terraform().is_none() {
        return;
    }
    let Some(lab) = Lab::start("ls_state_writes") else { return };
    let key = "prod/data.tfstate";
    let url = format!("s3://{}/{key}", deployment::STATE_BUCKET);
    let dir = scratch("ls-state-writes");
    lab.tf_init(&dir, key, "resource \"terraform_data\" \"marker\" {\n  input = \"one\"\n}\n");
    lab.tf(&dir, &["apply", "-auto-approve", "-input=false", "-no-color"]);
    let adapters = lab.adapters(Function::StateWatcher, &[]);
    let mut bugs = Bugs::default();

    // Write 1: the apply. terraform_data has no catalog row: nothing indexed, the write recorded.
    let v1 = lab.head(deployment::STATE_BUCKET, key);
    let t1 = at("2026-11-20T20:00:00Z");
    let ev1 = object_created(key, &v1, t1);
    let r = lab.invoke(&adapters, &ev1, t1 + chrono::Duration::seconds(5));
    assert_eq!(r["states"][0]["state"], json!(url), "{r}");
    assert_eq!(r["states"][0]["version"], json!(v1.version), "{r}");
    assert_eq!(r["findings"], json!([]), "an apply under lock with its digest is no finding: {r}");
    let applied: Value = serde_json::from_slice(&lab.object(deployment::STATE_BUCKET, key, Some(&v1.version))).expect("state");
    assert_eq!(r["states"][0]["serial"], applied["serial"], "{r}");
    let writes = lab.evidence_of("state-write");
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].1["body"]["version"], json!(v1.version));
    assert_eq!(writes[0].1["body"]["state"], json!(url));
    // Redelivered 12 hours later (EventBridge retries for 24 h): nothing new.
    let evidence = lab.evidence_keys();
    let again = lab.invoke(&adapters, &ev1, t1 + chrono::Duration::hours(12));
    assert_eq!(again["states"][0]["version"], json!(v1.version), "{again}");
    let now_keys = lab.evidence_keys();
    bugs.check(now_keys == evidence, || {
        format!("a state write redelivered the next day wrote its evidence again: {:?}", now_keys.difference(&evidence).collect::<Vec<_>>())
    });

    // Write 2: `terraform state push` of the data estate (same lineage, next serial).
    let lineage = applied["lineage"].as_str().expect("lineage").to_string();
    let serial = applied["serial"].as_i64().expect("serial");
    let mut data = sample_state("data.tfstate");
    data["lineage"] = json!(lineage);
    data["serial"] = json!(serial + 1);
    lab.tf_push(&dir, "push-1.tfstate", &data);
    let v2 = lab.head(deployment::STATE_BUCKET, key);
    assert_ne!(v2.version, v1.version);
    let t2 = t1 + chrono::Duration::minutes(10);
    let ev2 = object_created(key, &v2, t2);
    let r = lab.invoke(&adapters, &ev2, t2 + chrono::Duration::seconds(5));
    assert_eq!(r["states"][0]["version"], json!(v2.version), "{r}");
    // Terraform bumps the serial of what it pushes: the object's serial is what is reported.
    let pushed: Value = serde_json::from_slice(&lab.object(deployment::STATE_BUCKET, key, Some(&v2.version))).expect("state");
    assert!(pushed["serial"].as_i64().unwrap() > serial, "{pushed}");
    assert_eq!(pushed["lineage"], json!(lineage));
    assert_eq!(r["states"][0]["serial"], pushed["serial"], "{r}");
    assert!(r["states"][0]["indexed"].as_u64().unwrap_or(0) > 0, "{r}");
    assert_eq!(r["findings"], json!([]), "{r}");
    let indexed = lab.indexed(key);
    for a in [
        "aws_efs_file_system.dicom_scratch",
        "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket.this",
        "module.phi_storage[\"imaging\"].aws_kms_key.this",
    ] {
        assert!(indexed.contains(a), "{a} not indexed: {indexed:?}");
    }
    let writes = lab.evidence_of("state-write");
    assert!(writes.iter().any(|(_, w)| w["body"]["version"] == json!(v2.version) && w["body"]["serial"] == pushed["serial"]), "{writes:?}");
    let evidence = lab.evidence_keys();
    let index_items = lab.deployed.items(deployment::INDEX_TABLE).len();
    lab.invoke(&adapters, &ev2, t2 + chrono::Duration::hours(12));
    let now_keys = lab.evidence_keys();
    bugs.check(now_keys == evidence, || {
        format!("a state write redelivered the next day wrote its evidence again: {:?}", now_keys.difference(&evidence).collect::<Vec<_>>())
    });
    assert_eq!(lab.deployed.items(deployment::INDEX_TABLE).len(), index_items);
    assert!(lab.findings().is_empty(), "{:?}", rules(&lab.findings()));

    // Write 3: a push without the DICOM scratch file system (serial + 2): its entries go.
    lab.tf_push(&dir, "push-2.tfstate", &{
        let mut s = without_resource(&data, "aws_efs_file_system", "dicom_scratch");
        s["serial"] = json!(pushed["serial"].as_i64().unwrap() + 1);
        s
    });
    let v3 = lab.head(deployment::STATE_BUCKET, key);
    let t3 = t2 + chrono::Duration::minutes(10);
    let ev3 = object_created(key, &v3, t3);
    // The process kept the version it read last: write 3's previous version is not read from
    // S3 again (what follows holds for that warm path as for a cold one).
    let last = |a: &Adapters| a.last_state.lock().unwrap().as_ref().map(|l| (l.key.clone(), l.version_id.clone()));
    assert_eq!(last(&adapters), Some((key.to_string(), v2.version.clone())), "the process keeps the version it read last");
    let r = lab.invoke(&adapters, &ev3, t3 + chrono::Duration::seconds(5));
    assert_eq!(last(&adapters), Some((key.to_string(), v3.version.clone())));
    assert_eq!(r["states"][0]["version"], json!(v3.version), "{r}");
    assert_eq!(r["states"][0]["removed"], 1, "{r}");
    assert!(r["states"][0]["removed_entries"].as_u64().unwrap_or(0) >= 1, "{r}");
    let indexed3 = lab.indexed(key);
    assert!(!indexed3.iter().any(|a| a.starts_with("aws_efs_file_system.dicom_scratch")), "{indexed3:?}");
    assert!(indexed3.contains("aws_efs_file_system.shared_documents"), "{indexed3:?}");
    assert_eq!(indexed3.len(), indexed.iter().filter(|a| !a.starts_with("aws_efs_file_system.dicom_scratch")).count());
    // No lock information and no live lookup: a removal is reported (the detector's contract).
    let findings = lab.findings();
    // An unmanaged resource has no address any more: it is named by type and id, its former
    // address in the change.
    let fs_id = data["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "aws_efs_file_system" && r["name"] == "dicom_scratch")
        .and_then(|r| r["instances"][0]["attributes"]["id"].as_str())
        .expect("file system id")
        .to_string();
    assert_eq!(rules(&findings), BTreeSet::from([("drift.unmanaged".to_string(), format!("AWS::EFS::FileSystem {fs_id}"))]));
    let unmanaged = finding_of(&findings[0]);
    assert_eq!(unmanaged["resource"]["terraform_type"], "aws_efs_file_system", "{unmanaged}");
    assert!(
        unmanaged["changes"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["path"] == "address" && c["desired"] == "aws_efs_file_system.dicom_scratch")),
        "{unmanaged}"
    );
    let evidence = lab.evidence_keys();
    let again = lab.invoke(&adapters, &ev3, t3 + chrono::Duration::hours(12));
    assert_eq!(again["recorded"]["changed"], 0, "{again}");
    assert_eq!(lab.findings().len(), findings.len());
    let now_keys = lab.evidence_keys();
    bugs.check(now_keys == evidence, || {
        format!("a state write redelivered the next day wrote its evidence again: {:?}", now_keys.difference(&evidence).collect::<Vec<_>>())
    });
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0]["Subject"].as_str().unwrap_or("").contains(&fs_id), "{}", alerts[0]);

    // A late redelivery of write 2 (after write 3) must not bring the removed entries back.
    lab.invoke(&adapters, &ev2, t3 + chrono::Duration::hours(1));
    let late = lab.indexed(key);
    bugs.check(late == indexed3, || {
        format!(
            "a late redelivery of write 2 re-indexed it over write 3: back in the index: {:?}",
            late.difference(&indexed3).collect::<Vec<_>>()
        )
    });
    lab.assert_no_secrets();
    bugs.done();
}

// ---------------------------------------------------------------------------------------------
// 2. A pushed state indexed by the state watcher; AWS Config then records an encryption
//    regression on one of its resources.

#[test]
fn config_watcher_encryption_regression_on_a_pushed_state() {
    if terraform().is_none() {
        return;
    }
    let Some(lab) = Lab::start("ls_config_encryption") else { return };
    let key = "prod/data.tfstate";
    let dir = scratch("ls-config-encryption");
    lab.tf_init(&dir, key, "");
    let data = sample_state("data.tfstate");
    lab.tf_push(&dir, "data.tfstate", &data);
    let v = lab.head(deployment::STATE_BUCKET, key);
    let state_deps = lab.adapters(Function::StateWatcher, &[]);
    let t = at("2026-11-20T08:00:00Z");
    let r = lab.invoke(&state_deps, &object_created(key, &v, t), t);
    assert_eq!(r["states"][0]["version"], json!(v.version), "{r}");
    let address = "module.phi_storage[\"imaging\"].aws_kms_key.this";
    assert!(lab.indexed(key).contains(address), "{:?}", lab.indexed(key));

    // The Config item is about that key.
    let ev = event("events/config-watcher/encryption-regression/event.json");
    let key_id = data["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["module"] == "module.phi_storage[\"imaging\"]" && r["type"] == "aws_kms_key")
        .map(|r| r["instances"][0]["attributes"]["key_id"].clone())
        .expect("imaging key in the sample");
    assert_eq!(ev["detail"]["configurationItem"]["resourceId"], key_id);

    let adapters = lab.adapters(Function::ConfigWatcher, &[]);
    let first = lab.invoke(&adapters, &ev, now());
    assert_eq!(first["recorded"]["alerts"], 1, "{first}");
    let findings = lab.findings();
    assert_eq!(rules(&findings), BTreeSet::from([("encryption.regression".to_string(), address.to_string())]));
    let evidence = lab.evidence_keys();
    assert!(evidence.iter().any(|k| k.contains("/finding/")), "{evidence:?}");
    let second = lab.invoke(&adapters, &ev, now() + chrono::Duration::days(2));
    assert_eq!(second["recorded"]["changed"], 0, "{second}");
    assert_eq!(second["recorded"]["unchanged"], 1, "{second}");
    assert_eq!(lab.findings().len(), 1);
    assert_eq!(lab.evidence_keys(), evidence, "a redelivery wrote evidence");
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0]["Subject"].as_str().unwrap_or("").contains(address), "{}", alerts[0]);
    lab.assert_no_secrets();
}

// ---------------------------------------------------------------------------------------------
// 3. Locks: two real applies contend for the lock table; its stream goes to the lock watcher,
//    the failed PutItem (as CloudTrail logs it) to the trail watcher, the held lock to the sweeper.

#[test]
fn locks_of_two_concurrent_applies() {
    if terraform().is_none() {
        return;
    }
    let Some(lab) = Lab::start("ls_locks") else { return };
    let stream = lab.enable_lock_stream();
    let key = "prod/app.tfstate";
    let lock_id = format!("{}/{key}", deployment::STATE_BUCKET);
    let (dir_a, dir_b) = (scratch("ls-locks-a"), scratch("ls-locks-b"));
    lab.tf_init(
        &dir_a,
        key,
        "resource \"terraform_data\" \"slow\" {\n  input = \"a\"\n  provisioner \"local-exec\" {\n    command = \"sleep 30\"\n  }\n}\n",
    );
    lab.tf_init(&dir_b, key, "resource \"terraform_data\" \"other\" {\n  input = \"b\"\n}\n");

    // Apply A takes the lock and holds it while its provisioner sleeps.
    let mut a = Running(Some(
        lab.tf_command(&dir_a, &["apply", "-auto-approve", "-input=false", "-no-color"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start apply A"),
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let lock_item = loop {
        let got = lab
            .deployed
            .block_on(
                lab.deployed
                    .dynamodb
                    .get_item()
                    .table_name(deployment::LOCK_TABLE)
                    .key("LockID", aws_sdk_dynamodb::types::AttributeValue::S(lock_id.clone()))
                    .consistent_read(true)
                    .send(),
            )
            .expect("get lock item");
        if let Some(item) = got.item {
            break deployment::item_json(&item);
        }
        assert!(std::time::Instant::now() < deadline, "apply A never took the lock");
        if let Ok(Some(status)) = a.child().try_wait() {
            panic!("apply A ended ({status}) before its lock was seen");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let info: Value = serde_json::from_str(lock_item["Info"].as_str().expect("Info")).expect("Info JSON");
    let lock_uuid = info["ID"].as_str().expect("Info.ID").to_string();
    assert_eq!(info["Operation"], "OperationTypeApply");
    let created: DateTime<Utc> = info["Created"].as_str().expect("Created").parse().expect("Created time");

    // Apply B fails on the lock, as in real life.
    let b = lab.tf_command(&dir_b, &["apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s"]).output().expect("apply B");
    let b_err = String::from_utf8_lossy(&b.stderr);
    assert!(!b.status.success(), "apply B got the lock A holds");
    assert!(b_err.contains("Error acquiring the state lock"), "{b_err}");
    assert!(b_err.contains(&lock_uuid), "B's error names A's lock: {b_err}");

    // The stream so far (A's lock) → lock watcher, twice.
    let lock_deps = lab.adapters(Function::LockWatcher, &[]);
    let held_records = lab.stream_records(&stream);
    assert!(
        held_records.iter().any(|r| r["eventName"] == "INSERT" && r["dynamodb"]["Keys"]["LockID"]["S"] == json!(lock_id)),
        "{held_records:?}"
    );
    let batch = json!({"Records": held_records});
    for _ in 0..2 {
        let r = lab.invoke(&lock_deps, &batch, Utc::now());
        assert_eq!(r["batchItemFailures"], json!([]), "{r}");
        assert_eq!(r["invalid"], 0, "{r}");
        assert_eq!(r["findings"], json!([]), "taking a lock is no finding: {r}");
    }

    // B's failed PutItem as CloudTrail logs it → trail watcher: lock.contention naming A's lock.
    let mut trail = event("events/trail-watcher/lock-contention-dynamodb/event.json");
    let when = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    trail["time"] = json!(when);
    trail["detail"]["eventTime"] = json!(when);
    trail["detail"]["requestParameters"]["key"]["LockID"] = json!(lock_id);
    let trail_deps = lab.adapters(Function::TrailWatcher, &[]);
    let state_resource = format!("driftwatch::TerraformState s3://{lock_id}");
    for i in 0..2 {
        let r = lab.invoke(&trail_deps, &trail, Utc::now());
        assert_eq!(r["findings"].as_array().map(Vec::len), Some(1), "{r}");
        assert_eq!(r["findings"][0]["rule"], "lock.contention", "{r}");
        assert_eq!(r["recorded"]["alerts"], if i == 0 { 1 } else { 0 }, "{r}");
    }
    let contention = lab.findings();
    assert_eq!(addresses_of(&contention, "lock.contention"), BTreeSet::from([state_resource.clone()]));
    let f = finding_of(&contention[0]);
    let holder =
        f["changes"].as_array().and_then(|c| c.iter().find(|c| c["path"] == "holder")).map(|c| c["actual"].clone()).unwrap_or_default();
    assert_eq!(holder["id"], json!(lock_uuid), "the contention names the lock the lock watcher saw: {f}");

    // The sweeper, with apply locks stale after 1 minute, fires 5 minutes after A took the lock.
    let policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy").replace("apply = 120", "apply = 1");
    assert!(policy.contains("apply = 1,"), "{policy}");
    let sweeper = lab.adapters(Function::Sweeper, &[("DRIFTWATCH_POLICY", &policy)]);
    let mut tick = event("events/sweeper/stale-lock/event.json");
    let tick_time = created + chrono::Duration::minutes(5);
    tick["time"] = json!(tick_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    assert!(a.child().try_wait().expect("apply A").is_none(), "apply A ended before the sweep: make its sleep longer");
    let mut bugs = Bugs::default();
    let evidence_before_sweep = lab.evidence_keys();
    let swept = lab.try_invoke(&sweeper, &tick, Utc::now());
    if let Ok(swept) = &swept {
        assert!(swept["locks"]["held"].as_u64().unwrap_or(0) >= 1, "{swept}");
    }
    bugs.check(swept.is_ok(), || format!("the sweep failed: {}", swept.clone().unwrap_err()));
    // Each part of the sweep runs even when another fails: the stale lock is recorded.
    assert_eq!(addresses_of(&lab.findings(), "lock.stale"), BTreeSet::from([state_resource.clone()]), "{swept:?}");
    let stale = lab.findings().iter().map(finding_of).find(|f| f["rule"] == "lock.stale").expect("lock.stale");
    assert!(stale.to_string().contains(&lock_uuid), "the stale finding names the lock: {stale}");
    let after_sweep = lab.evidence_keys();
    assert!(after_sweep.len() > evidence_before_sweep.len());
    let again = lab.try_invoke(&sweeper, &tick, Utc::now());
    if let Ok(again) = &again {
        assert_eq!(again["recorded"]["changed"], 0, "{again}");
    }
    let now_keys = lab.evidence_keys();
    bugs.check(now_keys == after_sweep, || {
        format!("a redelivered sweep wrote evidence again: {:?}", now_keys.difference(&after_sweep).collect::<Vec<_>>())
    });

    // A finishes: its digest update and unlock → lock watcher, twice: a normal cycle.
    let out = a.0.take().expect("apply A").wait_with_output().expect("apply A");
    assert!(out.status.success(), "apply A failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let seen: BTreeSet<String> = batch["Records"].as_array().unwrap().iter().map(|r| r["dynamodb"]["SequenceNumber"].to_string()).collect();
    let rest: Vec<Value> =
        lab.stream_records(&stream).into_iter().filter(|r| !seen.contains(&r["dynamodb"]["SequenceNumber"].to_string())).collect();
    assert!(rest.iter().any(|r| r["eventName"] == "REMOVE" && r["dynamodb"]["Keys"]["LockID"]["S"] == json!(lock_id)), "{rest:?}");
    assert!(rest.iter().any(|r| r["dynamodb"]["Keys"]["LockID"]["S"] == json!(format!("{lock_id}-md5"))), "{rest:?}");
    let batch = json!({"Records": rest});
    for _ in 0..2 {
        let r = lab.invoke(&lock_deps, &batch, Utc::now());
        assert_eq!(r["batchItemFailures"], json!([]), "{r}");
        assert_eq!(r["findings"], json!([]), "a normal release is no finding: {r}");
    }

    let findings = lab.findings();
    assert_eq!(
        rules(&findings),
        BTreeSet::from([("lock.contention".to_string(), state_resource.clone()), ("lock.stale".to_string(), state_resource.clone())])
    );
    // One alert per resource per quiet period: the contention alerted; the stale lock on the
    // same state, minutes later, is recorded and held back (due).
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let held = findings.iter().find(|i| finding_of(i)["rule"] == "lock.stale").expect("stale");
    let record: Value = serde_json::from_str(held["record"].as_str().expect("record")).expect("record JSON");
    assert!(!record["alert_due"].is_null(), "the stale lock's alert is due: {record}");
    lab.assert_no_secrets();
    bugs.done();
}

// ---------------------------------------------------------------------------------------------
// 4. A console PutBucketEncryption (AES256 over aws:kms) on an indexed PHI bucket.

#[test]
fn trail_watcher_console_bucket_encryption_downgrade() {
    let Some(lab) = Lab::start("ls_trail_encryption") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let case = "events/trail-watcher/encryption-put-bucket-encryption-aes256";
    let ev = event(&format!("{case}/event.json"));
    let expected: BTreeSet<(String, String)> = event(&format!("{case}/expected.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["rule"].as_str().unwrap().to_string(), e["resource"].as_str().unwrap().to_string()))
        .collect();
    assert!(expected.iter().any(|(r, _)| r == "encryption.regression") && expected.iter().any(|(r, _)| r == "change.console"));
    let adapters = lab.adapters(Function::TrailWatcher, &[]);
    let first = lab.invoke(&adapters, &ev, now());
    assert_eq!(first["recorded"]["changed"], 2, "{first}");
    // One alert per resource per quiet period: the critical regression alerts, the console
    // change on the same bucket is held back (still due).
    assert_eq!(first["recorded"]["alerts"], 1, "{first}");
    let findings = lab.findings();
    assert_eq!(rules(&findings), expected);
    let evidence = lab.evidence_keys();
    assert_eq!(evidence.iter().filter(|k| k.contains("/finding/")).count(), 2, "{evidence:?}");
    let again = lab.invoke(&adapters, &ev, now() + chrono::Duration::minutes(5));
    assert_eq!((again["recorded"]["changed"].as_u64(), again["recorded"]["alerts"].as_u64()), (Some(0), Some(0)), "{again}");
    let within = lab.evidence_keys();
    // Redelivered after the quiet period: the held alert goes out; nothing else changes.
    let second = lab.invoke(&adapters, &ev, now() + chrono::Duration::days(2));
    assert_eq!(second["recorded"]["changed"], 1, "{second}");
    assert_eq!(second["recorded"]["unchanged"], 1, "{second}");
    assert_eq!(second["recorded"]["alerts"], 1, "{second}");
    assert_eq!(lab.findings().len(), 2);
    assert_eq!(within, evidence, "the redelivery within the quiet period wrote evidence");
    // The held finding is recorded again the day its alert went out; nothing else.
    let added: Vec<String> = lab.evidence_keys().difference(&evidence).cloned().collect();
    assert_eq!(added.len(), 1, "{added:?}");
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let mut alerted = BTreeSet::new();
    for a in &alerts {
        let m: Value = serde_json::from_str(a["Message"].as_str().expect("message")).expect("alert JSON");
        let (rule, address) = (m["rule"].as_str().unwrap_or("").to_string(), m["resource"]["address"].as_str().unwrap_or("").to_string());
        // SNS subjects hold 100 characters: a long address is shortened in the middle.
        let subject = a["Subject"].as_str().unwrap_or("");
        assert!(subject.contains(&rule) && subject.contains("encryption_configuration.this"), "{subject}");
        alerted.insert((rule, address));
    }
    assert_eq!(alerted, expected);
    lab.assert_no_secrets();
}

// ---------------------------------------------------------------------------------------------
// 5. Evidence is write-once: a version of an evidence object cannot be deleted.

#[test]
fn evidence_versions_cannot_be_deleted() {
    let Some(lab) = Lab::start("ls_evidence_lock") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let adapters = lab.adapters(Function::TrailWatcher, &[("DRIFTWATCH_EVIDENCE_RETENTION_DAYS", "1")]);
    let ev = event("events/trail-watcher/console-edit/event.json");
    lab.invoke(&adapters, &ev, now());
    let evidence = lab.evidence_keys();
    lab.invoke(&adapters, &ev, now() + chrono::Duration::hours(1));
    assert_eq!(lab.evidence_keys(), evidence, "a redelivery wrote evidence");
    // Two days later the held alert (the port the edit opened) goes out, recorded that day.
    lab.invoke(&adapters, &ev, now() + chrono::Duration::days(2));
    let evidence = lab.evidence_keys();
    let key = evidence.iter().find(|k| k.contains("/finding/")).expect("finding evidence").clone();
    let bytes = lab.object(deployment::EVIDENCE_BUCKET, &key, None);
    let s3 = &lab.deployed.s3;
    let head = lab.deployed.block_on(s3.head_object().bucket(deployment::EVIDENCE_BUCKET).key(&key).send()).expect("head evidence");
    let version = head.version_id().expect("evidence is versioned").to_string();
    assert_eq!(head.object_lock_mode().map(|m| m.as_str()), Some("COMPLIANCE"), "{head:?}");
    assert!(head.object_lock_retain_until_date().is_some(), "{head:?}");

    for bypass in [false, true] {
        let del = lab.deployed.block_on(
            s3.delete_object()
                .bucket(deployment::EVIDENCE_BUCKET)
                .key(&key)
                .version_id(&version)
                .bypass_governance_retention(bypass)
                .send(),
        );
        let err = del.expect_err("deleting a locked evidence version succeeded");
        let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&err).map(str::to_string);
        assert_eq!(code.as_deref(), Some("AccessDenied"), "{err:?}");
    }
    assert_eq!(lab.object(deployment::EVIDENCE_BUCKET, &key, Some(&version)), bytes, "the evidence changed");
    assert_eq!(lab.object(deployment::EVIDENCE_BUCKET, &key, None), bytes);
    assert_eq!(lab.evidence_keys(), evidence);
    // One alert per finding (the console edit, and the port it opened: held by the quiet
    // period, sent with the redelivery after it).
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    lab.assert_no_secrets();
}

// ---------------------------------------------------------------------------------------------
// 6. One undecodable record in a lock-watcher batch: input.invalid, the others processed.

#[test]
fn lock_watcher_batch_with_an_undecodable_record() {
    let Some(lab) = Lab::start("ls_lock_batch_invalid") else { return };
    let mut batch = event("events/lock-watcher/force-unlock-overwritten/event.json");
    let good = batch["Records"].as_array().unwrap().clone();
    let mut bad = good[0].clone();
    bad["eventID"] = json!("0badc0de0badc0de0badc0de0badc0de");
    bad["dynamodb"]["Keys"]["LockID"]["S"] = json!("stmarys-ehr-tfstate/prod/app.tfstate");
    bad["dynamodb"]["NewImage"]["LockID"]["S"] = json!("stmarys-ehr-tfstate/prod/app.tfstate");
    bad["dynamodb"]["NewImage"]["Info"]["S"] = json!("{\"ID\":\"truncated");
    bad["dynamodb"]["SequenceNumber"] = json!("999");
    batch["Records"] = json!([good[0].clone(), bad, good[1].clone()]);
    let adapters = lab.adapters(Function::LockWatcher, &[]);
    let first = lab.invoke(&adapters, &batch, now());
    assert_eq!(first["batchItemFailures"], json!([]), "{first}");
    assert_eq!(first["signals"], 3, "{first}");
    assert_eq!(first["invalid"], 1, "{first}");
    let found: BTreeSet<String> = first["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect();
    assert_eq!(found, BTreeSet::from(["input.invalid".to_string(), "lock.force_unlock".to_string()]), "{first}");
    let findings = lab.findings();
    assert_eq!(
        addresses_of(&findings, "lock.force_unlock"),
        BTreeSet::from(["driftwatch::TerraformState s3://stmarys-ehr-tfstate/prod/data.tfstate".to_string()])
    );
    assert_eq!(findings.len(), 2, "{:?}", rules(&findings));
    let evidence = lab.evidence_keys();
    let mut bugs = Bugs::default();
    let second = lab.invoke(&adapters, &batch, now() + chrono::Duration::hours(1));
    assert_eq!(second["batchItemFailures"], json!([]), "{second}");
    assert_eq!(lab.findings().len(), 2);
    let again = lab.evidence_keys();
    bugs.check(second["recorded"]["changed"] == 0 && again == evidence, || {
        let new: Vec<Value> = again
            .difference(&evidence)
            .map(|k| serde_json::from_slice(&lab.object(deployment::EVIDENCE_BUCKET, k, None)).unwrap())
            .collect();
        format!("the batch redelivered an hour later changed a finding and wrote evidence again: {second}; new evidence: {new:?}")
    });
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    let subjects: Vec<&str> = alerts.iter().map(|a| a["Subject"].as_str().unwrap_or("")).collect();
    assert_eq!(alerts.len(), 2, "{subjects:?}");
    lab.assert_no_secrets();
    bugs.done();
}

// ---------------------------------------------------------------------------------------------
// 7. A state write is checked against its own lock and its own digest (real terraform, the lock
//    table's stream): a late delivery of an older write is not compared with a newer write's
//    digest; a write outside Terraform — no lock, no digest — is `state.unlocked_write` and
//    `state.digest_mismatch` once it settles.

/// The S3 object's current version with its `LastModified` (the write's time, as S3 tells it).
fn written(lab: &Lab, key: &str) -> (ObjectVersion, DateTime<Utc>) {
    let h = lab
        .deployed
        .block_on(lab.deployed.s3.head_object().bucket(deployment::STATE_BUCKET).key(key).send())
        .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
    let t = h.last_modified().map(|t| DateTime::from_timestamp(t.secs(), 0).expect("time")).expect("LastModified");
    (lab.head(deployment::STATE_BUCKET, key), t)
}

#[test]
fn state_writes_are_checked_against_their_own_lock_and_digest() {
    if terraform().is_none() {
        return;
    }
    let Some(lab) = Lab::start("ls_state_integrity") else { return };
    let stream = lab.enable_lock_stream();
    let key = "prod/integrity.tfstate";
    let state_resource = format!("driftwatch::TerraformState s3://{}/{key}", deployment::STATE_BUCKET);
    let dir = scratch("ls-state-integrity");
    let apply = |input: &str| {
        std::fs::write(dir.join("data.tf"), format!("resource \"terraform_data\" \"marker\" {{\n  input = \"{input}\"\n}}\n"))
            .expect("data.tf");
        lab.tf(&dir, &["apply", "-auto-approve", "-input=false", "-no-color"]);
    };
    lab.tf_init(&dir, key, "");
    apply("one");
    let (v1, t1) = written(&lab, key);
    apply("two");
    let (v2, t2) = written(&lab, key);
    assert_ne!(v1.version, v2.version);

    // The lock watcher has seen both lock cycles and both digests.
    let locks = lab.adapters(Function::LockWatcher, &[]);
    let records = lab.stream_records(&stream);
    let md5_item = json!(format!("{}/{key}-md5", deployment::STATE_BUCKET));
    assert!(records.iter().filter(|r| r["dynamodb"]["Keys"]["LockID"]["S"] == md5_item).count() >= 2, "{records:?}");
    let r = lab.invoke(&locks, &json!({"Records": records}), t2 + chrono::Duration::seconds(2));
    assert_eq!(r["findings"], json!([]), "two applies under lock are no finding: {r}");

    // Write 2 is delivered in time; write 1's delivery comes late, after write 2 (a retry, or
    // EventBridge's own lag): it is checked against *its* digest, not write 2's.
    let watcher = lab.adapters(Function::StateWatcher, &[]);
    let sweeper = lab.adapters(Function::Sweeper, &[]);
    let r = lab.invoke(&watcher, &object_created(key, &v2, t2), t2 + chrono::Duration::seconds(5));
    assert_eq!(r["findings"], json!([]), "{r}");
    let r = lab.invoke(&watcher, &object_created(key, &v1, t1), t2 + chrono::Duration::seconds(30));
    assert_eq!(r["findings"], json!([]), "write 1 compared with write 2's digest: {r}");
    let mut tick = event("events/sweeper/stale-lock/event.json");
    tick["time"] = json!((t2 + chrono::Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let swept = lab.try_invoke(&sweeper, &tick, t2 + chrono::Duration::minutes(10));
    let settled = swept.as_ref().map(|s| s["settled"].clone()).unwrap_or_default();
    assert_eq!(settled["waiting"], 0, "{swept:?}");
    assert!(lab.findings().is_empty(), "after settling, the two applies are findings: {:?}", rules(&lab.findings()));

    // Write 3: the state object overwritten outside Terraform (as `aws s3 cp` would): no lock
    // taken, no digest written.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut state: Value = serde_json::from_slice(&lab.object(deployment::STATE_BUCKET, key, Some(&v2.version))).expect("state");
    state["serial"] = json!(state["serial"].as_i64().expect("serial") + 1);
    state["outputs"] = json!({"note": {"value": "edited by hand", "type": "string"}});
    lab.deployed
        .block_on(
            lab.deployed
                .s3
                .put_object()
                .bucket(deployment::STATE_BUCKET)
                .key(key)
                .body(serde_json::to_vec(&state).expect("state bytes").into())
                .send(),
        )
        .expect("put the state object by hand");
    let (v3, t3) = written(&lab, key);
    let seen: BTreeSet<String> = lab.stream_records(&stream).iter().map(|r| r["dynamodb"]["SequenceNumber"].to_string()).collect();
    let r = lab.invoke(&watcher, &object_created(key, &v3, t3), t3 + chrono::Duration::seconds(5));
    assert_eq!(r["findings"], json!([]), "a write is not judged before its lock and digest evidence can have arrived: {r}");
    let new_records: Vec<Value> =
        lab.stream_records(&stream).into_iter().filter(|r| !seen.contains(&r["dynamodb"]["SequenceNumber"].to_string())).collect();
    assert!(new_records.is_empty(), "a write outside Terraform touches no lock: {new_records:?}");

    // Before the settle time nothing is decided; after it, both rules fire, once.
    tick["time"] = json!((t3 + chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let early = lab.try_invoke(&sweeper, &tick, t3 + chrono::Duration::minutes(1));
    assert_eq!(early.as_ref().map(|s| s["settled"]["waiting"].clone()).unwrap_or_default(), 1, "{early:?}");
    assert!(lab.findings().is_empty(), "{:?}", rules(&lab.findings()));
    tick["time"] = json!((t3 + chrono::Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    for _ in 0..2 {
        let swept = lab.try_invoke(&sweeper, &tick, t3 + chrono::Duration::minutes(10));
        assert!(swept.as_ref().is_ok_and(|s| s["settled"]["waiting"] == 0), "{swept:?}");
    }
    assert_eq!(
        rules(&lab.findings()),
        BTreeSet::from([
            ("state.digest_mismatch".to_string(), state_resource.clone()),
            ("state.unlocked_write".to_string(), state_resource)
        ])
    );
    let mismatch = lab.findings().iter().map(finding_of).find(|f| f["rule"] == "state.digest_mismatch").expect("digest mismatch");
    let md5_3 = lab.deployed.block_on(async {
        let o = lab.deployed.s3.get_object().bucket(deployment::STATE_BUCKET).key(key).version_id(&v3.version).send().await.expect("get");
        o.body.collect().await.expect("body").into_bytes()
    });
    let md5_3 = format!("{:x}", <md5::Md5 as md5::Digest>::digest(&md5_3));
    assert!(mismatch.to_string().contains(&md5_3), "the finding names the object's MD5: {mismatch}");
    // Both are about the one state: one alert in its quiet period, the other held back.
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    lab.assert_no_secrets();
}

// ---------------------------------------------------------------------------------------------
// 8. Deleting a state version: a noncurrent version deleted (a lifecycle rule expiring old
//    versions) changes nothing; the latest version deleted brings the one before back into the
//    index; a delete marker retires the state.

/// The EventBridge S3 `Object Deleted` event of `version` (a permanent deletion), or of a
/// delete marker (`version: None`, the marker's id in `marker`).
fn object_deleted(key: &str, version: Option<&str>, marker: Option<&str>, time: DateTime<Utc>) -> Value {
    let mut ev =
        object_created(key, &ObjectVersion { version: version.or(marker).unwrap_or_default().into(), size: 0, etag: String::new() }, time);
    ev["detail-type"] = json!("Object Deleted");
    ev["id"] = json!(format!("state-delete-{}", version.or(marker).unwrap_or("-")));
    ev["detail"]["deletion-type"] = json!(if marker.is_some() { "Delete Marker Created" } else { "Permanently Deleted" });
    ev["detail"]["reason"] = json!("DeleteObject");
    ev
}

#[test]
fn deleting_an_old_state_version_keeps_the_index() {
    if terraform().is_none() {
        return;
    }
    let Some(lab) = Lab::start("ls_state_delete") else { return };
    let key = "prod/data.tfstate";
    let dir = scratch("ls-state-delete");
    lab.tf_init(&dir, key, "");
    let data = sample_state("data.tfstate");
    lab.tf_push(&dir, "v1.tfstate", &data);
    let v1 = lab.head(deployment::STATE_BUCKET, key);
    let pushed: Value = serde_json::from_slice(&lab.object(deployment::STATE_BUCKET, key, Some(&v1.version))).expect("state");
    let mut smaller = without_resource(&data, "aws_efs_file_system", "dicom_scratch");
    smaller["lineage"] = pushed["lineage"].clone();
    smaller["serial"] = json!(pushed["serial"].as_i64().unwrap() + 1);
    let watcher = lab.adapters(Function::StateWatcher, &[]);
    let t = at("2026-11-20T09:00:00Z");
    lab.invoke(&watcher, &object_created(key, &v1, t), t);
    let full = lab.indexed(key);
    lab.tf_push(&dir, "v2.tfstate", &smaller);
    let v2 = lab.head(deployment::STATE_BUCKET, key);
    lab.invoke(&watcher, &object_created(key, &v2, t + chrono::Duration::minutes(1)), t + chrono::Duration::minutes(1));
    let indexed = lab.indexed(key);
    assert!(!indexed.is_empty() && indexed.len() < full.len(), "{} then {}", full.len(), indexed.len());

    // A lifecycle rule expires the noncurrent version 1: the state stands as it is.
    let s3 = &lab.deployed.s3;
    lab.deployed.block_on(s3.delete_object().bucket(deployment::STATE_BUCKET).key(key).version_id(&v1.version).send()).expect("delete v1");
    let t3 = t + chrono::Duration::days(30);
    let r = lab.invoke(&watcher, &object_deleted(key, Some(&v1.version), None, t3), t3);
    assert_eq!(r["states"][0]["stands"], json!(true), "{r}");
    assert_eq!(lab.indexed(key), indexed, "deleting a noncurrent version changed the index");

    // Version 2 (the latest) deleted for good: nothing older is left, the state is gone.
    lab.deployed.block_on(s3.delete_object().bucket(deployment::STATE_BUCKET).key(key).version_id(&v2.version).send()).expect("delete v2");
    let r = lab.invoke(&watcher, &object_deleted(key, Some(&v2.version), None, t3 + chrono::Duration::minutes(1)), t3);
    assert_eq!(r["states"][0]["deleted"], json!(true), "{r}");
    assert!(lab.indexed(key).is_empty(), "{:?}", lab.indexed(key));

    // Two versions again (written as the S3 backend writes them: Terraform itself now refuses
    // a key whose digest names a deleted object); the latest deleted: the one before stands
    // again and is indexed.
    let put = |state: &Value| -> ObjectVersion {
        let body = serde_json::to_vec(state).expect("state bytes");
        lab.deployed.block_on(s3.put_object().bucket(deployment::STATE_BUCKET).key(key).body(body.into()).send()).expect("put state");
        lab.head(deployment::STATE_BUCKET, key)
    };
    let v3 = put(&{
        let mut s = data.clone();
        s["lineage"] = pushed["lineage"].clone();
        s["serial"] = json!(pushed["serial"].as_i64().unwrap() + 5);
        s
    });
    lab.invoke(&watcher, &object_created(key, &v3, t3 + chrono::Duration::hours(1)), t3 + chrono::Duration::hours(1));
    assert_eq!(lab.indexed(key), full);
    let v4 = put(&{
        let mut s = smaller.clone();
        s["serial"] = json!(pushed["serial"].as_i64().unwrap() + 7);
        s
    });
    lab.invoke(&watcher, &object_created(key, &v4, t3 + chrono::Duration::hours(2)), t3 + chrono::Duration::hours(2));
    assert_eq!(lab.indexed(key), indexed);
    lab.deployed.block_on(s3.delete_object().bucket(deployment::STATE_BUCKET).key(key).version_id(&v4.version).send()).expect("delete v4");
    let r = lab.invoke(
        &watcher,
        &object_deleted(key, Some(&v4.version), None, t3 + chrono::Duration::hours(3)),
        t3 + chrono::Duration::hours(3),
    );
    assert_eq!(r["states"][0]["version"], json!(v3.version), "{r}");
    assert_eq!(lab.indexed(key), full, "the version that stands again is indexed");

    // A delete marker (`aws s3 rm` on a versioned bucket): the state is retired.
    let marker = lab.deployed.block_on(s3.delete_object().bucket(deployment::STATE_BUCKET).key(key).send()).expect("delete marker");
    let marker_id = marker.version_id().unwrap_or("marker").to_string();
    let r = lab.invoke(
        &watcher,
        &object_deleted(key, None, Some(&marker_id), t3 + chrono::Duration::hours(4)),
        t3 + chrono::Duration::hours(4),
    );
    assert_eq!(r["states"][0]["deleted"], json!(true), "{r}");
    assert!(lab.indexed(key).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 9. A state bucket whose versioning is suspended: every write replaces the `null` version, and
//    each write is still processed once (told apart by ETag and sequencer).

#[test]
fn every_write_of_an_unversioned_state_is_processed_once() {
    let Some(lab) = Lab::start("ls_state_unversioned") else { return };
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let s3 = &lab.deployed.s3;
    let off = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    lab.deployed
        .block_on(s3.put_bucket_versioning().bucket(deployment::STATE_BUCKET).versioning_configuration(off).send())
        .expect("suspend versioning");
    let key = "prod/unversioned.tfstate";
    let watcher = lab.adapters(Function::StateWatcher, &[]);
    let data = sample_state("data.tfstate");
    let smaller = without_resource(&data, "aws_efs_file_system", "dicom_scratch");
    let mut counts = Vec::new();
    for (i, state) in [&data, &smaller].into_iter().enumerate() {
        let mut state = state.clone();
        state["serial"] = json!(10 + i);
        lab.deployed
            .block_on(
                s3.put_object().bucket(deployment::STATE_BUCKET).key(key).body(serde_json::to_vec(&state).expect("bytes").into()).send(),
            )
            .expect("put state");
        let head = lab.deployed.block_on(s3.head_object().bucket(deployment::STATE_BUCKET).key(key).send()).expect("head");
        let v = ObjectVersion {
            version: head.version_id().unwrap_or_default().to_string(),
            size: head.content_length().unwrap_or_default(),
            etag: head.e_tag().unwrap_or_default().trim_matches('"').to_string(),
        };
        assert!(v.version.is_empty() || v.version == "null", "versioning is suspended: {}", v.version);
        let t = at("2026-11-20T10:00:00Z") + chrono::Duration::minutes(i as i64);
        let mut ev = object_created(key, &v, t);
        if v.version.is_empty() {
            ev["detail"]["object"].as_object_mut().expect("object").remove("version-id");
        }
        ev["detail"]["object"]["sequencer"] = json!(format!("0065A1B2C3D4E5F60{i}"));
        for _ in 0..2 {
            let r = lab.invoke(&watcher, &ev, t + chrono::Duration::seconds(5));
            assert_eq!(r["invalid"], 0, "{r}");
        }
        counts.push(lab.indexed(key).len());
    }
    assert!(counts[0] > 0, "the first write indexed: {counts:?}");
    assert_eq!(counts[1], counts[0] - 1, "the second write (one resource fewer) processed: {counts:?}");
    assert!(!lab.indexed(key).iter().any(|a| a.starts_with("aws_efs_file_system.dicom_scratch")));
    let writes = lab.evidence_of("state-write");
    assert_eq!(writes.len(), 2, "one state-write record per write, redeliveries aside: {writes:?}");
}

// ---------------------------------------------------------------------------------------------
// 10. An oversized Config item whose delivery bucket the watcher cannot read (a deployment
//     without it): recorded once as input.invalid naming the reason, not retried into the DLQ.

#[test]
fn an_unreadable_oversized_config_item_is_recorded_once_not_retried() {
    let Some(lab) = Lab::start("ls_config_oversized_missing") else { return };
    let watcher = lab.adapters(Function::ConfigWatcher, &[]);
    // The sample notification names the delivery bucket stmarys-ehr-config-…, which this
    // deployment does not have.
    let ev = event("events/config-watcher/negative-oversized/event.json");
    let now = at("2026-11-20T10:02:05Z");
    let mut alerts = 0;
    for i in 0..2 {
        let r = lab.try_invoke(&watcher, &ev, now + chrono::Duration::minutes(i)).unwrap_or_else(|e| panic!("retried (delivery {i}): {e}"));
        assert_eq!(r["invalid"], 1, "{r}");
        assert_eq!(r["findings"].as_array().map(Vec::len), Some(1), "{r}");
        assert_eq!(r["findings"][0]["rule"], "input.invalid", "{r}");
        alerts += r["recorded"]["alerts"].as_u64().unwrap_or(0);
    }
    assert_eq!(alerts, 1, "one alert for two deliveries");
    let f = lab.findings().iter().map(finding_of).next().expect("the finding");
    let title = f["title"].as_str().unwrap_or_default();
    assert!(title.contains("s3://stmarys-ehr-config-123456789012/") && title.contains("NoSuchBucket"), "the reason is named: {title}");
}

/// The same for a CloudTrail log file that is gone (or unreadable) when the trail watcher reads
/// it: the file is input.invalid once, the other files of the notification are still read.
#[test]
fn a_missing_cloudtrail_log_file_is_recorded_once_not_retried() {
    let Some(lab) = Lab::start("ls_trail_missing_log") else { return };
    let watcher = lab.adapters(Function::TrailWatcher, &[]);
    let key = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_20261120T1000Z_gone.json.gz";
    let ev = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-20T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "no-such-trail-bucket", "arn": "arn:aws:s3:::no-such-trail-bucket"},
               "object": {"key": key, "size": 1234}}
    }]});
    for i in 0..2 {
        let r = lab.try_invoke(&watcher, &ev, at("2026-11-20T10:00:05Z")).unwrap_or_else(|e| panic!("retried (delivery {i}): {e}"));
        assert_eq!(r["invalid"], 1, "{r}");
        assert_eq!(r["findings"][0]["rule"], "input.invalid", "{r}");
        assert_eq!(r["recorded"]["alerts"], if i == 0 { 1 } else { 0 }, "{r}");
    }
    let f = lab.findings().iter().map(finding_of).next().expect("the finding");
    assert!(f["title"].as_str().unwrap_or_default().contains("NoSuchBucket"), "{f}");
}

// ---------------------------------------------------------------------------------------------
// 11. `use_lockfile = true` (Terraform 1.10+; DynamoDB locking is deprecated): two real applies
//     contend for the `.tflock` object and the lock is force-unlocked. The lock file's S3
//     notifications reach the lock watcher, which reads the created version's body, so the
//     ledger knows the holder; the CloudTrail data events of the failed and the foreign
//     `PutObject`/`DeleteObject` reach the trail watcher.

/// The S3 notification of a `.tflock` object created (`version`) or deleted.
fn lock_file_notification(key: &str, created: bool, version: &str, time: DateTime<Utc>) -> Value {
    let mut ev = event("events/lock-watcher/negative-tflock-cycle/event.json");
    let mut rec = ev["Records"][if created { 0 } else { 1 }].clone();
    rec["eventTime"] = json!(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    rec["s3"]["object"]["key"] = json!(key);
    rec["s3"]["object"]["versionId"] = json!(version);
    ev["Records"] = json!([rec]);
    ev
}

/// A CloudTrail S3 data event on `key` by `principal` (an assumed-role ARN), shaped like
/// `events/trail-watcher/lock-contention-tflock-412`; `error`: the failed call's code.
fn s3_data_event(name: &str, key: &str, role: &str, session: &str, error: Option<&str>, time: DateTime<Utc>) -> Value {
    let mut ev = event("events/trail-watcher/lock-contention-tflock-412/event.json");
    let when = time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ev["time"] = json!(when);
    ev["id"] = json!(format!("{name}-{key}-{when}"));
    let d = &mut ev["detail"];
    d["eventTime"] = json!(when);
    d["eventName"] = json!(name);
    d["eventID"] = json!(format!("{name}-{session}-{when}"));
    d["requestParameters"]["key"] = json!(key);
    d["userIdentity"]["arn"] = json!(format!("arn:aws:sts::123456789012:assumed-role/{role}/{session}"));
    d["userIdentity"]["principalId"] = json!(format!("AROA{role}:{session}"));
    d["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(format!("arn:aws:iam::123456789012:role/{role}"));
    d["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] = json!(role);
    match error {
        Some(code) => d["errorCode"] = json!(code),
        None => {
            d.as_object_mut().expect("detail").remove("errorCode");
            d.as_object_mut().expect("detail").remove("errorMessage");
        }
    }
    ev
}

#[test]
fn lock_files_of_real_terraform_reach_the_ledger_and_name_the_holder() {
    if terraform().is_none() {
        return;
    }
    let Some(lab) = Lab::start("ls_lockfile") else { return };
    let key = "prod/lockfile.tfstate";
    let lock_key = format!("{key}.tflock");
    let lock_id = format!("{}/{key}", deployment::STATE_BUCKET);
    let state_resource = format!("driftwatch::TerraformState s3://{lock_id}");
    let (dir_a, dir_b) = (scratch("ls-lockfile-a"), scratch("ls-lockfile-b"));
    let slow =
        "resource \"terraform_data\" \"slow\" {\n  input = \"a\"\n  provisioner \"local-exec\" {\n    command = \"sleep 20\"\n  }\n}\n";
    lab.tf_init_locking(&dir_a, key, slow, "use_lockfile = true");
    lab.tf_init_locking(&dir_b, key, "resource \"terraform_data\" \"other\" {\n  input = \"b\"\n}\n", "use_lockfile = true");

    // Apply A takes the lock file and holds it while its provisioner sleeps.
    let mut a = Running(Some(
        lab.tf_command(&dir_a, &["apply", "-auto-approve", "-input=false", "-no-color"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start apply A"),
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let s3 = &lab.deployed.s3;
    let held = loop {
        if let Ok(h) = lab.deployed.block_on(s3.head_object().bucket(deployment::STATE_BUCKET).key(&lock_key).send()) {
            break h;
        }
        assert!(std::time::Instant::now() < deadline, "apply A never wrote its lock file");
        if let Ok(Some(status)) = a.child().try_wait() {
            panic!("apply A ended ({status}) before its lock file was seen");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let version = held.version_id().expect("versioned state bucket").to_string();
    let info: Value = serde_json::from_slice(&lab.object(deployment::STATE_BUCKET, &lock_key, Some(&version))).expect("lock file JSON");
    let lock_uuid = info["ID"].as_str().expect("Info.ID").to_string();
    let created: DateTime<Utc> = info["Created"].as_str().expect("Created").parse().expect("Created time");

    // The pipeline's PutObject (CloudTrail) and the lock file's notification (S3), twice each.
    let trail = lab.adapters(Function::TrailWatcher, &[]);
    let locks = lab.adapters(Function::LockWatcher, &[]);
    let put = s3_data_event("PutObject", &lock_key, "terraform-ci", "GitHubActions", None, created);
    for _ in 0..2 {
        let r = lab.invoke(&trail, &put, created + chrono::Duration::seconds(1));
        assert_eq!(r["findings"], json!([]), "the pipeline taking its lock is no finding: {r}");
        let r = lab.invoke(&locks, &lock_file_notification(&lock_key, true, &version, created), created + chrono::Duration::seconds(1));
        assert_eq!(r["invalid"], 0, "{r}");
        assert_eq!(r["findings"], json!([]), "taking a lock is no finding: {r}");
    }
    let ledger: Vec<Value> = lab
        .deployed
        .items(deployment::FINDINGS_TABLE)
        .into_iter()
        .filter(|i| i["fingerprint"].as_str() == Some(&format!("ledger#lock#{lock_id}")))
        .collect();
    assert_eq!(ledger.len(), 1, "the ledger holds the lock");
    let remembered: Value = serde_json::from_str(ledger[0]["value"].as_str().expect("value")).expect("held lock JSON");
    assert_eq!(remembered["info"]["ID"], json!(lock_uuid), "the ledger knows the holder from the lock file's body: {remembered}");

    // Apply B fails on the lock file, as in real life (a 412 on its conditional PutObject).
    let b = lab.tf_command(&dir_b, &["apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s"]).output().expect("apply B");
    let b_err = String::from_utf8_lossy(&b.stderr);
    assert!(!b.status.success(), "apply B got the lock A holds");
    assert!(b_err.contains("Error acquiring the state lock"), "{b_err}");
    let waited = created + chrono::Duration::seconds(5);
    let r = lab.invoke(
        &trail,
        &s3_data_event("PutObject", &lock_key, "PlatformAdmin", "raj.patel", Some("PreconditionFailed"), waited),
        waited,
    );
    assert_eq!(r["findings"][0]["rule"], "lock.contention", "{r}");
    let contention = lab.findings().iter().map(finding_of).find(|f| f["rule"] == "lock.contention").expect("contention");
    assert!(contention.to_string().contains(&lock_uuid), "the contention names A's lock, read from its lock file: {contention}");

    // An admin force-unlocks A's lock from B's directory while A still runs.
    lab.tf(&dir_b, &["force-unlock", "-force", &lock_uuid]);
    let gone = lab.deployed.block_on(s3.head_object().bucket(deployment::STATE_BUCKET).key(&lock_key).send());
    assert!(gone.is_err(), "force-unlock deleted the lock file");
    let unlocked = created + chrono::Duration::seconds(10);
    let r = lab.invoke(&locks, &lock_file_notification(&lock_key, false, "delete-marker", unlocked), unlocked);
    assert_eq!(r["invalid"], 0, "{r}");
    let still_held = lab
        .deployed
        .items(deployment::FINDINGS_TABLE)
        .into_iter()
        .any(|i| i["fingerprint"].as_str() == Some(&format!("ledger#lock#{lock_id}")));
    assert!(!still_held, "the deleted lock file released the lock in the ledger");
    let r = lab.invoke(&trail, &s3_data_event("DeleteObject", &lock_key, "PlatformAdmin", "raj.patel", None, unlocked), unlocked);
    assert_eq!(r["findings"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["findings"][0]["rule"], "lock.force_unlock", "{r}");
    let out = a.0.take().expect("apply A").wait_with_output().expect("apply A");
    let a_err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() || a_err.is_empty() || a_err.contains("lock"), "{a_err}");
    let rules = rules(&lab.findings());
    assert!(rules.contains(&("lock.contention".to_string(), state_resource.clone())), "{rules:?}");
    assert!(rules.contains(&("lock.force_unlock".to_string(), state_resource)), "{rules:?}");
}

// ---------------------------------------------------------------------------------------------
// 12. Posing as the pipeline: an admin assumes their own role under the pipeline's session name
//     (`aws sts assume-role --role-arn …/PlatformAdmin --role-session-name GitHubActions`) and
//     opens the app security group. The session name is the caller's choice: the change is
//     out of band, as the same call by the pipeline's role is not.

#[test]
fn a_spoofed_pipeline_session_name_does_not_silence_a_change() {
    let Some(lab) = Lab::start("ls_spoofed_session") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let adapters = lab.adapters(Function::TrailWatcher, &[]);
    let genuine = event("events/trail-watcher/negative-pipeline-change/event.json");
    let r = lab.invoke(&adapters, &genuine, now());
    assert_eq!(r["findings"], json!([]), "the pipeline's own change is no finding: {r}");
    let mut spoofed = genuine.clone();
    let who = &mut spoofed["detail"]["userIdentity"];
    who["arn"] = json!("arn:aws:sts::123456789012:assumed-role/PlatformAdmin/GitHubActions");
    who["principalId"] = json!("AROAR7E5PLATADMIN001:GitHubActions");
    who["sessionContext"]["sessionIssuer"]["arn"] = json!("arn:aws:iam::123456789012:role/PlatformAdmin");
    who["sessionContext"]["sessionIssuer"]["principalId"] = json!("AROAR7E5PLATADMIN001");
    who["sessionContext"]["sessionIssuer"]["userName"] = json!("PlatformAdmin");
    spoofed["detail"]["eventID"] = json!("spoofed-session-1");
    spoofed["id"] = json!("spoofed-session-1");
    let r = lab.invoke(&adapters, &spoofed, now());
    let found: Vec<String> = r["findings"].as_array().into_iter().flatten().map(|f| f["rule"].as_str().unwrap_or("").to_string()).collect();
    assert!(found.iter().any(|r| r.starts_with("change.")), "the spoofed session silenced the change: {r}");
    let f = lab.findings().iter().map(finding_of).find(|f| f["rule"].as_str().is_some_and(|r| r.starts_with("change."))).expect("change");
    assert_eq!(f["actor"]["principal_arn"], "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/GitHubActions", "{f}");
}

// ---------------------------------------------------------------------------------------------
// 13. An alert held back by its resource's quiet period goes out from the sweeper once the
//     period is over, though the finding is not observed again; once.

#[test]
fn the_sweeper_publishes_an_alert_held_by_the_quiet_period() {
    let Some(lab) = Lab::start("ls_due_alerts") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let trail = lab.adapters(Function::TrailWatcher, &[]);
    let ev = event("events/trail-watcher/encryption-put-bucket-encryption-aes256/event.json");
    let r = lab.invoke(&trail, &ev, now());
    assert_eq!((r["recorded"]["changed"].as_u64(), r["recorded"]["alerts"].as_u64()), (Some(2), Some(1)), "one held back: {r}");
    let first = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(first.len(), 1);
    let subject = |a: &Value| a["Subject"].as_str().unwrap_or_default().to_string();
    let held_rule = if subject(&first[0]).contains("change.console") { "encryption.regression" } else { "change.console" };
    let sweeper = lab.adapters(Function::Sweeper, &[]);
    let tick = |t: DateTime<Utc>| {
        let mut e = event("events/sweeper/stale-lock/event.json");
        e["time"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        e
    };
    let early = lab.try_invoke(&sweeper, &tick(now() + chrono::Duration::minutes(5)), now() + chrono::Duration::minutes(5));
    assert_eq!(early.as_ref().map(|s| s["alerts"].clone()).unwrap_or_default(), json!({"sent": 0, "waiting": 1}), "{early:?}");
    let later = lab.try_invoke(&sweeper, &tick(now() + chrono::Duration::minutes(20)), now() + chrono::Duration::minutes(20));
    assert_eq!(later.as_ref().map(|s| s["alerts"].clone()).unwrap_or_default(), json!({"sent": 1, "waiting": 0}), "{later:?}");
    let sent = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(subject(&sent[0]).contains(held_rule), "the held finding's alert: {}", sent[0]);
    let again = lab.try_invoke(&sweeper, &tick(now() + chrono::Duration::minutes(40)), now() + chrono::Duration::minutes(40));
    assert_eq!(again.as_ref().map(|s| s["alerts"].clone()).unwrap_or_default(), json!({"sent": 0, "waiting": 0}), "{again:?}");
    assert!(lab.deployed.drain(&lab.deployed.alerts_queue).is_empty());
}

/// A write delivered late, after its state was deleted (a delete marker is the latest
/// version): checked, but not indexed — a delete marker is not "current".
#[test]
fn a_late_write_of_a_deleted_state_is_not_indexed_again() {
    if terraform().is_none() {
        return;
    }
    let Some(lab) = Lab::start("ls_late_write_deleted") else { return };
    let key = "prod/gone.tfstate";
    let dir = scratch("ls-late-write-deleted");
    lab.tf_init(&dir, key, "");
    lab.tf_push(&dir, "v1.tfstate", &sample_state("data.tfstate"));
    let v1 = lab.head(deployment::STATE_BUCKET, key);
    let s3 = &lab.deployed.s3;
    let marker = lab.deployed.block_on(s3.delete_object().bucket(deployment::STATE_BUCKET).key(key).send()).expect("delete marker");
    let watcher = lab.adapters(Function::StateWatcher, &[]);
    let t = at("2026-11-20T09:00:00Z");
    let r = lab.invoke(&watcher, &object_deleted(key, None, marker.version_id(), t + chrono::Duration::minutes(1)), t);
    assert_eq!(r["states"][0]["deleted"], json!(true), "{r}");
    // The write's own event arrives after the deletion.
    let r = lab.invoke(&watcher, &object_created(key, &v1, t), t + chrono::Duration::minutes(2));
    assert_eq!(r["states"][0]["indexed"], json!(0), "{r}");
    assert!(lab.indexed(key).is_empty(), "the deleted state came back into the index: {:?}", lab.indexed(key));
}

/// Issue 12 item 1: a console edit is undone (as `terraform apply` would: AWS Config then
/// records the resource as the state has it); the finding resolves, stays resolved on
/// redelivery, shows in the report with its time to resolve, and a month later the same edit
/// reopens it with a new alert.
#[test]
fn a_console_edit_undone_resolves_and_its_recurrence_alerts_again() {
    let Some(lab) = Lab::start("ls_resolve_reopen") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let trail = lab.adapters(Function::TrailWatcher, &[]);
    let config = lab.adapters(Function::ConfigWatcher, &[]);
    // The console edit, on the security group the no-drift Config item describes.
    let edit_at = |t: &str| -> Value {
        let text = std::fs::read_to_string(workspace_root().join("events/trail-watcher/console-edit/event.json")).expect("event");
        let text = text.replace("sg-0b553a59028de3b25", "sg-0a5c66cbda00f555b").replace("2026-11-20T09:14:02Z", t);
        serde_json::from_str(&text).expect("event JSON")
    };
    // (It opens SSH to the internet too: control.network_exposure on the same group, its alert
    // held by the group's quiet period.)
    let r = lab.invoke(&trail, &edit_at("2026-11-20T09:14:02Z"), at("2026-11-20T09:30:00Z"));
    assert_eq!((r["recorded"]["changed"].as_u64(), r["recorded"]["alerts"].as_u64()), (Some(2), Some(1)), "{r}");
    let edit = lab.findings().into_iter().find(|i| i["rule"] == "change.console").expect("change.console recorded");
    assert_eq!(edit["status"], "open");
    assert_eq!(lab.deployed.drain(&lab.deployed.alerts_queue).len(), 1);

    // The fix: AWS Config records the group as desired, captured after the edit.
    let mut fixed = event("events/config-watcher/negative-no-drift/event.json");
    fixed["detail"]["configurationItem"]["configurationItemCaptureTime"] = json!("2026-11-20T09:40:00.000Z");
    fixed["detail"]["configurationItem"]["configurationStateId"] = json!("1795160000000");
    fixed["time"] = json!("2026-11-20T09:41:00Z");
    // A Config item captured before the edit (delivered late) resolves nothing.
    let mut before = fixed.clone();
    before["detail"]["configurationItem"]["configurationItemCaptureTime"] = json!("2026-11-20T09:00:00.000Z");
    before["detail"]["configurationItem"]["configurationStateId"] = json!("1795150000000");
    let r = lab.invoke(&config, &before, at("2026-11-20T09:42:00Z"));
    assert_eq!(r["recorded"]["resolved"], json!(0), "{r}");
    // The fix closes both: the edit, and the port open to the internet.
    let r = lab.invoke(&config, &fixed, at("2026-11-20T09:45:00Z"));
    assert_eq!(r["recorded"]["resolved"], json!(2), "{r}");
    let evidence = lab.evidence_keys();
    let record = |i: &Value| -> Value { serde_json::from_str(i["record"].as_str().unwrap()).unwrap() };
    let resolved = lab.findings().into_iter().find(|i| i["fingerprint"] == edit["fingerprint"]).expect("record");
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert_eq!(record(&resolved)["resolution"], "live_matches");
    // Redelivered: nothing changes.
    let r = lab.invoke(&config, &fixed, at("2026-11-20T09:50:00Z"));
    assert_eq!(r["recorded"]["resolved"], json!(0), "{r}");
    assert_eq!(lab.evidence_keys(), evidence, "a redelivered resolution wrote evidence");
    assert!(lab.deployed.drain(&lab.deployed.alerts_queue).is_empty(), "a resolution does not alert");

    // The week's report shows it resolved, 26 minutes after it was seen (0.4 h).
    let reporter = lab.adapters(Function::Reporter, &[]);
    lab.invoke(&reporter, &event("events/reporter/scheduled/event.json"), at("2026-11-23T06:00:00Z"));
    let key = lab.deployed.keys(deployment::REPORTS_BUCKET, "").into_iter().find(|k| k.ends_with(".json")).expect("report.json");
    let report: Value = serde_json::from_slice(&lab.deployed.get_object(deployment::REPORTS_BUCKET, &key)).expect("report JSON");
    let ttr = &report["time_to_resolve"];
    let item = ttr["items"].as_array().expect("items").iter().find(|i| i["fingerprint"] == edit["fingerprint"]).cloned();
    assert_eq!(item.as_ref().map(|i| i["hours"].clone()), Some(json!(0.4)), "{ttr}");

    // A month later the same edit recurs: the finding reopens and alerts.
    let r = lab.invoke(&trail, &edit_at("2026-12-20T09:14:02Z"), at("2026-12-20T09:30:00Z"));
    assert_eq!(r["recorded"]["alerts"], json!(1), "{r}");
    let reopened = lab.findings().into_iter().find(|i| i["fingerprint"] == edit["fingerprint"]).expect("record");
    assert_eq!(reopened["status"], "open");
    assert_eq!(record(&reopened)["reopened"], json!(1));
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
}

/// Issue 13 item 2: a deployment keeps the redaction salt in Secrets Manager, not in the
/// functions' variables (readable by anyone who may read a function's configuration); the
/// cold start reads it from there, and digests are the salt's.
#[test]
fn the_redaction_salt_is_read_from_secrets_manager() {
    let Some(lab) = Lab::start("ls_salt_secret") else { return };
    let salt = "a-salt-only-secrets-manager-knows-7f3a";
    lab.deployed.create_secret("driftwatch/redaction-salt", salt);
    let mut vars: Vec<(String, String)> = deployment::function_vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    vars.push(("DRIFTWATCH_REDACTION_SALT_SECRET".into(), "driftwatch/redaction-salt".into()));
    let env = Env::from_vars(Function::TrailWatcher, |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("env");
    assert!(!format!("{env:?}").contains(salt));
    let adapters = lab.deployed.block_on(Adapters::connect_with(env, &lab.moto.sdk_config())).expect("cold start");
    let probe = json!("hunter2");
    assert_eq!(adapters.redactor.redact(&probe), driftwatch_core::Redactor::new(salt.as_bytes()).redact(&probe));
    // A secret that does not exist stops the cold start, naming it.
    vars.retain(|(k, _)| k != "DRIFTWATCH_REDACTION_SALT_SECRET");
    vars.push(("DRIFTWATCH_REDACTION_SALT_SECRET".into(), "driftwatch/no-such-salt".into()));
    let env = Env::from_vars(Function::TrailWatcher, |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("env");
    let err = lab.deployed.block_on(Adapters::connect_with(env, &lab.moto.sdk_config())).err().expect("no such secret").to_string();
    assert!(err.contains("driftwatch/no-such-salt"), "{err}");
}

/// Issue 13 items 3 and 4, as an attacker with console access would try them: an admin's write
/// to the exceptions table (to suppress findings quietly), disabling one of the watcher's
/// EventBridge rules and unsubscribing the security channel from its alerts are each recorded
/// and alerted, with the actor; none can be excepted.
#[test]
fn an_admin_write_to_the_exceptions_table_and_a_disabled_rule_are_caught() {
    let Some(lab) = Lab::start("ls_self_defence") else { return };
    let trail = lab.adapters(Function::TrailWatcher, &[]);
    for (case, rule, severity) in [
        ("events/trail-watcher/exception-changed/event.json", "exception.changed", "high"),
        ("events/trail-watcher/watcher-tampered-rule-disabled/event.json", "watcher.tampered", "critical"),
    ] {
        let r = lab.invoke(&trail, &event(case), now());
        assert_eq!((r["recorded"]["changed"].as_u64(), r["recorded"]["alerts"].as_u64()), (Some(1), Some(1)), "{case}: {r}");
        let item = lab.findings().into_iter().find(|i| i["rule"] == rule).unwrap_or_else(|| panic!("{rule} recorded"));
        let rec: Value = serde_json::from_str(item["record"].as_str().unwrap()).unwrap();
        assert_eq!(rec["finding"]["severity"], severity, "{rec}");
        assert_eq!(rec["finding"]["actor"]["principal_arn"], "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/raj.patel", "{rec}");
        // Redelivered: nothing new.
        let again = lab.invoke(&trail, &event(case), now() + chrono::Duration::minutes(1));
        assert_eq!(again["recorded"]["alerts"], json!(0), "{again}");
    }
    // Unsubscribing the security channel from the alerts topic.
    let mut unsubscribe = event("events/trail-watcher/watcher-tampered-rule-disabled/event.json");
    unsubscribe["source"] = json!("aws.sns");
    unsubscribe["detail"]["eventSource"] = json!("sns.amazonaws.com");
    unsubscribe["detail"]["eventName"] = json!("Unsubscribe");
    unsubscribe["detail"]["eventID"] = json!("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
    unsubscribe["detail"]["requestParameters"] =
        json!({"subscriptionArn": "arn:aws:sns:us-east-1:123456789012:driftwatch-alerts:7d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6"});
    let r = lab.invoke(&trail, &unsubscribe, now() + chrono::Duration::minutes(20));
    assert_eq!(r["recorded"]["alerts"], json!(1), "{r}");
    assert!(
        lab.findings()
            .iter()
            .any(|i| i["rule"] == "watcher.tampered"
                && i["record"].as_str().unwrap().contains("Unsubscribe on driftwatch's SNS subscription")),
        "the unsubscription is recorded"
    );
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 3, "{alerts:?}");
}

/// Issue 13 item 5: the sweeper signs digests with an asymmetric KMS key whose private half
/// never leaves KMS; the chain verifies offline with the key's public half alone, and a chain
/// re-signed by someone who read the old Ed25519 secret does not.
#[test]
fn digests_are_signed_inside_kms_and_verify_offline_with_its_public_key() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    use driftwatch_core::evidence::{self, EvidenceStore, MemoryStore, PublicKey, Signer25519};
    let Some(lab) = Lab::start("ls_kms_signing") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let trail = lab.adapters(Function::TrailWatcher, &[]);
    lab.invoke(&trail, &event("events/trail-watcher/console-edit/event.json"), now());
    let kms = driftwatch_aws::kms_client(&lab.moto.sdk_config());
    let key = lab
        .deployed
        .block_on(kms.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify).send())
        .expect("create the signing key")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_string();
    let der = lab.deployed.block_on(kms.get_public_key().key_id(&key).send()).expect("public key").public_key().expect("der").clone();
    let public = PublicKey::from_der(der.as_ref()).expect("a P-256 key");

    let sweeper = lab.adapters(Function::Sweeper, &[("DRIFTWATCH_SIGNING_KMS_KEY", &key)]);
    let mut tick = event("events/sweeper/stale-lock/event.json");
    let at = now() + chrono::Duration::minutes(30);
    tick["time"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let r = lab.invoke(&sweeper, &tick, at);
    assert_eq!(r["sealed"]["written"], json!(true), "{r}");

    // Offline: every object of the evidence bucket, checked with the public key alone.
    // (Keys relative to the store's prefix, as the functions see them.)
    let prefix = format!("{}/", deployment::EVIDENCE_PREFIX);
    let copy = |lab: &Lab, digests: bool| {
        let mut store = MemoryStore::default();
        for k in lab.evidence_keys().into_iter().filter(|k| digests || !k.contains("digests/")) {
            let bytes = lab.deployed.get_object(deployment::EVIDENCE_BUCKET, &k);
            store.put_new(k.strip_prefix(&prefix).unwrap_or(&k), &bytes).expect("copy");
        }
        store
    };
    let store = copy(&lab, true);
    let digest = lab.evidence_keys().into_iter().find(|k| k.contains("digests/")).expect("a digest");
    let d: Value = serde_json::from_slice(&lab.deployed.get_object(deployment::EVIDENCE_BUCKET, &digest)).expect("digest JSON");
    assert_eq!(d["signature_algorithm"], "ECDSA_SHA_256");
    let report = evidence::verify(&store, "", Some(&public), None, None).expect("verify");
    assert!(report.ok() && report.records_verified > 0, "{:?}", report);
    // Someone holding the Ed25519 key of the secret re-signs the same records: refused.
    let mut forged = copy(&lab, false);
    let admin = Signer25519::from_text(deployment::SIGNING_KEY_HEX).expect("the secret's key");
    evidence::seal(&mut forged, "", &admin, at).expect("re-sign");
    assert!(evidence::verify(&forged, "", None, None, None).expect("verify").ok(), "the forged chain is self-consistent");
    let report = evidence::verify(&forged, "", Some(&public), None, None).expect("verify");
    assert!(!report.ok(), "a chain re-signed with another key must not verify");
}

/// Issue 13 item 4: each watcher answers its heartbeat (`{"driftwatch": "heartbeat"}`, the
/// constant input of its schedule in `infra/`) by reading its ledger, and records nothing: not an
/// `input.invalid`, no evidence, no alert.
#[test]
fn every_watcher_answers_its_heartbeat_and_records_nothing() {
    let Some(lab) = Lab::start("ls_heartbeat") else { return };
    for function in [Function::StateWatcher, Function::TrailWatcher, Function::ConfigWatcher, Function::LockWatcher, Function::Sweeper] {
        let adapters = lab.adapters(function, &[]);
        let r = lab.invoke(&adapters, &json!({"driftwatch": "heartbeat"}), now());
        assert_eq!(r, json!({"heartbeat": true, "function": function.name()}), "{function}");
    }
    assert!(lab.findings().is_empty(), "{:?}", lab.findings());
    assert!(lab.evidence_keys().is_empty());
    assert!(lab.deployed.drain(&lab.deployed.alerts_queue).is_empty());
}

/// Issue 13 item 4: the heartbeat goes through the whole pipeline. Each sweeper run tags the
/// heartbeat topic (on moto: the tag is there); the call reaches the trail-watcher as a
/// CloudTrail event and the config-watcher as the topic's configuration item, which note it
/// (no finding: the sweeper's own tag is not a change). A watcher that has seen none for
/// `silent_after_minutes` is `watcher.silent`, critical, alerted once however many runs see the
/// silence, and resolved by the first run after a heartbeat gets through again; redelivering a
/// heartbeat changes nothing.
#[test]
fn a_watcher_that_stops_seeing_heartbeats_is_silent_until_one_gets_through() {
    let Some(lab) = Lab::start("ls_heartbeat_pipeline") else { return };
    let topic = lab.deployed.block_on(lab.deployed.sns.create_topic().name("driftwatch-heartbeat").send()).expect("topic");
    let topic_arn = topic.topic_arn().expect("arn").to_string();
    let policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy")
        + "heartbeat_topic = \"driftwatch-heartbeat\"\nheartbeat_observers = [\"trail-watcher\", \"config-watcher\"]\nsilent_after_minutes = 45\n";
    let vars = [("DRIFTWATCH_POLICY", policy.as_str()), ("DRIFTWATCH_HEARTBEAT_TOPIC_ARN", topic_arn.as_str())];
    let sweeper = lab.adapters(Function::Sweeper, &vars);
    let trail = lab.adapters(Function::TrailWatcher, &vars);
    let config = lab.adapters(Function::ConfigWatcher, &vars);
    let t0 = now();
    let at = |m: i64| t0 + chrono::Duration::minutes(m);
    let sweep = |m: i64| {
        let mut tick = event("events/sweeper/stale-lock/event.json");
        tick["time"] = json!(at(m).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        lab.invoke(&sweeper, &tick, at(m))
    };
    // The tag the last run set, as moto holds it.
    let tag = || -> String {
        let tags = lab.deployed.block_on(lab.deployed.sns.list_tags_for_resource().resource_arn(&topic_arn).send()).expect("tags");
        tags.tags().iter().find(|t| t.key() == "driftwatch:heartbeat").map(|t| t.value().to_string()).expect("the heartbeat tag")
    };
    // The sweeper's TagResource as CloudTrail delivers it through EventBridge.
    let call = |value: &str, m: i64| {
        let mut e = event("events/trail-watcher/watcher-tampered-rule-disabled/event.json");
        e["source"] = json!("aws.sns");
        e["time"] = json!(at(m).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let d = &mut e["detail"];
        d["eventSource"] = json!("sns.amazonaws.com");
        d["eventName"] = json!("TagResource");
        d["eventTime"] = json!(at(m).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        d["eventID"] = json!(format!("0d6c0a52-5a4e-4f0e-9b1a-{value:0>12}"));
        d["userIdentity"]["arn"] = json!("arn:aws:sts::123456789012:assumed-role/driftwatch-sweeper/driftwatch-sweeper");
        d["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!("arn:aws:iam::123456789012:role/driftwatch-sweeper");
        d["userAgent"] = json!("aws-sdk-rust/1.0");
        d["requestParameters"] = json!({"resourceArn": topic_arn, "tags": [{"key": "driftwatch:heartbeat", "value": value}]});
        e
    };
    // The topic's configuration item after the tag, as AWS Config delivers it.
    let item = |value: &str, m: i64| {
        let time = at(m).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        json!({
            "version": "0", "id": format!("c0f1a2b3-0000-4000-8000-{value:0>12}"), "detail-type": "Config Configuration Item Change",
            "source": "aws.config", "account": "123456789012", "time": time, "region": "us-east-1", "resources": [topic_arn],
            "detail": {
                "recordVersion": "1.3", "messageType": "ConfigurationItemChangeNotification", "notificationCreationTime": time,
                "configurationItemDiff": {"changeType": "UPDATE", "changedProperties": {}},
                "configurationItem": {
                    "configurationItemVersion": "1.3", "configurationItemCaptureTime": time, "configurationStateId": format!("{value}000"),
                    "configurationItemStatus": "OK", "awsAccountId": "123456789012", "awsRegion": "us-east-1",
                    "resourceType": "AWS::SNS::Topic", "resourceId": topic_arn, "resourceName": "driftwatch-heartbeat", "ARN": topic_arn,
                    "configuration": {"TopicArn": topic_arn}, "supplementaryConfiguration": {},
                    "tags": {"driftwatch:heartbeat": value}, "relationships": [], "relatedEvents": []
                }
            }
        })
    };
    let silent = |r: &Value| -> Vec<String> {
        r["heartbeat"]["heard"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["silent"] == json!(true))
            .map(|h| h["observer"].as_str().unwrap().to_string())
            .collect()
    };
    let silent_alerts =
        || lab.deployed.drain(&lab.deployed.alerts_queue).iter().filter(|m| m.to_string().contains("watcher.silent")).count();

    // Run 1 sends the first heartbeat; both watchers see it and record nothing.
    let r = sweep(0);
    assert_eq!(r["heartbeat"]["findings"], json!([]), "{r}");
    let first = tag();
    assert_eq!(first, t0.timestamp().to_string(), "the tag is the run's time in epoch seconds");
    let seen = lab.invoke(&trail, &call(&first, 1), at(1));
    assert_eq!((seen["findings"].clone(), seen["recorded"]["evidence"].clone()), (json!([]), json!(0)), "{seen}");
    let seen = lab.invoke(&config, &item(&first, 2), at(2));
    assert_eq!(seen["findings"], json!([]), "{seen}");
    // The trail-watcher hears nothing more (its rule disabled, say); Config keeps delivering.
    for m in [15, 30] {
        let r = sweep(m);
        assert!(silent(&r).is_empty(), "{m} min: {r}");
        lab.invoke(&config, &item(&tag(), m + 2), at(m + 2));
    }
    let r = sweep(45);
    assert_eq!(silent(&r), ["trail-watcher"], "45 minutes after the last heartbeat it saw: {r}");
    lab.invoke(&config, &item(&tag(), 47), at(47));
    let open: Vec<Value> = lab.findings().into_iter().filter(|i| i["rule"] == "watcher.silent").collect();
    assert_eq!(open.len(), 1, "{open:?}");
    let rec: Value = serde_json::from_str(open[0]["record"].as_str().unwrap()).unwrap();
    assert_eq!(
        (rec["finding"]["severity"].as_str(), rec["finding"]["resource"]["id"].as_str()),
        (Some("critical"), Some("trail-watcher")),
        "{rec}"
    );
    assert_eq!(silent_alerts(), 1);
    // Still silent an hour on: the same finding, no second alert.
    let r = sweep(60);
    assert_eq!(silent(&r), ["trail-watcher"], "{r}");
    assert_eq!(lab.findings().into_iter().filter(|i| i["rule"] == "watcher.silent").count(), 1);
    assert_eq!(silent_alerts(), 0, "one alert per silence");
    // The path is restored: the 60-minute heartbeat gets through, twice (a redelivery).
    let restored = tag();
    for _ in 0..2 {
        let seen = lab.invoke(&trail, &call(&restored, 61), at(61));
        assert_eq!(seen["findings"], json!([]), "{seen}");
    }
    lab.invoke(&config, &item(&restored, 62), at(62));
    let r = sweep(75);
    assert!(silent(&r).is_empty(), "{r}");
    let item_now = lab.findings().into_iter().find(|i| i["rule"] == "watcher.silent").expect("kept");
    let rec: Value = serde_json::from_str(item_now["record"].as_str().unwrap()).unwrap();
    assert_eq!(rec["status"], "resolved", "{rec}");
    assert_eq!(silent_alerts(), 0);
    // The config-watcher was never silent.
    assert!(!lab.findings().iter().any(|i| i["record"].as_str().unwrap().contains("config-watcher has")));
}

/// Issue 14: one weakened safeguard seen by two signals is one finding and one alert. S3
/// versioning suspended on a bucket in no state: the CloudTrail call reaches the trail-watcher
/// (`control.integrity_weakened`, alerted, kept as evidence); the bucket's configuration item
/// then reaches the config-watcher (the same finding: no second alert); a later item with
/// versioning enabled again resolves it.
#[test]
fn a_weakened_control_seen_by_cloudtrail_and_config_is_one_finding_and_one_alert() {
    let Some(lab) = Lab::start("ls_control_signals") else { return };
    let trail = lab.adapters(Function::TrailWatcher, &[]);
    let config = lab.adapters(Function::ConfigWatcher, &[]);
    let call = event("events/trail-watcher/control-s3-versioning-suspended/event.json");
    let r = lab.invoke(&trail, &call, now());
    assert_eq!((r["recorded"]["changed"].as_u64(), r["recorded"]["alerts"].as_u64()), (Some(1), Some(1)), "{r}");
    let item = event("events/config-watcher/control-s3-versioning-suspended/event.json");
    let r = lab.invoke(&config, &item, now());
    assert_eq!(r["findings"][0]["rule"], "control.integrity_weakened", "{r}");
    assert_eq!(r["recorded"]["alerts"], json!(0), "the same finding: {r}");
    let controls: Vec<Value> = lab.findings().into_iter().filter(|i| i["rule"] == "control.integrity_weakened").collect();
    assert_eq!(controls.len(), 1, "{controls:?}");
    let rec: Value = serde_json::from_str(controls[0]["record"].as_str().unwrap()).unwrap();
    assert_eq!(rec["finding"]["resource"]["id"], "stmarys-research-exports", "{rec}");
    assert!(rec["finding"]["controls"].as_array().unwrap().iter().any(|c| c == "HIPAA 164.312(c)(1)"), "{rec}");
    // Versioning enabled again, as AWS Config records it an hour later.
    let mut restored = event("events/config-watcher/control-s3-versioning-suspended-negative/event.json");
    let ci = &mut restored["detail"]["configurationItem"];
    ci["configurationItemCaptureTime"] = json!("2026-11-20T12:30:00.000Z");
    ci["configurationStateId"] = json!(1795170000000u64);
    restored["time"] = json!("2026-11-20T12:30:00Z");
    let r = lab.invoke(&config, &restored, now() + chrono::Duration::hours(1));
    assert_eq!(r["recorded"]["resolved"], json!(1), "{r}");
    let rec = lab.findings().into_iter().find(|i| i["rule"] == "control.integrity_weakened").expect("kept");
    let rec: Value = serde_json::from_str(rec["record"].as_str().unwrap()).unwrap();
    assert_eq!(rec["status"], "resolved", "{rec}");
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.iter().filter(|m| m.to_string().contains("control.integrity_weakened")).count(), 1, "{alerts:?}");
}

// ---------------------------------------------------------------------------------------------
// An Organization: three accounts, two regions, one watcher.

/// The network sample state as `account`'s in `region` (every ARN, owner and region rewritten,
/// a lineage of its own), indexed under `key` of the state bucket.
fn index_network_state_of(lab: &Lab, account: &str, region: &str, key: &str, lineage: &str) -> usize {
    use driftwatch_core::state::{self, StateLocation};
    let text = std::fs::read_to_string(workspace_root().join("samples/states/network.tfstate")).expect("sample state");
    let mut v: Value = serde_json::from_str(&text.replace("123456789012", account).replace("us-east-1", region)).expect("state JSON");
    v["lineage"] = Value::String(lineage.into());
    let catalog = driftwatch_core::Catalog::builtin();
    let redactor = driftwatch_core::Redactor::new(deployment::REDACTION_SALT.as_bytes());
    let parsed = state::parse_state(v.to_string().as_bytes(), StateLocation::s3(deployment::STATE_BUCKET, key), &catalog, &redactor)
        .expect("parse state");
    let index = driftwatch_core::index::ManagedIndex::build([parsed], &catalog);
    let entries = index.entries().to_vec();
    let table =
        driftwatch_aws::IndexTable::new(lab.deployed.dynamodb.clone(), deployment::INDEX_TABLE, driftwatch_aws::TableOptions::default());
    lab.deployed.block_on(table.put_state_entries(&entries[0].state, &entries, 0)).expect("put index entries")
}

/// The sample console edit (SSH opened on the application security group) as made in
/// `account` and `region`, as a member account's rule forwards it to the watcher's bus.
fn console_edit_in(account: &str, region: &str, id: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("events/trail-watcher/console-edit/event.json")).expect("event");
    let mut ev: Value = serde_json::from_str(&text.replace("123456789012", account).replace("us-east-1", region)).expect("event JSON");
    ev["id"] = Value::String(id.into());
    ev["detail"]["eventID"] = Value::String(format!("{id}-trail"));
    ev
}

#[test]
fn an_organizations_console_edits_reach_the_watcher_each_in_its_account() {
    const PROD: &str = "111122223333";
    const PROD_EU: &str = "777788889999";
    const SANDBOX: &str = "444455556666";
    let Some(lab) = Lab::start("organization") else { return };
    // The same network, with the same security group id, in three accounts' states: two in
    // us-east-1, one in eu-west-1.
    for (account, region, key, lineage) in [
        (PROD, "us-east-1", "prod/network.tfstate", "0e4c3a1d-0000-4000-8000-00000000a001"),
        (SANDBOX, "us-east-1", "sandbox/network.tfstate", "0e4c3a1d-0000-4000-8000-00000000a002"),
        (PROD_EU, "eu-west-1", "prod-eu/network.tfstate", "0e4c3a1d-0000-4000-8000-00000000a003"),
    ] {
        assert!(index_network_state_of(&lab, account, region, key, lineage) > 0);
    }
    let mut policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy");
    policy.push_str(&format!(
        "\n[units.Workloads]\n[units.Sandbox]\n[accounts.\"{PROD}\"]\nname = \"ehr-prod\"\nou = \"Workloads\"\n\
         [accounts.\"{PROD_EU}\"]\nname = \"ehr-prod-eu\"\nou = \"Workloads\"\n[accounts.\"{SANDBOX}\"]\nname = \"sandbox\"\nou = \"Sandbox\"\n"
    ));
    let adapters = lab.adapters(Function::TrailWatcher, &[("DRIFTWATCH_POLICY", policy.as_str())]);
    for (account, region, id) in
        [(SANDBOX, "us-east-1", "5d0c1e2f-0000-4000-8000-0000000000b1"), (PROD_EU, "eu-west-1", "5d0c1e2f-0000-4000-8000-0000000000b2")]
    {
        let ev = console_edit_in(account, region, id);
        let out = lab.invoke(&adapters, &ev, now());
        assert_eq!(out["recorded"]["changed"], 2, "{account}: {out}");
        // Delivered again: nothing new.
        let again = lab.invoke(&adapters, &ev, now());
        assert_eq!((again["recorded"]["changed"].as_u64(), again["recorded"]["alerts"].as_u64()), (Some(0), Some(0)), "{again}");
    }
    // Each console edit is its own account's: the group of that account's state, its account
    // and region, the person who made it; one group id in two accounts is two findings each.
    let console: Vec<Value> = lab
        .findings()
        .iter()
        .map(|i| serde_json::from_str::<Value>(i["record"].as_str().unwrap()).unwrap()["finding"].clone())
        .filter(|f| f["rule"] == "change.console")
        .collect();
    assert_eq!(console.len(), 2, "{console:#?}");
    let seen: BTreeSet<(String, String, String, String)> = console
        .iter()
        .map(|f| {
            let r = &f["resource"];
            assert_eq!(r["address"], "aws_security_group.app");
            assert!(f["actor"]["principal_arn"].as_str().unwrap().ends_with("/jane.doe@stmarys.org"), "{f}");
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            (s(&r["account"]), s(&r["region"]), s(&r["state"]["key"]), s(&f["fingerprint"]))
        })
        .collect();
    let places: Vec<(&str, &str, &str)> = seen.iter().map(|(a, r, k, _)| (a.as_str(), r.as_str(), k.as_str())).collect();
    assert_eq!(places, [(SANDBOX, "us-east-1", "sandbox/network.tfstate"), (PROD_EU, "eu-west-1", "prod-eu/network.tfstate")]);
    assert_eq!(seen.iter().map(|(.., fp)| fp).collect::<BTreeSet<_>>().len(), 2);
    let network: Vec<Value> = lab
        .findings()
        .iter()
        .map(|i| serde_json::from_str::<Value>(i["record"].as_str().unwrap()).unwrap()["finding"].clone())
        .filter(|f| f["rule"] == "control.network_exposure")
        .collect();
    assert_eq!(network.len(), 2, "the same group opened in two accounts: {network:#?}");
    // The alerts name the account as the policy does, and carry its unit for filter policies.
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue);
    assert_eq!(alerts.len(), 2, "one per resource (the quiet period holds the control finding): {alerts:?}");
    let units: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|a| {
            let attr = |k: &str| a["MessageAttributes"][k]["Value"].as_str().unwrap_or("").to_string();
            (attr("account_name"), attr("ou"))
        })
        .collect();
    assert_eq!(units, BTreeSet::from([("ehr-prod-eu".into(), "Workloads".into()), ("sandbox".into(), "Sandbox".into())]));

    // The production account changed nothing, but its member module's hourly heartbeat from
    // us-east-1 is forwarded: it is heard from too (twice in the day, one record).
    let mut beat = event("events/trail-watcher/member-heartbeat/event.json");
    beat["account"] = json!(PROD);
    beat["region"] = json!("us-east-1");
    beat["resources"] = json!([format!("arn:aws:events:us-east-1:{PROD}:rule/driftwatch-forward-heartbeat")]);
    for hour in ["09", "10"] {
        beat["time"] = json!(format!("2026-11-20T{hour}:00:00Z"));
        let out = lab.invoke(&adapters, &beat, now());
        assert_eq!((out["invalid"].as_u64(), out["findings"].as_array().map(Vec::len)), (Some(0), Some(0)), "{out}");
    }

    // What the watcher heard from: one `heard` record per account, region and day, however
    // often the events were delivered, filed under the events' day.
    let heard: BTreeSet<(String, String, String)> = lab
        .evidence_keys()
        .into_iter()
        .filter(|k| k.contains("/heard/"))
        .map(|k| {
            let body: Value = serde_json::from_slice(&lab.deployed.get_object(deployment::EVIDENCE_BUCKET, &k)).expect("record");
            assert!(k.starts_with(&format!("{}/2026/11/20/heard/", deployment::EVIDENCE_PREFIX)), "{k}");
            let s = |p: &str| body["body"][p].as_str().unwrap_or("").to_string();
            (s("account"), s("region"), s("day"))
        })
        .collect();
    let day = "2026-11-20".to_string();
    assert_eq!(
        heard,
        BTreeSet::from([
            (PROD.into(), "us-east-1".into(), day.clone()),
            (PROD_EU.into(), "eu-west-1".into(), day.clone()),
            (SANDBOX.into(), "us-east-1".into(), day.clone())
        ])
    );
    assert_eq!(lab.evidence_keys().iter().filter(|k| k.contains("/heard/")).count(), 3, "one record each, deliveries aside");

    // The week's report: the organisation's coverage against the policy, which expects every
    // account in both regions (the sandbox in us-east-1 only).
    let org = format!("{policy}\n[organization]\nregions = [\"us-east-1\", \"eu-west-1\"]\n")
        .replace("ou = \"Sandbox\"\n", "ou = \"Sandbox\"\nregions = [\"us-east-1\"]\n");
    let reporter = lab.adapters(Function::Reporter, &[("DRIFTWATCH_POLICY", org.as_str())]);
    let mut scheduled = event("events/reporter/scheduled/event.json");
    scheduled["detail"] = json!({"from": "2026-11-16T00:00:00Z", "to": "2026-11-23T00:00:00Z"});
    lab.invoke(&reporter, &scheduled, at("2026-11-23T06:00:00Z"));
    let key = lab.deployed.keys(deployment::REPORTS_BUCKET, "").into_iter().find(|k| k.ends_with(".json")).expect("report.json");
    let report: Value = serde_json::from_slice(&lab.deployed.get_object(deployment::REPORTS_BUCKET, &key)).expect("report JSON");
    let c = &report["org_coverage"];
    assert_eq!((c["days"].as_u64(), c["accounts_heard"].as_u64(), c["accounts"].as_u64()), (Some(7), Some(3), Some(3)), "{c}");
    assert_eq!((c["expected_heard"].as_u64(), c["expected"].as_u64()), (Some(3), Some(5)), "{c}");
    assert_eq!(
        c["silent"],
        json!([format!("{PROD} eu-west-1"), format!("{PROD_EU} us-east-1")]),
        "every expected account-region no event came from"
    );
    let html_key = key.replace("report.json", "report.html");
    let html = String::from_utf8(lab.deployed.get_object(deployment::REPORTS_BUCKET, &html_key)).expect("report.html");
    assert!(html.contains("<section id=\"org-coverage\">") && html.contains("3 of 3 account(s) heard from"), "the HTML says so");
}

// ---------------------------------------------------------------------------------------------
// Backfill (issue 16): `driftwatch backfill` lists an organisation trail's log files of a
// period and sends their S3 notifications to the backfill queue; the trail watcher reads the
// queue's batches (as its event source mapping delivers them; moto runs no Lambda, so the test
// receives and hands them over) exactly as it reads a file just delivered.

/// A gzipped CloudTrail log file holding the `detail` (the CloudTrail record) of these events.
fn log_file(events: &[&str]) -> Vec<u8> {
    use std::io::Write;
    let records: Vec<Value> = events.iter().map(|e| event(&format!("events/trail-watcher/{e}/event.json"))["detail"].clone()).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&json!({ "Records": records })).expect("log JSON")).expect("gzip");
    gz.finish().expect("gzip")
}

/// What SQS hands the function: the queue's messages as an `SqsEvent`.
fn sqs_batch(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
                "messageAttributes": {}, "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[test]
fn backfill_replays_a_period_of_an_organisation_trail_through_the_trail_watcher() {
    let Some(lab) = Lab::start("ls_backfill") else { return };
    assert!(lab.deployed.seed_index() > 0);
    let (s3, sqs) = (&lab.deployed.s3, &lab.deployed.sqs);
    const TRAIL: &str = "org-trail-logs";
    lab.deployed.block_on(s3.create_bucket().bucket(TRAIL).send()).expect("trail bucket");
    let dir = |account: &str, region: &str, day: &str| format!("cloudtrail/AWSLogs/o-a1b2c3d4e5/{account}/CloudTrail/{region}/{day}/");
    let name = |account: &str, region: &str, stamp: &str| format!("{account}_CloudTrail_{region}_{stamp}_Ab12Cd34.json.gz");
    let acct = deployment::ACCOUNT;
    // In the period [2026-11-19, 2026-11-21): the console edit, and a bucket's encryption
    // deleted (delivered the next day, in another region's folder). Outside it: a key's
    // rotation turned off (delivered on the 21st) and an unencrypted volume (on the 18th).
    let files = [
        (dir(acct, "us-east-1", "2026/11/19"), name(acct, "us-east-1", "20261119T2355Z"), vec!["console-edit"]),
        (dir(acct, "eu-west-1", "2026/11/20"), name(acct, "eu-west-1", "20261120T1005Z"), vec!["encryption-delete-bucket-encryption"]),
        (dir(acct, "us-east-1", "2026/11/21"), name(acct, "us-east-1", "20261121T0005Z"), vec!["encryption-kms-disable-key-rotation"]),
        (dir(acct, "us-east-1", "2026/11/18"), name(acct, "us-east-1", "20261118T2359Z"), vec!["encryption-ebs-create-volume-unencrypted"]),
    ];
    for (d, n, events) in &files {
        lab.deployed.put_object(TRAIL, &format!("{d}{n}"), log_file(events));
    }
    // Not log files: a digest, and another account's folder that holds nothing of the period.
    lab.deployed.put_object(
        TRAIL,
        "cloudtrail/AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail-Digest/us-east-1/2026/11/19/d.json.gz",
        b"{}".to_vec(),
    );
    lab.deployed.put_object(
        TRAIL,
        &format!("{}{}", dir("210987654321", "us-east-1", "2026/10/01"), name("210987654321", "us-east-1", "20261001T0000Z")),
        log_file(&["console-edit"]),
    );
    let url =
        lab.deployed.block_on(sqs.create_queue().queue_name("driftwatch-backfill").send()).expect("queue").queue_url().unwrap().to_string();
    let queue_arn = format!("arn:aws:sqs:us-east-1:{acct}:driftwatch-backfill");

    let run = |from: &str, to: &str, extra: &[&str]| {
        let mut c = lab.moto.command(driftwatch_tests::driftwatch_bin());
        c.args(["backfill", "--trail-bucket", TRAIL, "--prefix", "cloudtrail", "--from", from, "--to", to]);
        c.args(extra).env("DRIFTWATCH_S3_PATH_STYLE", "true").current_dir(workspace_root());
        c.output().expect("run driftwatch backfill")
    };
    let backfill = |extra: &[&str]| run("2026-11-19", "2026-11-21", extra);
    let receive = || {
        let mut got = Vec::new();
        for _ in 0..3 {
            let out = lab
                .deployed
                .block_on(sqs.receive_message().queue_url(&url).max_number_of_messages(10).wait_time_seconds(1).send())
                .expect("receive");
            if out.messages().is_empty() {
                break;
            }
            got.extend(out.messages().iter().cloned());
        }
        got
    };

    // A dry run lists the period's two files, per account and region, and sends nothing.
    let dry = backfill(&["--dry-run"]);
    let text = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(dry.status.success(), "{text}\n{}", String::from_utf8_lossy(&dry.stderr));
    assert!(text.contains("dry run"), "{text}");
    let row = |region: &str| text.lines().any(|l| l.split_whitespace().take(3).collect::<Vec<_>>() == [acct, region, "1"]);
    assert!(row("us-east-1") && row("eu-west-1"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("total") && l.split_whitespace().nth(1) == Some("2")), "{text}");
    assert!(receive().is_empty(), "a dry run sent messages");

    // Bad input is one line and exit 2, before anything is sent.
    for (period, args, says) in [
        (("2026-11-19", "2026-11-18"), vec!["--queue-url", url.as_str()], "not after"),
        (("2026-11-19", "2026-11-21"), vec!["--queue-url", url.as_str(), "--account", "12345"], "twelve digits"),
        (("2026-11-19", "2026-11-21"), vec!["--queue-url", "http://127.0.0.1:1/000000000000/nope"], "backfill queue"),
        (("19 Nov", "2026-11-21"), vec!["--queue-url", url.as_str()], "RFC 3339"),
    ] {
        let out = run(period.0, period.1, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let wrong_prefix = {
        let mut c = lab.moto.command(driftwatch_tests::driftwatch_bin());
        c.args(["backfill", "--trail-bucket", TRAIL, "--from", "2026-11-19", "--to", "2026-11-21", "--queue-url", &url]);
        c.env("DRIFTWATCH_S3_PATH_STYLE", "true").output().expect("run")
    };
    assert_eq!(wrong_prefix.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_prefix.stderr).contains("--prefix"), "{}", String::from_utf8_lossy(&wrong_prefix.stderr));
    assert!(receive().is_empty());

    let sent = backfill(&["--queue-url", &url]);
    let text = String::from_utf8_lossy(&sent.stdout).to_string();
    assert!(sent.status.success(), "{text}\n{}", String::from_utf8_lossy(&sent.stderr));
    assert!(text.contains("enqueued 2 log file(s)"), "{text}");
    let mut messages = receive();
    assert_eq!(messages.len(), 2, "one message per file of the period: {messages:?}");
    // S3's test event and a body that is no notification ride along in the same batch.
    for body in [r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"org-trail-logs"}"#, "not json"] {
        messages.push(aws_sdk_sqs::types::Message::builder().message_id(format!("m-{}", body.len())).body(body).build());
    }
    let batch = sqs_batch(&messages, &queue_arn);

    let watcher = lab.adapters(Function::TrailWatcher, &[]);
    let first = lab.invoke(&watcher, &batch, now());
    assert_eq!(first["batchItemFailures"], json!([]), "{first}");
    assert_eq!(first["invalid"], 1, "the body that is no notification: {first}");
    let replayed: BTreeSet<(String, String)> = rules(&lab.findings()).into_iter().filter(|(r, _)| r != "input.invalid").collect();
    let sse = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket_server_side_encryption_configuration.this";
    assert_eq!(
        replayed,
        BTreeSet::from([
            ("change.console".to_string(), "aws_security_group.app".to_string()),
            ("control.network_exposure".to_string(), "aws_security_group.app".to_string()),
            ("encryption.regression".to_string(), sse.to_string()),
            ("change.out_of_band".to_string(), sse.to_string()),
        ]),
        "exactly the period's files replayed"
    );
    let invalid = lab.findings().iter().map(finding_of).find(|f| f["rule"] == "input.invalid").expect("input.invalid");
    assert!(invalid["title"].as_str().unwrap_or_default().contains("not JSON"), "{invalid}");
    let evidence = lab.evidence_keys();
    let alerts = lab.deployed.drain(&lab.deployed.alerts_queue).len();
    assert!(alerts >= 3, "{alerts} alerts");

    // At least once: the whole batch again (and the period enqueued again) changes nothing.
    let again = lab.invoke(&watcher, &batch, now() + chrono::Duration::minutes(5));
    assert_eq!((again["recorded"]["changed"].as_u64(), again["recorded"]["alerts"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(lab.evidence_keys(), evidence, "a redelivery wrote evidence");
    assert!(lab.deployed.drain(&lab.deployed.alerts_queue).is_empty());
    assert!(backfill(&["--queue-url", &url]).status.success());
    let twice = sqs_batch(&receive(), &queue_arn);
    let third = lab.invoke(&watcher, &twice, now() + chrono::Duration::minutes(10));
    assert_eq!((third["recorded"]["changed"].as_u64(), third["recorded"]["alerts"].as_u64()), (Some(0), Some(0)), "{third}");
}

/// A file the trail watcher cannot read for now (S3 answering 500 however often the SDK
/// retries) fails only its own message: `batchItemFailures` names it, the batch's other
/// message is processed and acknowledged, and the failed one alone, delivered again once S3
/// recovers, adds its findings.
#[test]
fn a_backfilled_file_that_fails_transiently_is_the_only_message_retried() {
    use driftwatch_tests::faults::{Call, Fault, FaultProxy};
    let Some(lab) = Lab::start("ls_backfill_partial") else { return };
    assert!(lab.deployed.seed_index() > 0);
    const TRAIL: &str = "org-trail-logs";
    lab.deployed.block_on(lab.deployed.s3.create_bucket().bucket(TRAIL).send()).expect("trail bucket");
    let key = |n: &str| {
        format!("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/19/123456789012_CloudTrail_us-east-1_20261119T2355Z_{n}.json.gz")
    };
    lab.deployed.put_object(TRAIL, &key("good"), log_file(&["console-edit"]));
    lab.deployed.put_object(TRAIL, &key("flaky"), log_file(&["encryption-delete-bucket-encryption"]));
    let msg = |n: &str| {
        let body = driftwatch_core::backfill::notification(TRAIL, "us-east-1", &key(n), 1, at("2026-11-19T23:55:00Z"));
        aws_sdk_sqs::types::Message::builder().message_id(n).body(body).build()
    };
    let queue = "arn:aws:sqs:us-east-1:123456789012:driftwatch-backfill";
    let proxy = FaultProxy::start(&lab.moto.endpoint);
    proxy.inject(
        "flaky log file",
        std::sync::Arc::new(|c: &Call| c.op == "s3:GetObject" && c.detail.contains("_flaky.")),
        Fault::InternalError,
        1,
        1000,
    );
    let env = lab.adapters(Function::TrailWatcher, &[]).env.clone();
    let watcher = Adapters::with_sdk(env, &proxy.sdk_config(&lab.moto.sdk_config())).expect("adapters through the proxy");

    let first = lab.invoke(&watcher, &sqs_batch(&[msg("good"), msg("flaky")], queue), now());
    assert_eq!(first["batchItemFailures"], json!([{"itemIdentifier": "flaky"}]), "{first}");
    let rules_now = |lab: &Lab| rules(&lab.findings()).into_iter().map(|(r, _)| r).collect::<BTreeSet<_>>();
    assert_eq!(rules_now(&lab), BTreeSet::from(["change.console".to_string(), "control.network_exposure".to_string()]));

    proxy.clear();
    let retried = lab.invoke(&watcher, &sqs_batch(&[msg("flaky")], queue), now() + chrono::Duration::minutes(1));
    assert_eq!(retried["batchItemFailures"], json!([]), "{retried}");
    assert!(rules_now(&lab).contains("encryption.regression"), "{:?}", rules_now(&lab));
}

// ---------------------------------------------------------------------------------------------
// A state write changes only the index entries it changed (when the index holds the version
// before it, complete, on this process's basis); otherwise every entry is written again.

/// The index items of one state, as the index table holds them: sort key → (identity,
/// desired, tags, serial).
fn index_items(lab: &Lab, state_key: &str) -> std::collections::BTreeMap<String, (Value, Value, Value, Value)> {
    lab.deployed
        .items(deployment::INDEX_TABLE)
        .into_iter()
        .filter(|i| i["state_key"].as_str() == Some(state_key))
        .map(|i| {
            (
                i["address"].as_str().unwrap_or("").to_string(),
                (i["identity"].clone(), i["desired"].clone(), i["tags"].clone(), i["serial"].clone()),
            )
        })
        .collect()
}

/// What the index would hold for `state` written whole (serials aside).
fn entries_of(state: &Value, key: &str) -> std::collections::BTreeMap<String, (Value, Value, Value)> {
    let catalog = driftwatch_core::Catalog::builtin();
    let redactor = driftwatch_core::Redactor::new(deployment::REDACTION_SALT.as_bytes());
    let loc = driftwatch_core::state::StateLocation::s3(deployment::STATE_BUCKET, key);
    let parsed = driftwatch_core::state::parse_state(state.to_string().as_bytes(), loc, &catalog, &redactor).expect("state");
    driftwatch_core::index::ManagedIndex::build([parsed], &catalog)
        .entries()
        .iter()
        .map(|e| {
            let i = deployment::item_json(&driftwatch_aws::index_table::encode(e).expect("encode"));
            (i["address"].as_str().unwrap_or("").to_string(), (i["identity"].clone(), i["desired"].clone(), i["tags"].clone()))
        })
        .collect()
}

fn without_serials(
    items: &std::collections::BTreeMap<String, (Value, Value, Value, Value)>,
) -> std::collections::BTreeMap<String, (Value, Value, Value)> {
    items.iter().map(|(k, (a, b, c, _))| (k.clone(), (a.clone(), b.clone(), c.clone()))).collect()
}

/// `state` with the tags of the root module's `type.name` set to `tags`.
fn retagged(state: &Value, rtype: &str, name: &str, tags: Value) -> Value {
    let mut s = state.clone();
    let r = s["resources"]
        .as_array_mut()
        .expect("resources")
        .iter_mut()
        .find(|r| r.get("module").is_none() && r["type"] == rtype && r["name"] == name)
        .unwrap_or_else(|| panic!("{rtype}.{name} in the sample"));
    r["instances"][0]["attributes"]["tags"] = tags.clone();
    r["instances"][0]["attributes"]["tags_all"] = tags;
    s
}

#[test]
fn a_state_write_changes_only_the_index_entries_it_changed() {
    let Some(lab) = Lab::start("ls_index_changes") else { return };
    let key = "prod/changes.tfstate";
    let adapters = lab.adapters(Function::StateWatcher, &[]);
    let mut serial = 200;
    let mut write = |state: &Value, adapters: &Adapters, time: DateTime<Utc>, deliver: bool| -> Value {
        serial += 1;
        let mut s = state.clone();
        s["serial"] = json!(serial);
        s["lineage"] = json!("changes-lineage");
        lab.deployed.put_object(deployment::STATE_BUCKET, key, serde_json::to_vec_pretty(&s).expect("json"));
        if !deliver {
            return Value::Null;
        }
        let v = lab.head(deployment::STATE_BUCKET, key);
        let r = lab.invoke(adapters, &object_created(key, &v, time), time + chrono::Duration::seconds(5));
        r["states"][0].clone()
    };
    let ledger_item = || -> Value {
        let items = lab.deployed.items(deployment::FINDINGS_TABLE);
        let item = items
            .iter()
            .find(|i| i["fingerprint"] == json!(format!("ledger#state#{}/{key}", deployment::STATE_BUCKET)))
            .expect("state item");
        serde_json::from_str(item["value"].as_str().expect("value")).expect("json")
    };

    // 1. The first write of the state: every entry.
    let v1 = sample_state("data.tfstate");
    let t1 = at("2026-11-20T08:00:00Z");
    let r = write(&v1, &adapters, t1, true);
    let whole = entries_of(&v1, key);
    assert!(whole.len() > 10, "{whole:?}");
    assert_eq!((r["index_update"].as_str(), r["written_entries"].as_u64()), (Some("whole"), Some(whole.len() as u64)), "{r}");
    assert_eq!(without_serials(&index_items(&lab, key)), whole);
    assert_eq!(ledger_item()["entries"]["complete"], json!(true), "{}", ledger_item());

    // 2. One file system retagged, another removed: one entry written, one deleted, no scan.
    let v2 = retagged(
        &without_resource(&v1, "aws_efs_file_system", "dicom_scratch"),
        "aws_efs_file_system",
        "shared_documents",
        json!({"Team": "imaging"}),
    );
    let r = write(&v2, &adapters, t1 + chrono::Duration::minutes(10), true);
    assert_eq!(
        (r["index_update"].as_str(), r["written_entries"].as_u64(), r["removed_entries"].as_u64()),
        (Some("changes"), Some(1), Some(1)),
        "{r}"
    );
    let items = index_items(&lab, key);
    assert_eq!(without_serials(&items), entries_of(&v2, key), "the index holds the new version's entries");
    // An entry's serial is the version that last changed it.
    let serials: BTreeSet<i64> = items.values().filter_map(|(_, _, _, s)| s.as_i64()).collect();
    assert_eq!(serials, BTreeSet::from([201, 202]), "{items:?}");

    // 3. A fresh process (the version before read from S3, not kept): the same.
    let cold = lab.adapters(Function::StateWatcher, &[]);
    let v3 = retagged(&v2, "aws_s3_bucket", "access_logs", json!({"Purpose": "logs"}));
    let r = write(&v3, &cold, t1 + chrono::Duration::minutes(20), true);
    assert_eq!(
        (r["index_update"].as_str(), r["written_entries"].as_u64(), r["removed_entries"].as_u64()),
        (Some("changes"), Some(1), Some(0)),
        "{r}"
    );
    assert_eq!(without_serials(&index_items(&lab, key)), entries_of(&v3, key));
    // Delivered again: nothing.
    let v = lab.head(deployment::STATE_BUCKET, key);
    let again = lab.invoke(&cold, &object_created(key, &v, t1 + chrono::Duration::minutes(20)), t1 + chrono::Duration::hours(3));
    assert_eq!(again["states"][0]["replay"], json!(true), "{again}");

    // 4. A write whose event never came (lost, or still on its way): the next one cannot
    //    trust the index to hold its version before, and writes every entry again.
    let v4 = retagged(&v3, "aws_efs_file_system", "shared_documents", json!({"Team": "radiology"}));
    write(&v4, &adapters, t1 + chrono::Duration::minutes(30), false);
    let v5 = without_resource(&v4, "aws_rds_cluster", "analytics");
    let r = write(&v5, &adapters, t1 + chrono::Duration::minutes(31), true);
    let want = entries_of(&v5, key);
    assert_eq!((r["index_update"].as_str(), r["written_entries"].as_u64()), (Some("whole"), Some(want.len() as u64)), "{r}");
    assert_eq!(without_serials(&index_items(&lab, key)), want);

    // 5. A process that makes entries on another basis (another redaction salt: other
    //    digests in `desired`) writes them whole.
    let other = lab.adapters(Function::StateWatcher, &[("DRIFTWATCH_REDACTION_SALT", "another-salt")]);
    let v6 = retagged(&v5, "aws_s3_bucket", "access_logs", json!({"Purpose": "audit"}));
    let r = write(&v6, &other, t1 + chrono::Duration::minutes(40), true);
    assert_eq!(r["index_update"].as_str(), Some("whole"), "{r}");
    // ... and the next write on this basis again whole (the index was made on the other).
    let v7 = retagged(&v6, "aws_s3_bucket", "access_logs", json!({"Purpose": "audit-2"}));
    let r = write(&v7, &adapters, t1 + chrono::Duration::minutes(50), true);
    assert_eq!(r["index_update"].as_str(), Some("whole"), "{r}");
    assert_eq!(without_serials(&index_items(&lab, key)), entries_of(&v7, key));

    // 6. A day after the entries were last written whole, they are written whole again.
    let v8 = retagged(&v7, "aws_s3_bucket", "access_logs", json!({"Purpose": "audit-3"}));
    let r = write(&v8, &adapters, t1 + chrono::Duration::minutes(51), true);
    assert_eq!((r["index_update"].as_str(), r["written_entries"].as_u64()), (Some("changes"), Some(1)), "{r}");
    let v9 = retagged(&v8, "aws_s3_bucket", "access_logs", json!({"Purpose": "audit-4"}));
    let r = write(&v9, &adapters, t1 + chrono::Duration::minutes(50) + chrono::Duration::hours(24), true);
    assert_eq!(r["index_update"].as_str(), Some("whole"), "{r}");
    assert_eq!(without_serials(&index_items(&lab, key)), entries_of(&v9, key));
    assert_eq!(ledger_item()["entries"]["complete"], json!(true));
    lab.assert_no_secrets();
}
