package generators

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Password makes a password from character classes:
//
//	generate "password" {
//	  length      = 32      # 8 to 4096
//	  upper       = true
//	  lower       = true
//	  digits      = true
//	  symbols     = false
//	  symbol_set  = "!#%+-.:=?@^_~"
//	  exclude     = "0O1lI" # never used
//	  min_digits  = 2       # each min_* defaults to 1 for an enabled class, else 0
//	}
//
// Every character is drawn uniformly with crypto/rand: first each class's
// minimum from that class, then the rest from all enabled classes together,
// then the whole is shuffled so the minimums sit anywhere.
type Password struct{}

var _ providers.Generator = (*Password)(nil)

const (
	maxPasswordLength = 4096
	upperChars        = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars        = "abcdefghijklmnopqrstuvwxyz"
	digitChars        = "0123456789"
)

var (
	passwordLength    = attribute{name: "length", typ: cty.Number, def: cty.NumberIntVal(32), check: wholeBetween(8, maxPasswordLength)}
	passwordSymbolSet = attribute{name: "symbol_set", typ: cty.String, def: cty.StringVal("!#%+-.:=?@^_~"), check: symbolsOnly}
	passwordExclude   = attribute{name: "exclude", typ: cty.String, def: cty.StringVal("")}

	// passwordClasses in the order their minimums are drawn.
	passwordClasses = []passwordClass{
		{noun: "uppercase letter", enabled: boolAttr("upper", true), min: minAttr("min_upper"), chars: func(cty.Value) (string, error) { return upperChars, nil }},
		{noun: "lowercase letter", enabled: boolAttr("lower", true), min: minAttr("min_lower"), chars: func(cty.Value) (string, error) { return lowerChars, nil }},
		{noun: "digit", enabled: boolAttr("digits", true), min: minAttr("min_digits"), chars: func(cty.Value) (string, error) { return digitChars, nil }},
		{noun: "symbol", enabled: boolAttr("symbols", false), min: minAttr("min_symbols"), chars: func(cfg cty.Value) (string, error) { return readString(cfg, passwordSymbolSet) }},
	}

	passwordSpec = func() hcldec.ObjectSpec {
		s := hcldec.ObjectSpec{
			passwordLength.name:    passwordLength.spec(),
			passwordSymbolSet.name: passwordSymbolSet.spec(),
			passwordExclude.name:   passwordExclude.spec(),
		}
		for _, c := range passwordClasses {
			s[c.enabled.name] = c.enabled.spec()
			s[c.min.name] = c.min.spec()
		}
		return s
	}()
)

// passwordClass is one kind of character a password may draw from.
type passwordClass struct {
	noun    string
	enabled attribute
	min     attribute // unset: 1 when enabled, else 0
	chars   func(cfg cty.Value) (string, error)
}

func boolAttr(name string, def bool) attribute {
	return attribute{name: name, typ: cty.Bool, def: cty.BoolVal(def)}
}

func minAttr(name string) attribute {
	return attribute{name: name, typ: cty.Number, check: wholeBetween(0, maxPasswordLength)}
}

// symbolsOnly checks a symbol_set: printable ASCII that is neither a letter,
// a digit nor a space, so every class stays distinct and every password can
// be typed, quoted and put in a URL's userinfo with escaping at worst.
func symbolsOnly(v cty.Value) error {
	for _, r := range v.AsString() {
		if r <= ' ' || r > '~' || strings.ContainsRune(upperChars+lowerChars+digitChars, r) {
			return errors.New("must list printable ASCII symbols only: no letters, digits, spaces or other characters")
		}
	}
	return nil
}

// Generate implements providers.Generator.
func (*Password) Generate(_ context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	length, draws, all, err := planPassword(req.Config)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	pw := make([]byte, 0, length)
	for _, d := range draws {
		for range d.n {
			c, err := pick(d.alphabet)
			if err != nil {
				return nil, fmt.Errorf("password: %w", err)
			}
			pw = append(pw, c)
		}
	}
	for len(pw) < length {
		c, err := pick(all)
		if err != nil {
			return nil, fmt.Errorf("password: %w", err)
		}
		pw = append(pw, c)
	}
	// Fisher-Yates.
	for i := len(pw) - 1; i > 0; i-- {
		j, err := intn(i + 1)
		if err != nil {
			return nil, fmt.Errorf("password: %w", err)
		}
		pw[i], pw[j] = pw[j], pw[i]
	}
	return &providers.GenerateResponse{Value: sensitive.FromBytes(pw)}, nil
}

// draw is a number of characters to take from one alphabet.
type draw struct {
	alphabet []byte
	n        int
}

// planPassword reads the configuration and works out what to draw: each
// class's minimum from its alphabet, the rest from all of them. It reports
// every configuration no password can satisfy.
func planPassword(raw cty.Value) (length int, draws []draw, all []byte, err error) {
	cfg, err := object(raw)
	if err != nil {
		return 0, nil, nil, err
	}
	if length, err = readInt(cfg, passwordLength); err != nil {
		return 0, nil, nil, err
	}
	exclude, err := readString(cfg, passwordExclude)
	if err != nil {
		return 0, nil, nil, err
	}

	seen := map[byte]bool{}
	var enabled []string
	total := 0
	for _, c := range passwordClasses {
		on, err := readBool(cfg, c.enabled)
		if err != nil {
			return 0, nil, nil, err
		}
		n, set, err := readOptInt(cfg, c.min)
		if err != nil {
			return 0, nil, nil, err
		}
		if !set && on {
			n = 1
		}
		if !on {
			if n > 0 {
				return 0, nil, nil, fmt.Errorf("%s is %d but %s is false; set %s = true or remove %s", c.min.name, n, c.enabled.name, c.enabled.name, c.min.name)
			}
			continue
		}
		chars, err := c.chars(cfg)
		if err != nil {
			return 0, nil, nil, err
		}
		var alphabet []byte
		for i := 0; i < len(chars); i++ { // ASCII only: checked by the spec and readString
			ch := chars[i]
			if strings.IndexByte(exclude, ch) >= 0 || seen[ch] {
				continue
			}
			seen[ch] = true
			alphabet = append(alphabet, ch)
		}
		if len(alphabet) == 0 {
			if chars == "" {
				return 0, nil, nil, fmt.Errorf("%s is true but symbol_set is empty; list some symbols or set %s = false", c.enabled.name, c.enabled.name)
			}
			return 0, nil, nil, fmt.Errorf("exclude removes every %s, but %s is true; exclude fewer characters or set %s = false", c.noun, c.enabled.name, c.enabled.name)
		}
		enabled = append(enabled, c.enabled.name)
		total += n
		all = append(all, alphabet...)
		draws = append(draws, draw{alphabet: alphabet, n: n})
	}
	if len(enabled) == 0 {
		return 0, nil, nil, errors.New("no character class is enabled; set at least one of upper, lower, digits or symbols to true")
	}
	if total > length {
		return 0, nil, nil, fmt.Errorf("the minimums of %s add up to %d, more than length %d; lower them or raise length", strings.Join(enabled, ", "), total, length)
	}
	return length, draws, all, nil
}

// pick returns a uniformly chosen byte of alphabet.
func pick(alphabet []byte) (byte, error) {
	i, err := intn(len(alphabet))
	if err != nil {
		return 0, err
	}
	return alphabet[i], nil
}

// intn returns a uniform random int in [0, n) from crypto/rand. rand.Int
// rejects out-of-range draws, so no value is favoured.
func intn(n int) (int, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("read randomness: %w", err)
	}
	return int(i.Int64()), nil
}
