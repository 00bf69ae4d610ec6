// Package providertest holds what the providers' own tests share: decoding a
// block against a registered type's schema and checking its diagnostics. It
// is imported by tests only.
package providertest

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Canary stands for a secret's value in test blocks (the HCL variable
// canary), which no diagnostic may quote.
const Canary = "CANARY-7f3a9c"

// SchemaCase decodes one block body against a registered type's schema.
type SchemaCase struct {
	Kind config.BlockKind
	Type string
	Body string
	// WantErr is part of an error's summary or detail; empty means the
	// block is valid.
	WantErr string
	// Want holds attributes of the decoded value, to pin defaults.
	Want map[string]cty.Value
}

// RunSchemaCases registers a package's types and runs each case as a
// subtest.
func RunSchemaCases(t *testing.T, register func(*providers.Registry), cases map[string]SchemaCase) {
	t.Helper()
	r := providers.NewRegistry()
	register(r)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			schema, ok := r.Schema(tc.Kind, tc.Type)
			if !ok {
				t.Fatalf("%s %q is not registered", tc.Kind, tc.Type)
			}
			val, diags := Decode(t, tc.Body, schema.Spec)
			CheckDiags(t, diags, tc.WantErr)
			for attr, want := range tc.Want {
				if got := val.GetAttr(attr); !got.RawEquals(want) {
					t.Errorf("%s = %#v, want %#v", attr, got, want)
				}
			}
		})
	}
}

// Decode parses body as the inside of a block and decodes it against spec,
// with the variable unknown standing for an unset env() while validating and
// canary for a secret's value.
func Decode(t *testing.T, body string, spec hcldec.Spec) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(body), "test.hcl")
	if diags.HasErrors() {
		t.Fatalf("test HCL does not parse: %s", diags.Error())
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"unknown": cty.UnknownVal(cty.String),
		"canary":  cty.StringVal(Canary),
	}}
	return hcldec.Decode(f.Body, spec, ctx)
}

// CheckDiags fails unless diags hold an error mentioning wantErr with a
// source range (or no error, when wantErr is empty), and fails if any
// diagnostic quotes the canary value.
func CheckDiags(t *testing.T, diags hcl.Diagnostics, wantErr string) {
	t.Helper()
	for _, d := range diags {
		if strings.Contains(d.Summary+d.Detail, Canary) {
			t.Errorf("diagnostic %q quotes the value it rejects", d.Summary)
		}
	}
	if wantErr == "" {
		if diags.HasErrors() {
			t.Fatalf("unexpected diagnostics: %s", diags.Error())
		}
		return
	}
	for _, err := range diags.Errs() {
		d := err.(*hcl.Diagnostic)
		if !strings.Contains(d.Summary+": "+d.Detail, wantErr) {
			continue
		}
		if d.Subject == nil {
			t.Errorf("error %q has no source range", d.Summary)
		}
		return
	}
	t.Errorf("no error mentions %q; got: %v", wantErr, diags)
}

// Registration is a block type a package must register.
type Registration struct {
	Kind     config.BlockKind
	Type     string
	Provider string // the provider block it shares settings with
	// Implemented is false for a type declared by schema only.
	Implemented bool
}

// CheckRegistered fails unless r holds every registration as described.
// Provider blocks are settings, never "implemented"; their flag is ignored.
func CheckRegistered(t *testing.T, r *providers.Registry, want []Registration) {
	t.Helper()
	for _, w := range want {
		schema, ok := r.Schema(w.Kind, w.Type)
		if !ok {
			t.Errorf("%s %q is not registered", w.Kind, w.Type)
			continue
		}
		if w.Kind != config.KindProvider && schema.NotImplemented == w.Implemented {
			t.Errorf("%s %q: NotImplemented is %v, want %v", w.Kind, w.Type, schema.NotImplemented, !w.Implemented)
		}
		if schema.Provider != w.Provider {
			t.Errorf("%s %q uses provider %q, want %q", w.Kind, w.Type, schema.Provider, w.Provider)
		}
	}
}
