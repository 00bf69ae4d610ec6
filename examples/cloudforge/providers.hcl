# CloudForge: the "Secrets Rotation" runbook as a rotplan inventory.
# README.md maps every row and procedure of the runbook to the secrets in
# these files:
#
#   providers.hcl  settings and connections every secret shares
#   jwt.hcl        JWT signing key               (1Password -> Fly, dual key)
#   database.hcl   PostgreSQL password and DSN   (1Password -> PostgreSQL, Fly)
#   redis.hcl      Redis AUTH token              (Secrets Manager -> ElastiCache)
#   ai.hcl         Anthropic and OpenAI keys     (Secrets Manager -> Fly, manual)
#   identity.hcl   Okta token, Entra ID secret   (Secrets Manager / Key Vault -> Fly, manual)
#   cloud.hcl      AWS IAM access key            (IAM -> Secrets Manager)
#
# No credential is written in these files: each comes from the environment
# through env(), so `rotplan validate` runs with none set, `rotplan plan`
# with read-only ones and `rotplan apply` with write ones.
#
# Every address is the production one unless a variable says otherwise
# (env("NAME", "default") reads NAME and falls back to the default), so the
# same files run against test servers: README.md, "Pointing it at test
# servers", lists the variables.

rotplan {
  # Rotations show as "due soon" two weeks before they are due.
  notice = "14d"
  # Runbook "JWT Signing Key Rotation", step 3: old and new values are both
  # accepted for a grace period (default: 24h).
  grace = "24h"

  # apply's journal and lock. Plan needs no state.
  state "local" {
    path = "rotplan.state"
  }
}

# Runbook "Runtime note": the live demo uses 1Password as the source of
# truth. A service account token: read-only for plan, read-write for apply.
provider "onepassword" {
  service_account_token = env("OP_SERVICE_ACCOUNT_TOKEN")
}

# Runbook "Prerequisites": AWS Secrets Manager. Credentials come from the
# AWS SDK's default chain (AWS_PROFILE on a laptop, OIDC web identity in
# CI), never from this file; README.md lists the permissions. The SDK also
# reads AWS_ENDPOINT_URL, which points it at a local emulator instead of AWS.
provider "aws" {
  region = "us-east-1"
}

# Runbook "Prerequisites": Azure Key Vault. A service principal that can
# read (plan) or write (apply) secrets in the vault. To use workload
# identity or `az login` instead, delete these three lines.
provider "azure" {
  tenant_id     = env("AZURE_TENANT_ID")
  client_id     = env("AZURE_CLIENT_ID")
  client_secret = env("AZURE_CLIENT_SECRET")
}

# Runbook "Prerequisites": flyctl authenticated against the personal org.
# A deploy token for the cloudforge-api app is enough. FLY_FLAPS_BASE_URL is
# the variable flyctl reads for another Machines API address (an emulator).
provider "fly" {
  api_token = env("FLY_API_TOKEN")
  api_url   = env("FLY_FLAPS_BASE_URL", "https://api.machines.dev")
}
