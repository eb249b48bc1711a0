//! Where a resource lives: its account and region.
//!
//! A resource id is unique only within an account and region (a security group id, a volume
//! id, a key id), so a live item or an API call is matched to a state's entry only where the
//! two can be the same place: every part both know agrees. What is not known matches anything:
//! an ARN without a region (IAM, S3, CloudFront) or without an account (an S3 bucket), an entry
//! without an ARN, an event that names neither, AWS Config's `global` region.

/// An account and a region, each known or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place<'a> {
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
}

impl<'a> Place<'a> {
    /// Nothing known: agrees with every place.
    pub const ANYWHERE: Place<'static> = Place { account: None, region: None };

    /// A place from what a source says; empty strings and `global` are not known.
    pub fn new(account: Option<&'a str>, region: Option<&'a str>) -> Place<'a> {
        let known = |s: Option<&'a str>| s.filter(|s| !s.is_empty() && *s != "global");
        Place { account: known(account), region: known(region) }
    }

    /// The account and region an ARN names (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`); not an
    /// ARN: anywhere.
    pub fn of_arn(arn: &'a str) -> Place<'a> {
        let mut parts = arn.splitn(6, ':');
        if parts.next() != Some("arn") {
            return Place::ANYWHERE;
        }
        let (_partition, _service, region, account) = (parts.next(), parts.next(), parts.next(), parts.next());
        Place::new(account, region)
    }

    /// Can both be the same place: no part that both know differs.
    pub fn agrees(self, other: Place<'_>) -> bool {
        fn same(a: Option<&str>, b: Option<&str>) -> bool {
            !matches!((a, b), (Some(x), Some(y)) if x != y)
        }
        same(self.account, other.account) && same(self.region, other.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_names_its_account_and_region_and_what_it_leaves_out_is_unknown() {
        let sg = Place::of_arn("arn:aws:ec2:us-east-1:111122223333:security-group/sg-1");
        assert_eq!(sg, Place { account: Some("111122223333"), region: Some("us-east-1") });
        assert_eq!(Place::of_arn("arn:aws:iam::111122223333:role/r"), Place { account: Some("111122223333"), region: None });
        assert_eq!(Place::of_arn("arn:aws:s3:::bucket"), Place::ANYWHERE);
        assert_eq!(Place::of_arn("sg-1"), Place::ANYWHERE);
        assert_eq!(Place::new(Some("111122223333"), Some("global")).region, None);
    }

    #[test]
    fn places_agree_unless_a_part_both_know_differs() {
        let a = Place::new(Some("111122223333"), Some("us-east-1"));
        assert!(a.agrees(a));
        assert!(a.agrees(Place::ANYWHERE) && Place::ANYWHERE.agrees(a));
        assert!(a.agrees(Place::new(Some("111122223333"), None)));
        assert!(!a.agrees(Place::new(Some("444455556666"), Some("us-east-1"))));
        assert!(!a.agrees(Place::new(Some("111122223333"), Some("eu-west-1"))));
        assert!(!a.agrees(Place::new(None, Some("eu-west-1"))));
    }
}
