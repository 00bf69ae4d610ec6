package executor

import (
	"time"

	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/planner"
)

// EventKind says what happened.
type EventKind int

const (
	EventSecretStarted EventKind = iota
	EventStepStarted
	EventStepDone
	EventCheckFailed
	EventRolledBack
	EventSecretDone
	EventSecretFailed
	EventSecretSkipped
	// EventOperator is a step only a person can do, with instructions.
	EventOperator
)

var eventNames = [...]string{
	EventSecretStarted: "secret_started",
	EventStepStarted:   "step_started",
	EventStepDone:      "step_done",
	EventCheckFailed:   "check_failed",
	EventRolledBack:    "rolled_back",
	EventSecretDone:    "secret_done",
	EventSecretFailed:  "secret_failed",
	EventSecretSkipped: "secret_skipped",
	EventOperator:      "operator",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// MarshalText writes the kind as its name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is what the executor reports as it works; views render it. It never
// holds a value.
type Event struct {
	Kind    EventKind      `json:"type"`
	Time    time.Time      `json:"time"`
	Secret  string         `json:"secret"`
	Action  planner.Action `json:"action"`
	Step    state.Step     `json:"step,omitempty"`
	Elapsed time.Duration  `json:"elapsed_ns,omitempty"`
	Message string         `json:"message,omitempty"`
}

// Outcome is how one secret's work ended.
type Outcome int

const (
	OutcomeDone Outcome = iota
	OutcomeRolledBack
	OutcomeFailed
	OutcomeSkipped
)

func (o Outcome) String() string {
	switch o {
	case OutcomeDone:
		return "done"
	case OutcomeRolledBack:
		return "rolled back"
	case OutcomeFailed:
		return "failed"
	}
	return "skipped"
}

// Result tallies an apply.
type Result struct {
	Created, Rotated, Synced, Retired, RolledBack, Failed, Skipped int
}

// OK reports whether nothing failed or rolled back.
func (r Result) OK() bool { return r.Failed == 0 && r.RolledBack == 0 }

func (r *Result) add(action planner.Action, o Outcome) {
	switch o {
	case OutcomeRolledBack:
		r.RolledBack++
	case OutcomeFailed:
		r.Failed++
	case OutcomeSkipped:
		r.Skipped++
	default:
		switch action {
		case planner.Create:
			r.Created++
		case planner.Rotate, planner.Resume:
			r.Rotated++
		case planner.Sync:
			r.Synced++
		case planner.Retire:
			r.Retired++
		}
	}
}
