variable "name_prefix" {
  description = "Prefix of every name this module creates (the same as the watcher's)."
  type        = string
  default     = "driftwatch"
}

variable "watcher_account_id" {
  description = "The account the watcher (infra/) is deployed in: events go to its default event bus."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.watcher_account_id))
    error_message = "watcher_account_id: a 12-digit account id."
  }
}

variable "watcher_region" {
  description = "The region the watcher is deployed in."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.watcher_region))
    error_message = "watcher_region: an AWS region name such as us-east-1."
  }
}

variable "state_buckets" {
  description = "Terraform state buckets in this account and region: their Object Created/Deleted events (EventBridge notifications must be on) are forwarded to the state-watcher."
  type        = list(string)
  default     = []
}

variable "state_read_role_external_id" {
  description = "Create the role through which the watcher reads this account's state_buckets (list it in the watcher's state_roles with this external id). Set it in one region's instance only: the role is global. Empty: no role."
  type        = string
  default     = ""
}

variable "watcher_name_prefix" {
  description = "name_prefix of the watcher (infra/): its state-watcher, lock-watcher and sweeper roles may assume the state read role."
  type        = string
  default     = "driftwatch"
}

variable "authorize_config_aggregator" {
  description = "Authorise the watcher's AWS Config aggregator (watcher_account_id, watcher_region) to collect this account's configuration items from this region. Not needed when the aggregator is organisation-wide."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags of every resource this module creates."
  type        = map(string)
  default     = {}
}
