// Package state keeps what apply needs between runs: the journal of
// rotations in flight, so a crash at any step is resumed by running apply
// again, and the lock, so two operators never rotate at once. It also appends
// the audit log.
//
// State never holds a secret value. The local backend is a JSON file beside
// the inventory (mode 0600) with a lock file held by flock(2): the kernel
// releases it when its holder dies, so a killed apply never leaves the state
// locked.
//
// state imports nothing from rotplan.
package state
