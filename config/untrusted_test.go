package config_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/builtin"
)

// envCanary is what env("TOKEN") returns in these tests, and fileCanary
// what notes.txt holds.
const (
	envCanary  = "CANARY-env-5b1d"
	fileCanary = "CANARY-file-e27a"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// loadIn loads src as a.hcl of dir, in which notes.txt holds fileCanary,
// with TOKEN set to envCanary.
func loadIn(t *testing.T, dir, src string, mode config.Mode, trust config.Trust) (*config.Inventory, hcl.Diagnostics) {
	t.Helper()
	writeFile(t, dir, "notes.txt", fileCanary)
	return config.Load(dir, map[string][]byte{"a.hcl": []byte(src)}, config.Options{
		Schemas: builtin.Registry(),
		Mode:    mode,
		Trust:   trust,
		LookupEnv: func(name string) (string, bool) {
			if name == "TOKEN" {
				return envCanary, true
			}
			return "", false
		},
	})
}

// TestUntrustedValuesAreNotShown loads settings read with env() and file()
// and checks what rotplan may show of them: untrusted, nothing of a setting
// that is not public, while providers still get the values; trusted,
// everything.
func TestUntrustedValuesAreNotShown(t *testing.T) {
	src := `
secret "manual" {
  description = env("TOKEN")
  frequency   = "90d"
  generate "manual" {
    instructions        = file("notes.txt")
    revoke_instructions = "Revoke it: ${env("TOKEN")}"
  }
}

provider "fly" {
  api_token = env("TOKEN")
}
`
	for _, trust := range []config.Trust{config.Untrusted, config.Trusted} {
		inv, diags := loadIn(t, t.TempDir(), src, config.ModePlan, trust)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		s := inv.Secret("manual")
		shown := []string{s.Description, s.Generate.StringAttr("instructions"), s.Generate.StringAttr("revoke_instructions")}
		for _, text := range shown {
			if hasCanary(text) != (trust == config.Trusted) {
				t.Errorf("trust %d: shown %q", trust, text)
			}
		}
		// Providers read the values.
		if got := s.Generate.Config.GetAttr("instructions"); got.IsMarked() || got.AsString() != fileCanary {
			t.Errorf("trust %d: instructions for the provider = %#v", trust, got)
		}
		if got := inv.Providers["fly"].Config.GetAttr("api_token"); got.IsMarked() || got.AsString() != envCanary {
			t.Errorf("trust %d: api_token for the provider = %#v", trust, got)
		}
		// What a provider makes of them is redacted when untrusted.
		msg := "cannot reach the API with token " + envCanary + ": " + fileCanary + "."
		if got := inv.Redact(msg); hasCanary(got) != (trust == config.Trusted) {
			t.Errorf("trust %d: Redact = %q", trust, got)
		}
	}
}

func hasCanary(s string) bool { return strings.Contains(s, "CANARY") }

// TestPublicSettingsAreShown reads a local store's path and an env file's
// key with env(): their schemas mark them public, so rotplan uses them
// (here in the destinations it checks). Redact still takes the string
// env() returned out of what is printed.
func TestPublicSettingsAreShown(t *testing.T) {
	src := `
secret "a" {
  frequency = "90d"
  generate "random" {}
  store "local" {
    path = "${env("TOKEN")}.store"
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "K${replace(env("TOKEN"), "-", "_")}"
  }
}
`
	inv, diags := loadIn(t, t.TempDir(), src, config.ModePlan, config.Untrusted)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	s := inv.Secret("a")
	if d := s.Store.Destinations; len(d) != 1 || !strings.HasSuffix(d[0].File, envCanary+".store") {
		t.Errorf("store destinations %+v", d)
	}
	if d := s.Targets[0].Destinations; len(d) != 1 || d[0].Key != "KCANARY_env_5b1d" {
		t.Errorf("target destinations %+v", d)
	}
	if got := inv.Redact("cannot read " + envCanary + ".store"); got != "cannot read (sensitive).store" {
		t.Errorf("Redact = %q", got)
	}
}

// TestFileStaysInside reads files outside the inventory directory, by
// path and through a symbolic link: refused untrusted, read trusted.
func TestFileStaysInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "inv")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "outside.txt", "outside")
	cases := map[string]string{
		"parent":   `file("../outside.txt")`,
		"absolute": `file("` + filepath.ToSlash(filepath.Join(root, "outside.txt")) + `")`,
	}
	if runtime.GOOS != "windows" {
		if err := os.Symlink(filepath.Join(root, "outside.txt"), filepath.Join(dir, "link.txt")); err != nil {
			t.Fatal(err)
		}
		cases["link"] = `file("link.txt")`
	}
	for name, expr := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := loadIn(t, dir, secretWith(expr), config.ModePlan, config.Untrusted)
			if !diags.HasErrors() || diags[0].Summary != "File outside the inventory directory" {
				t.Fatalf("untrusted: %v", diags)
			}
			if strings.Contains(diags.Error(), "outside\n") {
				t.Error("the diagnostic shows the file")
			}
			if _, diags := loadIn(t, dir, secretWith(expr), config.ModePlan, config.Trusted); diags.HasErrors() {
				t.Errorf("trusted: %s", diags.Error())
			}
		})
	}
	t.Run("inside, through a link", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("symbolic links need privileges on windows")
		}
		if err := os.Symlink("notes.txt", filepath.Join(dir, "inner.txt")); err != nil {
			t.Fatal(err)
		}
		if _, diags := loadIn(t, dir, secretWith(`file("inner.txt")`), config.ModePlan, config.Untrusted); diags.HasErrors() {
			t.Fatal(diags.Error())
		}
	})
}

// TestStoreFileStaysInside points a local store at a file outside the
// inventory directory: refused untrusted, accepted trusted.
func TestStoreFileStaysInside(t *testing.T) {
	src := `
secret "a" {
  frequency = "90d"
  generate "random" {}
  store "local" {
    path = "../elsewhere.store"
  }
}
`
	_, diags := loadIn(t, t.TempDir(), src, config.ModePlan, config.Untrusted)
	if !diags.HasErrors() || diags[0].Summary != "Store file outside the inventory directory" || diags[0].Subject.Start.Line != 5 {
		t.Fatalf("untrusted: %v", diags)
	}
	if _, diags := loadIn(t, t.TempDir(), src, config.ModePlan, config.Trusted); diags.HasErrors() {
		t.Fatalf("trusted: %s", diags.Error())
	}
}

// TestPlanDefersApplyOnlySettings loads an inventory whose verify block and
// apply-only settings read variables that are not set, and a file that
// does not exist: plan and validate accept it and leave those settings
// unknown, apply (ModeResolve) needs them all.
func TestPlanDefersApplyOnlySettings(t *testing.T) {
	src := `
secret "a" {
  frequency = "90d"
  generate "template" {
    template = "${env("UNSET_HOST")}/${file("missing.txt")}"
  }
  target "exec" "reload" {
    command = ["reload", env("UNSET_TOKEN")]
  }
  verify "http" {
    url     = "https://${env("UNSET_HOST")}/health"
    headers = { Authorization = "Bearer ${env("UNSET_TOKEN")}" }
    body    = file("missing.txt")
  }
}
`
	for _, mode := range []config.Mode{config.ModeValidate, config.ModePlan} {
		inv, diags := loadIn(t, t.TempDir(), src, mode, config.Untrusted)
		if diags.HasErrors() {
			t.Fatalf("mode %d: %s", mode, diags.Error())
		}
		s := inv.Secret("a")
		if s.Verify[0].Config.GetAttr("url").IsKnown() || s.Targets[0].Config.GetAttr("command").IsWhollyKnown() {
			t.Errorf("mode %d: apply-only settings are known", mode)
		}
	}
	_, diags := loadIn(t, t.TempDir(), src, config.ModeResolve, config.Trusted)
	var unset, unread int
	for _, d := range diags {
		switch d.Summary {
		case "Environment variable not set":
			unset++
		case "Cannot read file":
			unread++
		}
	}
	if unset != 4 || unread != 2 {
		t.Errorf("apply: %d unset variables and %d unread files, want 4 and 2: %s", unset, unread, diags.Error())
	}
}

// TestPlanStillChecksApplyOnlyShape pins that deferring apply-only
// settings keeps their checks: a wrong attribute, a wrong type, a bad
// argument to env().
func TestPlanStillChecksApplyOnlyShape(t *testing.T) {
	cases := map[string]struct {
		block, summary string
	}{
		"unknown attribute": {"verify \"http\" {\n url = \"https://x\"\n urll = env(\"UNSET\")\n}", "Unsupported argument"},
		"wrong type":        {"verify \"http\" {\n url = \"https://x\"\n expect_status = [env(\"UNSET\")]\n}", "Incorrect attribute value type"},
		"env of a list":     {`target "exec" "x" { command = [env(["a"])] }`, "Invalid function argument"},
		"missing required":  {`verify "http" { method = env("UNSET") }`, "Missing required argument"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			src := "secret \"a\" {\n  frequency = \"90d\"\n  generate \"random\" {}\n  " + tc.block + "\n}\n"
			_, diags := loadIn(t, t.TempDir(), src, config.ModePlan, config.Untrusted)
			if !diags.HasErrors() || diags[0].Summary != tc.summary {
				t.Fatalf("got %v, want %q", diags, tc.summary)
			}
		})
	}
}

// TestSensitiveValuesInDiagnostics makes env() and file() values fail in
// every way a setting can: no diagnostic quotes them.
func TestSensitiveValuesInDiagnostics(t *testing.T) {
	cases := map[string]string{
		"a duration":              `secret "a" { frequency = env("TOKEN") generate "random" {} }`,
		"a notice":                `secret "a" { frequency = "90d" notice = file("notes.txt") generate "random" {} }`,
		"a number":                `secret "a" { frequency = "90d" generate "password" { length = env("TOKEN") } }`,
		"a regular expression":    `secret "a" { frequency = "90d" description = regex(file("notes.txt"), "x") generate "random" {} }`,
		"an env file key":         `secret "a" { frequency = "90d" generate "random" {} target "env_file" "x" { path = "x.env" key = env("TOKEN") } }`,
		"a fly app secret":        `secret "a" { frequency = "90d" generate "random" {} target "fly" "x" { app = "a" key = file("notes.txt") } }`,
		"a redis address":         `secret "a" { frequency = "90d" generate "random" {} target "redis" "x" { address = env("TOKEN") } }`,
		"an aws endpoint":         `provider "aws" { endpoint = env("TOKEN") }`,
		"a substring":             `secret "a" { frequency = "90d" description = substr(env("TOKEN"), 0, "x") generate "random" {} }`,
		"a conditional":           `secret "a" { frequency = "90d" description = env("TOKEN") ? "a" : "b" generate "random" {} }`,
		"an index":                `secret "a" { frequency = "90d" description = {a = "b"}[env("TOKEN")] generate "random" {} }`,
		"arithmetic":              `secret "a" { frequency = "90d" description = env("TOKEN") + 1 generate "random" {} }`,
		"a state path that fails": `rotplan { state "local" { path = [env("TOKEN")] } }`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			src = strings.ReplaceAll(strings.ReplaceAll(src, "{ ", "{\n"), "} ", "}\n")
			src = strings.NewReplacer(`" `, "\"\n", `) `, ")\n").Replace(src)
			_, diags := loadIn(t, t.TempDir(), src, config.ModePlan, config.Untrusted)
			if !diags.HasErrors() {
				t.Fatal("loaded without errors")
			}
			if text := diags.Error(); hasCanary(text) || strings.Contains(text, "5b1d") || strings.Contains(text, "e27a") {
				t.Errorf("a diagnostic quotes the value: %s", text)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a position: %s", d.Error())
				}
			}
		})
	}
}

// TestRedact pins the redactor: every occurrence, the longest of strings
// that share a start, nothing shorter than 8 bytes.
func TestRedact(t *testing.T) {
	src := `
provider "fly" {
  api_token = env("TOKEN")
}
provider "onepassword" {
  service_account_token = "${env("TOKEN")}-and-more"
}
provider "azure" {
  client_secret = substr(env("TOKEN"), 0, 4)
}
`
	inv, diags := loadIn(t, t.TempDir(), src, config.ModePlan, config.Untrusted)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for in, want := range map[string]string{
		"":                        "",
		"no secret here":          "no secret here",
		envCanary:                 "(sensitive)",
		"a " + envCanary + " b":   "a (sensitive) b",
		envCanary + envCanary:     "(sensitive)(sensitive)",
		envCanary + "-and-more!":  "(sensitive)!",
		"CANA and CANARY-env-5b1": "CANA and CANARY-env-5b1",
	} {
		if got := inv.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
