package redis

import (
	"strings"
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers.
var registered = []providertest.Registration{
	{Kind: config.KindTarget, Type: "redis", Implemented: true},
	{Kind: config.KindVerify, Type: "redis", Implemented: true},
}

var schemaTests = map[string]providertest.SchemaCase{
	"target acl user": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"cache.internal:6379\"\nadmin_username = \"rotplan\"\nadmin_password = unknown\nusername = \"cloudforge\"",
		Want: map[string]cty.Value{"mode": cty.StringVal("acl"), "tls": cty.False},
	},
	"target requirepass": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"[::1]:6379\"\nmode = \"requirepass\"\ntls = true",
		Want: map[string]cty.Value{"mode": cty.StringVal("requirepass"), "tls": cty.True},
	},
	"target without address": {
		Kind: config.KindTarget, Type: "redis",
		Body:    `username = "cloudforge"`,
		WantErr: `Missing Redis address`,
	},
	"target with empty nodes": {
		Kind: config.KindTarget, Type: "redis",
		Body:    `nodes = []`,
		WantErr: `Missing Redis address`,
	},
	"target nodes": {
		Kind: config.KindTarget, Type: "redis",
		Body: "nodes = [\"cache-1.internal:6379\", \"cache-2.internal:6379\"]\nusername = \"cloudforge\"",
		Want: map[string]cty.Value{"discover": cty.StringVal("none"), "save": cty.StringVal("auto"), "address": cty.NullVal(cty.String)},
	},
	"target address and nodes": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"cache-1.internal:6379\"\nnodes = [\"cache-2.internal:6379\"]",
	},
	"target nodes from env": {
		Kind: config.KindTarget, Type: "redis",
		Body: `nodes = [unknown, "cache-2.internal:6379"]`,
	},
	"target node without port": {
		Kind: config.KindTarget, Type: "redis",
		Body:    `nodes = ["cache-1.internal:6379", "cache-2.internal"]`,
		WantErr: `nodes[1] is not host:port`,
	},
	"target node twice": {
		Kind: config.KindTarget, Type: "redis",
		Body:    `nodes = ["cache-1.internal:6379", "CACHE-1.internal:6379"]`,
		WantErr: `nodes[1] is the same node as nodes[0]`,
	},
	"target node made from a secret": {
		Kind: config.KindTarget, Type: "redis",
		Body:    `nodes = [canary]`,
		WantErr: `Invalid Redis node`,
	},
	"target discover replicas": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"cache.internal:6379\"\ndiscover = \"replicas\"",
		Want: map[string]cty.Value{"discover": cty.StringVal("replicas")},
	},
	"target discover cluster": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"cache.internal:6379\"\ndiscover = \"cluster\"",
		Want: map[string]cty.Value{"discover": cty.StringVal("cluster")},
	},
	"target bad discover": {
		Kind: config.KindTarget, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\ndiscover = \"sentinel\"",
		WantErr: `Invalid discover`,
	},
	"target save none": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"cache.internal:6379\"\nsave = \"none\"",
		Want: map[string]cty.Value{"save": cty.StringVal("none")},
	},
	"target save acl_save": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"cache.internal:6379\"\nsave = \"acl_save\"",
		Want: map[string]cty.Value{"save": cty.StringVal("acl_save")},
	},
	"target save config_rewrite": {
		Kind: config.KindTarget, Type: "redis",
		Body: "address = \"cache.internal:6379\"\nsave = \"config_rewrite\"",
		Want: map[string]cty.Value{"save": cty.StringVal("config_rewrite")},
	},
	"target bad save": {
		Kind: config.KindTarget, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\nsave = \"bgsave\"",
		WantErr: `Invalid save`,
	},
	"target address without port": {
		Kind: config.KindTarget, Type: "redis",
		Body:    `address = "cache.internal"`,
		WantErr: `Invalid Redis address`,
	},
	"target address as url": {
		Kind: config.KindTarget, Type: "redis",
		Body:    `address = "rediss://cache.internal:6379"`,
		WantErr: `Invalid Redis address`,
	},
	"target bad mode": {
		Kind: config.KindTarget, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\nmode = \"auth\"",
		WantErr: `Invalid mode`,
	},
	"target requirepass with username": {
		Kind: config.KindTarget, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\nmode = \"requirepass\"\nusername = \"cloudforge\"",
		WantErr: `username with requirepass`,
	},
	"target typo": {
		Kind: config.KindTarget, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\nuser = \"cloudforge\"",
		WantErr: `Unsupported argument`,
	},
	"verify": {
		Kind: config.KindVerify, Type: "redis",
		Body: `address = "cache.internal:6379"`,
		Want: map[string]cty.Value{
			"command": cty.ListVal([]cty.Value{cty.StringVal("PING")}),
			"tls":     cty.False,
		},
	},
	"verify command": {
		Kind: config.KindVerify, Type: "redis",
		Body: "address = \"cache.internal:6379\"\nusername = \"cloudforge\"\ncommand = [\"GET\", \"healthcheck\"]\ntls = true",
		Want: map[string]cty.Value{"command": cty.ListVal([]cty.Value{cty.StringVal("GET"), cty.StringVal("healthcheck")})},
	},
	"verify empty command": {
		Kind: config.KindVerify, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\ncommand = []",
		WantErr: `Empty command`,
	},
	"verify command as string": {
		Kind: config.KindVerify, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\ncommand = \"PING\"",
		WantErr: `list of string required`,
	},
	"verify without address": {
		Kind: config.KindVerify, Type: "redis",
		Body:    ``,
		WantErr: `Missing Redis address`,
	},
	"verify nodes": {
		Kind: config.KindVerify, Type: "redis",
		Body: `nodes = ["cache-1.internal:6379", "cache-2.internal:6379"]`,
		Want: map[string]cty.Value{"command": cty.ListVal([]cty.Value{cty.StringVal("PING")})},
	},
	"verify bad node": {
		Kind: config.KindVerify, Type: "redis",
		Body:    `nodes = ["redis://cache-1.internal:6379"]`,
		WantErr: `nodes[0] is not host:port`,
	},
	"verify typo": {
		Kind: config.KindVerify, Type: "redis",
		Body:    "address = \"cache.internal:6379\"\npassword = \"x\"",
		WantErr: `Unsupported argument`,
	},
	"verify address made from a secret": {
		Kind: config.KindVerify, Type: "redis",
		Body:    `address = canary`,
		WantErr: `Invalid Redis address`,
	},
}

func TestSchemas(t *testing.T) {
	providertest.RunSchemaCases(t, Register, schemaTests)
}

func TestRegister(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	providertest.CheckRegistered(t, r, registered)
	for _, d := range registered {
		schema, _ := r.Schema(d.Kind, d.Type)
		if want := d.Kind == config.KindTarget; schema != nil && schema.Authenticates != want {
			t.Errorf("%s %q: Authenticates is %v, want %v: it checks logins, it holds no copy", d.Kind, d.Type, schema.Authenticates, want)
		}
	}
	if _, err := r.NewTarget("redis", providers.Settings{}); err != nil {
		t.Errorf("NewTarget: %v", err)
	}
	if _, err := r.NewVerifier("redis", providers.Settings{}); err != nil {
		t.Errorf("NewVerifier: %v", err)
	}
}

// canary is the shared canary value, under the name this package's other
// tests use.
const canary = providertest.Canary

// TestTargetDiagnosticRanges pins where each new attribute's diagnostic
// points: at the attribute itself, or, for a missing node, at the block.
func TestTargetDiagnosticRanges(t *testing.T) {
	tests := map[string]struct {
		body     string
		summary  string
		wantLine int
	}{
		"bad node": {
			body:    "username = \"app\"\nnodes = [\n  \"cache-1:6379\",\n  \"cache-2\",\n]\n",
			summary: "Invalid Redis node", wantLine: 2,
		},
		"bad discover": {
			body:    "address = \"cache-1:6379\"\n\ndiscover = \"all\"\n",
			summary: "Invalid discover", wantLine: 3,
		},
		"bad save": {
			body:    "address = \"cache-1:6379\"\nsave = \"bgsave\"\n",
			summary: "Invalid save", wantLine: 2,
		},
		"no node": {
			body:    "username = \"app\"\n",
			summary: "Missing Redis address", wantLine: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := providertest.Decode(t, tc.body, targetSpec)
			for _, d := range diags {
				if d.Summary != tc.summary {
					continue
				}
				if d.Subject == nil || d.Subject.Start.Line != tc.wantLine {
					t.Fatalf("%q at %v, want line %d", d.Summary, d.Subject, tc.wantLine)
				}
				return
			}
			t.Fatalf("no %q in %v", tc.summary, diags)
		})
	}
}

func TestTargetWrites(t *testing.T) {
	tests := map[string]struct {
		body string
		want []string
	}{
		"address":           {`address = "Cache:6379"`, []string{"redis cache:6379 default"}},
		"nodes":             {"nodes = [\"a:1\", \"b:2\"]\nusername = \"app\"", []string{"redis a:1 app", "redis b:2 app"}},
		"address and nodes": {"address = \"a:1\"\nnodes = [\"A:1\", \"b:2\"]", []string{"redis a:1 default", "redis b:2 default"}},
		"unknown node":      {"nodes = [unknown, \"b:2\"]\nmode = \"requirepass\"", []string{"redis b:2 default"}},
		"not host:port":     {`nodes = [canary]`, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, diags := providertest.Decode(t, tc.body, targetSpec)
			if diags.HasErrors() && name != "not host:port" {
				t.Fatal(diags.Error())
			}
			var got []string
			for _, d := range writes(v) {
				got = append(got, d.Resource+" "+d.Key)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("writes = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTargetWritesMarked leaves out a node made from a secret's value: a
// place named by a value is never reported.
func TestTargetWritesMarked(t *testing.T) {
	cfg := cty.ObjectVal(map[string]cty.Value{
		"mode":     cty.StringVal(ModeACL),
		"username": cty.StringVal("app"),
		"address":  cty.NullVal(cty.String),
		"nodes":    cty.ListVal([]cty.Value{cty.StringVal("a:1").Mark("sensitive"), cty.StringVal("b:2")}),
	})
	got := writes(cfg)
	if len(got) != 1 || got[0].Resource != "redis b:2" {
		t.Errorf("writes = %+v, want redis b:2 alone", got)
	}
}

func TestRotationNote(t *testing.T) {
	for body, want := range map[string]string{
		`address = "a:1"`:                           "keeps the old password",
		"address = \"a:1\"\nsave = \"none\"":        `save = "none": the change is not saved`,
		"address = \"a:1\"\nmode = \"requirepass\"": "the old one stops working",
	} {
		v, diags := providertest.Decode(t, body, targetSpec)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if got := rotationNote(v); !strings.Contains(got, want) {
			t.Errorf("rotationNote(%q) = %q, want it to contain %q", body, got, want)
		}
	}
}
