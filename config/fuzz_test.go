package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/builtin"
)

// FuzzLoad feeds arbitrary text to the decoder in both modes. Whatever the
// input, Load must return diagnostics, never panic, and an inventory that
// decoded without errors must be internally consistent.
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
		}
	})
}
