# Dead-letter queues: what could not be delivered or processed waits here (14 days) and
# raises the DLQ depth alarm.

locals {
  dlqs = {
    "events"      = "EventBridge deliveries that failed (rules' dead-letter queue)"
    "async"       = "Asynchronous invocations that failed after retries (on-failure destination)"
    "lock-stream" = "Lock table stream batches that failed after retries and bisection"
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
