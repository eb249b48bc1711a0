//! Lock detector, data-driven: each case is a sequence of lock-table stream records, `.tflock`
//! events and sweeps, with the rules expected after each step. `check` runs every case twice
//! with fresh memories and requires byte-identical findings (replay gives the same findings).

use chrono::{DateTime, Utc};
use driftwatch_core::catalog::Catalog;
use driftwatch_core::detect::{self, lock, Context, InMemory, LockLedger, LockSource};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{LockFileEvent, LockInfo, LockRecord, ObjectChange, Principal, Signal, StreamEvent, Tick};
use driftwatch_core::{Finding, Redactor, Rule};

const BUCKET: &str = "stmarys-tfstate";
const KEY: &str = "network/terraform.tfstate";
const TABLE: &str = "terraform-locks";
const A: &str = "e31b62fc-0741-73e8-d5fb-e39148a1aa7e";
const B: &str = "3602503f-600a-d073-b54c-266353fd79f1";

fn lock_id() -> String {
    format!("{BUCKET}/{KEY}")
}

fn t(hm: &str) -> DateTime<Utc> {
    format!("2026-11-20T{hm}:00Z").parse().unwrap()
}

/// A lock `Info` as Terraform writes it (the JSON of the DynamoDB `Info` attribute).
fn info(id: &str, op: &str, created: &str) -> LockInfo {
    let json = format!(
        r#"{{"ID":"{id}","Operation":"{op}","Info":"","Who":"runner@gha-prod-7","Version":"1.11.2","Created":"2026-11-20T{created}:00.297820283Z","Path":"{BUCKET}/{KEY}"}}"#
    );
    serde_json::from_str(&json).unwrap()
}

fn rec(event: StreamEvent, new: Option<LockInfo>, old: Option<LockInfo>, at: &str) -> Signal {
    Signal::LockRecord(LockRecord {
        event,
        lock_id: lock_id(),
        table: Some(TABLE.into()),
        new_info: new,
        old_info: old,
        digest: None,
        time: t(at),
        sequence_number: Some(format!("4000000000000{}", at.replace(':', ""))),
        removed_by_service: false,
    })
}

fn insert(i: LockInfo, at: &str) -> Signal {
    rec(StreamEvent::Insert, Some(i), None, at)
}

fn remove(i: LockInfo, at: &str) -> Signal {
    rec(StreamEvent::Remove, None, Some(i), at)
}

fn ttl_remove(i: LockInfo, at: &str) -> Signal {
    match rec(StreamEvent::Remove, None, Some(i), at) {
        Signal::LockRecord(mut r) => {
            r.removed_by_service = true;
            Signal::LockRecord(r)
        }
        _ => unreachable!(),
    }
}

fn digest_item(event: StreamEvent, at: &str) -> Signal {
    Signal::LockRecord(LockRecord {
        event,
        lock_id: format!("{BUCKET}/{KEY}-md5"),
        table: Some(TABLE.into()),
        new_info: None,
        old_info: None,
        digest: Some("9a0364b9e99bb480dd25e1f0284c8555".into()),
        time: t(at),
        sequence_number: None,
        removed_by_service: false,
    })
}

fn file(change: ObjectChange, i: Option<LockInfo>, at: &str) -> Signal {
    Signal::LockFile(LockFileEvent { bucket: BUCKET.into(), key: format!("{KEY}.tflock"), change, time: t(at), version_id: None, info: i })
}

fn sweep(at: &str) -> Signal {
    Signal::Tick(Tick { time: t(at), rule: Some("sweeper".into()), account: None, region: None })
}

/// One step: the input and the rule ids it must yield, in order.
type Step = (Signal, &'static [&'static str]);

struct Run {
    findings: Vec<Vec<Finding>>,
    mem: InMemory,
}

fn run(policy: &Policy, prepare: &dyn Fn(&mut InMemory), steps: &[Step]) -> Run {
    let index = ManagedIndex::default();
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"test");
    let ctx = Context { index: &index, catalog: &catalog, policy, redactor: &redactor, now: t("23:59") };
    let mut mem = InMemory::default();
    prepare(&mut mem);
    let findings = steps.iter().map(|(s, _)| detect::process(s, &ctx, &mut mem)).collect();
    Run { findings, mem }
}

fn check_with(policy: &Policy, prepare: &dyn Fn(&mut InMemory), steps: &[Step]) -> Run {
    let first = run(policy, prepare, steps);
    for (i, ((_, want), got)) in steps.iter().zip(&first.findings).enumerate() {
        let rules: Vec<&str> = got.iter().map(|f| f.rule.id()).collect();
        assert_eq!(&rules, want, "step {i}: {:#?}", got.iter().map(|f| &f.title).collect::<Vec<_>>());
        for f in got {
            assert_eq!(f.resource.resource_type, "driftwatch::TerraformState");
            assert_eq!(f.resource.id, format!("s3://{BUCKET}/{KEY}"));
        }
    }
    let again = run(policy, prepare, steps);
    assert_eq!(first.findings, again.findings, "replaying the same records gives identical findings");
    first
}

fn check(steps: &[Step]) -> Run {
    check_with(&Policy::default(), &|_| {}, steps)
}

fn held(r: &Run) -> Option<String> {
    r.mem.held(&lock_id()).map(|l| l.info.id)
}

// ------------------------------------------------------------------------------ table locks

#[test]
fn acquire_and_release_is_quiet() {
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (remove(info(A, "OperationTypeApply", "10:00"), "10:05"), &[]),
    ]);
    assert_eq!(held(&r), None);
}

#[test]
fn insert_holds_the_lock_for_the_state_write_path() {
    let r = check(&[(insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[])]);
    let l = r.mem.held(&lock_id()).unwrap();
    // Held since Info.Created, unless the holder's clock is ahead of the record (here by 0.3 s).
    assert_eq!((l.info.id.as_str(), l.info.who.as_str(), l.since), (A, "runner@gha-prod-7", t("10:00")));
    let r = check(&[(insert(info(A, "OperationTypeApply", "09:59"), "10:00"), &[])]);
    assert_eq!(r.mem.held(&lock_id()).unwrap().since, "2026-11-20T09:59:00.297820283Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(l.source, LockSource::Table { table: Some(TABLE.into()) });
}

#[test]
fn stale_lock_is_swept_with_one_fingerprint() {
    // plan: 30 minutes by default.
    let r = check(&[
        (insert(info(A, "OperationTypePlan", "10:00"), "10:00"), &[]),
        (sweep("10:20"), &[]),
        (sweep("10:31"), &["lock.stale"]),
        (sweep("11:45"), &["lock.stale"]),
    ]);
    let (a, b) = (&r.findings[2][0], &r.findings[3][0]);
    assert_eq!(a.fingerprint, b.fingerprint, "one lock, one finding");
    assert!(a.title.contains("runner@gha-prod-7") && a.title.contains(A) && a.title.contains("OperationTypePlan"), "{}", a.title);
    assert!(a.title.contains("held for 31m") && b.title.contains("held for 1h45m"), "{} / {}", a.title, b.title);
    assert_eq!(a.first_seen, t("10:31"), "the sweep is timed by its tick");
}

#[test]
fn threshold_per_operation_comes_from_the_policy() {
    let policy = Policy::from_toml("[locks]\nstale_after_minutes = { default = 45, apply = 90 }").unwrap();
    check_with(
        &policy,
        &|_| {},
        &[(insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]), (sweep("11:29"), &[]), (sweep("11:31"), &["lock.stale"])],
    );
    check_with(
        &policy,
        &|_| {},
        &[(insert(info(A, "state-rm", "10:00"), "10:00"), &[]), (sweep("10:44"), &[]), (sweep("10:46"), &["lock.stale"])],
    );
}

#[test]
fn release_of_a_lock_held_too_long_is_stale() {
    // apply: 120 minutes by default; reported on release, with the sweep's fingerprint.
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (remove(info(A, "OperationTypeApply", "10:00"), "12:30"), &["lock.stale"]),
    ]);
    let swept = check(&[(insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]), (sweep("12:30"), &["lock.stale"])]);
    assert_eq!(r.findings[1][0].fingerprint, swept.findings[1][0].fingerprint);
    assert_eq!(held(&r), None);
}

#[test]
fn release_of_an_unremembered_old_lock_is_stale() {
    check(&[(remove(info(A, "OperationTypeApply", "06:00"), "12:30"), &["lock.stale"])]);
}

#[test]
fn record_for_a_lock_already_too_old_is_stale() {
    // Memory lost the acquisition; the INSERT redelivered late still tells its age.
    check(&[(insert(info(A, "OperationTypePlan", "09:00"), "10:00"), &["lock.stale"])]);
}

#[test]
fn redelivered_insert_keeps_the_first_sighting() {
    let r = check(&[
        (insert(info(A, "", "10:00"), "10:00"), &[]),
        (insert(info(A, "", "10:00"), "10:30"), &[]),
        (sweep("11:01"), &["lock.stale"]),
    ]);
    assert_eq!(held(&r).as_deref(), Some(A));
}

#[test]
fn removal_under_another_id_is_a_force_unlock() {
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (remove(info(B, "OperationTypeApply", "10:02"), "10:03"), &["lock.force_unlock"]),
    ]);
    let f = &r.findings[1][0];
    assert!(f.title.contains(A) && f.title.contains(B), "{}", f.title);
    assert_eq!((f.changes[0].desired.as_str(), f.changes[0].actual.as_str()), (Some(A), Some(B)));
    assert_eq!(held(&r), None);
}

#[test]
fn ttl_deletion_is_not_a_force_unlock() {
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (ttl_remove(info(B, "OperationTypeApply", "10:00"), "10:03"), &[]),
    ]);
    assert_eq!(held(&r), None);
}

#[test]
fn modify_to_another_id_is_a_takeover() {
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (
            rec(StreamEvent::Modify, Some(info(B, "OperationTypeApply", "10:04")), Some(info(A, "OperationTypeApply", "10:00")), "10:04"),
            &["lock.force_unlock"],
        ),
        (remove(info(B, "OperationTypeApply", "10:04"), "10:09"), &[]),
    ]);
    assert!(r.findings[1][0].title.contains("overwritten"), "{}", r.findings[1][0].title);
}

#[test]
fn modify_proves_a_takeover_without_memory() {
    let r = check(&[(
        rec(StreamEvent::Modify, Some(info(B, "OperationTypeApply", "10:04")), Some(info(A, "OperationTypeApply", "10:00")), "10:04"),
        &["lock.force_unlock"],
    )]);
    assert_eq!(held(&r).as_deref(), Some(B));
}

#[test]
fn modify_keeping_the_id_is_quiet() {
    let mut changed = info(A, "OperationTypeApply", "10:00");
    changed.info = "re-tagged by an operator".into();
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (rec(StreamEvent::Modify, Some(changed), Some(info(A, "OperationTypeApply", "10:00")), "10:01"), &[]),
    ]);
    assert_eq!(held(&r).as_deref(), Some(A));
}

#[test]
fn insert_over_a_remembered_lock_is_a_missed_release() {
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (insert(info(B, "OperationTypeApply", "10:30"), "10:30"), &[]),
    ]);
    assert_eq!(held(&r).as_deref(), Some(B));
}

#[test]
fn digest_items_are_not_locks() {
    let r = check(&[
        (digest_item(StreamEvent::Insert, "10:01"), &[]),
        (digest_item(StreamEvent::Modify, "10:02"), &[]),
        (sweep("23:00"), &[]),
        (digest_item(StreamEvent::Remove, "23:01"), &[]),
    ]);
    assert!(r.mem.all_held().is_empty());
}

#[test]
fn tables_outside_the_policy_are_ignored() {
    let policy = Policy::from_toml("[state]\nlock_tables = [\"other-locks\"]").unwrap();
    let r = check_with(&policy, &|_| {}, &[(insert(info(A, "OperationTypePlan", "08:00"), "10:00"), &[])]);
    assert!(r.mem.all_held().is_empty());
}

#[test]
fn cloudtrail_acquirer_is_the_holder() {
    let ci = Principal {
        arn: Some("arn:aws:sts::123456789012:assumed-role/gha-terraform-apply/GitHubActions".into()),
        session_name: Some("GitHubActions".into()),
        ..Default::default()
    };
    let noted = |at: &'static str| {
        let ci = ci.clone();
        move |m: &mut InMemory| m.note_acquirer(&lock_id(), ci.clone(), t(at))
    };
    let steps: &[Step] = &[(insert(info(A, "OperationTypePlan", "10:00"), "10:00"), &[]), (sweep("11:00"), &["lock.stale"])];
    let r = check_with(&Policy::default(), &noted("10:00"), steps);
    assert_eq!(r.mem.held(&lock_id()).unwrap().principal, Some(ci.clone()));
    let actor = r.findings[1][0].actor.as_ref().expect("holder named");
    assert_eq!(actor.principal_arn, ci.arn);
    // An acquisition an hour earlier is another lock's.
    let r = check_with(&Policy::default(), &noted("09:00"), steps);
    assert_eq!(r.mem.held(&lock_id()).unwrap().principal, None);
    assert!(r.findings[1][0].actor.is_none());
}

// ------------------------------------------------------------------------------ .tflock files

#[test]
fn lock_file_created_and_deleted_is_quiet() {
    let r = check(&[(file(ObjectChange::Created, Some(info(A, "OperationTypeApply", "10:00")), "10:00"), &[])]);
    let l = r.mem.held(&lock_id()).expect("held under <bucket>/<key>, like the table lock");
    assert_eq!(l.source, LockSource::File { bucket: BUCKET.into(), key: format!("{KEY}.tflock") });
    let r = check(&[
        (file(ObjectChange::Created, Some(info(A, "OperationTypeApply", "10:00")), "10:00"), &[]),
        (file(ObjectChange::Deleted, None, "10:05"), &[]),
    ]);
    assert_eq!(held(&r), None);
}

#[test]
fn lock_file_without_body_is_held_and_swept() {
    let r = check(&[
        (file(ObjectChange::Created, None, "10:00"), &[]),
        (sweep("11:01"), &["lock.stale"]),
        (file(ObjectChange::Deleted, Some(info(A, "OperationTypeApply", "10:00")), "11:02"), &["lock.stale"]),
    ]);
    assert_eq!(held(&r), None, "an unknown ID is not a different ID");
}

#[test]
fn lock_file_overwritten_is_a_takeover() {
    check(&[
        (file(ObjectChange::Created, Some(info(A, "OperationTypeApply", "10:00")), "10:00"), &[]),
        (file(ObjectChange::Created, Some(info(B, "OperationTypeApply", "10:02")), "10:02"), &["lock.force_unlock"]),
    ]);
}

#[test]
fn lock_file_deleted_under_another_id_is_a_force_unlock() {
    check(&[
        (file(ObjectChange::Created, Some(info(A, "OperationTypeApply", "10:00")), "10:00"), &[]),
        (file(ObjectChange::Deleted, Some(info(B, "OperationTypeApply", "10:03")), "10:04"), &["lock.force_unlock"]),
    ]);
}

#[test]
fn late_deletion_of_an_earlier_lock_file_keeps_the_held_one() {
    let r = check(&[
        (file(ObjectChange::Created, Some(info(B, "OperationTypeApply", "10:05")), "10:05"), &[]),
        (file(ObjectChange::Deleted, Some(info(A, "OperationTypeApply", "10:00")), "10:06"), &[]),
    ]);
    assert_eq!(held(&r).as_deref(), Some(B));
}

#[test]
fn other_keys_in_the_bucket_are_not_lock_files() {
    let mut ev = file(ObjectChange::Created, Some(info(A, "OperationTypeApply", "10:00")), "10:00");
    if let Signal::LockFile(f) = &mut ev {
        f.key = KEY.into();
    }
    let r = check(&[(ev, &[])]);
    assert!(r.mem.all_held().is_empty());
    assert_eq!(lock::lock_id_for_file(BUCKET, ".tflock"), None);
}

#[test]
fn table_and_file_lock_of_one_run_are_one_lock() {
    // Terraform 1.11 with use_lockfile and dynamodb_table takes both, with one Info.
    let r = check(&[
        (file(ObjectChange::Created, Some(info(A, "OperationTypeApply", "10:00")), "10:00"), &[]),
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (remove(info(A, "OperationTypeApply", "10:00"), "10:05"), &[]),
        (file(ObjectChange::Deleted, None, "10:05"), &[]),
    ]);
    assert_eq!(held(&r), None);
}

#[test]
fn two_runs_through_different_mechanisms_contend() {
    // One run locks with the table only, another with the lock file only: neither excludes the other.
    let r = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (file(ObjectChange::Created, Some(info(B, "OperationTypeApply", "10:01")), "10:01"), &["lock.contention"]),
        (file(ObjectChange::Deleted, Some(info(B, "OperationTypeApply", "10:01")), "10:04"), &[]),
        (remove(info(A, "OperationTypeApply", "10:00"), "10:06"), &[]),
    ]);
    assert!(r.findings[1][0].title.contains(A) && r.findings[1][0].title.contains(B));
    assert_eq!(held(&r), None);
}

#[test]
fn force_unlock_fingerprint_is_the_lock_and_its_id() {
    let via_remove = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (remove(info(B, "OperationTypeApply", "10:02"), "10:03"), &["lock.force_unlock"]),
    ]);
    let via_modify = check(&[
        (insert(info(A, "OperationTypeApply", "10:00"), "10:00"), &[]),
        (
            rec(StreamEvent::Modify, Some(info(B, "OperationTypeApply", "10:04")), Some(info(A, "OperationTypeApply", "10:00")), "10:04"),
            &["lock.force_unlock"],
        ),
    ]);
    assert_eq!(via_remove.findings[1][0].fingerprint, via_modify.findings[1][0].fingerprint);
    assert_eq!(via_remove.findings[1][0].rule, Rule::LockForceUnlock);
}
