package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class says what a failed attempt tells about trying again.
type Class int

const (
	// Permanent: the call fails the same way if made again.
	Permanent Class = iota
	// Throttled: the service refused the call without acting on it (429,
	// ThrottlingException, a rate limit), so making it again is safe for any
	// call.
	Throttled
	// Transient: a server error or a lost connection; the service may have
	// acted, so only an idempotent call is made again.
	Transient
)

func (c Class) String() string {
	switch c {
	case Throttled:
		return "throttled"
	case Transient:
		return "transient"
	}
	return "permanent"
}

// Verdict is what a Classify function makes of a failed attempt.
type Verdict struct {
	Class Class
	// RetryAfter is how long the service asked the client to wait, zero
	// when it did not say.
	RetryAfter time.Duration
}

// Classify reads a failed attempt's error.
type Classify func(error) Verdict

// Call describes one kind of call.
type Call struct {
	// API names the operation for the limiter and the logs, as the Quotas
	// table keys it: "secretsmanager.ListSecrets".
	API string
	// Idempotent says the call may be made again after a Transient failure:
	// it reads, it states the whole result (a PUT of a complete document),
	// or it carries an idempotency token the service honours. A call that
	// is not is made again only after the service throttled it.
	Idempotent bool
}

// Policy is how many times and how patiently a call is tried.
type Policy struct {
	// Attempts is the most times a call is made, the first included.
	Attempts int
	// Base is the wait before the first retry; each retry waits twice as
	// long as the one before, up to Cap, with the upper half of the wait
	// chosen at random (so that clients do not retry in step).
	Base, Cap time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; a service asking
	// for more fails the call at once.
	MaxRetryAfter time.Duration
	// Limits paces calls per API before they are made; nil paces nothing.
	Limits *Limits
	// Sleep waits between attempts; nil waits for real, until ctx is done.
	// Tests replace it to run without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Default is the policy every provider uses unless a test says otherwise:
// four attempts within about 15 s, Retry-After honoured up to 30 s, paced by
// the quotas in Quotas.
func Default() Policy {
	return Policy{
		Attempts:      4,
		Base:          500 * time.Millisecond,
		Cap:           8 * time.Second,
		MaxRetryAfter: 30 * time.Second,
		Limits:        Shared,
	}
}

// ErrGaveUp marks an error returned after the attempts ran out.
var ErrGaveUp = errors.New("gave up")

// Do makes the call fn until it succeeds, fails in a way that trying again
// cannot mend, or the attempts run out; it returns fn's last error
// (wrapped with the number of attempts when they ran out). classify reads
// each failure; a nil classify retries nothing.
func (p Policy) Do(ctx context.Context, c Call, classify Classify, fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		if err := p.Limits.Wait(ctx, c.API); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || classify == nil {
			return err
		}
		v := classify(err)
		switch {
		case v.Class == Permanent, v.Class == Transient && !c.Idempotent:
			return err
		case attempt >= p.attempts():
			return fmt.Errorf("%w (%w after %d attempts)", err, ErrGaveUp, attempt)
		case v.RetryAfter > p.MaxRetryAfter && p.MaxRetryAfter > 0:
			return fmt.Errorf("%w (the service asks to retry after %s; not waiting that long)", err, v.RetryAfter.Round(time.Second))
		}
		wait := v.RetryAfter
		if wait <= 0 {
			wait = p.Backoff(attempt)
		}
		if err := p.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (p Policy) attempts() int {
	if p.Attempts < 1 {
		return 1
	}
	return p.Attempts
}

// Backoff is the wait before retry n (1-based): Base doubled n-1 times, at
// most Cap, the upper half of it chosen at random.
func (p Policy) Backoff(n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Cap; i++ {
		d *= 2
	}
	if d > p.Cap && p.Cap > 0 {
		d = p.Cap
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func (p Policy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HTTPStatus classifies an HTTP status: 429 is throttled, other 5xx but
// 501 are transient, the rest permanent.
func HTTPStatus(status int) Class {
	switch {
	case status == http.StatusTooManyRequests:
		return Throttled
	case status >= 500 && status != http.StatusNotImplemented:
		return Transient
	}
	return Permanent
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date;
// zero when there is none or it cannot be read.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// Pause waits d as the policy waits between attempts (Sleep, when set), or
// until ctx is done: for callers that poll, such as a wait for a restart.
func (p Policy) Pause(ctx context.Context, d time.Duration) error {
	return p.sleep(ctx, d)
}
