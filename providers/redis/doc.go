// Package redis holds rotplan's Redis block types:
//
//   - target "redis": a server that authenticates with the secret. In "acl"
//     mode (Redis 6 and later) the value is an ACL user's password, added
//     with ACL SETUSER beside the old one, which is removed at retire, so
//     both work through grace. In "requirepass" mode it is the server's
//     single password, set with CONFIG SET requirepass; the old one stops
//     working at once. Drift is found with an AUTH probe using the store's
//     current value.
//   - verify "redis": AUTH with the value, then a command (PING by default).
//
// ElastiCache AUTH tokens are set through the AWS API instead, by target
// "elasticache_auth_token" in package aws; verify "redis" checks them.
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package redis
