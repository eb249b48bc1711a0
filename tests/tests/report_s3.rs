//! `driftwatch report --evidence s3://…` against moto server: the report reads the finding
//! records through the S3 store and records itself there as a `report` record. Without
//! `moto_server` the test fails under `CI=true` and is skipped loudly elsewhere.

use driftwatch_aws::{blocking_runtime, s3_client, PathStyle};
use driftwatch_tests::{driftwatch_bin, scratch, workspace_root, Moto};
use std::process::Output;

const BUCKET: &str = "driftwatch-report-evidence";

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn report_reads_and_records_s3_evidence() {
    let Some(moto) = Moto::start("report-s3") else { return };
    let sdk = moto.sdk_config();
    let client = s3_client(&sdk, PathStyle::Auto);
    let runtime = blocking_runtime().expect("runtime");
    runtime.block_on(client.create_bucket().bucket(BUCKET).object_lock_enabled_for_bucket(true).send()).expect("create the bucket");

    let run = |args: &[&str]| {
        let mut c = moto.command(driftwatch_bin());
        c.args(args).current_dir(workspace_root());
        c.output().expect("run driftwatch")
    };
    let url = format!("s3://{BUCKET}/prod");
    let o = run(&[
        "scan",
        "--state",
        "samples/states",
        "--live",
        "samples/live",
        "--now",
        "2026-11-22T12:00:00Z",
        "--allow-default-salt",
        "--evidence",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = scratch("report-s3");
    let o = run(&["report", "--evidence", &url, "--out", out.to_str().unwrap(), "--now", "2026-11-22T12:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json")).expect("json");
    assert_eq!(json["findings"], 6);
    let severities: Vec<u64> = json["open_by_severity"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).collect();
    assert_eq!(severities, [4, 1, 1, 0, 0]);
    assert!(out.join("report.html").is_file() && out.join("report.csv").is_file());

    let listed = runtime.block_on(client.list_objects_v2().bucket(BUCKET).prefix("prod/").send()).expect("list");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.iter().filter(|k| k.contains("/finding/")).count(), 6, "{keys:?}");
    assert_eq!(keys.iter().filter(|k| k.contains("/report/")).count(), 1, "the report is recorded: {keys:?}");
    // The evidence keys in the report are relative to the store's prefix, as `verify` sees them.
    let first = json["open_by_severity"][0]["evidence"][0].as_str().unwrap();
    assert!(keys.contains(&format!("prod/{first}").as_str()), "{first}");
}
