// Package providers defines the small interfaces rotplan's systems implement
// (Store, Generator, Target, Verifier) and the Registry that maps a block type
// in an inventory ("local", "password", "env_file") to its schema and factory.
//
// Each interface method takes a Request struct and returns a Response struct,
// so a field can be added later without touching every provider. Abilities
// only some systems have are separate interfaces discovered by type assertion.
//
// This package imports config (for block kinds and schemas) and nothing else
// of rotplan; the concrete providers live in packages below it, and only
// cmd/rotplan imports them.
package providers
