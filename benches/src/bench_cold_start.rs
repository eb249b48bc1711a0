//! Cold-start proxy of the six functions: the time from spawning a function's release binary
//! to its first `GET /2018-06-01/runtime/invocation/next`, the moment it starts polling the
//! Lambda runtime API (configuration validated, clients built, `ready` logged).
//!
//! The bench is the runtime API: a loopback listener given to the function as
//! `AWS_LAMBDA_RUNTIME_API`. Each start is a fresh process with the function's variables
//! (the local deployment of `functions/<name>/Cargo.toml`, a redaction salt, static dummy credentials, and an
//! `AWS_ENDPOINT_URL` nothing listens on, so any AWS call at init would show as an error).
//!
//! ```sh
//! cargo build --release -p state-watcher -p trail-watcher -p config-watcher -p lock-watcher -p sweeper -p reporter
//! cargo run --release -p driftwatch-benches --bin bench-cold-start -- --starts 20
//! ```
//!
//! Options: `--starts N` (default 20), `--bin-dir DIR` (default `$CARGO_TARGET_DIR/release`, else `target/release`),
//! `--function NAME` (repeatable; default all six). Goal: p50 ≤ 50 ms.

#![recursion_limit = "256"]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FUNCTIONS: [&str; 6] = ["state-watcher", "trail-watcher", "config-watcher", "lock-watcher", "sweeper", "reporter"];
const NEXT: &str = "GET /2018-06-01/runtime/invocation/next";

struct Args {
    starts: usize,
    bin_dir: PathBuf,
    functions: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).ok_or("no workspace root")?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let mut args = Args { starts: 20, bin_dir: target.join("release"), functions: Vec::new() };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--starts" => args.starts = value()?.parse().map_err(|e| format!("--starts: {e}"))?,
            "--bin-dir" => args.bin_dir = PathBuf::from(value()?),
            "--function" => args.functions.push(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.functions.is_empty() {
        args.functions = FUNCTIONS.iter().map(|f| f.to_string()).collect();
    }
    if args.starts == 0 {
        return Err("--starts must be at least 1".into());
    }
    Ok(args)
}

/// The function's variables from its manifest's `[package.metadata.lambda.env]`.
fn metadata_env(function: &str) -> Vec<(String, String)> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions").join(function).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_default();
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[package.metadata.lambda.env]";
        } else if inside {
            if let Some((k, v)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                out.push((k.trim().to_string(), v.trim().trim_matches('"').to_string()));
            }
        }
    }
    out
}

/// One start: spawn → first `GET …/invocation/next`. Returns (spawn-to-poll, the `ready_ms`
/// the function logged).
fn one_start(bin: &Path, function: &str, env: &[(String, String)], dead_endpoint: &str) -> Result<(Duration, Option<u64>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let api = listener.local_addr().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", dead_endpoint)
        .env("DRIFTWATCH_REDACTION_SALT", "bench-cold-start-salt")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let stdout = child.stdout.take();
    let logs = std::thread::spawn(move || {
        let mut ready = None;
        let mut lines = Vec::new();
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if v["message"] == "ready" {
                        ready = v["ready_ms"].as_u64();
                    }
                }
                lines.push(line);
            }
        }
        (ready, lines)
    });
    let polled = wait_for_next(&listener, &mut child, started);
    let elapsed = started.elapsed();
    let _ = child.kill();
    let status = child.wait().ok();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let (ready, lines) = logs.join().unwrap_or((None, Vec::new()));
    match polled {
        Ok(()) => Ok((elapsed, ready)),
        Err(e) => Err(format!("{function}: {e} (exit {status:?}); stdout: {}; stderr: {}", lines.join(" | "), stderr.trim())),
    }
}

/// Accept connections until one is the runtime's `next` poll; fail when the child exits or
/// 30 s pass.
fn wait_for_next(listener: &TcpListener, child: &mut Child, started: Instant) -> Result<(), String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if String::from_utf8_lossy(&head).starts_with(NEXT) {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("exited with {status} before polling the runtime API"));
                }
                if started.elapsed() > Duration::from_secs(30) {
                    return Err("no poll within 30 s".into());
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-cold-start: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // A port nothing listens on: an AWS call during init fails at once instead of waiting.
    let dead_endpoint = {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9);
        format!("http://127.0.0.1:{port}")
    };
    println!(
        "cold start: spawn → first GET /2018-06-01/runtime/invocation/next, {} starts each (+1 warm-up), binaries in {}",
        args.starts,
        args.bin_dir.display()
    );
    println!("{:<16} {:>8} {:>8} {:>8} {:>14} {:>10}", "function", "min ms", "p50 ms", "max ms", "ready_ms p50", "size MB");
    let mut failed = false;
    for function in &args.functions {
        let bin = args.bin_dir.join(function);
        if !bin.is_file() {
            eprintln!("{}: missing; build it with cargo build --release -p {function}", bin.display());
            failed = true;
            continue;
        }
        let env = metadata_env(function);
        let mut times = Vec::new();
        let mut readies = Vec::new();
        let mut error = None;
        for i in 0..=args.starts {
            match one_start(&bin, function, &env, &dead_endpoint) {
                Ok((t, ready)) if i > 0 => {
                    times.push(t);
                    readies.extend(ready);
                }
                Ok(_) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = error {
            eprintln!("{e}");
            failed = true;
            continue;
        }
        times.sort();
        readies.sort();
        let size = std::fs::metadata(&bin).map(|m| m.len() as f64 / 1_048_576.0).unwrap_or(0.0);
        let ready = readies.get(readies.len() / 2).map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        println!(
            "{:<16} {:>8} {:>8} {:>8} {:>14} {:>10.1}",
            function,
            ms(times[0]),
            ms(percentile(&times, 0.5)),
            ms(times[times.len() - 1]),
            ready,
            size
        );
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
