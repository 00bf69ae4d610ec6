package azure

import (
	"net/url"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// providerSpec is the provider "azure" block: a service principal. Leave
// it out, or all three unset, to use the default credential chain.
var providerSpec = hcldec.ObjectSpec{
	// tenant_id is the Microsoft Entra tenant (directory) ID.
	"tenant_id": &hcldec.AttrSpec{Name: "tenant_id", Type: cty.String},
	// client_id is the application (client) ID of the service principal.
	"client_id": &hcldec.AttrSpec{Name: "client_id", Type: cty.String},
	// client_secret is its client secret, normally env("AZURE_CLIENT_SECRET").
	"client_secret": &hcldec.AttrSpec{Name: "client_secret", Type: cty.String},
}

// keyVaultSpec is store "azure_keyvault".
var keyVaultSpec = hcldec.ObjectSpec{
	// vault_url is the vault's URI, https://NAME.vault.azure.net/.
	"vault_url": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "vault_url", Type: cty.String, Required: true},
		Func:    validateVaultURL,
	},
	// name is the secret's name in the vault.
	"name": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
		Func:    validateSecretName,
	},
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Provider("azure", config.BlockSchema{Spec: providerSpec, Public: []string{"tenant_id", "client_id"}})
	r.Store("azure_keyvault", config.BlockSchema{Spec: keyVaultSpec, Provider: "azure", Public: []string{"vault_url", "name"}}, nil)
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateVaultURL(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	u, err := url.Parse(v.AsString())
	if err == nil && u.Scheme == "https" && u.Host != "" && (u.Path == "" || u.Path == "/") {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid Key Vault URL",
		Detail:   "vault_url is the vault's URI, such as \"https://cloudforge-kv.vault.azure.net/\" (the Vault URI on its Overview page in the Azure Portal). Name the secret with name, not in the URL.",
	}}
}

// secretName is what Key Vault accepts as a secret name.
var secretName = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)

func validateSecretName(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || secretName.MatchString(v.AsString()) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid Key Vault secret name",
		Detail:   "A Key Vault secret name is 1 to 127 letters, digits and dashes, such as \"entra-client-secret\".",
	}}
}
