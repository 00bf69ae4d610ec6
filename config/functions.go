package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/rotplan/rotplan/internal/regular"
)

// errEnvUnset is what env() returns when a variable is missing at a time the
// value is needed; decode turns it into a diagnostic with a hint.
var errEnvUnset = errors.New("environment variable is not set")

// errOutside is what file() returns, in an untrusted inventory, for a path
// that leads out of the inventory directory.
var errOutside = errors.New("outside the inventory directory")

// funcEnv is what the inventory's functions share over one load, or one
// decoding of a block at apply: where relative paths start, how much of the
// world they may read, and how much env() and file() have returned so far.
type funcEnv struct {
	dir       string
	mode      Mode
	trust     Trust
	lookupEnv func(string) (string, bool)
	// read counts the bytes env() and file() returned, against
	// MaxFunctionReads.
	read int64
	// realDir is dir, absolute with its symbolic links resolved; "" until
	// an untrusted file() needs it.
	realDir string
	// redactor, when set, collects what env() and file() return in an
	// untrusted inventory (Inventory.Redact).
	redactor *redactor
}

func newFuncEnv(dir string, mode Mode, trust Trust, lookupEnv func(string) (string, bool)) *funcEnv {
	return &funcEnv{dir: dir, mode: mode, trust: trust, lookupEnv: lookupEnv}
}

// functions returns the functions an inventory may call, each guarded so
// that a failed call on a sensitive value never shows the value and no call
// makes a value larger than MaxValueSize.
func (e *funcEnv) functions() map[string]function.Function {
	return library(e.envFunc(), e.fileFunc())
}

// deferredFunctions are functions with env() and file() reading nothing and
// returning an unknown string: for the parts of an inventory that only
// apply evaluates (see ModePlan).
func (e *funcEnv) deferredFunctions() map[string]function.Function {
	return library(deferredFunc(e.envFunc()), deferredFunc(e.fileFunc()))
}

func library(env, file function.Function) map[string]function.Function {
	funcs := map[string]function.Function{
		"env":        env,
		"file":       file,
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
//
// guard also bounds the work: a call whose result would be larger than
// MaxValueSize fails, before f runs for the functions that can make a
// result much larger than their arguments (replace, indent, format,
// formatlist, join), after it for the others, whose results are at most a
// few times their arguments. A panic in f, which cty would report with its
// stack, is an error that names the function only.
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
			return ty, hideSensitive(name, args, plainPanic(name, err))
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if err := checkResultSize(name, args); err != nil {
				return cty.NilVal, hideSensitive(name, args, err)
			}
			v, err := f.Call(args)
			if err != nil {
				return cty.NilVal, hideSensitive(name, args, plainPanic(name, err))
			}
			if size := valueSize(v); size > MaxValueSize {
				return cty.NilVal, hideSensitive(name, args, tooLarge(size))
			}
			if n := listLength(v); n > MaxListLength {
				return cty.NilVal, hideSensitive(name, args, fmt.Errorf("it would return %d values, more than the limit of %d", n, MaxListLength))
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

// plainPanic replaces the error cty makes of a panic in a function, which
// holds the panic's value and the goroutine's stack, with one that says
// which function could not take its arguments.
func plainPanic(name string, err error) error {
	var p function.PanicError
	if errors.As(err, &p) {
		return fmt.Errorf("%s() cannot take these arguments", name)
	}
	return err
}

func tooLarge(size int64) error {
	return fmt.Errorf("its result would be %s, more than the limit of %s", regular.FormatSize(size), regular.FormatSize(MaxValueSize))
}

// checkResultSize fails a call of a function that can make a result much
// larger than its arguments when the result would exceed MaxValueSize,
// from an upper bound worked out from the arguments in time linear in
// their size. Unknown arguments give no bound: the call returns unknown.
func checkResultSize(name string, args []cty.Value) error {
	plain := make([]cty.Value, len(args))
	for i, a := range args {
		a, _ = a.UnmarkDeep()
		if !a.IsWhollyKnown() || a.IsNull() {
			return nil
		}
		plain[i] = a
	}
	var size int64
	switch name {
	case "replace":
		size = replaceSize(plain)
	case "indent":
		size = indentSize(plain)
	case "format":
		size = formatSize(plain, 1)
	case "formatlist":
		n := int64(1)
		for _, a := range plain[1:] {
			if ty := a.Type(); ty.IsListType() || ty.IsTupleType() || ty.IsSetType() {
				n = max(n, int64(a.LengthInt()))
			}
		}
		size = formatSize(plain, n)
	case "join":
		size = joinSize(plain)
	default:
		return nil
	}
	if size > MaxValueSize {
		return tooLarge(size)
	}
	return nil
}

// replaceSize bounds replace(str, substr, replacement): exactly for a plain
// substring, and for a /regular expression/ from its matches, each counted
// as the replacement with every $ reference standing for all of str.
func replaceSize(args []cty.Value) int64 {
	if len(args) != 3 || !allStrings(args) {
		return 0
	}
	str, sub, repl := args[0].AsString(), args[1].AsString(), args[2].AsString()
	if len(sub) > 1 && sub[0] == '/' && sub[len(sub)-1] == '/' {
		re, err := regexp.Compile(sub[1 : len(sub)-1])
		if err != nil {
			return 0 // replace reports it
		}
		matches := int64(len(re.FindAllStringIndex(str, -1)))
		refs := int64(strings.Count(repl, "$"))
		return int64(len(str)) + matches*(int64(len(repl))+refs*int64(len(str)))
	}
	n := int64(strings.Count(str, sub))
	return int64(len(str)) + n*(int64(len(repl))-int64(len(sub)))
}

// indentSize bounds indent(spaces, str). A count of spaces that is not a
// whole number from 0 to MaxValueSize is too large by itself.
func indentSize(args []cty.Value) int64 {
	if len(args) != 2 || args[0].Type() != cty.Number || args[1].Type() != cty.String {
		return 0
	}
	spaces, acc := args[0].AsBigFloat().Int64()
	if acc != big.Exact || spaces < 0 || spaces > MaxValueSize {
		return MaxValueSize + 1
	}
	str := args[1].AsString()
	return int64(len(str)) + int64(strings.Count(str, "\n"))*spaces
}

// formatSize bounds format(spec, args...) made n times (formatlist): the
// spec with every number in it read as a width, and each argument written
// out, escaped, as JSON at worst.
func formatSize(args []cty.Value, n int64) int64 {
	if len(args) == 0 || args[0].Type() != cty.String {
		return 0
	}
	spec := args[0].AsString()
	widths := int64(0)
	for i := 0; i < len(spec); {
		if spec[i] < '0' || spec[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(spec) && spec[j] >= '0' && spec[j] <= '9' {
			j++
		}
		if j-i > 7 {
			return MaxValueSize + 1 // a width of ten million or more
		}
		w, _ := strconv.ParseInt(spec[i:j], 10, 64)
		widths += w
		i = j
	}
	var argSize int64
	for _, a := range args[1:] {
		argSize += 6*valueSize(a) + 16*int64(valueCount(a))
	}
	return n*(int64(len(spec))+widths) + argSize
}

// joinSize bounds join(separator, lists...).
func joinSize(args []cty.Value) int64 {
	if len(args) < 1 || args[0].Type() != cty.String {
		return 0
	}
	sep := int64(len(args[0].AsString()))
	var size int64
	for _, list := range args[1:] {
		if !list.CanIterateElements() {
			continue
		}
		size += valueSize(list) + sep*int64(list.LengthInt())
	}
	return size
}

func allStrings(args []cty.Value) bool {
	for _, a := range args {
		if a.Type() != cty.String {
			return false
		}
	}
	return true
}

// listLength is the number of values of a known list or tuple, else 0.
func listLength(v cty.Value) int {
	v, _ = v.Unmark()
	if ty := v.Type(); (ty.IsTupleType() || ty.IsListType()) && v.IsKnown() && !v.IsNull() {
		return v.LengthInt()
	}
	return 0
}

// valueSize is the number of bytes of the strings in v, known and unmarked.
func valueSize(v cty.Value) int64 {
	var n int64
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		v, _ = v.Unmark()
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			n += int64(len(v.AsString()))
		}
		return true, nil
	})
	return n
}

// valueCount is the number of values in v, itself included.
func valueCount(v cty.Value) int {
	n := 0
	_ = cty.Walk(v, func(cty.Path, cty.Value) (bool, error) {
		n++
		return true, nil
	})
	return n
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

// count adds n bytes that env() or file() return to what the load has read,
// and fails once that passes MaxFunctionReads.
func (e *funcEnv) count(n int) error {
	e.read += int64(n)
	if e.read > MaxFunctionReads {
		return fmt.Errorf("env() and file() have returned more than %s in all while loading this inventory, the limit; each call counts, so read a large file once", regular.FormatSize(MaxFunctionReads))
	}
	return nil
}

// sensitive marks v, a string env() or file() read, Sensitive in an
// untrusted inventory: it is not the author's to print. The string also
// goes to the redactor, whatever setting it ends up in: a pull request
// could route a credential into a public setting to have an error quote it.
func (e *funcEnv) sensitive(v cty.Value) cty.Value {
	if e.trust == Trusted {
		return v
	}
	if e.redactor != nil {
		e.redactor.add(v.AsString())
	}
	return v.Mark(Sensitive)
}

// envFunc reads an environment variable: env("NAME"), or env("NAME",
// "default") for a setting that has a sensible default (an API's address).
// While validating, an unset variable without a default is an unknown value,
// so validate runs in a pull request without credentials; once plan or apply
// needs the value it is an error. A value from the environment is sensitive
// in an untrusted inventory; a default, written in the inventory, is not.
func (e *funcEnv) envFunc() function.Function {
	return function.New(&function.Spec{
		Params:   []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			name := args[0].AsString()
			if v, ok := e.lookupEnv(name); ok {
				if err := e.count(len(v)); err != nil {
					return cty.NilVal, err
				}
				return e.sensitive(cty.StringVal(v)), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			if e.mode == ModeValidate {
				return cty.UnknownVal(cty.String), nil
			}
			return cty.NilVal, errEnvUnset
		},
	})
}

// fileFunc reads a file relative to the inventory directory: a regular file
// of at most MaxFunctionFile bytes and, in an untrusted inventory, inside
// the directory once its symbolic links are resolved. What it reads is
// sensitive in an untrusted inventory.
func (e *funcEnv) fileFunc() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			written := args[0].AsString()
			b, err := e.readFile(written)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return cty.NilVal, fmt.Errorf("cannot read %s: %w", written, err)
			}
			if err := e.count(len(b)); err != nil {
				return cty.NilVal, err
			}
			return e.sensitive(cty.StringVal(string(b))), nil
		},
	})
}

func (e *funcEnv) readFile(p string) ([]byte, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.dir, p)
	}
	if e.trust == Untrusted {
		real, err := evalSymlinks(p)
		if err != nil {
			return nil, err
		}
		if e.realDir == "" {
			e.realDir = realPath(e.dir)
		}
		if !inside(e.realDir, real) {
			return nil, errOutside
		}
		p = real
	}
	return regular.ReadFile(p, MaxFunctionFile)
}

// deferredFunc is f, for env() or file(), reading nothing: its arguments
// are checked, and it returns an unknown string.
func deferredFunc(f function.Function) function.Function {
	return function.New(&function.Spec{
		Params:   f.Params(),
		VarParam: f.VarParam(),
		Type:     function.StaticReturnType(cty.String),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.UnknownVal(cty.String), nil
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
			d.Detail = fmt.Sprintf("%s() failed on a value made from a secret, or from what env() or file() read in an untrusted inventory. Its error is not shown, since it could quote the value; check what this expression passes to %s().", name, name)
			continue
		}
		if extra.CalledFunctionName() == "file" && errors.Is(extra.FunctionCallError(), errOutside) {
			d.Summary = "File outside the inventory directory"
			d.Detail = fmt.Sprintf("file() %s. An inventory is not trusted unless you say so: its file() calls read only files inside its directory (symbolic links resolved), since a pull request could otherwise read any file of the machine that plans it. Move the file into the inventory directory; or, for an inventory you wrote or reviewed, run with -trust.", extra.FunctionCallError())
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
