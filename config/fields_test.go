package config_test

import (
	"strings"
	"testing"
)

// A structured value's fields are read as secret.NAME.value.FIELD and taken
// by a target or a check with field = "FIELD"; load checks each against the
// fields the generator makes, wherever the generator is declared.
func TestStructuredValueFields(t *testing.T) {
	const key = `
secret "key" {
  frequency = "90d"
  store "local" {}
  generate "aws_iam_access_key" {
    user_name = "deploy"
  }
  %s
}
`
	const plain = `
secret "pw" {
  frequency = "90d"
  store "local" {}
  generate "password" {}
}
`
	tests := map[string]struct {
		src string
		err [2]string // summary, part of the detail; none when valid
	}{
		"a target takes a field": {src: strings.Replace(key, "%s", `target "env_file" "app" {
    path  = "app.env"
    key   = "AWS_SECRET_ACCESS_KEY"
    field = "secret_access_key"
  }`, 1)},
		"a derived secret reads a field, declared before the key": {src: `
secret "id" {
  frequency = "90d"
  store "local" {}
  generate "template" { template = "${secret.key.value.access_key_id}" }
}
` + strings.Replace(key, "%s", "", 1)},
		"an unknown field": {src: strings.Replace(key, "%s", `target "env_file" "app" {
    path  = "app.env"
    key   = "K"
    field = "secret_acess_key"
  }`, 1), err: [2]string{"Unknown field", `has the fields access_key_id, secret_access_key. Did you mean "secret_access_key"?`}},
		"a field read from a plain value": {src: plain + `
secret "dsn" {
  frequency = "90d"
  store "local" {}
  generate "template" { template = "${secret.pw.value.password}" }
}
`, err: [2]string{"Unknown field", "secret.pw is a plain string, with no fields"}},
		"field on a store": {src: strings.Replace(strings.Replace(key, `store "local" {}`, `store "local" {
    field = "secret_access_key"
  }`, 1), "%s", "", 1), err: [2]string{"Unsupported argument", "Only a target or a verify block takes field"}},
		"field not a literal": {src: strings.Replace(key, "%s", `target "env_file" "app" {
    path  = "app.env"
    key   = "K"
    field = 3
  }`, 1), err: [2]string{"Invalid field", `field = "password"`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			inv, diags := load(t, t.TempDir(), tt.src, nil)
			if tt.err[0] == "" {
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				if tg := inv.Secret("key").Targets; len(tg) == 1 && tg[0].Field != "secret_access_key" {
					t.Errorf("the target's field is %q", tg[0].Field)
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != tt.err[0] || !strings.Contains(diags[0].Detail, tt.err[1]) || diags[0].Subject == nil {
				t.Fatalf("diagnostics %v, want one %q saying %q, with a position", diags, tt.err[0], tt.err[1])
			}
		})
	}
}
