//! Shared by the benchmarks: the large-state generator, a pinned child-process runner and
//! timing helpers.

#![allow(dead_code)] // each benchmark binary uses part of it

// Linked for its global allocator (mimalloc), so that the benchmarks allocate as the
// functions do.
extern crate driftwatch_lambda;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A state file as Terraform writes it: the members in Terraform's order (`version` first,
/// `resources` after the header; in a resource `mode`, `type`, `name`, `provider`, then
/// `instances`), pretty-printed with two spaces. (A `serde_json::Value` would sort them.)
#[derive(Serialize, Deserialize)]
pub struct StateFile {
    pub version: u64,
    pub terraform_version: String,
    pub serial: u64,
    pub lineage: String,
    pub outputs: Value,
    pub resources: Vec<Resource>,
    pub check_results: Value,
}

#[derive(Serialize, Deserialize)]
pub struct Resource {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub module: Option<String>,
    pub mode: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub name: String,
    pub provider: String,
    pub instances: Vec<Instance>,
}

#[derive(Serialize, Deserialize)]
pub struct Instance {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index_key: Option<Value>,
    pub schema_version: u64,
    pub attributes: Value,
    pub sensitive_attributes: Value,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub private: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dependencies: Option<Vec<String>>,
}

impl Instance {
    fn from_value(v: Value) -> Instance {
        serde_json::from_value(v).expect("an instance")
    }
}

/// Write a state file in Terraform's layout.
pub fn write_state(path: &Path, state: &StateFile) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    serde_json::to_writer_pretty(&mut f, state).expect("write");
    f.flush().expect("flush");
}
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
    let module = |r: usize, _: &str| format!("module.svc[\"svc-{r:05}\"].module.inner");
    let state = build_state(&types, instances, module, instance, 42, "5a0c3e1e-bench-0000-0000-000000000000");
    write_state(path, &state);
}

/// A state of `instances` instances: resources of ten instances each, cycling through `types`,
/// the `r`-th of a type in the module `module(r, type)`, instance `i` of the `n`-th overall
/// being `instance(type, n, i)`.
pub fn build_state(
    types: &[&str],
    instances: usize,
    module: impl Fn(usize, &str) -> String,
    instance: impl Fn(&str, usize, usize) -> Value,
    serial: u64,
    lineage: &str,
) -> StateFile {
    let per_resource = 10usize;
    let mut resources = Vec::new();
    let mut n = 0usize;
    let mut r = 0usize;
    while n < instances {
        let t = types[r % types.len()];
        let count = per_resource.min(instances - n);
        let instances = (0..count).map(|i| Instance::from_value(instance(t, n + i, i))).collect();
        resources.push(Resource {
            module: Some(module(r / types.len(), t)),
            mode: "managed".into(),
            rtype: t.into(),
            name: "this".into(),
            provider: "provider[\"registry.terraform.io/hashicorp/aws\"]".into(),
            instances,
        });
        n += count;
        r += 1;
    }
    StateFile {
        version: 4,
        terraform_version: "1.11.4".into(),
        serial,
        lineage: lineage.into(),
        outputs: json!({}),
        resources,
        check_results: Value::Null,
    }
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

/// Which generated state a benchmark reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// Ten types (two outside the resource catalog's comparisons) with ≈1.5 KB of filler
    /// attributes each: ≈2.2 KB an instance. The README's first figures.
    Mixed,
    /// Only catalogued types, shaped as the AWS provider (v5) writes them, computed attributes
    /// included: S3 buckets with encryption, KMS keys, EBS volumes, security groups and DB
    /// instances in equal shares. ≈1.2 KB an instance.
    Catalogued,
}

impl Generator {
    pub fn name(self) -> &'static str {
        match self {
            Generator::Mixed => "mixed",
            Generator::Catalogued => "catalogued",
        }
    }

    pub fn parse(s: &str) -> Option<Generator> {
        match s {
            "mixed" => Some(Generator::Mixed),
            "catalogued" => Some(Generator::Catalogued),
            _ => None,
        }
    }

    /// Where the generated file lives (generated once, reused).
    pub fn file(self, dir: &Path, instances: usize) -> std::path::PathBuf {
        match self {
            Generator::Mixed => dir.join(format!("state-{instances}.tfstate")),
            Generator::Catalogued => dir.join(format!("state-catalogued-{instances}.tfstate")),
        }
    }

    pub fn generate(self, path: &Path, instances: usize) {
        match self {
            Generator::Mixed => generate(path, instances),
            Generator::Catalogued => generate_catalogued(path, instances),
        }
    }
}

/// Deterministic generator of a state whose every instance is a catalogued type, with the
/// attribute sets the AWS provider writes (computed ones included), in nested `for_each`
/// modules, ten instances a resource.
pub fn generate_catalogued(path: &Path, instances: usize) {
    let types = ["aws_s3_bucket", "aws_kms_key", "aws_ebs_volume", "aws_security_group", "aws_db_instance"];
    let module = |r: usize, t: &str| format!("module.workload[\"team-{r:04}\"].module.{}", t.trim_start_matches("aws_"));
    let instance = |t: &str, n: usize, i: usize| provider_instance(t, n, &format!("k{i}"));
    let state = build_state(&types, instances, module, instance, 7, "0b6f6a0e-catalogued-0000-000000000000");
    write_state(path, &state);
}

/// One instance of a catalogued type as the provider writes it.
pub fn provider_instance(t: &str, n: usize, key: &str) -> Value {
    let acct = "123456789012";
    let region = "us-east-1";
    let key_arn = format!("arn:aws:kms:{region}:{acct}:key/{:08x}-4b1e-4c6a-9d2e-{:012x}", n / 97, n / 97);
    let tags = json!({"Name": format!("{t}-{n}"), "team": format!("team-{}", n / 50)});
    let tags_all = json!({"Name": format!("{t}-{n}"), "team": format!("team-{}", n / 50), "Environment": "prod", "DataClass": "phi"});
    let attrs = match t {
        "aws_s3_bucket" => {
            let b = format!("ehr-docs-{n:07}");
            json!({
                "acceleration_status": "", "acl": null, "arn": format!("arn:aws:s3:::{b}"), "bucket": b,
                "bucket_domain_name": format!("{b}.s3.amazonaws.com"), "bucket_prefix": "",
                "bucket_regional_domain_name": format!("{b}.s3.{region}.amazonaws.com"), "cors_rule": [], "force_destroy": false,
                "grant": [{"id": "6f1ab0c3e2d4", "permissions": ["FULL_CONTROL"], "type": "CanonicalUser", "uri": ""}],
                "hosted_zone_id": "Z3AQBSTGFYJSTF", "id": b, "lifecycle_rule": [], "logging": [], "object_lock_configuration": [],
                "object_lock_enabled": false, "policy": "", "region": region, "replication_configuration": [], "request_payer": "BucketOwner",
                "server_side_encryption_configuration": [{"rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": key_arn, "sse_algorithm": "aws:kms"}], "bucket_key_enabled": true}]}],
                "tags": tags, "tags_all": tags_all, "timeouts": null, "versioning": [{"enabled": true, "mfa_delete": false}],
                "website": [], "website_domain": null, "website_endpoint": null
            })
        }
        "aws_kms_key" => {
            let id = format!("{n:08x}-4b1e-4c6a-9d2e-{n:012x}");
            json!({
                "arn": format!("arn:aws:kms:{region}:{acct}:key/{id}"), "bypass_policy_lockout_safety_check": false, "custom_key_store_id": "",
                "customer_master_key_spec": "SYMMETRIC_DEFAULT", "deletion_window_in_days": 30, "description": format!("team {} data key", n / 50),
                "enable_key_rotation": true, "id": id, "is_enabled": true, "key_id": id, "key_usage": "ENCRYPT_DECRYPT", "multi_region": false,
                "policy": format!("{{\"Statement\":[{{\"Action\":\"kms:*\",\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{acct}:root\"}},\"Resource\":\"*\",\"Sid\":\"Enable IAM User Permissions\"}}],\"Version\":\"2012-10-17\"}}"),
                "rotation_period_in_days": 365, "tags": tags, "tags_all": tags_all, "timeouts": null, "xks_key_id": ""
            })
        }
        "aws_ebs_volume" => {
            let id = format!("vol-{n:017x}");
            json!({
                "arn": format!("arn:aws:ec2:{region}:{acct}:volume/{id}"), "availability_zone": "us-east-1a", "encrypted": true,
                "final_snapshot": false, "id": id, "iops": 3000, "kms_key_id": key_arn, "multi_attach_enabled": false, "outpost_arn": "",
                "size": 100, "snapshot_id": "", "tags": tags, "tags_all": tags_all, "throughput": 125, "timeouts": null, "type": "gp3"
            })
        }
        "aws_security_group" => {
            let id = format!("sg-{n:017x}");
            let rule = |port: u16, desc: &str| json!({"cidr_blocks": ["10.20.0.0/16"], "description": desc, "from_port": port, "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp", "security_groups": [], "self": false, "to_port": port});
            json!({
                "arn": format!("arn:aws:ec2:{region}:{acct}:security-group/{id}"), "description": "Managed by Terraform",
                "egress": [{"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 0, "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "-1", "security_groups": [], "self": false, "to_port": 0}],
                "id": id, "ingress": [rule(443, "https from the VPC"), rule(5432, "postgres from the VPC")], "name": format!("svc-{n}"), "name_prefix": "",
                "owner_id": acct, "revoke_rules_on_delete": false, "tags": tags, "tags_all": tags_all, "timeouts": null, "vpc_id": format!("vpc-{:017x}", n / 500)
            })
        }
        _ => {
            let ident = format!("ehr-db-{n}");
            let rid = format!("db-{:026X}", n);
            json!({
                "address": format!("{ident}.c9akciq32.{region}.rds.amazonaws.com"), "allocated_storage": 100, "allow_major_version_upgrade": null,
                "apply_immediately": false, "arn": format!("arn:aws:rds:{region}:{acct}:db:{ident}"), "auto_minor_version_upgrade": true,
                "availability_zone": "us-east-1b", "backup_retention_period": 35, "backup_target": "region", "backup_window": "03:00-04:00",
                "ca_cert_identifier": "rds-ca-rsa2048-g1", "character_set_name": "", "copy_tags_to_snapshot": true, "db_name": "ehr",
                "db_subnet_group_name": "private", "delete_automated_backups": true, "deletion_protection": true, "domain": "",
                "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"], "endpoint": format!("{ident}.c9akciq32.{region}.rds.amazonaws.com:5432"),
                "engine": "postgres", "engine_version": "16.3", "final_snapshot_identifier": null, "hosted_zone_id": "Z2R2ITUGPM61AM",
                "iam_database_authentication_enabled": true, "id": rid, "identifier": ident, "identifier_prefix": "", "instance_class": "db.r6g.large",
                "iops": 3000, "kms_key_id": key_arn, "license_model": "postgresql-license", "listener_endpoint": [], "maintenance_window": "sun:05:00-sun:06:00",
                "manage_master_user_password": null, "master_user_secret": [], "max_allocated_storage": 1000, "monitoring_interval": 60,
                "monitoring_role_arn": format!("arn:aws:iam::{acct}:role/rds-monitoring"), "multi_az": true, "network_type": "IPV4",
                "option_group_name": "default:postgres-16", "parameter_group_name": "ehr-postgres16", "password": format!("pw-{n:x}-Zq8!"),
                "performance_insights_enabled": true, "performance_insights_kms_key_id": key_arn, "performance_insights_retention_period": 7,
                "port": 5432, "publicly_accessible": false, "replicas": [], "resource_id": rid, "skip_final_snapshot": false,
                "status": "available", "storage_encrypted": true, "storage_throughput": 125, "storage_type": "gp3", "tags": tags,
                "tags_all": tags_all, "timeouts": null, "timezone": "", "username": "ehr_admin", "vpc_security_group_ids": [format!("sg-{:017x}", n)]
            })
        }
    };
    let sensitive = if t == "aws_db_instance" { json!([[{"type": "get_attr", "value": "password"}]]) } else { json!([]) };
    json!({"index_key": key, "schema_version": 0, "attributes": attrs, "sensitive_attributes": sensitive,
           "private": "eyJlMmJmYjczMC1lY2FhLTExZTYtOGY4OC0zNDM2M2JjN2M0YzAiOnsiY3JlYXRlIjo2MDAwMDAwMDAwMDB9fQ==",
           "dependencies": ["module.kms.aws_kms_key.this"]})
}

/// The version before `current`: every 50th resource's first instance carries another tag
/// value, and the last two resources are not there yet (a write that adds two resources and
/// changes 2 % of the others).
pub fn generate_previous(current: &Path, previous: &Path) {
    let mut state: StateFile = serde_json::from_slice(&std::fs::read(current).expect("read current")).expect("current parses");
    state.serial = state.serial.saturating_sub(1);
    let n = state.resources.len();
    state.resources.truncate(n.saturating_sub(2));
    for (i, r) in state.resources.iter_mut().enumerate() {
        if i % 50 == 7 {
            if let Some(attrs) = r.instances.first_mut().and_then(|x| x.attributes.as_object_mut()) {
                for tags in ["tags", "tags_all"] {
                    if let Some(t) = attrs.get_mut(tags).and_then(|t| t.as_object_mut()) {
                        t.insert("team".into(), json!("team-before"));
                    }
                }
            }
        }
    }
    write_state(previous, &state);
}

/// `previous` generated from `current` in a child process (the parent's memory stays small,
/// and the children it measures later do not start from a large parent).
pub fn ensure_previous(current: &Path, previous: &Path) {
    if previous.exists() {
        return;
    }
    eprintln!("generating {} ...", previous.display());
    let exe = std::env::current_exe().expect("current exe");
    let ok = Command::new(exe).arg("generate-previous").arg(current).arg(previous).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "generating the previous version failed");
}

/// Read a state file in 1 MiB pieces through `reader`, handing each instance to `out`; the
/// header at the end, and the elements the reader recorded.
pub fn read_in_pieces(
    file: &Path,
    reader: driftwatch_core::state::StateReader<'_>,
    out: &mut dyn FnMut(std::sync::Arc<driftwatch_core::state::ResourceInstance>),
) -> (driftwatch_core::state::StateHeader, driftwatch_core::state::Elements) {
    let mut reader = reader;
    let mut f = std::fs::File::open(file).expect("open state");
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).expect("read state");
        if n == 0 {
            break;
        }
        reader.feed(&buf[..n], out).expect("parse");
    }
    reader.finish_with_elements(out).expect("parse")
}
