package httpcheck

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
	{config.KindVerify, "http", ""},
}

var schemaTests = map[string]schemaTest{
	"defaults": {
		kind: config.KindVerify, typ: "http",
		body: `url = "https://api.cloudforge.example/health"`,
		want: map[string]cty.Value{
			"method":        cty.StringVal("GET"),
			"headers":       cty.MapValEmpty(cty.String),
			"body":          cty.NullVal(cty.String),
			"expect_status": cty.NumberIntVal(200),
			"json_path":     cty.NullVal(cty.String),
			"expect_value":  cty.NullVal(cty.String),
			"interval":      cty.StringVal("5s"),
			"timeout":       cty.StringVal("2m"),
		},
	},
	"json path and bearer header": {
		kind: config.KindVerify, typ: "http",
		body: `
url          = "https://api.cloudforge.example/api/v1/findings"
headers      = { Authorization = "Bearer ${unknown}" }
json_path    = "components.postgres"
expect_value = "healthy"
interval     = "10s"
timeout      = "5m"
`,
		want: map[string]cty.Value{"timeout": cty.StringVal("5m")},
	},
	"post with body": {
		kind: config.KindVerify, typ: "http",
		body: `
url           = "https://login.example/token"
method        = "POST"
headers       = { "Content-Type" = "application/x-www-form-urlencoded" }
body          = "grant_type=client_credentials&client_secret=${unknown}"
expect_status = 200
`,
	},
	"number as expect_value": {
		kind: config.KindVerify, typ: "http",
		body: "url = \"http://127.0.0.1:8080/\"\njson_path = \"items.0.count\"\nexpect_value = 3",
		want: map[string]cty.Value{"expect_value": cty.StringVal("3")},
	},
	"without url": {
		kind: config.KindVerify, typ: "http",
		body:    `method = "GET"`,
		wantErr: `"url" is required`,
	},
	"url without scheme": {
		kind: config.KindVerify, typ: "http",
		body:    `url = "api.cloudforge.example/health"`,
		wantErr: `Invalid URL`,
	},
	"lowercase method": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\nmethod = \"get\"",
		wantErr: `Invalid method`,
	},
	"status out of range": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\nexpect_status = 2000",
		wantErr: `Invalid expect_status`,
	},
	"status as text": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\nexpect_status = \"OK\"",
		wantErr: `a number is required`,
	},
	"jq style path": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\njson_path = \".components.postgres\"",
		wantErr: `Invalid json_path`,
	},
	"path with empty segment": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\njson_path = \"components..postgres\"",
		wantErr: `empty segment`,
	},
	"expect value without path": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\nexpect_value = \"ok\"",
		wantErr: `expect_value without json_path`,
	},
	"bad interval": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\ninterval = \"5 seconds\"",
		wantErr: `Invalid duration`,
	},
	"zero timeout": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\ntimeout = \"0s\"",
		wantErr: `more than zero`,
	},
	"interval longer than timeout": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\ninterval = \"5m\"\ntimeout = \"1m\"",
		wantErr: `interval longer than timeout`,
	},
	"headers as list": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\nheaders = [\"Authorization: x\"]",
		wantErr: `map of string required`,
	},
	"typo": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"https://x.example/\"\nstatus = 200",
		wantErr: `Unsupported argument`,
	},
	"url made from a secret": {
		kind: config.KindVerify, typ: "http",
		body:    "url = \"${canary}/health\"\njson_path = \"${canary}..x\"\ntimeout = canary",
		wantErr: `Invalid URL`,
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
	if _, err := r.NewVerifier("http", providers.Settings{}); err != nil {
		t.Errorf("verify http: %v", err)
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
