package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rotplan/rotplan/cmd/rotplan/internal/views"
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/planner"
)

func runShow(m *meta, args []string) int {
	fs := newFlagSet(m, "show FILE", "Shows a plan saved with plan -out, and whether the inventory has changed since.")
	asJSON := fs.Bool("json", false, "print the saved plan as JSON")
	noColor := fs.Bool("no-color", false, "never colour the output")
	if code, ok := fs.parse(args, 1, 1); !ok {
		return code
	}
	jp, err := readSavedPlan(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	plan, err := jp.Plan()
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s is not a valid saved plan: %s\n", fs.Arg(0), err)
		return exitError
	}
	if *asJSON {
		enc := json.NewEncoder(m.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(jp)
	} else {
		views.PlanHuman(m.stdout, plan, !*noColor && colorEnabled(m.stdout))
	}

	dir, _ := filepath.Abs(m.dir)
	if names, err := config.InventoryFiles(m.dir); err != nil || len(names) == 0 {
		fmt.Fprintf(m.stderr, "\nCannot tell whether this saved plan is current: there is no inventory in %s. Run show with -chdir=DIR pointing at the inventory the plan was made from.\n", dir)
		return exitError
	}
	// Only the inventory's hash is compared, and nothing of it is shown: a
	// saved plan is apply's, whose inventory is trusted.
	inv, diags := config.LoadDir(m.dir, config.Options{Schemas: m.registry, Mode: config.ModeValidate, Trust: config.Trusted})
	if diags.HasErrors() || inv.Hash != jp.InventoryHash {
		fmt.Fprintf(m.stderr, "\nThis saved plan is stale: the inventory in %s has changed since the plan was made (%s, now %s). Run rotplan plan again.\n",
			dir, shortHash(jp.InventoryHash), shortHash(inv.Hash))
		return exitError
	}
	return exitOK
}

// readSavedPlan reads a plan file written by plan -out.
func readSavedPlan(path string) (*views.JSONPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the saved plan: %w", err)
	}
	var jp views.JSONPlan
	if err := json.Unmarshal(b, &jp); err != nil || jp.FormatVersion == "" {
		return nil, fmt.Errorf("%s is not a saved rotplan plan", path)
	}
	if major(jp.FormatVersion) != major(planner.FormatVersion) {
		return nil, fmt.Errorf("%s has plan format %s; this rotplan reads %s", path, jp.FormatVersion, planner.FormatVersion)
	}
	return &jp, nil
}

// major is a format version's major part: "1" of "1.0".
func major(v string) string {
	major, _, _ := strings.Cut(v, ".")
	return major
}
