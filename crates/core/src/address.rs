//! Terraform resource addresses, rendered exactly as Terraform renders them:
//! `module.a["x"].module.b[0].aws_s3_bucket.this["k"]`, `data.aws_caller_identity.current`.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// An instance key: `count` gives an integer, `for_each` a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IndexKey {
    Int(i64),
    Str(String),
}

impl IndexKey {
    /// `[0]` or `["x"]`.
    pub fn render(&self, out: &mut String) {
        match self {
            IndexKey::Int(i) => {
                let _ = write!(out, "[{i}]");
            }
            IndexKey::Str(s) => {
                out.push('[');
                quote(s, out);
                out.push(']');
            }
        }
    }
}

/// Quote a string the way Terraform renders instance keys (HCL string syntax).
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("$$"),
            '%' if chars.peek() == Some(&'{') => out.push_str("%%"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Render a resource instance address.
///
/// `module` is the module path as stored in state (`module.a["x"].module.b`), already in
/// Terraform syntax; `None` or empty at the root.
pub fn render(module: Option<&str>, data: bool, rtype: &str, name: &str, key: Option<&IndexKey>) -> String {
    let mut out = String::with_capacity(64);
    if let Some(m) = module.filter(|m| !m.is_empty()) {
        out.push_str(m);
        out.push('.');
    }
    if data {
        out.push_str("data.");
    }
    out.push_str(rtype);
    out.push('.');
    out.push_str(name);
    if let Some(k) = key {
        k.render(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(module: Option<&str>, data: bool, key: Option<IndexKey>, expected: &str) {
        assert_eq!(render(module, data, "aws_s3_bucket", "b", key.as_ref()), expected);
    }

    #[test]
    fn renders_like_terraform() {
        check(None, false, None, "aws_s3_bucket.b");
        check(None, false, Some(IndexKey::Int(0)), "aws_s3_bucket.b[0]");
        check(Some("module.a[\"x\"]"), false, Some(IndexKey::Int(0)), "module.a[\"x\"].aws_s3_bucket.b[0]");
        check(Some("module.a.module.c[2]"), false, Some(IndexKey::Str("k".into())), "module.a.module.c[2].aws_s3_bucket.b[\"k\"]");
        check(None, true, None, "data.aws_s3_bucket.b");
        check(None, false, Some(IndexKey::Str("a\"b\\c${x}".into())), "aws_s3_bucket.b[\"a\\\"b\\\\c$${x}\"]");
    }
}
