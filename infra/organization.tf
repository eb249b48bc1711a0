# An Organization: member accounts forward their CloudTrail calls, Config changes and state
# writes to this watcher's default bus (infra/modules/member, one instance per account and
# region). The bus accepts them from the Organization's accounts only: an account outside it is
# refused by EventBridge itself.

resource "aws_cloudwatch_event_bus_policy" "organization" {
  count          = var.organization_id == "" ? 0 : 1
  event_bus_name = "default"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OrganizationAccountsPutEvents"
      Effect    = "Allow"
      Principal = { AWS = "*" }
      Action    = "events:PutEvents"
      Resource  = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}
