package generators_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/generators"
)

// secretsContext is the evaluation context the executor decodes a template
// with: every referenced secret's value, known or not.
func secretsContext(values map[string]cty.Value) *hcl.EvalContext {
	secrets := map[string]cty.Value{}
	for name, v := range values {
		secrets[name] = cty.ObjectVal(map[string]cty.Value{"value": v})
	}
	return &hcl.EvalContext{Variables: map[string]cty.Value{"secret": cty.ObjectVal(secrets)}}
}

func TestTemplate(t *testing.T) {
	const canary = "canary-pw-5d1e"
	tests := map[string]struct {
		src     string
		ctx     *hcl.EvalContext
		want    string
		wantErr string
	}{
		"dsn around a password": {
			src:  `template = "postgres://app:${secret.db_password.value}@db:5432/app"`,
			ctx:  secretsContext(map[string]cty.Value{"db_password": cty.StringVal(canary)}),
			want: "postgres://app:" + canary + "@db:5432/app",
		},
		"two secrets": {
			src: `template = "${secret.user.value}:${secret.pass.value}"`,
			ctx: secretsContext(map[string]cty.Value{
				"user": cty.StringVal("app"),
				"pass": cty.StringVal(canary),
			}),
			want: "app:" + canary,
		},
		"literal": {
			src:  `template = "fixed"`,
			want: "fixed",
		},
		"reference not resolved": {
			src:     `template = "postgres://app:${secret.db_password.value}@db:5432/app"`,
			ctx:     secretsContext(map[string]cty.Value{"db_password": cty.UnknownVal(cty.String)}),
			wantErr: "template: the referenced values were not resolved",
		},
		"renders empty": {
			src:     `template = "${secret.blank.value}"`,
			ctx:     secretsContext(map[string]cty.Value{"blank": cty.StringVal("")}),
			wantErr: "template: it renders to an empty value",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := decode(t, "template", tt.src, tt.ctx)
			if diags.HasErrors() && tt.wantErr == "" {
				t.Fatalf("decode: %s", diags.Error())
			}
			if strings.Contains(diags.Error(), canary) {
				t.Fatal("a diagnostic holds the secret's value")
			}
			v, err := generateConfig(t, "template", cfg)
			checkErr(t, err, tt.wantErr)
			if err != nil {
				if strings.Contains(err.Error(), canary) {
					t.Fatal("the error holds the secret's value")
				}
				return
			}
			if v.Reveal() != tt.want {
				t.Error("rendered value differs from the template") // never print it
			}
		})
	}
}

func TestTemplateNullConfig(t *testing.T) {
	for name, cfg := range map[string]cty.Value{
		"nil":              cty.NilVal,
		"null":             cty.NullVal(cty.Object(map[string]cty.Type{"template": cty.String})),
		"null template":    cty.ObjectVal(map[string]cty.Value{"template": cty.NullVal(cty.String)}),
		"unknown template": cty.ObjectVal(map[string]cty.Value{"template": cty.UnknownVal(cty.String)}),
		"unknown config":   cty.UnknownVal(cty.Object(map[string]cty.Type{"template": cty.String})),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := generateConfig(t, "template", cfg)
			checkErr(t, err, "template: the referenced values were not resolved")
		})
	}
}

func TestManual(t *testing.T) {
	src := `
instructions        = "Create a key at https://console.anthropic.com/settings/keys"
revoke_instructions = "Delete the old key on the same page"`
	cfg, diags := decode(t, "manual", src, nil)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if got := cfg.GetAttr("instructions").AsString(); !strings.HasPrefix(got, "Create a key") {
		t.Errorf("instructions decoded as %q", got)
	}
	_, err := generateConfig(t, "manual", cfg)
	if !errors.Is(err, generators.ErrOperatorInput) {
		t.Fatalf("error %v does not wrap ErrOperatorInput", err)
	}
	checkErr(t, err, "manual: this value is made by a person")

	schema, _ := registry(t).Schema(config.KindGenerate, "manual")
	if !schema.Manual {
		t.Error("the manual schema is not marked Manual")
	}
}
