# Alarms on the watcher itself, to the operations topic: any function error, any message in
# a dead-letter queue, a lock stream falling behind.

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.function_names

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "driftwatch ${each.key} failed an invocation"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operations.arn]
  ok_actions          = [aws_sns_topic.operations.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = aws_sqs_queue.dlq

  alarm_name          = "${var.name_prefix}-${each.key}-dlq-depth"
  alarm_description   = "driftwatch ${each.key} dead-letter queue is not empty: ${local.dlqs[each.key]}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operations.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lock_stream_age" {
  alarm_name          = "${var.name_prefix}-lock-stream-iterator-age"
  alarm_description   = "driftwatch lock-watcher is more than 15 minutes behind the lock table stream"
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.lock_watcher.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 900000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operations.arn]
  tags                = var.tags
}

# The heartbeat: every function but the reporter is invoked at least every 15 minutes — the
# watchers by their heartbeat schedule (events.tf, `{"driftwatch": "heartbeat"}`), the sweeper by
# its own — whatever happens in the account. When one stops (its schedule or target removed,
# the function broken, deleted or throttled to zero) there are no Invocations data points at
# all: missing data is breaching here, so silence alarms (watcher.silent) instead of looking
# healthy.
resource "aws_cloudwatch_metric_alarm" "heartbeat" {
  for_each = { for k, v in local.function_names : k => v if k != "reporter" }

  alarm_name          = "${var.name_prefix}-${each.key}-silent"
  alarm_description   = "watcher.silent: driftwatch ${each.key} has not run for ${var.silent_after_minutes} minutes; the watcher may be blind"
  namespace           = "AWS/Lambda"
  metric_name         = "Invocations"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = ceil(var.silent_after_minutes / 15)
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.operations.arn]
  ok_actions          = [aws_sns_topic.operations.arn]
  tags                = var.tags
}
