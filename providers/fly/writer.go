package fly

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

var _ providers.TargetWriter = (*Target)(nil)

// Deliver makes each item's app hold Value under key and, when the block
// has a previous_key and the item a Previous that differs from Value,
// Previous under previous_key, so a dual-key consumer accepts both until
// Retire. Without a Previous (a first creation) previous_key is left as it
// is. Each app's secrets are listed once and updated at most once, with the
// values of all its items in one request; an item whose secrets' digests
// show them already in place is Skipped. A digest rotplan cannot compare
// proves nothing, so that value is written again.
//
// After the update the app's Machines are deployed with the new values
// (see the package documentation), unless deploy = false; an item fails
// if they do not all start again, so apply rolls back.
func (t *Target) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, recordKey, func(item providers.WriteItem, key, previousKey string, _ *digests) ([]edit, error) {
		if item.Value.IsEmpty() {
			return nil, errors.New("no value to deliver")
		}
		edits := []edit{{key: key, value: item.Value, recorded: item.Recorded}}
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
// secret's first) key is unset if it holds the candidate, or if its digest
// cannot be compared: the candidate must stop working, and nothing else
// was delivered there.
//
// previous_key is unset when it holds Value or the candidate, and left
// alone when it holds something else. Deliver put Value there (it was
// current then), and a previous slot holding the current value is
// meaningless: unsetting it gives back the shape the app had before the
// rotation, when the slot was empty or retired. What previous_key held
// before Deliver overwrote it cannot be put back: Fly never returns a value
// and the request does not carry it. When its digest cannot be compared it
// is unset too, if there was an old value for Deliver to have put there.
//
// An item whose app already looks like that is Skipped.
func (t *Target) Revert(ctx context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, recordKey, func(item providers.WriteItem, key, previousKey string, d *digests) ([]edit, error) {
		var edits []edit
		switch {
		case !item.Value.IsEmpty():
			edits = append(edits, edit{key: key, value: item.Value, recorded: item.Recorded})
		case item.Previous.IsEmpty():
			return nil, errors.New("nothing to revert to: neither the old value nor the failed one was given")
		default:
			if v := d.compare(key, item.Previous); v == matches || v == unknown {
				edits = append(edits, edit{key: key, unset: true})
			}
		}
		if previousKey != "" {
			old, candidate := d.compare(previousKey, item.Value), d.compare(previousKey, item.Previous)
			if old == matches || candidate == matches || old == unknown && !item.Value.IsEmpty() {
				edits = append(edits, edit{key: previousKey, unset: true})
			}
		}
		return edits, nil
	})
}

// Retire unsets previous_key in each item's app, whatever it holds: the
// grace of the value a rotation replaced is over. An item whose block has
// no previous_key, or whose app has no such secret, is Skipped. All of an
// app's items go in one update.
func (t *Target) Retire(ctx context.Context, req providers.RetireRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, keepRecord, func(_ providers.WriteItem, _, previousKey string, _ *digests) ([]edit, error) {
		if previousKey == "" {
			return nil, nil
		}
		return []edit{{key: previousKey, unset: true}}, nil
	})
}

// edit is one change an item asks of its app: key set to value, or unset.
// recorded is the store's record of the key, to tell whether value is in
// place where Fly's digest alone cannot.
type edit struct {
	key      string
	value    sensitive.Value
	unset    bool
	recorded string
}

// inPlace reports whether the app already reflects e.
func (d *digests) inPlace(e edit) bool {
	if e.unset {
		return !d.has(e.key)
	}
	return d.judge(e.key, e.value, e.recorded) == matches
}

// recording says whether a write asks the store to record what key holds
// afterwards.
type recording int

const (
	// recordKey: key holds the item's Value afterwards (Deliver, Revert):
	// record Fly's digest of it.
	recordKey recording = iota
	// keepRecord: key is not written (Retire): the record stays as it is.
	keepRecord
)

// wantFunc returns every edit that makes one item's app hold what a call
// asks, given the app's digests; write drops those already in place.
type wantFunc func(item providers.WriteItem, key, previousKey string, d *digests) ([]edit, error)

// write carries out a Deliver, Revert or Retire: it groups the items by
// app, lists each app's secrets once, and updates each app at most once
// with the edits of all its items. Items that ask for different things
// under one key fail and none of their edits are made. After an update it
// deploys the new secrets to the app's Machines (machines.go), once, unless
// every item written asked for deploy = false; a deploy that fails fails
// every item of that update. Once ctx is done, the items of the apps not
// yet written fail with its error.
func (t *Target) write(ctx context.Context, items []providers.WriteItem, rec recording, want wantFunc) (*providers.WriteResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(items))}
	itemErr := func(i int, err error) {
		resp.Results[i].Err = fmt.Errorf("fly: secret %q %s: %w", items[i].Secret, items[i].Target, err)
	}
	apps, groups := groupByApp(len(items), func(i int) (cty.Value, string, string) {
		return items[i].Config, items[i].Secret, items[i].Target
	}, func(i int, err error) { resp.Results[i].Err = err })

	for _, app := range apps {
		group := groups[app]
		if err := ctx.Err(); err != nil {
			for _, l := range group {
				itemErr(l.index, fmt.Errorf("app %q not written: %w", app, err))
			}
			continue
		}

		// The values involved: to prove the listing's digest form, and
		// to scrub from any error.
		known := map[string][]sensitive.Value{}
		scrub := []sensitive.Value{t.token}
		for _, l := range group {
			it := items[l.index]
			known[l.key] = append(known[l.key], it.Value, it.Previous)
			if l.previousKey != "" {
				known[l.previousKey] = append(known[l.previousKey], it.Previous, it.Value)
			}
			scrub = append(scrub, it.Value, it.Previous)
		}
		d, err := t.list(ctx, app, known, scrub)
		if err != nil {
			for _, l := range group {
				itemErr(l.index, err)
			}
			continue
		}

		// What each item wants, then who disagrees with whom.
		wanted := map[int][]edit{}
		byKey := map[string][]int{} // indexes of the items editing a key
		deploys := map[int]bool{}
		for _, l := range group {
			edits, err := want(items[l.index], l.key, l.previousKey, d)
			for _, e := range edits {
				if err == nil && !e.unset {
					err = checkValue(e)
				}
			}
			if err == nil {
				deploys[l.index], err = Deploys(items[l.index].Config)
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
			if !agree(wanted, k, byKey[k]) {
				for _, i := range byKey[k] {
					if resp.Results[i].Err == nil {
						itemErr(i, fmt.Errorf("app %q: secret %s is asked for with different values by %s; give each its own key", app, k, describe(items, byKey[k])))
					}
				}
			}
		}

		set := map[string]sensitive.Value{}
		var unset []string
		var writing []int
		deploy := false
		for _, l := range group {
			edits, ok := wanted[l.index]
			if !ok || resp.Results[l.index].Err != nil {
				continue
			}
			changed := false
			for _, e := range edits {
				if d.inPlace(e) {
					continue
				}
				changed = true
				if e.unset {
					if !slices.Contains(unset, e.key) {
						unset = append(unset, e.key)
					}
				} else {
					set[e.key] = e.value
				}
			}
			if !changed {
				resp.Results[l.index].Skipped = true
				continue
			}
			writing = append(writing, l.index)
			deploy = deploy || deploys[l.index]
		}
		// What each item's key holds afterwards, recorded in its store.
		// A key written now gets the digest Fly answers with.
		recordAll := func(answered []appSecret) {
			if rec != recordKey {
				return
			}
			digest := maps.Clone(d.held)
			for _, s := range answered {
				digest[s.Name] = s.Digest
			}
			for _, l := range group {
				it := items[l.index]
				if resp.Results[l.index].Err == nil && !it.Value.IsEmpty() && digest[l.key] != "" && !slices.Contains(unset, l.key) {
					resp.Results[l.index].Record = recordOf(app, l.key, digest[l.key], it.Value)
				}
			}
		}
		if len(writing) == 0 {
			recordAll(nil)
			continue
		}
		up, err := t.client.update(ctx, app, set, unset, scrub)
		if err != nil {
			for _, i := range writing {
				itemErr(i, err)
			}
			continue
		}
		sawVersion(t.api, app, up.Version)
		t.checkDigests(app, set, up.Secrets)
		recordAll(up.Secrets)
		slices.Sort(unset)
		t.logger.Info("fly: updated app secrets", "app", app, "set", sortedKeys(set), "unset", unset, "version", up.Version)

		if !deploy {
			t.logger.Warn("fly: app secrets staged, not deployed (deploy = false): the app's Machines keep the old values until someone deploys them, e.g. with `fly secrets deploy`", "app", app, "version", up.Version)
			continue
		}
		res, err := t.deploy(ctx, app, up.Version, scrub)
		if err != nil {
			for _, i := range writing {
				itemErr(i, fmt.Errorf("app %q: the secrets are stored (version %d) but the app's Machines were not all deployed with them: %w", app, up.Version, err))
			}
			continue
		}
		if res.restarted+res.staged == 0 {
			t.logger.Info("fly: the app has no Machines to deploy to; its secrets wait for its first deploy", "app", app, "version", up.Version)
			continue
		}
		t.logger.Info("fly: deployed app secrets", "app", app, "version", up.Version, "restarted", res.restarted, "updated_stopped", res.staged)
	}
	return resp, nil
}

// checkDigests reads back the digests an update answered with, for the
// values it set: each proves its form, or disproves it with a warning (see
// digest.go).
func (t *Target) checkDigests(app string, set map[string]sensitive.Value, answered []appSecret) {
	for _, s := range answered {
		v, ok := set[s.Name]
		digest := strings.ToLower(strings.TrimSpace(s.Digest))
		if !ok || digest == "" {
			continue
		}
		if f, ok := formOf(digest, v); ok {
			learn(t.api, f)
			continue
		}
		disprove(t.api, len(digest))
		t.logger.Warn("fly: the digest Fly answered for a secret just written is not the MD5 or SHA-256 of its value; drift there will be reported as unknown", "app", app, "secret", s.Name, "digest_length", len(digest))
	}
}

// checkValue refuses a value an app secret cannot carry. It never quotes
// the value.
func checkValue(e edit) error {
	b := e.value.Bytes()
	switch {
	case bytes.IndexByte(b, 0) >= 0:
		return fmt.Errorf("the value for %s contains a NUL byte, which an environment variable cannot hold", e.key)
	case !utf8.Valid(b):
		return fmt.Errorf("the value for %s is not valid UTF-8, which Fly's JSON API cannot carry", e.key)
	}
	return nil
}

// agree reports whether every edit of key k by the items at indexes agrees.
func agree(wanted map[int][]edit, k string, indexes []int) bool {
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
			if first.unset != e.unset || !first.unset && !first.value.Equal(e.value) {
				return false
			}
		}
	}
	return true
}

// describe names the items at indexes, once each, for an error.
func describe(items []providers.WriteItem, indexes []int) string {
	var b strings.Builder
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
	out := keys(m)
	slices.Sort(out)
	return out
}
