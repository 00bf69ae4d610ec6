package postgres

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
	{config.KindTarget, "postgres", ""},
	{config.KindVerify, "postgres", ""},
}

var schemaTests = map[string]schemaTest{
	"target single": {
		kind: config.KindTarget, typ: "postgres",
		body: "admin_dsn = unknown\nrole = \"aegis\"",
		want: map[string]cty.Value{"strategy": cty.StringVal("single"), "alternate_role": cty.NullVal(cty.String)},
	},
	"target alternating": {
		kind: config.KindTarget, typ: "postgres",
		body: "admin_dsn = \"postgres://admin@db/aegis\"\nrole = \"aegis_blue\"\nstrategy = \"alternating\"\nalternate_role = \"aegis_green\"",
	},
	"target without role": {
		kind: config.KindTarget, typ: "postgres",
		body:    `admin_dsn = "postgres://admin@db/aegis"`,
		wantErr: `"role" is required`,
	},
	"target without admin dsn": {
		kind: config.KindTarget, typ: "postgres",
		body:    `role = "aegis"`,
		wantErr: `"admin_dsn" is required`,
	},
	"target bad strategy": {
		kind: config.KindTarget, typ: "postgres",
		body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = \"dual\"",
		wantErr: `Invalid strategy`,
	},
	"target alternating without alternate role": {
		kind: config.KindTarget, typ: "postgres",
		body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = \"alternating\"",
		wantErr: `name the second one with alternate_role`,
	},
	"target alternate role without alternating": {
		kind: config.KindTarget, typ: "postgres",
		body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nalternate_role = \"aegis2\"",
		wantErr: `used only with strategy = "alternating"`,
	},
	"target alternate role same as role": {
		kind: config.KindTarget, typ: "postgres",
		body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = \"alternating\"\nalternate_role = \"aegis\"",
		wantErr: `different role`,
	},
	"target typo": {
		kind: config.KindTarget, typ: "postgres",
		body:    "admin_dsn = \"x\"\nuser = \"aegis\"",
		wantErr: `Unsupported argument`,
	},
	"verify": {
		kind: config.KindVerify, typ: "postgres",
		body: `dsn = "postgres://aegis:${unknown}@db.internal:5432/aegis?sslmode=require"`,
		want: map[string]cty.Value{"query": cty.StringVal("SELECT 1")},
	},
	"verify query": {
		kind: config.KindVerify, typ: "postgres",
		body: "dsn = unknown\nquery = \"SELECT count(*) FROM pg_stat_activity\"",
		want: map[string]cty.Value{"query": cty.StringVal("SELECT count(*) FROM pg_stat_activity")},
	},
	"verify without dsn": {
		kind: config.KindVerify, typ: "postgres",
		body:    `query = "SELECT 1"`,
		wantErr: `"dsn" is required`,
	},
	"verify host attributes are not the design": {
		kind: config.KindVerify, typ: "postgres",
		body:    "dsn = \"x\"\nhost = \"db.internal\"",
		wantErr: `Unsupported argument`,
	},
	"target strategy made from a secret": {
		kind: config.KindTarget, typ: "postgres",
		body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = canary",
		wantErr: `Invalid strategy`,
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
			t.Errorf("%s %q: Authenticates is %v, want %v: a role checks logins, it holds no copy", d.kind, d.typ, schema.Authenticates, want)
		}
	}
	target, err := r.NewTarget("postgres", providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := target.(providers.TargetWriter); !ok {
		t.Errorf("target postgres is a %T, not a providers.TargetWriter: apply cannot set passwords", target)
	}
	if _, err := r.NewVerifier("postgres", providers.Settings{}); err != nil {
		t.Fatal(err)
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
