package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/rotplan/rotplan/cmd/rotplan/internal/views"
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
)

// valueFiles collects -value-file secret.NAME=PATH.
type valueFiles map[string]string

func (v valueFiles) String() string { return "" }

func (v valueFiles) Set(s string) error {
	addr, path, ok := strings.Cut(s, "=")
	name, isSecret := strings.CutPrefix(addr, "secret.")
	if !ok || !isSecret || name == "" || path == "" {
		return fmt.Errorf("%q: write secret.NAME=PATH", s)
	}
	v[name] = path
	return nil
}

func runApply(m *meta, args []string) int {
	fs := newFlagSet(m, "apply [PLANFILE]", "Rotates what the plan says is due, in dependency order: generate, stage in the\nstore, set, deliver, verify, then promote; a failed check rolls everything back\nto the old value. With PLANFILE it carries out a plan saved by plan -out, if it\nis still current.")
	autoApprove := fs.Bool("auto-approve", false, "do not ask for confirmation")
	lockTimeout := fs.Duration("lock-timeout", 0, "wait up to `DURATION` for another apply to release the state lock")
	parallelism := fs.Int("parallelism", executor.DefaultParallelism, "rotate at most `N` independent secrets at once")
	asJSON := fs.Bool("json", false, "print progress as JSON lines")
	noColor := fs.Bool("no-color", false, "never colour the output")
	at := fs.String("at", "", "act as of `TIME` or +DURATION, as plan -at does: rehearse a later retire or rotation (the clock moves on from there)")
	values := valueFiles{}
	fs.Var(values, "value-file", "read a manual secret's new value from a file: `secret.NAME=PATH` (repeatable)")
	var targets, replace addressList
	fs.Var(&targets, "target", "apply only to `secret.NAME`, what it needs and what rotates with it (repeatable)")
	fs.Var(&replace, "replace", "rotate `secret.NAME` even if it is not due (repeatable)")
	if err := fs.Parse(args); err != nil {
		if err.Error() == "flag: help requested" {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(m.stderr, "Usage: rotplan apply [options] [PLANFILE]")
		return exitError
	}
	planFile := fs.Arg(0)
	if planFile != "" && (len(targets) > 0 || len(replace) > 0) {
		fmt.Fprintln(m.stderr, "Error: -target and -replace shape a new plan; a saved plan already has its own.")
		return exitError
	}
	color := !*noColor && colorEnabled(m.stdout)
	start, err := evaluationTime(*at, time.Now().Truncate(time.Second))
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: invalid -at: %s\n", err)
		return exitError
	}
	offset := time.Until(start)
	clock := func() time.Time { return time.Now().Add(offset) }

	inv, ok := m.loadInventory(config.ModeResolve)
	if !ok {
		return exitError
	}
	for name := range values {
		if inv.Secret(name) == nil {
			fmt.Fprintf(m.stderr, "Error: -value-file names secret.%s, which the inventory does not declare.\n", name)
			return exitError
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	backend := state.NewLocal(statePath(inv))
	lock, err := backend.Lock(ctx, lockInfo("apply"), *lockTimeout)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	defer lock.Unlock()
	st, err := backend.Read()
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}

	var plan *planner.Plan
	if planFile != "" {
		plan, err = savedPlanFor(planFile, inv, st)
	} else {
		obs := (&executor.Observer{Registry: m.registry, Logger: m.logger}).Observe(ctx, inv)
		plan, err = planner.Make(inv, obs, clock().Truncate(time.Second), planner.Options{Targets: targets, Replace: replace})
	}
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	view := views.NewApplyView(m.stdout, *asJSON, color)
	if *asJSON {
		// The JSON stream shows no plan, so it reports the secrets the plan
		// could not read as failed before anything else.
		for _, c := range plan.Changes {
			if c.Status == planner.StatusError {
				view.Event(executor.Event{Kind: executor.EventSecretFailed, Time: time.Now().UTC(), Secret: c.Address, Action: c.Action, Message: c.Error})
			}
		}
	} else {
		views.PlanHuman(m.stdout, plan, color)
	}
	if !plan.HasChanges() {
		// Nothing to do still clears the journal entries a killed apply
		// left behind with nothing to resume.
		(&executor.Applier{Registry: m.registry, Logger: m.logger, Lock: lock, State: st}).Apply(ctx, inv, plan)
		if *asJSON {
			view.Summary(executor.Result{Failed: plan.Count().Errors})
		}
		if plan.HasErrors() {
			return exitError
		}
		return exitOK
	}
	// A saved plan was reviewed when it was made: apply carries it out
	// without asking again.
	if !*autoApprove && planFile == "" {
		if !isTerminal(m.stdin) {
			fmt.Fprintln(m.stderr, "Error: apply asks for confirmation, and there is no terminal to ask on. Review the plan and run apply -auto-approve, or apply a saved plan.")
			return exitError
		}
		fmt.Fprint(m.stdout, "\nRotate these secrets? Only 'yes' will be accepted: ")
		answer, _ := bufio.NewReader(m.stdin).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintln(m.stdout, "Apply cancelled; nothing was changed.")
			return exitError
		}
	}
	if !*asJSON {
		fmt.Fprintln(m.stdout) // JSON lines have no blank line
	}

	applier := &executor.Applier{
		Registry:        m.registry,
		Logger:          m.logger,
		Parallelism:     *parallelism,
		Now:             clock,
		Events:          view.Event,
		Operator:        operator(),
		Lock:            lock,
		State:           st,
		Audit:           state.NewAudit(filepath.Join(filepath.Dir(statePath(inv)), "rotplan.audit.jsonl")),
		OperatorValue:   m.operatorValue(values),
		ConfirmOperator: m.confirmOperator(),
		AfterStep:       crashHook(),
	}
	result := applier.Apply(ctx, inv, plan)
	result.Failed += plan.Count().Errors // the secrets the plan could not read
	view.Summary(result)
	if !result.OK() {
		return exitError
	}
	return exitOK
}

func runForceUnlock(m *meta, args []string) int {
	fs := newFlagSet(m, "force-unlock LOCK_ID", "Clears the state lock left by an apply that is gone. A lock held by a\nrunning apply is refused.")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		if err == nil {
			fmt.Fprintln(m.stderr, "Usage: rotplan force-unlock LOCK_ID")
		}
		return exitError
	}
	inv, ok := m.loadInventory(config.ModeValidate)
	if !ok {
		return exitError
	}
	if err := state.NewLocal(statePath(inv)).ForceUnlock(fs.Arg(0)); err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	fmt.Fprintf(m.stdout, "Lock %s is released.\n", fs.Arg(0))
	return exitOK
}

// savedPlanFor reads a saved plan and refuses it when the inventory or the
// state changed since it was made.
func savedPlanFor(path string, inv *config.Inventory, st *state.State) (*planner.Plan, error) {
	jp, err := readSavedPlan(path)
	if err != nil {
		return nil, err
	}
	switch {
	case jp.InventoryHash != inv.Hash:
		return nil, fmt.Errorf("the saved plan %s is stale: the inventory has changed since it was made (%s, now %s); run rotplan plan again", path, shortHash(jp.InventoryHash), shortHash(inv.Hash))
	case jp.StateSerial != st.Serial:
		return nil, fmt.Errorf("the saved plan %s is stale: another apply has run since it was made (state serial %d, now %d); run rotplan plan again", path, jp.StateSerial, st.Serial)
	}
	return jp.Plan()
}

// operatorValue reads a manual secret's new value from its -value-file, or
// asks for it on the terminal without echo.
func (m *meta) operatorValue(files valueFiles) func(context.Context, *config.Secret) (sensitive.Value, error) {
	return func(_ context.Context, s *config.Secret) (sensitive.Value, error) {
		if path, ok := files[s.Name]; ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return sensitive.Value{}, fmt.Errorf("read -value-file for %s: %w", s.Address(), err)
			}
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				return sensitive.Value{}, fmt.Errorf("the -value-file for %s is empty", s.Address())
			}
			return sensitive.New(v), nil
		}
		f, ok := m.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return sensitive.Value{}, executor.ErrNoOperatorValue
		}
		fmt.Fprintf(m.stdout, "\n%s needs a new value made by a person.\n", s.Address())
		if how := s.Generate.StringAttr("instructions"); how != "" {
			fmt.Fprintf(m.stdout, "  %s\n", how)
		}
		fmt.Fprintf(m.stdout, "Paste it here (input is hidden): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(m.stdout)
		if err != nil || len(b) == 0 {
			return sensitive.Value{}, executor.ErrNoOperatorValue
		}
		return sensitive.FromBytes(b), nil
	}
}

// confirmOperator asks, on a terminal, whether the person running apply has
// done a step only they can do.
func (m *meta) confirmOperator() func(context.Context, *config.Secret, string) bool {
	if !isTerminal(m.stdin) {
		return nil
	}
	in := bufio.NewReader(m.stdin)
	return func(_ context.Context, s *config.Secret, how string) bool {
		fmt.Fprintf(m.stdout, "\n%s: %s\nType 'done' once it is revoked (anything else: do it later): ", s.Address(), how)
		answer, _ := in.ReadString('\n')
		return strings.TrimSpace(answer) == "done"
	}
}

// statePath is where the local state backend keeps its file.
func statePath(inv *config.Inventory) string {
	p := inv.Settings.State.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(inv.Dir, p)
	}
	return p
}

// lockInfo describes this process as the holder of the state lock.
func lockInfo(operation string) state.LockInfo {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return state.LockInfo{
		ID:        hex.EncodeToString(b),
		Operation: operation,
		PID:       os.Getpid(),
		Host:      host,
		User:      userName(),
		Created:   time.Now().UTC().Truncate(time.Second),
		Version:   version,
	}
}

func operator() string {
	host, _ := os.Hostname()
	return userName() + "@" + host
}

func userName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// crashHook kills this process with SIGKILL after the step named in
// ROTPLAN_TEST_CRASH_AFTER ("stage", or "stage:begun"), so tests can prove
// that apply resumes from any point. Unset, it does nothing.
func crashHook() func(string, state.Step, bool) {
	spec := os.Getenv("ROTPLAN_TEST_CRASH_AFTER")
	if spec == "" {
		return nil
	}
	step, phase, _ := strings.Cut(spec, ":")
	wantDone := phase != "begun"
	return func(_ string, s state.Step, done bool) {
		if string(s) == step && done == wantDone {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // SIGKILL cannot be caught; wait for it
		}
	}
}
