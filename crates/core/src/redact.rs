//! Secrets never leave this module in clear text.
//!
//! Terraform state stores sensitive values in plaintext. The moment a value that is marked
//! sensitive, or whose attribute name or content looks like a secret, is read, it is replaced
//! by a salted digest (`HMAC-SHA256(salt, value)`, truncated), rendered as
//! `"(sensitive sha256:0123456789abcdef)"`. Equal secrets give equal digests, so drift on a
//! secret is still detected without the secret being stored or shown.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every digested value; tests and tools key on it.
pub const REDACTED_PREFIX: &str = "(sensitive sha256:";

/// Salted digester for sensitive values.
#[derive(Clone)]
pub struct Redactor {
    /// The MAC keyed with the salt (inner and outer pads already absorbed); cloned per digest.
    mac: HmacSha256,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(..)")
    }
}

impl Redactor {
    /// A redactor with the given salt (any length).
    pub fn new(salt: &[u8]) -> Self {
        // HMAC takes keys of any length (longer than a block: hashed first), so this never fails.
        let mac = HmacSha256::new_from_slice(salt).expect("HMAC-SHA256 accepts a key of any length");
        Redactor { mac }
    }

    /// Full HMAC-SHA256 of `data` keyed with the salt.
    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of `data`, hex, first 16 characters.
    pub fn digest_hex(&self, data: &[u8]) -> String {
        hex(&self.mac(data)[..8])
    }

    /// The redacted stand-in for a value.
    pub fn redact(&self, value: &Value) -> Value {
        if value.is_null() {
            return Value::Null;
        }
        if let Value::String(s) = value {
            if s.starts_with(REDACTED_PREFIX) {
                return value.clone();
            }
        }
        let bytes = match value {
            Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        };
        Value::String(format!("{REDACTED_PREFIX}{})", self.digest_hex(&bytes)))
    }

    /// Replace, in place, every string value under `value` whose key looks like a secret,
    /// and every string that looks like secret material.
    pub fn scrub(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if key_looks_secret(k) && !v.is_null() && !matches!(v, Value::Bool(_)) {
                        *v = self.redact(v);
                    } else {
                        self.scrub(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub(v)),
            Value::String(s) if value_looks_secret(s) => *value = self.redact(value),
            _ => {}
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Attribute names whose values are secrets whatever the provider schema says.
pub fn key_looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    const EXACT: &[&str] = &["token", "secret", "password", "passwd", "pwd", "passphrase"];
    const CONTAINS: &[&str] = &[
        "password",
        "passwd",
        "secret_key",
        "secretkey",
        "secret_access",
        "client_secret",
        "private_key",
        "privatekey",
        "api_key",
        "apikey",
        "auth_token",
        "access_token",
        "refresh_token",
        "session_token",
        "connection_string",
        "credentials",
        "passphrase",
        "_token",
        "secret_string",
        "secret_binary",
    ];
    if EXACT.contains(&k.as_str()) {
        return true;
    }
    if k.ends_with("_secret") || k.starts_with("secret_") && !k.ends_with("_arn") && !k.ends_with("_id") {
        return true;
    }
    CONTAINS.iter().any(|c| k.contains(c))
}

/// String contents that are secret material on their own (PEM private keys, common token
/// formats), wherever they appear.
pub fn value_looks_secret(s: &str) -> bool {
    if s.contains("PRIVATE KEY-----") {
        return true;
    }
    const PREFIXES: &[&str] = &["ghp_", "gho_", "github_pat_", "xoxb-", "xoxp-", "glpat-", "sk_live_", "AIza"];
    if s.len() >= 20 && PREFIXES.iter().any(|p| s.starts_with(p)) {
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digests_are_stable_and_salted() {
        let a = Redactor::new(b"salt-a");
        let b = Redactor::new(b"salt-b");
        let v = json!("hunter2");
        assert_eq!(a.redact(&v), a.redact(&v));
        assert_ne!(a.redact(&v), b.redact(&v));
        let s = a.redact(&v).as_str().unwrap().to_string();
        assert!(s.starts_with(REDACTED_PREFIX) && !s.contains("hunter2"));
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let r = Redactor::new(b"Jefe");
        assert_eq!(r.digest_hex(b"what do ya want for nothing?"), "5bdcc146bf60754e");
    }

    #[test]
    fn hmac_matches_rfc4231_cases_1_and_2_in_full() {
        // RFC 4231 §4.2, test case 1: key 0x0b × 20, data "Hi There".
        let r = Redactor::new(&[0x0b; 20]);
        assert_eq!(hex(&r.mac(b"Hi There")), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        // RFC 4231 §4.3, test case 2: key "Jefe", data "what do ya want for nothing?".
        let r = Redactor::new(b"Jefe");
        assert_eq!(hex(&r.mac(b"what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    /// Pins the exact digests the redactor produces (computed with the hand-rolled HMAC this
    /// module used before the `hmac` crate, and cross-checked against Python's `hmac`): stored
    /// digests and findings compare against these strings, so they must never change.
    #[test]
    fn digests_are_pinned() {
        let cases: &[(&[u8], &[u8], &str)] = &[
            (b"driftwatch-salt", b"hunter2", "04fbc7fa5f3e2733"),
            // Empty salt.
            (b"", b"hunter2", "48d1763b879fda85"),
            (b"", b"", "b613679a0814d9ec"),
            // Salt longer than the 64-byte block: hashed first.
            (&[b'k'; 100], b"correct horse battery staple", "7ed809fbdbd36609"),
            (&[b'x'; 65], b"", "f6c34019036b45ea"),
        ];
        for (salt, data, want) in cases {
            assert_eq!(Redactor::new(salt).digest_hex(data), *want, "salt len {}", salt.len());
        }
        // A salt of exactly one block, used as is; a non-string value digests its JSON text.
        let block: Vec<u8> = (0u8..64).collect();
        assert_eq!(Redactor::new(&block).redact(&json!({"a": 1})), json!("(sensitive sha256:445ef0f1615b2170)"));
        assert_eq!(Redactor::new(b"driftwatch-salt").redact(&json!("hunter2")), json!("(sensitive sha256:04fbc7fa5f3e2733)"));
    }

    #[test]
    fn scrub_replaces_secret_looking_keys_only() {
        let r = Redactor::new(b"s");
        let mut v = json!({"DB_PASSWORD": "p@ss", "LOG_LEVEL": "info", "nested": {"api_key": "k"},
                           "pem": "-----BEGIN RSA PRIVATE KEY-----abc", "iam_database_authentication_enabled": true});
        r.scrub(&mut v);
        let text = v.to_string();
        assert!(!text.contains("p@ss") && !text.contains("\"k\"") && !text.contains("BEGIN RSA"));
        assert_eq!(v["LOG_LEVEL"], "info");
        assert_eq!(v["iam_database_authentication_enabled"], true);
    }

    #[test]
    fn secret_key_heuristic() {
        for k in ["password", "master_password", "DB_PASSWORD", "client_secret", "private_key", "api_key", "auth_token"] {
            assert!(key_looks_secret(k), "{k}");
        }
        for k in ["kms_key_id", "key_id", "public_key", "secret_arn", "iam_database_authentication_enabled", "name"] {
            assert!(!key_looks_secret(k), "{k}");
        }
    }
}
