package executor

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
)

// A due secret with a target that checks logins, one that holds a copy
// and a check. The fake store says every value is 100 days old.
const dbSecret = `
secret "db" {
  frequency = "90d"
  store "fake" {}
  generate "fake" {}
  target "login" "db" {}
  target "copy" "app" {}
  verify "fake" {}
}
`

func TestLifecycleMoves(t *testing.T) {
	tests := []struct {
		kind     kind
		from, to State
		ok       bool
	}{
		{kindRotation, StatePlanned, StateGenerated, true},
		{kindRotation, StateGenerated, StateStaged, true},
		{kindRotation, StateStaged, StateSet, true},
		{kindRotation, StateStaged, StateDelivered, true}, // no target checks logins
		{kindRotation, StateSet, StateDelivered, true},
		{kindRotation, StateDelivered, StateVerified, true},
		{kindRotation, StateVerified, StatePromoted, true},
		{kindRotation, StateDelivered, StateRollingBack, true},
		{kindRotation, StateRollingBack, StateRolledBack, true},
		{kindRotation, StateVerified, StateFailed, true}, // the promote failed: the journal keeps it
		{kindRotation, StatePlanned, StateStaged, false},
		{kindRotation, StateGenerated, StateSet, false},
		{kindRotation, StateDelivered, StateFailed, false}, // a staged value is rolled back, never abandoned
		{kindRotation, StatePromoted, StateRollingBack, false},
		{kindRotation, StateRolledBack, StatePromoted, false},
		{kindSync, StatePlanned, StateSet, true},
		{kindSync, StateDelivered, StateFailed, true},
		{kindSync, StateSet, StateRollingBack, false},
		{kindSync, StatePlanned, StateGenerated, false},
		{kindRetire, StatePlanned, StateRetired, true},
		{kindRetire, StatePlanned, StateStaged, false},
		{kindRollback, StatePlanned, StateRollingBack, true},
		{kindRollback, StateRollingBack, StateRolledBack, true},
		{kindRollback, StateRollingBack, StatePromoted, false},
	}
	for _, tt := range tests {
		if got := allowed(tt.kind, tt.from, tt.to); got != tt.ok {
			t.Errorf("kind %d: %s → %s allowed = %t, want %t", tt.kind, tt.from, tt.to, got, tt.ok)
		}
	}
	// Every journaled state has a name resume can read back.
	for s := StatePlanned; s <= StateSkipped; s++ {
		if got, ok := parseState(s.String()); !ok || got != s {
			t.Errorf("state %d reads back as %v, %t", s, got, ok)
		}
	}

	w := newWorld(t)
	f := newFixture(t, w, dbSecret)
	wk := f.applier().newWork(f.inv, f.inv.Secret("db"), &planner.Change{Action: planner.Rotate}, kindRotation)
	defer func() {
		if recover() == nil {
			t.Error("a move the lifecycle does not allow did not panic")
		}
	}()
	_ = wk.advance(StatePromoted, nil)
}

func TestApplyRotates(t *testing.T) {
	w := newWorld(t)
	w.seed("db", "old", "db target.login.db", "db target.copy.app")
	w.targets = map[string]*held{"db target.login.db": {value: sensitive.New("old")}, "db target.copy.app": {value: sensitive.New("old")}}
	f := newFixture(t, w, dbSecret)

	r := f.apply(t, context.Background(), planner.Options{})
	if (r != Result{Rotated: 1}) {
		t.Errorf("result %+v, want one rotated", r)
	}
	wantCalls(t, w.log(), "generate db", "stage db", "deliver login db", "deliver copy db", "verify db", "promote db")
	sl := w.slot("db")
	if sl.current.Reveal() != "gen-1-db" || sl.previous.Reveal() != "old" || !sl.pending.IsEmpty() {
		t.Errorf("store: current %q, previous %q, pending %q", sl.current.Reveal(), sl.previous.Reveal(), sl.pending.Reveal())
	}
	if h := w.holds("db", "target.copy.app"); h.value.Reveal() != "gen-1-db" || h.previous.Reveal() != "old" {
		t.Errorf("copy holds %q (previous %q)", h.value.Reveal(), h.previous.Reveal())
	}
	if len(f.st.Rotations) != 0 {
		t.Errorf("journal holds %v after the rotation ended", f.journal())
	}
	audit, err := os.ReadFile(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"generate", "stage", "set", "deliver", "verify", "promote"} {
		if !strings.Contains(string(audit), `"step":"`+step+`","outcome":"done"`) {
			t.Errorf("the audit log does not record %s as done", step)
		}
	}
}

func TestApplyRollsBack(t *testing.T) {
	tests := map[string]struct {
		fail string // the call that fails
		// revert lists the targets the rollback reverts (copies first).
		revert []string
	}{
		"set fails":     {fail: "deliver db.login", revert: []string{"revert copy db", "revert login db"}},
		"deliver fails": {fail: "deliver db.copy", revert: []string{"revert copy db", "revert login db"}},
		"check fails":   {fail: "verify db", revert: []string{"revert copy db", "revert login db"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("db", "old", "target.login.db", "target.copy.app")
			w.failures[tt.fail] = errors.New("refused")
			f := newFixture(t, w, dbSecret)

			r := f.apply(t, context.Background(), planner.Options{})
			if (r != Result{RolledBack: 1}) {
				t.Errorf("result %+v, want one rolled back", r)
			}
			got := w.log("mark-failed", "revert", "discard", "promote")
			wantCalls(t, got, append(append([]string{"mark-failed db"}, tt.revert...), "discard db")...)
			sl := w.slot("db")
			if sl.current.Reveal() != "old" || !sl.pending.IsEmpty() || !sl.previous.IsEmpty() {
				t.Errorf("store after the rollback: current %q, pending %q, previous %q", sl.current.Reveal(), sl.pending.Reveal(), sl.previous.Reveal())
			}
			for _, tg := range []string{"target.login.db", "target.copy.app"} {
				if h := w.holds("db", tg); h.value.Reveal() != "old" {
					t.Errorf("%s holds %q after the rollback, want the old value", tg, h.value.Reveal())
				}
			}
			if len(f.st.Rotations) != 0 {
				t.Errorf("journal holds %v after the rollback ended", f.journal())
			}
		})
	}
}

// A rollback that fails leaves the rotation rolling back, in the journal and
// marked in the store; the next plan says so, and the next apply finishes
// it as planned.
func TestApplyFinishesRollback(t *testing.T) {
	w := newWorld(t)
	w.seed("db", "old", "target.login.db", "target.copy.app")
	w.failures["verify db"] = errors.New("refused")
	w.failures["revert login db"] = errors.New("connection reset")
	f := newFixture(t, w, dbSecret)

	r := f.apply(t, context.Background(), planner.Options{})
	if (r != Result{Failed: 1}) {
		t.Errorf("result %+v, want one failed", r)
	}
	if j := f.journal(); j["db"] != "rolling back" {
		t.Fatalf("journal %v, want db rolling back", j)
	}
	if !w.slot("db").failed {
		t.Fatal("the store does not mark the candidate failed")
	}
	if msg := strings.Join(f.messages(EventSecretFailed), "\n"); !strings.Contains(msg, "rollback failed too, run apply again to finish it") {
		t.Errorf("failure says %q", msg)
	}

	delete(w.failures, "revert login db")
	delete(w.failures, "verify db")
	plan := f.plan(t, planner.Options{})
	if c := plan.Changes[0]; c.Action != planner.Rollback || !strings.Contains(c.Reason, "rolling back") {
		t.Fatalf("plan after the failed rollback: %s %q, want a rollback", c.Action, c.Reason)
	}
	w.calls = nil
	r = f.applier().Apply(context.Background(), f.inv, plan)
	if (r != Result{RollbacksFinished: 1}) {
		t.Errorf("result %+v, want one rollback finished", r)
	}
	wantCalls(t, w.log(), "mark-failed db", "revert copy db", "revert login db", "discard db")
	if len(f.st.Rotations) != 0 || !w.slot("db").pending.IsEmpty() {
		t.Errorf("journal %v, pending left %t", f.journal(), !w.slot("db").pending.IsEmpty())
	}
	if h := w.holds("db", "target.login.db"); h.value.Reveal() != "old" {
		t.Errorf("login holds %q, want the old value", h.value.Reveal())
	}
}

// A secret made from another rolls back with it, and the other with it:
// no DSN holds a password that was undone. An unrelated secret goes on.
func TestApplyRollsBackTogether(t *testing.T) {
	const inv = `
secret "pw" {
  frequency = "90d"
  store "fake" {}
  generate "fake" {}
  target "login" "db" {}
  verify "fake" {}
}
secret "dsn" {
  frequency = "90d"
  store "fake" {}
  generate "template" { template = "postgres://app:${secret.pw.value}@db/app" }
  target "copy" "app" {}
  verify "fake" {}
}
secret "other" {
  frequency = "90d"
  store "fake" {}
  generate "fake" {}
  target "copy" "other" {}
}
`
	w := newWorld(t)
	w.seed("pw", "old-pw", "target.login.db")
	w.seed("dsn", "postgres://app:old-pw@db/app", "target.copy.app")
	w.seed("other", "old-other", "target.copy.other")
	w.failures["verify dsn"] = errors.New("cannot connect")
	f := newFixture(t, w, inv)

	r := f.apply(t, context.Background(), planner.Options{})
	if (r != Result{Rotated: 1, RolledBack: 2}) {
		t.Errorf("result %+v, want other rotated, pw and dsn rolled back", r)
	}
	wantCalls(t, w.log("promote", "discard"), "promote other", "discard pw", "discard dsn")
	if h := w.holds("pw", "target.login.db"); h.value.Reveal() != "old-pw" {
		t.Errorf("the password's login holds %q, want the old password back", h.value.Reveal())
	}
	if h := w.holds("dsn", "target.copy.app"); h.value.Reveal() != "postgres://app:old-pw@db/app" {
		t.Errorf("the DSN's copy holds a value made from the new password: %t", strings.Contains(h.value.Reveal(), "gen-"))
	}
	if msgs := strings.Join(f.messages(EventRolledBack), "\n"); !strings.Contains(msgs, "secret.pw: secret.dsn, made from the same value, did not finish") {
		t.Errorf("rolled back events:\n%s", msgs)
	}
}

// An apply killed at any point is carried on from the state its journal
// recorded: the steps done are not done again, the rest are.
func TestApplyResumes(t *testing.T) {
	tests := map[string]struct {
		journal string
		want    []string
		result  Result
	}{
		"generated":    {"generated", []string{"deliver login db", "deliver copy db", "verify db", "promote db"}, Result{Rotated: 1}},
		"staged":       {"staged", []string{"deliver login db", "deliver copy db", "verify db", "promote db"}, Result{Rotated: 1}},
		"set":          {"set", []string{"deliver copy db", "verify db", "promote db"}, Result{Rotated: 1}},
		"delivered":    {"delivered", []string{"verify db", "promote db"}, Result{Rotated: 1}},
		"verified":     {"verified", []string{"promote db"}, Result{Rotated: 1}},
		"no journal":   {"", []string{"deliver login db", "deliver copy db", "verify db", "promote db"}, Result{Rotated: 1}},
		"rolling back": {"rolling back", []string{"mark-failed db", "revert copy db", "revert login db", "discard db"}, Result{RollbacksFinished: 1}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("db", "old", "target.login.db", "target.copy.app")
			sl := w.slot("db")
			sl.pending, sl.rotation = sensitive.New("staged-value"), "r-killed"
			f := newFixture(t, w, dbSecret)
			if tt.journal != "" {
				f.st.Rotations["db"] = &state.Rotation{ID: "r-killed", Secret: "db", Action: "rotate", State: tt.journal, Error: "check verify.fake[0] failed"}
			}

			plan := f.plan(t, planner.Options{})
			if plan.Changes[0].Action != planner.Resume {
				t.Fatalf("plan: %s, want resume", plan.Changes[0].Action)
			}
			r := f.applier().Apply(context.Background(), f.inv, plan)
			if r != tt.result {
				t.Errorf("result %+v, want %+v", r, tt.result)
			}
			wantCalls(t, w.log(), tt.want...)
			if tt.result.Rotated == 1 && w.slot("db").current.Reveal() != "staged-value" {
				t.Error("the resumed rotation did not promote the value the killed apply staged")
			}
			if len(f.st.Rotations) != 0 {
				t.Errorf("journal %v after the resumed rotation ended", f.journal())
			}
		})
	}
}

// A promote the store refuses leaves the value working everywhere: the
// journal keeps it verified, and the next apply promotes it alone.
func TestApplyPromoteFailureResumes(t *testing.T) {
	w := newWorld(t)
	w.seed("db", "old", "target.login.db", "target.copy.app")
	w.failures["promote db"] = errors.New("throttled")
	f := newFixture(t, w, dbSecret)

	if r := f.apply(t, context.Background(), planner.Options{}); (r != Result{Failed: 1}) {
		t.Errorf("result %+v, want one failed", r)
	}
	if len(w.log("revert")) != 0 {
		t.Error("a failed promote rolled back values that passed their checks")
	}
	if j := f.journal(); j["db"] != "verified" {
		t.Fatalf("journal %v, want db verified", j)
	}
	delete(w.failures, "promote db")
	w.calls = nil
	if r := f.apply(t, context.Background(), planner.Options{}); (r != Result{Rotated: 1}) {
		t.Errorf("second apply: result %+v, want one rotated", r)
	}
	wantCalls(t, w.log(), "promote db")
}

// A due rotation whose previous value's grace is over retires that value
// first, so it is never overwritten unretired.
func TestApplyRetiresFirst(t *testing.T) {
	w := newWorld(t)
	w.seed("db", "current", "target.login.db", "target.copy.app")
	sl := w.slot("db")
	sl.previous, sl.retireAfter = sensitive.New("older"), time.Now().Add(-30*24*time.Hour)
	w.targets["db target.copy.app"].previous = sensitive.New("older")
	f := newFixture(t, w, dbSecret)

	plan := f.plan(t, planner.Options{})
	if c := plan.Changes[0]; c.Action != planner.Rotate || !c.RetireFirst {
		t.Fatalf("plan: %s retire first %t, want a rotation that retires first", c.Action, c.RetireFirst)
	}
	r := f.applier().Apply(context.Background(), f.inv, plan)
	if (r != Result{Rotated: 1, Retired: 1}) {
		t.Errorf("result %+v, want one retired and one rotated", r)
	}
	wantCalls(t, w.log(), "retire copy db", "retire login db", "retire-previous db",
		"generate db", "stage db", "deliver login db", "deliver copy db", "verify db", "promote db")
	if got := w.slot("db").previous.Reveal(); got != "current" {
		t.Errorf("previous after the rotation is %q, want the value that was current", got)
	}
}

// A manual secret's retire waits until the operator confirms the
// revocation only they can do; a rotation that must retire first waits
// with it, and its value is not even asked for.
func TestApplyManualRevocation(t *testing.T) {
	const inv = `
secret "key" {
  frequency = "%s"
  store "fake" {}
  generate "manual" {
    instructions        = "Create a key in the console."
    revoke_instructions = "Delete the old key in the console."
  }
  target "copy" "app" {}
}
`
	tests := map[string]struct {
		frequency string // 365d: only the retire is due; 30d: the rotation too
		revoked   bool
		want      []string
		result    Result
	}{
		"retire not confirmed":           {"365d", false, []string{"ask-revoked key"}, Result{Waiting: 1}},
		"retire confirmed":               {"365d", true, []string{"ask-revoked key", "retire copy key", "retire-previous key"}, Result{Retired: 1}},
		"rotation, retire not confirmed": {"30d", false, []string{"ask-revoked key"}, Result{Waiting: 2}},
		"rotation, retire confirmed": {"30d", true, []string{"ask-revoked key", "ask-value key", "retire copy key", "retire-previous key", "stage key", "deliver copy key", "promote key"},
			Result{Retired: 1, Rotated: 1}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("key", "current", "target.copy.app")
			sl := w.slot("key")
			sl.previous, sl.retireAfter = sensitive.New("older"), time.Now().Add(-time.Hour)
			f := newFixture(t, w, strings.Replace(inv, "%s", tt.frequency, 1))
			f.op.revoked = map[string]bool{"key": tt.revoked}
			f.op.values = map[string]string{"key": "typed-by-a-person"}

			r := f.apply(t, context.Background(), planner.Options{})
			if r != tt.result {
				t.Errorf("result %+v, want %+v", r, tt.result)
			}
			wantCalls(t, w.log(), tt.want...)
			audit, _ := os.ReadFile(f.audit)
			wantAudit := `"outcome":"not confirmed: the retire waits until the operator confirms the revocation"`
			if tt.revoked {
				wantAudit = `"outcome":"confirmed by the operator"`
			}
			if !strings.Contains(string(audit), wantAudit) {
				t.Errorf("the audit log does not record %s", wantAudit)
			}
			if !tt.revoked && w.slot("key").previous.IsEmpty() {
				t.Error("the previous value was dropped without the revocation")
			}
			if tt.revoked && tt.frequency == "30d" && w.slot("key").current.Reveal() != "typed-by-a-person" {
				t.Error("the operator's value is not current")
			}
		})
	}
}

// Every question is asked before anything changes, one at a time, and each
// answer goes to its own secret.
func TestApplyAsksFirst(t *testing.T) {
	const inv = `
secret "a" {
  frequency = "30d"
  store "fake" {}
  generate "manual" {}
}
secret "b" {
  frequency = "30d"
  store "fake" {}
  generate "manual" {}
}
secret "c" {
  frequency = "30d"
  store "fake" {}
  generate "fake" {}
}
`
	w := newWorld(t)
	for _, n := range []string{"a", "b", "c"} {
		w.seed(n, "old-"+n)
	}
	f := newFixture(t, w, inv)
	f.op.values = map[string]string{"a": "value-for-a", "b": "value-for-b"}
	app := f.applier()
	app.Parallelism = 3
	r := app.Apply(context.Background(), f.inv, f.plan(t, planner.Options{}))
	if (r != Result{Rotated: 3}) {
		t.Errorf("result %+v", r)
	}
	calls := w.log()
	if len(calls) < 2 || calls[0] != "ask-value a" || calls[1] != "ask-value b" {
		t.Errorf("the questions did not come first: %v", calls)
	}
	for _, n := range []string{"a", "b"} {
		if got := w.slot(n).current.Reveal(); got != "value-for-"+n {
			t.Errorf("secret %s got %q", n, got)
		}
	}

	// An interrupted question ends the apply with nothing changed.
	w2 := newWorld(t)
	for _, n := range []string{"a", "b", "c"} {
		w2.seed(n, "old-"+n)
	}
	f2 := newFixture(t, w2, inv)
	f2.op.interrupt = true
	r = f2.apply(t, context.Background(), planner.Options{})
	if !r.Interrupted || r.Skipped != 3 {
		t.Errorf("result %+v, want interrupted with all three skipped", r)
	}
	wantCalls(t, w2.log(), "ask-value a")
}

// The first interrupt starts nothing new; what is in flight finishes.
func TestApplyInterruptFinishesInFlight(t *testing.T) {
	const inv = dbSecret + `
secret "later" {
  frequency  = "90d"
  depends_on = [secret.db]
  store "fake" {}
  generate "fake" {}
}
`
	w := newWorld(t)
	w.seed("db", "old", "target.login.db", "target.copy.app")
	w.seed("later", "old-later")
	w.verifyGate, w.verifyStarted = make(chan struct{}), make(chan string, 1)
	f := newFixture(t, w, inv)
	ctx, interrupt := context.WithCancel(context.Background())
	go func() {
		<-w.verifyStarted
		interrupt()
		time.Sleep(20 * time.Millisecond) // the check is still running at the interrupt
		close(w.verifyGate)
	}()
	r := f.apply(t, ctx, planner.Options{})
	if (r != Result{Rotated: 1, Skipped: 1, Interrupted: true}) {
		t.Errorf("result %+v, want db rotated, later skipped, interrupted", r)
	}
	if len(w.log("generate later", "stage later")) != 0 {
		t.Error("a secret started after the interrupt")
	}
	if msgs := f.messages(EventInterrupted); len(msgs) != 1 || !strings.Contains(msgs[0], "starting nothing new") {
		t.Errorf("interrupt events %q", msgs)
	}
}

// When what is in flight outlives the stop timeout, its calls are cancelled
// and it rolls back, on a context of its own: every target gets the old
// value back.
func TestApplyInterruptRollsBack(t *testing.T) {
	w := newWorld(t)
	w.seed("db", "old", "target.login.db", "target.copy.app")
	w.verifyGate, w.verifyStarted = make(chan struct{}), make(chan string, 1) // never opens
	f := newFixture(t, w, dbSecret)
	ctx, interrupt := context.WithCancel(context.Background())
	go func() {
		<-w.verifyStarted
		interrupt()
	}()
	app := f.applier()
	app.StopTimeout = 50 * time.Millisecond
	r := app.Apply(ctx, f.inv, f.plan(t, planner.Options{}))
	if (r != Result{RolledBack: 1, Interrupted: true}) {
		t.Errorf("result %+v, want one rolled back, interrupted", r)
	}
	for _, tg := range []string{"target.login.db", "target.copy.app"} {
		if h := w.holds("db", tg); h.value.Reveal() != "old" {
			t.Errorf("%s holds %q after the interrupted rotation, want the old value", tg, h.value.Reveal())
		}
	}
	if sl := w.slot("db"); sl.current.Reveal() != "old" || !sl.pending.IsEmpty() {
		t.Errorf("store: current %q, pending left %t", sl.current.Reveal(), !sl.pending.IsEmpty())
	}
}

// A failure skips what needs the failed secret, not unrelated secrets.
func TestApplySkipsDownstream(t *testing.T) {
	const inv = dbSecret + `
secret "after" {
  frequency  = "90d"
  depends_on = [secret.db]
  store "fake" {}
  generate "fake" {}
}
secret "unrelated" {
  frequency = "90d"
  store "fake" {}
  generate "fake" {}
}
`
	w := newWorld(t)
	for _, n := range []string{"db", "after", "unrelated"} {
		w.seed(n, "old-"+n)
	}
	w.failures["stage db"] = errors.New("store unavailable")
	f := newFixture(t, w, inv)
	r := f.apply(t, context.Background(), planner.Options{})
	if (r != Result{Rotated: 1, Failed: 1, Skipped: 1}) {
		t.Errorf("result %+v", r)
	}
	if msgs := f.messages(EventSecretSkipped); len(msgs) != 1 || !strings.Contains(msgs[0], "secret.after: upstream failed: secret.db (failed)") {
		t.Errorf("skipped: %q", msgs)
	}
	if len(f.st.Rotations) != 0 {
		t.Errorf("journal %v: a rotation that staged nothing left an entry", f.journal())
	}
}

// Whatever a provider's error quotes, no value this apply handled reaches
// an event, the audit log or the journal.
func TestApplyRedactsValues(t *testing.T) {
	w := newWorld(t)
	w.seed("db", "old-value-canary", "target.login.db", "target.copy.app")
	// The first value the generator makes is gen-1-db.
	w.failures["verify db"] = errors.New(`server said: password "gen-1-db" is weak; old-value-canary was fine`)
	w.failures["revert login db"] = errors.New("cannot set gen-1-db back to old-value-canary")
	f := newFixture(t, w, dbSecret)
	f.apply(t, context.Background(), planner.Options{})

	var printed []string
	for _, e := range f.events {
		printed = append(printed, e.Message)
	}
	audit, _ := os.ReadFile(f.audit)
	printed = append(printed, string(audit))
	for _, r := range f.st.Rotations {
		printed = append(printed, r.Error)
	}
	all := strings.Join(printed, "\n")
	for _, v := range []string{"gen-1-db", "old-value-canary"} {
		if strings.Contains(all, v) {
			t.Errorf("a value leaked into what apply printed or wrote:\n%s", all)
		}
	}
	if !strings.Contains(all, sensitive.Redacted) {
		t.Error("the failure messages lost the error entirely")
	}
}
