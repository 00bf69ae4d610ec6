// Package onepasswordtest is an in-process fake of the 1Password SDK calls
// the onepassword store makes (its API interface), for tests here and in
// rotplan's end-to-end tests. Pass a Fake to onepassword.NewWithAPI, or
// return it from the Connect given to onepassword.RegisterWith.
//
// The fake holds vaults and items as the SDK's own types and passes every
// item through the SDK's JSON encoding on the way in and out, as the real
// client does, so callers see the SDK's data shapes. It keeps 1Password's
// rules that the store relies on: item lists carry tags and timestamps but
// no fields, Put refuses a stale item version and bumps it, a field's
// section must exist, field IDs are unique, and a batch read takes at most
// MaxBatch ids. It counts every call.
//
// It can also play the other people and jobs that use a vault: an edit of
// an item between rotplan's read and its put (EditBeforeNextPut), which
// makes the put stale, and the "data conflict occurred on the server" that
// 1Password answers overlapping vault writes with (FailNext with
// ErrDataConflict; 1Password/onepassword-sdk-js issue 151, where the SDK team
// calls it expected and to be retried); and the rate limit
// (RateLimitExceededError) with FailWith or FailNext.
//
// It imports nothing of rotplan, so the store's own tests can use it.
package onepasswordtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	op "github.com/1password/onepassword-sdk-go"
)

// MaxBatch is the most ids GetItems takes in one call.
const MaxBatch = 50

// Calls counts the calls made, one counter per API method.
type Calls struct {
	ListVaults, ListItems, GetItems, GetItem, PutItem, CreateItem int
}

// Total is the number of calls made.
func (c Calls) Total() int {
	return c.ListVaults + c.ListItems + c.GetItems + c.GetItem + c.PutItem + c.CreateItem
}

// Reads is the number of calls that count against 1Password's read limit.
func (c Calls) Reads() int { return c.ListVaults + c.ListItems + c.GetItems + c.GetItem }

// Writes is the number of calls that count against its write limit.
func (c Calls) Writes() int { return c.PutItem + c.CreateItem }

// Fake is a 1Password account in memory. Its zero value is not ready; use
// New.
type Fake struct {
	// Now is the clock for items' timestamps; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	vaults []op.VaultOverview
	items  map[string][]stored // by vault ID, in creation order
	calls  Calls
	fail   map[string]error
	// next holds errors for the next calls of a method (FailNext).
	next map[string][]error
	// edits holds edits someone else makes to an item just before the
	// next PutItem of it (EditBeforeNextPut).
	edits  map[string]func(*op.Item)
	nextID int
}

// New returns an empty account.
func New() *Fake {
	return &Fake{items: map[string][]stored{}, fail: map[string]error{}, next: map[string][]error{}, edits: map[string]func(*op.Item){}}
}

// stored is an item as the fake keeps it: its JSON.
type stored struct {
	id  string
	raw json.RawMessage
}

// AddVault adds a vault and returns its ID.
func (f *Fake) AddVault(title string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.newID("vault")
	now := f.now()
	f.vaults = append(f.vaults, op.VaultOverview{ID: id, Title: title, VaultType: op.VaultTypeUserCreated, CreatedAt: now, UpdatedAt: now})
	f.items[id] = nil
	return id
}

// AddItem stores item in its vault (item.VaultID) as version 1, with an ID
// and timestamps unless it has them, and returns it as stored. It panics on
// an item the fake would refuse: it is for setting up tests.
func (f *Fake) AddItem(item op.Item) op.Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.items[item.VaultID]; !ok {
		panic(fmt.Sprintf("onepasswordtest: no vault %q", item.VaultID))
	}
	if item.ID == "" {
		item.ID = f.newID("item")
	}
	if item.CreatedAt.IsZero() {
		item.CreatedAt = f.now()
	}
	if item.UpdatedAt.IsZero() {
		item.UpdatedAt = item.CreatedAt
	}
	if item.Category == "" {
		item.Category = op.ItemCategoryPassword
	}
	item.Version = 1
	if err := validate(item); err != nil {
		panic("onepasswordtest: " + err.Error())
	}
	f.items[item.VaultID] = append(f.items[item.VaultID], stored{item.ID, encode(item)})
	return decode[op.Item](encode(item))
}

// Item returns the stored item, for assertions; it counts as no call.
func (f *Fake) Item(vaultID, itemID string) (op.Item, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(vaultID, itemID)
	if i < 0 {
		return op.Item{}, false
	}
	return decode[op.Item](f.items[vaultID][i].raw), true
}

// ItemByTitle returns the stored item with this title, for assertions.
func (f *Fake) ItemByTitle(vaultID, title string) (op.Item, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, st := range f.items[vaultID] {
		if it := decode[op.Item](st.raw); it.Title == title {
			return it, true
		}
	}
	return op.Item{}, false
}

// Calls returns the calls counted so far.
func (f *Fake) Calls() Calls {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// ResetCalls sets every counter to zero.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = Calls{}
}

// FailWith makes every later call of method (an API method name such as
// "PutItem") fail with err, until FailWith(method, nil).
func (f *Fake) FailWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, method)
		return
	}
	f.fail[method] = err
}

// ErrDataConflict is the error 1Password answers a vault write with when
// another write to the vault overlaps it, word for word: "Server error:
// data conflict occurred on the server: performing a vault operation".
// 1Password's SDK team calls it expected under concurrent writes, and the
// write succeeds when made again (1Password/onepassword-sdk-js issue 151).
var ErrDataConflict error = dataConflict{}

type dataConflict struct{}

func (dataConflict) Error() string {
	return "Server error: data conflict occurred on the server: performing a vault operation"
}

// FailNext makes the next len(errs) calls of method fail, in order, then
// lets calls through again.
func (f *Fake) FailNext(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next[method] = append(f.next[method], errs...)
}

// EditBeforeNextPut makes someone else edit an item just before rotplan's
// next PutItem of it arrives: edit changes the stored item, whose version
// moves on, so that put carries a stale version and is refused, as
// 1Password refuses a put of an item changed since it was read.
func (f *Fake) EditBeforeNextPut(itemID string, edit func(*op.Item)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.edits[itemID] = edit
}

// ListVaults implements onepassword.API.
func (f *Fake) ListVaults(ctx context.Context) ([]op.VaultOverview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.ListVaults++
	if err := f.failure(ctx, "ListVaults"); err != nil {
		return nil, err
	}
	return decode[[]op.VaultOverview](encode(f.vaults)), nil
}

// ListItems implements onepassword.API: the vault's active items as
// overviews, without fields.
func (f *Fake) ListItems(ctx context.Context, vaultID string) ([]op.ItemOverview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.ListItems++
	if err := f.failure(ctx, "ListItems"); err != nil {
		return nil, err
	}
	all, ok := f.items[vaultID]
	if !ok {
		return nil, errors.New("vault not found")
	}
	out := make([]op.ItemOverview, 0, len(all))
	for _, st := range all {
		it := decode[op.Item](st.raw)
		out = append(out, op.ItemOverview{
			ID: it.ID, Title: it.Title, Category: it.Category, VaultID: it.VaultID,
			Websites: it.Websites, Tags: it.Tags, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
			State: op.ItemStateActive,
		})
	}
	return decode[[]op.ItemOverview](encode(out)), nil
}

// GetItems implements onepassword.API: one response per id, in order.
func (f *Fake) GetItems(ctx context.Context, vaultID string, itemIDs []string) (op.ItemsGetAllResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.GetItems++
	if err := f.failure(ctx, "GetItems"); err != nil {
		return op.ItemsGetAllResponse{}, err
	}
	if len(itemIDs) > MaxBatch {
		return op.ItemsGetAllResponse{}, fmt.Errorf("too many items: %d, at most %d", len(itemIDs), MaxBatch)
	}
	if _, ok := f.items[vaultID]; !ok {
		return op.ItemsGetAllResponse{}, errors.New("vault not found")
	}
	var resp op.ItemsGetAllResponse
	for _, id := range itemIDs {
		var r op.Response[op.Item, op.ItemsGetAllError]
		if i := f.find(vaultID, id); i >= 0 {
			it := decode[op.Item](f.items[vaultID][i].raw)
			r.Content = &it
		} else {
			e := op.NewItemsGetAllErrorTypeVariantItemNotFound()
			r.Error = &e
		}
		resp.IndividualResponses = append(resp.IndividualResponses, r)
	}
	return decode[op.ItemsGetAllResponse](encode(resp)), nil
}

// GetItem implements onepassword.API.
func (f *Fake) GetItem(ctx context.Context, vaultID, itemID string) (op.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.GetItem++
	if err := f.failure(ctx, "GetItem"); err != nil {
		return op.Item{}, err
	}
	i := f.find(vaultID, itemID)
	if i < 0 {
		return op.Item{}, errors.New("item not found")
	}
	return decode[op.Item](f.items[vaultID][i].raw), nil
}

// PutItem implements onepassword.API: it replaces the stored item if
// item.Version is the stored version, and bumps the version.
func (f *Fake) PutItem(ctx context.Context, item op.Item) (op.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.PutItem++
	if err := f.failure(ctx, "PutItem"); err != nil {
		return op.Item{}, err
	}
	item = decode[op.Item](encode(item)) // what the SDK would send
	i := f.find(item.VaultID, item.ID)
	if i < 0 {
		return op.Item{}, errors.New("item not found")
	}
	if edit := f.edits[item.ID]; edit != nil {
		delete(f.edits, item.ID)
		other := decode[op.Item](f.items[item.VaultID][i].raw)
		edit(&other)
		other.Version++
		other.UpdatedAt = f.now()
		f.items[item.VaultID][i] = stored{other.ID, encode(other)}
	}
	old := decode[op.Item](f.items[item.VaultID][i].raw)
	if item.Version != old.Version {
		return op.Item{}, fmt.Errorf("itemStatusIncorrectItemVersion: the item changed since version %d; get it again", item.Version)
	}
	if err := validate(item); err != nil {
		return op.Item{}, err
	}
	item.Version = old.Version + 1
	item.CreatedAt = old.CreatedAt
	item.UpdatedAt = f.now()
	f.items[item.VaultID][i] = stored{item.ID, encode(item)}
	return decode[op.Item](f.items[item.VaultID][i].raw), nil
}

// CreateItem implements onepassword.API.
func (f *Fake) CreateItem(ctx context.Context, p op.ItemCreateParams) (op.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.CreateItem++
	if err := f.failure(ctx, "CreateItem"); err != nil {
		return op.Item{}, err
	}
	p = decode[op.ItemCreateParams](encode(p))
	if _, ok := f.items[p.VaultID]; !ok {
		return op.Item{}, errors.New("vault not found")
	}
	now := f.now()
	item := op.Item{
		ID: f.newID("item"), Title: p.Title, Category: p.Category, VaultID: p.VaultID,
		Fields: p.Fields, Sections: p.Sections, Tags: p.Tags, Websites: p.Websites,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if p.Notes != nil {
		item.Notes = *p.Notes
	}
	if err := validate(item); err != nil {
		return op.Item{}, err
	}
	f.items[item.VaultID] = append(f.items[item.VaultID], stored{item.ID, encode(item)})
	return decode[op.Item](encode(item)), nil
}

// validate keeps the item rules the store relies on.
func validate(item op.Item) error {
	if strings.TrimSpace(item.Title) == "" {
		return errors.New("itemValidationError: the item has no title")
	}
	sections := map[string]bool{}
	for _, s := range item.Sections {
		if sections[s.ID] {
			return fmt.Errorf("itemValidationError: two sections have ID %q", s.ID)
		}
		sections[s.ID] = true
	}
	ids := map[string]bool{}
	for _, fl := range item.Fields {
		switch {
		case fl.ID == "":
			return fmt.Errorf("itemValidationError: field %q has no ID", fl.Title)
		case ids[fl.ID]:
			return fmt.Errorf("itemValidationError: two fields have ID %q", fl.ID)
		case fl.SectionID != nil && !sections[*fl.SectionID]:
			return fmt.Errorf("itemValidationError: field %q is in section %q, which the item does not have", fl.Title, *fl.SectionID)
		}
		ids[fl.ID] = true
	}
	return nil
}

func (f *Fake) find(vaultID, itemID string) int {
	for i, st := range f.items[vaultID] {
		if st.id == itemID {
			return i
		}
	}
	return -1
}

func (f *Fake) failure(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q := f.next[method]; len(q) > 0 {
		f.next[method] = q[1:]
		return q[0]
	}
	return f.fail[method]
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now().UTC()
	}
	return time.Now().UTC()
}

func (f *Fake) newID(kind string) string {
	f.nextID++
	return fmt.Sprintf("%s%022d", kind[:4], f.nextID)
}

func encode(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("onepasswordtest: encode: " + err.Error())
	}
	return b
}

func decode[T any](b json.RawMessage) T {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		panic("onepasswordtest: decode: " + err.Error())
	}
	return v
}
