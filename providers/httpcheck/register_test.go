package httpcheck

import (
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers.
var registered = []providertest.Registration{
	{Kind: config.KindVerify, Type: "http", Implemented: true},
}

var schemaTests = map[string]providertest.SchemaCase{
	"defaults": {
		Kind: config.KindVerify, Type: "http",
		Body: `url = "https://api.cloudforge.example/health"`,
		Want: map[string]cty.Value{
			"method":        cty.StringVal("GET"),
			"headers":       cty.MapValEmpty(cty.String),
			"body":          cty.NullVal(cty.String),
			"expect_status": cty.NumberIntVal(200),
			"json_path":     cty.NullVal(cty.String),
			"expect_value":  cty.NullVal(cty.String),
			"interval":      cty.StringVal("5s"),
			"timeout":       cty.StringVal("2m"),
		},
	},
	"json path and bearer header": {
		Kind: config.KindVerify, Type: "http",
		Body: `
url          = "https://api.cloudforge.example/api/v1/findings"
headers      = { Authorization = "Bearer ${unknown}" }
json_path    = "components.postgres"
expect_value = "healthy"
interval     = "10s"
timeout      = "5m"
`,
		Want: map[string]cty.Value{"timeout": cty.StringVal("5m")},
	},
	"post with body": {
		Kind: config.KindVerify, Type: "http",
		Body: `
url           = "https://login.example/token"
method        = "POST"
headers       = { "Content-Type" = "application/x-www-form-urlencoded" }
body          = "grant_type=client_credentials&client_secret=${unknown}"
expect_status = 200
`,
	},
	"number as expect_value": {
		Kind: config.KindVerify, Type: "http",
		Body: "url = \"http://127.0.0.1:8080/\"\njson_path = \"items.0.count\"\nexpect_value = 3",
		Want: map[string]cty.Value{"expect_value": cty.StringVal("3")},
	},
	"without url": {
		Kind: config.KindVerify, Type: "http",
		Body:    `method = "GET"`,
		WantErr: `"url" is required`,
	},
	"url without scheme": {
		Kind: config.KindVerify, Type: "http",
		Body:    `url = "api.cloudforge.example/health"`,
		WantErr: `Invalid URL`,
	},
	"lowercase method": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\nmethod = \"get\"",
		WantErr: `Invalid method`,
	},
	"status out of range": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\nexpect_status = 2000",
		WantErr: `Invalid expect_status`,
	},
	"status as text": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\nexpect_status = \"OK\"",
		WantErr: `a number is required`,
	},
	"jq style path": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\njson_path = \".components.postgres\"",
		WantErr: `Invalid json_path`,
	},
	"path with empty segment": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\njson_path = \"components..postgres\"",
		WantErr: `empty segment`,
	},
	"expect value without path": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\nexpect_value = \"ok\"",
		WantErr: `expect_value without json_path`,
	},
	"bad interval": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\ninterval = \"5 seconds\"",
		WantErr: `Invalid duration`,
	},
	"zero timeout": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\ntimeout = \"0s\"",
		WantErr: `more than zero`,
	},
	"interval longer than timeout": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\ninterval = \"5m\"\ntimeout = \"1m\"",
		WantErr: `interval longer than timeout`,
	},
	"headers as list": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\nheaders = [\"Authorization: x\"]",
		WantErr: `map of string required`,
	},
	"typo": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"https://x.example/\"\nstatus = 200",
		WantErr: `Unsupported argument`,
	},
	"url made from a secret": {
		Kind: config.KindVerify, Type: "http",
		Body:    "url = \"${canary}/health\"\njson_path = \"${canary}..x\"\ntimeout = canary",
		WantErr: `Invalid URL`,
	},
}

func TestSchemas(t *testing.T) {
	providertest.RunSchemaCases(t, Register, schemaTests)
}

func TestRegister(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	providertest.CheckRegistered(t, r, registered)
	if _, err := r.NewVerifier("http", providers.Settings{}); err != nil {
		t.Errorf("verify http: %v", err)
	}
}

// canary is the shared canary value, under the name this package's other
// tests use.
const canary = providertest.Canary
