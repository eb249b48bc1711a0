//! Lock detector: Terraform S3-backend locks, as DynamoDB lock-table items (Streams records)
//! and as S3 `.tflock` lock files (Terraform >= 1.10 `use_lockfile`).
//!
//! Both kinds of lock are remembered in the [`super::LockLedger`] under the same id, the DynamoDB
//! `LockID` convention `<bucket>/<state key>` (a `.tflock` file `<key>.tflock` in `<bucket>` is
//! `<bucket>/<key>`). The state-write path asks `held("<bucket>/<key>")` whatever the locking
//! mechanism, and a Terraform that takes both locks (1.11 with `use_lockfile` and
//! `dynamodb_table`) writes the same `Info.ID` to both, which is one lock here.
//!
//! | record | effect | finding |
//! |---|---|---|
//! | INSERT / `.tflock` created | hold | `lock.stale` if the new lock is already too old |
//! | REMOVE / `.tflock` deleted | release | `lock.force_unlock` when the removed `Info.ID` is not the held one; `lock.stale` if it was held too long |
//! | MODIFY | hold the new `Info` | `lock.force_unlock` when the `Info.ID` changes (see below) |
//! | `<bucket>/<key>-md5` item | nothing | the state digest, read by the state-write path |
//! | TTL deletion (`removed_by_service`) | release | never `lock.force_unlock` |
//! | tick ([`sweep`]) | — | `lock.stale` for every lock held longer than the policy allows |
//!
//! **MODIFY.** Terraform never modifies a lock item: it acquires with a conditional `PutItem`
//! (`attribute_not_exists(LockID)`) and releases with a conditional `DeleteItem`. A MODIFY
//! whose `Info.ID` differs from the held lock therefore means somebody overwrote a held lock
//! (an unconditional `PutItem`, a console edit): the holder lost its lock while its run goes
//! on, and a second run now writes the same state. That is a forced unlock of the holder —
//! `lock.force_unlock`, naming the holder and the new `Info` — not `lock.contention`, which is
//! a *failed* acquisition (the waiter did not get the lock, CloudTrail reports it). A MODIFY
//! that keeps the ID updates the remembered `Info` silently. The same holds for a `.tflock`
//! object created over a held lock file with another ID (Terraform writes it with
//! `If-None-Match: *`, so only an unconditional write can replace it).
//!
//! **REMOVE.** Terraform's own unlock, including `terraform force-unlock <ID>`, deletes the
//! item it holds, so at the stream level a force-unlock by another principal looks like a
//! normal release: the principal comes from CloudTrail (the CloudTrail detector's
//! `lock.force_unlock`, same fingerprint). Here `lock.force_unlock` fires when the removed
//! item's `Info.ID` is not the one we saw acquired, i.e. the lock was replaced and removed
//! behind its holder's back. An INSERT over a lock remembered with another ID is not a
//! finding: Streams are ordered per item, so it only means a REMOVE was missed.
//!
//! IDs are compared only when both are known (a `.tflock` event whose body the adapter did not
//! read has an empty ID). S3 events are not ordered: a `.tflock` deletion naming a lock created
//! before the held one is a late event of the previous lock and changes nothing.
//!
//! **Two mechanisms.** A lock file appearing while a table lock with another ID is held (or the
//! reverse) means two runs hold the state at once, each through a lock the other does not check
//! (one configured with `dynamodb_table` only, the other with `use_lockfile` only) →
//! `lock.contention` naming both. The first lock stays remembered; releases through the other
//! mechanism release it only when they name its ID.
//!
//! **Stale.** A lock is stale when it has been held longer than
//! `policy.stale_after_minutes(Info.Operation)`, counted from `Info.Created` (or when first
//! seen, whichever is earlier). `lock.stale` is fingerprinted by (lock id, `Info.ID`): the sweep
//! reports a stale lock on every tick with the same fingerprint (the findings store keeps one
//! finding and moves `last_seen`), and the record path reports it when a record arrives for a
//! lock already too old (typically its release) with that fingerprint too.
//!
//! Findings are about the state the lock protects: resource type `driftwatch::TerraformState`,
//! id `s3://<bucket>/<key>` ([`lock_resource`]), timed by the record (the tick for the sweep).

use super::{build, Context, DigestRecord, Draft, HeldLock, LockSource, Memory, Released};
use crate::finding::{Actor, Change, Finding, ResourceRef, Rule};
use crate::glob;
use crate::signal::{LockFileEvent, LockInfo, LockRecord, ObjectChange, Principal, StreamEvent};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Resource type of findings about a Terraform state (and its lock).
pub const STATE_RESOURCE_TYPE: &str = "driftwatch::TerraformState";

/// Suffix of the lock-table item holding the state digest.
pub const DIGEST_SUFFIX: &str = "-md5";

/// Suffix of S3 lock files.
pub const LOCK_FILE_SUFFIX: &str = ".tflock";

/// How far apart a CloudTrail lock acquisition ([`super::LockLedger::note_acquirer`]) and the
/// lock record may be for the acquisition's principal to be taken as the holder.
pub const ACQUIRER_WINDOW_SECONDS: i64 = 120;

/// The lock id of a `.tflock` object: `<bucket>/<key without .tflock>`; `None` for other keys.
pub fn lock_id_for_file(bucket: &str, key: &str) -> Option<String> {
    key.strip_suffix(LOCK_FILE_SUFFIX).filter(|k| !k.is_empty()).map(|k| format!("{bucket}/{k}"))
}

/// Is this lock-table id the `-md5` digest item of a state rather than a lock?
pub fn is_digest_item(lock_id: &str) -> bool {
    lock_id.ends_with(DIGEST_SUFFIX)
}

/// The resource of a lock finding: the state the lock protects, `s3://<lock id>`.
pub fn lock_resource(lock_id: &str) -> ResourceRef {
    ResourceRef {
        arn: None,
        resource_type: STATE_RESOURCE_TYPE.to_string(),
        id: format!("s3://{lock_id}"),
        address: None,
        terraform_type: None,
        state: None,
        account: None,
        region: None,
    }
}

/// Findings for one lock table stream record.
pub fn on_record(rec: &LockRecord, ctx: &Context<'_>, mem: &mut dyn Memory) -> Vec<Finding> {
    if rec.table.as_deref().is_some_and(|t| !ctx.policy.is_lock_table(t)) {
        return Vec::new();
    }
    let has_id = |i: &Option<LockInfo>| i.as_ref().is_some_and(|i| !i.id.is_empty());
    if is_digest_item(&rec.lock_id) && (rec.digest.is_some() || !(has_id(&rec.new_info) || has_id(&rec.old_info))) {
        // The digest Terraform wrote for the state it just wrote: remembered, so that the
        // state-write check can compare the write with its own digest.
        if let (Some(digest), Some(state_id)) = (rec.digest.as_deref().filter(|d| !d.is_empty()), rec.lock_id.strip_suffix(DIGEST_SUFFIX)) {
            mem.note_digest(state_id, DigestRecord { digest: digest.to_string(), at: rec.time });
        }
        return Vec::new();
    }
    let source = LockSource::Table { table: rec.table.clone() };
    let mut out = Vec::new();
    match (rec.event, rec.new_info.clone()) {
        (StreamEvent::Insert, info) => acquire(&rec.lock_id, info.unwrap_or_default(), source, rec.time, false, ctx, mem, &mut out),
        (StreamEvent::Modify, Some(info)) => {
            // What the item held before: the remembered lock, else the old image.
            match (mem.held(&rec.lock_id), rec.old_info.as_ref()) {
                (Some(p), Some(old)) if same_kind(&p.source, &source) && differs(&old.id, &p.info.id) => {
                    out.push(force_unlock(&rec.lock_id, &p, old, "lost it: the lock item was replaced", None, rec.time, ctx));
                }
                (None, Some(old)) => mem.hold(&rec.lock_id, remembered(old.clone(), source.clone(), rec.time)),
                _ => {}
            }
            acquire(&rec.lock_id, info, source, rec.time, true, ctx, mem, &mut out);
        }
        (StreamEvent::Modify | StreamEvent::Remove, _) => {
            release(&rec.lock_id, rec.old_info.as_ref(), source, rec.removed_by_service, rec.time, ctx, mem, &mut out)
        }
    }
    dedup(&mut out);
    crate::finding::sort(&mut out);
    out
}

/// Findings for one `.tflock` object event.
pub fn on_file(ev: &LockFileEvent, ctx: &Context<'_>, mem: &mut dyn Memory) -> Vec<Finding> {
    let Some(lock_id) = lock_id_for_file(&ev.bucket, &ev.key) else { return Vec::new() };
    let buckets = &ctx.policy.state.buckets;
    if !buckets.is_empty() && !buckets.iter().any(|b| glob::matches(b, &ev.bucket)) {
        return Vec::new();
    }
    let source = LockSource::File { bucket: ev.bucket.clone(), key: ev.key.clone() };
    let mut out = Vec::new();
    match ev.change {
        ObjectChange::Created => acquire(&lock_id, ev.info.clone().unwrap_or_default(), source, ev.time, true, ctx, mem, &mut out),
        ObjectChange::Deleted => release(&lock_id, ev.info.as_ref(), source, false, ev.time, ctx, mem, &mut out),
    }
    dedup(&mut out);
    crate::finding::sort(&mut out);
    out
}

/// Stale locks as of `now`.
pub fn sweep(now: DateTime<Utc>, ctx: &Context<'_>, mem: &mut dyn Memory) -> Vec<Finding> {
    let mut out = Vec::new();
    for (id, held) in mem.all_held() {
        stale(&id, &held, now, ctx, &mut out);
    }
    crate::finding::sort(&mut out);
    out
}

/// Take `info` as the lock now held on `lock_id`.
///
/// * same ID as the held lock: a redelivery, or the second of the DynamoDB + `.tflock` pair;
///   what we knew is kept;
/// * another ID through the same mechanism: a takeover when `replaces` (MODIFY, lock file
///   overwritten) → `lock.force_unlock`; a missed release otherwise (INSERT);
/// * another ID through the other mechanism: two runs hold the state at once, each through a
///   lock the other does not check (mixed `use_lockfile` / `dynamodb_table` configurations) →
///   `lock.contention`; the first lock stays remembered.
#[allow(clippy::too_many_arguments)]
fn acquire(
    lock_id: &str,
    info: LockInfo,
    source: LockSource,
    at: DateTime<Utc>,
    replaces: bool,
    ctx: &Context<'_>,
    mem: &mut dyn Memory,
    out: &mut Vec<Finding>,
) {
    let new = HeldLock { since: since(&info, at), principal: acquirer(lock_id, at, mem), info, source };
    let lock = match mem.held(lock_id) {
        None => new,
        Some(mut p) if !differs(&p.info.id, &new.info.id) => {
            if p.info.id.is_empty() {
                p.info = new.info;
            }
            if p.principal.is_none() {
                p.principal = new.principal;
            }
            p
        }
        Some(p) if !same_kind(&p.source, &new.source) => {
            out.push(two_mechanisms(lock_id, &p, &new, at, ctx));
            stale(lock_id, &p, at, ctx, out);
            return;
        }
        Some(p) => {
            if replaces {
                let how = match new.source {
                    LockSource::File { .. } => "lost it: the lock file was overwritten",
                    LockSource::Table { .. } => "lost it: the lock item was overwritten",
                };
                let actor = new.principal.as_ref().map(|a| super::state_write::actor(a, ctx.policy));
                out.push(force_unlock(lock_id, &p, &new.info, how, actor, at, ctx));
            }
            stale(lock_id, &p, at, ctx, out);
            new
        }
    };
    stale(lock_id, &lock, at, ctx, out);
    mem.hold(lock_id, lock);
}

/// The lock on `lock_id` went away through `source`; `removed` is the `Info` of what was
/// removed, when known.
#[allow(clippy::too_many_arguments)]
fn release(
    lock_id: &str,
    removed: Option<&LockInfo>,
    source: LockSource,
    by_service: bool,
    at: DateTime<Utc>,
    ctx: &Context<'_>,
    mem: &mut dyn Memory,
    out: &mut Vec<Finding>,
) {
    let Some(held) = mem.held(lock_id) else {
        // Not remembered (memory lost, or acquired before we watched): the removed Info still
        // tells how long it was held.
        let lock = removed.map(|info| remembered(info.clone(), source, at));
        if let Some(l) = &lock {
            stale(lock_id, l, at, ctx, out);
        }
        let since = lock.as_ref().map_or(at, |l| l.since);
        mem.note_release(lock_id, Released { lock, since, at });
        return;
    };
    let differing = removed.filter(|r| differs(&r.id, &held.info.id));
    if !same_kind(&held.source, &source) {
        // The other mechanism's lock: ours goes only if it is known to be the same lock.
        if removed.is_some_and(|r| !r.id.is_empty() && r.id == held.info.id) {
            stale(lock_id, &held, at, ctx, out);
            mem.release(lock_id);
            mem.note_release(lock_id, Released { since: held.since, lock: Some(held), at });
        }
        return;
    }
    if let Some(r) = differing {
        let ordered = matches!(source, LockSource::Table { .. });
        if !ordered && r.created.is_some_and(|c| c < held.since) {
            // A late deletion of an earlier lock file (S3 events are not ordered): the
            // held lock stays.
            return;
        }
        if !by_service {
            out.push(force_unlock(lock_id, &held, r, "lost it: the lock was removed under another lock ID", None, at, ctx));
        }
    }
    stale(lock_id, &held, at, ctx, out);
    mem.release(lock_id);
    mem.note_release(lock_id, Released { since: held.since, lock: Some(held), at });
}

fn same_kind(a: &LockSource, b: &LockSource) -> bool {
    matches!((a, b), (LockSource::Table { .. }, LockSource::Table { .. }) | (LockSource::File { .. }, LockSource::File { .. }))
}

/// A lock known only from an `Info` (no memory of its acquisition).
fn remembered(info: LockInfo, source: LockSource, at: DateTime<Utc>) -> HeldLock {
    HeldLock { since: since(&info, at), principal: None, info, source }
}

/// Held since `Info.Created`, unless the holder's clock is ahead of the record.
fn since(info: &LockInfo, at: DateTime<Utc>) -> DateTime<Utc> {
    info.created.map_or(at, |c| c.min(at))
}

/// The principal CloudTrail saw acquiring `lock_id` around `at`.
fn acquirer(lock_id: &str, at: DateTime<Utc>, mem: &dyn Memory) -> Option<Principal> {
    mem.acquirer(lock_id).filter(|(_, t)| (*t - at).num_seconds().abs() <= ACQUIRER_WINDOW_SECONDS).map(|(p, _)| p)
}

/// Two lock IDs that are both known and not equal.
fn differs(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && a != b
}

fn describe(info: &LockInfo) -> String {
    let who = if info.who.is_empty() { "unknown holder" } else { info.who.as_str() };
    let op = if info.operation.is_empty() { "unknown operation" } else { info.operation.as_str() };
    let id = if info.id.is_empty() { "unknown ID" } else { info.id.as_str() };
    format!("{who} ({op}, ID {id})")
}

fn holder_actor(lock: &HeldLock, ctx: &Context<'_>) -> Option<Actor> {
    lock.principal.as_ref().map(|p| super::state_write::actor(p, ctx.policy))
}

fn force_unlock(
    lock_id: &str,
    held: &HeldLock,
    other: &LockInfo,
    how: &str,
    actor: Option<Actor>,
    at: DateTime<Utc>,
    ctx: &Context<'_>,
) -> Finding {
    build(
        Draft {
            rule: Rule::LockForceUnlock,
            severity: None,
            title: format!("Terraform lock on s3://{lock_id} held by {} {how} (other lock: {})", describe(&held.info), describe(other)),
            resource: lock_resource(lock_id),
            actor,
            changes: vec![Change {
                path: "Info.ID".into(),
                desired: Value::String(held.info.id.clone()),
                actual: Value::String(other.id.clone()),
            }],
            extra_controls: Vec::new(),
            fingerprint_parts: vec![lock_id.to_string(), held.info.id.clone()],
            at,
        },
        ctx.catalog,
    )
}

fn mechanism(s: &LockSource) -> &'static str {
    match s {
        LockSource::Table { .. } => "lock table",
        LockSource::File { .. } => "lock file",
    }
}

/// Two runs hold the same state at once, each through a mechanism the other does not check.
fn two_mechanisms(lock_id: &str, held: &HeldLock, other: &HeldLock, at: DateTime<Utc>, ctx: &Context<'_>) -> Finding {
    build(
        Draft {
            rule: Rule::LockContention,
            severity: None,
            title: format!(
                "Terraform state s3://{lock_id} locked twice at once: {} through the {} and {} through the {}; the two locks do not exclude each other",
                describe(&held.info),
                mechanism(&held.source),
                describe(&other.info),
                mechanism(&other.source)
            ),
            resource: lock_resource(lock_id),
            actor: other.principal.as_ref().map(|p| super::state_write::actor(p, ctx.policy)),
            changes: vec![Change { path: "Info.ID".into(), desired: Value::String(held.info.id.clone()), actual: Value::String(other.info.id.clone()) }],
            extra_controls: Vec::new(),
            fingerprint_parts: vec![lock_id.to_string(), held.info.id.clone(), other.info.id.clone()],
            at,
        },
        ctx.catalog,
    )
}

/// `lock.stale` for `lock` if, at `at`, it has been held longer than the policy allows.
fn stale(lock_id: &str, lock: &HeldLock, at: DateTime<Utc>, ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let limit = ctx.policy.stale_after_minutes(&lock.info.operation);
    let age = at - lock.since;
    if age <= Duration::minutes(i64::try_from(limit).unwrap_or(i64::MAX / 60_000)) {
        return;
    }
    let key = if lock.info.id.is_empty() { lock.since.to_rfc3339() } else { lock.info.id.clone() };
    let via = match &lock.source {
        LockSource::Table { table: Some(t) } => format!("lock table {t}"),
        LockSource::Table { table: None } => "lock table".to_string(),
        LockSource::File { bucket, key } => format!("lock file s3://{bucket}/{key}"),
    };
    out.push(build(
        Draft {
            rule: Rule::LockStale,
            severity: None,
            title: format!(
                "Terraform lock on s3://{lock_id} held for {} by {} (limit {limit} min, {via})",
                human(age),
                describe(&lock.info)
            ),
            resource: lock_resource(lock_id),
            actor: holder_actor(lock, ctx),
            changes: Vec::new(),
            extra_controls: Vec::new(),
            fingerprint_parts: vec![lock_id.to_string(), key],
            at,
        },
        ctx.catalog,
    ));
}

fn human(d: Duration) -> String {
    let m = d.num_minutes();
    match (m / (24 * 60), (m / 60) % 24, m % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, m) => format!("{d}d{h:02}h{m:02}m"),
    }
}

/// One finding per (rule, fingerprint) per record.
fn dedup(out: &mut Vec<Finding>) {
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert((f.rule, f.fingerprint.clone())));
}
