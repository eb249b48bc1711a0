# SNS: security alerts (message attributes severity, rule, account, environment; see
# crates/aws/src/notify.rs), exception notices, and operations (alarms on the watcher itself).

resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts"
  kms_master_key_id = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_sns_topic" "notices" {
  name              = "${var.name_prefix}-notices"
  kms_master_key_id = aws_kms_key.main.arn
  tags              = var.tags
}

# The heartbeat: each sweeper run tags this topic (`driftwatch:heartbeat` = the run's time),
# a write that must reach the trail-watcher through CloudTrail and EventBridge and the
# config-watcher through AWS Config; a watcher that sees none for `silent_after_minutes` is
# watcher.silent (crates/core/src/detect/self_defence.rs). Nobody subscribes to it; its tags
# belong to the sweeper, so Terraform leaves them alone.
resource "aws_sns_topic" "heartbeat" {
  name              = "${var.name_prefix}-heartbeat"
  kms_master_key_id = aws_kms_key.main.arn
  tags              = var.tags

  lifecycle {
    ignore_changes = [tags, tags_all]
  }
}

resource "aws_sns_topic" "operations" {
  name              = "${var.name_prefix}-operations"
  kms_master_key_id = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "operations" {
  arn = aws_sns_topic.operations.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AlarmsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.operations.arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "TheGuardRules"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.operations.arn
        Condition = { ArnEquals = { "aws:SourceArn" = [for r in aws_cloudwatch_event_rule.guard : r.arn] } }
      },
    ]
  })
}

# Each subscription receives only the severities it asked for.
resource "aws_sns_topic_subscription" "alerts" {
  for_each = { for s in var.alert_subscriptions : "${s.protocol}:${s.endpoint}" => s }

  topic_arn           = aws_sns_topic.alerts.arn
  protocol            = each.value.protocol
  endpoint            = each.value.endpoint
  filter_policy_scope = "MessageAttributes"
  filter_policy       = jsonencode({ severity = each.value.severities })
}

resource "aws_sns_topic_subscription" "notices" {
  for_each = toset(var.notice_emails)

  topic_arn = aws_sns_topic.notices.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "operations" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.operations.arn
  protocol  = "email"
  endpoint  = each.value
}

# AWS Chatbot: critical and high alerts (the https entry of each alert is the Chatbot custom
# notification) to a Slack channel.
resource "aws_iam_role" "chatbot" {
  count = var.chatbot_slack == null ? 0 : 1

  name = "${var.name_prefix}-chatbot"
  tags = var.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "chatbot.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_chatbot_slack_channel_configuration" "alerts" {
  count = var.chatbot_slack == null ? 0 : 1

  configuration_name    = "${var.name_prefix}-alerts"
  iam_role_arn          = aws_iam_role.chatbot[0].arn
  slack_team_id         = var.chatbot_slack.team_id
  slack_channel_id      = var.chatbot_slack.channel_id
  sns_topic_arns        = [aws_sns_topic.alerts.arn, aws_sns_topic.operations.arn]
  guardrail_policy_arns = ["arn:${local.partition}:iam::aws:policy/CloudWatchReadOnlyAccess"]
  logging_level         = "ERROR"
  tags                  = var.tags
}
