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
//     With strategy "single", a role that does not exist is an error for
//     Observe and Deliver alike: rotplan sets its password, it does not
//     create it.
//     Deliver and Revert run ALTER ROLE ... PASSWORD through one admin
//     connection per admin_dsn, sending a SCRAM-SHA-256 verifier computed
//     here (4096 iterations, a random 16-byte salt), so the cleartext never
//     reaches the server or its logs. A role that already accepts the value
//     is skipped, so a re-run after a crash changes nothing. Only ASCII
//     passwords are set: PostgreSQL takes those as they are, and would
//     normalise others with SASLprep, which this package does not do.
//     With strategy "single" the old password stops working when the new
//     one is set, so Retire has nothing to do.
//   - strategy "alternating", with generate "postgres_login": two login
//     roles, role and alternate_role, take turns. The secret's value is a
//     login, {"username", "password"} (sensitive.FromFields), and the
//     target takes it whole (no field). Which role is in use is decided by
//     the generator, since the value must name its role before it is
//     staged, and a generator sees neither the store nor the current value:
//     it asks the server through admin_dsn which of the two may log in with
//     a password (a superuser reads pg_authid: a password whose VALID UNTIL
//     has not passed; another admin reads pg_roles, where only VALID UNTIL
//     shows) and picks the other, or role when neither may. A role whose
//     password rotplan removed is marked VALID UNTIL '-infinity', which is
//     how an admin that may not read pg_authid tells; these VALID UNTIL
//     settings replace any expiry set on the two roles by hand. Apply retires the
//     previous login before a rotation (planner.Change.RetireFirst), so at
//     generate time only the login in use can log in; when both may (roles
//     set up by hand), generate refuses rather than guess.
//     Deliver sets the login's role (PASSWORD verifier VALID UNTIL
//     'infinity') and leaves the other alone, so the login consumers hold
//     keeps working through set, deliver, verify and the grace; a login for
//     the role the previous login uses is refused, as setting it would end
//     the login in use. A role of the pair that does not exist is created
//     first, in one transaction, as a LOGIN role granted every role the
//     other is a member of (with its admin option); the other's own
//     privileges are not copied. An admin_dsn without CREATEROLE gets an
//     error saying so. Retire removes the password of the role the current
//     login does not use (PASSWORD NULL VALID UNTIL '-infinity'), refusing
//     if the current login does not work; Revert does the same to the
//     candidate's role and sets the old login again only if it does not
//     work. Observe logs in with the current login, and counts the other
//     role as one Unknown credential while it may log in and the previous
//     login (during its grace) does not work there.
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
