#!/usr/bin/env bash
# Walks through the runbook's database-password and Redis-token rotations on
# throwaway servers: starts PostgreSQL and Redis on loopback ports, then
#   plan (3 to create) -> apply -> the app's credentials work -> plan (the Redis
#   user's bootstrap password, which rotplan did not make) -> apply (retire it)
#   -> plan (nothing to do) -> apply -replace (rotate again; Redis keeps the old password during
#   grace, 20 seconds here) -> plan -at +25h (what a day later looks like) ->
#   the grace ends -> plan (retire) -> apply -> the old password is gone,
# stops the servers, and exits 0 only if every step behaved as expected.
# Needs Go, PostgreSQL and redis-server (make test installs them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/rotplan-demo.XXXXXX)
chmod 755 "$work"
pg_pid_file=""
redis_pid=""

cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  [ -n "$pg_pid_file" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
secret_of() { grep "^$1=" "$work/inv/app.env" | head -n 1 | cut -d= -f2- | tr -d '"'"'"; }

pg_bin=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
[ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ] || fail "PostgreSQL is not installed (make test installs it)"
command -v redis-server >/dev/null || fail "redis-server is not installed (make test installs it)"
[ -x "$pg_bin/postgres" ] || pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

step "build rotplan"
(cd "$repo" && go build -o "$work/rotplan" ./cmd/rotplan)
rotplan() { "$work/rotplan" -chdir="$work/inv" "$@"; }

step "start PostgreSQL and Redis on loopback"
pg_port=$(free_port)
admin_pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
mkdir "$work/pg" && printf '%s\n' "$admin_pw" > "$work/pgpw"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/pg" "$work/pgpw"
as_pg "$pg_bin/initdb" -D "$work/pg" -U rotplan_admin --pwfile="$work/pgpw" -A scram-sha-256 --auth-local=trust >/dev/null
rm -f "$work/pgpw"
as_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w \
  -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
pg_pid_file="$work/pg/postmaster.pid"
as_pg psql -h "$work/pg" -p "$pg_port" -U rotplan_admin -d postgres -qc \
  "CREATE ROLE app LOGIN PASSWORD 'initial-app-password'" >/dev/null

redis_port=$(free_port)
redis_admin_pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
cat > "$work/redis.conf" <<CONF
port $redis_port
bind 127.0.0.1
save ""
appendonly no
dir $work
user default off
user admin on >$redis_admin_pw ~* &* +@all
user app on >initial-redis-password ~* &* +@all
CONF
chmod 600 "$work/redis.conf"
redis-server "$work/redis.conf" >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" --user admin --pass "$redis_admin_pw" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done

export PG_HOST=127.0.0.1 PG_PORT=$pg_port
export PG_ADMIN_DSN="host=127.0.0.1 port=$pg_port user=rotplan_admin password=$admin_pw dbname=postgres sslmode=disable"
export REDIS_ADDR=127.0.0.1:$redis_port REDIS_ADMIN_PASSWORD=$redis_admin_pw
# The inventory's grace is 24h; the demo cannot wait that long.
export DEMO_GRACE=20s
mkdir "$work/inv" && cp "$here/secrets.hcl" "$work/inv/"

pg_login() { PGPASSWORD="$1" psql -h 127.0.0.1 -p "$pg_port" -U app -d postgres -tAc 'SELECT 1' 2>/dev/null | grep -qx 1; }
redis_login() { redis-cli -p "$redis_port" --user app --pass "$1" --no-auth-warning ping 2>/dev/null | grep -qx PONG; }

step "plan: nothing is in the store yet; the app's Redis user already has a password rotplan did not make"
set +e; rotplan plan -detailed-exitcode | tee "$work/create.plan"; code=${PIPESTATUS[0]}; set -e
[ "$code" -eq 2 ] || fail "plan exited $code, want 2 (work pending)"
grep -q "already accepts 1 credential that rotplan did not make" "$work/create.plan" || fail "plan does not mention the Redis user's bootstrap password"

step "apply: create every secret, set it on the servers, prove it, copy it to app.env"
rotplan apply -auto-approve || fail "apply failed"
db_pw=$(secret_of DB_PASSWORD); redis_pw=$(secret_of REDIS_PASSWORD)
pg_login "$db_pw" || fail "the app role does not accept the password in app.env"
pg_login initial-app-password && fail "the app role still accepts its old password"
redis_login "$redis_pw" || fail "the app Redis user does not accept the password in app.env"
grep -q "^DATABASE_URL=.*$db_pw" "$work/inv/app.env" || fail "DATABASE_URL does not carry the new password"
echo "the app's credentials work"

step "plan again: the bootstrap password still works, so plan retires it"
set +e; rotplan plan -detailed-exitcode; code=$?; set -e
[ "$code" -eq 2 ] || fail "plan after the create exited $code, want 2 (the bootstrap password to retire)"
redis_login initial-redis-password || fail "the bootstrap password stopped working before its retire"
rotplan apply -auto-approve || fail "the retire of the bootstrap password failed"
redis_login initial-redis-password && fail "the bootstrap password still works after its retire"
redis_login "$redis_pw" || fail "the app Redis user does not accept the password in app.env"

step "plan again: nothing to do"
rotplan plan -detailed-exitcode || fail "plan after apply did not say 'nothing to do'"

step "apply -replace: rotate both passwords again"
rotplan apply -auto-approve -replace secret.db_password -replace secret.redis_password || fail "second apply failed"
new_redis_pw=$(secret_of REDIS_PASSWORD)
[ "$new_redis_pw" != "$redis_pw" ] || fail "the Redis password did not change"
redis_login "$new_redis_pw" || fail "the new Redis password does not work"
redis_login "$redis_pw" || fail "the previous Redis password stopped working before its grace ended"
[ "$(secret_of REDIS_PREVIOUS_PASSWORD)" = "$redis_pw" ] || fail "app.env does not hold the previous Redis password"
pg_login "$(secret_of DB_PASSWORD)" || fail "the new database password does not work"
echo "new passwords work; the previous Redis password stays valid for its grace ($DEMO_GRACE here)"

step "plan -at +25h: what a plan a day from now shows"
set +e; rotplan plan -at +25h -detailed-exitcode | tee "$work/retire.plan"; code=$?; set -e
[ "$code" -eq 2 ] || fail "plan -at +25h exited $code, want 2"
grep -q "will retire its previous value" "$work/retire.plan" || fail "plan -at +25h shows no retire"

step "wait for the grace to end, then plan and apply: retire"
sleep 21
set +e; rotplan plan -detailed-exitcode; code=$?; set -e
[ "$code" -eq 2 ] || fail "plan after the grace exited $code, want 2"
rotplan apply -auto-approve || fail "retire failed"
redis_login "$redis_pw" && fail "the previous Redis password still works after retire"
redis_login "$new_redis_pw" || fail "the current Redis password stopped working"
grep -q "^REDIS_PREVIOUS_PASSWORD=" "$work/inv/app.env" && fail "app.env still holds the previous Redis password"

step "audit log and state hold no value"
for v in "$db_pw" "$redis_pw" "$new_redis_pw"; do
  grep -rqF -- "$v" "$work/inv/rotplan.state" "$work/inv/rotplan.audit.jsonl" && fail "a value leaked into the state or the audit log"
done

printf '\n\033[1mdemo passed\033[0m: plan, apply, verify, plan again, rotate with grace, retire.\n'
