package fly

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// DefaultAPIURL is the public Machines API.
const DefaultAPIURL = "https://api.machines.dev"

// providerSpec is the provider "fly" block.
var providerSpec = hcldec.ObjectSpec{
	// api_token is a Fly.io token, normally env("FLY_API_TOKEN"): a deploy
	// token of each app (fly tokens create deploy) is enough.
	"api_token": &hcldec.AttrSpec{Name: "api_token", Type: cty.String, Required: true},
	// api_url is the Machines API base URL; inside a Fly private network it
	// may be http://_api.internal:4280.
	"api_url": &hcldec.DefaultSpec{
		Primary: &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "api_url", Type: cty.String},
			Func:    validateAPIURL,
		},
		Default: &hcldec.LiteralSpec{Value: cty.StringVal(DefaultAPIURL)},
	},
}

// targetSpec is target "fly".
var targetSpec = &hcldec.ValidateSpec{
	Wrapped: hcldec.ObjectSpec{
		// app is the Fly app's name.
		"app": &hcldec.AttrSpec{Name: "app", Type: cty.String, Required: true},
		// key is the app secret that holds the current value.
		"key": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "key", Type: cty.String, Required: true},
			Func:    validateSecretName,
		},
		// previous_key, when set, is the app secret that holds the previous
		// value until it retires (dual key); it is unset at retire.
		"previous_key": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "previous_key", Type: cty.String},
			Func:    validateSecretName,
		},
		// deploy, true by default, restarts the app's Machines after its
		// secrets change, as `fly secrets set` does; false only stores them,
		// as `fly secrets set --stage` does, and a person deploys them.
		"deploy": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "deploy", Type: cty.Bool},
			Default: &hcldec.LiteralSpec{Value: cty.True},
		},
	},
	Func: validateTarget,
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Provider("fly", config.BlockSchema{Spec: providerSpec, Public: []string{"api_url"}})
	r.Target("fly", config.BlockSchema{Spec: targetSpec, Provider: "fly", RotationNote: rotationNote, Writes: writes, Public: []string{"app", "key", "previous_key", "deploy"}}, func(s providers.Settings) (providers.Target, error) {
		return New(s)
	})
}

// rotationNote tells the plan what a change of the app's secrets does to
// the app: a rolling restart, or nothing until a person deploys. It names
// no attribute's value, since one might be made from a secret.
func rotationNote(cfg cty.Value) string {
	deploy, err := Deploys(cfg)
	switch {
	case err != nil:
		return ""
	case !deploy:
		return "deploy = false: the new value is only stored in the Fly app; its Machines keep running the old one until a person deploys it (`fly secrets deploy -a APP`), so a check through the app fails until then"
	}
	return "the Fly app's running Machines restart one at a time to take the new secrets (one rolling restart per app per apply)"
}

// writes is where a block writes: the app's secrets named by key and, when
// set, previous_key. App names are unique across Fly.io.
func writes(cfg cty.Value) []config.Destination {
	app, ok := config.KnownString(cfg, "app")
	if !ok || app == "" {
		return nil
	}
	var out []config.Destination
	for _, attr := range []string{"key", "previous_key"} {
		if key, ok := config.KnownString(cfg, attr); ok && key != "" {
			out = append(out, config.Destination{Resource: "fly app " + app, Key: key})
		}
	}
	return out
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateAPIURL(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	u, err := url.Parse(v.AsString())
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid api_url",
		Detail:   fmt.Sprintf("api_url is the Machines API base URL, an http or https URL; leave it out for %q.", DefaultAPIURL),
	}}
}

// secretName is what a Fly app secret may be called: it becomes an
// environment variable.
var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validateSecretName(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || secretName.MatchString(v.AsString()) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid Fly secret name",
		Detail:   "A Fly app secret becomes an environment variable, so its name is letters, digits and underscores, not starting with a digit, such as \"JWT_SIGNING_KEY\".",
	}}
}

func validateTarget(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil
	}
	key, prev := v.GetAttr("key"), v.GetAttr("previous_key")
	if prev.IsNull() || !prev.RawEquals(key) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "previous_key is the same as key",
		Detail:   "Both name the same app secret, so the previous value would overwrite the current one. Give previous_key its own name, such as \"JWT_PREVIOUS_SIGNING_KEY\" beside \"JWT_SIGNING_KEY\", or leave it out.",
	}}
}
