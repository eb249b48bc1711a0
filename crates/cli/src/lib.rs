//! Library half of the `driftwatch` CLI: the local adapters the binary (and the benchmarks)
//! share. The binary's commands live in `main.rs` and its modules.

pub mod evidence;
