package main

import (
	"fmt"

	"github.com/rotplan/rotplan/cmd/rotplan/internal/views"
	"github.com/rotplan/rotplan/config"
)

func runValidate(m *meta, args []string) int {
	fs := newFlagSet(m, "validate", "Checks the inventory's syntax, types, references and dependency graph.\nIt contacts no system and needs no credentials: environment variables read\nwith env() may be unset.")
	trust := trustFlag(fs.FlagSet)
	if code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	inv, ok := m.loadInventory(config.ModeValidate, trust.trust())
	if !ok {
		return exitError
	}
	fmt.Fprintf(m.stdout, "The inventory is valid: %s in %s.\n", views.CountNoun(len(inv.Secrets), "secret"), views.CountNoun(len(inv.Sources), "file"))
	return exitOK
}
