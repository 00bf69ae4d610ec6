package generators_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// publicKey is what every public key type implements.
type publicKey interface {
	Equal(x crypto.PublicKey) bool
}

func TestKeyPairs(t *testing.T) {
	tests := map[string]struct {
		typ   string
		src   string
		check func(t *testing.T, priv any) // the private key's kind and size
	}{
		"rsa default": {
			typ: "rsa", src: ``,
			check: func(t *testing.T, priv any) {
				k, ok := priv.(*rsa.PrivateKey)
				if !ok {
					t.Fatalf("private key is %T, want *rsa.PrivateKey", priv)
				}
				if n := k.N.BitLen(); n != 2048 {
					t.Errorf("RSA key is %d bits, want 2048", n)
				}
			},
		},
		"ecdsa default": {
			typ: "ecdsa", src: ``,
			check: ecdsaCurve(elliptic.P256()),
		},
		"ecdsa P-384": {
			typ: "ecdsa", src: `curve = "P-384"`,
			check: ecdsaCurve(elliptic.P384()),
		},
		"ecdsa P-521": {
			typ: "ecdsa", src: `curve = "P-521"`,
			check: ecdsaCurve(elliptic.P521()),
		},
		"ed25519": {
			typ: "ed25519", src: ``,
			check: func(t *testing.T, priv any) {
				if _, ok := priv.(ed25519.PrivateKey); !ok {
					t.Fatalf("private key is %T, want ed25519.PrivateKey", priv)
				}
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := generate(t, tt.typ, tt.src)
			checkErr(t, err, "")

			privBlock, rest := pem.Decode(v.Bytes())
			if privBlock == nil || privBlock.Type != "PRIVATE KEY" {
				t.Fatal("value does not start with a PRIVATE KEY PEM block")
			}
			pubBlock, rest := pem.Decode(rest)
			if pubBlock == nil || pubBlock.Type != "PUBLIC KEY" {
				t.Fatal("the private key is not followed by a PUBLIC KEY PEM block")
			}
			if len(rest) != 0 {
				t.Fatalf("%d bytes after the public key", len(rest))
			}

			priv, err := x509.ParsePKCS8PrivateKey(privBlock.Bytes)
			if err != nil {
				t.Fatalf("private key is not PKCS#8: %v", err)
			}
			tt.check(t, priv)
			pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
			if err != nil {
				t.Fatalf("public key is not PKIX: %v", err)
			}
			signer, ok := priv.(crypto.Signer)
			if !ok {
				t.Fatalf("%T is not a crypto.Signer", priv)
			}
			if !signer.Public().(publicKey).Equal(pub) {
				t.Error("the public key is not the private key's")
			}
		})
	}
}

func ecdsaCurve(want elliptic.Curve) func(t *testing.T, priv any) {
	return func(t *testing.T, priv any) {
		k, ok := priv.(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("private key is %T, want *ecdsa.PrivateKey", priv)
		}
		if k.Curve != want {
			t.Errorf("curve %s, want %s", k.Curve.Params().Name, want.Params().Name)
		}
	}
}

func TestKeyPairsCheckConfig(t *testing.T) {
	tests := map[string]struct {
		typ     string
		cfg     cty.Value
		wantErr string
	}{
		"rsa 1024": {
			typ:     "rsa",
			cfg:     cty.ObjectVal(map[string]cty.Value{"bits": cty.NumberIntVal(1024)}),
			wantErr: "rsa: bits must be one of 2048, 3072, 4096",
		},
		"rsa 2500": {
			typ:     "rsa",
			cfg:     cty.ObjectVal(map[string]cty.Value{"bits": cty.NumberIntVal(2500)}),
			wantErr: "rsa: bits must be one of 2048, 3072, 4096",
		},
		"ecdsa P-224": {
			typ:     "ecdsa",
			cfg:     cty.ObjectVal(map[string]cty.Value{"curve": cty.StringVal("P-224")}),
			wantErr: `ecdsa: curve must be one of "P-256", "P-384", "P-521"`,
		},
		"ecdsa unknown curve": {
			typ:     "ecdsa",
			cfg:     cty.ObjectVal(map[string]cty.Value{"curve": cty.UnknownVal(cty.String)}),
			wantErr: "ecdsa: curve is not known",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := generateConfig(t, tt.typ, tt.cfg)
			checkErr(t, err, tt.wantErr)
		})
	}
}
