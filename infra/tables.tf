# DynamoDB tables: key schemas as crates/aws/src/index_table.rs, dynamo.rs (findings and the
# detectors' ledger) and exceptions_table.rs read and write them.

resource "aws_dynamodb_table" "index" {
  name                        = "${var.name_prefix}-index"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "identity"
  range_key                   = "address"
  deletion_protection_enabled = true
  tags                        = var.tags

  attribute {
    name = "identity"
    type = "S"
  }
  attribute {
    name = "address"
    type = "S"
  }
  attribute {
    name = "arn"
    type = "S"
  }
  attribute {
    name = "state_at"
    type = "S"
  }

  global_secondary_index {
    name            = "arn-index"
    hash_key        = "arn"
    projection_type = "ALL"
  }
  # A state's items (`<bucket/key>#<workspace>`), for the state watcher's removals: keys only.
  global_secondary_index {
    name            = "state-index"
    hash_key        = "state_at"
    range_key       = "address"
    projection_type = "KEYS_ONLY"
  }

  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main.arn
  }
}

resource "aws_dynamodb_table" "findings" {
  name                        = "${var.name_prefix}-findings"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "fingerprint"
  deletion_protection_enabled = true
  tags                        = var.tags

  attribute {
    name = "fingerprint"
    type = "S"
  }
  attribute {
    name = "status"
    type = "S"
  }
  attribute {
    name = "last_seen"
    type = "S"
  }

  global_secondary_index {
    name            = "status-last_seen"
    hash_key        = "status"
    range_key       = "last_seen"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main.arn
  }
}

resource "aws_dynamodb_table" "exceptions" {
  name                        = "${var.name_prefix}-exceptions"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = true
  tags                        = var.tags

  attribute {
    name = "id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main.arn
  }
}
