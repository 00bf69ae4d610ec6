package aws

import (
	"context"
	"errors"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// IAMKeyTarget is target "aws_iam_access_key": the IAM user that checks
// logins with the secret's access key, for plan to see what the user
// accepts. The key itself is made and revoked by generate
// "aws_iam_access_key"; this target writes nothing for the secret's own
// keys.
//
//   - Observe: one ListAccessKeys per user. The user holds the current
//     value when its access_key_id is an Active key of the user. Every
//     other Active key, but the previous value's, counts as Unknown: a key
//     rotplan did not make, which plan reports and which takes the slot the
//     next rotation needs (IAM holds two keys per user). Inactive keys
//     accept nothing and are not counted.
//   - Deliver: checks that the value's key is an Active key of the user
//     (the issuer minted it); nothing is written.
//   - Revert: nothing; the issuer deletes the candidate at rollback.
//   - Retire: makes every Unknown key Inactive (UpdateAccessKey), which
//     can be undone, rather than delete a key someone else made; the
//     previous value's key is the issuer's to revoke. It refuses when the
//     value's key is not an Active key of the user.
type IAMKeyTarget struct {
	keys *IAMAccessKey
}

var (
	_ providers.Target       = (*IAMKeyTarget)(nil)
	_ providers.TargetWriter = (*IAMKeyTarget)(nil)
)

// NewIAMKeyTarget returns the target for the provider "aws" block in
// s.Provider.
func NewIAMKeyTarget(s providers.Settings) (*IAMKeyTarget, error) {
	k, err := NewIAMAccessKey(s)
	if err != nil {
		return nil, err
	}
	k.logger = k.logger.ResetNamed("aws_iam_access_key_target")
	return &IAMKeyTarget{keys: k}, nil
}

// userKeys lists each user's keys once for a batch of items.
type userKeys map[string][]accessKey

func (t *IAMKeyTarget) keysOf(ctx context.Context, cache userKeys, user string) ([]accessKey, error) {
	if keys, ok := cache[user]; ok {
		return keys, nil
	}
	api, err := t.keys.api(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := t.keys.list(ctx, api, keyBlock{user: user})
	if err != nil {
		return nil, err
	}
	cache[user] = keys
	return keys, nil
}

func targetUser(item providers.ObserveItem) (string, error) {
	user, err := providers.StringAttr(item.Config, "user_name")
	if err != nil {
		return "", fmt.Errorf("aws_iam_access_key: %w", err)
	}
	if user == "" {
		return "", errors.New("aws_iam_access_key: user_name is required")
	}
	return user, nil
}

// idOf is the access key id a value names, "" for an empty value.
func idOf(v sensitive.Value) (string, error) {
	if v.IsEmpty() {
		return "", nil
	}
	return keyID("", v)
}

// observe is what one item's user accepts.
func observe(keys []accessKey, current, previous string) providers.Observation {
	var o providers.Observation
	holds := false
	active := 0
	for _, k := range keys {
		if !k.active {
			continue
		}
		active++
		switch k.id {
		case current:
			holds = true
		case previous:
		default:
			o.Unknown++
		}
	}
	switch {
	case holds:
		o.Holds = providers.HoldsCurrent
	case active == 0:
		o.Holds = providers.HoldsNothing
	default:
		o.Holds = providers.HoldsOther
	}
	return o
}

// Observe reports whether each user holds the store's current key, and
// how many other Active keys it has.
func (t *IAMKeyTarget) Observe(ctx context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	cache := userKeys{}
	for i, item := range req.Items {
		user, err := targetUser(item)
		if err != nil {
			resp.Results[i].Err = err
			continue
		}
		current, err := idOf(item.Current)
		if err == nil {
			var previous string
			if previous, err = idOf(item.Previous); err == nil {
				var keys []accessKey
				if keys, err = t.keysOf(ctx, cache, user); err == nil {
					resp.Results[i] = observe(keys, current, previous)
					continue
				}
			}
		}
		resp.Results[i].Err = fmt.Errorf("aws_iam_access_key: user %s: %w", user, err)
	}
	return resp, nil
}

// active checks that v names an Active key of the item's user.
func (t *IAMKeyTarget) active(ctx context.Context, cache userKeys, item providers.WriteItem) (string, []accessKey, error) {
	user, err := targetUser(providers.ObserveItem{Config: item.Config})
	if err != nil {
		return "", nil, err
	}
	id, err := keyID("", item.Value)
	if err != nil {
		return user, nil, fmt.Errorf("aws_iam_access_key: user %s: %w", user, err)
	}
	keys, err := t.keysOf(ctx, cache, user)
	if err != nil {
		return user, nil, err
	}
	for _, k := range keys {
		if k.id == id && k.active {
			return user, keys, nil
		}
	}
	return user, nil, fmt.Errorf("aws_iam_access_key: user %s: %s is not an Active key of the user; only generate \"aws_iam_access_key\" makes the keys this target accepts", user, id)
}

// Deliver checks that each value's key is an Active key of its user.
func (t *IAMKeyTarget) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(req.Items))}
	cache := userKeys{}
	for i, item := range req.Items {
		_, _, err := t.active(ctx, cache, item)
		resp.Results[i] = providers.WriteResult{Skipped: true, Err: err}
	}
	return resp, nil
}

// Revert does nothing: the issuer revokes a failed candidate.
func (t *IAMKeyTarget) Revert(_ context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(req.Items))}
	for i := range resp.Results {
		resp.Results[i].Skipped = true
	}
	return resp, nil
}

// Retire deactivates the Active keys of each user that are neither the
// value's nor the previous value's.
func (t *IAMKeyTarget) Retire(ctx context.Context, req providers.RetireRequest) (*providers.WriteResponse, error) {
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(req.Items))}
	cache := userKeys{}
	for i, item := range req.Items {
		user, keys, err := t.active(ctx, cache, item)
		if err != nil {
			resp.Results[i].Err = err
			continue
		}
		current, _ := keyID("", item.Value)
		previous, err := idOf(item.Previous)
		if err != nil {
			resp.Results[i].Err = fmt.Errorf("aws_iam_access_key: user %s: the previous value: %w", user, err)
			continue
		}
		resp.Results[i].Skipped = true
		for _, k := range keys {
			if !k.active || k.id == current || k.id == previous {
				continue
			}
			if err := t.deactivate(ctx, user, k.id); err != nil {
				resp.Results[i].Err = err
				break
			}
			resp.Results[i].Skipped = false
		}
		delete(cache, user) // its keys changed
	}
	return resp, nil
}

func (t *IAMKeyTarget) deactivate(ctx context.Context, user, id string) error {
	api, err := t.keys.api(ctx)
	if err != nil {
		return err
	}
	_, err = api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String(user), AccessKeyId: awssdk.String(id), Status: iamtypes.StatusTypeInactive})
	if err != nil && !isNoSuchEntity(err) {
		return fmt.Errorf("aws_iam_access_key: user %s: UpdateAccessKey %s Inactive: %w", user, id, err)
	}
	t.keys.logger.Info("deactivated an access key rotplan did not make", "user", user, "access_key_id", id)
	return nil
}
