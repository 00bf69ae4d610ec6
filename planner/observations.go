package planner

import "time"

// Observations is what was seen of the live systems, by secret name.
type Observations struct {
	Secrets map[string]*SecretObservation
	// RunningApply is the apply holding the state lock, nil when none is.
	RunningApply *RunningApply
}

// RunningApply describes an apply that holds the state lock.
type RunningApply struct {
	// Holder says who holds it, in words: "lock 3f9a1c2b7d4e, held by
	// alice on ops-1 (pid 4242)".
	Holder string
	Since  time.Time
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
	// Resumable is true when the rotation that staged it is rotplan's own,
	// so apply can carry it on.
	Resumable bool
	// Failed is true when a check of the pending value failed and its
	// rollback has not finished: apply finishes the rollback.
	Failed bool
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
	// Unknown counts credentials the target accepts besides the store's
	// current and previous values: ones rotplan did not make.
	Unknown int
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
