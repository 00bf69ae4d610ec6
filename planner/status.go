package planner

import "fmt"

// Status is what the planner found a secret to be.
type Status int

const (
	StatusOK Status = iota
	StatusMissing
	StatusDue
	StatusDueSoon
	StatusDrifted
	StatusRetiring
	StatusManual
	StatusInProgress
	StatusError
)

var statusNames = [...]string{
	StatusOK:         "ok",
	StatusMissing:    "missing",
	StatusDue:        "due",
	StatusDueSoon:    "due soon",
	StatusDrifted:    "drifted",
	StatusRetiring:   "retiring",
	StatusManual:     "manual",
	StatusInProgress: "in progress",
	StatusError:      "error",
}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText writes the status as its name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status name.
func (s *Status) UnmarshalText(b []byte) error {
	for i, name := range statusNames {
		if name == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("unknown status %q", b)
}

// Action is what apply will do about a secret or a target.
type Action int

const (
	NoOp Action = iota
	Create
	Rotate
	Sync
	Retire
	Resume
	// Deliver is a target's part of a create, rotate or sync.
	Deliver
	// Rollback finishes undoing a rotation whose check failed: its targets
	// go back to the current value and its pending value is discarded.
	Rollback
)

var actionNames = [...]string{
	NoOp:     "none",
	Create:   "create",
	Rotate:   "rotate",
	Sync:     "sync",
	Retire:   "retire",
	Resume:   "resume",
	Deliver:  "deliver",
	Rollback: "rollback",
}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// MarshalText writes the action as its name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an action name.
func (a *Action) UnmarshalText(b []byte) error {
	for i, name := range actionNames {
		if name == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// UnmarshalText reads a holding name.
func (h *Holding) UnmarshalText(b []byte) error {
	for _, c := range []Holding{HoldsUnknown, HoldsCurrent, HoldsOther, HoldsNothing} {
		if c.String() == string(b) {
			*h = c
			return nil
		}
	}
	return fmt.Errorf("unknown holding %q", b)
}
