package config_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/builtin"
)

// canary stands for a secret's value. It holds an unbalanced parenthesis so
// that, as a regular expression, it fails to compile and regexp's error
// would quote it.
const canary = "CANARY-7f3a(9c"

// TestDecodeNeverQuotesSensitiveValues decodes blocks that use secret.pw's
// value in every way that can fail, once the executor knows the value, and
// checks that no diagnostic holds it. Each block is the target, generate
// or verify block of secret.app.
func TestDecodeNeverQuotesSensitiveValues(t *testing.T) {
	cases := map[string]struct {
		block   string
		summary string // of the first error
	}{
		"file of the value": {
			block:   `generate "template" { template = file(secret.pw.value) }`,
			summary: "Function failed on a sensitive value",
		},
		"file of a path made from the value": {
			block:   `generate "template" { template = file("dir/${secret.pw.value}.txt") }`,
			summary: "Function failed on a sensitive value",
		},
		"env of the value": {
			block:   `generate "template" { template = env(secret.pw.value) }`,
			summary: "Function failed on a sensitive value",
		},
		"format %d of a string": {
			block:   `generate "template" { template = format("%d", secret.pw.value) }`,
			summary: "Function failed on a sensitive value",
		},
		"format with the value in the format": {
			block:   `generate "template" { template = format("%[3]s${secret.pw.value}", "a") }`,
			summary: "Function failed on a sensitive value",
		},
		"formatlist %d": {
			block:   `generate "template" { template = join(",", formatlist("%d", [secret.pw.value])) }`,
			summary: "Function failed on a sensitive value",
		},
		"regex with the value as the pattern": {
			block:   `generate "template" { template = regex(secret.pw.value, "x") }`,
			summary: "Function failed on a sensitive value",
		},
		"regex that does not match the value": {
			block:   `generate "template" { template = regex("^[0-9]+$", secret.pw.value) }`,
			summary: "Function failed on a sensitive value",
		},
		"substr with a string length": {
			block:   `generate "template" { template = substr(secret.pw.value, 0, secret.pw.value) }`,
			summary: "Invalid function argument",
		},
		"an element split from the value": {
			block:   `generate "template" { template = split("-", secret.pw.value)[5] }`,
			summary: "Invalid index",
		},
		"number from the value": {
			block:   `generate "password" { length = secret.pw.value }`,
			summary: "Incorrect attribute value type",
		},
		"bool from the value": {
			block:   `generate "password" { lower = secret.pw.value }`,
			summary: "Incorrect attribute value type",
		},
		"arithmetic on the value": {
			block:   `generate "template" { template = "${secret.pw.value + 1}" }`,
			summary: "Invalid operand",
		},
		"the value as a condition": {
			block:   `generate "template" { template = secret.pw.value ? "a" : "b" }`,
			summary: "Incorrect condition type",
		},
		"the value in a template if": {
			block:   `generate "template" { template = "%{if secret.pw.value}a%{endif}" }`,
			summary: "Incorrect condition type",
		},
		"the value as an object key": {
			block:   `generate "template" { template = {CANARY = "x"}[secret.pw.value] }`,
			summary: "Invalid index",
		},
		"the value as a list index": {
			block:   `generate "template" { template = ["x"][secret.pw.value] }`,
			summary: "Invalid index",
		},
		"arithmetic on a part of the split value": {
			block:   `generate "template" { template = join("", [split("-", secret.pw.value)[0] + 1]) }`,
			summary: "Invalid operand",
		},
		"env_file key": {
			block: `target "env_file" "app" {
  path = "app.env"
  key  = secret.pw.value
}`,
			summary: "Invalid key",
		},
		"env_file previous_key": {
			block: `target "env_file" "app" {
  path         = "app.env"
  key          = "K"
  previous_key = secret.pw.value
}`,
			summary: "Invalid previous_key",
		},
		"env_file path": {
			block: `target "env_file" "app" {
  path = trimprefix(secret.pw.value, secret.pw.value)
  key  = "K"
}`,
			summary: "Empty path",
		},
		"local store key": {
			block: `store "local" {
  key = trimprefix(secret.pw.value, secret.pw.value)
}`,
			summary: "Empty key",
		},
		"fly key": {
			block: `target "fly" "app" {
  app = "web"
  key = secret.pw.value
}`,
			summary: "Invalid Fly secret name",
		},
		"redis address": {
			block:   `target "redis" "cache" { address = secret.pw.value }`,
			summary: "Invalid Redis address",
		},
		"http url": {
			block:   `verify "http" { url = secret.pw.value }`,
			summary: "Invalid URL",
		},
		"password symbol set": {
			block:   `generate "password" { symbol_set = secret.pw.value }`,
			summary: "Invalid symbol_set",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := loadBlock(t, tc.block)
			_, diags := b.Decode(b.EvalContext(map[string]cty.Value{"pw": cty.StringVal(canary)}))
			if !diags.HasErrors() {
				t.Fatal("decoded without errors")
			}
			if got := diags.Errs()[0].(*hcl.Diagnostic).Summary; got != tc.summary {
				t.Errorf("summary %q, want %q", got, tc.summary)
			}
			for _, d := range diags {
				for _, text := range []string{d.Summary, d.Detail, d.Error()} {
					if strings.Contains(text, "CANARY") || strings.Contains(text, "7f3a") {
						t.Errorf("diagnostic quotes the value: %s", text)
					}
				}
				if d.Subject == nil {
					t.Errorf("diagnostic without a range: %s", d.Error())
				}
				if d.EvalContext != nil {
					t.Errorf("diagnostic keeps the context that holds the value: %s", d.Error())
				}
			}
			if err := diags.Error(); strings.Contains(err, "CANARY") {
				t.Errorf("diagnostics quote the value: %s", err)
			}
		})
	}
}

// TestDecodeGivesProvidersPlainValues decodes blocks made from secret.pw's
// value successfully: providers read the result with AsString and friends,
// which panic on marked values.
func TestDecodeGivesProvidersPlainValues(t *testing.T) {
	cases := map[string]struct {
		block string
		attr  string
		want  cty.Value
	}{
		"template": {
			block: `generate "template" { template = "postgres://app:${secret.pw.value}@db/app" }`,
			attr:  "template",
			want:  cty.StringVal("postgres://app:" + canary + "@db/app"),
		},
		"the value itself": {
			block: `generate "template" { template = secret.pw.value }`,
			attr:  "template",
			want:  cty.StringVal(canary),
		},
		"through functions": {
			block: `generate "template" { template = upper(join("+", split("-", trimspace(secret.pw.value)))) }`,
			attr:  "template",
			want:  cty.StringVal(strings.ToUpper(strings.ReplaceAll(canary, "-", "+"))),
		},
		"a number made from the value": {
			block: `generate "password" { length = length(split("-", secret.pw.value)) + 10 }`,
			attr:  "length",
			want:  cty.NumberIntVal(12),
		},
		"a check's headers": {
			block: `verify "http" {
  url     = "http://127.0.0.1/health"
  headers = { Authorization = "Bearer ${secret.pw.value}" }
}`,
			attr: "headers",
			want: cty.MapVal(map[string]cty.Value{"Authorization": cty.StringVal("Bearer " + canary)}),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := loadBlock(t, tc.block)
			cfg, diags := b.Decode(b.EvalContext(map[string]cty.Value{"pw": cty.StringVal(canary)}))
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if cfg.ContainsMarked() {
				t.Fatal("the decoded configuration is marked")
			}
			if got := cfg.GetAttr(tc.attr); !got.RawEquals(tc.want) {
				t.Errorf("%s = %#v, want %#v", tc.attr, got, tc.want)
			}
		})
	}
}

// TestEvalContextMarksValues pins that values enter the context marked and
// unknown ones stay unmarked.
func TestEvalContextMarksValues(t *testing.T) {
	b := loadBlock(t, `generate "template" { template = secret.pw.value }`)
	secrets := b.EvalContext(map[string]cty.Value{"pw": cty.StringVal(canary)}).Variables["secret"]
	if v := secrets.GetAttr("pw").GetAttr("value"); !v.HasMark(config.Sensitive) {
		t.Errorf("secret.pw.value = %#v, want it marked", v)
	}
	if v := secrets.GetAttr("app").GetAttr("value"); v.IsKnown() || v.IsMarked() {
		t.Errorf("secret.app.value = %#v, want unknown and unmarked", v)
	}
}

// block is a block of the inventory loadBlock loaded, with what decoding it
// again needs.
type block struct {
	*config.Block
	inv *config.Inventory
}

func (b block) EvalContext(values map[string]cty.Value) *hcl.EvalContext {
	return b.inv.EvalContext(values)
}

// loadBlock loads an inventory in which secret.app has src among its
// blocks, and returns that block. Loading, the referenced value is unknown,
// so the block decodes without errors.
func loadBlock(t *testing.T, src string) block {
	t.Helper()
	generate := `generate "password" {}`
	if strings.HasPrefix(src, "generate") {
		generate = ""
	}
	files := map[string][]byte{"secrets.hcl": []byte(`
provider "fly" {
  api_token = "t"
}
secret "pw" {
  frequency = "90d"
  generate "password" {}
}
secret "app" {
  frequency = "90d"
  ` + generate + `
  ` + src + `
}
`)}
	inv, diags := config.Load(t.TempDir(), files, config.Options{
		Schemas:   builtin.Registry(),
		Mode:      config.ModeResolve,
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if diags.HasErrors() {
		t.Fatalf("loading: %s", diags.Error())
	}
	s := inv.Secret("app")
	for _, b := range append([]*config.Block{s.Store, s.Generate}, append(s.Targets, s.Verify...)...) {
		if b != nil && strings.HasPrefix(src, b.Kind.String()) {
			return block{Block: b, inv: inv}
		}
	}
	t.Fatal("no block")
	return block{}
}
