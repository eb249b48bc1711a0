//! Shared by the benchmarks: the large-state generator, a pinned child-process runner and
//! timing helpers.

#![allow(dead_code)] // each benchmark binary uses part of it

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Deterministic generator of a large, realistic state.
pub fn generate(path: &Path, instances: usize) {
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

pub fn instance(t: &str, n: usize, i: usize) -> Value {
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

/// Spawn pinned to CPU 0; return wall time, user+sys CPU, max RSS (bytes) and stdout.
pub fn run_child(cmd: &mut Command) -> (Duration, Duration, u64, String) {
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

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Current resident set size (bytes), from /proc/self/statm.
pub fn rss_now() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}
