# Locks: the lock tables' DynamoDB streams (partial batch responses, bisection, on-failure
# DLQ) and the state buckets' notifications (EventBridge for state-watcher; .tflock objects
# of use_lockfile to lock-watcher, configuration id "driftwatch-tflock").

data "aws_dynamodb_table" "lock" {
  for_each = toset(var.lock_tables)
  name     = each.key
}

resource "aws_lambda_event_source_mapping" "lock_stream" {
  for_each = data.aws_dynamodb_table.lock

  event_source_arn                   = each.value.stream_arn
  function_name                      = aws_lambda_function.lock_watcher.arn
  starting_position                  = "LATEST"
  batch_size                         = 100
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = 10
  maximum_record_age_in_seconds      = 21600

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq["lock-stream"].arn
    }
  }

  lifecycle {
    precondition {
      condition     = each.value.stream_arn != null && each.value.stream_arn != ""
      error_message = "Lock table ${each.key} has no stream: enable a NEW_AND_OLD_IMAGES stream on it."
    }
  }
}

resource "aws_lambda_permission" "lock_files" {
  for_each = var.manage_state_bucket_notifications ? toset(var.state_buckets) : toset([])

  statement_id   = "s3-tflock-${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.lock_watcher.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = "arn:${local.partition}:s3:::${each.key}"
  source_account = local.account_id
}

resource "aws_s3_bucket_notification" "state" {
  for_each = var.manage_state_bucket_notifications ? toset(var.state_buckets) : toset([])

  bucket      = each.key
  eventbridge = true

  lambda_function {
    id                  = "driftwatch-tflock"
    lambda_function_arn = aws_lambda_function.lock_watcher.arn
    events              = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    filter_suffix       = ".tflock"
  }

  depends_on = [aws_lambda_permission.lock_files]
}
