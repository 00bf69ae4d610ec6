# The runbook's "Database Password Rotation" and the Redis AUTH token, on real
# servers you run yourself: demo.sh starts throwaway ones on loopback and walks
# through plan, apply, verify, plan again and retire.
#
# Connection settings come from the environment (demo.sh sets them):
#   PG_HOST, PG_PORT       the PostgreSQL server
#   PG_ADMIN_DSN           a role allowed to ALTER ROLE app
#   REDIS_ADDR             the Redis server, host:port
#   REDIS_ADMIN_PASSWORD   the password of its "admin" ACL user

rotplan {
  # How long a previous value keeps working after a rotation; demo.sh sets
  # DEMO_GRACE to a few seconds so it can show a retire.
  grace = env("DEMO_GRACE", "24h")
}

# Runbook, "Database Password Rotation / Manual Rotation": a new password for
# the app's role, set with ALTER ROLE (a SCRAM verifier, never the cleartext),
# proven by logging in, then copied into the app's env file.
secret "db_password" {
  description = "Password of the PostgreSQL role the app logs in as."
  frequency   = "90d"

  store "local" {}
  generate "password" {
    length  = 32
    symbols = false
  }
  target "postgres" "app_role" {
    admin_dsn = env("PG_ADMIN_DSN")
    role      = "app"
    strategy  = "single" # the old password stops working at once; the env file follows right after
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "DB_PASSWORD"
  }
  verify "postgres" {
    dsn = "host=${env("PG_HOST")} port=${env("PG_PORT")} user=app dbname=postgres sslmode=disable password=${secret.db_password.value}"
  }
}

# The DSN the app reads, made from the password: it rotates right after it.
secret "database_url" {
  description = "DSN the app connects with."
  frequency   = "90d"

  generate "template" {
    template = "postgres://app:${secret.db_password.value}@${env("PG_HOST")}:${env("PG_PORT")}/postgres?sslmode=disable"
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "DATABASE_URL"
  }
  verify "postgres" {
    dsn = secret.database_url.value
  }
}

# Runbook, "Redis AUTH token": the app's ACL user holds the new password beside
# the old one during grace, so clients that still hold the old one keep
# working; retire removes the old one.
secret "redis_password" {
  description = "Password of the Redis ACL user the app authenticates as."
  frequency   = "90d"

  generate "password" {
    length  = 40
    symbols = false
  }
  target "redis" "app_user" {
    address        = env("REDIS_ADDR")
    admin_username = "admin"
    admin_password = env("REDIS_ADMIN_PASSWORD")
    username       = "app"
  }
  target "env_file" "app" {
    path         = "app.env"
    key          = "REDIS_PASSWORD"
    previous_key = "REDIS_PREVIOUS_PASSWORD"
  }
  verify "redis" {
    address  = env("REDIS_ADDR")
    username = "app"
  }
}
