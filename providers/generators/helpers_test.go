package generators_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
	"github.com/rotplan/rotplan/providers/generators"
)

// registry returns a registry holding only this package's types.
func registry(t *testing.T) *providers.Registry {
	t.Helper()
	r := providers.NewRegistry()
	generators.Register(r)
	return r
}

// decode parses src as the body of a generate block of type typ and decodes
// it against the type's registered spec, the way config does.
func decode(t *testing.T, typ, src string, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	schema, ok := registry(t).Schema(config.KindGenerate, typ)
	if !ok {
		t.Fatalf("generate type %q is not registered", typ)
	}
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "test.hcl")
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags.Error())
	}
	return hcldec.Decode(f.Body, schema.Spec, ctx)
}

// generate decodes src (which must be valid) and calls the type's Generate.
func generate(t *testing.T, typ, src string) (sensitive.Value, error) {
	t.Helper()
	cfg, diags := decode(t, typ, src, nil)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	return generateConfig(t, typ, cfg)
}

// generateConfig calls the type's Generate with an already decoded config.
func generateConfig(t *testing.T, typ string, cfg cty.Value) (sensitive.Value, error) {
	t.Helper()
	gen, err := registry(t).NewGenerator(typ, providers.Settings{})
	if err != nil {
		t.Fatalf("NewGenerator(%q): %v", typ, err)
	}
	resp, err := gen.Generate(context.Background(), providers.GenerateRequest{Secret: "test", Config: cfg})
	if err != nil {
		return sensitive.Value{}, err
	}
	if resp == nil {
		t.Fatal("Generate returned neither a response nor an error")
	}
	return resp.Value, nil
}

// checkErr fails unless err's message contains want, or err is nil when
// want is "".
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
