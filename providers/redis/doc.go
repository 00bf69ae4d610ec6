// Package redis holds rotplan's Redis block types, built on go-redis:
//
//   - target "redis" (Target): a server that authenticates with the secret,
//     so apply sets it before it delivers copies and rolls it back last.
//   - verify "redis" (Verifier): AUTH with the value, then a command (PING
//     by default), retried with backoff until the check's deadline.
//
// In "acl" mode (Redis 6 and later; the default) the value is an ACL user's
// password, and a user holds several:
//
//   - Observe logs in on a fresh connection with the store's current value
//     and sends PING: current if it answers, other if the login is refused
//     (Redis does not say whether the password, the user or its "on" flag
//     was wrong). That needs no admin login, so a plan runs without one.
//     With an admin login it also reads the user (ACL GETUSER) and counts as
//     Unknown every password that is neither the store's current nor its
//     previous value: one the user had before rotplan took it over, or one
//     someone added since. A nopass user takes any password: it is seen as
//     holding the current one, with one Unknown credential (and a warning in
//     the log saying why); a Deliver or Retire ends nopass. Before a secret
//     exists (no current value) Observe reads the user: nothing if it has no
//     password, other with Unknown counting them if it has, an error if
//     there is no such user; without an admin login it cannot tell.
//   - Deliver adds the new password with ACL SETUSER <user> #<sha256>,
//     beside the old one, which keeps working through grace. Redis takes a
//     password by its SHA-256, so the password itself never reaches the
//     server: not the wire, not MONITOR, not SLOWLOG. The user must exist and
//     be enabled: rotplan sets passwords, never permissions, and does not
//     create users. A password already there is skipped (ACL GETUSER lists
//     the hashes).
//   - Revert puts the old password back if it went and removes the failed
//     candidate with ACL SETUSER <user> !<sha256>.
//   - Retire leaves the current password the only one, with one ACL
//     SETUSER <user> resetpass #<sha256>: the previous password goes, and so
//     does every password rotplan did not make, and nopass. It refuses while
//     the user does not take the current password, so clients that use it
//     are never locked out, and is skipped when that is the only one.
//
// In "requirepass" mode the value is the server's single password. Observe
// logs in with AUTH <password>; a server that also answers without a
// password holds none, and one that asks for a password when the store has
// no value yet holds another; there is one password, so nothing is ever
// Unknown. Deliver and Revert set it with CONFIG SET requirepass, which has
// to send the password itself; there is no second password, so the old one
// stops working at once and clients must switch together. Retire has
// nothing to do.
//
// After a change rotplan saves it where the server keeps its users, so a
// restart does not bring the old password back: ACL SAVE when the server
// has an ACL file, else CONFIG REWRITE when it has a configuration file; a
// server with neither keeps everything in memory. A change the server
// refuses to save is an error (and apply reverts it). The login that makes
// changes is admin_username and admin_password; it needs +acl|getuser,
// +acl|setuser and +acl|save or +config|rewrite (requirepass mode:
// +config|set instead of the first two). Plan uses it too, when the block
// has one, to read the user's passwords, which needs +acl|getuser alone.
// Without one, rotplan logs in as the rotated user with the old (or new)
// value, which works only where that user may change passwords.
//
// No error or log line carries a value or a password's hash: Redis quotes
// a rejected ACL SETUSER rule in its error, and those are redacted.
//
// ElastiCache AUTH tokens are set through the AWS API instead, by target
// "elasticache_auth_token" in package aws; verify "redis" checks them.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive; its tests also import internal/testservers, which
// starts real redis-server processes.
package redis
