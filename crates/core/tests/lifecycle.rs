//! The findings lifecycle: data-driven scripts of observations and resolutions with the
//! alerts they must give, and properties (replays alert once, suppression never adds alerts).

use crate::support;

use chrono::{DateTime, Duration, Utc};
use driftwatch_core::lifecycle::{self, AlertDecision, AlertReason, FindingRecord, LifecycleStatus, Quiet, Resolution};
use driftwatch_core::{Finding, Severity};
use proptest::prelude::*;
use std::collections::BTreeMap;

const QUIET_MINUTES: i64 = 15;

fn t0() -> DateTime<Utc> {
    support::NOW.parse().expect("now")
}

/// Two findings on the same resource (the RDS instance: drift and a second rule) and one on
/// another resource, from the samples.
fn base() -> Vec<Finding> {
    let s = support::fixture("samples-findings");
    let rds = s.iter().find(|f| f.resource.resource_type == "AWS::RDS::DBInstance").expect("rds").clone();
    let mut rds2 = rds.clone();
    rds2.rule = driftwatch_core::Rule::EncryptionRegression;
    rds2.fingerprint = "second-finding-same-resource".into();
    let sg = s.iter().find(|f| f.resource.resource_type == "AWS::EC2::SecurityGroup").expect("sg").clone();
    vec![rds, rds2, sg]
}

/// One step of a script.
#[derive(Debug, Clone)]
enum Step {
    /// Finding `i` reported at minute `m` with a severity, optionally suppressed.
    See { i: usize, m: i64, sev: Severity, suppressed: bool },
    /// Finding `i` resolved at minute `m`.
    Resolve { i: usize, m: i64 },
}

/// Run a script; the decisions in order, as short strings.
fn run(steps: &[Step]) -> (Vec<String>, BTreeMap<String, FindingRecord>) {
    let base = base();
    let mut records: BTreeMap<String, FindingRecord> = BTreeMap::new();
    let mut per_resource: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut out = Vec::new();
    for s in steps {
        match *s {
            Step::See { i, m, sev, suppressed } => {
                let mut f = base[i].clone();
                let at = t0() + Duration::minutes(m);
                f.severity = sev;
                f.first_seen = at;
                f.last_seen = at;
                f.suppressed_by = suppressed.then(|| "EXC-1".to_string());
                let (rec, d) = lifecycle::observe(records.get(&f.fingerprint), &f, at, Duration::minutes(QUIET_MINUTES), &mut per_resource);
                out.push(match d {
                    AlertDecision::Alert(AlertReason::Opened) => format!("{i}:alert opened"),
                    AlertDecision::Alert(AlertReason::Reopened) => format!("{i}:alert reopened"),
                    AlertDecision::Alert(AlertReason::SeverityIncreased { from, to }) => format!("{i}:alert {from}->{to}"),
                    AlertDecision::NoAlert(Quiet::NothingNew) => format!("{i}:-"),
                    AlertDecision::NoAlert(Quiet::Suppressed) => format!("{i}:suppressed"),
                    AlertDecision::NoAlert(Quiet::Stale) => format!("{i}:stale"),
                    AlertDecision::NoAlert(Quiet::QuietPeriod { until }) => format!("{i}:quiet until +{}", (until - t0()).num_minutes()),
                });
                records.insert(f.fingerprint.clone(), rec);
            }
            Step::Resolve { i, m } => {
                let fp = &base[i].fingerprint;
                if let Some(r) = records.get(fp) {
                    let r = lifecycle::resolve(r, t0() + Duration::minutes(m), Resolution::LiveMatches);
                    records.insert(fp.clone(), r);
                }
                out.push(format!("{i}:resolved"));
            }
        }
    }
    (out, records)
}

fn see(i: usize, m: i64, sev: Severity) -> Step {
    Step::See { i, m, sev, suppressed: false }
}

fn check(steps: &[Step], expected: &[&str]) {
    let (got, _) = run(steps);
    assert_eq!(got, expected, "script {steps:?}");
}

use Severity::*;

#[test]
fn open_alerts_once_and_duplicates_are_quiet() {
    check(&[see(0, 0, High), see(0, 1, High), see(0, 30, High)], &["0:alert opened", "0:-", "0:-"]);
}

#[test]
fn severity_increase_alerts_and_decrease_does_not() {
    check(
        &[see(0, 0, Medium), see(0, 20, Low), see(0, 40, High), see(0, 60, High), see(0, 80, Critical)],
        &["0:alert opened", "0:-", "0:alert medium->high", "0:-", "0:alert high->critical"],
    );
}

#[test]
fn resolve_then_reopen_alerts_again() {
    let (got, recs) = run(&[see(0, 0, High), Step::Resolve { i: 0, m: 10 }, see(0, 40, High)]);
    assert_eq!(got, ["0:alert opened", "0:resolved", "0:alert reopened"]);
    let r = recs.values().next().expect("record");
    assert_eq!((r.status, r.reopened, r.occurrences), (LifecycleStatus::Open, 1, 2));
    assert_eq!(r.first_seen, t0());
    assert_eq!(r.last_seen, t0() + Duration::minutes(40));
    assert_eq!(r.resolved_at, None);
}

#[test]
fn a_late_duplicate_of_an_event_from_before_the_resolution_does_not_reopen() {
    let (got, recs) = run(&[see(0, 0, High), Step::Resolve { i: 0, m: 10 }, see(0, 5, High), see(0, 20, High)]);
    assert_eq!(got, ["0:alert opened", "0:resolved", "0:stale", "0:alert reopened"]);
    assert_eq!(recs.values().next().map(|r| r.occurrences), Some(3));
}

#[test]
fn resolution_records_when_and_why() {
    let (_, recs) = run(&[see(0, 0, High), Step::Resolve { i: 0, m: 10 }]);
    let r = recs.values().next().expect("record");
    assert_eq!(r.status, LifecycleStatus::Resolved);
    assert_eq!(r.resolved_at, Some(t0() + Duration::minutes(10)));
    assert_eq!(r.resolution, Some(Resolution::LiveMatches));
    assert_eq!(r.finding.status, driftwatch_core::finding::Status::Resolved);
}

#[test]
fn a_burst_on_one_resource_makes_one_alert_and_the_rest_goes_out_after_the_quiet_period() {
    check(
        &[see(0, 0, High), see(1, 2, High), see(1, 5, High), see(2, 5, High), see(1, 16, High), see(1, 17, High)],
        &["0:alert opened", "1:quiet until +15", "1:quiet until +15", "2:alert opened", "1:alert opened", "1:-"],
    );
}

#[test]
fn a_held_back_alert_carries_the_latest_severity() {
    check(
        &[see(0, 0, Medium), see(1, 1, Medium), see(0, 2, High), see(0, 3, Critical), see(0, 20, Critical)],
        &["0:alert opened", "1:quiet until +15", "0:quiet until +15", "0:quiet until +15", "0:alert medium->critical"],
    );
}

#[test]
fn suppressed_findings_never_alert() {
    check(
        &[Step::See { i: 0, m: 0, sev: High, suppressed: true }, Step::See { i: 0, m: 30, sev: Critical, suppressed: true }],
        &["0:suppressed", "0:suppressed"],
    );
}

fn arb_step() -> impl Strategy<Value = (usize, i64, u8, bool, bool)> {
    (0usize..3, 0i64..30, 0u8..5, any::<bool>(), prop::bool::weighted(0.15))
}

fn sev(n: u8) -> Severity {
    [Info, Low, Medium, High, Critical][n as usize % 5]
}

fn script(raw: &[(usize, i64, u8, bool, bool)], suppress_from: Option<usize>, suppress_all: bool) -> Vec<Step> {
    let mut m = 0;
    raw.iter()
        .enumerate()
        .map(|(k, &(i, dt, s, _, resolve))| {
            m += dt;
            if resolve {
                Step::Resolve { i, m }
            } else {
                let suppressed = suppress_all || suppress_from.is_some_and(|from| k >= from);
                Step::See { i, m, sev: sev(s), suppressed }
            }
        })
        .collect()
}

fn alerts(out: &[String]) -> usize {
    out.iter().filter(|s| s.contains(":alert")).count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Replaying the same finding N times (EventBridge is at-least-once) gives one alert.
    #[test]
    fn replaying_a_finding_n_times_alerts_once(n in 1usize..40, gaps in prop::collection::vec(0i64..120, 40)) {
        let mut m = 0;
        let steps: Vec<Step> = (0..n).map(|k| { m += gaps[k]; see(0, m, High) }).collect();
        let (out, recs) = run(&steps);
        prop_assert_eq!(alerts(&out), 1);
        prop_assert_eq!(recs.values().next().map(|r| r.occurrences), Some(n as u64));
    }

    /// An exception that starts covering a finding at some point never adds alerts, and
    /// alerts before that point are unchanged. (Suppressing arbitrary, scattered observations
    /// is not monotonic: shifting when one alert goes out shifts a resource's quiet window,
    /// which can split another finding's held-back alerts in two. An exception covers a
    /// finding from when it is added until it expires, and its expiry is its own alert.)
    #[test]
    fn adding_a_suppression_never_adds_alerts(raw in prop::collection::vec(arb_step(), 1..40), from in 0usize..40) {
        let (plain, _) = run(&script(&raw, None, false));
        let (with, _) = run(&script(&raw, Some(from), false));
        prop_assert!(alerts(&with) <= alerts(&plain), "{:?} vs {:?}", with, plain);
        prop_assert_eq!(&with[..from.min(with.len())], &plain[..from.min(plain.len())]);
        let (all, _) = run(&script(&raw, None, true));
        prop_assert_eq!(alerts(&all), 0);
    }

    /// The same when the exception covers one finding only and the others on the same
    /// resource go on alerting.
    #[test]
    fn an_exception_for_one_finding_never_adds_alerts(raw in prop::collection::vec(arb_step(), 1..40), from in 0usize..40, which in 0usize..3) {
        let (plain, _) = run(&script(&raw, None, false));
        let steps: Vec<Step> = script(&raw, None, false)
            .into_iter()
            .enumerate()
            .map(|(k, s)| match s {
                Step::See { i, m, sev, .. } if i == which && k >= from => Step::See { i, m, sev, suppressed: true },
                other => other,
            })
            .collect();
        let (with, _) = run(&steps);
        prop_assert!(alerts(&with) <= alerts(&plain), "{:?} vs {:?}", with, plain);
    }

    /// At most one alert per resource within any quiet period.
    #[test]
    fn at_most_one_alert_per_resource_per_quiet_period(raw in prop::collection::vec(arb_step(), 1..60)) {
        let steps = script(&raw, None, false);
        let (out, _) = run(&steps);
        let base = base();
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        for (s, o) in steps.iter().zip(&out) {
            if let (Step::See { i, m, .. }, true) = (s, o.contains(":alert")) {
                let key = lifecycle::resource_key(&base[*i]);
                if let Some(prev) = last.get(&key) {
                    prop_assert!(m - prev >= QUIET_MINUTES, "{:?}", out);
                }
                last.insert(key, *m);
            }
        }
    }
}

fn actor(session: &str) -> driftwatch_core::finding::Actor {
    driftwatch_core::finding::Actor {
        principal_arn: Some(format!("arn:aws:sts::1:assumed-role/Admin/{session}")),
        session_name: Some(session.into()),
        via_console: true,
        source_ip: None,
        user_agent: None,
        kind: None,
    }
}

/// A late event (CloudTrail's minutes of delay, EventBridge out of order) for a finding the
/// record already holds a newer report of: counted, its time folded in, but the newer report's
/// actor and changes stay.
#[test]
fn a_late_event_does_not_replace_a_newer_reports_actor_and_changes() {
    let f = base().remove(0);
    let mut newer = f.clone();
    newer.first_seen = t0() + Duration::minutes(10);
    newer.last_seen = newer.first_seen;
    newer.actor = Some(actor("newer"));
    newer.changes.truncate(1);
    let mut older = f.clone();
    older.first_seen = t0();
    older.last_seen = t0();
    older.actor = Some(actor("older"));
    let mut quiet = BTreeMap::new();
    let (rec, _) = lifecycle::observe(None, &newer, newer.last_seen, Duration::zero(), &mut quiet);
    let (late, decision) = lifecycle::observe(Some(&rec), &older, newer.last_seen + Duration::minutes(1), Duration::zero(), &mut quiet);
    assert!(matches!(decision, AlertDecision::NoAlert(_)), "{decision:?}");
    assert_eq!(late.occurrences, 2);
    assert_eq!((late.first_seen, late.last_seen), (t0(), newer.last_seen));
    assert_eq!(late.finding.actor, newer.actor, "the late event replaced the newer actor");
    assert_eq!(late.finding.changes, newer.changes, "the late event replaced the newer changes");
    assert_eq!((late.finding.first_seen, late.finding.last_seen), (t0(), newer.last_seen));
}
