package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Login lengths: PostgreSQL takes any length, but a login password shorter
// than this is weak, and one longer is no stronger.
const (
	loginMinLength     = 16
	loginMaxLength     = 128
	loginDefaultLength = 32
)

// loginAlphabet is what a login password is drawn from: letters and
// digits, so the password goes into a DSN, an env file or a shell without
// quoting or percent-encoding, and is ASCII, as checkPassword wants.
const loginAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// loginSpec is generate "postgres_login".
var loginSpec = &hcldec.ValidateSpec{
	Wrapped: hcldec.ObjectSpec{
		// admin_dsn connects as a role that may read the two roles, the
		// same as the target's.
		"admin_dsn": &hcldec.AttrSpec{Name: "admin_dsn", Type: cty.String, Required: true},
		// role and alternate_role are the pair the logins alternate
		// between, the same as the target's.
		"role":           &hcldec.AttrSpec{Name: "role", Type: cty.String, Required: true},
		"alternate_role": &hcldec.AttrSpec{Name: "alternate_role", Type: cty.String, Required: true},
		// length is the password's length, 16 to 128 (default 32).
		"length": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "length", Type: cty.Number},
			Default: &hcldec.LiteralSpec{Value: cty.NumberIntVal(loginDefaultLength)},
		},
	},
	Func: validateLogin,
}

// validateLogin checks the pair and the length.
func validateLogin(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	role, alt, length := v.GetAttr("role"), v.GetAttr("alternate_role"), v.GetAttr("length")
	if role.IsKnown() && alt.IsKnown() && !role.IsNull() && !alt.IsNull() && role.AsString() == alt.AsString() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid alternate_role",
			Detail:   "alternate_role must be a different role from role: the logins alternate between the two.",
		}}
	}
	if length.IsKnown() && !length.IsNull() {
		n, acc := length.AsBigFloat().Int64()
		if acc != big.Exact || n < loginMinLength || n > loginMaxLength {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid length",
				Detail:   fmt.Sprintf("length is a whole number from %d to %d.", loginMinLength, loginMaxLength),
			}}
		}
	}
	return nil
}

// LoginGenerator is generate "postgres_login": the next login of a pair of
// roles, {"username": ..., "password": ...}, for the role not in use.
type LoginGenerator struct {
	logger hclog.Logger
}

var _ providers.Generator = (*LoginGenerator)(nil)

// NewLoginGenerator returns a postgres_login generator.
func NewLoginGenerator(s providers.Settings) (*LoginGenerator, error) {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &LoginGenerator{logger: logger.Named("postgres")}, nil
}

// Generate picks the role not in use (freeRole) through admin_dsn, and
// draws a password of letters and digits with crypto/rand.
func (g *LoginGenerator) Generate(ctx context.Context, req providers.GenerateRequest) (*providers.GenerateResponse, error) {
	cfg, err := decodeLogin(req.Config)
	if err != nil {
		return nil, err
	}
	adminCfg, err := parseDSN(cfg.adminDSN)
	if err != nil {
		return nil, fmt.Errorf("postgres_login: admin_dsn: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, adminCfg)
	if err != nil {
		return nil, fmt.Errorf("postgres_login: connect to %s with admin_dsn: %w", describeServer(&adminCfg.Config), connectErr(err))
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	role, err := freeRole(ctx, conn, cfg.role, cfg.alternateRole)
	if err != nil {
		return nil, fmt.Errorf("postgres_login: %w", err)
	}
	pw := make([]byte, cfg.length)
	limit := big.NewInt(int64(len(loginAlphabet)))
	for i := range pw {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("postgres_login: read randomness: %w", err)
		}
		pw[i] = loginAlphabet[n.Int64()]
	}
	g.logger.Debug("next login", "role", role)
	return &providers.GenerateResponse{Value: sensitive.FromFields(map[string]sensitive.Value{
		fieldUsername: sensitive.New(role),
		fieldPassword: sensitive.FromBytes(pw),
	})}, nil
}

// loginConfig is a decoded generate "postgres_login" block.
type loginConfig struct {
	adminDSN, role, alternateRole string
	length                        int
}

func decodeLogin(raw cty.Value) (loginConfig, error) {
	raw, _ = raw.UnmarkDeep()
	if raw.IsNull() || !raw.IsKnown() || !raw.Type().IsObjectType() {
		return loginConfig{}, errors.New("postgres_login: the generate block is not known yet")
	}
	var c loginConfig
	for name, dst := range map[string]*string{"admin_dsn": &c.adminDSN, "role": &c.role, "alternate_role": &c.alternateRole} {
		if !raw.Type().HasAttribute(name) {
			return loginConfig{}, fmt.Errorf("postgres_login: %s is required", name)
		}
		v := raw.GetAttr(name)
		switch {
		case !v.IsKnown():
			return loginConfig{}, fmt.Errorf("postgres_login: %w", errNotKnown(name))
		case v.IsNull() || !v.Type().Equals(cty.String) || v.AsString() == "":
			return loginConfig{}, fmt.Errorf("postgres_login: %s must be a non-empty string", name)
		}
		*dst = v.AsString()
	}
	c.length = loginDefaultLength
	if raw.Type().HasAttribute("length") {
		if v := raw.GetAttr("length"); v.IsKnown() && !v.IsNull() && v.Type().Equals(cty.Number) {
			n, acc := v.AsBigFloat().Int64()
			if acc != big.Exact || n < loginMinLength || n > loginMaxLength {
				return loginConfig{}, fmt.Errorf("postgres_login: length is a whole number from %d to %d", loginMinLength, loginMaxLength)
			}
			c.length = int(n)
		}
	}
	if c.role == c.alternateRole {
		return loginConfig{}, errors.New("postgres_login: alternate_role must be a different role from role")
	}
	return c, nil
}
