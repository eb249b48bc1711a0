//! `infra/`: the Terraform that deploys the watcher, parsed with `hcl-rs` and checked against
//! the code it deploys.
//!
//! * every crate in `functions/` has exactly one `aws_lambda_function`, one `aws_iam_role` and
//!   one `aws_cloudwatch_log_group`, wired together (`provided.al2023`, arm64, its zip);
//! * each function's `environment` sets every variable `Function::required` lists, and the
//!   rendered environment passes the functions' own cold-start validation (`Env::from_vars`);
//! * `DRIFTWATCH_POLICY`, rendered from `infra/examples/stmarys.tfvars`, is the policy of
//!   `events/policy.toml`;
//! * no IAM statement (jsonencode'd documents, `aws_iam_policy_document`) has `Action = "*"`,
//!   and `Resource = "*"` only for actions AWS cannot scope;
//! * on moto's EventBridge, every rule pattern (rendered from `infra/` with the example
//!   variables) delivers each EventBridge-shaped `events/<function>/` payload to that
//!   function's rules exactly once and to no other function's. DynamoDB Streams batches and
//!   S3 notifications (`{"Records": …}`: lock-watcher's stream and `.tflock` notifications,
//!   CloudTrail log documents) are not EventBridge events and are skipped; CloudTrail read-only
//!   calls must be delivered nowhere (the rules select write calls); scheduled events must be
//!   delivered nowhere (sweeper and reporter run on schedules, checked separately). Moto's
//!   TestEventPattern is not implemented, so this goes through PutRule/PutTargets/PutEvents to
//!   one SQS queue per rule.
//! * an Organization: `infra/modules/member` (loaded apart from infra/, as its own module)
//!   forwards, on moto, exactly the payloads a watcher rule of the same key delivers, to the
//!   watcher's bus only; with `organization_id` the bus accepts the Organization's accounts only.
//!
//! Expressions are evaluated with hcl-rs: `var` from the variables' defaults and the example
//! tfvars, `local` evaluated to a fixed point, resource attributes as placeholders
//! (`arn:aws:<service>:us-east-1:123456789012:<type>.<name>` for ARNs, `<type>.<name>.<attr>`
//! otherwise) and the few Terraform functions `infra/` uses.

use driftwatch_aws::iam::Target;
use driftwatch_lambda::env::{Env, Function};
use driftwatch_tests::Moto;
use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Block, Body, Expression, ObjectKey, Value};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn tf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // infra/modules/*: modules of their own (the member account's), loaded apart.
            let dir_name = p.file_name().unwrap().to_string_lossy();
            if !dir_name.starts_with('.') && dir_name != "modules" {
                tf_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "tf") {
            out.push(p);
        }
    }
}

/// Every top-level block of infra/, with the text of all files (for placeholders).
struct Infra {
    dir: PathBuf,
    blocks: Vec<Block>,
    text: String,
}

fn load() -> Infra {
    load_dir(&repo().join("infra"))
}

/// The Terraform of one module directory (its sub-modules apart).
fn load_dir(dir: &Path) -> Infra {
    let dir = dir.to_path_buf();
    let mut files = Vec::new();
    tf_files(&dir, &mut files);
    assert!(!files.is_empty(), "{} has no Terraform", dir.display());
    let mut blocks = Vec::new();
    let mut text = String::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let body: Body = hcl::parse(&src).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        blocks.extend(body.into_blocks());
        text.push_str(&src);
        text.push('\n');
    }
    Infra { dir, blocks, text }
}

impl Infra {
    fn of<'a>(&'a self, kind: &'a str, ty: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.identifier.as_str() == kind && b.labels.first().map(|l| l.as_str()) == Some(ty))
    }
    fn resources<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.of("resource", ty)
    }
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key.as_str() == key).map(|a| &a.expr)
}

fn block<'a>(body: &'a Body, id: &str) -> Option<&'a Block> {
    body.blocks().find(|b| b.identifier.as_str() == id)
}

fn name(b: &Block) -> &str {
    b.labels[1].as_str()
}

// ------------------------------------------------------------------ evaluation

fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

fn from_json(v: &serde_json::Value) -> Value {
    hcl::to_value(v).unwrap()
}

fn f_jsonencode(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(serde_json::to_string(&to_json(&args[0])).map_err(|e| e.to_string())?))
}
fn f_jsondecode(args: FuncArgs) -> Result<Value, String> {
    let s = args[0].as_str().ok_or("jsondecode: not a string")?;
    Ok(from_json(&serde_json::from_str(s).map_err(|e| e.to_string())?))
}
fn f_file(args: FuncArgs) -> Result<Value, String> {
    let p = args[0].as_str().ok_or("file: not a string")?;
    std::fs::read_to_string(p).map(Value::String).map_err(|e| format!("file({p}): {e}"))
}
fn f_join(args: FuncArgs) -> Result<Value, String> {
    let sep = args[0].as_str().ok_or("join: separator")?;
    let items = args[1].as_array().ok_or("join: list")?;
    let parts: Vec<String> = items.iter().map(|v| v.as_str().map(str::to_string).ok_or("join: not a string")).collect::<Result<_, _>>()?;
    Ok(Value::String(parts.join(sep)))
}
fn flatten_into(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flatten_into(x, out)),
        other => out.push(other.clone()),
    }
}
fn f_flatten(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    flatten_into(&args[0], &mut out);
    Ok(Value::Array(out))
}
fn f_distinct(args: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in args[0].as_array().ok_or("distinct: list")? {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}
fn f_merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for a in args.iter() {
        for (k, v) in a.as_object().ok_or("merge: not an object")? {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}
fn f_concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for a in args.iter() {
        out.extend(a.as_array().ok_or("concat: not a list")?.iter().cloned());
    }
    Ok(Value::Array(out))
}
fn f_length(args: FuncArgs) -> Result<Value, String> {
    let n = match &args[0] {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        _ => return Err("length: not a collection".into()),
    };
    Ok(Value::from(n as u64))
}
fn f_toset(args: FuncArgs) -> Result<Value, String> {
    f_distinct(args)
}

/// The evaluation context: variables, functions, resource placeholders, locals (as far as
/// they evaluate).
struct Eval {
    vars: hcl::Map<String, Value>,
    resources: hcl::Map<String, Value>,
    data: hcl::Map<String, Value>,
    locals: hcl::Map<String, Value>,
    /// Local modules (`source = "./modules/…"`): name → their outputs.
    modules: hcl::Map<String, Value>,
    dir: PathBuf,
}

fn placeholder(ty: &str, name: &str, attr: &str) -> Value {
    let service = ty.split('_').nth(1).unwrap_or("x");
    Value::String(match attr {
        "arn" => format!("arn:aws:{service}:{}:{}:{ty}.{name}", Moto::REGION, "123456789012"),
        "account_id" => "123456789012".into(),
        "partition" => "aws".into(),
        "name" if ty == "aws_region" => Moto::REGION.into(),
        _ => format!("{ty}.{name}.{attr}"),
    })
}

/// `<prefix>type.name.attr` references in the text, as nested objects of placeholders.
fn placeholders(text: &str, blocks: &[(String, String)], prefix: &str) -> hcl::Map<String, Value> {
    let mut out: hcl::Map<String, Value> = hcl::Map::new();
    for (ty, name) in blocks {
        let needle = format!("{prefix}{ty}.{name}.");
        let mut attrs = hcl::Map::new();
        for (i, _) in text.match_indices(&needle) {
            let before = text[..i].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let rest = &text[i + needle.len()..];
            let attr: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !attr.is_empty() {
                attrs.insert(attr.clone(), placeholder(ty, name, &attr));
            }
        }
        // `type.name["key"].attr` of a for_each resource: the key's own placeholders.
        let keyed = format!("{prefix}{ty}.{name}[\"");
        for (i, _) in text.match_indices(&keyed) {
            let rest = &text[i + keyed.len()..];
            let Some((key, after)) = rest.split_once("\"]") else { continue };
            let Some(after) = after.strip_prefix('.') else { continue };
            let attr: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if key.contains(['"', '$']) || attr.is_empty() {
                continue;
            }
            let of_key = attrs.entry(key.to_string()).or_insert_with(|| Value::Object(hcl::Map::new()));
            if let Value::Object(m) = of_key {
                m.insert(attr.clone(), placeholder(ty, &format!("{name}.{key}"), &attr));
            }
        }
        let entry = out.entry(ty.clone()).or_insert_with(|| Value::Object(hcl::Map::new()));
        if let Value::Object(m) = entry {
            m.insert(name.clone(), Value::Object(attrs));
        }
    }
    out
}

/// The variables of infra/examples/stmarys.tfvars.
fn example_vars() -> hcl::Map<String, Value> {
    let tfvars: Body = hcl::parse(&std::fs::read_to_string(repo().join("infra/examples/stmarys.tfvars")).unwrap()).unwrap();
    tfvars.attributes().map(|a| (a.key.as_str().to_string(), a.expr.evaluate(&Context::new()).unwrap())).collect()
}

impl Eval {
    /// infra/ with the variables' defaults, then the example tfvars.
    fn new(infra: &Infra) -> Eval {
        Eval::with_vars(infra, example_vars())
    }

    /// A module with the variables' defaults, then `set`.
    fn with_vars(infra: &Infra, set: hcl::Map<String, Value>) -> Eval {
        let mut vars = hcl::Map::new();
        for b in infra.blocks.iter().filter(|b| b.identifier.as_str() == "variable") {
            if let Some(d) = attr(&b.body, "default") {
                vars.insert(b.labels[0].as_str().to_string(), d.evaluate(&Context::new()).unwrap());
            }
        }
        vars.extend(set);
        let labels = |kind: &str| -> Vec<(String, String)> {
            infra
                .blocks
                .iter()
                .filter(|b| b.identifier.as_str() == kind && b.labels.len() == 2)
                .map(|b| (b.labels[0].as_str().to_string(), b.labels[1].as_str().to_string()))
                .collect()
        };
        let resources = placeholders(&infra.text, &labels("resource"), "");
        let data = placeholders(&infra.text, &labels("data"), "data.");
        let mut e = Eval { vars, resources, data, locals: hcl::Map::new(), modules: hcl::Map::new(), dir: infra.dir.clone() };
        // Locals and local modules to a fixed point: those that reference what has no
        // placeholder stay out.
        let all: Vec<(String, Expression)> = infra
            .blocks
            .iter()
            .filter(|b| b.identifier.as_str() == "locals")
            .flat_map(|b| b.body.attributes().map(|a| (a.key.as_str().to_string(), a.expr.clone())))
            .collect();
        loop {
            let mut progress = false;
            for (k, expr) in &all {
                if e.locals.contains_key(k) {
                    continue;
                }
                if let Ok(v) = e.eval(expr, &[]) {
                    e.locals.insert(k.clone(), v);
                    progress = true;
                }
            }
            for m in infra.blocks.iter().filter(|b| b.identifier.as_str() == "module") {
                let module = m.labels[0].as_str();
                if e.modules.contains_key(module) {
                    continue;
                }
                if let Some(outputs) = e.module_outputs(m) {
                    e.modules.insert(module.to_string(), outputs);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        e
    }

    /// The outputs of a local module block, evaluated with its arguments (None while an
    /// argument does not evaluate yet).
    fn module_outputs(&self, m: &Block) -> Option<Value> {
        let mut args = hcl::Map::new();
        let mut source = None;
        for a in m.body.attributes() {
            match a.key.as_str() {
                "source" => source = Some(self.string(&a.expr)),
                "providers" | "depends_on" => {}
                key => {
                    args.insert(key.to_string(), self.eval(&a.expr, &[]).ok()?);
                }
            }
        }
        let source = source.expect("module source");
        assert!(source.starts_with("./") || source.starts_with("../"), "module {source}: only local modules are evaluated");
        let child = load_dir(&self.dir.join(source));
        let ev = Eval::with_vars(&child, args);
        let mut outputs = hcl::Map::new();
        for o in child.blocks.iter().filter(|b| b.identifier.as_str() == "output") {
            let value = ev
                .eval(attr(&o.body, "value").expect("output value"), &[])
                .unwrap_or_else(|err| panic!("output {}: {err}", o.labels[0].as_str()));
            outputs.insert(o.labels[0].as_str().to_string(), value);
        }
        Some(Value::Object(outputs))
    }

    fn eval(&self, expr: &Expression, extra: &[(&str, Value)]) -> Result<Value, String> {
        let mut ctx = Context::new();
        let any = |f| FuncDef::builder().variadic_param(ParamType::Any).build(f);
        ctx.declare_func("jsonencode", any(f_jsonencode));
        ctx.declare_func("jsondecode", any(f_jsondecode));
        ctx.declare_func("file", any(f_file));
        ctx.declare_func("join", any(f_join));
        ctx.declare_func("flatten", any(f_flatten));
        ctx.declare_func("distinct", any(f_distinct));
        ctx.declare_func("merge", any(f_merge));
        ctx.declare_func("concat", any(f_concat));
        ctx.declare_func("length", any(f_length));
        ctx.declare_func("toset", any(f_toset));
        ctx.declare_var("var", Value::Object(self.vars.clone()));
        ctx.declare_var("local", Value::Object(self.locals.clone()));
        ctx.declare_var("data", Value::Object(self.data.clone()));
        ctx.declare_var("module", Value::Object(self.modules.clone()));
        let dir = self.dir.to_string_lossy().to_string();
        ctx.declare_var("path", json_obj(json!({"module": dir, "root": dir})));
        for (k, v) in &self.resources {
            ctx.declare_var(k.clone(), v.clone());
        }
        for (k, v) in extra {
            ctx.declare_var(k.to_string(), v.clone());
        }
        expr.evaluate(&ctx).map_err(|e| e.to_string())
    }

    fn string(&self, expr: &Expression) -> String {
        match self.eval(expr, &[]) {
            Ok(Value::String(s)) => s,
            other => panic!("expected a string from {expr:?}: {other:?}"),
        }
    }

    fn local(&self, name: &str) -> serde_json::Value {
        to_json(self.locals.get(name).unwrap_or_else(|| panic!("local.{name} does not evaluate with the example variables")))
    }
}

fn json_obj(v: serde_json::Value) -> Value {
    from_json(&v)
}

fn function_dirs() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    out.sort();
    assert_eq!(out.len(), 6, "functions/: {out:?}");
    out
}

// ------------------------------------------------------------------ (a) one of each

#[test]
fn every_function_has_one_lambda_one_role_one_log_group() {
    let infra = load();
    let ev = Eval::new(&infra);
    let prefix = ev.vars["name_prefix"].as_str().unwrap().to_string();
    let lambdas: Vec<&Block> = infra.resources("aws_lambda_function").collect();
    assert_eq!(lambdas.len(), function_dirs().len(), "one aws_lambda_function per functions/ crate");
    for f in function_dirs() {
        let full = format!("{prefix}-{f}");
        let mine = |ty: &'static str, key: &str, want: &str| -> Vec<&Block> {
            infra.resources(ty).filter(|b| attr(&b.body, key).map(|e| ev.string(e)) == Some(want.to_string())).collect::<Vec<_>>()
        };
        let lambda = mine("aws_lambda_function", "function_name", &full);
        let role = mine("aws_iam_role", "name", &full);
        let logs = mine("aws_cloudwatch_log_group", "name", &format!("/aws/lambda/{full}"));
        assert_eq!((lambda.len(), role.len(), logs.len()), (1, 1, 1), "{f}: lambdas, roles, log groups");
        let (lambda, role, logs) = (lambda[0], role[0], logs[0]);
        let b = &lambda.body;
        assert_eq!(
            ev.string(attr(b, "role").unwrap()),
            placeholder("aws_iam_role", name(role), "arn").as_str().unwrap(),
            "{f}: its own role"
        );
        let lc = block(b, "logging_config").unwrap_or_else(|| panic!("{f}: logging_config"));
        assert_eq!(
            ev.string(attr(&lc.body, "log_group").unwrap()),
            format!("aws_cloudwatch_log_group.{}.name", name(logs)),
            "{f}: its own log group"
        );
        assert_eq!(ev.string(attr(b, "runtime").unwrap()), "provided.al2023", "{f}");
        assert_eq!(to_json(&ev.eval(attr(b, "architectures").unwrap(), &[]).unwrap()), json!(["arm64"]), "{f}");
        assert!(ev.string(attr(b, "filename").unwrap()).ends_with(&format!("target/lambda/{f}/bootstrap.zip")), "{f}: zip");
        let reserved = to_json(&ev.eval(attr(b, "reserved_concurrent_executions").unwrap(), &[]).unwrap());
        if f == "sweeper" {
            assert_eq!(reserved, json!(1), "the sweeper runs alone");
        }
        assert!(attr(&logs.body, "retention_in_days").is_some() && attr(&logs.body, "kms_key_id").is_some(), "{f}: log retention and KMS");
        // The role is assumed by Lambda and used by no other function (the sweeper's is named
        // once more, by the signing key's policy: only it may sign).
        let uses = infra.text.matches(&format!("aws_iam_role.{}.arn", name(role))).count();
        assert_eq!(uses, if f == "sweeper" { 2 } else { 1 }, "{f}: role used once");
        if f == "sweeper" {
            let key = infra.resources("aws_kms_key").find(|k| name(k) == "signing").expect("the signing key");
            let policy = format!("{:?}", attr(&key.body, "policy").unwrap());
            assert!(
                policy.contains("Identifier(aws_iam_role)")
                    && policy.contains("GetAttr(Identifier(sweeper))")
                    && policy.contains("\"kms:Sign\""),
                "only the sweeper signs: {policy}"
            );
            assert!(!policy.contains("\"kms:*\""), "nobody else may sign");
        }
    }
}

// ------------------------------------------------------------------ (b) environment

fn environment(infra: &Infra, ev: &Eval, f: &str) -> BTreeMap<String, String> {
    let prefix = ev.vars["name_prefix"].as_str().unwrap().to_string();
    let lambda = infra
        .resources("aws_lambda_function")
        .find(|b| ev.string(attr(&b.body, "function_name").unwrap()) == format!("{prefix}-{f}"))
        .unwrap();
    let env = block(&lambda.body, "environment").unwrap_or_else(|| panic!("{f}: no environment block"));
    let vars = ev.eval(attr(&env.body, "variables").unwrap(), &[]).unwrap_or_else(|e| panic!("{f}: environment: {e}"));
    to_json(&vars)
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect()
}

#[test]
fn every_required_variable_is_set_and_the_functions_would_start() {
    let infra = load();
    let ev = Eval::new(&infra);
    for f in function_dirs() {
        let function = Function::from_name(&f).unwrap_or_else(|| panic!("functions/{f} is not a Function"));
        let vars = environment(&infra, &ev, &f);
        for v in function.required() {
            assert!(vars.get(*v).is_some_and(|x| !x.trim().is_empty()), "{f}: {v} is not set in infra/");
        }
        assert!(
            !vars.contains_key(driftwatch_lambda::env::NOW),
            "{f}: infra/ pins the clock ({}); that is for tests only",
            driftwatch_lambda::env::NOW
        );
        let known: BTreeSet<&str> = function.required().iter().chain(function.optional()).copied().collect();
        for k in vars.keys() {
            assert!(known.contains(k.as_str()), "{f}: {k} is set but the function does not read it");
        }
        if let Err(e) = Env::from_vars(function, |k| vars.get(k).cloned()) {
            panic!("{f}: the rendered environment fails the cold start: {e}");
        }
    }
}

/// The evidence bucket's policy denies every `PutObject` under the evidence prefix that does
/// not carry `If-None-Match`: an overwrite of a record or a digest (a new version, which Object
/// Lock does not prevent) is refused by S3 itself.
#[test]
fn the_evidence_bucket_denies_writes_without_if_none_match() {
    let infra = load();
    let ev = Eval::new(&infra);
    let policy = infra.resources("aws_s3_bucket_policy").find(|b| name(b) == "evidence").expect("aws_s3_bucket_policy.evidence");
    let text = ev.string(attr(&policy.body, "policy").expect("policy"));
    let policy: serde_json::Value = serde_json::from_str(&text).expect("policy JSON");
    let statements = policy["Statement"].as_array().expect("statements");
    let evidence_prefix = ev.local("evidence_prefix");
    let s = statements
        .iter()
        .find(|s| s["Sid"] == "EvidenceWritesAreConditional")
        .unwrap_or_else(|| panic!("no EvidenceWritesAreConditional statement: {policy}"));
    assert_eq!(s["Effect"], "Deny", "{s}");
    assert_eq!(s["Principal"], json!({"AWS": "*"}), "{s}");
    assert_eq!(as_list(&s["Action"]), ["s3:PutObject"], "{s}");
    let resources = as_list(&s["Resource"]);
    assert_eq!(resources.len(), 1, "{s}");
    assert!(
        resources[0].contains("aws_s3_bucket.evidence") && resources[0].ends_with(&format!("/{}/*", evidence_prefix.as_str().unwrap())),
        "{s}"
    );
    assert_eq!(s["Condition"], json!({"Null": {"s3:if-none-match": "true"}}), "{s}");
}

#[test]
fn the_rendered_policy_is_the_events_policy() {
    use driftwatch_core::policy::Policy;
    let infra = load();
    let ev = Eval::new(&infra);
    let rendered = ev.local("policy_toml");
    let rendered = Policy::from_toml(rendered.as_str().unwrap()).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
    let expected = Policy::from_toml(&std::fs::read_to_string(repo().join("events/policy.toml")).unwrap()).unwrap();
    assert_eq!(rendered.regulated_tag, expected.regulated_tag);
    assert_eq!(rendered.pipeline, expected.pipeline);
    assert_eq!(rendered.state.buckets, expected.state.buckets);
    assert_eq!(rendered.state.lock_tables, expected.state.lock_tables);
    assert_eq!(rendered.locks, expected.locks);
    assert_eq!(rendered.exceptions.max_days, 90);
    assert_eq!(rendered.watcher.topics, expected.watcher.topics);
    assert_eq!(rendered.controls, expected.controls);
    // The heartbeat (issue 13 item 4): the sweeper tags this topic; both watchers must see it.
    // (events/ runs without it: its cases are single calls, not a pipeline over time.)
    assert_eq!(rendered.watcher.heartbeat_topic, "driftwatch-heartbeat");
    assert_eq!(rendered.watcher.observers(), ["trail-watcher", "config-watcher"]);
    assert_eq!(rendered.watcher.silent_after(), chrono::Duration::minutes(45));
    for key in ["prod/network.tfstate", "env:/staging/network.tfstate"] {
        assert!(rendered.is_state_object("stmarys-ehr-tfstate", key), "{key}");
    }
    assert!(!rendered.is_state_object("stmarys-ehr-tfstate", "prod/app.tfstate.tflock"));
    // The Organization of the example: its regions, units and accounts, unset settings left out.
    assert_eq!(rendered.organization.regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(rendered.units["Workloads/Prod"].pipeline_only, Some(true));
    assert_eq!(rendered.units["Sandbox"].regulated_tag.as_deref(), Some("none"));
    let imaging = &rendered.accounts["444455556666"];
    assert_eq!(
        (imaging.name.as_deref(), imaging.ou.as_deref(), imaging.regions.as_ref()),
        (Some("ehr-imaging"), Some("Workloads/Prod"), None)
    );
    assert_eq!(imaging.pipeline_principals.as_deref(), Some(&["arn:aws:iam::444455556666:role/terraform-ci".to_string()][..]));
    assert_eq!(rendered.accounts["777788889999"].regions.as_deref(), Some(&["us-east-1".to_string()][..]));
    assert!(rendered.for_account(Some("123456789012")).pipeline.only, "the unit's pipeline_only");
}

// ------------------------------------------------------------------ (c) IAM

/// Actions AWS has no resource-level permissions for.
const UNSCOPABLE: [&str; 4] =
    ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "config:BatchGetResourceConfig", "config:SelectResourceConfig"];

fn key_name(k: &ObjectKey) -> Option<String> {
    match k {
        ObjectKey::Identifier(i) => Some(i.as_str().to_string()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn strings(e: &Expression) -> Vec<String> {
    match e {
        Expression::String(s) => vec![s.clone()],
        Expression::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Walk every expression; `found` gets (where, problem).
fn walk(e: &Expression, at: &str, key_policy: bool, found: &mut Vec<String>, statements: &mut usize) {
    match e {
        Expression::Object(o) => {
            let get = |name: &str| o.iter().find(|(k, _)| key_name(k).as_deref() == Some(name)).map(|(_, v)| v);
            if let Some(action) = get("Action").or_else(|| get("NotAction")) {
                *statements += 1;
                let actions = strings(action);
                if actions.iter().any(|a| a == "*" || a == "*:*") {
                    found.push(format!("{at}: Action \"*\""));
                }
                let resources = get("Resource").map(strings).unwrap_or_default();
                let effect = get("Effect").map(strings).unwrap_or_default();
                if resources.iter().any(|r| r == "*") && effect == ["Allow"] && !key_policy {
                    let open: Vec<&String> = actions.iter().filter(|a| !UNSCOPABLE.contains(&a.as_str())).collect();
                    if !open.is_empty() || actions.is_empty() {
                        found.push(format!("{at}: Resource \"*\" for scopable actions {open:?}"));
                    }
                }
            }
            for (k, v) in o.iter() {
                if let ObjectKey::Expression(k) = k {
                    walk(k, at, key_policy, found, statements);
                }
                walk(v, at, key_policy, found, statements);
            }
        }
        Expression::Array(a) => a.iter().for_each(|x| walk(x, at, key_policy, found, statements)),
        Expression::FuncCall(f) => f.args.iter().for_each(|x| walk(x, at, key_policy, found, statements)),
        Expression::Parenthesis(x) => walk(x, at, key_policy, found, statements),
        Expression::Conditional(c) => {
            walk(&c.true_expr, at, key_policy, found, statements);
            walk(&c.false_expr, at, key_policy, found, statements);
        }
        Expression::ForExpr(f) => {
            walk(&f.value_expr, at, key_policy, found, statements);
            if let Some(k) = &f.key_expr {
                walk(k, at, key_policy, found, statements);
            }
        }
        _ => {}
    }
}

fn walk_body(body: &Body, at: &str, key_policy: bool, found: &mut Vec<String>, statements: &mut usize) {
    for a in body.attributes() {
        walk(&a.expr, &format!("{at}.{}", a.key.as_str()), key_policy, found, statements);
    }
    for b in body.blocks() {
        walk_body(&b.body, &format!("{at}.{}", b.identifier.as_str()), key_policy, found, statements);
    }
}

#[test]
fn no_iam_statement_allows_every_action() {
    let infra = load();
    let mut found = Vec::new();
    let mut statements = 0;
    for b in &infra.blocks {
        let at = format!("{} {}", b.identifier.as_str(), b.labels.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("."));
        // A key policy's Resource "*" is the key itself.
        let key_policy = b.labels.first().is_some_and(|l| l.as_str() == "aws_kms_key");
        walk_body(&b.body, &at, key_policy, &mut found, &mut statements);
        if b.identifier.as_str() == "data" && b.labels[0].as_str() == "aws_iam_policy_document" {
            for s in b.body.blocks().filter(|s| s.identifier.as_str() == "statement") {
                statements += 1;
                let actions = attr(&s.body, "actions").map(strings).unwrap_or_default();
                if actions.iter().any(|a| a == "*" || a == "*:*") {
                    found.push(format!("{at}: actions \"*\""));
                }
                let resources = attr(&s.body, "resources").map(strings).unwrap_or_default();
                if resources.iter().any(|r| r == "*") && actions.iter().any(|a| !UNSCOPABLE.contains(&a.as_str())) {
                    found.push(format!("{at}: resources \"*\" for scopable actions"));
                }
            }
        }
    }
    assert!(statements > 20, "only {statements} IAM statements found: is the walk broken?");
    assert!(found.is_empty(), "{found:#?}");
}

// ------------------------------------------------------------------ lock stream, catalog

#[test]
fn the_lock_stream_reports_partial_failures_bisects_and_has_a_dlq() {
    let infra = load();
    let esm: Vec<&Block> = infra.resources("aws_lambda_event_source_mapping").filter(|b| name(b) == "lock_stream").collect();
    assert_eq!(esm.len(), 1);
    let b = &esm[0].body;
    assert_eq!(strings(attr(b, "function_response_types").unwrap()), ["ReportBatchItemFailures"]);
    assert!(matches!(attr(b, "bisect_batch_on_function_error"), Some(Expression::Bool(true))));
    let dc = block(b, "destination_config").expect("destination_config");
    assert!(block(&dc.body, "on_failure").is_some_and(|o| attr(&o.body, "destination_arn").is_some()));
    let text = format!("{:?}", attr(b, "function_name").unwrap());
    assert!(text.contains("lock_watcher"), "{text}");
}

/// `driftwatch backfill`'s queue reaches the trail watcher only: per-message failures, a
/// bounded concurrency, five receives then its own dead-letter queue (alarmed like the others),
/// a visibility timeout of six times the function's, the watcher's key.
#[test]
fn the_backfill_queue_feeds_the_trail_watcher_with_bounded_concurrency_and_a_dlq() {
    let infra = load();
    let esm = infra.resources("aws_lambda_event_source_mapping").find(|b| name(b) == "backfill").expect("the backfill mapping");
    let b = &esm.body;
    assert!(format!("{:?}", attr(b, "function_name").unwrap()).contains("trail_watcher"));
    assert!(format!("{:?}", attr(b, "event_source_arn").unwrap()).contains("aws_sqs_queue"));
    assert_eq!(strings(attr(b, "function_response_types").unwrap()), ["ReportBatchItemFailures"]);
    let scaling = block(b, "scaling_config").expect("scaling_config");
    assert!(format!("{:?}", attr(&scaling.body, "maximum_concurrency").unwrap()).contains("backfill_concurrency"));
    let queue = infra.resources("aws_sqs_queue").find(|q| name(q) == "backfill").expect("the backfill queue");
    let q = &queue.body;
    assert!(format!("{:?}", attr(q, "kms_master_key_id").unwrap()).contains("aws_kms_key"));
    let visibility = format!("{:?}", attr(q, "visibility_timeout_seconds").unwrap());
    assert!(visibility.contains('6') && visibility.contains("trail_watcher") && visibility.contains("timeout"), "{visibility}");
    let redrive = format!("{:?}", attr(q, "redrive_policy").unwrap());
    assert!(redrive.contains("dlq") && redrive.contains("backfill") && redrive.contains("maxReceiveCount"), "{redrive}");
    let ev = Eval::new(&infra);
    assert!(ev.local("dlqs").get("backfill").is_some(), "the backfill DLQ is one of the alarmed dead-letter queues");
}

/// Issue 13 item 4: the calls that blind the watcher reach a person on a path through no
/// function and none of the functions' rules: guard rules straight to the operations topic
/// (which lets them publish). On moto's EventBridge: disabling one of the watcher's rules is
/// delivered by the guard; the same call on another rule, and a read, are not.
#[test]
fn the_guard_rules_go_straight_to_the_operations_topic() {
    let infra = load();
    let ev = Eval::new(&infra);
    let guard = ev.local("guard_rules");
    let guard = guard.as_object().unwrap();
    assert!(guard.len() >= 7, "{guard:?}");
    let rule = infra.resources("aws_cloudwatch_event_rule").find(|b| name(b) == "guard").expect("the guard rules");
    assert!(format!("{:?}", attr(&rule.body, "for_each").unwrap()).contains("guard_rules"));
    let target = infra.resources("aws_cloudwatch_event_target").find(|b| name(b) == "guard").expect("their targets");
    assert!(format!("{:?}", attr(&target.body, "arn").unwrap()).contains("operations"), "to the operations topic, not a function");
    let policy = infra.resources("aws_sns_topic_policy").find(|b| name(b) == "operations").expect("operations topic policy");
    let policy = format!("{:?}", attr(&policy.body, "policy").unwrap());
    assert!(policy.contains("events.amazonaws.com") && policy.contains("GetAttr(Identifier(guard))"), "the guard may publish: {policy}");

    let Some(moto) = Moto::start("infra-guard") else { return };
    let pattern_expr = attr(&rule.body, "event_pattern").unwrap();
    let url = call(&moto, "AmazonSQS.CreateQueue", json!({"QueueName": "guard"}))["QueueUrl"].as_str().unwrap().to_string();
    for (key, value) in guard {
        let each = json_obj(json!({"key": key, "value": value}));
        let pattern = ev.eval(pattern_expr, &[("each", each)]).unwrap();
        let name = format!("driftwatch-{key}");
        call(&moto, "AWSEvents.PutRule", json!({"Name": name, "EventPattern": pattern.as_str().unwrap(), "State": "ENABLED"}));
        let queue_arn = format!("arn:aws:sqs:{}:123456789012:guard", Moto::REGION);
        call(&moto, "AWSEvents.PutTargets", json!({"Rule": name, "Targets": [{"Id": "q", "Arn": queue_arn}]}));
    }
    let disabled: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("events/trail-watcher/watcher-tampered-rule-disabled/event.json")).unwrap(),
    )
    .unwrap();
    let mut elsewhere = disabled.clone();
    elsewhere["detail"]["requestParameters"]["name"] = json!("nightly-backup");
    let mut function = disabled.clone();
    function["source"] = json!("aws.lambda");
    function["detail"]["eventSource"] = json!("lambda.amazonaws.com");
    function["detail"]["eventName"] = json!("PutFunctionConcurrency20171031");
    function["detail"]["requestParameters"] = json!({"functionName": "driftwatch-trail-watcher", "reservedConcurrentExecutions": 0});
    let mut unsubscribe = disabled.clone();
    unsubscribe["source"] = json!("aws.sns");
    unsubscribe["detail"]["eventSource"] = json!("sns.amazonaws.com");
    unsubscribe["detail"]["eventName"] = json!("Unsubscribe");
    unsubscribe["detail"]["requestParameters"] =
        json!({"subscriptionArn": "arn:aws:sns:us-east-1:123456789012:driftwatch-alerts:7d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6"});
    let mut other_topic = unsubscribe.clone();
    other_topic["detail"]["requestParameters"]["subscriptionArn"] = json!("arn:aws:sns:us-east-1:123456789012:billing:1a2b");
    let key_id = guard["guard-keys"]["pattern"]["detail"]["requestParameters"]["keyId"][0].clone();
    let mut disable_key = disabled.clone();
    disable_key["source"] = json!("aws.kms");
    disable_key["detail"]["eventSource"] = json!("kms.amazonaws.com");
    disable_key["detail"]["eventName"] = json!("DisableKey");
    disable_key["detail"]["requestParameters"] = json!({"keyId": key_id});
    let mut other_key = disable_key.clone();
    other_key["detail"]["requestParameters"]["keyId"] = json!("0000aaaa-12ab-34cd-56ef-1234567890ab");
    let entries: Vec<serde_json::Value> = [&disabled, &elsewhere, &function, &unsubscribe, &other_topic, &disable_key, &other_key]
        .iter()
        .map(|e| json!({"Source": e["source"], "DetailType": e["detail-type"], "Detail": e["detail"].to_string(), "Resources": []}))
        .collect();
    let out = call(&moto, "AWSEvents.PutEvents", json!({"Entries": entries}));
    assert_eq!(out["FailedEntryCount"].as_u64().unwrap_or(0), 0, "{out}");
    let mut got = Vec::new();
    loop {
        let out = call(&moto, "AmazonSQS.ReceiveMessage", json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 300}));
        let Some(messages) = out.get("Messages").and_then(|m| m.as_array()).filter(|m| !m.is_empty()) else { break };
        for m in messages {
            let event: serde_json::Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
            got.push(event["detail"]["eventName"].as_str().unwrap_or_default().to_string());
        }
    }
    got.sort();
    assert_eq!(
        got,
        ["DisableKey", "DisableRule", "PutFunctionConcurrency20171031", "Unsubscribe"],
        "the guard delivers the watcher's own rule, function, subscription and key only"
    );
}

/// Issue 13 item 4: IAM's CloudTrail events reach EventBridge in us-east-1 only; deployed
/// elsewhere, a rule there forwards them (IAM, STS, Organizations) to the default bus of the
/// watcher's region, where the trail-watcher's IAM rule delivers them.
#[test]
fn global_services_events_are_forwarded_from_us_east_1() {
    let infra = load();
    let rule = infra.resources("aws_cloudwatch_event_rule").find(|b| name(b) == "forward_global").expect("the forwarding rule");
    let text = |b: &Block, a: &str| format!("{:?}", attr(&b.body, a).unwrap_or_else(|| panic!("{a}")));
    assert!(text(rule, "provider").contains("us_east_1"), "the rule lives in us-east-1");
    assert!(text(rule, "count").contains("forward_global"), "only when the watcher is elsewhere");
    assert!(text(rule, "event_pattern").contains("aws.iam"));
    let target = infra.resources("aws_cloudwatch_event_target").find(|b| name(b) == "forward_global").expect("its target");
    assert!(text(target, "provider").contains("us_east_1"));
    assert!(text(target, "arn").contains("event-bus/default") && text(target, "arn").contains("local.region"), "{}", text(target, "arn"));
    assert!(text(target, "role_arn").contains("forward_global"));
    let ev = Eval::new(&infra);
    let rules = ev.local("event_rules");
    assert!(rules.as_object().unwrap().contains_key("trail-iam"), "the trail-watcher has an IAM rule to receive them");
}

/// Issue 13 item 4: a heartbeat — each watcher invoked every 15 minutes by a schedule of its
/// own with `{"driftwatch": "heartbeat"}`, the sweeper by its schedule — and an alarm per
/// function on its invocations whose missing data is breaching: a watcher that stops running
/// (its schedule or target removed, the function broken, deleted or throttled to zero) alarms
/// instead of looking healthy (`watcher.silent`).
#[test]
fn a_silent_watcher_alarms() {
    let infra = load();
    let ev = Eval::new(&infra);
    let beats: BTreeSet<String> = ev.local("heartbeats").as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(beats, ["config-watcher", "lock-watcher", "state-watcher", "trail-watcher"].map(String::from).into_iter().collect());
    let target = infra.resources("aws_cloudwatch_event_target").find(|b| name(b) == "heartbeat").expect("heartbeat targets");
    assert!(format!("{:?}", attr(&target.body, "input").unwrap()).contains("heartbeat"));
    let rule = infra.resources("aws_cloudwatch_event_rule").find(|b| name(b) == "heartbeat").expect("heartbeat schedules");
    assert!(attr(&rule.body, "schedule_expression").is_some());
    let alarm = infra
        .resources("aws_cloudwatch_metric_alarm")
        .find(|a| format!("{:?}", attr(&a.body, "alarm_description")).contains("watcher.silent"))
        .expect("a watcher.silent alarm");
    let b = &alarm.body;
    assert_eq!(format!("{:?}", attr(b, "treat_missing_data").unwrap()), format!("{:?}", Expression::String("breaching".into())));
    assert_eq!(format!("{:?}", attr(b, "metric_name").unwrap()), format!("{:?}", Expression::String("Invocations".into())));
    let each = format!("{:?}", attr(b, "for_each").unwrap());
    assert!(each.contains("function_names") && each.contains("reporter"), "every function but the reporter: {each}");
}

#[test]
fn the_trail_rules_list_exactly_the_catalogs_write_calls() {
    // The API table's calls: cloudtrail.toml and the catalog rows' [resource.cloudtrail].
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in driftwatch_core::detect::cloudtrail_calls::ApiTable::builtin().rows() {
        want.entry(r.source.clone()).or_default().insert(r.name.clone());
    }
    // The control catalog's calls too (the root user's and console sign-ins have rules of
    // their own: trail-root, trail-signin).
    for row in driftwatch_core::detect::controls::Controls::builtin().rows() {
        for c in row.call.iter().filter(|c| !c.root && c.source != "signin.amazonaws.com") {
            want.entry(c.source.clone()).or_default().extend(c.names.iter().cloned());
        }
    }
    // EventBridge names CloudWatch's CloudTrail events aws.cloudwatch; every other by its endpoint.
    let eb = |source: &str| {
        let svc = source.trim_end_matches(".amazonaws.com");
        format!("aws.{}", if svc == "monitoring" { "cloudwatch" } else { svc })
    };
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("infra/patterns/cloudtrail-calls.json")).unwrap()).unwrap();
    let mut have: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (eb_source, calls) in file.as_object().unwrap() {
        let source = calls["eventSource"].as_str().unwrap();
        assert_eq!(eb_source, &eb(source));
        have.insert(source.to_string(), calls["eventNames"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect());
    }
    let expected: BTreeMap<String, serde_json::Value> = want
        .iter()
        .map(|(s, names)| {
            let svc = s.trim_end_matches(".amazonaws.com");
            (eb(s), json!({"name": svc, "eventSource": s, "eventNames": names}))
        })
        .collect();
    assert_eq!(
        have,
        want,
        "infra/patterns/cloudtrail-calls.json is out of date with the catalog; it should be:\n{}",
        serde_json::to_string_pretty(&expected).unwrap()
    );
}

// ------------------------------------------------------------------ (d) EventBridge on moto

/// One JSON-protocol call to moto (EventBridge, SQS).
fn call(moto: &Moto, target: &str, body: serde_json::Value) -> serde_json::Value {
    use std::io::{Read, Write};
    let (service, content_type) = if target.starts_with("AWSEvents") { ("events", "1.1") } else { ("sqs", "1.0") };
    let body = body.to_string();
    let host = moto.endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("connect to moto");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-{content_type}\r\nX-Amz-Target: {target}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={}/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        Moto::ACCESS_KEY,
        Moto::REGION,
        body.len()
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, payload) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{target}: {head}\n{payload}");
    if payload.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(payload).unwrap_or_else(|e| panic!("{target}: {e}: {payload}"))
    }
}

/// Every EventBridge-shaped payload under events/<function>/: (function, file, event).
fn eventbridge_payloads() -> (Vec<(String, String, serde_json::Value)>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for f in function_dirs() {
        let dir = repo().join("events").join(&f);
        let mut files = Vec::new();
        for case in std::fs::read_dir(&dir).unwrap() {
            for file in std::fs::read_dir(case.unwrap().path()).unwrap() {
                files.push(file.unwrap().path());
            }
        }
        files.sort();
        for p in files {
            if p.extension().is_none_or(|e| e != "json") || p.file_name().unwrap() == "expected.json" {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            if v.get("detail-type").is_some() && v.get("source").is_some() {
                out.push((f.clone(), p.strip_prefix(repo()).unwrap().display().to_string(), v));
            } else {
                skipped += 1; // {"Records": …}: DynamoDB Streams, S3 notifications, CloudTrail logs
            }
        }
    }
    (out, skipped)
}

/// The rules of the for_each resource over `local.<rules>` that has an `event_pattern`: each
/// key's rendered pattern and its target's rendered ARN. The target is for_each over the same.
fn render_rules(infra: &Infra, ev: &Eval, rules: &str) -> BTreeMap<String, (String, String)> {
    let rule_res: Vec<&Block> = infra
        .resources("aws_cloudwatch_event_rule")
        .filter(|b| attr(&b.body, "event_pattern").is_some() && format!("{:?}", attr(&b.body, "for_each")).contains(rules))
        .collect();
    assert_eq!(rule_res.len(), 1, "pattern rules: one for_each resource over local.{rules}");
    let pattern_expr = attr(&rule_res[0].body, "event_pattern").unwrap();
    let target =
        infra.resources("aws_cloudwatch_event_target").find(|b| name(b) == name(rule_res[0])).expect("targets of the pattern rules");
    let target_arn = attr(&target.body, "arn").unwrap();
    for r in [rule_res[0], target] {
        assert_eq!(format!("{:?}", attr(&r.body, "for_each").unwrap()), format!("{:?}", attr(&rule_res[0].body, "for_each").unwrap()));
    }
    let mut out = BTreeMap::new();
    for (key, value) in ev.local(rules).as_object().unwrap() {
        let each = json_obj(json!({"key": key, "value": value}));
        let pattern = ev.eval(pattern_expr, &[("each", each.clone())]).unwrap();
        let arn = ev.eval(target_arn, &[("each", each)]).unwrap();
        let pattern = pattern.as_str().unwrap().to_string();
        assert!(pattern.len() <= 4096, "rule {key}: pattern of {} characters (EventBridge allows 4096)", pattern.len());
        out.insert(key.clone(), (pattern, arn.as_str().unwrap().to_string()));
    }
    out
}

/// The EventBridge payloads of events/ (see [`eventbridge_payloads`]), each event once: those
/// that are the same event for EventBridge (source, detail-type, detail, resources: a state version
/// written in one case and given in another) are one; they must be for one function (or for
/// two scheduled ones).
fn distinct_payloads(scheduled: &BTreeSet<String>) -> (Vec<(String, String, serde_json::Value)>, usize) {
    let (all, skipped) = eventbridge_payloads();
    let mut payloads: Vec<(String, String, serde_json::Value)> = Vec::new();
    for (f, file, e) in all {
        let same = |p: &serde_json::Value| {
            p["source"] == e["source"]
                && p["detail-type"] == e["detail-type"]
                && p["detail"] == e["detail"]
                && p["resources"] == e["resources"]
        };
        match payloads.iter().find(|(_, _, p)| same(p)) {
            Some((g, other, _)) => assert!(
                g == &f || (scheduled.contains(g) && scheduled.contains(&f)),
                "{file} and {other} are the same event for two functions"
            ),
            None => payloads.push((f, file, e)),
        }
    }
    (payloads, skipped)
}

/// On moto's EventBridge: each pattern as rule `<prefix>-<key>` targeting an SQS queue of its
/// own, then every payload put; what each payload (by index) was delivered to, by rule key.
fn deliveries(
    moto: &Moto,
    prefix: &str,
    rules: &BTreeMap<String, String>,
    payloads: &[(String, String, serde_json::Value)],
) -> BTreeMap<usize, Vec<String>> {
    let mut queue_urls = BTreeMap::new();
    for (key, pattern) in rules {
        let queue = format!("{prefix}-rule-{key}");
        let url = call(moto, "AmazonSQS.CreateQueue", json!({"QueueName": queue}))["QueueUrl"].as_str().unwrap().to_string();
        let rule = format!("{prefix}-{key}");
        call(moto, "AWSEvents.PutRule", json!({"Name": rule, "EventPattern": pattern, "State": "ENABLED"}));
        let queue_arn = format!("arn:aws:sqs:{}:123456789012:{queue}", Moto::REGION);
        call(moto, "AWSEvents.PutTargets", json!({"Rule": rule, "Targets": [{"Id": "q", "Arn": queue_arn}]}));
        queue_urls.insert(key.clone(), url);
    }
    for chunk in payloads.chunks(10) {
        let entries: Vec<serde_json::Value> = chunk
            .iter()
            .map(|(_, _, e)| {
                json!({"Source": e["source"], "DetailType": e["detail-type"], "Detail": e["detail"].to_string(),
                       "Resources": e.get("resources").cloned().unwrap_or(json!([]))})
            })
            .collect();
        let out = call(moto, "AWSEvents.PutEvents", json!({"Entries": entries}));
        assert_eq!(out["FailedEntryCount"].as_u64().unwrap_or(0), 0, "{out}");
    }
    // What each rule's queue got, by the payload it came from (identified by its detail and
    // resources).
    let mut got: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (key, url) in &queue_urls {
        loop {
            let out = call(moto, "AmazonSQS.ReceiveMessage", json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 300}));
            let Some(messages) = out.get("Messages").and_then(|m| m.as_array()).filter(|m| !m.is_empty()) else { break };
            for m in messages {
                let event: serde_json::Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
                let i = payloads
                    .iter()
                    .position(|(_, _, p)| {
                        p["detail"] == event["detail"]
                            && p["source"] == event["source"]
                            && p["detail-type"] == event["detail-type"]
                            && p.get("resources").cloned().unwrap_or(json!([])) == event["resources"]
                    })
                    .unwrap_or_else(|| panic!("rule {key} delivered an unknown event {event}"));
                got.entry(i).or_default().push(key.clone());
            }
        }
    }
    got
}

#[test]
fn every_rule_pattern_selects_exactly_its_functions_events_on_moto() {
    let infra = load();
    let ev = Eval::new(&infra);
    // The rules and targets are for_each over local.event_rules; the target is the function.
    // (The guard rules, over local.guard_rules to the operations topic, have their own test.)
    let functions = function_dirs();
    let prefix = ev.vars["name_prefix"].as_str().unwrap().to_string();
    let mut rule_function = BTreeMap::new();
    let mut rendered = BTreeMap::new();
    for (key, (pattern, arn)) in render_rules(&infra, &ev, "event_rules") {
        let f = functions
            .iter()
            .find(|f| arn.ends_with(&format!("aws_lambda_function.{}", f.replace('-', "_"))))
            .unwrap_or_else(|| panic!("rule {key} targets {arn}, not a function"));
        rule_function.insert(key.clone(), f.clone());
        rendered.insert(key, pattern);
    }
    // Scheduled functions: a schedule, no pattern.
    let schedules = ev.local("schedules");
    let scheduled: BTreeSet<String> = schedules.as_object().unwrap().keys().cloned().collect();
    assert_eq!(scheduled, BTreeSet::from(["reporter".to_string(), "sweeper".to_string()]));
    assert!(infra.resources("aws_cloudwatch_event_rule").any(|b| attr(&b.body, "schedule_expression").is_some()));

    let Some(moto) = Moto::start("infra-eventbridge") else { return };
    let (payloads, skipped) = distinct_payloads(&scheduled);
    assert!(payloads.len() > 25 && skipped > 5, "{} EventBridge payloads, {skipped} skipped", payloads.len());
    eprintln!("{} EventBridge payloads, {skipped} non-EventBridge payloads ({{\"Records\": …}}) skipped", payloads.len());
    let got = deliveries(&moto, &prefix, &rendered, &payloads);
    let mut problems = Vec::new();
    let mut delivered = 0;
    for (i, (f, file, e)) in payloads.iter().enumerate() {
        let rules_hit = got.get(&i).cloned().unwrap_or_default();
        let read_only = e["detail-type"] == "AWS API Call via CloudTrail" && e["detail"]["readOnly"] == json!(true);
        let expect_none = read_only || scheduled.contains(f);
        if expect_none {
            if !rules_hit.is_empty() {
                problems.push(format!("{file}: expected no delivery, got rules {rules_hit:?}"));
            }
            continue;
        }
        delivered += 1;
        let to: Vec<&String> = rules_hit.iter().map(|r| &rule_function[r]).collect();
        if to != [f] {
            problems.push(format!("{file} ({f}): delivered to rules {rules_hit:?} of functions {to:?}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(delivered > 20, "{delivered}");
    // Every pattern rule is used by some payload (none is dead).
    let used: BTreeSet<&String> = got.values().flatten().collect();
    for must in ["state-objects", "config-items", "trail-state-objects", "trail-lock-items", "trail-ec2", "trail-s3", "trail-kms"] {
        assert!(used.contains(&must.to_string()), "rule {must} matched no events/ payload");
    }
}

// ------------------------------------------------------------------ an Organization

/// The watcher's account and region as a member account's module is told them.
const WATCHER_ACCOUNT: &str = "111122223333";
const WATCHER_REGION: &str = "eu-west-1";

/// infra/modules/member with the watcher's account and region and the example state buckets.
fn member() -> (Infra, Eval) {
    let member = load_dir(&repo().join("infra/modules/member"));
    let mut set = hcl::Map::new();
    set.insert("watcher_account_id".to_string(), Value::String(WATCHER_ACCOUNT.into()));
    set.insert("watcher_region".to_string(), Value::String(WATCHER_REGION.into()));
    set.insert("state_buckets".to_string(), example_vars()["state_buckets"].clone());
    set.insert("state_read_role_external_id".to_string(), Value::String("driftwatch-test".into()));
    let ev = Eval::with_vars(&member, set);
    (member, ev)
}

/// Issue 16: a member account's rules send to the watcher's default bus, through a role that may
/// put events on that bus and nothing else; undeliverable events wait in the account's
/// dead-letter queue; the watcher's Config aggregator is authorised in the module's region.
#[test]
fn the_member_module_sends_to_the_watchers_bus_only() {
    let (member, ev) = member();
    let bus = format!("arn:aws:events:{WATCHER_REGION}:{WATCHER_ACCOUNT}:event-bus/default");
    let rules = render_rules(&member, &ev, "forward_rules");
    assert!(rules.len() > 50, "{} forwarding rules", rules.len());
    for (key, (_, arn)) in &rules {
        assert_eq!(arn, &bus, "rule {key}");
    }
    let target = member.resources("aws_cloudwatch_event_target").find(|b| name(b) == "forward").unwrap();
    let text = |b: &Block, a: &str| format!("{:?}", attr(&b.body, a).unwrap_or_else(|| panic!("{a}")));
    assert!(text(target, "role_arn").contains("aws_iam_role") && text(target, "role_arn").contains("forward"));
    let dead_letter = target.body.blocks().find(|b| b.identifier.as_str() == "dead_letter_config").expect("a dead-letter queue");
    assert!(format!("{:?}", dead_letter.body).contains("aws_sqs_queue"));

    let policy = member.resources("aws_iam_role_policy").find(|b| name(b) == "forward").expect("the role's policy");
    let policy: serde_json::Value = serde_json::from_str(&ev.string(attr(&policy.body, "policy").unwrap())).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy}");
    assert_eq!(as_list(&statements[0]["Action"]), ["events:PutEvents"], "{policy}");
    assert_eq!(as_list(&statements[0]["Resource"]), [bus.as_str()], "{policy}");
    let role = member.resources("aws_iam_role").find(|b| name(b) == "forward").unwrap();
    let trust: serde_json::Value = serde_json::from_str(&ev.string(attr(&role.body, "assume_role_policy").unwrap())).unwrap();
    assert_eq!(trust["Statement"][0]["Principal"], json!({"Service": "events.amazonaws.com"}), "{trust}");
    assert!(trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"].is_string(), "{trust}");

    let auth = member.resources("aws_config_aggregate_authorization").find(|b| name(b) == "watcher").expect("the aggregator authorisation");
    assert_eq!(ev.string(attr(&auth.body, "account_id").unwrap()), WATCHER_ACCOUNT);
    assert_eq!(ev.string(attr(&auth.body, "region").unwrap()), WATCHER_REGION);

    // The hourly heartbeat goes the same way, and is what the watcher's member-heartbeat rule
    // delivers (to the trail-watcher): its name is the suffix that rule matches.
    let beat = member.resources("aws_cloudwatch_event_rule").find(|b| name(b) == "heartbeat").expect("the heartbeat rule");
    assert_eq!(ev.string(attr(&beat.body, "schedule_expression").unwrap()), "rate(1 hour)");
    let beat_name = ev.string(attr(&beat.body, "name").unwrap());
    let beat_target = member.resources("aws_cloudwatch_event_target").find(|b| name(b) == "heartbeat").expect("its target");
    assert_eq!(ev.string(attr(&beat_target.body, "arn").unwrap()), bus);
    assert!(text(beat_target, "role_arn").contains("forward"));
    assert!(beat_target.body.blocks().any(|b| b.identifier.as_str() == "dead_letter_config"));
    let watcher = load();
    let central = Eval::new(&watcher).local("event_rules");
    let rule = &central["member-heartbeat"];
    assert_eq!(rule["function"], "trail-watcher", "{rule}");
    assert_eq!(rule["pattern"]["resources"][0]["suffix"], format!(":rule/{beat_name}"), "{rule}");
}

/// Issue 16: the role through which the watcher reads a member's state (its `state_roles`):
/// only the watcher's state-reading functions may assume it, with the external id, and it may
/// read the state buckets' objects, versions and listings, nothing else.
#[test]
fn a_members_state_is_read_through_a_role_only_the_watchers_readers_assume() {
    let (member, ev) = member();
    let role = member.resources("aws_iam_role").find(|b| name(b) == "state_read").expect("the state read role");
    let trust: serde_json::Value = serde_json::from_str(&ev.string(attr(&role.body, "assume_role_policy").unwrap())).unwrap();
    let s = &trust["Statement"][0];
    assert_eq!(s["Principal"], json!({"AWS": format!("arn:aws:iam::{WATCHER_ACCOUNT}:root")}), "{trust}");
    assert_eq!(s["Condition"]["StringEquals"]["sts:ExternalId"], "driftwatch-test", "{trust}");
    let readers: Vec<String> =
        ["state-watcher", "lock-watcher", "sweeper"].map(|f| format!("arn:aws:iam::{WATCHER_ACCOUNT}:role/driftwatch-{f}")).to_vec();
    assert_eq!(as_list(&s["Condition"]["ArnEquals"]["aws:PrincipalArn"]), readers, "{trust}");
    // The functions' roles are named so in infra/ (name_prefix driftwatch).
    let infra = load();
    for f in ["state_watcher", "lock_watcher", "sweeper"] {
        let r = infra.resources("aws_iam_role").find(|b| name(b) == f).unwrap();
        assert_eq!(Eval::new(&infra).string(attr(&r.body, "name").unwrap()), format!("driftwatch-{}", f.replace('_', "-")));
    }
    let policy = member.resources("aws_iam_role_policy").find(|b| name(b) == "state_read").expect("its policy");
    let policy: serde_json::Value = serde_json::from_str(&ev.string(attr(&policy.body, "policy").unwrap())).unwrap();
    let mut granted: Vec<(String, String)> = Vec::new();
    for st in policy["Statement"].as_array().unwrap() {
        for a in as_list(&st["Action"]) {
            for r in as_list(&st["Resource"]) {
                granted.push((a.to_string(), r.to_string()));
            }
        }
    }
    granted.sort();
    let b = example_vars()["state_buckets"].as_array().and_then(|a| a.first()).and_then(|v| v.as_str()).unwrap().to_string();
    let want = [
        ("s3:GetObject", format!("arn:aws:s3:::{b}/*")),
        ("s3:GetObjectVersion", format!("arn:aws:s3:::{b}/*")),
        ("s3:ListBucket", format!("arn:aws:s3:::{b}")),
        ("s3:ListBucketVersions", format!("arn:aws:s3:::{b}")),
    ];
    assert_eq!(granted, want.map(|(a, r)| (a.to_string(), r)).to_vec());
    // What the watcher's state reader calls needs no more than that (S3StateReader::READ, LIST).
    let needed: BTreeSet<&str> =
        driftwatch_aws::S3StateReader::READ.iter().chain(driftwatch_aws::S3StateReader::LIST).map(|a| a.iam).collect();
    assert_eq!(needed, granted.iter().map(|(a, _)| a.as_str()).collect::<BTreeSet<_>>());
}

/// Issue 16, on moto: rendered with the example state buckets, a member account's rules forward
/// each events/ payload that a watcher rule of the same key delivers, once; nothing the watcher
/// would not deliver (read-only calls, unknown calls) leaves the account. The watcher's rules
/// about its own resources (its tables' items, its subscriptions) have no member rule: those
/// resources live in the watcher's account. A member's state bucket forwards every object event:
/// the watcher's rule narrows them to the state keys.
#[test]
fn a_member_account_forwards_what_the_watchers_rules_deliver_on_moto() {
    let infra = load();
    let central = render_rules(&infra, &Eval::new(&infra), "event_rules");
    let (member, ev) = member();
    let forward = render_rules(&member, &ev, "forward_rules");
    let watcher_only: BTreeSet<&str> = central.keys().map(String::as_str).filter(|k| !forward.contains_key(*k)).collect();
    // The member's heartbeat is a schedule of its own (`heartbeat`), not a forwarded pattern.
    assert_eq!(watcher_only, BTreeSet::from(["member-heartbeat", "trail-exceptions-items", "trail-lock-items", "trail-watcher-self"]));
    for k in forward.keys() {
        assert!(central.contains_key(k), "member rule {k} has no watcher rule of the same key");
    }
    // The catalog's calls are the watcher's patterns to the letter.
    for (k, (pattern, _)) in &forward {
        if k != "state-objects" {
            assert_eq!(pattern, &central[k].0, "rule {k}");
        }
    }

    let Some(moto) = Moto::start("infra-member") else { return };
    let scheduled = BTreeSet::from(["reporter".to_string(), "sweeper".to_string()]);
    let (payloads, _) = distinct_payloads(&scheduled);
    let to_watcher = deliveries(&moto, "watcher", &central.iter().map(|(k, (p, _))| (k.clone(), p.clone())).collect(), &payloads);
    let forwarded = deliveries(&moto, "member", &forward.iter().map(|(k, (p, _))| (k.clone(), p.clone())).collect(), &payloads);
    let mut problems = Vec::new();
    let mut count = 0;
    for (i, (_, file, _)) in payloads.iter().enumerate() {
        let watcher: Vec<&String> = to_watcher.get(&i).into_iter().flatten().filter(|k| forward.contains_key(*k)).collect();
        let member: Vec<&String> = forwarded.get(&i).into_iter().flatten().collect();
        let state_object_outside_the_keys = watcher.is_empty() && member == ["state-objects"];
        if member != watcher && !state_object_outside_the_keys {
            problems.push(format!("{file}: the watcher delivers it by {watcher:?}, the member forwards it by {member:?}"));
        }
        count += usize::from(!member.is_empty());
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(count > 20, "{count} payloads forwarded");
    let used: BTreeSet<&String> = forwarded.values().flatten().collect();
    for must in ["state-objects", "config-items", "trail-state-objects", "trail-root", "trail-ec2", "trail-s3", "trail-iam"] {
        assert!(used.contains(&must.to_string()), "member rule {must} forwarded no events/ payload");
    }
}

/// Issue 16: with `organization_id` set, the watcher's default bus accepts `PutEvents` from the
/// Organization's accounts only (`aws:PrincipalOrgID`); without it, there is no bus policy (one
/// account, as before).
#[test]
fn the_watchers_bus_accepts_the_organizations_accounts_only() {
    let infra = load();
    let policy = infra.resources("aws_cloudwatch_event_bus_policy").find(|b| name(b) == "organization").expect("the bus policy");
    let count = attr(&policy.body, "count").expect("count");
    assert_eq!(Eval::new(&infra).eval(count, &[]).unwrap(), Value::from(0), "no policy without an Organization");
    let mut set = example_vars();
    set.insert("organization_id".to_string(), Value::String("o-a1b2c3d4e5".into()));
    let ev = Eval::with_vars(&infra, set);
    assert_eq!(ev.eval(count, &[]).unwrap(), Value::from(1));
    let doc: serde_json::Value = serde_json::from_str(&ev.string(attr(&policy.body, "policy").unwrap())).unwrap();
    let statements = doc["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{doc}");
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow", "{s}");
    assert_eq!(as_list(&s["Action"]), ["events:PutEvents"], "{s}");
    assert_eq!(s["Condition"], json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}), "{s}");
    assert!(as_list(&s["Resource"])[0].ends_with(":event-bus/default"), "{s}");
}

// ------------------------------------------------------------------ IAM from the code

/// What a rendered `Resource` of a role statement is, as a [`Target`] of the code's grants.
fn target_of(resource: &str, action: &str, ev: &Eval) -> Target {
    let state_buckets: Vec<String> = ev
        .vars
        .get("state_buckets")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|b| b.as_str().map(str::to_string))
        .collect();
    let config_bucket = ev.vars.get("config_delivery_bucket").and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let r = resource;
    match () {
        _ if r == "*" && action.starts_with("config:") => Target::Config,
        _ if r.starts_with("arn:aws:config:") && r.contains(":config-aggregator/") => Target::Config,
        _ if r == "*" => Target::Any,
        _ if r.contains("aws_dynamodb_table.findings") => Target::FindingsTable,
        _ if r.contains("aws_dynamodb_table.index") => Target::IndexTable,
        _ if r.contains("aws_dynamodb_table.exceptions") => Target::ExceptionsTable,
        _ if r.starts_with("arn:aws:dynamodb:") && r.contains(":table/") && r.contains("/stream/") => Target::LockStreams,
        _ if r.starts_with("arn:aws:dynamodb:") && r.contains(":table/") => Target::LockTables,
        _ if r.contains("aws_kms_key.main") => Target::WatcherKey,
        _ if action == "sts:AssumeRole" && r.starts_with("arn:aws:iam::") && r.contains(":role/") => Target::StateRoles,
        _ if r.contains("aws_kms_key.signing") => Target::SigningKmsKey,
        _ if r.starts_with("arn:aws:kms:") => Target::StateKeys,
        _ if r.contains("aws_sqs_queue.backfill") => Target::BackfillQueue,
        _ if r.contains("aws_sqs_queue.dlq") && r.contains("lock-stream") => Target::LockStreamDeadLetterQueue,
        _ if r.contains("aws_sqs_queue.dlq") => Target::DeadLetterQueue,
        _ if r.contains("aws_s3_bucket.evidence") && r.ends_with("/reports/*") => Target::Reports,
        _ if r.contains("aws_s3_bucket.evidence") && r.ends_with("/cloudtrail/*") => Target::TrailBucket,
        _ if r.contains("aws_s3_bucket.evidence") => Target::Evidence,
        _ if r.contains("aws_sns_topic.alerts") => Target::AlertsTopic,
        _ if r.contains("aws_sns_topic.notices") => Target::NoticesTopic,
        _ if r.contains("aws_sns_topic.heartbeat") => Target::HeartbeatTopic,
        _ if r.contains("aws_secretsmanager_secret.signing_key") => Target::SigningKey,
        _ if r.contains("aws_secretsmanager_secret.redaction_salt") => Target::RedactionSalt,
        _ if !config_bucket.is_empty() && r == format!("arn:aws:s3:::{config_bucket}/*") => Target::ConfigBucket,
        _ if state_buckets.iter().any(|b| r == format!("arn:aws:s3:::{b}/*.tflock")) => Target::LockFiles,
        _ if state_buckets.iter().any(|b| r == format!("arn:aws:s3:::{b}") || r == format!("arn:aws:s3:::{b}/*")) => Target::StateBuckets,
        _ => panic!("IAM resource {r:?} (for {action}) is none of the targets the code knows"),
    }
}

fn as_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The grants of a function's role as `infra/` renders it with the example variables.
fn role_grants(ev: &Eval, f: &str) -> BTreeSet<(String, Target)> {
    let statements = ev.local("function_statements");
    let list = statements.get(f).and_then(|s| s.as_array()).unwrap_or_else(|| panic!("local.function_statements has no {f}"));
    let mut out = BTreeSet::new();
    for s in list {
        assert_eq!(s["Effect"], "Allow", "{f}: {s}");
        for action in as_list(&s["Action"]) {
            for resource in as_list(&s["Resource"]) {
                out.insert((action.clone(), target_of(&resource, &action, ev)));
            }
        }
    }
    out
}

/// Each role grants exactly what its function's code calls (the adapters it is wired with,
/// `driftwatch_lambda::grants`) and what the platform does as the role: an action missing is
/// an AccessDenied in a real account (moto enforces no IAM, so nothing else would catch it);
/// an action to spare is privilege nobody uses.
#[test]
fn every_role_grants_exactly_what_its_function_calls() {
    let infra = load();
    let ev = Eval::new(&infra);
    let has = |var: &str| {
        ev.vars.get(var).is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()) || v.as_array().is_some_and(|a| !a.is_empty()))
    };
    let mut problems = Vec::new();
    for f in function_dirs() {
        let function = Function::from_name(&f).unwrap();
        let needed: BTreeSet<(String, Target)> = function
            .grants()
            .into_iter()
            // Deployment-dependent targets: only where the variables name them.
            .filter(|g| g.target != Target::StateKeys || has("state_kms_key_arns"))
            .filter(|g| g.target != Target::StateRoles || has("state_roles"))
            .filter(|g| !(g.target == Target::Config && g.action.contains("Aggregate")) || has("config_aggregator_name"))
            .filter(|g| g.target != Target::ConfigBucket || has("config_delivery_bucket"))
            .map(|g| (g.action.to_string(), g.target))
            .collect();
        let granted = role_grants(&ev, &f);
        for (action, target) in needed.difference(&granted) {
            problems.push(format!("{f}: the code calls {action} on {target}; the role does not grant it"));
        }
        for (action, target) in granted.difference(&needed) {
            problems.push(format!("{f}: the role grants {action} on {target}; no code path of the function needs it"));
        }
    }
    assert!(problems.is_empty(), "infra/iam.tf and the code disagree:\n{}", problems.join("\n"));
}
