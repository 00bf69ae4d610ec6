package config

import (
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Default notice and grace, used when neither the secret nor the rotplan
// block sets them.
const (
	DefaultNotice = 14 * Day
	DefaultGrace  = 24 * time.Hour
)

// Inventory is every secret an inventory directory declares, decoded and
// validated.
type Inventory struct {
	// Dir is the directory the files were read from.
	Dir string
	// Hash identifies the inventory's exact text: a saved plan is bound to it.
	Hash string
	// Sources holds each file's bytes by name, for diagnostics and fmt.
	Sources map[string][]byte

	Settings Settings
	// Providers are the provider blocks, by address (aws, aws.prod).
	Providers map[string]*Provider
	// Secrets in declaration order (files by name, then position).
	Secrets []*Secret
	byName  map[string]*Secret

	// mode, trust and lookupEnv are what the inventory was loaded with, for
	// decoding blocks again once values are known.
	mode      Mode
	trust     Trust
	lookupEnv func(string) (string, bool)
	// redactor holds the strings env() and file() returned for settings
	// that are not public, for Redact.
	redactor redactor
}

// EvalContext returns the context to decode blocks in once secret values
// are known: values maps secret names to the values their references read
// (secret.NAME.value), which enter marked Sensitive; secrets not in it read
// as unknown. Decode blocks in it with Block.Decode, which takes the marks
// off the result.
func (inv *Inventory) EvalContext(values map[string]cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: inv.variables(values),
		Functions: newFuncEnv(inv.Dir, inv.mode, inv.trust, inv.lookupEnv).functions(),
	}
}

// variables are the secret.NAME.value references of an evaluation context.
func (inv *Inventory) variables(values map[string]cty.Value) map[string]cty.Value {
	secrets := make(map[string]cty.Value, len(inv.Secrets))
	// Of any type: a structured value is an object (secret.NAME.value.FIELD),
	// which load checks against the generator's fields once it knows them.
	unknown := cty.ObjectVal(map[string]cty.Value{"value": cty.DynamicVal})
	for _, s := range inv.Secrets {
		if v, ok := values[s.Name]; ok {
			secrets[s.Name] = cty.ObjectVal(map[string]cty.Value{"value": v.Mark(Sensitive)})
		} else {
			secrets[s.Name] = unknown
		}
	}
	return map[string]cty.Value{"secret": cty.ObjectVal(secrets)}
}

// StringAttr returns a known string attribute of the block's decoded
// configuration, or "" (a generator's instructions, for instance). A value
// env() or file() returned in an untrusted inventory reads as "" unless its
// schema marks the setting Public.
func (b *Block) StringAttr(name string) string {
	s, _ := KnownString(b.shown(), name)
	return s
}

// Decode decodes the block's body again in ctx (from EvalContext), against
// its type's schema. The values ctx holds are marked Sensitive while they
// are evaluated, so no diagnostic quotes one: a function that fails on one
// says so without its error, and HCL's own diagnostics name types, not
// values. The configuration it returns has the marks taken off, for
// providers to read; the diagnostics keep no reference to ctx.
func (b *Block) Decode(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if b.Schema == nil {
		return b.Config, nil
	}
	v, diags := hcldec.Decode(b.Body, b.Schema.Spec, ctx)
	if v != cty.NilVal {
		v, _ = v.UnmarkDeep()
	}
	for _, d := range diags {
		d.EvalContext = nil // it holds the values
	}
	return v, explainFunctionErrors(diags)
}

// Secret returns the secret with the given name, or nil.
func (inv *Inventory) Secret(name string) *Secret { return inv.byName[name] }

// Settings is the rotplan block: defaults and the state backend.
type Settings struct {
	Notice time.Duration
	Grace  time.Duration
	State  StateBackend
}

// StateBackend says where apply keeps its journal and lock: the state
// block, decoded against its backend type's schema (Options.States).
type StateBackend struct {
	Type string
	// Config is the decoded block; cty.NilVal when the inventory has none.
	// An attribute that reads an unset environment variable is unknown.
	Config    cty.Value
	DeclRange hcl.Range
}

// DefaultStateType is the state backend of an inventory without a state
// block: a file beside the inventory.
const DefaultStateType = "local"

// Provider is a provider block: connection settings that many secrets' store
// and target blocks share (an AWS region, a Fly API token).
type Provider struct {
	// Name is the provider's type ("aws"); Alias tells a second block of
	// one type apart (provider "aws" "prod"), "" for the default block.
	Name      string
	Alias     string
	Config    cty.Value
	Body      hcl.Body
	DeclRange hcl.Range
}

// Address names the provider block as blocks refer to it: aws, or aws.prod.
func (p *Provider) Address() string {
	if p.Alias == "" {
		return p.Name
	}
	return p.Name + "." + p.Alias
}

// Secret is one logical credential, addressed as secret.NAME.
type Secret struct {
	Name        string
	Index       int // position in Inventory.Secrets
	Description string
	Frequency   time.Duration
	Notice      time.Duration
	Grace       time.Duration

	Store    *Block
	Generate *Block
	Targets  []*Block
	Verify   []*Block

	// DependsOn lists the secrets named in depends_on: ordering only.
	DependsOn []string
	// Derives lists the secrets whose values this secret's blocks use
	// (secret.NAME.value): this secret is made from them, so it rotates
	// whenever they do.
	Derives []string

	DeclRange hcl.Range
}

// Address is the secret's stable address, secret.NAME.
func (s *Secret) Address() string { return "secret." + s.Name }

// Fields names the fields of the secret's structured value, nil when its
// value is a plain string.
func (s *Secret) Fields() []string {
	if s.Generate == nil || s.Generate.Schema == nil {
		return nil
	}
	return s.Generate.Schema.Fields
}

// blocks lists the secret's blocks: store, generate, targets, checks.
func (s *Secret) blocks() []*Block {
	out := make([]*Block, 0, 2+len(s.Targets)+len(s.Verify))
	for _, b := range []*Block{s.Store, s.Generate} {
		if b != nil {
			out = append(out, b)
		}
	}
	out = append(out, s.Targets...)
	return append(out, s.Verify...)
}

// Needs lists every secret that must be settled before this one: what it
// derives from, then what it depends on, without repeats.
func (s *Secret) Needs() []string {
	out := make([]string, 0, len(s.Derives)+len(s.DependsOn))
	seen := make(map[string]bool, cap(out))
	for _, list := range [][]string{s.Derives, s.DependsOn} {
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Block is a store, generate, target or verify block inside a secret, or a
// provider block's settings: its type names the provider that handles it.
type Block struct {
	Kind BlockKind
	Type string
	// Name is a target's second label ("app" in target "env_file" "app").
	Name string
	// Index is the block's position among its secret's blocks of this kind.
	Index int
	// Body is kept so the executor can decode it again once the values it
	// references (secret.NAME.value) are known.
	Body hcl.Body
	// Config is the body decoded against the type's schema, for providers;
	// values that come from other secrets are unknown here, and so are
	// those of env() and file() in the settings plan does not evaluate
	// (ModePlan).
	Config cty.Value
	// hidden lists the paths of Config whose values env() or file()
	// returned in an untrusted inventory, in settings the schema does not
	// mark Public: nothing rotplan prints may show them.
	hidden []cty.Path
	// shownConfig is Config with the values at hidden unknown.
	shownConfig cty.Value
	Schema      *BlockSchema
	// Provider is the provider block this block's type shares settings
	// with, or nil when the inventory has none.
	Provider *Provider
	// Field, on a target or a check of a secret with a structured value,
	// names the field it takes (field = "password"); "" for the whole
	// value.
	Field      string
	FieldRange hcl.Range
	// Destinations are the places the block writes its secret's value, as
	// its schema's Writes reports them from Config: each File absolute and
	// clean with its symbolic links resolved, each empty Key the secret's
	// name. A place not known when loading (from an env() unset while
	// validating, or from another secret's value) is left out.
	Destinations []Destination

	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Address names the block within its secret: store.local, generate.password,
// target.env_file.app, verify.http[0].
func (b *Block) Address() string {
	switch b.Kind {
	case KindTarget:
		return "target." + b.Type + "." + b.Name
	case KindVerify:
		return "verify." + b.Type + "[" + strconv.Itoa(b.Index) + "]"
	default:
		return b.Kind.String() + "." + b.Type
	}
}
