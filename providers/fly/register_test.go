package fly

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
	{config.KindProvider, "fly", ""},
	{config.KindTarget, "fly", "fly"},
}

var schemaTests = map[string]schemaTest{
	"provider token": {
		kind: config.KindProvider, typ: "fly",
		body: `api_token = unknown`,
		want: map[string]cty.Value{"api_url": cty.StringVal("https://api.machines.dev")},
	},
	"provider internal api": {
		kind: config.KindProvider, typ: "fly",
		body: "api_token = \"fo1_x\"\napi_url = \"http://_api.internal:4280\"",
		want: map[string]cty.Value{"api_url": cty.StringVal("http://_api.internal:4280")},
	},
	"provider without token": {
		kind: config.KindProvider, typ: "fly",
		body:    ``,
		wantErr: `"api_token" is required`,
	},
	"provider bad api url": {
		kind: config.KindProvider, typ: "fly",
		body:    "api_token = \"x\"\napi_url = \"api.machines.dev\"",
		wantErr: `Invalid api_url`,
	},
	"provider typo": {
		kind: config.KindProvider, typ: "fly",
		body:    "api_token = \"x\"\norg = \"personal\"",
		wantErr: `Unsupported argument`,
	},
	"target": {
		kind: config.KindTarget, typ: "fly",
		body: "app = \"cloudforge-api\"\nkey = \"AEGIS_DATABASE_URL\"",
		want: map[string]cty.Value{"previous_key": cty.NullVal(cty.String), "deploy": cty.True},
	},
	"target staged only": {
		kind: config.KindTarget, typ: "fly",
		body: "app = \"cloudforge-api\"\nkey = \"K\"\ndeploy = false",
		want: map[string]cty.Value{"deploy": cty.False},
	},
	"target deploy not a bool": {
		kind: config.KindTarget, typ: "fly",
		body:    "app = \"cloudforge-api\"\nkey = \"K\"\ndeploy = \"later\"",
		wantErr: `Incorrect attribute value type`,
	},
	"target dual key": {
		kind: config.KindTarget, typ: "fly",
		body: "app = \"cloudforge-api\"\nkey = \"JWT_SIGNING_KEY\"\nprevious_key = \"JWT_PREVIOUS_SIGNING_KEY\"",
	},
	"target without app": {
		kind: config.KindTarget, typ: "fly",
		body:    `key = "JWT_SIGNING_KEY"`,
		wantErr: `"app" is required`,
	},
	"target without key": {
		kind: config.KindTarget, typ: "fly",
		body:    `app = "cloudforge-api"`,
		wantErr: `"key" is required`,
	},
	"target bad key": {
		kind: config.KindTarget, typ: "fly",
		body:    "app = \"cloudforge-api\"\nkey = \"JWT-SIGNING-KEY\"",
		wantErr: `Invalid Fly secret name`,
	},
	"target previous key same as key": {
		kind: config.KindTarget, typ: "fly",
		body:    "app = \"cloudforge-api\"\nkey = \"K\"\nprevious_key = \"K\"",
		wantErr: `previous_key is the same as key`,
	},
	"target typo": {
		kind: config.KindTarget, typ: "fly",
		body:    "app = \"cloudforge-api\"\nkey = \"K\"\nprevious = \"P\"",
		wantErr: `Unsupported argument`,
	},
	"target key made from a secret": {
		kind: config.KindTarget, typ: "fly",
		body:    "app = \"cloudforge-api\"\nkey = \"${canary}\"\nprevious_key = \"${canary}\"",
		wantErr: `Invalid Fly secret name`,
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
