package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go/logging"
	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// The fields of an access key's structured value.
const (
	FieldAccessKeyID     = "access_key_id"
	FieldSecretAccessKey = "secret_access_key"
)

// maxKeysPerUser is IAM's quota of access keys per user, active or not.
const maxKeysPerUser = 2

// sweepSkew is how much earlier than the rotation's start a key may have
// been created, by IAM's clock, to count as the rotation's in a sweep: IAM
// dates keys to the second, and its clock is not this machine's.
const sweepSkew = time.Minute

// Revocation modes of generate "aws_iam_access_key".
const (
	// RevokeDelete deletes a revoked key at once, at retire and rollback.
	RevokeDelete = "delete"
	// RevokeDeactivate makes a retired key Inactive and leaves it, so an
	// operator can turn it back on while the second grace runs; the next
	// mint deletes it when it needs its slot. A rolled-back candidate is
	// deleted.
	RevokeDeactivate = "deactivate"
)

// ErrKeyLimit means the user already holds IAM's two access keys, and a
// new one cannot be minted until one of them goes.
var ErrKeyLimit = errors.New("the IAM user already has two access keys, IAM's limit")

// IAMAccessKey is generate "aws_iam_access_key": an issuer of an IAM
// user's access keys. Its value is the structured value {"access_key_id",
// "secret_access_key"}; its id is the access key id.
//
//   - Generate: ListAccessKeys, then CreateAccessKey, sent once (it takes
//     no idempotency token, so a retry could mint a second key). IAM holds
//     two keys per user, so the user must hold at most one before a
//     rotation (the current one). With revoke = "deactivate", an Inactive key in the way
//     (the previous one, retired) is deleted first; any other second key
//     is an error (ErrKeyLimit) that names both keys and says which kind
//     to remove. A minted key is never written anywhere but the value.
//   - Revoke: the key named by the request's id, or else by the value's
//     access_key_id. With revoke = "delete" (the default) it is deleted.
//     With "deactivate", a key that a newer Active key of the user
//     replaced (a retiring previous value) is made Inactive, and a key no
//     newer key replaced (a rolled-back candidate, which never served) is
//     deleted; IAM dates keys to the second, and a key with an Active
//     sibling of the same second is deactivated. A key already gone is no
//     error.
//   - Sweep: ListAccessKeys, and delete each key created at or after the
//     rotation's start (less a minute of clock skew, IAM dating keys to the
//     second) whose id no kept value's access_key_id names.
//
// It keeps no state of its own: what it needs is the keys' own status and
// creation date, read from ListAccessKeys.
//
// IAM permissions: iam:ListAccessKeys, iam:CreateAccessKey,
// iam:UpdateAccessKey (with revoke = "deactivate") and iam:DeleteAccessKey
// on the user.
type IAMAccessKey struct {
	provider providerSettings
	logger   hclog.Logger

	mu     sync.Mutex
	client *iam.Client
}

var _ providers.Issuer = (*IAMAccessKey)(nil)

// NewIAMAccessKey returns the issuer for the provider "aws" block in
// s.Provider. The SDK client is made on first use.
func NewIAMAccessKey(s providers.Settings) (*IAMAccessKey, error) {
	p, err := decodeProvider(s.Provider)
	if err != nil {
		return nil, err
	}
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &IAMAccessKey{provider: p, logger: logger.Named("aws_iam_access_key")}, nil
}

// api returns the SDK client, making it on first use.
func (k *IAMAccessKey) api(ctx context.Context) (*iam.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client != nil {
		return k.client, nil
	}
	cfg, err := k.provider.loadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws_iam_access_key: %w", err)
	}
	k.client = iam.NewFromConfig(cfg, func(o *iam.Options) {
		o.Logger = logging.Nop{}
		o.ClientLogMode = 0
	})
	return k.client, nil
}

// keyBlock is a decoded generate "aws_iam_access_key" block.
type keyBlock struct {
	user   string
	revoke string
}

func decodeKeyBlock(cfg cty.Value) (keyBlock, error) {
	var b keyBlock
	var err error
	if b.user, err = providers.StringAttr(cfg, "user_name"); err != nil {
		return b, fmt.Errorf("aws_iam_access_key: %w", err)
	}
	if b.user == "" {
		return b, errors.New("aws_iam_access_key: user_name is required")
	}
	if b.revoke, err = providers.StringAttr(cfg, "revoke"); err != nil {
		return b, fmt.Errorf("aws_iam_access_key: %w", err)
	}
	switch b.revoke {
	case "":
		b.revoke = RevokeDelete
	case RevokeDelete, RevokeDeactivate:
	default:
		return b, fmt.Errorf("aws_iam_access_key: revoke is %q or %q", RevokeDelete, RevokeDeactivate)
	}
	return b, nil
}

func (b keyBlock) errorf(format string, args ...any) error {
	return fmt.Errorf("aws_iam_access_key: user %s: "+format, append([]any{b.user}, args...)...)
}

// accessKey is ListAccessKeys' metadata of one key.
type accessKey struct {
	id      string
	active  bool
	created time.Time
}

func (a accessKey) String() string {
	status := "Inactive"
	if a.active {
		status = "Active"
	}
	return fmt.Sprintf("%s (%s, created %s)", a.id, status, a.created.UTC().Format(time.RFC3339))
}

// list returns the user's keys, oldest first.
func (k *IAMAccessKey) list(ctx context.Context, api *iam.Client, b keyBlock) ([]accessKey, error) {
	var keys []accessKey
	pages := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: awssdk.String(b.user)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, b.errorf("ListAccessKeys: %w", err)
		}
		for _, m := range page.AccessKeyMetadata {
			keys = append(keys, accessKey{
				id:      awssdk.ToString(m.AccessKeyId),
				active:  m.Status == iamtypes.StatusTypeActive,
				created: awssdk.ToTime(m.CreateDate),
			})
		}
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].created.Before(keys[j].created) })
	return keys, nil
}

// Generate mints the user's next access key.
func (k *IAMAccessKey) Generate(ctx context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	b, err := decodeKeyBlock(req.Config)
	if err != nil {
		return nil, err
	}
	api, err := k.api(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := k.list(ctx, api, b)
	if err != nil {
		return nil, err
	}
	if len(keys) >= maxKeysPerUser {
		if err := k.makeRoom(ctx, api, b, keys); err != nil {
			return nil, err
		}
	}
	// CreateAccessKey takes no idempotency token: a retry after a lost
	// answer would mint a second key. It is sent once; a key a failed call
	// made anyway is the journal's to sweep.
	out, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String(b.user)}, func(o *iam.Options) {
		o.Retryer = awssdk.NopRetryer{}
	})
	if err != nil {
		if errorCode(err) == "LimitExceeded" {
			// Someone made a key between the list and the create.
			return nil, b.errorf("%w: a key was added while rotplan minted one; run plan to see which", ErrKeyLimit)
		}
		return nil, b.errorf("CreateAccessKey: %w", err)
	}
	if out.AccessKey == nil || awssdk.ToString(out.AccessKey.AccessKeyId) == "" || awssdk.ToString(out.AccessKey.SecretAccessKey) == "" {
		return nil, b.errorf("CreateAccessKey answered without a key")
	}
	id := awssdk.ToString(out.AccessKey.AccessKeyId)
	k.logger.Debug("minted an access key", "user", b.user, "access_key_id", id)
	return &providers.GenerateResponse{
		Value: sensitive.FromFields(map[string]sensitive.Value{
			FieldAccessKeyID:     sensitive.New(id),
			FieldSecretAccessKey: sensitive.New(awssdk.ToString(out.AccessKey.SecretAccessKey)),
		}),
		ID: id,
	}, nil
}

// makeRoom frees a slot for a new key when the user holds two: with revoke
// = "deactivate" an Inactive key (a retired previous one) is deleted;
// otherwise the mint is refused with the keys named.
func (k *IAMAccessKey) makeRoom(ctx context.Context, api *iam.Client, b keyBlock, keys []accessKey) error {
	if b.revoke == RevokeDeactivate {
		// The oldest Inactive key goes: one slot is all a mint needs.
		for _, key := range keys {
			if key.active {
				continue
			}
			if err := k.delete(ctx, api, b, key.id); err != nil {
				return err
			}
			k.logger.Info("deleted an inactive access key to make room for the new one", "user", b.user, "access_key_id", key.id)
			return nil
		}
	}
	names := make([]string, len(keys))
	var inactive []string
	for i, key := range keys {
		names[i] = key.String()
		if !key.active {
			inactive = append(inactive, key.id)
		}
	}
	hint := "deactivate or delete the key that the secret's store does not hold (its current value names the one in use; a target \"aws_iam_access_key\" makes plan report the other), then apply again"
	if len(inactive) > 0 && b.revoke != RevokeDeactivate {
		hint = fmt.Sprintf("delete the inactive key %s (aws iam delete-access-key --user-name %s --access-key-id %s), or set revoke = %q to let rotplan delete inactive keys; then apply again",
			strings.Join(inactive, ", "), b.user, inactive[0], RevokeDeactivate)
	}
	return b.errorf("%w: %s; %s", ErrKeyLimit, strings.Join(names, " and "), hint)
}

// keyID is the access key a revoke names: its id, or the value's
// access_key_id.
func keyID(id string, v sensitive.Value) (string, error) {
	if id != "" {
		return id, nil
	}
	f, err := v.Field(FieldAccessKeyID)
	if err != nil {
		return "", fmt.Errorf("the value names no access key: %w", err)
	}
	if f.IsEmpty() {
		return "", errors.New("the value's access_key_id is empty")
	}
	return f.Reveal(), nil
}

// Revoke deletes or deactivates one access key.
func (k *IAMAccessKey) Revoke(ctx context.Context, req providers.RevokeRequest) (*providers.RevokeResponse, error) {
	b, err := decodeKeyBlock(req.Config)
	if err != nil {
		return nil, err
	}
	id, err := keyID(req.ID, req.Value)
	if err != nil {
		return nil, b.errorf("revoke: %w", err)
	}
	api, err := k.api(ctx)
	if err != nil {
		return nil, err
	}
	if b.revoke == RevokeDelete {
		return &providers.RevokeResponse{}, k.delete(ctx, api, b, id)
	}
	keys, err := k.list(ctx, api, b)
	if err != nil {
		return nil, err
	}
	var key *accessKey
	for i := range keys {
		if keys[i].id == id {
			key = &keys[i]
		}
	}
	if key == nil {
		return &providers.RevokeResponse{}, nil // already gone
	}
	// A key that a newer Active key replaced served and is retiring; one
	// that no newer key replaced is a candidate that never served (a
	// rollback), or the user's only key. IAM dates keys to the second, so
	// two keys made in one second cannot be told apart: the key is then
	// deactivated, which can be undone, and the next mint deletes it when
	// it needs the slot.
	replaced := false
	for _, other := range keys {
		if other.id != id && other.active && !other.created.Before(key.created) {
			replaced = true
		}
	}
	switch {
	case !replaced:
		return &providers.RevokeResponse{}, k.delete(ctx, api, b, id)
	case !key.active:
		return &providers.RevokeResponse{}, nil // deactivated already
	}
	_, err = api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String(b.user), AccessKeyId: awssdk.String(id), Status: iamtypes.StatusTypeInactive})
	switch {
	case isNoSuchEntity(err):
		return &providers.RevokeResponse{}, nil
	case err != nil:
		return nil, b.errorf("UpdateAccessKey %s Inactive: %w", id, err)
	}
	k.logger.Debug("deactivated an access key", "user", b.user, "access_key_id", id)
	return &providers.RevokeResponse{}, nil
}

// delete deletes one key; one already gone is no error.
func (k *IAMAccessKey) delete(ctx context.Context, api *iam.Client, b keyBlock, id string) error {
	_, err := api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String(b.user), AccessKeyId: awssdk.String(id)})
	switch {
	case isNoSuchEntity(err):
		return nil
	case err != nil:
		return b.errorf("DeleteAccessKey %s: %w", id, err)
	}
	k.logger.Debug("deleted an access key", "user", b.user, "access_key_id", id)
	return nil
}

// Sweep deletes the keys a cut-short rotation may have minted.
func (k *IAMAccessKey) Sweep(ctx context.Context, req providers.SweepRequest) (*providers.SweepResponse, error) {
	b, err := decodeKeyBlock(req.Config)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, v := range req.Keep {
		id, err := keyID("", v)
		if err != nil {
			// Without knowing every kept key, deleting any could delete
			// one in use.
			return nil, b.errorf("sweep: a value the store holds: %w", err)
		}
		keep[id] = true
	}
	api, err := k.api(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := k.list(ctx, api, b)
	if err != nil {
		return nil, err
	}
	since := req.Since.Add(-sweepSkew)
	resp := &providers.SweepResponse{}
	for _, key := range keys {
		if keep[key.id] || key.created.Before(since) {
			continue
		}
		if err := k.delete(ctx, api, b, key.id); err != nil {
			return resp, err
		}
		resp.Revoked = append(resp.Revoked, key.id)
	}
	return resp, nil
}

// isNoSuchEntity reports IAM's answer for a user or key that is not there.
func isNoSuchEntity(err error) bool { return err != nil && errorCode(err) == "NoSuchEntity" }
