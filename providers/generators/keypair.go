package generators

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// The key pair generators make one value holding two PEM blocks: the
// private key in PKCS#8 ("PRIVATE KEY"), then its public key in PKIX
// ("PUBLIC KEY"). Keys exist only in memory until a store writes them.

// RSA makes an RSA key pair:
//
//	generate "rsa" {
//	  bits = 2048 # or 3072, 4096
//	}
type RSA struct{}

// ECDSA makes an ECDSA key pair:
//
//	generate "ecdsa" {
//	  curve = "P-256" # or "P-384", "P-521"
//	}
type ECDSA struct{}

// Ed25519 makes an Ed25519 key pair; its block takes no attributes.
type Ed25519 struct{}

var (
	_ providers.Generator = (*RSA)(nil)
	_ providers.Generator = (*ECDSA)(nil)
	_ providers.Generator = (*Ed25519)(nil)
)

var (
	rsaBits    = attribute{name: "bits", typ: cty.Number, def: cty.NumberIntVal(2048), check: wholeOneOf(2048, 3072, 4096)}
	ecdsaCurve = attribute{name: "curve", typ: cty.String, def: cty.StringVal("P-256"), check: stringOneOf("P-256", "P-384", "P-521")}

	rsaSpec     = hcldec.ObjectSpec{rsaBits.name: rsaBits.spec()}
	ecdsaSpec   = hcldec.ObjectSpec{ecdsaCurve.name: ecdsaCurve.spec()}
	ed25519Spec = hcldec.ObjectSpec{}
)

// Generate implements providers.Generator.
func (*RSA) Generate(ctx context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	cfg, err := object(req.Config)
	if err != nil {
		return nil, fmt.Errorf("rsa: %w", err)
	}
	bits, err := readInt(cfg, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("rsa: %w", err)
	}
	if err := ctx.Err(); err != nil { // a 4096-bit key takes a while
		return nil, fmt.Errorf("rsa: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("rsa: generate %d-bit key: %w", bits, err)
	}
	return pemPair("rsa", key)
}

// Generate implements providers.Generator.
func (*ECDSA) Generate(_ context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	cfg, err := object(req.Config)
	if err != nil {
		return nil, fmt.Errorf("ecdsa: %w", err)
	}
	name, err := readString(cfg, ecdsaCurve)
	if err != nil {
		return nil, fmt.Errorf("ecdsa: %w", err)
	}
	var curve elliptic.Curve
	switch name {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default: // unreachable: read checked it
		return nil, fmt.Errorf("ecdsa: curve %q is not supported", name)
	}
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ecdsa: generate %s key: %w", name, err)
	}
	return pemPair("ecdsa", key)
}

// Generate implements providers.Generator.
func (*Ed25519) Generate(_ context.Context, _ providers.GenerateRequest) (*providers.GenerateResponse, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ed25519: generate key: %w", err)
	}
	return pemPair("ed25519", key)
}

// pemPair encodes key as the PKCS#8 private key PEM followed by the PKIX
// public key PEM.
func pemPair(typ string, key crypto.Signer) (*providers.GenerateResponse, error) {
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: encode private key: %w", typ, err)
	}
	defer clear(priv)
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("%s: encode public key: %w", typ, err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})...)
	return &providers.GenerateResponse{Value: sensitive.FromBytes(out)}, nil
}
