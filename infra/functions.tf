# The six functions (functions/<name>): one function, one role, one log group each.
# Built with `cargo lambda build --release --arm64 --output-format zip` (README "Deploy").

locals {
  # Variables every function reads (crates/lambda/src/env.rs).
  common_env = {
    DRIFTWATCH_ENVIRONMENT = var.environment
    # The policy, with the watcher's own keys (known only once created) closing its [watcher]
    # section: disabling them or changing their policies is watcher.tampered.
    DRIFTWATCH_POLICY                = "${local.policy_toml}keys = ${jsonencode([aws_kms_key.main.arn, aws_kms_key.signing.arn])}\n"
    DRIFTWATCH_REDACTION_SALT_SECRET = aws_secretsmanager_secret.redaction_salt.arn
    DRIFTWATCH_INDEX_TABLE           = aws_dynamodb_table.index.name
    DRIFTWATCH_FINDINGS_TABLE        = aws_dynamodb_table.findings.name
    DRIFTWATCH_EXCEPTIONS_TABLE      = aws_dynamodb_table.exceptions.name
    DRIFTWATCH_EVIDENCE              = "s3://${aws_s3_bucket.evidence.bucket}/${local.evidence_prefix}"
    DRIFTWATCH_EVIDENCE_KMS_KEY      = aws_kms_key.main.arn
    DRIFTWATCH_S3_PATH_STYLE         = "virtual"
  }

  function_arns = {
    "state-watcher"  = aws_lambda_function.state_watcher.arn
    "trail-watcher"  = aws_lambda_function.trail_watcher.arn
    "config-watcher" = aws_lambda_function.config_watcher.arn
    "lock-watcher"   = aws_lambda_function.lock_watcher.arn
    "sweeper"        = aws_lambda_function.sweeper.arn
    "reporter"       = aws_lambda_function.reporter.arn
  }
  function_names = {
    "state-watcher"  = aws_lambda_function.state_watcher.function_name
    "trail-watcher"  = aws_lambda_function.trail_watcher.function_name
    "config-watcher" = aws_lambda_function.config_watcher.function_name
    "lock-watcher"   = aws_lambda_function.lock_watcher.function_name
    "sweeper"        = aws_lambda_function.sweeper.function_name
    "reporter"       = aws_lambda_function.reporter.function_name
  }
}

# ---------------------------------------------------------------- state-watcher

resource "aws_iam_role" "state_watcher" {
  name               = "${var.name_prefix}-state-watcher"
  description        = "driftwatch state-watcher"
  assume_role_policy = local.lambda_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "state_watcher" {
  name = "${var.name_prefix}-state-watcher"
  role = aws_iam_role.state_watcher.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.function_statements["state-watcher"], [{
      Sid      = "OwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.state_watcher.arn}:*"]
    }])
  })
}

resource "aws_cloudwatch_log_group" "state_watcher" {
  name              = "/aws/lambda/${var.name_prefix}-state-watcher"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_lambda_function" "state_watcher" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs over TLS; a VPC would add NAT or endpoints and no protection
  #checkov:skip=CKV_AWS_272:Zips are built in CI by cargo lambda from this repository; AWS Signer is not part of this deployment
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the async DLQ through the on-failure destination (aws_lambda_function_event_invoke_config), which also records the error
  function_name                  = "${var.name_prefix}-state-watcher"
  description                    = "driftwatch: Terraform state writes: index the new version, check the write"
  role                           = aws_iam_role.state_watcher.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = "${local.package}/state-watcher/bootstrap.zip"
  source_code_hash               = filebase64sha256("${local.package}/state-watcher/bootstrap.zip")
  memory_size                    = 512
  timeout                        = 120
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.main.arn
  tags                           = var.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.state_watcher.name
  }

  environment {
    variables = merge(local.common_env, {
      DRIFTWATCH_ALERTS_TOPIC_ARN = aws_sns_topic.alerts.arn
    })
  }

  depends_on = [aws_iam_role_policy.state_watcher, aws_cloudwatch_log_group.state_watcher]
}

resource "aws_lambda_function_event_invoke_config" "state_watcher" {
  function_name                = aws_lambda_function.state_watcher.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq["async"].arn
    }
  }
}

# ---------------------------------------------------------------- trail-watcher

resource "aws_iam_role" "trail_watcher" {
  name               = "${var.name_prefix}-trail-watcher"
  description        = "driftwatch trail-watcher"
  assume_role_policy = local.lambda_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "trail_watcher" {
  name = "${var.name_prefix}-trail-watcher"
  role = aws_iam_role.trail_watcher.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.function_statements["trail-watcher"], [{
      Sid      = "OwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.trail_watcher.arn}:*"]
    }])
  })
}

resource "aws_cloudwatch_log_group" "trail_watcher" {
  name              = "/aws/lambda/${var.name_prefix}-trail-watcher"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_lambda_function" "trail_watcher" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs over TLS; a VPC would add NAT or endpoints and no protection
  #checkov:skip=CKV_AWS_272:Zips are built in CI by cargo lambda from this repository; AWS Signer is not part of this deployment
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the async DLQ through the on-failure destination (aws_lambda_function_event_invoke_config), which also records the error
  function_name                  = "${var.name_prefix}-trail-watcher"
  description                    = "driftwatch: CloudTrail write calls on the catalog's services and the state buckets and lock tables"
  role                           = aws_iam_role.trail_watcher.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = "${local.package}/trail-watcher/bootstrap.zip"
  source_code_hash               = filebase64sha256("${local.package}/trail-watcher/bootstrap.zip")
  memory_size                    = 512
  timeout                        = 60
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.main.arn
  tags                           = var.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.trail_watcher.name
  }

  environment {
    variables = merge(local.common_env, {
      DRIFTWATCH_ALERTS_TOPIC_ARN = aws_sns_topic.alerts.arn
    })
  }

  depends_on = [aws_iam_role_policy.trail_watcher, aws_cloudwatch_log_group.trail_watcher]
}

resource "aws_lambda_function_event_invoke_config" "trail_watcher" {
  function_name                = aws_lambda_function.trail_watcher.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq["async"].arn
    }
  }
}

# ---------------------------------------------------------------- config-watcher

resource "aws_iam_role" "config_watcher" {
  name               = "${var.name_prefix}-config-watcher"
  description        = "driftwatch config-watcher"
  assume_role_policy = local.lambda_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "config_watcher" {
  name = "${var.name_prefix}-config-watcher"
  role = aws_iam_role.config_watcher.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.function_statements["config-watcher"], [{
      Sid      = "OwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.config_watcher.arn}:*"]
    }])
  })
}

resource "aws_cloudwatch_log_group" "config_watcher" {
  name              = "/aws/lambda/${var.name_prefix}-config-watcher"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_lambda_function" "config_watcher" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs over TLS; a VPC would add NAT or endpoints and no protection
  #checkov:skip=CKV_AWS_272:Zips are built in CI by cargo lambda from this repository; AWS Signer is not part of this deployment
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the async DLQ through the on-failure destination (aws_lambda_function_event_invoke_config), which also records the error
  function_name                  = "${var.name_prefix}-config-watcher"
  description                    = "driftwatch: AWS Config configuration item changes against Terraform"
  role                           = aws_iam_role.config_watcher.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = "${local.package}/config-watcher/bootstrap.zip"
  source_code_hash               = filebase64sha256("${local.package}/config-watcher/bootstrap.zip")
  memory_size                    = 512
  timeout                        = 60
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.main.arn
  tags                           = var.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.config_watcher.name
  }

  environment {
    variables = merge(local.common_env, {
      DRIFTWATCH_ALERTS_TOPIC_ARN = aws_sns_topic.alerts.arn
    })
  }

  depends_on = [aws_iam_role_policy.config_watcher, aws_cloudwatch_log_group.config_watcher]
}

resource "aws_lambda_function_event_invoke_config" "config_watcher" {
  function_name                = aws_lambda_function.config_watcher.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq["async"].arn
    }
  }
}

# ---------------------------------------------------------------- lock-watcher

resource "aws_iam_role" "lock_watcher" {
  name               = "${var.name_prefix}-lock-watcher"
  description        = "driftwatch lock-watcher"
  assume_role_policy = local.lambda_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "lock_watcher" {
  name = "${var.name_prefix}-lock-watcher"
  role = aws_iam_role.lock_watcher.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.function_statements["lock-watcher"], [{
      Sid      = "OwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.lock_watcher.arn}:*"]
    }])
  })
}

resource "aws_cloudwatch_log_group" "lock_watcher" {
  name              = "/aws/lambda/${var.name_prefix}-lock-watcher"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_lambda_function" "lock_watcher" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs over TLS; a VPC would add NAT or endpoints and no protection
  #checkov:skip=CKV_AWS_272:Zips are built in CI by cargo lambda from this repository; AWS Signer is not part of this deployment
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the async DLQ through the on-failure destination (aws_lambda_function_event_invoke_config), which also records the error
  function_name                  = "${var.name_prefix}-lock-watcher"
  description                    = "driftwatch: The lock tables' streams and .tflock objects"
  role                           = aws_iam_role.lock_watcher.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = "${local.package}/lock-watcher/bootstrap.zip"
  source_code_hash               = filebase64sha256("${local.package}/lock-watcher/bootstrap.zip")
  memory_size                    = 256
  timeout                        = 60
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.main.arn
  tags                           = var.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lock_watcher.name
  }

  environment {
    variables = merge(local.common_env, {
      DRIFTWATCH_ALERTS_TOPIC_ARN = aws_sns_topic.alerts.arn
    })
  }

  depends_on = [aws_iam_role_policy.lock_watcher, aws_cloudwatch_log_group.lock_watcher]
}

resource "aws_lambda_function_event_invoke_config" "lock_watcher" {
  function_name                = aws_lambda_function.lock_watcher.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq["async"].arn
    }
  }
}

# ---------------------------------------------------------------- sweeper

resource "aws_iam_role" "sweeper" {
  name               = "${var.name_prefix}-sweeper"
  description        = "driftwatch sweeper"
  assume_role_policy = local.lambda_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "sweeper" {
  name = "${var.name_prefix}-sweeper"
  role = aws_iam_role.sweeper.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.function_statements["sweeper"], [{
      Sid      = "OwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.sweeper.arn}:*"]
    }])
  })
}

resource "aws_cloudwatch_log_group" "sweeper" {
  name              = "/aws/lambda/${var.name_prefix}-sweeper"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_lambda_function" "sweeper" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs over TLS; a VPC would add NAT or endpoints and no protection
  #checkov:skip=CKV_AWS_272:Zips are built in CI by cargo lambda from this repository; AWS Signer is not part of this deployment
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the async DLQ through the on-failure destination (aws_lambda_function_event_invoke_config), which also records the error
  function_name                  = "${var.name_prefix}-sweeper"
  description                    = "driftwatch: Scheduled backstop: stale locks, exception notices, evidence digests, reconcile"
  role                           = aws_iam_role.sweeper.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = "${local.package}/sweeper/bootstrap.zip"
  source_code_hash               = filebase64sha256("${local.package}/sweeper/bootstrap.zip")
  memory_size                    = 1024
  timeout                        = 900
  reserved_concurrent_executions = 1
  kms_key_arn                    = aws_kms_key.main.arn
  tags                           = var.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.sweeper.name
  }

  environment {
    variables = merge(local.common_env, {
      DRIFTWATCH_ALERTS_TOPIC_ARN    = aws_sns_topic.alerts.arn
      DRIFTWATCH_NOTICES_TOPIC_ARN   = aws_sns_topic.notices.arn
      DRIFTWATCH_HEARTBEAT_TOPIC_ARN = aws_sns_topic.heartbeat.arn
      DRIFTWATCH_SIGNING_KMS_KEY     = aws_kms_key.signing.arn
    }, var.config_aggregator_name != "" ? { DRIFTWATCH_CONFIG_AGGREGATOR = var.config_aggregator_name } : {})
  }

  depends_on = [aws_iam_role_policy.sweeper, aws_cloudwatch_log_group.sweeper]
}

resource "aws_lambda_function_event_invoke_config" "sweeper" {
  function_name                = aws_lambda_function.sweeper.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq["async"].arn
    }
  }
}

# ---------------------------------------------------------------- reporter

resource "aws_iam_role" "reporter" {
  name               = "${var.name_prefix}-reporter"
  description        = "driftwatch reporter"
  assume_role_policy = local.lambda_assume_role
  tags               = var.tags
}

resource "aws_iam_role_policy" "reporter" {
  name = "${var.name_prefix}-reporter"
  role = aws_iam_role.reporter.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.function_statements["reporter"], [{
      Sid      = "OwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.reporter.arn}:*"]
    }])
  })
}

resource "aws_cloudwatch_log_group" "reporter" {
  name              = "/aws/lambda/${var.name_prefix}-reporter"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
  tags              = var.tags
}

resource "aws_lambda_function" "reporter" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs over TLS; a VPC would add NAT or endpoints and no protection
  #checkov:skip=CKV_AWS_272:Zips are built in CI by cargo lambda from this repository; AWS Signer is not part of this deployment
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the async DLQ through the on-failure destination (aws_lambda_function_event_invoke_config), which also records the error
  function_name                  = "${var.name_prefix}-reporter"
  description                    = "driftwatch: Scheduled continuous-compliance report"
  role                           = aws_iam_role.reporter.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = "${local.package}/reporter/bootstrap.zip"
  source_code_hash               = filebase64sha256("${local.package}/reporter/bootstrap.zip")
  memory_size                    = 1024
  timeout                        = 900
  reserved_concurrent_executions = 1
  kms_key_arn                    = aws_kms_key.main.arn
  tags                           = var.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.reporter.name
  }

  environment {
    variables = merge(local.common_env, {
      DRIFTWATCH_REPORTS = "s3://${aws_s3_bucket.evidence.bucket}/${local.reports_prefix}"
    })
  }

  depends_on = [aws_iam_role_policy.reporter, aws_cloudwatch_log_group.reporter]
}

resource "aws_lambda_function_event_invoke_config" "reporter" {
  function_name                = aws_lambda_function.reporter.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq["async"].arn
    }
  }
}
