package exec

import (
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers.
var registered = []providertest.Registration{
	{Kind: config.KindTarget, Type: "exec", Implemented: true},
	{Kind: config.KindVerify, Type: "exec", Implemented: true},
}

var schemaTests = map[string]providertest.SchemaCase{
	"target stdin": {
		Kind: config.KindTarget, Type: "exec",
		Body: `command = ["./scripts/push-secret.sh", "--app", "api"]`,
		Want: map[string]cty.Value{"value_env": cty.NullVal(cty.String)},
	},
	"target env": {
		Kind: config.KindTarget, Type: "exec",
		Body: "command = [\"kubectl\", \"apply\", \"-f\", \"-\"]\nvalue_env = \"SECRET_VALUE\"",
		Want: map[string]cty.Value{"value_env": cty.StringVal("SECRET_VALUE")},
	},
	"target without command": {
		Kind: config.KindTarget, Type: "exec",
		Body:    `value_env = "V"`,
		WantErr: `"command" is required`,
	},
	"target command as string": {
		Kind: config.KindTarget, Type: "exec",
		Body:    `command = "./push.sh --app api"`,
		WantErr: `list of string required`,
	},
	"target empty command": {
		Kind: config.KindTarget, Type: "exec",
		Body:    `command = []`,
		WantErr: `Empty command`,
	},
	"target empty program": {
		Kind: config.KindTarget, Type: "exec",
		Body:    `command = ["", "x"]`,
		WantErr: `Empty command`,
	},
	"target bad env name": {
		Kind: config.KindTarget, Type: "exec",
		Body:    "command = [\"true\"]\nvalue_env = \"SECRET-VALUE\"",
		WantErr: `Invalid value_env`,
	},
	"target typo": {
		Kind: config.KindTarget, Type: "exec",
		Body:    "command = [\"true\"]\nenv = \"V\"",
		WantErr: `Unsupported argument`,
	},
	"verify": {
		Kind: config.KindVerify, Type: "exec",
		Body: "command = [\"sh\", \"-c\", \"curl -sf -H \\\"Authorization: Bearer $TOKEN\\\" https://x.example/\"]\nvalue_env = \"TOKEN\"",
	},
	"verify program from unset env var": {
		Kind: config.KindVerify, Type: "exec",
		Body: `command = [unknown, "--check"]`,
	},
	"verify without command": {
		Kind: config.KindVerify, Type: "exec",
		Body:    ``,
		WantErr: `"command" is required`,
	},
	"verify typo": {
		Kind: config.KindVerify, Type: "exec",
		Body:    "command = [\"true\"]\nargs = [\"x\"]",
		WantErr: `Unsupported argument`,
	},
	"value env made from a secret": {
		Kind: config.KindTarget, Type: "exec",
		Body:    "command = [\"true\"]\nvalue_env = \"${canary}\"",
		WantErr: `Invalid value_env`,
	},
}

func TestSchemas(t *testing.T) {
	providertest.RunSchemaCases(t, Register, schemaTests)
}

func TestRegister(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	providertest.CheckRegistered(t, r, registered)
	tgt, err := r.NewTarget("exec", providers.Settings{})
	if err != nil {
		t.Fatalf("target exec: %v", err)
	}
	if _, ok := tgt.(providers.TargetWriter); !ok {
		t.Errorf("target exec: %T is not a providers.TargetWriter", tgt)
	}
	if _, err := r.NewVerifier("exec", providers.Settings{}); err != nil {
		t.Errorf("verify exec: %v", err)
	}
}

// canary is the shared canary value, under the name this package's other
// tests use.
const canary = providertest.Canary
