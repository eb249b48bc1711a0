//! What a use case is handed: the core's ports, bundled ([`Ports`]), and the one error a use
//! case returns ([`Retry`]).

use driftwatch_core::catalog::Catalog;
use driftwatch_core::policy::Policy;
use driftwatch_core::ports::{AlertSink, EvidenceWriter, ExceptionSource, FindingStore, IndexLookup, Ledger, PortError};
use driftwatch_core::redact::Redactor;

/// The adapters and settings the use cases run with: the Lambdas' (AWS adapters, built once
/// per process) or the in-memory ones ([`crate::in_memory::InMemoryPorts`]).
pub trait Ports: Sync {
    type Index: IndexLookup;
    type Ledger: Ledger;
    type Exceptions: ExceptionSource;
    type Findings: FindingStore;
    type Evidence: EvidenceWriter;
    type Alerts: AlertSink;

    fn index(&self) -> &Self::Index;
    /// The detectors' memory.
    fn ledger(&self) -> &Self::Ledger;
    fn exceptions(&self) -> &Self::Exceptions;
    fn findings(&self) -> &Self::Findings;
    fn evidence(&self) -> &Self::Evidence;
    /// Where alerts go; `None`: nowhere (no topic configured).
    fn alerts(&self) -> Option<&Self::Alerts>;
    fn catalog(&self) -> &Catalog;
    fn policy(&self) -> &Policy;
    fn redactor(&self) -> &Redactor;
    /// The places and days this process already recorded as heard (`heard` evidence), so a
    /// warm function writes each once; `None`: no memory, every batch writes its own (the
    /// records are the same, write-once).
    fn heard(&self) -> Option<&std::sync::Mutex<std::collections::HashSet<driftwatch_core::heard::Heard>>> {
        None
    }
}

/// A use case that could not finish: a port failed (a transient AWS error, a write that kept
/// losing to concurrent writers). The caller fails the invocation so the platform retries it;
/// everything written so far is idempotent. Invalid input is never a `Retry`: it becomes an
/// `input.invalid` finding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Retry(pub String);

impl From<PortError> for Retry {
    fn from(e: PortError) -> Self {
        Retry(e.to_string())
    }
}
