package redis

import (
	"fmt"
	"net"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Modes say where a Redis server keeps the password.
const (
	// ModeACL rotates an ACL user's password; a user may hold several.
	ModeACL = "acl"
	// ModeRequirePass rotates the server's requirepass.
	ModeRequirePass = "requirepass"
)

// targetSpec is target "redis".
var targetSpec = &hcldec.ValidateSpec{
	Wrapped: hcldec.ObjectSpec{
		// address is host:port.
		"address": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "address", Type: cty.String, Required: true},
			Func:    validateAddress,
		},
		// tls connects with TLS (rediss).
		"tls": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "tls", Type: cty.Bool},
			Default: &hcldec.LiteralSpec{Value: cty.False},
		},
		// admin_username and admin_password log in as a user allowed to
		// run ACL SETUSER (or CONFIG SET), normally from env(). Unset,
		// rotplan logs in as the rotated user with the store's current
		// value, which works only if that user may change its own password.
		"admin_username": &hcldec.AttrSpec{Name: "admin_username", Type: cty.String},
		"admin_password": &hcldec.AttrSpec{Name: "admin_password", Type: cty.String},
		// username is the ACL user whose password is the secret; unset, the
		// "default" user. Not used in requirepass mode.
		"username": &hcldec.AttrSpec{Name: "username", Type: cty.String},
		// mode is "acl" (the default) or "requirepass".
		"mode": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "mode", Type: cty.String},
				Func:    validateMode,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(ModeACL)},
		},
	},
	Func: validateTarget,
}

// verifySpec is verify "redis": AUTH with the value being checked, then run
// command; the check passes when it does not return an error.
var verifySpec = hcldec.ObjectSpec{
	// address is host:port.
	"address": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "address", Type: cty.String, Required: true},
		Func:    validateAddress,
	},
	// tls connects with TLS (rediss), as ElastiCache requires with AUTH.
	"tls": &hcldec.DefaultSpec{
		Primary: &hcldec.AttrSpec{Name: "tls", Type: cty.Bool},
		Default: &hcldec.LiteralSpec{Value: cty.False},
	},
	// username is the ACL user to AUTH as; unset, AUTH with the value alone.
	"username": &hcldec.AttrSpec{Name: "username", Type: cty.String},
	// command is the command and its arguments.
	"command": &hcldec.DefaultSpec{
		Primary: &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "command", Type: cty.List(cty.String)},
			Func:    validateCommand,
		},
		Default: &hcldec.LiteralSpec{Value: cty.ListVal([]cty.Value{cty.StringVal("PING")})},
	},
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Target("redis", config.BlockSchema{Spec: targetSpec, Authenticates: true, RotationNote: rotationNote, Writes: writes, Public: []string{"address", "tls", "admin_username", "username", "mode"}}, func(s providers.Settings) (providers.Target, error) {
		return New(s)
	})
	r.Verifier("redis", config.BlockSchema{Spec: verifySpec}, func(s providers.Settings) (providers.Verifier, error) {
		return NewVerifier(s)
	})
}

// writes is where a block sets its password: an ACL user of the server at
// address. In requirepass mode that user is "default", since Redis 6
// keeps requirepass as the default user's password: a requirepass block
// and one for the default user change the same password.
func writes(cfg cty.Value) []config.Destination {
	address, ok := config.KnownString(cfg, "address")
	if !ok {
		return nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || host == "" || port == "" {
		return nil
	}
	mode, ok := config.KnownString(cfg, "mode")
	if !ok {
		return nil
	}
	user := "default"
	if mode != ModeRequirePass {
		if user, ok = config.KnownString(cfg, "username"); !ok {
			return nil
		}
		if user == "" {
			user = "default"
		}
	}
	server := net.JoinHostPort(strings.ToLower(host), port)
	return []config.Destination{{Resource: "redis " + server, Key: user}}
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateAddress(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	if host, port, err := net.SplitHostPort(v.AsString()); err == nil && host != "" && port != "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid Redis address",
		Detail:   "address is host:port, such as \"cache.internal:6379\", not a URL; ask for TLS with tls = true.",
	}}
}

func validateMode(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch v.AsString() {
	case ModeACL, ModeRequirePass:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid mode",
		Detail:   fmt.Sprintf("mode is %q (an ACL user's password, Redis 6 and later; the default) or %q (the server's single password).", ModeACL, ModeRequirePass),
	}}
}

// rotationNote tells the plan what each mode does to the old password.
func rotationNote(cfg cty.Value) string {
	cfg, _ = cfg.UnmarkDeep()
	if !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("mode") {
		return ""
	}
	if m := cfg.GetAttr("mode"); m.IsKnown() && !m.IsNull() && m.AsString() == ModeRequirePass {
		return "mode requirepass: the server holds one password, so the old one stops working when it is set"
	}
	return "the ACL user keeps the old password beside the new one until it retires"
}

// validateTarget refuses a username in requirepass mode, which has none.
func validateTarget(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	mode, user := v.GetAttr("mode"), v.GetAttr("username")
	if !mode.IsKnown() || mode.AsString() != ModeRequirePass || user.IsNull() {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "username with requirepass",
		Detail:   `In requirepass mode the secret is the server's single password, not a user's. Remove username, or use mode = "acl" to rotate that user's password.`,
	}}
}

func validateCommand(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || v.LengthInt() > 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Empty command",
		Detail:   `command is the command to run after AUTH and its arguments, such as ["PING"]; leave it out for PING.`,
	}}
}
