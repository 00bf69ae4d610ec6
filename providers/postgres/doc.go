// Package postgres holds rotplan's PostgreSQL block types:
//
//   - target "postgres": a login role whose password is the secret. It sets
//     the password with ALTER ROLE ... PASSWORD, sending a SCRAM-SHA-256
//     verifier computed client-side so the cleartext never reaches the
//     server's logs. With strategy "alternating" it switches between two
//     roles, so the previous role's password stays valid through grace.
//     Drift is found with a login probe using the store's current value.
//   - verify "postgres": connects with a DSN and runs a query.
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package postgres
