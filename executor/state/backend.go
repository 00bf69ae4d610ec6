package state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Backend keeps apply's journal and its lock. Every backend passes the
// conformance suite (conformance_test.go): one lock holder at a time, the
// holder named to whoever is refused, a write against a stale serial
// refused, and a holder that dies with the lock held recovered from.
type Backend interface {
	// String says where the state is, for messages: a path, or a
	// database or bucket and the state's name in it.
	String() string
	// Read returns the journal as it is now. It takes no lock: plan reads
	// the serial for a saved plan, apply reads it once it holds the lock.
	// A backend with nothing written yet reads as an empty journal.
	Read(ctx context.Context) (*State, error)
	// Lock takes the lock, waiting up to timeout while another holds it.
	// If it is still held then, the error is a *LockedError naming the
	// holder.
	Lock(ctx context.Context, info LockInfo, timeout time.Duration) (Lock, error)
	// Holder reports who holds the lock now, or nil when nobody does (or
	// the holder is gone). It changes nothing: plan calls it to say that
	// an apply is running.
	Holder(ctx context.Context) (*LockInfo, error)
	// ForceUnlock clears the lock of holder id, which is gone. A lock
	// whose holder is still alive, as far as the backend can tell, is
	// refused; so is an id that does not hold the lock.
	ForceUnlock(ctx context.Context, id string) error
	// Close releases the backend's connections. A held Lock is not
	// released by it.
	Close() error
}

// Lock is a held state lock: the only way to change the journal. Each
// change is one rotation's entry, so a backend writes one row or one small
// object per step rather than the whole journal.
//
// serial is the journal's serial as the caller last saw it; every change
// returns the new one. A journal whose serial has moved on (someone else
// wrote it) refuses the change with ErrStaleSerial, and a lock that is no
// longer held refuses it with ErrLockLost: either way nothing is written.
type Lock interface {
	// Info is the holder's description, as others see it.
	Info() LockInfo
	// PutRotation adds or replaces the entry of r.Secret.
	PutRotation(ctx context.Context, serial int64, r *Rotation) (int64, error)
	// DeleteRotation removes the entry of secret. Removing an entry that
	// is not there changes nothing and returns serial.
	DeleteRotation(ctx context.Context, serial int64, secret string) (int64, error)
	// Lost is closed once the backend knows the lock is no longer held
	// (its database session ended, another holder replaced it). It is
	// never closed by Unlock.
	Lost() <-chan struct{}
	// Unlock releases the lock.
	Unlock(ctx context.Context) error
}

// ErrStaleSerial refuses a journal change made against a serial that is
// no longer the journal's.
var ErrStaleSerial = errors.New("the journal changed since it was read (stale serial); nothing was written")

// ErrLockLost refuses a journal change once the lock is no longer held.
var ErrLockLost = errors.New("the state lock is no longer held; nothing was written")

// AuditingBackend is a backend that keeps an audit log of its own (the
// postgres backend's table), besides the audit file.
type AuditingBackend interface {
	Backend
	AuditSink() AuditSink
}

// Type is a state backend type: the schema of its state "TYPE" {} block,
// and how to open it from the decoded block.
type Type struct {
	Name string
	// Spec decodes the block's body.
	Spec hcldec.Spec
	// Open makes the backend. cfg is the decoded block (cty.NilVal when the
	// inventory has none: the local backend's defaults); an attribute may
	// be unknown, when it reads an environment variable that is not set.
	// dir is the inventory directory.
	Open func(cfg cty.Value, dir string) (Backend, error)
}

// Registry holds the state backend types. It looks up schemas for config
// (StateSchema, StateTypeNames) and opens backends for the CLI.
type Registry struct {
	types map[string]Type
}

// NewRegistry returns a registry of the given types.
func NewRegistry(types ...Type) *Registry {
	r := &Registry{types: map[string]Type{}}
	for _, t := range types {
		if _, dup := r.types[t.Name]; dup {
			panic("state: backend type " + t.Name + " registered twice")
		}
		r.types[t.Name] = t
	}
	return r
}

// Builtin returns the registry of every backend rotplan ships.
func Builtin() *Registry {
	return NewRegistry(LocalType(), PostgresType(), S3Type())
}

// DefaultType is the backend used when the inventory has no state block.
const DefaultType = "local"

// StateSchema returns the schema of a backend type's block.
func (r *Registry) StateSchema(typ string) (hcldec.Spec, bool) {
	t, ok := r.types[typ]
	return t.Spec, ok
}

// StateTypeNames lists the backend types, sorted.
func (r *Registry) StateTypeNames() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens the backend of type typ with its decoded block.
func (r *Registry) Open(typ string, cfg cty.Value, dir string) (Backend, error) {
	if typ == "" {
		typ = DefaultType
	}
	t, ok := r.types[typ]
	if !ok {
		return nil, fmt.Errorf("unknown state backend %q", typ)
	}
	if cfg != cty.NilVal {
		cfg, _ = cfg.UnmarkDeep()
	}
	b, err := t.Open(cfg, dir)
	if err != nil {
		return nil, fmt.Errorf("state %q: %w", typ, err)
	}
	return b, nil
}

// attrString reads an optional string attribute of a decoded block: def
// when it is absent or null. An unknown one (an unset environment variable)
// is an error naming the attribute.
func attrString(cfg cty.Value, name, def string) (string, error) {
	if cfg == cty.NilVal || cfg.IsNull() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute(name) {
		return def, nil
	}
	v := cfg.GetAttr(name)
	switch {
	case !v.IsKnown():
		return "", fmt.Errorf("%s is not known: it reads an environment variable that is not set", name)
	case v.IsNull():
		return def, nil
	case !v.Type().Equals(cty.String):
		return "", fmt.Errorf("%s must be a string", name)
	}
	if s := v.AsString(); s != "" {
		return s, nil
	}
	return def, nil
}

// attrBool reads an optional bool attribute of a decoded block.
func attrBool(cfg cty.Value, name string) (bool, error) {
	if cfg == cty.NilVal || cfg.IsNull() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute(name) {
		return false, nil
	}
	v := cfg.GetAttr(name)
	switch {
	case !v.IsKnown():
		return false, fmt.Errorf("%s is not known: it reads an environment variable that is not set", name)
	case v.IsNull():
		return false, nil
	case !v.Type().Equals(cty.Bool):
		return false, fmt.Errorf("%s must be true or false", name)
	}
	return v.True(), nil
}
