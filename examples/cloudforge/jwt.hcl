# Runbook "Secret Inventory": JWT signing key | 1Password + Fly secret | 90 days.
# Runbook "JWT Signing Key Rotation", steps 1 to 5.

secret "jwt_signing_key" {
  description = "HS256 key the CloudForge API signs and checks its JWTs with (AEGIS_JWT_SECRET)."
  frequency   = "90d"
  # Step 3: during a rotation the API accepts both keys for 24h, longer than
  # any token it issues lives. Then the previous key retires (step 4).
  grace = "24h"

  # Step 2: the 1Password item backing AEGIS_JWT_SECRET, as the runbook
  # names it (op read op://Development/aegis-personal-jwt-secret/credential).
  store "onepassword" {
    reference = "op://Development/aegis-personal-jwt-secret/credential"
  }

  # Step 1, HS256: openssl rand -base64 64. The key is made in memory and
  # written only to the store, so step 5 (rm new-jwt-secret.txt ...) has
  # nothing to clean up.
  generate "random" {
    bytes    = 64
    encoding = "base64"
  }

  # Step 3: fly-sync-runtime-secrets.sh, plus
  #   fly secrets set JWT_PREVIOUS_SIGNING_KEY="<old-key>" -a cloudforge-api
  # for the dual-key rollout: the old key moves to previous_key.
  # Step 4, after the grace period, is the retire action:
  #   fly secrets unset JWT_PREVIOUS_SIGNING_KEY -a cloudforge-api
  target "fly" "cloudforge_api" {
    app          = "cloudforge-api"
    key          = "JWT_SIGNING_KEY"
    previous_key = "JWT_PREVIOUS_SIGNING_KEY"
  }

  # Runbook "Verification", 1: the health check, once the app has restarted
  # with the new key.
  verify "http" {
    url     = "${env("CLOUDFORGE_API_URL", "https://api.cloudforge.lvonguyen.com")}/health"
    timeout = "5m"
  }

  # Runbook "Verification", 3: the smoke test. CLOUDFORGE_API_TOKEN was
  # issued before this rotation, signed with the old key, so this passing
  # also proves the API still accepts the previous key (dual key).
  verify "http" {
    url       = "${env("CLOUDFORGE_API_URL", "https://api.cloudforge.lvonguyen.com")}/api/v1/findings"
    headers   = { Authorization = "Bearer ${env("CLOUDFORGE_API_TOKEN")}" }
    json_path = "total"
    timeout   = "5m"
  }
}
