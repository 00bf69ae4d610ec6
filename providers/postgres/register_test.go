package postgres

import (
	"strings"
	"testing"

	"github.com/rotplan/rotplan/providers/providertest"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// declared lists every type this package registers.
var registered = []providertest.Registration{
	{Kind: config.KindTarget, Type: "postgres", Implemented: true},
	{Kind: config.KindVerify, Type: "postgres", Implemented: true},
	{Kind: config.KindGenerate, Type: "postgres_login", Implemented: true},
}

var schemaTests = map[string]providertest.SchemaCase{
	"target single": {
		Kind: config.KindTarget, Type: "postgres",
		Body: "admin_dsn = unknown\nrole = \"aegis\"",
		Want: map[string]cty.Value{"strategy": cty.StringVal("single"), "alternate_role": cty.NullVal(cty.String)},
	},
	"target alternating": {
		Kind: config.KindTarget, Type: "postgres",
		Body: "admin_dsn = \"postgres://admin@db/aegis\"\nrole = \"aegis_blue\"\nstrategy = \"alternating\"\nalternate_role = \"aegis_green\"",
	},
	"target without role": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    `admin_dsn = "postgres://admin@db/aegis"`,
		WantErr: `"role" is required`,
	},
	"target without admin dsn": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    `role = "aegis"`,
		WantErr: `"admin_dsn" is required`,
	},
	"target bad strategy": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = \"dual\"",
		WantErr: `Invalid strategy`,
	},
	"target alternating without alternate role": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = \"alternating\"",
		WantErr: `name the second one with alternate_role`,
	},
	"target alternate role without alternating": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nalternate_role = \"aegis2\"",
		WantErr: `used only with strategy = "alternating"`,
	},
	"target alternate role same as role": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = \"alternating\"\nalternate_role = \"aegis\"",
		WantErr: `different role`,
	},
	"target typo": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    "admin_dsn = \"x\"\nuser = \"aegis\"",
		WantErr: `Unsupported argument`,
	},
	"login": {
		Kind: config.KindGenerate, Type: "postgres_login",
		Body: "admin_dsn = unknown\nrole = \"app_a\"\nalternate_role = \"app_b\"",
		Want: map[string]cty.Value{"length": cty.NumberIntVal(32)},
	},
	"login length": {
		Kind: config.KindGenerate, Type: "postgres_login",
		Body: "admin_dsn = unknown\nrole = \"app_a\"\nalternate_role = \"app_b\"\nlength = 48",
		Want: map[string]cty.Value{"length": cty.NumberIntVal(48)},
	},
	"login without alternate role": {
		Kind: config.KindGenerate, Type: "postgres_login",
		Body:    "admin_dsn = unknown\nrole = \"app_a\"",
		WantErr: `"alternate_role" is required`,
	},
	"login same roles": {
		Kind: config.KindGenerate, Type: "postgres_login",
		Body:    "admin_dsn = unknown\nrole = \"app_a\"\nalternate_role = \"app_a\"",
		WantErr: `different role`,
	},
	"login short": {
		Kind: config.KindGenerate, Type: "postgres_login",
		Body:    "admin_dsn = unknown\nrole = \"app_a\"\nalternate_role = \"app_b\"\nlength = 8",
		WantErr: `from 16 to 128`,
	},
	"verify": {
		Kind: config.KindVerify, Type: "postgres",
		Body: `dsn = "postgres://aegis:${unknown}@db.internal:5432/aegis?sslmode=require"`,
		Want: map[string]cty.Value{"query": cty.StringVal("SELECT 1")},
	},
	"verify query": {
		Kind: config.KindVerify, Type: "postgres",
		Body: "dsn = unknown\nquery = \"SELECT count(*) FROM pg_stat_activity\"",
		Want: map[string]cty.Value{"query": cty.StringVal("SELECT count(*) FROM pg_stat_activity")},
	},
	"verify without dsn": {
		Kind: config.KindVerify, Type: "postgres",
		Body:    `query = "SELECT 1"`,
		WantErr: `"dsn" is required`,
	},
	"verify host attributes are not the design": {
		Kind: config.KindVerify, Type: "postgres",
		Body:    "dsn = \"x\"\nhost = \"db.internal\"",
		WantErr: `Unsupported argument`,
	},
	"target strategy made from a secret": {
		Kind: config.KindTarget, Type: "postgres",
		Body:    "admin_dsn = \"x\"\nrole = \"aegis\"\nstrategy = canary",
		WantErr: `Invalid strategy`,
	},
}

func TestSchemas(t *testing.T) {
	providertest.RunSchemaCases(t, Register, schemaTests)
}

func TestRegister(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	providertest.CheckRegistered(t, r, registered)
	for _, d := range registered {
		schema, _ := r.Schema(d.Kind, d.Type)
		if want := d.Kind == config.KindTarget; schema != nil && schema.Authenticates != want {
			t.Errorf("%s %q: Authenticates is %v, want %v: it checks logins, it holds no copy", d.Kind, d.Type, schema.Authenticates, want)
		}
	}
	target, err := r.NewTarget("postgres", providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := target.(providers.TargetWriter); !ok {
		t.Errorf("target postgres is a %T, not a providers.TargetWriter: apply cannot set passwords", target)
	}
	if _, err := r.NewVerifier("postgres", providers.Settings{}); err != nil {
		t.Fatal(err)
	}
}

func TestRotationNote(t *testing.T) {
	target := func(strategy, alt cty.Value) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"admin_dsn": cty.StringVal("x"), "role": cty.StringVal("app_a"), "strategy": strategy, "alternate_role": alt})
	}
	tests := map[string]struct {
		cfg  cty.Value
		want string
	}{
		"single":      {cfg: target(cty.StringVal("single"), cty.NullVal(cty.String)), want: "strategy single: the old password stops working when ALTER ROLE runs"},
		"alternating": {cfg: target(cty.StringVal("alternating"), cty.StringVal("app_b")), want: "strategy alternating: the new login goes on whichever of app_a and app_b is not in use, created with the other's memberships if it does not exist; the login in use keeps working until its grace ends and retire removes its password"},
		"unknown":     {cfg: target(cty.UnknownVal(cty.String), cty.StringVal("app_b")), want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := rotationNote(tc.cfg)
			if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
				t.Errorf("note %q, want %q", got, tc.want)
			}
		})
	}
}
