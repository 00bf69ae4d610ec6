package postgres

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Strategies say how a role's password changes.
const (
	// StrategySingle changes one role's password: the old password stops
	// working at once.
	StrategySingle = "single"
	// StrategyAlternating keeps two roles (role and alternate_role) and
	// sets the new password on the one not in use, so the old password
	// keeps working until it retires.
	StrategyAlternating = "alternating"
)

// targetSpec is target "postgres".
var targetSpec = &hcldec.ValidateSpec{
	Wrapped: hcldec.ObjectSpec{
		// admin_dsn connects as a role allowed to ALTER ROLE the rotated
		// role(s), normally env("..."). Its host, port and TLS settings are
		// also used for the login probe.
		"admin_dsn": &hcldec.AttrSpec{Name: "admin_dsn", Type: cty.String, Required: true},
		// role is the login role whose password is the secret.
		"role": &hcldec.AttrSpec{Name: "role", Type: cty.String, Required: true},
		// strategy is "single" (the default) or "alternating".
		"strategy": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "strategy", Type: cty.String},
				Func:    validateStrategy,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(StrategySingle)},
		},
		// alternate_role is the second role of the alternating strategy,
		// with the same grants as role.
		"alternate_role": &hcldec.AttrSpec{Name: "alternate_role", Type: cty.String},
	},
	Func: validateTarget,
}

// verifySpec is verify "postgres". The DSN carries the value being checked,
// through the secret's own reference, for example
// dsn = "postgres://aegis:${secret.db_password.value}@db.internal:5432/aegis"
// or dsn = secret.database_url.value.
var verifySpec = hcldec.ObjectSpec{
	// dsn is a libpq connection URI or key=value string.
	"dsn": &hcldec.AttrSpec{Name: "dsn", Type: cty.String, Required: true},
	// query is run once connected; the check passes when it succeeds.
	"query": &hcldec.DefaultSpec{
		Primary: &hcldec.AttrSpec{Name: "query", Type: cty.String},
		Default: &hcldec.LiteralSpec{Value: cty.StringVal("SELECT 1")},
	},
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Target("postgres", config.BlockSchema{Spec: targetSpec, Authenticates: true, RotationNote: rotationNote, Writes: writes, Public: []string{"role", "strategy", "alternate_role"}}, func(s providers.Settings) (providers.Target, error) {
		return New(s)
	})
	r.Generator("postgres_login", config.BlockSchema{Spec: loginSpec, Fields: []string{fieldUsername, fieldPassword}}, func(s providers.Settings) (providers.Generator, error) {
		return NewLoginGenerator(s)
	})
	r.Verifier("postgres", config.BlockSchema{Spec: verifySpec}, func(s providers.Settings) (providers.Verifier, error) {
		return NewVerifier(s)
	})
}

// rotationNote tells the plan that strategy single leaves no moment in which
// both passwords work, and which role strategy alternating sets.
func rotationNote(cfg cty.Value) string {
	cfg, _ = cfg.UnmarkDeep()
	if !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("strategy") {
		return ""
	}
	s := cfg.GetAttr("strategy")
	if !s.IsKnown() || s.IsNull() {
		return ""
	}
	switch s.AsString() {
	case StrategySingle:
		return "strategy single: the old password stops working when ALTER ROLE runs, so the copies are delivered right after it"
	case StrategyAlternating:
		role, _ := config.KnownString(cfg, "role")
		alt, _ := config.KnownString(cfg, "alternate_role")
		return fmt.Sprintf("strategy alternating: the new login goes on whichever of %s and %s is not in use, created with the other's memberships if it does not exist; the login in use keeps working until its grace ends and retire removes its password", role, alt)
	}
	return ""
}

// writes is where a block sets its password: the role, and alternate_role
// when set, of the server admin_dsn connects to (host and port, parsed as
// the target parses it; roles belong to the server, not to a database).
// While validating, admin_dsn usually comes from an unset env(): then the
// server is not known and the block names no place.
func writes(cfg cty.Value) []config.Destination {
	dsn, ok := config.KnownString(cfg, "admin_dsn")
	if !ok || dsn == "" {
		return nil
	}
	admin, err := parseDSN(dsn)
	if err != nil {
		return nil // the target reports it when it connects
	}
	server := admin.Host
	if !strings.HasPrefix(server, "/") {
		server = net.JoinHostPort(strings.ToLower(server), strconv.Itoa(int(admin.Port)))
	}
	var out []config.Destination
	for _, attr := range []string{"role", "alternate_role"} {
		if role, ok := config.KnownString(cfg, attr); ok && role != "" {
			out = append(out, config.Destination{Resource: "postgres " + server, Key: role})
		}
	}
	return out
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateStrategy(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch v.AsString() {
	case StrategySingle, StrategyAlternating:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid strategy",
		Detail:   fmt.Sprintf("strategy is %q (the default) or %q.", StrategySingle, StrategyAlternating),
	}}
}

// validateTarget checks that alternate_role goes with the alternating
// strategy, and only with it.
func validateTarget(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	strategy, role, alt := v.GetAttr("strategy"), v.GetAttr("role"), v.GetAttr("alternate_role")
	if !strategy.IsKnown() || !alt.IsKnown() || !role.IsKnown() {
		return nil
	}
	var detail string
	switch {
	case strategy.AsString() == StrategyAlternating && alt.IsNull():
		detail = `The alternating strategy switches between two roles; name the second one with alternate_role, a role with the same grants as role.`
	case strategy.AsString() == StrategySingle && !alt.IsNull():
		detail = `alternate_role is used only with strategy = "alternating"; add that, or remove alternate_role.`
	case !alt.IsNull() && !role.IsNull() && alt.AsString() == role.AsString():
		detail = `alternate_role must be a different role from role.`
	default:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid alternate_role",
		Detail:   detail,
	}}
}
