//! `driftwatch report` end to end: `scan --evidence` on the samples, then `report` from that
//! store; the numbers match the six sample findings, every number names its evidence, the
//! report is recorded in the store, and no sample secret and no URL appears anywhere.

use crate::support;
use support::*;

use std::path::{Path, PathBuf};

const SECRETS: [&str; 2] = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026"];

fn scan_into(ev: &Path) {
    let o = scan_samples(&["--now", "2026-11-22T12:00:00Z", "--allow-default-salt", "--evidence", ev.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

fn counts(json: &serde_json::Value, field: &str) -> Vec<(String, u64)> {
    json[field].as_array().expect(field).iter().map(|c| (c["label"].as_str().unwrap().to_string(), c["count"].as_u64().unwrap())).collect()
}

#[test]
fn report_on_the_samples() {
    let dir = scratch("report", "samples");
    let ev = dir.join("evidence");
    let out = dir.join("out");
    scan_into(&ev);
    let before = files(&ev).len();
    let o = driftwatch(&["report", "--evidence", ev.to_str().unwrap(), "--out", out.to_str().unwrap(), "--now", "2026-11-22T12:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("6 distinct finding(s), 6 open"), "{}", text(&o));

    for name in ["report.html", "report.json", "report.csv"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).expect("report.json");
    assert_eq!(json["findings"], 6);
    assert_eq!(
        counts(&json, "open_by_severity"),
        [("critical".into(), 4), ("high".into(), 1), ("medium".into(), 1), ("low".into(), 0), ("info".into(), 0)]
    );
    assert_eq!(counts(&json, "by_status"), [("open".into(), 6), ("suppressed".into(), 0), ("resolved".into(), 0)]);
    // every number names the finding records behind it, and they exist in the store
    for c in json["open_by_severity"].as_array().unwrap().iter().chain(json["open_by_control"].as_array().unwrap()) {
        let keys = c["evidence"].as_array().unwrap();
        assert_eq!(keys.len() as u64, c["count"].as_u64().unwrap(), "{c}");
        for k in keys {
            let k = k.as_str().unwrap();
            assert!(k.contains("/finding/") && ev.join(k).is_file(), "{k}");
        }
    }
    let controls: Vec<&str> = json["open_by_control"].as_array().unwrap().iter().map(|c| c["control"].as_str().unwrap()).collect();
    assert!(controls.iter().any(|c| c.starts_with("HIPAA 164.308")), "{controls:?}");
    assert!(controls.iter().any(|c| c.starts_with("HIPAA 164.312")), "{controls:?}");
    assert!(controls.iter().any(|c| c.starts_with("NIST ")), "{controls:?}");
    assert_eq!(json["trend"].as_array().unwrap().len(), 1);
    assert_eq!(json["trend"][0]["label"], "2026-11-22");
    assert_eq!(json["trend"][0]["count"], 6);
    assert_eq!(json["time_to_resolve"]["resolved"], 0);

    let csv = std::fs::read_to_string(out.join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6, "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(",critical,")).count(), 4);

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "no URL in the HTML");
    assert!(!html.contains("<script"), "no script in the HTML");
    assert_eq!(html.matches("<svg").count(), 6, "coverage, account, severity, HIPAA and NIST controls, trend");
    // The sample findings are all in one account (their ARNs' and Config items').
    assert!(html.contains("<section id=\"by-account\">"), "the account section");
    assert_eq!(json["open_by_account"][0]["label"], "123456789012");
    // what the scan compared and did not: its coverage record, the latest in the period
    assert!(html.contains("<section id=\"coverage\">"), "the coverage section");
    let cov = &json["coverage"];
    assert_eq!(cov["coverage"]["managed_instances"], 124, "{cov}");
    assert!(cov["coverage"]["compared_instances"].as_u64().unwrap() <= 124);
    assert_eq!(cov["coverage"]["states"].as_array().unwrap().len(), 3);
    let keys = cov["evidence"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "one scan's record: {cov}");
    let key = keys[0].as_str().unwrap();
    assert!(key.contains("/coverage/") && ev.join(key).is_file(), "{key}");
    assert!(html.contains("<table id=\"findings\""));
    assert!(html.contains("No finding was resolved in the period."));
    assert!(html.contains("module.phi_storage[&quot;clinical-notes&quot;]"), "addresses are escaped");

    // the report is recorded in the evidence store
    let all = files(&ev);
    assert_eq!(all.len(), before + 1);
    let recorded: Vec<&PathBuf> = all.iter().filter(|p| p.to_string_lossy().contains("/report/")).collect();
    assert_eq!(recorded.len(), 1);
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(recorded[0]).unwrap()).unwrap();
    assert_eq!(record["kind"], "report");
    assert_eq!(record["body"]["findings"], 6);

    // no sample secret anywhere
    for p in files(&out).iter().chain(&all) {
        let bytes = std::fs::read(p).unwrap();
        let s = String::from_utf8_lossy(&bytes);
        for secret in SECRETS {
            assert!(!s.contains(secret), "{secret} in {}", p.display());
        }
    }

    // a period that ends before the scan holds nothing; the same report again adds no record
    let o = driftwatch(&[
        "report",
        "--evidence",
        ev.to_str().unwrap(),
        "--out",
        dir.join("empty").to_str().unwrap(),
        "--from",
        "2026-10-01T00:00:00Z",
        "--to",
        "2026-10-31T00:00:00Z",
        "--now",
        "2026-11-22T12:00:00Z",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let empty: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("empty/report.json")).unwrap()).unwrap();
    assert_eq!(empty["findings"], 0);
    assert!(empty.get("coverage").is_none(), "no scan in the period: no coverage");
    assert_eq!(empty["trend"].as_array().unwrap().len(), 31);
    let o = driftwatch(&["report", "--evidence", ev.to_str().unwrap(), "--out", out.to_str().unwrap(), "--now", "2026-11-22T12:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("(already present)"), "{}", text(&o));
}

#[test]
fn report_errors_are_one_line() {
    let dir = scratch("report", "errors");
    let o = driftwatch(&["report", "--evidence", dir.join("nope").to_str().unwrap(), "--out", dir.join("out").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not an evidence directory"), "{err}");
}

#[test]
fn report_lists_exceptions_expiring_within_30_days() {
    let dir = scratch("report", "exceptions");
    let ev = dir.join("evidence");
    scan_into(&ev);
    let file = dir.join("exceptions.toml");
    let entry = |id: &str, expires: &str| {
        format!(
            "[[exception]]\nid = \"{id}\"\nrules = [\"drift.unmanaged\"]\narn = \"arn:aws:s3:::x-*\"\nreason = \"<b>why</b>\"\nticket = \"T-1\"\n\
owner = {{ email = \"owner@example.org\" }}\napproved_by = \"ciso@example.org\"\ncompensating_control = \"c\"\ncreated = 2026-11-01\nexpires = {expires}\n\n"
        )
    };
    let toml =
        [entry("SOON", "2026-11-25"), entry("LATER", "2027-01-20"), entry("PAST", "2026-11-20"), entry("TOO-LONG", "2027-06-01")].concat();
    std::fs::write(&file, toml).unwrap();
    let out = dir.join("out");
    let o = driftwatch(&[
        "report",
        "--evidence",
        ev.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--now",
        "2026-11-22T12:00:00Z",
        "--exceptions",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let ids: Vec<&str> = json["exceptions_expiring"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["SOON"], "expired, later and over-long (invalid) exceptions are not listed");
    assert_eq!(json["exceptions_expiring"][0]["owner"], "owner@example.org");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("&lt;b&gt;why&lt;/b&gt;"), "exception text is escaped");
}

/// `report --policy`: the organisation's coverage from the store's `heard` records, against the
/// policy's accounts and regions.
#[test]
fn report_shows_the_accounts_and_regions_heard_from() {
    use driftwatch_core::heard::Heard;
    let dir = scratch("report", "heard");
    let ev = dir.join("evidence");
    for (account, region, day) in [
        ("111122223333", "us-east-1", "2026-11-20"),
        ("111122223333", "us-east-1", "2026-11-21"),
        ("444455556666", "eu-west-1", "2026-11-21"),
    ] {
        let h = Heard { account: account.into(), region: region.into(), day: day.parse().unwrap() };
        let record = h.record();
        let bytes = record.to_bytes();
        let path = ev.join(record.key("", &bytes, h.time()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[organization]\nregions = [\"us-east-1\", \"eu-west-1\"]\n[accounts.\"111122223333\"]\nname = \"ehr-prod\"\n\
         [accounts.\"777788889999\"]\nname = \"logging\"\nregions = [\"us-east-1\"]\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = driftwatch(&[
        "report",
        "--evidence",
        ev.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--from",
        "2026-11-16T00:00:00Z",
        "--to",
        "2026-11-23T00:00:00Z",
        "--now",
        "2026-11-23T06:00:00Z",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).expect("report.json");
    let c = &json["org_coverage"];
    assert_eq!((c["accounts_heard"].as_u64(), c["accounts"].as_u64(), c["days"].as_u64()), (Some(2), Some(3), Some(7)), "{c}");
    assert_eq!(c["silent"], serde_json::json!(["111122223333 eu-west-1", "777788889999 us-east-1"]), "{c}");
    assert_eq!(c["undeclared"], serde_json::json!(["444455556666"]), "{c}");
    let prod = &c["by_account"][0];
    assert_eq!(
        (prod["name"].as_str(), prod["regions"][1]["region"].as_str(), prod["regions"][1]["days_heard"].as_u64()),
        (Some("ehr-prod"), Some("us-east-1"), Some(2))
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"org-coverage\">"), "the HTML section");
}
