//! The HTML report of the samples in headless Chromium (Debian `chromium`): it renders (a
//! screenshot), its charts and findings table are in the DOM Chromium built, the page logs no
//! console message or uncaught error, and it can make no request (no URL but `#` and `data:`).
//!
//! Chromium is installed by `.ci/test`. Without it the test fails under `CI=true` and is
//! skipped loudly otherwise.

use driftwatch_tests::{driftwatch_bin, scratch, under_ci, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const SECRETS: [&str; 2] = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026"];

fn chromium() -> Option<PathBuf> {
    let p = PathBuf::from(CHROMIUM);
    if p.is_file() {
        return Some(p);
    }
    assert!(!under_ci(), "{CHROMIUM} is missing but CI=true: install Debian chromium (`.ci/test` does)");
    eprintln!("\n*** SKIPPED: {CHROMIUM} is missing; `apt-get install --no-install-recommends chromium` to run the browser test ***\n");
    None
}

/// Run headless Chromium on `page` with `extra` flags; killed after 120 s.
fn headless(bin: &Path, profile: &Path, extra: &[&str], page: &Path) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start chromium");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for chromium").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("chromium output")
}

/// Console messages and uncaught errors Chromium logged for `page_name`.
fn console_lines(stderr: &str, page_name: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| (l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("console error")) && l.contains(page_name))
        .map(str::to_string)
        .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(driftwatch_bin()).args(args).current_dir(workspace_root()).output().expect("run driftwatch")
}

#[test]
fn sample_report_renders_in_headless_chromium() {
    let Some(bin) = chromium() else { return };
    let dir = scratch("report-browser");
    let ev = dir.join("evidence");
    let out = dir.join("out");
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
        ev.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["report", "--evidence", ev.to_str().unwrap(), "--out", out.to_str().unwrap(), "--now", "2026-11-22T12:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html");

    // No request is possible: no URL scheme at all, and every src/href is `#…` or `data:`.
    assert!(!html.contains("://"), "a URL in the report");
    for attr in ["src=", "href=", "xlink:href=", "action="] {
        for (i, _) in html.match_indices(attr) {
            let value = html[i + attr.len()..].trim_start_matches(['"', '\'']);
            assert!(
                value.starts_with('#') || value.starts_with("data:"),
                "{attr} of an external resource: {}",
                &html[i..(i + 80).min(html.len())]
            );
        }
    }
    for secret in SECRETS {
        assert!(!html.contains(secret));
    }

    // The control: the console check sees what a faulty page logs.
    let probe = dir.join("probe.html");
    std::fs::write(&probe, "<html><body><script>console.error('driftwatch-probe'); undefinedFn();</script></body></html>").unwrap();
    let o = headless(&bin, &dir.join("profile-probe"), &["--enable-logging=stderr", "--v=0", "--dump-dom"], &probe);
    let probe_lines = console_lines(&String::from_utf8_lossy(&o.stderr), "probe.html");
    assert!(probe_lines.iter().any(|l| l.contains("driftwatch-probe")), "console messages are visible in chromium's log: {probe_lines:?}");
    assert!(probe_lines.iter().any(|l| l.contains("Uncaught")), "{probe_lines:?}");

    // The DOM Chromium built: charts and the findings table; no console output from the page.
    let o = headless(&bin, &dir.join("profile-dom"), &["--enable-logging=stderr", "--v=0", "--dump-dom"], &page);
    assert!(o.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&o.stderr));
    let dom = String::from_utf8_lossy(&o.stdout);
    for id in ["chart-severity", "chart-control-hipaa", "chart-control-nist", "chart-trend"] {
        assert!(dom.contains(&format!("<svg id=\"{id}\"")), "{id} chart in the DOM");
    }
    assert!(dom.contains("<rect"), "bars drawn");
    assert!(dom.contains("<table id=\"findings\""), "findings table in the DOM");
    let table = dom.split("<table id=\"findings\"").nth(1).and_then(|t| t.split("</table>").next()).unwrap_or("");
    assert_eq!(table.matches("<tr><td class=\"sev-critical\">critical</td>").count(), 4, "4 critical open findings in the table");
    assert_eq!(table.matches("<tr>").count(), 1 + 6, "header and the 6 open findings");
    let console = console_lines(&String::from_utf8_lossy(&o.stderr), "report.html");
    assert!(console.is_empty(), "the report logged to the console: {console:?}");

    // The screenshot: a 1280×2000 PNG with real content.
    let png = dir.join("report.png");
    let shot = format!("--screenshot={}", png.display());
    let o = headless(&bin, &dir.join("profile-shot"), &[&shot, "--window-size=1280,2000"], &page);
    assert!(o.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000));
    assert!(bytes.len() > 30_000, "a blank page compresses to a few KB; got {} bytes", bytes.len());
}
