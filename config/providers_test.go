package config_test

import (
	"strings"
	"testing"
)

// A second provider block of a type has a name, and a block chooses it
// with provider = TYPE.NAME; without that, a block uses the type's default
// block. Each mistake is one positioned diagnostic that says what to write.
func TestProviderAliases(t *testing.T) {
	const providers = `
provider "aws" {
  region = "eu-west-1"
}
provider "aws" "prod" {
  region = "us-east-1"
}
`
	store := func(extra string) string {
		return `
secret "s" {
  frequency = "90d"
  store "aws_secretsmanager" {
    secret_id = "app/s"
` + extra + `
  }
  generate "password" {}
}
`
	}
	tests := map[string]struct {
		src string
		// provider is the address of the provider block the store uses;
		// err, when set, is a diagnostic's summary and a part of its
		// detail.
		provider string
		err      [2]string
	}{
		"the default block":    {src: providers + store(""), provider: "aws"},
		"a named block":        {src: providers + store("provider = aws.prod"), provider: "aws.prod"},
		"an unknown name":      {src: providers + store("provider = aws.prdo"), err: [2]string{"Unknown provider block", `Did you mean provider = aws.prod?`}},
		"another type's":       {src: providers + store("provider = fly.prod"), err: [2]string{"Invalid provider reference", "provider = aws.NAME"}},
		"not a reference":      {src: providers + store(`provider = "aws.prod"`), err: [2]string{"Invalid provider reference", "provider = aws.NAME"}},
		"two default blocks":   {src: providers + `provider "aws" {}` + store(""), err: [2]string{"Duplicate provider block", `provider "aws" "NAME"`}},
		"two blocks of a name": {src: providers + `provider "aws" "prod" {}` + store(""), err: [2]string{"Duplicate provider block", "aws.prod was already configured"}},
		"three labels":         {src: `provider "aws" "prod" "x" {}` + store(""), err: [2]string{"Invalid provider block", `provider "aws" "prod"`}},
		"a bad name":           {src: `provider "aws" "2prod" {}` + store(""), err: [2]string{"Invalid provider name", "provider = aws.NAME"}},
		"a type without provider settings": {src: `
secret "s" {
  frequency = "90d"
  store "local" {
    provider = aws.prod
  }
  generate "password" {}
}
`, err: [2]string{"Unsupported argument", `store "local" uses no provider settings`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			inv, diags := load(t, t.TempDir(), tt.src, nil)
			if tt.err[0] != "" {
				if len(diags) != 1 || diags[0].Summary != tt.err[0] || !strings.Contains(diags[0].Detail, tt.err[1]) || diags[0].Subject == nil {
					t.Fatalf("diagnostics %v, want one %q saying %q, with a position", diags, tt.err[0], tt.err[1])
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			b := inv.Secret("s").Store
			if b.Provider == nil || b.Provider.Address() != tt.provider {
				t.Fatalf("the store uses provider %v, want %s", b.Provider, tt.provider)
			}
			if got := b.Config.GetAttr("secret_id").AsString(); got != "app/s" {
				t.Errorf("the store's own settings decode to secret_id %q", got)
			}
		})
	}
}
