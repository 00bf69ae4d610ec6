package executor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
	"github.com/rotplan/rotplan/providers"
)

// DefaultObserveParallelism bounds how many provider calls observation makes
// at once.
const DefaultObserveParallelism = 8

// Observer gathers what the planner needs from the live systems.
type Observer struct {
	Providers   *Providers
	Logger      hclog.Logger
	Parallelism int
	// Now is the time plan is evaluated at, for the stores that confirm
	// what plan would act on (InspectRequest.Acts); nil means time.Now.
	Now func() time.Time
}

// Observe asks every store and target of the inventory what it holds. A
// provider that fails marks its secrets as errors; the others are still
// observed.
func (o *Observer) Observe(ctx context.Context, inv *config.Inventory) *planner.Observations {
	obs := &planner.Observations{Secrets: make(map[string]*planner.SecretObservation, len(inv.Secrets))}
	for _, s := range inv.Secrets {
		obs.Secrets[s.Name] = &planner.SecretObservation{Targets: make([]planner.TargetObservation, len(s.Targets))}
		for i, t := range s.Targets {
			obs.Secrets[s.Name].Targets[i].Address = t.Address()
		}
		o.checkImplemented(s, obs.Secrets[s.Name])
	}
	logger := o.logger()

	// Stores first: drift checks need the current and previous values.
	var mu sync.Mutex
	held := map[string]heldValues{}
	o.forEachGroup(ctx, inv, obs, storeBlocks, func(ctx context.Context, blocks []group) {
		vals := o.observeStore(ctx, inv, blocks, obs, logger)
		mu.Lock()
		for k, v := range vals {
			held[k] = v
		}
		mu.Unlock()
	})
	o.forEachGroup(ctx, inv, obs, targetBlocks, func(ctx context.Context, blocks []group) {
		o.observeTargets(ctx, inv, blocks, held, obs, logger)
	})
	return obs
}

// heldValues are the values a store holds for one secret that targets are
// compared with, and what its targets asked the store to record.
type heldValues struct {
	current, previous sensitive.Value
	records           map[string]string
}

// group is one block of one secret, grouped with others of its type.
type group struct {
	secret *config.Secret
	block  *config.Block
	// target is the block's index among its secret's targets.
	target int
}

func storeBlocks(s *config.Secret) []group {
	if s.Store == nil {
		return nil
	}
	return []group{{secret: s, block: s.Store}}
}

func targetBlocks(s *config.Secret) []group {
	out := make([]group, len(s.Targets))
	for i, t := range s.Targets {
		out[i] = group{secret: s, block: t, target: i}
	}
	return out
}

// forEachGroup calls fn once per provider instance (block type and
// provider block) with every block it serves whose secret is still
// observable, running the instances concurrently.
func (o *Observer) forEachGroup(ctx context.Context, inv *config.Inventory, obs *planner.Observations, blocksOf func(*config.Secret) []group, fn func(context.Context, []group)) {
	byInstance := map[instanceKey][]group{}
	var keys []instanceKey
	for _, s := range inv.Secrets {
		if obs.Secrets[s.Name].Err != "" {
			continue
		}
		for _, g := range blocksOf(s) {
			key := keyOf(g.block)
			if byInstance[key] == nil {
				keys = append(keys, key)
			}
			byInstance[key] = append(byInstance[key], g)
		}
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(o.parallelism())
	for _, key := range keys {
		eg.Go(func() error {
			fn(ctx, byInstance[key])
			return nil
		})
	}
	_ = eg.Wait()
}

// observeStore inspects one store instance's secrets and reads the current
// and previous values of those that have targets to compare.
func (o *Observer) observeStore(ctx context.Context, inv *config.Inventory, blocks []group, obs *planner.Observations, logger hclog.Logger) map[string]heldValues {
	typ := blocks[0].block.Type
	fail := func(err error) map[string]heldValues {
		for _, g := range blocks {
			obs.Secrets[g.secret.Name].Err = fmt.Sprintf("store %s: %s", typ, err)
		}
		return nil
	}
	store, err := o.Providers.Store(inv, blocks[0].block)
	if err != nil {
		return fail(err)
	}
	refs := make([]providers.SecretRef, len(blocks))
	for i, g := range blocks {
		refs[i] = providers.SecretRef{Name: g.secret.Name, Config: g.block.Config}
	}
	logger.Debug("inspecting store", "type", typ, "secrets", len(refs))
	now := o.now()
	resp, err := store.Inspect(ctx, providers.InspectRequest{Secrets: refs, Acts: func(name string, st *providers.StoredSecret) bool {
		s := inv.Secret(name)
		return s != nil && acts(s, st, now)
	}})
	if err != nil {
		return fail(err)
	}

	var current, previous []providers.SecretRef
	for i, g := range blocks {
		so := obs.Secrets[g.secret.Name]
		stored := resp.Secrets[g.secret.Name]
		if stored == nil {
			continue
		}
		if stored.Err != nil {
			so.Err = stored.Err.Error() // a provider's own errors name it
			continue
		}
		fillStored(so, stored)
		if len(g.secret.Targets) == 0 {
			continue
		}
		if so.Exists {
			current = append(current, refs[i])
		}
		if so.Previous != nil {
			previous = append(previous, refs[i])
		}
	}
	out := map[string]heldValues{}
	for _, g := range blocks {
		if st := resp.Secrets[g.secret.Name]; st != nil && st.Err == nil && len(st.Records) > 0 {
			out[g.secret.Name] = heldValues{records: st.Records}
		}
	}
	for _, read := range []struct {
		slot providers.Slot
		refs []providers.SecretRef
		set  func(*heldValues, sensitive.Value)
	}{
		{providers.SlotCurrent, current, func(h *heldValues, v sensitive.Value) { h.current = v }},
		{providers.SlotPrevious, previous, func(h *heldValues, v sensitive.Value) { h.previous = v }},
	} {
		if len(read.refs) == 0 {
			continue
		}
		resp, err := store.Read(ctx, providers.ReadRequest{Secrets: read.refs, Slot: read.slot})
		if err != nil {
			for _, ref := range read.refs {
				obs.Secrets[ref.Name].Err = fmt.Sprintf("store %s: read %s value: %s", typ, read.slot, err)
			}
			continue
		}
		for name, err := range resp.Errors {
			obs.Secrets[name].Err = fmt.Sprintf("read %s value: %s", read.slot, err)
		}
		for name, v := range resp.Values {
			h := out[name]
			read.set(&h, v)
			out[name] = h
		}
	}
	return out
}

// acts reports whether plan, as of now, would act on a secret whose store
// describes it as st: the stores whose listings may lag confirm those. It
// errs towards yes (a secret due soon counts), since a confirmation costs a
// call and nothing more.
func acts(s *config.Secret, st *providers.StoredSecret, now time.Time) bool {
	switch {
	case st == nil:
		return true // missing: plan would create it
	case st.Err != nil:
		return false
	case st.Current == nil || st.Pending != nil:
		return true
	case st.ManagedBy != "":
		return false
	case st.Previous != nil && !now.Before(st.Previous.RetireAfter):
		return true
	}
	basis := st.RotatedAt
	if basis.IsZero() {
		basis = st.Current.CreatedAt
	}
	return !now.Before(basis.Add(s.Frequency - s.Notice))
}

func fillStored(so *planner.SecretObservation, st *providers.StoredSecret) {
	so.RotatedAt = st.RotatedAt
	so.ManagedBy = st.ManagedBy
	if st.Current != nil {
		so.Exists = true
		so.CurrentCreatedAt = st.Current.CreatedAt
	}
	if st.Pending != nil {
		so.Pending = &planner.PendingVersion{CreatedAt: st.Pending.CreatedAt, Resumable: st.Pending.Rotation != "", Failed: st.Pending.Failed}
	}
	if st.Previous != nil {
		so.Previous = &planner.PreviousVersion{RetireAfter: st.Previous.RetireAfter}
	}
}

// observeTargets asks one target instance what each of its blocks holds. The
// targets of a secret not in the store yet are asked too, with no value:
// what they already accept is what a create takes over.
func (o *Observer) observeTargets(ctx context.Context, inv *config.Inventory, blocks []group, held map[string]heldValues, obs *planner.Observations, logger hclog.Logger) {
	typ := blocks[0].block.Type
	var items []providers.ObserveItem
	var asked []group
	for _, g := range blocks {
		so := obs.Secrets[g.secret.Name]
		if so.Err != "" || so.Pending != nil {
			continue // a rotation under way: what targets hold is in flux
		}
		h := held[g.secret.Name]
		current, err := fieldOf(g.block, h.current)
		var previous sensitive.Value
		if err == nil {
			previous, err = fieldOf(g.block, h.previous)
		}
		if err != nil {
			obs.Secrets[g.secret.Name].Targets[g.target].Err = err.Error()
			continue
		}
		items = append(items, providers.ObserveItem{
			Secret:   g.secret.Name,
			Target:   g.block.Address(),
			Config:   g.block.Config,
			Current:  current,
			Previous: previous,
			Recorded: h.records[g.block.Address()],
		})
		asked = append(asked, g)
	}
	if len(items) == 0 {
		return
	}
	fail := func(err error) {
		for _, g := range asked {
			obs.Secrets[g.secret.Name].Targets[g.target].Err = fmt.Sprintf("target %s: %s", typ, err)
		}
	}
	target, err := o.Providers.Target(inv, blocks[0].block)
	if err != nil {
		fail(err)
		return
	}
	logger.Debug("observing targets", "type", typ, "items", len(items))
	resp, err := target.Observe(ctx, providers.ObserveRequest{Items: items})
	if err != nil {
		fail(err)
		return
	}
	if len(resp.Results) != len(items) {
		fail(fmt.Errorf("provider answered %d of %d items", len(resp.Results), len(items)))
		return
	}
	for i, g := range asked {
		to := &obs.Secrets[g.secret.Name].Targets[g.target]
		to.Holds = holding(resp.Results[i].Holds)
		to.Unknown = resp.Results[i].Unknown
		if err := resp.Results[i].Err; err != nil {
			to.Err = err.Error()
		}
	}
}

// checkImplemented marks a secret whose blocks include a type that is
// declared by schema only: plan says so rather than pretend.
func (o *Observer) checkImplemented(s *config.Secret, so *planner.SecretObservation) {
	blocks := append([]*config.Block{s.Store, s.Generate}, s.Targets...)
	blocks = append(blocks, s.Verify...)
	for _, b := range blocks {
		if b != nil && b.Schema != nil && b.Schema.NotImplemented {
			so.Err = fmt.Sprintf("%s %q: %s", b.Kind, b.Type, providers.ErrNotImplemented)
			return
		}
	}
}

func holding(h providers.Holding) planner.Holding {
	switch h {
	case providers.HoldsCurrent:
		return planner.HoldsCurrent
	case providers.HoldsOther:
		return planner.HoldsOther
	case providers.HoldsNothing:
		return planner.HoldsNothing
	}
	return planner.HoldsUnknown
}

func (o *Observer) logger() hclog.Logger {
	if o.Logger == nil {
		return hclog.NewNullLogger()
	}
	return o.Logger
}

func (o *Observer) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o *Observer) parallelism() int {
	if o.Parallelism < 1 {
		return DefaultObserveParallelism
	}
	return o.Parallelism
}
