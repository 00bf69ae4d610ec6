package exec

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
	{config.KindTarget, "exec", ""},
	{config.KindVerify, "exec", ""},
}

var schemaTests = map[string]schemaTest{
	"target stdin": {
		kind: config.KindTarget, typ: "exec",
		body: `command = ["./scripts/push-secret.sh", "--app", "api"]`,
		want: map[string]cty.Value{"value_env": cty.NullVal(cty.String)},
	},
	"target env": {
		kind: config.KindTarget, typ: "exec",
		body: "command = [\"kubectl\", \"apply\", \"-f\", \"-\"]\nvalue_env = \"SECRET_VALUE\"",
		want: map[string]cty.Value{"value_env": cty.StringVal("SECRET_VALUE")},
	},
	"target without command": {
		kind: config.KindTarget, typ: "exec",
		body:    `value_env = "V"`,
		wantErr: `"command" is required`,
	},
	"target command as string": {
		kind: config.KindTarget, typ: "exec",
		body:    `command = "./push.sh --app api"`,
		wantErr: `list of string required`,
	},
	"target empty command": {
		kind: config.KindTarget, typ: "exec",
		body:    `command = []`,
		wantErr: `Empty command`,
	},
	"target empty program": {
		kind: config.KindTarget, typ: "exec",
		body:    `command = ["", "x"]`,
		wantErr: `Empty command`,
	},
	"target bad env name": {
		kind: config.KindTarget, typ: "exec",
		body:    "command = [\"true\"]\nvalue_env = \"SECRET-VALUE\"",
		wantErr: `Invalid value_env`,
	},
	"target typo": {
		kind: config.KindTarget, typ: "exec",
		body:    "command = [\"true\"]\nenv = \"V\"",
		wantErr: `Unsupported argument`,
	},
	"verify": {
		kind: config.KindVerify, typ: "exec",
		body: "command = [\"sh\", \"-c\", \"curl -sf -H \\\"Authorization: Bearer $TOKEN\\\" https://x.example/\"]\nvalue_env = \"TOKEN\"",
	},
	"verify program from unset env var": {
		kind: config.KindVerify, typ: "exec",
		body: `command = [unknown, "--check"]`,
	},
	"verify without command": {
		kind: config.KindVerify, typ: "exec",
		body:    ``,
		wantErr: `"command" is required`,
	},
	"verify typo": {
		kind: config.KindVerify, typ: "exec",
		body:    "command = [\"true\"]\nargs = [\"x\"]",
		wantErr: `Unsupported argument`,
	},
	"value env made from a secret": {
		kind: config.KindTarget, typ: "exec",
		body:    "command = [\"true\"]\nvalue_env = \"${canary}\"",
		wantErr: `Invalid value_env`,
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
	tgt, err := r.NewTarget("exec", providers.Settings{})
	if err != nil {
		t.Fatalf("target exec: %v", err)
	}
	if _, ok := tgt.(providers.TargetWriter); !ok {
		t.Errorf("target exec: %T is not a providers.TargetWriter", tgt)
	}
	if _, err := r.NewVerifier("exec", providers.Settings{}); err != nil {
		t.Errorf("verify exec: %v", err)
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
