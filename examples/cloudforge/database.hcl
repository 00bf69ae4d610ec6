# Runbook "Secret Inventory": PostgreSQL DSN | 1Password + Fly secret | 90 days.
# Runbook "Database Password Rotation", "Manual Rotation", steps 1 to 5.
#
# Two secrets: the aegis role's password, which rotplan sets on the
# database, and the DSN the API reads, made from it. Rotating the password
# rotates the DSN right after it, in the same apply.

secret "db_password" {
  description = "Password of the aegis PostgreSQL role."
  frequency   = "90d"

  # Step 3: the 1Password item behind AEGIS_DATABASE_URL_REF keeps the
  # password itself, so the DSN can always be rebuilt from it.
  store "onepassword" {
    reference = "op://Development/aegis-postgres-password/credential"
  }

  # Step 1: 32 letters and digits
  #   openssl rand -base64 32 | tr -dc 'a-zA-Z0-9' | head -c 32
  # which also keeps the DSN below free of characters needing URL escapes.
  generate "password" {
    length  = 32
    symbols = false
  }

  # Step 2: ALTER USER aegis PASSWORD '...', sent as a SCRAM-SHA-256
  # verifier so the password never reaches the server's logs. With a single
  # role the old password stops working at once, and the API fails until
  # database_url reaches Fly a few seconds later (runbook "Escalation":
  # "Database password rotation breaks connections"). strategy =
  # "alternating" with a second role closes that gap.
  target "postgres" "aegis" {
    admin_dsn = env("CLOUDFORGE_PG_ADMIN_DSN")
    role      = "aegis"
  }

  # Runbook "AWS RDS": verify the new password works,
  #   psql "postgresql://aegis:...@.../aegis" -c "SELECT 1;"
  # The server's address and TLS mode are the production ones unless
  # CLOUDFORGE_DB_ADDR and CLOUDFORGE_DB_SSLMODE say otherwise (a test server).
  verify "postgres" {
    dsn   = "postgres://aegis:${secret.db_password.value}@${env("CLOUDFORGE_DB_ADDR", "db.internal:5432")}/aegis?sslmode=${env("CLOUDFORGE_DB_SSLMODE", "require")}"
    query = "SELECT 1"
  }
}

secret "database_url" {
  description = "DSN the CloudForge API connects with (AEGIS_DATABASE_URL)."
  frequency   = "90d"

  store "onepassword" {
    reference = "op://Development/aegis-database-url/credential"
  }

  # Made from db_password: whenever that rotates, this follows.
  generate "template" {
    template = "postgres://aegis:${secret.db_password.value}@${env("CLOUDFORGE_DB_ADDR", "db.internal:5432")}/aegis?sslmode=${env("CLOUDFORGE_DB_SSLMODE", "require")}"
  }

  # Step 4: fly-sync-runtime-secrets.sh --include-postgres --apply
  target "fly" "cloudforge_api" {
    app = "cloudforge-api"
    key = "AEGIS_DATABASE_URL"
  }

  # The DSN itself connects.
  verify "postgres" {
    dsn = secret.database_url.value
  }

  # Step 5: curl -sf https://api.cloudforge.lvonguyen.com/health | jq '.components.postgres'
  # expect_value is what /health reports for a working component: check
  # yours with that curl before relying on it.
  verify "http" {
    url          = "${env("CLOUDFORGE_API_URL", "https://api.cloudforge.lvonguyen.com")}/health"
    json_path    = "components.postgres"
    expect_value = "healthy"
    timeout      = "5m"
  }
}
