package main

import (
	"fmt"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/planner"
)

func runGraph(m *meta, args []string) int {
	fs := newFlagSet(m, "graph", "Prints the dependency graph of the inventory's secrets in DOT, for Graphviz.\nA solid edge means the secret is made from the other's value and rotates\nwith it; a dashed edge only orders the two.")
	trust := trustFlag(fs.FlagSet)
	if code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	inv, ok := m.loadInventory(config.ModeValidate, trust.trust())
	if !ok {
		return exitError
	}
	w := m.stdout
	fmt.Fprintln(w, "digraph rotplan {")
	fmt.Fprintln(w, `  rankdir = "LR";`)
	fmt.Fprintln(w, `  node [shape = box];`)
	for _, s := range planner.Order(inv) {
		fmt.Fprintf(w, "  %q;\n", s.Address())
	}
	for _, s := range planner.Order(inv) {
		derives := map[string]bool{}
		for _, from := range s.Derives {
			derives[from] = true
			fmt.Fprintf(w, "  %q -> %q;\n", "secret."+from, s.Address())
		}
		for _, after := range s.DependsOn {
			if !derives[after] {
				fmt.Fprintf(w, "  %q -> %q [style = dashed];\n", "secret."+after, s.Address())
			}
		}
	}
	fmt.Fprintln(w, "}")
	return exitOK
}
