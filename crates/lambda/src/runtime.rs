//! The runtime loop of every function: JSON logs (stable keys, no secrets), configuration
//! validated at cold start, clients built once, then the Lambda runtime API loop.

use crate::adapters::Adapters;
use crate::env::{Env, Function};
use crate::handlers::{self, Invocation};
use chrono::{DateTime, TimeZone, Utc};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::process::ExitCode;
use std::sync::Arc;
use tracing::Instrument;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Install the JSON log subscriber: one JSON object per line on stdout (CloudWatch Logs),
/// keys `timestamp`, `level`, `message` and the event's fields; lines logged while handling an
/// invocation also carry `span` = `{"name": "invocation", "function", "request_id"}`, and the
/// cold-start lines carry `function` themselves. `DRIFTWATCH_LOG`
/// (`error` … `trace`, default `info`) sets the level of driftwatch's own targets; the SDK's
/// are kept at `warn`.
pub fn init_logging() {
    let level = match std::env::var("DRIFTWATCH_LOG").ok().as_deref().map(str::trim) {
        Some("error") => LevelFilter::ERROR,
        Some("warn") => LevelFilter::WARN,
        Some("debug") => LevelFilter::DEBUG,
        Some("trace") => LevelFilter::TRACE,
        _ => LevelFilter::INFO,
    };
    let filter = Targets::new()
        .with_target("driftwatch_lambda", level)
        .with_target("driftwatch_aws", level)
        .with_target("driftwatch_core", level)
        .with_target("driftwatch_decode", level)
        .with_default(LevelFilter::WARN);
    let fmt = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .with_max_level(LevelFilter::TRACE);
    let _ = fmt.finish().with(filter).try_init();
}

fn deadline_of(ctx: &lambda_runtime::Context) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ctx.deadline as i64).single()
}

/// Run `function`: the whole life of the process. Returns a failure exit code when the cold
/// start fails (missing or malformed configuration), after logging the error naming the
/// variable — the platform reports it as an init error.
pub fn run(function: Function) -> ExitCode {
    init_logging();
    let started = std::time::Instant::now();
    let env = match Env::from_env(function) {
        Ok(env) => env,
        Err(e) => {
            tracing::error!(function = function.name(), error = %e, "configuration error at cold start");
            eprintln!("{e}");
            return ExitCode::from(78);
        }
    };
    if let crate::env::Clock::Fixed(t) = env.clock {
        tracing::warn!(function = function.name(), now = %t, "the clock is pinned (DRIFTWATCH_NOW): for tests only");
    }
    let clock = env.clock;
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(function = function.name(), error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let adapters = Arc::new(Adapters::connect(env).await.map_err(|e| e.to_string())?);
        tracing::info!(function = function.name(), ready_ms = started.elapsed().as_millis() as u64, "ready");
        let service = service_fn(move |event: LambdaEvent<Value>| {
            let adapters = adapters.clone();
            let span = tracing::info_span!("invocation", function = function.name(), request_id = %event.context.request_id);
            async move {
                let inv = Invocation {
                    now: clock.now(),
                    deadline: deadline_of(&event.context),
                    request_id: event.context.request_id.clone(),
                    account: account_of(&event.context.invoked_function_arn),
                };
                let result = handlers::handle(&adapters, event.payload, &inv).await;
                if let Err(e) = &result {
                    tracing::error!(error = %e, "invocation failed; the platform retries it");
                }
                result.map_err(lambda_runtime::Error::from)
            }
            .instrument(span)
        });
        lambda_runtime::run(service).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(function = function.name(), error = %e, "function stopped");
            ExitCode::FAILURE
        }
    }
}

/// The account of the function's ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
fn account_of(function_arn: &str) -> Option<String> {
    driftwatch_core::place::Place::of_arn(function_arn).account.map(str::to_string)
}
