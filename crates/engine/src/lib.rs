//! driftwatch-engine: the use cases, written once, for the CLI and the Lambdas.
//!
//! Generic over the core's ports (`driftwatch_core::ports`), with no SDK, no file and no clock
//! of its own: the caller passes the adapters ([`Ports`]), the documents and the time.
//!
//! * [`signal`]: `on_signal` (one decoded signal through its detector, against the index
//!   slice and ledger items it needs) and `watch` (a batch, recorded).
//! * [`state_write`]: `on_state_write`, one state write checked and recorded as evidence.
//! * [`reconcile`]: one indexed state against its live configuration, recorded.
//! * [`record`]: findings → exceptions → lifecycle record, evidence and one alert.
//! * [`locks`]: `sweep_locks`, the stale-lock sweep, and held locks read from a lock table
//!   item or a `.tflock` object.
//! * [`memory`]: the detectors' memory, loaded from the ledger for one signal and written back.
//! * [`replay`]: a stream of trigger documents through decode → detectors with in-memory
//!   detector memory (`driftwatch replay`, the events/ tests).
//! * [`seal`]: the scheduled seal of the evidence not yet covered by a digest.
//! * [`in_memory`]: every port in memory (unit tests, runs without AWS).

pub mod heartbeat;
pub mod in_memory;
pub mod locks;
pub mod memory;
pub mod ports;
pub mod reconcile;
pub mod record;
pub mod replay;
pub mod seal;
pub mod signal;
pub mod state_write;

pub use ports::{Ports, Retry};
pub use record::{record, resolve, write_evidence, Recorded};
pub use signal::{detect_signal, on_signal, watch, watch_document, Detected, Outcome};
