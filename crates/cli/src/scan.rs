//! `driftwatch scan`.

use crate::inputs;
use crate::render;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use driftwatch::evidence::{record_coverage, record_run, InputEvidence};
use driftwatch_aws::{config_client, load_sdk_config, s3_client, ConfigReader, PathStyle, S3StateReader};
use driftwatch_core::catalog::Role;
use driftwatch_core::drift::{self, ScanPolicy};
use driftwatch_core::index::IndexEntry;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::state::{self, StateLocation};
use driftwatch_core::{Catalog, Redactor};
use inputs::StateSource;
use serde_json::json;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use tracing::{info, warn};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  driftwatch scan --state samples/states --live samples/live\n  driftwatch scan --state prod.tfstate --live snapshot.json.gz --format json --out findings/\n  driftwatch scan --state s3://acme-tfstate/prod/ --live aws\n  driftwatch scan --state s3://org-tfstate/ --live aws --aggregator org-all-accounts\n\nReading from AWS (--state s3://..., --live aws) uses the standard AWS configuration: the\ndefault credential chain (environment, profiles, SSO, instance roles), AWS_REGION, and\nAWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_CONFIG_SERVICE) for another\nendpoint. It needs s3:ListBucket and s3:GetObject on the state bucket, and\nconfig:BatchGetResourceConfig and config:SelectResourceConfig; with --aggregator NAME,\nconfig:ListAggregateDiscoveredResources and config:BatchGetAggregateResourceConfig instead.\n\nSecrets from state or live configuration are never printed: they are replaced by\nsalted digests (set DRIFTWATCH_DIGEST_SALT to a secret salt; --evidence refuses the public\nbuilt-in salt unless --allow-default-salt)."
)]
pub struct ScanArgs {
    /// Terraform state: a file (v4 JSON), a directory searched for *.tfstate, an object of an
    /// S3 backend (s3://BUCKET/KEY), or every *.tfstate under s3://BUCKET/PREFIX/ (the
    /// workspaces' env:/WORKSPACE/PREFIX... keys included); repeatable
    #[arg(long = "state", value_name = "FILE|DIR|s3://BUCKET/KEY|s3://BUCKET/PREFIX/", required = true)]
    states: Vec<String>,
    /// Live configuration: "aws" to read it from AWS Config (the configuration item of every
    /// resource in the states, and every resource of the catalog's types for unmanaged
    /// ones), or files: an AWS Config snapshot, BatchGetResourceConfig or
    /// SelectResourceConfig output, or change events (*.json, *.json.gz), or a directory of
    /// them; repeatable
    #[arg(long = "live", value_name = "aws|FILE|DIR", required = true)]
    live: Vec<String>,
    /// With --live aws: read every account's and region's configuration through this AWS
    /// Config aggregator (ListAggregateDiscoveredResources and BatchGetAggregateResourceConfig
    /// of each catalogued type), for states of many accounts; without it, the caller's account
    /// and region
    #[arg(long, value_name = "NAME")]
    aggregator: Option<String>,
    /// Read the s3:// states through this IAM role (sts:AssumeRole): state kept in another
    /// account, such as a workload account's own bucket. AWS Config is still read as the caller
    #[arg(long, value_name = "ROLE_ARN")]
    role: Option<String>,
    /// The external id the --role's trust policy requires
    #[arg(long, value_name = "ID", requires = "role")]
    external_id: Option<String>,
    /// Evaluate as of this time (RFC 3339); default now
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    /// Tag KEY=VALUE marking regulated data (raises severities); "none" to disable
    #[arg(long, value_name = "KEY=VALUE", default_value = "data-classification=phi")]
    regulated_tag: String,
    #[command(flatten)]
    findings: render::FindingsArgs,
}

/// `--live aws`: read the live configuration from AWS Config.
const LIVE_AWS: &str = "aws";
/// The source named in the evidence of `--live aws`.
const LIVE_AWS_SOURCE: &str = "aws-config";

/// The items read from AWS Config, and the identities whose configuration could not be read.
type LiveRead = (Vec<live::ConfigItem>, HashSet<(String, String)>);

/// The live configuration of every indexed identity (`BatchGetResourceConfig`, 100 at a time)
/// and of every resource of the catalog's primary types (`SelectResourceConfig`, for
/// unmanaged ones). Partial results over failure: a failed batch is a warning and its
/// identities are answered as not read; a failed select is a warning (no unmanaged findings).
fn read_live_aws(
    rt: &tokio::runtime::Runtime,
    reader: &ConfigReader,
    index: &ManagedIndex,
    catalog: &Catalog,
    redactor: &Redactor,
) -> LiveRead {
    let keys: Vec<(String, String)> = index.groups().into_iter().map(|((t, id), _)| (t.to_string(), id.to_string())).collect();
    let types: BTreeSet<&str> = catalog.rows().iter().filter(|r| r.role == Role::Primary).map(|r| r.config_type.as_str()).collect();
    let types: Vec<&str> = types.into_iter().collect();
    let mut items = Vec::new();
    // The inventory first: on equal configuration state ids a later item wins, and the
    // batch's items are the ones asked for.
    match rt.block_on(reader.select(&types, redactor)) {
        Ok(found) => items.extend(found),
        Err(e) => {
            warn!(error = %e, "unmanaged resources not looked for");
            eprintln!("warning: {e}; unmanaged resources were not looked for");
        }
    }
    let mut unread = HashSet::new();
    for chunk in keys.chunks(driftwatch_aws::live::BATCH_GET_SIZE) {
        match rt.block_on(reader.batch_get(chunk, redactor)) {
            Ok(found) => items.extend(found),
            Err(e) => {
                warn!(error = %e, resources = chunk.len(), "live configuration not read");
                eprintln!("warning: {e}; {} resource(s) not compared", chunk.len());
                unread.extend(chunk.iter().cloned());
            }
        }
    }
    (items, unread)
}

/// `--live aws --aggregator NAME`: every resource of the catalog's types and of the states'
/// types in every account and region the aggregator holds. A type that cannot be read is a
/// warning, and its identities are answered as not read (not compared, not reported missing).
fn read_live_aggregator(
    rt: &tokio::runtime::Runtime,
    reader: &ConfigReader,
    aggregator: &str,
    index: &ManagedIndex,
    catalog: &Catalog,
    redactor: &Redactor,
) -> Result<LiveRead> {
    let mut types: BTreeSet<&str> = catalog.rows().iter().filter(|r| r.role == Role::Primary).map(|r| r.config_type.as_str()).collect();
    types.extend(index.groups().into_iter().map(|((t, _), _)| t));
    let types: Vec<&str> = types.into_iter().collect();
    let read = rt.block_on(reader.aggregate(aggregator, &types, redactor)).with_context(|| format!("--aggregator {aggregator}"))?;
    let failed: HashSet<&str> = read.failed.iter().map(|(t, _)| t.as_str()).collect();
    for (t, e) in &read.failed {
        warn!(error = %e, resource_type = %t, "live configuration not read from the aggregator");
        eprintln!("warning: {e}; {t} resources were not compared");
    }
    let unread =
        index.groups().into_iter().filter(|((t, _), _)| failed.contains(t)).map(|((t, id), _)| (t.to_string(), id.to_string())).collect();
    Ok((read.items, unread))
}

/// Run; `Ok(true)` when there are findings that no exception suppresses.
pub fn run(args: ScanArgs) -> Result<bool> {
    let catalog = Catalog::builtin();
    let salt = crate::salt::digest_salt(args.findings.evidence.is_some(), args.findings.salt)?;
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
    let exceptions = crate::exceptions::load_opt(args.findings.exceptions.as_ref(), &driftwatch_core::policy::ExceptionPolicy::default())?;

    // Every argument is checked before anything is read, so a bad s3:// URL fails fast.
    let sources = args.states.iter().map(|a| StateSource::parse(a).with_context(|| "--state".to_string())).collect::<Result<Vec<_>>>()?;
    let live_aws = args.live.iter().any(|l| l == LIVE_AWS);
    if args.aggregator.is_some() && !live_aws {
        bail!("--aggregator reads the live configuration from AWS Config: give --live aws with it");
    }
    let needs_aws = live_aws || sources.iter().any(|s| !matches!(s, StateSource::Local(_)));
    // One runtime and one SDK configuration for every AWS call of the run.
    let aws = if needs_aws {
        let rt = driftwatch_aws::blocking_runtime().context("starting the AWS client runtime")?;
        let sdk = rt.block_on(load_sdk_config());
        let s3 = s3_client(&sdk, PathStyle::from_env()?);
        Some((rt, sdk, s3))
    } else {
        None
    };
    if let Some(role) = &args.role {
        let valid = role.starts_with("arn:")
            && role.split(':').nth(2) == Some("iam")
            && role.split(':').nth(5).is_some_and(|r| r.starts_with("role/"));
        if !valid {
            bail!("--role {role:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
        }
        if !sources.iter().any(|s| !matches!(s, StateSource::Local(_))) {
            bail!("--role reads s3:// states through a role: give an s3:// --state with it");
        }
    }
    // The s3:// states: as the caller, or through --role (its credentials fetched at the first
    // read, refreshed by the SDK).
    let state_s3 = match (&aws, &args.role) {
        (Some((rt, sdk, _)), Some(role)) => {
            let conf = rt.block_on(driftwatch_aws::assume_role_config(sdk, role, args.external_id.as_deref()));
            Some(s3_client(&conf, PathStyle::from_env()?))
        }
        (Some((_, _, s3)), None) => Some(s3.clone()),
        _ => None,
    };

    let mut index = ManagedIndex::default();
    let mut state_count = 0;
    let mut inputs: Vec<InputEvidence> = Vec::new();
    let progress = crate::replay::spinner("state(s) read");
    for source in &sources {
        let (bucket, keys) = match source {
            StateSource::Local(arg) => {
                for path in inputs::expand(arg, inputs::is_state_file, "Terraform state files (*.tfstate)")? {
                    let bytes = inputs::read(&path)?;
                    let st = state::parse_state(&bytes, StateLocation::local(path.display().to_string()), &catalog, &redactor)
                        .with_context(|| path.display().to_string())?;
                    if args.findings.evidence.is_some() {
                        inputs.push(InputEvidence::new(
                            "terraform-state",
                            &path,
                            &bytes,
                            json!({"serial": st.serial, "lineage": st.lineage}),
                        ));
                    }
                    drop(bytes);
                    let s = index.add_state(st, &catalog);
                    info!(state = %path.display(), serial = s.state.serial, lineage = %s.state.lineage, instances = s.instances, managed = s.managed, indexed = s.indexed, "state indexed");
                    state_count += 1;
                    progress.inc(1);
                }
                continue;
            }
            StateSource::S3Key { bucket, key } => (bucket, vec![key.clone()]),
            StateSource::S3Prefix { bucket, prefix } => {
                let (rt, s3) = (&aws.as_ref().context("AWS client")?.0, state_s3.as_ref().context("AWS client")?);
                (bucket, rt.block_on(inputs::s3_state_keys(&S3StateReader::new(s3.clone()), bucket, prefix))?)
            }
        };
        let (rt, s3) = (&aws.as_ref().context("AWS client")?.0, state_s3.as_ref().context("AWS client")?);
        let reader = S3StateReader::new(s3.clone());
        for key in keys {
            let url = format!("s3://{bucket}/{key}");
            let object = rt.block_on(reader.get_version(bucket, &key, None))?;
            let st = state::parse_state(&object.bytes, StateLocation::s3(bucket.as_str(), key.as_str()), &catalog, &redactor)
                .with_context(|| url.clone())?;
            if args.findings.evidence.is_some() {
                let details = json!({"serial": st.serial, "lineage": st.lineage, "version_id": object.version_id});
                inputs.push(InputEvidence::new("terraform-state", Path::new(&url), &object.bytes, details));
            }
            drop(object);
            let s = index.add_state(st, &catalog);
            info!(state = %url, workspace = %s.state.workspace, serial = s.state.serial, lineage = %s.state.lineage, instances = s.instances, managed = s.managed, indexed = s.indexed, "state indexed");
            state_count += 1;
            progress.inc(1);
        }
    }

    let mut inventory = LiveInventory::default();
    for arg in args.live.iter().filter(|l| *l != LIVE_AWS) {
        let arg = Path::new(arg);
        for path in inputs::expand(arg, inputs::is_live_file, "live configuration files (*.json, *.json.gz)")? {
            let bytes = inputs::read(&path)?;
            let (items, errors) = live::parse_document(&bytes, &redactor).with_context(|| path.display().to_string())?;
            if args.findings.evidence.is_some() {
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
    if let (true, Some((rt, sdk, s3))) = (live_aws, aws.as_ref()) {
        let reader = ConfigReader::new(config_client(sdk), s3.clone());
        progress.set_message("reading the live configuration from AWS Config");
        let (items, unread) = match &args.aggregator {
            Some(name) => {
                progress.set_message(format!("reading the live configuration from AWS Config aggregator {name}"));
                read_live_aggregator(rt, &reader, name, &index, &catalog, &redactor)?
            }
            None => read_live_aws(rt, &reader, &index, &catalog, &redactor),
        };
        if args.findings.evidence.is_some() {
            let docs = serde_json::to_vec(&items.iter().map(|i| &i.doc).collect::<Vec<_>>())?;
            let source = match &args.aggregator {
                Some(name) => format!("{LIVE_AWS_SOURCE}-aggregator:{name}"),
                None => LIVE_AWS_SOURCE.to_string(),
            };
            inputs.push(InputEvidence::new("live-configuration", Path::new(&source), &docs, json!({"items": items.len()})));
        }
        info!(items = items.len(), not_read = unread.len(), "live configuration read from AWS Config");
        for it in items {
            inventory.insert(it);
        }
        if !unread.is_empty() {
            // Resources whose configuration could not be read are not compared at all (rather
            // than reported missing): the index is rebuilt without them.
            let kept: Vec<IndexEntry> =
                index.entries().iter().filter(|e| !unread.contains(&(e.config_type.clone(), e.resource_id.clone()))).cloned().collect();
            let mut rebuilt = ManagedIndex::from_entries(kept);
            rebuilt.uncovered_types = std::mem::take(&mut index.uncovered_types);
            rebuilt.problems = std::mem::take(&mut index.problems);
            rebuilt.managed_instances = index.managed_instances;
            rebuilt.by_state = std::mem::take(&mut index.by_state);
            index = rebuilt;
        }
    }
    progress.finish_and_clear();

    let mut outcome = drift::scan(&index, &inventory, &catalog, &redactor, &policy, now);
    crate::exceptions::apply(&mut outcome.findings, &exceptions, &catalog, now);
    if let Some(dir) = &args.findings.evidence {
        // A finding's inputs: its own state file and every live document.
        let w = record_run(
            dir,
            &inputs,
            &mut outcome.findings,
            |f, i| {
                i.kind == "live-configuration"
                    || f.resource
                        .state
                        .as_ref()
                        .is_some_and(|s| s.key == i.source || s.bucket.as_ref().is_some_and(|b| format!("s3://{b}/{}", s.key) == i.source))
            },
            now,
            Utc::now(),
        )?;
        info!(store = %dir, created = w.created, already_present = w.already_present, "evidence recorded");
        record_coverage(dir, &outcome.coverage, now, Utc::now())?;
    }
    for n in &outcome.notes {
        info!(note = %n, "not compared");
    }
    for f in &outcome.findings {
        info!(rule = %f.rule, severity = %f.severity, address = f.resource.address.as_deref().unwrap_or(""), id = %f.resource.id, fingerprint = %f.fingerprint, "finding");
    }
    if let Some(dir) = &args.findings.out {
        std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
        let path = dir.join("findings.json");
        let mut text = serde_json::to_string_pretty(&outcome.findings)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
        info!(path = %path.display(), "findings written");
        let path = dir.join("coverage.json");
        let mut text = serde_json::to_string_pretty(&outcome.coverage)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
        info!(path = %path.display(), "coverage written");
    }
    info!(
        managed = outcome.coverage.managed_instances,
        catalogued = outcome.coverage.catalogued_instances,
        compared = outcome.coverage.compared_instances,
        "coverage"
    );
    let summary = render::Summary {
        states: state_count,
        managed: index.managed_instances,
        indexed: index.len(),
        live_items: inventory.len(),
        coverage: outcome.coverage.line(),
    };
    if args.findings.format == render::Format::Asff {
        render::print_asff(&outcome.findings, &args.findings.asff, now)?;
    } else {
        render::print(&outcome.findings, args.findings.format, render::Closing::Scan(&summary))?;
    }
    Ok(outcome.findings.iter().any(driftwatch_core::exceptions::is_unsuppressed))
}
