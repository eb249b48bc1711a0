//! `driftwatch controls`: the control catalog — which weakened safeguards driftwatch reports,
//! from which signals, under which HIPAA / NIST 800-53 / CIS AWS controls.

use anyhow::Result;
use driftwatch_core::detect::controls::{self, Controls};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct ControlsArgs {
    /// `summary`: families × rows × signals; `rows`: every control (Markdown tables, as in the
    /// README); `json`: every control with its signals and mappings
    #[arg(long, value_enum, default_value_t = Format::Summary)]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Summary,
    Rows,
    Json,
}

/// Print the catalog. Never "findings": exit 0.
pub fn run(args: ControlsArgs) -> Result<bool> {
    let c = Controls::builtin();
    match args.format {
        Format::Summary => print!("{}", controls::summary_markdown(c)),
        Format::Rows => print!("{}", controls::rows_markdown(c)),
        Format::Json => {
            let rows: Vec<serde_json::Value> = c
                .rows()
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "rule": r.rule().id(),
                        "title": r.title,
                        "severity": r.severity.unwrap_or(r.rule().default_severity()),
                        "resource_type": r.config_type,
                        "signals": r.signals(),
                        "calls": r.call.iter().map(|s| json!({"source": s.source, "names": s.names, "root": s.root})).collect::<Vec<_>>(),
                        "terraform_types": r.terraform.iter().map(|t| t.terraform_type.clone()).collect::<Vec<_>>(),
                        "controls": r.frameworks(),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
    }
    Ok(false)
}
