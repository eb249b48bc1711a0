output "forward_rules" {
  description = "The names of the forwarding rules."
  value       = [for r in aws_cloudwatch_event_rule.forward : r.name]
}

output "dead_letter_queue_arn" {
  description = "Events that could not be forwarded wait here for 14 days."
  value       = aws_sqs_queue.dlq.arn
}

output "state_read_role_arn" {
  description = "The role the watcher reads this account's state through (the watcher's state_roles), when state_read_role_external_id is set."
  value       = one(aws_iam_role.state_read[*].arn)
}
