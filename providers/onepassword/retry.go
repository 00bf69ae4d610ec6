package onepassword

import (
	"context"
	"errors"
	"strings"

	op "github.com/1password/onepassword-sdk-go"

	"github.com/rotplan/rotplan/internal/retry"
)

// newPolicy is the retry policy a new store follows: the shared one. Tests
// shorten its waits.
var newPolicy = retry.Default

// retrying is the API with every call made under the shared retry policy.
// What 1Password refuses without acting is made again, for any call: its
// rate limit (RateLimitExceededError), and "data conflict occurred on the
// server: performing a vault operation", which 1Password answers when
// writes to one vault overlap, and which its SDK team calls expected and
// to be retried (1Password/onepassword-sdk-js issue 151). A stale item
// version is not retried here: the item must be read again first, which
// Store.update does.
type retrying struct {
	api    API
	policy retry.Policy
}

var _ API = retrying{}

// classify reads an SDK error.
func classify(err error) retry.Verdict {
	var limited *op.RateLimitExceededError
	if errors.As(err, &limited) || isDataConflict(err) {
		return retry.Verdict{Class: retry.Throttled}
	}
	return retry.Verdict{Class: retry.Permanent}
}

// isDataConflict reports 1Password's "data conflict occurred on the
// server".
func isDataConflict(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "data conflict")
}

// isStaleVersion reports a put of an item changed since it was read (the
// SDK's core names the item status IncorrectItemVersion).
func isStaleVersion(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "incorrectitemversion") || strings.Contains(msg, "incorrect item version")
}

func (r retrying) do(ctx context.Context, api string, idempotent bool, fn func(context.Context) error) error {
	return r.policy.Do(ctx, retry.Call{API: api, Idempotent: idempotent}, classify, fn)
}

func (r retrying) ListVaults(ctx context.Context) (out []op.VaultOverview, err error) {
	err = r.do(ctx, "onepassword.read", true, func(ctx context.Context) (err error) {
		out, err = r.api.ListVaults(ctx)
		return err
	})
	return out, err
}

func (r retrying) ListItems(ctx context.Context, vaultID string) (out []op.ItemOverview, err error) {
	err = r.do(ctx, "onepassword.read", true, func(ctx context.Context) (err error) {
		out, err = r.api.ListItems(ctx, vaultID)
		return err
	})
	return out, err
}

func (r retrying) GetItems(ctx context.Context, vaultID string, itemIDs []string) (out op.ItemsGetAllResponse, err error) {
	err = r.do(ctx, "onepassword.read", true, func(ctx context.Context) (err error) {
		out, err = r.api.GetItems(ctx, vaultID, itemIDs)
		return err
	})
	return out, err
}

func (r retrying) GetItem(ctx context.Context, vaultID, itemID string) (out op.Item, err error) {
	err = r.do(ctx, "onepassword.read", true, func(ctx context.Context) (err error) {
		out, err = r.api.GetItem(ctx, vaultID, itemID)
		return err
	})
	return out, err
}

// PutItem names the version it replaces, so a put sent twice cannot apply
// twice: the second meets a stale version.
func (r retrying) PutItem(ctx context.Context, item op.Item) (out op.Item, err error) {
	err = r.do(ctx, "onepassword.write", true, func(ctx context.Context) (err error) {
		out, err = r.api.PutItem(ctx, item)
		return err
	})
	return out, err
}

// CreateItem is made again only after 1Password refused it: a create sent
// twice makes two items.
func (r retrying) CreateItem(ctx context.Context, params op.ItemCreateParams) (out op.Item, err error) {
	err = r.do(ctx, "onepassword.write", false, func(ctx context.Context) (err error) {
		out, err = r.api.CreateItem(ctx, params)
		return err
	})
	return out, err
}
