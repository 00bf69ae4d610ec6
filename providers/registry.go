package providers

import (
	"fmt"
	"sort"

	"github.com/rotplan/rotplan/config"
)

// Factories build provider instances; nil means the type is declared by
// schema only and not implemented yet.
type (
	StoreFactory     func(Settings) (Store, error)
	GeneratorFactory func(Settings) (Generator, error)
	TargetFactory    func(Settings) (Target, error)
	VerifierFactory  func(Settings) (Verifier, error)
)

// Entry is one registered block type.
type Entry struct {
	Kind   config.BlockKind
	Type   string
	Schema config.BlockSchema

	store     StoreFactory
	generator GeneratorFactory
	target    TargetFactory
	verifier  VerifierFactory
}

// Registry maps block types to schemas and factories. It implements
// config.Schemas.
type Registry struct {
	entries map[config.BlockKind]map[string]*Entry
}

var _ config.Schemas = (*Registry)(nil)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{entries: map[config.BlockKind]map[string]*Entry{}}
}

func (r *Registry) add(e *Entry) {
	byType := r.entries[e.Kind]
	if byType == nil {
		byType = map[string]*Entry{}
		r.entries[e.Kind] = byType
	}
	if _, dup := byType[e.Type]; dup {
		panic(fmt.Sprintf("providers: %s type %q registered twice", e.Kind, e.Type))
	}
	e.Schema.NotImplemented = e.store == nil && e.generator == nil && e.target == nil && e.verifier == nil && e.Kind != config.KindProvider
	byType[e.Type] = e
}

// Provider registers the schema of a provider block (shared settings).
func (r *Registry) Provider(name string, schema config.BlockSchema) {
	r.add(&Entry{Kind: config.KindProvider, Type: name, Schema: schema})
}

// Store registers a store type; a nil factory declares it by schema only.
func (r *Registry) Store(typ string, schema config.BlockSchema, f StoreFactory) {
	r.add(&Entry{Kind: config.KindStore, Type: typ, Schema: schema, store: f})
}

// Generator registers a generator type; a nil factory declares it only.
func (r *Registry) Generator(typ string, schema config.BlockSchema, f GeneratorFactory) {
	r.add(&Entry{Kind: config.KindGenerate, Type: typ, Schema: schema, generator: f})
}

// Target registers a target type; a nil factory declares it only.
func (r *Registry) Target(typ string, schema config.BlockSchema, f TargetFactory) {
	r.add(&Entry{Kind: config.KindTarget, Type: typ, Schema: schema, target: f})
}

// Verifier registers a verify type; a nil factory declares it only.
func (r *Registry) Verifier(typ string, schema config.BlockSchema, f VerifierFactory) {
	r.add(&Entry{Kind: config.KindVerify, Type: typ, Schema: schema, verifier: f})
}

// Schema implements config.Schemas.
func (r *Registry) Schema(kind config.BlockKind, typ string) (*config.BlockSchema, bool) {
	e, ok := r.entries[kind][typ]
	if !ok {
		return nil, false
	}
	return &e.Schema, true
}

// TypeNames implements config.Schemas.
func (r *Registry) TypeNames(kind config.BlockKind) []string {
	names := make([]string, 0, len(r.entries[kind]))
	for name := range r.entries[kind] {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (r *Registry) lookup(kind config.BlockKind, typ string) (*Entry, error) {
	e, ok := r.entries[kind][typ]
	if !ok {
		return nil, fmt.Errorf("unknown %s type %q", kind, typ)
	}
	if e.Schema.NotImplemented {
		return nil, fmt.Errorf("%s %q: %w", kind, typ, ErrNotImplemented)
	}
	return e, nil
}

// NewStore builds a store of the given type.
func (r *Registry) NewStore(typ string, s Settings) (Store, error) {
	e, err := r.lookup(config.KindStore, typ)
	if err != nil {
		return nil, err
	}
	return e.store(s)
}

// NewGenerator builds a generator of the given type.
func (r *Registry) NewGenerator(typ string, s Settings) (Generator, error) {
	e, err := r.lookup(config.KindGenerate, typ)
	if err != nil {
		return nil, err
	}
	return e.generator(s)
}

// NewTarget builds a target of the given type.
func (r *Registry) NewTarget(typ string, s Settings) (Target, error) {
	e, err := r.lookup(config.KindTarget, typ)
	if err != nil {
		return nil, err
	}
	return e.target(s)
}

// NewVerifier builds a verifier of the given type.
func (r *Registry) NewVerifier(typ string, s Settings) (Verifier, error) {
	e, err := r.lookup(config.KindVerify, typ)
	if err != nil {
		return nil, err
	}
	return e.verifier(s)
}
