# The Ed25519 key that signs evidence digests (sweeper). Created empty: put the key made by
# `driftwatch evidence keygen --out FILE` with `aws secretsmanager put-secret-value` (README "Deploy").

resource "aws_secretsmanager_secret" "signing_key" {
  #checkov:skip=CKV2_AWS_57:Rotating the signing key is a deliberate, manual step: digests name the key that signed them, and verifiers must be given the new public key
  name                    = "${var.name_prefix}/evidence-signing-key"
  description             = "Ed25519 private key that signs driftwatch evidence digests"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

resource "random_password" "redaction_salt" {
  length  = 48
  special = false
}
