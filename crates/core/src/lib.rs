//! driftwatch-core: the pure domain of driftwatch.
//!
//! Nothing in this crate performs I/O, reads a clock, spawns a task or talks to AWS:
//! callers hand it bytes and values and get values back. See ARCHITECTURE.md.
//!
//! Flow: state bytes → [`state::parse_state`] → [`index::ManagedIndex`];
//! live configuration items → [`live::LiveInventory`]; both → [`drift::scan`] →
//! [`finding::Finding`]s.

pub mod address;
pub mod alert;
pub mod asff;
pub mod backfill;
pub mod catalog;
pub mod detect;
pub mod drift;
pub mod evidence;
pub mod exceptions;
pub mod finding;
pub mod glob;
pub mod heard;
pub mod import;
pub mod index;
pub mod lifecycle;
pub mod live;
pub mod normalize;
pub mod path;
pub mod place;
pub mod policy;
pub mod ports;
pub mod redact;
pub mod report;
pub mod signal;
pub mod state;

pub use catalog::Catalog;
pub use finding::{Finding, Rule, Severity};
pub use redact::Redactor;
