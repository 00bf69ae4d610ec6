package envfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/regular"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Target is the env_file target: dotenv files on this machine.
type Target struct {
	dir string
}

var _ providers.Target = (*Target)(nil)

// New returns an env_file target whose relative paths start at s.Dir.
func New(s providers.Settings) (*Target, error) {
	return &Target{dir: s.Dir}, nil
}

// Locate reads a decoded env_file block: the file's path (joined to the
// inventory directory when relative), the key of the current value and the
// key of the previous value, "" when the block has none.
func (t *Target) Locate(config cty.Value) (path, key, previousKey string, err error) {
	if path, err = providers.StringAttr(config, "path"); err != nil {
		return "", "", "", err
	}
	if key, err = providers.StringAttr(config, "key"); err != nil {
		return "", "", "", err
	}
	if previousKey, err = providers.StringAttr(config, "previous_key"); err != nil {
		return "", "", "", err
	}
	if path == "" || key == "" {
		return "", "", "", errors.New("env_file block needs path and key")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(t.dir, path)
	}
	return path, key, previousKey, nil
}

// MaxFileSize bounds a dotenv file: reading a larger one is refused.
const MaxFileSize = 8 << 20

// readFile reads a dotenv file: a regular file, not a named pipe or a
// device, of at most MaxFileSize bytes. Tests replace it to count reads.
var readFile = func(path string) ([]byte, error) {
	return regular.ReadFile(path, MaxFileSize)
}

// Observe reports whether each item's file holds the store's current value
// under its key, reading each file once. A missing file or key, or an empty
// value, holds nothing. Values are compared by keyed fingerprints made for
// this call alone. With no current value (a secret about to be created), a
// value under the key holds other.
func (t *Target) Observe(ctx context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	type located struct {
		index int
		key   string
	}
	var paths []string
	groups := map[string][]located{}
	for i, item := range req.Items {
		path, key, _, err := t.Locate(item.Config)
		if err != nil {
			resp.Results[i].Err = fmt.Errorf("env_file: secret %q %s: %w", item.Secret, item.Target, err)
			continue
		}
		if _, seen := groups[path]; !seen {
			paths = append(paths, path)
		}
		groups[path] = append(groups[path], located{index: i, key: key})
	}

	fp := sensitive.NewFingerprinter()
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		held, err := readValues(path)
		if err != nil {
			err = fmt.Errorf("env_file %s: %w", path, err)
			for _, l := range groups[path] {
				resp.Results[l.index].Err = err
			}
			continue
		}
		for _, l := range groups[path] {
			v, ok := held[l.key]
			switch {
			case !ok || v.IsEmpty():
				resp.Results[l.index].Holds = providers.HoldsNothing
			case fp.Of(v).Equal(fp.Of(req.Items[l.index].Current)):
				resp.Results[l.index].Holds = providers.HoldsCurrent
			default:
				resp.Results[l.index].Holds = providers.HoldsOther
			}
		}
	}
	return resp, nil
}

// readValues returns the values a dotenv file assigns, the last assignment
// of a key winning as it does when a shell sources the file. A missing file
// assigns nothing.
func readValues(path string) (map[string]sensitive.Value, error) {
	src, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer clear(src)
	assignments, err := parse(src)
	if err != nil {
		return nil, err
	}
	values := make(map[string]sensitive.Value, len(assignments))
	for _, a := range assignments {
		values[a.key] = sensitive.FromBytes(a.value)
	}
	return values, nil
}
