# A member account of the Organization, one region: its CloudTrail calls, AWS Config changes
# and Terraform state writes go to the watcher's default event bus (infra/, whose bus policy
# accepts the Organization's accounts only). Instantiate it once per account and enabled
# region, us-east-1 included: IAM, STS and Organizations send their events there only.
#
# The patterns are the watcher's own (modules/patterns: the catalog's write calls, the root
# user's calls, sign-ins, Config changes, state objects); nothing else leaves the account.
# Failed deliveries wait 14 days in this account's dead-letter queue.

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  watcher_bus = "arn:${local.partition}:events:${var.watcher_region}:${var.watcher_account_id}:event-bus/default"

  # The watcher's own patterns (modules/patterns): a call forwarded here is one a rule of the
  # watcher delivers. Its rules about its own tables and subscriptions have no counterpart here.
  forward_rules = module.patterns.rules
}

module "patterns" {
  source        = "../patterns"
  state_buckets = var.state_buckets
}

resource "aws_iam_role" "forward" {
  name        = "${var.name_prefix}-forward-${local.region}"
  description = "EventBridge forwards this account's events to the driftwatch watcher's bus"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "forward" {
  name = "${var.name_prefix}-forward"
  role = aws_iam_role.forward.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PutOnTheWatchersBus"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = [local.watcher_bus]
    }]
  })
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name_prefix}-forward-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = merge(var.tags, { purpose = "Events that could not be forwarded to the driftwatch watcher" })
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ForwardingRules"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dlq.arn
      Condition = { ArnLike = { "aws:SourceArn" = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name_prefix}-forward-*" } }
    }]
  })
}

resource "aws_cloudwatch_event_rule" "forward" {
  for_each = local.forward_rules

  name          = "${var.name_prefix}-forward-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each = local.forward_rules

  rule     = aws_cloudwatch_event_rule.forward[each.key].name
  arn      = local.watcher_bus
  role_arn = aws_iam_role.forward.arn

  retry_policy {
    maximum_event_age_in_seconds = 21600
    maximum_retry_attempts       = 20
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

# The heartbeat: every hour a scheduled event of this account and region goes to the watcher,
# so its report knows this account and region still forward, changes or none (the
# organisation coverage). The watcher's member-heartbeat rule delivers it to its trail-watcher.
resource "aws_cloudwatch_event_rule" "heartbeat" {
  name                = "${var.name_prefix}-forward-heartbeat"
  description         = "driftwatch: this account and region still forward to the watcher"
  schedule_expression = "rate(1 hour)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "heartbeat" {
  rule     = aws_cloudwatch_event_rule.heartbeat.name
  arn      = local.watcher_bus
  role_arn = aws_iam_role.forward.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 20
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

# The watcher's Config aggregator may collect this account's items from this region.
resource "aws_config_aggregate_authorization" "watcher" {
  count = var.authorize_config_aggregator ? 1 : 0

  account_id = var.watcher_account_id
  # `region` is the aggregator's region (AWS provider 5.x; 6.x calls it authorized_aws_region
  # and still reads this name).
  region = var.watcher_region
  tags   = var.tags
}

# The watcher reads this account's Terraform state (its state-watcher, lock-watcher and
# sweeper, through sts:AssumeRole with the external id): the objects, their versions and the
# listings of state_buckets, nothing else.
resource "aws_iam_role" "state_read" {
  count       = var.state_read_role_external_id != "" ? 1 : 0
  name        = "${var.name_prefix}-state-read"
  description = "The driftwatch watcher reads this account's Terraform state"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${var.watcher_account_id}:root" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "sts:ExternalId" = var.state_read_role_external_id }
        ArnEquals    = { "aws:PrincipalArn" = [for f in ["state-watcher", "lock-watcher", "sweeper"] : "arn:${local.partition}:iam::${var.watcher_account_id}:role/${var.watcher_name_prefix}-${f}"] }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "state_read" {
  count = var.state_read_role_external_id != "" ? 1 : 0
  name  = "${var.name_prefix}-state-read"
  role  = aws_iam_role.state_read[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "StateObjectsAndVersions"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion"]
        Resource = [for b in var.state_buckets : "arn:${local.partition}:s3:::${b}/*"]
      },
      {
        Sid      = "StateListings"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:ListBucketVersions"]
        Resource = [for b in var.state_buckets : "arn:${local.partition}:s3:::${b}"]
      },
    ]
  })
}
