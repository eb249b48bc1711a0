//! Attribute paths: `rule[0].apply_server_side_encryption_by_default[0].sse_algorithm`.

use serde_json::Value;
use std::fmt;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A parsed attribute path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AttrPath(pub Vec<Step>);

/// A path that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid attribute path {path:?}: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: &'static str,
}

impl AttrPath {
    /// Parse `a.b[0].c`.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        let err = |reason| PathError { path: s.to_string(), reason };
        let mut steps = Vec::new();
        if s.is_empty() {
            return Ok(AttrPath(steps));
        }
        for part in s.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if name.is_empty() {
                return Err(err("empty name"));
            }
            steps.push(Step::Key(name.to_string()));
            while !rest.is_empty() {
                let close = rest.find(']').ok_or_else(|| err("unclosed ["))?;
                let n: usize = rest[1..close].parse().map_err(|_| err("index is not a number"))?;
                steps.push(Step::Index(n));
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(err("unexpected text after ]"));
                }
            }
        }
        Ok(AttrPath(steps))
    }

    /// The first key (the top-level attribute name).
    pub fn head(&self) -> Option<&str> {
        match self.0.first() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The last key name on the path.
    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
    }

    /// Look the path up. Terraform stores dynamically-typed values as
    /// `{"value": ..., "type": ...}`; a key missing from such an object is looked up inside
    /// its `value`. JSON strings holding objects (AWS Config's supplementaryConfiguration)
    /// are not decoded here: the live model decodes them on load.
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for step in &self.0 {
            cur = match (step, cur) {
                (Step::Key(k), Value::Object(m)) => match m.get(k) {
                    Some(v) => v,
                    None => m.get("value").and_then(|inner| inner.as_object()).and_then(|o| o.get(k))?,
                },
                (Step::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Look the path up in an AWS Config item: as [`AttrPath::get`], but a key missing in
    /// one spelling is looked up with its first letter's case swapped, since Config writes
    /// some types' properties in camelCase and others (or the same, through other channels)
    /// in PascalCase (`securityGroups` / `SecurityGroups`).
    pub fn get_live<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for step in &self.0 {
            cur = match (step, cur) {
                (Step::Key(k), Value::Object(m)) => match m.get(k) {
                    Some(v) => v,
                    None => m.get(&swap_first_case(k))?,
                },
                (Step::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The value at the path, made on the way: a missing key or list element is added (null),
    /// and a step into a value of the wrong kind replaces it with an object or a list. For
    /// building documents (example pairs, events), not for reading them.
    pub fn entry<'v>(&self, root: &'v mut Value) -> &'v mut Value {
        let mut cur = root;
        for step in &self.0 {
            cur = match step {
                Step::Key(k) => {
                    if !cur.is_object() {
                        *cur = Value::Object(serde_json::Map::new());
                    }
                    match cur {
                        Value::Object(m) => m.entry(k.clone()).or_insert(Value::Null),
                        _ => unreachable!("made an object above"),
                    }
                }
                Step::Index(i) => {
                    if !cur.is_array() {
                        *cur = Value::Array(Vec::new());
                    }
                    match cur {
                        Value::Array(a) => {
                            if a.len() <= *i {
                                a.resize(*i + 1, Value::Null);
                            }
                            &mut a[*i]
                        }
                        _ => unreachable!("made a list above"),
                    }
                }
            };
        }
        cur
    }

    /// Mutable lookup with the same rules as [`AttrPath::get`].
    pub fn get_mut<'v>(&self, root: &'v mut Value) -> Option<&'v mut Value> {
        let mut cur = root;
        for step in &self.0 {
            cur = match step {
                Step::Key(k) => {
                    let m = cur.as_object_mut()?;
                    if m.contains_key(k) {
                        m.get_mut(k)?
                    } else {
                        m.get_mut("value")?.as_object_mut()?.get_mut(k)?
                    }
                }
                Step::Index(i) => cur.as_array_mut()?.get_mut(*i)?,
            };
        }
        Some(cur)
    }
}

/// `securityGroups` → `SecurityGroups` and back.
fn swap_first_case(k: &str) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) if f.is_ascii_lowercase() => f.to_ascii_uppercase().to_string() + c.as_str(),
        Some(f) if f.is_ascii_uppercase() => f.to_ascii_lowercase().to_string() + c.as_str(),
        _ => k.to_string(),
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            match s {
                Step::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_makes_the_path_and_get_live_reads_either_case() {
        let mut doc = json!({"a": "not an object"});
        *AttrPath::parse("a.b[2].c").unwrap().entry(&mut doc) = json!(1);
        assert_eq!(doc, json!({"a": {"b": [null, null, {"c": 1}]}}));
        *AttrPath::parse("a.b[0]").unwrap().entry(&mut doc) = json!("x");
        assert_eq!(doc["a"]["b"][0], "x");
        let item = json!({"configuration": {"SecurityGroups": ["sg-1"], "vpcId": "vpc-1"}});
        let p = |s: &str| AttrPath::parse(s).unwrap();
        assert_eq!(p("configuration.securityGroups").get_live(&item), Some(&json!(["sg-1"])));
        assert_eq!(p("configuration.VpcId").get_live(&item), Some(&json!("vpc-1")));
        assert_eq!(p("configuration.securityGroups").get(&item), None, "get stays exact");
        assert_eq!(p("configuration.subnets").get_live(&item), None);
    }

    #[test]
    fn parse_and_display_round_trip() {
        for p in ["a", "a.b", "rule[0].x[1][2].y", "supplementaryConfiguration.X.rules[0].k"] {
            assert_eq!(AttrPath::parse(p).unwrap().to_string(), p);
        }
        assert!(AttrPath::parse("a[x]").is_err());
        assert!(AttrPath::parse("a..b").is_err());
        assert!(AttrPath::parse("a[0").is_err());
    }

    #[test]
    fn get_follows_dynamic_value_wrappers() {
        let v = json!({"input": {"value": {"password": "p"}, "type": ["object", {}]}, "l": [{"k": 1}]});
        assert_eq!(AttrPath::parse("input.password").unwrap().get(&v), Some(&json!("p")));
        assert_eq!(AttrPath::parse("l[0].k").unwrap().get(&v), Some(&json!(1)));
        assert_eq!(AttrPath::parse("l[1].k").unwrap().get(&v), None);
    }
}
