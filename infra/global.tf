# IAM, STS and the other global services send their CloudTrail events to EventBridge in
# us-east-1 only. Deployed in another region, the watcher would never see an IAM change: this
# rule forwards them from us-east-1 to the default bus of the watcher's region, where the
# trail-watcher's IAM rule (local.event_rules) delivers them like any other.

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

locals {
  forward_global = local.region != "us-east-1"
}

resource "aws_iam_role" "forward_global" {
  count       = local.forward_global ? 1 : 0
  name        = "${var.name_prefix}-forward-global-events"
  description = "EventBridge in us-east-1 forwards global services' CloudTrail events to the watcher's region"
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

resource "aws_iam_role_policy" "forward_global" {
  count = local.forward_global ? 1 : 0
  name  = "${var.name_prefix}-forward-global-events"
  role  = aws_iam_role.forward_global[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PutOnTheWatchersBus"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = ["arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"]
    }]
  })
}

resource "aws_cloudwatch_event_rule" "forward_global" {
  provider    = aws.us_east_1
  count       = local.forward_global ? 1 : 0
  name        = "${var.name_prefix}-forward-global-events"
  description = "Global services' CloudTrail calls (IAM, STS, Organizations) to the driftwatch region"
  event_pattern = jsonencode({
    source        = ["aws.iam", "aws.sts", "aws.organizations"]
    "detail-type" = ["AWS API Call via CloudTrail"]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "forward_global" {
  provider = aws.us_east_1
  count    = local.forward_global ? 1 : 0
  rule     = aws_cloudwatch_event_rule.forward_global[0].name
  arn      = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"
  role_arn = aws_iam_role.forward_global[0].arn
}
