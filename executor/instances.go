package executor

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Providers builds the provider instances of one run: one per block kind,
// block type and provider block (provider "aws" and provider "aws" "prod"
// are two), built on first use, shared by observation and apply, and
// closed together at the end. An AWS SDK configuration is loaded once, and
// two accounts in one inventory never share a client.
type Providers struct {
	registry *providers.Registry
	logger   hclog.Logger

	mu        sync.Mutex
	instances map[instanceKey]any
	order     []any // in the order built, for Close
}

// instanceKey names one provider instance.
type instanceKey struct {
	kind     config.BlockKind
	typ      string
	provider *config.Provider // nil when the type shares no settings
}

// NewProviders returns an empty set of instances over registry.
func NewProviders(registry *providers.Registry, logger hclog.Logger) *Providers {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Providers{registry: registry, logger: logger, instances: map[instanceKey]any{}}
}

// Store returns the store instance for block b.
func (p *Providers) Store(inv *config.Inventory, b *config.Block) (providers.Store, error) {
	v, err := p.instance(inv, b, func(s providers.Settings) (any, error) { return p.registry.NewStore(b.Type, s) })
	if err != nil {
		return nil, err
	}
	return v.(providers.Store), nil
}

// Target returns the target instance for block b.
func (p *Providers) Target(inv *config.Inventory, b *config.Block) (providers.Target, error) {
	v, err := p.instance(inv, b, func(s providers.Settings) (any, error) { return p.registry.NewTarget(b.Type, s) })
	if err != nil {
		return nil, err
	}
	return v.(providers.Target), nil
}

// Generator returns the generator instance for block b.
func (p *Providers) Generator(inv *config.Inventory, b *config.Block) (providers.Generator, error) {
	v, err := p.instance(inv, b, func(s providers.Settings) (any, error) { return p.registry.NewGenerator(b.Type, s) })
	if err != nil {
		return nil, err
	}
	return v.(providers.Generator), nil
}

// Verifier returns the check instance for block b.
func (p *Providers) Verifier(inv *config.Inventory, b *config.Block) (providers.Verifier, error) {
	v, err := p.instance(inv, b, func(s providers.Settings) (any, error) { return p.registry.NewVerifier(b.Type, s) })
	if err != nil {
		return nil, err
	}
	return v.(providers.Verifier), nil
}

// instance returns the instance for b's kind, type and provider block,
// building it the first time. A factory that fails is asked again next
// time: the failure may have been passing (a credential not yet there).
func (p *Providers) instance(inv *config.Inventory, b *config.Block, build func(providers.Settings) (any, error)) (any, error) {
	key := keyOf(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.instances[key]; ok {
		return v, nil
	}
	s := providers.Settings{Dir: inv.Dir, Provider: cty.NilVal, Logger: p.logger.Named(b.Type)}
	if b.Provider != nil {
		s.Provider = b.Provider.Config
	}
	v, err := build(s)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", b.Kind, b.Type, err)
	}
	p.instances[key] = v
	p.order = append(p.order, v)
	return v, nil
}

// Close closes every instance that holds something open (an SDK client, a
// connection pool), last built first.
func (p *Providers) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for i := len(p.order) - 1; i >= 0; i-- {
		if c, ok := p.order[i].(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	p.instances, p.order = map[instanceKey]any{}, nil
	return errors.Join(errs...)
}

// keyOf names the instance that serves block b.
func keyOf(b *config.Block) instanceKey {
	return instanceKey{kind: b.Kind, typ: b.Type, provider: b.Provider}
}
