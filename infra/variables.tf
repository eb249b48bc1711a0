# ---------------------------------------------------------------- naming and packaging

variable "name_prefix" {
  description = "Prefix of every resource name (functions are <prefix>-<function>)."
  type        = string
  default     = "driftwatch"
}

variable "environment" {
  description = "Deployment name shown in alerts (DRIFTWATCH_ENVIRONMENT), e.g. prod."
  type        = string
  default     = "prod"
}

variable "package_dir" {
  description = "Directory holding <function>/bootstrap.zip from `cargo lambda build --release --arm64 --output-format zip`. Empty: target/lambda of this repository."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- what is watched

variable "state_buckets" {
  description = "S3 buckets of the Terraform S3 backends to watch (names)."
  type        = list(string)
}

variable "state_key_prefixes" {
  description = "Key prefixes of the state objects in the state buckets (\"\" = any key ending in .tfstate)."
  type        = list(string)
  default     = [""]
}

variable "lock_tables" {
  description = "DynamoDB lock tables of the backends (names). Each must have a stream (NEW_AND_OLD_IMAGES) enabled."
  type        = list(string)
  default     = []
}

variable "state_kms_key_arns" {
  description = "KMS keys that encrypt the state buckets and lock tables (the watchers decrypt with them)."
  type        = list(string)
  default     = []
}

variable "state_roles" {
  description = "State buckets kept in other accounts, each read through a role there that the state-watcher, lock-watcher and sweeper assume (sts:AssumeRole with external_id; \"\" for none). The role needs s3:GetObject, s3:GetObjectVersion, s3:ListBucket and s3:ListBucketVersions on its buckets."
  type = list(object({
    role_arn    = string
    buckets     = list(string)
    external_id = string
  }))
  default = []
}

variable "config_aggregator_name" {
  description = "AWS Config aggregator (in this account and region) the sweeper's reconcile reads through: the states of an Organization's accounts and regions. Empty: this account's own AWS Config, and states read through state_roles are not reconciled."
  type        = string
  default     = ""
}

variable "manage_state_bucket_notifications" {
  description = "Manage the state buckets' notification configuration (EventBridge on, .tflock objects to lock-watcher). It REPLACES any notification configuration the buckets have."
  type        = bool
  default     = true
}

variable "config_delivery_bucket" {
  description = "S3 bucket where AWS Config delivers oversized configuration items (config-watcher reads them). Empty: none."
  type        = string
  default     = ""
}

variable "pipeline_only" {
  description = "The account is pipeline-only (production): any successful write by anyone but the pipeline or an AWS service is change.console / change.out_of_band, on resources in no state too."
  type        = bool
  default     = false
}

variable "break_glass_roles" {
  description = "ARN globs of break-glass roles: their changes are still findings, at low severity, with the actor."
  type        = list(string)
  default     = []
}

variable "audit_log_buckets" {
  description = "Globs of the buckets that hold audit logs (other trails, access logs) besides the evidence bucket: a lifecycle rule expiring them within a year is control.audit_weakened."
  type        = list(string)
  default     = []
}

variable "trusted_accounts" {
  description = "The organisation's accounts: sharing a snapshot, an AMI or a resource with them is not control.public_exposure (any other account, or public, is)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.trusted_accounts : can(regex("^[0-9]{12}$", a))])
    error_message = "trusted_accounts: 12-digit account ids."
  }
}

variable "organization_id" {
  description = "The AWS Organization (o-...) whose member accounts forward their events to this watcher (infra/modules/member): the default event bus accepts PutEvents from its accounts only. Empty: one account."
  type        = string
  default     = ""

  validation {
    condition     = var.organization_id == "" || can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id: the Organization's id, o- followed by 10 to 32 lower-case letters or digits."
  }
}

variable "accounts" {
  description = "The Organization's accounts by id (the policy's [accounts.\"ID\"]): name and organisational unit (alerts and reports show them), what differs there (pipeline_only, pipeline_principals, regulated_tag), and the regions it is watched in when not organization_regions (the report's coverage)."
  type = map(object({
    name                = optional(string)
    ou                  = optional(string)
    pipeline_only       = optional(bool)
    pipeline_principals = optional(list(string))
    regulated_tag       = optional(string)
    regions             = optional(list(string))
  }))
  default = {}

  validation {
    condition     = alltrue([for id, a in var.accounts : can(regex("^[0-9]{12}$", id))])
    error_message = "accounts: keyed by 12-digit account id."
  }
}

variable "organizational_units" {
  description = "What differs in an organisational unit's accounts (the policy's [units.\"OU\"]: pipeline_only, pipeline_principals, regulated_tag). When any is given, every account's ou must be one of them."
  type = map(object({
    pipeline_only       = optional(bool)
    pipeline_principals = optional(list(string))
    regulated_tag       = optional(string)
  }))
  default = {}
}

variable "organization_regions" {
  description = "The regions the member module is deployed in: the report's coverage lists every account of `accounts` and region no event came from."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.organization_regions : can(regex("^[a-z]+(-[a-z0-9]+){2,}$", r))])
    error_message = "organization_regions: region names such as eu-west-1."
  }
}

variable "organization_trail" {
  description = "Make the watcher's trail the organisation trail (every member account's calls; deploy in the management account or a delegated administrator). Member accounts need a trail for EventBridge to receive their CloudTrail calls."
  type        = bool
  default     = false

  validation {
    condition     = !var.organization_trail || var.organization_id != ""
    error_message = "organization_trail needs organization_id."
  }
}

variable "pipeline_principals" {
  description = "ARN globs of the pipeline's principals (the caller ARN or its session issuer's role ARN). Only these are the pipeline."
  type        = list(string)

  validation {
    condition     = length(var.pipeline_principals) > 0
    error_message = "Name the pipeline's role ARNs: a session name alone identifies nobody (anyone may assume a role under any session name)."
  }
}

variable "pipeline_session_names" {
  description = "Role session name globs that narrow pipeline_principals to the pipeline's sessions (e.g. GitHubActions); they never make another principal the pipeline."
  type        = list(string)
  default     = []
}

variable "regulated_tag" {
  description = "KEY=VALUE of the tag that marks regulated data (\"none\" disables)."
  type        = string
  default     = "data-classification=phi"

  validation {
    condition     = var.regulated_tag == "none" || can(regex("^[^=]+=.*$", var.regulated_tag))
    error_message = "regulated_tag must be KEY=VALUE or \"none\"."
  }
}

variable "lock_stale_after_minutes" {
  description = "Minutes a lock may be held, by Terraform operation (apply, plan) and default."
  type        = map(number)
  default = {
    default = 60
    apply   = 120
    plan    = 30
  }
}

variable "exception_max_days" {
  description = "The longest an exception may last (days)."
  type        = number
  default     = 90
}

# ---------------------------------------------------------------- evidence and schedules

variable "evidence_retention_days" {
  description = "Object Lock COMPLIANCE default retention of the evidence bucket (days). HIPAA documentation: 6 years."
  type        = number
  default     = 2192

  validation {
    condition     = var.evidence_retention_days >= 1
    error_message = "evidence_retention_days must be at least 1."
  }
}

variable "report_schedule" {
  description = "EventBridge schedule expression of the compliance report."
  type        = string
  default     = "cron(0 6 1 * ? *)"
}

variable "silent_after_minutes" {
  description = "watcher.silent: the alarm fires when a function has not run for this long, and the sweeper raises the finding when a watcher has seen none of its heartbeats for this long; longer than the sweeper's schedule period."
  type        = number
  default     = 45
  validation {
    condition     = var.silent_after_minutes >= 30
    error_message = "silent_after_minutes: at least 30 (two 15-minute periods)."
  }
}

variable "heartbeat_through_config" {
  description = "The config-watcher must see each heartbeat too (AWS Config records AWS::SNS::Topic in this account and region); false when the recorder leaves SNS topics out."
  type        = bool
  default     = true
}

variable "sweeper_schedule" {
  description = "EventBridge schedule expression of the sweeper (stale locks, notices, digests, reconcile)."
  type        = string
  default     = "rate(15 minutes)"
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups (days)."
  type        = number
  default     = 365
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the event-driven functions (the sweeper and reporter always have 1)."
  type        = number
  default     = 10
}

# ---------------------------------------------------------------- who is told

variable "alert_subscriptions" {
  description = "Subscriptions of the security alerts topic: protocol (email, https, sqs, lambda, …), endpoint, and the severities delivered."
  type = list(object({
    protocol   = string
    endpoint   = string
    severities = optional(list(string), ["critical", "high"])
  }))
  default = []
}

variable "notice_emails" {
  description = "Email addresses subscribed to exception expiry notices."
  type        = list(string)
  default     = []
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the operations topic (function errors, DLQ depth)."
  type        = list(string)
  default     = []
}

variable "chatbot_slack" {
  description = "AWS Chatbot Slack channel for alerts (the workspace must already be authorised in the Chatbot console). Null: none."
  type = object({
    team_id    = string
    channel_id = string
  })
  default = null
}

variable "backfill_concurrency" {
  description = "Most trail-watcher instances reading backfilled log files at once (the backfill queue's event source mapping; 2 to 1000)."
  type        = number
  default     = 10
  validation {
    condition     = var.backfill_concurrency >= 2 && var.backfill_concurrency <= 1000
    error_message = "backfill_concurrency must be between 2 and 1000 (Lambda's limits for an SQS event source's maximum concurrency)."
  }
}
