//! Local adapters: what the CLI, the tests and the benchmarks read from files, for the
//! engine's use cases (which do no I/O themselves).
//!
//! * [`events`]: trigger event files (`*.json`, `*.json.gz`, `*.jsonl[.gz]`) and the
//!   `V.tfstate` / `V.tflock` version files beside them, fed to the engine's replay.

pub mod events;
