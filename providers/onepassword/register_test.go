package onepassword

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

// declared lists every type this package registers.
var declared = []struct {
	kind     config.BlockKind
	typ      string
	provider string
}{
	{config.KindProvider, "onepassword", ""},
	{config.KindStore, "onepassword", "onepassword"},
}

var schemaTests = map[string]schemaTest{
	"provider token": {
		kind: config.KindProvider, typ: "onepassword",
		body: `service_account_token = "ops_test"`,
	},
	"provider token from unset env var": {
		kind: config.KindProvider, typ: "onepassword",
		body: `service_account_token = unknown`,
	},
	"provider without token": {
		kind: config.KindProvider, typ: "onepassword",
		body:    ``,
		wantErr: `"service_account_token" is required`,
	},
	"provider typo": {
		kind: config.KindProvider, typ: "onepassword",
		body:    `service_acount_token = "ops_test"`,
		wantErr: `Unsupported argument`,
	},
	"store field": {
		kind: config.KindStore, typ: "onepassword",
		body: `reference = "op://Production/cloudforge-jwt/credential"`,
		want: map[string]cty.Value{"reference": cty.StringVal("op://Production/cloudforge-jwt/credential")},
	},
	"store field in section": {
		kind: config.KindStore, typ: "onepassword",
		body: `reference = "op://Production/cloudforge postgres/admin/password"`,
	},
	"store reference from unset env var": {
		kind: config.KindStore, typ: "onepassword",
		body: `reference = unknown`,
	},
	"store without reference": {
		kind: config.KindStore, typ: "onepassword",
		body:    ``,
		wantErr: `"reference" is required`,
	},
	"store reference without scheme": {
		kind: config.KindStore, typ: "onepassword",
		body:    `reference = "Production/cloudforge-jwt/credential"`,
		wantErr: `does not start with op://`,
	},
	"store reference without field": {
		kind: config.KindStore, typ: "onepassword",
		body:    `reference = "op://Production/cloudforge-jwt"`,
		wantErr: `2 path parts`,
	},
	"store reference with empty item": {
		kind: config.KindStore, typ: "onepassword",
		body:    `reference = "op://Production//credential"`,
		wantErr: `is empty`,
	},
	"store reference with query": {
		kind: config.KindStore, typ: "onepassword",
		body:    `reference = "op://Production/github/one-time password?attribute=otp"`,
		wantErr: `query parameters`,
	},
	"store typo": {
		kind: config.KindStore, typ: "onepassword",
		body:    "reference = \"op://a/b/c\"\nvault = \"a\"",
		wantErr: `Unsupported argument`,
	},
	"store reference made from a secret": {
		kind: config.KindStore, typ: "onepassword",
		body:    `reference = "op://${canary}"`,
		wantErr: `Invalid 1Password secret reference`,
	},
}

func TestSchemas(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	for name, tc := range schemaTests {
		t.Run(name, func(t *testing.T) {
			schema, ok := r.Schema(tc.kind, tc.typ)
			if !ok {
				t.Fatalf("%s %q is not registered", tc.kind, tc.typ)
			}
			val, diags := decode(t, tc.body, schema.Spec)
			checkDiags(t, diags, tc.wantErr)
			for attr, want := range tc.want {
				if got := val.GetAttr(attr); !got.RawEquals(want) {
					t.Errorf("%s = %#v, want %#v", attr, got, want)
				}
			}
		})
	}
}

func TestRegister(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	for _, d := range declared {
		schema, ok := r.Schema(d.kind, d.typ)
		if !ok {
			t.Errorf("%s %q is not registered", d.kind, d.typ)
			continue
		}
		if schema.NotImplemented {
			t.Errorf("%s %q is marked NotImplemented", d.kind, d.typ)
		}
		if schema.Provider != d.provider {
			t.Errorf("%s %q uses provider %q, want %q", d.kind, d.typ, schema.Provider, d.provider)
		}
	}
}

// schemaTest decodes one block body against a registered type's schema.
type schemaTest struct {
	kind config.BlockKind
	typ  string
	body string
	// wantErr is part of an error's summary or detail; empty means the
	// block is valid.
	wantErr string
	// want holds attributes of the decoded value, to pin defaults.
	want map[string]cty.Value
}

// decode parses body as the inside of a block and decodes it against spec,
// with the variable unknown standing for an unset env() while validating and
// canary for a secret's value, which no diagnostic may quote.
func decode(t *testing.T, body string, spec hcldec.Spec) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(body), "test.hcl")
	if diags.HasErrors() {
		t.Fatalf("test HCL does not parse: %s", diags.Error())
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"unknown": cty.UnknownVal(cty.String),
		"canary":  cty.StringVal(canary),
	}}
	return hcldec.Decode(f.Body, spec, ctx)
}

// canary stands for a secret's value in test blocks.
const canary = "CANARY-7f3a9c"

func checkDiags(t *testing.T, diags hcl.Diagnostics, wantErr string) {
	t.Helper()
	for _, d := range diags {
		if strings.Contains(d.Summary+d.Detail, canary) {
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
