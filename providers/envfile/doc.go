// Package envfile is the env_file target: a dotenv file (KEY=VALUE lines)
// that holds a copy of a secret's value under one key and, for consumers that
// accept two keys during a rotation, the previous value under another.
//
// It owns reading such files to tell whether they hold the store's current
// value (Observe, comparing keyed fingerprints, never the values themselves)
// and rewriting them for apply (Write: only the named keys change; every
// other line, comment and the order are kept; the result is written
// atomically, keeping the file's owner, group and mode, and a new file gets
// mode 0600). Target implements providers.TargetWriter on top of Write:
// Deliver sets key (and previous_key to the value it replaces), Revert puts
// the old value back and clears previous_key of the values the failed
// rotation put there, Retire removes previous_key. Each call reads and
// writes each file once for all its items, and skips an item whose file
// already holds what it asks, so a call can run again after a crash; before
// it reads a file it removes the temporary files a crashed writer left
// beside it. No error it returns carries a value.
//
// This package imports providers, config, internal/atomicfile and
// internal/sensitive of rotplan, and nothing else of it.
package envfile
