package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Store is the local store: secrets in JSON files on this machine.
type Store struct {
	dir string
}

var _ providers.Store = (*Store)(nil)

// New returns a local store whose relative paths start at s.Dir.
func New(s providers.Settings) (*Store, error) {
	return &Store{dir: s.Dir}, nil
}

// Locate returns the file that holds ref and the name of its entry there.
func (s *Store) Locate(ref providers.SecretRef) (path, key string, err error) {
	path, err = providers.StringAttr(ref.Config, "path")
	if err != nil {
		return "", "", err
	}
	if path == "" {
		path = DefaultPath
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.dir, path)
	}
	key, err = providers.StringAttr(ref.Config, "key")
	if err != nil {
		return "", "", err
	}
	if key == "" {
		key = ref.Name
	}
	if key == "" {
		return "", "", errors.New("secret has no name and no key")
	}
	return path, key, nil
}

// located is one requested secret with its place in a file.
type located struct {
	name, key string
}

// byFile groups refs by the file that holds them, in the order the files are
// first named. A ref that cannot be located is passed to fail.
func (s *Store) byFile(refs []providers.SecretRef, fail func(name string, err error)) (paths []string, groups map[string][]located) {
	groups = map[string][]located{}
	for _, ref := range refs {
		path, key, err := s.Locate(ref)
		if err != nil {
			fail(ref.Name, fmt.Errorf("local store: secret %q: %w", ref.Name, err))
			continue
		}
		if _, seen := groups[path]; !seen {
			paths = append(paths, path)
		}
		groups[path] = append(groups[path], located{name: ref.Name, key: key})
	}
	return paths, groups
}

// Inspect reports each secret's versions and rotated-at time, reading every
// file once and no values at all. A missing file holds no secrets. A file
// that cannot be read marks each of its secrets with the error.
func (s *Store) Inspect(ctx context.Context, req providers.InspectRequest) (*providers.InspectResponse, error) {
	resp := &providers.InspectResponse{Secrets: make(map[string]*providers.StoredSecret, len(req.Secrets))}
	paths, groups := s.byFile(req.Secrets, func(name string, err error) {
		resp.Secrets[name] = &providers.StoredSecret{Err: err}
	})
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		doc, err := readDocument[versionMeta](path)
		if err != nil {
			err = fmt.Errorf("local store %s: %w", path, err)
			for _, l := range groups[path] {
				resp.Secrets[l.name] = &providers.StoredSecret{Err: err}
			}
			continue
		}
		for _, l := range groups[path] {
			e := doc.Secrets[l.key]
			if e == nil {
				continue
			}
			stored, err := e.stored()
			if err != nil {
				stored = &providers.StoredSecret{Err: fmt.Errorf("local store %s: entry %q: %w", path, l.key, err)}
			}
			resp.Secrets[l.name] = stored
		}
	}
	return resp, nil
}

// stored converts an entry's metadata; it is nil when every slot is empty.
func (e *entry[V]) stored() (*providers.StoredSecret, error) {
	var out providers.StoredSecret
	var err error
	if out.Current, err = versionOf("current", e.Current); err != nil {
		return nil, err
	}
	if out.Pending, err = versionOf("pending", e.Pending); err != nil {
		return nil, err
	}
	if out.Previous, err = versionOf("previous", e.Previous); err != nil {
		return nil, err
	}
	if out.RotatedAt, err = parseTime("rotated_at", e.RotatedAt); err != nil {
		return nil, err
	}
	if out.Current == nil && out.Pending == nil && out.Previous == nil {
		return nil, nil
	}
	out.Records = e.Targets
	return &out, nil
}

func versionOf[V any](slot string, v *V) (*providers.Version, error) {
	if v == nil {
		return nil, nil
	}
	var m versionMeta
	switch v := any(v).(type) {
	case *versionMeta:
		m = *v
	case *version:
		m = versionMeta{ID: v.ID, CreatedAt: v.CreatedAt, Rotation: v.Rotation, RetireAfter: v.RetireAfter, Failed: v.Failed}
	}
	created, err := parseTime(slot+".created_at", m.CreatedAt)
	if err != nil {
		return nil, err
	}
	retire, err := parseTime(slot+".retire_after", m.RetireAfter)
	if err != nil {
		return nil, err
	}
	return &providers.Version{ID: m.ID, CreatedAt: created, RetireAfter: retire, Rotation: m.Rotation, Failed: m.Failed}, nil
}

// Read returns the value in req.Slot of each secret, reading every file
// once. A secret with nothing in the slot is absent from Values.
func (s *Store) Read(ctx context.Context, req providers.ReadRequest) (*providers.ReadResponse, error) {
	resp := &providers.ReadResponse{
		Values: make(map[string]sensitive.Value, len(req.Secrets)),
		Errors: map[string]error{},
	}
	paths, groups := s.byFile(req.Secrets, func(name string, err error) {
		resp.Errors[name] = err
	})
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		doc, err := readDocument[version](path)
		if err != nil {
			err = fmt.Errorf("local store %s: %w", path, err)
			for _, l := range groups[path] {
				resp.Errors[l.name] = err
			}
			continue
		}
		for _, l := range groups[path] {
			if v := doc.Secrets[l.key].slot(req.Slot); v != nil {
				resp.Values[l.name] = sensitive.New(v.Value)
			}
		}
	}
	return resp, nil
}

// slot returns the version in one slot; e may be nil.
func (e *entry[V]) slot(s providers.Slot) *V {
	if e == nil {
		return nil
	}
	switch s {
	case providers.SlotCurrent:
		return e.Current
	case providers.SlotPending:
		return e.Pending
	case providers.SlotPrevious:
		return e.Previous
	}
	return nil
}
