package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// errEnvUnset is what env() returns when a variable is missing at a time the
// value is needed; decode turns it into a diagnostic with a hint.
var errEnvUnset = errors.New("environment variable is not set")

// functions returns the functions an inventory may call.
func functions(dir string, mode Mode, lookupEnv func(string) (string, bool)) map[string]function.Function {
	return map[string]function.Function{
		"env":        envFunc(mode, lookupEnv),
		"file":       fileFunc(dir),
		"chomp":      stdlib.ChompFunc,
		"format":     stdlib.FormatFunc,
		"formatlist": stdlib.FormatListFunc,
		"indent":     stdlib.IndentFunc,
		"join":       stdlib.JoinFunc,
		"length":     stdlib.LengthFunc,
		"lower":      stdlib.LowerFunc,
		"regex":      stdlib.RegexFunc,
		"replace":    stdlib.ReplaceFunc,
		"split":      stdlib.SplitFunc,
		"strrev":     stdlib.ReverseFunc,
		"substr":     stdlib.SubstrFunc,
		"title":      stdlib.TitleFunc,
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"upper":      stdlib.UpperFunc,
	}
}

// envFunc reads an environment variable: env("NAME"), or env("NAME",
// "default") for a setting that has a sensible default (an API's address).
// While validating, an unset variable without a default is an unknown value,
// so validate runs in a pull request without credentials; once plan or apply
// needs the value it is an error.
func envFunc(mode Mode, lookupEnv func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Params:   []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			name := args[0].AsString()
			if v, ok := lookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			if mode == ModeValidate {
				return cty.UnknownVal(cty.String), nil
			}
			return cty.NilVal, errEnvUnset
		},
	})
}

// fileFunc reads a file relative to the inventory directory.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return cty.NilVal, fmt.Errorf("cannot read %s: %w", args[0].AsString(), err)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// explainFunctionErrors rewrites the generic "Error in function call"
// diagnostics of file() and of an unset env() variable into ones that say
// what to do.
func explainFunctionErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok {
			continue
		}
		if extra.CalledFunctionName() == "file" {
			d.Summary = "Cannot read file"
			d.Detail = fmt.Sprintf("file() %s. Paths are relative to the inventory directory.", extra.FunctionCallError())
			continue
		}
		if extra.CalledFunctionName() != "env" || !errors.Is(extra.FunctionCallError(), errEnvUnset) {
			continue
		}
		name := "the variable"
		if call, ok := d.Expression.(*hclsyntax.FunctionCallExpr); ok && len(call.Args) == 1 {
			if v, diags := call.Args[0].Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() {
				name = v.AsString()
			}
		}
		d.Summary = "Environment variable not set"
		d.Detail = fmt.Sprintf("The inventory reads %s with env(), but it is not set. Export it before running plan or apply; validate does not need it.", name)
	}
	return diags
}
