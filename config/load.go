package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/rotplan/rotplan/internal/regular"
)

// Mode says how much of the world the inventory may assume is there.
type Mode int

const (
	// ModeValidate needs no credentials: env() of an unset variable is
	// unknown, not an error. Verify blocks and the settings schemas mark
	// ApplyOnly are checked without calling env() or file(), as in ModePlan.
	ModeValidate Mode = iota
	// ModeResolve is for apply: every block is evaluated and every env()
	// must be set.
	ModeResolve
	// ModePlan is for plan: what observation needs (provider, store and
	// target blocks) is evaluated and its env() must be set. Verify blocks
	// and the settings schemas mark ApplyOnly are checked for their shape
	// only: env() and file() in them read nothing and are unknown, so plan
	// needs no credential that only apply uses.
	ModePlan
)

// Trust says whether the inventory's author may read what the machine
// running rotplan can.
type Trust int

const (
	// Untrusted is the default, for an inventory a pull request may have
	// changed: file() reads only inside the inventory directory, an
	// inventory file or a store file may not be a symbolic link out of it,
	// and what env() and file() return is sensitive, except in settings a
	// schema marks Public.
	Untrusted Trust = iota
	// Trusted is for an inventory its operator wrote or reviewed: apply,
	// or plan -trust. file() reads any file, and env() and file() values
	// are plain.
	Trusted
)

// Options control loading.
type Options struct {
	Schemas Schemas
	// States looks up the schema of each state backend type; nil knows
	// none, so that a state block is an error.
	States StateSchemas
	Mode   Mode
	Trust  Trust
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Extension is the inventory file extension: every *.hcl file in the
// directory belongs to the inventory.
const Extension = ".hcl"

// InventoryFiles lists the inventory files of dir, sorted: at most
// MaxFiles+1 of them, so that a caller can tell there are too many while
// the listing stays bounded.
func InventoryFiles(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	for len(names) <= MaxFiles {
		entries, err := f.ReadDir(256)
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), Extension) && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(names)
	return names, nil
}

// LoadDir reads every inventory file in dir. It always returns an Inventory
// whose Sources hold what was read, so diagnostics can show the source even
// when decoding failed. Each file must be a regular file (not a named pipe
// or a device) of at most MaxFileSize bytes, MaxInventorySize in all, and,
// in an untrusted inventory, a symbolic link only to a file inside dir.
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
	if len(names) > MaxFiles {
		return inv, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Too many inventory files",
			Detail:   fmt.Sprintf("The directory holds more than %d *%s files, the limit. Put the inventory in a directory of its own.", MaxFiles, Extension),
		}}
	}
	var diags hcl.Diagnostics
	files := make(map[string][]byte, len(names))
	total := 0
	realDir := ""
	for _, name := range names {
		path := filepath.Join(dir, name)
		if opts.Trust == Untrusted {
			if realDir == "" {
				realDir = realPath(dir)
			}
			if d := linkOutside(realDir, path, name); d != nil {
				diags = append(diags, d)
				continue
			}
		}
		b, err := regular.ReadFile(path, MaxFileSize)
		if err != nil {
			diags = append(diags, unreadable(name, err))
			continue
		}
		if total += len(b); total > MaxInventorySize {
			diags = append(diags, inventoryTooLarge(name))
			break
		}
		files[name] = b
	}
	if diags.HasErrors() {
		inv.Sources = files
		return inv, diags
	}
	return Load(dir, files, opts)
}

// linkOutside reports an inventory file that is a symbolic link to a file
// outside the inventory directory, realDir.
func linkOutside(realDir, path, name string) *hcl.Diagnostic {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return nil // ReadFile reports what is wrong
	}
	real, err := evalSymlinks(path)
	if err != nil || inside(realDir, real) {
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Inventory file outside the inventory directory",
		Detail:   fmt.Sprintf("%s is a symbolic link to a file outside the inventory directory. An inventory is not trusted unless you say so, and reads only files inside its directory. Replace the link with the file; or, for an inventory you wrote or reviewed, run with -trust.", name),
		Subject:  fileStart(name),
	}
}

// unreadable is the diagnostic for an inventory file that could not be read.
func unreadable(name string, err error) *hcl.Diagnostic {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var tooLarge *regular.TooLargeError
	switch {
	case errors.Is(err, regular.ErrNotRegular):
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Inventory file is not a regular file",
			Detail:   fmt.Sprintf("%s is a named pipe, a device or a socket, or a link to one. rotplan reads only regular files; rename it so that it does not end in %s.", name, Extension),
			Subject:  fileStart(name),
		}
	case errors.As(err, &tooLarge):
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Inventory file too large",
			Detail:   fmt.Sprintf("%s is %s, the limit for one inventory file. Split it into several files.", name, err),
			Subject:  fileStart(name),
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cannot read inventory file",
		Detail:   fmt.Sprintf("%s: %s.", name, err),
		Subject:  fileStart(name),
	}
}

func inventoryTooLarge(name string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Inventory too large",
		Detail:   fmt.Sprintf("With %s, the inventory's files hold more than %s in all, the limit. rotplan stops reading here.", name, regular.FormatSize(MaxInventorySize)),
		Subject:  fileStart(name),
	}
}

// fileStart is the range at the start of a file, for a problem with the
// file as a whole.
func fileStart(name string) *hcl.Range {
	return &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
}

// Load decodes an inventory from the given files (name to contents).
// dir is where relative paths in the inventory start. Nothing is parsed
// when the files hold more than MaxInventorySize in all; a file larger than
// MaxFileSize is not parsed, nor one that is not text or nests more deeply
// than MaxNesting (see ParseFile); at most MaxDiagnosticsPerFile
// diagnostics are kept for each file.
func Load(dir string, files map[string][]byte, opts Options) (*Inventory, hcl.Diagnostics) {
	inv := &Inventory{Dir: dir, Sources: files, Hash: hashFiles(files)}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	total := 0
	for _, name := range names {
		if total += len(files[name]); total > MaxInventorySize {
			return inv, hcl.Diagnostics{inventoryTooLarge(name)}
		}
	}

	var diags hcl.Diagnostics
	bodies := make([]hcl.Body, 0, len(names))
	for _, name := range names {
		body, fileDiags := ParseFile(name, files[name])
		diags = append(diags, fileDiags...)
		if body != nil {
			bodies = append(bodies, body)
		}
		if len(fileDiags.Errs()) > MaxDiagnosticsPerFile {
			// A file of junk: the others can wait until it is fixed.
			if i := sort.SearchStrings(names, name); i+1 < len(names) {
				d := tooManyErrors(fmt.Sprintf("%s has too many errors; rotplan did not read the %d files after it. Fix it first.", name, len(names)-i-1), fileStart(name))
				d.Summary = "Stopped reading the inventory"
				diags = append(diags, d)
			}
			break
		}
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	inv.mode, inv.trust, inv.lookupEnv = opts.Mode, opts.Trust, opts.LookupEnv
	// Decoding what is left of an inventory without one of its files would
	// only add errors about what that file declares.
	if len(bodies) == len(names) {
		d := &decoder{inv: inv, opts: opts, implicit: map[string]*Provider{}}
		diags = append(diags, d.decode(bodies)...)
	}
	diags = limitDiagnostics(explainFunctionErrors(diags))
	for _, d := range diags {
		// A check that names a public setting's value (two blocks writing
		// one file) names what env() or file() returned only as sensitive.
		d.Summary, d.Detail = inv.Redact(d.Summary), inv.Redact(d.Detail)
	}
	return inv, diags
}

// ParseFile parses one inventory file after checking that it is text and
// does not nest more deeply than MaxNesting, then rejects for expressions
// and long lists (checkExpressions);
// it keeps at most MaxDiagnosticsPerFile diagnostics. The body is nil when
// the file must not be decoded. Load parses with it, and so does fmt.
func ParseFile(name string, src []byte) (hcl.Body, hcl.Diagnostics) {
	if len(src) > MaxFileSize {
		return nil, hcl.Diagnostics{unreadable(name, &regular.TooLargeError{Size: int64(len(src)), Limit: MaxFileSize})}
	}
	if diags := checkText(name, src); diags.HasErrors() {
		return nil, diags
	}
	if diags := checkTokens(name, src); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	// Keep the first few now: a file of junk makes one per token.
	diags = limitDiagnostics(diags)
	if f == nil {
		return nil, diags
	}
	if more := checkExpressions(f.Body); more.HasErrors() {
		return nil, append(diags, more...)
	}
	return f.Body, diags
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
