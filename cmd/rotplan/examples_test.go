package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
)

// examplesDir holds the example inventories, one per directory.
const examplesDir = "../../examples"

// TestExamplesValidate loads every example inventory the way validate does
// with no credentials set: every env() is unset, and no example may produce
// a diagnostic, not even a warning.
func TestExamplesValidate(t *testing.T) {
	dirs := inventoryDirs(t, examplesDir)
	if len(dirs) == 0 {
		t.Fatalf("no inventory (*%s files) under %s", config.Extension, examplesDir)
	}
	noEnv := func(string) (string, bool) { return "", false }
	for _, dir := range dirs {
		name, _ := filepath.Rel(examplesDir, dir)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			inv, diags := config.LoadDir(dir, config.Options{
				Schemas:   newRegistry(),
				States:    state.Builtin(),
				Mode:      config.ModeValidate,
				LookupEnv: noEnv,
			})
			for _, d := range diags {
				t.Errorf("%s", describe(dir, d))
			}
			if len(diags) == 0 && len(inv.Secrets) == 0 {
				t.Errorf("%s declares no secret", dir)
			}
		})
	}
}

// inventoryDirs lists root and every directory below it that holds
// inventory files.
func inventoryDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		files, err := config.InventoryFiles(path)
		if err != nil {
			return err
		}
		if len(files) > 0 {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list example inventories: %v", err)
	}
	return dirs
}

// describe renders a diagnostic with the range it points at,
// file:line:col-line:col.
func describe(dir string, d *hcl.Diagnostic) string {
	where := dir
	if s := d.Subject; s != nil {
		where = fmt.Sprintf("%s:%d:%d-%d:%d", filepath.Join(dir, s.Filename), s.Start.Line, s.Start.Column, s.End.Line, s.End.Column)
	}
	severity := "error"
	if d.Severity == hcl.DiagWarning {
		severity = "warning"
	}
	return fmt.Sprintf("%s: %s: %s: %s", where, severity, d.Summary, d.Detail)
}
