package local

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// DefaultPath is the store file used when a store block names none, relative
// to the inventory directory.
const DefaultPath = "rotplan.store"

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Store("local", config.BlockSchema{Spec: spec(), Writes: writes, Public: []string{"path", "key"}}, func(s providers.Settings) (providers.Store, error) {
		return New(s)
	})
}

// spec decodes a store "local" block:
//
//	store "local" {
//	  path = "secrets/rotplan.store" # default rotplan.store
//	  key  = "DB_PASSWORD"           # default the secret's name
//	}
func spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"path": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "path", Type: cty.String},
				Func:    notEmpty("path", "Name the store file, relative to the inventory directory, or leave path out to use "+DefaultPath+"."),
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(DefaultPath)},
		},
		"key": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "key", Type: cty.String},
			Func:    notEmpty("key", "Name the entry in the store file, or leave key out to use the secret's name."),
		},
	}
}

// writes is where a block keeps its secret, as Store.Locate finds it: the
// entry key (by default the secret's name, which config fills in for an
// empty Key) of the file path (by default DefaultPath).
func writes(cfg cty.Value) []config.Destination {
	path, ok := config.KnownString(cfg, "path")
	if !ok {
		return nil
	}
	if path == "" {
		path = DefaultPath
	}
	key, ok := config.KnownString(cfg, "key")
	if !ok {
		return nil
	}
	return []config.Destination{{File: path, Key: key}}
}

func notEmpty(attr, detail string) func(cty.Value) hcl.Diagnostics {
	return func(v cty.Value) hcl.Diagnostics {
		v, _ = v.Unmark()
		if v.IsNull() || !v.IsKnown() || v.AsString() != "" {
			return nil
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Empty %s", attr),
			Detail:   detail,
		}}
	}
}
