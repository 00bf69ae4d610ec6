package planner

import "time"

// Observations is what was seen of the live systems, by secret name.
type Observations struct {
	Secrets map[string]*SecretObservation
}

// SecretObservation is what the store and targets of one secret hold.
type SecretObservation struct {
	// Err says the secret could not be observed: its store or a target was
	// unreachable, or a provider it uses is not implemented yet.
	Err string

	// Exists reports whether the store holds a current value.
	Exists bool
	// CurrentCreatedAt is when the store's current value was written.
	CurrentCreatedAt time.Time
	// RotatedAt is rotplan's own record of the last promote, when the store
	// keeps one; it wins over CurrentCreatedAt.
	RotatedAt time.Time
	// Pending is a version staged but not promoted, or nil.
	Pending *PendingVersion
	// Previous is the version a rotation replaced, still live during grace,
	// or nil.
	Previous *PreviousVersion
	// ManagedBy names another system that owns this secret's rotation.
	ManagedBy string

	Targets []TargetObservation
}

// PendingVersion is a staged version: a rotation under way.
type PendingVersion struct {
	CreatedAt time.Time
	// Resumable is true when the rotation that staged it is rotplan's own
	// and no other apply holds it, so apply can carry it on.
	Resumable bool
}

// PreviousVersion is the value a rotation replaced.
type PreviousVersion struct {
	RetireAfter time.Time
}

// TargetObservation is what one target block holds.
type TargetObservation struct {
	// Address is the target block's address within its secret.
	Address string
	Holds   Holding
	Err     string
}

// Holding says what a target holds compared with the store.
type Holding int

const (
	HoldsUnknown Holding = iota
	HoldsCurrent
	HoldsOther
	HoldsNothing
)

func (h Holding) String() string {
	switch h {
	case HoldsCurrent:
		return "current"
	case HoldsOther:
		return "other"
	case HoldsNothing:
		return "nothing"
	}
	return "unknown"
}

// MarshalText writes the holding as its name.
func (h Holding) MarshalText() ([]byte, error) { return []byte(h.String()), nil }
