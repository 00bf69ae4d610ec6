package generators

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// This file holds what every generator type shares: building specs whose
// attributes have defaults and checks, and reading a decoded configuration
// back with the same checks. Generate repeats the checks the spec made, so a
// configuration that did not come through the spec still cannot produce a
// weak value.
//
// No check quotes the value it rejects: an attribute may be an expression
// over another secret's value, and the diagnostic's range already points at
// it.

// attribute is one attribute of a block: its spec carries the default and
// the check; Generate reads it back with read, which applies both again.
type attribute struct {
	name     string
	typ      cty.Type
	required bool
	def      cty.Value // cty.NilVal (null): no default, the attribute may be unset
	check    func(cty.Value) error
}

// spec is the attribute's hcldec spec.
func (a attribute) spec() hcldec.Spec {
	var s hcldec.Spec = &hcldec.AttrSpec{Name: a.name, Type: a.typ, Required: a.required}
	if !a.def.IsNull() {
		s = &hcldec.DefaultSpec{Primary: s, Default: &hcldec.LiteralSpec{Value: a.def}}
	}
	if a.check != nil {
		s = &hcldec.ValidateSpec{Wrapped: s, Func: diagnose(a.name, a.check)}
	}
	return s
}

// read returns the attribute's value in cfg, converted to its type, with the
// default applied and checked: a known, non-null value unless the attribute
// has no default and is unset (then null).
func (a attribute) read(cfg cty.Value) (cty.Value, error) {
	v := cty.NullVal(a.typ)
	if !cfg.IsNull() && cfg.Type().IsObjectType() && cfg.Type().HasAttribute(a.name) {
		v = cfg.GetAttr(a.name)
	}
	if !v.IsKnown() {
		return cty.NilVal, fmt.Errorf("%s is not known: the values it references were not resolved", a.name)
	}
	if v.IsNull() {
		if a.def.IsNull() {
			return cty.NullVal(a.typ), nil
		}
		v = a.def
	}
	v, err := convert.Convert(v, a.typ)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", a.name, err)
	}
	if a.check != nil {
		if err := a.check(v); err != nil {
			return cty.NilVal, fmt.Errorf("%s %w", a.name, err)
		}
	}
	return v, nil
}

// diagnose turns a check into a ValidateSpec function. Values not known yet
// (an env() call while validating) and unset attributes are not checked.
func diagnose(name string, check func(cty.Value) error) func(cty.Value) hcl.Diagnostics {
	return func(v cty.Value) hcl.Diagnostics {
		v, _ = v.UnmarkDeep()
		if !v.IsWhollyKnown() || v.IsNull() {
			return nil
		}
		if err := check(v); err != nil {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + name,
				Detail:   fmt.Sprintf("%s %s.", name, err),
			}}
		}
		return nil
	}
}

// object returns the decoded configuration unmarked, or an error when it is
// not known. A null configuration is an empty block: every default applies.
func object(cfg cty.Value) (cty.Value, error) {
	if cfg.IsNull() {
		return cty.EmptyObjectVal, nil
	}
	cfg, _ = cfg.UnmarkDeep()
	if !cfg.IsKnown() {
		return cty.NilVal, errors.New("the configuration is not known: the values it references were not resolved")
	}
	if !cfg.Type().IsObjectType() {
		return cty.NilVal, fmt.Errorf("the configuration is a %s, not an object", cfg.Type().FriendlyName())
	}
	return cfg, nil
}

// readInt reads a number attribute as an int; unset without default is 0.
func readInt(cfg cty.Value, a attribute) (int, error) {
	n, _, err := readOptInt(cfg, a)
	return n, err
}

// readOptInt reads a number attribute as an int and says whether it is set
// (or has a default).
func readOptInt(cfg cty.Value, a attribute) (n int, set bool, err error) {
	v, err := a.read(cfg)
	if err != nil || v.IsNull() {
		return 0, false, err
	}
	if err := gocty.FromCtyValue(v, &n); err != nil {
		return 0, false, fmt.Errorf("%s %w", a.name, err)
	}
	return n, true, nil
}

// readBool reads a bool attribute.
func readBool(cfg cty.Value, a attribute) (bool, error) {
	v, err := a.read(cfg)
	if err != nil || v.IsNull() {
		return false, err
	}
	return v.True(), nil
}

// readString reads a string attribute; an unset one without default is "".
func readString(cfg cty.Value, a attribute) (string, error) {
	v, err := a.read(cfg)
	if err != nil || v.IsNull() {
		return "", err
	}
	return v.AsString(), nil
}

// wholeBetween checks that a number is a whole number from lo to hi.
func wholeBetween(lo, hi int) func(cty.Value) error {
	return func(v cty.Value) error {
		var n int
		if err := gocty.FromCtyValue(v, &n); err != nil || n < lo || n > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}

// wholeOneOf checks that a number is one of choices.
func wholeOneOf(choices ...int) func(cty.Value) error {
	return func(v cty.Value) error {
		var n int
		if err := gocty.FromCtyValue(v, &n); err != nil || !slices.Contains(choices, n) {
			list := make([]string, len(choices))
			for i, c := range choices {
				list[i] = strconv.Itoa(c)
			}
			return fmt.Errorf("must be one of %s", strings.Join(list, ", "))
		}
		return nil
	}
}

// stringOneOf checks that a string is one of choices.
func stringOneOf(choices ...string) func(cty.Value) error {
	return func(v cty.Value) error {
		if !slices.Contains(choices, v.AsString()) {
			list := make([]string, len(choices))
			for i, c := range choices {
				list[i] = strconv.Quote(c)
			}
			return fmt.Errorf("must be one of %s", strings.Join(list, ", "))
		}
		return nil
	}
}

// notBlank checks that a string has more than white space.
func notBlank(v cty.Value) error {
	if strings.TrimSpace(v.AsString()) == "" {
		return errors.New("must not be empty")
	}
	return nil
}
