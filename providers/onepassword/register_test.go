package onepassword

import (
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers.
var registered = []providertest.Registration{
	{Kind: config.KindProvider, Type: "onepassword"},
	{Kind: config.KindStore, Type: "onepassword", Provider: "onepassword", Implemented: true},
}

var schemaTests = map[string]providertest.SchemaCase{
	"provider token": {
		Kind: config.KindProvider, Type: "onepassword",
		Body: `service_account_token = "ops_test"`,
	},
	"provider token from unset env var": {
		Kind: config.KindProvider, Type: "onepassword",
		Body: `service_account_token = unknown`,
	},
	"provider without token": {
		Kind: config.KindProvider, Type: "onepassword",
		Body:    ``,
		WantErr: `"service_account_token" is required`,
	},
	"provider typo": {
		Kind: config.KindProvider, Type: "onepassword",
		Body:    `service_acount_token = "ops_test"`,
		WantErr: `Unsupported argument`,
	},
	"store field": {
		Kind: config.KindStore, Type: "onepassword",
		Body: `reference = "op://Production/cloudforge-jwt/credential"`,
		Want: map[string]cty.Value{"reference": cty.StringVal("op://Production/cloudforge-jwt/credential")},
	},
	"store field in section": {
		Kind: config.KindStore, Type: "onepassword",
		Body: `reference = "op://Production/cloudforge postgres/admin/password"`,
	},
	"store reference from unset env var": {
		Kind: config.KindStore, Type: "onepassword",
		Body: `reference = unknown`,
	},
	"store without reference": {
		Kind: config.KindStore, Type: "onepassword",
		Body:    ``,
		WantErr: `"reference" is required`,
	},
	"store reference without scheme": {
		Kind: config.KindStore, Type: "onepassword",
		Body:    `reference = "Production/cloudforge-jwt/credential"`,
		WantErr: `does not start with op://`,
	},
	"store reference without field": {
		Kind: config.KindStore, Type: "onepassword",
		Body:    `reference = "op://Production/cloudforge-jwt"`,
		WantErr: `2 path parts`,
	},
	"store reference with empty item": {
		Kind: config.KindStore, Type: "onepassword",
		Body:    `reference = "op://Production//credential"`,
		WantErr: `is empty`,
	},
	"store reference with query": {
		Kind: config.KindStore, Type: "onepassword",
		Body:    `reference = "op://Production/github/one-time password?attribute=otp"`,
		WantErr: `query parameters`,
	},
	"store typo": {
		Kind: config.KindStore, Type: "onepassword",
		Body:    "reference = \"op://a/b/c\"\nvault = \"a\"",
		WantErr: `Unsupported argument`,
	},
	"store reference made from a secret": {
		Kind: config.KindStore, Type: "onepassword",
		Body:    `reference = "op://${canary}"`,
		WantErr: `Invalid 1Password secret reference`,
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
