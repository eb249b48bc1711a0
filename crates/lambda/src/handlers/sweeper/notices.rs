//! The sweeper's exception expiry notices: plan the notices due (the core's thresholds, 14, 7
//! and 1 days and on expiry) against the ledger kept on each exception item, publish each to
//! the notices topic (message attributes `exception`, `threshold`, `owner` for subscription
//! filters), record it on its exception item, and write it as `notice` evidence. The sweeper
//! runs with reserved concurrency 1, so a notice is sent once; a run that fails between
//! publishing and recording sends that one notice again on its retry (at least once).

use super::super::{transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use driftwatch_core::evidence::Record;
use driftwatch_core::exceptions::{self, Notice, DEFAULT_THRESHOLDS};
use serde_json::{json, Value};
use tracing::info;

fn subject(n: &Notice) -> String {
    let s = format!(
        "[driftwatch] exception {} {}",
        n.exception,
        if n.days_left == 0 { "expired".to_string() } else { format!("expires in {} day(s)", n.days_left) }
    );
    s.chars().take(100).collect()
}

async fn publish(adapters: &Adapters, n: &Notice) -> Result<(), HandlerError> {
    let Some(topic) = &adapters.notices else { return Ok(()) };
    let owner = n.owner.email.clone().or_else(|| n.owner.sns_topic.clone()).unwrap_or_else(|| "unknown".into());
    let body = format!(
        "{}\n\nException: {}\nTicket: {}\nOwner: {}\nReason: {}\nExpires: {}\n",
        n.message,
        n.exception,
        n.ticket,
        owner,
        n.reason,
        n.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let threshold = n.threshold.key();
    let attributes = [("exception", n.exception.as_str()), ("threshold", threshold.as_str()), ("owner", owner.as_str())];
    topic.publish_text(&subject(n), &body, &attributes).await.map_err(|e| transient(format!("notices topic: {e}")))?;
    Ok(())
}

pub async fn run(adapters: &Adapters, inv: &Invocation) -> Result<Value, HandlerError> {
    let ex = driftwatch_core::ports::ExceptionSource::load(&adapters.exceptions, &adapters.env.policy.exceptions).await?;
    let sent = adapters.exceptions.sent_notices().await.map_err(transient)?;
    let due = exceptions::notices(&ex, inv.now, &DEFAULT_THRESHOLDS, &sent);
    let mut out = Vec::new();
    for n in &due {
        publish(adapters, n).await?;
        adapters.exceptions.record_notices(std::slice::from_ref(n)).await.map_err(transient)?;
        let body = serde_json::to_value(n).map_err(transient)?;
        driftwatch_engine::write_evidence(&adapters.evidence, &Record { kind: "notice".into(), time: inv.now, body }, inv.now).await?;
        info!(exception = %n.exception, threshold = %n.threshold.key(), "exception notice sent");
        out.push(json!({"exception": n.exception, "threshold": n.threshold.key()}));
    }
    Ok(json!({"sent": out.len(), "notices": out}))
}
