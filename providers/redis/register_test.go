package redis

import (
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
		WantErr: `"address" is required`,
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
		WantErr: `"address" is required`,
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
