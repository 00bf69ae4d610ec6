package local

import (
	"context"
	"fmt"

	"github.com/rotplan/rotplan/providers"
)

var (
	_ providers.StoreWriter   = (*Store)(nil)
	_ providers.FailureMarker = (*Store)(nil)
)

// Stage writes req.Value as the pending version of the secret for rotation
// req.Rotation, under the file's lock. Staging the same rotation's value
// again, before or after its promote, is a no-op, so a crashed apply can
// stage again; a pending version of another rotation, or another value for
// this one, fails with ErrPendingConflict.
func (s *Store) Stage(ctx context.Context, req providers.StageRequest) (*providers.StageResponse, error) {
	err := s.update(ctx, req.Secret, func(f *File, key string) error {
		return f.Stage(key, req.Value, req.Rotation, req.Now)
	})
	if err != nil {
		return nil, err
	}
	return &providers.StageResponse{}, nil
}

// Promote makes the pending version of rotation req.Rotation current and
// the old current previous, to retire after req.RetireAfter, under the
// file's lock. When that rotation is already current (a crashed apply
// promoted it and runs again) it changes nothing, even if another rotation
// has staged a value since. A pending version of another rotation fails
// with ErrPendingConflict, nothing pending with ErrNoPending, and a pending
// version marked failed (MarkFailed) with providers.ErrPendingFailed,
// leaving current as it is.
func (s *Store) Promote(ctx context.Context, req providers.PromoteRequest) (*providers.PromoteResponse, error) {
	err := s.update(ctx, req.Secret, func(f *File, key string) error {
		if req.Rotation == "" {
			return f.errorf(key, "promote: a rotation id is required")
		}
		e := f.doc.Secrets[key]
		switch {
		case e != nil && e.Pending != nil && e.Pending.Rotation == req.Rotation:
			return f.Promote(key, req.Now, req.RetireAfter)
		case e != nil && e.Current != nil && e.Current.Rotation == req.Rotation:
			return nil // promoted before
		case e != nil && e.Pending != nil && e.Pending.Rotation == "":
			return f.errorf(key, "promote rotation %s: the pending slot holds a value that rotplan did not stage: %w", req.Rotation, ErrPendingConflict)
		case e != nil && e.Pending != nil:
			return f.errorf(key, "promote rotation %s: the pending value belongs to rotation %s: %w", req.Rotation, e.Pending.Rotation, ErrPendingConflict)
		}
		return f.errorf(key, "promote rotation %s: it staged nothing here and is not current: %w", req.Rotation, ErrNoPending)
	})
	if err != nil {
		return nil, err
	}
	return &providers.PromoteResponse{}, nil
}

// Discard drops the pending version of rotation req.Rotation, and its failed
// mark, under the file's lock. Nothing pending is a no-op, so a crashed rollback can run
// again; a pending version of another rotation is left alone and fails
// with ErrPendingConflict.
func (s *Store) Discard(ctx context.Context, req providers.DiscardRequest) (*providers.DiscardResponse, error) {
	err := s.update(ctx, req.Secret, func(f *File, key string) error {
		if req.Rotation == "" {
			return f.errorf(key, "discard: a rotation id is required")
		}
		e := f.doc.Secrets[key]
		switch {
		case e == nil || e.Pending == nil:
			return nil
		case e.Pending.Rotation == "":
			return f.errorf(key, "discard rotation %s: the pending slot holds a value that rotplan did not stage; it is left alone: %w", req.Rotation, ErrPendingConflict)
		case e.Pending.Rotation != req.Rotation:
			return f.errorf(key, "discard rotation %s: the pending value belongs to rotation %s; it is left alone: %w", req.Rotation, e.Pending.Rotation, ErrPendingConflict)
		}
		return f.DiscardPending(key)
	})
	if err != nil {
		return nil, err
	}
	return &providers.DiscardResponse{}, nil
}

// MarkFailed marks the pending version of rotation req.Rotation as failed,
// under the file's lock: its entry in the file gets "failed": true, which
// Inspect reports as Pending.Failed, so plan shows a rollback under way.
// Marking it again, or nothing pending, is a no-op; a pending version of
// another rotation, or one rotplan did not stage, is left alone and fails
// with ErrPendingConflict.
func (s *Store) MarkFailed(ctx context.Context, req providers.MarkFailedRequest) (*providers.MarkFailedResponse, error) {
	err := s.update(ctx, req.Secret, func(f *File, key string) error {
		return f.MarkFailed(key, req.Rotation)
	})
	if err != nil {
		return nil, err
	}
	return &providers.MarkFailedResponse{}, nil
}

// RetirePrevious drops the previous version of the secret, under the file's
// lock; nothing previous is a no-op.
func (s *Store) RetirePrevious(ctx context.Context, req providers.RetirePreviousRequest) (*providers.RetirePreviousResponse, error) {
	err := s.update(ctx, req.Secret, func(f *File, key string) error {
		return f.RetirePrevious(key)
	})
	if err != nil {
		return nil, err
	}
	return &providers.RetirePreviousResponse{}, nil
}

// RecordTargets keeps what the secret's targets asked to record (a Fly
// digest) in its entry, under the file's lock; a secret with no entry has
// nothing to record against.
func (s *Store) RecordTargets(ctx context.Context, req providers.RecordTargetsRequest) (*providers.RecordTargetsResponse, error) {
	err := s.update(ctx, req.Secret, func(f *File, key string) error {
		return f.RecordTargets(key, req.Records)
	})
	if err != nil {
		return nil, err
	}
	return &providers.RecordTargetsResponse{}, nil
}

// update locates ref and runs fn on its file under the file's lock, with the
// name of its entry there.
func (s *Store) update(ctx context.Context, ref providers.SecretRef, fn func(f *File, key string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, key, err := s.Locate(ref)
	if err != nil {
		return fmt.Errorf("local store: secret %q: %w", ref.Name, err)
	}
	return Update(path, func(f *File) error {
		// The lock may have taken a while.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("local store %s: secret %q: %w", path, key, err)
		}
		return fn(f, key)
	})
}
