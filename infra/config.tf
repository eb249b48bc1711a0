# What the functions are told: the policy (DRIFTWATCH_POLICY) and the EventBridge patterns.
# Only variables and files under infra/ are used here, so tests/tests/infra.rs can evaluate
# these locals with the example variables and check them (the policy parses as the core's
# Policy; each pattern, on moto's EventBridge, delivers its function's events/ payloads and
# no other function's).

locals {
  # State object keys: <prefix>*.tfstate, and the same under workspaces (env:/<workspace>/…).
  state_key_globs = distinct(flatten([
    for p in var.state_key_prefixes : ["${p}*.tfstate", "env:/*/${p}*.tfstate"]
  ]))

  # crates/core/src/policy.rs: unknown keys are errors. JSON arrays of strings are TOML arrays.
  # [watcher] comes last: functions.tf appends its `keys` to it.
  policy_toml = join("\n", [
    "regulated_tag = ${jsonencode(var.regulated_tag)}",
    "",
    "[pipeline]",
    "principals = ${jsonencode(var.pipeline_principals)}",
    "session_names = ${jsonencode(var.pipeline_session_names)}",
    "only = ${var.pipeline_only}",
    "break_glass = ${jsonencode(var.break_glass_roles)}",
    "",
    "[controls]",
    "trusted_accounts = ${jsonencode(var.trusted_accounts)}",
    "audit_log_buckets = ${jsonencode(concat(["${var.name_prefix}-evidence-*"], var.audit_log_buckets))}",
    "",
    "[state]",
    "buckets = ${jsonencode(var.state_buckets)}",
    "lock_tables = ${jsonencode(var.lock_tables)}",
    "keys = ${jsonencode(local.state_key_globs)}",
    "roles = [${join(", ", [for r in var.state_roles : "{ buckets = ${jsonencode(r.buckets)}, role_arn = ${jsonencode(r.role_arn)}, external_id = ${jsonencode(r.external_id)} }"])}]",
    "",
    "[locks]",
    "stale_after_minutes = { ${join(", ", [for k, v in var.lock_stale_after_minutes : "${jsonencode(k)} = ${v}"])} }",
    "",
    "[exceptions]",
    "max_days = ${var.exception_max_days}",
    "require_requester = true",
    "",
    # An Organization: its regions, units and accounts (unset attributes are left out).
    "[organization]",
    "regions = ${jsonencode(var.organization_regions)}",
    "",
    join("\n", flatten([for ou, o in var.organizational_units : concat(["[units.${jsonencode(ou)}]"], [for k, v in o : "${k} = ${jsonencode(v)}" if v != null], [""])])),
    join("\n", flatten([for id, a in var.accounts : concat(["[accounts.${jsonencode(id)}]"], [for k, v in a : "${k} = ${jsonencode(v)}" if v != null], [""])])),
    # driftwatch's own resources: a write to the exceptions table is exception.changed, and
    # disabling or changing the others is watcher.tampered (crates/core/src/detect/self_defence.rs).
    "[watcher]",
    "exceptions_table = ${jsonencode("${var.name_prefix}-exceptions")}",
    "rules = ${jsonencode(concat([for k, v in local.event_rules : "${var.name_prefix}-${k}"], [for k, v in local.schedules : "${var.name_prefix}-${k}-schedule"], [for k in local.heartbeats : "${var.name_prefix}-${k}-heartbeat"], [for k, v in local.guard_rules : "${var.name_prefix}-${k}"]))}",
    "topics = ${jsonencode(["${var.name_prefix}-alerts", "${var.name_prefix}-notices", "${var.name_prefix}-heartbeat"])}",
    "functions = ${jsonencode([for f in ["state-watcher", "trail-watcher", "config-watcher", "lock-watcher", "sweeper", "reporter"] : "${var.name_prefix}-${f}"])}",
    "trails = ${jsonencode([local.trail_name])}",
    "buckets = ${jsonencode(["${var.name_prefix}-evidence-*"])}",
    "config_recorder = true",
    # The heartbeat (topics.tf): the sweeper tags this topic each run; each observer must see it.
    "heartbeat_topic = ${jsonencode("${var.name_prefix}-heartbeat")}",
    "heartbeat_observers = ${jsonencode(concat(["trail-watcher"], var.heartbeat_through_config ? ["config-watcher"] : []))}",
    "silent_after_minutes = ${var.silent_after_minutes}",
    "",
  ])

  # The guard: the calls that blind the watcher, matched by EventBridge itself and sent straight
  # to the operations topic — a path through no function and none of the rules above, so
  # disabling the trail-watcher's rules (or the trail-watcher) still reaches a person. Each
  # guard rule is itself one of the watcher's rules: disabling one is caught by the others and
  # by the trail-watcher (watcher.tampered).
  guard_rules = {
    "guard-rules" = {
      description = "watcher.tampered: a driftwatch EventBridge rule disabled, deleted or changed"
      pattern = {
        source        = ["aws.events"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource       = ["events.amazonaws.com"]
          eventName         = ["DisableRule", "DeleteRule", "PutRule"]
          requestParameters = { name = [{ prefix = "${var.name_prefix}-" }] }
        }
      }
    }
    "guard-targets" = {
      description = "watcher.tampered: targets of a driftwatch EventBridge rule removed or changed"
      pattern = {
        source        = ["aws.events"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource       = ["events.amazonaws.com"]
          eventName         = ["RemoveTargets", "PutTargets"]
          requestParameters = { rule = [{ prefix = "${var.name_prefix}-" }] }
        }
      }
    }
    "guard-functions" = {
      description = "watcher.tampered: a driftwatch function changed, throttled, deleted or cut from its stream"
      pattern = {
        source        = ["aws.lambda"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource = ["lambda.amazonaws.com"]
          eventName = [
            "UpdateFunctionCode20150331v2", "UpdateFunctionConfiguration20150331v2", "DeleteFunction20150331",
            "PutFunctionConcurrency20171031", "DeleteFunctionConcurrency20171031", "RemovePermission20150331v2",
          ]
          requestParameters = { functionName = [{ prefix = "${var.name_prefix}-" }, { wildcard = "*:function:${var.name_prefix}-*" }] }
        }
      }
    }
    "guard-subscriptions" = {
      description = "watcher.tampered: a subscription to a driftwatch topic removed or its filter changed"
      pattern = {
        source        = ["aws.sns"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource       = ["sns.amazonaws.com"]
          eventName         = ["Unsubscribe", "SetSubscriptionAttributes"]
          requestParameters = { subscriptionArn = [{ wildcard = "arn:aws:sns:*:*:${var.name_prefix}-*" }] }
        }
      }
    }
    "guard-topics" = {
      description = "watcher.tampered: a driftwatch topic deleted, its policy, key or permissions changed"
      pattern = {
        source        = ["aws.sns"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource       = ["sns.amazonaws.com"]
          eventName         = ["DeleteTopic", "SetTopicAttributes", "RemovePermission"]
          requestParameters = { topicArn = [{ wildcard = "arn:aws:sns:*:*:${var.name_prefix}-*" }] }
        }
      }
    }
    "guard-keys" = {
      description = "watcher.tampered: a driftwatch KMS key disabled, scheduled for deletion or its policy changed"
      pattern = {
        source        = ["aws.kms"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource = ["kms.amazonaws.com"]
          eventName   = ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"]
          # These three take a key id or key ARN, never an alias.
          requestParameters = { keyId = [aws_kms_key.main.key_id, aws_kms_key.main.arn, aws_kms_key.signing.key_id, aws_kms_key.signing.arn] }
        }
      }
    }
    "guard-trail-recorder" = {
      description = "watcher.tampered: the trail stopped or changed, the Config recorder stopped or deleted"
      pattern = {
        source        = ["aws.cloudtrail", "aws.config"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
          eventName = [
            "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
            "StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel",
          ]
        }
      }
    }
  }

  # One rule per entry; `function` is the target. Rules of one function never overlap (an
  # event is delivered once). What reaches the watcher from any account (modules/patterns,
  # shared with modules/member), then the rules about the watcher's own resources.
  event_rules = merge(
    {
      for key, rule in module.patterns.rules : key => merge(rule, {
        function = key == "config-items" ? "config-watcher" : key == "state-objects" ? "state-watcher" : "trail-watcher"
      })
    },
    {
      "trail-watcher-self" = {
        function = "trail-watcher"
        # EventBridge's DisableRule, DeleteRule, RemoveTargets, PutTargets and PutRule are catalog
        # calls (aws_cloudwatch_event_rule): trail-events delivers them, to the same function.
        description = "CloudTrail calls that blind the watcher and are not catalog calls (its subscriptions, event source mappings; its rules' and the Config recorder's are catalog calls): watcher.tampered"
        pattern = {
          source        = ["aws.sns", "aws.lambda"]
          "detail-type" = ["AWS API Call via CloudTrail"]
          detail = {
            eventSource = ["sns.amazonaws.com", "lambda.amazonaws.com"]
            eventName = [
              "Unsubscribe", "SetSubscriptionAttributes",
              "UpdateEventSourceMapping20150331", "DeleteEventSourceMapping20150331",
            ]
            userIdentity = { type = [{ "anything-but" = "Root" }] }
          }
        }
      }
      "trail-exceptions-items" = {
        function    = "trail-watcher"
        description = "CloudTrail DynamoDB data events on the exceptions table: exception.changed"
        pattern = {
          source        = ["aws.dynamodb"]
          "detail-type" = ["AWS API Call via CloudTrail"]
          detail = {
            eventSource       = ["dynamodb.amazonaws.com"]
            eventName         = ["PutItem", "UpdateItem", "DeleteItem"]
            requestParameters = { tableName = ["${var.name_prefix}-exceptions"] }
            userIdentity      = { type = [{ "anything-but" = "Root" }] }
          }
        }
      }
      "member-heartbeat" = {
        function    = "trail-watcher"
        description = "The member accounts' hourly heartbeats (infra/modules/member): each account and region forwarding is heard, quiet or not (the report's organisation coverage)"
        pattern = {
          source        = ["aws.events"]
          "detail-type" = ["Scheduled Event"]
          resources     = [{ suffix = ":rule/${var.name_prefix}-forward-heartbeat" }]
        }
      }
      "trail-lock-items" = {
        function    = "trail-watcher"
        description = "CloudTrail DynamoDB data events on the lock tables (lock taken, released, forced)"
        pattern = {
          source        = ["aws.dynamodb"]
          "detail-type" = ["AWS API Call via CloudTrail"]
          detail = {
            eventSource       = ["dynamodb.amazonaws.com"]
            eventName         = ["PutItem", "DeleteItem"]
            requestParameters = { tableName = var.lock_tables }
            userIdentity      = { type = [{ "anything-but" = "Root" }] }
          }
        }
      }
    },
  )

  # Scheduled functions: no pattern, a schedule.
  schedules = {
    "sweeper"  = var.sweeper_schedule
    "reporter" = var.report_schedule
  }

  # The watchers' heartbeats (events.tf, alarms.tf).
  heartbeats = toset(["state-watcher", "trail-watcher", "config-watcher", "lock-watcher"])
}

# The patterns of what reaches the watcher from any account (shared with modules/member).
module "patterns" {
  source          = "./modules/patterns"
  state_buckets   = var.state_buckets
  state_key_globs = local.state_key_globs
}
