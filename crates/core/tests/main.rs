//! The integration tests of `driftwatch-core`, in one test binary (each file here a module):
//! the catalog rows, the four detectors (CloudTrail, Config, state writes, locks), alerts,
//! ASFF, exceptions, the findings lifecycle, the report, secrets, and the property tests.
//!
//! Run all of it with `cargo test -p driftwatch-core --test suite`, one part by its module
//! path, e.g. `cargo test -p driftwatch-core --test suite detect_cloudtrail::`.
//!
//! The modules' tests run in parallel threads of one process: none may change process-wide
//! state (`std::env::set_var`, `set_current_dir`).

mod alert;
mod asff;
mod catalog_pairs;
mod catalog_rows;
mod detect_cloudtrail;
mod detect_config;
mod detect_lock;
mod detect_state;
mod exceptions;
mod lifecycle;
mod places;
mod properties;
mod report;
mod secret_corpus;
mod secrets;
mod support;
