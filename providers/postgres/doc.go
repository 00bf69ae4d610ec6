// Package postgres holds rotplan's PostgreSQL block types:
//
//   - target "postgres": a login role whose password is the secret. It
//     authenticates (BlockSchema.Authenticates), so apply sets it before it
//     delivers copies and rolls it back last.
//     Observe logs in as the role with the store's current value: accepted
//     is "holds current", a failed password check (SQLSTATE 28P01) is
//     "holds other", and anything else (an unreachable server, a
//     pg_hba.conf that turns the role away) is an error, not a guess. The
//     probe takes admin_dsn's host, port, database and TLS settings and,
//     unless admin_dsn sets require_auth, accepts only SCRAM-SHA-256 or MD5
//     challenges, so the value never crosses the wire. A role has one
//     password, so a probe that fails is all there is to know: nothing is
//     counted as Unknown. Before the secret exists (no current value),
//     Observe asks the admin connection instead whether the role has a
//     password (rolpassword IS NOT NULL in pg_authid, nothing more of it):
//     "other" with one Unknown credential if it has, "nothing" if not, and
//     "unknown" when admin_dsn is no superuser and may not read pg_authid.
//     A role that does not exist is an error for Observe and Deliver alike:
//     rotplan sets passwords, it does not create roles.
//     Deliver and Revert run ALTER ROLE ... PASSWORD through one admin
//     connection per admin_dsn, sending a SCRAM-SHA-256 verifier computed
//     here (4096 iterations, a random 16-byte salt), so the cleartext never
//     reaches the server or its logs. A role that already accepts the value
//     is skipped, so a re-run after a crash changes nothing. Only ASCII
//     passwords are set: PostgreSQL takes those as they are, and would
//     normalise others with SASLprep, which this package does not do.
//     With strategy "single" the old password stops working when the new
//     one is set, so Retire has nothing to do. Strategy "alternating" (two
//     roles, the new password on the one not in use) validates but is not
//     implemented: every call reports providers.ErrNotImplemented, since a
//     secret's value carries no "role in use" for consumers to follow.
//   - verify "postgres": connects with a DSN, which carries the value
//     through the secret's reference, and runs a query (SELECT 1 by
//     default), retrying until the context's deadline.
//
// No error carries a value or a DSN: they name the role, or the user,
// server and database, and pgx's parse errors, which can quote a DSN, are
// replaced by a fixed message.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package postgres
