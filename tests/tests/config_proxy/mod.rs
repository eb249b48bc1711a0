//! A scripted AWS Config endpoint on loopback (AWS JSON 1.1 over HTTP/1.1), and a proxy in
//! front of moto's AWS Config that makes its answers readable by the AWS SDK.
//!
//! Why a proxy: moto renders `configurationItemCaptureTime` and `resourceCreationTime` of its
//! configuration items as Python's `str(datetime)` (`2026-11-23 02:40:00+00:00`, a space
//! where RFC 3339 has `T`), which the SDK refuses ("invalid timestamp string"); AWS sends
//! epoch seconds. The proxy forwards every call to moto unchanged and rewrites only those
//! timestamps to epoch seconds. A module of the suite (`tests/tests/main.rs`), used by
//! `config_live` and `lambda_reconcile`; the CLI's `crates/cli/tests/scan_aws.rs` includes it
//! too (through `#[path]`).
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

/// One request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `X-Amz-Target` (`StarlingDoveService.SelectResourceConfig`).
    pub target: String,
    /// Every header line but `Host`, `Connection` and `Content-Length`, as sent.
    pub headers: Vec<(String, String)>,
    pub raw_body: Vec<u8>,
    pub body: Value,
}

pub type Answer = Arc<dyn Fn(&Request) -> Value + Send + Sync>;

/// The stub server: answers each call with `answer(request)`, recording the requests.
pub struct Stub {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    pub fn start(answer: Answer) -> Stub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let log = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let (answer, log) = (answer.clone(), log.clone());
                std::thread::spawn(move || serve(conn, answer, log));
            }
        });
        Stub { endpoint, requests }
    }

    /// Bodies of the requests whose target ends with `operation`, in order.
    pub fn requests(&self, operation: &str) -> Vec<Value> {
        self.requests.lock().expect("log").iter().filter(|r| r.target.ends_with(operation)).map(|r| r.body.clone()).collect()
    }
}

/// One keep-alive connection: HTTP/1.1 requests with a `Content-Length` body.
fn serve(conn: std::net::TcpStream, answer: Answer, log: Arc<Mutex<Vec<Request>>>) {
    let Ok(mut out) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let (mut target, mut len, mut headers) = (String::new(), 0usize, Vec::new());
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_string(), v.trim().to_string());
                match k.to_ascii_lowercase().as_str() {
                    "x-amz-target" => target = v.clone(),
                    "content-length" => len = v.parse().unwrap_or(0),
                    _ => {}
                }
                if !matches!(k.to_ascii_lowercase().as_str(), "host" | "connection" | "content-length") {
                    headers.push((k, v));
                }
            }
        }
        let mut raw_body = vec![0u8; len];
        if reader.read_exact(&mut raw_body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&raw_body).unwrap_or(Value::Null);
        let request = Request { target, headers, raw_body, body };
        let answered = answer(&request);
        // An AWS JSON error (`{"__type": "…Exception", "message": …}`, as moto answers one)
        // goes out as the error it is: a 400, not a 200 the SDK would read as an empty answer.
        let status = if answered.get("__type").is_some() { "400 Bad Request" } else { "200 OK" };
        let response = answered.to_string();
        log.lock().expect("log").push(request);
        let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n", response.len());
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(response.as_bytes())).is_err() {
            return;
        }
    }
}

/// Send a request to `endpoint` as it came (one connection, `Connection: close`) and
/// answer its JSON body.
fn forward(endpoint: &str, r: &Request) -> Value {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to moto");
    let mut head = format!("POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", r.raw_body.len());
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&r.raw_body)).expect("forward to moto");
    let mut response = Vec::new();
    conn.read_to_end(&mut response).expect("moto's answer");
    let at = response.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response head") + 4;
    serde_json::from_slice(&response[at..]).expect("moto answered JSON")
}

/// `2026-11-23 02:40:00.123+00:00` (Python's `str(datetime)`) as epoch seconds.
fn epoch_seconds(s: &str) -> Option<f64> {
    let t = s.trim().replacen(' ', "T", 1);
    let has_offset = t.ends_with('Z') || t.rfind(['+', '-']).is_some_and(|i| i > t.find('T').unwrap_or(usize::MAX));
    let t = if has_offset { t } else { format!("{t}Z") };
    chrono::DateTime::parse_from_rfc3339(&t).ok().map(|d| d.timestamp_millis() as f64 / 1000.0)
}

fn fix_timestamps(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if matches!(k.as_str(), "configurationItemCaptureTime" | "resourceCreationTime") {
                    if let Some(secs) = val.as_str().and_then(epoch_seconds) {
                        *val = serde_json::json!(secs);
                    }
                } else {
                    fix_timestamps(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_timestamps),
        _ => {}
    }
}

/// A proxy in front of moto's AWS Config (`moto_endpoint`): every call forwarded, the
/// timestamps of its answers made readable by the SDK.
pub fn moto_config_proxy(moto_endpoint: &str) -> Stub {
    let moto = moto_endpoint.to_string();
    Stub::start(Arc::new(move |r: &Request| {
        let mut answer = forward(&moto, r);
        fix_timestamps(&mut answer);
        answer
    }))
}

/// [`moto_config_proxy`], except that `SelectResourceConfig` (which moto cannot be seeded
/// for from outside its process) is answered with `results`, one page.
pub fn moto_config_proxy_selecting(moto_endpoint: &str, results: Vec<String>) -> Stub {
    let moto = moto_endpoint.to_string();
    Stub::start(Arc::new(move |r: &Request| {
        if r.target.ends_with("SelectResourceConfig") {
            return serde_json::json!({"Results": results});
        }
        let mut answer = forward(&moto, r);
        fix_timestamps(&mut answer);
        answer
    }))
}

/// A Config aggregator `name` on moto over the test account, in every region (moto
/// aggregates the caller's own account only).
pub async fn put_aggregator(sdk: &aws_config::SdkConfig, name: &str) {
    let source = aws_sdk_config::types::AccountAggregationSource::builder()
        .account_ids("123456789012")
        .all_aws_regions(true)
        .build()
        .expect("aggregation source");
    aws_sdk_config::Client::new(sdk)
        .put_configuration_aggregator()
        .configuration_aggregator_name(name)
        .account_aggregation_sources(source)
        .send()
        .await
        .expect("put the aggregator");
}
