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

// functions returns the functions an inventory may call, each guarded so
// that a failed call on a sensitive value never shows the value.
func functions(dir string, mode Mode, lookupEnv func(string) (string, bool)) map[string]function.Function {
	funcs := map[string]function.Function{
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
	for name, f := range funcs {
		funcs[name] = guard(name, f)
	}
	return funcs
}

// Mark is the type of the marks config puts on cty values.
type Mark string

// Sensitive marks a secret's value, and everything an expression or a
// function makes from it, while a block is decoded with the values its
// references read (Inventory.EvalContext, Block.Decode). No diagnostic
// built from a marked value contains it.
const Sensitive Mark = "sensitive"

// sensitiveCallError replaces the error of a function call that failed on a
// marked argument. It says which function failed and nothing more: the
// underlying error may quote the argument (file() names the path it could
// not read, regex() the pattern it could not compile).
type sensitiveCallError struct{ name string }

func (e sensitiveCallError) Error() string {
	return e.name + "() failed on a sensitive value; its error is not shown, since it could quote the value"
}

// guard wraps f, the function an inventory calls as name, so that it sees
// its arguments with their marks. A call with no marked argument behaves as
// f, errors included. When an argument holds a mark and f fails, deciding
// its result type or computing it, the error is a sensitiveCallError, an
// ArgError still pointing at the same argument when f's was one. A call
// that succeeds returns f's result carrying every mark of its arguments.
func guard(name string, f function.Function) function.Function {
	params := f.Params()
	for i := range params {
		params[i].AllowMarked = true
		params[i].AllowUnknown = true // f decides what an unknown gives
	}
	varParam := f.VarParam()
	if varParam != nil {
		varParam.AllowMarked = true
		varParam.AllowUnknown = true
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    varParam,
		Type: func(args []cty.Value) (cty.Type, error) {
			ty, err := f.ReturnTypeForValues(args)
			return ty, hideSensitive(name, args, err)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil {
				return cty.NilVal, hideSensitive(name, args, err)
			}
			var marks []cty.ValueMarks
			for _, a := range args {
				if _, m := a.UnmarkDeep(); len(m) > 0 {
					marks = append(marks, m)
				}
			}
			return v.WithMarks(marks...), nil
		},
	})
}

// failedOnSensitive reports whether err is what guard returns for a call of
// the function name that failed on a marked argument.
func failedOnSensitive(name string, err error) bool {
	hidden := sensitiveCallError{name}
	var argErr function.ArgError
	if errors.As(err, &argErr) {
		// ArgError does not unwrap; guard made it from hidden.
		return error(argErr) == function.NewArgError(argErr.Index, hidden)
	}
	return errors.Is(err, hidden)
}

// hideSensitive returns err unchanged unless one of args holds a mark; then
// a sensitiveCallError in its place.
func hideSensitive(name string, args []cty.Value, err error) error {
	if err == nil {
		return nil
	}
	for _, a := range args {
		if !a.ContainsMarked() {
			continue
		}
		var argErr function.ArgError
		if errors.As(err, &argErr) {
			return function.NewArgError(argErr.Index, sensitiveCallError{name})
		}
		return sensitiveCallError{name}
	}
	return err
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
// diagnostics of a call that failed on a sensitive value, of file() and of
// an unset env() variable into ones that say what to do.
func explainFunctionErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok {
			continue
		}
		if name := extra.CalledFunctionName(); failedOnSensitive(name, extra.FunctionCallError()) {
			d.Summary = "Function failed on a sensitive value"
			d.Detail = fmt.Sprintf("%s() failed on a value made from a secret. Its error is not shown, since it could quote the value; check what this expression passes to %s().", name, name)
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
