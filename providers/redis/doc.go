// Package redis holds rotplan's Redis block types, built on go-redis:
//
//   - target "redis" (Target): a server that authenticates with the secret,
//     so apply sets it before it delivers copies and rolls it back last.
//   - verify "redis" (Verifier): AUTH with the value, then a command (PING
//     by default), retried with backoff until the check's deadline.
//
// Each of the behaviours below happens on every node of the block; "Nodes"
// says how they are found and how one node's failure is reported.
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
// # Nodes
//
// Redis does not replicate ACL SETUSER, CONFIG SET or ACL SAVE: a primary's
// replicas and a cluster's other members keep their own users. So a block
// names every node (address, nodes, or both), or names some and discovers
// the rest: discover = "replicas" asks each node for INFO and follows its
// primary (master_host) and its replicas (slaveN lines) until no new node
// turns up, counting a node reached under two names once (by run_id);
// discover = "cluster" asks the first listed node that answers for CLUSTER
// NODES and takes every member, primaries and replicas, leaving out nodes
// still in handshake. Discovery logs in as the admin (without one, as the
// rotated user with the value at hand) and needs +info or +cluster|nodes.
// A node that is found but cannot be reached fails the item: the change
// must reach it too. Nodes come from what the servers announce
// (replica-announce-ip, cluster-announce-ip), which rotplan must be able
// to reach.
//
// Every write reads every node first (logs in, reads the user) and changes
// none when one of them cannot take the change: the error names each such
// node. Then it changes each node, reads the change back (ACL GETUSER; in
// requirepass mode a fresh login with the new password) and saves it. A
// node that fails then fails the item, naming it; apply's rollback reverts
// every node, and a revert goes on past a node it cannot reach, then names
// it. A retire is refused on every node while any of them does not take
// the current password. The item is skipped when every node already was as
// asked. Observe holds the current value only when every node takes it;
// when some do not, it holds another and the log (warn) names them; it
// counts each password rotplan did not make once, however many nodes hold
// it.
//
// In requirepass mode a node whose masterauth was the password being
// replaced gets the new one too (CONFIG GET and CONFIG SET masterauth), so
// a replica still logs in to its primary, whose password changes with it,
// when it reconnects. In acl mode rotplan leaves masterauth alone: rotate
// the user replicas log in as (masteruser) some other way, or point
// masterauth at its new password before the old one retires.
//
// verify "redis" logs in to each node it lists (address and nodes), side
// by side, and passes only when every one does; it has no discovery. The
// target has already read the change back on every node it found, so a
// verify that names the node clients use proves the client's side.
//
// # Saving
//
// After a change on a node rotplan saves it there as save says, so a
// restart does not bring the old password back. save = "auto" (the
// default) runs ACL SAVE when the server has an ACL file, else CONFIG
// REWRITE when it has a configuration file; a server with neither keeps
// everything in memory. save = "acl_save" and "config_rewrite" run that
// one command and fail when the server refuses it (config_rewrite in acl
// mode also when the server keeps its users in an ACL file, which CONFIG
// REWRITE does not write). save = "none" saves nothing, for managed Redis,
// which forbids both commands and keeps its users itself; the plan notes
// that a node restarting from its own files would lose the change. A change
// a node refuses to save is an error (and apply reverts it). The login that
// makes changes is admin_username and admin_password; it needs
// +acl|getuser, +acl|setuser and what save uses (+acl|save, +config|rewrite,
// with config_rewrite in acl mode +config|get too); in requirepass mode
// +config|set and +config|get instead of the first two. Plan uses it too,
// when the block has one, to read the user's passwords, which needs
// +acl|getuser alone (and what discovery needs). Without one, rotplan logs
// in as the rotated user with the old (or new) value, which works only
// where that user may change passwords.
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
