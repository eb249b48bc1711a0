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

#![recursion_limit = "256"]

use driftwatch_core::detect::state_write::{self, StateWrite};
use driftwatch_core::detect::Context;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{ObjectChange, StateObjectEvent};
use driftwatch_core::state::{Elements, ResourceInstance, State, StateLocation, StateReader};
use driftwatch_core::{Catalog, Redactor};
use std::io::Read;
use std::sync::Arc;

mod common;
use common::{ensure_previous, generate_previous, ms, read_in_pieces, rss_now, run_child, Generator};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let (Some(g), Some(file), Some(n)) =
                (args.get(2).and_then(|g| Generator::parse(g)), args.get(3), args.get(4).and_then(|s| s.parse().ok()))
            else {
                eprintln!("usage: bench-state generate mixed|catalogued FILE N");
                std::process::exit(2);
            };
            g.generate(&PathBuf::from(file), n);
            return;
        }
        Some("generate-previous") => {
            let (Some(current), Some(previous)) = (args.get(2), args.get(3)) else {
                eprintln!("usage: bench-state generate-previous CURRENT PREVIOUS");
                std::process::exit(2);
            };
            generate_previous(Path::new(current), Path::new(previous));
            return;
        }
        Some(mode @ ("single" | "diff" | "warm")) => {
            let (Some(previous), Some(current)) = (args.get(2), args.get(3)) else {
                eprintln!("usage: bench-state single|diff|warm PREVIOUS CURRENT");
                std::process::exit(2);
            };
            measure_diff(mode, Path::new(previous), Path::new(current));
            return;
        }
        Some("measure") => {
            let Some(file) = args.get(2) else {
                eprintln!("usage: bench-state measure FILE");
                std::process::exit(2);
            };
            measure(Path::new(file));
            return;
        }
        _ => {}
    }
    let mut instances = 50_000usize;
    let mut runs = 5usize;
    let mut generators = vec![Generator::Catalogued, Generator::Mixed];
    let mut scale: Vec<usize> = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).map(String::as_str).unwrap_or("");
        match args[i].as_str() {
            "--instances" => instances = value.parse().unwrap_or(instances),
            "--runs" => runs = value.parse().unwrap_or(runs),
            "--generator" => {
                generators = match value {
                    "both" => vec![Generator::Catalogued, Generator::Mixed],
                    g => match Generator::parse(g) {
                        Some(g) => vec![g],
                        None => {
                            eprintln!("--generator: mixed, catalogued or both, not {g:?}");
                            std::process::exit(2);
                        }
                    },
                }
            }
            "--scale" => {
                scale = value.split(',').filter_map(|s| s.trim().parse().ok()).collect();
                if scale.is_empty() {
                    eprintln!("--scale: a comma-separated list of instance counts, e.g. 10000,50000,200000");
                    std::process::exit(2);
                }
            }
            "-h" | "--help" => {
                println!(
                    "bench-state [--instances N] [--runs R] [--generator catalogued|mixed|both] [--scale N1,N2,...]\n\n\
                     Generates (once, under benches/data/) a state of N resource instances with each generator and\n\
                     measures parse + index in a fresh process pinned to one core: wall time, CPU and peak RSS,\n\
                     median of R runs, side by side with `terraform state list` on the same file (when on PATH).\n\
                     --scale also measures the catalogued generator at each listed size (time and RSS per instance).\n\n\
                     generators:\n  \
                     catalogued  every instance a catalogued type as the AWS provider writes it (~1.2 KB each)\n  \
                     mixed       ten types with ~1.5 KB of filler attributes each (~2.2 KB each)"
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other} (see --help)");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    std::fs::create_dir_all(&dir).expect("create benches/data");
    let tf = which("terraform");
    if !tf {
        println!("terraform not on PATH: the comparison is skipped");
    }
    let mut summary = Vec::new();
    for g in &generators {
        let file = ensure(*g, &dir, instances);
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        println!("\n{} state: {} ({} instances, {:.1} MB)", g.name(), file.display(), instances, size as f64 / 1e6);
        println!("{:<34} {:>10} {:>10} {:>12} {:>10}", "run", "wall ms", "cpu ms", "peak RSS MB", "RSS/file");
        let ours = measure_runs(&file, size, runs, true);
        let theirs = if tf { terraform_runs(&file, size, runs.min(3)) } else { Vec::new() };
        summary.push((*g, size, median(ours), median(theirs)));
    }
    println!(
        "\n{:<12} {:>9} {:>22} {:>14} {:>9} {:>24} {:>8}",
        "generator", "file MB", "driftwatch ms (median)", "peak RSS MB", "RSS/file", "terraform state list ms", "speedup"
    );
    for (g, size, ours, theirs) in &summary {
        let Some((w, rss)) = ours else { continue };
        let (tf_ms, speedup) = match theirs {
            Some((tw, _)) => (format!("{:.0}", ms(*tw)), format!("{:.1}x", tw.as_secs_f64() / w.as_secs_f64())),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<12} {:>9.1} {:>22.0} {:>14.1} {:>9.2} {:>24} {:>8}",
            g.name(),
            *size as f64 / 1e6,
            ms(*w),
            *rss as f64 / 1e6,
            *rss as f64 / *size as f64,
            tf_ms,
            speedup
        );
    }
    println!("targets: parse + index <= 300 ms and >= 5x terraform state list on one core, peak RSS <= 1.5x the file");

    // A state write: the version before and this one.
    let current = ensure(Generator::Catalogued, &dir, instances);
    let previous = dir.join(format!("state-catalogued-{instances}-previous.tfstate"));
    ensure_previous(&current, &previous);
    let exe = std::env::current_exe().expect("current exe");
    // Each child prints the work it timed (`work_ms=`): process start and exit aside, and a
    // warm run's read of the version before (done by the previous invocation) not counted.
    let work = |mode: &str| -> (Duration, u64, String) {
        let (_, _, rss, text) = run_child(Command::new(&exe).arg(mode).arg(&previous).arg(&current));
        let ms = text.lines().find_map(|l| l.strip_prefix("work_ms=")).and_then(|n| n.trim().parse::<f64>().ok()).unwrap_or(f64::NAN);
        (Duration::from_secs_f64(ms.max(0.0) / 1000.0), rss, text)
    };
    let (mut single, mut cold, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    println!("\nstate write, catalogued generator (the first run's phases):");
    for r in 0..runs {
        for (mode, into) in [("single", &mut single), ("diff", &mut cold), ("warm", &mut warm)] {
            let (w, rss, text) = work(mode);
            if r == 0 {
                print!("{}", text.lines().filter(|l| !l.starts_with("work_ms=")).map(|l| format!("{l}\n")).collect::<String>());
            }
            into.push((w, rss));
        }
    }
    if let (Some((sw, srss)), Some((cw, crss)), Some((ww, wrss))) = (median(single), median(cold), median(warm)) {
        println!("{:<56} {:>8} {:>12} {:>8}", "median of runs (work timed in the process)", "ms", "peak RSS MB", "ratio");
        println!("{:<56} {:>8.0} {:>12.1} {:>8}", "one version read (parse, no index)", ms(sw), srss as f64 / 1e6, "1.00x");
        for (label, w, rss) in [
            ("a state write, cold: both versions read, compared", cw, crss),
            ("a state write, warm: the version before kept, compared", ww, wrss),
        ] {
            println!("{label:<56} {:>8.0} {:>12.1} {:>7.2}x", ms(w), rss as f64 / 1e6, w.as_secs_f64() / sw.as_secs_f64());
        }
        println!("target: a state write <= 1.2x one parse");
    }
    if !scale.is_empty() {
        println!("\nscaling, catalogued generator (median of {runs}):");
        println!("{:>10} {:>9} {:>10} {:>12} {:>12} {:>12}", "instances", "file MB", "wall ms", "us/instance", "peak RSS MB", "RSS/file");
        for n in scale {
            let file = ensure(Generator::Catalogued, &dir, n);
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            if let Some((w, rss)) = median(measure_runs(&file, size, runs, false)) {
                println!(
                    "{:>10} {:>9.1} {:>10.0} {:>12.2} {:>12.1} {:>12.2}",
                    n,
                    size as f64 / 1e6,
                    ms(w),
                    w.as_secs_f64() * 1e6 / n as f64,
                    rss as f64 / 1e6,
                    rss as f64 / size as f64
                );
            }
        }
    }
}

/// The generated file, generated in a child process first when missing.
fn ensure(g: Generator, dir: &Path, instances: usize) -> PathBuf {
    let file = g.file(dir, instances);
    if !file.exists() {
        eprintln!("generating {} ...", file.display());
        let exe = std::env::current_exe().expect("current exe");
        let ok = Command::new(exe)
            .arg("generate")
            .arg(g.name())
            .arg(&file)
            .arg(instances.to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "generation failed");
    }
    file
}

fn measure_runs(file: &Path, size: u64, runs: usize, print: bool) -> Vec<(Duration, u64)> {
    let exe = std::env::current_exe().expect("current exe");
    let mut out = Vec::new();
    for r in 0..runs {
        let (wall, cpu, rss, text) = run_child(Command::new(&exe).arg("measure").arg(file));
        if print {
            let label = format!("driftwatch parse+index #{}", r + 1);
            println!("{label:<34} {:>10.0} {:>10.0} {:>12.1} {:>10.2}", ms(wall), ms(cpu), rss as f64 / 1e6, rss as f64 / size as f64);
            if r == 0 {
                print!("{text}");
            }
        }
        out.push((wall, rss));
    }
    out
}

fn terraform_runs(file: &Path, size: u64, runs: usize) -> Vec<(Duration, u64)> {
    let mut out = Vec::new();
    for r in 0..runs {
        let dir = std::env::temp_dir();
        let (wall, cpu, rss, _) =
            run_child(Command::new("terraform").current_dir(&dir).arg("state").arg("list").arg(format!("-state={}", file.display())));
        let label = format!("terraform state list #{}", r + 1);
        println!("{label:<34} {:>10.0} {:>10.0} {:>12.1} {:>10.2}", ms(wall), ms(cpu), rss as f64 / 1e6, rss as f64 / size as f64);
        out.push((wall, rss));
    }
    out
}

fn median(mut v: Vec<(Duration, u64)>) -> Option<(Duration, u64)> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn which(cmd: &str) -> bool {
    Command::new(cmd).arg("version").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status().is_ok()
}

/// In the child: read the file in 1 MiB pieces into the streaming reader, which hands each
/// resource's instances to the index as it completes (the state-watcher's path: the file is
/// never held whole). Prints phase timings.
fn measure(file: &Path) {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"bench");
    let t0 = Instant::now();
    let location = StateLocation::local(file.display().to_string());
    let mut index = ManagedIndex::default();
    let mut reader = StateReader::new(location.clone(), &catalog, &redactor);
    let mut indexer = index.indexer(location, &catalog);
    let mut f = std::fs::File::open(file).expect("open state");
    let mut buf = vec![0u8; 1 << 20];
    let mut read = Duration::ZERO;
    loop {
        let t = Instant::now();
        let n = f.read(&mut buf).expect("read state");
        read += t.elapsed();
        if n == 0 {
            break;
        }
        reader.feed(&buf[..n], &mut |i| indexer.add(i)).expect("parse");
    }
    let header = reader.finish(&mut |i| indexer.add(i)).expect("parse");
    let summary = indexer.finish(&header);
    let total = t0.elapsed();
    println!(
        "  phases: read {:.0} ms, parse + index {:.0} ms; {} instances, {} indexed; rss at the end {:.0} MB",
        ms(read),
        ms(total - read),
        summary.instances,
        index.len(),
        rss_now() as f64 / 1e6
    );
    // The process ends here: its memory goes back with it, as a CLI's does. Dropping the
    // index first would add its teardown (50,000 entries freed one by one) to the figure.
    std::mem::forget(index);
}

/// Read a whole state file through the streaming reader into a [`State`], optionally
/// recording its elements or reusing another version's.
fn read_state(
    file: &Path,
    catalog: &Catalog,
    redactor: &Redactor,
    record: bool,
    reuse: Option<(Elements, Vec<Arc<ResourceInstance>>)>,
) -> (State, Elements) {
    let location = StateLocation::local(file.display().to_string());
    let mut reader = StateReader::new(location.clone(), catalog, redactor);
    if record {
        reader.record_elements();
    }
    if let Some((elements, instances)) = reuse {
        reader.reuse(elements, instances);
    }
    let mut instances = Vec::new();
    let (header, elements) = read_in_pieces(file, reader, &mut |i| instances.push(i));
    (State::from_parts(header, location, instances), elements)
}

/// In the child: `single` reads the current version alone; `diff` reads it, then the previous
/// version reusing its unchanged resources, and runs the state-write check on the two.
fn measure_diff(mode: &str, previous: &Path, current: &Path) {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"bench");
    // `warm`: the version before was read by this process already (the state-watcher keeps
    // the version it read last); that read is not counted.
    let kept = (mode == "warm").then(|| read_state(previous, &catalog, &redactor, true, None));
    let t0 = Instant::now();
    let reuse = kept.as_ref().map(|(p, e)| (e.clone(), p.instances.clone()));
    let (cur, elements) = read_state(current, &catalog, &redactor, mode == "diff", reuse);
    let t1 = Instant::now();
    if mode == "single" {
        println!("  single: {} instances in {:.0} ms", cur.instances.len(), ms(t1 - t0));
        println!("work_ms={:.1}", ms(t1 - t0));
        std::mem::forget(cur);
        return;
    }
    let prev = match kept {
        Some((p, _)) => p,
        None => read_state(previous, &catalog, &redactor, false, Some((elements, cur.instances.clone()))).0,
    };
    let t2 = Instant::now();
    let shared = prev.instances.iter().zip(cur.instances.iter()).filter(|(a, b)| Arc::ptr_eq(a, b)).count();
    let event = StateObjectEvent {
        bucket: "bench".into(),
        key: current.display().to_string(),
        version_id: None,
        etag: None,
        size: None,
        change: ObjectChange::Created,
        time: chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
        requester: None,
        source_ip: None,
        sequencer: None,
    };
    let (policy, index) = (Policy::default(), ManagedIndex::default());
    let ctx = Context { index: &index, catalog: &catalog, policy: &policy, redactor: &redactor, now: event.time };
    // As the state-watcher does: the removed identities once, for the index lookup and the
    // detector.
    let removed = state_write::removed_identities(&prev, &cur, &catalog);
    let mut write = StateWrite::new(&event, Some(&prev), &cur);
    write.removed = Some(removed.clone());
    let (findings, diff) = state_write::detect(&write, &ctx);
    let t3 = Instant::now();
    println!(
        "  {mode}: current {:.0} ms, previous {:.0} ms ({} of {} instances shared), compare {:.0} ms; {} added, {} removed, {} changed, {} identities gone, {} findings",
        ms(t1 - t0),
        ms(t2 - t1),
        shared,
        prev.instances.len(),
        ms(t3 - t2),
        diff.added.len(),
        diff.removed.len(),
        diff.changed.len(),
        removed.len(),
        findings.len()
    );
    println!("work_ms={:.1}", ms(t3 - t0));
    std::mem::forget((cur, prev));
}
