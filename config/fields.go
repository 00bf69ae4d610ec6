package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// blockField reads a target's or a check's field = "FIELD": the field of
// its secret's structured value it takes. Whether the secret has that
// field is checked once every generator is known (checkFields).
func (d *decoder) blockField(s *Secret, kind BlockKind, b *Block, meta *hcl.BodyContent) hcl.Diagnostics {
	attr := meta.Attributes["field"]
	if attr == nil {
		return nil
	}
	if kind != KindTarget && kind != KindVerify {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unsupported argument",
			Detail:   "Only a target or a verify block takes field, to choose one field of a structured value.",
			Subject:  attr.NameRange.Ptr(),
		}}
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() || v.AsString() == "" {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid field",
			Detail:   `field names one field of the secret's value, as a literal string, such as field = "password".`,
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	b.Field, b.FieldRange = v.AsString(), attr.Expr.Range()
	d.fieldBlocks = append(d.fieldBlocks, fieldBlock{secret: s, block: b})
	return nil
}

// checkFields checks every field a block reads, secret.NAME.value.FIELD or
// field = "FIELD", against the fields of that secret's generator: a plain
// value has none.
func (d *decoder) checkFields() hcl.Diagnostics {
	var diags hcl.Diagnostics
	check := func(s *Secret, field string, rng hcl.Range) {
		fields := s.Fields()
		if slices.Contains(fields, field) {
			return
		}
		detail := fmt.Sprintf("The value of %s is a plain string, with no fields: use it whole.", s.Address())
		if len(fields) > 0 {
			detail = fmt.Sprintf("The value of %s (generate %q) has the fields %s.", s.Address(), s.Generate.Type, strings.Join(fields, ", "))
			if suggestion := didYouMean(field, fields); suggestion != "" {
				detail += fmt.Sprintf(" Did you mean %q?", suggestion)
			}
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown field",
			Detail:   detail,
			Subject:  rng.Ptr(),
		})
	}
	for _, ref := range d.valueRefs {
		s := d.inv.byName[ref.secret]
		if s == nil || s.Generate == nil {
			continue
		}
		if len(ref.traversal) > 3 {
			if step, ok := ref.traversal[3].(hcl.TraverseAttr); ok {
				check(s, step.Name, ref.traversal.SourceRange())
			}
		}
	}
	for _, fb := range d.fieldBlocks {
		if fb.secret.Generate != nil {
			check(fb.secret, fb.block.Field, fb.block.FieldRange)
		}
	}
	return diags
}
