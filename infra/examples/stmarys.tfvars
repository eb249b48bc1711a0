# The St Mary's EHR estate of samples/ and events/ (the same policy as events/policy.toml).
# terraform plan -var-file=examples/stmarys.tfvars
environment = "prod"

state_buckets = ["stmarys-ehr-tfstate"]
lock_tables   = ["stmarys-terraform-locks"]
# A workload account keeps its own state: read through a role there (sts:AssumeRole).
# The Organization's aggregator: the sweeper reconciles every account's states through it.
config_aggregator_name = "stmarys-organization"
state_roles            = [{ role_arn = "arn:aws:iam::444455556666:role/driftwatch-state-read", buckets = ["stmarys-imaging-tfstate"], external_id = "driftwatch-stmarys" }]

pipeline_principals    = ["arn:aws:iam::123456789012:role/terraform-ci", "arn:aws:sts::123456789012:assumed-role/terraform-ci/*"]
pipeline_session_names = ["GitHubActions"]

regulated_tag = "data-classification=phi"

lock_stale_after_minutes = {
  default = 60
  apply   = 120
  plan    = 30
}

alert_subscriptions = [
  { protocol = "email", endpoint = "security-oncall@stmarys.example", severities = ["critical", "high"] },
]
notice_emails = ["platform-team@stmarys.example"]
alarm_emails  = ["platform-oncall@stmarys.example"]

# The organisation's disaster-recovery account: sharing snapshots with it is not an exposure.
trusted_accounts = ["210987654321"]
# Another trail's bucket, outside driftwatch.
audit_log_buckets = ["stmarys-*-trail"]
