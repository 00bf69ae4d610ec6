package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/rotplan/rotplan/internal/sensitive"
)

// SCRAM-SHA-256 parameters, PostgreSQL's defaults (scram_iterations and
// SCRAM_DEFAULT_SALT_LEN).
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// scramVerifier returns the SCRAM-SHA-256 secret PostgreSQL stores for
// password (RFC 5802, RFC 7677), in the form pg_authid.rolpassword holds:
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// ALTER ROLE ... PASSWORD with such a string stores it as it is, so the
// server never sees the cleartext. A new random salt is drawn each time.
func scramVerifier(password sensitive.Value) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("draw a salt: %w", err)
	}
	return scramVerifierWith(password, salt, scramIterations)
}

// scramVerifierWith is scramVerifier with a given salt and iteration count.
func scramVerifierWith(password sensitive.Value, salt []byte, iterations int) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password.Reveal(), salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("derive the key: %w", err)
	}
	defer clear(salted)
	clientKey := hmacSHA256(salted, "Client Key")
	defer clear(clientKey)
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// checkPassword refuses what rotplan cannot set as a PostgreSQL password.
//
// Before deriving keys, PostgreSQL normalises a password with SASLprep (RFC
// 4013), except that it takes a pure ASCII password as it is, control
// characters included (src/common/saslprep.c). rotplan's generators make
// ASCII passwords, so that is the only case rotplan implements: a password
// with other characters is refused rather than risk a verifier that does
// not match what clients derive. A NUL byte cannot be in a PostgreSQL
// password at all.
func checkPassword(password sensitive.Value) error {
	b := password.Bytes()
	if len(b) == 0 {
		return errors.New("the password is empty")
	}
	for _, c := range b {
		switch {
		case c == 0:
			return errors.New("the password contains a NUL byte, which a PostgreSQL password cannot hold")
		case c >= 0x80:
			return errors.New("the password has non-ASCII characters, which PostgreSQL normalises with SASLprep and rotplan does not: make it ASCII (the password and random generators do)")
		}
	}
	return nil
}
