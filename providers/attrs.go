package providers

import (
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// StringAttr reads a string attribute of a decoded block: "" when the block
// or the attribute is absent or null, an error when it is not known yet
// (made from a secret not read) or not a string. The error names the
// attribute, never its value.
func StringAttr(cfg cty.Value, name string) (string, error) {
	if cfg == cty.NilVal || cfg.IsNull() {
		return "", nil
	}
	cfg, _ = cfg.UnmarkDeep()
	if !cfg.IsKnown() {
		return "", errors.New("block is not known yet")
	}
	if !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute(name) {
		return "", nil
	}
	v := cfg.GetAttr(name)
	switch {
	case v.IsNull():
		return "", nil
	case !v.IsKnown():
		return "", fmt.Errorf("%s is not known until the secrets it refers to are read", name)
	case !v.Type().Equals(cty.String):
		return "", fmt.Errorf("%s must be a string", name)
	}
	return v.AsString(), nil
}
