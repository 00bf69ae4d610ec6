package onepassword

import (
	"context"
	"errors"
	"sort"
	"strings"

	op "github.com/1password/onepassword-sdk-go"

	"github.com/rotplan/rotplan/internal/sensitive"
)

// Expected outcomes, for errors.Is.
var (
	// ErrPendingConflict: the secret holds a pending value that the
	// rotation at hand did not stage, or staged with another value.
	ErrPendingConflict = errors.New("a different pending value is already staged")
	// ErrNoPending: there is no pending value to promote.
	ErrNoPending = errors.New("no pending value")
	// ErrRateLimited: 1Password refused the call under its rate limits
	// (per service account token: Business 10,000 reads and 1,000 writes an
	// hour).
	ErrRateLimited = errors.New("1Password rate limit exceeded")
	// ErrConflict: 1Password refused a write because the item changed
	// since it was read (a stale item version) or another write to the
	// vault overlapped it ("data conflict occurred on the server").
	ErrConflict = errors.New("the item changed while rotplan wrote it")
)

// minScrub is the shortest value scrub blanks out: shorter ones are no
// secrets (a menu choice, a one-letter name) and blanking them would garble
// the message.
const minScrub = 4

// sdkError is an SDK error with every secret it could carry blanked out. It
// does not wrap the SDK's error, whose text is what might carry them; it
// wraps only what a caller may test for.
type sdkError struct {
	msg  string
	kind error // ErrRateLimited, ErrConflict, a context error, or nil
}

func (e *sdkError) Error() string { return e.msg }
func (e *sdkError) Unwrap() error { return e.kind }

// scrub returns err with the token and every value in secrets replaced by
// (sensitive). The SDK's errors are messages from its core, which rotplan
// does not control: a validation error could quote a field.
func scrub(err error, token string, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	all := append([]string{token}, secrets...)
	// Longest first, so no part of a longer value is left behind.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	for _, s := range all {
		if len(s) >= minScrub {
			msg = strings.ReplaceAll(msg, s, sensitive.Redacted)
		}
	}
	e := &sdkError{msg: msg}
	var limited *op.RateLimitExceededError
	switch {
	case errors.As(err, &limited):
		e.kind = ErrRateLimited
	case isStaleVersion(err) || isDataConflict(err):
		e.kind = ErrConflict
	case errors.Is(err, context.Canceled):
		e.kind = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.kind = context.DeadlineExceeded
	}
	return e
}

// itemValues lists the values of an item's fields, to scrub from errors
// about it.
func itemValues(item *op.Item) []string {
	vals := make([]string, 0, len(item.Fields))
	for _, f := range item.Fields {
		vals = append(vals, f.Value)
	}
	return vals
}
