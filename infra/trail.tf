# The trail: EventBridge receives "AWS API Call via CloudTrail" only for what a trail
# records. Write management events, and data events on the state buckets, the lock tables and
# the evidence records; log files go to the evidence bucket (Object Lock) under cloudtrail/.

resource "aws_cloudtrail" "main" {
  #checkov:skip=CKV_AWS_252:Log file delivery notifications have no consumer; the trail is read through EventBridge
  #checkov:skip=CKV2_AWS_10:Trail events reach the functions through EventBridge and the log files are kept under Object Lock; a CloudWatch Logs copy would duplicate them
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.evidence.id
  s3_key_prefix                 = "cloudtrail"
  kms_key_id                    = aws_kms_key.main.arn
  enable_log_file_validation    = true
  is_multi_region_trail         = true
  is_organization_trail         = var.organization_trail
  include_global_service_events = true
  tags                          = var.tags

  advanced_event_selector {
    name = "Write management events"
    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
    field_selector {
      field  = "readOnly"
      equals = ["false"]
    }
  }

  advanced_event_selector {
    name = "State and lock objects, evidence records"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }
    field_selector {
      field = "resources.ARN"
      starts_with = concat(
        [for b in var.state_buckets : "arn:${local.partition}:s3:::${b}/"],
        ["${aws_s3_bucket.evidence.arn}/${local.evidence_prefix}/"],
      )
    }
  }

  advanced_event_selector {
    name = "Exceptions table items (exception.changed)"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::DynamoDB::Table"]
    }
    field_selector {
      field  = "resources.ARN"
      equals = [aws_dynamodb_table.exceptions.arn]
    }
    field_selector {
      field  = "readOnly"
      equals = ["false"]
    }
  }

  dynamic "advanced_event_selector" {
    for_each = length(var.lock_tables) > 0 ? [1] : []
    content {
      name = "Lock table items"
      field_selector {
        field  = "eventCategory"
        equals = ["Data"]
      }
      field_selector {
        field  = "resources.type"
        equals = ["AWS::DynamoDB::Table"]
      }
      field_selector {
        field  = "resources.ARN"
        equals = local.lock_table_arns
      }
    }
  }

  depends_on = [aws_s3_bucket_policy.evidence]
}
