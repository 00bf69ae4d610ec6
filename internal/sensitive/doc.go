// Package sensitive holds secret values in a type that refuses to print them.
//
// A Value renders as "(sensitive)" through fmt, %#v, JSON and text
// marshalling, so an accidental log line or error cannot leak it. The only way
// to the bytes is an explicit Reveal or Bytes call, which a reviewer can grep
// for. Fingerprints are keyed (HMAC-SHA-256), never bare hashes.
//
// This package imports nothing from rotplan.
package sensitive
