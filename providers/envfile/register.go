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
	r.Target("env_file", config.BlockSchema{Spec: spec()}, func(s providers.Settings) (providers.Target, error) {
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
	return &hcldec.ObjectSpec{
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
	}
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
