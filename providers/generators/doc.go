// Package generators makes secrets' next values on this machine: random
// bytes, passwords, RSA, ECDSA and Ed25519 key pairs, values rendered from
// other secrets (template), and the manual type whose values only a person
// can make.
//
// It owns each type's schema (an hcldec spec with defaults and per-attribute
// checks, so `rotplan validate` points at a bad attribute) and its Generator.
// Checks that need several attributes together, such as a password whose
// minimums exceed its length, are made by Generate. Every value is drawn
// from crypto/rand, returned as a sensitive.Value and never written to disk;
// no error message carries a value.
//
// This package imports providers, config (for BlockSchema) and
// internal/sensitive, and no other rotplan package.
package generators
