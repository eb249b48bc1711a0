//! Benchmark: parse and index a large Terraform state.
//!
//! ```text
//! cargo run --release -p driftwatch-benches --bin bench-state            # generate (once) + measure
//! cargo run --release -p driftwatch-benches --bin bench-state -- --instances 50000 --runs 5
//! ```
//!
//! Generates `benches/data/state-<N>.tfstate` (≈2 KB per instance, a mix of catalog types in
//! nested for_each modules), then, in a fresh child process per run pinned to one core,
//! reads the file, parses it and builds the managed-resource index, and reports wall time and
//! peak RSS (VmHWM). For comparison it runs `terraform state list -state=FILE` on the same
//! file, measured the same way (wait4 rusage), when terraform is on PATH.

use driftwatch_core::index::ManagedIndex;
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Catalog, Redactor};

mod common;
use common::{generate, ms, rss_now, run_child};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("generate") {
        let (Some(file), Some(n)) = (args.get(2), args.get(3).and_then(|s| s.parse().ok())) else {
            eprintln!("usage: bench-state generate FILE N");
            std::process::exit(2);
        };
        generate(&PathBuf::from(file), n);
        return;
    }
    if args.get(1).map(String::as_str) == Some("measure") {
        let Some(file) = args.get(2) else {
            eprintln!("usage: bench-state measure FILE");
            std::process::exit(2);
        };
        measure(Path::new(file));
        return;
    }
    let mut instances = 50_000usize;
    let mut runs = 5usize;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--instances" => instances = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(instances),
            "--runs" => runs = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(runs),
            "-h" | "--help" => {
                println!("bench-state [--instances N] [--runs R]\n  Generates a state of N resource instances and measures parse+index time and peak RSS per run,\n  side by side with `terraform state list`.");
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    std::fs::create_dir_all(&dir).expect("create benches/data");
    let file = dir.join(format!("state-{instances}.tfstate"));
    if !file.exists() {
        eprintln!("generating {} ...", file.display());
        let exe = std::env::current_exe().expect("current exe");
        let ok = Command::new(exe).arg("generate").arg(&file).arg(instances.to_string()).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "generation failed");
    }
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!("state file: {} ({} instances, {:.1} MB)", file.display(), instances, size as f64 / 1e6);
    println!("{:<34} {:>10} {:>10} {:>12} {:>10}", "run", "wall ms", "cpu ms", "peak RSS MB", "RSS/file");
    let exe = std::env::current_exe().expect("current exe");
    let mut ours = Vec::new();
    for r in 0..runs {
        let (wall, cpu, rss, out) = run_child(Command::new(&exe).arg("measure").arg(&file));
        let label = format!("driftwatch parse+index #{}", r + 1);
        println!("{label:<34} {:>10.0} {:>10.0} {:>12.1} {:>10.2}", ms(wall), ms(cpu), rss as f64 / 1e6, rss as f64 / size as f64);
        if r == 0 {
            print!("{out}");
        }
        ours.push((wall, rss));
    }
    let mut tf = Vec::new();
    if which("terraform") {
        for r in 0..runs.min(3) {
            let dir = std::env::temp_dir();
            let (wall, cpu, rss, _) =
                run_child(Command::new("terraform").current_dir(&dir).arg("state").arg("list").arg(format!("-state={}", file.display())));
            let label = format!("terraform state list #{}", r + 1);
            println!("{label:<34} {:>10.0} {:>10.0} {:>12.1} {:>10.2}", ms(wall), ms(cpu), rss as f64 / 1e6, rss as f64 / size as f64);
            tf.push((wall, rss));
        }
    } else {
        println!("terraform not on PATH: comparison skipped");
    }
    let median = |v: &mut Vec<(Duration, u64)>| {
        v.sort();
        v.get(v.len() / 2).copied()
    };
    if let Some((w, rss)) = median(&mut ours) {
        println!(
            "\nmedian driftwatch parse+index: {:.0} ms wall, peak RSS {:.1} MB ({:.2}x file)  [target <= 1000 ms, <= 3.0x]",
            ms(w),
            rss as f64 / 1e6,
            rss as f64 / size as f64
        );
    }
    if let Some((w, rss)) = median(&mut tf) {
        println!(
            "median terraform state list:   {:.0} ms wall, peak RSS {:.1} MB ({:.2}x file)",
            ms(w),
            rss as f64 / 1e6,
            rss as f64 / size as f64
        );
    }
}

fn which(cmd: &str) -> bool {
    Command::new(cmd).arg("version").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status().is_ok()
}

/// In the child: read + parse + index, print phase timings.
fn measure(file: &Path) {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"bench");
    let t0 = Instant::now();
    let bytes = std::fs::read(file).expect("read state");
    let t1 = Instant::now();
    let state = parse_state(&bytes, StateLocation::local(file.display().to_string()), &catalog, &redactor).expect("parse");
    let t2 = Instant::now();
    let rss_parse = rss_now();
    let n_instances = state.instances.len();
    drop(bytes);
    let index = ManagedIndex::build([state], &catalog);
    let t3 = Instant::now();
    let rss_index = rss_now();
    println!("  rss after parse {:.0} MB, after index {:.0} MB", rss_parse as f64 / 1e6, rss_index as f64 / 1e6);
    println!(
        "  phases: read {:.0} ms, parse {:.0} ms, index {:.0} ms; {} instances, {} indexed",
        ms(t1 - t0),
        ms(t2 - t1),
        ms(t3 - t2),
        n_instances,
        index.len()
    );
}
