//! Config change detector: one AWS Config `Config Configuration Item Change` notification
//! compared with the desired attributes in the managed-resource index.
//!
//! | item | index | findings |
//! |---|---|---|
//! | `OK` / `ResourceDiscovered` | managed | `drift.changed`, `encryption.regression` ([`drift::compare_item`]) |
//! | `ResourceDeleted` (or diff `DELETE`) | managed | `drift.missing` ([`drift::missing`]) |
//! | new (diff `CREATE`, or `ResourceDiscovered` without a diff) | not managed, catalog type | `drift.unmanaged` ([`drift::unmanaged`]) |
//! | anything else | not managed | nothing: an update of an unmanaged resource is not news |
//! | `ResourceNotRecorded` | — | nothing: the item carries no configuration to compare |
//!
//! * **Ordering.** Config may deliver items late and out of order. An item whose
//!   `configurationStateId` is *older* than the newest one already processed for the same
//!   (type, id) is ignored ([`ConfigOrder`]). An item with the *same* id is a redelivery
//!   (EventBridge is at-least-once; a Lambda retry after a failed sink) and is evaluated again:
//!   it gives byte-identical findings, so the sink deduplicates it, and a retry never loses a
//!   finding that the first attempt failed to record.
//! * **`configurationItemDiff.changedProperties`** restricts `drift.changed`: when the diff
//!   lists properties, a `drift.changed` finding is kept only if one of its attributes is read
//!   from a changed property (the first two segments of `Configuration.SSEDescription.Status`
//!   against the catalog `live` paths, case-insensitively). Drift that existed before this
//!   change is the full reconcile's business and is not re-raised on every unrelated update
//!   (a tag edit). `encryption.regression` is never restricted: a diff key spelled in a way
//!   the catalog did not foresee must not hide a weakening, and re-reporting one already open
//!   only refreshes it (same fingerprint). Without a diff (`CREATE`, a fetched oversized
//!   item) every attribute is compared.
//! * **Oversized notifications** (`change.item == None`, `change.oversized` set) yield nothing
//!   here and record no ordering: the adapter fetches the full item from S3
//!   (`OversizedRef::s3_bucket/s3_key`) and calls again with `item` set.
//! * **Time.** Findings are timed by the item's `configurationItemCaptureTime`, else the
//!   notification time; only an input carrying neither falls back to the context clock.

use super::{ConfigOrder, Context, Memory};
use crate::catalog::Catalog;
use crate::drift;
use crate::finding::{Finding, Rule};
use crate::index::IndexEntry;
use crate::lifecycle::{Resolution, Resolve};
use crate::live::ConfigItem;
use crate::path::{AttrPath, Step};
use crate::signal::ConfigChange;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Findings for one configuration item change.
pub fn detect(change: &ConfigChange, ctx: &Context<'_>, mem: &mut dyn Memory) -> Vec<Finding> {
    let Some(item) = change.item.as_ref() else {
        // Oversized notification: the adapter fetches the item and calls again.
        return Vec::new();
    };
    if let Some(sid) = item.state_id {
        if mem.last_state_id(&item.resource_type, &item.resource_id).is_some_and(|last| sid < last) {
            return Vec::new();
        }
        mem.set_state_id(&item.resource_type, &item.resource_id, sid);
    }
    let at = item_time(item).or(change.notification_time).unwrap_or(ctx.now);
    let entries = entries_for(item, ctx);
    let change_type = change.change_type.as_deref().map(str::to_ascii_uppercase);
    let deleted = item.is_deleted() || change_type.as_deref() == Some("DELETE");
    let mut out = Vec::new();
    if entries.is_empty() {
        let created = match change_type.as_deref() {
            Some(t) => t == "CREATE",
            None => item.status == "ResourceDiscovered",
        };
        if created && !deleted {
            out.extend(drift::unmanaged(item, ctx.catalog, at));
        }
    } else if deleted {
        out.extend(drift::missing(&entries, ctx.catalog, &ctx.policy.scan_policy(), at));
    } else if item.status != "ResourceNotRecorded" {
        let findings = drift::compare_item(&entries, item, ctx.index, ctx.catalog, ctx.redactor, &ctx.policy.scan_policy(), at);
        let changed = changed_properties(&change.changed_properties);
        out.extend(findings.into_iter().filter(|f| f.rule != Rule::DriftChanged || touched(f, &changed, ctx.catalog)));
    }
    out.extend(super::controls::on_item(item, &change.changed_properties, at, ctx));
    crate::finding::sort(&mut out);
    out
}

/// Index entries for the item: by (type, id) in the item's account and region, else by ARN.
fn entries_for<'i>(item: &ConfigItem, ctx: &Context<'i>) -> Vec<&'i IndexEntry> {
    let direct: Vec<&IndexEntry> = ctx.index.lookup_at(&item.resource_type, &item.resource_id, item.place()).collect();
    if !direct.is_empty() {
        return direct;
    }
    match item.arn.as_deref().and_then(|a| ctx.index.lookup_arn(a)) {
        Some(e) => ctx.index.lookup(&e.config_type, &e.resource_id).collect(),
        None => Vec::new(),
    }
}

fn item_time(item: &ConfigItem) -> Option<DateTime<Utc>> {
    item.captured()
}

/// The findings one configuration item shows resolved (if open): call before [`detect`]
/// with the same memory (an item older than the newest processed resolves nothing).
///
/// | item | index | resolves |
/// |---|---|---|
/// | recorded, not deleted | managed | per entry, `drift.changed` / `encryption.regression` not found again, `change.*` when neither is, `drift.missing` ([`drift::resolutions`]) |
/// | deleted | managed | `drift.changed`, `encryption.regression`, `change.*` (`drift.missing` opens) |
/// | deleted | not managed | `drift.unmanaged` |
///
/// The resolution is timed by the item's capture time: a finding reported after it (a
/// console edit the item predates) stays open.
pub fn resolutions(change: &ConfigChange, ctx: &Context<'_>, mem: &dyn ConfigOrder) -> Vec<Resolve> {
    let Some(item) = change.item.as_ref() else { return Vec::new() };
    if item.state_id.is_some_and(|sid| mem.last_state_id(&item.resource_type, &item.resource_id).is_some_and(|last| sid < last)) {
        return Vec::new();
    }
    let at = item_time(item).or(change.notification_time).unwrap_or(ctx.now);
    let deleted = item.is_deleted() || change.change_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("DELETE"));
    let mut out: Vec<Resolve> = if deleted || item.status == "ResourceNotRecorded" {
        Vec::new()
    } else {
        // Safeguards the item shows in force again.
        super::controls::restored(item, &super::controls::Scope::of(ctx.policy, item.account_id.as_deref()))
            .into_iter()
            .map(|fingerprint| Resolve { fingerprint, reason: Resolution::LiveMatches, at })
            .collect()
    };
    out.extend(drift_resolutions(item, change, ctx, deleted, at));
    out
}

fn drift_resolutions(item: &ConfigItem, _change: &ConfigChange, ctx: &Context<'_>, deleted: bool, at: DateTime<Utc>) -> Vec<Resolve> {
    let entries = entries_for(item, ctx);
    if entries.is_empty() {
        if !deleted || ctx.catalog.primary_for_config_type(&item.resource_type).is_none() {
            return Vec::new();
        }
        let fingerprint = crate::finding::fingerprint(
            Rule::DriftUnmanaged,
            &[item.account_id.as_deref().unwrap_or(""), &item.resource_type, &item.resource_id],
        );
        return vec![Resolve { fingerprint, reason: Resolution::ResourceGone, at }];
    }
    if deleted {
        return drift::resolutions(&entries, &[], false, at);
    }
    if item.status == "ResourceNotRecorded" {
        return Vec::new();
    }
    let found = drift::compare_item(&entries, item, ctx.index, ctx.catalog, ctx.redactor, &ctx.policy.scan_policy(), at);
    drift::resolutions(&entries, &found, true, at)
}

/// The changed properties as lowercase segment lists (`Configuration.SSEDescription.Status`
/// → `["configuration", "ssedescription", "status"]`). Empty when the diff lists none.
fn changed_properties(diff: &Value) -> Vec<Vec<String>> {
    match diff {
        Value::Object(m) => m.keys().map(|k| k.split('.').map(str::to_ascii_lowercase).collect()).collect(),
        _ => Vec::new(),
    }
}

/// Is one of the finding's attributes read from a changed property? With no changed
/// properties listed, everything counts as touched.
fn touched(f: &Finding, changed: &[Vec<String>], catalog: &Catalog) -> bool {
    if changed.is_empty() {
        return true;
    }
    let Some(spec) = f.resource.terraform_type.as_deref().and_then(|t| catalog.get(t)) else { return true };
    f.changes.iter().any(|c| {
        spec.attrs.iter().filter(|a| a.tf.to_string() == c.path).flat_map(|a| a.live.iter()).any(|live| {
            let live = segments(live);
            changed.iter().any(|p| {
                let n = p.len().min(live.len()).min(2);
                // Config spells some properties camelCase and others PascalCase
                n > 0 && p[..n].iter().zip(&live[..n]).all(|(a, b)| a.eq_ignore_ascii_case(b))
            })
        })
    })
}

fn segments(p: &AttrPath) -> Vec<String> {
    p.0.iter()
        .map(|s| match s {
            Step::Key(k) => k.to_ascii_lowercase(),
            Step::Index(i) => i.to_string(),
        })
        .collect()
}
