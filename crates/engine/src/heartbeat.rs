//! The sweeper's side of the heartbeat (`crates/core/src/detect/self_defence.rs`): each run
//! tags the heartbeat topic, and the watchers note each heartbeat they see in the ledger
//! ([`note_heartbeat`](crate::signal::note_heartbeat)). [`hear`] compares the two: a watcher
//! that has seen none for `silent_after_minutes` is `watcher.silent` (one open finding per
//! silence, one alert), resolved by the first run after a heartbeat gets through again.
//!
//! Ledger items (kind `heartbeat`): `sent` — when the first heartbeat was sent; `<observer>` —
//! the send time of the newest heartbeat that watcher saw.

use crate::ports::{Ports, Retry};
use crate::record::{record, resolve, Recorded};
use crate::signal::HEARTBEAT;
use chrono::{DateTime, Utc};
use driftwatch_core::detect::self_defence::{self, Hearing};
use driftwatch_core::lifecycle::{Resolution, Resolve};
use driftwatch_core::ports::Ledger;
use driftwatch_core::Finding;
use serde::Serialize;

/// What one observer has heard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heard {
    pub observer: String,
    /// The send time of the newest heartbeat it saw.
    pub last_seen: Option<DateTime<Utc>>,
    pub silent: bool,
}

async fn time(ports: &impl Ports, key: &str) -> Result<Option<DateTime<Utc>>, Retry> {
    Ok(ports.ledger().get(HEARTBEAT, key).await?.and_then(|v| serde_json::from_value(v).ok()))
}

/// Each observer's hearing as of `now`: `watcher.silent` recorded for the silent ones, and
/// resolved for the others.
pub async fn hear(ports: &impl Ports, now: DateTime<Utc>) -> Result<(Vec<Heard>, Vec<Finding>, Recorded), Retry> {
    let w = &ports.policy().watcher;
    let first = time(ports, "sent").await?;
    let mut heard = Vec::new();
    let mut silent = Vec::new();
    let mut resolves = Vec::new();
    for observer in w.observers() {
        let last_seen = time(ports, &observer).await?;
        let h = self_defence::hearing(&observer, first, last_seen, now, w, ports.catalog());
        heard.push(Heard { observer: observer.clone(), last_seen, silent: matches!(h, Hearing::Silent(_)) });
        match h {
            Hearing::TooEarly => {}
            Hearing::Heard { fingerprint } => resolves.push(Resolve { fingerprint, reason: Resolution::LiveMatches, at: now }),
            Hearing::Silent(f) => {
                tracing::error!(observer = %observer, last_seen = ?last_seen, "watcher.silent: no heartbeat seen");
                silent.push(*f);
            }
        }
    }
    let mut recorded = record(ports, silent.clone(), now).await?;
    recorded += resolve(ports, resolves, now).await?;
    Ok((heard, silent, recorded))
}

/// Note that a heartbeat was sent at `at` (the first one only: silence is counted from it).
pub async fn sent(ports: &impl Ports, at: DateTime<Utc>) -> Result<(), Retry> {
    if time(ports, "sent").await?.is_none() {
        ports.ledger().put(HEARTBEAT, "sent", &serde_json::json!(at)).await?;
    }
    Ok(())
}
