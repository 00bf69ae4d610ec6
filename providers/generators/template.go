package generators

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Template makes a value from other secrets' values:
//
//	generate "template" {
//	  template = "postgres://app:${secret.db_password.value}@db:5432/app"
//	}
//
// The executor decodes the block again once the referenced values are known,
// so Generate only returns the rendered string.
type Template struct{}

var _ providers.Generator = (*Template)(nil)

var (
	templateText = attribute{name: "template", typ: cty.String, required: true, check: notBlank}
	templateSpec = hcldec.ObjectSpec{templateText.name: templateText.spec()}
)

// errUnresolved is returned when the block was decoded without the values
// it references.
var errUnresolved = errors.New("the referenced values were not resolved: decode the block again with the referenced secrets' values")

// Generate implements providers.Generator. Its errors never wrap a cty
// error: the rendered text may hold another secret's value.
func (*Template) Generate(_ context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	cfg, err := object(req.Config)
	if err != nil {
		return nil, fmt.Errorf("template: %w", errUnresolved)
	}
	v := cty.NullVal(cty.String)
	if cfg.Type().HasAttribute(templateText.name) {
		v = cfg.GetAttr(templateText.name)
	}
	if !v.IsKnown() || v.IsNull() {
		return nil, fmt.Errorf("template: %w", errUnresolved)
	}
	if v, err = convert.Convert(v, cty.String); err != nil {
		return nil, errors.New("template: template must be a string")
	}
	if strings.TrimSpace(v.AsString()) == "" {
		return nil, errors.New("template: it renders to an empty value")
	}
	return &providers.GenerateResponse{Value: sensitive.New(v.AsString())}, nil
}
