// Package onepassword is the 1Password store: a secret's current value lives
// in one field of a 1Password item, named by a secret reference
// (op://VAULT/ITEM/FIELD or op://VAULT/ITEM/SECTION/FIELD), and rotplan keeps
// the pending and previous values and its own metadata (rotated-at,
// retire-after) in fields of the same item. It reaches 1Password with a
// service account token from the provider "onepassword" block.
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package onepassword
