package sensitive

import (
	"crypto/subtle"
	"fmt"
	"io"
)

// Redacted is what a Value prints as, wherever it is printed.
const Redacted = "(sensitive)"

// Value is a secret value. The zero Value is empty.
type Value struct {
	b []byte
}

// New wraps s.
func New(s string) Value { return Value{b: []byte(s)} }

// FromBytes wraps b without copying; the caller gives up b.
func FromBytes(b []byte) Value { return Value{b: b} }

// Reveal returns the value as a string. Call it only where the value must
// leave rotplan: a store write, a target write, a login.
func (v Value) Reveal() string { return string(v.b) }

// Bytes returns the value's bytes; the caller must not modify them.
func (v Value) Bytes() []byte { return v.b }

// IsEmpty reports whether the value has no bytes.
func (v Value) IsEmpty() bool { return len(v.b) == 0 }

// Equal compares two values in constant time.
func (v Value) Equal(o Value) bool { return subtle.ConstantTimeCompare(v.b, o.b) == 1 }

// String implements fmt.Stringer.
func (Value) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (Value) GoString() string { return Redacted }

// Format implements fmt.Formatter for every verb, so %s, %v, %q, %x and %#v
// all print the redaction.
func (Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// MarshalJSON implements json.Marshaler.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
