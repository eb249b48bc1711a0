//! Minimal glob matching for policy patterns: `*` matches any run (including `/` and `:`),
//! `?` one character. Case-sensitive, like ARNs.

/// Does `text` match `pattern`?
pub fn matches(pattern: &str, text: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::matches;

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
}
