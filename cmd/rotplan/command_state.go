package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
)

var stateCommands = []command{
	{"list", "List the rotations in flight and who holds the lock", runStateList},
	{"show", "Show one secret's rotation in flight", runStateShow},
	{"unlock", "Release the state lock of an apply that is gone (force-unlock)", runStateUnlock},
	{"abort", "Abandon a secret's rotation in flight, deliberately", runStateAbort},
}

func runState(m *meta, args []string) int {
	fs := newFlagSet(m, "state SUBCOMMAND", "Shows and repairs apply's state: the journal of rotations in flight and the\nlock. Subcommands:\n\n"+stateSynopses())
	fs.subcommands = true
	if code, ok := fs.parse(args, 1, -1); !ok {
		return code
	}
	for _, c := range stateCommands {
		if c.name == fs.Arg(0) {
			return c.run(m, fs.Args()[1:])
		}
	}
	fmt.Fprintf(m.stderr, "rotplan state: unknown subcommand %q.\n\n", fs.Arg(0))
	fs.printUsage(m.stderr)
	return exitError
}

func stateSynopses() string {
	var s string
	for _, c := range stateCommands {
		s += fmt.Sprintf("  %-7s %s\n", c.name, c.synopsis)
	}
	return s
}

// stateEntry is one rotation in flight, as list and show print it.
type stateEntry struct {
	Secret   string    `json:"secret"`
	Rotation string    `json:"rotation"`
	Action   string    `json:"action"`
	State    string    `json:"state"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Error    string    `json:"error,omitempty"`
}

func entryOf(r *state.Rotation) stateEntry {
	return stateEntry{Secret: "secret." + r.Secret, Rotation: r.ID, Action: r.Action, State: r.State, Started: r.Started, Updated: r.Updated, Error: r.Error}
}

// readStateAndHolder reads the journal and the lock's holder, taking no
// lock.
func (m *meta) readStateAndHolder(inv *config.Inventory) (state.Backend, *state.State, *state.LockInfo, error) {
	b, err := m.openState(inv)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := b.Read(context.Background())
	if err != nil {
		b.Close()
		return nil, nil, nil, err
	}
	h, err := b.Holder(context.Background())
	if err != nil {
		b.Close()
		return nil, nil, nil, err
	}
	return b, st, h, nil
}

func runStateList(m *meta, args []string) int {
	fs := newFlagSet(m, "state list", "Lists the rotations in flight (the journal) and who holds the state lock.\nIt takes no lock and changes nothing.")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	inv, ok := m.loadInventory(config.ModeValidate, config.Trusted)
	if !ok {
		return exitError
	}
	b, st, holder, err := m.readStateAndHolder(inv)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	defer b.Close()
	names := make([]string, 0, len(st.Rotations))
	for n := range st.Rotations {
		names = append(names, n)
	}
	sort.Strings(names)
	if *asJSON {
		out := struct {
			State     string          `json:"state"`
			Serial    int64           `json:"serial"`
			Lock      *state.LockInfo `json:"lock"`
			Rotations []stateEntry    `json:"rotations"`
		}{State: b.String(), Serial: st.Serial, Lock: holder, Rotations: []stateEntry{}}
		for _, n := range names {
			out.Rotations = append(out.Rotations, entryOf(st.Rotations[n]))
		}
		enc := json.NewEncoder(m.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return exitOK
	}
	fmt.Fprintf(m.stdout, "State %s, serial %d.\n", b, st.Serial)
	if holder != nil {
		fmt.Fprintf(m.stdout, "Locked: %s, since %s.\n", holder.Describe(), holder.Created.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintln(m.stdout, "Not locked.")
	}
	if len(names) == 0 {
		fmt.Fprintln(m.stdout, "No rotation in flight.")
		return exitOK
	}
	fmt.Fprintf(m.stdout, "\n%-32s %-28s %-8s %-13s %s\n", "SECRET", "ROTATION", "ACTION", "STATE", "UPDATED")
	for _, n := range names {
		r := st.Rotations[n]
		fmt.Fprintf(m.stdout, "%-32s %-28s %-8s %-13s %s\n", "secret."+n, r.ID, r.Action, r.State, r.Updated.UTC().Format(time.RFC3339))
	}
	return exitOK
}

func runStateShow(m *meta, args []string) int {
	fs := newFlagSet(m, "state show secret.NAME", "Shows a secret's rotation in flight, as the journal records it.")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := fs.parse(args, 1, 1); !ok {
		return code
	}
	var addr addressList
	if err := addr.Set(fs.Arg(0)); err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	inv, ok := m.loadInventory(config.ModeValidate, config.Trusted)
	if !ok {
		return exitError
	}
	b, st, _, err := m.readStateAndHolder(inv)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	defer b.Close()
	r := st.Rotations[addr[0]]
	if r == nil {
		fmt.Fprintf(m.stderr, "Error: secret.%s has no rotation in flight in the state %s.\n", addr[0], b)
		return exitError
	}
	e := entryOf(r)
	if *asJSON {
		enc := json.NewEncoder(m.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(e)
		return exitOK
	}
	fmt.Fprintf(m.stdout, "%s\n  rotation: %s\n  action:   %s\n  state:    %s\n  started:  %s\n  updated:  %s\n",
		e.Secret, e.Rotation, e.Action, e.State, e.Started.UTC().Format(time.RFC3339), e.Updated.UTC().Format(time.RFC3339))
	if e.Error != "" {
		fmt.Fprintf(m.stdout, "  error:    %s\n", e.Error)
	}
	if e.State == "rolling back" {
		fmt.Fprintf(m.stdout, "\nIts rollback has not finished: rotplan apply tries again. If it cannot finish,\nrepair the targets by hand and run: rotplan state abort %s\n", e.Secret)
	}
	return exitOK
}

func runStateUnlock(m *meta, args []string) int {
	fs := newFlagSet(m, "state unlock LOCK_ID", "Clears the state lock left by an apply that is gone. A lock held by a\nrunning apply is refused. The same as rotplan force-unlock.")
	return unlock(m, fs, args)
}

func runStateAbort(m *meta, args []string) int {
	fs := newFlagSet(m, "state abort secret.NAME", "Abandons a secret's rotation in flight, deliberately: one whose rollback\ncannot finish, or that nobody should finish. It discards the pending value\nrotplan staged in the store and drops the journal entry; the audit log records\nit. Targets keep what they hold: plan shows any that hold the abandoned value\nas drifted, and apply syncs them back to the current value.")
	reason := fs.String("reason", "", "why, for the audit log")
	lockTimeout := newDurationFlag(fs, "lock-timeout", 0, "wait up to `DURATION` for another apply to release the state lock")
	if code, ok := fs.parse(args, 1, 1); !ok {
		return code
	}
	var addr addressList
	if err := addr.Set(fs.Arg(0)); err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	inv, ok := m.loadInventory(config.ModeResolve, config.Trusted)
	if !ok {
		return exitError
	}
	ctx, stop := m.interrupts()
	defer stop()
	held, err := m.lockState(ctx, inv, "state abort", *lockTimeout)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	defer held.release()
	applier, instances := held.applier(m, inv)
	defer instances.Close()
	res, err := applier.Abort(ctx, inv, addr[0], *reason)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	if res.Rotation != "" {
		fmt.Fprintf(m.stdout, "Abandoned rotation %s of secret.%s (it was %s).\n", res.Rotation, addr[0], res.State)
	}
	if res.Discarded != "" {
		fmt.Fprintf(m.stdout, "Discarded the pending value of rotation %s from the store.\n", res.Discarded)
	}
	fmt.Fprintln(m.stdout, "Run rotplan plan: targets still holding the abandoned value show as drifted.")
	return exitOK
}
