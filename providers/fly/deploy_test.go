package fly

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	fakefly "github.com/rotplan/rotplan/internal/fakes/fly"
	"github.com/rotplan/rotplan/providers"
)

// staged is block with deploy = false.
func staged(app, key, previousKey string) cty.Value {
	m := block(app, key, previousKey).AsValueMap()
	m["deploy"] = cty.False
	return cty.ObjectVal(m)
}

// runs checks what the app's Machine runs: name → value, "" for unset.
func runs(t *testing.T, srv *fakefly.Server, app, id string, want map[string]string) {
	t.Helper()
	for name, w := range want {
		got, ok := srv.RunningValue(app, id, name)
		switch {
		case w == "" && ok:
			t.Errorf("machine %s runs %s, want it unset", id, name)
		case w != "" && got != w:
			// Test values are not secrets; name them to debug.
			t.Errorf("machine %s runs %s = %q (set: %v), want %q", id, name, got, ok, w)
		}
	}
}

// machineOf returns what the fake reports of a Machine.
func machineOf(t *testing.T, srv *fakefly.Server, app, id string) fakefly.MachineStatus {
	t.Helper()
	m, ok := srv.Machine(app, id)
	if !ok {
		t.Fatalf("no machine %s in %s", id, app)
	}
	return m
}

// healthCheck stands for the app behind an http check: it answers 200 when
// every started Machine runs want under key, from what is deployed, not
// from what the app stores.
func healthCheck(t *testing.T, srv *fakefly.Server, app, key string, machines ...string) *httptest.Server {
	t.Helper()
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := r.URL.Query().Get("want")
		for _, id := range machines {
			if v, ok := srv.RunningValue(app, id, key); ok && v != want {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.Close)
	return h
}

func healthy(t *testing.T, h *httptest.Server, want string) bool {
	t.Helper()
	resp, err := http.Get(h.URL + "/health?want=" + url.QueryEscape(want))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestDeliverFakeDeploysOncePerApp(t *testing.T) {
	srv := documentedFake(t)
	srv.Seed("api", map[string]string{jwtKey: "jwt-old", "DATABASE_URL": "dsn-old"})
	web1 := srv.AddMachine("api", fakefly.MachineSpec{})
	web2 := srv.AddMachine("api", fakefly.MachineSpec{Region: "ams"})
	idle := srv.AddMachine("api", fakefly.MachineSpec{State: "stopped"})
	byHand := srv.AddMachine("api", fakefly.MachineSpec{Metadata: map[string]string{}}) // fly machine run
	release := srv.AddMachine("api", fakefly.MachineSpec{State: "stopped", Metadata: map[string]string{"fly_platform_version": "v2", "fly_process_group": "fly_app_release_command"}})
	srv.AddMachine("api", fakefly.MachineSpec{State: "destroyed"})
	srv.Seed("worker", nil)
	worker := srv.AddMachine("worker", fakefly.MachineSpec{})
	health := healthCheck(t, srv, "api", jwtKey, web1, web2)
	logs := &logBuffer{}
	tgt := newTarget(t, srv, logs)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "jwt-new", "jwt-old"),
		writeItem("dsn", block("api", "DATABASE_URL", ""), "dsn-new", "dsn-old"),
		writeItem("openai", block("api", "OPENAI_API_KEY", ""), "sk-new", ""),
		writeItem("jwt", block("worker", jwtKey, ""), "jwt-new", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}, {}, {}, {}})

	// One secrets update and one deploy: each Machine flyctl would touch
	// is updated once, the running ones restarted with the new values.
	c := srv.Calls("api")
	if c.Writes != 1 || c.MachineLists != 1 || c.MachineUpdates != 3 || c.Leases != 3 || c.Releases != 3 || c.Waits != 2 {
		t.Errorf("api calls %+v, want one secrets write, one Machines list, three updates under three leases, two waits", c)
	}
	version := srv.Version("api")
	for _, id := range []string{web1, web2} {
		m := machineOf(t, srv, "api", id)
		if m.Updates != 1 || m.State != "started" || m.SecretsVersion != version || m.Leased {
			t.Errorf("running machine after deploy: %+v, want started once at version %d, unleased", m, version)
		}
		if m.Image != "registry.fly.io/api:deployment-01" {
			t.Errorf("machine %s image %q: the update changed its config", id, m.Image)
		}
		runs(t, srv, "api", id, map[string]string{jwtKey: "jwt-new", jwtPrev: "jwt-old", "DATABASE_URL": "dsn-new", "OPENAI_API_KEY": "sk-new"})
	}
	if m := machineOf(t, srv, "api", idle); m.Updates != 1 || m.State != "stopped" || m.SecretsVersion != version {
		t.Errorf("stopped machine after deploy: %+v, want updated once, still stopped, at version %d", m, version)
	}
	for _, id := range []string{byHand, release} {
		if m := machineOf(t, srv, "api", id); m.Updates != 0 {
			t.Errorf("machine %s (not fly deploy's) was updated: %+v", id, m)
		}
	}
	runs(t, srv, "api", byHand, map[string]string{jwtKey: "jwt-old"})
	if !healthy(t, health, "jwt-new") {
		t.Error("the app's health check does not see the new key")
	}
	if m := machineOf(t, srv, "worker", worker); m.Updates != 1 || m.State != "started" {
		t.Errorf("worker machine %+v, want restarted once", m)
	}
	runs(t, srv, "worker", worker, map[string]string{jwtKey: "jwt-new"})
	if !strings.Contains(logs.String(), "left alone") {
		t.Errorf("no warning about the Machine fly deploy did not make:\n%s", logs)
	}

	// Delivering again finds everything in place: no update, no restart.
	resp, err = tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "jwt-new", "jwt-old"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{skipped: true}})
	if c := srv.Calls("api"); c.MachineUpdates != 3 {
		t.Errorf("a skipped deliver restarted Machines: %+v", c)
	}
}

func TestDeliverFakeStagedOnly(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "old"})
	id := srv.AddMachine("api", fakefly.MachineSpec{})
	logs := &logBuffer{}
	tgt := newTarget(t, srv, logs)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", staged("api", jwtKey, ""), "new", "old"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	holds(t, srv, "api", map[string]string{jwtKey: "new"})
	if c := srv.Calls("api"); c.MachineLists != 0 || c.MachineUpdates != 0 || c.Leases != 0 {
		t.Errorf("deploy = false touched Machines: %+v", c)
	}
	runs(t, srv, "api", id, map[string]string{jwtKey: "old"})
	if !strings.Contains(logs.String(), "not deployed") {
		t.Errorf("no warning that the secrets are only staged:\n%s", logs)
	}

	// One item of the app that asks for a deploy is enough.
	resp, err = tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", staged("api", jwtKey, ""), "newer", "new"),
		writeItem("dsn", block("api", "DATABASE_URL", ""), "dsn", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}, {}})
	if m := machineOf(t, srv, "api", id); m.Updates != 1 {
		t.Errorf("machine %+v, want one update", m)
	}
	runs(t, srv, "api", id, map[string]string{jwtKey: "newer", "DATABASE_URL": "dsn"})
}

func TestRevertFakeDeploys(t *testing.T) {
	ctx := context.Background()
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "old"})
	id := srv.AddMachine("api", fakefly.MachineSpec{})
	tgt := newTarget(t, srv, nil)

	if _, err := tgt.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "candidate", "old"),
	}}); err != nil {
		t.Fatal(err)
	}
	runs(t, srv, "api", id, map[string]string{jwtKey: "candidate", jwtPrev: "old"})

	resp, err := tgt.Revert(ctx, providers.RevertRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "old", "candidate"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	runs(t, srv, "api", id, map[string]string{jwtKey: "old", jwtPrev: ""})
	if m := machineOf(t, srv, "api", id); m.Updates != 2 || m.SecretsVersion != srv.Version("api") {
		t.Errorf("machine %+v, want a second update at version %d", m, srv.Version("api"))
	}
}

func TestRetireFakeDeploys(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "new", jwtPrev: "old"})
	id := srv.AddMachine("api", fakefly.MachineSpec{})
	tgt := newTarget(t, srv, nil)
	runs(t, srv, "api", id, map[string]string{jwtPrev: "old"})

	resp, err := tgt.Retire(context.Background(), providers.RetireRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, jwtPrev), "new", "old"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	runs(t, srv, "api", id, map[string]string{jwtKey: "new", jwtPrev: ""})
	if m := machineOf(t, srv, "api", id); m.Updates != 1 {
		t.Errorf("machine %+v, want one update", m)
	}
}

func TestDeliverFakeMachineFailsToStart(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "old"})
	bad := srv.AddMachine("api", fakefly.MachineSpec{FailsToStart: true})
	next := srv.AddMachine("api", fakefly.MachineSpec{})
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, ""), "new", "old"),
		writeItem("dsn", block("api", "DATABASE_URL", ""), "dsn", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{err: "did not start"}, {err: "did not start"}})
	if e := resp.Results[0].Err.Error(); !strings.Contains(e, "stored (version 1)") || !strings.Contains(e, bad) || !strings.Contains(e, "failed") {
		t.Errorf("error %q, want it to say the secrets are stored, which Machine, and that it failed", e)
	}
	// The roll stops at the first failure and lets go of its lease.
	if m := machineOf(t, srv, "api", bad); m.State != "failed" || m.Leased {
		t.Errorf("failing machine %+v", m)
	}
	if m := machineOf(t, srv, "api", next); m.Updates != 0 {
		t.Errorf("the machine after the failing one was updated: %+v", m)
	}
	runs(t, srv, "api", next, map[string]string{jwtKey: "old"})
}

func TestDeliverFakeMachineStartsSlowly(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", nil)
	id := srv.AddMachine("api", fakefly.MachineSpec{SlowStart: 2})
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, ""), "new", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	if c := srv.Calls("api"); c.Waits != 3 || c.MachineGets != 2 {
		t.Errorf("calls %+v, want three waits with a look at the Machine after each timeout", c)
	}
	runs(t, srv, "api", id, map[string]string{jwtKey: "new"})

	// It gives up at the start timeout.
	srv.AddMachine("slow", fakefly.MachineSpec{SlowStart: 1 << 30})
	tgt.startTimeout = 20 * time.Millisecond
	resp, err = tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("slow", jwtKey, ""), "new", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{err: "did not start within 20ms"}})

	// And at ctx's end.
	tgt.startTimeout = startTimeout
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	resp, err = tgt.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("slow", jwtKey, ""), "newer", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{err: "not all deployed"}})
}

func TestDeliverFakeMachineLeased(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", nil)
	id := srv.AddMachine("api", fakefly.MachineSpec{})
	srv.HoldLease("api", id)
	tgt := newTarget(t, srv, nil)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, ""), "new", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{err: "another deploy holds a lease"}})
	if c := srv.Calls("api"); c.MachineUpdates != 0 || c.Releases != 0 {
		t.Errorf("calls %+v, want no update and nothing to release", c)
	}
}

// TestDeliverFakeMachineChangedBeforeLease changes the Machine between
// rotplan's listing and its lease, as a deploy finishing then would: the
// update must carry the config the Machine has now.
func TestDeliverFakeMachineChangedBeforeLease(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", nil)
	id := srv.AddMachine("api", fakefly.MachineSpec{})
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/lease") {
			once.Do(func() {
				body := `{"config":{"image":"registry.fly.io/api:deployment-02","metadata":{"fly_platform_version":"v2","fly_process_group":"app"}}}`
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/apps/api/machines/"+id, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+fakefly.DefaultToken)
				req.Header.Set("Content-Type", "application/json")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
				if req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/apps/api/machines/"+id+"/wait", nil); err == nil {
					req.Header.Set("Authorization", "Bearer "+fakefly.DefaultToken)
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}
			})
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	tgt := newTarget(t, srv, nil)
	tgt.client.base, _ = url.Parse(front.URL)

	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{
		writeItem("jwt", block("api", jwtKey, ""), "new", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	if m := machineOf(t, srv, "api", id); m.Image != "registry.fly.io/api:deployment-02" || m.Updates != 2 {
		t.Errorf("machine %+v: the deploy sent back the config it listed, undoing the other update", m)
	}
	if c := srv.Calls("api"); c.MachineGets != 1 {
		t.Errorf("calls %+v, want the Machine read again under the lease", c)
	}
	runs(t, srv, "api", id, map[string]string{jwtKey: "new"})
}

func TestDeliverFakeMachineAPIErrors(t *testing.T) {
	ctx := context.Background()
	deliver := func(t *testing.T, srv *fakefly.Server) error {
		t.Helper()
		resp, err := newTarget(t, srv, nil).Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{
			writeItem("jwt", block("api", jwtKey, ""), "new", "old"),
		}})
		if err != nil {
			return err
		}
		return resp.Results[0].Err
	}
	t.Run("5xx is retried", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		id := srv.AddMachine("api", fakefly.MachineSpec{})
		srv.Fail("api", fakefly.Failure{Status: 502, Message: "bad gateway", Machines: true}, fakefly.Failure{Status: 503, Message: "busy", Machines: true, Writes: true})
		if err := deliver(t, srv); err != nil {
			t.Fatal(err)
		}
		runs(t, srv, "api", id, map[string]string{jwtKey: "new"})
		// The list is sent again; a lease is not (the 503 might have
		// granted one), so the deploy starts again with a new list.
		if c := srv.Calls("api"); c.MachineLists != 3 || c.Leases != 2 || c.MachineUpdates != 1 {
			t.Errorf("calls %+v, want the list retried and the deploy begun again after the lease's 503", c)
		}
	})
	t.Run("403 on the lease", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		srv.AddMachine("api", fakefly.MachineSpec{})
		srv.Fail("api", fakefly.Failure{Status: 403, Message: "forbidden", Machines: true, Writes: true})
		err := deliver(t, srv)
		if err == nil || !strings.Contains(err.Error(), "may not update this app's Machines") {
			t.Fatalf("err = %v, want a hint about the token", err)
		}
		if c := srv.Calls("api"); c.MachineUpdates != 0 {
			t.Errorf("calls %+v", c)
		}
	})
	t.Run("no Machines", func(t *testing.T) {
		srv := fakefly.New(t)
		srv.Seed("api", nil)
		if err := deliver(t, srv); err != nil {
			t.Fatal(err)
		}
		if c := srv.Calls("api"); c.MachineLists != 1 || c.MachineUpdates != 0 {
			t.Errorf("calls %+v", c)
		}
	})
}

func TestDeploys(t *testing.T) {
	tests := map[string]struct {
		config cty.Value
		want   bool
		err    string
	}{
		"absent":  {block("api", "K", ""), true, ""},
		"null":    {cty.ObjectVal(map[string]cty.Value{"app": cty.StringVal("api"), "deploy": cty.NullVal(cty.Bool)}), true, ""},
		"false":   {staged("api", "K", ""), false, ""},
		"unknown": {cty.ObjectVal(map[string]cty.Value{"deploy": cty.UnknownVal(cty.Bool)}), false, "not known"},
		"string":  {cty.ObjectVal(map[string]cty.Value{"deploy": cty.StringVal("yes")}), false, "true or false"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Deploys(tc.config)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Deploys = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestRotationNote(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	if schema, ok := r.Schema(config.KindTarget, "fly"); !ok || schema.RotationNote == nil {
		t.Fatal("target fly has no rotation note")
	}
	if n := rotationNote(block("api", "K", "")); !strings.Contains(n, "restart one at a time") {
		t.Errorf("note %q", n)
	}
	if n := rotationNote(staged("api", "K", "")); !strings.Contains(n, "a person deploys") || !strings.Contains(n, "fly secrets deploy") {
		t.Errorf("note %q", n)
	}
	if n := rotationNote(cty.ObjectVal(map[string]cty.Value{"app": cty.StringVal("api"), "key": cty.StringVal("K"), "deploy": cty.StringVal(canary)})); strings.Contains(n, canary) {
		t.Errorf("note %q quotes an attribute", n)
	}
}
