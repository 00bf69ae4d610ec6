# Runbook "Secret Inventory":
#   Anthropic API key | Secrets Manager | 180 days | No
#   OpenAI API key    | Secrets Manager | 180 days | No
# Runbook "AI Provider API Key Rotation": Anthropic Claude, steps 1 to 5,
# and OpenAI (Fallback), "same process".
#
# Only a person can create or revoke these keys, in the vendors' consoles:
# apply asks the operator for the new key (no echo) and prints the revoke
# step as a checklist item once the grace period is over. The table keeps
# them in Secrets Manager; the procedure's "1Password item" is the older
# setup, and swapping the store block is all it takes to go back.

secret "anthropic_api_key" {
  description = "Anthropic API key the CloudForge API calls Claude with."
  frequency   = "180d"

  store "aws_secretsmanager" {
    secret_id = "aegis/anthropic-api-key"
  }

  # Steps 1 and 5.
  generate "manual" {
    instructions        = <<-EOT
      Create a key at https://console.anthropic.com/settings/keys in the
      CloudForge workspace, named cloudforge-api-YYYY-MM-DD (today's date),
      and paste it here.
    EOT
    revoke_instructions = <<-EOT
      At https://console.anthropic.com/settings/keys, delete the previous
      cloudforge-api-... key (the older of the two).
    EOT
  }

  # Steps 2 and 3: fly-sync-runtime-secrets.sh --include-threat-intel --include-integrations --apply
  target "fly" "cloudforge_api" {
    app = "cloudforge-api"
    key = "ANTHROPIC_API_KEY"
  }

  # The pasted key works at Anthropic itself.
  verify "http" {
    url = "${env("CLOUDFORGE_ANTHROPIC_API_URL", "https://api.anthropic.com")}/v1/models"
    headers = {
      "x-api-key"         = secret.anthropic_api_key.value
      "anthropic-version" = "2023-06-01"
    }
  }

  # Step 4: curl -sf https://api.cloudforge.lvonguyen.com/health | jq '.components.ai_provider'
  verify "http" {
    url          = "${env("CLOUDFORGE_API_URL", "https://api.cloudforge.lvonguyen.com")}/health"
    json_path    = "components.ai_provider"
    expect_value = "healthy"
    timeout      = "5m"
  }
}

secret "openai_api_key" {
  description = "OpenAI API key, the CloudForge API's fallback AI provider."
  frequency   = "180d"

  store "aws_secretsmanager" {
    secret_id = "aegis/openai-api-key"
  }

  generate "manual" {
    instructions        = <<-EOT
      Create a secret key at https://platform.openai.com/api-keys in the
      CloudForge project, named cloudforge-api-YYYY-MM-DD (today's date),
      and paste it here.
    EOT
    revoke_instructions = <<-EOT
      At https://platform.openai.com/api-keys, revoke the previous
      cloudforge-api-... key (the older of the two).
    EOT
  }

  # fly-sync-runtime-secrets.sh --include-integrations --apply
  target "fly" "cloudforge_api" {
    app = "cloudforge-api"
    key = "OPENAI_API_KEY"
  }

  # The pasted key works at OpenAI itself.
  verify "http" {
    url     = "${env("CLOUDFORGE_OPENAI_API_URL", "https://api.openai.com")}/v1/models"
    headers = { Authorization = "Bearer ${secret.openai_api_key.value}" }
  }

  # Runbook "Verification", 1: the API is healthy after the restart.
  verify "http" {
    url     = "${env("CLOUDFORGE_API_URL", "https://api.cloudforge.lvonguyen.com")}/health"
    timeout = "5m"
  }
}
