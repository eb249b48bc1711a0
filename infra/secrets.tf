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

# The salt of the digests that replace secrets. In Secrets Manager, not in the functions'
# variables: anyone who may read a function's configuration could otherwise confirm a guessed
# secret against its digest. Every function reads it once at cold start.
resource "aws_secretsmanager_secret" "redaction_salt" {
  #checkov:skip=CKV2_AWS_57:Rotating the salt changes every digest (all secrets would show as drift once); it is a deliberate, manual step
  name                    = "${var.name_prefix}/redaction-salt"
  description             = "Salt of the HMAC-SHA256 digests that replace secrets in driftwatch findings and evidence"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "redaction_salt" {
  secret_id     = aws_secretsmanager_secret.redaction_salt.id
  secret_string = random_password.redaction_salt.result
}
