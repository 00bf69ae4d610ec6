package onepassword

import (
	"context"
	"errors"
	"fmt"

	op "github.com/1password/onepassword-sdk-go"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

var (
	_ providers.StoreWriter    = (*Store)(nil)
	_ providers.FailureMarker  = (*Store)(nil)
	_ providers.TargetRecorder = (*Store)(nil)
)

// Each write is one read-modify-write of the secret's item: Items().Get,
// change fields and tags, Items().Put (which 1Password refuses if the item
// changed in between), or nothing when there is nothing to change. Writes
// to one item from this process take turns. Every write can run again
// after a crash: staging or promoting a rotation a second time, or
// discarding or retiring what is already gone, changes nothing, while a
// pending value of another rotation is never promoted or discarded.

// Stage writes req.Value into the field FIELD-pending beside the current
// one and tags the item with the rotation. A current value rotplan did not
// write (no current tag) also gets a rotated-at tag, unless it has one,
// holding the item's updated-at that plan dated it from: the put moves
// that, and so does a discard, and a rotation that rolls back must leave
// the secret as due as it was. A secret whose item does not exist gets a
// new item (a secure note). Staging the same value for the same rotation
// again, before or after its promote, changes nothing (a failed mark stays);
// a pending value of another rotation, one rotplan did not stage, or
// another value for this rotation fails with ErrPendingConflict.
func (s *Store) Stage(ctx context.Context, req providers.StageRequest) (*providers.StageResponse, error) {
	err := s.update(ctx, req.Secret, "stage", true, func(e *edit) (bool, error) {
		if req.Rotation == "" {
			return false, errors.New("a rotation id is required")
		}
		if req.Value.IsEmpty() {
			return false, errors.New("the value is empty, and an empty 1Password field holds no value")
		}
		if pending := value(e.item, e.f.pending); pending != "" {
			p := e.m.pending
			switch {
			case p == nil:
				return false, fmt.Errorf("the field %q holds a value that rotplan did not stage; remove it or promote it by hand first: %w", e.ref.field+pendingSuffix, ErrPendingConflict)
			case p.rotation != req.Rotation:
				return false, fmt.Errorf("rotation %s already staged a pending value; resume it with apply or discard it first: %w", p.rotation, ErrPendingConflict)
			case !sensitive.New(pending).Equal(req.Value):
				return false, fmt.Errorf("rotation %s staged a different value before; resume with the pending value: %w", req.Rotation, ErrPendingConflict)
			}
			return false, nil
		}
		if c := e.m.current; c != nil && c.rotation == req.Rotation && value(e.item, e.f.current) != "" {
			if !sensitive.New(value(e.item, e.f.current)).Equal(req.Value) {
				return false, fmt.Errorf("rotation %s was already promoted with a different value: %w", req.Rotation, ErrPendingConflict)
			}
			return false, nil // staged and promoted before
		}
		if e.f.pending >= 0 {
			e.item.Fields[e.f.pending].Value = req.Value.Reveal()
		} else {
			addField(e.item, sectionFor(e.item, e.ref, e.f), e.ref.field+pendingSuffix, req.Value.Reveal())
		}
		if e.m.current == nil && e.m.rotatedAt.IsZero() && value(e.item, e.f.current) != "" && !e.item.UpdatedAt.IsZero() {
			setTag(e.item, e.ref.key(), tagRotatedAt, formatTime(e.item.UpdatedAt))
		}
		setTag(e.item, e.ref.key(), tagPending, formatStamp(req.Rotation, req.Now))
		dropTag(e.item, e.ref.key(), tagFailed) // left by a pending field removed by hand
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &providers.StageResponse{}, nil
}

// Promote moves the pending value of rotation req.Rotation into the current
// field and the old current value into FIELD-previous (replacing one still
// held), tags the item with the rotation and req.Now (rotated-at, in place
// of any rotated-at tag stage recorded) and with req.RetireAfter, and drops
// the pending field. When that rotation is already current it changes
// nothing. A pending value of another rotation, or one rotplan did not
// stage, fails with ErrPendingConflict, nothing pending with ErrNoPending,
// and one marked failed (MarkFailed) with providers.ErrPendingFailed,
// writing nothing.
func (s *Store) Promote(ctx context.Context, req providers.PromoteRequest) (*providers.PromoteResponse, error) {
	err := s.update(ctx, req.Secret, "promote", false, func(e *edit) (bool, error) {
		if req.Rotation == "" {
			return false, errors.New("a rotation id is required")
		}
		item, f, key := e.item, e.f, e.ref.key()
		pending := value(item, f.pending)
		switch {
		case pending != "" && e.m.pending != nil && e.m.pending.rotation == req.Rotation && e.m.pendingFailed():
			return false, fmt.Errorf("rotation %s: %w; discard it", req.Rotation, providers.ErrPendingFailed)
		case pending != "" && e.m.pending != nil && e.m.pending.rotation == req.Rotation:
		case e.m.current != nil && e.m.current.rotation == req.Rotation && value(item, f.current) != "":
			return false, nil // promoted before
		case pending != "" && e.m.pending == nil:
			return false, fmt.Errorf("rotation %s: the field %q holds a value that rotplan did not stage: %w", req.Rotation, e.ref.field+pendingSuffix, ErrPendingConflict)
		case pending != "":
			return false, fmt.Errorf("rotation %s: the pending value belongs to rotation %s: %w", req.Rotation, e.m.pending.rotation, ErrPendingConflict)
		default:
			return false, fmt.Errorf("rotation %s staged nothing here and is not current: %w", req.Rotation, ErrNoPending)
		}
		pendingID := item.Fields[f.pending].ID
		if old := value(item, f.current); old != "" {
			if f.previous >= 0 {
				item.Fields[f.previous].Value = old
			} else {
				addField(item, sectionFor(item, e.ref, f), e.ref.field+previousSuffix, old)
			}
			setTag(item, key, tagRetireAfter, formatTime(req.RetireAfter))
		}
		if f.current >= 0 {
			item.Fields[f.current].Value = pending
		} else {
			addField(item, sectionFor(item, e.ref, f), e.ref.field, pending)
		}
		removeField(item, pendingID)
		dropTag(item, key, tagPending)
		dropTag(item, key, tagRotatedAt)
		setTag(item, key, tagCurrent, formatStamp(req.Rotation, req.Now))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &providers.PromoteResponse{}, nil
}

// Discard drops the pending field of rotation req.Rotation and its tags
// (pending, and failed when MarkFailed set it); a rotated-at tag stage
// recorded stays, so the secret is as due as before
// the stage. Nothing pending is a no-op, so a crashed rollback can run
// again; a pending value of another rotation, or one rotplan did not stage,
// is left alone and fails with ErrPendingConflict.
func (s *Store) Discard(ctx context.Context, req providers.DiscardRequest) (*providers.DiscardResponse, error) {
	err := s.update(ctx, req.Secret, "discard", false, func(e *edit) (bool, error) {
		if req.Rotation == "" {
			return false, errors.New("a rotation id is required")
		}
		p := e.m.pending
		switch {
		case value(e.item, e.f.pending) == "":
			// The field went (by hand); its tags go too.
			changed := false
			if p != nil && p.rotation == req.Rotation {
				changed = dropTag(e.item, e.ref.key(), tagPending)
			}
			if e.m.failed == req.Rotation {
				changed = dropTag(e.item, e.ref.key(), tagFailed) || changed
			}
			return changed, nil
		case p == nil:
			return false, fmt.Errorf("rotation %s: the field %q holds a value that rotplan did not stage; it is left alone: %w", req.Rotation, e.ref.field+pendingSuffix, ErrPendingConflict)
		case p.rotation != req.Rotation:
			return false, fmt.Errorf("rotation %s: the pending value belongs to rotation %s; it is left alone: %w", req.Rotation, p.rotation, ErrPendingConflict)
		}
		removeField(e.item, e.item.Fields[e.f.pending].ID)
		dropTag(e.item, e.ref.key(), tagPending)
		dropTag(e.item, e.ref.key(), tagFailed)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &providers.DiscardResponse{}, nil
}

// MarkFailed tags the item with rotplan/KEY/failed=ROTATION, in the same
// read-modify-write as every write (Items().Get, one Items().Put): the tag
// comes back in Items().List, so Inspect reports Pending.Failed with no
// extra call. Promote then refuses the pending value and Discard drops it
// with the tag. Marking it again, or nothing pending (discarded already),
// changes nothing; a pending value of another rotation, or one rotplan did
// not stage, is left alone and fails with ErrPendingConflict.
func (s *Store) MarkFailed(ctx context.Context, req providers.MarkFailedRequest) (*providers.MarkFailedResponse, error) {
	err := s.update(ctx, req.Secret, "mark failed", false, func(e *edit) (bool, error) {
		if req.Rotation == "" {
			return false, errors.New("a rotation id is required")
		}
		p := e.m.pending
		switch {
		case value(e.item, e.f.pending) == "":
			return false, nil
		case p == nil:
			return false, fmt.Errorf("rotation %s: the field %q holds a value that rotplan did not stage; it is left alone: %w", req.Rotation, e.ref.field+pendingSuffix, ErrPendingConflict)
		case p.rotation != req.Rotation:
			return false, fmt.Errorf("rotation %s: the pending value belongs to rotation %s; it is left alone: %w", req.Rotation, p.rotation, ErrPendingConflict)
		case e.m.failed == req.Rotation:
			return false, nil // marked before
		}
		setTag(e.item, e.ref.key(), tagFailed, req.Rotation)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &providers.MarkFailedResponse{}, nil
}

// RetirePrevious drops the field FIELD-previous and its retire-after tag;
// nothing previous is a no-op.
func (s *Store) RetirePrevious(ctx context.Context, req providers.RetirePreviousRequest) (*providers.RetirePreviousResponse, error) {
	err := s.update(ctx, req.Secret, "retire previous", false, func(e *edit) (bool, error) {
		changed := dropTag(e.item, e.ref.key(), tagRetireAfter)
		if e.f.previous >= 0 {
			removeField(e.item, e.item.Fields[e.f.previous].ID)
			changed = true
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	return &providers.RetirePreviousResponse{}, nil
}

// edit is one secret's item during a read-modify-write.
type edit struct {
	item *op.Item
	ref  reference
	f    fields
	m    meta
}

// update runs fn on the item that holds secret sr, under this process's
// lock on the item, and saves the item if fn changed it. When the item does
// not exist, fn sees an empty one, which is created if create is set and fn
// changed it.
//
// People and other jobs edit vaults too. A put that meets an item changed
// since it was read (a stale item version), or a vault write that
// overlapped another ("data conflict occurred on the server"), starts
// over: get the item again, run fn on it, put it; backing off as the
// shared retry policy does, at most its attempts. fn runs on a fresh copy
// each time, so what it decides always rests on the item as it is.
func (s *Store) update(ctx context.Context, sr providers.SecretRef, verb string, create bool, fn func(*edit) (bool, error)) error {
	ref, err := parseReference(sr.Config)
	if err != nil {
		return fmt.Errorf("onepassword: secret %q: %w", sr.Name, err)
	}
	wrap := func(err error) error { return fmt.Errorf("onepassword %s: %s: %w", ref, verb, err) }
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	sess, err := s.session(ctx)
	if err != nil {
		return err
	}
	vault, err := s.vault(ctx, sess, ref)
	if err != nil {
		return wrap(err)
	}
	unlock := sess.lockItem(vault.ID, ref.item)
	defer unlock()

	for attempt := 1; ; attempt++ {
		err := s.updateOnce(ctx, sess, vault.ID, ref, create, fn)
		if err == nil || !errors.Is(err, ErrConflict) || attempt >= s.policy.Attempts {
			if err != nil {
				return wrap(err)
			}
			return nil
		}
		s.logger.Debug("the item changed while rotplan wrote it; reading it again", "reference", ref.String(), "attempt", attempt)
		if err := s.policy.Pause(ctx, s.policy.Backoff(attempt)); err != nil {
			return wrap(err)
		}
	}
}

// updateOnce is one get → modify → put of update.
func (s *Store) updateOnce(ctx context.Context, sess *session, vaultID string, ref reference, create bool, fn func(*edit) (bool, error)) error {
	api := s.api(sess)
	ov, exists, err := s.findItem(ctx, sess, vaultID, ref.item)
	if err != nil {
		return err
	}
	item := op.Item{VaultID: vaultID, Title: ref.item, Category: newItemCategory}
	if exists {
		if item, err = api.GetItem(ctx, vaultID, ov.ID); err != nil {
			return fmt.Errorf("get item: %w", scrub(err, s.token))
		}
	}
	before := itemValues(&item)
	e := &edit{item: &item, ref: ref}
	if e.f, err = locate(&item, ref); err != nil {
		return err
	}
	if e.m, err = parseTags(item.Tags, ref.key()); err != nil {
		return err
	}
	changed, err := fn(e)
	switch {
	case err != nil:
		return err
	case !changed:
		return nil
	case !exists && !create:
		return errors.New("the item does not exist") // fn never changes a missing item
	}
	secrets := append(before, itemValues(&item)...)
	if !exists {
		created, err := api.CreateItem(ctx, op.ItemCreateParams{
			Category: item.Category, VaultID: item.VaultID, Title: item.Title,
			Fields: item.Fields, Sections: item.Sections, Tags: item.Tags,
		})
		if err != nil {
			return fmt.Errorf("create item: %w", scrub(err, s.token, secrets...))
		}
		s.remember(created)
		return nil
	}
	if _, err := api.PutItem(ctx, item); err != nil {
		return fmt.Errorf("put item: %w", scrub(err, s.token, secrets...))
	}
	return nil
}

// findItem finds the item name refers to in the list held for the vault,
// and lists the vault again if it is not there (it may be new).
func (s *Store) findItem(ctx context.Context, sess *session, vaultID, name string) (op.ItemOverview, bool, error) {
	items, fresh, err := s.items(ctx, sess, vaultID)
	if err != nil {
		return op.ItemOverview{}, false, err
	}
	if ov, ok, err := matchItem(items, name); err != nil || ok || fresh {
		return ov, ok, err
	}
	if items, err = s.listItems(ctx, sess, vaultID); err != nil {
		return op.ItemOverview{}, false, err
	}
	return matchItem(items, name)
}

// RecordTargets keeps what targets asked to record as item tags
// rotplan/KEY/record:ADDRESS=RECORD, in the same read-modify-write as
// every write. A current value rotplan did not write gets a rotated-at tag
// too, as at stage: the put moves the item's updated-at, which plan dated
// it from.
func (s *Store) RecordTargets(ctx context.Context, req providers.RecordTargetsRequest) (*providers.RecordTargetsResponse, error) {
	err := s.update(ctx, req.Secret, "record targets", false, func(e *edit) (bool, error) {
		changed := false
		for addr, rec := range req.Records {
			if e.m.records[addr] != rec {
				setTag(e.item, e.ref.key(), tagRecord+addr, rec)
				changed = true
			}
		}
		if changed && e.m.current == nil && e.m.rotatedAt.IsZero() && value(e.item, e.f.current) != "" && !e.item.UpdatedAt.IsZero() {
			setTag(e.item, e.ref.key(), tagRotatedAt, formatTime(e.item.UpdatedAt))
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	return &providers.RecordTargetsResponse{}, nil
}
