package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// destinations asks the block's schema where the block writes, and
// normalises the answer: a File absolute and clean with its symbolic links
// resolved, an empty Key the secret's name.
func (d *decoder) destinations(s *Secret, b *Block) []Destination {
	if b.Schema == nil || b.Schema.Writes == nil {
		return nil
	}
	places := b.Schema.Writes(b.Config)
	if len(places) == 0 {
		return nil
	}
	out := make([]Destination, 0, len(places))
	for _, p := range places {
		if p.File == "" && p.Resource == "" {
			continue // names no place
		}
		if p.File != "" {
			p.File = d.normalise(p.File)
		}
		if p.Key == "" {
			p.Key = s.Name
		}
		out = append(out, p)
	}
	return out
}

// normalise makes a path from an inventory comparable with any other naming
// the same file: joined to the inventory directory when relative, cleaned,
// and with the symbolic links of the part that exists resolved. Each path is
// worked out once per load.
func (d *decoder) normalise(path string) string {
	if n, ok := d.files[path]; ok {
		return n
	}
	if d.files == nil {
		d.files = map[string]string{}
	}
	n := path
	if !filepath.IsAbs(n) {
		if d.absDir == "" {
			d.absDir = d.inv.Dir
			if abs, err := filepath.Abs(d.inv.Dir); err == nil {
				d.absDir = abs
			}
		}
		n = filepath.Join(d.absDir, n)
	}
	n = resolveSymlinks(filepath.Clean(n))
	d.files[path] = n
	return n
}

// resolveSymlinks resolves the symbolic links in the longest leading part of
// the absolute, clean path p that exists, and keeps the rest (a file apply
// will create) as written. The work is linear in the length of p.
func resolveSymlinks(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	sep := string(filepath.Separator)
	existing := filepath.VolumeName(p) + sep
	rest := strings.TrimPrefix(p[len(filepath.VolumeName(p)):], sep)
	for rest != "" {
		name, more, _ := strings.Cut(rest, sep)
		next := filepath.Join(existing, name)
		if _, err := os.Lstat(next); err != nil {
			break
		}
		existing, rest = next, more
	}
	r, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return p
	}
	return filepath.Join(r, rest)
}

// checkDestinations rejects two blocks that write one place (a key of one
// file, an app secret, a database role): each rotation would overwrite the
// other's value, so apply would fail and roll both back. A block that names
// one place twice is left to its type's own checks. One map keyed by place
// keeps this linear in the number of places.
func (d *decoder) checkDestinations() hcl.Diagnostics {
	type writer struct {
		secret *Secret
		block  *Block
	}
	first := map[Destination]writer{}
	var diags hcl.Diagnostics
	for _, s := range d.inv.Secrets {
		for _, b := range s.blocks() {
			for _, dest := range b.Destinations {
				prev, seen := first[dest]
				if !seen {
					first[dest] = writer{s, b}
					continue
				}
				if prev.block == b {
					continue
				}
				where, other := "file "+dest.File, "key or file"
				if dest.File == "" {
					where, other = dest.Resource, "key"
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Two blocks write the same place",
					Detail: fmt.Sprintf("%s %s writes %q in %s, and so does %s %s at %s. Each would overwrite the other's value, so apply would fail and roll both back. Give one of them its own %s, or remove one.",
						s.Address(), b.Address(), dest.Key, where, prev.secret.Address(), prev.block.Address(), pos(prev.block.DeclRange), other),
					Subject: b.DeclRange.Ptr(),
				})
			}
		}
	}
	return diags
}

// checkStoreFiles refuses, in an untrusted inventory, a store block that
// keeps its values in a file outside the inventory directory (symbolic
// links resolved): plan reads that file, and a pull request could point it
// at any file of the machine that plans it. Stores whose file does not
// resolve inside go unchecked here (an env() unset while validating).
func (d *decoder) checkStoreFiles(b *Block) hcl.Diagnostics {
	if d.opts.Trust == Trusted || b.Kind != KindStore {
		return nil
	}
	if d.realDir == "" {
		d.realDir = realPath(d.inv.Dir)
	}
	var diags hcl.Diagnostics
	for _, dest := range b.Destinations {
		if dest.File == "" || inside(d.realDir, dest.File) {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Store file outside the inventory directory",
			Detail:   fmt.Sprintf("store.%s keeps its values in %s, outside the inventory directory once symbolic links are resolved. An inventory is not trusted unless you say so, and plan reads only files inside its directory. Keep the store file there; or, for an inventory you wrote or reviewed, run with -trust.", b.Type, dest.File),
			Subject:  b.TypeRange.Ptr(),
		})
	}
	return diags
}

// realPath is path made absolute, with its symbolic links resolved where
// it exists.
func realPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return resolveSymlinks(filepath.Clean(path))
}

// evalSymlinks is path made absolute with its symbolic links resolved; it
// must exist.
func evalSymlinks(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// inside reports whether path is dir or below it; both are absolute, clean
// and with their symbolic links resolved.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
