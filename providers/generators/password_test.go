package generators_test

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

const (
	upper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower   = "abcdefghijklmnopqrstuvwxyz"
	digits  = "0123456789"
	symbols = "!#%+-.:=?@^_~"
)

func TestPassword(t *testing.T) {
	tests := map[string]struct {
		src     string
		length  int
		allowed string         // every character comes from here
		atLeast map[string]int // characters of each alphabet, at least
	}{
		"defaults": {
			src:     ``,
			length:  32,
			allowed: upper + lower + digits,
			atLeast: map[string]int{upper: 1, lower: 1, digits: 1},
		},
		"symbols on": {
			src: `
length  = 24
symbols = true`,
			length:  24,
			allowed: upper + lower + digits + symbols,
			atLeast: map[string]int{upper: 1, lower: 1, digits: 1, symbols: 1},
		},
		"own symbol set": {
			src: `
symbols    = true
symbol_set = "*$"
min_symbols = 3`,
			length:  32,
			allowed: upper + lower + digits + "*$",
			atLeast: map[string]int{"*$": 3},
		},
		"digits only": {
			src: `
length = 12
upper  = false
lower  = false`,
			length:  12,
			allowed: digits,
			atLeast: map[string]int{digits: 12},
		},
		"minimums fill the whole length": {
			src: `
length      = 8
symbols     = true
min_upper   = 2
min_lower   = 2
min_digits  = 2
min_symbols = 2`,
			length:  8,
			allowed: upper + lower + digits + symbols,
			atLeast: map[string]int{upper: 2, lower: 2, digits: 2, symbols: 2},
		},
		// One digit is left, so the minimum can only be met by repeating it.
		"minimum from a one-character class": {
			src: `
length     = 8
exclude    = "012345689"
min_digits = 3`,
			length:  8,
			allowed: upper + lower + "7",
			atLeast: map[string]int{"7": 3, upper: 1, lower: 1},
		},
		"exclude look-alikes": {
			src:     `exclude = "0O1lI"`,
			length:  32,
			allowed: "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
			atLeast: map[string]int{upper: 1, lower: 1, digits: 1},
		},
		"minimum zero for an enabled class": {
			src: `
length    = 8
lower     = false
digits    = false
symbols   = true
min_upper = 0
min_symbols = 8`,
			length:  8,
			allowed: symbols,
			atLeast: map[string]int{symbols: 8},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			// Several draws, so a minimum met by luck in one draw does not pass.
			for range 20 {
				v, err := generate(t, "password", tt.src)
				checkErr(t, err, "")
				pw := v.Reveal()
				if len(pw) != tt.length {
					t.Fatalf("length %d, want %d", len(pw), tt.length)
				}
				if i := strings.IndexFunc(pw, func(r rune) bool { return !strings.ContainsRune(tt.allowed, r) }); i >= 0 {
					t.Fatalf("character %d is outside the allowed alphabet", i) // never print the password
				}
				for alphabet, min := range tt.atLeast {
					if n := countIn(pw, alphabet); n < min {
						t.Fatalf("%d characters from %q, want at least %d", n, alphabet, min)
					}
				}
			}
		})
	}
}

func countIn(s, alphabet string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(alphabet, r) {
			n++
		}
	}
	return n
}

// TestPasswordUsesWholeAlphabet draws a long password and expects every
// allowed character in it: a selection that never reaches the end of an
// alphabet, or that leaks an excluded character, fails. The chance that a
// fair draw of 4096 misses one of 70 characters is below 1e-20.
func TestPasswordUsesWholeAlphabet(t *testing.T) {
	tests := map[string]struct {
		src     string
		allowed string
	}{
		"every class": {
			src: `
length  = 4096
symbols = true`,
			allowed: upper + lower + digits + symbols,
		},
		"with exclusions": {
			src: `
length  = 4096
symbols = true
exclude = "0O1lI~"`,
			allowed: "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-.:=?@^_",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := generate(t, "password", tt.src)
			checkErr(t, err, "")
			pw := v.Reveal()
			for _, r := range tt.allowed {
				if !strings.ContainsRune(pw, r) {
					t.Errorf("%q never drawn", r)
				}
			}
			if n := countIn(pw, tt.allowed); n != len(pw) {
				t.Errorf("%d characters outside the alphabet", len(pw)-n)
			}
		})
	}
}

// TestPasswordShuffles: the minimums are drawn first, so without a shuffle a
// password whose only digit is its minimum would always start with it. With
// upper and digits on and length 16, a fair draw starts with a digit about a
// third of the time; 40 draws all starting with one happen with chance 1e-19.
func TestPasswordShuffles(t *testing.T) {
	src := `
length     = 16
lower      = false
min_upper  = 0
min_digits = 1`
	notDigitFirst := 0
	for range 40 {
		v, err := generate(t, "password", src)
		checkErr(t, err, "")
		if !strings.ContainsRune(digits, rune(v.Reveal()[0])) {
			notDigitFirst++
		}
	}
	if notDigitFirst == 0 {
		t.Error("every password starts with a digit: the minimums are not shuffled")
	}
	// And the other way round: upper first when min_upper is drawn first.
	src = `
length     = 16
lower      = false
min_upper  = 1
min_digits = 0`
	notUpperFirst := 0
	for range 40 {
		v, err := generate(t, "password", src)
		checkErr(t, err, "")
		if !strings.ContainsRune(upper, rune(v.Reveal()[0])) {
			notUpperFirst++
		}
	}
	if notUpperFirst == 0 {
		t.Error("every password starts with an uppercase letter: the minimums are not shuffled")
	}
}

func TestPasswordImpossible(t *testing.T) {
	tests := map[string]struct {
		src     string
		wantErr string
	}{
		"no class": {
			src: `
upper  = false
lower  = false
digits = false`,
			wantErr: "password: no character class is enabled",
		},
		"minimums exceed length": {
			src: `
length    = 8
min_upper = 5
min_lower = 4`,
			wantErr: "password: the minimums of upper, lower, digits add up to 10, more than length 8",
		},
		"default minimums exceed length": {
			// Unset minimums are one per enabled class: 1 + 1 + 6 + 1.
			src: `
length     = 8
symbols    = true
min_digits = 6`,
			wantErr: "add up to 9, more than length 8",
		},
		"exclude removes every digit": {
			src:     `exclude = "0123456789"`,
			wantErr: "password: exclude removes every digit, but digits is true",
		},
		"exclude removes every symbol": {
			src: `
symbols    = true
symbol_set = "#!"
exclude    = "!#"`,
			wantErr: "password: exclude removes every symbol, but symbols is true",
		},
		"empty symbol set": {
			src: `
symbols    = true
symbol_set = ""`,
			wantErr: "password: symbols is true but symbol_set is empty",
		},
		"minimum for a disabled class": {
			src:     `min_symbols = 2`,
			wantErr: "password: min_symbols is 2 but symbols is false",
		},
		"disabled class excluded entirely is fine": {
			src: `
digits  = false
exclude = "0123456789"`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := generate(t, "password", tt.src)
			checkErr(t, err, tt.wantErr)
		})
	}
}

// TestPasswordChecksConfig: Generate checks what the spec would have, for a
// configuration that did not come through it.
func TestPasswordChecksConfig(t *testing.T) {
	tests := map[string]struct {
		cfg     map[string]cty.Value
		wantErr string
	}{
		"too short": {
			cfg:     map[string]cty.Value{"length": cty.NumberIntVal(7)},
			wantErr: "password: length must be a whole number from 8 to 4096",
		},
		"too long": {
			cfg:     map[string]cty.Value{"length": cty.NumberIntVal(4097)},
			wantErr: "password: length must be a whole number from 8 to 4096",
		},
		"negative minimum": {
			cfg:     map[string]cty.Value{"min_upper": cty.NumberIntVal(-1)},
			wantErr: "password: min_upper must be a whole number from 0 to 4096",
		},
		"letter in symbol set": {
			cfg:     map[string]cty.Value{"symbols": cty.True, "symbol_set": cty.StringVal("#a")},
			wantErr: "password: symbol_set must list printable ASCII symbols only",
		},
		"non-ASCII symbol": {
			cfg:     map[string]cty.Value{"symbols": cty.True, "symbol_set": cty.StringVal("#§")},
			wantErr: "password: symbol_set must list printable ASCII symbols only",
		},
		"unknown length": {
			cfg:     map[string]cty.Value{"length": cty.UnknownVal(cty.Number)},
			wantErr: "password: length is not known",
		},
		"length given as a string converts": {
			cfg: map[string]cty.Value{"length": cty.StringVal("12")},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := generateConfig(t, "password", cty.ObjectVal(tt.cfg))
			checkErr(t, err, tt.wantErr)
		})
	}
}
