//! Warm invocations of the trail watcher through the Lambda runtime API: moto server, the
//! functions' deployment on it (tables, evidence bucket, topics; the sample states indexed),
//! `cargo lambda watch --release`, then `cargo lambda invoke trail-watcher` with
//! `events/trail-watcher/console-edit/event.json` N times (after one cold invocation that is
//! not counted).
//!
//! By default each invocation is a distinct CloudTrail event (its own event id and a time one
//! second later than the previous one, the same console edit otherwise), so each is an index
//! lookup, a new evidence record written and the finding's record updated (`last_seen`,
//! occurrences); the alert is published once, on the first (an open finding alerts once).
//! `--replay` sends the identical event every time instead: a redelivery, which the
//! pipeline answers from the findings table without writing anything.
//!
//! ```sh
//! cargo run --release -p driftwatch-benches --bin bench-lambda-invoke -- --invocations 1000 [--replay]
//! ```
//!
//! The time of one invocation is the wall time of `cargo lambda invoke` (its own process
//! start included), so it is an upper bound of the function's warm latency; the emulator's
//! log of the function's `duration` is not used. Needs `cargo-lambda` and `moto_server`
//! (`bash .ci/test` installs both into `.venv`). Exits 1 when any invocation fails.

#![recursion_limit = "256"]

use driftwatch_tests::deployment::Deployment;
use driftwatch_tests::{workspace_root, CargoLambdaWatch, Moto};
use std::time::Duration;

fn main() -> std::process::ExitCode {
    let mut invocations = 1000usize;
    let mut replay = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--replay" => replay = true,
            "--invocations" => match it.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => invocations = n,
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let Some(moto) = Moto::start("bench-lambda-invoke") else { return std::process::ExitCode::from(2) };
    let deployed = Deployment::create(&moto);
    let indexed = deployed.seed_index();
    let vars = [
        ("DRIFTWATCH_REDACTION_SALT", driftwatch_tests::deployment::REDACTION_SALT),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", Moto::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", Moto::SECRET_KEY),
        ("AWS_REGION", Moto::REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("DRIFTWATCH_LOG", "warn"),
    ];
    let Some(watch) = CargoLambdaWatch::start_with("bench-lambda-invoke", &["--release"], &vars) else {
        return std::process::ExitCode::from(2);
    };
    let event = workspace_root().join("events/trail-watcher/console-edit/event.json");
    println!("trail-watcher warm invocations through cargo lambda watch --release on moto ({indexed} index entries)");
    let cold = watch.invoke("trail-watcher", &event);
    println!(
        "first (cold, includes the build check and process start): {:.1} ms, success={}",
        cold.elapsed.as_secs_f64() * 1e3,
        cold.success
    );
    if !cold.success {
        eprintln!("the trail watcher failed:\nstdout: {}\nstderr: {}", cold.stdout.trim(), cold.stderr.trim());
        return std::process::ExitCode::FAILURE;
    }
    let template: serde_json::Value = match std::fs::read(&event).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
        Some(v) => v,
        None => {
            eprintln!("cannot read {}", event.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let base = chrono::DateTime::parse_from_rfc3339(template["detail"]["eventTime"].as_str().unwrap_or("2026-11-20T09:14:02Z"))
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    let scratch = driftwatch_tests::scratch("bench-lambda-invoke");
    let mut times: Vec<Duration> = Vec::with_capacity(invocations);
    let mut failures = 0usize;
    let mut first_failure = None;
    let mut totals = [0u64; 3];
    for i in 0..invocations {
        let payload = if replay {
            event.clone()
        } else {
            // A distinct event: its own ids and time, otherwise the same console edit.
            let mut e = template.clone();
            let at = (base + chrono::Duration::seconds(i as i64 + 1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
            e["id"] = serde_json::json!(format!("bench-{i:08}"));
            e["time"] = serde_json::json!(at);
            e["detail"]["eventTime"] = serde_json::json!(at);
            e["detail"]["eventID"] = serde_json::json!(format!("00000000-0000-4000-8000-{i:012}"));
            let file = scratch.join(format!("event-{}.json", i % 2));
            if std::fs::write(&file, e.to_string()).is_err() {
                eprintln!("cannot write {}", file.display());
                return std::process::ExitCode::FAILURE;
            }
            file
        };
        let got = watch.invoke("trail-watcher", &payload);
        if got.success {
            times.push(got.elapsed);
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(got.stdout.trim()) {
                for (n, k) in ["changed", "evidence", "alerts"].iter().enumerate() {
                    totals[n] += v["recorded"][*k].as_u64().unwrap_or(0);
                }
            }
        } else {
            failures += 1;
            first_failure.get_or_insert(format!("{} {}", got.stdout.trim(), got.stderr.trim()));
        }
    }
    if let Some(f) = first_failure {
        eprintln!("{failures} of {invocations} invocations failed; first: {f}");
    }
    if times.is_empty() {
        return std::process::ExitCode::FAILURE;
    }
    times.sort();
    let pick = |p: f64| times[(((times.len() - 1) as f64) * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{} ({}): records changed {}, evidence records written {}, alerts published {}",
        if replay { "replays of one event" } else { "distinct events" },
        invocations,
        totals[0],
        totals[1],
        totals[2]
    );
    println!(
        "{} warm invocations: min {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        times.len(),
        pick(0.0),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    if failures > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn usage() -> std::process::ExitCode {
    eprintln!("usage: bench-lambda-invoke [--invocations N] [--replay]");
    std::process::ExitCode::from(2)
}
