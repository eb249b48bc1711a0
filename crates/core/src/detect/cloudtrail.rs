//! CloudTrail detector: API calls on managed resources, encryption regressions, and the data
//! events on Terraform's state bucket and lock table.
//!
//! **Write APIs** are rows of the API table ([`super::cloudtrail_calls`], `catalog/cloudtrail.toml`);
//! the code here is generic over them. Read-only calls (`readOnly`, `Get*`/`List*`/
//! `Describe*`/`Head*`) and failed calls (`errorCode`) yield nothing, and so does every call the
//! pipeline makes (encryption regressions made through Terraform are the state-write
//! detector's). For the other callers ([`super::actor::classify`]):
//!
//! | resource | finding |
//! |---|---|
//! | managed (in the index), console caller | `change.console` |
//! | managed, any other non-service caller | `change.out_of_band` |
//! | not managed, `kind = "create"` of a catalog type, not an AWS service | `drift.unmanaged` |
//! | any, a check of the row fails | `encryption.regression` (also for AWS services acting for someone) |
//!
//! A console encryption downgrade on a managed resource gives both `change.console` and
//! `encryption.regression`: different rules, different fingerprints.
//!
//! **Identity.** A row renders candidate resource ids and ARNs from the call. The first id the
//! index knows for the row's Config type wins, then the first ARN the index knows (which finds
//! the primary row whatever id convention the catalog uses: RDS `db-…` resource ids,
//! `AROA…` role ids), then, for rows with `by_name` (IAM roles under a path), a scan of the
//! index for an entry of the type whose ARN ends in the name. The scan is a stopgap until
//! the index has a lookup by (Config type, name); it runs only for those rows and only when the
//! other lookups missed. All entries of the identity are the resource's *group*; the finding
//! names the entry of the row's `tf` (the facet that owns the setting) when there is one, else
//! the primary.
//!
//! **Changes** of `change.*` findings are the call's top-level request parameters (path
//! `requestParameters.<name>`, desired `null`), redacted: secret-looking keys (camelCase too:
//! `masterUserPassword`) and the row's `redact` parameters are digested, then
//! [`crate::redact::Redactor::scrub`] runs over everything. Encryption changes carry the
//! catalog attribute path with the desired value from the index and the value the call set.
//!
//! **Severity**: the rule's default; raised one level (`encryption.regression`: to critical)
//! when any entry of the group carries the policy's regulated-data tag.
//!
//! **Locks and state.** DynamoDB `PutItem`/`DeleteItem` on a lock table (`requestParameters.key
//! .LockID`; the `-md5` digest item is ignored) and S3 `PutObject`/`DeleteObject` on a
//! `<state key>.tflock` file, lock id `<bucket>/<state key>`:
//!
//! | call | finding |
//! |---|---|
//! | `PutItem` failing with `ConditionalCheckFailedException`, `PutObject` failing with `PreconditionFailed` (412) or `ConditionalRequestConflict` (409) | `lock.contention`, naming the holder (lock ledger or noted acquirer) and the waiter (the caller) |
//! | successful acquisition | note the acquirer; `lock.outside_pipeline` unless pipeline or AWS service |
//! | successful release by another principal than the holder | `lock.force_unlock` |
//! | S3 `PutObject`/`CopyObject`/`CompleteMultipartUpload` of a state key by a non-pipeline, non-service caller | `state.written_outside_pipeline` |
//!
//! Lock and state findings are about the state (resource type `driftwatch::TerraformState`, id
//! `s3://<bucket>/<key>`, as the lock and state-write detectors write them). Fingerprints: the
//! lock id and the held lock's `Info.ID` (empty when unknown) for `lock.contention` and
//! `lock.force_unlock` (the lock detector's `lock.force_unlock` uses the same parts), the lock
//! id for `lock.outside_pipeline`, the state location for `state.written_outside_pipeline`.
//!
//! Every finding is timed by the event (`eventTime`, never the clock), carries the event id as
//! evidence (`cloudtrail:<eventID>`), and is fingerprinted by its subject, so replaying an event
//! gives identical findings.

use super::actor::{self, classify};
use super::cloudtrail_calls::{self, ApiRow, ApiTable, Check, CheckKind, Kind, Source};
use super::lock::lock_resource;
use super::{actor_of, build, managed_anchor, resource_of, Context, Draft, Memory};
use crate::catalog::Role;
use crate::drift::{is_regression, one_step_higher, title_value};
use crate::finding::{self, Actor, ActorKind, Change, Finding, ResourceRef, Rule, Severity};
use crate::index::{IndexEntry, ManagedIndex};
use crate::normalize::{self, Ctx};
use crate::place::Place;
use crate::redact::{key_looks_secret, value_looks_secret, Redactor};
use crate::signal::{ApiCall, Principal};
use serde_json::{json, Map, Value};

/// Resource type of findings about a Terraform state and its lock.
pub const STATE_RESOURCE_TYPE: &str = "driftwatch::TerraformState";

/// Request parameters that never make a change worth showing.
const NOISE: &[&str] = &["Host", "host"];

/// Findings for one CloudTrail API call.
pub fn detect(call: &ApiCall, ctx: &Context<'_>, mem: &mut dyn Memory) -> Vec<Finding> {
    let mut out = match data_event(call, ctx, mem) {
        Some(found) => found,
        None => api_call(call, ctx),
    };
    if !call.event_id.is_empty() {
        for f in &mut out {
            f.evidence.push(format!("cloudtrail:{}", call.event_id));
        }
    }
    finding::sort(&mut out);
    out
}

// ------------------------------------------------------------------ write APIs

/// What a call acted on.
enum Subject<'a> {
    /// Managed: the entry the finding names, and every entry of the identity.
    Managed { entry: &'a IndexEntry, group: Vec<&'a IndexEntry> },
    /// Not in the index (or an account-level setting).
    Other(Box<ResourceRef>),
}

fn api_call(call: &ApiCall, ctx: &Context<'_>) -> Vec<Finding> {
    // Cheap tests first: most records of a trail are reads or calls the table does not list.
    if call.error_code.is_some() || cloudtrail_calls::is_read_only(call) {
        return Vec::new();
    }
    // Calls on the watcher itself (its exceptions, rules, topics, functions…).
    if let Some(f) = super::self_defence::detect(call, ctx) {
        // Stopping the account's Config recorder blinds the watcher and weakens a safeguard.
        let mut out = vec![f];
        out.extend(super::controls::on_call(call, ctx));
        return out;
    }
    // Safeguards weakened (the control catalog), then the API table's rules.
    let mut out = super::controls::on_call(call, ctx);
    out.extend(table_call(call, ctx));
    out
}

fn table_call(call: &ApiCall, ctx: &Context<'_>) -> Vec<Finding> {
    let Some(row) = ApiTable::builtin().get(&call.event_source, &call.event_name) else { return Vec::new() };
    let kind = classify(&call.principal, ctx.policy);
    if kind == ActorKind::Pipeline {
        return Vec::new();
    }
    let Some(subject) = resolve(row, call, ctx) else { return Vec::new() };
    let actor = actor_of(&call.principal, kind);
    let who = actor::who(&call.principal);
    let mut out = Vec::new();
    match subject {
        Subject::Managed { entry, group } => {
            let regulated = is_regulated(&group, ctx);
            let rule = match kind {
                ActorKind::Console => Some(Rule::ChangeConsole),
                ActorKind::Other => Some(Rule::ChangeOutOfBand),
                ActorKind::Pipeline | ActorKind::AwsService => None,
            };
            if let Some(rule) = rule {
                let how = if rule == Rule::ChangeConsole { "in the console" } else { "outside the pipeline" };
                let severity = if ctx.policy.is_break_glass(&call.principal) {
                    Some(Severity::Low)
                } else {
                    regulated.then(|| one_step_higher(ctx.catalog.rule(rule).severity))
                };
                out.push(build(
                    Draft {
                        rule,
                        severity,
                        title: format!("{} on {} {how} by {who}", call.event_name, entry.address),
                        resource: resource_of(entry),
                        actor: Some(actor.clone()),
                        changes: request_changes(call, row, ctx.redactor),
                        extra_controls: Vec::new(),
                        fingerprint_parts: managed_anchor(entry).to_vec(),
                        at: call.event_time,
                    },
                    ctx.catalog,
                ));
            }
            let weaker = run_checks(row, call, ctx, Some(&group));
            if !weaker.is_empty() {
                out.push(regression(
                    call,
                    ctx,
                    resource_of(entry),
                    &entry.address,
                    managed_anchor(entry).to_vec(),
                    regulated,
                    weaker,
                    actor,
                ));
            }
        }
        Subject::Other(resource) => {
            let parts =
                vec![cloudtrail_calls::account(call).unwrap_or_default().to_string(), resource.resource_type.clone(), resource.id.clone()];
            if row.kind == Kind::Create && !row.account_level && kind != ActorKind::AwsService {
                out.push(build(
                    Draft {
                        rule: Rule::DriftUnmanaged,
                        severity: None,
                        title: format!(
                            "{} {} created outside the pipeline by {who} ({})",
                            resource.resource_type, resource.id, call.event_name
                        ),
                        resource: (*resource).clone(),
                        actor: Some(actor.clone()),
                        changes: request_changes(call, row, ctx.redactor),
                        extra_controls: Vec::new(),
                        fingerprint_parts: parts.clone(),
                        at: call.event_time,
                    },
                    ctx.catalog,
                ));
            }
            // A pipeline-only account: a person's write is a finding on unmanaged resources too
            // (a create is drift.unmanaged above).
            let by_person = matches!(kind, ActorKind::Console | ActorKind::Other);
            if ctx.policy.pipeline.only && by_person && row.kind != Kind::Create {
                let rule = if kind == ActorKind::Console { Rule::ChangeConsole } else { Rule::ChangeOutOfBand };
                let break_glass = ctx.policy.is_break_glass(&call.principal);
                out.push(build(
                    Draft {
                        rule,
                        severity: break_glass.then_some(Severity::Low),
                        title: format!(
                            "{} on {} {} in a pipeline-only account by {who}{}",
                            call.event_name,
                            resource.resource_type,
                            resource.id,
                            if break_glass { " (break-glass role)" } else { "" }
                        ),
                        resource: (*resource).clone(),
                        actor: Some(actor.clone()),
                        changes: request_changes(call, row, ctx.redactor),
                        extra_controls: vec!["NIST CM-5".into(), "HIPAA 164.312(b)".into()],
                        fingerprint_parts: parts.clone(),
                        at: call.event_time,
                    },
                    ctx.catalog,
                ));
            }
            let weaker = run_checks(row, call, ctx, None);
            if !weaker.is_empty() {
                let name = format!("{} {}", resource.resource_type, resource.id);
                out.push(regression(call, ctx, *resource, &name, parts, false, weaker, actor));
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn regression(
    call: &ApiCall,
    ctx: &Context<'_>,
    resource: ResourceRef,
    name: &str,
    fingerprint_parts: Vec<String>,
    regulated: bool,
    changes: Vec<Change>,
    actor: Actor,
) -> Finding {
    let first = &changes[0];
    let title = format!(
        "encryption weakened by {} on {name} by {}: {} {} → {}",
        call.event_name,
        actor::who(&call.principal),
        first.path,
        title_value(&first.desired),
        title_value(&first.actual)
    );
    build(
        Draft {
            rule: Rule::EncryptionRegression,
            severity: regulated.then_some(Severity::Critical),
            title,
            resource,
            actor: Some(actor),
            changes,
            extra_controls: Vec::new(),
            fingerprint_parts,
            at: call.event_time,
        },
        ctx.catalog,
    )
}

/// Find what the call acted on.
fn resolve<'a>(row: &ApiRow, call: &ApiCall, ctx: &Context<'a>) -> Option<Subject<'a>> {
    let ids = row.ids(call);
    let arns = row.arns(call);
    if !row.account_level {
        let place = Place::new(cloudtrail_calls::account(call), call.region.as_deref());
        let group = find_group(row, ctx.index, &ids, &arns, place);
        if !group.is_empty() {
            let pick = |f: &dyn Fn(&IndexEntry) -> bool| group.iter().copied().find(|e| f(e));
            let entry = row
                .terraform_type
                .as_deref()
                .and_then(|tf| pick(&|e| e.terraform_type == tf))
                .or_else(|| pick(&|e| e.role == Role::Primary))
                .or_else(|| pick(&|e| e.role != Role::Contributor))
                .unwrap_or(group[0]);
            return Some(Subject::Managed { entry, group });
        }
    }
    let id = ids.first().or(arns.first())?.clone();
    Some(Subject::Other(Box::new(ResourceRef {
        arn: arns.first().cloned(),
        resource_type: row.config_type.clone(),
        id,
        address: None,
        terraform_type: ctx.catalog.primary_for_config_type(&row.config_type).map(|s| s.terraform_type.clone()),
        state: None,
        account: None,
        region: None,
    })))
}

/// Every index entry of the identity the call names, in the call's account and region; empty
/// when unmanaged.
fn find_group<'a>(row: &ApiRow, index: &'a ManagedIndex, ids: &[String], arns: &[String], place: Place<'_>) -> Vec<&'a IndexEntry> {
    for id in ids {
        let g: Vec<&IndexEntry> = index.lookup_at(&row.config_type, id, place).collect();
        if !g.is_empty() {
            return g;
        }
    }
    for arn in arns {
        if let Some(p) = index.lookup_arn(arn) {
            return index.lookup(&p.config_type, &p.resource_id).collect();
        }
        let g: Vec<&IndexEntry> = index.lookup_at(&row.config_type, arn, place).collect();
        if !g.is_empty() {
            return g;
        }
    }
    if row.by_name {
        // By resource name (roles under a path), after the point lookups missed.
        for arn in arns {
            let (name, acct) = (cloudtrail_calls::arn_name(arn), arn_account(arn));
            let hit = index.lookup_name(&row.config_type, name).find(|e| e.arn.as_deref().is_some_and(|a| arn_account(a) == acct));
            if let Some(e) = hit {
                return index.lookup(&e.config_type, &e.resource_id).collect();
            }
        }
    }
    Vec::new()
}

fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

fn is_regulated(group: &[&IndexEntry], ctx: &Context<'_>) -> bool {
    let Some((k, v)) = ctx.policy.regulated() else { return false };
    group.iter().any(|e| e.tags.get(&k).and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(&v)))
}

// ------------------------------------------------------------------ encryption checks

fn run_checks(row: &ApiRow, call: &ApiCall, ctx: &Context<'_>, group: Option<&[&IndexEntry]>) -> Vec<Change> {
    row.checks
        .iter()
        .filter_map(|c| check(c, row, call, ctx, group))
        .map(|mut c| {
            ctx.redactor.scrub(&mut c.desired);
            ctx.redactor.scrub(&mut c.actual);
            c
        })
        .collect()
}

/// One check: `Some(change)` when the call weakens it.
fn check(c: &Check, row: &ApiRow, call: &ApiCall, ctx: &Context<'_>, group: Option<&[&IndexEntry]>) -> Option<Change> {
    if c.when.as_ref().is_some_and(|w| !w.holds(call)) || c.unless.as_ref().is_some_and(|u| u.holds(call)) {
        return None;
    }
    let (raw, raw_path) = match &c.source {
        Source::Param(paths) => match paths.iter().find_map(|p| cloudtrail_calls::lookup(call, p).map(|v| (v.clone(), p.to_string()))) {
            Some(found) => found,
            None => (c.absent.clone()?, paths.first().map(ToString::to_string).unwrap_or_default()),
        },
        Source::Set(v) => (v.clone(), call.event_name.clone()),
    };
    if c.kind == CheckKind::PolicyOpen {
        let open = open_statements(&raw);
        return (!open.is_empty()).then(|| Change {
            path: c.path.clone().unwrap_or(raw_path),
            desired: c.expect.clone().unwrap_or(Value::Null),
            actual: Value::Array(open),
        });
    }
    let Some((tf, idx, attr)) = c.attr_spec(row, ctx.catalog) else {
        let actual = cloudtrail_calls::loose(&raw);
        return c.weak.iter().any(|w| cloudtrail_calls::loose(w) == actual).then(|| Change {
            path: c.path.clone().unwrap_or(raw_path),
            desired: c.expect.clone().unwrap_or(Value::Null),
            actual,
        });
    };
    let nctx = Ctx { self_id: None };
    let actual = attr.normalize.apply(&raw, &nctx);
    let desired = group.and_then(|g| g.iter().find(|e| e.terraform_type == tf)).and_then(|e| match e.desired.get(idx) {
        Some(Value::Null) | None => attr.default.as_ref().map(|d| attr.normalize.apply(d, &nctx)),
        Some(d) => Some(d.clone()),
    });
    let weak = || c.weak.iter().any(|w| attr.normalize.apply(w, &nctx) == actual);
    let regressed = match (&desired, &attr.encryption) {
        (Some(d), Some(enc)) => is_regression(enc, d, &actual),
        (Some(d), None) => *d != actual && weak(),
        (None, _) => weak(),
    };
    regressed.then(|| Change { path: attr.tf.to_string(), desired: desired.unwrap_or(Value::Null), actual })
}

/// Statements of a policy that allow `Principal: "*"` (or `{"AWS": "*"}`) without a condition.
fn open_statements(policy: &Value) -> Vec<Value> {
    let Some(p) = normalize::parse_json_text(policy) else { return Vec::new() };
    let p = normalize::canonical_policy(&p);
    let Some(Value::Array(stmts)) = p.get("Statement") else { return Vec::new() };
    let star = |v: &Value| match v {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some("*")),
        _ => false,
    };
    stmts
        .iter()
        .filter(|s| {
            s.get("Effect").and_then(Value::as_str) == Some("Allow")
                && s.get("Principal").is_some_and(|pr| match pr {
                    Value::Object(m) => m.values().any(star),
                    other => star(other),
                })
                && s.get("Condition").is_none_or(|c| c.as_object().is_none_or(Map::is_empty))
        })
        .cloned()
        .collect()
}

// ------------------------------------------------------------------ redacted request parameters

/// The call's top-level request parameters as changes, redacted.
fn request_changes(call: &ApiCall, row: &ApiRow, redactor: &Redactor) -> Vec<Change> {
    let Value::Object(params) = &call.request_parameters else {
        return Vec::new();
    };
    params
        .iter()
        .filter(|(k, _)| !NOISE.contains(&k.as_str()))
        .map(|(k, v)| {
            let actual = if row.redact.iter().any(|r| r == k) || secret_key(k) {
                redactor.redact(v)
            } else {
                let mut v = v.clone();
                scrub(&mut v, redactor);
                v
            };
            Change { path: format!("requestParameters.{k}"), desired: Value::Null, actual }
        })
        .collect()
}

/// Digest values under secret-looking keys (camelCase as well as snake_case) and secret-looking
/// strings, then run the redactor's own scrub.
fn scrub(v: &mut Value, redactor: &Redactor) {
    fn walk(v: &mut Value, redactor: &Redactor) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if secret_key(k) && !x.is_null() && !x.is_boolean() {
                        *x = redactor.redact(x);
                    } else {
                        walk(x, redactor);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|x| walk(x, redactor)),
            Value::String(s) if value_looks_secret(s) => *v = redactor.redact(v),
            _ => {}
        }
    }
    walk(v, redactor);
    redactor.scrub(v);
}

/// [`key_looks_secret`] for CloudTrail's camelCase names too (`masterUserPassword`, `authToken`).
fn secret_key(k: &str) -> bool {
    if key_looks_secret(k) {
        return true;
    }
    let mut snake = String::with_capacity(k.len() + 4);
    let mut prev_lower = false;
    for ch in k.chars() {
        if ch.is_ascii_uppercase() && prev_lower {
            snake.push('_');
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        snake.push(ch.to_ascii_lowercase());
    }
    key_looks_secret(&snake)
}

// ------------------------------------------------------------------ locks and state (data events)

/// How a lock is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Table,
    File,
}

/// Lock and state data events; `None` when the call is not one.
fn data_event(call: &ApiCall, ctx: &Context<'_>, mem: &mut dyn Memory) -> Option<Vec<Finding>> {
    match (call.event_source.as_str(), call.event_name.as_str()) {
        ("dynamodb.amazonaws.com", "PutItem" | "DeleteItem") => {
            let table = param_str(call, &["tableName"]).map(cloudtrail_calls::arn_name)?;
            let lock_id = lock_id_of(call)?;
            if !ctx.policy.is_lock_table(table) {
                return None;
            }
            if lock_id.ends_with("-md5") {
                return Some(Vec::new());
            }
            Some(lock_event(call, ctx, mem, &lock_id, Via::Table))
        }
        ("s3.amazonaws.com", "PutObject" | "DeleteObject" | "CopyObject" | "CompleteMultipartUpload") => {
            let (bucket, key) = object_of(call)?;
            if let Some(state_key) = key.strip_suffix(".tflock") {
                let is_lock =
                    matches!(call.event_name.as_str(), "PutObject" | "DeleteObject") && ctx.policy.is_state_object(&bucket, state_key);
                return Some(if is_lock { lock_event(call, ctx, mem, &format!("{bucket}/{state_key}"), Via::File) } else { Vec::new() });
            }
            if call.event_name != "DeleteObject" && call.error_code.is_none() && ctx.policy.is_state_object(&bucket, &key) {
                let kind = classify(&call.principal, ctx.policy);
                if !matches!(kind, ActorKind::Pipeline | ActorKind::AwsService) {
                    return Some(vec![state_written(call, ctx, kind, &bucket, &key)]);
                }
            }
            Some(Vec::new())
        }
        _ => None,
    }
}

/// What detecting `call` may read: the identities and ARNs of the resource it names, and the
/// lock its data event concerns.
pub(crate) fn needs(call: &ApiCall, policy: &crate::policy::Policy, n: &mut super::Needs) {
    match (call.event_source.as_str(), call.event_name.as_str()) {
        ("dynamodb.amazonaws.com", "PutItem" | "DeleteItem") => {
            if let (Some(table), Some(id)) = (param_str(call, &["tableName"]).map(cloudtrail_calls::arn_name), lock_id_of(call)) {
                if policy.is_lock_table(table) {
                    n.lock_ids.push(id);
                    return;
                }
            }
        }
        ("s3.amazonaws.com", "PutObject" | "DeleteObject" | "CopyObject" | "CompleteMultipartUpload") => {
            if let Some((bucket, key)) = object_of(call) {
                if let Some(state_key) = key.strip_suffix(".tflock") {
                    n.lock_ids.push(format!("{bucket}/{state_key}"));
                    return;
                }
                if policy.is_state_object(&bucket, &key) {
                    return;
                }
            }
        }
        _ => {}
    }
    if call.error_code.is_some() || cloudtrail_calls::is_read_only(call) {
        return;
    }
    let (ids, arns) = super::controls::Controls::builtin().names(call);
    n.identities.extend(ids);
    n.arns.extend(arns);
    let Some(row) = ApiTable::builtin().get(&call.event_source, &call.event_name) else { return };
    for id in row.ids(call) {
        n.identities.push((row.config_type.clone(), id));
    }
    for arn in row.arns(call) {
        n.identities.push((row.config_type.clone(), arn.clone()));
        n.arns.push(arn);
    }
}

fn param_str<'a>(call: &'a ApiCall, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| call.request_parameters.get(*k).and_then(Value::as_str)).filter(|s| !s.is_empty())
}

/// `requestParameters.key.LockID` (a plain string in CloudTrail; a typed `{"S": …}` is accepted).
fn lock_id_of(call: &ApiCall) -> Option<String> {
    let v = call.request_parameters.get("key")?.get("LockID")?;
    v.as_str().or_else(|| v.get("S").and_then(Value::as_str)).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Bucket and key of an S3 object data event.
fn object_of(call: &ApiCall) -> Option<(String, String)> {
    if let (Some(b), Some(k)) = (param_str(call, &["bucketName"]), param_str(call, &["key"])) {
        return Some((b.to_string(), k.to_string()));
    }
    let arn = call.resources.iter().filter(|r| r.resource_type.as_deref() == Some("AWS::S3::Object")).find_map(|r| r.arn.as_deref())?;
    let (b, k) = arn.split_once(":::")?.1.split_once('/')?;
    Some((b.to_string(), k.to_string()))
}

/// The holder of a lock as far as memory knows: (principal, description, `Info.ID`).
fn holder(lock_id: &str, mem: &dyn Memory) -> (Option<Principal>, Value, String) {
    let held = mem.held(lock_id);
    let acquired = mem.acquirer(lock_id);
    let principal = held.as_ref().and_then(|h| h.principal.clone()).or_else(|| acquired.as_ref().map(|(p, _)| p.clone()));
    let mut desc = Map::new();
    if let Some(arn) = principal.as_ref().and_then(|p| p.arn.clone()) {
        desc.insert("principal".into(), Value::String(arn));
    }
    let id = held.as_ref().map(|h| h.info.id.clone()).unwrap_or_default();
    if let Some(h) = &held {
        for (k, v) in [("who", &h.info.who), ("id", &h.info.id), ("operation", &h.info.operation)] {
            if !v.is_empty() {
                desc.insert(k.into(), Value::String(v.clone()));
            }
        }
        desc.insert("since".into(), Value::String(h.since.to_rfc3339()));
    } else if let Some((_, at)) = &acquired {
        desc.insert("since".into(), Value::String(at.to_rfc3339()));
    }
    (principal, Value::Object(desc), id)
}

fn describe_holder(desc: &Value) -> String {
    let get = |k: &str| desc.get(k).and_then(Value::as_str);
    match (get("principal"), get("who")) {
        (Some(p), Some(w)) => format!("{p} ({w})"),
        (Some(p), None) => p.to_string(),
        (None, Some(w)) => w.to_string(),
        (None, None) => "an unknown holder".to_string(),
    }
}

fn lock_event(call: &ApiCall, ctx: &Context<'_>, mem: &mut dyn Memory, lock_id: &str, via: Via) -> Vec<Finding> {
    let kind = classify(&call.principal, ctx.policy);
    let acquire = matches!(call.event_name.as_str(), "PutItem" | "PutObject");
    let who = actor::who(&call.principal);
    let actor = actor_of(&call.principal, kind);
    let mechanism = match via {
        Via::Table => "lock table",
        Via::File => "lock file",
    };
    let draft = |rule: Rule, title: String, changes: Vec<Change>, parts: Vec<String>| Draft {
        rule,
        severity: None,
        title,
        resource: lock_resource(lock_id),
        actor: Some(actor.clone()),
        changes,
        extra_controls: Vec::new(),
        fingerprint_parts: parts,
        at: call.event_time,
    };
    match (call.error_code.as_deref(), acquire) {
        (Some(code), true) => {
            let contended = match via {
                Via::Table => code == "ConditionalCheckFailedException",
                Via::File => code == "PreconditionFailed" || code == "ConditionalRequestConflict",
            };
            if !contended {
                return Vec::new();
            }
            let (_, desc, id) = holder(lock_id, mem);
            let title = format!("Terraform lock on s3://{lock_id} contended: {who} waited for {} ({mechanism})", describe_holder(&desc));
            let changes = vec![
                Change { path: "holder".into(), desired: Value::Null, actual: desc },
                Change { path: "waiter".into(), desired: Value::Null, actual: json!({ "principal": call.principal.arn }) },
            ];
            vec![build(draft(Rule::LockContention, title, changes, vec![lock_id.to_string(), id]), ctx.catalog)]
        }
        (Some(_), false) => Vec::new(),
        (None, true) => {
            mem.note_acquirer(lock_id, call.principal.clone(), call.event_time);
            if matches!(kind, ActorKind::Pipeline | ActorKind::AwsService) {
                return Vec::new();
            }
            let title = format!("Terraform lock on s3://{lock_id} taken outside the pipeline by {who} ({mechanism})");
            vec![build(draft(Rule::LockOutsidePipeline, title, Vec::new(), vec![lock_id.to_string()]), ctx.catalog)]
        }
        (None, false) => {
            let (principal, desc, id) = holder(lock_id, mem);
            match principal {
                Some(h) if !actor::same_principal(&h, &call.principal) => {
                    let title = format!(
                        "Terraform lock on s3://{lock_id} removed by {who}, not by its holder {} ({mechanism})",
                        describe_holder(&desc)
                    );
                    let changes = vec![Change { path: "holder".into(), desired: Value::Null, actual: desc }];
                    vec![build(draft(Rule::LockForceUnlock, title, changes, vec![lock_id.to_string(), id]), ctx.catalog)]
                }
                _ => Vec::new(),
            }
        }
    }
}

fn state_written(call: &ApiCall, ctx: &Context<'_>, kind: ActorKind, bucket: &str, key: &str) -> Finding {
    let id = format!("s3://{bucket}/{key}");
    let mut changes = Vec::new();
    if let Some(v) = call.response_elements.get("x-amz-version-id").filter(|v| !v.is_null()) {
        changes.push(Change { path: "versionId".into(), desired: Value::Null, actual: v.clone() });
    }
    build(
        Draft {
            rule: Rule::StateWrittenOutsidePipeline,
            severity: None,
            title: format!("Terraform state {id} written outside the pipeline by {} ({})", actor::who(&call.principal), call.event_name),
            resource: ResourceRef {
                arn: None,
                resource_type: STATE_RESOURCE_TYPE.to_string(),
                id: id.clone(),
                address: None,
                terraform_type: None,
                state: None,
                account: None,
                region: None,
            },
            actor: Some(actor_of(&call.principal, kind)),
            changes,
            extra_controls: Vec::new(),
            fingerprint_parts: vec![id],
            at: call.event_time,
        },
        ctx.catalog,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_secret_keys() {
        for k in ["masterUserPassword", "authToken", "clientSecret", "secretAccessKey", "sessionToken", "privateKey", "newPassword"] {
            assert!(secret_key(k), "{k}");
        }
        for k in ["kmsKeyId", "keyId", "bucketName", "dBInstanceIdentifier", "SSEAlgorithm", "policyDocument", "KMSMasterKeyID"] {
            assert!(!secret_key(k), "{k}");
        }
    }

    #[test]
    fn open_policy_statements() {
        let open = json!(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}"#);
        let conditioned = json!(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}"#
        );
        let root = json!(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"kms:*","Resource":"*"}]}"#);
        assert_eq!(open_statements(&open).len(), 1);
        assert!(open_statements(&conditioned).is_empty());
        assert!(open_statements(&root).is_empty());
    }
}
