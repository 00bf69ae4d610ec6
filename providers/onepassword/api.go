package onepassword

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"

	op "github.com/1password/onepassword-sdk-go"
)

// IntegrationName and IntegrationVersion are what rotplan tells 1Password it
// is, in the SDK's integration info.
const (
	IntegrationName    = "rotplan"
	IntegrationVersion = "0.1.0"
)

// API is the part of the 1Password SDK client this store uses, one method
// per SDK call, in the SDK's own types. Production wraps *op.Client
// (Vaults().List, Items().List, Items().GetAll, Items().Get, Items().Put,
// Items().Create); tests implement it with a fake such as
// onepasswordtest.Fake.
type API interface {
	// ListVaults lists the vaults the service account can see.
	ListVaults(ctx context.Context) ([]op.VaultOverview, error)
	// ListItems lists the active items of one vault: titles, tags and
	// timestamps, no fields.
	ListItems(ctx context.Context, vaultID string) ([]op.ItemOverview, error)
	// GetItems reads up to MaxBatch items of one vault in one call, one
	// response per id in order.
	GetItems(ctx context.Context, vaultID string, itemIDs []string) (op.ItemsGetAllResponse, error)
	// GetItem reads one item with its fields and values.
	GetItem(ctx context.Context, vaultID, itemID string) (op.Item, error)
	// PutItem replaces an item; it fails when item.Version is not the
	// stored one.
	PutItem(ctx context.Context, item op.Item) (op.Item, error)
	// CreateItem creates an item.
	CreateItem(ctx context.Context, params op.ItemCreateParams) (op.Item, error)
}

// MaxBatch is how many items one GetItems call asks for. 1Password has not
// documented a limit for Items().GetAll; 50 is the batch size its SDK team
// named when they announced batch reads.
const MaxBatch = 50

// Connect opens the API for a service account token. It runs at most once
// per token per process, and only when a secret uses this store.
type Connect func(ctx context.Context, token string) (API, error)

// connectSDK creates the real SDK client. Loading its WASM core takes about
// two seconds, which is why it happens lazily and once.
func connectSDK(ctx context.Context, token string) (API, error) {
	c, err := op.NewClient(ctx,
		op.WithServiceAccountToken(token),
		op.WithIntegrationInfo(IntegrationName, IntegrationVersion),
	)
	if err != nil {
		return nil, err
	}
	return sdkAPI{c}, nil
}

// sdkAPI adapts *op.Client to API, one SDK call per method.
type sdkAPI struct{ c *op.Client }

var _ API = sdkAPI{}

func (a sdkAPI) ListVaults(ctx context.Context) ([]op.VaultOverview, error) {
	return a.c.Vaults().List(ctx)
}

func (a sdkAPI) ListItems(ctx context.Context, vaultID string) ([]op.ItemOverview, error) {
	return a.c.Items().List(ctx, vaultID, op.NewItemListFilterTypeVariantByState(&op.ItemListFilterByStateInner{Active: true}))
}

func (a sdkAPI) GetItems(ctx context.Context, vaultID string, itemIDs []string) (op.ItemsGetAllResponse, error) {
	return a.c.Items().GetAll(ctx, vaultID, itemIDs)
}

func (a sdkAPI) GetItem(ctx context.Context, vaultID, itemID string) (op.Item, error) {
	return a.c.Items().Get(ctx, vaultID, itemID)
}

func (a sdkAPI) PutItem(ctx context.Context, item op.Item) (op.Item, error) {
	return a.c.Items().Put(ctx, item)
}

func (a sdkAPI) CreateItem(ctx context.Context, params op.ItemCreateParams) (op.Item, error) {
	return a.c.Items().Create(ctx, params)
}

// sdk holds the process's SDK clients, one per token.
var sdk = newConnector(connectSDK)

// connector opens one session per token, on first use, and keeps it for the
// process. A failed connect is not remembered: the next use tries again.
type connector struct {
	connect  Connect
	mu       sync.Mutex
	sessions map[[sha256.Size]byte]*session
}

func newConnector(connect Connect) *connector {
	return &connector{connect: connect, sessions: map[[sha256.Size]byte]*session{}}
}

// session returns the token's session, connecting the first time. Connects
// run one at a time: the SDK loads its shared core without a lock.
func (c *connector) session(ctx context.Context, token string) (*session, error) {
	key := sha256.Sum256([]byte(token)) // the map need not hold the token
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sessions[key]; s != nil {
		return s, nil
	}
	api, err := c.connect(ctx, token)
	if err != nil {
		return nil, err
	}
	s := &session{api: api, items: map[string]*sync.Mutex{}}
	c.sessions[key] = s
	return s, nil
}

// session is one token's client with what the process learned through it.
type session struct {
	api API

	mu     sync.Mutex
	vaults []op.VaultOverview // nil until listed
	items  map[string]*sync.Mutex
}

// listVaults returns the vaults, listing them once per process unless
// refresh asks again (a vault was not found in the list held).
func (s *session) listVaults(ctx context.Context, refresh bool) ([]op.VaultOverview, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vaults != nil && !refresh {
		return s.vaults, nil
	}
	vaults, err := s.api.ListVaults(ctx)
	if err != nil {
		return nil, err
	}
	if vaults == nil {
		vaults = []op.VaultOverview{}
	}
	s.vaults = vaults
	return vaults, nil
}

// lockItem serializes this process's read-modify-writes of one item, so two
// secrets kept in the same item do not overwrite each other's change.
func (s *session) lockItem(vaultID, item string) func() {
	key := vaultID + "/" + strings.ToLower(item)
	s.mu.Lock()
	m := s.items[key]
	if m == nil {
		m = &sync.Mutex{}
		s.items[key] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}
