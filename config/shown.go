package config

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// This file keeps what env() and file() return in an untrusted inventory
// out of everything rotplan prints. Those values enter evaluation marked
// Sensitive, so no diagnostic quotes them; a decoded block's configuration
// is handed to providers without marks (they need the values), and the
// paths that held marks outside the schema's Public settings are kept on
// the block: what config and the planner show is the configuration with
// those values unknown. Redact takes those values, and every string env()
// and file() returned, out of any text made from the configuration (a
// provider's error, a diagnostic).

// settle takes the marks off a decoded block's configuration: the block
// keeps the plain value for providers and the paths that held a mark in
// settings its schema does not mark Public; their string values go to the
// inventory's redactor.
func (d *decoder) settle(b *Block, val cty.Value) {
	if val == cty.NilVal {
		b.Config = val
		return
	}
	plain, marked := val.UnmarkDeepWithPaths()
	b.Config = plain
	var public []string
	if b.Schema != nil {
		public = b.Schema.Public
	}
	for _, pm := range marked {
		if _, ok := pm.Marks[Sensitive]; !ok {
			continue
		}
		if len(pm.Path) > 0 {
			if step, ok := pm.Path[0].(cty.GetAttrStep); ok && slices.Contains(public, step.Name) {
				continue
			}
		}
		b.hidden = append(b.hidden, pm.Path)
		if v, err := pm.Path.Apply(plain); err == nil {
			d.inv.redactor.addValue(v)
		}
	}
	if len(b.hidden) > 0 {
		b.shownConfig = hide(plain, b.hidden)
	}
}

// settleProvider takes the marks off a provider block's configuration,
// whose values only providers see; the strings env() and file() returned
// for its settings that are not public go to the redactor.
func (d *decoder) settleProvider(schema *BlockSchema, val cty.Value) cty.Value {
	b := &Block{Schema: schema}
	d.settle(b, val)
	return b.Config
}

// shown is the block's configuration as rotplan may show it: the values
// at its hidden paths unknown.
func (b *Block) shown() cty.Value {
	if len(b.hidden) == 0 {
		return b.Config
	}
	return b.shownConfig
}

// hide returns v with the values at paths unknown.
func hide(v cty.Value, paths []cty.Path) cty.Value {
	keys := make(map[string]bool, len(paths))
	for _, p := range paths {
		keys[pathKey(p)] = true
	}
	out, err := cty.Transform(v, func(p cty.Path, v cty.Value) (cty.Value, error) {
		if keys[pathKey(p)] {
			return cty.UnknownVal(v.Type()), nil
		}
		return v, nil
	})
	if err != nil {
		return cty.DynamicVal
	}
	return out
}

// pathKey writes a path as a map key.
func pathKey(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			b.WriteString("[" + s.Key.GoString() + "]")
		}
	}
	return b.String()
}

// Redact returns s with every string that env() or file() returned in an
// untrusted inventory, and every value of a setting that is not public
// made from one, replaced by "(sensitive)": for text made from a block's
// configuration, such as a provider's error or a diagnostic, before it is
// shown. Public settings are no exception: rotplan uses their values, but
// a pull request could route a credential into one to have an error quote
// it. Strings shorter than minRedacted bytes are left: they would match
// too much, and a credential is longer.
func (inv *Inventory) Redact(s string) string {
	return inv.redactor.redact(s)
}

// minRedacted is the shortest string Redact replaces.
const minRedacted = 8

// redactor finds any of a set of strings in a text in time linear in the
// text: each position is looked up by the minRedacted bytes there.
type redactor struct {
	// byPrefix holds the strings by their first minRedacted bytes,
	// longest first.
	byPrefix map[string][]string
}

func (r *redactor) addValue(v cty.Value) {
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			r.add(v.AsString())
		}
		return true, nil
	})
}

func (r *redactor) add(s string) {
	if len(s) < minRedacted {
		return
	}
	if r.byPrefix == nil {
		r.byPrefix = map[string][]string{}
	}
	key := s[:minRedacted]
	list := r.byPrefix[key]
	if slices.Contains(list, s) {
		return
	}
	list = append(list, s)
	slices.SortFunc(list, func(a, b string) int { return len(b) - len(a) })
	r.byPrefix[key] = list
}

func (r *redactor) redact(s string) string {
	if len(r.byPrefix) == 0 || len(s) < minRedacted {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i+minRedacted <= len(s); {
		found := ""
		for _, c := range r.byPrefix[s[i:i+minRedacted]] {
			if strings.HasPrefix(s[i:], c) {
				found = c
				break
			}
		}
		if found == "" {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString("(sensitive)")
		i += len(found)
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// deferBody is a block's body whose attributes named in applyOnly are
// evaluated in ctx, where env() and file() read nothing, whatever context
// the decoder is given: how plan evaluates a block with ApplyOnly settings.
type deferBody struct {
	hcl.Body
	applyOnly []string
	ctx       *hcl.EvalContext
}

func (b deferBody) Content(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, diags := b.Body.Content(schema)
	b.wrap(c.Attributes)
	return c, diags
}

func (b deferBody) PartialContent(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	c, rest, diags := b.Body.PartialContent(schema)
	b.wrap(c.Attributes)
	return c, deferBody{Body: rest, applyOnly: b.applyOnly, ctx: b.ctx}, diags
}

func (b deferBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	attrs, diags := b.Body.JustAttributes()
	b.wrap(attrs)
	return attrs, diags
}

func (b deferBody) wrap(attrs hcl.Attributes) {
	for name, a := range attrs {
		if slices.Contains(b.applyOnly, name) {
			deferred := *a
			deferred.Expr = deferExpr{Expression: a.Expr, ctx: b.ctx}
			attrs[name] = &deferred
		}
	}
}

// deferExpr evaluates an expression in its own context.
type deferExpr struct {
	hcl.Expression
	ctx *hcl.EvalContext
}

func (e deferExpr) Value(*hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	return e.Expression.Value(e.ctx)
}

// UnwrapExpression lets static analysis (hcl.ExprList and the like) see the
// expression itself.
func (e deferExpr) UnwrapExpression() hcl.Expression { return e.Expression }
