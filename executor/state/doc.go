// Package state keeps what apply needs between runs: the journal of
// rotations in flight, so a crash at any step is resumed by running apply
// again, and the lock, so two operators never rotate at once. It also
// appends the audit log.
//
// Every backend implements Backend and passes the conformance suite
// (conformance_test.go); the Registry decodes each one's state "TYPE" {}
// block and opens it. A held Lock is the only way to change the journal,
// one rotation's entry at a time against the journal's serial, so that a
// backend writes a row or a small object per step, and a holder that lost
// its lock, or wrote against a stale serial, writes nothing.
//
//   - local (local.go): a JSON file beside the inventory (mode 0600) with a
//     lock file held by flock(2) (LockFileEx on Windows): the kernel
//     releases it when its holder dies.
//   - postgres (postgres.go): a row per rotation in flight and a session
//     advisory lock held on a connection of its own; the audit log in a
//     table too.
//   - s3 (s3.go): the journal as an object and the lock as a second object,
//     both written with S3's conditional writes, the lock renewed by its
//     holder.
//
// State never holds a secret value. state imports nothing from rotplan but
// its internal packages.
package state
