//! The config-watcher Lambda: configuration, clients and handler live in `driftwatch-lambda`.

fn main() -> std::process::ExitCode {
    driftwatch_lambda::runtime::run(driftwatch_lambda::Function::ConfigWatcher)
}
