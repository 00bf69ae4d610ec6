package envfile

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Target("env_file", config.BlockSchema{Spec: spec(), Writes: writes, Public: []string{"path", "key", "previous_key"}}, func(s providers.Settings) (providers.Target, error) {
		return New(s)
	})
}

// spec decodes a target "env_file" block:
//
//	target "env_file" "app" {
//	  path         = "deploy/app.env" # relative to the inventory directory
//	  key          = "DB_PASSWORD"
//	  previous_key = "DB_PASSWORD_PREVIOUS" # optional, for dual-key consumers
//	}
func spec() hcldec.Spec {
	return &hcldec.ValidateSpec{Wrapped: hcldec.ObjectSpec{
		"path": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "path", Type: cty.String, Required: true},
			Func: func(v cty.Value) hcl.Diagnostics {
				v, _ = v.Unmark()
				if v.IsNull() || !v.IsKnown() || v.AsString() != "" {
					return nil
				}
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Empty path",
					Detail:   "Name the env file, relative to the inventory directory, for example path = \".env\".",
				}}
			},
		},
		"key":          keySpec("key", true),
		"previous_key": keySpec("previous_key", false),
	}, Func: validateKeys}
}

// validateKeys refuses a previous_key that is the key: the previous value
// would overwrite the current one.
func validateKeys(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil
	}
	key, prev := v.GetAttr("key"), v.GetAttr("previous_key")
	if prev.IsNull() || !prev.RawEquals(key) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "previous_key is the same as key",
		Detail:   "Both name the same variable, so the previous value would overwrite the current one. Give previous_key its own name, such as DB_PASSWORD_PREVIOUS beside DB_PASSWORD, or leave it out.",
	}}
}

// writes is where a block writes: key, and previous_key when set, of its
// file.
func writes(cfg cty.Value) []config.Destination {
	path, ok := config.KnownString(cfg, "path")
	if !ok || path == "" {
		return nil
	}
	var out []config.Destination
	for _, attr := range []string{"key", "previous_key"} {
		if key, ok := config.KnownString(cfg, attr); ok && key != "" {
			out = append(out, config.Destination{File: path, Key: key})
		}
	}
	return out
}

func keySpec(name string, required bool) hcldec.Spec {
	return &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: name, Type: cty.String, Required: required},
		Func: func(v cty.Value) hcl.Diagnostics {
			v, marks := v.Unmark()
			if v.IsNull() || !v.IsKnown() || validKey(v.AsString()) {
				return nil
			}
			// A marked key is made from a secret's value: never quote it.
			what := fmt.Sprintf("%q is", v.AsString())
			if len(marks) > 0 {
				what = fmt.Sprintf("The value of %s is", name)
			}
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid %s", name),
				Detail:   what + " not an environment variable name: use letters, digits and underscores, not starting with a digit, for example DB_PASSWORD.",
			}}
		},
	}
}

// validKey reports whether k is a portable environment variable name.
func validKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
