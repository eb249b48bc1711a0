# The EventBridge patterns of what reaches the watcher from any account: the catalog's write
# calls, the root user's write calls, console sign-ins, AWS Config item changes and the state
# buckets' objects. One source for the watcher's own rules (infra/config.tf) and for the rules
# that forward a member account's events to it (infra/modules/member). No resources: only
# values.
#
# Rules never overlap: an event matches one rule at most, so it is delivered (or forwarded) once.

terraform {
  required_version = ">= 1.10"
}

variable "state_buckets" {
  description = "Terraform state buckets; empty: no state-object rules."
  type        = list(string)
}

variable "state_key_globs" {
  description = "Globs of the state objects' keys (and their .tflock objects); empty: every object of the state buckets."
  type        = list(string)
  default     = []
}

locals {
  # The write APIs of crates/core/catalog/cloudtrail.toml, by EventBridge source (the infra
  # test checks this file against the catalog).
  cloudtrail_calls = jsondecode(file("${path.module}/../../patterns/cloudtrail-calls.json"))
}

output "rules" {
  description = "Rule key => { description, pattern }: trail-<service>, trail-root, trail-signin, config-items and, with state buckets, state-objects and trail-state-objects."
  value = merge(
    {
      for source, calls in local.cloudtrail_calls : "trail-${calls.name}" => {
        description = "CloudTrail write calls of ${calls.eventSource} that the catalog or the control catalog knows"
        pattern = {
          source        = [source]
          "detail-type" = ["AWS API Call via CloudTrail"]
          detail = {
            eventSource = [calls.eventSource]
            eventName   = calls.eventNames
            # The root user's calls have a rule of their own (trail-root).
            userIdentity = { type = [{ "anything-but" = "Root" }] }
          }
        }
      }
    },
    {
      "trail-root" = {
        description = "Every write call of the root user (control.identity_risk)"
        pattern = {
          "detail-type" = ["AWS API Call via CloudTrail"]
          detail = {
            userIdentity = { type = ["Root"] }
            readOnly     = [false]
          }
        }
      }
      "trail-signin" = {
        description = "Console sign-ins (control.identity_risk: a sign-in without MFA)"
        pattern = {
          source        = ["aws.signin"]
          "detail-type" = ["AWS Console Sign In via CloudTrail"]
        }
      }
      "config-items" = {
        description = "AWS Config configuration item changes (oversized ones included)"
        pattern = {
          source        = ["aws.config"]
          "detail-type" = ["Config Configuration Item Change"]
          detail = {
            messageType = ["ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification"]
          }
        }
      }
    },
    length(var.state_buckets) == 0 ? {} : {
      "trail-state-objects" = {
        description = "CloudTrail S3 data events on the state buckets (state and .tflock writes)"
        pattern = {
          source        = ["aws.s3"]
          "detail-type" = ["AWS API Call via CloudTrail"]
          detail = {
            eventSource       = ["s3.amazonaws.com"]
            eventName         = ["PutObject", "DeleteObject", "CopyObject", "CompleteMultipartUpload"]
            requestParameters = { bucketName = var.state_buckets }
            userIdentity      = { type = [{ "anything-but" = "Root" }] }
          }
        }
      }
      "state-objects" = {
        description = "Terraform state objects written or deleted in the state buckets"
        pattern = {
          source        = ["aws.s3"]
          "detail-type" = ["Object Created", "Object Deleted"]
          detail = merge(
            { bucket = { name = var.state_buckets } },
            length(var.state_key_globs) == 0 ? {} : { object = { key = [for k in var.state_key_globs : { wildcard = k }] } },
          )
        }
      }
    },
  )
}
