package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
	"github.com/rotplan/rotplan/providers"
)

// The executor's tests run it against recording fakes of the provider
// interfaces: a store, two targets (one that checks logins, one that holds
// copies), a generator, a check and a manual generator. The fakes keep
// what they hold in memory, follow the providers package's contracts
// (idempotent steps, pending versions by rotation id), record every call
// in one log in the order it happened, and fail where a test says.

// world is one test's systems and call log.
type world struct {
	t  *testing.T
	mu sync.Mutex
	// calls is every provider call, as "op secret[ detail]".
	calls []string
	// store holds each secret's slots.
	store map[string]*slots
	// targets holds what each target block holds, by "secret target".
	targets map[string]*held
	// failures makes the named calls fail: "deliver secret.target",
	// "verify db", "promote db", "revert db.target", ...
	failures map[string]error
	// verifyGate, when set, is waited on by every check (a check that
	// takes a while); it ends early when the check's context ends.
	verifyGate chan struct{}
	// verifyStarted is signalled as each check starts.
	verifyStarted chan string
	generated     int
	// keys are the keys the fake issuer holds, by secret.
	keys map[string][]mintedKey
}

type slots struct {
	current, pending, previous sensitive.Value
	rotation                   string // the pending version's rotation
	failed                     bool
	retireAfter                time.Time
}

type held struct{ value, previous sensitive.Value }

func newWorld(t *testing.T) *world {
	return &world{t: t, store: map[string]*slots{}, targets: map[string]*held{}, failures: map[string]error{}, keys: map[string][]mintedKey{}}
}

func (w *world) record(format string, args ...any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	call := fmt.Sprintf(format, args...)
	w.calls = append(w.calls, call)
	return w.failures[call]
}

// log returns the calls recorded so far whose text starts with one of
// prefixes (all calls when none are given).
func (w *world) log(prefixes ...string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, c := range w.calls {
		if len(prefixes) == 0 {
			out = append(out, c)
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(c, p) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func (w *world) slot(name string) *slots {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.store[name]
	if s == nil {
		s = &slots{}
		w.store[name] = s
	}
	return s
}

func (w *world) holds(secret, target string) held {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.targets[secret+" "+target]; h != nil {
		return *h
	}
	return held{}
}

// seed gives a secret a current value, held by its targets too.
func (w *world) seed(name, value string, targets ...string) {
	w.slot(name).current = sensitive.New(value)
	for _, t := range targets {
		w.targets[name+" "+t] = &held{value: sensitive.New(value)}
	}
}

// fakeStore is a store "fake".
type fakeStore struct{ w *world }

var (
	_ providers.StoreWriter   = fakeStore{}
	_ providers.FailureMarker = fakeStore{}
)

func (s fakeStore) Inspect(_ context.Context, req providers.InspectRequest) (*providers.InspectResponse, error) {
	resp := &providers.InspectResponse{Secrets: map[string]*providers.StoredSecret{}}
	for _, ref := range req.Secrets {
		sl := s.w.slot(ref.Name)
		st := &providers.StoredSecret{}
		if !sl.current.IsEmpty() {
			st.Current = &providers.Version{CreatedAt: time.Now().Add(-100 * 24 * time.Hour)}
		}
		if !sl.pending.IsEmpty() {
			st.Pending = &providers.Version{Rotation: sl.rotation, Failed: sl.failed, CreatedAt: time.Now()}
		}
		if !sl.previous.IsEmpty() {
			st.Previous = &providers.Version{RetireAfter: sl.retireAfter}
		}
		resp.Secrets[ref.Name] = st
	}
	return resp, nil
}

func (s fakeStore) Read(_ context.Context, req providers.ReadRequest) (*providers.ReadResponse, error) {
	resp := &providers.ReadResponse{Values: map[string]sensitive.Value{}, Errors: map[string]error{}}
	for _, ref := range req.Secrets {
		sl := s.w.slot(ref.Name)
		v := map[providers.Slot]sensitive.Value{providers.SlotCurrent: sl.current, providers.SlotPending: sl.pending, providers.SlotPrevious: sl.previous}[req.Slot]
		if !v.IsEmpty() {
			resp.Values[ref.Name] = v
		}
	}
	return resp, nil
}

func (s fakeStore) Stage(ctx context.Context, req providers.StageRequest) (*providers.StageResponse, error) {
	if err := s.w.record("stage %s", req.Secret.Name); err != nil {
		return nil, err
	}
	sl := s.w.slot(req.Secret.Name)
	switch {
	case sl.rotation == req.Rotation && sl.pending.Equal(req.Value):
	case !sl.pending.IsEmpty():
		return nil, errors.New("a different pending value is already staged")
	default:
		sl.pending, sl.rotation = req.Value, req.Rotation
	}
	return &providers.StageResponse{}, ctx.Err()
}

func (s fakeStore) Promote(ctx context.Context, req providers.PromoteRequest) (*providers.PromoteResponse, error) {
	if err := s.w.record("promote %s", req.Secret.Name); err != nil {
		return nil, err
	}
	sl := s.w.slot(req.Secret.Name)
	switch {
	case sl.pending.IsEmpty() || sl.rotation != req.Rotation:
		return nil, errors.New("no pending value of this rotation")
	case sl.failed:
		return nil, providers.ErrPendingFailed
	}
	sl.previous, sl.current, sl.pending, sl.rotation = sl.current, sl.pending, sensitive.Value{}, ""
	sl.retireAfter = req.RetireAfter
	return &providers.PromoteResponse{}, nil
}

func (s fakeStore) Discard(ctx context.Context, req providers.DiscardRequest) (*providers.DiscardResponse, error) {
	if err := s.w.record("discard %s", req.Secret.Name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sl := s.w.slot(req.Secret.Name)
	if sl.rotation == req.Rotation {
		sl.pending, sl.rotation, sl.failed = sensitive.Value{}, "", false
	}
	return &providers.DiscardResponse{}, nil
}

func (s fakeStore) RetirePrevious(_ context.Context, req providers.RetirePreviousRequest) (*providers.RetirePreviousResponse, error) {
	if err := s.w.record("retire-previous %s", req.Secret.Name); err != nil {
		return nil, err
	}
	s.w.slot(req.Secret.Name).previous = sensitive.Value{}
	return &providers.RetirePreviousResponse{}, nil
}

func (s fakeStore) MarkFailed(_ context.Context, req providers.MarkFailedRequest) (*providers.MarkFailedResponse, error) {
	if err := s.w.record("mark-failed %s", req.Secret.Name); err != nil {
		return nil, err
	}
	sl := s.w.slot(req.Secret.Name)
	if sl.rotation == req.Rotation {
		sl.failed = true
	}
	return &providers.MarkFailedResponse{}, nil
}

// fakeTarget is a target type: "login" checks logins, "copy" holds copies.
type fakeTarget struct {
	w   *world
	typ string
}

var _ providers.TargetWriter = fakeTarget{}

func (t fakeTarget) Observe(_ context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	for i, it := range req.Items {
		h := t.w.holds(it.Secret, it.Target)
		switch {
		case h.value.IsEmpty():
			resp.Results[i].Holds = providers.HoldsNothing
		case h.value.Equal(it.Current):
			resp.Results[i].Holds = providers.HoldsCurrent
		default:
			resp.Results[i].Holds = providers.HoldsOther
		}
	}
	return resp, nil
}

func (t fakeTarget) write(ctx context.Context, op string, items []providers.WriteItem, apply func(h *held, it providers.WriteItem)) (*providers.WriteResponse, error) {
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(items))}
	var names []string
	for _, it := range items {
		names = append(names, it.Secret)
	}
	// One call per target type for a batch: recorded once, with its items.
	if err := t.w.record("%s %s %s", op, t.typ, strings.Join(names, ",")); err != nil {
		return nil, err
	}
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			resp.Results[i].Err = err
			continue
		}
		if err := t.w.failures[op+" "+it.Secret+"."+t.typ]; err != nil {
			resp.Results[i].Err = err
			continue
		}
		t.w.mu.Lock()
		key := it.Secret + " " + it.Target
		if t.w.targets[key] == nil {
			t.w.targets[key] = &held{}
		}
		apply(t.w.targets[key], it)
		t.w.mu.Unlock()
	}
	return resp, nil
}

func (t fakeTarget) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, "deliver", req.Items, func(h *held, it providers.WriteItem) { h.value, h.previous = it.Value, it.Previous })
}

func (t fakeTarget) Revert(ctx context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, "revert", req.Items, func(h *held, it providers.WriteItem) { h.value, h.previous = it.Value, sensitive.Value{} })
}

func (t fakeTarget) Retire(ctx context.Context, req providers.RetireRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, "retire", req.Items, func(h *held, it providers.WriteItem) { h.previous = sensitive.Value{} })
}

// fakeGenerator makes "gen-N-SECRET".
type fakeGenerator struct{ w *world }

func (g fakeGenerator) Generate(_ context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	if err := g.w.record("generate %s", req.Secret); err != nil {
		return nil, err
	}
	g.w.mu.Lock()
	g.w.generated++
	n := g.w.generated
	g.w.mu.Unlock()
	return &providers.GenerateResponse{Value: sensitive.New(fmt.Sprintf("gen-%d-%s", n, req.Secret))}, nil
}

// fakeVerifier is a check "fake": it passes unless the world fails it.
type fakeVerifier struct{ w *world }

func (v fakeVerifier) Verify(ctx context.Context, req providers.VerifyRequest) (*providers.VerifyResponse, error) {
	if v.w.verifyStarted != nil {
		v.w.verifyStarted <- req.Secret
	}
	if v.w.verifyGate != nil {
		select {
		case <-v.w.verifyGate:
		case <-ctx.Done():
			_ = v.w.record("verify %s", req.Secret)
			return nil, fmt.Errorf("check cut short: %w", ctx.Err())
		}
	}
	if err := v.w.record("verify %s", req.Secret); err != nil {
		return nil, err
	}
	return &providers.VerifyResponse{}, nil
}

// registry returns a registry of the fakes.
func (w *world) registry() *providers.Registry {
	r := providers.NewRegistry()
	spec := &hcldec.ObjectSpec{
		"note":                &hcldec.AttrSpec{Name: "note", Type: cty.String},
		"instructions":        &hcldec.AttrSpec{Name: "instructions", Type: cty.String},
		"revoke_instructions": &hcldec.AttrSpec{Name: "revoke_instructions", Type: cty.String},
		"template":            &hcldec.AttrSpec{Name: "template", Type: cty.String},
	}
	r.Store("fake", config.BlockSchema{Spec: spec}, func(providers.Settings) (providers.Store, error) { return fakeStore{w}, nil })
	r.Generator("fake", config.BlockSchema{Spec: spec}, func(providers.Settings) (providers.Generator, error) { return fakeGenerator{w}, nil })
	r.Generator("manual", config.BlockSchema{Spec: spec, Manual: true}, func(providers.Settings) (providers.Generator, error) { return fakeGenerator{w}, nil })
	r.Generator("template", config.BlockSchema{Spec: spec}, func(providers.Settings) (providers.Generator, error) { return templateGenerator{w}, nil })
	r.Target("login", config.BlockSchema{Spec: spec, Authenticates: true}, func(providers.Settings) (providers.Target, error) { return fakeTarget{w, "login"}, nil })
	r.Target("copy", config.BlockSchema{Spec: spec}, func(providers.Settings) (providers.Target, error) { return fakeTarget{w, "copy"}, nil })
	r.Verifier("fake", config.BlockSchema{Spec: spec}, func(providers.Settings) (providers.Verifier, error) { return fakeVerifier{w}, nil })
	r.Generator("issued", config.BlockSchema{Spec: spec, Fields: []string{"key_id", "secret"}}, func(providers.Settings) (providers.Generator, error) { return &fakeIssuer{w}, nil })
	return r
}

// fakeIssuer is a generate "issued": it mints keys {key_id, secret} the
// way an IAM user's access keys are, and revokes them by id.
type fakeIssuer struct{ w *world }

var _ providers.Issuer = (*fakeIssuer)(nil)

// mintedKey is a key the fake issuer holds for a secret.
type mintedKey struct {
	id      string
	secret  string
	created time.Time
}

func (is *fakeIssuer) Generate(_ context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	if err := is.w.record("mint %s", req.Secret); err != nil {
		return nil, err
	}
	is.w.mu.Lock()
	defer is.w.mu.Unlock()
	is.w.generated++
	k := mintedKey{id: fmt.Sprintf("k-%d", is.w.generated), secret: fmt.Sprintf("s-%d", is.w.generated), created: time.Now()}
	is.w.keys[req.Secret] = append(is.w.keys[req.Secret], k)
	v := sensitive.FromFields(map[string]sensitive.Value{"key_id": sensitive.New(k.id), "secret": sensitive.New(k.secret)})
	return &providers.GenerateResponse{Value: v, ID: k.id}, nil
}

func (is *fakeIssuer) Revoke(_ context.Context, req providers.RevokeRequest) (*providers.RevokeResponse, error) {
	id := req.ID
	if id == "" {
		f, err := req.Value.Field("key_id")
		if err != nil {
			return nil, err
		}
		id = f.Reveal()
	}
	if err := is.w.record("revoke %s %s", req.Secret, id); err != nil {
		return nil, err
	}
	is.w.dropKey(req.Secret, id)
	return &providers.RevokeResponse{}, nil
}

func (is *fakeIssuer) Sweep(_ context.Context, req providers.SweepRequest) (*providers.SweepResponse, error) {
	keep := map[string]bool{}
	for _, v := range req.Keep {
		if f, err := v.Field("key_id"); err == nil {
			keep[f.Reveal()] = true
		}
	}
	is.w.mu.Lock()
	var stale []string
	for _, k := range is.w.keys[req.Secret] {
		if !keep[k.id] && !k.created.Before(req.Since) {
			stale = append(stale, k.id)
		}
	}
	is.w.mu.Unlock()
	_ = is.w.record("sweep %s", req.Secret)
	for _, id := range stale {
		is.w.dropKey(req.Secret, id)
	}
	return &providers.SweepResponse{Revoked: stale}, nil
}

func (w *world) dropKey(secret, id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var left []mintedKey
	for _, k := range w.keys[secret] {
		if k.id != id {
			left = append(left, k)
		}
	}
	w.keys[secret] = left
}

// liveKeys lists the ids of the keys the issuer holds for a secret.
func (w *world) liveKeys(secret string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for _, k := range w.keys[secret] {
		ids = append(ids, k.id)
	}
	return strings.Join(ids, " ")
}

// templateGenerator makes its template, as the real one does.
type templateGenerator struct{ w *world }

func (g templateGenerator) Generate(_ context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	if err := g.w.record("generate %s", req.Secret); err != nil {
		return nil, err
	}
	return &providers.GenerateResponse{Value: sensitive.New(req.Config.GetAttr("template").AsString())}, nil
}

// operatorFake answers questions from its fields and records them.
type operatorFake struct {
	w       *world
	values  map[string]string
	revoked map[string]bool
	// interrupt makes every question end as interrupted.
	interrupt bool
}

func (o *operatorFake) Approve(context.Context) (bool, error) { return true, nil }

func (o *operatorFake) Value(_ context.Context, q ValueQuestion) (sensitive.Value, error) {
	_ = o.w.record("ask-value %s", q.Name)
	if o.interrupt {
		return sensitive.Value{}, ErrInterrupted
	}
	if v, ok := o.values[q.Name]; ok {
		return sensitive.New(v), nil
	}
	return sensitive.Value{}, ErrNoOperatorValue
}

func (o *operatorFake) ConfirmRevoked(_ context.Context, q RevokeQuestion) (bool, error) {
	_ = o.w.record("ask-revoked %s", q.Name)
	if o.interrupt {
		return false, ErrInterrupted
	}
	return o.revoked[q.Name], nil
}

// fixture is an inventory, its state and an applier over the fakes.
type fixture struct {
	w      *world
	inv    *config.Inventory
	lock   state.Lock
	st     *state.State
	events []Event
	audit  string
	op     *operatorFake
}

func newFixture(t *testing.T, w *world, hcl string) *fixture {
	t.Helper()
	r := w.registry()
	inv, diags := config.Load(t.TempDir(), map[string][]byte{"main.hcl": []byte(hcl)}, config.Options{Schemas: r, Mode: config.ModeResolve})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	dir := t.TempDir()
	backend := state.NewLocal(filepath.Join(dir, "rotplan.state"))
	lock, err := backend.Lock(context.Background(), state.LockInfo{ID: "test"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Unlock(context.Background()) })
	st, err := backend.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{w: w, inv: inv, lock: lock, st: st, audit: filepath.Join(dir, "audit.jsonl"), op: &operatorFake{w: w}}
}

// applier returns an applier over the fixture, one secret at a time so
// that the call log has one order.
func (f *fixture) applier() *Applier {
	return &Applier{
		Providers:   NewProviders(f.w.registry(), nil),
		Parallelism: 1,
		Events: func(e Event) {
			f.events = append(f.events, e)
		},
		Operator: f.op,
		Who:      "tester",
		Lock:     f.lock,
		State:    f.st,
		Audit:    state.NewAudit(f.audit),
	}
}

// plan observes the fakes and plans as of now.
func (f *fixture) plan(t *testing.T, opts planner.Options) *planner.Plan {
	t.Helper()
	obs := (&Observer{Providers: NewProviders(f.w.registry(), nil)}).Observe(context.Background(), f.inv)
	p, err := planner.Make(f.inv, obs, time.Now(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) apply(t *testing.T, ctx context.Context, opts planner.Options) Result {
	t.Helper()
	return f.applier().Apply(ctx, f.inv, f.plan(t, opts))
}

// journal returns the journal's states by secret.
func (f *fixture) journal() map[string]string {
	out := map[string]string{}
	for name, r := range f.st.Rotations {
		out[name] = r.State
	}
	return out
}

// messages returns the events of a kind as "secret: message".
func (f *fixture) messages(kind EventKind) []string {
	var out []string
	for _, e := range f.events {
		if e.Kind == kind {
			out = append(out, e.Secret+": "+e.Message)
		}
	}
	sort.Strings(out)
	return out
}

func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
