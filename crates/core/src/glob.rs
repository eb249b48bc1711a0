//! Minimal glob matching for policy patterns: `*` matches any run (including `/` and `:`),
//! `?` one character. Case-sensitive, like ARNs. Nothing else is special (`[`, `{`, `\` are
//! literal). A `*` in the pattern facing a `*` in the text is first taken as that character.
//!
//! Why not `globset`: measured with a scratch binary outside the repository (`cargo run
//! --release` of a crate with this file and `globset` 0.4.22 without default features, timed
//! with `std::time::Instant`; the scratch crate was not kept) matching 20 policy-like patterns
//! (principal ARNs, session names, buckets, state keys) against 100,000 ARNs, session names and
//! state keys: 2,000,000 pairs, all answers equal. Ranges over the rounds (up to four runs of
//! three) on the 2-core machine while other builds ran:
//!
//! | matcher | per (pattern, text) | "any of the 20?" per text |
//! | --- | --- | --- |
//! | this module before (two `Vec<char>` per call) | 578–1,019 ns | 8.5–14 µs |
//! | this module now (no allocation) | 88–111 ns | 1.1–1.3 µs |
//! | `globset::GlobMatcher`, compiled once per pattern | 113–173 ns | |
//! | `globset::GlobSet` of the 20, compiled once | | 0.3–0.8 µs |
//! | `globset`, compiled per call (what this API would do) | 38–69 µs | |
//!
//! So one pattern at a time, this matcher is faster; `GlobSet` wins only on many patterns at
//! once (policies list a few), and only with compiled sets stored in the policy and the
//! exceptions. `globset` would also change the meaning: it matches bytes, so its `?` is one
//! byte (`a?c` would stop matching `aéc`), and a `*` facing a `*` backtracks. And it would add
//! `regex-automata`, `regex-syntax`, `aho-corasick` and `bstr` to core and every Lambda. So the
//! hand-written matcher stays.

/// Does `text` match `pattern`?
///
/// Works on bytes. `?` and each step of a `*` move over one whole character, and a
/// multi-byte character of the pattern matches only the same character, so the answer is the
/// one a match over `char`s gives.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    // The last `*` seen, and where the text it absorbs ends.
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'?' {
            pi += 1;
            ti += char_len(t[ti]);
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += char_len(t[mark]);
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Length in bytes of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;
    use proptest::prelude::*;

    #[test]
    fn cases() {
        let cases = [
            ("arn:aws:iam::*:role/terraform-ci", "arn:aws:iam::123:role/terraform-ci", true),
            ("arn:aws:sts::*:assumed-role/gha-terraform/*", "arn:aws:sts::1:assumed-role/gha-terraform/GitHubActions", true),
            ("arn:aws:sts::*:assumed-role/gha-terraform/*", "arn:aws:sts::1:assumed-role/admin/x", false),
            ("*.tfstate", "env:/prod/net.tfstate", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("", "", true),
            ("*", "", true),
            ("x*", "", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn characters_not_bytes() {
        let cases = [
            ("a?c", "aéc", true),
            ("a??c", "aéc", false),
            ("?", "日", true),
            ("*é", "xxé", true),
            ("*é", "xxè", false),
            ("a*?", "a日本", true),
            ("*?b", "éab", true),
            ("*é?", "éé日", true),
            ("[a]{b}\\", "[a]{b}\\", true),
            ("A*", "a", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p, t), want, "{p} ~ {t}");
        }
    }

    /// The matcher as it was written before (over `Vec<char>`): the reference for its meaning.
    fn reference(pattern: &str, text: &str) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let (mut pi, mut ti) = (0usize, 0usize);
        let (mut star, mut mark) = (None::<usize>, 0usize);
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some(pi);
                mark = ti;
                pi += 1;
            } else if let Some(s) = star {
                pi = s + 1;
                mark += 1;
                ti = mark;
            } else {
                return false;
            }
        }
        while pi < p.len() && p[pi] == '*' {
            pi += 1;
        }
        pi == p.len()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn same_answers_as_the_char_matcher(pattern in "[ab*?éè日:/]{0,8}", text in "[ab*?éè日:/]{0,10}") {
            prop_assert_eq!(matches(&pattern, &text), reference(&pattern, &text), "{} ~ {}", pattern, text);
        }

        /// Few symbols, short strings: dense in the cases where a `*` backtracks over
        /// multi-byte characters.
        #[test]
        fn same_answers_on_dense_small_cases(pattern in "[a*?é]{0,5}", text in "[a*é日]{0,6}") {
            prop_assert_eq!(matches(&pattern, &text), reference(&pattern, &text), "{} ~ {}", pattern, text);
        }
    }
}
