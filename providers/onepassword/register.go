package onepassword

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// providerSpec is the provider "onepassword" block: how to reach 1Password.
var providerSpec = hcldec.ObjectSpec{
	// service_account_token authenticates as a 1Password service account,
	// normally env("OP_SERVICE_ACCOUNT_TOKEN"). The account needs read access
	// to the vaults for plan and read and write access for apply.
	"service_account_token": &hcldec.AttrSpec{Name: "service_account_token", Type: cty.String, Required: true},
}

// storeSpec is store "onepassword": where one secret lives.
var storeSpec = hcldec.ObjectSpec{
	// reference is the field holding the current value, as a secret
	// reference: op://VAULT/ITEM/FIELD or op://VAULT/ITEM/SECTION/FIELD.
	"reference": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "reference", Type: cty.String, Required: true},
		Func:    validateReference,
	},
}

// Register adds this package's block types to r. The store reaches
// 1Password through the SDK, connecting when a secret first uses it.
func Register(r *providers.Registry) {
	register(r, sdk)
}

// RegisterWith is Register with connect in place of the SDK, for tests
// that run rotplan against a fake 1Password (onepasswordtest.Fake). As in
// production, connect runs when a secret first uses the store, once per
// token for the registry's life.
func RegisterWith(r *providers.Registry, connect Connect) {
	register(r, newConnector(connect))
}

func register(r *providers.Registry, conn *connector) {
	r.Provider("onepassword", config.BlockSchema{Spec: providerSpec})
	r.Store("onepassword", config.BlockSchema{Spec: storeSpec, Provider: "onepassword", Public: []string{"reference"}}, func(s providers.Settings) (providers.Store, error) {
		token, err := tokenOf(s.Provider)
		if err != nil {
			return nil, err
		}
		return newStore(s, token, conn), nil
	})
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

const referenceHint = `A reference is op://VAULT/ITEM/FIELD or op://VAULT/ITEM/SECTION/FIELD, for example "op://Production/cloudforge-jwt/credential"; copy it from the field's menu in the 1Password app.`

// validateReference checks the shape of a secret reference. Query
// parameters (?attribute=otp) select derived values, which cannot be
// written back, so they are refused.
func validateReference(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	ref := v.AsString()
	rest, ok := strings.CutPrefix(ref, "op://")
	var problem string
	switch {
	case !ok:
		problem = "it does not start with op://"
	case strings.Contains(rest, "?"):
		problem = "rotplan writes to the field, so the reference cannot carry query parameters"
	default:
		parts := strings.Split(rest, "/")
		if len(parts) < 3 || len(parts) > 4 {
			problem = fmt.Sprintf("it has %d path parts where 3 or 4 are needed", len(parts))
		}
		for _, p := range parts {
			if strings.TrimSpace(p) == "" {
				problem = "a vault, item, section or field name is empty"
			}
		}
	}
	if problem == "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid 1Password secret reference",
		Detail:   fmt.Sprintf("This is not a secret reference: %s. %s", problem, referenceHint),
	}}
}
