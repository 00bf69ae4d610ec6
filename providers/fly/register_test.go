package fly

import (
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers.
var registered = []providertest.Registration{
	{Kind: config.KindProvider, Type: "fly"},
	{Kind: config.KindTarget, Type: "fly", Provider: "fly", Implemented: true},
}

var schemaTests = map[string]providertest.SchemaCase{
	"provider token": {
		Kind: config.KindProvider, Type: "fly",
		Body: `api_token = unknown`,
		Want: map[string]cty.Value{"api_url": cty.StringVal("https://api.machines.dev")},
	},
	"provider internal api": {
		Kind: config.KindProvider, Type: "fly",
		Body: "api_token = \"fo1_x\"\napi_url = \"http://_api.internal:4280\"",
		Want: map[string]cty.Value{"api_url": cty.StringVal("http://_api.internal:4280")},
	},
	"provider without token": {
		Kind: config.KindProvider, Type: "fly",
		Body:    ``,
		WantErr: `"api_token" is required`,
	},
	"provider bad api url": {
		Kind: config.KindProvider, Type: "fly",
		Body:    "api_token = \"x\"\napi_url = \"api.machines.dev\"",
		WantErr: `Invalid api_url`,
	},
	"provider typo": {
		Kind: config.KindProvider, Type: "fly",
		Body:    "api_token = \"x\"\norg = \"personal\"",
		WantErr: `Unsupported argument`,
	},
	"target": {
		Kind: config.KindTarget, Type: "fly",
		Body: "app = \"cloudforge-api\"\nkey = \"AEGIS_DATABASE_URL\"",
		Want: map[string]cty.Value{"previous_key": cty.NullVal(cty.String), "deploy": cty.True},
	},
	"target staged only": {
		Kind: config.KindTarget, Type: "fly",
		Body: "app = \"cloudforge-api\"\nkey = \"K\"\ndeploy = false",
		Want: map[string]cty.Value{"deploy": cty.False},
	},
	"target deploy not a bool": {
		Kind: config.KindTarget, Type: "fly",
		Body:    "app = \"cloudforge-api\"\nkey = \"K\"\ndeploy = \"later\"",
		WantErr: `Incorrect attribute value type`,
	},
	"target dual key": {
		Kind: config.KindTarget, Type: "fly",
		Body: "app = \"cloudforge-api\"\nkey = \"JWT_SIGNING_KEY\"\nprevious_key = \"JWT_PREVIOUS_SIGNING_KEY\"",
	},
	"target without app": {
		Kind: config.KindTarget, Type: "fly",
		Body:    `key = "JWT_SIGNING_KEY"`,
		WantErr: `"app" is required`,
	},
	"target without key": {
		Kind: config.KindTarget, Type: "fly",
		Body:    `app = "cloudforge-api"`,
		WantErr: `"key" is required`,
	},
	"target bad key": {
		Kind: config.KindTarget, Type: "fly",
		Body:    "app = \"cloudforge-api\"\nkey = \"JWT-SIGNING-KEY\"",
		WantErr: `Invalid Fly secret name`,
	},
	"target previous key same as key": {
		Kind: config.KindTarget, Type: "fly",
		Body:    "app = \"cloudforge-api\"\nkey = \"K\"\nprevious_key = \"K\"",
		WantErr: `previous_key is the same as key`,
	},
	"target typo": {
		Kind: config.KindTarget, Type: "fly",
		Body:    "app = \"cloudforge-api\"\nkey = \"K\"\nprevious = \"P\"",
		WantErr: `Unsupported argument`,
	},
	"target key made from a secret": {
		Kind: config.KindTarget, Type: "fly",
		Body:    "app = \"cloudforge-api\"\nkey = \"${canary}\"\nprevious_key = \"${canary}\"",
		WantErr: `Invalid Fly secret name`,
	},
}

func TestSchemas(t *testing.T) {
	providertest.RunSchemaCases(t, Register, schemaTests)
}

func TestRegister(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	providertest.CheckRegistered(t, r, registered)
}

// canary is the shared canary value, under the name this package's other
// tests use.
const canary = providertest.Canary
