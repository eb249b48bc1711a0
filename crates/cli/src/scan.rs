//! `driftwatch scan`.

use crate::inputs;
use crate::render;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use driftwatch::evidence::{record_run, InputEvidence};
use driftwatch_core::drift::{self, ScanPolicy};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::state::{self, StateLocation};
use driftwatch_core::{Catalog, Redactor};
use serde_json::json;
use std::path::PathBuf;
use tracing::{info, warn};

/// Salt of the digests that replace secrets, unless DRIFTWATCH_DIGEST_SALT is set.
const DEFAULT_SALT: &str = "driftwatch/v1/default-salt";

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  driftwatch scan --state samples/states --live samples/live\n  driftwatch scan --state prod.tfstate --live snapshot.json.gz --format json --out findings/\n\nSecrets from state or live configuration are never printed: they are replaced by\nsalted digests (set DRIFTWATCH_DIGEST_SALT to choose the salt)."
)]
pub struct ScanArgs {
    /// Terraform state file (v4 JSON) or a directory searched for *.tfstate; repeatable
    #[arg(long = "state", value_name = "FILE|DIR", required = true)]
    states: Vec<PathBuf>,
    /// Live configuration: an AWS Config snapshot, BatchGetResourceConfig or
    /// SelectResourceConfig output, or change events (*.json, *.json.gz), or a directory
    /// of them; repeatable
    #[arg(long = "live", value_name = "FILE|DIR", required = true)]
    live: Vec<PathBuf>,
    /// Output format on stdout: a table for people, a JSON array of findings, or ASFF for
    /// Security Hub
    #[arg(long, value_enum, default_value_t = render::Format::Table)]
    format: render::Format,
    /// Also write the findings as JSON to DIR/findings.json
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also record the inputs (hashes, never contents) and the findings in the evidence
    /// store: a directory DIR, or s3://BUCKET/PREFIX (write-once, content-addressed; seal
    /// with `driftwatch evidence seal`)
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    evidence: Option<driftwatch::evidence::EvidenceLocation>,
    /// Evaluate as of this time (RFC 3339); default now
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    /// Tag KEY=VALUE marking regulated data (raises severities); "none" to disable
    #[arg(long, value_name = "KEY=VALUE", default_value = "data-classification=phi")]
    regulated_tag: String,
    #[command(flatten)]
    asff: render::AsffArgs,
    /// Exceptions file (TOML): findings an active exception covers are still reported, as
    /// suppressed, and do not fail the run; invalid and expired exceptions are findings
    #[arg(long, value_name = "FILE")]
    exceptions: Option<PathBuf>,
}

/// Run; `Ok(true)` when there are findings that no exception suppresses.
pub fn run(args: ScanArgs) -> Result<bool> {
    let catalog = Catalog::builtin();
    let salt = std::env::var("DRIFTWATCH_DIGEST_SALT").unwrap_or_else(|_| DEFAULT_SALT.to_string());
    let redactor = Redactor::new(salt.as_bytes());
    let now = args.now.unwrap_or_else(Utc::now);
    let policy = ScanPolicy {
        regulated_tag: match args.regulated_tag.as_str() {
            "none" | "" => None,
            kv => {
                let (k, v) = kv.split_once('=').ok_or_else(|| anyhow!("--regulated-tag: expected KEY=VALUE, got {kv:?}"))?;
                Some((k.to_string(), v.to_string()))
            }
        },
    };
    let exceptions = crate::exceptions::load_opt(args.exceptions.as_ref(), driftwatch_core::exceptions::DEFAULT_MAX_DAYS)?;

    let mut index = ManagedIndex::default();
    let mut state_count = 0;
    let mut inputs: Vec<InputEvidence> = Vec::new();
    for arg in &args.states {
        for path in inputs::expand(arg, inputs::is_state_file, "Terraform state files (*.tfstate)")? {
            let bytes = inputs::read(&path)?;
            let st = state::parse_state(&bytes, StateLocation::local(path.display().to_string()), &catalog, &redactor)
                .with_context(|| path.display().to_string())?;
            if args.evidence.is_some() {
                inputs.push(InputEvidence::new("terraform-state", &path, &bytes, json!({"serial": st.serial, "lineage": st.lineage})));
            }
            drop(bytes);
            let s = index.add_state(st, &catalog);
            info!(state = %path.display(), serial = s.state.serial, lineage = %s.state.lineage, instances = s.instances, managed = s.managed, indexed = s.indexed, "state indexed");
            state_count += 1;
        }
    }

    let mut inventory = LiveInventory::default();
    for arg in &args.live {
        for path in inputs::expand(arg, inputs::is_live_file, "live configuration files (*.json, *.json.gz)")? {
            let bytes = inputs::read(&path)?;
            let (items, errors) = live::parse_document(&bytes, &redactor).with_context(|| path.display().to_string())?;
            if args.evidence.is_some() {
                inputs.push(InputEvidence::new("live-configuration", &path, &bytes, json!({"items": items.len()})));
            }
            for e in &errors {
                warn!(file = %path.display(), error = %e, "configuration item skipped");
                eprintln!("warning: {}: {e}", path.display());
            }
            info!(file = %path.display(), items = items.len(), "live configuration read");
            for it in items {
                inventory.insert(it);
            }
        }
    }

    let mut outcome = drift::scan(&index, &inventory, &catalog, &redactor, &policy, now);
    crate::exceptions::apply(&mut outcome.findings, &exceptions, &catalog, now);
    if let Some(dir) = &args.evidence {
        // A finding's inputs: its own state file and every live document.
        let w = record_run(
            dir,
            &inputs,
            &mut outcome.findings,
            |f, i| i.kind == "live-configuration" || f.resource.state.as_ref().is_some_and(|s| s.key == i.source),
            now,
            Utc::now(),
        )?;
        info!(store = %dir, created = w.created, already_present = w.already_present, "evidence recorded");
    }
    for n in &outcome.notes {
        info!(note = %n, "not compared");
    }
    for f in &outcome.findings {
        info!(rule = %f.rule, severity = %f.severity, address = f.resource.address.as_deref().unwrap_or(""), id = %f.resource.id, fingerprint = %f.fingerprint, "finding");
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
        let path = dir.join("findings.json");
        let mut text = serde_json::to_string_pretty(&outcome.findings)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
        info!(path = %path.display(), "findings written");
    }
    let summary =
        render::Summary { states: state_count, managed: index.managed_instances, indexed: index.len(), live_items: inventory.len() };
    if args.format == render::Format::Asff {
        render::print_asff(&outcome.findings, &args.asff, now)?;
    } else {
        render::print(&outcome.findings, args.format, render::Closing::Scan(&summary))?;
    }
    Ok(outcome.findings.iter().any(driftwatch_core::exceptions::is_unsuppressed))
}
