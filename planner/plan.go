package planner

import (
	"time"
)

// FormatVersion is the version of the plan's JSON form. It changes in its
// minor part when fields are added, in its major part when they change.
const FormatVersion = "1.1"

// Plan is what each secret needs, in the order apply would act.
type Plan struct {
	// At is the time the plan was evaluated as of.
	At time.Time
	// Changes holds every planned secret in dependency order.
	Changes []*Change
	// RunningApply is the apply that held the state lock while the plan
	// was made, nil when none did: what it is doing shows as in progress.
	RunningApply *RunningApply
}

// Change is the plan for one secret.
type Change struct {
	Secret  string
	Address string
	Status  Status
	Action  Action
	// Reason says in words why the secret has its status.
	Reason string

	// RotatedAt is when the current value was made current, zero if unknown.
	RotatedAt time.Time
	// DueAt is when the next rotation is due, zero if unknown.
	DueAt time.Time
	// RetireAfter is when the previous value's grace ends, zero if none.
	RetireAfter time.Time
	Frequency   time.Duration
	Grace       time.Duration

	Store    string
	Generate string
	// Manual is true when a person makes the value; Instructions say how.
	Manual       bool
	Instructions string
	// RevokeInstructions say how a person revokes a previous value that
	// only they can revoke; apply asks them to confirm it before retiring.
	RevokeInstructions string

	// RetireFirst is set on a rotation whose store still holds a previous
	// value: apply retires it (from the targets, and by the operator's
	// checklist) before the new value takes its slot, so it is never
	// dropped unretired. RetireReason says why it is retired now.
	RetireFirst  bool
	RetireReason string

	Targets []TargetChange
	Checks  []string
	// Needs are the addresses of the secrets this one is settled after.
	Needs []string
	// Cause is the address of the secret whose rotation forces this one's.
	Cause string

	// Notes say what the rotation does that an operator should know
	// before approving it, per target.
	Notes []string

	Warnings []string
	Error    string
}

// TargetChange is what happens at one target.
type TargetChange struct {
	Address string
	Holds   Holding
	// Unknown counts the credentials the target accepts that rotplan did
	// not make; a retire removes them.
	Unknown int
	Action  Action
	Error   string
}

// HasChanges reports whether any change has work to do.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != NoOp {
			return true
		}
	}
	return false
}

// HasErrors reports whether any secret could not be planned.
func (p *Plan) HasErrors() bool {
	for _, c := range p.Changes {
		if c.Status == StatusError {
			return true
		}
	}
	return false
}

// Counts tallies the plan's changes.
type Counts struct {
	Create, Rotate, Sync, Retire, Resume, Rollback, Unchanged, Errors int
}

// Count tallies the plan's changes by action; errors are counted apart. A
// rotation that retires its previous value first counts as a retire too.
func (p *Plan) Count() Counts {
	var n Counts
	for _, c := range p.Changes {
		if c.RetireFirst && c.Status != StatusError {
			n.Retire++
		}
		switch {
		case c.Status == StatusError:
			n.Errors++
		case c.Action == Create:
			n.Create++
		case c.Action == Rotate:
			n.Rotate++
		case c.Action == Sync:
			n.Sync++
		case c.Action == Retire:
			n.Retire++
		case c.Action == Resume:
			n.Resume++
		case c.Action == Rollback:
			n.Rollback++
		default:
			n.Unchanged++
		}
	}
	return n
}
