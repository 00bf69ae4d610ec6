package generators_test

import (
	"strings"
	"testing"

	"github.com/rotplan/rotplan/config"
)

// TestThroughConfig loads an inventory with this package's schemas, the way
// rotplan validate does, so the specs are checked against the real decoder.
func TestThroughConfig(t *testing.T) {
	tests := map[string]struct {
		src     string
		wantErr string // a diagnostic summary, "" for none
		check   func(t *testing.T, inv *config.Inventory)
	}{
		"template derives from a password": {
			src: `
secret "db_password" {
  frequency = "90d"
  generate "password" { length = 40 }
}
secret "db_url" {
  frequency = "90d"
  generate "template" {
    template = "postgres://app:${secret.db_password.value}@db:5432/app"
  }
}`,
			check: func(t *testing.T, inv *config.Inventory) {
				url := inv.Secret("db_url")
				if len(url.Derives) != 1 || url.Derives[0] != "db_password" {
					t.Errorf("db_url derives from %v, want [db_password]", url.Derives)
				}
				// Until apply knows db_password, the template is unknown and
				// Generate says so.
				_, err := generateConfig(t, "template", url.Generate.Config)
				checkErr(t, err, "template: the referenced values were not resolved")
			},
		},
		"env unknown while validating is not checked": {
			src: `
secret "token" {
  frequency = "30d"
  generate "random" { bytes = env("ROTPLAN_TEST_UNSET_BYTES") }
}`,
			check: func(t *testing.T, inv *config.Inventory) {
				if got := inv.Secret("token").Generate.Config.GetAttr("bytes"); got.IsKnown() {
					t.Errorf("bytes = %#v, want unknown", got)
				}
			},
		},
		"manual": {
			src: `
secret "anthropic_key" {
  frequency = "90d"
  generate "manual" { instructions = "Create a key at https://console.anthropic.com/settings/keys" }
}`,
			check: func(t *testing.T, inv *config.Inventory) {
				if !inv.Secret("anthropic_key").Generate.Schema.Manual {
					t.Error("schema not marked Manual")
				}
			},
		},
		"bad attribute": {
			src: `
secret "token" {
  frequency = "30d"
  generate "random" { bytes = 8 }
}`,
			wantErr: "Invalid bytes",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			inv, diags := config.Load(t.TempDir(), map[string][]byte{"main.hcl": []byte(tt.src)}, config.Options{
				Schemas:   registry(t),
				Mode:      config.ModeValidate,
				LookupEnv: func(string) (string, bool) { return "", false },
			})
			var summaries []string
			for _, d := range diags.Errs() {
				summaries = append(summaries, d.Error())
			}
			got := strings.Join(summaries, "\n")
			if tt.wantErr == "" && got != "" {
				t.Fatalf("unexpected diagnostics:\n%s", got)
			}
			if !strings.Contains(got, tt.wantErr) {
				t.Fatalf("diagnostics %q do not contain %q", got, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, inv)
			}
		})
	}
}
