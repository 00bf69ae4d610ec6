package azure

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
	{config.KindProvider, "azure", ""},
	{config.KindStore, "azure_keyvault", "azure"},
}

var schemaTests = map[string]schemaTest{
	"provider default chain": {
		kind: config.KindProvider, typ: "azure",
		body: ``,
	},
	"provider service principal": {
		kind: config.KindProvider, typ: "azure",
		body: "tenant_id = unknown\nclient_id = unknown\nclient_secret = unknown",
	},
	"provider typo": {
		kind: config.KindProvider, typ: "azure",
		body:    `tenant = "x"`,
		wantErr: `Unsupported argument`,
	},
	"keyvault": {
		kind: config.KindStore, typ: "azure_keyvault",
		body: "vault_url = \"https://cloudforge-kv.vault.azure.net/\"\nname = \"entra-client-secret\"",
		want: map[string]cty.Value{"name": cty.StringVal("entra-client-secret")},
	},
	"keyvault url without slash": {
		kind: config.KindStore, typ: "azure_keyvault",
		body: "vault_url = \"https://cloudforge-kv.vault.azure.net\"\nname = \"x\"",
	},
	"keyvault without name": {
		kind: config.KindStore, typ: "azure_keyvault",
		body:    `vault_url = "https://cloudforge-kv.vault.azure.net/"`,
		wantErr: `"name" is required`,
	},
	"keyvault without url": {
		kind: config.KindStore, typ: "azure_keyvault",
		body:    `name = "x"`,
		wantErr: `"vault_url" is required`,
	},
	"keyvault url with secret path": {
		kind: config.KindStore, typ: "azure_keyvault",
		body:    "vault_url = \"https://cloudforge-kv.vault.azure.net/secrets/x\"\nname = \"x\"",
		wantErr: `Invalid Key Vault URL`,
	},
	"keyvault plain http url": {
		kind: config.KindStore, typ: "azure_keyvault",
		body:    "vault_url = \"http://cloudforge-kv.vault.azure.net/\"\nname = \"x\"",
		wantErr: `Invalid Key Vault URL`,
	},
	"keyvault bad name": {
		kind: config.KindStore, typ: "azure_keyvault",
		body:    "vault_url = \"https://cloudforge-kv.vault.azure.net/\"\nname = \"entra_client_secret\"",
		wantErr: `Invalid Key Vault secret name`,
	},
	"keyvault typo": {
		kind: config.KindStore, typ: "azure_keyvault",
		body:    "vault_uri = \"https://cloudforge-kv.vault.azure.net/\"\nname = \"x\"",
		wantErr: `Unsupported argument`,
	},
	"keyvault name made from a secret": {
		kind: config.KindStore, typ: "azure_keyvault",
		body:    "vault_url = \"https://${canary}/x\"\nname = \"${canary}!\"",
		wantErr: `Invalid Key Vault secret name`,
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

func TestRegisterDeclaresOnly(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	for _, d := range declared {
		schema, ok := r.Schema(d.kind, d.typ)
		if !ok {
			t.Errorf("%s %q is not registered", d.kind, d.typ)
			continue
		}
		if d.kind != config.KindProvider && !schema.NotImplemented {
			t.Errorf("%s %q is not marked NotImplemented", d.kind, d.typ)
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
