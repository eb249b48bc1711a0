//! Backfill: which of a trail's existing log files a period covers, and the S3 notification
//! that hands each to the trail watcher (`driftwatch backfill`).
//!
//! CloudTrail delivers a log file under
//! `<prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmdd>T<hhmm>Z_<unique>.json.gz`,
//! the date and time being when the file was delivered (UTC). A period `[from, to)` selects
//! the files delivered in it: the day folders it touches are listed, and each file's own
//! timestamp decides. The notification is the shape S3 sends to a queue, so a backfilled file
//! takes exactly the path of a delivered one.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::json;

/// One CloudTrail log file, from its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// The account whose events the file holds.
    pub account: String,
    /// The organisation id (`o-…`) for an organisation trail.
    pub organization: Option<String>,
    pub region: String,
    /// When CloudTrail delivered the file (minute precision).
    pub delivered: DateTime<Utc>,
}

impl LogFile {
    /// Parse a log file's key; `None` for anything else (digest files, `CloudTrail-Digest/`,
    /// `CloudTrail-Insight/`, folders, other objects).
    pub fn parse(key: &str) -> Option<LogFile> {
        let rest = &key[key.find("AWSLogs/")? + "AWSLogs/".len()..];
        let parts: Vec<&str> = rest.split('/').collect();
        let (organization, parts) = match parts.first() {
            Some(p) if p.starts_with("o-") => (Some(p.to_string()), &parts[1..]),
            _ => (None, &parts[..]),
        };
        let [account, "CloudTrail", region, _yyyy, _mm, _dd, file] = parts else { return None };
        if !(file.ends_with(".json.gz") || file.ends_with(".json")) || !is_account(account) {
            return None;
        }
        // <account>_CloudTrail_<region>_<yyyymmdd>T<hhmm>Z_<unique>
        let stamp = file.strip_prefix(&format!("{account}_CloudTrail_{region}_"))?.split('_').next()?;
        let delivered = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ").ok()?;
        Some(LogFile {
            account: account.to_string(),
            organization,
            region: region.to_string(),
            delivered: Utc.from_utc_datetime(&delivered),
        })
    }
}

/// Twelve digits: an AWS account id.
pub fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A period to replay, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// A period that ends after it starts.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Period, String> {
        if to <= from {
            return Err(format!("the period is empty: --to {} is not after --from {}", to.to_rfc3339(), from.to_rfc3339()));
        }
        Ok(Period { from, to })
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }

    /// The day folders (`yyyy/mm/dd`) that can hold files delivered in the period.
    pub fn days(&self) -> Vec<String> {
        let first = self.from.date_naive();
        // `to` is exclusive: a period ending at midnight does not touch that day.
        let last = (self.to - Duration::nanoseconds(1)).date_naive();
        let mut out = Vec::new();
        let mut d = first;
        while d <= last {
            out.push(d.format("%Y/%m/%d").to_string());
            d = d.succ_opt().unwrap_or(NaiveDate::MAX);
            if d == NaiveDate::MAX {
                break;
            }
        }
        out
    }
}

/// A date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()))
        .map_err(|_| format!("{s:?} is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T10:00:00Z)"))
}

/// An object key as S3 writes it in an event notification (URL-encoded, spaces as `+`).
pub fn notification_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The S3 event notification of one delivered object (`ObjectCreated:Put`), as S3 sends it
/// to an SQS queue: the body of one backfill message.
pub fn notification(bucket: &str, bucket_region: &str, key: &str, size: i64, modified: DateTime<Utc>) -> String {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket_region,
        "eventTime": modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "driftwatch-backfill"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "driftwatch-backfill",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": notification_key(key), "size": size},
        },
    }]})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn log_file_keys_of_account_and_organisation_trails() {
        let k = "cloudtrail/AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/2026/11/02/111122223333_CloudTrail_eu-west-1_20261102T2355Z_Xy1.json.gz";
        let f = LogFile::parse(k).expect("an organisation trail's file");
        assert_eq!(f.account, "111122223333");
        assert_eq!(f.organization.as_deref(), Some("o-abc123def4"));
        assert_eq!(f.region, "eu-west-1");
        assert_eq!(f.delivered, at("2026-11-02T23:55:00Z"));
        let k = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_20261120T1000Z_a.json";
        assert_eq!(LogFile::parse(k).map(|f| f.organization), Some(None));
        for other in [
            "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/20/123456789012_CloudTrail-Digest_us-east-1_t_us-east-1_20261120T1000Z.json.gz",
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/",
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/readme.txt",
            "AWSLogs/12345/CloudTrail/us-east-1/2026/11/20/12345_CloudTrail_us-east-1_20261120T1000Z_a.json.gz",
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_2026112XT1000Z_a.json.gz",
            "prod/network.tfstate",
        ] {
            assert_eq!(LogFile::parse(other), None, "{other}");
        }
    }

    #[test]
    fn a_period_lists_the_days_it_touches_and_keeps_its_end_exclusive() {
        let p = Period::new(at("2026-11-30T22:00:00Z"), at("2026-12-02")).unwrap();
        assert_eq!(p.days(), ["2026/11/30", "2026/12/01"]);
        assert!(p.contains(at("2026-11-30T22:00:00Z")) && !p.contains(at("2026-12-02T00:00:00Z")));
        assert_eq!(Period::new(at("2026-11-01T10:00:00Z"), at("2026-11-01T10:05:00Z")).unwrap().days(), ["2026/11/01"]);
        let e = Period::new(at("2026-11-02"), at("2026-11-01")).unwrap_err();
        assert!(e.contains("not after"), "{e}");
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
        assert_eq!(parse_time("2026-11-01T12:00:00+02:00").unwrap(), at("2026-11-01T10:00:00Z"));
    }

    #[test]
    fn the_notification_is_what_s3_sends_a_queue() {
        let body = notification("trail", "us-east-1", "AWSLogs/a b+c/x.json.gz", 42, at("2026-11-20T10:00:00Z"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let r = &v["Records"][0];
        assert_eq!(r["eventSource"], "aws:s3");
        assert_eq!(r["eventName"], "ObjectCreated:Put");
        assert_eq!(r["eventTime"], "2026-11-20T10:00:00.000Z");
        assert_eq!(r["s3"]["bucket"]["name"], "trail");
        assert_eq!(r["s3"]["object"]["key"], "AWSLogs/a+b%2Bc/x.json.gz");
        assert_eq!(r["s3"]["object"]["size"], 42);
    }
}
