package generators_test

import (
	"slices"
	"testing"

	"github.com/rotplan/rotplan/config"
)

func TestRegister(t *testing.T) {
	r := registry(t)
	want := []string{"ecdsa", "ed25519", "manual", "password", "random", "rsa", "template"}
	if got := r.TypeNames(config.KindGenerate); !slices.Equal(got, want) {
		t.Fatalf("registered %v, want %v", got, want)
	}
	for _, typ := range want {
		schema, _ := r.Schema(config.KindGenerate, typ)
		if schema.NotImplemented {
			t.Errorf("%s is registered without a factory", typ)
		}
		if schema.Manual != (typ == "manual") {
			t.Errorf("%s: Manual = %v", typ, schema.Manual)
		}
	}
}

// TestSchemaErrors decodes bad blocks the way config does: each must give a
// diagnostic with a range, before anything is generated.
func TestSchemaErrors(t *testing.T) {
	tests := map[string]struct {
		typ     string
		src     string
		summary string
		detail  string
		line    int // where the diagnostic points
	}{
		"random: unknown attribute": {
			typ: "random", src: `lenght = 32`,
			summary: "Unsupported argument", line: 1,
		},
		"random: too few bytes": {
			typ: "random", src: "encoding = \"hex\"\nbytes = 15",
			summary: "Invalid bytes", detail: "bytes must be a whole number from 16 to 1024.", line: 2,
		},
		"random: too many bytes": {
			typ: "random", src: `bytes = 1025`,
			summary: "Invalid bytes", line: 1,
		},
		"random: bad encoding": {
			typ: "random", src: `encoding = "base32"`,
			summary: "Invalid encoding", detail: `encoding must be one of "base64", "base64url", "hex".`, line: 1,
		},
		"random: wrong type": {
			typ: "random", src: `bytes = "many"`,
			summary: "Incorrect attribute value type", line: 1,
		},
		"password: unknown attribute": {
			typ: "password", src: `min_special = 2`,
			summary: "Unsupported argument", line: 1,
		},
		"password: too short": {
			typ: "password", src: `length = 7`,
			summary: "Invalid length", detail: "length must be a whole number from 8 to 4096.", line: 1,
		},
		"password: fractional length": {
			typ: "password", src: `length = 12.5`,
			summary: "Invalid length", line: 1,
		},
		"password: negative minimum": {
			typ: "password", src: "length = 12\nmin_digits = -1",
			summary: "Invalid min_digits", line: 2,
		},
		"password: letters in symbol_set": {
			typ: "password", src: `symbol_set = "#$x"`,
			summary: "Invalid symbol_set", line: 1,
		},
		"password: space in symbol_set": {
			typ: "password", src: `symbol_set = "# $"`,
			summary: "Invalid symbol_set", line: 1,
		},
		"rsa: too small": {
			typ: "rsa", src: `bits = 1024`,
			summary: "Invalid bits", detail: "bits must be one of 2048, 3072, 4096.", line: 1,
		},
		"ecdsa: unknown curve": {
			typ: "ecdsa", src: `curve = "P-192"`,
			summary: "Invalid curve", line: 1,
		},
		"ed25519: takes no attributes": {
			typ: "ed25519", src: `bits = 256`,
			summary: "Unsupported argument", line: 1,
		},
		"template: missing": {
			typ: "template", src: ``,
			summary: "Missing required argument",
		},
		"template: empty": {
			typ: "template", src: `template = ""`,
			summary: "Invalid template", line: 1,
		},
		"manual: no instructions": {
			typ: "manual", src: `revoke_instructions = "Delete it"`,
			summary: "Missing required argument",
		},
		"manual: blank instructions": {
			typ: "manual", src: `instructions = "  "`,
			summary: "Invalid instructions", detail: "instructions must not be empty.", line: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := decode(t, tt.typ, tt.src, nil)
			if !diags.HasErrors() {
				t.Fatal("decoded without an error")
			}
			d := diags[0]
			if d.Summary != tt.summary {
				t.Errorf("summary %q, want %q (%s)", d.Summary, tt.summary, diags.Error())
			}
			if tt.detail != "" && d.Detail != tt.detail {
				t.Errorf("detail %q, want %q", d.Detail, tt.detail)
			}
			if d.Subject == nil {
				t.Fatal("diagnostic has no range")
			}
			if tt.line != 0 && d.Subject.Start.Line != tt.line {
				t.Errorf("diagnostic points at line %d, want %d", d.Subject.Start.Line, tt.line)
			}
		})
	}
}

// TestSchemaDefaults: an empty block decodes to the documented defaults.
func TestSchemaDefaults(t *testing.T) {
	tests := map[string]struct {
		typ  string
		want map[string]string // attribute → its default, as cty's GoString
	}{
		"random": {typ: "random", want: map[string]string{
			"bytes": "cty.NumberIntVal(32)", "encoding": `cty.StringVal("base64")`,
		}},
		"password": {typ: "password", want: map[string]string{
			"length": "cty.NumberIntVal(32)", "upper": "cty.True", "lower": "cty.True",
			"digits": "cty.True", "symbols": "cty.False", "symbol_set": `cty.StringVal("!#%+-.:=?@^_~")`,
			"exclude": `cty.StringVal("")`, "min_upper": "cty.NullVal(cty.Number)",
		}},
		"rsa":   {typ: "rsa", want: map[string]string{"bits": "cty.NumberIntVal(2048)"}},
		"ecdsa": {typ: "ecdsa", want: map[string]string{"curve": `cty.StringVal("P-256")`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := decode(t, tt.typ, ``, nil)
			if diags.HasErrors() {
				t.Fatalf("decode: %s", diags.Error())
			}
			for attr, want := range tt.want {
				if got := cfg.GetAttr(attr).GoString(); got != want {
					t.Errorf("%s = %s, want %s", attr, got, want)
				}
			}
		})
	}
}

// TestDistinct: two draws from the same block differ.
func TestDistinct(t *testing.T) {
	tests := map[string]struct {
		typ string
		src string
	}{
		"random":           {typ: "random", src: `bytes = 16`},
		"password":         {typ: "password", src: `length = 8`},
		"password, digits": {typ: "password", src: "length = 16\nupper = false\nlower = false"},
		"rsa":              {typ: "rsa"},
		"ecdsa":            {typ: "ecdsa"},
		"ed25519":          {typ: "ed25519"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := generate(t, tt.typ, tt.src)
			checkErr(t, err, "")
			b, err := generate(t, tt.typ, tt.src)
			checkErr(t, err, "")
			if a.IsEmpty() || b.IsEmpty() {
				t.Fatal("empty value")
			}
			if a.Equal(b) {
				t.Error("two draws made the same value")
			}
		})
	}
}
