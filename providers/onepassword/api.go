package onepassword

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
// two seconds, which is why it happens lazily and once, and why the token's
// form is checked first: a token that cannot be one fails at once.
func connectSDK(ctx context.Context, token string) (API, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	c, err := op.NewClient(ctx,
		op.WithServiceAccountToken(token),
		op.WithIntegrationInfo(IntegrationName, IntegrationVersion),
	)
	if err != nil {
		return nil, err
	}
	return sdkAPI{c}, nil
}

// ErrBadToken: the service account token is not in the form 1Password
// issues them.
var ErrBadToken = errors.New("this is not a 1Password service account token")

// checkToken checks the form of a service account token without sending it
// anywhere: 1Password issues them as "ops_" and the base64 of a JSON object
// that names, among others, the account's sign-in address (signInAddress),
// the service account's email and its secret key; `op` and the SDKs read
// them so. Errors never quote the token.
func checkToken(token string) error {
	const hint = `: create one in 1Password (Developer > Service accounts) and set it in the provider "onepassword" block's service_account_token, normally from OP_SERVICE_ACCOUNT_TOKEN; it starts with "ops_"`
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), "ops_")
	if !ok {
		return fmt.Errorf("%w: it does not start with ops_%s", ErrBadToken, hint)
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if raw, err = enc.DecodeString(rest); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%w: what follows ops_ is not base64%s", ErrBadToken, hint)
	}
	var fields struct {
		SignInAddress string `json:"signInAddress"`
		Email         string `json:"email"`
		SecretKey     string `json:"secretKey"`
	}
	defer clear(raw)
	if json.Unmarshal(raw, &fields) != nil || fields.SignInAddress == "" || fields.Email == "" || fields.SecretKey == "" {
		return fmt.Errorf("%w: it does not hold the account, email and secret key a service account token does (was it cut short?)%s", ErrBadToken, hint)
	}
	return nil
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
func (s *session) listVaults(ctx context.Context, api API, refresh bool) ([]op.VaultOverview, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vaults != nil && !refresh {
		return s.vaults, nil
	}
	vaults, err := api.ListVaults(ctx)
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
