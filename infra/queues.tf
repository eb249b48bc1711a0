# Dead-letter queues: what could not be delivered or processed waits here (14 days) and
# raises the DLQ depth alarm.

locals {
  dlqs = {
    "events"      = "EventBridge deliveries that failed (rules' dead-letter queue)"
    "async"       = "Asynchronous invocations that failed after retries (on-failure destination)"
    "lock-stream" = "Lock table stream batches that failed after retries and bisection"
    "backfill"    = "Backfilled CloudTrail log files the trail-watcher failed five times"
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.dlqs

  name                      = "${var.name_prefix}-${each.key}-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = aws_kms_key.main.arn
  tags                      = merge(var.tags, { purpose = each.value })
}

resource "aws_sqs_queue_policy" "events_dlq" {
  queue_url = aws_sqs_queue.dlq["events"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "RulesOfThisWatcher"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dlq["events"].arn
      Condition = { ArnLike = { "aws:SourceArn" = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name_prefix}-*" } }
    }]
  })
}

# Backfill (`driftwatch backfill`): S3 notifications of a period's existing CloudTrail log files,
# sent by an operator, read by the trail-watcher exactly as a delivered file is. Only the CLI
# sends to it; the trail's live delivery reaches the functions through EventBridge.
resource "aws_sqs_queue" "backfill" {
  name = "${var.name_prefix}-backfill"
  # AWS: at least six times the function's timeout, so a message is not seen twice while
  # a batch of it is still being read.
  visibility_timeout_seconds = 6 * aws_lambda_function.trail_watcher.timeout
  message_retention_seconds  = 1209600
  kms_master_key_id          = aws_kms_key.main.arn
  redrive_policy             = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq["backfill"].arn, maxReceiveCount = 5 })
  tags                       = merge(var.tags, { purpose = "CloudTrail log files to replay (driftwatch backfill)" })
}

resource "aws_lambda_event_source_mapping" "backfill" {
  event_source_arn        = aws_sqs_queue.backfill.arn
  function_name           = aws_lambda_function.trail_watcher.arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  # A month of an Organization's logs is tens of thousands of files: read in parallel, but
  # never so many at once that the live path's concurrency or the tables are starved.
  scaling_config {
    maximum_concurrency = var.backfill_concurrency
  }
}
