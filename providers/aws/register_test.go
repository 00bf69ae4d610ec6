package aws

import (
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers; implemented says
// whether it has a factory or is declared by schema only.
var registered = []providertest.Registration{
	{Kind: config.KindProvider, Type: "aws"},
	{Kind: config.KindStore, Type: "aws_secretsmanager", Provider: "aws", Implemented: true},
	{Kind: config.KindGenerate, Type: "aws_iam_access_key", Provider: "aws", Implemented: true},
	{Kind: config.KindVerify, Type: "aws_sts", Provider: "aws", Implemented: true},
	{Kind: config.KindTarget, Type: "aws_iam_access_key", Provider: "aws", Implemented: true},
	{Kind: config.KindTarget, Type: "elasticache_auth_token", Provider: "aws"},
}

var schemaTests = map[string]providertest.SchemaCase{
	"provider empty": {
		Kind: config.KindProvider, Type: "aws",
		Body: ``,
	},
	"provider all": {
		Kind: config.KindProvider, Type: "aws",
		Body: "region = \"us-east-1\"\nprofile = \"rotplan-plan\"\nendpoint = \"http://127.0.0.1:4566\"",
		Want: map[string]cty.Value{"region": cty.StringVal("us-east-1"), "profile": cty.StringVal("rotplan-plan")},
	},
	"provider bad endpoint": {
		Kind: config.KindProvider, Type: "aws",
		Body:    `endpoint = "127.0.0.1:4566"`,
		WantErr: `Invalid endpoint`,
	},
	"provider static keys refused": {
		Kind: config.KindProvider, Type: "aws",
		Body:    `access_key = "AKIA..."`,
		WantErr: `Unsupported argument`,
	},
	"secretsmanager": {
		Kind: config.KindStore, Type: "aws_secretsmanager",
		Body: `secret_id = "aegis/redis-auth-token"`,
		Want: map[string]cty.Value{"secret_id": cty.StringVal("aegis/redis-auth-token"), "json_key": cty.NullVal(cty.String)},
	},
	"secretsmanager json key": {
		Kind: config.KindStore, Type: "aws_secretsmanager",
		Body: "secret_id = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:aegis/db-AbCdEf\"\njson_key = \"password\"",
	},
	"secretsmanager without id": {
		Kind: config.KindStore, Type: "aws_secretsmanager",
		Body:    `json_key = "password"`,
		WantErr: `"secret_id" is required`,
	},
	"secretsmanager typo": {
		Kind: config.KindStore, Type: "aws_secretsmanager",
		Body:    `secretid = "aegis/x"`,
		WantErr: `Unsupported argument`,
	},
	"iam access key": {
		Kind: config.KindGenerate, Type: "aws_iam_access_key",
		Body: `user_name = "cloudforge-api"`,
	},
	"iam access key without user": {
		Kind: config.KindGenerate, Type: "aws_iam_access_key",
		Body:    ``,
		WantErr: `"user_name" is required`,
	},
	"iam access key list of users": {
		Kind: config.KindGenerate, Type: "aws_iam_access_key",
		Body:    `user_name = ["a", "b"]`,
		WantErr: `string required`,
	},
	"iam access key deactivated at retire": {
		Kind: config.KindGenerate, Type: "aws_iam_access_key",
		Body: "user_name = \"cloudforge-api\"\nrevoke = \"deactivate\"",
		Want: map[string]cty.Value{"revoke": cty.StringVal("deactivate")},
	},
	"iam access key bad revoke": {
		Kind: config.KindGenerate, Type: "aws_iam_access_key",
		Body:    "user_name = \"cloudforge-api\"\nrevoke = \"disable\"",
		WantErr: `Invalid revoke`,
	},
	"iam access key target": {
		Kind: config.KindTarget, Type: "aws_iam_access_key",
		Body: `user_name = "cloudforge-api"`,
	},
	"iam access key target without user": {
		Kind: config.KindTarget, Type: "aws_iam_access_key",
		Body:    ``,
		WantErr: `"user_name" is required`,
	},
	"sts": {
		Kind: config.KindVerify, Type: "aws_sts",
		Body: ``,
		Want: map[string]cty.Value{"account": cty.NullVal(cty.String), "timeout": cty.NullVal(cty.String)},
	},
	"sts all": {
		Kind: config.KindVerify, Type: "aws_sts",
		Body: "account = \"123456789012\"\narn = \"arn:aws:iam::123456789012:user/cloudforge-api\"\ntimeout = \"1m\"\naccess_key_id = \"AKIAEXAMPLE\"",
		Want: map[string]cty.Value{"account": cty.StringVal("123456789012"), "timeout": cty.StringVal("1m")},
	},
	"sts bad timeout": {
		Kind: config.KindVerify, Type: "aws_sts",
		Body:    `timeout = "soon"`,
		WantErr: `Invalid duration`,
	},
	"elasticache auth token": {
		Kind: config.KindTarget, Type: "elasticache_auth_token",
		Body: `replication_group_id = "cloudforge-redis"`,
	},
	"elasticache auth token without group": {
		Kind: config.KindTarget, Type: "elasticache_auth_token",
		Body:    ``,
		WantErr: `"replication_group_id" is required`,
	},
	"elasticache auth token typo": {
		Kind: config.KindTarget, Type: "elasticache_auth_token",
		Body:    `replication_group = "cloudforge-redis"`,
		WantErr: `Unsupported argument`,
	},
	"provider endpoint made from a secret": {
		Kind: config.KindProvider, Type: "aws",
		Body:    `endpoint = canary`,
		WantErr: `Invalid endpoint`,
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
