package redis

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
)

// Timeouts for one connection. A verify retries within its own deadline;
// these bound each attempt.
const (
	dialTimeout = 5 * time.Second
	ioTimeout   = 5 * time.Second
)

// login is who a connection authenticates as.
type login struct {
	username string // "" for AUTH with the password alone
	password sensitive.Value
}

// newClient returns a client of one connection at a time that logs in as
// l. Every call site closes it when done: rotplan keeps no pool between
// calls, so a login probe always opens a fresh connection and really
// authenticates.
func newClient(address string, useTLS bool, l login) *goredis.Client {
	silenceLibrary.Do(func() { goredis.SetLogger(quiet{}) })
	opt := &goredis.Options{
		Addr:     address,
		Username: l.username,
		Password: l.password.Reveal(),
		// RESP2 and no CLIENT SETINFO: the fewest commands on connect, and
		// the same handshake on every server version.
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		// No retries below rotplan: a retried ACL SETUSER would hide which
		// attempt took effect; verify retries on its own terms.
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              1,
		DialTimeout:           dialTimeout,
		ReadTimeout:           ioTimeout,
		WriteTimeout:          ioTimeout,
		ContextTimeoutEnabled: true,
	}
	if useTLS {
		host, _, _ := net.SplitHostPort(address)
		opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return goredis.NewClient(opt)
}

// silenceLibrary turns go-redis's own logging off, once per process.
// go-redis prints to stderr by itself (a failed dial, say), past rotplan's
// logger, which is silent unless asked; and what it would print, rotplan
// gets back as errors anyway and reports after redacting them.
var silenceLibrary sync.Once

// quiet is a go-redis logger that drops everything.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// ping checks that a fresh connection logs in as l and answers PING.
func ping(ctx context.Context, address string, useTLS bool, l login) error {
	c := newClient(address, useTLS, l)
	defer c.Close()
	return c.Ping(ctx).Err()
}

// isAuthError reports whether err is a refused login: a wrong password, an
// unknown or disabled user (Redis does not say which), or a server that
// wants a password none was given for.
func isAuthError(err error) bool {
	if err == nil {
		return false
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "WRONGPASS") || strings.HasPrefix(msg, "NOAUTH") ||
		// Redis before 6.
		strings.HasPrefix(msg, "ERR invalid password")
}

// passwordHash is what Redis keeps of a password: its SHA-256 in lowercase
// hex. ACL SETUSER takes it with #hash (add) and !hash (remove), so the
// password itself never goes to the server.
func passwordHash(v sensitive.Value) string {
	sum := sha256.Sum256(v.Bytes())
	return hex.EncodeToString(sum[:])
}

// hexRun matches what looks like a SHA-256 in hex: Redis quotes an ACL
// SETUSER argument it rejects, and a password's bare hash must not reach a
// log any more than the password.
var hexRun = regexp.MustCompile(`[0-9a-fA-F]{64}`)

// redact returns err with every value in secrets, and anything that looks
// like a password hash, taken out of its text. An error with nothing to take
// out that did not come from the server (a refused dial, a deadline) is
// returned as it is, so errors.Is still sees through it; any other becomes a
// plain error with the cleaned text.
func redact(err error, secrets ...sensitive.Value) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := hexRun.ReplaceAllString(msg, "(hash)")
	for _, s := range secrets {
		if s.IsEmpty() {
			continue
		}
		clean = strings.ReplaceAll(clean, s.Reveal(), sensitive.Redacted)
		// Redis turns line breaks in an error into spaces.
		spaced := strings.NewReplacer("\r", " ", "\n", " ").Replace(s.Reveal())
		clean = strings.ReplaceAll(clean, spaced, sensitive.Redacted)
	}
	var rerr goredis.Error
	if clean == msg && !errors.As(err, &rerr) {
		return err
	}
	return errors.New(clean)
}

// blockConfig reads a decoded block's attributes.
type blockConfig struct {
	v cty.Value
}

// newBlockConfig checks that v is a decoded block. Its attributes may still
// be unknown: each is checked when read, so a login probe does not need the
// admin password.
func newBlockConfig(v cty.Value) (blockConfig, error) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
		return blockConfig{}, errors.New("redis block has no configuration")
	}
	return blockConfig{v: v}, nil
}

// attr returns an attribute, null when the block has none.
func (b blockConfig) attr(name string) (cty.Value, error) {
	if !b.v.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	a := b.v.GetAttr(name)
	if !a.IsWhollyKnown() {
		return cty.NullVal(cty.DynamicPseudoType), fmt.Errorf("%s is not known until the secrets and env() values it refers to are read", name)
	}
	return a, nil
}

// string returns a string attribute, "" when absent or null.
func (b blockConfig) string(name string) (string, error) {
	a, err := b.attr(name)
	switch {
	case err != nil:
		return "", err
	case a.IsNull():
		return "", nil
	case !a.Type().Equals(cty.String):
		return "", fmt.Errorf("%s must be a string", name)
	}
	return a.AsString(), nil
}

// bool returns a bool attribute, false when absent or null.
func (b blockConfig) bool(name string) (bool, error) {
	a, err := b.attr(name)
	switch {
	case err != nil:
		return false, err
	case a.IsNull():
		return false, nil
	case !a.Type().Equals(cty.Bool):
		return false, fmt.Errorf("%s must be a bool", name)
	}
	return a.True(), nil
}

// strings returns a list of strings attribute, nil when absent or null.
func (b blockConfig) strings(name string) ([]string, error) {
	a, err := b.attr(name)
	if err != nil || a.IsNull() {
		return nil, err
	}
	if !a.CanIterateElements() {
		return nil, fmt.Errorf("%s must be a list of strings", name)
	}
	var out []string
	for it := a.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.Type().Equals(cty.String) {
			return nil, fmt.Errorf("%s must be a list of strings", name)
		}
		out = append(out, e.AsString())
	}
	return out, nil
}
