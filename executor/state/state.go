package state

import (
	"fmt"
	"time"
)

// FormatVersion is the version of the state file's format. Version 1
// recorded the last step begun and whether it finished; Read converts it.
const FormatVersion = 2

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
	// State is the last state of the rotation's lifecycle it reached
	// ("staged", "delivered", "rolling back", ...): a resumed apply carries
	// the rotation on from there. The executor owns the names.
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Error is why a rollback started, for the apply that finishes it to
	// report.
	Error string `json:"error,omitempty"`
	// Issued names the credential an issuer minted for this rotation (an
	// access key id, never a secret), so a resumed apply can revoke it if
	// the rotation did not get as far as the store.
	Issued string `json:"issued,omitempty"`
}

// Step is one step of the rotation protocol, as the audit log names it.
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
	// StepRevoke is a revocation only a person can do, confirmed (or not)
	// at apply's prompt.
	StepRevoke Step = "revoke"
)

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

// Describe says who holds the lock, in words.
func (h LockInfo) Describe() string {
	return fmt.Sprintf("lock %s, held by %s on %s (pid %d)", h.ID, orDefault(h.User, "unknown user"), orDefault(h.Host, "unknown host"), h.PID)
}

// LockedError is returned when another apply holds the lock.
type LockedError struct {
	// Where names the state (Backend.String).
	Where  string
	Holder LockInfo
	// Note adds what the backend knows about the holder ("last seen 9
	// minutes ago"), or "".
	Note string
}

func (e *LockedError) Error() string {
	h := e.Holder
	note := ""
	if e.Note != "" {
		note = " (" + e.Note + ")"
	}
	return fmt.Sprintf("the state %s is locked by another %s: %s since %s%s. Wait for it to finish; if that process is gone, run: rotplan force-unlock %s",
		e.Where, orDefault(h.Operation, "apply"), h.Describe(), h.Created.UTC().Format(time.RFC3339), note, h.ID)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// v1Rotation is a journal entry of format 1: the last step begun, whether
// it finished, and whether a rollback had started.
type v1Rotation struct {
	Rotation
	Step        Step `json:"step"`
	Done        bool `json:"done"`
	RollingBack bool `json:"rolling_back"`
}

// upgrade gives a format 1 entry the state it had reached, or false when
// there is nothing to resume (a sync or a retire, which plan finds again,
// or a rotation that had staged nothing).
func (r v1Rotation) upgrade() (*Rotation, bool) {
	out := r.Rotation
	if r.Action == "sync" || r.Action == "retire" {
		return nil, false
	}
	if r.RollingBack {
		out.State = "rolling back"
		return &out, true
	}
	reached := map[Step]string{StepGenerate: "generated", StepStage: "staged", StepSet: "set", StepDeliver: "delivered", StepVerify: "verified"}
	before := map[Step]string{StepStage: "generated", StepSet: "staged", StepDeliver: "set", StepVerify: "delivered", StepPromote: "verified"}
	var ok bool
	if r.Done {
		out.State, ok = reached[r.Step]
	} else {
		out.State, ok = before[r.Step]
	}
	return &out, ok
}
