# Runbook "Secret Inventory": Redis AUTH token | Secrets Manager | 90 days | ElastiCache: Yes.
#
# The runbook has no procedure for it. This follows ElastiCache's own way
# to change an AUTH token without downtime: ModifyReplicationGroup with
# AuthTokenUpdateStrategy ROTATE (old and new tokens both accepted), then,
# when the grace period ends, SET (only the new one).
#
# If Secrets Manager's own rotation is switched on for this secret, plan
# reports it as rotated by AWS and leaves it alone; switch that off to let
# rotplan rotate it.

secret "redis_auth_token" {
  description = "AUTH token of the cloudforge-redis ElastiCache replication group."
  frequency   = "90d"
  # Clients read the token from Secrets Manager when they connect; the old
  # token is accepted until the grace period ends, so restart or reconnect
  # them within it.
  grace = "24h"

  store "aws_secretsmanager" {
    secret_id = "aegis/redis-auth-token"
  }

  # ElastiCache takes 16 to 128 printable characters, and of the
  # non-alphanumeric ones only ! & # $ ^ < > -
  generate "password" {
    length     = 64
    symbols    = true
    symbol_set = "!&#$^<>-"
  }

  target "elasticache_auth_token" "cloudforge_redis" {
    replication_group_id = "cloudforge-redis"
  }

  # Runbook "Verification" for Redis: AUTH with the new token, then PING.
  # ElastiCache requires TLS with AUTH. The address is the group's primary
  # endpoint (aws elasticache describe-replication-groups); rotplan must run
  # where it can reach it, inside the VPC.
  verify "redis" {
    address = "master.cloudforge-redis.abc123.use1.cache.amazonaws.com:6379"
    tls     = true
    command = ["PING"]
  }
}
