package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Mode says how much of the world the inventory may assume is there.
type Mode int

const (
	// ModeValidate needs no credentials: env() of an unset variable is
	// unknown, not an error.
	ModeValidate Mode = iota
	// ModeResolve is for plan and apply: every env() must be set.
	ModeResolve
)

// Options control loading.
type Options struct {
	Schemas Schemas
	// States looks up the schema of each state backend type; nil knows
	// none, so that a state block is an error.
	States StateSchemas
	Mode   Mode
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Extension is the inventory file extension: every *.hcl file in the
// directory belongs to the inventory.
const Extension = ".hcl"

// InventoryFiles lists the inventory files of dir, sorted.
func InventoryFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), Extension) && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// LoadDir reads every inventory file in dir. It always returns an Inventory
// whose Sources hold what was read, so diagnostics can show the source even
// when decoding failed.
func LoadDir(dir string, opts Options) (*Inventory, hcl.Diagnostics) {
	inv := &Inventory{Dir: dir, Sources: map[string][]byte{}}
	names, err := InventoryFiles(dir)
	if err != nil {
		return inv, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read inventory directory",
			Detail:   fmt.Sprintf("%s. Run rotplan in the directory that holds your *.hcl files, or point -chdir at it.", err),
		}}
	}
	if len(names) == 0 {
		abs, _ := filepath.Abs(dir)
		return inv, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No inventory files",
			Detail:   fmt.Sprintf("There is no *%s file in %s. Run rotplan in the directory that holds your inventory, or point -chdir at it.", Extension, abs),
		}}
	}
	files := make(map[string][]byte, len(names))
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return inv, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read inventory file",
				Detail:   err.Error(),
			}}
		}
		files[name] = b
	}
	return Load(dir, files, opts)
}

// Load decodes an inventory from the given files (name to contents).
// dir is where relative paths in the inventory start.
func Load(dir string, files map[string][]byte, opts Options) (*Inventory, hcl.Diagnostics) {
	inv := &Inventory{Dir: dir, Sources: files, Hash: hashFiles(files)}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	bodies := make([]hcl.Body, 0, len(names))
	for _, name := range names {
		f, fileDiags := parser.ParseHCL(files[name], name)
		diags = append(diags, fileDiags...)
		if f != nil {
			bodies = append(bodies, f.Body)
		}
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	inv.mode, inv.lookupEnv = opts.Mode, opts.LookupEnv
	d := &decoder{inv: inv, opts: opts, implicit: map[string]*Provider{}}
	diags = append(diags, d.decode(bodies)...)
	return inv, explainFunctionErrors(diags)
}

// hashFiles is a digest of the inventory's names and bytes.
func hashFiles(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%d:%s\n%d:", len(name), name, len(files[name]))
		h.Write(files[name])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
