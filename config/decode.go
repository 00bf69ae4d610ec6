package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rotplan/rotplan/internal/dag"
)

// topSchema is the top level less provider blocks, which take one label
// or two (provider "aws" and provider "aws" "prod") and are read apart, by
// splitProviders.
var topSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "rotplan"},
		{Type: "secret", LabelNames: []string{"name"}},
	},
}

// blockMetaSchema is what config reads of a store, generate, target or
// verify block before its type's own schema: the provider block it uses,
// when its type has several (provider = aws.prod), and, on a target or a
// check, the field of a structured value it takes (field = "password").
var blockMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "provider"}, {Name: "field"}},
}

var settingsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "notice"}, {Name: "grace"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "state", LabelNames: []string{"type"}}},
}

var secretSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "frequency", Required: true},
		{Name: "notice"},
		{Name: "grace"},
		{Name: "depends_on"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "store", LabelNames: []string{"type"}},
		{Type: "generate", LabelNames: []string{"type"}},
		{Type: "target", LabelNames: []string{"type", "name"}},
		{Type: "verify", LabelNames: []string{"type"}},
	},
}

// decoder holds what the passes share.
type decoder struct {
	inv  *Inventory
	opts Options
	ctx  *hcl.EvalContext
	// deferred is ctx with env() and file() reading nothing, for what plan
	// and validate do not evaluate (ModePlan); nil in ModeResolve.
	deferred *hcl.EvalContext
	// names lists the secrets' names for "did you mean", once needed;
	// suggested counts the suggestions made, which stop at
	// MaxDiagnosticsPerFile so that a list of many undeclared names costs
	// no more than linear time.
	names     []string
	suggested int
	// refRanges[i][name] is where secret i first refers to secret name, for
	// pointing a cycle diagnostic at the reference that closes it.
	refRanges []map[string]hcl.Range
	// implicit holds stand-ins for provider blocks the inventory omits.
	implicit map[string]*Provider
	// files holds each File a Writes returned, normalised (see normalise).
	files map[string]string
	// absDir is the inventory directory, absolute; "" until needed.
	absDir string
	// realDir is absDir with its symbolic links resolved; "" until needed.
	realDir string
	// valueRefs and fieldBlocks are checked against the secrets' fields
	// once every generator is known (checkFields).
	valueRefs   []valueRef
	fieldBlocks []fieldBlock
}

// valueRef is a secret.NAME... reference in a block.
type valueRef struct {
	secret    string
	traversal hcl.Traversal
}

// fieldBlock is a target or a check that takes a field of its secret.
type fieldBlock struct {
	secret *Secret
	block  *Block
}

func (d *decoder) decode(bodies []hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var settings, providers, secrets []*hcl.Block
	for _, body := range bodies {
		body, more := splitProviders(body)
		providers = append(providers, more...)
		content, moreDiags := body.Content(topSchema)
		diags = append(diags, moreDiags...)
		for _, blk := range content.Blocks {
			switch blk.Type {
			case "rotplan":
				settings = append(settings, blk)
			case "provider":
				providers = append(providers, blk)
			case "secret":
				secrets = append(secrets, blk)
			}
		}
	}

	// Declare every secret first: references may point forward or into
	// another file.
	d.inv.byName = make(map[string]*Secret, len(secrets))
	declared := make([]*hcl.Block, 0, len(secrets))
	for _, blk := range secrets {
		name := blk.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid secret name",
				Detail:   fmt.Sprintf("%q is not a valid name. A secret name starts with a letter or an underscore and holds only letters, digits, underscores and dashes, because it is used in references like secret.NAME.value.", name),
				Subject:  blk.LabelRanges[0].Ptr(),
			})
			continue
		}
		if prev := d.inv.byName[name]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate secret",
				Detail:   fmt.Sprintf("A secret named %q was already declared at %s. Each secret needs a unique name; rename one of them.", name, pos(prev.DeclRange)),
				Subject:  blk.LabelRanges[0].Ptr(),
			})
			continue
		}
		s := &Secret{Name: name, Index: len(d.inv.Secrets), DeclRange: blk.DefRange}
		d.inv.Secrets = append(d.inv.Secrets, s)
		d.inv.byName[name] = s
		declared = append(declared, blk)
	}
	// Values exist only while apply runs. One funcEnv for the whole load:
	// what env() and file() return is counted against MaxFunctionReads.
	fe := newFuncEnv(d.inv.Dir, d.opts.Mode, d.opts.Trust, d.opts.LookupEnv)
	fe.redactor = &d.inv.redactor
	vars := d.inv.variables(nil)
	d.ctx = &hcl.EvalContext{Variables: vars, Functions: fe.functions()}
	if d.opts.Mode != ModeResolve {
		d.deferred = &hcl.EvalContext{Variables: vars, Functions: fe.deferredFunctions()}
	}

	diags = append(diags, d.decodeSettings(settings)...)
	diags = append(diags, d.decodeProviders(providers)...)
	d.refRanges = make([]map[string]hcl.Range, len(declared))
	for i, blk := range declared {
		diags = append(diags, d.decodeSecret(d.inv.Secrets[i], blk)...)
	}
	diags = append(diags, d.checkFields()...)
	diags = append(diags, d.checkDestinations()...)
	diags = append(diags, d.checkCycles()...)
	return diags
}

func (d *decoder) decodeSettings(blocks []*hcl.Block) hcl.Diagnostics {
	d.inv.Settings = Settings{
		Notice: DefaultNotice,
		Grace:  DefaultGrace,
		State:  StateBackend{Type: DefaultStateType},
	}
	var diags hcl.Diagnostics
	for i, blk := range blocks {
		if i > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate rotplan block",
				Detail:   fmt.Sprintf("The rotplan settings were already given at %s. Keep one rotplan block in the inventory.", pos(blocks[0].DefRange)),
				Subject:  blk.DefRange.Ptr(),
			})
			continue
		}
		content, moreDiags := blk.Body.Content(settingsSchema)
		diags = append(diags, moreDiags...)
		if attr := content.Attributes["notice"]; attr != nil {
			if v, ok, moreDiags := d.duration(attr); ok {
				d.inv.Settings.Notice = v
			} else {
				diags = append(diags, moreDiags...)
			}
		}
		if attr := content.Attributes["grace"]; attr != nil {
			if v, ok, moreDiags := d.duration(attr); ok {
				d.inv.Settings.Grace = v
			} else {
				diags = append(diags, moreDiags...)
			}
		}
		for j, sb := range content.Blocks {
			if j > 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate state block",
					Detail:   "apply keeps its journal and lock in one state backend; keep one state block.",
					Subject:  sb.DefRange.Ptr(),
				})
				continue
			}
			diags = append(diags, d.decodeState(sb)...)
		}
	}
	return diags
}

// decodeState decodes the state block against its backend's own schema.
// Its env() calls read leniently, as validate does: plan needs no state, so
// an unset variable that only the state block reads is no error until
// apply opens the backend.
func (d *decoder) decodeState(blk *hcl.Block) hcl.Diagnostics {
	typ := blk.Labels[0]
	var names []string
	var spec hcldec.Spec
	var known bool
	if d.opts.States == nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No state backends",
			Detail:   "This program loads inventories without state backends (config.Options.States is nil), so it cannot read a state block.",
			Subject:  blk.LabelRanges[0].Ptr(),
		}}
	}
	names = d.opts.States.StateTypeNames()
	spec, known = d.opts.States.StateSchema(typ)
	if !known {
		return hcl.Diagnostics{unknownType("state backend", typ, names, blk.LabelRanges[0])}
	}
	fe := newFuncEnv(d.inv.Dir, ModeValidate, d.inv.trust, d.inv.lookupEnv)
	fe.redactor = &d.inv.redactor // what env() reads for it is redacted too
	ctx := &hcl.EvalContext{Functions: fe.functions()}
	val, diags := hcldec.Decode(blk.Body, spec, ctx)
	d.inv.Settings.State = StateBackend{Type: typ, Config: val, DeclRange: blk.DefRange}
	return diags
}

// splitProviders takes the provider blocks out of a file's body: the rest
// is decoded against topSchema, which cannot allow a block type both one
// label and two.
func splitProviders(body hcl.Body) (hcl.Body, []*hcl.Block) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return body, nil
	}
	rest := *sb
	rest.Blocks = nil
	var providers []*hcl.Block
	for _, b := range sb.Blocks {
		if b.Type == "provider" {
			providers = append(providers, b.AsHCLBlock())
			continue
		}
		rest.Blocks = append(rest.Blocks, b)
	}
	return &rest, providers
}

func (d *decoder) decodeProviders(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	d.inv.Providers = map[string]*Provider{}
	for _, blk := range blocks {
		if len(blk.Labels) < 1 || len(blk.Labels) > 2 {
			subject := blk.DefRange
			if len(blk.Labels) > 2 {
				subject = blk.LabelRanges[2]
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid provider block",
				Detail:   `A provider block names its type, and a second block of one type also a name of its own: provider "aws" { ... }, provider "aws" "prod" { ... }.`,
				Subject:  subject.Ptr(),
			})
			continue
		}
		p := &Provider{Name: blk.Labels[0], Body: blk.Body, DeclRange: blk.DefRange}
		schema, ok := d.opts.Schemas.Schema(KindProvider, p.Name)
		if !ok {
			diags = append(diags, unknownType("provider", p.Name, d.opts.Schemas.TypeNames(KindProvider), blk.LabelRanges[0]))
			continue
		}
		if len(blk.Labels) == 2 {
			p.Alias = blk.Labels[1]
			if !hclsyntax.ValidIdentifier(p.Alias) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid provider name",
					Detail:   fmt.Sprintf("%q is not a valid name: blocks refer to it as provider = %s.NAME, so it starts with a letter or an underscore and holds only letters, digits, underscores and dashes.", p.Alias, p.Name),
					Subject:  blk.LabelRanges[1].Ptr(),
				})
				continue
			}
		}
		if prev := d.inv.Providers[p.Address()]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate provider block",
				Detail:   fmt.Sprintf("Provider %s was already configured at %s. Keep one block per provider, or give a second one a name of its own: provider %q \"NAME\" { ... }, chosen in a block with provider = %s.NAME.", p.Address(), pos(prev.DeclRange), p.Name, p.Name),
				Subject:  blk.LabelRanges[len(blk.Labels)-1].Ptr(),
			})
			continue
		}
		val, moreDiags := hcldec.Decode(d.planBody(blk.Body, schema), schema.Spec, d.ctx)
		diags = append(diags, moreDiags...)
		p.Config = d.settleProvider(schema, val)
		d.inv.Providers[p.Address()] = p
	}
	return diags
}

// blockProvider reads a block's provider = NAME.ALIAS, which picks one of
// several provider blocks of its type; without it, the block uses the
// type's default block.
func (d *decoder) blockProvider(kind BlockKind, schema *BlockSchema, blk *hcl.Block, content *hcl.BodyContent) (*Provider, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	attr := content.Attributes["provider"]
	if attr == nil {
		if schema.Provider == "" {
			return nil, diags
		}
		if p := d.inv.Providers[schema.Provider]; p != nil {
			return p, diags
		}
		p, more := d.implicitProvider(schema.Provider, kind, blk)
		return p, append(diags, more...)
	}
	if schema.Provider == "" {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported argument",
			Detail:   fmt.Sprintf("%s %q uses no provider settings, so it takes no provider argument.", kind, blk.Labels[0]),
			Subject:  attr.NameRange.Ptr(),
		})
	}
	tr, travDiags := hcl.AbsTraversalForExpr(attr.Expr)
	addr := ""
	if !travDiags.HasErrors() && len(tr) == 2 {
		if step, ok := tr[1].(hcl.TraverseAttr); ok && tr.RootName() == schema.Provider {
			addr = schema.Provider + "." + step.Name
		}
	}
	if addr == "" {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid provider reference",
			Detail:   fmt.Sprintf("Choose one of the %s provider blocks by its name: provider = %s.NAME, as declared with provider %q \"NAME\" { ... }.", schema.Provider, schema.Provider, schema.Provider),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	p := d.inv.Providers[addr]
	if p == nil {
		var names []string
		for a, q := range d.inv.Providers {
			if q.Name == schema.Provider && q.Alias != "" {
				names = append(names, a)
			}
		}
		sort.Strings(names)
		detail := fmt.Sprintf("No provider %q %q block is declared.", schema.Provider, strings.TrimPrefix(addr, schema.Provider+"."))
		if suggestion := didYouMean(addr, names); suggestion != "" {
			detail += fmt.Sprintf(" Did you mean provider = %s?", suggestion)
		}
		if len(names) > 0 {
			detail += " Declared: " + strings.Join(names, ", ") + "."
		}
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown provider block",
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return p, diags
}

func (d *decoder) decodeSecret(s *Secret, blk *hcl.Block) hcl.Diagnostics {
	content, diags := blk.Body.Content(secretSchema)
	d.refRanges[s.Index] = map[string]hcl.Range{}

	s.Notice, s.Grace = d.inv.Settings.Notice, d.inv.Settings.Grace
	if attr := content.Attributes["description"]; attr != nil {
		v, moreDiags := d.value(attr)
		diags = append(diags, moreDiags...)
		if v.sensitive {
			// Free text is not public: env() or file() in it stays out.
			d.inv.redactor.add(v.s)
		} else {
			s.Description = v.s
		}
	}
	var freqRange hcl.Range
	known := true // durations from an unset env() are unknown while validating
	if attr := content.Attributes["frequency"]; attr != nil {
		v, ok, moreDiags := d.duration(attr)
		diags = append(diags, moreDiags...)
		s.Frequency, freqRange, known = v, attr.Expr.Range(), known && ok
		if ok && v == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Frequency must be positive",
				Detail:   `A secret rotates every frequency; give it a period such as "90d".`,
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
	}
	noticeRange, graceRange := freqRange, freqRange
	noticeFrom, graceFrom := "the default notice", "the default grace"
	if attr := content.Attributes["notice"]; attr != nil {
		v, ok, moreDiags := d.duration(attr)
		diags = append(diags, moreDiags...)
		s.Notice, noticeRange, noticeFrom, known = v, attr.Expr.Range(), "notice", known && ok
	}
	if attr := content.Attributes["grace"]; attr != nil {
		v, ok, moreDiags := d.duration(attr)
		diags = append(diags, moreDiags...)
		s.Grace, graceRange, graceFrom, known = v, attr.Expr.Range(), "grace", known && ok
	}
	if known && s.Frequency > 0 && s.Notice >= s.Frequency {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Notice not shorter than frequency",
			Detail: fmt.Sprintf("%s is %s but the secret rotates every %s, so it would always be due soon. Set notice shorter than frequency.",
				capitalize(noticeFrom), FormatDuration(s.Notice), FormatDuration(s.Frequency)),
			Subject: noticeRange.Ptr(),
		})
	}
	if known && s.Frequency > 0 && s.Grace >= s.Frequency {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Grace not shorter than frequency",
			Detail: fmt.Sprintf("%s is %s but the secret rotates every %s, so the previous value would never retire before the next rotation. Set grace shorter than frequency.",
				capitalize(graceFrom), FormatDuration(s.Grace), FormatDuration(s.Frequency)),
			Subject: graceRange.Ptr(),
		})
	}
	if attr := content.Attributes["depends_on"]; attr != nil {
		diags = append(diags, d.decodeDependsOn(s, attr)...)
	}

	targetNames := map[string]*Block{}
	for _, b := range content.Blocks {
		kind := blockKinds[b.Type]
		block, moreDiags := d.decodeTypedBlock(s, kind, b)
		diags = append(diags, moreDiags...)
		if block == nil {
			continue
		}
		switch kind {
		case KindStore:
			if s.Store != nil {
				diags = append(diags, duplicateBlock(s, "store", s.Store, b))
				continue
			}
			s.Store = block
		case KindGenerate:
			if s.Generate != nil {
				diags = append(diags, duplicateBlock(s, "generate", s.Generate, b))
				continue
			}
			s.Generate = block
		case KindTarget:
			key := block.Type + "." + block.Name
			if prev := targetNames[key]; prev != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate target",
					Detail:   fmt.Sprintf("Secret %q already has target %q at %s. Give each target of a type its own name.", s.Name, key, pos(prev.DeclRange)),
					Subject:  hcl.RangeBetween(b.LabelRanges[0], b.LabelRanges[1]).Ptr(),
				})
				continue
			}
			targetNames[key] = block
			block.Index = len(s.Targets)
			s.Targets = append(s.Targets, block)
		case KindVerify:
			block.Index = len(s.Verify)
			s.Verify = append(s.Verify, block)
		}
	}

	if s.Store == nil {
		if schema, ok := d.opts.Schemas.Schema(KindStore, "local"); ok {
			// The embedded local store is the default.
			val, moreDiags := hcldec.Decode(hcl.EmptyBody(), schema.Spec, d.ctx)
			diags = append(diags, moreDiags...)
			s.Store = &Block{Kind: KindStore, Type: "local", Body: hcl.EmptyBody(), Config: val, Schema: schema, DeclRange: s.DeclRange, TypeRange: s.DeclRange}
			if !moreDiags.HasErrors() {
				s.Store.Destinations = d.destinations(s, s.Store)
				diags = append(diags, d.checkStoreFiles(s.Store)...)
			}
		}
	}
	if s.Generate == nil && !hasBlockOfType(content, "generate") {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing generate block",
			Detail: fmt.Sprintf("Secret %q does not say how its next value is made. Add a generate block, for example generate \"password\" { length = 32 }. Valid types: %s.",
				s.Name, strings.Join(d.opts.Schemas.TypeNames(KindGenerate), ", ")),
			Subject: blk.DefRange.Ptr(),
		})
	}
	return diags
}

var blockKinds = map[string]BlockKind{
	"store":    KindStore,
	"generate": KindGenerate,
	"target":   KindTarget,
	"verify":   KindVerify,
}

// decodeTypedBlock decodes a block against its type's own schema: the second
// pass. It returns nil when the type is unknown or a reference is broken.
func (d *decoder) decodeTypedBlock(s *Secret, kind BlockKind, blk *hcl.Block) (*Block, hcl.Diagnostics) {
	typ := blk.Labels[0]
	schema, ok := d.opts.Schemas.Schema(kind, typ)
	if !ok {
		return nil, hcl.Diagnostics{unknownType(kind.String(), typ, d.opts.Schemas.TypeNames(kind), blk.LabelRanges[0])}
	}
	block := &Block{Kind: kind, Type: typ, Schema: schema, DeclRange: blk.DefRange, TypeRange: blk.LabelRanges[0]}
	if kind == KindTarget {
		block.Name = blk.Labels[1]
	}
	meta, rest, diags := blk.Body.PartialContent(blockMetaSchema)
	block.Body = rest
	provider, moreDiags := d.blockProvider(kind, schema, blk, meta)
	block.Provider = provider
	diags = append(diags, moreDiags...)
	diags = append(diags, d.blockField(s, kind, block, meta)...)
	blk = &hcl.Block{Type: blk.Type, Labels: blk.Labels, Body: rest, DefRange: blk.DefRange, TypeRange: blk.TypeRange, LabelRanges: blk.LabelRanges}

	// References first: a reference to an undeclared secret gets one clear
	// diagnostic here instead of a second, vaguer one from the decoder.
	for _, tr := range hcldec.Variables(blk.Body, schema.Spec) {
		if tr.RootName() != "secret" {
			continue // the decoder reports unknown variables
		}
		name, ok := d.referencedSecret(tr, &diags)
		if !ok {
			continue
		}
		d.valueRefs = append(d.valueRefs, valueRef{secret: name, traversal: tr})
		if name == s.Name && kind == KindVerify {
			continue // a check may use the value it checks
		}
		if _, seen := d.refRanges[s.Index][name]; !seen {
			d.refRanges[s.Index][name] = tr.SourceRange()
			if kind == KindGenerate {
				s.Derives = append(s.Derives, name)
			} else {
				s.DependsOn = append(s.DependsOn, name)
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	ctx := d.ctx
	if kind == KindVerify && d.deferred != nil {
		ctx = d.deferred // a check runs only at apply
	}
	val, moreDiags := hcldec.Decode(d.planBody(blk.Body, schema), schema.Spec, ctx)
	d.settle(block, val)
	diags = append(diags, moreDiags...)
	if !diags.HasErrors() {
		block.Destinations = d.destinations(s, block)
		diags = append(diags, d.checkStoreFiles(block)...)
	}
	return block, diags
}

// planBody is body, with the settings the schema marks ApplyOnly evaluated
// in the deferred context unless every setting is evaluated (ModeResolve).
func (d *decoder) planBody(body hcl.Body, schema *BlockSchema) hcl.Body {
	if d.deferred == nil || len(schema.ApplyOnly) == 0 {
		return body
	}
	return deferBody{Body: body, applyOnly: schema.ApplyOnly, ctx: d.deferred}
}

// implicitProvider stands in for a provider block the inventory leaves out:
// fine when every setting has a default, an error (reported once per
// provider) when one is required.
func (d *decoder) implicitProvider(name string, kind BlockKind, blk *hcl.Block) (*Provider, hcl.Diagnostics) {
	if p, seen := d.implicit[name]; seen {
		return p, nil
	}
	schema, ok := d.opts.Schemas.Schema(KindProvider, name)
	if !ok {
		d.implicit[name] = nil
		return nil, nil
	}
	val, diags := hcldec.Decode(hcl.EmptyBody(), schema.Spec, d.ctx)
	if diags.HasErrors() {
		d.implicit[name] = nil
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing provider block",
			Detail: fmt.Sprintf("%s %q uses the settings of provider %q, which this inventory does not configure, and some of them are required. Add a block such as:\n\n  provider %q {\n    ...\n  }\n\nsee docs/inventory.md for its settings.",
				kind, blk.Labels[0], name, name),
			Subject: blk.LabelRanges[0].Ptr(),
		}}
	}
	p := &Provider{Name: name, Config: val, Body: hcl.EmptyBody()}
	d.implicit[name] = p
	return p, nil
}

// referencedSecret reads the secret name out of a secret.NAME... traversal.
func (d *decoder) referencedSecret(tr hcl.Traversal, diags *hcl.Diagnostics) (string, bool) {
	var name string
	if len(tr) > 1 {
		if step, ok := tr[1].(hcl.TraverseAttr); ok {
			name = step.Name
		}
	}
	if name == "" {
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid secret reference",
			Detail:   "A reference to another secret names it: secret.NAME.value.",
			Subject:  tr.SourceRange().Ptr(),
		})
		return "", false
	}
	if d.inv.byName[name] == nil {
		detail := fmt.Sprintf("There is no secret named %q in this inventory.", name)
		if d.suggested < MaxDiagnosticsPerFile {
			d.suggested++
			if suggestion := didYouMean(name, d.secretNames()); suggestion != "" {
				detail += fmt.Sprintf(" Did you mean %q?", suggestion)
			}
		}
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reference to undeclared secret",
			Detail:   detail,
			Subject:  tr.SourceRange().Ptr(),
		})
		return "", false
	}
	return name, true
}

func (d *decoder) decodeDependsOn(s *Secret, attr *hcl.Attribute) hcl.Diagnostics {
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		diags[0].Detail = "depends_on is a list of secrets, for example depends_on = [secret.db_password]."
		return diags
	}
	for _, expr := range exprs {
		tr, moreDiags := hcl.AbsTraversalForExpr(expr)
		if moreDiags.HasErrors() || tr.RootName() != "secret" || len(tr) != 2 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on entry",
				Detail:   "depends_on lists secrets by address, for example depends_on = [secret.db_password].",
				Subject:  expr.Range().Ptr(),
			})
			continue
		}
		name, ok := d.referencedSecret(tr, &diags)
		if !ok {
			continue
		}
		d.valueRefs = append(d.valueRefs, valueRef{secret: name, traversal: tr})
		if _, seen := d.refRanges[s.Index][name]; !seen {
			d.refRanges[s.Index][name] = expr.Range()
			s.DependsOn = append(s.DependsOn, name)
		}
	}
	return diags
}

// checkCycles rejects secrets that need each other, naming the path.
func (d *decoder) checkCycles() hcl.Diagnostics {
	g := dag.New(len(d.inv.Secrets))
	for _, s := range d.inv.Secrets {
		for _, name := range s.Needs() {
			g.AddEdge(d.inv.byName[name].Index, s.Index)
		}
	}
	_, cycle := g.Sort()
	if cycle == nil {
		return nil
	}
	// cycle runs along the edges: each secret is needed by the next one.
	path := make([]string, len(cycle))
	for i, n := range cycle {
		path[i] = d.inv.Secrets[n].Address()
	}
	first, uses := d.inv.Secrets[cycle[0]], d.inv.Secrets[cycle[len(cycle)-2]]
	subject := d.refRanges[first.Index][uses.Name]
	if len(cycle) == 2 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Dependency cycle",
			Detail:   fmt.Sprintf("%s depends on itself. Remove the reference; a verify block may use the secret's own value, other blocks may not.", first.Address()),
			Subject:  subject.Ptr(),
		}}
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Dependency cycle",
		Detail: fmt.Sprintf("These secrets need each other: %s. rotplan rotates a secret after the secrets it uses, so one of these references or depends_on entries must go.",
			strings.Join(reverse(path), " -> ")),
		Subject: subject.Ptr(),
	}}
}

// duration evaluates a duration attribute. ok is false when the value is
// unknown (an unset env() while validating) or wrong.
//
// A duration is public: plan shows it. But one that env() or file()
// returned in an untrusted inventory is not quoted when it is malformed,
// since it could be anything.
func (d *decoder) duration(attr *hcl.Attribute) (v time.Duration, ok bool, diags hcl.Diagnostics) {
	val, diags := d.value(attr)
	if diags.HasErrors() || !val.known {
		return 0, false, diags
	}
	v, err := ParseDuration(val.s)
	if err != nil {
		detail := fmt.Sprintf("%s: %s. %s", attr.Name, err, durationHint)
		if val.sensitive {
			detail = fmt.Sprintf("%s: the value env() or file() returned is not a duration; it is not shown, since it could be a credential. %s", attr.Name, durationHint)
		}
		return 0, false, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	return v, true, nil
}

// stringValue is a string attribute's value: known is false for an unset
// env() while validating, sensitive is set for what env() or file()
// returned in an untrusted inventory.
type stringValue struct {
	s                string
	known, sensitive bool
}

// value evaluates a string attribute.
func (d *decoder) value(attr *hcl.Attribute) (stringValue, hcl.Diagnostics) {
	val, diags := attr.Expr.Value(d.ctx)
	if diags.HasErrors() {
		return stringValue{}, diags
	}
	val, marks := val.UnmarkDeep()
	val, err := convert.Convert(val, cty.String)
	if err != nil || val.IsNull() {
		return stringValue{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value",
			Detail:   fmt.Sprintf("%s must be a string.", attr.Name),
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	if !val.IsKnown() {
		return stringValue{}, nil
	}
	_, sensitive := marks[Sensitive]
	return stringValue{s: val.AsString(), known: true, sensitive: sensitive}, nil
}

func (d *decoder) secretNames() []string {
	if d.names == nil {
		d.names = make([]string, len(d.inv.Secrets))
		for i, s := range d.inv.Secrets {
			d.names[i] = s.Name
		}
	}
	return d.names
}

func unknownType(what, typ string, valid []string, rng hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("rotplan has no %s type %q.", what, typ)
	if suggestion := didYouMean(typ, valid); suggestion != "" {
		detail += fmt.Sprintf(" Did you mean %q?", suggestion)
	}
	detail += " Valid types: " + strings.Join(valid, ", ") + "."
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unknown " + what + " type",
		Detail:   detail,
		Subject:  rng.Ptr(),
	}
}

func duplicateBlock(s *Secret, what string, prev *Block, blk *hcl.Block) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what + " block",
		Detail:   fmt.Sprintf("Secret %q already has a %s block at %s; a secret has exactly one.", s.Name, what, pos(prev.DeclRange)),
		Subject:  blk.DefRange.Ptr(),
	}
}

func hasBlockOfType(content *hcl.BodyContent, typ string) bool {
	for _, b := range content.Blocks {
		if b.Type == typ {
			return true
		}
	}
	return false
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// pos writes where a range starts, as file:line:col.
func pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
