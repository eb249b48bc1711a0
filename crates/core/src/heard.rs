//! What the watcher heard from: one `heard` evidence record per account, region and day from
//! which at least one event reached a watcher, and the organisation's coverage built from them
//! (accounts and regions heard from, against those the policy says are there).
//!
//! A record is the same whoever writes it and however often (its time is the day's start, its
//! body the account, region and day), so every delivery of every event of that day writes the
//! same evidence: one record per place and day.

use crate::evidence::Record;
use crate::policy::Policy;
use crate::signal::Signal;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The evidence kind.
pub const KIND: &str = "heard";

/// An account and region a watcher heard from on a day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Heard {
    pub account: String,
    pub region: String,
    pub day: NaiveDate,
}

impl Heard {
    /// Where a signal came from, when it names both its account and region (a CloudTrail call,
    /// a Config item); its own time, else `at`.
    pub fn of_signal(signal: &Signal, at: DateTime<Utc>) -> Option<Heard> {
        let place = signal.place();
        let (account, region) = (place.account?, place.region?);
        Some(Heard { account: account.to_string(), region: region.to_string(), day: signal.time().unwrap_or(at).date_naive() })
    }

    /// The day's start (UTC): the record's time, and the day its evidence key is filed under.
    pub fn time(&self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.day.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    pub fn record(&self) -> Record {
        Record { kind: KIND.into(), time: self.time(), body: json!({"account": self.account, "region": self.region, "day": self.day}) }
    }

    /// A record's body read back.
    pub fn from_body(body: &Value) -> Option<Heard> {
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Heard { account: s("account")?, region: s("region")?, day: s("day")?.parse().ok()? })
    }
}

/// One region of one account in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionReach {
    pub region: String,
    /// Days of the period with at least one event heard.
    pub days_heard: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heard: Option<NaiveDate>,
    /// The policy expects the account to be watched there.
    pub expected: bool,
}

/// One account in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountReach {
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ou: Option<String>,
    /// Listed in the policy's `[accounts]`.
    pub declared: bool,
    pub regions: Vec<RegionReach>,
}

/// The organisation's coverage over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgCoverage {
    /// Days in the period.
    pub days: usize,
    /// Accounts heard from in the period / accounts declared or heard from.
    pub accounts_heard: usize,
    pub accounts: usize,
    /// Expected account-regions heard from / expected.
    pub expected_heard: usize,
    pub expected: usize,
    /// Expected account-regions not heard from at all (`account region`): a member not
    /// forwarding, or quiet the whole period.
    pub silent: Vec<String>,
    /// Accounts heard from that the policy does not list.
    pub undeclared: Vec<String>,
    pub by_account: Vec<AccountReach>,
}

/// The coverage of the `heard` records within `[from, to)` against the policy's accounts and
/// regions (`[organization] regions`, `[accounts."ID"] regions`). `None` when there is nothing
/// to say: no account declared and nothing heard.
pub fn coverage(heard: &[Heard], policy: &Policy, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<OrgCoverage> {
    let (first, last) = (from.date_naive(), (to - chrono::Duration::nanoseconds(1)).date_naive());
    let mut days_by: BTreeMap<(&str, &str), BTreeSet<NaiveDate>> = BTreeMap::new();
    for h in heard.iter().filter(|h| first <= h.day && h.day <= last) {
        days_by.entry((h.account.as_str(), h.region.as_str())).or_default().insert(h.day);
    }
    let mut accounts: BTreeSet<&str> = policy.accounts.keys().map(String::as_str).collect();
    accounts.extend(days_by.keys().map(|(a, _)| *a));
    if accounts.is_empty() {
        return None;
    }
    let mut by_account = Vec::new();
    let (mut silent, mut undeclared) = (Vec::new(), Vec::new());
    let (mut expected, mut expected_heard, mut accounts_heard) = (0, 0, 0);
    for account in accounts {
        let declared = policy.accounts.get(account);
        // A declared account is expected in its own regions, else the organisation's; one the
        // policy does not list is expected nowhere (it is listed as undeclared instead).
        let wanted: BTreeSet<&str> = match declared {
            Some(a) => a.regions.as_ref().unwrap_or(&policy.organization.regions).iter().map(String::as_str).collect(),
            None => BTreeSet::new(),
        };
        let mut regions: BTreeSet<&str> = wanted.clone();
        regions.extend(days_by.keys().filter(|(a, _)| *a == account).map(|(_, r)| *r));
        let mut reach = Vec::new();
        for region in regions {
            let days = days_by.get(&(account, region));
            let is_expected = wanted.contains(region);
            expected += usize::from(is_expected);
            match days {
                Some(d) => expected_heard += usize::from(is_expected && !d.is_empty()),
                None if is_expected => silent.push(format!("{account} {region}")),
                None => {}
            }
            reach.push(RegionReach {
                region: region.to_string(),
                days_heard: days.map_or(0, BTreeSet::len),
                last_heard: days.and_then(|d| d.last().copied()),
                expected: is_expected,
            });
        }
        if reach.iter().any(|r| r.days_heard > 0) {
            accounts_heard += 1;
        }
        if declared.is_none() {
            undeclared.push(account.to_string());
        }
        by_account.push(AccountReach {
            account: account.to_string(),
            name: declared.and_then(|a| a.name.clone()),
            ou: declared.and_then(|a| a.ou.clone()),
            declared: declared.is_some(),
            regions: reach,
        });
    }
    let days = usize::try_from((last - first).num_days() + 1).unwrap_or(0);
    Some(OrgCoverage { days, accounts_heard, accounts: by_account.len(), expected_heard, expected, silent, undeclared, by_account })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn h(account: &str, region: &str, d: &str) -> Heard {
        Heard { account: account.into(), region: region.into(), day: day(d) }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_record_is_the_same_whenever_it_is_written_and_reads_back() {
        let x = h("111122223333", "eu-west-1", "2026-11-20");
        let r = x.record();
        assert_eq!(r.kind, "heard");
        assert_eq!(r.time, t("2026-11-20T00:00:00Z"));
        assert_eq!(Heard::from_body(&r.body), Some(x.clone()));
        assert_eq!(r.to_bytes(), h("111122223333", "eu-west-1", "2026-11-20").record().to_bytes());
        assert_eq!(Heard::from_body(&json!({"account": "1", "region": "r"})), None);
    }

    #[test]
    fn coverage_sets_what_was_heard_against_what_the_policy_lists() {
        let policy = Policy::from_toml(
            r#"
[organization]
regions = ["us-east-1", "eu-west-1"]
[accounts."111122223333"]
name = "ehr-prod"
ou = "Workloads"
[accounts."444455556666"]
name = "sandbox"
ou = "Sandbox"
regions = ["us-east-1"]
[accounts."777788889999"]
name = "logging"
"#,
        )
        .unwrap();
        let heard = [
            h("111122223333", "us-east-1", "2026-11-19"),
            h("111122223333", "us-east-1", "2026-11-20"),
            h("444455556666", "us-east-1", "2026-11-20"),
            h("444455556666", "ap-south-1", "2026-11-20"),
            h("999999999999", "us-east-1", "2026-11-20"),
            // Outside the period.
            h("111122223333", "eu-west-1", "2026-11-22"),
        ];
        let c = coverage(&heard, &policy, t("2026-11-19T00:00:00Z"), t("2026-11-21T00:00:00Z")).expect("coverage");
        assert_eq!(c.days, 2);
        assert_eq!((c.accounts_heard, c.accounts), (3, 4));
        // Expected: 1111 × 2 regions, 4444 × 1, 7777 × 2.
        assert_eq!((c.expected_heard, c.expected), (2, 5));
        assert_eq!(c.silent, ["111122223333 eu-west-1", "777788889999 eu-west-1", "777788889999 us-east-1"]);
        assert_eq!(c.undeclared, ["999999999999"]);
        let prod = &c.by_account[0];
        assert_eq!((prod.name.as_deref(), prod.ou.as_deref(), prod.declared), (Some("ehr-prod"), Some("Workloads"), true));
        let us = prod.regions.iter().find(|r| r.region == "us-east-1").unwrap();
        assert_eq!((us.days_heard, us.last_heard, us.expected), (2, Some(day("2026-11-20")), true));
        let sandbox = &c.by_account[1];
        let extra = sandbox.regions.iter().find(|r| r.region == "ap-south-1").unwrap();
        assert_eq!((extra.days_heard, extra.expected), (1, false), "heard from a region the policy does not expect");
        assert!(coverage(&[], &Policy::default(), t("2026-11-19T00:00:00Z"), t("2026-11-21T00:00:00Z")).is_none());
    }
}
