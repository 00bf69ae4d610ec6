package generators

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Random makes a value of random bytes, encoded as text:
//
//	generate "random" {
//	  bytes    = 32       # 16 to 1024
//	  encoding = "base64" # or "base64url" (unpadded), "hex"
//	}
type Random struct{}

var _ providers.Generator = (*Random)(nil)

var (
	randomBytes    = attribute{name: "bytes", typ: cty.Number, def: cty.NumberIntVal(32), check: wholeBetween(16, 1024)}
	randomEncoding = attribute{name: "encoding", typ: cty.String, def: cty.StringVal("base64"), check: stringOneOf("base64", "base64url", "hex")}

	randomSpec = hcldec.ObjectSpec{
		randomBytes.name:    randomBytes.spec(),
		randomEncoding.name: randomEncoding.spec(),
	}
)

// Generate implements providers.Generator.
func (*Random) Generate(_ context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	cfg, err := object(req.Config)
	if err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	n, err := readInt(cfg, randomBytes)
	if err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	encoding, err := readString(cfg, randomEncoding)
	if err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}

	raw := make([]byte, n)
	defer clear(raw)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("random: read randomness: %w", err)
	}
	var out []byte
	switch encoding {
	case "base64":
		out = make([]byte, base64.StdEncoding.EncodedLen(n))
		base64.StdEncoding.Encode(out, raw)
	case "base64url":
		out = make([]byte, base64.RawURLEncoding.EncodedLen(n))
		base64.RawURLEncoding.Encode(out, raw)
	case "hex":
		out = make([]byte, hex.EncodedLen(n))
		hex.Encode(out, raw)
	default: // unreachable: read checked it
		return nil, fmt.Errorf("random: encoding %q is not supported", encoding)
	}
	return &providers.GenerateResponse{Value: sensitive.FromBytes(out)}, nil
}
