package generators_test

import (
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestRandom(t *testing.T) {
	tests := map[string]struct {
		src     string
		bytes   int
		textLen int
		decode  func(string) ([]byte, error)
	}{
		"defaults": {
			src: ``, bytes: 32, textLen: 44, // padded: 32 bytes is not a multiple of 3
			decode: base64.StdEncoding.Strict().DecodeString,
		},
		"base64": {
			src: `
bytes    = 16
encoding = "base64"`,
			bytes: 16, textLen: 24,
			decode: base64.StdEncoding.Strict().DecodeString,
		},
		"base64url without padding": {
			src: `
bytes    = 32
encoding = "base64url"`,
			bytes: 32, textLen: 43,
			decode: base64.RawURLEncoding.Strict().DecodeString,
		},
		"hex": {
			src: `
bytes    = 20
encoding = "hex"`,
			bytes: 20, textLen: 40,
			decode: hex.DecodeString,
		},
		"largest": {
			src:   `bytes = 1024`,
			bytes: 1024, textLen: 1368,
			decode: base64.StdEncoding.Strict().DecodeString,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := generate(t, "random", tt.src)
			checkErr(t, err, "")
			text := v.Reveal()
			if len(text) != tt.textLen {
				t.Errorf("text is %d characters, want %d", len(text), tt.textLen)
			}
			raw, err := tt.decode(text)
			if err != nil {
				t.Fatalf("value does not decode in its encoding: %v", err)
			}
			if len(raw) != tt.bytes {
				t.Errorf("decodes to %d bytes, want %d", len(raw), tt.bytes)
			}
		})
	}
}

// TestRandomChecksConfig: Generate checks a configuration that did not come
// through the spec, so no caller can get a short key.
func TestRandomChecksConfig(t *testing.T) {
	tests := map[string]struct {
		cfg     cty.Value
		wantErr string
	}{
		"too few bytes": {
			cfg:     cty.ObjectVal(map[string]cty.Value{"bytes": cty.NumberIntVal(8)}),
			wantErr: "random: bytes must be a whole number from 16 to 1024",
		},
		"fraction": {
			cfg:     cty.ObjectVal(map[string]cty.Value{"bytes": cty.NumberFloatVal(16.5)}),
			wantErr: "random: bytes must be a whole number",
		},
		"unknown encoding": {
			cfg:     cty.ObjectVal(map[string]cty.Value{"encoding": cty.StringVal("base32")}),
			wantErr: `random: encoding must be one of "base64", "base64url", "hex"`,
		},
		"unknown bytes": {
			cfg:     cty.ObjectVal(map[string]cty.Value{"bytes": cty.UnknownVal(cty.Number)}),
			wantErr: "random: bytes is not known",
		},
		"null config is all defaults": {
			cfg: cty.NullVal(cty.DynamicPseudoType),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := generateConfig(t, "random", tt.cfg)
			checkErr(t, err, tt.wantErr)
			if err == nil && len(v.Reveal()) != 44 {
				t.Errorf("default value is %d characters, want 44", len(v.Reveal()))
			}
		})
	}
}
