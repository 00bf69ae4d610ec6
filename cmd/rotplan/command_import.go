package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor"
	"github.com/rotplan/rotplan/internal/sensitive"
)

func runImport(m *meta, args []string) int {
	fs := newFlagSet(m, "import secret.NAME", "Adopts a secret's existing value as its current one, without rotating it.\n\nIf the store holds a value already, nothing is written: plan ages it by the\nstore's own date. Otherwise give the value in use today (-value-file, or at\nthe hidden prompt) and when it was made (-changed-at): it is written to the\nstore as current, and plan then shows the secret as ok, or as due by that\nage. Targets are not changed.")
	valueFile := fs.String("value-file", "", "read the value in use today from `PATH`")
	changedAt := fs.String("changed-at", "", "when the value was made: `TIME` (2026-01-15 or RFC 3339); default now")
	lockTimeout := newDurationFlag(fs, "lock-timeout", 0, "wait up to `DURATION` for another apply to release the state lock")
	input := fs.Bool("input", true, "ask for the value on the terminal when -value-file is not given; -input=false never asks")
	if code, ok := fs.parse(args, 1, 1); !ok {
		return code
	}
	var addr addressList
	if err := addr.Set(fs.Arg(0)); err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	name := addr[0]
	var at time.Time
	if *changedAt != "" {
		t, err := evaluationTime(*changedAt, time.Now())
		if err != nil || *changedAt != "" && (*changedAt)[0] == '+' {
			fmt.Fprintf(m.stderr, "Error: invalid -changed-at %q: write a date (2026-01-15) or an RFC 3339 time\n", *changedAt)
			return exitError
		}
		if t.After(time.Now()) {
			fmt.Fprintf(m.stderr, "Error: -changed-at %s is in the future\n", *changedAt)
			return exitError
		}
		at = t
	}

	inv, ok := m.loadInventory(config.ModeResolve, config.Trusted)
	if !ok {
		return exitError
	}
	s := inv.Secret(name)
	if s == nil {
		fmt.Fprintf(m.stderr, "Error: the inventory declares no secret.%s.\n", name)
		return exitError
	}
	ctx, stop := m.interrupts()
	defer stop()
	held, err := m.lockState(ctx, inv, "import", *lockTimeout)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	defer held.release()
	applier, instances := held.applier(m, inv)
	defer instances.Close()
	req := executor.ImportRequest{Secret: name, ChangedAt: at}
	res, err := applier.Import(ctx, inv, req)
	if errors.Is(err, executor.ErrImportNeedsValue) {
		req.Value, err = importValue(ctx, m, s.Address(), *valueFile, *input)
		if err != nil {
			fmt.Fprintf(m.stderr, "Error: %s\n", err)
			return exitError
		}
		res, err = applier.Import(ctx, inv, req)
	} else if err == nil && *valueFile != "" {
		// The store held it: the value given was not needed.
		fmt.Fprintf(m.stderr, "Note: -value-file was not read: the store holds a value already.\n")
	}
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	switch {
	case res.Stored:
		fmt.Fprintf(m.stdout, "Imported %s: the store holds it as current, made %s. Nothing else was changed.\n", s.Address(), res.RotatedAt.Format(time.RFC3339))
	case res.RotatedAt.IsZero():
		fmt.Fprintf(m.stdout, "Adopted %s: the store holds it already; nothing was written.\n", s.Address())
	default:
		fmt.Fprintf(m.stdout, "Adopted %s: the store holds it already, last changed %s; nothing was written.\n", s.Address(), res.RotatedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(m.stdout, "Run rotplan plan to see it: ok, or due by its age.")
	return exitOK
}

// importValue reads the value in use today: from the -value-file, or at a
// hidden prompt on the terminal.
func importValue(ctx context.Context, m *meta, addr, path string, input bool) (sensitive.Value, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return sensitive.Value{}, fmt.Errorf("read -value-file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return sensitive.Value{}, errors.New("the -value-file is empty")
		}
		return sensitive.New(v), nil
	}
	op := newOperator(m.stdin, m.stderr, nil, nil)
	if !input || op.tty == nil {
		return sensitive.Value{}, fmt.Errorf("the store holds no value for %s yet. Give the value in use today with -value-file PATH (or at the prompt, on a terminal)", addr)
	}
	fmt.Fprintf(op.out, "The store holds no value for %s yet.\nPaste the value in use today (input is hidden): ", addr)
	line, err := op.readLine(ctx, true)
	fmt.Fprintln(op.out)
	if err != nil {
		return sensitive.Value{}, err
	}
	if line == "" {
		return sensitive.Value{}, errors.New("no value given; nothing was changed")
	}
	return sensitive.New(line), nil
}
