# Runbook "Secret Inventory":
#   Okta API token         | Secrets Manager | 90 days  | No
#   Entra ID client secret | Azure Key Vault | 365 days | No
# Runbook "Identity Provider Secret Rotation": Okta API Token and Entra ID
# Client Secret, steps 1 to 4.
#
# Both are made and revoked by a person in the identity provider's console:
# apply asks the operator for the new value and prints the revoke step once
# the grace period is over.

secret "okta_api_token" {
  description = "Okta API token the CloudForge API manages users and groups with."
  frequency   = "90d"

  store "aws_secretsmanager" {
    secret_id = "aegis/okta-api-token"
  }

  # Steps 1 and 4. An Okta API token acts with the permissions of the admin
  # who created it, so create it as the CloudForge service admin.
  generate "manual" {
    instructions        = <<-EOT
      Sign in to the Okta Admin Console as the CloudForge service admin.
      Security > API > Tokens > Create token, name it
      cloudforge-api-YYYY-MM-DD (today's date), and paste the token here.
    EOT
    revoke_instructions = <<-EOT
      In the Okta Admin Console, Security > API > Tokens: revoke the
      previous cloudforge-api-... token (the older of the two).
    EOT
  }

  # Steps 2 and 3: fly-sync-runtime-secrets.sh --include-integrations --apply
  target "fly" "cloudforge_api" {
    app = "cloudforge-api"
    key = "OKTA_API_TOKEN"
  }

  # The pasted token works at Okta itself (Okta's scheme is SSWS, not Bearer).
  verify "http" {
    url     = "${env("OKTA_ORG_URL")}/api/v1/users/me"
    headers = { Authorization = "SSWS ${secret.okta_api_token.value}" }
  }

  # Step 3: verify protected API access,
  #   curl -sf https://api.cloudforge.lvonguyen.com/api/v1/providers -H "Authorization: Bearer $API_TOKEN"
  verify "http" {
    url     = "${env("CLOUDFORGE_API_URL", "https://api.cloudforge.lvonguyen.com")}/api/v1/providers"
    headers = { Authorization = "Bearer ${env("CLOUDFORGE_API_TOKEN")}" }
    timeout = "5m"
  }
}

secret "entra_client_secret" {
  description = "Client secret of the CloudForge app registration in Microsoft Entra ID."
  frequency   = "365d"
  # A month's notice: the secret expires in the tenant whether or not it
  # was rotated.
  notice = "30d"

  store "azure_keyvault" {
    vault_url = "https://cloudforge-kv.vault.azure.net/"
    name      = "entra-client-secret"
  }

  # Step 1. An 18-month expiry outlives the 365-day rotation with room for
  # notice and grace.
  generate "manual" {
    instructions        = <<-EOT
      Azure Portal > App registrations > CloudForge > Certificates & secrets >
      New client secret. Description cloudforge-api-YYYY-MM-DD (today's
      date), expires in 18 months. Paste its Value (not its Secret ID) here.
    EOT
    revoke_instructions = <<-EOT
      Azure Portal > App registrations > CloudForge > Certificates & secrets:
      delete the previous cloudforge-api-... client secret (the older one).
    EOT
  }

  # Steps 2 and 3: fly-sync-runtime-secrets.sh --include-integrations --apply
  target "fly" "cloudforge_api" {
    app = "cloudforge-api"
    key = "ENTRA_CLIENT_SECRET"
  }

  # The pasted secret gets a token from Entra ID (client credentials grant).
  # Client secrets Entra makes hold only letters, digits and ~ . _ -, which
  # need no escaping in a form body.
  verify "http" {
    url     = "https://login.microsoftonline.com/${env("CLOUDFORGE_ENTRA_TENANT_ID")}/oauth2/v2.0/token"
    method  = "POST"
    headers = { "Content-Type" = "application/x-www-form-urlencoded" }
    body = join("&", [
      "grant_type=client_credentials",
      "client_id=${env("CLOUDFORGE_ENTRA_CLIENT_ID")}",
      "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
      "client_secret=${secret.entra_client_secret.value}",
    ])
    json_path = "access_token"
  }

  # Step 3: verify protected API access.
  verify "http" {
    url     = "${env("CLOUDFORGE_API_URL", "https://api.cloudforge.lvonguyen.com")}/api/v1/providers"
    headers = { Authorization = "Bearer ${env("CLOUDFORGE_API_TOKEN")}" }
    timeout = "5m"
  }
}
