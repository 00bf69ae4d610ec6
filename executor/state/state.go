package state

import (
	"fmt"
	"time"
)

// FormatVersion is the version of the state file's format.
const FormatVersion = 1

// State is apply's record of rotations in flight.
type State struct {
	FormatVersion int `json:"format_version"`
	// Serial grows with every write; a saved plan is bound to it.
	Serial int64 `json:"serial"`
	// Rotations in flight, by secret name. A finished rotation is removed;
	// the audit log keeps its history.
	Rotations map[string]*Rotation `json:"rotations"`
}

// New returns an empty state.
func New() *State {
	return &State{FormatVersion: FormatVersion, Rotations: map[string]*Rotation{}}
}

// Rotation is the journal of one secret's rotation.
type Rotation struct {
	// ID names the rotation; stores keep it on the version they stage, so
	// a resumed step is idempotent.
	ID     string `json:"id"`
	Secret string `json:"secret"`
	Action string `json:"action"`
	// Step is the last step begun, and Done whether it completed.
	Step    Step      `json:"step"`
	Done    bool      `json:"done"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// RollingBack is set once a failure has started a rollback; a resumed
	// apply finishes the rollback rather than the rotation.
	RollingBack bool   `json:"rolling_back,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Step is one step of the rotation protocol.
type Step string

const (
	StepGenerate Step = "generate"
	StepStage    Step = "stage"
	StepSet      Step = "set"
	StepDeliver  Step = "deliver"
	StepVerify   Step = "verify"
	StepPromote  Step = "promote"
	StepRollback Step = "rollback"
	StepRetire   Step = "retire"
)

// Steps is the rotation protocol's order, from generate to promote.
var Steps = []Step{StepGenerate, StepStage, StepSet, StepDeliver, StepVerify, StepPromote}

// After reports whether step s comes after other in the protocol.
func (s Step) After(other Step) bool { return index(s) > index(other) }

func index(s Step) int {
	for i, t := range Steps {
		if t == s {
			return i
		}
	}
	return -1
}

// LockInfo says who holds the lock, for the error a second apply gets.
type LockInfo struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"`
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	User      string    `json:"user"`
	Created   time.Time `json:"created"`
	Version   string    `json:"version"`
}

// LockedError is returned when another apply holds the lock.
type LockedError struct {
	Path   string
	Holder LockInfo
}

func (e *LockedError) Error() string {
	h := e.Holder
	return fmt.Sprintf("the state %s is locked by another %s: lock %s, held by %s on %s (pid %d) since %s. Wait for it to finish; if that process is gone, run: rotplan force-unlock %s",
		e.Path, orDefault(h.Operation, "apply"), h.ID, orDefault(h.User, "unknown user"), orDefault(h.Host, "unknown host"), h.PID, h.Created.UTC().Format(time.RFC3339), h.ID)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
