# One role per function, each with exactly what its code calls: the adapters it is wired with
# (crates/lambda/src/grants.rs, actions declared in crates/aws) and what Lambda does as the role.
# Statements are built from these pieces; every Resource is scoped except where AWS has no
# resource-level permissions (X-Ray segments, AWS Config's BatchGet/Select).

locals {
  table_arns = {
    index      = aws_dynamodb_table.index.arn
    findings   = aws_dynamodb_table.findings.arn
    exceptions = aws_dynamodb_table.exceptions.arn
  }
  state_bucket_arns  = [for b in var.state_buckets : "arn:${local.partition}:s3:::${b}"]
  state_object_arns  = [for b in var.state_buckets : "arn:${local.partition}:s3:::${b}/*"]
  lock_table_arns    = [for t in var.lock_tables : "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${t}"]
  lock_stream_arns   = [for t in var.lock_tables : "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${t}/stream/*"]
  evidence_prefix    = "evidence"
  reports_prefix     = "reports"
  state_kms_key_arns = var.state_kms_key_arns

  stmt = {
    tracing = {
      Sid      = "XRayHasNoResourceLevelPermissions"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      Resource = "*"
    }
    kms = {
      Sid      = "WatcherKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = aws_kms_key.main.arn
    }
    findings_rw = {
      Sid      = "FindingsAndLedger"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
      Resource = [local.table_arns.findings]
    }
    ledger_list = {
      Sid      = "LedgerList"
      Effect   = "Allow"
      Action   = ["dynamodb:Scan"]
      Resource = [local.table_arns.findings]
    }
    findings_open = {
      Sid      = "OpenFindings"
      Effect   = "Allow"
      Action   = ["dynamodb:Query"]
      Resource = [local.table_arns.findings, "${local.table_arns.findings}/index/*"]
    }
    index_ro = {
      Sid      = "IndexRead"
      Effect   = "Allow"
      Action   = ["dynamodb:Query", "dynamodb:Scan"]
      Resource = [local.table_arns.index, "${local.table_arns.index}/index/*"]
    }
    index_write = {
      Sid      = "IndexWrite"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
      Resource = [local.table_arns.index]
    }
    exceptions_ro = {
      Sid      = "ExceptionsRead"
      Effect   = "Allow"
      Action   = ["dynamodb:Scan"]
      Resource = [local.table_arns.exceptions]
    }
    exceptions_notices = {
      Sid      = "ExceptionsReadAndNoticeLedger"
      Effect   = "Allow"
      Action   = ["dynamodb:Scan", "dynamodb:UpdateItem"]
      Resource = [local.table_arns.exceptions]
    }
    evidence_write = {
      Sid      = "EvidenceWriteOnce"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:PutObjectRetention", "s3:GetObject"]
      Resource = ["${aws_s3_bucket.evidence.arn}/${local.evidence_prefix}/*"]
    }
    evidence_list = {
      Sid       = "EvidenceList"
      Effect    = "Allow"
      Action    = ["s3:ListBucket"]
      Resource  = [aws_s3_bucket.evidence.arn]
      Condition = { StringLike = { "s3:prefix" = ["${local.evidence_prefix}/*", local.evidence_prefix] } }
    }
    reports_write = {
      Sid      = "Reports"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = ["${aws_s3_bucket.evidence.arn}/${local.reports_prefix}/*"]
    }
    trail_logs = {
      Sid      = "CloudTrailLogFiles"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${aws_s3_bucket.evidence.arn}/cloudtrail/*"]
    }
    alerts = {
      Sid      = "PublishAlerts"
      Effect   = "Allow"
      Action   = ["sns:Publish"]
      Resource = [aws_sns_topic.alerts.arn]
    }
    notices = {
      Sid      = "PublishNotices"
      Effect   = "Allow"
      Action   = ["sns:Publish"]
      Resource = [aws_sns_topic.notices.arn]
    }
    heartbeat = {
      Sid      = "TagTheHeartbeatTopic"
      Effect   = "Allow"
      Action   = ["sns:TagResource"]
      Resource = [aws_sns_topic.heartbeat.arn]
    }
    async_dlq = {
      Sid      = "FailedInvocations"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.dlq["async"].arn]
    }
    backfill = {
      Sid      = "BackfillQueueReceive"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      Resource = [aws_sqs_queue.backfill.arn]
    }
    state_read = {
      Sid      = "StateObjectsRead"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:GetObjectVersion"]
      Resource = local.state_object_arns
    }
    state_versions = {
      Sid      = "StateVersionsList"
      Effect   = "Allow"
      Action   = ["s3:ListBucketVersions"]
      Resource = local.state_bucket_arns
    }
    state_list = {
      Sid      = "StateBucketsList"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = local.state_bucket_arns
    }
    locks_get = {
      Sid      = "LockTablesGet"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem"]
      Resource = local.lock_table_arns
    }
    locks_scan = {
      Sid      = "LockTablesScan"
      Effect   = "Allow"
      Action   = ["dynamodb:Scan"]
      Resource = local.lock_table_arns
    }
    state_roles = {
      Sid      = "StateReadRolesOfOtherAccounts"
      Effect   = "Allow"
      Action   = ["sts:AssumeRole"]
      Resource = [for r in var.state_roles : r.role_arn]
    }
    state_kms = {
      Sid      = "StateKeys"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = local.state_kms_key_arns
    }
    config_read = {
      Sid      = "ConfigHasNoResourceLevelPermissionsForTheseReads"
      Effect   = "Allow"
      Action   = ["config:BatchGetResourceConfig", "config:SelectResourceConfig"]
      Resource = "*"
    }
    # An aggregator's ARN ends in a generated id, not its name: every aggregator of this
    # account and region.
    config_aggregate = {
      Sid      = "ConfigAggregatorReads"
      Effect   = "Allow"
      Action   = ["config:ListAggregateDiscoveredResources", "config:BatchGetAggregateResourceConfig"]
      Resource = "arn:${local.partition}:config:${local.region}:${local.account_id}:config-aggregator/*"
    }
    config_bucket = {
      Sid      = "OversizedConfigItems"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:${local.partition}:s3:::${var.config_delivery_bucket}/*"]
    }
    lock_stream = {
      Sid      = "LockTableStreams"
      Effect   = "Allow"
      Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
      Resource = local.lock_stream_arns
    }
    lock_stream_dlq = {
      Sid      = "FailedStreamBatches"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.dlq["lock-stream"].arn]
    }
    lock_files = {
      Sid      = "LockFilesRead"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = [for b in var.state_buckets : "arn:${local.partition}:s3:::${b}/*.tflock"]
    }
    lock_file_versions = {
      Sid      = "LockFileVersionsRead"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:GetObjectVersion"]
      Resource = [for b in var.state_buckets : "arn:${local.partition}:s3:::${b}/*.tflock"]
    }
    signing_key = {
      Sid      = "EvidenceSigningKey"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [aws_secretsmanager_secret.signing_key.arn]
    }
    signing_kms = {
      Sid      = "EvidenceSigningKmsKey"
      Effect   = "Allow"
      Action   = ["kms:GetPublicKey", "kms:Sign"]
      Resource = [aws_kms_key.signing.arn]
    }
    redaction_salt = {
      Sid      = "RedactionSalt"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [aws_secretsmanager_secret.redaction_salt.arn]
    }
  }

  # Statements every recording function has: tracing, the key, findings and ledger items,
  # exceptions, evidence, alerts, the index slice a signal needs. Each role is exactly what
  # the function's code calls (crates/lambda/src/grants.rs); tests/tests/infra.rs checks both ways.
  recording = [local.stmt.tracing, local.stmt.kms, local.stmt.redaction_salt, local.stmt.findings_rw, local.stmt.exceptions_ro, local.stmt.evidence_write, local.stmt.alerts, local.stmt.async_dlq, local.stmt.index_ro]
  state_access = concat(
    length(var.state_kms_key_arns) > 0 ? [local.stmt.state_kms] : [],
    length(var.state_roles) > 0 ? [local.stmt.state_roles] : [],
  )

  function_statements = {
    "state-watcher"  = concat(local.recording, [local.stmt.index_write, local.stmt.state_read, local.stmt.state_versions, local.stmt.locks_get], local.state_access)
    "trail-watcher"  = concat(local.recording, [local.stmt.trail_logs, local.stmt.backfill])
    "config-watcher" = concat(local.recording, var.config_delivery_bucket != "" ? [local.stmt.config_bucket] : [])
    "lock-watcher"   = concat(local.recording, [local.stmt.lock_stream, local.stmt.lock_stream_dlq, local.stmt.lock_file_versions], local.state_access)
    "sweeper" = concat(
      [local.stmt.tracing, local.stmt.kms, local.stmt.redaction_salt, local.stmt.findings_rw, local.stmt.ledger_list, local.stmt.findings_open, local.stmt.exceptions_notices, local.stmt.evidence_write, local.stmt.evidence_list, local.stmt.alerts, local.stmt.notices, local.stmt.heartbeat, local.stmt.async_dlq],
      [local.stmt.state_read, local.stmt.state_versions, local.stmt.state_list, local.stmt.lock_files, local.stmt.locks_scan, local.stmt.signing_key, local.stmt.signing_kms, local.stmt.config_read],
      var.config_aggregator_name != "" ? [local.stmt.config_aggregate] : [],
      local.state_access,
    )
    "reporter" = [local.stmt.tracing, local.stmt.kms, local.stmt.redaction_salt, local.stmt.exceptions_ro, local.stmt.evidence_write, local.stmt.evidence_list, local.stmt.reports_write, local.stmt.async_dlq]
  }

  lambda_assume_role = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}
