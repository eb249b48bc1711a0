//! Normalisers: turn a Terraform value and an AWS Config value into one canonical form so
//! that equal configurations compare equal (ordering of sets, case, JSON policy formatting,
//! tags written as maps or lists, key ids written as ARNs, numbers written as strings…).
//!
//! Every normaliser is idempotent (`n(n(x)) == n(x)`, property-tested) and maps an absent
//! value to `Null`. The whole-object rule normalisers turn a rule resource into rule-set
//! members and pass an already-normalised member list through unchanged.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The normalisers the catalog can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalizer {
    String,
    Lower,
    Bool,
    Number,
    Tags,
    Set,
    PolicyJson,
    SecureTransport,
    KmsKey,
    EnvVars,
    /// Terraform `ingress`/`egress` blocks of `aws_security_group`.
    TfSgRules,
    /// AWS Config `ipPermissions` / `ipPermissionsEgress`.
    LiveIpPermissions,
    /// One `aws_security_group_rule` (the whole attribute object).
    TfSgRuleResource,
    /// One `aws_vpc_security_group_ingress_rule` (the whole attribute object).
    TfVpcSgRule,
}

/// Context some normalisers need.
#[derive(Debug, Clone, Default)]
pub struct Ctx<'a> {
    /// Id of the resource itself (security group id for `self = true` rules).
    pub self_id: Option<&'a str>,
}

impl Normalizer {
    /// Top-level attributes a whole-object normaliser reads (for the state parser's
    /// attribute retention).
    pub fn reads(&self) -> &'static [&'static str] {
        match self {
            Normalizer::TfSgRuleResource => &[
                "type",
                "protocol",
                "from_port",
                "to_port",
                "cidr_blocks",
                "ipv6_cidr_blocks",
                "prefix_list_ids",
                "source_security_group_id",
                "self",
                "security_group_id",
            ],
            Normalizer::TfVpcSgRule => &[
                "ip_protocol",
                "from_port",
                "to_port",
                "cidr_ipv4",
                "cidr_ipv6",
                "prefix_list_id",
                "referenced_security_group_id",
                "security_group_id",
            ],
            _ => &[],
        }
    }

    /// Apply the normaliser.
    pub fn apply(&self, v: &Value, ctx: &Ctx<'_>) -> Value {
        if v.is_null() {
            return Value::Null;
        }
        match self {
            Normalizer::String => match v {
                Value::String(_) => v.clone(),
                Value::Number(_) | Value::Bool(_) => Value::String(v.to_string()),
                other => canonical(other),
            },
            Normalizer::Lower => match v {
                Value::String(s) => Value::String(s.to_lowercase()),
                other => Normalizer::String.apply(other, ctx),
            },
            Normalizer::Bool => to_bool(v).map(Value::Bool).unwrap_or_else(|| v.clone()),
            Normalizer::Number => to_number(v).unwrap_or_else(|| v.clone()),
            Normalizer::Tags => tags(v),
            Normalizer::Set => match v {
                Value::Array(a) => sorted_set(a.iter().map(canonical).collect()),
                other => other.clone(),
            },
            Normalizer::PolicyJson => match parse_json_text(v) {
                Some(p @ (Value::Object(_) | Value::Array(_))) => canonical_policy(&p),
                _ => v.clone(),
            },
            Normalizer::SecureTransport => match v {
                Value::Bool(_) => v.clone(),
                _ => Value::Bool(parse_json_text(v).map(|p| denies_insecure_transport(&p)).unwrap_or(false)),
            },
            Normalizer::KmsKey => match v {
                Value::String(s) => Value::String(kms_key_ref(s)),
                other => other.clone(),
            },
            Normalizer::EnvVars => match v {
                Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), Normalizer::String.apply(v, ctx))).collect()),
                other => other.clone(),
            },
            Normalizer::TfSgRules => match v {
                Value::Array(blocks) => {
                    let mut out = Vec::new();
                    for b in blocks {
                        if let Value::String(_) = b {
                            out.push(b.clone()); // already normalised
                            continue;
                        }
                        let proto = protocol(b.get("protocol"));
                        let ports = port_range(&proto, b.get("from_port"), b.get("to_port"));
                        for src in strings(b.get("cidr_blocks"))
                            .into_iter()
                            .chain(strings(b.get("ipv6_cidr_blocks")))
                            .chain(strings(b.get("prefix_list_ids")))
                            .chain(strings(b.get("security_groups")))
                        {
                            out.push(rule_str(&proto, &ports, &src));
                        }
                        if b.get("self").and_then(Value::as_bool) == Some(true) {
                            out.push(rule_str(&proto, &ports, ctx.self_id.unwrap_or("self")));
                        }
                    }
                    sorted_set(out)
                }
                other => other.clone(),
            },
            Normalizer::LiveIpPermissions => match v {
                Value::Array(perms) => {
                    let mut out = Vec::new();
                    for p in perms {
                        if let Value::String(_) = p {
                            out.push(p.clone());
                            continue;
                        }
                        let proto = protocol(p.get("ipProtocol").or_else(|| p.get("IpProtocol")));
                        let ports = port_range(
                            &proto,
                            p.get("fromPort").or_else(|| p.get("FromPort")),
                            p.get("toPort").or_else(|| p.get("ToPort")),
                        );
                        let mut srcs = Vec::new();
                        for (list, field) in [
                            ("ipRanges", "cidrIp"),
                            ("ipv4Ranges", "cidrIp"),
                            ("IpRanges", "CidrIp"),
                            ("ipv6Ranges", "cidrIpv6"),
                            ("Ipv6Ranges", "CidrIpv6"),
                            ("prefixListIds", "prefixListId"),
                            ("PrefixListIds", "PrefixListId"),
                            ("userIdGroupPairs", "groupId"),
                            ("UserIdGroupPairs", "GroupId"),
                        ] {
                            if let Some(Value::Array(items)) = p.get(list) {
                                for it in items {
                                    match it {
                                        Value::String(s) if !s.is_empty() => srcs.push(s.clone()),
                                        Value::Object(o) => {
                                            if let Some(Value::String(s)) = o.get(field).filter(|s| s.as_str() != Some("")) {
                                                srcs.push(s.clone())
                                            }
                                        }
                                        _ => {}
                                    }
                                }
                            }
                        }
                        for s in srcs {
                            out.push(rule_str(&proto, &ports, &s));
                        }
                    }
                    sorted_set(out)
                }
                other => other.clone(),
            },
            Normalizer::TfSgRuleResource | Normalizer::TfVpcSgRule if is_member_list(v) => {
                sorted_set(v.as_array().cloned().unwrap_or_default())
            }
            Normalizer::TfSgRuleResource => {
                let proto = protocol(v.get("protocol"));
                let ports = port_range(&proto, v.get("from_port"), v.get("to_port"));
                let mut out = Vec::new();
                for src in strings(v.get("cidr_blocks"))
                    .into_iter()
                    .chain(strings(v.get("ipv6_cidr_blocks")))
                    .chain(strings(v.get("prefix_list_ids")))
                    .chain(strings(v.get("source_security_group_id")))
                {
                    out.push(rule_str(&proto, &ports, &src));
                }
                if v.get("self").and_then(Value::as_bool) == Some(true) {
                    if let Some(own) = v.get("security_group_id").and_then(Value::as_str) {
                        out.push(rule_str(&proto, &ports, own));
                    }
                }
                sorted_set(out)
            }
            Normalizer::TfVpcSgRule => {
                let proto = protocol(v.get("ip_protocol"));
                let ports = port_range(&proto, v.get("from_port"), v.get("to_port"));
                let mut out = Vec::new();
                for k in ["cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id"] {
                    for src in strings(v.get(k)) {
                        out.push(rule_str(&proto, &ports, &src));
                    }
                }
                sorted_set(out)
            }
        }
    }
}

/// An already-normalised list of rule-set members (strings).
fn is_member_list(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

/// Values of a string or a list of strings (empty strings dropped).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str()).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn protocol(v: Option<&Value>) -> String {
    let raw = match v {
        Some(Value::String(s)) => s.to_ascii_lowercase(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "-1".into(),
    };
    match raw.as_str() {
        "-1" | "all" | "" => "-1".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        _ => raw,
    }
}

fn port_range(proto: &str, from: Option<&Value>, to: Option<&Value>) -> String {
    if proto == "-1" {
        return "*".into();
    }
    let p = |v: Option<&Value>| match v.and_then(to_number) {
        Some(Value::Number(n)) => n.to_string(),
        _ => "*".into(),
    };
    let (f, t) = (p(from), p(to));
    if f == "*" && t == "*" {
        "*".into()
    } else {
        format!("{f}-{t}")
    }
}

fn rule_str(proto: &str, ports: &str, src: &str) -> Value {
    Value::String(format!("{proto} {ports} {src}"))
}

fn sorted_set(mut items: Vec<Value>) -> Value {
    items.sort_by_key(|a| a.to_string());
    items.dedup();
    Value::Array(items)
}

fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "enabled" | "enabling" | "on" | "yes" => Some(true),
            "false" | "disabled" | "disabling" | "off" | "no" | "" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        _ => None,
    }
}

fn to_number(v: &Value) -> Option<Value> {
    let f = match v {
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                return Some(v.clone());
            }
            n.as_f64()?
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                return Some(Value::from(i));
            }
            s.parse::<f64>().ok()?
        }
        _ => return None,
    };
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Some(Value::from(f as i64))
    } else {
        serde_json::Number::from_f64(f).map(Value::Number)
    }
}

fn tags(v: &Value) -> Value {
    let mut out = Map::new();
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if !k.starts_with("aws:") {
                    out.insert(k.clone(), Normalizer::String.apply(val, &Ctx::default()));
                }
            }
        }
        Value::Array(items) => {
            for it in items {
                let k = it.get("key").or_else(|| it.get("Key")).and_then(Value::as_str);
                let val = it.get("value").or_else(|| it.get("Value")).cloned().unwrap_or(Value::Null);
                if let Some(k) = k {
                    if !k.starts_with("aws:") {
                        out.insert(k.to_string(), Normalizer::String.apply(&val, &Ctx::default()));
                    }
                }
            }
        }
        other => return other.clone(),
    }
    Value::Object(out)
}

/// `arn:aws:kms:r:a:key/ID` → `ID`; `arn:aws:kms:r:a:alias/x` → `alias/x`.
pub fn kms_key_ref(s: &str) -> String {
    let mut cur = s;
    // Loop so that the result is a fixed point (idempotent) even for odd nested ARNs.
    while cur.starts_with("arn:") {
        match cur.splitn(6, ':').nth(5) {
            Some(rest) => cur = rest.strip_prefix("key/").unwrap_or(rest),
            None => break,
        }
    }
    cur.to_string()
}

/// A JSON document given as a JSON value, a JSON string or a URL-encoded JSON string
/// (IAM documents in AWS Config are URL-encoded).
pub fn parse_json_text(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return None;
            }
            if let Ok(p) = serde_json::from_str::<Value>(t) {
                return Some(p);
            }
            let decoded = percent_decode(t)?;
            serde_json::from_str(&decoded).ok()
        }
        Value::Object(_) | Value::Array(_) => Some(v.clone()),
        _ => None,
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Canonical JSON: object keys sorted (serde_json's map is ordered), recursively.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Canonical IAM policy: `Statement` always a list, sorted; `Action`, `Resource`,
/// principals and condition values always sorted lists.
pub fn canonical_policy(p: &Value) -> Value {
    let Value::Object(m) = p else { return canonical(p) };
    let mut out = Map::new();
    for (k, v) in m {
        if k == "Statement" {
            let stmts = match v {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let mut stmts: Vec<Value> = stmts.iter().map(canonical_statement).collect();
            stmts.sort_by_key(|a| a.to_string());
            out.insert(k.clone(), Value::Array(stmts));
        } else {
            out.insert(k.clone(), canonical(v));
        }
    }
    Value::Object(out)
}

fn as_sorted_list(v: &Value) -> Value {
    match v {
        Value::Array(a) => sorted_set(a.iter().map(canonical).collect()),
        other => Value::Array(vec![canonical(other)]),
    }
}

fn canonical_statement(s: &Value) -> Value {
    let Value::Object(m) = s else { return canonical(s) };
    let mut out = Map::new();
    for (k, v) in m {
        let nv = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => as_sorted_list(v),
            "Principal" | "NotPrincipal" => match v {
                Value::Object(pm) => Value::Object(pm.iter().map(|(pk, pv)| (pk.clone(), as_sorted_list(pv))).collect()),
                other => canonical(other),
            },
            "Condition" => match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, kv)| {
                            let inner = match kv {
                                Value::Object(keys) => Value::Object(
                                    keys.iter().map(|(ck, cv)| (ck.clone(), as_sorted_list(&stringify_scalars(cv)))).collect(),
                                ),
                                other => canonical(other),
                            };
                            (op.clone(), inner)
                        })
                        .collect(),
                ),
                other => canonical(other),
            },
            _ => canonical(v),
        };
        out.insert(k.clone(), nv);
    }
    Value::Object(out)
}

/// Condition values: `false` and `"false"` mean the same.
fn stringify_scalars(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Array(a) => Value::Array(a.iter().map(stringify_scalars).collect()),
        other => other.clone(),
    }
}

/// Does the policy deny requests made without TLS (`aws:SecureTransport = false`)?
pub fn denies_insecure_transport(policy: &Value) -> bool {
    let p = canonical_policy(policy);
    let Some(Value::Array(stmts)) = p.get("Statement") else { return false };
    stmts.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Deny")
            && s.get("Condition")
                .and_then(Value::as_object)
                .map(|ops| {
                    ops.iter().any(|(op, keys)| {
                        op.starts_with("Bool")
                            && keys.as_object().is_some_and(|k| {
                                k.iter().any(|(ck, cv)| {
                                    ck.eq_ignore_ascii_case("aws:SecureTransport")
                                        && cv
                                            .as_array()
                                            .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"))))
                                })
                            })
                    })
                })
                .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(norm: Normalizer, v: Value) -> Value {
        norm.apply(&v, &Ctx { self_id: Some("sg-self") })
    }

    #[test]
    fn data_driven_cases() {
        let cases: Vec<(Normalizer, Value, Value)> = vec![
            (Normalizer::Bool, json!("ENABLED"), json!(true)),
            (Normalizer::Bool, json!("false"), json!(false)),
            (Normalizer::Number, json!("1209600"), json!(1209600)),
            (Normalizer::Number, json!(30.0), json!(30)),
            (Normalizer::Lower, json!("GP3"), json!("gp3")),
            (Normalizer::KmsKey, json!("arn:aws:kms:us-east-1:1:key/abc-123"), json!("abc-123")),
            (Normalizer::KmsKey, json!("arn:aws:kms:us-east-1:1:alias/aws/s3"), json!("alias/aws/s3")),
            (
                Normalizer::Tags,
                json!([{"key": "Name", "value": "x"}, {"key": "aws:cloudformation:stack", "value": "y"}]),
                json!({"Name": "x"}),
            ),
            (Normalizer::Set, json!(["b", "a", "b"]), json!(["a", "b"])),
            (
                Normalizer::TfSgRules,
                json!([{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"], "self": true}]),
                json!(["tcp 443-443 10.0.0.0/16", "tcp 443-443 sg-self"]),
            ),
            (
                Normalizer::LiveIpPermissions,
                json!([{"ipProtocol": "6", "fromPort": 443, "toPort": 443, "ipRanges": ["10.0.0.0/16"], "ipv4Ranges": [{"cidrIp": "10.0.0.0/16"}], "userIdGroupPairs": [{"groupId": "sg-self"}]}]),
                json!(["tcp 443-443 10.0.0.0/16", "tcp 443-443 sg-self"]),
            ),
            (
                Normalizer::LiveIpPermissions,
                json!([{"ipProtocol": "-1", "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}]),
                json!(["-1 * 0.0.0.0/0"]),
            ),
        ];
        for (norm, input, expected) in cases {
            assert_eq!(n(norm, input.clone()), expected, "{norm:?} {input}");
        }
    }

    #[test]
    fn equivalent_policies_are_equal() {
        let a = json!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:b/*","arn:b"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#
        );
        let b = json!({"Statement": {"Resource": ["arn:b", "arn:b/*"], "Condition": {"Bool": {"aws:SecureTransport": false}}, "Action": ["s3:*"], "Principal": "*", "Effect": "Deny"}, "Version": "2012-10-17"});
        let url = json!("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Principal%22%3A%22*%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%5B%22arn%3Ab%22%2C%22arn%3Ab%2F*%22%5D%2C%22Condition%22%3A%7B%22Bool%22%3A%7B%22aws%3ASecureTransport%22%3A%22false%22%7D%7D%7D%5D%7D");
        let na = n(Normalizer::PolicyJson, a.clone());
        assert_eq!(na, n(Normalizer::PolicyJson, b.clone()));
        assert_eq!(na, n(Normalizer::PolicyJson, url));
        assert_eq!(n(Normalizer::SecureTransport, a), json!(true));
        assert_eq!(n(Normalizer::SecureTransport, json!(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#)), json!(false));
    }

    #[test]
    fn absent_is_null() {
        for norm in [Normalizer::String, Normalizer::Bool, Normalizer::Tags, Normalizer::PolicyJson, Normalizer::TfSgRules] {
            assert_eq!(n(norm, Value::Null), Value::Null);
        }
    }
}
