package builtin_test

import (
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/builtin"
)

// TestPublicAndApplyOnlyNameSettings checks that every setting a schema
// lists as Public or ApplyOnly is one of its attributes: a misspelt name
// would quietly make a setting sensitive, or plan evaluate it.
func TestPublicAndApplyOnlyNameSettings(t *testing.T) {
	r := builtin.Registry()
	for _, kind := range []config.BlockKind{config.KindProvider, config.KindStore, config.KindGenerate, config.KindTarget, config.KindVerify} {
		for _, typ := range r.TypeNames(kind) {
			schema, _ := r.Schema(kind, typ)
			attrs := map[string]bool{}
			for _, a := range hcldec.ImpliedSchema(schema.Spec).Attributes {
				attrs[a.Name] = true
			}
			for list, names := range map[string][]string{"Public": schema.Public, "ApplyOnly": schema.ApplyOnly} {
				for _, name := range names {
					if !attrs[name] {
						t.Errorf("%s %q: %s names %q, which is not one of its attributes", kind, typ, list, name)
					}
				}
			}
		}
	}
}
