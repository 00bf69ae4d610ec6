package azure

import (
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers.
var registered = []providertest.Registration{
	{Kind: config.KindProvider, Type: "azure"},
	{Kind: config.KindStore, Type: "azure_keyvault", Provider: "azure"},
}

var schemaTests = map[string]providertest.SchemaCase{
	"provider default chain": {
		Kind: config.KindProvider, Type: "azure",
		Body: ``,
	},
	"provider service principal": {
		Kind: config.KindProvider, Type: "azure",
		Body: "tenant_id = unknown\nclient_id = unknown\nclient_secret = unknown",
	},
	"provider typo": {
		Kind: config.KindProvider, Type: "azure",
		Body:    `tenant = "x"`,
		WantErr: `Unsupported argument`,
	},
	"keyvault": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body: "vault_url = \"https://cloudforge-kv.vault.azure.net/\"\nname = \"entra-client-secret\"",
		Want: map[string]cty.Value{"name": cty.StringVal("entra-client-secret")},
	},
	"keyvault url without slash": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body: "vault_url = \"https://cloudforge-kv.vault.azure.net\"\nname = \"x\"",
	},
	"keyvault without name": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body:    `vault_url = "https://cloudforge-kv.vault.azure.net/"`,
		WantErr: `"name" is required`,
	},
	"keyvault without url": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body:    `name = "x"`,
		WantErr: `"vault_url" is required`,
	},
	"keyvault url with secret path": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body:    "vault_url = \"https://cloudforge-kv.vault.azure.net/secrets/x\"\nname = \"x\"",
		WantErr: `Invalid Key Vault URL`,
	},
	"keyvault plain http url": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body:    "vault_url = \"http://cloudforge-kv.vault.azure.net/\"\nname = \"x\"",
		WantErr: `Invalid Key Vault URL`,
	},
	"keyvault bad name": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body:    "vault_url = \"https://cloudforge-kv.vault.azure.net/\"\nname = \"entra_client_secret\"",
		WantErr: `Invalid Key Vault secret name`,
	},
	"keyvault typo": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body:    "vault_uri = \"https://cloudforge-kv.vault.azure.net/\"\nname = \"x\"",
		WantErr: `Unsupported argument`,
	},
	"keyvault name made from a secret": {
		Kind: config.KindStore, Type: "azure_keyvault",
		Body:    "vault_url = \"https://${canary}/x\"\nname = \"${canary}!\"",
		WantErr: `Invalid Key Vault secret name`,
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
