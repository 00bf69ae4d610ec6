package envfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/rotplan/rotplan/internal/atomicfile"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

var _ providers.TargetWriter = (*Target)(nil)

// Deliver makes each item's file hold Value under key and, when the block
// has a previous_key and the item a Previous that differs from Value,
// Previous under previous_key, so a dual-key consumer accepts both until
// Retire. Without a Previous (a first creation) previous_key is left as it
// is. Each file is read once and written at most once, atomically, keeping
// its owner, group and mode (see Write); an item whose file already holds
// exactly that is Skipped.
func (t *Target) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, func(item providers.WriteItem, key, previousKey string, _ held) ([]edit, error) {
		if item.Value.IsEmpty() {
			return nil, errors.New("no value to deliver")
		}
		edits := []edit{{key: key, value: item.Value}}
		if previousKey != "" && !item.Previous.IsEmpty() && !item.Previous.Equal(item.Value) {
			edits = append(edits, edit{key: previousKey, value: item.Previous})
		}
		return edits, nil
	})
}

// Revert undoes a Deliver whose check failed: Value is the old value and
// Previous the failed candidate.
//
// key gets Value back. With no old value (the failed rotation was the
// secret's first) key is removed if it holds the candidate, and left alone
// if it holds anything else.
//
// previous_key is removed when it holds Value or the candidate, and left
// alone otherwise. Deliver put Value there (it was current then), and a
// previous slot holding the current value is meaningless: removing it gives
// back the shape the file had before the rotation, when the slot was empty
// or retired. The candidate must stop working wherever it is. Any other
// value there was not written by this rotation (an earlier one whose grace
// has not ended, or a person), so it is not Revert's to remove. What
// previous_key held before Deliver overwrote it is not known here, so it
// cannot be put back.
//
// An item whose file already looks like that is Skipped.
func (t *Target) Revert(ctx context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, func(item providers.WriteItem, key, previousKey string, h held) ([]edit, error) {
		var edits []edit
		switch {
		case !item.Value.IsEmpty():
			edits = append(edits, edit{key: key, value: item.Value})
		case item.Previous.IsEmpty():
			return nil, errors.New("nothing to revert to: neither the old value nor the failed one was given")
		case h.holds(key, item.Previous):
			edits = append(edits, edit{key: key, unset: true})
		}
		if previousKey != "" && (h.holds(previousKey, item.Value) || h.holds(previousKey, item.Previous)) {
			edits = append(edits, edit{key: previousKey, unset: true})
		}
		return edits, nil
	})
}

// Retire removes previous_key from each item's file, whatever it holds: the
// grace of the value a rotation replaced is over. An item whose block has no
// previous_key, or whose file does not assign it, is Skipped.
func (t *Target) Retire(ctx context.Context, req providers.RetireRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, func(_ providers.WriteItem, _, previousKey string, _ held) ([]edit, error) {
		if previousKey == "" {
			return nil, nil
		}
		return []edit{{key: previousKey, unset: true}}, nil
	})
}

// fileLocks holds a mutex per file this process rewrites: secrets that an
// apply rotates in parallel may share an env file, and each read-modify-write
// of it must start from the one before, or one's edits are lost.
var fileLocks sync.Map // path → *sync.Mutex

// lockFiles locks paths, in sorted order so that two calls never wait on
// each other, and returns the function that unlocks them.
func lockFiles(paths []string) (unlock func()) {
	var held []*sync.Mutex
	for _, path := range slices.Sorted(slices.Values(paths)) {
		m, _ := fileLocks.LoadOrStore(path, &sync.Mutex{})
		mu := m.(*sync.Mutex)
		mu.Lock()
		held = append(held, mu)
	}
	return func() {
		for _, mu := range held {
			mu.Unlock()
		}
	}
}

// edit is one change an item asks of its file: key set to value, or unset.
type edit struct {
	key   string
	value sensitive.Value
	unset bool
}

// held is what a file assigns, compared by keyed fingerprints.
type held struct {
	values map[string]sensitive.Value
	fp     *sensitive.Fingerprinter
}

// has reports whether the file assigns key, even an empty value.
func (h held) has(key string) bool {
	_, ok := h.values[key]
	return ok
}

// holds reports whether the file assigns v, not empty, under key.
func (h held) holds(key string, v sensitive.Value) bool {
	got, ok := h.values[key]
	return ok && !v.IsEmpty() && h.fp.Of(got).Equal(h.fp.Of(v))
}

// inPlace reports whether the file already reflects e.
func (h held) inPlace(e edit) bool {
	if e.unset {
		return !h.has(e.key)
	}
	got, ok := h.values[e.key]
	return ok && h.fp.Of(got).Equal(h.fp.Of(e.value))
}

// same reports whether two edits of one key agree.
func (h held) same(a, b edit) bool {
	if a.unset || b.unset {
		return a.unset == b.unset
	}
	return h.fp.Of(a.value).Equal(h.fp.Of(b.value))
}

// wantFunc returns every edit that makes one item's file hold what a call
// asks, given what the file holds now; write drops those already in place.
type wantFunc func(item providers.WriteItem, key, previousKey string, h held) ([]edit, error)

// write carries out a Deliver, Revert or Retire: it groups the items by
// file, reads each file once, and writes each file at most once with the
// edits of all its items. Items that ask for different things under one key
// fail and none of their edits are made. Once ctx is done, the items of the
// files not yet written fail with its error.
//
// Under each file's lock, before reading it, it removes the temporary files
// a crashed writer of that file left (atomicfile.RemoveStale): they may hold
// values in clear text. When that fails, the file's items fail unwritten.
func (t *Target) write(ctx context.Context, items []providers.WriteItem, want wantFunc) (*providers.WriteResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(items))}
	itemErr := func(i int, err error) {
		resp.Results[i].Err = fmt.Errorf("env_file: secret %q %s: %w", items[i].Secret, items[i].Target, err)
	}
	var paths []string
	groups := map[string][]located{}
	for i, item := range items {
		path, key, previousKey, err := t.Locate(item.Config)
		if err == nil && key == previousKey {
			err = fmt.Errorf("key and previous_key are both %s; give previous_key a name of its own", key)
		}
		if err != nil {
			itemErr(i, err)
			continue
		}
		if _, seen := groups[path]; !seen {
			paths = append(paths, path)
		}
		groups[path] = append(groups[path], located{index: i, key: key, previousKey: previousKey})
	}

	defer lockFiles(paths)()
	fp := sensitive.NewFingerprinter()
	for _, path := range paths {
		group := groups[path]
		if err := ctx.Err(); err != nil {
			for _, l := range group {
				itemErr(l.index, fmt.Errorf("%s: not written: %w", path, err))
			}
			continue
		}
		if _, err := atomicfile.RemoveStale(path); err != nil {
			err = fmt.Errorf("env_file %s: %w", path, err)
			for _, l := range group {
				resp.Results[l.index].Err = err
			}
			continue
		}
		values, err := readValues(path)
		if err != nil {
			err = fmt.Errorf("env_file %s: %w", path, err)
			for _, l := range group {
				resp.Results[l.index].Err = err
			}
			continue
		}
		h := held{values: values, fp: fp}

		// What each item wants, then who disagrees with whom.
		wanted := map[int][]edit{}
		byKey := map[string][]int{} // indexes of the items editing a key
		for _, l := range group {
			edits, err := want(items[l.index], l.key, l.previousKey, h)
			for _, e := range edits {
				if err == nil && !e.unset && bytes.IndexByte(e.value.Bytes(), 0) >= 0 {
					err = fmt.Errorf("the value for %s contains a NUL byte, which an environment variable cannot hold", e.key)
				}
			}
			if err != nil {
				itemErr(l.index, err)
				continue
			}
			wanted[l.index] = edits
			for _, e := range edits {
				byKey[e.key] = append(byKey[e.key], l.index)
			}
		}
		for _, k := range sortedKeys(byKey) {
			if !agree(h, wanted, k, byKey[k]) {
				for _, i := range byKey[k] {
					if resp.Results[i].Err == nil {
						itemErr(i, fmt.Errorf("%s: key %s is asked for with different values by %s; give each its own key", path, k, describe(items, byKey[k])))
					}
				}
			}
		}

		sets := map[string]sensitive.Value{}
		var unsets []string
		var writing []int
		for _, l := range group {
			edits, ok := wanted[l.index]
			if !ok || resp.Results[l.index].Err != nil {
				continue
			}
			changed := false
			for _, e := range edits {
				if h.inPlace(e) {
					continue
				}
				changed = true
				if e.unset {
					if !slices.Contains(unsets, e.key) {
						unsets = append(unsets, e.key)
					}
				} else {
					sets[e.key] = e.value
				}
			}
			if !changed {
				resp.Results[l.index].Skipped = true
				continue
			}
			writing = append(writing, l.index)
		}
		if len(writing) == 0 {
			continue
		}
		if err := rewrite(path, sets, unsets); err != nil {
			for _, i := range writing {
				resp.Results[i].Err = err
			}
		}
	}
	return resp, nil
}

// rewrite is Write; tests replace it to count writes.
var rewrite = Write

// located is one item with its keys in a file.
type located struct {
	index            int
	key, previousKey string
}

// agree reports whether every edit of key k by the items at indexes agrees.
func agree(h held, wanted map[int][]edit, k string, indexes []int) bool {
	var first *edit
	for _, i := range indexes {
		for _, e := range wanted[i] {
			if e.key != k {
				continue
			}
			if first == nil {
				first = &e
				continue
			}
			if !h.same(*first, e) {
				return false
			}
		}
	}
	return true
}

// describe names the items at indexes, once each, for an error.
func describe(items []providers.WriteItem, indexes []int) string {
	var b bytes.Buffer
	seen := map[int]bool{}
	for _, i := range indexes {
		if seen[i] {
			continue
		}
		seen[i] = true
		if b.Len() > 0 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "secret %q %s", items[i].Secret, items[i].Target)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
