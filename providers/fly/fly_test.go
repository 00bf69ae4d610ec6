package fly

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	fakefly "github.com/rotplan/rotplan/internal/fakes/fly"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// The runbook's dual-key JWT secret.
const (
	jwtKey  = "JWT_SIGNING_KEY"
	jwtPrev = "JWT_PREVIOUS_SIGNING_KEY"
)

// logBuffer collects a target's logs at every level, safe for the
// concurrent writes of an HTTP client.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTarget returns a target pointed at srv with its token, logging into
// logs, waiting only milliseconds between retries.
func newTarget(t *testing.T, srv *fakefly.Server, logs *logBuffer) *Target {
	t.Helper()
	return newTargetWithToken(t, srv, fakefly.DefaultToken, logs)
}

func newTargetWithToken(t *testing.T, srv *fakefly.Server, token string, logs *logBuffer) *Target {
	t.Helper()
	if logs == nil {
		logs = &logBuffer{}
	}
	r := providers.NewRegistry()
	Register(r)
	tgt, err := r.NewTarget("fly", providers.Settings{
		Provider: cty.ObjectVal(map[string]cty.Value{
			"api_token": cty.StringVal(token),
			"api_url":   cty.StringVal(srv.URL),
		}),
		Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ft := tgt.(*Target)
	ft.client.policy.Base, ft.client.policy.Cap = time.Millisecond, 4*time.Millisecond
	ft.client.policy.Limits = nil
	return ft
}

// block is a decoded target "fly" block; previousKey "" leaves it out.
func block(app, key, previousKey string) cty.Value {
	prev := cty.NullVal(cty.String)
	if previousKey != "" {
		prev = cty.StringVal(previousKey)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"app":          cty.StringVal(app),
		"key":          cty.StringVal(key),
		"previous_key": prev,
	})
}

func observeItem(secret string, config cty.Value, current string) providers.ObserveItem {
	return providers.ObserveItem{Secret: secret, Target: "target.fly.api", Config: config, Current: sensitive.New(current)}
}

// writeItem is one item of a write call; value and previous "" are empty.
func writeItem(secret string, config cty.Value, value, previous string) providers.WriteItem {
	return providers.WriteItem{Secret: secret, Target: "target.fly.api", Config: config, Value: sensitive.New(value), Previous: sensitive.New(previous)}
}

func holdings(t *testing.T, resp *providers.ObserveResponse) []string {
	t.Helper()
	var out []string
	for i, r := range resp.Results {
		if r.Err != nil {
			t.Errorf("item %d: %v", i, r.Err)
		}
		out = append(out, r.Holds.String())
	}
	return out
}

// result is what a test expects of one write item: skipped, or an error
// saying err, or written.
type result struct {
	skipped bool
	err     string
}

func results(resp *providers.WriteResponse) []result {
	var out []result
	for _, r := range resp.Results {
		res := result{skipped: r.Skipped}
		if r.Err != nil {
			res.err = r.Err.Error()
		}
		out = append(out, res)
	}
	return out
}

func checkResults(t *testing.T, resp *providers.WriteResponse, want []result) {
	t.Helper()
	got := results(resp)
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		switch {
		case want[i].err == "" && got[i].err != "":
			t.Errorf("item %d failed: %s", i, got[i].err)
		case want[i].err != "" && !strings.Contains(got[i].err, want[i].err):
			t.Errorf("item %d: error %q, want one saying %q", i, got[i].err, want[i].err)
		case got[i].skipped != want[i].skipped:
			t.Errorf("item %d: skipped = %v, want %v", i, got[i].skipped, want[i].skipped)
		}
	}
}

// holds checks what the fake's app holds: name → value, "" for unset.
func holds(t *testing.T, srv *fakefly.Server, app string, want map[string]string) {
	t.Helper()
	for name, w := range want {
		got, ok := srv.Value(app, name)
		switch {
		case w == "" && ok:
			t.Errorf("%s %s is set, want it unset", app, name)
		case w != "" && !ok:
			t.Errorf("%s %s is unset, want it set", app, name)
		case w != "" && got != w:
			// Test values are not secrets; name them to debug.
			t.Errorf("%s %s = %q, want %q", app, name, got, w)
		}
	}
}

func TestObserveFake(t *testing.T) {
	srv := documentedFake(t)
	srv.Seed("api", map[string]string{jwtKey: "current", "DATABASE_URL": "stale"})
	srv.Seed("worker", map[string]string{jwtKey: "current"})
	srv.Seed("empty", nil)
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Observe(context.Background(), providers.ObserveRequest{Items: []providers.ObserveItem{
		observeItem("jwt", block("api", jwtKey, jwtPrev), "current"),
		observeItem("dsn", block("api", "DATABASE_URL", ""), "fresh"),
		observeItem("redis", block("api", "REDIS_URL", ""), "anything"),
		observeItem("jwt", block("worker", jwtKey, ""), "current"),
		observeItem("jwt", block("empty", jwtKey, ""), "current"),
		observeItem("gone", block("api", "DATABASE_URL", ""), ""), // the store has nothing
		observeItem("new", block("api", "REDIS_URL", ""), ""),     // nor the app
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"current", "other", "nothing", "current", "nothing", "other", "nothing"}
	if got := holdings(t, resp); !reflect.DeepEqual(got, want) {
		t.Errorf("holds %v, want %v", got, want)
	}
	for _, app := range []string{"api", "worker", "empty"} {
		if c := srv.Calls(app); c.Lists != 1 || c.Gets != 0 || c.Writes != 0 {
			t.Errorf("%s: %+v, want one list call and nothing else", app, c)
		}
	}
}

func TestObserveFakeErrors(t *testing.T) {
	srv := documentedFake(t)
	srv.Seed("api", map[string]string{jwtKey: "current"})
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Observe(context.Background(), providers.ObserveRequest{Items: []providers.ObserveItem{
		observeItem("jwt", block("nope", jwtKey, ""), "current"),
		observeItem("jwt", block("api", jwtKey, ""), "current"),
		observeItem("bad", cty.ObjectVal(map[string]cty.Value{"app": cty.StringVal("api")}), "current"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.Results[0].Err; e == nil || !strings.Contains(e.Error(), "404") || !strings.Contains(e.Error(), "no such app") {
		t.Errorf("unknown app: err = %v, want a 404 that says so", e)
	}
	if r := resp.Results[1]; r.Err != nil || r.Holds != providers.HoldsCurrent {
		t.Errorf("other app: %+v, want current", r)
	}
	if e := resp.Results[2].Err; e == nil || !strings.Contains(e.Error(), "needs app and key") {
		t.Errorf("block without key: err = %v", e)
	}
}

// truncatedSHA256 stands for a digest form Fly does not document.
func truncatedSHA256(v []byte) string {
	s := sha256.Sum256(v)
	return hex.EncodeToString(s[:8])
}

// opaque stands for a digest no one can reproduce from the value alone.
func opaque(v []byte) string {
	s := sha256.Sum256(append([]byte("server-side key:"), v...))
	return hex.EncodeToString(s[:8])
}

func TestObserveFakeUndocumentedDigests(t *testing.T) {
	t.Run("unknown form", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.SetDigest(opaque)
		srv.Seed("api", map[string]string{jwtKey: "current", "DATABASE_URL": "dsn"})
		logs := &logBuffer{}
		tgt := newTarget(t, srv, logs)
		resp, err := tgt.Observe(context.Background(), providers.ObserveRequest{Items: []providers.ObserveItem{
			observeItem("jwt", block("api", jwtKey, ""), "current"),
			observeItem("dsn", block("api", "DATABASE_URL", ""), "dsn"),
			observeItem("redis", block("api", "REDIS_URL", ""), "x"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := holdings(t, resp), []string{"unknown", "unknown", "nothing"}; !reflect.DeepEqual(got, want) {
			t.Errorf("holds %v, want %v", got, want)
		}
		if !strings.Contains(logs.String(), "cannot compare") {
			t.Errorf("no warning about digests it cannot compare in logs:\n%s", logs)
		}
	})
	t.Run("form proven by a sibling", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.SetDigest(truncatedSHA256)
		srv.Seed("api", map[string]string{jwtKey: "current", "DATABASE_URL": "stale"})
		tgt := newTarget(t, srv, nil)
		resp, err := tgt.Observe(context.Background(), providers.ObserveRequest{Items: []providers.ObserveItem{
			observeItem("jwt", block("api", jwtKey, ""), "current"),
			observeItem("dsn", block("api", "DATABASE_URL", ""), "fresh"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := holdings(t, resp), []string{"current", "other"}; !reflect.DeepEqual(got, want) {
			t.Errorf("holds %v, want %v", got, want)
		}
	})
}

// The digests in Fly's documentation, fly.io/docs/apps/secrets and the
// older fly.io/docs/secrets.
func TestDigestDocumentedExamples(t *testing.T) {
	examples := map[string]string{
		"romance":                     "b9e37b7b239ee4aefc75352fe3fa6dc6",
		"postgres://example.com/mydb": "cdbe3268a82bfe993921b9cae2a526af",
		"asdf":                        "912ec803b2ce49e4a541068d495ab570",
		"jklm":                        "9f1ff160c43185d5ecf784f371570801",
	}
	for value, digest := range examples {
		d := newDigests("https://docs.example", "app", []appSecret{{Name: "K", Digest: digest}}, nil)
		if got := d.compare("K", sensitive.New(value)); got != matches {
			t.Errorf("documented digest of a value: %v, want matches", got)
		}
		if got := d.compare("K", sensitive.New(value+"!")); got != differs {
			t.Errorf("documented digest of another value: %v, want differs", got)
		}
		if got := fakefly.MD5Digest([]byte(value)); got != digest {
			t.Errorf("the fake's digest of a documented example is %s, want %s", got, digest)
		}
	}
}

func TestDeliverFakeDualKey(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "old-key"})
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "new-key", "old-key"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	holds(t, srv, "api", map[string]string{jwtKey: "new-key", jwtPrev: "old-key"})
	if c := srv.Calls("api"); c.Writes != 1 || c.Lists != 1 {
		t.Errorf("calls %+v, want one list and one write", c)
	}

	// A first creation has no previous value: previous_key is left alone.
	srv.Seed("fresh", nil)
	resp, err = tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("fresh", jwtKey, jwtPrev), "first", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	if got := srv.Names("fresh"); !reflect.DeepEqual(got, []string{jwtKey}) {
		t.Errorf("fresh app holds %v, want only %s", got, jwtKey)
	}
}

func TestDeliverFakeOneRequestPerApp(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "jwt-old", "DATABASE_URL": "dsn-old"})
	srv.Seed("worker", nil)
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "jwt-new", "jwt-old"),
		writeItem("dsn", block("api", "DATABASE_URL", ""), "dsn-new", "dsn-old"),
		writeItem("openai", block("api", "OPENAI_API_KEY", ""), "sk-new", ""),
		writeItem("jwt", block("worker", jwtKey, ""), "jwt-new", "jwt-old"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}, {}, {}, {}})
	holds(t, srv, "api", map[string]string{jwtKey: "jwt-new", jwtPrev: "jwt-old", "DATABASE_URL": "dsn-new", "OPENAI_API_KEY": "sk-new"})
	holds(t, srv, "worker", map[string]string{jwtKey: "jwt-new"})
	for _, app := range []string{"api", "worker"} {
		if c := srv.Calls(app); c.Writes != 1 || c.Lists != 1 {
			t.Errorf("%s: calls %+v, want one list and exactly one write", app, c)
		}
		if v := srv.Version(app); v != 1 {
			t.Errorf("%s: version %d, want 1 (one update)", app, v)
		}
	}
}

func TestDeliverFakeSkipsWhatIsInPlace(t *testing.T) {
	srv := documentedFake(t)
	srv.Seed("api", map[string]string{jwtKey: "jwt-new", jwtPrev: "jwt-old", "DATABASE_URL": "dsn-old"})
	tgt := newTarget(t, srv, nil)

	items := []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "jwt-new", "jwt-old"),
		writeItem("dsn", block("api", "DATABASE_URL", ""), "dsn-new", "dsn-old"),
	}
	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{skipped: true}, {}})
	if c := srv.Calls("api"); c.Writes != 1 {
		t.Errorf("calls %+v, want one write", c)
	}

	// Delivered again, everything is in place: no write at all.
	resp, err = tgt.Deliver(context.Background(), providers.DeliverRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{skipped: true}, {skipped: true}})
	if c := srv.Calls("api"); c.Writes != 1 || c.Lists != 2 {
		t.Errorf("calls %+v, want still one write, and two lists", c)
	}
	if c := srv.Calls("api"); c.MinVersion != 1 {
		t.Errorf("the second list asked for version %d, want 1, the version its own update made", c.MinVersion)
	}
}

func TestDeliverFakeUnknownDigestsAreWritten(t *testing.T) {
	srv := fakefly.New(t)
	srv.SetDigest(opaque)
	srv.Seed("api", map[string]string{jwtKey: "jwt-new"})
	logs := &logBuffer{}
	tgt := newTarget(t, srv, logs)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, ""), "jwt-new", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	if c := srv.Calls("api"); c.Writes != 1 {
		t.Errorf("calls %+v, want the value written, since its digest proves nothing", c)
	}
	if !strings.Contains(logs.String(), "not the MD5 or SHA-256") {
		t.Errorf("no warning that the answered digest cannot be reproduced:\n%s", logs)
	}
}

func TestDeliverFakeDisprovedDocumentedForm(t *testing.T) {
	srv := fakefly.New(t)
	// 32 hex characters, like the documented MD5, but of something else.
	srv.SetDigest(func(v []byte) string { return fakefly.MD5Digest(append([]byte("pepper"), v...)) })
	srv.Seed("api", map[string]string{"DATABASE_URL": "dsn"})
	tgt := newTarget(t, srv, nil)

	ctx := context.Background()
	if _, err := tgt.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, ""), "jwt", ""),
	}}); err != nil {
		t.Fatal(err)
	}
	// The write's answer disproved the documented form: drift is now
	// unknown rather than a false "other".
	resp, err := tgt.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{
		observeItem("dsn", block("api", "DATABASE_URL", ""), "dsn"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := holdings(t, resp); !reflect.DeepEqual(got, []string{"unknown"}) {
		t.Errorf("holds %v, want [unknown]", got)
	}
}

func TestDeliverFakeBadItems(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", nil)
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("a", block("api", "SHARED", ""), "one", ""),
		writeItem("b", block("api", "SHARED", ""), "two", ""),
		writeItem("c", block("api", "NUL", ""), "x\x00y", ""),
		writeItem("d", block("api", "UTF8", ""), "\xff\xfe", ""),
		writeItem("e", block("api", "EMPTY", ""), "", ""),
		writeItem("f", block("api", "FINE", ""), "fine", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{
		{err: "asked for with different values"},
		{err: "asked for with different values"},
		{err: "NUL byte"},
		{err: "not valid UTF-8"},
		{err: "no value to deliver"},
		{},
	})
	if got := srv.Names("api"); !reflect.DeepEqual(got, []string{"FINE"}) {
		t.Errorf("app holds %v, want only FINE", got)
	}
}

func TestRevertFake(t *testing.T) {
	ctx := context.Background()
	t.Run("after a dual-key deliver", func(t *testing.T) {
		srv := documentedFake(t)
		srv.Seed("api", map[string]string{jwtKey: "old"})
		tgt := newTarget(t, srv, nil)
		if _, err := tgt.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{
			writeItem("jwt", block("api", jwtKey, jwtPrev), "candidate", "old"),
		}}); err != nil {
			t.Fatal(err)
		}
		resp, err := tgt.Revert(ctx, providers.RevertRequest{Items: []providers.WriteItem{
			writeItem("jwt", block("api", jwtKey, jwtPrev), "old", "candidate"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		checkResults(t, resp, []result{{}})
		holds(t, srv, "api", map[string]string{jwtKey: "old", jwtPrev: ""})
		if c := srv.Calls("api"); c.Writes != 2 || c.MinVersion != 1 {
			t.Errorf("calls %+v, want two writes and the revert's list at the deliver's version", c)
		}

		// Reverting again finds it done.
		resp, err = tgt.Revert(ctx, providers.RevertRequest{Items: []providers.WriteItem{
			writeItem("jwt", block("api", jwtKey, jwtPrev), "old", "candidate"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		checkResults(t, resp, []result{{skipped: true}})
	})
	t.Run("previous_key holding something else stays", func(t *testing.T) {
		srv := documentedFake(t)
		srv.Seed("api", map[string]string{jwtKey: "candidate", jwtPrev: "someone else's"})
		tgt := newTarget(t, srv, nil)
		resp, err := tgt.Revert(ctx, providers.RevertRequest{Items: []providers.WriteItem{
			writeItem("jwt", block("api", jwtKey, jwtPrev), "old", "candidate"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		checkResults(t, resp, []result{{}})
		holds(t, srv, "api", map[string]string{jwtKey: "old", jwtPrev: "someone else's"})
	})
	t.Run("first rotation", func(t *testing.T) {
		srv := documentedFake(t)
		srv.Seed("api", map[string]string{"MINE": "candidate", "THEIRS": "other"})
		tgt := newTarget(t, srv, nil)
		resp, err := tgt.Revert(ctx, providers.RevertRequest{Items: []providers.WriteItem{
			writeItem("a", block("api", "MINE", ""), "", "candidate"),
			writeItem("b", block("api", "THEIRS", ""), "", "candidate"),
			writeItem("c", block("api", "NONE", ""), "", ""),
		}})
		if err != nil {
			t.Fatal(err)
		}
		checkResults(t, resp, []result{{}, {skipped: true}, {err: "nothing to revert to"}})
		holds(t, srv, "api", map[string]string{"MINE": "", "THEIRS": "other"})
		if c := srv.Calls("api"); c.Writes != 1 {
			t.Errorf("calls %+v, want one write", c)
		}
	})
}

func TestRetireFake(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "new", jwtPrev: "old", "SESSION_KEY": "s-new", "SESSION_KEY_PREVIOUS": "s-old"})
	tgt := newTarget(t, srv, nil)

	items := []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "new", "old"),
		writeItem("session", block("api", "SESSION_KEY", "SESSION_KEY_PREVIOUS"), "s-new", "s-old"),
		writeItem("dsn", block("api", "DATABASE_URL", ""), "dsn", "dsn-old"),
	}
	resp, err := tgt.Retire(context.Background(), providers.RetireRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}, {}, {skipped: true}})
	holds(t, srv, "api", map[string]string{jwtKey: "new", jwtPrev: "", "SESSION_KEY": "s-new", "SESSION_KEY_PREVIOUS": ""})
	if c := srv.Calls("api"); c.Writes != 1 {
		t.Errorf("calls %+v, want one write for both", c)
	}

	resp, err = tgt.Retire(context.Background(), providers.RetireRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{skipped: true}, {skipped: true}, {skipped: true}})
	if c := srv.Calls("api"); c.Writes != 1 {
		t.Errorf("calls %+v, want no second write", c)
	}
}

func TestFakeHTTPErrors(t *testing.T) {
	ctx := context.Background()
	deliverOne := func(tgt *Target) error {
		resp, err := tgt.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{
			writeItem("jwt", block("api", jwtKey, ""), "new", "old"),
		}})
		if err != nil {
			return err
		}
		return resp.Results[0].Err
	}

	t.Run("401 is not retried", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		tgt := newTargetWithToken(t, srv, "wrong-token", nil)
		err := deliverOne(tgt)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
			t.Fatalf("err = %v, want a 401 APIError", err)
		}
		if !strings.Contains(err.Error(), "api_token") {
			t.Errorf("err = %v, want a hint about api_token", err)
		}
		if c := srv.Calls("api"); c.Lists != 1 || c.Writes != 0 {
			t.Errorf("calls %+v, want one list and no retry", c)
		}
	})
	t.Run("429 then success", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		srv.Fail("api", fakefly.Failure{Status: 429, Message: "rate limited", RetryAfter: "0"}, fakefly.Failure{Status: 429, Message: "rate limited"})
		tgt := newTarget(t, srv, nil)
		if err := deliverOne(tgt); err != nil {
			t.Fatal(err)
		}
		holds(t, srv, "api", map[string]string{jwtKey: "new"})
		if c := srv.Calls("api"); c.Lists != 3 || c.Writes != 1 {
			t.Errorf("calls %+v, want three lists (two refused) and one write", c)
		}
	})
	t.Run("500 on the write is retried", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		srv.Fail("api", fakefly.Failure{Status: 502, Message: "bad gateway", Writes: true}, fakefly.Failure{Status: 500, Message: "oops", Writes: true})
		tgt := newTarget(t, srv, nil)
		if err := deliverOne(tgt); err != nil {
			t.Fatal(err)
		}
		holds(t, srv, "api", map[string]string{jwtKey: "new"})
		if c := srv.Calls("api"); c.Lists != 1 || c.Writes != 3 {
			t.Errorf("calls %+v, want one list and three writes (two refused)", c)
		}
	})
	t.Run("500 until it gives up", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		fails := make([]fakefly.Failure, 4)
		for i := range fails {
			fails[i] = fakefly.Failure{Status: 500, Message: "internal error"}
		}
		srv.Fail("api", fails...)
		tgt := newTarget(t, srv, nil)
		err := deliverOne(tgt)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 500 || !strings.Contains(err.Error(), "internal error") {
			t.Fatalf("err = %v, want the last 500 with Fly's message", err)
		}
		if c := srv.Calls("api"); c.Lists != tgt.client.policy.Attempts || c.Writes != 0 {
			t.Errorf("calls %+v, want %d lists and no write", c, tgt.client.policy.Attempts)
		}
	})
	t.Run("Retry-After too long", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		srv.Fail("api", fakefly.Failure{Status: 503, Message: "busy", RetryAfter: "3600"})
		tgt := newTarget(t, srv, nil)
		err := deliverOne(tgt)
		if err == nil || !strings.Contains(err.Error(), "not waiting that long") {
			t.Fatalf("err = %v, want it to give up on a long Retry-After", err)
		}
		if c := srv.Calls("api"); c.Lists != 1 {
			t.Errorf("calls %+v, want one list", c)
		}
	})
	t.Run("404 app", func(t *testing.T) {
		srv := fakefly.New(t)
		tgt := newTarget(t, srv, nil)
		if err := deliverOne(tgt); err == nil || !strings.Contains(err.Error(), "no such app") {
			t.Fatalf("err = %v, want no such app", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		tgt := newTarget(t, srv, nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := tgt.Deliver(cctx, providers.DeliverRequest{Items: []providers.WriteItem{writeItem("jwt", block("api", jwtKey, ""), "v", "")}}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestFakeAuthorization(t *testing.T) {
	tests := map[string]string{
		"fo1_abc":                    "Bearer fo1_abc",
		"Bearer fo1_abc":             "Bearer fo1_abc",
		"FlyV1 fm2_abc":              "FlyV1 fm2_abc",
		"fm2_abc,fm2_def":            "FlyV1 fm2_abc,fm2_def",
		"FlyV1 fm2_abc, fo1_ignored": "FlyV1 fm2_abc",
		"  fm1r_x ":                  "FlyV1 fm1r_x",
	}
	for token, want := range tests {
		if got := authorization(token); got != want {
			t.Errorf("authorization(%q) = %q, want %q", token, got, want)
		}
	}

	// A deploy token as `fly tokens create deploy` prints it works
	// against the fake, which wants the macaroon under FlyV1.
	srv := documentedFake(t)
	srv.SetToken("fm2_deploytoken")
	srv.Seed("api", map[string]string{jwtKey: "v"})
	tgt := newTargetWithToken(t, srv, "FlyV1 fm2_deploytoken", nil)
	resp, err := tgt.Observe(context.Background(), providers.ObserveRequest{Items: []providers.ObserveItem{observeItem("jwt", block("api", jwtKey, ""), "v")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := holdings(t, resp); !reflect.DeepEqual(got, []string{"current"}) {
		t.Errorf("holds %v, want [current]", got)
	}
}

func TestNewNeedsProvider(t *testing.T) {
	tests := map[string]struct {
		provider cty.Value
		want     string
	}{
		"no provider block": {cty.NilVal, `no provider "fly" block`},
		"empty token":       {cty.ObjectVal(map[string]cty.Value{"api_token": cty.StringVal(""), "api_url": cty.StringVal(DefaultAPIURL)}), "api_token is empty"},
		"bad url":           {cty.ObjectVal(map[string]cty.Value{"api_token": cty.StringVal("t"), "api_url": cty.StringVal("ftp://x")}), "not an http or https URL"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(providers.Settings{Provider: tc.provider})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestFakeCanary rotates canary values through every call, with Fly
// failing in ways that echo what it was sent, and scans every error and
// log line for them.
func TestFakeCanary(t *testing.T) {
	const token = "fo1_canarytoken-55aa"
	canaries := []string{
		"CANARY-jwt-7f3a9c1e",
		"CANARY-old-0b1d2e3f",
		`CANARY "quoted" <html> & \back`, // JSON escapes it
		"CANARY-dsn-9988776655",
	}
	srv := fakefly.New(t)
	srv.SetToken(token)
	srv.Seed("api", map[string]string{jwtKey: canaries[1]})
	machine := srv.AddMachine("api", fakefly.MachineSpec{})
	srv.AddMachine("api", fakefly.MachineSpec{State: "stopped"})
	logs := &logBuffer{}
	tgt := newTargetWithToken(t, srv, token, logs)
	ctx := context.Background()

	var outputs []string
	record := func(resp *providers.WriteResponse, err error) {
		if err != nil {
			outputs = append(outputs, err.Error(), fmt.Sprintf("%+v %#v", err, err))
		}
		if resp != nil {
			for _, r := range resp.Results {
				if r.Err != nil {
					outputs = append(outputs, r.Err.Error(), fmt.Sprintf("%+v %#v", r.Err, r.Err))
				}
			}
		}
	}
	items := []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), canaries[0], canaries[1]),
		writeItem("odd", block("api", "ODD", ""), canaries[2], ""),
		writeItem("dsn", block("api", "DATABASE_URL", ""), canaries[3], ""),
	}

	// Fly quotes a value in part, and the token, when the list fails.
	srv.Fail("api", fakefly.Failure{Status: 422, Message: "value starts with " + canaries[3][:12]})
	record(tgt.Deliver(ctx, providers.DeliverRequest{Items: items}))
	srv.Fail("api", fakefly.Failure{Status: 403, Message: "token " + token + " may not"})
	record(tgt.Deliver(ctx, providers.DeliverRequest{Items: items}))

	// The update itself fails with an echo, after a good list.
	srv.Fail("api", fakefly.Failure{Status: 400, Message: "bad values", EchoValues: true, Writes: true})
	record(tgt.Deliver(ctx, providers.DeliverRequest{Items: items}))
	for i := 0; i < tgt.client.policy.Attempts; i++ {
		srv.Fail("api", fakefly.Failure{Status: 502, Message: "upstream", EchoValues: true, Writes: true})
	}
	record(tgt.Deliver(ctx, providers.DeliverRequest{Items: items}))

	// The values are stored, then the deploy fails, Fly quoting one (and
	// the token) while leasing a Machine.
	srv.Fail("api", fakefly.Failure{Status: 422, Message: "machine env conflicts with " + canaries[0] + " for " + token, Machines: true, Writes: true})
	record(tgt.Deliver(ctx, providers.DeliverRequest{Items: items}))
	if v, _ := srv.RunningValue("api", machine, jwtKey); v != canaries[1] {
		t.Error("the failed deploy changed what the Machine runs")
	}

	// And everything that works: deliver, observe, revert, retire, each
	// deploying to the app's Machines.
	record(tgt.Revert(ctx, providers.RevertRequest{Items: []providers.WriteItem{writeItem("jwt", block("api", jwtKey, jwtPrev), canaries[1], canaries[0])}}))
	record(tgt.Deliver(ctx, providers.DeliverRequest{Items: items}))
	if v, _ := srv.RunningValue("api", machine, jwtKey); v != canaries[0] {
		t.Error("the deliver did not deploy")
	}
	obs, err := tgt.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{
		observeItem("jwt", block("api", jwtKey, jwtPrev), canaries[0]),
		observeItem("dsn", block("api", "DATABASE_URL", ""), canaries[3]),
	}})
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, fmt.Sprintf("%+v", obs))
	reverts := []providers.WriteItem{writeItem("jwt", block("api", jwtKey, jwtPrev), canaries[1], canaries[0])}
	record(tgt.Revert(ctx, providers.RevertRequest{Items: reverts}))
	record(tgt.Retire(ctx, providers.RetireRequest{Items: items}))

	if c := srv.Calls("api"); c.MachineUpdates < 6 {
		t.Errorf("calls %+v: the deploys did not happen", c)
	}
	if len(outputs) < 8 {
		t.Fatalf("only %d error outputs; the failures did not happen", len(outputs))
	}
	outputs = append(outputs, logs.String())
	for _, out := range outputs {
		for _, secret := range append(canaries, token, "CANARY") {
			if strings.Contains(out, secret) {
				t.Errorf("a value leaked into:\n%s", out)
			}
		}
	}
	if !strings.Contains(strings.Join(outputs, "\n"), "lease machine "+machine+": 422 Unprocessable Entity: machine env conflicts with (sensitive) for (sensitive)") {
		t.Error("the failed deploy's error is missing or not scrubbed")
	}
	if !strings.Contains(strings.Join(outputs, "\n"), "message withheld") {
		t.Error("a message quoting part of a value was not withheld")
	}
}

func TestScrubMessage(t *testing.T) {
	values := []sensitive.Value{
		sensitive.New("s3cret-value-1234"),
		sensitive.New(`with "quotes" <and> \slashes`),
		sensitive.New("fo1_token"),
	}
	tests := map[string]struct {
		msg, want string
	}{
		"no value":          {"app is suspended", "app is suspended"},
		"whole value":       {"invalid value s3cret-value-1234 for K", "invalid value (sensitive) for K"},
		"json-escaped":      {`body {"K":"with \"quotes\" \u003cand\u003e \\slashes"} rejected`, `body {"K":"(sensitive)"} rejected`},
		"json, no html esc": {`value "with \"quotes\" <and> \\slashes" rejected`, `value "(sensitive)" rejected`},
		"token":             {"token fo1_token expired", "token (sensitive) expired"},
		"part of a value":   {"value too long: s3cret-val...", "(message withheld: it quoted part of a secret value)"},
		"control chars":     {"line one\nline two\x1b[31m", "line one line two [31m"},
		"empty":             {"", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := scrubMessage(tc.msg, values); got != tc.want {
				t.Errorf("scrubMessage(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
	long := strings.Repeat("é", 400)
	if got := scrubMessage(long, values); len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("a long message is cut to %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
	}
}

// documentedFake is a fake that lists digests in the form Fly's
// documentation shows (MD5), for the tests of how rotplan reads that form;
// a new fake lists opaque digests, as current Fly does.
func documentedFake(t *testing.T) *fakefly.Server {
	srv := fakefly.New(t)
	srv.SetDigest(fakefly.MD5Digest)
	return srv
}
