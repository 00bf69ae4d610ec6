package aws

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

// declared lists every type this package registers; implemented says
// whether it has a factory or is declared by schema only.
var declared = []struct {
	kind        config.BlockKind
	typ         string
	provider    string
	implemented bool
}{
	{config.KindProvider, "aws", "", false},
	{config.KindStore, "aws_secretsmanager", "aws", true},
	{config.KindGenerate, "aws_iam_access_key", "aws", false},
	{config.KindTarget, "elasticache_auth_token", "aws", false},
}

var schemaTests = map[string]schemaTest{
	"provider empty": {
		kind: config.KindProvider, typ: "aws",
		body: ``,
	},
	"provider all": {
		kind: config.KindProvider, typ: "aws",
		body: "region = \"us-east-1\"\nprofile = \"rotplan-plan\"\nendpoint = \"http://127.0.0.1:4566\"",
		want: map[string]cty.Value{"region": cty.StringVal("us-east-1"), "profile": cty.StringVal("rotplan-plan")},
	},
	"provider bad endpoint": {
		kind: config.KindProvider, typ: "aws",
		body:    `endpoint = "127.0.0.1:4566"`,
		wantErr: `Invalid endpoint`,
	},
	"provider static keys refused": {
		kind: config.KindProvider, typ: "aws",
		body:    `access_key = "AKIA..."`,
		wantErr: `Unsupported argument`,
	},
	"secretsmanager": {
		kind: config.KindStore, typ: "aws_secretsmanager",
		body: `secret_id = "aegis/redis-auth-token"`,
		want: map[string]cty.Value{"secret_id": cty.StringVal("aegis/redis-auth-token"), "json_key": cty.NullVal(cty.String)},
	},
	"secretsmanager json key": {
		kind: config.KindStore, typ: "aws_secretsmanager",
		body: "secret_id = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:aegis/db-AbCdEf\"\njson_key = \"password\"",
	},
	"secretsmanager without id": {
		kind: config.KindStore, typ: "aws_secretsmanager",
		body:    `json_key = "password"`,
		wantErr: `"secret_id" is required`,
	},
	"secretsmanager typo": {
		kind: config.KindStore, typ: "aws_secretsmanager",
		body:    `secretid = "aegis/x"`,
		wantErr: `Unsupported argument`,
	},
	"iam access key": {
		kind: config.KindGenerate, typ: "aws_iam_access_key",
		body: `user_name = "cloudforge-api"`,
	},
	"iam access key without user": {
		kind: config.KindGenerate, typ: "aws_iam_access_key",
		body:    ``,
		wantErr: `"user_name" is required`,
	},
	"iam access key list of users": {
		kind: config.KindGenerate, typ: "aws_iam_access_key",
		body:    `user_name = ["a", "b"]`,
		wantErr: `string required`,
	},
	"elasticache auth token": {
		kind: config.KindTarget, typ: "elasticache_auth_token",
		body: `replication_group_id = "cloudforge-redis"`,
	},
	"elasticache auth token without group": {
		kind: config.KindTarget, typ: "elasticache_auth_token",
		body:    ``,
		wantErr: `"replication_group_id" is required`,
	},
	"elasticache auth token typo": {
		kind: config.KindTarget, typ: "elasticache_auth_token",
		body:    `replication_group = "cloudforge-redis"`,
		wantErr: `Unsupported argument`,
	},
	"provider endpoint made from a secret": {
		kind: config.KindProvider, typ: "aws",
		body:    `endpoint = canary`,
		wantErr: `Invalid endpoint`,
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
		if d.kind != config.KindProvider && schema.NotImplemented == d.implemented {
			t.Errorf("%s %q: NotImplemented is %v", d.kind, d.typ, schema.NotImplemented)
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
