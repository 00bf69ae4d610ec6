package postgres

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/rotplan/rotplan/internal/sensitive"
)

func TestSCRAMVerifierForm(t *testing.T) {
	v, err := scramVerifier(sensitive.New("pencil"))
	if err != nil {
		t.Fatal(err)
	}
	// SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$4096:")
	if !ok {
		t.Fatalf("verifier %q does not start with SCRAM-SHA-256$4096:", v)
	}
	salt, keys, _ := strings.Cut(rest, "$")
	stored, server, _ := strings.Cut(keys, ":")
	for name, tc := range map[string]struct {
		b64  string
		size int
	}{"salt": {salt, scramSaltLen}, "StoredKey": {stored, 32}, "ServerKey": {server, 32}} {
		b, err := base64.StdEncoding.DecodeString(tc.b64)
		if err != nil || len(b) != tc.size {
			t.Errorf("%s %q: %d bytes (%v), want %d in standard base64", name, tc.b64, len(b), err, tc.size)
		}
	}

	again, _ := scramVerifier(sensitive.New("pencil"))
	if again == v {
		t.Errorf("two verifiers of one password are equal: the salt is not random")
	}
}

// The known answer was computed apart from this code, with Python's
// hashlib.pbkdf2_hmac and hmac following RFC 5802. The server test checks
// more passwords against what PostgreSQL itself stores.
func TestSCRAMVerifierKnownAnswer(t *testing.T) {
	const want = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE="
	salt := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	got, err := scramVerifierWith(sensitive.New("pencil"), salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("verifier of pencil:\n got %s\nwant %s", got, want)
	}
}

func TestSCRAMVerifierRefuses(t *testing.T) {
	tests := map[string]struct {
		password string
		err      string
	}{
		"empty":     {"", "empty"},
		"NUL":       {"abc\x00def", "NUL byte"},
		"non-ASCII": {"pässwörd-canary", "non-ASCII"},
		"not UTF-8": {"\xff\xfe-canary", "non-ASCII"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := scramVerifier(sensitive.New(tc.password))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.err)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Errorf("the error quotes the password")
			}
		})
	}
}
