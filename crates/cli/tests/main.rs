//! The end-to-end tests of the `driftwatch` binary, in one test binary (each file here a
//! module): scan on files, evidence, exceptions, replay, report, alerts, and scan on moto.
//!
//! Run all of it with `cargo test -p driftwatch --test suite`, one part by its module path,
//! e.g. `cargo test -p driftwatch --test suite evidence::`.
//!
//! The modules' tests run in parallel threads of one process: none may change process-wide
//! state (`std::env::set_var`, `set_current_dir`; the binary gets its environment through
//! `Command::env`), and scratch directories must have names unique across the suite
//! (`support::scratch` keys them by a per-file prefix, the name and the process id, which
//! all modules share).

mod alerts;
mod cli;
mod evidence;
mod exceptions;
mod replay;
mod report;
mod scan_aws;
mod support;
