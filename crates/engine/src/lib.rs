//! driftwatch-engine: the use cases, written once, for the CLI and the Lambdas.
//!
//! Generic over ports, with no SDK, no file and no clock of its own: the caller passes the
//! documents, the bytes behind object events and the time.
//!
//! * [`replay`]: a stream of trigger documents through decode → detectors with in-memory
//!   detector memory (`driftwatch replay`, the events/ tests).

pub mod replay;
