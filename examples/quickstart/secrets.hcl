# The quickstart inventory: a small web app whose secrets live in rotplan's
# embedded local store (rotplan.store, beside this file) and are copied into
# the app's dotenv file (app.env). No credentials, no servers.
#
# The store's dates are fixed, so plan it as of 2026-12-01 to see one of each
# kind of action:  rotplan plan -at 2026-12-01

rotplan {
  notice = "14d" # report "due soon" two weeks ahead
  grace  = "24h" # keep the previous value valid for a day after a rotation
}

# In sync and not due: nothing to do.
secret "session_key" {
  description = "Signs the app's session cookies."
  frequency   = "30d"

  store "local" {}
  generate "random" {
    bytes    = 32
    encoding = "base64url"
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "SESSION_KEY"
  }
}

# Rotated 96 days before 2026-12-01, every 90 days: due.
secret "db_password" {
  description = "The app's PostgreSQL role password."
  frequency   = "90d"

  generate "password" {
    length  = 32
    symbols = false
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "DB_PASSWORD"
  }
}

# Made from db_password, so it rotates right after it.
secret "database_url" {
  description = "The DSN the app connects with."
  frequency   = "90d"

  generate "template" {
    template = "postgres://app:${secret.db_password.value}@localhost:5432/app?sslmode=disable"
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "DATABASE_URL"
  }
}

# Not due, but app.env holds an older value: drifted, so it is synced.
secret "api_token" {
  description = "Token the app's workers call the API with."
  frequency   = "90d"

  generate "random" {
    bytes    = 24
    encoding = "hex"
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "API_TOKEN"
  }
}

# Rotated three days ago; the previous key's day of grace is over: retire it.
secret "jwt_signing_key" {
  description = "HS256 key for API tokens; consumers accept the previous key during grace."
  frequency   = "90d"

  generate "random" {
    bytes = 64
  }
  target "env_file" "app" {
    path         = "app.env"
    key          = "JWT_SIGNING_KEY"
    previous_key = "JWT_PREVIOUS_SIGNING_KEY"
  }
}

# Not in the store yet: created.
secret "webhook_secret" {
  description = "Shared secret for signing outgoing webhooks."
  frequency   = "180d"

  generate "random" {}
  target "env_file" "app" {
    path = "app.env"
    key  = "WEBHOOK_SECRET"
  }
}

# Due in nine days: a warning, no action yet.
secret "tls_key" {
  description = "Private key of the internal TLS certificate."
  frequency   = "1y"
  notice      = "30d"

  generate "ecdsa" {
    curve = "P-256"
  }
}

# A key only a person can make: due, so the plan says how.
secret "vendor_api_key" {
  description = "API key for the email vendor, created in its console."
  frequency   = "180d"

  generate "manual" {
    instructions        = "Create a key at https://console.example-mail.test/settings/keys named app-YYYY-MM."
    revoke_instructions = "Delete the old key at https://console.example-mail.test/settings/keys."
  }
}

# An apply was interrupted after staging a new value: apply resumes it.
secret "cache_password" {
  description = "Redis password for the app's cache."
  frequency   = "90d"

  generate "password" {
    length  = 40
    symbols = false
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "CACHE_PASSWORD"
  }
}
