package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/rogpeppe/go-internal/diff"

	"github.com/rotplan/rotplan/cmd/rotplan/internal/views"
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/regular"
)

func runFmt(m *meta, args []string) int {
	fs := newFlagSet(m, "fmt [FILE...]", "Rewrites the inventory's *.hcl files in the canonical format and lists the\nfiles it changed. With FILE arguments (relative to the working directory),\nonly those files.")
	check := fs.Bool("check", false, "change nothing; list the files that need formatting and exit 3 if any do")
	showDiff := fs.Bool("diff", false, "also print what changes, as a unified diff")
	if code, ok := fs.parse(args, 0, -1); !ok {
		return code
	}
	dir := m.dir
	names := fs.Args()
	if len(names) > 0 {
		dir = ""
	} else {
		var err error
		names, err = config.InventoryFiles(m.dir)
		if err != nil || len(names) == 0 {
			abs, _ := filepath.Abs(m.dir)
			fmt.Fprintf(m.stderr, "Error: no inventory files: there is no *%s file in %s.\n", config.Extension, abs)
			return exitError
		}
	}
	sources := map[string][]byte{}
	var diags hcl.Diagnostics
	formatted := map[string][]byte{}
	for _, name := range names {
		path := filepath.Join(dir, name)
		src, err := regular.ReadFile(path, config.MaxFileSize)
		if err != nil {
			fmt.Fprintf(m.stderr, "Error: %s\n", err)
			return exitError
		}
		sources[name] = src
		// Formatting a file that does not parse could move its mistakes.
		if _, moreDiags := config.ParseFile(name, src); moreDiags.HasErrors() {
			diags = append(diags, moreDiags...)
			continue
		}
		if out := hclwrite.Format(src); !bytes.Equal(out, src) {
			formatted[name] = out
		}
	}
	if diags.HasErrors() {
		views.Diagnostics(m.stderr, diags, sources, colorEnabled(m.stderr))
		return exitError
	}
	for _, name := range names {
		out, ok := formatted[name]
		if !ok {
			continue
		}
		fmt.Fprintln(m.stdout, name)
		if *showDiff {
			m.stdout.Write(diff.Diff(name+".orig", sources[name], name, out))
		}
		if *check {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil {
			fmt.Fprintf(m.stderr, "Error: %s\n", err)
			return exitError
		}
		if err := os.WriteFile(path, out, info.Mode().Perm()); err != nil {
			fmt.Fprintf(m.stderr, "Error: %s\n", err)
			return exitError
		}
	}
	if *check && len(formatted) > 0 {
		fmt.Fprintf(m.stderr, "%s not formatted; run rotplan fmt.\n", views.CountNoun(len(formatted), "file"))
		return exitFormat
	}
	return exitOK
}
