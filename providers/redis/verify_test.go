package redis

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
)

func TestRedisVerify(t *testing.T) {
	r := testservers.StartRedis(t)
	pr := testservers.StartRedis(t, testservers.RedisRequirePass())
	pw := newValue(t)
	createUser(t, r, "app", pw)
	createUser(t, r, "pingonly", pw, "-@all", "+ping")
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(testservers.FreePort(t)))

	tests := map[string]struct {
		attrs   map[string]string
		value   sensitive.Value
		timeout time.Duration
		// wantErr is part of the error; "" means the check passes.
		wantErr string
		// notErr must not be part of the error.
		notErr string
	}{
		"ping": {
			attrs: map[string]string{"address": r.Addr, "username": "app"},
			value: pw,
		},
		"command with a nil reply": {
			attrs: map[string]string{"address": r.Addr, "username": "app", "command": `["GET", "healthcheck"]`},
			value: pw,
		},
		"requirepass without username": {
			attrs: map[string]string{"address": pr.Addr},
			value: sensitive.New(pr.AdminPassword),
		},
		"wrong password until the deadline": {
			attrs: map[string]string{"address": r.Addr, "username": "app"}, value: newValue(t),
			timeout: 500 * time.Millisecond,
			wantErr: "redis verify as app at " + r.Addr + ": PING: no success in",
		},
		"unreachable until the deadline": {
			attrs: map[string]string{"address": closed}, value: pw,
			timeout: 500 * time.Millisecond,
			wantErr: "connection refused",
		},
		"command not permitted fails at once": {
			attrs:   map[string]string{"address": r.Addr, "username": "pingonly", "command": `["GET", "healthcheck"]`},
			value:   pw,
			wantErr: "redis verify as pingonly at " + r.Addr + ": GET: NOPERM",
			notErr:  "deadline",
		},
		"unknown command fails at once": {
			attrs:   map[string]string{"address": r.Addr, "username": "app", "command": `["NOSUCHCOMMAND"]`},
			value:   pw,
			wantErr: "unknown command",
			notErr:  "deadline",
		},
		"no value": {
			attrs:   map[string]string{"address": r.Addr, "username": "app"},
			wantErr: "no value to verify",
		},
	}
	v, err := NewVerifier(providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				// Long enough that a check failing at once is told
				// from one that ran out of time.
				timeout = time.Minute
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			resp, err := v.Verify(ctx, providers.VerifyRequest{
				Secret: "cache", Config: block(t, verifySpec, tc.attrs), Value: tc.value,
			})
			checkNoLeak(t, err, tc.value, pw)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if resp.Detail == "" {
					t.Errorf("passed without a detail")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Verify error = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.notErr != "" && strings.Contains(err.Error(), tc.notErr) {
				t.Errorf("Verify error = %v, want no %q", err, tc.notErr)
			}
			t.Logf("Err: %v", err)
		})
	}
}

// TestRedisVerifyRetries checks a password that starts to work while the
// check is trying: it passes once the server takes it.
func TestRedisVerifyRetries(t *testing.T) {
	r := testservers.StartRedis(t)
	old, next := newValue(t), newValue(t)
	createUser(t, r, "app", old)
	v, err := NewVerifier(providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	done := make(chan error, 1)
	var resp *providers.VerifyResponse
	go func() {
		var err error
		resp, err = v.Verify(ctx, providers.VerifyRequest{
			Config: block(t, verifySpec, map[string]string{"address": r.Addr, "username": "app"}),
			Value:  next,
		})
		done <- err
	}()
	// Let it fail at least once, then set the password.
	waitForFailedLogin(t, r, "app")
	do(t, r, "ACL", "SETUSER", "app", ">"+next.Reveal())
	if err := <-done; err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The refused login is in the server's log (waitForFailedLogin), and
	// the check passed after it. How many attempts it counts depends on
	// timing: the client's dialer may log in again within one attempt.
	if !strings.Contains(resp.Detail, "answered PING after") {
		t.Errorf("Detail = %q", resp.Detail)
	}
}

// waitForFailedLogin waits until the server's ACL LOG records a refused
// login as user.
func waitForFailedLogin(t *testing.T, r *testservers.Redis, user string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := do(t, r, "ACL", "LOG").([]any)
		for _, e := range entries {
			fields, _ := e.([]any)
			for i := 0; i+1 < len(fields); i += 2 {
				if fields[i] == "username" && fields[i+1] == user {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no refused login as %s in ACL LOG", user)
}
