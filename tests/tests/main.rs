//! The integration and end-to-end tests of driftwatch, in one test binary (linking the AWS SDK
//! once instead of once per file): architecture rules, real Terraform addresses, the events/
//! cases, the AWS adapters on moto server, the `infra/` Terraform, the HTML report in headless
//! Chromium and the six functions (in process and under `cargo lambda watch`). Each file of
//! `tests/tests/` is a module here.
//!
//! Run all of it with `cargo test -p driftwatch-tests --test suite`, one part by its module
//! path, e.g. `cargo test -p driftwatch-tests --test suite lambda_e2e::`.
//!
//! The modules' tests run in parallel threads of one process: none may change process-wide
//! state (`std::env::set_var`, `set_current_dir`; a child process gets its environment through
//! `Command::env`), and the names given to `scratch`, `Moto::start` and
//! `CargoLambdaWatch::start` must be unique across the whole suite (their directories are
//! keyed by that name and the process id, which all modules share).

mod architecture;
mod concurrency;
mod config_live;
mod config_proxy;
mod dynamo_index;
mod dynamo_resource_index;
mod events;
mod evidence_s3;
mod exceptions_table;
mod fault_matrix;
mod import_blocks;
mod infra;
mod lambda_e2e;
mod lambda_reconcile;
mod lambda_scenarios;
mod notify_sns;
mod report_browser;
mod report_s3;
mod secret_corpus_moto;
mod state_s3_terraform;
mod terraform_addresses;
