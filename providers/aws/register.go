package aws

import (
	"fmt"
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
	// revoke says what retire does to the previous key: "delete" (the
	// default) deletes it; "deactivate" makes it Inactive, so it can be
	// turned back on while a second grace runs, and the next rotation
	// deletes it when it needs its slot. A rollback always deletes the
	// new key.
	"revoke": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "revoke", Type: cty.String},
		Func:    validateRevoke,
	},
}

// iamKeyTargetSpec is target "aws_iam_access_key": the IAM user that
// accepts the secret's access key, observed so that plan reports the keys
// of the user rotplan did not make.
var iamKeyTargetSpec = hcldec.ObjectSpec{
	// user_name is the IAM user, the generate block's.
	"user_name": &hcldec.AttrSpec{Name: "user_name", Type: cty.String, Required: true},
}

// stsSpec is verify "aws_sts": STS GetCallerIdentity signed with the
// access key being verified.
var stsSpec = hcldec.ObjectSpec{
	// access_key_id is the key's id, for a check with
	// field = "secret_access_key"; a check of the whole value of generate
	// "aws_iam_access_key" reads it from the value.
	"access_key_id": &hcldec.AttrSpec{Name: "access_key_id", Type: cty.String},
	// account, when set, is the account id the key must belong to.
	"account": &hcldec.AttrSpec{Name: "account", Type: cty.String},
	// arn, when set, is the ARN GetCallerIdentity must answer (the user's,
	// arn:aws:iam::ACCOUNT:user/NAME).
	"arn": &hcldec.AttrSpec{Name: "arn", Type: cty.String},
	// timeout is how long to keep trying while STS refuses the key (a new
	// key takes a few seconds to reach it), 30s by default.
	"timeout": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
		Func:    validateDuration,
	},
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
	r.Generator("aws_iam_access_key", config.BlockSchema{Spec: iamAccessKeySpec, Provider: "aws", Fields: []string{FieldAccessKeyID, FieldSecretAccessKey}, Public: []string{"user_name"}}, func(s providers.Settings) (providers.Generator, error) {
		return NewIAMAccessKey(s)
	})
	r.Verifier("aws_sts", config.BlockSchema{Spec: stsSpec, Provider: "aws"}, func(s providers.Settings) (providers.Verifier, error) {
		return NewSTSCheck(s)
	})
	r.Target("aws_iam_access_key", config.BlockSchema{Spec: iamKeyTargetSpec, Provider: "aws", Authenticates: true, Public: []string{"user_name"}}, func(s providers.Settings) (providers.Target, error) {
		return NewIAMKeyTarget(s)
	})
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

func validateRevoke(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	if s := v.AsString(); s == RevokeDelete || s == RevokeDeactivate {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid revoke",
		Detail:   fmt.Sprintf("revoke is %q (retire deletes the previous key) or %q (retire makes it Inactive; the next rotation deletes it).", RevokeDelete, RevokeDeactivate),
	}}
}

func validateDuration(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	if d, err := config.ParseDuration(v.AsString()); err == nil && d > 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid duration",
		Detail:   "A duration is a number and a unit, such as \"30s\", \"2m\" or \"1h\".",
	}}
}
