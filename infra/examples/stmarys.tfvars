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

# The Organization's accounts, units and regions: alerts and reports name them, each unit and
# account may differ, and the report lists an account-region no event came from.
organization_regions = ["us-east-1", "eu-west-1"]
organizational_units = {
  "Workloads/Prod" = { pipeline_only = true }
  "Sandbox"        = { regulated_tag = "none" }
}
accounts = {
  "123456789012" = { name = "ehr-prod", ou = "Workloads/Prod" }
  "444455556666" = { name = "ehr-imaging", ou = "Workloads/Prod", pipeline_principals = ["arn:aws:iam::444455556666:role/terraform-ci"] }
  "777788889999" = { name = "sandbox", ou = "Sandbox", regions = ["us-east-1"] }
}
