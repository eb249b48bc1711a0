//! `driftwatch import`: Terraform ≥ 1.5 `import` blocks, with a minimal `resource` block each,
//! for the `drift.unmanaged` findings of a scan (their `import` field), written from the live
//! configuration items the scan read. Secrets are never copied: a redacted or sensitive value
//! is a `# set me` comment.

use anyhow::{bail, Context, Result};
use driftwatch_core::catalog::Catalog;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::{Finding, Redactor, Rule};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  driftwatch scan --state states/ --live live/ --out out/\n  driftwatch import --findings out/findings.json --live live/ --out imports.tf\n  terraform fmt -check imports.tf && terraform plan   # review every value first"
)]
pub struct ImportArgs {
    /// Findings of a scan: its `--out DIR/findings.json`, or `--format json` output
    #[arg(long, value_name = "FILE")]
    findings: PathBuf,
    /// The live configuration the scan read (AWS Config items: file or directory, repeatable);
    /// without it the resource blocks are left empty
    #[arg(long, value_name = "FILE|DIR")]
    live: Vec<PathBuf>,
    /// Write the blocks here instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Write the blocks. Never "findings": exit 0.
pub fn run(args: ImportArgs) -> Result<bool> {
    let catalog = Catalog::builtin();
    // Values the redactor digests are only ever shown as `# set me`: no salt is needed.
    let redactor = Redactor::new(b"driftwatch-import");
    let text = std::fs::read(&args.findings).with_context(|| args.findings.display().to_string())?;
    let findings: Vec<Finding> = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a JSON array of findings (scan --out DIR/findings.json)", args.findings.display()))?;
    let mut inventory = LiveInventory::default();
    for arg in &args.live {
        for path in crate::inputs::expand(arg, crate::inputs::is_live_file, "live configuration files (*.json, *.json.gz)")? {
            let bytes = crate::inputs::read(&path)?;
            let (items, errors) = live::parse_document(&bytes, &redactor).with_context(|| path.display().to_string())?;
            for e in &errors {
                eprintln!("warning: {}: {e}", path.display());
            }
            for it in items {
                inventory.insert(it);
            }
        }
    }
    let mut blocks = Vec::new();
    let mut skipped = 0;
    for f in findings.iter().filter(|f| f.rule == Rule::DriftUnmanaged) {
        let (Some(hint), Some(spec)) = (&f.import, catalog.primary_for_config_type(&f.resource.resource_type)) else {
            skipped += 1;
            continue;
        };
        let item = inventory.get(&f.resource.resource_type, &f.resource.id);
        if item.is_none() && !args.live.is_empty() {
            eprintln!("warning: no live item for {} {}: its resource block is empty", f.resource.resource_type, f.resource.id);
        }
        blocks.push((hint, spec, item));
    }
    if blocks.is_empty() {
        bail!("{}: no drift.unmanaged finding with an import id ({skipped} without one)", args.findings.display());
    }
    let out = driftwatch_core::import::file(blocks.iter().map(|(h, s, i)| (*h, *s, *i)));
    match &args.out {
        Some(path) => {
            std::fs::write(path, &out).with_context(|| path.display().to_string())?;
            eprintln!("{} import block(s) written to {}", blocks.len(), path.display());
        }
        None => print!("{out}"),
    }
    if skipped > 0 {
        eprintln!("{skipped} unmanaged finding(s) of types the catalog cannot import were left out");
    }
    Ok(false)
}
