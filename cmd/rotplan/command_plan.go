package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rotplan/rotplan/internal/atomicfile"

	"github.com/rotplan/rotplan/cmd/rotplan/internal/views"
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor"
	"github.com/rotplan/rotplan/planner"
)

// addressList collects a repeatable -target or -replace flag.
type addressList []string

func (a *addressList) String() string { return strings.Join(*a, ",") }

func (a *addressList) Set(s string) error {
	name, ok := strings.CutPrefix(s, "secret.")
	if !ok || name == "" || strings.Contains(name, ".") {
		return fmt.Errorf("%q is not a secret address; write secret.NAME", s)
	}
	*a = append(*a, name)
	return nil
}

func (a addressList) addresses() []string {
	out := make([]string, len(a))
	for i, n := range a {
		out[i] = "secret." + n
	}
	return out
}

func runPlan(m *meta, args []string) int {
	fs := newFlagSet(m, "plan", "Reads the inventory and the live systems and shows what is due, drifted,\nmissing, waiting to retire or broken. It changes nothing.")
	asJSON := fs.Bool("json", false, "print the plan as JSON (see docs/json-format.md)")
	asMarkdown := fs.Bool("markdown", false, "print the plan as Markdown, for a pull request comment")
	out := fs.String("out", "", "save the plan to `FILE` for a later apply")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when there is nothing to do, 1 on error, 2 when work is pending")
	at := fs.String("at", "", "evaluate as of `TIME` (2026-12-01, RFC 3339) or +DURATION from now (+30d)")
	noColor := fs.Bool("no-color", false, "never colour the output")
	var targets, replace addressList
	fs.Var(&targets, "target", "plan only `secret.NAME`, what it needs and what rotates with it (repeatable)")
	fs.Var(&replace, "replace", "rotate `secret.NAME` even if it is not due (repeatable)")
	trust := trustFlag(fs.FlagSet)
	if code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	if *asJSON && *asMarkdown {
		fmt.Fprintln(m.stderr, "Error: -json and -markdown are alternatives; choose one.")
		return exitError
	}
	now, err := evaluationTime(*at, time.Now().Truncate(time.Second))
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: invalid -at: %s\n", err)
		return exitError
	}

	inv, ok := m.loadInventory(config.ModePlan, trust.trust())
	if !ok {
		return exitError
	}
	started := time.Now()
	instances := executor.NewProviders(m.registry, m.logger)
	defer instances.Close()
	obs := (&executor.Observer{Providers: instances, Logger: m.logger, Now: func() time.Time { return now }}).Observe(context.Background(), inv)
	m.logger.Debug("observed", "secrets", len(obs.Secrets), "elapsed", time.Since(started))
	obs.RunningApply = m.runningApply(inv)
	plan, err := planner.Make(inv, obs, now, planner.Options{Targets: targets, Replace: replace})
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	redactPlan(plan, inv)
	meta := views.PlanMeta{Version: rotplanVersion(), InventoryHash: inv.Hash, Targets: targets.addresses(), Replace: replace.addresses()}
	if *out != "" {
		// A saved plan is bound to the state's serial too: apply refuses it
		// once another apply has run. Reading needs no lock.
		st, err := m.readState(inv)
		if err != nil {
			fmt.Fprintf(m.stderr, "Error: %s\n", err)
			return exitError
		}
		meta.StateSerial = st.Serial
	}

	switch {
	case *asJSON:
		if err := views.PlanJSON(m.stdout, plan, meta); err != nil {
			fmt.Fprintf(m.stderr, "Error: %s\n", err)
			return exitError
		}
	case *asMarkdown:
		views.PlanMarkdown(m.stdout, plan)
	default:
		views.PlanHuman(m.stdout, plan, !*noColor && colorEnabled(m.stdout))
	}
	if *out != "" {
		if err := savePlan(*out, plan, meta); err != nil {
			fmt.Fprintf(m.stderr, "Error: cannot save the plan: %s\n", err)
			return exitError
		}
		if !*asJSON {
			fmt.Fprintf(m.stderr, "Saved the plan to %s. It is bound to this inventory (%s).\n", *out, shortHash(inv.Hash))
		}
	}

	switch {
	case plan.HasErrors():
		return exitError
	case *detailed && plan.HasChanges():
		return exitPending
	}
	return exitOK
}

// runningApply names the apply holding the state lock, if one does, so
// that plan shows what it is doing as in progress rather than interrupted.
// It only looks: plan takes no lock and needs no state.
func (m *meta) runningApply(inv *config.Inventory) *planner.RunningApply {
	b, err := m.openState(inv)
	if err != nil {
		m.logger.Debug("cannot tell whether an apply is running", "error", err)
		return nil
	}
	defer b.Close()
	// A state backend that does not answer must not hold the plan up.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := b.Holder(ctx)
	if err != nil {
		m.logger.Debug("cannot tell whether an apply is running", "error", err)
		return nil
	}
	if h == nil {
		return nil
	}
	return &planner.RunningApply{Holder: h.Describe(), Since: h.Created}
}

// evaluationTime reads -at: empty means now, +DURATION is relative to now,
// otherwise an RFC 3339 time or a date (midnight UTC).
func evaluationTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "":
		return now, nil
	case strings.HasPrefix(s, "+"):
		d, err := config.ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%w; write +DURATION such as +30d", err)
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2026-12-01 or 2026-12-01T09:00:00Z) nor +DURATION (+30d)", s)
}

// savePlan writes the plan's JSON form, readable only by its owner: it
// holds no value, but it does describe the secrets. It is written relative
// to the working directory, like any output path.
func savePlan(path string, plan *planner.Plan, meta views.PlanMeta) error {
	b, err := json.MarshalIndent(views.NewJSONPlan(plan, meta), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}

func shortHash(h string) string {
	if i := strings.IndexByte(h, ':'); i >= 0 && len(h) > i+13 {
		return h[:i+13]
	}
	return h
}
