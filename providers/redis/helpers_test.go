package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	goredis "github.com/redis/go-redis/v9"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
)

// newValue returns a fresh password that starts with canary, so a test can
// scan anything rotplan produced for it.
func newValue(t *testing.T) sensitive.Value {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return sensitive.New(canary + "-" + hex.EncodeToString(b))
}

// block decodes an HCL body against spec, as the inventory decoder would.
// attrs are written as HCL strings, except tls (a bool), and command and
// nodes (lists); keys are sorted so the body is stable.
func block(t *testing.T, spec hcldec.Spec, attrs map[string]string) cty.Value {
	t.Helper()
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		switch k {
		case "tls", "command", "nodes":
			fmt.Fprintf(&b, "%s = %s\n", k, attrs[k])
		default:
			fmt.Fprintf(&b, "%s = %q\n", k, attrs[k])
		}
	}
	f, diags := hclparse.NewParser().ParseHCL([]byte(b.String()), "test.hcl")
	if diags.HasErrors() {
		t.Fatalf("test HCL does not parse: %s", diags.Error())
	}
	v, diags := hcldec.Decode(f.Body, spec, nil)
	if diags.HasErrors() {
		t.Fatalf("test block does not decode: %s", diags.Error())
	}
	return v
}

// aclTarget is a target "redis" block for user on r, logging in as r's
// admin.
func aclTarget(t *testing.T, r *testservers.Redis, user string) cty.Value {
	t.Helper()
	return block(t, targetSpec, map[string]string{
		"address":        r.Addr,
		"username":       user,
		"admin_username": r.AdminUser,
		"admin_password": r.AdminPassword,
	})
}

// hclList writes strings as an HCL list.
func hclList(items ...string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// requirePassTarget is a target "redis" block in requirepass mode on r,
// with no admin: rotplan logs in with the server's password.
func requirePassTarget(t *testing.T, r *testservers.Redis) cty.Value {
	t.Helper()
	return block(t, targetSpec, map[string]string{"address": r.Addr, "mode": ModeRequirePass})
}

// admin returns a client logged in as r's admin, closed when the test ends.
func admin(t *testing.T, r *testservers.Redis) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr: r.Addr, Username: r.AdminUser, Password: r.AdminPassword,
		Protocol: 2, DisableIdentity: true,
	})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("admin login: %v", err)
	}
	return c
}

// do runs a command as r's admin and fails the test on an error.
func do(t *testing.T, r *testservers.Redis, args ...any) any {
	t.Helper()
	res, err := admin(t, r).Do(context.Background(), args...).Result()
	if err != nil {
		t.Fatalf("%v: %v", args[:2], err)
	}
	return res
}

// createUser makes an ACL user with password pw and every permission.
func createUser(t *testing.T, r *testservers.Redis, user string, pw sensitive.Value, rules ...string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", user, "on", ">" + pw.Reveal(), "~*", "&*", "+@all"}
	for _, rule := range rules {
		args = append(args, rule)
	}
	do(t, r, args...)
}

// logsIn reports whether user (or, when "", the requirepass) logs in to r
// with pw on a fresh connection; any error but a refused login fails the
// test.
func logsIn(t *testing.T, addr, user string, pw sensitive.Value) bool {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr: addr, Username: user, Password: pw.Reveal(),
		Protocol: 2, DisableIdentity: true, MaxRetries: -1,
	})
	defer c.Close()
	err := c.Ping(context.Background()).Err()
	switch {
	case err == nil:
		return true
	case isAuthError(err):
		return false
	}
	t.Fatalf("login probe: %v", err)
	return false
}

// checkLogins fails the test unless each value logs in as user exactly
// when want says so.
func checkLogins(t *testing.T, addr, user string, want map[string]bool, values map[string]sensitive.Value) {
	t.Helper()
	for name, ok := range want {
		if got := logsIn(t, addr, user, values[name]); got != ok {
			t.Errorf("%s password logs in = %v, want %v", name, got, ok)
		}
	}
}

// write runs one op on one item and returns its result.
func write(t *testing.T, target *Target, o op, item providers.WriteItem) providers.WriteResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	items := []providers.WriteItem{item}
	var resp *providers.WriteResponse
	var err error
	switch o {
	case opDeliver:
		resp, err = target.Deliver(ctx, providers.DeliverRequest{Items: items})
	case opRevert:
		resp, err = target.Revert(ctx, providers.RevertRequest{Items: items})
	case opRetire:
		resp, err = target.Retire(ctx, providers.RetireRequest{Items: items})
	}
	if err != nil {
		t.Fatalf("%s: %v", o, err)
	}
	if len(resp.Results) != 1 {
		t.Fatalf("%s: %d results for 1 item", o, len(resp.Results))
	}
	checkNoLeak(t, resp.Results[0].Err, item.Value, item.Previous)
	return resp.Results[0]
}

// mustWrite runs one op and fails the test unless it succeeds with the
// given skipped.
func mustWrite(t *testing.T, target *Target, o op, item providers.WriteItem, skipped bool) {
	t.Helper()
	res := write(t, target, o, item)
	if res.Err != nil {
		t.Fatalf("%s: %v", o, res.Err)
	}
	if res.Skipped != skipped {
		t.Fatalf("%s: skipped = %v, want %v", o, res.Skipped, skipped)
	}
}

// observe asks the target about one item with no previous value.
func observe(t *testing.T, target *Target, config cty.Value, current sensitive.Value) providers.Observation {
	t.Helper()
	return observeWith(t, target, config, current, sensitive.Value{})
}

// observeWith asks the target about one item.
func observeWith(t *testing.T, target *Target, config cty.Value, current, previous sensitive.Value) providers.Observation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := target.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{{
		Secret: "cache", Target: `target.redis["cache"]`, Config: config, Current: current, Previous: previous,
	}}})
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	if len(resp.Results) != 1 {
		t.Fatalf("observe: %d results for 1 item", len(resp.Results))
	}
	checkNoLeak(t, resp.Results[0].Err, current, previous)
	return resp.Results[0]
}

// checkObservation fails the test unless got has no error and holds want
// with unknown credentials besides.
func checkObservation(t *testing.T, what string, got providers.Observation, want providers.Holding, unknown int) {
	t.Helper()
	if got.Err != nil {
		t.Errorf("%s: Err = %v", what, got.Err)
		return
	}
	if got.Holds != want || got.Unknown != unknown {
		t.Errorf("%s: Holds = %s, Unknown = %d; want %s, %d", what, got.Holds, got.Unknown, want, unknown)
	}
}

// checkNoLeak fails the test if err's text holds any of values, their
// password hashes, or the canary.
func checkNoLeak(t *testing.T, err error, values ...sensitive.Value) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error() + fmt.Sprintf(" %+v %#v", err, err)
	if strings.Contains(msg, canary) {
		t.Errorf("error carries a value: %s", msg)
	}
	for _, v := range values {
		if v.IsEmpty() {
			continue
		}
		if strings.Contains(msg, v.Reveal()) || strings.Contains(msg, passwordHash(v)) {
			t.Errorf("error carries a value or its hash: %s", msg)
		}
	}
}

// newTarget returns a target with a null logger.
func newTarget(t *testing.T) *Target {
	t.Helper()
	target, err := New(providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return target
}
