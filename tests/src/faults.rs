//! A fault-injecting HTTP/1.1 proxy in front of moto server, driven by the tests.
//!
//! moto is cooperative: it never throttles, never answers 5xx, never stalls and never drops a
//! connection. The proxy sits between the AWS SDK and moto (the SDK's endpoint is the proxy),
//! forwards every request to moto unchanged and returns moto's answer — except when a rule the
//! test installed matches the request: then it answers with the fault instead, without
//! forwarding anything (AWS refused the call; nothing was applied), except for a lost reply.
//!
//! * **What a request is**: the proxy names the AWS operation of every request
//!   (`dynamodb:PutItem`, `s3:GetObject`, `sns:Publish`, …): the service from the SigV4
//!   credential scope, the operation from `X-Amz-Target` (JSON protocols), the form body's
//!   `Action=` (query protocol) or, for S3, the method, path and query. Each call is recorded
//!   with a short detail (table and key, bucket and key, topic) — the census of a fault-free
//!   run is how a test picks what to break.
//! * **Rules**: a fault on the calls a matcher selects, numbered from 1 per rule: calls
//!   `first..first + count` get the fault. Rules are installed and cleared at run time.
//! * **Faults** ([`Fault`]): DynamoDB `ThrottlingException` and
//!   `ProvisionedThroughputExceededException` (HTTP 400, JSON `__type`), S3 `SlowDown` (503,
//!   XML), `500` internal error and `503` service unavailable (each in the protocol of the
//!   service asked), a timeout (the request is held unanswered until the test releases it — the
//!   handler's deadline passes first), a connection reset (the connection is closed once the
//!   request is read, with no answer), a lost reply (forwarded — moto applies it — and the
//!   connection closed instead of answering), and a pause (held, then forwarded when released:
//!   a tool to order concurrent invocations deterministically).
//! * **HTTP**: keep-alive connections are served request after request (the SDK reuses its
//!   connections); a request body is read whole (`Content-Length`, or `chunked` — S3 uploads
//!   may use `aws-chunked` framing inside either: the bytes are forwarded as they came, with
//!   the same headers). Each request goes to moto on a connection of its own
//!   (`Connection: close`); the answer is read whole and returned with a `Content-Length`.
//! * **Serialising**: [`FaultProxy::serialize`] forwards one request at a time. Real DynamoDB
//!   and S3 apply each conditional write atomically; moto checks the condition and writes in
//!   two steps, so two concurrent conditional writes may both succeed there. Serialised at the
//!   proxy, each call is atomic as on AWS while the invocations still interleave call by call.
//! * **Blackout**: [`FaultProxy::blackout`] closes every connection on arrival — what is left
//!   of an invocation killed at its deadline (its sandbox is gone) reaches nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A fault the proxy can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// DynamoDB `ThrottlingException` (HTTP 400, JSON).
    Throttling,
    /// DynamoDB `ProvisionedThroughputExceededException` (HTTP 400, JSON).
    ThroughputExceeded,
    /// S3 `SlowDown` (HTTP 503, XML).
    SlowDown,
    /// HTTP 500: DynamoDB `InternalServerError`, S3 and SNS `InternalError`, others
    /// `InternalFailure`.
    InternalError,
    /// HTTP 503 `ServiceUnavailable`.
    ServiceUnavailable,
    /// The request is read and never answered, until the test releases it (then the connection
    /// is closed). No SDK timeout is configured (as in the functions), so the handler waits
    /// until its deadline.
    Timeout,
    /// The connection is closed as soon as the request is read: no answer.
    Reset,
    /// The request is forwarded (moto applies it), then the connection is closed instead of
    /// answering: the reply is lost.
    LostReply,
    /// Held until released, then forwarded (and answered) normally.
    Pause,
}

impl Fault {
    /// The faults of the fault matrix.
    pub const MATRIX: [Fault; 8] = [
        Fault::Throttling,
        Fault::ThroughputExceeded,
        Fault::SlowDown,
        Fault::InternalError,
        Fault::ServiceUnavailable,
        Fault::Timeout,
        Fault::Reset,
        Fault::LostReply,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttling => "ddb-throttling",
            Fault::ThroughputExceeded => "ddb-throughput",
            Fault::SlowDown => "s3-slowdown",
            Fault::InternalError => "http-500",
            Fault::ServiceUnavailable => "http-503",
            Fault::Timeout => "timeout",
            Fault::Reset => "conn-reset",
            Fault::LostReply => "lost-reply",
            Fault::Pause => "pause",
        }
    }

    /// Whether the fault matrix injects this fault on calls of `service` (the SigV4 service
    /// name): the DynamoDB errors on DynamoDB, `SlowDown` on S3, a lost reply everywhere but SNS
    /// (a `Publish` that SNS applied but whose reply was lost is sent again by the SDK's retry:
    /// two alerts, which nothing on the caller's side can prevent on a standard topic), the
    /// rest everywhere.
    pub fn applies_to(self, service: &str) -> bool {
        match self {
            Fault::Throttling | Fault::ThroughputExceeded => service == "dynamodb",
            Fault::SlowDown => service == "s3",
            Fault::LostReply => service != "sns",
            _ => true,
        }
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SigV4 service (`dynamodb`, `s3`, `sns`, `secretsmanager`, …).
    pub service: String,
    /// `service:Operation`, e.g. `dynamodb:PutItem`.
    pub op: String,
    /// What it is about: `table key` (DynamoDB), `bucket/key?query` (S3), the topic (SNS), the
    /// secret (Secrets Manager).
    pub detail: String,
    /// The fault it was answered with (its name), if any; `blackout` for a request of a killed
    /// invocation.
    pub fault: Option<&'static str>,
}

/// Which calls a rule applies to.
pub type Matcher = Arc<dyn Fn(&Call) -> bool + Send + Sync>;

/// Calls of one operation (`dynamodb:PutItem`).
pub fn op_is(op: &str) -> Matcher {
    let op = op.to_string();
    Arc::new(move |c: &Call| c.op == op)
}

struct Rule {
    label: String,
    matcher: Matcher,
    fault: Fault,
    /// Calls `first..first + count` (1-based, counted over the calls the matcher selects).
    first: usize,
    count: usize,
    seen: usize,
    injected: usize,
}

/// What a rule did so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStats {
    pub label: String,
    pub fault: Fault,
    /// Calls it matched.
    pub seen: usize,
    /// Faults it answered.
    pub injected: usize,
    /// Faults it was to answer.
    pub count: usize,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    rules: Vec<Rule>,
    /// Bumped to release every held request.
    generation: u64,
    /// Requests held now, and ever.
    holding: usize,
    holds_started: usize,
    /// Requests being handled now (read, not yet answered or dropped).
    active: usize,
    last_activity: Option<Instant>,
    /// Client connections accepted.
    connections: usize,
    blackout: bool,
    serialize: bool,
}

struct Shared {
    upstream: String,
    state: Mutex<State>,
    released: Condvar,
    /// Held while forwarding when serialising.
    forwarding: Mutex<()>,
}

/// The proxy: listening on a loopback port until the process ends (its threads are idle
/// between requests).
#[derive(Clone)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    shared: Arc<Shared>,
}

/// How long a held request waits for its release at most.
const MAX_HOLD: Duration = Duration::from_secs(120);

impl FaultProxy {
    /// A proxy forwarding to `upstream` (`http://127.0.0.1:PORT`, moto's endpoint).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").trim_end_matches('/').to_string(),
            state: Mutex::new(State::default()),
            released: Condvar::new(),
            forwarding: Mutex::new(()),
        });
        let serving = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                serving.state.lock().unwrap_or_else(|e| e.into_inner()).connections += 1;
                let shared = serving.clone();
                std::thread::spawn(move || serve(conn, &shared));
            }
        });
        FaultProxy { endpoint, shared }
    }

    /// `base` (moto's SDK configuration) pointed at the proxy. Its retries are the SDK's
    /// standard ones, as in the functions (3 attempts, the same classification of errors), with
    /// millisecond backoff instead of up to seconds, so that a matrix of faults runs in
    /// seconds.
    pub fn sdk_config(&self, base: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        use aws_config::retry::RetryConfig;
        let retry = RetryConfig::standard()
            .with_max_attempts(SDK_MAX_ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(5))
            .with_max_backoff(Duration::from_millis(40));
        base.to_builder().endpoint_url(&self.endpoint).retry_config(retry).build()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answer the calls `first..first + count` (1-based) among those `matcher` selects with
    /// `fault`. `label` names the rule in [`stats`](Self::stats).
    pub fn inject(&self, label: &str, matcher: Matcher, fault: Fault, first: usize, count: usize) {
        self.state().rules.push(Rule { label: label.to_string(), matcher, fault, first: first.max(1), count, seen: 0, injected: 0 });
    }

    /// Remove every rule and release every held request.
    pub fn clear(&self) {
        self.state().rules.clear();
        self.release();
    }

    /// Release every held request (a timeout is then closed unanswered, a pause forwarded).
    pub fn release(&self) {
        self.state().generation += 1;
        self.shared.released.notify_all();
    }

    /// What each rule did so far.
    pub fn stats(&self) -> Vec<RuleStats> {
        self.state()
            .rules
            .iter()
            .map(|r| RuleStats { label: r.label.clone(), fault: r.fault, seen: r.seen, injected: r.injected, count: r.count })
            .collect()
    }

    /// Every call so far, in order of arrival.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Forget the calls recorded so far.
    pub fn forget_calls(&self) {
        self.state().calls.clear();
    }

    /// How many requests were held (timeouts and pauses) since the proxy started.
    pub fn holds_started(&self) -> usize {
        self.state().holds_started
    }

    /// How many client connections the proxy accepted (the SDK keeps its connections alive).
    pub fn connections(&self) -> usize {
        self.state().connections
    }

    /// How many requests are held now.
    pub fn holding(&self) -> usize {
        self.state().holding
    }

    /// Forward one request at a time (see the module documentation).
    pub fn serialize(&self, on: bool) {
        self.state().serialize = on;
    }

    /// Close every connection on arrival (`on`), or serve again.
    pub fn blackout(&self, on: bool) {
        self.state().blackout = on;
    }

    /// Wait until no request has been in flight for `quiet` (at most `max`); whether it got
    /// quiet.
    pub fn wait_quiet(&self, quiet: Duration, max: Duration) -> bool {
        let until = Instant::now() + max;
        while Instant::now() < until {
            {
                let s = self.state();
                if s.active == 0 && s.last_activity.is_none_or(|t| t.elapsed() >= quiet) {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Wait (async) until more than `before` requests have been held; returns at once when that
    /// is already so.
    pub async fn held_since(&self, before: usize) {
        while self.holds_started() <= before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The SDK's attempts per call (its standard retry mode's default): a fault on this many
/// consecutive calls of an operation defeats the SDK's own retries.
pub const SDK_MAX_ATTEMPTS: u32 = 3;

/// A request as read from the client.
struct Request {
    method: String,
    target: String,
    /// Header lines as sent (name, value).
    headers: Vec<(String, String)>,
    /// The body bytes exactly as they came (chunk framing included).
    raw_body: Vec<u8>,
    /// The body without chunk framing (to identify the operation).
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn wants_close(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Header lines up to the empty line.
fn read_headers(r: &mut impl BufRead) -> std::io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(r)? else { return Err(std::io::ErrorKind::UnexpectedEof.into()) };
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            return Ok(headers);
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A body framed by `headers`: (raw bytes as sent, bytes without chunk framing).
fn read_body(r: &mut impl BufRead, headers: &[(String, String)], to_eof: bool) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    if header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        let (mut raw, mut body) = (Vec::new(), Vec::new());
        loop {
            let Some(line) = read_line(r)? else { return Err(std::io::ErrorKind::UnexpectedEof.into()) };
            raw.extend_from_slice(line.as_bytes());
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("chunk size {line:?}: {e}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let Some(t) = read_line(r)? else { return Err(std::io::ErrorKind::UnexpectedEof.into()) };
                    raw.extend_from_slice(t.as_bytes());
                    if t.trim_end_matches(['\r', '\n']).is_empty() {
                        return Ok((raw, body));
                    }
                }
            }
            let mut chunk = vec![0u8; size + 2];
            r.read_exact(&mut chunk)?;
            raw.extend_from_slice(&chunk);
            body.extend_from_slice(&chunk[..size]);
        }
    }
    if let Some(len) = header(headers, "content-length") {
        let len: usize =
            len.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("content-length {len:?}: {e}")))?;
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        return Ok((body.clone(), body));
    }
    if to_eof {
        let mut body = Vec::new();
        r.read_to_end(&mut body)?;
        return Ok((body.clone(), body));
    }
    Ok((Vec::new(), Vec::new()))
}

fn read_request(r: &mut BufReader<TcpStream>, out: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let Some(line) = read_line(r)? else { return Ok(None) };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("request line {line:?}")));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let headers = read_headers(r)?;
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let (raw_body, body) = read_body(r, &headers, false)?;
    Ok(Some(Request { method, target, headers, raw_body, body }))
}

/// `a%3Ab` → `a:b`, `+` → space.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                Ok(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_param(body: &[u8], name: &str) -> Option<String> {
    std::str::from_utf8(body).ok()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

/// The S3 operation of a path-style request.
fn s3_op(method: &str, path: &str, query: &str, headers: &[(String, String)]) -> &'static str {
    let has = |q: &str| query.split('&').any(|kv| kv == q || kv.split_once('=').is_some_and(|(k, _)| k == q));
    let key = path.trim_start_matches('/').split_once('/').map(|(_, k)| k).unwrap_or("");
    if key.is_empty() {
        return match method {
            "GET" if has("list-type") => "ListObjectsV2",
            "GET" if has("versions") => "ListObjectVersions",
            "GET" if has("location") => "GetBucketLocation",
            "GET" if has("versioning") => "GetBucketVersioning",
            "GET" if has("object-lock") => "GetObjectLockConfiguration",
            "GET" if has("tagging") => "GetBucketTagging",
            "GET" if has("uploads") => "ListMultipartUploads",
            "GET" => "ListObjects",
            "PUT" if has("versioning") => "PutBucketVersioning",
            "PUT" if has("tagging") => "PutBucketTagging",
            "PUT" if has("object-lock") => "PutObjectLockConfiguration",
            "PUT" if has("notification") => "PutBucketNotificationConfiguration",
            "PUT" if has("policy") => "PutBucketPolicy",
            "PUT" => "CreateBucket",
            "HEAD" => "HeadBucket",
            "DELETE" => "DeleteBucket",
            "POST" if has("delete") => "DeleteObjects",
            _ => "UnknownBucketOperation",
        };
    }
    match method {
        "GET" if has("retention") => "GetObjectRetention",
        "GET" if has("tagging") => "GetObjectTagging",
        "GET" if has("legal-hold") => "GetObjectLegalHold",
        "GET" if has("attributes") => "GetObjectAttributes",
        "GET" if has("uploadId") => "ListParts",
        "GET" => "GetObject",
        "HEAD" => "HeadObject",
        "PUT" if has("retention") => "PutObjectRetention",
        "PUT" if has("tagging") => "PutObjectTagging",
        "PUT" if has("legal-hold") => "PutObjectLegalHold",
        "PUT" if has("partNumber") => "UploadPart",
        "PUT" if header(headers, "x-amz-copy-source").is_some() => "CopyObject",
        "PUT" => "PutObject",
        "DELETE" if has("uploadId") => "AbortMultipartUpload",
        "DELETE" => "DeleteObject",
        "POST" if has("uploads") => "CreateMultipartUpload",
        "POST" if has("uploadId") => "CompleteMultipartUpload",
        _ => "UnknownObjectOperation",
    }
}

/// The first string value of a DynamoDB item or key (its partition key, for our tables).
fn dynamo_key(v: &serde_json::Value) -> Option<String> {
    let o = v.as_object()?;
    for name in ["fingerprint", "identity", "LockID", "id"] {
        if let Some(s) = o.get(name).and_then(|a| a.get("S")).and_then(|s| s.as_str()) {
            return Some(s.to_string());
        }
    }
    o.values().find_map(|a| a.get("S").and_then(|s| s.as_str()).map(str::to_string))
}

/// What a request is.
fn identify(r: &Request) -> Call {
    let service = r
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split(['/', ',']).nth(3))
        .unwrap_or("unknown")
        .to_string();
    let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
    let (op, detail) = if let Some(target) = r.header("x-amz-target") {
        let op = target.rsplit('.').next().unwrap_or(target).to_string();
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let detail = if let Some(table) = body.get("TableName").and_then(|t| t.as_str()) {
            let key = body.get("Key").or_else(|| body.get("Item")).and_then(dynamo_key);
            let index = body.get("IndexName").and_then(|i| i.as_str());
            [Some(table.to_string()), index.map(|i| format!("index={i}")), key].into_iter().flatten().collect::<Vec<_>>().join(" ")
        } else if let Some(items) = body.get("RequestItems").and_then(|i| i.as_object()) {
            items.keys().cloned().collect::<Vec<_>>().join(",")
        } else if let Some(id) = body.get("SecretId").and_then(|i| i.as_str()) {
            id.to_string()
        } else {
            String::new()
        };
        (op, detail)
    } else if let Some(action) = form_param(&r.body, "Action") {
        let detail = form_param(&r.body, "TopicArn").or_else(|| form_param(&r.body, "QueueUrl")).unwrap_or_default();
        (action, detail)
    } else if service == "s3" {
        let detail = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        (s3_op(&r.method, path, query, &r.headers).to_string(), detail.trim_start_matches('/').to_string())
    } else {
        (format!("{} {path}", r.method), query.to_string())
    };
    Call { op: format!("{service}:{op}"), service, detail, fault: None }
}

/// How the service asked speaks errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json,
    Query,
    RestXml,
}

fn protocol(r: &Request, call: &Call) -> Protocol {
    if r.header("x-amz-target").is_some() {
        Protocol::Json
    } else if call.service == "s3" {
        Protocol::RestXml
    } else {
        Protocol::Query
    }
}

/// The error answer of `fault` for `call`: (status, reason, headers, body).
fn error_response(fault: Fault, r: &Request, call: &Call) -> Vec<u8> {
    let (status, reason, code, message) = match fault {
        Fault::Throttling => (400, "Bad Request", "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
        Fault::ThroughputExceeded => (
            400,
            "Bad Request",
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        Fault::SlowDown => (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
        Fault::InternalError => {
            let code = match call.service.as_str() {
                "dynamodb" => "InternalServerError",
                "s3" | "sns" => "InternalError",
                _ => "InternalFailure",
            };
            (500, "Internal Server Error", code, "We encountered an internal error. Please try again.")
        }
        Fault::ServiceUnavailable => (503, "Service Unavailable", "ServiceUnavailable", "Service is unable to handle request."),
        Fault::Timeout | Fault::Reset | Fault::LostReply | Fault::Pause => unreachable!("not an answer"),
    };
    let request_id = "FAULTPROXY0000000001";
    let (content_type, body) = match protocol(r, call) {
        Protocol::Json => {
            let ns = if call.service == "dynamodb" { "com.amazonaws.dynamodb.v20120810#" } else { "" };
            let ct = r.header("content-type").unwrap_or("application/x-amz-json-1.0").to_string();
            (ct, serde_json::json!({"__type": format!("{ns}{code}"), "message": message}).to_string())
        }
        Protocol::Query => {
            let kind = if status >= 500 { "Receiver" } else { "Sender" };
            (
                "text/xml".to_string(),
                format!(
                    "<ErrorResponse xmlns=\"http://{svc}.amazonaws.com/doc/2010-03-31/\"><Error><Type>{kind}</Type><Code>{code}</Code>\
                     <Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                    svc = call.service
                ),
            )
        }
        Protocol::RestXml => (
            "application/xml".to_string(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
                 <RequestId>{request_id}</RequestId><HostId>faultproxy</HostId></Error>"
            ),
        ),
    };
    // A HEAD answer has no body (S3 answers errors of HeadObject with the status alone).
    let body = if r.method == "HEAD" { String::new() } else { body };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: {request_id}\r\n\
         x-amz-request-id: {request_id}\r\nx-amzn-ErrorType: {code}\r\n",
        body.len()
    );
    if r.wants_close() {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Forward `r` to moto on a connection of its own; moto's answer re-framed for the client.
fn forward(upstream: &str, r: &Request) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", r.method, r.target);
    for (k, v) in &r.headers {
        if !matches!(k.to_ascii_lowercase().as_str(), "connection" | "keep-alive" | "proxy-connection" | "expect") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&r.raw_body)?;
    conn.flush()?;
    let mut reader = BufReader::new(conn);
    let (status_line, headers) = loop {
        let Some(status_line) = read_line(&mut reader)? else { return Err(std::io::ErrorKind::UnexpectedEof.into()) };
        let headers = read_headers(&mut reader)?;
        // Skip interim answers.
        if !status_line.split_whitespace().nth(1).is_some_and(|s| s.starts_with('1')) {
            break (status_line, headers);
        }
    };
    let mut parts = status_line.trim_end().splitn(3, ' ');
    let _version = parts.next();
    let status = parts.next().unwrap_or("502").to_string();
    let reason = parts.next().unwrap_or("").to_string();
    let bodiless = r.method == "HEAD" || status == "204" || status == "304";
    let body = if bodiless { Vec::new() } else { read_body(&mut reader, &headers, true)?.1 };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in &headers {
        let lower = k.to_ascii_lowercase();
        if matches!(lower.as_str(), "connection" | "keep-alive" | "transfer-encoding") || (lower == "content-length" && !bodiless) {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !bodiless {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if r.wants_close() {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Decide what to do with a call: record it, count it in every rule that matches, and return
/// the fault of the first rule whose window it falls in.
fn decide(shared: &Shared, mut call: Call) -> (Option<Fault>, bool) {
    let mut s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    s.active += 1;
    s.last_activity = Some(Instant::now());
    if s.blackout {
        call.fault = Some("blackout");
        s.calls.push(call);
        return (Some(Fault::Reset), false);
    }
    let mut fault = None;
    for rule in s.rules.iter_mut() {
        if !(rule.matcher)(&call) {
            continue;
        }
        rule.seen += 1;
        if fault.is_none() && rule.seen >= rule.first && rule.seen < rule.first.saturating_add(rule.count) {
            rule.injected += 1;
            fault = Some(rule.fault);
        }
    }
    call.fault = fault.map(Fault::name);
    s.calls.push(call);
    let serialize = s.serialize;
    (fault, serialize)
}

fn done(shared: &Shared) {
    let mut s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    s.active = s.active.saturating_sub(1);
    s.last_activity = Some(Instant::now());
}

/// Hold until released (or [`MAX_HOLD`]).
fn hold(shared: &Shared) {
    let mut s = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    s.holding += 1;
    s.holds_started += 1;
    let generation = s.generation;
    let until = Instant::now() + MAX_HOLD;
    while s.generation == generation && Instant::now() < until {
        s = shared.released.wait_timeout(s, Duration::from_millis(200)).unwrap_or_else(|e| e.into_inner()).0;
    }
    s.holding -= 1;
}

/// One client connection: request after request (keep-alive).
fn serve(conn: TcpStream, shared: &Shared) {
    let Ok(mut out) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    loop {
        let request = match read_request(&mut reader, &mut out) {
            Ok(Some(r)) => r,
            _ => return,
        };
        let call = identify(&request);
        let (fault, serialize) = decide(shared, call.clone());
        let answer = match fault {
            None | Some(Fault::Pause) => {
                if fault == Some(Fault::Pause) {
                    hold(shared);
                }
                let _one_at_a_time = serialize.then(|| shared.forwarding.lock().unwrap_or_else(|e| e.into_inner()));
                forward(&shared.upstream, &request).ok()
            }
            Some(Fault::Timeout) => {
                hold(shared);
                None
            }
            Some(Fault::Reset) => None,
            Some(Fault::LostReply) => {
                let _one_at_a_time = serialize.then(|| shared.forwarding.lock().unwrap_or_else(|e| e.into_inner()));
                let _ = forward(&shared.upstream, &request);
                None
            }
            Some(f) => Some(error_response(f, &request, &call)),
        };
        let Some(answer) = answer else {
            let _ = out.shutdown(Shutdown::Both);
            done(shared);
            return;
        };
        let written = out.write_all(&answer).and_then(|_| out.flush());
        done(shared);
        if written.is_err() || request.wants_close() {
            let _ = out.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Operations in order with repeats folded: `dynamodb:GetItem×3, s3:PutObject, …`.
pub fn census_line(calls: &[Call]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in calls {
        match out.last_mut() {
            Some((op, n)) if *op == c.op => *n += 1,
            _ => out.push((c.op.clone(), 1)),
        }
    }
    out.iter().map(|(op, n)| if *n == 1 { op.clone() } else { format!("{op}×{n}") }).collect::<Vec<_>>().join(", ")
}

/// How many calls of each operation.
pub fn census_counts(calls: &[Call]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in calls {
        *out.entry(c.op.clone()).or_insert(0) += 1;
    }
    out
}

/// Ask moto to forget everything (`POST /moto-api/reset`), directly (not through a proxy).
pub fn reset_moto(endpoint: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).expect("connect to moto");
    s.write_all(format!("POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("send reset");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read reset answer");
    assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "moto reset: {answer}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            raw_body: body.as_bytes().to_vec(),
            body: body.as_bytes().to_vec(),
        }
    }

    const DDB: &str = "AWS4-HMAC-SHA256 Credential=testing/20261120/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";
    const S3: &str = "AWS4-HMAC-SHA256 Credential=testing/20261120/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    const SNS: &str = "AWS4-HMAC-SHA256 Credential=testing/20261120/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0";

    #[test]
    fn operations_are_named() {
        let c = identify(&req(
            "POST",
            "/",
            &[("Authorization", DDB), ("X-Amz-Target", "DynamoDB_20120810.PutItem")],
            r#"{"TableName":"t","Item":{"fingerprint":{"S":"ledger#quiet#x"}}}"#,
        ));
        assert_eq!((c.op.as_str(), c.detail.as_str()), ("dynamodb:PutItem", "t ledger#quiet#x"));
        let c = identify(&req("POST", "/", &[("Authorization", SNS)], "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At"));
        assert_eq!((c.op.as_str(), c.detail.as_str()), ("sns:Publish", "arn:aws:sns:us-east-1:1:t"));
        let s3 = |m: &str, t: &str| identify(&req(m, t, &[("Authorization", S3)], "")).op;
        assert_eq!(s3("GET", "/b?list-type=2&prefix=x"), "s3:ListObjectsV2");
        assert_eq!(s3("GET", "/b/k/x.json?versionId=1"), "s3:GetObject");
        assert_eq!(s3("GET", "/b?versions&prefix=k"), "s3:ListObjectVersions");
        assert_eq!(s3("HEAD", "/b/k"), "s3:HeadObject");
        assert_eq!(s3("PUT", "/b/k"), "s3:PutObject");
        assert_eq!(s3("PUT", "/b/k?retention"), "s3:PutObjectRetention");
        assert_eq!(s3("PUT", "/b"), "s3:CreateBucket");
        assert_eq!(percent_decode("a%3Ab+c%"), "a:b c%");
    }
}
