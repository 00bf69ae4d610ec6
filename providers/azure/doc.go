// Package azure holds rotplan's Microsoft Azure block types: store
// "azure_keyvault", a secret in Azure Key Vault, whose versions hold the
// current, pending and previous values and whose tags hold rotplan's
// metadata. It shares the provider "azure" block; with no credentials there
// it uses the default Azure credential chain (environment, workload
// identity, managed identity, az login).
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package azure
