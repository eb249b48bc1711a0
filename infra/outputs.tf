output "alerts_topic_arn" {
  description = "SNS topic of security alerts (subscribe with a filter policy on severity)."
  value       = aws_sns_topic.alerts.arn
}

output "notices_topic_arn" {
  description = "SNS topic of exception expiry notices."
  value       = aws_sns_topic.notices.arn
}

output "operations_topic_arn" {
  description = "SNS topic of the watcher's own alarms."
  value       = aws_sns_topic.operations.arn
}

output "evidence_bucket" {
  description = "Evidence bucket (Object Lock COMPLIANCE); evidence under evidence/, reports under reports/."
  value       = aws_s3_bucket.evidence.bucket
}

output "evidence_store" {
  description = "The evidence store URL for `driftwatch verify --evidence`."
  value       = "s3://${aws_s3_bucket.evidence.bucket}/${local.evidence_prefix}"
}

output "index_table" {
  value = aws_dynamodb_table.index.name
}

output "findings_table" {
  value = aws_dynamodb_table.findings.name
}

output "exceptions_table" {
  value = aws_dynamodb_table.exceptions.name
}

output "kms_key_arn" {
  value = aws_kms_key.main.arn
}

output "signing_key_secret_arn" {
  description = "Put the Ed25519 evidence signing key here (README \"Deploy\")."
  value       = aws_secretsmanager_secret.signing_key.arn
}

output "function_names" {
  value = local.function_names
}

output "dead_letter_queues" {
  value = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "signing_public_key_pem" {
  description = "Public key of the evidence signing key (KMS, ECDSA P-256): give it to verifiers, `driftwatch verify --public-key FILE`"
  value       = data.aws_kms_public_key.signing.public_key_pem
}

output "backfill_queue_url" {
  description = "Where `driftwatch backfill --queue-url` sends a period's CloudTrail log files for the trail-watcher to replay"
  value       = aws_sqs_queue.backfill.url
}

output "trail_log_location" {
  description = "The trail's log files: `driftwatch backfill --trail-bucket BUCKET --prefix PREFIX`"
  value       = { bucket = aws_s3_bucket.evidence.id, prefix = "${aws_cloudtrail.main.s3_key_prefix}/" }
}
