package redis

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
	{config.KindTarget, "redis", ""},
	{config.KindVerify, "redis", ""},
}

var schemaTests = map[string]schemaTest{
	"target acl user": {
		kind: config.KindTarget, typ: "redis",
		body: "address = \"cache.internal:6379\"\nadmin_username = \"rotplan\"\nadmin_password = unknown\nusername = \"cloudforge\"",
		want: map[string]cty.Value{"mode": cty.StringVal("acl"), "tls": cty.False},
	},
	"target requirepass": {
		kind: config.KindTarget, typ: "redis",
		body: "address = \"[::1]:6379\"\nmode = \"requirepass\"\ntls = true",
		want: map[string]cty.Value{"mode": cty.StringVal("requirepass"), "tls": cty.True},
	},
	"target without address": {
		kind: config.KindTarget, typ: "redis",
		body:    `username = "cloudforge"`,
		wantErr: `"address" is required`,
	},
	"target address without port": {
		kind: config.KindTarget, typ: "redis",
		body:    `address = "cache.internal"`,
		wantErr: `Invalid Redis address`,
	},
	"target address as url": {
		kind: config.KindTarget, typ: "redis",
		body:    `address = "rediss://cache.internal:6379"`,
		wantErr: `Invalid Redis address`,
	},
	"target bad mode": {
		kind: config.KindTarget, typ: "redis",
		body:    "address = \"cache.internal:6379\"\nmode = \"auth\"",
		wantErr: `Invalid mode`,
	},
	"target requirepass with username": {
		kind: config.KindTarget, typ: "redis",
		body:    "address = \"cache.internal:6379\"\nmode = \"requirepass\"\nusername = \"cloudforge\"",
		wantErr: `username with requirepass`,
	},
	"target typo": {
		kind: config.KindTarget, typ: "redis",
		body:    "address = \"cache.internal:6379\"\nuser = \"cloudforge\"",
		wantErr: `Unsupported argument`,
	},
	"verify": {
		kind: config.KindVerify, typ: "redis",
		body: `address = "cache.internal:6379"`,
		want: map[string]cty.Value{
			"command": cty.ListVal([]cty.Value{cty.StringVal("PING")}),
			"tls":     cty.False,
		},
	},
	"verify command": {
		kind: config.KindVerify, typ: "redis",
		body: "address = \"cache.internal:6379\"\nusername = \"cloudforge\"\ncommand = [\"GET\", \"healthcheck\"]\ntls = true",
		want: map[string]cty.Value{"command": cty.ListVal([]cty.Value{cty.StringVal("GET"), cty.StringVal("healthcheck")})},
	},
	"verify empty command": {
		kind: config.KindVerify, typ: "redis",
		body:    "address = \"cache.internal:6379\"\ncommand = []",
		wantErr: `Empty command`,
	},
	"verify command as string": {
		kind: config.KindVerify, typ: "redis",
		body:    "address = \"cache.internal:6379\"\ncommand = \"PING\"",
		wantErr: `list of string required`,
	},
	"verify without address": {
		kind: config.KindVerify, typ: "redis",
		body:    ``,
		wantErr: `"address" is required`,
	},
	"verify typo": {
		kind: config.KindVerify, typ: "redis",
		body:    "address = \"cache.internal:6379\"\npassword = \"x\"",
		wantErr: `Unsupported argument`,
	},
	"verify address made from a secret": {
		kind: config.KindVerify, typ: "redis",
		body:    `address = canary`,
		wantErr: `Invalid Redis address`,
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
		if want := d.kind == config.KindTarget; schema.Authenticates != want {
			t.Errorf("%s %q: Authenticates = %v, want %v", d.kind, d.typ, schema.Authenticates, want)
		}
	}
	if _, err := r.NewTarget("redis", providers.Settings{}); err != nil {
		t.Errorf("NewTarget: %v", err)
	}
	if _, err := r.NewVerifier("redis", providers.Settings{}); err != nil {
		t.Errorf("NewVerifier: %v", err)
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
