package aws

import (
	"net/url"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// providerSpec is the provider "aws" block. Every attribute is optional:
// unset, the SDK's default chain decides (AWS_REGION, AWS_PROFILE, web
// identity in CI, instance roles).
var providerSpec = hcldec.ObjectSpec{
	// region, for example "us-east-1".
	"region": &hcldec.AttrSpec{Name: "region", Type: cty.String},
	// profile names a profile of the shared AWS config files.
	"profile": &hcldec.AttrSpec{Name: "profile", Type: cty.String},
	// endpoint overrides every service's URL, for a local emulator.
	"endpoint": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "endpoint", Type: cty.String},
		Func:    validateEndpoint,
	},
}

// secretsManagerSpec is store "aws_secretsmanager".
var secretsManagerSpec = hcldec.ObjectSpec{
	// secret_id is the secret's name or ARN.
	"secret_id": &hcldec.AttrSpec{Name: "secret_id", Type: cty.String, Required: true},
	// json_key, when set, says the secret string is a JSON object and the
	// rotated value is this top-level key's string; the other keys are kept
	// as they are.
	"json_key": &hcldec.AttrSpec{Name: "json_key", Type: cty.String},
}

// iamAccessKeySpec is generate "aws_iam_access_key": IAM mints the value.
var iamAccessKeySpec = hcldec.ObjectSpec{
	// user_name is the IAM user whose access key rotates. It must hold at
	// most one key before a rotation, since IAM allows two.
	"user_name": &hcldec.AttrSpec{Name: "user_name", Type: cty.String, Required: true},
}

// elastiCacheAuthTokenSpec is target "elasticache_auth_token": the AUTH
// token of a replication group with in-transit encryption. The value comes
// from another generator, typically generate "password" limited to the
// characters ElastiCache allows (16 to 128 long; letters, digits and
// !&#$^<>-).
var elastiCacheAuthTokenSpec = hcldec.ObjectSpec{
	// replication_group_id names the replication group.
	"replication_group_id": &hcldec.AttrSpec{Name: "replication_group_id", Type: cty.String, Required: true},
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Provider("aws", config.BlockSchema{Spec: providerSpec, Public: []string{"region", "profile", "endpoint"}})
	r.Store("aws_secretsmanager", config.BlockSchema{Spec: secretsManagerSpec, Provider: "aws", Public: []string{"secret_id", "json_key"}}, func(s providers.Settings) (providers.Store, error) {
		return NewSecretsManager(s)
	})
	r.Generator("aws_iam_access_key", config.BlockSchema{Spec: iamAccessKeySpec, Provider: "aws", Public: []string{"user_name"}}, nil)
	r.Target("elasticache_auth_token", config.BlockSchema{Spec: elastiCacheAuthTokenSpec, Provider: "aws", Public: []string{"replication_group_id"}}, nil)
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateEndpoint(v cty.Value) hcl.Diagnostics {
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
		Summary:  "Invalid endpoint",
		Detail:   "endpoint is an http or https URL, such as \"http://127.0.0.1:4566\" for a local emulator. Leave it unset to use AWS itself.",
	}}
}
