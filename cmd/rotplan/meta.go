package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/rotplan/rotplan/cmd/rotplan/internal/views"
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/providers"
	"github.com/rotplan/rotplan/providers/builtin"
)

// meta is what every command shares: where the inventory is, the streams,
// the logger and the provider registry.
type meta struct {
	streams
	dir      string
	logger   hclog.Logger
	registry *providers.Registry
	states   *state.Registry
	// flagSets, when set, collects each command's options instead of
	// running it (rotplan completion).
	flagSets *[]*flagSet
}

func newMeta(s streams, dir string) *meta {
	if dir == "" {
		dir = "."
	}
	return &meta{streams: s, dir: dir, logger: newLogger(s.stderr), registry: newRegistry(), states: state.Builtin()}
}

// loadInventory reads and validates the inventory, printing any
// diagnostics. ok is false when there were errors.
func (m *meta) loadInventory(mode config.Mode, trust config.Trust) (inv *config.Inventory, ok bool) {
	if info, err := os.Stat(m.dir); err != nil || !info.IsDir() {
		fmt.Fprintf(m.stderr, "Error: cannot use %s as the inventory directory: it does not exist or is not a directory.\n", m.dir)
		return nil, false
	}
	inv, diags := config.LoadDir(m.dir, config.Options{Schemas: m.registry, States: m.states, Mode: mode, Trust: trust})
	m.logger.Debug("inventory loaded", "dir", m.dir, "files", len(inv.Sources), "secrets", len(inv.Secrets), "diagnostics", len(diags))
	views.Diagnostics(m.stderr, diags, inv.Sources, colorEnabled(m.stderr))
	if diags.HasErrors() {
		return inv, false
	}
	return inv, true
}

// trustFlag adds -trust to a command that reads an inventory without
// carrying it out. Without it the inventory is untrusted, as one from a
// pull request must be (config.Untrusted).
func trustFlag(fs *flag.FlagSet) *trustValue {
	t := new(trustValue)
	fs.BoolVar(&t.set, "trust", false, "trust the inventory: let file() read outside its directory and show what env() and file() read (for an inventory you wrote or reviewed, never for a pull request)")
	return t
}

type trustValue struct{ set bool }

// trust is the config.Trust the flag asks for.
func (t *trustValue) trust() config.Trust {
	if t.set {
		return config.Trusted
	}
	return config.Untrusted
}

// newRegistry returns the registry of every provider rotplan ships. It is a
// variable only so that in-process tests can build the same registry with
// a fake behind a provider that has no endpoint setting (1Password's SDK);
// nothing else assigns it.
var newRegistry = builtin.Registry
