package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// fixed classifies every error with the same verdict.
func fixed(v Verdict) Classify { return func(error) Verdict { return v } }

func TestDo(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		call       Call
		verdict    Verdict
		failures   int // how many attempts fail before one succeeds
		wantCalls  int
		wantErr    bool
		wantWaits  []time.Duration // nil: any backoff
		wantGaveUp bool
	}{
		{name: "throttled, not idempotent, converges", call: Call{Idempotent: false}, verdict: Verdict{Class: Throttled}, failures: 2, wantCalls: 3},
		{name: "transient, idempotent, converges", call: Call{Idempotent: true}, verdict: Verdict{Class: Transient}, failures: 3, wantCalls: 4},
		{name: "transient, not idempotent, not sent again", call: Call{Idempotent: false}, verdict: Verdict{Class: Transient}, failures: 1, wantCalls: 1, wantErr: true},
		{name: "permanent", call: Call{Idempotent: true}, verdict: Verdict{Class: Permanent}, failures: 1, wantCalls: 1, wantErr: true},
		{name: "attempts run out", call: Call{Idempotent: true}, verdict: Verdict{Class: Transient}, failures: 10, wantCalls: 4, wantErr: true, wantGaveUp: true},
		{name: "retry-after honoured", call: Call{Idempotent: true}, verdict: Verdict{Class: Throttled, RetryAfter: 7 * time.Second}, failures: 1, wantCalls: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "retry-after too long", call: Call{Idempotent: true}, verdict: Verdict{Class: Throttled, RetryAfter: time.Hour}, failures: 1, wantCalls: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var waits []time.Duration
			p := Default()
			p.Limits = nil
			p.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			calls := 0
			err := p.Do(context.Background(), tt.call, fixed(tt.verdict), func(context.Context) error {
				calls++
				if calls <= tt.failures {
					return boom
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %t", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, boom) {
				t.Errorf("err = %v does not wrap the call's error", err)
			}
			if errors.Is(err, ErrGaveUp) != tt.wantGaveUp {
				t.Errorf("err = %v, want gave up %t", err, tt.wantGaveUp)
			}
			if tt.wantWaits != nil && !equal(waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", waits, tt.wantWaits)
			}
			for _, w := range waits {
				if w > p.MaxRetryAfter {
					t.Errorf("waited %s, more than the cap", w)
				}
			}
		})
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBackoffBounded(t *testing.T) {
	p := Default()
	for n := 1; n < 40; n++ {
		if d := p.Backoff(n); d < 0 || d > p.Cap {
			t.Fatalf("Backoff(%d) = %s, outside [0, %s]", n, d, p.Cap)
		}
	}
}

func TestHTTPStatusAndRetryAfter(t *testing.T) {
	for status, want := range map[int]Class{429: Throttled, 500: Transient, 502: Transient, 503: Transient, 501: Permanent, 404: Permanent, 409: Permanent} {
		if got := HTTPStatus(status); got != want {
			t.Errorf("HTTPStatus(%d) = %s, want %s", status, got, want)
		}
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", "3")
	if got := RetryAfter(h, now); got != 3*time.Second {
		t.Errorf("Retry-After 3 = %s", got)
	}
	h.Set("Retry-After", now.Add(time.Minute).Format(http.TimeFormat))
	if got := RetryAfter(h, now); got != time.Minute {
		t.Errorf("Retry-After as a date = %s", got)
	}
	h.Set("Retry-After", "soon")
	if got := RetryAfter(h, now); got != 0 {
		t.Errorf("Retry-After soon = %s", got)
	}
}

func TestLimitsUnknownAPINeverWaits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Limits{}).Wait(ctx, "nobody.Knows"); err != nil {
		t.Fatal(err)
	}
	var nilLimits *Limits
	if err := nilLimits.Wait(ctx, "secretsmanager.ListSecrets"); err != nil {
		t.Fatal(err)
	}
}
