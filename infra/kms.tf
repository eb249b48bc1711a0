# One customer-managed key, rotated yearly, encrypts everything the watcher keeps: evidence,
# tables, topics, queues, log groups, the signing key secret, the functions' environment.

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  package    = var.package_dir != "" ? var.package_dir : "${path.root}/../target/lambda"
  trail_name = "${var.name_prefix}-data-events"
}

resource "aws_kms_key" "main" {
  description             = "driftwatch: evidence, tables, topics, queues, logs, secrets"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  tags                    = var.tags

  # A key policy's Resource is always the key itself ("*" means this key).
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*" }
        }
      },
      {
        Sid       = "CloudTrailEncryptsTheTrail"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceArn" = "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}" }
          StringLike   = { "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*" }
        }
      },
      {
        Sid       = "EventBridgeAndAlarmsWriteEncryptedQueuesAndTopics"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "cloudwatch.amazonaws.com"] }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "main" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.main.key_id
}

# The evidence digests' signing key: asymmetric, so its private half never leaves KMS. Only
# the sweeper's role may sign (this key policy grants nothing else to anyone: the account's
# administrators may manage the key but not Sign); anyone with the public key verifies offline
# (`terraform output -raw signing_public_key_pem > signing.pub`, then
# `driftwatch verify --public-key signing.pub`). An admin who can read every secret can no
# longer re-sign a chain.
resource "aws_kms_key" "signing" {
  #checkov:skip=CKV_AWS_7:Asymmetric signing keys cannot be rotated by KMS; a new key starts a new chain and verifiers are given its public key
  description              = "driftwatch: evidence digest signing (ECDSA P-256)"
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage                = "SIGN_VERIFY"
  deletion_window_in_days  = 30
  tags                     = var.tags

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountManagesButDoesNotSign"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action = [
          "kms:Describe*", "kms:Get*", "kms:List*", "kms:Verify", "kms:Create*", "kms:Put*", "kms:Update*",
          "kms:Enable*", "kms:Disable*", "kms:Revoke*", "kms:TagResource", "kms:UntagResource",
          "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
        ]
        Resource = "*"
      },
      {
        Sid       = "OnlyTheSweeperSigns"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.sweeper.arn }
        Action    = ["kms:Sign", "kms:GetPublicKey"]
        Resource  = "*"
      },
    ]
  })
}

data "aws_kms_public_key" "signing" {
  key_id = aws_kms_key.signing.arn
}
