package sensitive

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// Fingerprint is a keyed digest of a Value. Without the key it says nothing
// about the value, so it may be compared and kept where a value may not.
type Fingerprint []byte

// String renders the fingerprint in hex with its algorithm.
func (f Fingerprint) String() string { return "hmac-sha256:" + hex.EncodeToString(f) }

// Equal compares two fingerprints in constant time.
func (f Fingerprint) Equal(o Fingerprint) bool { return hmac.Equal(f, o) }

// Fingerprinter makes fingerprints under one key.
type Fingerprinter struct {
	key []byte
}

// NewFingerprinter returns a fingerprinter with a fresh random key, good for
// comparisons within one process.
func NewFingerprinter() *Fingerprinter {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("sensitive: no randomness: " + err.Error())
	}
	return &Fingerprinter{key: key}
}

// NewFingerprinterWithKey returns a fingerprinter with a fixed key, for
// fingerprints that must be compared across processes.
func NewFingerprinterWithKey(key []byte) *Fingerprinter {
	return &Fingerprinter{key: append([]byte(nil), key...)}
}

// Of returns v's fingerprint.
func (p *Fingerprinter) Of(v Value) Fingerprint {
	m := hmac.New(sha256.New, p.key)
	m.Write(v.b)
	return m.Sum(nil)
}
