//! Import blocks for unmanaged resources: for a `drift.unmanaged` finding of a catalogued type,
//! the Terraform ≥ 1.5 `import { to = … id = … }` block that brings the live resource under
//! Terraform, and a minimal `resource` block written from its live configuration item.
//!
//! The import id follows the provider's format for the type: the row's `import_id` template
//! (default `{resourceId}`) rendered from the item. The resource block holds the row's compared
//! top-level attributes as the item shows them, normalised; a value the redactor digested (a
//! secret) or a `sensitive` attribute becomes a `# set me` comment, never the value. The text
//! is formatted as `terraform fmt` writes it.

use crate::catalog::{Catalog, ResourceSpec};
use crate::finding::ImportHint;
use crate::live::ConfigItem;
use crate::normalize::{Ctx, Normalizer};
use crate::path::{AttrPath, Step};
use crate::redact::REDACTED_PREFIX;
use serde_json::Value;
use std::fmt::Write;

/// The import target and id of an unmanaged live item, when the catalog has its type and the
/// id template renders.
pub fn hint(item: &ConfigItem, spec: &ResourceSpec) -> Option<ImportHint> {
    // `import_id = ""`: the provider's import id cannot be read from a Config item
    let template = spec.import_id.as_deref().unwrap_or("{resourceId}");
    if template.is_empty() {
        return None;
    }
    let id = render_id(template, item)?;
    let name = resource_name(item.resource_name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&item.resource_id));
    Some(ImportHint { to: format!("{}.{name}", spec.terraform_type), id })
}

/// Render an `import_id` template: `{resourceId}`, `{resourceName}`, `{ARN}`, `{awsRegion}`,
/// `{awsAccountId}` or a path into the item (`{configuration.Name}`); `None` when a
/// placeholder has no value.
pub fn render_id(template: &str, item: &ConfigItem) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let key = &rest[open + 1..close];
        let value = match key {
            "resourceId" => Some(item.resource_id.clone()),
            "resourceName" => item.resource_name.clone(),
            "ARN" => item.arn.clone(),
            "awsRegion" => item.region.clone(),
            "awsAccountId" => item.account_id.clone(),
            path => AttrPath::parse(path).ok().and_then(|p| p.get(&item.doc).cloned()).and_then(|v| match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        };
        out.push_str(value.filter(|v| !v.is_empty())?.as_str());
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A Terraform resource name from a live name: letters, digits, `_` and `-`, starting with a
/// letter or `_`.
pub fn resource_name(name: &str) -> String {
    let tail = name.rsplit(['/', ':']).find(|s| !s.is_empty()).unwrap_or(name);
    let mut out: String = tail.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// One attribute line of a resource block.
enum Line {
    Value(String, Value),
    SetMe(String),
}

/// The `import` and `resource` blocks of one unmanaged item.
pub fn blocks(hint: &ImportHint, spec: &ResourceSpec, item: Option<&ConfigItem>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "import {{\n  to = {}\n  id = {}\n}}\n", hint.to, quote(&hint.id));
    let (rtype, name) = hint.to.split_once('.').unwrap_or((&spec.terraform_type, "this"));
    let _ = writeln!(out, "resource \"{rtype}\" \"{name}\" {{");
    let mut lines = Vec::new();
    for a in &spec.attrs {
        let [Step::Key(key)] = a.tf.0.as_slice() else { continue };
        if key == "tags_all" {
            // the provider's own tags are `tags`; `tags_all` adds its default_tags
            if let Some(v) = item.and_then(|it| live_value(a, it)) {
                lines.push(Line::Value("tags".into(), v));
            }
            continue;
        }
        if a.sensitive {
            lines.push(Line::SetMe(key.clone()));
            continue;
        }
        match item.and_then(|it| live_value(a, it)) {
            Some(v) if holds_digest(&v) => lines.push(Line::SetMe(key.clone())),
            Some(v) => lines.push(Line::Value(key.clone(), v)),
            None => {}
        }
    }
    write_body(&mut out, &lines);
    out.push_str("}\n");
    out
}

/// The whole file for `hints`, each with its row and (when read) its live item.
pub fn file<'a>(hints: impl IntoIterator<Item = (&'a ImportHint, &'a ResourceSpec, Option<&'a ConfigItem>)>) -> String {
    let mut out = String::from("# Written by driftwatch import: review every value before terraform plan.\n\n");
    let mut first = true;
    for (h, spec, item) in hints {
        if !first {
            out.push('\n');
        }
        first = false;
        out.push_str(&blocks(h, spec, item));
    }
    out
}

/// The hint of each unmanaged item of a catalogued type.
pub fn hints_for<'c>(items: impl IntoIterator<Item = &'c ConfigItem>, catalog: &'c Catalog) -> Vec<(ImportHint, &'c ResourceSpec)> {
    items
        .into_iter()
        .filter_map(|it| catalog.primary_for_config_type(&it.resource_type).and_then(|s| hint(it, s).map(|h| (h, s))))
        .collect()
}

fn live_value(a: &crate::catalog::AttrSpec, item: &ConfigItem) -> Option<Value> {
    let raw = a.live.iter().find_map(|p| p.get_live(&item.doc).filter(|v| !v.is_null()))?;
    let v = a.live_normalize.apply(raw, &Ctx::default());
    match (a.normalize, v) {
        (_, Value::Null) => None,
        (Normalizer::KmsKey, Value::String(s)) if s.is_empty() => None,
        (_, v) => Some(v),
    }
}

fn holds_digest(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with(REDACTED_PREFIX),
        Value::Array(a) => a.iter().any(holds_digest),
        Value::Object(m) => m.values().any(holds_digest),
        _ => false,
    }
}

/// A string literal in HCL: JSON escapes, and `${`/`%{` escaped as `$${`/`%%{`.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default().replace("${", "$${").replace("%{", "%%{")
}

/// An HCL expression for a JSON value; `None` for one that needs several lines.
fn inline(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(a) => {
            let items: Option<Vec<String>> = a.iter().map(|x| if x.is_object() || x.is_array() { None } else { inline(x) }).collect();
            format!("[{}]", items?.join(", "))
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(_) => return None,
    })
}

/// Attribute lines as `terraform fmt` writes them: the `=` of consecutive one-line attributes
/// aligned; a map, a policy or a comment stands apart, between blank lines (which end an
/// alignment group).
fn write_body(out: &mut String, lines: &[Line]) {
    let mut i = 0;
    while i < lines.len() {
        if i > 0 {
            out.push('\n');
        }
        // a run of one-line attributes
        let mut j = i;
        while j < lines.len() && matches!(&lines[j], Line::Value(_, v) if inline(v).is_some()) {
            j += 1;
        }
        if j > i {
            let width = lines[i..j].iter().map(|l| if let Line::Value(k, _) = l { k.len() } else { 0 }).max().unwrap_or(0);
            for l in &lines[i..j] {
                if let Line::Value(k, v) = l {
                    let _ = writeln!(out, "  {k:<width$} = {}", inline(v).unwrap_or_default());
                }
            }
            i = j;
            continue;
        }
        match &lines[i] {
            Line::SetMe(k) => {
                let _ = writeln!(out, "  # {k} = \"set me\" (secret: not copied from the live configuration)");
            }
            Line::Value(k, Value::Object(m))
                if m.keys().all(|k| !k.is_empty()) && m.values().all(|v| inline(v).is_some()) && k == "tags" =>
            {
                let _ = writeln!(out, "  {k} = {{");
                let width = m.keys().map(|k| quote(k).len()).max().unwrap_or(0);
                for (mk, mv) in m {
                    let _ = writeln!(out, "    {:<width$} = {}", quote(mk), inline(mv).unwrap_or_default());
                }
                let _ = writeln!(out, "  }}");
            }
            Line::Value(k, v) => {
                // documents (policies) as JSON in a heredoc
                let text = serde_json::to_string_pretty(v).unwrap_or_default();
                let _ = writeln!(out, "  {k} = <<-EOT");
                for l in text.lines() {
                    let _ = writeln!(out, "    {l}");
                }
                let _ = writeln!(out, "  EOT");
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_terraform_identifiers() {
        assert_eq!(resource_name("ehr-prod-audit-logs"), "ehr-prod-audit-logs");
        assert_eq!(resource_name("alias/phi-key"), "phi-key");
        assert_eq!(resource_name("123-bucket"), "_123-bucket");
        assert_eq!(resource_name("a b.c"), "a_b_c");
        assert_eq!(resource_name("arn:aws:sns:us-east-1:1:topic"), "topic");
    }

    #[test]
    fn strings_are_escaped_for_hcl() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(quote("${x}"), "\"$${x}\"");
    }
}
