# The evidence bucket: write-once records (Object Lock COMPLIANCE), reports, and the
# CloudTrail trail's log files. crates/aws/src/evidence.rs relies on the default retention.

resource "aws_s3_bucket" "evidence" {
  #checkov:skip=CKV_AWS_144:Cross-region replication of an Object Lock bucket needs a second region's bucket and key; left to the operator (the digests verify a copy anywhere)
  #checkov:skip=CKV2_AWS_62:Nothing consumes notifications of evidence objects; the sweeper seals them by listing
  #checkov:skip=CKV_AWS_18:Object-level access is recorded by the trail's S3 data events on this bucket (aws_cloudtrail.main); a server access log bucket would need its own log bucket
  bucket_prefix       = "${var.name_prefix}-evidence-"
  object_lock_enabled = true
  force_destroy       = false
  tags                = var.tags
}

resource "aws_s3_bucket_versioning" "evidence" {
  bucket = aws_s3_bucket.evidence.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "evidence" {
  bucket = aws_s3_bucket.evidence.id
  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.evidence_retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.evidence]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "evidence" {
  bucket = aws_s3_bucket.evidence.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "evidence" {
  bucket                  = aws_s3_bucket.evidence.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "evidence" {
  bucket = aws_s3_bucket.evidence.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "evidence" {
  bucket = aws_s3_bucket.evidence.id

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Object Lock keeps every version until its retention ends; after that, versions that are
  # no longer current (there are none for write-once records) may go.
  rule {
    id     = "noncurrent-after-retention"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.evidence_retention_days + 1
    }
  }
}

resource "aws_s3_bucket_policy" "evidence" {
  bucket     = aws_s3_bucket.evidence.id
  depends_on = [aws_s3_bucket_public_access_block.evidence]

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "TlsOnly"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.evidence.arn, "${aws_s3_bucket.evidence.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "NoDeletes"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketObjectLockConfiguration"]
        Resource  = [aws_s3_bucket.evidence.arn, "${aws_s3_bucket.evidence.arn}/*"]
      },
      {
        # Evidence is written once: every write under the evidence prefix must carry
        # If-None-Match (S3 then refuses an existing key with 412). Without it a PutObject
        # would add a new current version of a record or a digest (Object Lock keeps the old
        # version, it does not stop a new one). The watcher's writers send If-None-Match: *
        # (crates/aws/src/evidence.rs); multipart uploads, which cannot, are not used here.
        Sid       = "EvidenceWritesAreConditional"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.evidence.arn}/${local.evidence_prefix}/*"
        Condition = { Null = { "s3:if-none-match" = "true" } }
      },
      {
        Sid       = "CloudTrailAclCheck"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:GetBucketAcl"
        Resource  = aws_s3_bucket.evidence.arn
        Condition = { StringEquals = { "aws:SourceArn" = "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}" } }
      },
      {
        Sid       = "CloudTrailWritesItsLogs"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:PutObject"
        # The organisation trail writes the member accounts' logs under the Organization's id.
        Resource = concat(
          ["${aws_s3_bucket.evidence.arn}/cloudtrail/AWSLogs/${local.account_id}/*"],
          var.organization_trail ? ["${aws_s3_bucket.evidence.arn}/cloudtrail/AWSLogs/${var.organization_id}/*"] : [],
        )
        Condition = { StringEquals = {
          "s3:x-amz-acl"  = "bucket-owner-full-control"
          "aws:SourceArn" = "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}"
        } }
      },
    ]
  })
}
