package onepassword

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	op "github.com/1password/onepassword-sdk-go"
	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/retry"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Store is the 1Password store: each secret is one field of an item, with
// its pending and previous values in fields beside it and rotplan's
// metadata in the item's tags.
type Store struct {
	token  string
	conn   *connector
	logger hclog.Logger
	// policy is the shared retry policy every SDK call follows, and the
	// one the writes' read-modify-write loop backs off by.
	policy retry.Policy

	mu sync.Mutex
	// listings holds the latest item list of each vault, by vault ID:
	// Inspect lists afresh, Read and the writes reuse it to find items.
	listings map[string][]op.ItemOverview
}

var _ providers.Store = (*Store)(nil)

// New returns a store that reaches 1Password through the SDK with the
// service account token of the provider block. It connects on first use,
// once per token per process.
func New(s providers.Settings) (*Store, error) {
	token, err := tokenOf(s.Provider)
	if err != nil {
		return nil, err
	}
	return newStore(s, token, sdk), nil
}

// NewWithAPI returns a store that talks to api instead of 1Password. It is
// for tests, with a fake such as onepasswordtest.Fake; a token in the
// provider block is optional and kept out of errors as in production.
func NewWithAPI(s providers.Settings, api API) *Store {
	token, _ := tokenOf(s.Provider)
	return newStore(s, token, newConnector(func(context.Context, string) (API, error) { return api, nil }))
}

func newStore(s providers.Settings, token string, conn *connector) *Store {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Store{token: token, conn: conn, logger: logger, policy: newPolicy(), listings: map[string][]op.ItemOverview{}}
}

// tokenOf reads service_account_token from the provider block.
func tokenOf(p cty.Value) (string, error) {
	const hint = `set service_account_token in a provider "onepassword" block, normally to env("OP_SERVICE_ACCOUNT_TOKEN")`
	if p.IsNull() {
		return "", errors.New("onepassword: no service account token: " + hint)
	}
	p, _ = p.UnmarkDeep()
	if !p.IsKnown() || !p.Type().IsObjectType() || !p.Type().HasAttribute("service_account_token") {
		return "", errors.New("onepassword: no service account token: " + hint)
	}
	v := p.GetAttr("service_account_token")
	switch {
	case !v.IsKnown():
		return "", errors.New("onepassword: the service account token is not known (is OP_SERVICE_ACCOUNT_TOKEN set?)")
	case v.IsNull() || !v.Type().Equals(cty.String) || v.AsString() == "":
		return "", errors.New("onepassword: no service account token: " + hint)
	}
	return v.AsString(), nil
}

// session connects on first use.
func (s *Store) session(ctx context.Context) (*session, error) {
	sess, err := s.conn.session(ctx, s.token)
	if err != nil {
		return nil, fmt.Errorf("onepassword: connect: %w", scrub(err, s.token))
	}
	return sess, nil
}

// api is the session's API under this store's retry policy.
func (s *Store) api(sess *session) API {
	return retrying{api: sess.api, policy: s.policy}
}

// target is one requested secret with its parsed reference.
type target struct {
	name string
	ref  reference
}

// byVault groups refs by the vault they name, in the order first named. A
// ref that cannot be parsed is passed to fail.
func byVault(refs []providers.SecretRef, fail func(name string, err error)) (vaults []string, groups map[string][]target) {
	groups = map[string][]target{}
	for _, sr := range refs {
		ref, err := parseReference(sr.Config)
		if err != nil {
			fail(sr.Name, fmt.Errorf("onepassword: secret %q: %w", sr.Name, err))
			continue
		}
		key := strings.ToLower(ref.vault)
		if _, seen := groups[key]; !seen {
			vaults = append(vaults, key)
		}
		groups[key] = append(groups[key], target{name: sr.Name, ref: ref})
	}
	return vaults, groups
}

// vault finds the vault ref names, listing the vaults again once if the
// list held does not have it (it may have been shared since).
func (s *Store) vault(ctx context.Context, sess *session, ref reference) (op.VaultOverview, error) {
	for _, refresh := range []bool{false, true} {
		vaults, err := sess.listVaults(ctx, s.api(sess), refresh)
		if err != nil {
			return op.VaultOverview{}, fmt.Errorf("list vaults: %w", scrub(err, s.token))
		}
		v, ok, err := matchVault(vaults, ref.vault)
		if err != nil || ok {
			return v, err
		}
	}
	return op.VaultOverview{}, fmt.Errorf("vault %q not found: share it with the service account, or check the name", ref.vault)
}

// listItems lists a vault's items afresh and keeps the list.
func (s *Store) listItems(ctx context.Context, sess *session, vaultID string) ([]op.ItemOverview, error) {
	items, err := s.api(sess).ListItems(ctx, vaultID)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", scrub(err, s.token))
	}
	s.mu.Lock()
	s.listings[vaultID] = items
	s.mu.Unlock()
	return items, nil
}

// items returns the list held for a vault, listing it if there is none;
// fresh says it did.
func (s *Store) items(ctx context.Context, sess *session, vaultID string) (items []op.ItemOverview, fresh bool, err error) {
	s.mu.Lock()
	items, ok := s.listings[vaultID]
	s.mu.Unlock()
	if ok {
		return items, false, nil
	}
	items, err = s.listItems(ctx, sess, vaultID)
	return items, true, err
}

// remember adds an item rotplan created to the list held for its vault.
func (s *Store) remember(item op.Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if items, ok := s.listings[item.VaultID]; ok {
		s.listings[item.VaultID] = append(items, op.ItemOverview{
			ID: item.ID, Title: item.Title, Category: item.Category, VaultID: item.VaultID,
			Tags: item.Tags, CreatedAt: item.CreatedAt, UpdatedAt: item.UpdatedAt, State: op.ItemStateActive,
		})
	}
}

// errItemGone: an item listed a moment ago was not found when read.
var errItemGone = errors.New("item not found")

// getItems reads full items of one vault, MaxBatch per call. Per-item
// failures are in errs (errItemGone for one deleted since it was listed);
// a failed call fails its whole batch.
func (s *Store) getItems(ctx context.Context, sess *session, vaultID string, ids []string) (items map[string]*op.Item, errs map[string]error) {
	items, errs = map[string]*op.Item{}, map[string]error{}
	seen := map[string]bool{}
	var unique []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			unique = append(unique, id)
		}
	}
	for start := 0; start < len(unique); start += MaxBatch {
		batch := unique[start:min(start+MaxBatch, len(unique))]
		resp, err := s.api(sess).GetItems(ctx, vaultID, batch)
		if err != nil {
			err = fmt.Errorf("get items: %w", scrub(err, s.token))
			for _, id := range batch {
				errs[id] = err
			}
			continue
		}
		for i, r := range resp.IndividualResponses {
			switch {
			case r.Content != nil:
				item := *r.Content
				items[item.ID] = &item
			case r.Error != nil && i < len(batch):
				errs[batch[i]] = s.getAllError(*r.Error)
			}
		}
		for _, id := range batch {
			if items[id] == nil && errs[id] == nil {
				errs[id] = errItemGone
			}
		}
	}
	return items, errs
}

// getAllError turns one failed item of a batch read into an error.
func (s *Store) getAllError(e op.ItemsGetAllError) error {
	if e.Type == op.ItemsGetAllErrorTypeVariantItemNotFound {
		return errItemGone
	}
	// The message is private to the SDK type; its JSON form carries it.
	var body struct {
		Message string `json:"message"`
	}
	if b, err := json.Marshal(e); err == nil {
		_ = json.Unmarshal(b, &body)
	}
	return fmt.Errorf("get item: %w", scrub(fmt.Errorf("%s: %s", e.Type, body.Message), s.token))
}

// Inspect reports each secret's slots, rotated-at and retire-after times.
//
// It lists the vaults once per process and the items of each vault the
// request names once per call, and takes a secret's state from its item's
// tags, which the list returns: a secret rotplan has promoted before costs
// no read of its own. Only items whose tags do not yet record a current
// value for the secret (rotplan has not rotated it, or it is new) are read
// in full, MaxBatch per call, to see which fields they hold. For N secrets
// in V vaults that is 1 + V calls, plus ceil(U/MaxBatch) per vault for U
// such items.
func (s *Store) Inspect(ctx context.Context, req providers.InspectRequest) (*providers.InspectResponse, error) {
	resp := &providers.InspectResponse{Secrets: make(map[string]*providers.StoredSecret, len(req.Secrets))}
	fail := func(name string, err error) { resp.Secrets[name] = &providers.StoredSecret{Err: err} }
	vaults, groups := byVault(req.Secrets, fail)
	if len(vaults) == 0 {
		return resp, nil
	}
	sess, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	for _, key := range vaults {
		group := groups[key]
		failAll := func(err error) {
			for _, t := range group {
				fail(t.name, fmt.Errorf("onepassword %s: %w", t.ref, err))
			}
		}
		vault, err := s.vault(ctx, sess, group[0].ref)
		if err != nil {
			failAll(err)
			continue
		}
		overviews, err := s.listItems(ctx, sess, vault.ID)
		if err != nil {
			failAll(err)
			continue
		}
		type unread struct {
			target
			itemID string
		}
		var toRead []unread
		for _, t := range group {
			ov, ok, err := matchItem(overviews, t.ref.item)
			switch {
			case err != nil:
				fail(t.name, fmt.Errorf("onepassword %s: %w", t.ref, err))
				continue
			case !ok:
				continue // no item: the secret does not exist
			}
			m, err := parseTags(ov.Tags, t.ref.key())
			switch {
			case err != nil:
				fail(t.name, fmt.Errorf("onepassword %s: %w", t.ref, err))
			case m.current != nil:
				resp.Secrets[t.name] = fromTags(m)
			default:
				toRead = append(toRead, unread{target: t, itemID: ov.ID})
			}
		}
		if len(toRead) == 0 {
			continue
		}
		ids := make([]string, len(toRead))
		for i, u := range toRead {
			ids[i] = u.itemID
		}
		items, errs := s.getItems(ctx, sess, vault.ID, ids)
		for _, u := range toRead {
			if err := errs[u.itemID]; err != nil {
				if !errors.Is(err, errItemGone) {
					fail(u.name, fmt.Errorf("onepassword %s: %w", u.ref, err))
				}
				continue
			}
			st, err := describe(items[u.itemID], u.ref)
			if err != nil {
				fail(u.name, fmt.Errorf("onepassword %s: %w", u.ref, err))
			} else if st != nil {
				resp.Secrets[u.name] = st
			}
		}
		s.logger.Debug("inspected vault", "vault", vault.Title, "secrets", len(group), "items", len(overviews), "read in full", len(toRead))
	}
	return resp, nil
}

// describe reads one secret's state from its full item.
func describe(item *op.Item, ref reference) (*providers.StoredSecret, error) {
	f, err := locate(item, ref)
	if err != nil {
		return nil, err
	}
	m, err := parseTags(item.Tags, ref.key())
	if err != nil {
		return nil, err
	}
	return fromItem(item, f, m), nil
}

// Read returns the value in req.Slot of each secret, reading each vault's
// items MaxBatch per call (after Inspect, which leaves the item lists
// behind, that is all it calls). A secret with nothing in the slot is
// absent from Values.
func (s *Store) Read(ctx context.Context, req providers.ReadRequest) (*providers.ReadResponse, error) {
	resp := &providers.ReadResponse{Values: make(map[string]sensitive.Value, len(req.Secrets)), Errors: map[string]error{}}
	fail := func(name string, err error) { resp.Errors[name] = err }
	vaults, groups := byVault(req.Secrets, fail)
	if len(vaults) == 0 {
		return resp, nil
	}
	sess, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	for _, key := range vaults {
		group := groups[key]
		failAll := func(err error) {
			for _, t := range group {
				fail(t.name, fmt.Errorf("onepassword %s: %w", t.ref, err))
			}
		}
		vault, err := s.vault(ctx, sess, group[0].ref)
		if err != nil {
			failAll(err)
			continue
		}
		overviews, _, err := s.items(ctx, sess, vault.ID)
		if err != nil {
			failAll(err)
			continue
		}
		itemIDs := map[string]string{} // by secret
		var ids []string
		for _, t := range group {
			ov, ok, err := matchItem(overviews, t.ref.item)
			if err != nil {
				fail(t.name, fmt.Errorf("onepassword %s: %w", t.ref, err))
			} else if ok {
				itemIDs[t.name] = ov.ID
				ids = append(ids, ov.ID)
			}
		}
		items, errs := s.getItems(ctx, sess, vault.ID, ids)
		for _, t := range group {
			id, ok := itemIDs[t.name]
			if !ok {
				continue
			}
			if err := errs[id]; err != nil {
				if !errors.Is(err, errItemGone) {
					fail(t.name, fmt.Errorf("onepassword %s: %w", t.ref, err))
				}
				continue
			}
			item := items[id]
			f, err := locate(item, t.ref)
			if err != nil {
				fail(t.name, fmt.Errorf("onepassword %s: %w", t.ref, err))
				continue
			}
			if v := value(item, slotField(f, req.Slot)); v != "" {
				resp.Values[t.name] = sensitive.New(v)
			}
		}
	}
	return resp, nil
}

// slotField returns the index of a slot's field.
func slotField(f fields, slot providers.Slot) int {
	switch slot {
	case providers.SlotCurrent:
		return f.current
	case providers.SlotPending:
		return f.pending
	case providers.SlotPrevious:
		return f.previous
	}
	return -1
}
