package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/builtin"
)

// fuzzCanary is every secret's value when FuzzLoad decodes blocks again.
const fuzzCanary = "CANARY-fuzz-(4e1b"

// FuzzLoad feeds arbitrary text to the decoder in both modes. Whatever the
// input, Load must return diagnostics, never panic, and an inventory that
// decoded without errors must be internally consistent. Each block of such
// an inventory is then decoded again as apply does, every secret's value a
// canary, which no diagnostic may quote.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"../examples/quickstart", "../examples/cloudforge"} {
		names, _ := config.InventoryFiles(dir)
		for _, name := range names {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`secret "a" {
  frequency = "90d"
  generate "template" { template = "x${secret.b.value}" }
}
secret "b" {
  frequency = "1y"
  notice = "2w"
  depends_on = [secret.a]
  generate "password" { length = 12 }
  target "env_file" "x" { path = env("P") key = "K" }
}`))
	f.Add([]byte(`rotplan { state "local" { path = file("p") } }`))
	f.Add([]byte(`secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "x" {
    path = "x.env"
    key = "K"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "x" {
    path = "./x.env"
    key = "K"
  }
}`))
	f.Add([]byte(`secret "a" {
  frequency = "90d"
  generate "password" {}
}
secret "b" {
  frequency = "90d"
  generate "template" { template = file("${secret.a.value}.txt") }
  verify "http" { url = regex(secret.b.value, "x") }
}`))
	schemas := builtin.Registry()
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, mode := range []config.Mode{config.ModeValidate, config.ModeResolve} {
			inv, diags := config.Load(dir, map[string][]byte{"fuzz.hcl": src}, config.Options{
				Schemas:   schemas,
				Mode:      mode,
				LookupEnv: func(string) (string, bool) { return "", false },
			})
			if inv == nil {
				t.Fatal("Load returned no inventory")
			}
			for _, d := range diags {
				if d.Summary == "" {
					t.Fatalf("diagnostic without a summary: %#v", d)
				}
			}
			if diags.HasErrors() {
				continue
			}
			for _, s := range inv.Secrets {
				if s.Generate == nil || s.Store == nil || s.Frequency <= 0 || s.Notice >= s.Frequency {
					t.Fatalf("secret %q decoded without errors but is inconsistent", s.Name)
				}
				for _, n := range s.Needs() {
					if inv.Secret(n) == nil {
						t.Fatalf("secret %q needs undeclared %q", s.Name, n)
					}
				}
			}
			if bytes.Contains(src, []byte(fuzzCanary)) {
				continue
			}
			values := make(map[string]cty.Value, len(inv.Secrets))
			for _, s := range inv.Secrets {
				values[s.Name] = cty.StringVal(fuzzCanary)
			}
			for _, s := range inv.Secrets {
				for _, b := range append([]*config.Block{s.Store, s.Generate}, append(s.Targets, s.Verify...)...) {
					cfg, diags := b.Decode(inv.EvalContext(values))
					for _, d := range diags {
						if strings.Contains(d.Summary+d.Detail, fuzzCanary) {
							t.Fatalf("%s %s: a diagnostic quotes a secret's value: %s", s.Address(), b.Address(), d.Error())
						}
					}
					if cfg != cty.NilVal && cfg.ContainsMarked() {
						t.Fatalf("%s %s: Decode returned a marked configuration", s.Address(), b.Address())
					}
				}
			}
		}
	})
}
