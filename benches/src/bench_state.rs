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
use serde_json::{json, Value};
use std::io::Write;
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn which(cmd: &str) -> bool {
    Command::new(cmd).arg("version").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status().is_ok()
}

/// Spawn pinned to CPU 0; return wall time, user+sys CPU, max RSS (bytes) and stdout.
fn run_child(cmd: &mut Command) -> (Duration, Duration, u64, String) {
    use std::os::unix::process::CommandExt;
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(0, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        });
    }
    let start = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped below with wait4, which also yields rusage
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("stdout");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out).ok();
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    (wall, cpu, ru.ru_maxrss as u64 * 1024, out)
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

/// Deterministic generator of a large, realistic state.
fn generate(path: &PathBuf, instances: usize) {
    let types = [
        "aws_s3_bucket",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_kms_key",
        "aws_db_instance",
        "aws_ebs_volume",
        "aws_security_group",
        "aws_iam_role",
        "aws_lambda_function",
        "aws_sqs_queue",
        "aws_cloudwatch_log_group",
    ];
    let per_resource = 10usize;
    let mut resources = Vec::new();
    let mut n = 0usize;
    let mut r = 0usize;
    while n < instances {
        let t = types[r % types.len()];
        let count = per_resource.min(instances - n);
        let module = format!("module.svc[\"svc-{:05}\"].module.inner", r / types.len());
        let insts: Vec<Value> = (0..count).map(|i| instance(t, n + i, i)).collect();
        resources.push(json!({
            "module": module, "mode": "managed", "type": t, "name": "this",
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": insts
        }));
        n += count;
        r += 1;
    }
    let state = json!({"version": 4, "terraform_version": "1.11.4", "serial": 42, "lineage": "5a0c3e1e-bench-0000-0000-000000000000",
                       "outputs": {}, "resources": resources, "check_results": null});
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    serde_json::to_writer_pretty(&mut f, &state).expect("write");
    f.flush().expect("flush");
}

fn instance(t: &str, n: usize, i: usize) -> Value {
    let id = format!("{t}-{n:07}");
    let arn = format!("arn:aws:service:us-east-1:123456789012:{t}/{id}");
    let tags = json!({"Name": id, "service": format!("svc-{}", n / 100)});
    let tags_all = json!({"Name": id, "service": format!("svc-{}", n / 100), "Environment": "prod", "Owner": "platform-team", "CostCenter": "ehr-1042"});
    // ~1.5 KB of computed attributes that the parser must skip.
    let filler: Value = (0..8)
        .map(|k| (format!("computed_attr_{k}"), json!(format!("value-{n}-{k}-{}", "x".repeat(60)))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let mut a = json!({
        "id": id, "arn": arn, "tags": tags, "tags_all": tags_all, "computed": filler,
        "timeouts": null, "region": "us-east-1"
    });
    let m = a.as_object_mut().expect("object");
    match t {
        "aws_s3_bucket" | "aws_s3_bucket_server_side_encryption_configuration" => {
            m.insert("bucket".into(), json!(format!("bucket-{n}")));
            m.insert("rule".into(), json!([{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms", "kms_master_key_id": format!("arn:aws:kms:us-east-1:123456789012:key/{n:08}")}], "bucket_key_enabled": true}]));
        }
        "aws_kms_key" => {
            m.insert("key_id".into(), json!(format!("{n:08}-aaaa-bbbb-cccc-dddddddddddd")));
            m.insert("enable_key_rotation".into(), json!(true));
            m.insert("policy".into(), json!("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"));
        }
        "aws_db_instance" => {
            m.insert("resource_id".into(), json!(format!("db-{n:020}")));
            m.insert("password".into(), json!(format!("pw-{n}")));
            m.insert("publicly_accessible".into(), json!(false));
            m.insert("storage_encrypted".into(), json!(true));
        }
        "aws_security_group" => {
            m.insert("ingress".into(), json!([{"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/16"], "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false, "description": "https"}]));
        }
        "aws_lambda_function" => {
            m.insert("function_name".into(), json!(format!("fn-{n}")));
            m.insert("environment".into(), json!([{"variables": {"LOG_LEVEL": "info", "API_TOKEN": format!("tok-{n}")}}]));
        }
        "aws_iam_role" => {
            m.insert("unique_id".into(), json!(format!("AROA{n:017}")));
            m.insert("assume_role_policy".into(), json!("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"));
        }
        "aws_cloudwatch_log_group" => {
            m.insert("name".into(), json!(format!("/aws/lambda/fn-{n}")));
            m.insert("retention_in_days".into(), json!(365));
        }
        _ => {
            m.insert("encrypted".into(), json!(true));
        }
    }
    json!({"index_key": i, "schema_version": 0, "attributes": a,
           "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]],
           "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ==", "dependencies": ["module.svc.aws_kms_key.this"]})
}

/// Current resident set size (bytes), from /proc/self/statm.
fn rss_now() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}
