package exec

import (
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// commandSpec is the body of target "exec" and verify "exec".
var commandSpec = hcldec.ObjectSpec{
	// command is the program and its arguments, run without a shell:
	// ["./scripts/push-secret.sh", "--app", "api"]. For a pipeline, run
	// ["sh", "-c", "..."] explicitly.
	"command": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "command", Type: cty.List(cty.String), Required: true},
		Func:    validateCommand,
	},
	// value_env, when set, names the environment variable that carries the
	// value; otherwise the value is written to the command's standard input.
	"value_env": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "value_env", Type: cty.String},
		Func:    validateEnvName,
	},
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	// Observing an exec target runs nothing, so plan needs none of its
	// settings.
	r.Target("exec", config.BlockSchema{Spec: commandSpec, ApplyOnly: []string{"command", "value_env"}}, func(s providers.Settings) (providers.Target, error) {
		return NewTarget(s)
	})
	r.Verifier("exec", config.BlockSchema{Spec: commandSpec}, func(s providers.Settings) (providers.Verifier, error) {
		return NewVerifier(s)
	})
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateCommand(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	if v.LengthInt() > 0 {
		first := v.Index(cty.NumberIntVal(0))
		if !first.IsKnown() || (!first.IsNull() && first.AsString() != "") {
			return nil
		}
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Empty command",
		Detail:   `command is the program to run and its arguments, such as ["./scripts/push-secret.sh", "--app", "api"]; the program cannot be empty.`,
	}}
}

// envName is what an environment variable may be called.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validateEnvName(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || envName.MatchString(v.AsString()) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid value_env",
		Detail:   "value_env names an environment variable: letters, digits and underscores, not starting with a digit, such as \"SECRET_VALUE\". Leave it out to pass the value on standard input.",
	}}
}
