# Runbook "Secret Inventory": AWS IAM access keys | IAM | 90 days | No (use OIDC/WIF).
#
# The runbook's advice stands: an OIDC or workload identity federation role
# needs no rotation at all, and once CloudForge uses one this secret and
# the IAM user should go. Until then rotplan rotates the key. IAM allows two
# access keys per user, so the new key is created beside the old one, which
# keeps working through the grace period, is deactivated at retire, and is
# deleted when the next rotation needs its slot.

secret "aws_iam_access_key" {
  description = "Access key of the IAM user cloudforge-api."
  frequency   = "90d"

  # The table's "IAM" is where the key is made; its secret half can only be
  # read once, at creation, so rotplan keeps it in Secrets Manager, where
  # the key's users read it.
  store "aws_secretsmanager" {
    secret_id = "aegis/iam/cloudforge-api"
  }

  # The issuer mints the key: iam:CreateAccessKey for user cloudforge-api,
  # which must hold at most one key before a rotation.
  generate "aws_iam_access_key" {
    user_name = "cloudforge-api"
    revoke    = "deactivate"
  }

  # Plan sees the user's keys: one rotplan did not make is drift, and a
  # retire deactivates it.
  target "aws_iam_access_key" "cloudforge_api" {
    user_name = "cloudforge-api"
  }

  # The new key signs sts:GetCallerIdentity before it is promoted.
  verify "aws_sts" {}
}
