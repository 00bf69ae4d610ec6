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
	// EventSecretWaiting is a change that waits for a person: a manual
	// value not given, a revocation not confirmed.
	EventSecretWaiting
	// EventOperator is a step only a person can do, with instructions.
	EventOperator
	// EventInterrupted says apply was interrupted and what it does now.
	EventInterrupted
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
	EventSecretWaiting: "secret_waiting",
	EventOperator:      "operator",
	EventInterrupted:   "interrupted",
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
	Secret  string         `json:"secret,omitempty"`
	Action  planner.Action `json:"action,omitempty"`
	Step    state.Step     `json:"step,omitempty"`
	Elapsed time.Duration  `json:"elapsed_ns,omitempty"`
	Message string         `json:"message,omitempty"`
}

// Result tallies an apply.
type Result struct {
	Created, Rotated, Synced, Retired int
	// RolledBack counts rotations that failed and were undone;
	// RollbacksFinished, the rollbacks an earlier apply began that this one
	// finished, as planned.
	RolledBack, RollbacksFinished int
	Failed, Skipped               int
	// Waiting counts changes that wait for a person.
	Waiting int
	// Interrupted is set when an interrupt stopped the apply early.
	Interrupted bool
}

// OK reports whether everything planned was done or waits for a person.
func (r Result) OK() bool { return r.Failed == 0 && r.RolledBack == 0 && !r.Interrupted }

// tally counts how each work ended.
func tally(works []*work, interrupted bool) Result {
	r := Result{Interrupted: interrupted}
	for _, w := range works {
		switch {
		case w.state == StatePromoted && w.change.Action == planner.Create:
			r.Created++
		case w.state == StatePromoted:
			r.Rotated++
		case w.state == StateSynced:
			r.Synced++
		case w.state == StateRetired:
			r.Retired++
		case w.state == StateRolledBack && w.kind == kindRollback:
			r.RollbacksFinished++
		case w.state == StateRolledBack:
			r.RolledBack++
		case w.state == StateSkipped && w.waiting:
			r.Waiting++
		case w.state == StateSkipped:
			r.Skipped++
		default:
			// Failed, or left short of its end by an interrupt.
			r.Failed++
		}
	}
	return r
}
