package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/rotplan/rotplan/cmd/rotplan/internal/views"
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/planner"
)

// Test seams: nil in the release binary; the tests set them (see
// TestMain) to kill apply after a step, or to move its clock on.
var (
	afterStep func(secret string, step state.Step, done bool)
	clock     func() time.Time
)

// maxParallelism bounds -parallelism: more would only queue on the
// providers' rate limits.
const maxParallelism = 256

func runApply(m *meta, args []string) int {
	fs := newFlagSet(m, "apply [PLANFILE]", "Rotates what the plan says is due, in dependency order: generate, stage in the\nstore, set, deliver, verify, then promote; a failed check rolls everything back\nto the old value. With PLANFILE it carries out a plan saved by plan -out, if it\nis still current.\n\nThe first interrupt (Ctrl-C) starts nothing new and lets what is in flight\nfinish or roll back; a second one stops at once, and the next apply resumes.")
	autoApprove := fs.Bool("auto-approve", false, "do not ask for confirmation")
	lockTimeout := newDurationFlag(fs, "lock-timeout", 0, "wait up to `DURATION` (30s, 5m) for another apply to release the state lock")
	stopTimeout := newDurationFlag(fs, "stop-timeout", executor.DefaultStopTimeout, "after an interrupt, let what is in flight run up to `DURATION` before cancelling it (it then rolls back)")
	parallelism := newIntRange(fs, "parallelism", executor.DefaultParallelism, 1, maxParallelism, "rotate at most `N` independent secrets at once (1 to 256)")
	input := fs.Bool("input", true, "ask on the terminal for approval and manual values; -input=false never asks")
	asJSON := fs.Bool("json", false, "print progress as JSON lines")
	auditTo := fs.String("audit", "", "keep the audit file at `PATH` instead of beside the state; - keeps it there and also writes each record to stdout as a JSON line")
	noColor := fs.Bool("no-color", false, "never colour the output")
	at := fs.String("at", "", "not for apply, which always acts now: run plan -at `TIME` to see what a later apply would do")
	values := valueFiles{}
	fs.Var(values, "value-file", "read a manual secret's new value from a file: `secret.NAME=PATH` (repeatable)")
	var targets, replace, revoked addressList
	fs.Var(&targets, "target", "apply only to `secret.NAME`, what it needs and what rotates with it (repeatable)")
	fs.Var(&replace, "replace", "rotate `secret.NAME` even if it is not due (repeatable)")
	fs.Var(&revoked, "revoked", "confirm that the previous value of `secret.NAME` was revoked by hand, as its revoke_instructions say (repeatable)")
	if code, ok := fs.parse(args, 0, 1); !ok {
		return code
	}
	if *at != "" {
		fmt.Fprintln(m.stderr, "Error: apply always acts now, on real systems. To see what a later apply would do, run: rotplan plan -at "+*at)
		return exitError
	}
	planFile := fs.Arg(0)
	if planFile != "" && (len(targets) > 0 || len(replace) > 0) {
		fmt.Fprintln(m.stderr, "Error: -target and -replace shape a new plan; a saved plan already has its own.")
		return exitError
	}
	color := !*noColor && colorEnabled(m.stdout)
	now := time.Now
	if clock != nil {
		now = clock
	}

	// apply carries out what its operator reviewed, checks and commands
	// included: the inventory is trusted.
	inv, ok := m.loadInventory(config.ModeResolve, config.Trusted)
	if !ok {
		return exitError
	}
	for _, flag := range []struct {
		name  string
		names []string
	}{{"-value-file", mapKeys(values)}, {"-revoked", revoked}} {
		for _, name := range flag.names {
			if inv.Secret(name) == nil {
				fmt.Fprintf(m.stderr, "Error: %s names secret.%s, which the inventory does not declare.\n", flag.name, name)
				return exitError
			}
		}
	}

	ctx, stop := m.interrupts()
	defer stop()
	held, err := m.lockState(ctx, inv, "apply", *lockTimeout)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	defer held.release()
	st := held.st
	// A lost lock (its database session ended, its lock object was
	// removed) stops the apply as an interrupt does: nothing new starts,
	// and the journal refuses every write, so what is in flight stops at
	// its next step and the next apply resumes it.
	ctx, lockLost := context.WithCancel(ctx)
	defer lockLost()
	go func() {
		select {
		case <-held.lock.Lost():
			fmt.Fprintf(m.stderr, "\nError: the state lock was lost (%s); stopping. Nothing more is written; run apply again to resume.\n", held.backend)
			lockLost()
		case <-ctx.Done():
		}
	}()

	instances := executor.NewProviders(m.registry, m.logger)
	defer instances.Close()
	var plan *planner.Plan
	if planFile != "" {
		plan, err = savedPlanFor(planFile, inv, st)
	} else {
		obs := (&executor.Observer{Providers: instances, Logger: m.logger, Now: now}).Observe(ctx, inv)
		plan, err = planner.Make(inv, obs, now().Truncate(time.Second), planner.Options{Targets: targets, Replace: replace})
	}
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	// The audit stream and the view share stdout a line at a time.
	stdout := &lockedWriter{w: m.stdout}
	var audit *state.Audit
	if *auditTo == "-" {
		audit = held.audit(inv, "", stdout)
	} else {
		audit = held.audit(inv, *auditTo, nil)
	}
	view := views.NewApplyView(stdout, *asJSON, color)
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
	prompts := m.stdout
	if *asJSON {
		prompts = m.stderr // stdout carries JSON lines only
	}
	op := newOperator(m.stdin, prompts, values, revoked)
	if !*input {
		op.tty = nil
	}
	applier := &executor.Applier{
		Providers:   instances,
		Logger:      m.logger,
		Parallelism: *parallelism,
		StopTimeout: *stopTimeout,
		Now:         now,
		Events:      view.Event,
		Operator:    op,
		Who:         operatorName(),
		Lock:        held.lock,
		State:       st,
		Audit:       audit,
		AfterStep:   afterStep,
	}
	if !plan.HasChanges() {
		// Nothing to do still clears the journal entries and the temporary
		// files a killed apply left behind.
		applier.Apply(ctx, inv, plan)
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
		if op.tty == nil {
			why := "there is no terminal to ask on"
			if !*input {
				why = "-input=false says not to ask"
			}
			fmt.Fprintf(m.stderr, "Error: apply asks for confirmation, and %s. Review the plan and run apply -auto-approve, or apply a saved plan.\n", why)
			return exitError
		}
		approved, err := op.Approve(ctx)
		switch {
		case errors.Is(err, executor.ErrInterrupted):
			fmt.Fprintln(m.stdout, "Apply interrupted; nothing was changed.")
			return exitError
		case err != nil:
			fmt.Fprintf(m.stderr, "Error: %s\n", err)
			return exitError
		case !approved:
			fmt.Fprintln(m.stdout, "Apply cancelled; nothing was changed.")
			return exitError
		}
	}
	if !*asJSON {
		fmt.Fprintln(m.stdout) // JSON lines have no blank line
	}

	result := applier.Apply(ctx, inv, plan)
	result.Failed += plan.Count().Errors // the secrets the plan could not read
	view.Summary(result)
	if !result.OK() {
		return exitError
	}
	return exitOK
}

// interrupts returns the context the first SIGINT or SIGTERM cancels: apply
// then starts nothing new and lets what is in flight finish or roll back.
// A second signal stops the process at once; the journal lets the next
// apply resume.
func (m *meta) interrupts() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		cancel()
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(m.stderr, "\nInterrupted again: stopping now. Run apply again to resume from the journal.")
		os.Exit(exitError)
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
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

// operatorName names who runs apply, for the audit log.
func operatorName() string {
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
