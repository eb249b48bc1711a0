//! Exceptions as code: validation (line and field), evaluation, the properties of `apply`, and
//! expiry notices over a simulated month.

use chrono::{DateTime, Duration, TimeZone, Utc};
use driftwatch_core::exceptions::{self, Exceptions, NoticeLedger, Threshold, DEFAULT_THRESHOLDS};
use driftwatch_core::finding::{self, Finding, ResourceRef, Rule, Severity, StateRef, Status};
use driftwatch_core::Catalog;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    t("2026-11-22T12:00:00Z")
}

/// One exception table with every field valid; `edit` replaces or removes (`None`) fields.
fn exception(id: &str, edit: &[(&str, Option<&str>)]) -> String {
    let mut fields: Vec<(String, String)> = [
        ("id", format!("{id:?}")),
        ("rules", r#"["drift.changed"]"#.into()),
        ("address", r#""aws_security_group.app""#.into()),
        ("reason", r#""vendor session""#.into()),
        ("ticket", r#""CHG-1""#.into()),
        ("owner", r#"{ email = "team@example.org" }"#.into()),
        ("approved_by", r#""ciso@example.org""#.into()),
        ("compensating_control", r#""bastion recording""#.into()),
        ("created", "2026-11-01".into()),
        ("expires", r#""2026-12-01T00:00:00Z""#.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in edit {
        match (fields.iter().position(|(f, _)| f == k), v) {
            (Some(i), Some(v)) => fields[i].1 = v.to_string(),
            (Some(i), None) => {
                fields.remove(i);
            }
            (None, Some(v)) => fields.push((k.to_string(), v.to_string())),
            (None, None) => {}
        }
    }
    let mut s = String::from("[[exception]]\n");
    for (k, v) in fields {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

/// (line, field) of every problem, plus whether the file parsed at all.
fn check(text: &str, expected: Result<&[(usize, &str)], (usize, &str)>) {
    match (Exceptions::parse(text, 90), expected) {
        (Ok(ex), Ok(want)) => {
            let got: Vec<(usize, String)> = ex.problems().iter().map(|(_, p)| (p.line, p.field.clone())).collect();
            let want: Vec<(usize, String)> = want.iter().map(|(l, f)| (*l, f.to_string())).collect();
            assert_eq!(got, want, "{text}\n{:#?}", ex.problems());
        }
        (Err(e), Err((line, field))) => assert_eq!((e.line, e.field.as_str()), (line, field), "{e}"),
        (got, want) => panic!("{text}\ngot {got:?}\nwant {want:?}"),
    }
}

#[test]
fn validation_names_line_and_field() {
    // Valid.
    check(&exception("A", &[]), Ok(&[]));
    // Missing required fields: the header line, since the field is not there.
    check(&exception("A", &[("reason", None)]), Ok(&[(1, "reason")]));
    check(&exception("A", &[("owner", None)]), Ok(&[(1, "owner")]));
    check(&exception("A", &[("rules", None), ("address", None)]), Ok(&[(1, "selector")]));
    // Bad values: the line of the field (header 1, id 2, rules 3, address 4, reason 5, ticket 6,
    // owner 7, approved_by 8, compensating_control 9, created 10, expires 11, added fields 12).
    check(&exception("A", &[("rules", Some(r#"["drift.chnaged"]"#))]), Ok(&[(3, "rules")]));
    check(&exception("A", &[("rules", Some(r#"["exception.invalid"]"#))]), Ok(&[(3, "rules")]));
    check(&exception("A", &[("owner", Some(r#"{ email = "nobody" }"#))]), Ok(&[(7, "owner.email")]));
    check(&exception("A", &[("created", Some(r#""yesterday""#))]), Ok(&[(10, "created")]));
    check(&exception("A", &[("expires", Some("2026-10-01"))]), Ok(&[(11, "expires")]));
    check(&exception("A", &[("expires", Some("2027-06-01"))]), Ok(&[(11, "expires")]));
    check(&exception("A", &[("address", Some(r#""*""#))]), Ok(&[(4, "address")]));
    // Exactly 90 days is allowed; 90 days and a second is not.
    check(&exception("A", &[("created", Some("2026-09-02T00:00:00Z")), ("expires", Some("2026-12-01T00:00:00Z"))]), Ok(&[]));
    check(&exception("A", &[("created", Some("2026-09-01T23:59:59Z")), ("expires", Some("2026-12-01T00:00:00Z"))]), Ok(&[(11, "expires")]));
    // Second table: lines count from the file's start; a duplicate id is reported on its line.
    let two = format!("# header comment\n\n{}\n{}", exception("A", &[]), exception("A", &[("ticket", None)]));
    check(&two, Ok(&[(15, "ticket"), (16, "id")]));
    let no_id = format!("{}\n{}", exception("A", &[]), exception("B", &[("id", None)]));
    check(&no_id, Ok(&[(13, "id")]));
    // Syntax and shape errors make the whole file unusable, still with a line and a field.
    check(&exception("A", &[("tikcet", Some(r#""x""#))]), Err((12, "tikcet")));
    check(&exception("A", &[("ticket", Some(r#""unterminated"#))]), Err((6, "ticket")));
    check(&exception("A", &[("rules", Some(r#""drift.changed""#))]), Err((3, "rules")));
    check("[[exception]]\nid = \"A\"\nowner = { email = \"a@b\", pager = \"x\" }\n", Err((3, "pager")));
}

#[test]
fn samples_file_loads_with_the_documented_problems() {
    let text = include_str!("../../../samples/exceptions/exceptions.toml");
    let ex = Exceptions::parse(text, 90).expect("samples parse");
    let ids: Vec<&str> = ex.exceptions.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["EXC-2026-031", "EXC-2026-029", "EXC-2026-007", "EXC-2026-040"]);
    let invalid: Vec<&str> = ex.exceptions.iter().filter(|e| !e.is_valid()).map(|e| e.id.as_str()).collect();
    assert_eq!(invalid, ["EXC-2026-040"]);
    let expired: Vec<&str> = ex.exceptions.iter().filter(|e| e.is_expired(now())).map(|e| e.id.as_str()).collect();
    assert_eq!(expired, ["EXC-2026-007"]);
    let e = ex.exceptions.iter().find(|e| e.id == "EXC-2026-029").expect("029");
    assert_eq!(e.expires, Some(now() + Duration::days(3)), "expires 3 days after the samples' --now");
    let bad = Exceptions::parse(include_str!("../../../samples/exceptions/malformed.toml"), 90).expect_err("malformed");
    assert_eq!((bad.line, bad.field.as_str()), (7, "ticket"));
}

fn finding(rule: Rule, address: Option<&str>, arn: Option<&str>, id: &str) -> Finding {
    Finding {
        rule,
        severity: Severity::High,
        title: "t".into(),
        resource: ResourceRef {
            arn: arn.map(String::from),
            resource_type: "AWS::EC2::SecurityGroup".into(),
            id: id.into(),
            address: address.map(String::from),
            terraform_type: None,
            state: address.map(|_| StateRef {
                bucket: None,
                key: "states/network.tfstate".into(),
                workspace: "default".into(),
                serial: 1,
                lineage: "l".into(),
            }),
            account: None,
            region: None,
        },
        actor: None,
        changes: Vec::new(),
        controls: Vec::new(),
        fingerprint: finding::fingerprint(rule, &[address.unwrap_or(""), id]),
        first_seen: now(),
        last_seen: now(),
        status: Status::Open,
        suppressed_by: None,
        evidence: Vec::new(),
        import: None,
    }
}

#[test]
fn apply_suppresses_with_active_exceptions_only() {
    let catalog = Catalog::builtin();
    let sg = || {
        finding(Rule::DriftChanged, Some("aws_security_group.app"), Some("arn:aws:ec2:us-east-1:123456789012:security-group/sg-1"), "sg-1")
    };
    let cases: Vec<(String, Option<&str>, Vec<Rule>)> = vec![
        (exception("OK", &[]), Some("OK"), vec![]),
        (exception("OK", &[("account", Some(r#""123456789012""#)), ("state_key", Some(r#""*network.tfstate""#))]), Some("OK"), vec![]),
        (exception("ACC", &[("account", Some(r#""999999999999""#))]), None, vec![]),
        (exception("RULE", &[("rules", Some(r#"["drift.missing"]"#))]), None, vec![]),
        (
            exception("OLD", &[("created", Some("2026-10-01")), ("expires", Some("2026-11-22T12:00:00Z"))]),
            None,
            vec![Rule::ExceptionExpired],
        ),
        (exception("LONG", &[("expires", Some("2027-11-01"))]), None, vec![Rule::ExceptionInvalid]),
        (exception("NOTICKET", &[("ticket", None)]), None, vec![Rule::ExceptionInvalid]),
    ];
    for (text, suppressed_by, extra) in cases {
        let ex = Exceptions::parse(&text, 90).expect("parse");
        let mut fs = vec![sg()];
        exceptions::apply(&mut fs, &ex, &catalog, now());
        let f = fs.iter().find(|f| f.rule == Rule::DriftChanged).expect("still recorded");
        assert_eq!(f.suppressed_by.as_deref(), suppressed_by, "{text}");
        assert_eq!(f.status == Status::Suppressed, suppressed_by.is_some(), "{text}");
        let got: Vec<Rule> = fs.iter().map(|f| f.rule).filter(|r| *r != Rule::DriftChanged).collect();
        assert_eq!(got, extra, "{text}");
        for e in fs.iter().filter(|f| f.rule != Rule::DriftChanged) {
            assert_eq!(e.resource.resource_type, "driftwatch::Exception");
            assert_eq!(e.status, Status::Open);
        }
    }
}

#[test]
fn expiry_reopens_what_the_exception_suppressed() {
    let catalog = Catalog::builtin();
    let ex = Exceptions::parse(&exception("E", &[]), 90).expect("parse");
    let expires = t("2026-12-01T00:00:00Z");
    let run = |at| {
        let mut fs = vec![finding(Rule::DriftChanged, Some("aws_security_group.app"), None, "sg-1")];
        exceptions::apply(&mut fs, &ex, &catalog, at);
        fs
    };
    let before = run(expires - Duration::seconds(1));
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].status, Status::Suppressed);
    let after = run(expires);
    let rules: Vec<(Rule, Status)> = after.iter().map(|f| (f.rule, f.status)).collect();
    assert_eq!(rules, [(Rule::DriftChanged, Status::Open), (Rule::ExceptionExpired, Status::Open)]);
    assert_eq!(after[1].first_seen, expires, "timed by the expiry, so reruns are identical");
}

const ADDRESSES: [&str; 4] = ["aws_security_group.app", "aws_security_group.db", "aws_s3_bucket.logs", "module.m[\"a\"].aws_kms_key.this"];
const RULES: [Rule; 4] = [Rule::DriftChanged, Rule::DriftMissing, Rule::EncryptionRegression, Rule::DriftUnmanaged];

fn arb_findings() -> impl Strategy<Value = Vec<Finding>> {
    prop::collection::vec((0..RULES.len(), prop::option::of(0..ADDRESSES.len()), 0..3u8), 0..8).prop_map(|v| {
        let mut out: Vec<Finding> = v
            .into_iter()
            .map(|(r, a, id)| {
                let address = a.map(|i| ADDRESSES[i]);
                let arn = format!("arn:aws:ec2:us-east-1:12345678901{id}:thing/x-{id}");
                finding(RULES[r], address, Some(&arn), &format!("x-{id}"))
            })
            .collect();
        out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        out.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        out
    })
}

fn arb_exception(n: usize) -> impl Strategy<Value = String> {
    let rules = prop::option::of(0..RULES.len());
    let address = prop::option::of(prop::sample::select(vec!["aws_security_group.*", "aws_s3_bucket.logs", "module.*", "*.this"]));
    let account = prop::option::of(0..3u8);
    // expires relative to now: expired, active, or over-long
    let expires = prop::sample::select(vec!["2026-11-20", "2026-12-10", "2027-06-01"]);
    (rules, address, account, expires).prop_map(move |(r, a, acc, exp)| {
        let mut edit: Vec<(&str, Option<String>)> = vec![
            ("rules", r.map(|i| format!("[{:?}]", RULES[i].id()))),
            ("address", a.map(|a| format!("{a:?}"))),
            ("account", acc.map(|d| format!("\"12345678901{d}\""))),
            ("expires", Some(exp.to_string())),
        ];
        if edit.iter().all(|(_, v)| v.is_none()) {
            edit[0].1 = Some(r#"["drift.changed"]"#.into());
        }
        let edit: Vec<(&str, Option<&str>)> = edit.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        exception(&format!("P-{n}"), &edit)
    })
}

fn non_exception(fs: &[Finding]) -> BTreeMap<String, Status> {
    fs.iter().filter(|f| !f.resource.resource_type.starts_with("driftwatch::")).map(|f| (f.fingerprint.clone(), f.status)).collect()
}

proptest! {
    #[test]
    fn adding_an_exception_never_adds_a_finding_or_unsuppresses_one(
        findings in arb_findings(),
        existing in prop::collection::vec(0..1usize, 0..3).prop_flat_map(|v| (0..v.len()).map(arb_exception).collect::<Vec<_>>()),
        added in arb_exception(99),
        front in any::<bool>(),
    ) {
        let catalog = Catalog::builtin();
        let base = existing.join("\n");
        let with = if front { format!("{added}\n{base}") } else { format!("{base}\n{added}") };
        let (a, b) = (Exceptions::parse(&base, 90).expect("base"), Exceptions::parse(&with, 90).expect("with"));
        let mut without_added = findings.clone();
        exceptions::apply(&mut without_added, &a, &catalog, now());
        let mut with_added = findings.clone();
        exceptions::apply(&mut with_added, &b, &catalog, now());
        let (before, after) = (non_exception(&without_added), non_exception(&with_added));
        prop_assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "same non-exception findings");
        prop_assert_eq!(before.len(), findings.len());
        for (fp, st) in &before {
            if *st == Status::Suppressed {
                prop_assert_eq!(after[fp], Status::Suppressed, "never unsuppresses");
            }
        }
        // Idempotent.
        let mut again = with_added.clone();
        exceptions::apply(&mut again, &b, &catalog, now());
        prop_assert_eq!(again, with_added);
    }
}

#[test]
fn notices_over_a_simulated_month_are_sent_exactly_once() {
    // Four exceptions, created so that all are valid (≤ 90 days), expiring at different times
    // in the month that starts at `start`; one already past its 14-day threshold at the start,
    // one expiring in less than a day from the start, one outside the window, one invalid.
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().expect("start");
    let text = [
        exception("MID", &[("created", Some("2026-10-01")), ("expires", Some(r#""2026-11-20T09:30:00Z""#))]),
        exception("LATE14", &[("created", Some("2026-10-01")), ("expires", Some(r#""2026-11-10T00:00:00Z""#))]),
        exception("SOON", &[("created", Some("2026-10-20")), ("expires", Some(r#""2026-11-01T18:00:00Z""#))]),
        exception("FAR", &[("created", Some("2026-11-01")), ("expires", Some(r#""2027-01-15T00:00:00Z""#))]),
        exception("INVALID", &[("created", Some("2026-01-01")), ("expires", Some(r#""2026-11-15T00:00:00Z""#))]),
    ]
    .join("\n");
    let ex = Exceptions::parse(&text, 90).expect("parse");
    let mut ledger_json = serde_json::to_string(&NoticeLedger::default()).expect("json");
    let mut sent: Vec<(String, Threshold, DateTime<Utc>)> = Vec::new();
    for hour in 0..=(30 * 24) {
        let at = start + Duration::hours(hour);
        // The ledger goes through its persisted form each time, as the CLI's does.
        let mut ledger: NoticeLedger = serde_json::from_str(&ledger_json).expect("ledger");
        let due = exceptions::notices(&ex, at, &DEFAULT_THRESHOLDS, &ledger);
        ledger.record(&due);
        ledger_json = serde_json::to_string(&ledger).expect("json");
        sent.extend(due.into_iter().map(|n| (n.exception, n.threshold, at)));
    }
    let got: Vec<(&str, Threshold, String)> =
        sent.iter().map(|(id, th, at)| (id.as_str(), *th, at.format("%m-%dT%H").to_string())).collect();
    use Threshold::{DaysBefore as D, Expired};
    let want = vec![
        // SOON: 1 day before is already crossed at the start; expiry at 18:00.
        ("SOON", D(1), "11-01T00".to_string()),
        // LATE14: its 14-day threshold (10-27) is already past at the start: sent then, once.
        ("LATE14", D(14), "11-01T00".into()),
        ("LATE14", D(7), "11-03T00".into()),
        ("SOON", Expired, "11-01T18".into()),
        ("MID", D(14), "11-06T10".into()),
        ("LATE14", D(1), "11-09T00".into()),
        ("LATE14", Expired, "11-10T00".into()),
        ("MID", D(7), "11-13T10".into()),
        ("MID", D(1), "11-19T10".into()),
        ("MID", Expired, "11-20T10".into()),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(b.0)));
    let mut want_sorted = want.clone();
    want_sorted.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(b.0)));
    assert_eq!(got_sorted.iter().map(|(a, b, c)| (*a, *b, c.clone())).collect::<Vec<_>>(), want_sorted);
}

/// Issue 13 item 3: an exception with no resource scope, or a wildcard ARN naming no resource,
/// is refused unless the policy allows broad exceptions — then it is valid and flagged; and an
/// exception approved by its own requester is invalid (a requester is required when the policy
/// says so).
#[test]
fn broad_selectors_and_self_approval_are_refused() {
    use driftwatch_core::policy::ExceptionPolicy;
    let strict = ExceptionPolicy::default();
    let lenient = ExceptionPolicy { allow_broad: true, ..Default::default() };
    let problems = |text: &str, p: &ExceptionPolicy| -> Vec<String> {
        Exceptions::parse_with(text, p).expect("parses").problems().iter().map(|(_, p)| format!("{}: {}", p.field, p.message)).collect()
    };
    // Every resource of a rule, in an account.
    let unscoped = exception("A", &[("address", None), ("account", Some(r#""123456789012""#))]);
    let got = problems(&unscoped, &strict);
    assert!(got.len() == 1 && got[0].starts_with("selector: has no resource scope"), "{got:?}");
    assert!(problems(&unscoped, &lenient).is_empty());
    let flagged = Exceptions::parse_with(&unscoped, &lenient).unwrap();
    assert!(flagged.exceptions[0].flags.iter().any(|f| f.starts_with("broad:")), "{:?}", flagged.exceptions[0].flags);
    // A wildcard ARN.
    for arn in [r#""arn:aws:s3:::*""#, r#""arn:aws:*""#, r#""arn:aws:ec2:us-east-1:123456789012:*""#] {
        let wild = exception("A", &[("address", None), ("arn", Some(arn))]);
        assert!(problems(&wild, &strict).iter().any(|p| p.starts_with("arn: is a wildcard ARN")), "{arn}");
    }
    // A prefix of real names is a scope.
    let prefix = exception("A", &[("address", None), ("arn", Some(r#""arn:aws:s3:::stmarys-ehr-export-tmp-*""#))]);
    assert!(problems(&prefix, &strict).is_empty());
    // Self-approval.
    let own = exception("A", &[("requested_by", Some(r#""CISO@example.org""#))]);
    let got = problems(&own, &strict);
    assert!(got.len() == 1 && got[0].starts_with("approved_by:") && got[0].contains("requested it too"), "{got:?}");
    let reviewed = exception("A", &[("requested_by", Some(r#""dev@example.org""#))]);
    assert!(problems(&reviewed, &strict).is_empty());
    let required = ExceptionPolicy { require_requester: true, ..Default::default() };
    assert!(problems(&exception("A", &[]), &required).iter().any(|p| p.starts_with("requested_by: is required")));
    assert!(problems(&reviewed, &required).is_empty());
}
