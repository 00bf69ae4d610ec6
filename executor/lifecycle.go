package executor

import (
	"errors"
	"fmt"
	"time"

	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/planner"
)

// State is where one secret's change stands in an apply. Every change is
// in exactly one state, and moves only through advance, along the moves its
// kind allows:
//
//	rotation  planned → (minting →) generated → staged → set → delivered → verified → promoted
//	          staged, set, delivered or verified → rolling back → rolled back
//	sync      planned → set → delivered → verified → synced
//	retire    planned → retired
//	rollback  rolling back → rolled back (finishing one an earlier apply began)
//
// A step with nothing to do (no target that checks logins, say) is passed
// over, not entered. Any change may end failed (it cannot go on) or skipped
// (it never started: what it needs failed, the operator gave no answer, or
// apply was interrupted).
//
// A rotation whose value an issuer mints (an IAM access key) is journaled
// as minting before the issuer is called, and as generated with the minted
// id right after: a crash in between leaves the journal to say what to
// revoke. Other rotations are journaled from generated on. A resumed apply
// carries a rotation on from its journaled state; once it ends, the entry
// goes. A rotation that
// fails while something of it is staged keeps its entry: rolling back when
// the rollback did not finish, verified when only the promote failed.
type State int

const (
	StatePlanned State = iota
	StateMinting
	StateGenerated
	StateStaged
	StateSet
	StateDelivered
	StateVerified
	StatePromoted
	StateSynced
	StateRetired
	StateRollingBack
	StateRolledBack
	StateFailed
	StateSkipped
)

var stateNames = [...]string{
	StatePlanned:     "planned",
	StateMinting:     "minting",
	StateGenerated:   "generated",
	StateStaged:      "staged",
	StateSet:         "set",
	StateDelivered:   "delivered",
	StateVerified:    "verified",
	StatePromoted:    "promoted",
	StateSynced:      "synced",
	StateRetired:     "retired",
	StateRollingBack: "rolling back",
	StateRolledBack:  "rolled back",
	StateFailed:      "failed",
	StateSkipped:     "skipped",
}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// parseState reads a journaled state.
func parseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// kind is what a change does, which decides the moves it may make.
type kind int

const (
	kindRotation kind = iota // create, rotate, resume
	kindSync
	kindRetire
	kindRollback // finish the rollback an earlier apply began
)

func kindOf(a planner.Action) kind {
	switch a {
	case planner.Sync:
		return kindSync
	case planner.Retire:
		return kindRetire
	case planner.Rollback:
		return kindRollback
	}
	return kindRotation
}

// moves lists, for each kind of change, the states each state may move to.
// Failed and skipped are listed where they may happen.
var moves = map[kind]map[State][]State{
	kindRotation: {
		StatePlanned:     {StateMinting, StateGenerated, StateFailed, StateSkipped},
		StateMinting:     {StateGenerated, StateFailed},
		StateGenerated:   {StateStaged, StateFailed, StateSkipped},
		StateStaged:      {StateSet, StateDelivered, StateVerified, StateRollingBack},
		StateSet:         {StateDelivered, StateVerified, StateRollingBack},
		StateDelivered:   {StateVerified, StateRollingBack},
		StateVerified:    {StatePromoted, StateRollingBack, StateFailed},
		StateRollingBack: {StateRolledBack, StateFailed},
	},
	kindSync: {
		StatePlanned:   {StateSet, StateDelivered, StateVerified, StateSynced, StateFailed, StateSkipped},
		StateSet:       {StateDelivered, StateVerified, StateSynced, StateFailed},
		StateDelivered: {StateVerified, StateSynced, StateFailed},
		StateVerified:  {StateSynced},
	},
	kindRetire: {
		StatePlanned: {StateRetired, StateFailed, StateSkipped},
	},
	kindRollback: {
		StatePlanned:     {StateRollingBack, StateFailed, StateSkipped},
		StateRollingBack: {StateRolledBack, StateFailed},
	},
}

// stepTo names the protocol step whose success moves a change into a
// state, for the audit log and the progress events.
var stepTo = map[State]state.Step{
	StateGenerated:  state.StepGenerate,
	StateStaged:     state.StepStage,
	StateSet:        state.StepSet,
	StateDelivered:  state.StepDeliver,
	StateVerified:   state.StepVerify,
	StatePromoted:   state.StepPromote,
	StateRolledBack: state.StepRollback,
	StateRetired:    state.StepRetire,
}

// journaled reports whether a rotation in state s has something staged or
// undone halfway, which a resumed apply must carry on.
func journaled(s State) bool {
	switch s {
	case StateMinting, StateGenerated, StateStaged, StateSet, StateDelivered, StateVerified, StateRollingBack:
		return true
	}
	return false
}

// terminal reports whether a change in state s is over for this apply.
func terminal(s State) bool {
	switch s {
	case StatePromoted, StateSynced, StateRetired, StateRolledBack, StateFailed, StateSkipped:
		return true
	}
	return false
}

// succeeded reports whether what needs a change in state s may go on: it
// passed its checks (a rotation waiting for its promote counts) or ended
// well.
func succeeded(s State) bool {
	switch s {
	case StateVerified, StatePromoted, StateSynced, StateRetired:
		return true
	}
	return false
}

// errWaiting marks the changes that wait for a person: a manual value not
// given, a revocation not confirmed. They count as waiting, not failed.
var errWaiting = errors.New("waiting for the operator")

// advance moves w to state to: the one place a change changes state. It
// refuses a move its kind does not allow, journals a rotation's new state
// (or drops its entry once nothing is left to resume), audits the move
// and reports it. err says why for failed, skipped and rolling back.
func (w *work) advance(to State, err error) error {
	from := w.state
	if !allowed(w.kind, from, to) {
		panic(fmt.Sprintf("executor: %s: %s cannot move from %s to %s", w.secret.Address(), w.action, from, to))
	}
	a := w.a
	if w.j != nil {
		var jerr error
		switch {
		case journaled(to):
			jerr = a.journal(w.j, to, err, w.issued)
		case to == StateFailed && journaled(from) && (from != StateGenerated || w.j.Issued != ""):
			// Something is staged or half undone, or an issuer minted a
			// value that could not be revoked: the entry stays, at the
			// state a resumed apply carries on from.
		default:
			a.forget(w.j)
		}
		if jerr != nil {
			// The move is not recorded, so it is not made.
			return jerr
		}
	}
	w.state = to
	if err != nil {
		w.err = err
	}

	step, isStep := stepTo[to]
	switch {
	case isStep:
		a.audit(w, step, "done", "")
		a.emit(Event{Kind: EventStepDone, Secret: w.secret.Address(), Action: w.action, Step: step, Elapsed: time.Since(w.stepStarted)})
		a.hook(w.secret.Name, step, true)
	case to == StateRollingBack:
		a.audit(w, state.StepRollback, "started", a.redact(err.Error()))
	}

	if !terminal(to) {
		return nil
	}
	e := Event{Secret: w.secret.Address(), Action: w.action, Elapsed: time.Since(w.started)}
	outcome := to.String()
	switch {
	case to == StateSkipped && errors.Is(err, errWaiting):
		w.waiting = true
		e.Kind, e.Message, outcome = EventSecretWaiting, err.Error(), "waiting"
	case to == StateSkipped:
		e.Kind, e.Message = EventSecretSkipped, err.Error()
	case to == StateFailed:
		e.Kind, e.Message = EventSecretFailed, err.Error()
	case to == StateRolledBack && w.kind == kindRollback:
		e.Kind, e.Message = EventRolledBack, "finished the rollback an earlier apply began: "+err.Error()
	case to == StateRolledBack:
		e.Kind, e.Message = EventRolledBack, err.Error()
	default:
		e.Kind = EventSecretDone
	}
	e.Message = a.redact(e.Message)
	a.audit(w, "", outcome, e.Message)
	a.emit(e)
	return nil
}

func allowed(k kind, from, to State) bool {
	for _, s := range moves[k][from] {
		if s == to {
			return true
		}
	}
	return false
}

// begin reports that w starts step.
func (w *work) begin(step state.Step) {
	w.stepStarted = time.Now()
	w.a.audit(w, step, "started", "")
	w.a.emit(Event{Kind: EventStepStarted, Secret: w.secret.Address(), Action: w.action, Step: step})
	w.a.hook(w.secret.Name, step, false)
}
