//! driftwatch-lambda: the handlers of the six functions, behind thin mains (`functions/*`).
//!
//! * [`env`]: configuration from environment variables, validated at cold start.
//! * [`adapters`]: the clients and adapters, built once per process from the standard AWS
//!   configuration (`AWS_ENDPOINT_URL` points everything at moto in the tests).
//! * [`grants`]: what each function may call (the IAM its role needs), from the adapters it
//!   is wired with.
//! * [`handlers`]: one module per function; each decodes the event payload, calls the
//!   engine's use cases (`driftwatch_engine`) over [`Adapters`] (its ports) and returns the
//!   response. An invalid event is recorded (`input.invalid` evidence) and acknowledged; a
//!   transient AWS error is returned as an error so the platform retries.
//! * [`runtime`]: the loop the mains call — JSON logs, configuration, clients, then
//!   `lambda_runtime::run`.

/// Every function (and every binary that links this crate: the test suite, the benchmarks)
/// allocates with mimalloc: the state path builds and drops many small values, and it reads a
/// state about a sixth faster than with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod adapters;
pub mod env;
pub mod grants;
pub mod handlers;
pub mod invocation;
pub mod runtime;

pub use adapters::Adapters;
pub use env::{Env, EnvError, Function};
pub use handlers::{handle, HandlerError, Invocation};
