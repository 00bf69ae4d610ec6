package sensitive

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
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

// ErrNotStructured is returned by Field for a value that is not a JSON
// object of string fields.
var ErrNotStructured = errors.New("the value is not an object of named string fields")

// Fields reads a structured value: a JSON object of named string fields (an
// access key id and its secret; a username and a password). The error never
// quotes the value.
func (v Value) Fields() (map[string]Value, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(v.b, &raw); err != nil || raw == nil {
		return nil, ErrNotStructured
	}
	out := make(map[string]Value, len(raw))
	for name, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil || string(r) == "null" {
			return nil, ErrNotStructured // not even the name: it comes from the value
		}
		out[name] = New(s)
	}
	return out, nil
}

// Field returns one field of a structured value.
func (v Value) Field(name string) (Value, error) {
	fields, err := v.Fields()
	if err != nil {
		return Value{}, err
	}
	f, ok := fields[name]
	if !ok {
		return Value{}, fmt.Errorf("the value has no field %q", name)
	}
	return f, nil
}

// FromFields makes a structured value of named fields, encoded as the JSON
// object stores keep it as (Secrets Manager's own convention for
// credentials: {"username": ..., "password": ...}).
func FromFields(fields map[string]Value) Value {
	plain := make(map[string]string, len(fields))
	for name, f := range fields {
		plain[name] = f.Reveal()
	}
	b, _ := json.Marshal(plain) // a map of strings always encodes
	return Value{b: b}
}
