# EventBridge: one rule per entry of local.event_rules (config.tf) and one schedule per
# scheduled function. Failed deliveries go to the events DLQ.

resource "aws_cloudwatch_event_rule" "pattern" {
  for_each = local.event_rules

  name          = "${var.name_prefix}-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "pattern" {
  for_each = local.event_rules

  rule = aws_cloudwatch_event_rule.pattern[each.key].name
  arn  = local.function_arns[each.value.function]

  retry_policy {
    maximum_event_age_in_seconds = 21600
    maximum_retry_attempts       = 20
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["events"].arn
  }
}

resource "aws_lambda_permission" "pattern" {
  for_each = local.event_rules

  statement_id   = "eventbridge-${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = local.function_names[each.value.function]
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.pattern[each.key].arn
  source_account = local.account_id
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each = local.schedules

  name                = "${var.name_prefix}-${each.key}-schedule"
  description         = "driftwatch ${each.key} schedule"
  schedule_expression = each.value
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = local.schedules

  rule = aws_cloudwatch_event_rule.schedule[each.key].name
  arn  = local.function_arns[each.key]

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 3
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["events"].arn
  }
}

resource "aws_lambda_permission" "schedule" {
  for_each = local.schedules

  statement_id   = "eventbridge-schedule"
  action         = "lambda:InvokeFunction"
  function_name  = local.function_names[each.key]
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.schedule[each.key].arn
  source_account = local.account_id
}

# The guard (local.guard_rules): straight to the operations topic, through no function.
resource "aws_cloudwatch_event_rule" "guard" {
  for_each = local.guard_rules

  name          = "${var.name_prefix}-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "guard" {
  for_each = local.guard_rules

  rule = aws_cloudwatch_event_rule.guard[each.key].name
  arn  = aws_sns_topic.operations.arn

  retry_policy {
    maximum_event_age_in_seconds = 21600
    maximum_retry_attempts       = 20
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["events"].arn
  }
}

# The heartbeat (alarms.tf): each watcher invoked every 15 minutes with a constant payload it
# answers by reading its ledger; the sweeper and reporter have schedules of their own.
resource "aws_cloudwatch_event_rule" "heartbeat" {
  for_each = local.heartbeats

  name                = "${var.name_prefix}-${each.key}-heartbeat"
  description         = "driftwatch ${each.key} heartbeat (watcher.silent when it stops)"
  schedule_expression = "rate(15 minutes)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "heartbeat" {
  for_each = local.heartbeats

  rule  = aws_cloudwatch_event_rule.heartbeat[each.key].name
  arn   = local.function_arns[each.key]
  input = jsonencode({ driftwatch = "heartbeat" })

  retry_policy {
    maximum_event_age_in_seconds = 900
    maximum_retry_attempts       = 2
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["events"].arn
  }
}

resource "aws_lambda_permission" "heartbeat" {
  for_each = local.heartbeats

  statement_id   = "eventbridge-heartbeat"
  action         = "lambda:InvokeFunction"
  function_name  = local.function_names[each.key]
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.heartbeat[each.key].arn
  source_account = local.account_id
}
